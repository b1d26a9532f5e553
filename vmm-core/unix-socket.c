/*
 * Listening Unix sockets with stale-socket takeover, and their accept loop
 * with a back-off when out of fds (gh/unix-socket.h).
 */
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

struct listen_source {
	GSource base;
	struct gh_unix_listener *l;
	gpointer tag;
};

/*
 * The fd is polled while connections are wanted and accept() is not
 * backing off; in back-off the source wakes by its ready time instead.
 */
static void update_listen(struct gh_unix_listener *l)
{
	struct listen_source *ls = (struct listen_source *)l->src;
	bool want = !l->paused && !l->retry_at;

	g_source_modify_unix_fd(&ls->base, ls->tag, want ? G_IO_IN : 0);
	g_source_set_ready_time(&ls->base, l->retry_at && !l->paused ?
				l->retry_at : -1);
}

static gboolean listen_dispatch(GSource *s, GSourceFunc cb, gpointer data)
{
	struct gh_unix_listener *l = ((struct listen_source *)s)->l;
	int fd;

	if (l->retry_at && g_source_get_time(s) < l->retry_at) {
		update_listen(l);
		return G_SOURCE_CONTINUE;
	}
	l->retry_at = 0;
	while (!l->paused) {
		fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd >= 0) {
			l->accepted(l->opaque, fd);
			continue;
		}
		/* a client that gave up while queued: take the next one */
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		/* EMFILE, ENFILE, ENOBUFS, ENOMEM: wait for fds to free up */
		fd = -errno;
		l->retry_at = g_source_get_time(s) +
			      GH_UNIX_ACCEPT_RETRY_MS * 1000;
		l->accepted(l->opaque, fd);
		break;
	}
	update_listen(l);
	return G_SOURCE_CONTINUE;
}

static const GSourceFuncs listen_funcs = {
	.dispatch = listen_dispatch,
};

void gh_unix_listener_watch(struct gh_unix_listener *l, GMainContext *ctx,
			    gh_unix_accept_fn *fn, void *opaque)
{
	struct listen_source *ls;

	if (l->fd < 0 || l->src)
		return;
	ls = (struct listen_source *)g_source_new((GSourceFuncs *)&listen_funcs,
						  sizeof(*ls));
	ls->l = l;
	ls->tag = g_source_add_unix_fd(&ls->base, l->fd, 0);
	g_source_set_name(&ls->base, "gh-unix-listener");
	l->src = &ls->base;
	l->accepted = fn;
	l->opaque = opaque;
	update_listen(l);
	g_source_attach(l->src, ctx);
}

void gh_unix_listener_pause(struct gh_unix_listener *l, bool paused)
{
	l->paused = paused;
	if (l->src)
		update_listen(l);
}

void gh_unix_listener_close(struct gh_unix_listener *l)
{
	struct stat st;

	if (l->src) {
		g_source_destroy(l->src);
		g_source_unref(l->src);
		l->src = NULL;
	}
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	/* only the socket we made: another VMM may have taken the path */
	if (l->path && stat(l->path, &st) == 0 && st.st_dev == l->dev &&
	    st.st_ino == l->ino)
		unlink(l->path);
	g_clear_pointer(&l->path, g_free);
}
