/*
 * Legacy BIOS images (SeaBIOS's bios-256k.bin): the whole image is ROM just
 * below 4 GiB, where the reset vector finds it, and its last 128 KiB are
 * aliased at 0xE0000-0xFFFFF, as the i440FX's BIOS decoding does.
 */
#include "gh/x86-boot.h"

#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/mman.h>

#include "gh/vm.h"

#define BIOS_MAX (16u << 20)
#define LOW_WINDOW (128u << 10)

int gh_x86_load_bios(struct gh_vm *vm, const void *image, size_t size, const char *name,
		     struct gh_bios *out, struct gh_error *err)
{
	size_t low = MIN(size, LOW_WINDOW);
	uint8_t *rom;
	int ret;

	if (!size || size > BIOS_MAX || (size & 0xffff))
		return gh_error_set(err, -EINVAL, "%s: a BIOS image must be a multiple "
				    "of 64 KiB and at most 16 MiB (this is %zu bytes)",
				    name, size);
	rom = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rom == MAP_FAILED)
		return gh_error_set(err, -ENOMEM, "%s: out of memory", name);
	memcpy(rom, image, size);
	ret = gh_vm_add_memory(vm, (1ULL << 32) - size, size, rom, true, "bios", err);
	/* the chipset's shadow windows answer with it until PAM says DRAM */
	if (!ret && gh_vm_has_windows(vm))
		ret = gh_vm_set_window_rom(vm, 0x100000 - low, low, rom + size - low,
					   err);
	else if (!ret)
		ret = gh_vm_add_memory(vm, 0x100000 - low, low, rom + size - low, true,
				       "bios-low", err);
	if (ret < 0) {
		munmap(rom, size);
		return ret;
	}
	out->rom = rom;
	out->size = size;
	return 0;
}

void gh_x86_bios_free(struct gh_bios *bios)
{
	if (bios->rom)
		munmap(bios->rom, bios->size);
	bios->rom = NULL;
}
