/*
 * Character backends for UARTs and debug consoles: stdio (raw mode, with
 * Ctrl-A x to quit, Ctrl-A a to send a literal Ctrl-A, as in QEMU), a file,
 * a pseudo-terminal, a console on a Unix socket, or nothing.
 *
 * Output is written synchronously by the device. Input is read on the main
 * loop and handed to the frontend with the device lock held, as much as
 * its can_receive allows; when it has room again the frontend calls
 * gh_chardev_accept_input().
 */
#ifndef GH_CHARDEV_H
#define GH_CHARDEV_H

#include <glib.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "gh/error.h"

struct gh_chardev;

/* How the line a socket console's second client gets begins. */
#define GH_CHARDEV_BUSY "guesthouse: console busy:"
/* What that client may send back to take the console over (--force). */
#define GH_CHARDEV_TAKEOVER "guesthouse: take over\n"
/* How the line begins that the client whose console was taken over gets. */
#define GH_CHARDEV_TAKEN "guesthouse: console taken over:"
/*
 * How the line begins that tells a socket console's client how many bytes
 * of older output the backlog dropped ("[guesthouse: N bytes of earlier
 * output dropped]", a line of its own, ending in "\r\n" as the guest's).
 */
#define GH_CHARDEV_DROPPED "[guesthouse: "

struct gh_chardev_frontend {
	size_t (*can_receive)(void *opaque);
	void (*receive)(void *opaque, const uint8_t *buf, size_t len);
};

/*
 * spec: "stdio", "file:PATH", "pty", "unix:PATH", "none" or "null". The
 * path of a pty's slave or of the socket is gh_chardev_path().
 *
 * unix:PATH listens on a socket there (a stale one is replaced; anything
 * else at PATH is refused) for one client at a time: it gets what the
 * guest printed while nobody was attached (the newest 64 KiB, after a
 * GH_CHARDEV_DROPPED line saying how much older output is lost, if any),
 * then the output as it comes, and its input goes to the frontend. A
 * second client gets a line starting with GH_CHARDEV_BUSY and is closed,
 * unless it sends GH_CHARDEV_TAKEOVER back within 2 s: then the first gets
 * a line starting with GH_CHARDEV_TAKEN and is closed, and the second has
 * the console. A client that does not read loses output, never stalls the
 * device; one that shuts its sending side down (socat -u) keeps the
 * console until it closes. The socket is removed by gh_chardev_free().
 */
__attribute__((warn_unused_result))
int gh_chardev_open(const char *spec, struct gh_chardev **out,
		    struct gh_error *err);
/* A backend that collects output in memory (for tests). */
struct gh_chardev *gh_chardev_new_buffer(void);
void gh_chardev_free(struct gh_chardev *chr);

const char *gh_chardev_path(struct gh_chardev *chr);

void gh_chardev_write(struct gh_chardev *chr, const void *buf, size_t len);

void gh_chardev_set_frontend(struct gh_chardev *chr,
			     const struct gh_chardev_frontend *fe, void *opaque);
void gh_chardev_accept_input(struct gh_chardev *chr);

/* Starts reading input on ctx; callbacks run under lock. */
void gh_chardev_attach(struct gh_chardev *chr, GMainContext *ctx,
		       pthread_mutex_t *lock);
/* Called (on the main loop, without the lock) when stdio's user types Ctrl-A x. */
void gh_chardev_set_quit_handler(struct gh_chardev *chr, void (*fn)(void *),
				 void *opaque);

/* Buffer backends: feed input as if typed, and take the output so far. */
void gh_chardev_buffer_input(struct gh_chardev *chr, const void *buf,
			     size_t len);
/* Returns a NUL-terminated copy of everything written and clears it. */
char *gh_chardev_buffer_take(struct gh_chardev *chr, size_t *len);

#endif
