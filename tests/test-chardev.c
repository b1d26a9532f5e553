/* Tests for the character backends: file, buffer, pty, stdio escape keys, bad specs. */
#include "gh/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

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

	g_test_expect_message("guesthouse", G_LOG_LEVEL_MESSAGE,
			      "char device redirected to /dev/pts/*");
	g_assert_cmpint(gh_chardev_open("pty", &chr, &err), ==, 0);
	g_test_assert_expected_messages();
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
	g_test_expect_message("guesthouse", G_LOG_LEVEL_MESSAGE,
			      "char device redirected*");
	g_assert_cmpint(gh_chardev_open("pty", &chr, &err), ==, 0);
	g_test_assert_expected_messages();
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
	return g_test_run();
}
