/* Listening Unix sockets with stale-socket takeover (gh/unix-socket.h). */
#include "gh/unix-socket.h"

#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * Whether path may be bound: nothing there, or a socket nobody listens on,
 * which is removed.
 */
static int clear_path(const struct sockaddr_un *sa, const char *what,
		      struct gh_error *err)
{
	const char *path = sa->sun_path;
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return gh_error_set(err, -errno, "%s %s: %s", what, path,
				    g_strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return gh_error_set(err, -EEXIST, "%s %s: the path exists and "
				    "is not a socket", what, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return gh_error_set(err, -errno, "cannot make a socket: %s",
				    g_strerror(errno));
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	ret = ret < 0 ? -errno : 0;
	close(fd);
	if (!ret)
		return gh_error_set(err, -EADDRINUSE, "%s %s is in use by "
				    "another process", what, path);
	if (ret != -ECONNREFUSED)
		return gh_error_set(err, ret, "%s %s: %s", what, path,
				    g_strerror(-ret));
	if (unlink(path) < 0 && errno != ENOENT)
		return gh_error_set(err, -errno, "cannot remove the stale %s "
				    "%s: %s", what, path, g_strerror(errno));
	return 0;
}

int gh_unix_listen(const char *path, const char *what,
		   struct gh_unix_listener *l, struct gh_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int ret;

	*l = (struct gh_unix_listener){ .fd = -1 };
	if (!*path)
		return gh_error_set(err, -EINVAL, "%s: no path given", what);
	if (strlen(path) >= sizeof(sa.sun_path))
		return gh_error_set(err, -ENAMETOOLONG, "%s path %s is too "
				    "long (at most %zu bytes)", what, path,
				    sizeof(sa.sun_path) - 1);
	strcpy(sa.sun_path, path);
	ret = clear_path(&sa, what, err);
	if (ret < 0)
		return ret;

	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->fd < 0)
		return gh_error_set(err, -errno, "cannot make a socket: %s",
				    g_strerror(errno));
	if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = gh_error_set(err, -errno, "cannot listen on %s: %s",
				   path, g_strerror(errno));
		goto err_close;
	}
	l->path = g_strdup(path);
	if (stat(path, &st) == 0) {
		l->dev = st.st_dev;
		l->ino = st.st_ino;
	}
	if (listen(l->fd, 4) < 0) {
		ret = gh_error_set(err, -errno, "cannot listen on %s: %s",
				   path, g_strerror(errno));
		goto err_close;
	}
	return 0;
err_close:
	gh_unix_listener_close(l);
	return ret;
}

void gh_unix_listener_close(struct gh_unix_listener *l)
{
	struct stat st;

	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	/* only the socket we made: another VMM may have taken the path */
	if (l->path && stat(l->path, &st) == 0 && st.st_dev == l->dev &&
	    st.st_ino == l->ino)
		unlink(l->path);
	g_clear_pointer(&l->path, g_free);
}
