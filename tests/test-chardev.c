/*
 * Tests for the character backends: file, buffer, pty, the socket console and
 * its ring, stdio escape keys, bad specs.
 */
#include "gh/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "gh/ring.h"
#include "gh/unix-socket.h"

/* A frontend with an adjustable amount of room that records what it got. */
struct sink {
	GString *got;
	size_t room;
	pthread_mutex_t *lock;	/* if set, must be held during callbacks */
	bool lock_violated;
	struct gh_chardev *chr;
	bool reenter;		/* call accept_input from inside receive */
	unsigned quits;
};

static void check_lock(struct sink *k)
{
	if (k->lock && pthread_mutex_trylock(k->lock) == 0) {
		k->lock_violated = true;
		pthread_mutex_unlock(k->lock);
	}
}

static size_t sink_can_receive(void *opaque)
{
	struct sink *k = opaque;

	check_lock(k);
	return k->room;
}

static void sink_receive(void *opaque, const uint8_t *buf, size_t len)
{
	struct sink *k = opaque;

	check_lock(k);
	g_assert_cmpuint(len, <=, k->room);
	g_string_append_len(k->got, (const char *)buf, len);
	k->room -= len;
	if (k->reenter)
		gh_chardev_accept_input(k->chr);
}

static const struct gh_chardev_frontend sink_fe = {
	.can_receive = sink_can_receive,
	.receive = sink_receive,
};

static void sink_quit(void *opaque)
{
	struct sink *k = opaque;

	/* The quit handler runs without the device lock. */
	if (k->lock) {
		g_assert_cmpint(pthread_mutex_trylock(k->lock), ==, 0);
		pthread_mutex_unlock(k->lock);
	}
	k->quits++;
}

static gboolean set_flag(gpointer data)
{
	*(bool *)data = true;
	return G_SOURCE_REMOVE;
}

/* Iterates ctx until the sink holds want bytes or 5 s pass. */
static void iterate_until(GMainContext *ctx, struct sink *k, size_t want)
{
	bool timed_out = false;
	GSource *t = g_timeout_source_new(5000);

	g_source_set_callback(t, set_flag, &timed_out, NULL);
	g_source_attach(t, ctx);
	while (k->got->len < want && !timed_out)
		g_main_context_iteration(ctx, TRUE);
	g_source_destroy(t);
	g_source_unref(t);
}

/* Iterates ctx for ms milliseconds. */
static void iterate_for(GMainContext *ctx, unsigned ms)
{
	bool done = false;
	GSource *t = g_timeout_source_new(ms);

	g_source_set_callback(t, set_flag, &done, NULL);
	g_source_attach(t, ctx);
	while (!done)
		g_main_context_iteration(ctx, TRUE);
	g_source_destroy(t);
	g_source_unref(t);
}

static void test_file(void)
{
	g_autofree char *dir = g_dir_make_tmp("gh-chardev-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "serial.log", NULL);
	g_autofree char *spec = g_strconcat("file:", path, NULL);
	g_autofree char *contents = NULL;
	struct gh_error err = { 0 };
	struct gh_chardev *chr;
	struct stat st;
	size_t len;

	g_assert_nonnull(dir);
	/* An existing file is truncated, as QEMU's file backend does. */
	g_assert_true(g_file_set_contents(path, "old contents that must go", -1, NULL));

	g_assert_cmpint(gh_chardev_open(spec, &chr, &err), ==, 0);
	g_assert_cmpint(err.code, ==, 0);
	g_assert_cmpstr(gh_chardev_path(chr), ==, path);
	gh_chardev_write(chr, "hello\n", 6);
	gh_chardev_write(chr, "", 0);
	gh_chardev_write(chr, "wor", 3);
	gh_chardev_write(chr, "ld\0x", 4);
	/* A file has no input: accept_input and attach are harmless. */
	gh_chardev_accept_input(chr);
	gh_chardev_free(chr);

	g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
	g_assert_cmpuint(len, ==, 13);
	g_assert_cmpmem(contents, len, "hello\nworld\0x", 13);
	g_assert_cmpint(g_stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0644 & ~umask(umask(0)));

	g_unlink(path);
	g_rmdir(dir);
}

static void test_bad_specs(void)
{
	static const char *const bad[] = {
		"bogus", "", "stdio2", "file", "FILE:x", "pty:x",
	};
	struct gh_chardev *chr = (struct gh_chardev *)&chr;
	struct gh_error err;

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		memset(&err, 0, sizeof(err));
		g_assert_cmpint(gh_chardev_open(bad[i], &chr, &err), ==, -EINVAL);
		g_assert_null(chr);
		g_assert_cmpint(err.code, ==, -EINVAL);
		g_assert_nonnull(strstr(err.msg, "unknown character device"));
		g_assert_nonnull(strstr(err.msg, bad[i]));
	}

	memset(&err, 0, sizeof(err));
	g_assert_cmpint(gh_chardev_open("file:", &chr, &err), ==, -EINVAL);
	g_assert_null(chr);
	g_assert_cmpint(err.code, ==, -EINVAL);

	memset(&err, 0, sizeof(err));
	g_assert_cmpint(gh_chardev_open("file:/nonexistent-gh-dir/x/y", &chr, &err), ==,
			-ENOENT);
	g_assert_null(chr);
	g_assert_cmpint(err.code, ==, -ENOENT);
	g_assert_cmpstr(err.msg, ==,
			"cannot open /nonexistent-gh-dir/x/y: No such file or directory");

	memset(&err, 0, sizeof(err));
	g_assert_cmpint(gh_chardev_open(NULL, &chr, &err), ==, -EINVAL);
	g_assert_null(chr);
}

static void test_null(void)
{
	static const char *const specs[] = { "none", "null" };

	for (size_t i = 0; i < G_N_ELEMENTS(specs); i++) {
		struct gh_error err = { 0 };
		struct gh_chardev *chr = NULL;
		struct sink k = { .got = g_string_new(NULL), .room = 10 };
		GMainContext *ctx = g_main_context_new();
		pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

		g_assert_cmpint(gh_chardev_open(specs[i], &chr, &err), ==, 0);
		g_assert_nonnull(chr);
		g_assert_null(gh_chardev_path(chr));
		gh_chardev_set_frontend(chr, &sink_fe, &k);
		gh_chardev_attach(chr, ctx, &lock);
		gh_chardev_write(chr, "discarded", 9);
		gh_chardev_accept_input(chr);
		/* Nothing to poll: the context has no work. */
		g_assert_false(g_main_context_iteration(ctx, FALSE));
		g_assert_cmpuint(k.got->len, ==, 0);
		gh_chardev_free(chr);
		g_main_context_unref(ctx);
		g_string_free(k.got, TRUE);
	}
	gh_chardev_free(NULL);
}

static void test_buffer_output(void)
{
	struct gh_chardev *chr = gh_chardev_new_buffer();
	char *s;
	size_t len = 99;

	s = gh_chardev_buffer_take(chr, &len);
	g_assert_cmpuint(len, ==, 0);
	g_assert_cmpstr(s, ==, "");
	g_free(s);

	gh_chardev_write(chr, "abc", 3);
	gh_chardev_write(chr, "\0d", 2);
	s = gh_chardev_buffer_take(chr, &len);
	g_assert_cmpuint(len, ==, 5);
	g_assert_cmpmem(s, 6, "abc\0d\0", 6);
	g_free(s);

	/* take clears the buffer */
	s = gh_chardev_buffer_take(chr, NULL);
	g_assert_cmpstr(s, ==, "");
	g_free(s);
	gh_chardev_write(chr, "x", 1);
	s = gh_chardev_buffer_take(chr, &len);
	g_assert_cmpstr(s, ==, "x");
	g_assert_cmpuint(len, ==, 1);
	g_free(s);
	gh_chardev_free(chr);
}

static void test_buffer_input(void)
{
	struct gh_chardev *chr = gh_chardev_new_buffer();
	struct sink k = { .got = g_string_new(NULL), .room = 100, .chr = chr };

	/* Input before a frontend exists waits for it. */
	gh_chardev_buffer_input(chr, "early", 5);
	gh_chardev_set_frontend(chr, &sink_fe, &k);
	gh_chardev_accept_input(chr);
	g_assert_cmpstr(k.got->str, ==, "early");

	gh_chardev_buffer_input(chr, "hello", 5);
	g_assert_cmpstr(k.got->str, ==, "earlyhello");
	g_assert_cmpuint(k.room, ==, 90);

	/* Backpressure: only what can_receive allows; the rest waits for accept_input. */
	g_string_truncate(k.got, 0);
	k.room = 2;
	gh_chardev_buffer_input(chr, "abcdef", 6);
	g_assert_cmpstr(k.got->str, ==, "ab");
	gh_chardev_buffer_input(chr, "gh", 2);
	g_assert_cmpstr(k.got->str, ==, "ab");
	k.room = 3;
	gh_chardev_accept_input(chr);
	g_assert_cmpstr(k.got->str, ==, "abcde");
	gh_chardev_accept_input(chr);
	g_assert_cmpstr(k.got->str, ==, "abcde");
	k.room = 100;
	gh_chardev_accept_input(chr);
	g_assert_cmpstr(k.got->str, ==, "abcdefgh");

	/* A frontend asking for more inside receive gets each byte once, in order. */
	g_string_truncate(k.got, 0);
	k.room = 1;
	k.reenter = true;
	gh_chardev_buffer_input(chr, "xyz", 3);
	g_assert_cmpstr(k.got->str, ==, "x");
	k.room = 100;
	gh_chardev_accept_input(chr);
	g_assert_cmpstr(k.got->str, ==, "xyz");
	k.reenter = false;

	/* Detaching the frontend keeps input until one is back. */
	gh_chardev_set_frontend(chr, NULL, NULL);
	gh_chardev_buffer_input(chr, "later", 5);
	g_assert_cmpstr(k.got->str, ==, "xyz");
	gh_chardev_set_frontend(chr, &sink_fe, &k);
	gh_chardev_accept_input(chr);
	g_assert_cmpstr(k.got->str, ==, "xyzlater");

	gh_chardev_free(chr);
	g_string_free(k.got, TRUE);
}

static int open_slave(struct gh_chardev *chr)
{
	int fd = open(gh_chardev_path(chr), O_RDWR | O_NOCTTY | O_CLOEXEC);

	g_assert_cmpint(fd, >=, 0);
	return fd;
}

/* Reads exactly len bytes from fd within 5 s. */
static void read_exact(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		g_assert_cmpint(poll(&p, 1, 5000), ==, 1);
		n = read(fd, buf + got, len - got);
		g_assert_cmpint(n, >, 0);
		got += n;
	}
}

static void test_pty(void)
{
	struct gh_error err = { 0 };
	struct gh_chardev *chr;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct sink k = { .got = g_string_new(NULL), .room = 100, .lock = &lock };
	GMainContext *ctx = g_main_context_new();
	char buf[64];
	int slave;

	g_assert_cmpint(gh_chardev_open("pty", &chr, &err), ==, 0);
	g_assert_true(g_str_has_prefix(gh_chardev_path(chr), "/dev/pts/"));
	k.chr = chr;
	gh_chardev_set_frontend(chr, &sink_fe, &k);
	gh_chardev_attach(chr, ctx, &lock);

	slave = open_slave(chr);
	/* Output reaches the slave unchanged: raw mode, no "\r" added. */
	gh_chardev_write(chr, "guest\n", 6);
	read_exact(slave, buf, 6);
	g_assert_cmpmem(buf, 6, "guest\n", 6);

	/* Input typed on the slave arrives on the main loop, under the lock. */
	g_assert_cmpint(write(slave, "typed\n", 6), ==, 6);
	iterate_until(ctx, &k, 6);
	/* Raw mode: the "guest\n" written earlier was not echoed back as input. */
	g_assert_cmpstr(k.got->str, ==, "typed\n");
	g_assert_false(k.lock_violated);

	/* Backpressure: a full frontend gets the rest after accept_input. */
	g_string_truncate(k.got, 0);
	k.room = 2;
	g_assert_cmpint(write(slave, "abcdef", 6), ==, 6);
	iterate_until(ctx, &k, 2);
	iterate_for(ctx, 50);
	g_assert_cmpstr(k.got->str, ==, "ab");
	pthread_mutex_lock(&lock);
	k.room = 100;
	/* As a device does: with the lock held, which must not deadlock. */
	gh_chardev_accept_input(chr);
	pthread_mutex_unlock(&lock);
	iterate_until(ctx, &k, 6);
	g_assert_cmpstr(k.got->str, ==, "abcdef");

	/* The reader goes away and a new one comes: input still works. */
	close(slave);
	iterate_for(ctx, 100);
	/* A hung-up pty is re-checked on a timer, not polled in a busy loop. */
	g_assert_false(g_main_context_iteration(ctx, FALSE));
	slave = open_slave(chr);
	g_string_truncate(k.got, 0);
	g_assert_cmpint(write(slave, "again", 5), ==, 5);
	iterate_until(ctx, &k, 5);
	g_assert_cmpstr(k.got->str, ==, "again");
	g_assert_false(k.lock_violated);
	close(slave);

	gh_chardev_free(chr);
	g_main_context_unref(ctx);
	g_string_free(k.got, TRUE);
}

static void test_pty_no_reader(void)
{
	struct gh_error err = { 0 };
	struct gh_chardev *chr;
	char block[4096];

	memset(block, 'z', sizeof(block));
	g_assert_cmpint(gh_chardev_open("pty", &chr, &err), ==, 0);
	/* Far more than the pty buffers: the excess is dropped, nothing blocks. */
	for (int i = 0; i < 256; i++)
		gh_chardev_write(chr, block, sizeof(block));
	gh_chardev_free(chr);
}

struct saved_fd0 {
	int fd;
};

static struct saved_fd0 replace_stdin(int fd)
{
	struct saved_fd0 s = { .fd = dup(STDIN_FILENO) };

	g_assert_cmpint(s.fd, >=, 0);
	g_assert_cmpint(dup2(fd, STDIN_FILENO), ==, STDIN_FILENO);
	return s;
}

static void restore_stdin(struct saved_fd0 s)
{
	g_assert_cmpint(dup2(s.fd, STDIN_FILENO), ==, STDIN_FILENO);
	close(s.fd);
}

/* stdio on a terminal: raw mode with output post-processing, the Ctrl-A keys, restore. */
static void test_stdio_tty(void)
{
	struct gh_error err = { 0 };
	struct gh_chardev *chr;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct sink k = { .got = g_string_new(NULL), .room = 100, .lock = &lock };
	GMainContext *ctx = g_main_context_new();
	struct termios before, during, after;
	struct saved_fd0 saved;
	int master, slave;

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	g_assert_cmpint(master, >=, 0);
	g_assert_cmpint(grantpt(master), ==, 0);
	g_assert_cmpint(unlockpt(master), ==, 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	g_assert_cmpint(slave, >=, 0);
	g_assert_cmpint(tcgetattr(slave, &before), ==, 0);
	g_assert_true(before.c_lflag & ECHO);
	g_assert_true(before.c_lflag & ICANON);

	saved = replace_stdin(slave);
	g_assert_cmpint(gh_chardev_open("stdio", &chr, &err), ==, 0);
	g_assert_cmpint(tcgetattr(slave, &during), ==, 0);
	g_assert_false(during.c_lflag & (ECHO | ICANON | ISIG));
	g_assert_false(during.c_iflag & (ICRNL | IXON));
	g_assert_cmpuint(during.c_oflag & (OPOST | ONLCR), ==, OPOST | ONLCR);

	gh_chardev_set_frontend(chr, &sink_fe, &k);
	gh_chardev_set_quit_handler(chr, sink_quit, &k);
	gh_chardev_attach(chr, ctx, &lock);

	/* C-a a is a literal C-a, C-a x quits, C-a h prints help, C-a c is eaten. */
	g_assert_cmpint(write(master, "ab\x01", 3), ==, 3);
	iterate_until(ctx, &k, 2);
	g_assert_cmpint(write(master, "a\x01xcd\x01h\x01" "ce\x01\x01", 12), ==, 12);
	iterate_until(ctx, &k, 7);
	g_assert_cmpmem(k.got->str, k.got->len, "ab\x01" "cde\x01", 7);
	g_assert_cmpuint(k.quits, ==, 1);
	g_assert_false(k.lock_violated);

	/* A key after Ctrl-A that means nothing is swallowed with it. */
	g_assert_cmpint(write(master, "\x01qZ", 3), ==, 3);
	iterate_until(ctx, &k, 8);
	g_assert_cmpmem(k.got->str, k.got->len, "ab\x01" "cde\x01Z", 8);
	g_assert_cmpuint(k.quits, ==, 1);

	gh_chardev_free(chr);
	g_assert_cmpint(tcgetattr(slave, &after), ==, 0);
	g_assert_cmpuint(after.c_lflag, ==, before.c_lflag);
	g_assert_cmpuint(after.c_iflag, ==, before.c_iflag);
	g_assert_cmpuint(after.c_oflag, ==, before.c_oflag);
	g_assert_cmpmem(after.c_cc, sizeof(after.c_cc), before.c_cc, sizeof(before.c_cc));
	restore_stdin(saved);

	close(slave);
	close(master);
	g_main_context_unref(ctx);
	g_string_free(k.got, TRUE);
}

/* stdio from a pipe: no escape keys, and EOF stops reading. */
static void test_stdio_pipe(void)
{
	struct gh_error err = { 0 };
	struct gh_chardev *chr;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct sink k = { .got = g_string_new(NULL), .room = 100, .lock = &lock };
	GMainContext *ctx = g_main_context_new();
	struct saved_fd0 saved;
	int p[2];

	g_assert_cmpint(pipe(p), ==, 0);
	saved = replace_stdin(p[0]);
	close(p[0]);
	g_assert_cmpint(gh_chardev_open("stdio", &chr, &err), ==, 0);
	gh_chardev_set_frontend(chr, &sink_fe, &k);
	gh_chardev_set_quit_handler(chr, sink_quit, &k);
	gh_chardev_attach(chr, ctx, &lock);

	g_assert_cmpint(write(p[1], "\x01x\x01" "a", 4), ==, 4);
	close(p[1]);
	iterate_until(ctx, &k, 4);
	g_assert_cmpmem(k.got->str, k.got->len, "\x01x\x01" "a", 4);
	g_assert_cmpuint(k.quits, ==, 0);

	/* After EOF the fd is no longer polled: the loop goes quiet. */
	iterate_for(ctx, 20);
	g_assert_false(g_main_context_iteration(ctx, FALSE));

	gh_chardev_free(chr);
	restore_stdin(saved);
	g_main_context_unref(ctx);
	g_string_free(k.got, TRUE);
}

/* --- the ring and the socket console --------------------------------------- */

/* Everything the ring holds, oldest first, as its readers see it. */
static GString *ring_contents(const struct gh_ring *r)
{
	struct gh_ring copy = *r;
	GString *s = g_string_new(NULL);

	while (gh_ring_len(&copy)) {
		const uint8_t *p;
		size_t n = gh_ring_peek(&copy, &p);

		g_assert_cmpuint(n, >, 0);
		g_string_append_len(s, (const char *)p, n);
		gh_ring_consume(&copy, n);
	}
	return s;
}

static void assert_ring(const struct gh_ring *r, const char *want)
{
	GString *s = ring_contents(r);

	g_assert_cmpuint(gh_ring_len(r), ==, strlen(want));
	g_assert_cmpstr(s->str, ==, want);
	g_string_free(s, TRUE);
}

static void test_ring(void)
{
	struct gh_ring r;
	const uint8_t *p;

	gh_ring_init(&r, 8);
	assert_ring(&r, "");
	g_assert_cmpuint(gh_ring_peek(&r, &p), ==, 0);
	gh_ring_push(&r, "abc", 3);
	gh_ring_push(&r, "", 0);
	assert_ring(&r, "abc");
	g_assert_cmpuint(r.dropped, ==, 0);

	/* consumed from the front; an emptied ring starts again at 0 */
	gh_ring_consume(&r, 2);
	assert_ring(&r, "c");
	gh_ring_consume(&r, 5);
	assert_ring(&r, "");
	g_assert_cmpuint(r.head, ==, 0);

	/* wrapping: the contents come out in two pieces */
	gh_ring_push(&r, "123456", 6);
	gh_ring_consume(&r, 4);
	gh_ring_push(&r, "789ab", 5);
	assert_ring(&r, "56789ab");
	g_assert_cmpuint(gh_ring_peek(&r, &p), ==, 4);
	g_assert_cmpmem(p, 4, "5678", 4);

	/* full: the oldest bytes go, the newest stay */
	gh_ring_push(&r, "cd", 2);
	assert_ring(&r, "6789abcd");
	g_assert_cmpuint(r.dropped, ==, 1);
	gh_ring_push(&r, "e", 1);
	assert_ring(&r, "789abcde");
	g_assert_cmpuint(r.dropped, ==, 2);

	/* more than the ring holds at once: its last bytes */
	gh_ring_push(&r, "ABCDEFGHIJK", 11);
	assert_ring(&r, "DEFGHIJK");
	g_assert_cmpuint(r.dropped, ==, 2 + 8 + 3);
	gh_ring_push(&r, "12345678", 8);
	assert_ring(&r, "12345678");
	g_assert_cmpuint(r.dropped, ==, 13 + 8);
	gh_ring_destroy(&r);
}

struct sock_test {
	char *dir;
	char *path;
	char *spec;
	struct gh_chardev *chr;
	GMainContext *ctx;
	pthread_mutex_t lock;
	struct sink k;
};

static void sock_setup(struct sock_test *t, size_t room)
{
	struct gh_error err = { 0 };

	t->dir = g_dir_make_tmp("gh-chardev-XXXXXX", NULL);
	g_assert_nonnull(t->dir);
	t->path = g_build_filename(t->dir, "com1.sock", NULL);
	t->spec = g_strconcat("unix:", t->path, NULL);
	pthread_mutex_init(&t->lock, NULL);
	t->k = (struct sink){ .got = g_string_new(NULL), .room = room,
			      .lock = &t->lock };
	t->ctx = g_main_context_new();
	g_assert_cmpint(gh_chardev_open(t->spec, &t->chr, &err), ==, 0);
	g_assert_cmpstr(gh_chardev_path(t->chr), ==, t->path);
	t->k.chr = t->chr;
	gh_chardev_set_frontend(t->chr, &sink_fe, &t->k);
	gh_chardev_attach(t->chr, t->ctx, &t->lock);
}

static void sock_teardown(struct sock_test *t)
{
	g_assert_false(t->k.lock_violated);
	gh_chardev_free(t->chr);
	/* the socket file goes with the backend */
	g_assert_false(g_file_test(t->path, G_FILE_TEST_EXISTS));
	g_main_context_unref(t->ctx);
	g_string_free(t->k.got, TRUE);
	g_rmdir(t->dir);
	g_free(t->dir);
	g_free(t->path);
	g_free(t->spec);
}

static int connect_client(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	g_assert_cmpint(fd, >=, 0);
	g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	return fd;
}

/*
 * Runs the backend's main loop and reads what fd gets into got until it
 * holds want bytes, fd reaches EOF, or ms pass. Returns false on EOF.
 */
static bool client_read(GMainContext *ctx, int fd, GString *got, size_t want,
			unsigned ms)
{
	gint64 end = g_get_monotonic_time() + ms * 1000;

	while (got->len < want && g_get_monotonic_time() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[4096];
		ssize_t n;

		while (g_main_context_iteration(ctx, FALSE))
			;
		if (poll(&p, 1, 10) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			return false;
		if (n > 0)
			g_string_append_len(got, buf, n);
	}
	return true;
}

/* A new client: it gets want and nothing more at once; returns its fd. */
static int attach_expect(struct sock_test *t, const char *want)
{
	GString *got = g_string_new(NULL);
	int c = connect_client(t->path);

	g_assert_true(client_read(t->ctx, c, got, strlen(want), 5000));
	g_assert_true(client_read(t->ctx, c, got, strlen(want) + 1, 50));
	g_assert_cmpstr(got->str, ==, want);
	g_string_free(got, TRUE);
	return c;
}

static void send_str(int fd, const char *s)
{
	g_assert_cmpint(send(fd, s, strlen(s), MSG_NOSIGNAL), ==, strlen(s));
}

/* What a client sees and types: the replay, live output, input, detach, re-attach. */
static void test_socket_console(void)
{
	struct sock_test t;
	GString *got = g_string_new(NULL);
	struct stat st;
	int c;

	sock_setup(&t, 100);
	g_assert_cmpint(stat(t.path, &st), ==, 0);
	g_assert_true(S_ISSOCK(st.st_mode));

	/* nobody attached: kept for the first client */
	gh_chardev_write(t.chr, "boot log\n", 9);
	c = attach_expect(&t, "boot log\n");

	/* attached: output goes straight through, and only once */
	g_string_truncate(got, 0);
	gh_chardev_write(t.chr, "$ ", 2);
	g_assert_true(client_read(t.ctx, c, got, 2, 5000));
	g_assert_true(client_read(t.ctx, c, got, 3, 50));
	g_assert_cmpstr(got->str, ==, "$ ");

	/* input reaches the frontend under the lock, as far as it has room */
	t.k.room = 3;
	send_str(c, "x=1\n");
	iterate_until(t.ctx, &t.k, 3);
	iterate_for(t.ctx, 20);
	g_assert_cmpstr(t.k.got->str, ==, "x=1");
	pthread_mutex_lock(&t.lock);
	t.k.room = 100;
	gh_chardev_accept_input(t.chr);
	pthread_mutex_unlock(&t.lock);
	iterate_until(t.ctx, &t.k, 4);
	g_assert_cmpstr(t.k.got->str, ==, "x=1\n");

	/* detached: the guest's output waits, the loop goes quiet */
	close(c);
	iterate_for(t.ctx, 50);
	g_assert_false(g_main_context_iteration(t.ctx, FALSE));
	gh_chardev_write(t.chr, "while ", 6);
	gh_chardev_write(t.chr, "detached\n", 9);

	/* re-attached: that output, not what the last client saw */
	c = attach_expect(&t, "while detached\n");
	send_str(c, "y");
	iterate_until(t.ctx, &t.k, 5);
	g_assert_cmpstr(t.k.got->str, ==, "x=1\ny");
	close(c);

	sock_teardown(&t);
	g_string_free(got, TRUE);
}

/* A second client is told the console is taken; the first keeps it. */
static void test_socket_busy(void)
{
	struct sock_test t;
	GString *a = g_string_new(NULL), *b = g_string_new(NULL);
	int ca, cb;

	sock_setup(&t, 100);
	ca = connect_client(t.path);
	iterate_for(t.ctx, 20);
	cb = connect_client(t.path);
	g_assert_false(client_read(t.ctx, cb, b, 1000, 5000));
	g_assert_true(g_str_has_prefix(b->str, GH_CHARDEV_BUSY));
	g_assert_nonnull(strstr(b->str, t.path));
	g_assert_true(g_str_has_suffix(b->str, "\n"));
	g_assert_true(strchr(b->str, '\n') == b->str + b->len - 1);
	close(cb);

	gh_chardev_write(t.chr, "still yours", 11);
	g_assert_true(client_read(t.ctx, ca, a, 11, 5000));
	g_assert_cmpstr(a->str, ==, "still yours");
	send_str(ca, "k");
	iterate_until(t.ctx, &t.k, 1);
	g_assert_cmpstr(t.k.got->str, ==, "k");

	/* once the first leaves, the next one gets the console */
	close(ca);
	iterate_for(t.ctx, 50);
	gh_chardev_write(t.chr, "next", 4);
	cb = attach_expect(&t, "next");
	close(cb);

	sock_teardown(&t);
	g_string_free(a, TRUE);
	g_string_free(b, TRUE);
}

/*
 * Counts the bytes of got that are not GH_CHARDEV_DROPPED notes, and adds
 * up the bytes the notes say were dropped. Each note is a line of its own.
 */
static size_t strip_notes(const GString *got, uint64_t *dropped)
{
	const char *p = got->str, *end = got->str + got->len, *n;
	size_t kept = 0;

	*dropped = 0;
	while ((n = strstr(p, GH_CHARDEV_DROPPED))) {
		char *after;
		uint64_t bytes = g_ascii_strtoull(n + strlen(GH_CHARDEV_DROPPED),
						  &after, 10);

		g_assert_true(g_str_has_prefix(after, " bytes of earlier output "
					       "dropped]\r\n"));
		/* at a line start, or after a "\r\n" that ends the line */
		if (n - p >= 2 && !memcmp(n - 2, "\r\n", 2))
			kept -= 2;
		else
			g_assert_true(n == got->str || n[-1] == '\n');
		kept += n - p;
		*dropped += bytes;
		p = strchr(after, '\n') + 1;
	}
	return kept + (end - p);
}

/*
 * Output that overflowed the backlog while nobody was attached: the next
 * client is told how much it lost, on a line of its own before the newest
 * 64 KiB; one that lost nothing is told nothing.
 */
static void test_socket_dropped(void)
{
	struct sock_test t;
	GString *got = g_string_new(NULL), *all = g_string_new(NULL);
	g_autofree char *want = NULL;
	unsigned lines = 10000;
	uint64_t dropped;
	int c;

	sock_setup(&t, 100);
	gh_chardev_write(t.chr, "boot\n", 5);
	c = attach_expect(&t, "boot\n");
	close(c);
	iterate_for(t.ctx, 50);

	for (unsigned i = 0; i < lines; i++)
		g_string_append_printf(all, "%08u\n", i);
	/* in pieces, as a guest prints */
	for (size_t off = 0; off < all->len; off += 1000)
		gh_chardev_write(t.chr, all->str + off, MIN(1000, all->len - off));
	want = g_strdup_printf(GH_CHARDEV_DROPPED "%zu bytes of earlier output "
			       "dropped]\r\n", all->len - 64 * 1024);
	c = connect_client(t.path);
	g_string_truncate(got, 0);
	g_assert_true(client_read(t.ctx, c, got, strlen(want) + 64 * 1024,
				  5000));
	g_assert_true(client_read(t.ctx, c, got, got->len + 1, 50));
	g_assert_true(g_str_has_prefix(got->str, want));
	g_assert_cmpuint(got->len, ==, strlen(want) + 64 * 1024);
	g_assert_cmpmem(got->str + strlen(want), 64 * 1024,
			all->str + all->len - 64 * 1024, 64 * 1024);
	g_assert_cmpuint(strip_notes(got, &dropped), ==, 64 * 1024);
	g_assert_cmpuint(dropped, ==, all->len - 64 * 1024);

	/* live output after it: no note */
	g_string_truncate(got, 0);
	gh_chardev_write(t.chr, "live", 4);
	g_assert_true(client_read(t.ctx, c, got, 4, 5000));
	g_assert_cmpstr(got->str, ==, "live");
	close(c);
	iterate_for(t.ctx, 50);

	/* the next client lost nothing: no note either */
	gh_chardev_write(t.chr, "quiet", 5);
	c = attach_expect(&t, "quiet");
	close(c);

	sock_teardown(&t);
	g_string_free(got, TRUE);
	g_string_free(all, TRUE);
}

/*
 * A client that never reads: writes never wait, and when it reads at last
 * it gets what its socket buffered, then the newest 64 KiB, contiguous and
 * ending with the last line written.
 */
static void test_socket_slow_client(void)
{
	struct sock_test t;
	GString *got = g_string_new(NULL);
	char line[16], *tail;
	unsigned i, lines = 200000, first;
	uint64_t dropped;
	gint64 start;
	int c;

	sock_setup(&t, 100);
	c = connect_client(t.path);
	iterate_for(t.ctx, 20);
	start = g_get_monotonic_time();
	for (i = 0; i < lines; i++) {
		g_snprintf(line, sizeof(line), "%08u\n", i);
		gh_chardev_write(t.chr, line, 9);
		if (i % 1000 == 0)
			g_main_context_iteration(t.ctx, FALSE);
	}
	/* 1.8 MB into a client that reads nothing: a generous bound */
	g_assert_cmpint(g_get_monotonic_time() - start, <, 20 * G_USEC_PER_SEC);

	while (client_read(t.ctx, c, got, got->len + 1, 300) &&
	       !g_str_has_suffix(got->str, line))
		;
	g_assert_true(g_str_has_suffix(got->str, line));
	g_assert_cmpuint(got->len, <, (size_t)lines * 9);
	g_test_message("wrote %u bytes, the client got %zu", lines * 9, got->len);
	/* what it got and what the notes say it lost add up to what was written */
	g_assert_cmpuint(strip_notes(got, &dropped), ==, (size_t)lines * 9 -
			 dropped);
	g_assert_cmpuint(dropped, >, 0);
	/* the last 64 KiB: every line from some point to the end, in order */
	tail = got->str + got->len - 64 * 1024;
	tail = strchr(tail, '\n') + 1;
	first = strtoul(tail, NULL, 10);
	for (i = first; i < lines; i++) {
		g_snprintf(line, sizeof(line), "%08u\n", i);
		g_assert_cmpmem(tail, 9, line, 9);
		tail += 9;
	}
	g_assert_true(tail == got->str + got->len);
	close(c);
	sock_teardown(&t);
	g_string_free(got, TRUE);
}

/* Reads fd's first line (our busy line), running the loop meanwhile. */
static void read_busy_line(GMainContext *ctx, int fd, const char *path)
{
	GString *got = g_string_new(NULL);

	while (!strchr(got->str, '\n') &&
	       client_read(ctx, fd, got, got->len + 1, 5000))
		;
	g_assert_true(g_str_has_prefix(got->str, GH_CHARDEV_BUSY));
	g_assert_nonnull(strstr(got->str, path));
	g_assert_true(g_str_has_suffix(got->str, "\n"));
	g_string_free(got, TRUE);
}

/*
 * A client told the console is busy that answers GH_CHARDEV_TAKEOVER gets
 * it (what it typed after the request included); the one it took it from
 * is told in one line, after the guest's partial line, and closed. A
 * client that answers anything else is closed at once, one that answers
 * nothing in time too; while one may answer, a third is only refused.
 */
static void test_socket_takeover(void)
{
	struct sock_test t;
	GString *a = g_string_new(NULL), *b = g_string_new(NULL);
	g_autofree char *taken = NULL;
	gint64 start;
	int ca, cb, cc, cd;

	sock_setup(&t, 100);
	ca = connect_client(t.path);
	gh_chardev_write(t.chr, "login: ", 7);
	g_assert_true(client_read(t.ctx, ca, a, 7, 5000));

	cb = connect_client(t.path);
	read_busy_line(t.ctx, cb, t.path);
	/* a third while cb may still answer: refused and closed at once */
	cc = connect_client(t.path);
	g_string_truncate(b, 0);
	g_assert_false(client_read(t.ctx, cc, b, 1000, 1000));
	g_assert_true(g_str_has_prefix(b->str, GH_CHARDEV_BUSY));
	close(cc);

	send_str(cb, GH_CHARDEV_TAKEOVER "root\n");
	taken = g_strdup_printf("login: \r\n%s another client attached to %s "
				"with --force\r\n", GH_CHARDEV_TAKEN, t.path);
	g_assert_false(client_read(t.ctx, ca, a, 1000, 5000));
	g_assert_cmpstr(a->str, ==, taken);
	close(ca);
	iterate_until(t.ctx, &t.k, 5);
	g_assert_cmpstr(t.k.got->str, ==, "root\n");
	g_string_truncate(b, 0);
	gh_chardev_write(t.chr, "Password: ", 10);
	g_assert_true(client_read(t.ctx, cb, b, 10, 5000));
	g_assert_cmpstr(b->str, ==, "Password: ");

	/* another answer: closed at once, cb keeps the console */
	cc = connect_client(t.path);
	read_busy_line(t.ctx, cc, t.path);
	send_str(cc, "guesthouse: take it\n");
	start = g_get_monotonic_time();
	g_string_truncate(a, 0);
	g_assert_false(client_read(t.ctx, cc, a, 1000, 5000));
	g_assert_cmpint(g_get_monotonic_time() - start, <, 1500 * 1000);
	close(cc);

	/* no answer: closed after a while (2 s), cb keeps the console */
	cd = connect_client(t.path);
	read_busy_line(t.ctx, cd, t.path);
	g_assert_false(client_read(t.ctx, cd, a, 1000, 5000));
	close(cd);
	send_str(cb, "x");
	iterate_until(t.ctx, &t.k, 6);
	g_assert_cmpstr(t.k.got->str, ==, "root\nx");

	/* an answer in pieces, late in the window, still counts */
	cd = connect_client(t.path);
	read_busy_line(t.ctx, cd, t.path);
	send_str(cd, "guesthouse: ");
	iterate_for(t.ctx, 500);
	send_str(cd, "take over\n");
	g_string_truncate(b, 0);
	g_assert_false(client_read(t.ctx, cb, b, 1000, 5000));
	/* after "Password: ", on a line of its own */
	g_assert_true(g_str_has_prefix(b->str, "\r\n" GH_CHARDEV_TAKEN));
	close(cb);
	gh_chardev_write(t.chr, "$ ", 2);
	g_string_truncate(a, 0);
	g_assert_true(client_read(t.ctx, cd, a, 2, 5000));
	g_assert_cmpstr(a->str, ==, "$ ");
	close(cd);

	sock_teardown(&t);
	g_string_free(a, TRUE);
	g_string_free(b, TRUE);
}

/*
 * A client that types more than the guest takes and hangs up: the hang-up
 * is seen although its input is no longer read, and the next client is not
 * refused as a second one.
 */
static void test_socket_hangup_while_full(void)
{
	struct sock_test t;
	GString *got = g_string_new(NULL);
	char junk[8192];
	int c;

	sock_setup(&t, 0);
	memset(junk, 'j', sizeof(junk));
	c = connect_client(t.path);
	g_assert_cmpint(send(c, junk, sizeof(junk), 0), ==, sizeof(junk));
	iterate_for(t.ctx, 50);
	close(c);
	iterate_for(t.ctx, 50);
	gh_chardev_write(t.chr, "hi", 2);
	c = attach_expect(&t, "hi");
	close(c);
	sock_teardown(&t);
	g_string_free(got, TRUE);
}

/* A client that only reads (socat -u) shuts its sending side: it stays. */
static void test_socket_half_close(void)
{
	struct sock_test t;
	GString *got = g_string_new(NULL);
	int c, c2;

	sock_setup(&t, 100);
	c = connect_client(t.path);
	send_str(c, "last words");
	g_assert_cmpint(shutdown(c, SHUT_WR), ==, 0);
	iterate_until(t.ctx, &t.k, 10);
	g_assert_cmpstr(t.k.got->str, ==, "last words");
	gh_chardev_write(t.chr, "still here", 10);
	g_assert_true(client_read(t.ctx, c, got, 10, 5000));
	g_assert_cmpstr(got->str, ==, "still here");
	/* it still holds the console; nothing spins meanwhile */
	c2 = connect_client(t.path);
	g_string_truncate(got, 0);
	g_assert_false(client_read(t.ctx, c2, got, 1000, 5000));
	g_assert_true(g_str_has_prefix(got->str, GH_CHARDEV_BUSY));
	close(c2);
	iterate_for(t.ctx, 20);
	g_assert_false(g_main_context_iteration(t.ctx, FALSE));
	/* closed at last: the console is free */
	close(c);
	iterate_for(t.ctx, 50);
	gh_chardev_write(t.chr, "next", 4);
	c = attach_expect(&t, "next");
	close(c);
	sock_teardown(&t);
	g_string_free(got, TRUE);
}

/*
 * Out of fds: the client waits in the queue, the loop does not spin on the
 * listening socket, and once fds are free again the client gets the console.
 */
static void test_socket_accept_fails(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sock_test t;
	GString *got = g_string_new(NULL);
	struct rlimit saved, low;
	GArray *fds = g_array_new(FALSE, FALSE, sizeof(int));
	int c, fd;

	sock_setup(&t, 100);
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(c, >=, 0);
	g_strlcpy(sa.sun_path, t.path, sizeof(sa.sun_path));
	g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &saved), ==, 0);
	fd = dup(0);
	close(fd);
	low = saved;
	low.rlim_cur = fd + 16;
	g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &low), ==, 0);
	while ((fd = dup(0)) >= 0)
		g_array_append_val(fds, fd);
	g_assert_cmpint(errno, ==, EMFILE);

	g_assert_cmpint(connect(c, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	iterate_for(t.ctx, 100);
	g_assert_false(g_main_context_iteration(t.ctx, FALSE));

	for (guint i = 0; i < fds->len; i++)
		close(g_array_index(fds, int, i));
	g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &saved), ==, 0);
	gh_chardev_write(t.chr, "in", 2);
	g_assert_true(client_read(t.ctx, c, got, 2, 5000));
	g_assert_cmpstr(got->str, ==, "in");
	close(c);
	sock_teardown(&t);
	g_array_free(fds, TRUE);
	g_string_free(got, TRUE);
}

struct accept_count {
	unsigned failed, taken;
	int last_err, fd;
};

static void count_accept(void *opaque, int fd)
{
	struct accept_count *n = opaque;

	if (fd < 0) {
		n->failed++;
		n->last_err = fd;
		return;
	}
	n->taken++;
	n->fd = fd;
}

/*
 * The shared listener (the monitor's and the consoles'), out of fds: it
 * tries accept() again about once a GH_UNIX_ACCEPT_RETRY_MS, not in a
 * loop, and takes the queued client once fds are free; paused, it leaves
 * clients queued.
 */
static void test_listener_backoff(void)
{
	g_autofree char *dir = g_dir_make_tmp("gh-chardev-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "mon.sock", NULL);
	struct accept_count n = { .fd = -1 };
	struct gh_unix_listener l;
	struct gh_error err = { 0 };
	struct rlimit saved, low;
	GArray *fds = g_array_new(FALSE, FALSE, sizeof(int));
	GMainContext *ctx = g_main_context_new();
	gint64 start;
	int c, fd;

	g_assert_cmpint(gh_unix_listen(path, "test socket", &l, &err), ==, 0);
	gh_unix_listener_watch(&l, ctx, count_accept, &n);

	/* paused: the client waits in the queue */
	gh_unix_listener_pause(&l, true);
	c = connect_client(path);
	iterate_for(ctx, 100);
	g_assert_cmpuint(n.taken + n.failed, ==, 0);
	g_assert_false(g_main_context_iteration(ctx, FALSE));

	/* out of fds: 2.5 s give three tries (at 0, 1 and 2 s), not thousands */
	g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &saved), ==, 0);
	fd = dup(0);
	close(fd);
	low = saved;
	low.rlim_cur = fd + 16;
	g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &low), ==, 0);
	while ((fd = dup(0)) >= 0)
		g_array_append_val(fds, fd);
	g_assert_cmpint(errno, ==, EMFILE);
	gh_unix_listener_pause(&l, false);
	start = g_get_monotonic_time();
	iterate_for(ctx, 2500);
	g_test_message("%u failed accepts in %.1f s", n.failed,
		       (g_get_monotonic_time() - start) / 1e6);
	g_assert_cmpuint(n.taken, ==, 0);
	g_assert_cmpint(n.last_err, ==, -EMFILE);
	g_assert_cmpuint(n.failed, >=, 2);
	g_assert_cmpuint(n.failed, <=, 4);

	/* fds again: taken at the next try, within a second */
	for (guint i = 0; i < fds->len; i++)
		close(g_array_index(fds, int, i));
	g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &saved), ==, 0);
	start = g_get_monotonic_time();
	while (!n.taken && g_get_monotonic_time() - start < 5 * G_USEC_PER_SEC)
		g_main_context_iteration(ctx, TRUE);
	g_assert_cmpuint(n.taken, ==, 1);
	g_assert_cmpint(fcntl(n.fd, F_GETFL) & O_NONBLOCK, !=, 0);
	g_assert_cmpint(fcntl(n.fd, F_GETFD) & FD_CLOEXEC, !=, 0);
	close(n.fd);
	close(c);
	gh_unix_listener_close(&l);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	g_main_context_unref(ctx);
	g_array_free(fds, TRUE);
	g_rmdir(dir);
}

static void test_socket_paths(void)
{
	g_autofree char *dir = g_dir_make_tmp("gh-chardev-XXXXXX", NULL);
	g_autofree char *file = g_build_filename(dir, "file", NULL);
	g_autofree char *stale = g_build_filename(dir, "stale.sock", NULL);
	g_autofree char *spec = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct gh_chardev *chr, *chr2;
	struct gh_error err = { 0 };
	char *longpath;
	int fd;

	/* a file that is not a socket is left alone */
	g_assert_true(g_file_set_contents(file, "keep", -1, NULL));
	spec = g_strconcat("unix:", file, NULL);
	g_assert_cmpint(gh_chardev_open(spec, &chr, &err), ==, -EEXIST);
	g_assert_null(chr);
	g_assert_nonnull(strstr(err.msg, "exists and is not a socket"));
	g_assert_true(g_file_test(file, G_FILE_TEST_IS_REGULAR));
	g_unlink(file);

	/* a socket nobody listens on is replaced; a live one is refused */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	g_strlcpy(sa.sun_path, stale, sizeof(sa.sun_path));
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	close(fd);
	g_free(spec);
	spec = g_strconcat("unix:", stale, NULL);
	memset(&err, 0, sizeof(err));
	g_assert_cmpint(gh_chardev_open(spec, &chr, &err), ==, 0);
	g_assert_cmpint(gh_chardev_open(spec, &chr2, &err), ==, -EADDRINUSE);
	g_assert_nonnull(strstr(err.msg, "in use by another process"));
	g_assert_true(g_file_test(stale, G_FILE_TEST_EXISTS));
	gh_chardev_free(chr);
	g_assert_false(g_file_test(stale, G_FILE_TEST_EXISTS));

	/* no path, or one too long for sun_path */
	memset(&err, 0, sizeof(err));
	g_assert_cmpint(gh_chardev_open("unix:", &chr, &err), ==, -EINVAL);
	longpath = g_strnfill(200, 'x');
	g_free(spec);
	spec = g_strconcat("unix:/tmp/", longpath, NULL);
	memset(&err, 0, sizeof(err));
	g_assert_cmpint(gh_chardev_open(spec, &chr, &err), ==, -ENAMETOOLONG);
	g_assert_nonnull(strstr(err.msg, "too long"));
	g_free(longpath);
	g_rmdir(dir);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/chardev/file", test_file);
	g_test_add_func("/chardev/bad-specs", test_bad_specs);
	g_test_add_func("/chardev/null", test_null);
	g_test_add_func("/chardev/buffer/output", test_buffer_output);
	g_test_add_func("/chardev/buffer/input", test_buffer_input);
	g_test_add_func("/chardev/pty", test_pty);
	g_test_add_func("/chardev/pty-no-reader", test_pty_no_reader);
	g_test_add_func("/chardev/stdio/tty-escape", test_stdio_tty);
	g_test_add_func("/chardev/stdio/pipe", test_stdio_pipe);
	g_test_add_func("/chardev/ring", test_ring);
	g_test_add_func("/chardev/socket/console", test_socket_console);
	g_test_add_func("/chardev/socket/busy", test_socket_busy);
	g_test_add_func("/chardev/socket/takeover", test_socket_takeover);
	g_test_add_func("/chardev/socket/slow-client", test_socket_slow_client);
	g_test_add_func("/chardev/socket/dropped", test_socket_dropped);
	g_test_add_func("/chardev/socket/hangup-while-full",
			test_socket_hangup_while_full);
	g_test_add_func("/chardev/socket/half-close", test_socket_half_close);
	g_test_add_func("/chardev/socket/accept-fails",
			test_socket_accept_fails);
	g_test_add_func("/chardev/socket/paths", test_socket_paths);
	g_test_add_func("/unix-socket/accept-backoff", test_listener_backoff);
	return g_test_run();
}
