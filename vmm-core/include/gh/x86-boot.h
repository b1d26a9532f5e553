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
