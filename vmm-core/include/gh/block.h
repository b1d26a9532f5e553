/*
 * Block devices over raw image files: a disk image in 512-byte sectors or
 * a CD image (ISO 9660, always read-only) in 2048-byte sectors. Requests
 * are shaped for asynchronous completion (a request carries its callback)
 * but complete before gh_block_submit returns for now.
 *
 * An open image holds an open-file-description lock (F_OFD_SETLK) over the
 * whole file, as QEMU does: a write lock when writable, a read lock when
 * read-only, so that two VMs (or two drives of one) cannot write one image
 * or read one another writes.
 */
#ifndef GH_BLOCK_H
#define GH_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gh/error.h"

#define GH_BLOCK_DISK_SECTOR	512
#define GH_BLOCK_CD_SECTOR	2048

enum gh_block_kind {
	GH_BLOCK_DISK,		/* raw disk image: a multiple of 512 bytes */
	GH_BLOCK_CD,		/* CD/DVD image: read-only, 2048-byte sectors */
};

struct gh_block;

/*
 * Opens path. read_only is forced for GH_BLOCK_CD. Refuses, with a
 * sentence naming the file: a missing or unreadable file, a directory or
 * anything but a regular file or block device, an empty image, a disk
 * image whose size is not a multiple of 512 bytes, and an image another
 * open holds locked (-EBUSY, "in use").
 */
__attribute__((warn_unused_result))
int gh_block_open(const char *path, enum gh_block_kind kind, bool read_only,
		  struct gh_block **out, struct gh_error *err);
void gh_block_close(struct gh_block *blk);

/*
 * The lock gh_block_open takes, for other files a VM must own alone (the
 * UEFI variable store): QEMU's byte-range locks for a writer, or for a
 * reader when read_only (readers share with readers, a writer with
 * nobody, QEMU and qemu-img included). 0, or -errno (-EAGAIN: another
 * holds it). The locks go with the file's last descriptor.
 */
int gh_block_lock(int fd, bool read_only);

const char *gh_block_path(const struct gh_block *blk);
enum gh_block_kind gh_block_kind(const struct gh_block *blk);
bool gh_block_read_only(const struct gh_block *blk);
/* 512 for disks, 2048 for CDs */
unsigned gh_block_sector_size(const struct gh_block *blk);
/* Size in sectors of gh_block_sector_size() (a CD image's partial last
 * sector counts, and reads as zeros past the file's end). */
uint64_t gh_block_sectors(const struct gh_block *blk);

enum gh_block_op {
	GH_BLOCK_READ,
	GH_BLOCK_WRITE,
	GH_BLOCK_FLUSH,
};

struct gh_block_req;
typedef void gh_block_done_fn(struct gh_block_req *req, int ret);

/*
 * One request: nsectors sectors at sector (of the image's sector size) to
 * or from buf; FLUSH ignores them. done, if set, hears the result (0 or a
 * negative errno) once, from the submitting thread for now.
 */
struct gh_block_req {
	enum gh_block_op op;
	uint64_t sector;
	uint32_t nsectors;
	void *buf;
	gh_block_done_fn *done;
	void *opaque;
};

/*
 * Runs req; returns its result: -EINVAL for a range past the image's end,
 * -EROFS for a write to a read-only image, -EIO (or the host's errno) when
 * the host fails.
 */
int gh_block_submit(struct gh_block *blk, struct gh_block_req *req);

/* Synchronous shorthands. */
int gh_block_read(struct gh_block *blk, uint64_t sector, void *buf,
		  uint32_t nsectors);
int gh_block_write(struct gh_block *blk, uint64_t sector, const void *buf,
		   uint32_t nsectors);
int gh_block_flush(struct gh_block *blk);

#endif
