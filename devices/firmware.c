/*
 * Firmware images (gh/firmware.h). OVMF.fd is its variable store's
 * firmware volume followed by the code (edk2's OvmfPkg FD layout), which is
 * what QEMU's two flash chips hold as OVMF_VARS.fd and OVMF_CODE.fd: the
 * store goes in a flash chip at the image's base, the rest is ROM up to
 * 4 GiB.
 */
#include "gh/firmware.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gh/block.h"
#include "gh/pflash.h"
#include "gh/vm.h"

/* EFI_FIRMWARE_VOLUME_HEADER (PI spec vol. 3, 3.2.1): FvLength, Signature */
#define FV_LENGTH	0x20
#define FV_SIGNATURE	0x28

static int read_image(struct gh_firmware *fw, const char *what,
		      struct gh_error *err)
{
	GError *gerr = NULL;
	char *data;
	gsize len;

	if (!g_file_get_contents(fw->path, &data, &len, &gerr)) {
		int code = gerr->code == G_FILE_ERROR_NOENT ? -ENOENT : -EIO;

		gh_error_set(err, code, "cannot read the %s image %s: %s", what,
			     fw->path, gerr->code == G_FILE_ERROR_NOENT ?
			     "no such file" : gerr->message);
		g_error_free(gerr);
		return code;
	}
	fw->image = data;
	fw->size = len;
	return 0;
}

/* The variable store's size: the first firmware volume's length. */
static size_t vars_size(const uint8_t *img, size_t size)
{
	uint64_t len = 0;

	if (size < 0x40 || memcmp(img + FV_SIGNATURE, "_FVH", 4))
		return 0;
	for (unsigned i = 0; i < 8; i++)
		len |= (uint64_t)img[FV_LENGTH + i] << (8 * i);
	if (!len || len >= size || len % GH_PFLASH_BLOCK || (len & (len - 1)))
		return 0;
	return len;
}

/*
 * The per-VM store: created from the image's own, locked for writing
 * (as a disk image is: a second VM on the same file fails here), and mapped shared
 * so the flash's programs land in the file.
 */
static int open_vars(struct gh_firmware *fw, const char *path,
		     struct gh_error *err)
{
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return gh_error_set(err, -errno, "cannot open the UEFI variable "
				    "store %s: %s", path, g_strerror(errno));
	if (gh_block_lock(fd, false) < 0) {
		ret = gh_error_set(err, -EBUSY, "the UEFI variable store %s is "
				   "in use by another VM", path);
		goto err;
	}
	if (fstat(fd, &st) < 0) {
		ret = gh_error_set(err, -errno, "%s: %s", path, g_strerror(errno));
		goto err;
	}
	if (st.st_size == 0) {
		/* a new store: the image's own, with its defaults */
		if (pwrite(fd, fw->image, fw->vars_size, 0) !=
		    (ssize_t)fw->vars_size || fsync(fd) < 0) {
			ret = gh_error_set(err, -EIO, "cannot write the UEFI "
					   "variable store %s: %s", path,
					   g_strerror(errno));
			goto err;
		}
	} else if ((size_t)st.st_size != fw->vars_size) {
		ret = gh_error_set(err, -EINVAL, "%s is not a UEFI variable store "
				   "for %s: it has %lld bytes, the store %zu",
				   path, fw->path, (long long)st.st_size,
				   fw->vars_size);
		goto err;
	}
	fw->vars = mmap(NULL, fw->vars_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			fd, 0);
	if (fw->vars == MAP_FAILED) {
		fw->vars = NULL;
		ret = gh_error_set(err, -errno, "cannot map %s: %s", path,
				   g_strerror(errno));
		goto err;
	}
	fw->vars_fd = fd;
	return 0;

err:
	close(fd);
	return ret;
}

int gh_firmware_open(struct gh_firmware *fw, enum gh_firmware_kind kind,
		     const char *path, const char *vars_path,
		     struct gh_error *err)
{
	bool ovmf = kind == GH_FIRMWARE_OVMF;
	int ret;

	memset(fw, 0, sizeof(*fw));
	fw->kind = kind;
	fw->vars_fd = -1;
	fw->path = path ? path : ovmf ? GH_OVMF_IMAGE : GH_SEABIOS_IMAGE;
	ret = read_image(fw, ovmf ? "OVMF (Debian package ovmf)" :
			 "SeaBIOS (Debian package seabios)", err);
	if (ret < 0)
		return ret;
	fw->rom = fw->image;
	fw->rom_size = fw->size;
	if (!ovmf)
		return 0;

	fw->vars_size = vars_size(fw->image, fw->size);
	if (!fw->vars_size) {
		ret = gh_error_set(err, -EINVAL, "%s does not start with a UEFI "
				   "variable store (an OVMF.fd with code and "
				   "variables is needed)", fw->path);
		goto err;
	}
	fw->rom = (uint8_t *)fw->image + fw->vars_size;
	fw->rom_size = fw->size - fw->vars_size;
	if (vars_path) {
		ret = open_vars(fw, vars_path, err);
		if (ret < 0)
			goto err;
	} else {
		fw->vars = mmap(NULL, fw->vars_size, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (fw->vars == MAP_FAILED) {
			fw->vars = NULL;
			ret = gh_error_set(err, -ENOMEM, "out of memory");
			goto err;
		}
		memcpy(fw->vars, fw->image, fw->vars_size);
	}
	return 0;

err:
	gh_firmware_close(fw);
	return ret;
}

int gh_firmware_map(struct gh_firmware *fw, struct gh_vm *vm,
		    struct gh_error *err)
{
	int ret = gh_x86_load_bios(vm, fw->rom, fw->rom_size, fw->path,
				   &fw->bios, err);

	if (ret < 0 || !fw->vars)
		return ret;
	return gh_pflash_new(vm, (1ULL << 32) - fw->size, fw->vars,
			     fw->vars_size, fw->vars_fd >= 0, &fw->flash, err);
}

void gh_firmware_unmap(struct gh_firmware *fw)
{
	gh_pflash_free(fw->flash);
	fw->flash = NULL;
}

void gh_firmware_close(struct gh_firmware *fw)
{
	gh_firmware_unmap(fw);
	gh_x86_bios_free(&fw->bios);
	if (fw->vars)
		munmap(fw->vars, fw->vars_size);
	if (fw->vars_fd >= 0)
		close(fw->vars_fd);
	g_free(fw->image);
	memset(fw, 0, sizeof(*fw));
	fw->vars_fd = -1;
}
