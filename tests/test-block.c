/* Tests for raw image block devices: opening, sizes, I/O, locking, bad files. */
#include "gh/block.h"

#include <errno.h>
#include <glib.h>
#include <signal.h>
#include <sys/wait.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fixture {
	char *dir;
};

static void fx_setup(struct fixture *f, gconstpointer data)
{
	f->dir = g_dir_make_tmp("gh-block-XXXXXX", NULL);
	g_assert_nonnull(f->dir);
}

static void fx_teardown(struct fixture *f, gconstpointer data)
{
	GDir *d = g_dir_open(f->dir, 0, NULL);
	const char *name;

	while ((name = g_dir_read_name(d))) {
		char *p = g_build_filename(f->dir, name, NULL);

		g_chmod(p, 0600);
		if (g_file_test(p, G_FILE_TEST_IS_DIR))
			g_rmdir(p);
		else
			g_unlink(p);
		g_free(p);
	}
	g_dir_close(d);
	g_rmdir(f->dir);
	g_free(f->dir);
}

/* A file of len bytes where byte i is (i * 7 + i / 512) & 0xff. */
static char *make_image(struct fixture *f, const char *name, size_t len)
{
	char *p = g_build_filename(f->dir, name, NULL);
	uint8_t *data = g_malloc(len ? len : 1);

	for (size_t i = 0; i < len; i++)
		data[i] = (i * 7 + i / 512) & 0xff;
	g_assert_true(g_file_set_contents(p, (char *)data, len, NULL));
	g_free(data);
	return p;
}

static struct gh_block *open_ok(const char *path, enum gh_block_kind kind,
				bool ro)
{
	struct gh_error err = { 0 };
	struct gh_block *blk = NULL;

	g_assert_cmpint(gh_block_open(path, kind, ro, &blk, &err), ==, 0);
	g_assert_nonnull(blk);
	return blk;
}

static void open_fails(const char *path, enum gh_block_kind kind, bool ro,
		       int code, const char *words)
{
	struct gh_error err = { 0 };
	struct gh_block *blk = NULL;

	g_assert_cmpint(gh_block_open(path, kind, ro, &blk, &err), ==, code);
	g_assert_null(blk);
	g_assert_cmpint(err.code, ==, code);
	g_assert_nonnull(strstr(err.msg, path));
	g_assert_nonnull(strstr(err.msg, words));
	g_assert_null(strchr(err.msg, '\n'));
}

static void test_disk_io(struct fixture *f, gconstpointer data)
{
	char *p = make_image(f, "disk.img", 64 * 512);
	struct gh_block *blk = open_ok(p, GH_BLOCK_DISK, false);
	uint8_t buf[3 * 512], pat[2 * 512];
	char *contents;
	gsize len;

	g_assert_cmpuint(gh_block_sectors(blk), ==, 64);
	g_assert_cmpuint(gh_block_sector_size(blk), ==, 512);
	g_assert_false(gh_block_read_only(blk));
	g_assert_cmpint(gh_block_kind(blk), ==, GH_BLOCK_DISK);
	g_assert_cmpstr(gh_block_path(blk), ==, p);

	g_assert_cmpint(gh_block_read(blk, 10, buf, 3), ==, 0);
	for (size_t i = 0; i < sizeof(buf); i++) {
		size_t off = 10 * 512 + i;

		g_assert_cmpuint(buf[i], ==, (off * 7 + off / 512) & 0xff);
	}
	memset(pat, 0x5a, sizeof(pat));
	g_assert_cmpint(gh_block_write(blk, 62, pat, 2), ==, 0);
	g_assert_cmpint(gh_block_flush(blk), ==, 0);
	/* the last two sectors, not one past */
	g_assert_cmpint(gh_block_read(blk, 63, buf, 2), ==, -EINVAL);
	g_assert_cmpint(gh_block_write(blk, 64, pat, 1), ==, -EINVAL);
	g_assert_cmpint(gh_block_read(blk, UINT64_MAX, buf, 1), ==, -EINVAL);
	g_assert_cmpint(gh_block_read(blk, 0, buf, 0), ==, 0);
	gh_block_close(blk);

	g_assert_true(g_file_get_contents(p, &contents, &len, NULL));
	g_assert_cmpuint(len, ==, 64 * 512);
	for (size_t i = 62 * 512; i < len; i++)
		g_assert_cmpuint((uint8_t)contents[i], ==, 0x5a);
	g_assert_cmpuint((uint8_t)contents[62 * 512 - 1], ==,
			 ((62 * 512 - 1) * 7 + 61) & 0xff);
	g_free(contents);
	g_free(p);
}

static void done_cb(struct gh_block_req *req, int ret)
{
	int *seen = req->opaque;

	*seen = ret + 1000;
}

static void test_request_callback(struct fixture *f, gconstpointer data)
{
	char *p = make_image(f, "disk.img", 4 * 512);
	struct gh_block *blk = open_ok(p, GH_BLOCK_DISK, false);
	uint8_t buf[512];
	int seen = 0;
	struct gh_block_req req = {
		.op = GH_BLOCK_READ, .sector = 1, .nsectors = 1, .buf = buf,
		.done = done_cb, .opaque = &seen,
	};

	g_assert_cmpint(gh_block_submit(blk, &req), ==, 0);
	g_assert_cmpint(seen, ==, 1000);
	g_assert_cmpuint(buf[0], ==, (512 * 7 + 1) & 0xff);
	req.sector = 4;
	g_assert_cmpint(gh_block_submit(blk, &req), ==, -EINVAL);
	g_assert_cmpint(seen, ==, 1000 - EINVAL);
	gh_block_close(blk);
	g_free(p);
}

static void test_read_only(struct fixture *f, gconstpointer data)
{
	char *p = make_image(f, "disk.img", 8 * 512);
	struct gh_block *blk = open_ok(p, GH_BLOCK_DISK, true);
	uint8_t buf[512] = { 0 };

	g_assert_true(gh_block_read_only(blk));
	g_assert_cmpint(gh_block_write(blk, 0, buf, 1), ==, -EROFS);
	g_assert_cmpint(gh_block_flush(blk), ==, 0);
	gh_block_close(blk);
	g_free(p);
}

/* A CD image: 2048-byte sectors, always read-only, a partial last sector
 * counts and reads as zeros past the end. */
static void test_cd(struct fixture *f, gconstpointer data)
{
	char *p = make_image(f, "cd.iso", 5 * 2048 + 512);
	struct gh_block *blk = open_ok(p, GH_BLOCK_CD, false);
	uint8_t buf[2048];

	g_assert_true(gh_block_read_only(blk));
	g_assert_cmpuint(gh_block_sector_size(blk), ==, 2048);
	g_assert_cmpuint(gh_block_sectors(blk), ==, 6);
	g_assert_cmpint(gh_block_write(blk, 0, buf, 1), ==, -EROFS);
	g_assert_cmpint(gh_block_read(blk, 1, buf, 1), ==, 0);
	g_assert_cmpuint(buf[0], ==, (2048 * 7 + 4) & 0xff);
	g_assert_cmpint(gh_block_read(blk, 5, buf, 1), ==, 0);
	g_assert_cmpuint(buf[511], ==, ((5 * 2048 + 511) * 7 + 20) & 0xff);
	for (unsigned i = 512; i < 2048; i++)
		g_assert_cmpuint(buf[i], ==, 0);
	g_assert_cmpint(gh_block_read(blk, 6, buf, 1), ==, -EINVAL);
	gh_block_close(blk);
	g_free(p);
}

/* Two VMs must not write one image: OFD locks across opens. */
static void test_locking(struct fixture *f, gconstpointer data)
{
	char *p = make_image(f, "disk.img", 8 * 512);
	struct gh_block *w = open_ok(p, GH_BLOCK_DISK, false), *r1, *r2;

	open_fails(p, GH_BLOCK_DISK, false, -EBUSY, "in use");
	open_fails(p, GH_BLOCK_DISK, true, -EBUSY, "in use");
	gh_block_close(w);

	/* readers share; a writer is refused while any reader holds it */
	r1 = open_ok(p, GH_BLOCK_DISK, true);
	r2 = open_ok(p, GH_BLOCK_CD, false);
	open_fails(p, GH_BLOCK_DISK, false, -EBUSY, "in use");
	gh_block_close(r1);
	open_fails(p, GH_BLOCK_DISK, false, -EBUSY, "in use");
	gh_block_close(r2);
	w = open_ok(p, GH_BLOCK_DISK, false);
	gh_block_close(w);
	g_free(p);
}

/*
 * Whether qemu-img can take the image to resize it (to its own size, so
 * nothing changes): it wants to write and resize, and shares neither.
 */
static bool qemu_img_takes(const char *path, size_t len)
{
	g_autofree char *size = g_strdup_printf("%zu", len);
	const char *argv[] = { "qemu-img", "resize", "-f", "raw", path, size,
			       NULL };
	gint status = -1;
	g_autofree gchar *err = NULL;

	g_assert_true(g_spawn_sync(NULL, (gchar **)argv, NULL,
				   G_SPAWN_SEARCH_PATH |
				   G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
				   NULL, &err, &status, NULL));
	if (status)
		g_assert_nonnull(strstr(err, "lock"));
	return status == 0;
}

static GPid spawn_quiet(const char **argv)
{
	GPid pid;

	g_assert_true(g_spawn_async(NULL, (gchar **)argv, NULL,
				    G_SPAWN_SEARCH_PATH |
				    G_SPAWN_DO_NOT_REAP_CHILD |
				    G_SPAWN_STDOUT_TO_DEV_NULL |
				    G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
				    &pid, NULL));
	return pid;
}

/* Whether process pid has path open. */
static bool has_open(GPid pid, const char *path)
{
	g_autofree char *dir = g_strdup_printf("/proc/%d/fd", (int)pid);
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	bool found = false;

	while (d && !found && (name = g_dir_read_name(d))) {
		g_autofree char *fd = g_build_filename(dir, name, NULL);
		g_autofree char *to = g_file_read_link(fd, NULL);

		found = to && !strcmp(to, path);
	}
	if (d)
		g_dir_close(d);
	return found;
}

/*
 * The locks are QEMU's: qemu-img sees ours, and we see those of a QEMU
 * that has the image as its CD-ROM (as when both boot one ISO).
 */
static void test_qemu_locks(struct fixture *f, gconstpointer data)
{
	char *p = make_image(f, "shared.img", 8 * 512);
	g_autofree char *drive = g_strdup_printf("file=%s,format=raw,if=ide,"
						 "media=cdrom", p);
	const char *vm[] = { "qemu-system-x86_64", "-M", "pc", "-S",
			     "-display", "none", "-nodefaults", "-drive",
			     drive, NULL };
	g_autofree char *img = g_find_program_in_path("qemu-img");
	g_autofree char *qemu = g_find_program_in_path(vm[0]);
	struct gh_block *b;
	struct gh_error err = { 0 };
	GPid pid;
	gint64 end;
	int ret;

	if (!img || !qemu) {
		g_test_skip("no qemu-img or qemu-system-x86_64 (Debian's "
			    "qemu-utils, qemu-system-x86)");
		g_free(p);
		return;
	}
	g_assert_true(qemu_img_takes(p, 8 * 512));
	b = open_ok(p, GH_BLOCK_DISK, false);
	g_assert_false(qemu_img_takes(p, 8 * 512));
	gh_block_close(b);
	b = open_ok(p, GH_BLOCK_CD, true);
	g_assert_false(qemu_img_takes(p, 8 * 512));
	gh_block_close(b);
	g_assert_true(qemu_img_takes(p, 8 * 512));

	/* we read it: QEMU may read it too (it stays up with it open) */
	b = open_ok(p, GH_BLOCK_CD, true);
	pid = spawn_quiet(vm);
	end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
	while (!has_open(pid, p) && g_get_monotonic_time() < end) {
		g_assert_cmpint(waitpid(pid, NULL, WNOHANG), ==, 0);
		g_usleep(20000);
	}
	g_assert_true(has_open(pid, p));
	g_usleep(500000);
	g_assert_cmpint(waitpid(pid, NULL, WNOHANG), ==, 0);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	g_spawn_close_pid(pid);
	gh_block_close(b);

	/* QEMU reading it: we may read it too, not write it */
	pid = spawn_quiet(vm);
	end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
	do {
		b = NULL;
		ret = gh_block_open(p, GH_BLOCK_DISK, false, &b, &err);
		if (ret)
			break;
		gh_block_close(b);
		g_usleep(20000);
	} while (g_get_monotonic_time() < end);
	g_assert_cmpint(ret, ==, -EBUSY);
	b = open_ok(p, GH_BLOCK_CD, true);
	gh_block_close(b);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	g_spawn_close_pid(pid);
	b = open_ok(p, GH_BLOCK_DISK, false);
	gh_block_close(b);
	g_free(p);
}

static void test_bad_files(struct fixture *f, gconstpointer data)
{
	char *missing = g_build_filename(f->dir, "missing.img", NULL);
	char *odd = make_image(f, "odd.img", 1000);
	char *empty = make_image(f, "empty.img", 0);
	char *dir = g_build_filename(f->dir, "sub", NULL);
	char *ro = make_image(f, "ro.img", 512);
	struct gh_block *blk;

	g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
	open_fails(missing, GH_BLOCK_DISK, false, -ENOENT, "No such file");
	open_fails(missing, GH_BLOCK_CD, true, -ENOENT, "CD image");
	open_fails(odd, GH_BLOCK_DISK, false, -EINVAL, "not a multiple of 512");
	open_fails(empty, GH_BLOCK_DISK, false, -EINVAL, "is empty");
	open_fails(empty, GH_BLOCK_CD, true, -EINVAL, "is empty");
	open_fails(dir, GH_BLOCK_DISK, false, -EISDIR, "is a directory");
	open_fails(dir, GH_BLOCK_CD, true, -EISDIR, "is a directory");
	open_fails("/dev/null", GH_BLOCK_CD, true, -EINVAL,
		   "not a regular file");
	/* an odd-sized ISO is fine: its last sector is partial */
	blk = open_ok(odd, GH_BLOCK_CD, true);
	g_assert_cmpuint(gh_block_sectors(blk), ==, 1);
	gh_block_close(blk);
	/* root opens anything: the permission check only means something
	 * for other users */
	if (geteuid() != 0) {
		g_assert_cmpint(g_chmod(ro, 0400), ==, 0);
		open_fails(ro, GH_BLOCK_DISK, false, -EACCES, "writable");
		blk = open_ok(ro, GH_BLOCK_DISK, true);
		gh_block_close(blk);
	}
	g_free(missing);
	g_free(odd);
	g_free(empty);
	g_free(dir);
	g_free(ro);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add(name, struct fixture, NULL, fx_setup, fn, \
				 fx_teardown)
	ADD("/block/disk-io", test_disk_io);
	ADD("/block/request-callback", test_request_callback);
	ADD("/block/read-only", test_read_only);
	ADD("/block/cd", test_cd);
	ADD("/block/locking", test_locking);
	ADD("/block/qemu-locks", test_qemu_locks);
	ADD("/block/bad-files", test_bad_files);
	return g_test_run();
}
