/*
 * The monitor: QEMU-HMP-like commands, one a line, on a Unix socket, for
 * scripts and tests to drive a running VM (screen, keys, power, media).
 *
 * Protocol: on connecting, a client gets a greeting line and "ok". Each
 * command line then gets zero or more lines of text and one last line that
 * is exactly "ok" or starts with "error: " (the reason, one line). Text
 * lines never look like either. One client at a time: a second one waits
 * in the listen queue until the first disconnects.
 */
#ifndef GH_MONITOR_H
#define GH_MONITOR_H

#include <glib.h>

#include "gh/error.h"

/* How the greeting begins (`guesthouse console` knows the wrong socket). */
#define GH_MONITOR_GREETING "Guesthouse monitor:"

struct gh_vm;
struct gh_board;
struct gh_monitor;

/*
 * Listens on spec ("unix:PATH") in the VM's main context. A stale socket
 * at PATH (nobody listening) is replaced; anything else there is refused.
 */
__attribute__((warn_unused_result))
int gh_monitor_new(const char *spec, struct gh_vm *vm, struct gh_board *board,
		   struct gh_monitor **out, struct gh_error *err);
struct gh_vnc;
/* The VNC server 'info vnc' describes (NULL: none); m NULL is fine. */
void gh_monitor_set_vnc(struct gh_monitor *m, struct gh_vnc *vnc);
/* Disconnects the client and removes the socket. NULL is fine. */
void gh_monitor_free(struct gh_monitor *m);

/*
 * Runs one command line on the main context's thread: 0 with its text
 * lines appended to out, or a negative errno with err saying why.
 */
int gh_monitor_execute(struct gh_monitor *m, const char *line, GString *out,
		       struct gh_error *err);

/*
 * Parses QEMU's sendkey names joined by '-' ("ctrl-alt-delete", "shift-a",
 * "ret") into evdev codes, in order. Returns how many (1..max), or -EINVAL
 * with err naming the bad key.
 */
int gh_monitor_parse_keys(const char *combo, unsigned *codes, unsigned max,
			  struct gh_error *err);

#endif
