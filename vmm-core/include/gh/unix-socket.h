/*
 * A listening Unix socket at a path, for the monitor and socket consoles:
 * a path that exists is refused unless it is a stale socket (nobody listens
 * on it: left by a VMM that died), which is replaced; on close the socket
 * file is removed if it is still the one we made.
 */
#ifndef GH_UNIX_SOCKET_H
#define GH_UNIX_SOCKET_H

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "gh/error.h"

/* After accept() failed for lack of fds or memory: the wait to try again. */
#define GH_UNIX_ACCEPT_RETRY_MS 1000

/*
 * A connection taken: fd >= 0 (non-blocking, close-on-exec), now the
 * callee's. Or fd = -errno: accept() failed for lack of fds or memory; the
 * connection stays queued and is tried again GH_UNIX_ACCEPT_RETRY_MS later,
 * rather than at once: its fd stays readable, and polling it would spin.
 */
typedef void gh_unix_accept_fn(void *opaque, int fd);

struct gh_unix_listener {
	int fd;			/* non-blocking, close-on-exec; -1: closed */
	char *path;
	dev_t dev;		/* the socket we made, to remove only it */
	ino_t ino;

	/* gh_unix_listener_watch() */
	GSource *src;
	gh_unix_accept_fn *accepted;
	void *opaque;
	bool paused;
	gint64 retry_at;	/* monotonic us; 0: not backing off */
};

/*
 * Binds and listens at path. what names the socket in errors ("monitor
 * socket" gives "monitor socket PATH is in use by another process").
 */
__attribute__((warn_unused_result))
int gh_unix_listen(const char *path, const char *what,
		   struct gh_unix_listener *l, struct gh_error *err);
/*
 * Takes connections on ctx's loop and hands each to fn (which may pause the
 * listener, not close it). Any listening socket will do: the VNC server's
 * TCP ones are listeners with only a non-blocking fd set (no path).
 */
void gh_unix_listener_watch(struct gh_unix_listener *l, GMainContext *ctx,
			    gh_unix_accept_fn *fn, void *opaque);
/* While paused, connections wait in the listen queue. */
void gh_unix_listener_pause(struct gh_unix_listener *l, bool paused);
/* Closes the socket and removes its file. A closed listener is fine. */
void gh_unix_listener_close(struct gh_unix_listener *l);

#endif
