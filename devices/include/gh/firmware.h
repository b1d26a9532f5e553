/*
 * The PC's firmware images, from Debian's packages: SeaBIOS
 * (bios-256k.bin, a legacy BIOS) and OVMF (OVMF.fd, UEFI), mapped where
 * the reset vector finds them. OVMF's variable store is a flash chip
 * (gh/pflash.h) over its first firmware volume, backed by a per-VM copy.
 */
#ifndef GH_FIRMWARE_H
#define GH_FIRMWARE_H

#include <stddef.h>

#include "gh/error.h"
#include "gh/x86-boot.h"

struct gh_vm;
struct gh_pflash;

#define GH_SEABIOS_IMAGE	"/usr/share/seabios/bios-256k.bin"
#define GH_OVMF_IMAGE		"/usr/share/ovmf/OVMF.fd"

enum gh_firmware_kind {
	GH_FIRMWARE_SEABIOS,
	GH_FIRMWARE_OVMF,
};

struct gh_firmware {
	enum gh_firmware_kind kind;
	const char *path;
	void *image;		/* the file's bytes */
	size_t size;
	void *rom;		/* the part mapped as ROM */
	size_t rom_size;
	void *vars;		/* OVMF: the variable store the flash holds */
	size_t vars_size;
	int vars_fd;		/* its file, -1: a copy in memory */
	struct gh_pflash *flash;
	struct gh_bios bios;
};

/*
 * Reads the image (path NULL: the package's), checks it, and for OVMF
 * opens the variable store: vars_path is created from the image's own
 * store if it does not exist, and locked for this VM; NULL keeps the
 * variables in memory for this run only. Nothing is mapped yet. One-line
 * errors name the file and the problem.
 */
__attribute__((warn_unused_result))
int gh_firmware_open(struct gh_firmware *fw, enum gh_firmware_kind kind,
		     const char *path, const char *vars_path,
		     struct gh_error *err);
/* Maps it on vm (before gh_vm_start); the CPUs start in it. */
__attribute__((warn_unused_result))
int gh_firmware_map(struct gh_firmware *fw, struct gh_vm *vm,
		    struct gh_error *err);
/* Before the VM is freed: takes the flash off it. */
void gh_firmware_unmap(struct gh_firmware *fw);
/* After the VM is freed. */
void gh_firmware_close(struct gh_firmware *fw);

#endif
