/*
 * Raw image files as block devices (gh/block.h): pread/pwrite/fdatasync on
 * the file, and OFD locks on it (fcntl(2), "Open file description
 * locks") so that a second open of an image being written fails.
 */
#include "gh/block.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

struct gh_block {
	int fd;
	char *path;
	enum gh_block_kind kind;
	bool read_only;
	uint64_t bytes;		/* the file's size */
	uint64_t sectors;
	unsigned sector_size;
};

/*
 * The lock is QEMU's (its block/file-posix.c), so that QEMU, qemu-img and
 * we see each other's images in use: an OFD read lock on one byte per
 * permission an opener uses (PERM_BASE + n) and one per permission it does
 * not let others have (SHARED_BASE + n), where the permissions are n = 0
 * consistent read, 1 write, 2 write of unchanged data, 3 resize. Whoever
 * wants a permission that someone does not share, or does not share one
 * that someone uses, finds that byte locked and backs off.
 *
 * A reader uses consistent read; a writer that too and both writes. Neither
 * shares write or resize: readers share an image with readers only, a
 * writer with nobody.
 */
enum { PERM_READ, PERM_WRITE, PERM_WRITE_UNCHANGED, PERM_RESIZE, NPERMS };

#define PERM_BASE	100
#define SHARED_BASE	200

/*
 * One byte's lock: F_OFD_SETLK takes a read lock on it; F_OFD_GETLK asks
 * whether another open file holds one (1), as a write lock would conflict.
 */
static int byte_lock(int fd, int cmd, off_t at)
{
	struct flock fl = {
		.l_type = cmd == F_OFD_SETLK ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = at,
		.l_len = 1,
	};

	if (fcntl(fd, cmd, &fl) < 0)
		return -errno;
	return cmd == F_OFD_GETLK && fl.l_type != F_UNLCK;
}

/* byte_lock() on base + n for each permission n in perms: 0 or -errno,
 * -EAGAIN when another holds one of them. */
static int perm_locks(int fd, int cmd, unsigned perms, off_t base)
{
	for (unsigned n = 0; n < NPERMS; n++) {
		int ret = perms & (1u << n) ? byte_lock(fd, cmd, base + n) : 0;

		if (ret)
			return ret < 0 ? ret : -EAGAIN;
	}
	return 0;
}

int gh_block_lock(int fd, bool read_only)
{
	unsigned used = 1u << PERM_READ;
	unsigned unshared = 1u << PERM_WRITE | 1u << PERM_RESIZE;

	if (!read_only)
		used |= 1u << PERM_WRITE | 1u << PERM_WRITE_UNCHANGED;
	/* ours first, then theirs: of two opening at once, one sees the other */
	return perm_locks(fd, F_OFD_SETLK, used, PERM_BASE) ?:
	       perm_locks(fd, F_OFD_SETLK, unshared, SHARED_BASE) ?:
	       perm_locks(fd, F_OFD_GETLK, used, SHARED_BASE) ?:
	       perm_locks(fd, F_OFD_GETLK, unshared, PERM_BASE);
}

static int image_size(int fd, const struct stat *st, uint64_t *out)
{
	if (S_ISREG(st->st_mode)) {
		*out = st->st_size;
		return 0;
	}
	if (S_ISBLK(st->st_mode)) {
		uint64_t size;

		if (ioctl(fd, BLKGETSIZE64, &size) < 0)
			return -errno;
		*out = size;
		return 0;
	}
	return -EINVAL;
}

int gh_block_open(const char *path, enum gh_block_kind kind, bool read_only,
		  struct gh_block **out, struct gh_error *err)
{
	const char *what = kind == GH_BLOCK_CD ? "CD image" : "disk image";
	struct gh_block *blk;
	struct stat st;
	uint64_t bytes = 0;
	int fd, ret;

	if (kind == GH_BLOCK_CD)
		read_only = true;
	fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret == -EISDIR)
			return gh_error_set(err, ret, "%s %s is a directory",
					    what, path);
		return gh_error_set(err, ret, "cannot open %s %s: %s%s", what,
				    path, g_strerror(-ret),
				    !read_only && (ret == -EACCES || ret == -EROFS) ?
				    " (it must be writable)" : "");
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		gh_error_set(err, ret, "cannot stat %s %s: %s", what, path,
			     g_strerror(-ret));
		goto err_close;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = gh_error_set(err, -EISDIR, "%s %s is a directory", what,
				   path);
		goto err_close;
	}
	ret = image_size(fd, &st, &bytes);
	if (ret < 0) {
		gh_error_set(err, ret, "%s %s is not a regular file or a block "
			     "device", what, path);
		goto err_close;
	}
	if (!bytes) {
		ret = gh_error_set(err, -EINVAL, "%s %s is empty", what, path);
		goto err_close;
	}
	if (kind == GH_BLOCK_DISK && bytes % GH_BLOCK_DISK_SECTOR) {
		ret = gh_error_set(err, -EINVAL, "disk image %s is %" G_GUINT64_FORMAT
				   " bytes, not a multiple of 512", path, bytes);
		goto err_close;
	}
	ret = gh_block_lock(fd, read_only);
	if (ret == -EAGAIN || ret == -EACCES) {
		ret = gh_error_set(err, -EBUSY, "%s %s is in use: another VM or "
				   "drive holds it %s", what, path, read_only ?
				   "open for writing" : "open");
		goto err_close;
	} else if (ret < 0) {
		gh_error_set(err, ret, "cannot lock %s %s: %s", what, path,
			     g_strerror(-ret));
		goto err_close;
	}

	blk = g_new0(struct gh_block, 1);
	blk->fd = fd;
	blk->path = g_strdup(path);
	blk->kind = kind;
	blk->read_only = read_only;
	blk->bytes = bytes;
	blk->sector_size = kind == GH_BLOCK_CD ? GH_BLOCK_CD_SECTOR :
						 GH_BLOCK_DISK_SECTOR;
	blk->sectors = (bytes + blk->sector_size - 1) / blk->sector_size;
	*out = blk;
	return 0;

err_close:
	close(fd);
	return ret;
}

void gh_block_close(struct gh_block *blk)
{
	if (!blk)
		return;
	close(blk->fd);		/* drops the OFD lock with the description */
	g_free(blk->path);
	g_free(blk);
}

const char *gh_block_path(const struct gh_block *blk)
{
	return blk->path;
}

enum gh_block_kind gh_block_kind(const struct gh_block *blk)
{
	return blk->kind;
}

bool gh_block_read_only(const struct gh_block *blk)
{
	return blk->read_only;
}

unsigned gh_block_sector_size(const struct gh_block *blk)
{
	return blk->sector_size;
}

uint64_t gh_block_sectors(const struct gh_block *blk)
{
	return blk->sectors;
}

/* Reads len bytes at off; past the file's end (a CD's partial last
 * sector, or a file that shrank under us) reads zeros. */
static int read_at(struct gh_block *blk, uint64_t off, uint8_t *buf,
		   size_t len)
{
	while (len) {
		ssize_t n = pread(blk->fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			memset(buf, 0, len);
			return 0;
		}
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int write_at(struct gh_block *blk, uint64_t off, const uint8_t *buf,
		    size_t len)
{
	while (len) {
		ssize_t n = pwrite(blk->fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int run(struct gh_block *blk, struct gh_block_req *req)
{
	uint64_t off = req->sector * blk->sector_size;
	size_t len = (size_t)req->nsectors * blk->sector_size;

	if (req->op == GH_BLOCK_FLUSH)
		return blk->read_only || !fdatasync(blk->fd) ? 0 : -errno;
	if (req->op != GH_BLOCK_READ && req->op != GH_BLOCK_WRITE)
		return -EINVAL;
	if (req->sector > blk->sectors ||
	    req->nsectors > blk->sectors - req->sector)
		return -EINVAL;
	if (req->op == GH_BLOCK_READ)
		return read_at(blk, off, req->buf, len);
	if (blk->read_only)
		return -EROFS;
	return write_at(blk, off, req->buf, len);
}

int gh_block_submit(struct gh_block *blk, struct gh_block_req *req)
{
	int ret = run(blk, req);

	if (req->done)
		req->done(req, ret);
	return ret;
}

int gh_block_read(struct gh_block *blk, uint64_t sector, void *buf,
		  uint32_t nsectors)
{
	struct gh_block_req req = {
		.op = GH_BLOCK_READ, .sector = sector, .nsectors = nsectors,
		.buf = buf,
	};

	return gh_block_submit(blk, &req);
}

int gh_block_write(struct gh_block *blk, uint64_t sector, const void *buf,
		   uint32_t nsectors)
{
	struct gh_block_req req = {
		.op = GH_BLOCK_WRITE, .sector = sector, .nsectors = nsectors,
		.buf = (void *)buf,
	};

	return gh_block_submit(blk, &req);
}

int gh_block_flush(struct gh_block *blk)
{
	struct gh_block_req req = { .op = GH_BLOCK_FLUSH };

	return gh_block_submit(blk, &req);
}
