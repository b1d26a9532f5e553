/*
 * A listening Unix socket at a path, for the monitor and socket consoles:
 * a path that exists is refused unless it is a stale socket (nobody listens
 * on it: left by a VMM that died), which is replaced; on close the socket
 * file is removed if it is still the one we made.
 */
#ifndef GH_UNIX_SOCKET_H
#define GH_UNIX_SOCKET_H

#include <sys/types.h>

#include "gh/error.h"

struct gh_unix_listener {
	int fd;			/* non-blocking, close-on-exec; -1: closed */
	char *path;
	dev_t dev;		/* the socket we made, to remove only it */
	ino_t ino;
};

/*
 * Binds and listens at path. what names the socket in errors ("monitor
 * socket" gives "monitor socket PATH is in use by another process").
 */
__attribute__((warn_unused_result))
int gh_unix_listen(const char *path, const char *what,
		   struct gh_unix_listener *l, struct gh_error *err);
/* Closes the socket and removes its file. A closed listener is fine. */
void gh_unix_listener_close(struct gh_unix_listener *l);

#endif
