/*
 * Direct kernel boot: the Linux x86 boot protocol
 * (Documentation/arch/x86/boot.rst) and Multiboot v1 (Multiboot
 * Specification 0.6.96). The loader writes the kernel, its data and the
 * tables it needs into guest RAM and fills the boot CPU's entry state.
 */
#ifndef GH_X86_BOOT_H
#define GH_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "gh/cpu-state.h"
#include "gh/error.h"

struct gh_memory;

enum gh_kernel_format {
	GH_KERNEL_UNKNOWN,
	GH_KERNEL_LINUX,	/* bzImage with a setup header */
	GH_KERNEL_MULTIBOOT,	/* Multiboot v1 header in the first 8 KiB */
};

struct gh_boot_module {
	const void *data;
	size_t size;
	const char *name;	/* file name, for messages */
	const char *cmdline;	/* Multiboot module string; NULL means name */
};

#define GH_BOOT_MAX_MODULES 16

struct gh_boot_args {
	const void *kernel;	/* the kernel file's bytes */
	size_t kernel_size;
	const char *kernel_name;	/* for messages */
	const char *cmdline;	/* NULL means "" */
	/*
	 * Linux: at most one, the initrd. Multiboot: the modules, in order
	 * (--initrd "file args,file2" as in QEMU).
	 */
	const struct gh_boot_module *modules;
	unsigned nmodules;
	/*
	 * vCPUs the ACPI and MP tables describe (gh/x86-acpi.h); 0 leaves
	 * them out, for a VM without the PC board.
	 */
	unsigned ncpus;
};

/* Which loader a file is for, from its headers alone. */
enum gh_kernel_format gh_x86_kernel_format(const void *image, size_t size);

/*
 * Loads into mem and fills *cpu (from gh_cpu_state_reset() plus the entry
 * state the protocol defines). -ENOEXEC for a file that is neither format,
 * -EINVAL for a corrupt or truncated one, -ENOMEM if it does not fit in RAM;
 * err says what is wrong in one sentence.
 */
__attribute__((warn_unused_result))
int gh_x86_load_kernel(struct gh_memory *mem, const struct gh_boot_args *args,
		       struct gh_cpu_state *cpu, struct gh_error *err);

__attribute__((warn_unused_result))
int gh_x86_load_linux(struct gh_memory *mem, const struct gh_boot_args *args,
		      struct gh_cpu_state *cpu, struct gh_error *err);
__attribute__((warn_unused_result))
int gh_x86_load_multiboot(struct gh_memory *mem,
			  const struct gh_boot_args *args,
			  struct gh_cpu_state *cpu, struct gh_error *err);

/*
 * Firmware-mediated Linux boot: what QEMU's fw_cfg kernel items carry for
 * SeaBIOS's option ROM and OVMF to load. The bzImage is split into its
 * real-mode setup, whose header is filled in as a boot loader does, and the
 * protected-mode kernel; each part has the address the firmware loads it at.
 */
struct gh_linux_fw_image {
	uint8_t *setup;			/* g_malloc'd */
	size_t setup_size;
	uint32_t setup_addr;
	const void *kernel;		/* points into the bzImage */
	size_t kernel_size;
	uint32_t kernel_addr;
	const void *initrd;		/* the module's data, or NULL */
	size_t initrd_size;
	uint32_t initrd_addr;
	const char *cmdline;		/* NUL-terminated; size counts the NUL */
	size_t cmdline_size;
	uint32_t cmdline_addr;
};

/*
 * Checks a bzImage as gh_x86_load_linux does and lays it out for a VM with
 * ram_below_4g bytes of RAM under 4 GiB, leaving the top MiB of it to the
 * firmware. Only Linux: -ENOEXEC for anything else.
 */
__attribute__((warn_unused_result))
int gh_x86_linux_fw_image(const struct gh_boot_args *args, uint64_t ram_below_4g,
			  struct gh_linux_fw_image *out, struct gh_error *err);
void gh_x86_linux_fw_image_free(struct gh_linux_fw_image *im);

/* Our option ROM that boots the fw_cfg kernel under SeaBIOS
 * (x86/optionrom/linuxboot.S), without its size byte and checksum. */
extern const unsigned char gh_linuxboot_rom[];
extern const size_t gh_linuxboot_rom_size;

struct gh_vm;

/* A BIOS image mapped as ROM (gh_x86_load_bios); freed after the VM. */
struct gh_bios {
	void *rom;
	size_t size;
};

/*
 * Maps a legacy BIOS image below 4 GiB with its last 128 KiB aliased at
 * 0xE0000 (the VM must be created with cfg.firmware). The CPU starts at the
 * reset vector.
 */
__attribute__((warn_unused_result))
int gh_x86_load_bios(struct gh_vm *vm, const void *image, size_t size, const char *name,
		     struct gh_bios *out, struct gh_error *err);
void gh_x86_bios_free(struct gh_bios *bios);

#endif
