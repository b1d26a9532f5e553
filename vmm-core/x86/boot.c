/*
 * Direct kernel boot: tells a Linux bzImage (Documentation/arch/x86/boot.rst)
 * from a Multiboot v1 kernel (Multiboot Specification 0.6.96, 3.1) and hands
 * the file to the matching loader.
 */
#include "gh/x86-boot.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define MB_MAGIC	0x1badb002u
#define MB_SEARCH	8192

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool is_linux(const uint8_t *p, size_t size)
{
	return size >= 0x206 && p[0x1fe] == 0x55 && p[0x1ff] == 0xaa &&
	       memcmp(p + 0x202, "HdrS", 4) == 0;
}

/*
 * Offset of the first Multiboot magic in the search window, or -1. With
 * valid_only, a magic whose checksum does not add up is skipped: the magic
 * may occur by chance in code or data (spec 3.1.1).
 */
static long find_multiboot(const uint8_t *p, size_t size, bool valid_only)
{
	size_t limit = size < MB_SEARCH ? size : MB_SEARCH;

	for (size_t off = 0; off + 12 <= limit; off += 4) {
		if (get32(p + off) != MB_MAGIC)
			continue;
		if (!valid_only ||
		    (uint32_t)(MB_MAGIC + get32(p + off + 4) + get32(p + off + 8)) == 0)
			return (long)off;
	}
	return -1;
}

enum gh_kernel_format gh_x86_kernel_format(const void *image, size_t size)
{
	if (!image)
		return GH_KERNEL_UNKNOWN;
	if (is_linux(image, size))
		return GH_KERNEL_LINUX;
	if (find_multiboot(image, size, true) >= 0)
		return GH_KERNEL_MULTIBOOT;
	return GH_KERNEL_UNKNOWN;
}

int gh_x86_load_kernel(struct gh_memory *mem, const struct gh_boot_args *args,
		       struct gh_cpu_state *cpu, struct gh_error *err)
{
	const char *name = args->kernel_name ? args->kernel_name : "kernel";
	long bad;

	switch (gh_x86_kernel_format(args->kernel, args->kernel_size)) {
	case GH_KERNEL_LINUX:
		return gh_x86_load_linux(mem, args, cpu, err);
	case GH_KERNEL_MULTIBOOT:
		return gh_x86_load_multiboot(mem, args, cpu, err);
	case GH_KERNEL_UNKNOWN:
		break;
	}

	bad = args->kernel ? find_multiboot(args->kernel, args->kernel_size, false) : -1;
	if (bad >= 0)
		return gh_error_set(err, -ENOEXEC,
				    "%s: not a Linux bzImage or Multiboot kernel (the "
				    "Multiboot header at offset 0x%lx has a bad checksum)",
				    name, bad);
	return gh_error_set(err, -ENOEXEC,
			    "%s: not a Linux bzImage or Multiboot kernel", name);
}
