/*
 * The VNC server of one VM (RFB 3.8, RFC 6143, on libvncserver): it shows a
 * display (gh/display.h) and feeds keys and the pointer into an input
 * router (gh/input.h); it knows nothing else of the VM. It runs in the
 * GMainContext it is given (the VM's main loop), where it reads the
 * display and feeds the input, with a thread per client for the network,
 * and must be freed there, before the display.
 */
#ifndef GH_VNC_H
#define GH_VNC_H

#include <glib.h>
#include <stdbool.h>

#include "gh/error.h"

struct gh_display;
struct gh_input;
struct gh_vnc;

#define GH_VNC_PORT_BASE	5900
/* displays :0..:GH_VNC_MAX_DISPLAY; auto tries them in order */
#define GH_VNC_MAX_DISPLAY	99
#define GH_VNC_DISPLAY_AUTO	(-1)
/* VNC authentication (RFC 6143 7.2.2) keys DES with 8 bytes at most */
#define GH_VNC_MAX_PASSWORD	8

struct gh_vnc_config {
	char *host;		/* address or name to listen on */
	int display;		/* port 5900 + display, or GH_VNC_DISPLAY_AUTO */
	char *password;		/* NULL: no authentication */
	bool insecure;		/* allow a non-loopback address without one */
	bool view_only;		/* clients' keys and pointer are dropped */
	const char *keymap;	/* layout name (gh/vnc-keymap.h); NULL: us */
	bool verbose;		/* libvncserver's own log on stderr */
};

/*
 * Parses --vnc's "[HOST]:DISPLAY" or "HOST:auto" (HOST 127.0.0.1 if
 * empty; an IPv6 address in brackets, "[::1]:1") into c->host and
 * c->display. 0, or -EINVAL with err saying what is wrong.
 */
int gh_vnc_parse_address(const char *spec, struct gh_vnc_config *c,
			 struct gh_error *err);
/*
 * Reads the password from the first line of path into c->password: 0, or
 * a negative errno with err set (unreadable, empty, longer than
 * GH_VNC_MAX_PASSWORD: VNC authentication would silently cut it).
 */
int gh_vnc_read_password(const char *path, struct gh_vnc_config *c,
			 struct gh_error *err);
void gh_vnc_config_clear(struct gh_vnc_config *c);

/*
 * Listens as c says and serves display d (the listener is added now) with
 * input to in. Refuses a non-loopback address without a password unless
 * c->insecure. 0, or a negative errno with err set (the port in use, an
 * address that does not resolve or is not local, ...).
 */
__attribute__((warn_unused_result))
int gh_vnc_new(const struct gh_vnc_config *c, struct gh_display *d,
	       struct gh_input *in, GMainContext *ctx, struct gh_vnc **out,
	       struct gh_error *err);
/* Disconnects the clients, releasing the keys they held. NULL is fine. */
void gh_vnc_free(struct gh_vnc *v);

/* "127.0.0.1:5901" or "[::1]:5901": where it listens */
const char *gh_vnc_address(struct gh_vnc *v);
int gh_vnc_display_number(struct gh_vnc *v);
/* One line per connected client ("client 127.0.0.1:40312"). */
unsigned gh_vnc_describe_clients(struct gh_vnc *v, GString *out);

#endif
