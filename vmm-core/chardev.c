/*
 * Character backends (stdio, file, pty, a listening Unix socket, null, and an
 * in-memory buffer for tests). The stdio escape keys follow QEMU's -serial
 * stdio / mux conventions (Ctrl-A x, a, h). The socket console behaves as
 * xl's and virsh's consoles do: one client at a time, the guest runs whether
 * or not one is attached, and what it printed meanwhile is replayed.
 */
#include "gh/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "gh/ring.h"
#include "gh/unix-socket.h"

/* How much typed input waits for the frontend before we stop reading. */
#define PENDING_MAX 4096
/* How often a pty whose slave side was closed is checked for a new reader. */
#define PTY_RECHECK_MS 250

/* How long a client told the console is busy may take it over. */
#define TAKEOVER_WAIT_MS 2000

#define ESCAPE_CHAR 0x01	/* Ctrl-A */

/*
 * Socket consoles: output nobody has taken yet, kept for the next client
 * (the newest bytes; a whole boot log of a Linux guest at its default
 * loglevel fits).
 */
#define BACKLOG_SIZE (64 * 1024)

enum chardev_kind {
	CHR_NULL,
	CHR_BUFFER,
	CHR_STDIO,
	CHR_FILE,
	CHR_PTY,
	CHR_SOCKET,
};

struct chr_source {
	GSource base;
	struct gh_chardev *chr;
	gpointer tag;
	GIOCondition tag_events;	/* what tag polls for */
};

struct gh_chardev {
	enum chardev_kind kind;
	int in_fd;			/* -1: no input */
	int out_fd;			/* -1: output discarded */
	bool close_in, close_out;
	bool nonblock_out;		/* drop output rather than wait */
	bool out_failed;		/* an output error was reported once */
	char *path;

	/* stdio on a terminal: raw mode and the escape keys */
	bool tty_raw;
	struct termios saved_termios;
	bool escape_armed;
	bool quit_requested;
	void (*quit_fn)(void *opaque);
	void *quit_opaque;

	const struct gh_chardev_frontend *fe;
	void *fe_opaque;

	GMainContext *ctx;
	pthread_mutex_t *lock;
	struct chr_source *source;
	bool input_eof;
	bool pty_hup;			/* slave closed: poll for a new reader */
	bool delivering;
	/* input is left over for a full frontend (under the device lock) */
	bool input_waiting;

	GByteArray *pending;		/* input not yet taken by the frontend */
	GByteArray *output;		/* buffer backend */

	/*
	 * Socket: in_fd is the client, -1 with none. The main loop accepts,
	 * reads and drops clients; the device writes from a vCPU thread. The
	 * client fd, backlog and flags below are shared between the two under
	 * out_lock, which is taken inside the device lock and never around it.
	 */
	struct gh_unix_listener listener;
	pthread_mutex_t out_lock;
	struct gh_ring backlog;		/* output the client has not taken */
	bool out_waiting;		/* the main loop was asked to flush it */
	bool client_broken;		/* a send failed: drop on the main loop */
	bool client_gone;		/* hung up or read failed */
	bool client_in_eof;		/* sends no more, may still read */
	bool mid_line;			/* the client's last byte was not "\n" */
	/*
	 * The line that tells a client how much older output the backlog
	 * dropped, sent before what it kept: backlog.dropped as of the last
	 * one, and the one being sent (note_len 0: none).
	 */
	uint64_t dropped_told;
	uint64_t note_bytes;
	char note[80];
	size_t note_len, note_off;

	/*
	 * A client told the console is busy, which may ask to take it over
	 * (main loop only): its fd, what it sent so far of
	 * GH_CHARDEV_TAKEOVER, and the sources that wait for the rest.
	 */
	int waiting_fd;
	size_t waiting_got;
	GSource *waiting_src, *waiting_timer;
};

static void forget_waiting(struct gh_chardev *chr);

static struct gh_chardev *chardev_alloc(enum chardev_kind kind)
{
	struct gh_chardev *chr = g_new0(struct gh_chardev, 1);

	chr->kind = kind;
	chr->in_fd = -1;
	chr->out_fd = -1;
	chr->waiting_fd = -1;
	chr->pending = g_byte_array_new();
	return chr;
}

static int open_stdio(struct gh_chardev *chr, struct gh_error *err)
{
	chr->in_fd = STDIN_FILENO;
	chr->out_fd = STDOUT_FILENO;

	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &chr->saved_termios) == 0) {
		struct termios t = chr->saved_termios;

		cfmakeraw(&t);
		/* Keep the host terminal turning the guest's "\n" into a new line. */
		t.c_oflag |= OPOST | ONLCR;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &t) < 0) {
			int e = errno;

			return gh_error_set(err, -e,
					    "cannot set the terminal to raw mode: %s",
					    g_strerror(e));
		}
		chr->tty_raw = true;
	}
	return 0;
}

static int open_file(struct gh_chardev *chr, const char *path, struct gh_error *err)
{
	int fd;

	if (!*path)
		return gh_error_set(err, -EINVAL,
				    "file: needs a path, as in file:serial.log");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;

		return gh_error_set(err, -e, "cannot open %s: %s", path, g_strerror(e));
	}
	chr->out_fd = fd;
	chr->close_out = true;
	chr->path = g_strdup(path);
	return 0;
}

static int open_pty(struct gh_chardev *chr, struct gh_error *err)
{
	char name[256];
	struct termios t;
	int fd, e;

	fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		goto err_errno;
	if (grantpt(fd) < 0 || unlockpt(fd) < 0 || ptsname_r(fd, name, sizeof(name)) != 0)
		goto err_close;
	/*
	 * The termios is shared by both ends: raw mode here means the slave's
	 * reader sees the guest's bytes unchanged and nothing is echoed back.
	 */
	if (tcgetattr(fd, &t) < 0)
		goto err_close;
	cfmakeraw(&t);
	if (tcsetattr(fd, TCSANOW, &t) < 0)
		goto err_close;
	/* Nobody may be reading the slave: never let the guest block on it. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		goto err_close;

	chr->in_fd = fd;
	chr->out_fd = fd;
	chr->close_in = true;
	chr->nonblock_out = true;
	chr->path = g_strdup(name);
	return 0;

err_close:
	e = errno;
	close(fd);
	errno = e;
err_errno:
	e = errno;
	return gh_error_set(err, -e, "cannot create a pseudo-terminal: %s",
			    g_strerror(e));
}

/* Output waits in the backlog from the start: the first client sees the boot. */
static int open_socket(struct gh_chardev *chr, const char *path,
		       struct gh_error *err)
{
	int ret;

	pthread_mutex_init(&chr->out_lock, NULL);
	gh_ring_init(&chr->backlog, BACKLOG_SIZE);
	ret = gh_unix_listen(path, "console socket", &chr->listener, err);
	if (ret < 0)
		return ret;
	chr->path = g_strdup(path);
	return 0;
}

int gh_chardev_open(const char *spec, struct gh_chardev **out, struct gh_error *err)
{
	struct gh_chardev *chr;
	int ret = 0;

	*out = NULL;
	if (!spec)
		return gh_error_set(err, -EINVAL, "no character device given");

	if (!strcmp(spec, "none") || !strcmp(spec, "null")) {
		chr = chardev_alloc(CHR_NULL);
	} else if (!strcmp(spec, "stdio")) {
		chr = chardev_alloc(CHR_STDIO);
		ret = open_stdio(chr, err);
	} else if (!strncmp(spec, "file:", 5)) {
		chr = chardev_alloc(CHR_FILE);
		ret = open_file(chr, spec + 5, err);
	} else if (!strcmp(spec, "pty")) {
		chr = chardev_alloc(CHR_PTY);
		ret = open_pty(chr, err);
	} else if (!strncmp(spec, "unix:", 5)) {
		chr = chardev_alloc(CHR_SOCKET);
		ret = open_socket(chr, spec + 5, err);
	} else {
		return gh_error_set(err, -EINVAL,
				    "unknown character device \"%s\" (use stdio, pty, "
				    "file:PATH, unix:PATH, none or null)", spec);
	}

	if (ret < 0) {
		gh_chardev_free(chr);
		return ret;
	}
	*out = chr;
	return 0;
}

struct gh_chardev *gh_chardev_new_buffer(void)
{
	struct gh_chardev *chr = chardev_alloc(CHR_BUFFER);

	chr->output = g_byte_array_new();
	return chr;
}

void gh_chardev_free(struct gh_chardev *chr)
{
	if (!chr)
		return;
	if (chr->source) {
		g_source_destroy(&chr->source->base);
		g_source_unref(&chr->source->base);
	}
	if (chr->tty_raw)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &chr->saved_termios);
	if (chr->kind == CHR_SOCKET) {
		forget_waiting(chr);
		if (chr->in_fd >= 0)
			close(chr->in_fd);
		chr->in_fd = -1;
		gh_unix_listener_close(&chr->listener);
		gh_ring_destroy(&chr->backlog);
		pthread_mutex_destroy(&chr->out_lock);
	}
	if (chr->close_in && chr->in_fd >= 0)
		close(chr->in_fd);
	if (chr->close_out && chr->out_fd >= 0 && chr->out_fd != chr->in_fd)
		close(chr->out_fd);
	g_byte_array_unref(chr->pending);
	if (chr->output)
		g_byte_array_unref(chr->output);
	g_free(chr->path);
	g_free(chr);
}

const char *gh_chardev_path(struct gh_chardev *chr)
{
	return chr ? chr->path : NULL;
}

/* Waits a bounded time for room, for a blocking fd someone made non-blocking. */
static bool wait_writable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int r;

	do
		r = poll(&p, 1, 1000);
	while (r < 0 && errno == EINTR);
	return r > 0 && !(p.revents & (POLLERR | POLLNVAL));
}

/* Wakes the main loop; safe from any thread (GLib's ready time is locked). */
static void wake_main_loop(struct gh_chardev *chr)
{
	if (chr->source)
		g_source_set_ready_time(&chr->source->base, 0);
}

/* Sends without waiting; false when the client is broken. out_lock held. */
static bool send_some(struct gh_chardev *chr, const uint8_t **p, size_t *len)
{
	while (*len) {
		ssize_t n = send(chr->in_fd, *p, *len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			*p += n;
			*len -= n;
			chr->mid_line = (*p)[-1] != '\n';
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return true;
		} else {
			chr->client_broken = true;
			return false;
		}
	}
	return true;
}

/* Output waits for the client: the backlog, or a note about what it lost. */
static bool output_queued(struct gh_chardev *chr)
{
	return gh_ring_len(&chr->backlog) || chr->note_len;
}

/*
 * On the device's thread: straight to the client while nothing is queued,
 * else into the backlog (the oldest bytes go when it is full), which the
 * main loop flushes when the client can take more. Never waits: a client
 * that stops reading costs the guest nothing but lost output.
 */
static void socket_write(struct gh_chardev *chr, const uint8_t *p, size_t len)
{
	bool attached;

	pthread_mutex_lock(&chr->out_lock);
	attached = chr->in_fd >= 0 && !chr->client_broken;
	if (attached && !output_queued(chr) && !send_some(chr, &p, &len))
		wake_main_loop(chr);	/* to drop the client */
	if (len) {
		gh_ring_push(&chr->backlog, p, len);
		if (attached && !chr->client_broken && !chr->out_waiting) {
			chr->out_waiting = true;
			wake_main_loop(chr);
		}
	}
	pthread_mutex_unlock(&chr->out_lock);
}

void gh_chardev_write(struct gh_chardev *chr, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!chr || !len)
		return;
	if (chr->kind == CHR_BUFFER) {
		g_byte_array_append(chr->output, p, len);
		return;
	}
	if (chr->kind == CHR_SOCKET) {
		socket_write(chr, p, len);
		return;
	}
	if (chr->out_fd < 0)
		return;

	while (len) {
		ssize_t n = write(chr->out_fd, p, len);

		if (n > 0) {
			p += n;
			len -= n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* A pty nobody reads: output is dropped, as on a wire. */
			if (chr->nonblock_out || !wait_writable(chr->out_fd))
				return;
			continue;
		}
		if (chr->kind == CHR_PTY)
			return;	/* EIO while the slave is closed: nobody listens */
		if (!chr->out_failed) {
			chr->out_failed = true;
			g_warning("cannot write to %s: %s",
				  chr->path ? chr->path : "standard output",
				  n < 0 ? g_strerror(errno) : "nothing written");
		}
		return;
	}
}

void gh_chardev_set_frontend(struct gh_chardev *chr, const struct gh_chardev_frontend *fe,
			     void *opaque)
{
	if (!chr)
		return;
	chr->fe = fe;
	chr->fe_opaque = fe ? opaque : NULL;
}

/* Hands pending input to the frontend as far as it has room; caller holds the lock. */
static void deliver(struct gh_chardev *chr)
{
	if (chr->delivering)
		return;	/* a receive() asked for more: the loop below re-checks */
	chr->delivering = true;
	while (chr->pending->len && chr->fe) {
		size_t room = chr->fe->can_receive(chr->fe_opaque);

		if (!room)
			break;
		room = MIN(room, chr->pending->len);
		chr->fe->receive(chr->fe_opaque, chr->pending->data, room);
		g_byte_array_remove_range(chr->pending, 0, room);
	}
	chr->input_waiting = chr->pending->len > 0;
	chr->delivering = false;
}

static void print_escape_help(void)
{
	static const char help[] =
		"C-a x  quit    C-a a  send C-a    C-a h  this help\r\n";
	ssize_t r = write(STDERR_FILENO, help, sizeof(help) - 1);

	(void)r;
}

/*
 * Interprets Ctrl-A sequences in place and returns how many bytes remain for
 * the guest. The armed state survives across reads, so a sequence split
 * between two reads still works.
 */
static size_t filter_escape(struct gh_chardev *chr, uint8_t *buf, size_t len)
{
	size_t out = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = buf[i];

		if (!chr->escape_armed) {
			if (c == ESCAPE_CHAR)
				chr->escape_armed = true;
			else
				buf[out++] = c;
			continue;
		}
		chr->escape_armed = false;
		switch (c) {
		case 'x':
		case 'X':
			chr->quit_requested = true;
			break;
		case 'a':
		case ESCAPE_CHAR:
			buf[out++] = ESCAPE_CHAR;
			break;
		case 'h':
		case '?':
			print_escape_help();
			break;
		default:
			/* 'c' (the monitor in QEMU) and unknown keys are swallowed. */
			break;
		}
	}
	return out;
}

static void read_input(struct gh_chardev *chr)
{
	uint8_t buf[PENDING_MAX];
	size_t room = PENDING_MAX - MIN(chr->pending->len, PENDING_MAX);
	ssize_t n;

	if (!room)
		return;
	do
		n = read(chr->in_fd, buf, room);
	while (n < 0 && errno == EINTR);

	if (chr->kind == CHR_SOCKET) {
		/*
		 * A client that shut its sending side down (socat -u, a script's
		 * input at its end) keeps getting output until it closes.
		 */
		if (n == 0)
			chr->client_in_eof = true;
		else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			chr->client_gone = true;
		/* a device that takes no input (the debug console): dropped */
		else if (n > 0 && chr->fe)
			g_byte_array_append(chr->pending, buf, n);
		return;
	}
	if (n > 0) {
		size_t len = n;

		if (chr->tty_raw)
			len = filter_escape(chr, buf, len);
		g_byte_array_append(chr->pending, buf, len);
	} else if (n == 0) {
		chr->input_eof = true;
	} else if (errno == EIO && chr->kind == CHR_PTY) {
		chr->pty_hup = true;
	} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
		chr->input_eof = true;
	}
}

static bool pty_still_hung_up(struct gh_chardev *chr)
{
	struct pollfd p = { .fd = chr->in_fd, .events = POLLIN };

	if (poll(&p, 1, 0) < 0)
		return true;
	return (p.revents & POLLHUP) != 0;
}

/*
 * Polls the fd only while there is room for what it would give us. The fd is
 * removed rather than given an empty event mask, because poll() reports
 * POLLHUP whatever was asked for, and a hung-up fd would spin the loop.
 */
static void update_socket_polling(struct gh_chardev *chr, bool want_in);

static void update_polling(struct gh_chardev *chr)
{
	GSource *s = &chr->source->base;
	bool want = !chr->input_eof && !chr->pty_hup && chr->pending->len < PENDING_MAX;

	if (chr->kind == CHR_SOCKET) {
		update_socket_polling(chr, want);
		return;
	}

	if (want && !chr->source->tag) {
		chr->source->tag = g_source_add_unix_fd(s, chr->in_fd, G_IO_IN);
	} else if (!want && chr->source->tag) {
		g_source_remove_unix_fd(s, chr->source->tag);
		chr->source->tag = NULL;
	}
	if (chr->pty_hup)
		g_source_set_ready_time(s, g_source_get_time(s) + PTY_RECHECK_MS * 1000);
}

/*
 * The backlog dropped its oldest bytes since the client was last told (it
 * overflowed while nobody was attached, or while the client did not read):
 * a line of its own says how many, before the bytes it kept. out_lock held.
 */
static void make_note(struct gh_chardev *chr)
{
	uint64_t n = chr->backlog.dropped - chr->dropped_told;

	chr->note_len = g_snprintf(chr->note, sizeof(chr->note),
				   "%s" GH_CHARDEV_DROPPED "%" PRIu64
				   " bytes of earlier output dropped]\r\n",
				   chr->mid_line ? "\r\n" : "", n);
	chr->note_off = 0;
	chr->note_bytes = n;
	chr->dropped_told = chr->backlog.dropped;
}

/* Main loop: sends what the backlog holds, as far as the client takes it. */
static void flush_backlog(struct gh_chardev *chr)
{
	pthread_mutex_lock(&chr->out_lock);
	if (!chr->note_len && chr->backlog.dropped != chr->dropped_told)
		make_note(chr);
	while (chr->in_fd >= 0 && !chr->client_broken && output_queued(chr)) {
		bool note = chr->note_len;
		const uint8_t *p = (const uint8_t *)chr->note + chr->note_off;
		size_t len = note ? chr->note_len - chr->note_off :
				    gh_ring_peek(&chr->backlog, &p);
		size_t left = len;

		if (!send_some(chr, &p, &left))
			break;
		if (note && left) {
			chr->note_off += len - left;
		} else if (note) {
			chr->note_len = 0;
			chr->note_off = 0;
		} else {
			gh_ring_consume(&chr->backlog, len - left);
		}
		if (left)
			break;	/* the client's buffer is full: wait for G_IO_OUT */
	}
	if (!output_queued(chr))
		chr->out_waiting = false;
	pthread_mutex_unlock(&chr->out_lock);
}

/*
 * The client's fd is polled for input while there is room for it and for
 * output while the backlog holds some; with neither it stays in the set
 * for the hang-up, which poll() reports whatever was asked for and which
 * ends the client (so it cannot spin). The listener polls its own fd.
 */
static void update_socket_polling(struct gh_chardev *chr, bool want_in)
{
	struct chr_source *src = chr->source;
	GIOCondition ev = want_in && !chr->client_in_eof ? G_IO_IN : 0;

	pthread_mutex_lock(&chr->out_lock);
	if (chr->in_fd >= 0 && output_queued(chr))
		ev |= G_IO_OUT;
	pthread_mutex_unlock(&chr->out_lock);

	if (chr->in_fd < 0)
		return;
	if (!src->tag) {
		src->tag = g_source_add_unix_fd(&src->base, chr->in_fd, ev);
		src->tag_events = ev;
	} else if (ev != src->tag_events) {
		g_source_modify_unix_fd(&src->base, src->tag, ev);
		src->tag_events = ev;
	}
}

/* Main loop: forgets the client; its unread input still reaches the guest. */
static void drop_client(struct gh_chardev *chr)
{
	struct chr_source *src = chr->source;
	int fd;

	if (src && src->tag) {
		g_source_remove_unix_fd(&src->base, src->tag);
		src->tag = NULL;
	}
	pthread_mutex_lock(&chr->out_lock);
	fd = chr->in_fd;
	chr->in_fd = -1;
	chr->client_broken = false;
	chr->out_waiting = false;
	chr->mid_line = false;
	/* a note it did not take whole goes to the next client */
	if (chr->note_len)
		chr->dropped_told -= chr->note_bytes;
	chr->note_len = 0;
	chr->note_off = 0;
	pthread_mutex_unlock(&chr->out_lock);
	chr->client_gone = false;
	chr->client_in_eof = false;
	if (fd >= 0)
		close(fd);
}

/* Main loop: the client becomes the console and gets the backlog. */
static void attach_client(struct gh_chardev *chr, int fd)
{
	pthread_mutex_lock(&chr->out_lock);
	chr->in_fd = fd;
	pthread_mutex_unlock(&chr->out_lock);
	flush_backlog(chr);
	wake_main_loop(chr);	/* to poll the client */
}

/* Sends a line of ours as far as the client takes it now. */
static void send_line(int fd, const char *line)
{
	ssize_t r = send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);

	(void)r;
}

static void forget_waiting(struct gh_chardev *chr)
{
	if (chr->waiting_src) {
		g_source_destroy(chr->waiting_src);
		g_source_unref(chr->waiting_src);
		chr->waiting_src = NULL;
	}
	if (chr->waiting_timer) {
		g_source_destroy(chr->waiting_timer);
		g_source_unref(chr->waiting_timer);
		chr->waiting_timer = NULL;
	}
	if (chr->waiting_fd >= 0)
		close(chr->waiting_fd);
	chr->waiting_fd = -1;
	chr->waiting_got = 0;
}

/*
 * The waiting client asked for the console: the attached one is told in
 * one line (after the guest's partial line, if any) and closed, and the
 * new one is attached; the output it did not take goes to the new one.
 */
static void take_over(struct gh_chardev *chr)
{
	int fd = chr->waiting_fd;

	chr->waiting_fd = -1;
	forget_waiting(chr);
	if (chr->in_fd >= 0) {
		char *msg;

		pthread_mutex_lock(&chr->out_lock);
		msg = g_strdup_printf("%s%s another client attached to %s with "
				      "--force\r\n", chr->mid_line ? "\r\n" : "",
				      GH_CHARDEV_TAKEN, chr->path);
		send_line(chr->in_fd, msg);
		pthread_mutex_unlock(&chr->out_lock);
		g_free(msg);
		drop_client(chr);
	}
	attach_client(chr, fd);
}

/* Reads what the waiting client sends: GH_CHARDEV_TAKEOVER, or it goes. */
static gboolean waiting_readable(gint fd, GIOCondition cond, gpointer opaque)
{
	static const char ask[] = GH_CHARDEV_TAKEOVER;
	struct gh_chardev *chr = opaque;
	char buf[sizeof(ask)];
	size_t want = sizeof(ask) - 1 - chr->waiting_got;
	ssize_t n;

	/* only the request: what follows it is the console's input */
	do
		n = recv(chr->waiting_fd, buf, want, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return G_SOURCE_CONTINUE;
	if (n <= 0 || memcmp(buf, ask + chr->waiting_got, n)) {
		forget_waiting(chr);
		return G_SOURCE_CONTINUE;	/* destroyed already */
	}
	chr->waiting_got += n;
	if (chr->waiting_got == sizeof(ask) - 1)
		take_over(chr);
	return G_SOURCE_CONTINUE;
}

static gboolean waiting_expired(gpointer opaque)
{
	forget_waiting(opaque);
	return G_SOURCE_CONTINUE;	/* destroyed already */
}

/*
 * A new client (on the main loop, from the listener): the first becomes
 * the console and gets the backlog; while one is attached, others get one
 * line saying so, as virsh console refuses a second session. One of them
 * at a time may then take the console over (virsh console --force) by
 * sending GH_CHARDEV_TAKEOVER within TAKEOVER_WAIT_MS; anything else, or
 * nothing, and it is closed. Out of fds, the listener waits before it
 * tries again.
 */
static void client_arrived(void *opaque, int fd)
{
	struct gh_chardev *chr = opaque;
	char *msg;

	if (fd < 0)
		return;
	if (chr->in_fd < 0) {
		attach_client(chr, fd);
		return;
	}
	msg = g_strdup_printf("%s another client is attached to %s\n",
			      GH_CHARDEV_BUSY, chr->path);
	send_line(fd, msg);
	g_free(msg);
	if (chr->waiting_fd >= 0) {
		close(fd);
		return;
	}
	chr->waiting_fd = fd;
	chr->waiting_src = g_unix_fd_source_new(fd, G_IO_IN | G_IO_HUP |
						G_IO_ERR);
	g_source_set_callback(chr->waiting_src, G_SOURCE_FUNC(waiting_readable),
			      chr, NULL);
	g_source_attach(chr->waiting_src, chr->ctx);
	chr->waiting_timer = g_timeout_source_new(TAKEOVER_WAIT_MS);
	g_source_set_callback(chr->waiting_timer, waiting_expired, chr, NULL);
	g_source_attach(chr->waiting_timer, chr->ctx);
}

static void socket_dispatch(struct gh_chardev *chr, GIOCondition rev)
{
	if (chr->in_fd >= 0) {
		if (rev & G_IO_OUT)
			flush_backlog(chr);
		if (rev & (G_IO_IN | G_IO_HUP | G_IO_ERR | G_IO_NVAL)) {
			if (chr->source->tag_events & G_IO_IN)
				read_input(chr);
			else
				chr->client_gone = true;
		}
		if (chr->client_gone || chr->client_broken)
			drop_client(chr);
	}
}

static gboolean source_dispatch(GSource *s, GSourceFunc cb, gpointer user_data)
{
	struct gh_chardev *chr = ((struct chr_source *)s)->chr;
	gpointer tag = ((struct chr_source *)s)->tag;
	GIOCondition rev = tag ? g_source_query_unix_fd(s, tag) : 0;

	/*
	 * Cleared before delivering: an accept_input() that races with us sets it
	 * again and costs one extra dispatch; one before this point is covered by
	 * the delivery below, which runs under the same lock.
	 */
	g_source_set_ready_time(s, -1);

	if (chr->kind == CHR_SOCKET)
		socket_dispatch(chr, rev);
	else if (chr->pty_hup && !pty_still_hung_up(chr))
		chr->pty_hup = false;
	if (chr->kind != CHR_SOCKET && !chr->pty_hup &&
	    (rev & (G_IO_IN | G_IO_HUP | G_IO_ERR | G_IO_NVAL)))
		read_input(chr);

	if (chr->pending->len) {
		if (chr->lock)
			pthread_mutex_lock(chr->lock);
		deliver(chr);
		if (chr->lock)
			pthread_mutex_unlock(chr->lock);
	}
	update_polling(chr);

	if (chr->quit_requested) {
		chr->quit_requested = false;
		if (chr->quit_fn)
			chr->quit_fn(chr->quit_opaque);
	}
	return G_SOURCE_CONTINUE;
}

static const GSourceFuncs source_funcs = {
	.dispatch = source_dispatch,
};

void gh_chardev_attach(struct gh_chardev *chr, GMainContext *ctx, pthread_mutex_t *lock)
{
	struct chr_source *src;

	if (!chr)
		return;
	chr->ctx = ctx;
	chr->lock = lock;
	if ((chr->in_fd < 0 && chr->kind != CHR_SOCKET) || chr->source)
		return;

	src = (struct chr_source *)g_source_new((GSourceFuncs *)&source_funcs,
						sizeof(*src));
	src->chr = chr;
	g_source_set_name(&src->base, "gh-chardev");
	chr->source = src;
	update_polling(chr);
	g_source_attach(&src->base, ctx);
	if (chr->kind == CHR_SOCKET)
		gh_unix_listener_watch(&chr->listener, ctx, client_arrived, chr);
}

void gh_chardev_accept_input(struct gh_chardev *chr)
{
	if (!chr)
		return;
	if (chr->kind == CHR_BUFFER) {
		/* Tests are single-threaded and hold no lock: deliver right away. */
		deliver(chr);
		return;
	}
	/*
	 * The caller holds the device lock, possibly on a vCPU thread: only wake
	 * the main loop, which delivers under the lock. Setting the ready time is
	 * safe from any thread. input_waiting is only touched under the lock, so
	 * this does not race with the main loop filling the pending buffer.
	 */
	if (chr->source && chr->input_waiting) {
		chr->input_waiting = false;
		g_source_set_ready_time(&chr->source->base, 0);
	}
}

void gh_chardev_set_quit_handler(struct gh_chardev *chr, void (*fn)(void *), void *opaque)
{
	if (!chr)
		return;
	chr->quit_fn = fn;
	chr->quit_opaque = opaque;
}

void gh_chardev_buffer_input(struct gh_chardev *chr, const void *buf, size_t len)
{
	if (!chr || chr->kind != CHR_BUFFER)
		return;
	g_byte_array_append(chr->pending, buf, len);
	deliver(chr);
}

char *gh_chardev_buffer_take(struct gh_chardev *chr, size_t *len)
{
	char *s;
	size_t n = 0;

	if (chr && chr->kind == CHR_BUFFER) {
		n = chr->output->len;
		s = g_malloc(n + 1);
		if (n)
			memcpy(s, chr->output->data, n);
		s[n] = '\0';
		g_byte_array_set_size(chr->output, 0);
	} else {
		s = g_strdup("");
	}
	if (len)
		*len = n;
	return s;
}
