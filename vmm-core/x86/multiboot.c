/*
 * Multiboot v1 loader (Multiboot Specification 0.6.96): ELF32/ELF64 kernels
 * and the a.out kludge (3.1.3), the boot information structure (3.3) and the
 * machine state at entry (3.2).
 */
#include "gh/x86-boot.h"

#include <errno.h>
#include <glib.h>
#include <stdbool.h>
#include <string.h>

#include "boot-internal.h"
#include "gh/memory.h"
#include "gh/x86-acpi.h"

/*
 * Guest-physical layout: what the loader owns sits below 640 KiB and the
 * kernel may not load over it; modules go page-aligned after the kernel,
 * never below 1 MiB.
 *
 *   0x06000  GDT and stack (boot-internal.h; spec 3.2 leaves ESP undefined,
 *            the stack is a courtesy)
 *   0x08000  ..0x90000 boot information, memory map, module list, strings
 */
#define INFO_ADDR	0x8000ULL
#define LOW_END		0x90000ULL
#define MODULES_MIN	0x100000ULL

/* 3.1.1-3.1.3: the header flags (magic and search window in boot-internal.h) */
#define MB_PAGE_ALIGN	(1u << 0)
#define MB_MEMORY_INFO	(1u << 1)
#define MB_VIDEO_MODE	(1u << 2)
#define MB_AOUT_KLUDGE	(1u << 16)
/* bits 0-15 the loader must understand; video mode is honoured by ignoring it */
#define MB_REQUIRED	0x0000ffffu
#define MB_KNOWN	(MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_VIDEO_MODE)

/* 3.2 */
#define MB_BOOT_MAGIC	0x2badb002u

/* 3.3: boot information offsets and flags */
#define MBI_FLAGS		0
#define MBI_MEM_LOWER		4
#define MBI_MEM_UPPER		8
#define MBI_CMDLINE		16
#define MBI_MODS_COUNT		20
#define MBI_MODS_ADDR		24
#define MBI_MMAP_LENGTH		44
#define MBI_MMAP_ADDR		48
#define MBI_BOOT_LOADER_NAME	64
#define MBI_SIZE		128	/* 116 bytes, rounded up */
#define MBI_F_MEM		(1u << 0)
#define MBI_F_CMDLINE		(1u << 2)
#define MBI_F_MODS		(1u << 3)
#define MBI_F_MMAP		(1u << 6)
#define MBI_F_LOADER_NAME	(1u << 9)
#define MB_MOD_SIZE		16
#define MB_MMAP_SIZE		24	/* size field + 20 bytes */

#define LOADER_NAME	"Guesthouse"

/* ELF (System V ABI, ch. 4 and 5) */
#define PT_LOAD		1
#define EM_X86_64	62
#define MAX_SEGS	64

struct seg {
	uint64_t paddr, memsz, filesz, offset;
	unsigned index;		/* program header number, for messages */
};

struct image {
	struct seg segs[MAX_SEGS];
	unsigned nsegs;
	uint64_t entry;
};

static int zero(struct gh_memory *mem, uint64_t gpa, uint64_t len, const char *name,
		struct gh_error *err)
{
	void *p;

	if (!len)
		return 0;
	p = gh_mem_map(mem, gpa, len);
	if (!p)
		return gh_error_set(err, -ENOMEM,
				    "%s: guest RAM at 0x%llx-0x%llx is missing", name,
				    (unsigned long long)gpa,
				    (unsigned long long)(gpa + len - 1));
	memset(p, 0, len);
	return 0;
}

/* 3.1.3: the address fields say where the file goes, with no ELF needed. */
static int parse_aout(const uint8_t *f, size_t size, size_t hoff, struct image *img,
		      const char *name, struct gh_error *err)
{
	uint32_t header_addr, load_addr, load_end, bss_end, entry;
	uint64_t file_off, load_len, mem_end;

	if (hoff + 32 > size)
		return gh_error_set(err, -EINVAL,
				    "%s: the Multiboot header's address fields run past "
				    "the end of the file", name);
	header_addr = gh_x86_get32(f + hoff + 12);
	load_addr = gh_x86_get32(f + hoff + 16);
	load_end = gh_x86_get32(f + hoff + 20);
	bss_end = gh_x86_get32(f + hoff + 24);
	entry = gh_x86_get32(f + hoff + 28);

	if (load_addr > header_addr || header_addr - load_addr > hoff)
		return gh_error_set(err, -EINVAL,
				    "%s: the Multiboot load address 0x%x does not match "
				    "the header's place in the file", name, load_addr);
	file_off = hoff - (header_addr - load_addr);
	if (load_end == 0) {
		load_len = size - file_off;
	} else {
		if (load_end < load_addr)
			return gh_error_set(err, -EINVAL,
					    "%s: the Multiboot load end address 0x%x is "
					    "below the load address 0x%x", name, load_end,
					    load_addr);
		load_len = load_end - load_addr;
		if (load_len > size - file_off)
			return gh_error_set(err, -EINVAL,
					    "%s: the Multiboot header asks to load %llu "
					    "bytes but the file has only %llu after "
					    "offset 0x%llx", name,
					    (unsigned long long)load_len,
					    (unsigned long long)(size - file_off),
					    (unsigned long long)file_off);
	}
	mem_end = load_addr + load_len;
	if (bss_end) {
		if (bss_end < mem_end)
			return gh_error_set(err, -EINVAL,
					    "%s: the Multiboot bss end 0x%x is below the "
					    "end of the loaded image", name, bss_end);
		mem_end = bss_end;
	}
	if (mem_end > GH_X86_FOUR_GIB)
		return gh_error_set(err, -EINVAL,
				    "%s: the Multiboot header loads the kernel past "
				    "4 GiB",
				    name);
	if (mem_end == load_addr)
		return gh_error_set(err, -EINVAL,
				    "%s: the Multiboot header loads nothing", name);
	img->segs[0] = (struct seg){ load_addr, mem_end - load_addr, load_len,
				     file_off, 0 };
	img->nsegs = 1;
	img->entry = entry;
	return 0;
}

/* ELF32, or ELF64 with everything below 4 GiB as some kernels in the wild are. */
static int parse_elf(const uint8_t *f, size_t size, struct image *img,
		     const char *name, struct gh_error *err)
{
	bool is64, translated = false;
	uint64_t phoff, entry;
	unsigned phentsize, phnum;

	if (size < 16 || memcmp(f, "\177ELF", 4) != 0)
		return gh_error_set(err, -ENOEXEC,
				    "%s: a Multiboot kernel without load addresses in "
				    "its header must be ELF, and this file is not", name);
	if (f[4] != 1 && f[4] != 2)
		return gh_error_set(err, -EINVAL, "%s: unknown ELF class %u", name, f[4]);
	if (f[5] != 1)
		return gh_error_set(err, -ENOEXEC, "%s: not a little-endian ELF file",
				    name);
	is64 = f[4] == 2;
	if (size < (is64 ? 64u : 52u))
		return gh_error_set(err, -EINVAL, "%s: the ELF header is truncated",
				    name);
	if (is64 && gh_x86_get16(f + 18) != EM_X86_64)
		return gh_error_set(err, -ENOEXEC, "%s: a 64-bit ELF file not for x86-64",
				    name);

	entry = is64 ? gh_x86_get64(f + 24) : gh_x86_get32(f + 24);
	phoff = is64 ? gh_x86_get64(f + 32) : gh_x86_get32(f + 28);
	phentsize = gh_x86_get16(f + (is64 ? 54 : 42));
	phnum = gh_x86_get16(f + (is64 ? 56 : 44));
	if (phentsize < (is64 ? 56u : 32u))
		return gh_error_set(err, -EINVAL,
				    "%s: the ELF program header size %u is too small",
				    name, phentsize);
	if (phoff > size || (uint64_t)phnum * phentsize > size - phoff)
		return gh_error_set(err, -EINVAL,
				    "%s: the ELF program header table lies outside the "
				    "file", name);

	img->nsegs = 0;
	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *ph = f + phoff + (uint64_t)i * phentsize;
		uint64_t offset, vaddr, paddr, filesz, memsz;

		if (gh_x86_get32(ph) != PT_LOAD)
			continue;
		offset = is64 ? gh_x86_get64(ph + 8) : gh_x86_get32(ph + 4);
		vaddr = is64 ? gh_x86_get64(ph + 16) : gh_x86_get32(ph + 8);
		paddr = is64 ? gh_x86_get64(ph + 24) : gh_x86_get32(ph + 12);
		filesz = is64 ? gh_x86_get64(ph + 32) : gh_x86_get32(ph + 16);
		memsz = is64 ? gh_x86_get64(ph + 40) : gh_x86_get32(ph + 20);

		if (filesz > memsz)
			return gh_error_set(err, -EINVAL,
					    "%s: program header %u has more bytes in the "
					    "file than in memory", name, i);
		if (offset > size || filesz > size - offset)
			return gh_error_set(err, -EINVAL,
					    "%s: program header %u lies outside the file",
					    name, i);
		if (paddr >= GH_X86_FOUR_GIB || memsz > GH_X86_FOUR_GIB - paddr)
			return gh_error_set(err, -EINVAL,
					    "%s: program header %u loads above 4 GiB",
					    name, i);
		/* GRUB does the same for kernels linked at a higher-half vaddr */
		if (!translated && entry >= vaddr && entry - vaddr < memsz) {
			entry = entry - vaddr + paddr;
			translated = true;
		}
		if (memsz == 0)
			continue;
		if (img->nsegs == MAX_SEGS)
			return gh_error_set(err, -EINVAL,
					    "%s: more than %u loadable segments", name,
					    MAX_SEGS);
		img->segs[img->nsegs++] = (struct seg){ paddr, memsz, filesz, offset, i };
	}
	if (!img->nsegs)
		return gh_error_set(err, -EINVAL, "%s: the ELF file has nothing to load",
				    name);
	img->entry = entry;
	return 0;
}

/* Where the loaded image lies: in RAM, clear of the loader's area, disjoint. */
static int check_image(const struct image *img, const struct gh_e820_entry *e820,
		       unsigned ne820, struct gh_memory *mem, uint64_t *kernel_end,
		       const char *name, struct gh_error *err)
{
	bool entry_ok = false;

	*kernel_end = 0;
	for (unsigned i = 0; i < img->nsegs; i++) {
		const struct seg *s = &img->segs[i];
		uint64_t end = s->paddr + s->memsz;

		if (s->paddr < LOW_END && GH_X86_GDT_ADDR < end)
			return gh_error_set(err, -EINVAL,
					    "%s: the kernel loads at 0x%llx-0x%llx, over "
					    "the boot information at 0x%llx-0x%llx", name,
					    (unsigned long long)s->paddr,
					    (unsigned long long)(end - 1),
					    GH_X86_GDT_ADDR, LOW_END - 1);
		if (!gh_x86_e820_covers(e820, ne820, s->paddr, s->memsz))
			return gh_error_set(err, -ENOMEM,
					    "%s: the kernel loads at 0x%llx-0x%llx, "
					    "outside the VM's %llu MiB of RAM", name,
					    (unsigned long long)s->paddr,
					    (unsigned long long)(end - 1),
					    gh_x86_ram_mib(mem));
		for (unsigned j = 0; j < i; j++) {
			const struct seg *t = &img->segs[j];

			if (s->paddr < t->paddr + t->memsz && t->paddr < end)
				return gh_error_set(err, -EINVAL,
						    "%s: program headers %u and %u "
						    "overlap in memory", name, t->index,
						    s->index);
		}
		if (img->entry >= s->paddr && img->entry < end)
			entry_ok = true;
		if (end > *kernel_end)
			*kernel_end = end;
	}
	if (!entry_ok)
		return gh_error_set(err, -EINVAL,
				    "%s: the entry point 0x%llx is outside the loaded "
				    "kernel", name, (unsigned long long)img->entry);
	return 0;
}

int gh_x86_load_multiboot(struct gh_memory *mem, const struct gh_boot_args *args,
			  struct gh_cpu_state *cpu, struct gh_error *err)
{
	const char *name = args->kernel_name ? args->kernel_name : "kernel";
	const uint8_t *f = args->kernel;
	size_t size = args->kernel_size;
	const char *cmdline = args->cmdline ? args->cmdline : "";
	struct gh_e820_entry e820[GH_E820_MAX];
	uint64_t mod_addr[GH_BOOT_MAX_MODULES];
	struct image *img;
	uint8_t gdt[GH_X86_GDT_SIZE];
	uint8_t *info = NULL;
	uint64_t kernel_end, next, info_size, str;
	size_t cmdlen, namelen;
	unsigned ne820, nmods = args->nmodules;
	uint32_t flags;
	long hoff;
	int ret;

	hoff = f ? gh_x86_find_multiboot(f, size, true) : -1;
	if (hoff < 0) {
		long bad = f ? gh_x86_find_multiboot(f, size, false) : -1;

		if (bad >= 0)
			return gh_error_set(err, -ENOEXEC,
					    "%s: the Multiboot header at offset "
					    "0x%lx has a bad checksum", name, bad);
		return gh_error_set(err, -ENOEXEC,
				    "%s: no Multiboot header in the first 8 KiB", name);
	}
	flags = gh_x86_get32(f + hoff + 4);
	if (flags & MB_REQUIRED & ~MB_KNOWN)
		return gh_error_set(err, -ENOEXEC,
				    "%s: the Multiboot header requires features this "
				    "loader does not have (flags 0x%08x)", name, flags);
	if (nmods > GH_BOOT_MAX_MODULES)
		return gh_error_set(err, -EINVAL, "%s: %u modules given, at most %u",
				    name, nmods, GH_BOOT_MAX_MODULES);

	img = g_new0(struct image, 1);
	if (flags & MB_AOUT_KLUDGE)
		ret = parse_aout(f, size, hoff, img, name, err);
	else
		ret = parse_elf(f, size, img, name, err);
	if (ret)
		goto out;

	ne820 = gh_memory_e820(mem, e820, GH_E820_MAX);
	if (!gh_x86_e820_covers(e820, ne820, GH_X86_GDT_ADDR,
				LOW_END - GH_X86_GDT_ADDR)) {
		ret = gh_error_set(err, -ENOMEM,
				   "%s: the VM has no RAM below 640 KiB for the boot "
				   "information", name);
		goto out;
	}
	ret = check_image(img, e820, ne820, mem, &kernel_end, name, err);
	if (ret)
		goto out;

	/* Modules: always page aligned, which also satisfies MB_PAGE_ALIGN. */
	next = kernel_end > MODULES_MIN ? kernel_end : MODULES_MIN;
	for (unsigned i = 0; i < nmods; i++) {
		const struct gh_boot_module *m = &args->modules[i];
		const char *mname = m->name ? m->name : "module";

		next = (next + GH_X86_PAGE_SIZE - 1) & ~(GH_X86_PAGE_SIZE - 1);
		if (m->size && !m->data) {
			ret = gh_error_set(err, -EINVAL, "%s: no data", mname);
			goto out;
		}
		if (next >= GH_X86_FOUR_GIB || m->size > GH_X86_FOUR_GIB - next ||
		    !gh_x86_e820_covers(e820, ne820, next, m->size)) {
			ret = gh_error_set(err, -ENOMEM,
					   "%s does not fit in %llu MiB of RAM after the "
					   "kernel", mname, gh_x86_ram_mib(mem));
			goto out;
		}
		mod_addr[i] = next;
		next += m->size;
	}

	/* The boot information: fixed part, map, module list, then strings. */
	cmdlen = strlen(cmdline);
	namelen = args->kernel_name ? strlen(args->kernel_name) : 0;
	info_size = MBI_SIZE + (uint64_t)ne820 * MB_MMAP_SIZE +
		    (uint64_t)nmods * MB_MOD_SIZE + namelen + 1 + cmdlen + 1 +
		    sizeof(LOADER_NAME);
	for (unsigned i = 0; i < nmods; i++) {
		const struct gh_boot_module *m = &args->modules[i];
		const char *s = m->cmdline ? m->cmdline : m->name ? m->name : "";

		info_size += strlen(s) + 1;
	}
	if (info_size > LOW_END - INFO_ADDR) {
		ret = gh_error_set(err, -EINVAL,
				   "%s: the command line and module strings take %llu "
				   "bytes, more than the %llu the loader has for them",
				   name, (unsigned long long)info_size,
				   LOW_END - INFO_ADDR);
		goto out;
	}
	info = g_malloc0(info_size);
	gh_x86_put32(info + MBI_FLAGS, MBI_F_MEM | MBI_F_CMDLINE | MBI_F_MODS |
				       MBI_F_MMAP | MBI_F_LOADER_NAME);
	gh_x86_put32(info + MBI_MEM_LOWER,
		     MIN(gh_x86_e820_ram_from(e820, ne820, 0), 0xa0000) >> 10);
	gh_x86_put32(info + MBI_MEM_UPPER,
		     MIN(gh_x86_e820_ram_from(e820, ne820, MODULES_MIN) >> 10,
			 0xffffffffULL));

	str = MBI_SIZE;
	gh_x86_put32(info + MBI_MMAP_LENGTH, ne820 * MB_MMAP_SIZE);
	gh_x86_put32(info + MBI_MMAP_ADDR, INFO_ADDR + str);
	for (unsigned i = 0; i < ne820; i++, str += MB_MMAP_SIZE) {
		gh_x86_put32(info + str, MB_MMAP_SIZE - 4);
		gh_x86_put_e820(info + str + 4, &e820[i]);
	}

	gh_x86_put32(info + MBI_MODS_COUNT, nmods);
	gh_x86_put32(info + MBI_MODS_ADDR, INFO_ADDR + str);
	next = str + (uint64_t)nmods * MB_MOD_SIZE;
	for (unsigned i = 0; i < nmods; i++, str += MB_MOD_SIZE) {
		const struct gh_boot_module *m = &args->modules[i];
		const char *s = m->cmdline ? m->cmdline : m->name ? m->name : "";
		size_t len = strlen(s) + 1;

		gh_x86_put32(info + str, mod_addr[i]);
		gh_x86_put32(info + str + 4, mod_addr[i] + m->size);
		gh_x86_put32(info + str + 8, INFO_ADDR + next);
		memcpy(info + next, s, len);
		next += len;
	}

	/* As GRUB and QEMU do, the command line starts with the kernel's name. */
	gh_x86_put32(info + MBI_CMDLINE, INFO_ADDR + next);
	if (namelen) {
		memcpy(info + next, args->kernel_name, namelen);
		next += namelen;
		if (cmdlen)
			info[next++] = ' ';
	}
	memcpy(info + next, cmdline, cmdlen + 1);
	next += cmdlen + 1;
	gh_x86_put32(info + MBI_BOOT_LOADER_NAME, INFO_ADDR + next);
	memcpy(info + next, LOADER_NAME, sizeof(LOADER_NAME));

	/* 3.2: flat 32-bit protected mode, paging off, interrupts off */
	gh_x86_boot_flat_state(cpu, gdt, false);
	cpu->rip = img->entry;
	cpu->gpr[GH_RAX] = MB_BOOT_MAGIC;
	cpu->gpr[GH_RBX] = INFO_ADDR;

	for (unsigned i = 0; i < img->nsegs && !ret; i++) {
		const struct seg *s = &img->segs[i];

		ret = gh_x86_boot_write(mem, s->paddr, f + s->offset, s->filesz, name,
					err);
		if (!ret)
			ret = zero(mem, s->paddr + s->filesz, s->memsz - s->filesz, name,
				   err);
	}
	for (unsigned i = 0; i < nmods && !ret; i++)
		ret = gh_x86_boot_write(mem, mod_addr[i], args->modules[i].data,
					args->modules[i].size, name, err);
	if (!ret)
		ret = gh_x86_boot_write(mem, INFO_ADDR, info, info_size, name, err);
	if (!ret)
		ret = gh_x86_boot_write(mem, GH_X86_GDT_ADDR, gdt, sizeof(gdt), name,
					err);
	/* the kernel finds them by the RSDP and MP scans of the BIOS area */
	if (!ret && args->ncpus) {
		uint64_t rsdp;

		ret = gh_x86_build_tables(mem, args->ncpus, &rsdp, err);
	}
out:
	g_free(info);
	g_free(img);
	return ret;
}
