/*
 * Shared set-up for the software-CPU tests: a fake gh_cpu_bus over a g_malloc'd
 * RAM, GDT/IDT descriptor encoders (Intel SDM vol. 3A 3.4.5, 6.11), and the
 * flat protected and 64-bit state the tests start from. Header-only, like devtest.h.
 */
#ifndef GH_TESTS_CPUTEST_H
#define GH_TESTS_CPUTEST_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <glib.h>

#include "cpu/cpu-internal.h"

/* Every CPU test keeps its GDT and IDT here. */
#define CT_GDT_BASE 0x1000
#define CT_IDT_BASE 0x2000

/* ---- the fake machine ---- */

/* The bus page callback's answer for plain RAM of ram_size bytes: the page of
 * gpa, or NULL beyond the end (which the CPU takes as MMIO). */
static inline uint8_t *ct_ram_page(uint8_t *ram, uint64_t ram_size, uint64_t gpa)
{
	return gpa < ram_size ? ram + (gpa & ~0xfffULL) : NULL;
}

/* No MMIO: reads float high, writes vanish. */
static inline uint64_t ct_mmio_read(void *opaque, uint64_t gpa, unsigned size)
{
	(void)opaque;
	(void)gpa;
	(void)size;
	return ~0ULL;
}

static inline void ct_mmio_write(void *opaque, uint64_t gpa, uint64_t val, unsigned size)
{
	(void)opaque;
	(void)gpa;
	(void)val;
	(void)size;
}

/*
 * A CPU on bus over ram_size bytes of zeroed RAM, returned in *ram (its page
 * callback reaches that through bus.opaque). MMIO callbacks left NULL become
 * the stubs above; the other callbacks are the test's own.
 */
static inline struct gh_cpu *ct_cpu_new(struct gh_cpu_bus bus, uint8_t **ram,
					uint64_t ram_size)
{
	struct gh_cpu *cpu;

	if (!bus.mmio_read)
		bus.mmio_read = ct_mmio_read;
	if (!bus.mmio_write)
		bus.mmio_write = ct_mmio_write;
	*ram = g_malloc0(ram_size);
	cpu = gh_cpu_new(&bus, 0);
	g_assert_nonnull(cpu);
	/* the "jit" runs of the CPU tests: every block of 64-bit code is
	 * translated before its first run */
	if (g_getenv("GH_TEST_JIT"))
		g_assert_cmpint(gh_cpu_set_jit(cpu, 0), ==, 0);
	return cpu;
}

static inline void ct_cpu_free(struct gh_cpu *cpu, uint8_t *ram)
{
	gh_cpu_free(cpu);
	g_free(ram);
}

/* Unaligned little-endian guest memory accesses, as the host is x86 too. */
static inline void ct_put8(uint8_t *ram, uint64_t a, uint8_t v)
{
	ram[a] = v;
}

static inline void ct_put16(uint8_t *ram, uint64_t a, uint16_t v)
{
	memcpy(ram + a, &v, 2);
}

static inline void ct_put32(uint8_t *ram, uint64_t a, uint32_t v)
{
	memcpy(ram + a, &v, 4);
}

static inline void ct_put64(uint8_t *ram, uint64_t a, uint64_t v)
{
	memcpy(ram + a, &v, 8);
}

static inline uint16_t ct_get16(const uint8_t *ram, uint64_t a)
{
	uint16_t v;

	memcpy(&v, ram + a, 2);
	return v;
}

static inline uint32_t ct_get32(const uint8_t *ram, uint64_t a)
{
	uint32_t v;

	memcpy(&v, ram + a, 4);
	return v;
}

static inline uint64_t ct_get64(const uint8_t *ram, uint64_t a)
{
	uint64_t v;

	memcpy(&v, ram + a, 8);
	return v;
}

/* Places code at a physical address, dropping decoded blocks of it. */
static inline void ct_load(struct gh_cpu *cpu, uint8_t *ram, uint64_t a, const void *bytes,
			   size_t n)
{
	memcpy(ram + a, bytes, n);
	gh_cpu_invalidate_code(cpu, a, n);
}

static inline void ct_apply(struct gh_cpu *cpu, const struct gh_cpu_state *s)
{
	g_assert_cmpint(gh_cpu_set_state(cpu, s), ==, 0);
}

/* ---- descriptors ---- */

/* A segment descriptor: access byte (P, DPL, S, type) and flags (G, D, L, AVL). */
static inline uint64_t ct_seg_desc(uint32_t base, uint32_t limit, uint8_t access,
				   uint8_t flags)
{
	return (limit & 0xffff) | ((uint64_t)(base & 0xffffff) << 16) |
	       ((uint64_t)access << 40) | ((uint64_t)((limit >> 16) & 0xf) << 48) |
	       ((uint64_t)(flags & 0xf) << 52) | ((uint64_t)(base >> 24) << 56);
}

/* A gate's low 8 bytes; params is the call gate's parameter count or, in a
 * 64-bit IDT gate, the IST index. */
static inline uint64_t ct_gate_desc(uint16_t sel, uint32_t off, uint8_t access,
				    uint8_t params)
{
	return (off & 0xffff) | ((uint64_t)sel << 16) | ((uint64_t)params << 32) |
	       ((uint64_t)access << 40) | ((uint64_t)(off >> 16) << 48);
}

static inline void ct_gdt_set(uint8_t *ram, uint16_t sel, uint64_t d)
{
	ct_put64(ram, CT_GDT_BASE + (sel & ~7u), d);
}

static inline uint64_t ct_gdt_get(const uint8_t *ram, uint16_t sel)
{
	return ct_get64(ram, CT_GDT_BASE + (sel & ~7u));
}

/* A 32-bit IDT gate for vec. */
static inline void ct_idt32_set(uint8_t *ram, unsigned vec, uint16_t sel, uint32_t off,
				uint8_t access)
{
	ct_put64(ram, CT_IDT_BASE + vec * 8, ct_gate_desc(sel, off, access, 0));
}

/* A 64-bit IDT gate (16 bytes) for vec, on IST stack ist (0: none). */
static inline void ct_idt64_set(uint8_t *ram, unsigned vec, uint16_t sel, uint64_t off,
				uint8_t access, unsigned ist)
{
	ct_put64(ram, CT_IDT_BASE + vec * 16, ct_gate_desc(sel, off, access, ist));
	ct_put64(ram, CT_IDT_BASE + vec * 16 + 8, off >> 32);
}

/*
 * The hidden part of sel, as a load from the GDT builds it. The 8-byte form
 * gives a system descriptor no base bits 63:32; the 16-byte form reads them
 * from the next GDT slot, as a long-mode load does.
 */
static inline void ct_seg_from_gdt(const uint8_t *ram, uint16_t sel, struct gh_segment *seg)
{
	struct gh_descriptor d = {{ct_gdt_get(ram, sel), 0}};

	gh_cpu_parse_descriptor(&d, sel, seg);
}

static inline void ct_seg_from_gdt16(const uint8_t *ram, uint16_t sel,
				     struct gh_segment *seg)
{
	struct gh_descriptor d = {{ct_gdt_get(ram, sel), ct_gdt_get(ram, sel + 8)}};

	gh_cpu_parse_descriptor(&d, sel, seg);
}

/* ---- states ---- */

/*
 * Resets s to protected mode without paging: CS from cs, every other data
 * segment from ds, TR from tr, no LDT, the GDT at CT_GDT_BASE. The caller sets
 * the GDT limit, IDT, RIP, RSP and RFLAGS. wide reads the descriptors as
 * ct_seg_from_gdt16 does.
 */
static inline void ct_flat_state(const uint8_t *ram, struct gh_cpu_state *s, uint16_t cs,
				 uint16_t ds, uint16_t tr, bool wide)
{
	void (*load)(const uint8_t *, uint16_t, struct gh_segment *) =
		wide ? ct_seg_from_gdt16 : ct_seg_from_gdt;

	gh_cpu_state_reset(s, true);
	s->cr0 = GH_CR0_PE | GH_CR0_ET;
	load(ram, cs, &s->seg[GH_CS]);
	for (unsigned i = 0; i < GH_NR_SEGS; i++) {
		if (i != GH_CS)
			load(ram, ds, &s->seg[i]);
	}
	load(ram, tr, &s->tr);
	memset(&s->ldt, 0, sizeof(s->ldt));
	s->ldt.unusable = 1;
	s->gdt.base = CT_GDT_BASE;
}

/* Turns on paging and IA-32e mode (CR0.PG, CR4.PAE, EFER.LME/LMA) with cr3. */
static inline void ct_long_mode(struct gh_cpu_state *s, uint64_t cr3)
{
	s->cr0 = GH_CR0_PE | GH_CR0_ET | GH_CR0_PG;
	s->cr4 = GH_CR4_PAE;
	s->efer = GH_EFER_LME | GH_EFER_LMA;
	s->cr3 = cr3;
}

/*
 * 64-bit mode at CPL 0 as most CPU tests set it up: code 0x08, data 0x10 and
 * TR 0x20 from the GDT (ct_flat_state), paging from pml4, 32 64-bit gates
 * at CT_IDT_BASE, RFLAGS 2, and the given GDT limit, RSP and RIP.
 */
static inline void ct_long_state(const uint8_t *ram, struct gh_cpu_state *s, uint64_t pml4,
				 uint16_t gdt_limit, uint64_t rsp, uint64_t rip)
{
	ct_flat_state(ram, s, 0x08, 0x10, 0x20, false);
	ct_long_mode(s, pml4);
	s->gdt.limit = gdt_limit;
	s->idt.base = CT_IDT_BASE;
	s->idt.limit = 32 * 16 - 1;
	s->rflags = 2;
	s->gpr[GH_RSP] = rsp;
	s->rip = rip;
}

/*
 * The top of a 4-level table at pml4: PML4[0] -> pml4 + 0x1000, PDPT[0] ->
 * pml4 + 0x2000, both with flags. Returns the page directory's address,
 * which the caller fills.
 */
static inline uint64_t ct_map_low(uint8_t *ram, uint64_t pml4, uint64_t flags)
{
	ct_put64(ram, pml4, (pml4 + 0x1000) | flags);
	ct_put64(ram, pml4 + 0x1000, (pml4 + 0x2000) | flags);
	return pml4 + 0x2000;
}

/*
 * A 64-bit machine for CPU tests: ram_size bytes of RAM, a CPU in 64-bit
 * mode at CPL 0 (ct_long_state) with RSP rsp and RIP rip, the first 2 MiB
 * identity-mapped with 4 KiB pages (tables at pml4, the page table at
 * pml4 + 0x3000) but for the page at hole, a TSS at tss, and every
 * exception vector on a HLT at hbase + vector * 0x100.
 */
struct ct_env64 {
	uint8_t *ram;
	uint64_t ram_size;
	struct gh_cpu *cpu;
	struct gh_cpu_state s;
};

static inline uint8_t *ct_env64_page(void *opaque, uint64_t gpa, bool *writable)
{
	struct ct_env64 *e = opaque;

	*writable = true;
	return ct_ram_page(e->ram, e->ram_size, gpa);
}

static inline void ct_env64_init(struct ct_env64 *e, uint64_t ram_size, uint64_t pml4,
				 uint64_t tss, uint64_t hole, uint64_t hbase, uint64_t rsp,
				 uint64_t rip)
{
	struct gh_cpu_bus bus = { .opaque = e, .page = ct_env64_page };
	uint64_t pd, pt = pml4 + 0x3000;

	e->ram_size = ram_size;
	e->cpu = ct_cpu_new(bus, &e->ram, ram_size);
	ct_gdt_set(e->ram, 0x08, ct_seg_desc(0, 0xfffff, 0x9b, 0xa));
	ct_gdt_set(e->ram, 0x10, ct_seg_desc(0, 0xfffff, 0x93, 0xc));
	ct_gdt_set(e->ram, 0x20, ct_seg_desc((uint32_t)tss, 0x67, 0x8b, 0));
	pd = ct_map_low(e->ram, pml4, 3);
	ct_put64(e->ram, pd, pt | 3);
	for (uint64_t k = 0; k < 512; k++)
		ct_put64(e->ram, pt + k * 8, (k << 12) | 3);
	ct_put64(e->ram, pt + (hole >> 12) * 8, 0);
	for (unsigned v = 0; v < 32; v++) {
		e->ram[hbase + v * 0x100] = 0xf4;
		ct_idt64_set(e->ram, v, 0x08, hbase + v * 0x100, 0x8e, 0);
	}
	ct_long_state(e->ram, &e->s, pml4, 0x27, rsp, rip);
}

/* A real-mode segment register load: the base is sel * 16 (SDM 20.1.1). */
static inline void ct_real_seg(struct gh_cpu_state *s, unsigned sreg, uint16_t sel)
{
	s->seg[sreg].selector = sel;
	s->seg[sreg].base = (uint32_t)sel << 4;
}

/* A virtual-8086 segment: base sel * 16, limit 64 KiB, DPL 3, the given type. */
static inline void ct_v86_seg(struct gh_segment *seg, uint16_t sel, unsigned type)
{
	*seg = (struct gh_segment){
	    .selector = sel,
	    .base = (uint32_t)sel << 4,
	    .limit = 0xffff,
	    .type = type,
	    .s = 1,
	    .dpl = 3,
	    .present = 1,
	};
}

/* ---- host-differential tests ---- */

/* xorshift64*: fixed seeds give the same cases on every run. */
struct ct_rng {
	uint64_t s;
};

static inline uint64_t ct_rnd(struct ct_rng *g)
{
	uint64_t x = g->s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	g->s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static inline unsigned ct_rndn(struct ct_rng *g, unsigned n)
{
	return (unsigned)(ct_rnd(g) % n);
}

/*
 * size bytes of RWX host memory at one of a few fixed addresses below
 * 1 GiB, so that the same address works natively and in a guest that
 * identity-maps it; NULL if none is free. *va gets the address.
 */
static inline uint8_t *ct_map_window(size_t size, uint64_t *va)
{
	static const uint64_t choices[] = {0x10000000, 0x18000000, 0x28000000, 0x38000000};

	for (unsigned k = 0; k < G_N_ELEMENTS(choices); k++) {
		void *p = mmap((void *)choices[k], size, PROT_READ | PROT_WRITE | PROT_EXEC,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

		if (p == MAP_FAILED)
			continue;
		if (p != (void *)choices[k]) {
			munmap(p, size);
			continue;
		}
		*va = choices[k];
		return p;
	}
	return NULL;
}

#endif
