/*
 * Direct kernel boot: tells a Linux bzImage (Documentation/arch/x86/boot.rst)
 * from a Multiboot v1 kernel (Multiboot Specification 0.6.96, 3.1) and hands
 * the file to the matching loader.
 */
#include "gh/x86-boot.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "boot-internal.h"
#include "gh/memory.h"

uint16_t gh_x86_get16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

uint32_t gh_x86_get32(const uint8_t *p)
{
	return gh_x86_get16(p) | (uint32_t)gh_x86_get16(p + 2) << 16;
}

uint64_t gh_x86_get64(const uint8_t *p)
{
	return gh_x86_get32(p) | (uint64_t)gh_x86_get32(p + 4) << 32;
}

void gh_x86_put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

void gh_x86_put32(uint8_t *p, uint32_t v)
{
	gh_x86_put16(p, v);
	gh_x86_put16(p + 2, v >> 16);
}

void gh_x86_put64(uint8_t *p, uint64_t v)
{
	gh_x86_put32(p, v);
	gh_x86_put32(p + 4, v >> 32);
}

void gh_x86_put_e820(uint8_t *p, const struct gh_e820_entry *e)
{
	gh_x86_put64(p, e->addr);
	gh_x86_put64(p + 8, e->size);
	gh_x86_put32(p + 16, e->type);
}

bool gh_x86_is_bzimage(const uint8_t *p, size_t size)
{
	return size >= 0x206 && p[0x1fe] == 0x55 && p[0x1ff] == 0xaa &&
	       memcmp(p + 0x202, "HdrS", 4) == 0;
}

/* The magic may occur by chance in code or data (spec 3.1.1). */
long gh_x86_find_multiboot(const uint8_t *p, size_t size, bool valid_only)
{
	size_t limit = size < GH_X86_MB_SEARCH ? size : GH_X86_MB_SEARCH;

	for (size_t off = 0; off + 12 <= limit; off += 4) {
		uint32_t sum;

		if (gh_x86_get32(p + off) != GH_X86_MB_MAGIC)
			continue;
		sum = GH_X86_MB_MAGIC + gh_x86_get32(p + off + 4) +
		      gh_x86_get32(p + off + 8);
		if (!valid_only || sum == 0)
			return (long)off;
	}
	return -1;
}

bool gh_x86_e820_covers(const struct gh_e820_entry *e, unsigned n, uint64_t addr,
			uint64_t len)
{
	uint64_t end = addr + len;

	if (end < addr)
		return false;
	while (addr < end) {
		unsigned i;

		for (i = 0; i < n; i++)
			if (e[i].type == GH_E820_RAM && e[i].addr <= addr &&
			    addr - e[i].addr < e[i].size)
				break;
		if (i == n)
			return false;
		addr = e[i].addr + e[i].size;
	}
	return true;
}

uint64_t gh_x86_e820_ram_from(const struct gh_e820_entry *e, unsigned n,
			      uint64_t start)
{
	uint64_t end = start;
	bool grew = true;

	/* the table need not be sorted: repeat until no range extends the run */
	while (grew) {
		grew = false;
		for (unsigned i = 0; i < n; i++)
			if (e[i].type == GH_E820_RAM && e[i].addr <= end &&
			    end - e[i].addr < e[i].size) {
				end = e[i].addr + e[i].size;
				grew = true;
			}
	}
	return end - start;
}

unsigned long long gh_x86_ram_mib(const struct gh_memory *mem)
{
	return (gh_memory_ram_below_4g(mem) + gh_memory_ram_above_4g(mem)) >> 20;
}

int gh_x86_boot_write(struct gh_memory *mem, uint64_t gpa, const void *buf,
		      size_t len, const char *name, struct gh_error *err)
{
	if (len && gh_mem_write(mem, gpa, buf, len) < 0)
		return gh_error_set(err, -ENOMEM,
				    "%s: guest RAM at 0x%llx-0x%llx is missing or not "
				    "writable", name, (unsigned long long)gpa,
				    (unsigned long long)(gpa + len - 1));
	return 0;
}

/* A GDT descriptor (SDM vol. 3A, 3.4.5) for a segment's hidden state. */
static uint64_t descriptor(const struct gh_segment *s)
{
	uint32_t limit = s->g ? s->limit >> 12 : s->limit;

	return (limit & 0xffffULL) | (s->base & 0xffffffULL) << 16 |
	       (uint64_t)(s->type & 0xf) << 40 | (uint64_t)(s->s & 1) << 44 |
	       (uint64_t)(s->dpl & 3) << 45 | (uint64_t)(s->present & 1) << 47 |
	       (uint64_t)((limit >> 16) & 0xf) << 48 | (uint64_t)(s->avl & 1) << 52 |
	       (uint64_t)(s->l & 1) << 53 | (uint64_t)(s->db & 1) << 54 |
	       (uint64_t)(s->g & 1) << 55 | ((s->base >> 24) & 0xffULL) << 56;
}

void gh_x86_boot_flat_state(struct gh_cpu_state *cpu, uint8_t gdt[GH_X86_GDT_SIZE],
			    bool long_mode)
{
	gh_cpu_state_reset(cpu, true);
	gh_cpu_state_flat_seg(&cpu->seg[GH_CS], GH_X86_BOOT_CS, true, long_mode);
	gh_cpu_state_flat_seg(&cpu->seg[GH_DS], GH_X86_BOOT_DS, false, false);
	cpu->seg[GH_ES] = cpu->seg[GH_DS];
	cpu->seg[GH_SS] = cpu->seg[GH_DS];
	cpu->seg[GH_FS] = cpu->seg[GH_DS];
	cpu->seg[GH_GS] = cpu->seg[GH_DS];
	memset(gdt, 0, GH_X86_GDT_SIZE);
	gh_x86_put64(gdt + GH_X86_BOOT_CS, descriptor(&cpu->seg[GH_CS]));
	gh_x86_put64(gdt + GH_X86_BOOT_DS, descriptor(&cpu->seg[GH_DS]));
	cpu->gdt.base = GH_X86_GDT_ADDR;
	cpu->gdt.limit = GH_X86_GDT_SIZE - 1;
	cpu->idt.base = 0;
	cpu->idt.limit = 0;
	/* VM entry in IA-32e mode wants a busy 32/64-bit TSS (SDM 26.3.1.2) */
	cpu->tr.type = 11;
	cpu->tr.present = 1;
	cpu->tr.s = 0;
	cpu->tr.unusable = 0;
	cpu->rflags = GH_RFLAGS_FIXED;
	cpu->gpr[GH_RSP] = GH_X86_STACK_TOP;
	cpu->cr0 = GH_CR0_PE | GH_CR0_ET;
}

enum gh_kernel_format gh_x86_kernel_format(const void *image, size_t size)
{
	if (!image)
		return GH_KERNEL_UNKNOWN;
	if (gh_x86_is_bzimage(image, size))
		return GH_KERNEL_LINUX;
	if (gh_x86_find_multiboot(image, size, true) >= 0)
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

	bad = args->kernel ?
	      gh_x86_find_multiboot(args->kernel, args->kernel_size, false) : -1;
	if (bad >= 0)
		return gh_error_set(err, -ENOEXEC,
				    "%s: not a Linux bzImage or Multiboot kernel (the "
				    "Multiboot header at offset 0x%lx has a bad "
				    "checksum)",
				    name, bad);
	return gh_error_set(err, -ENOEXEC,
			    "%s: not a Linux bzImage or Multiboot kernel", name);
}
