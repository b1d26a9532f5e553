/*
 * The software CPU's own memory accesses: descriptor tables, the TSS and
 * interrupt stacks (SDM vol. 3A, 3.4 and 6.12), and guest-physical access
 * through the bus callbacks.
 */
#include "cpu/cpu-internal.h"
#include "cpu/mmu.h"

#include <string.h>

#define PAGE_SIZE 4096u
#define PAGE_MASK ((uint64_t)PAGE_SIZE - 1)

/*
 * MMIO is reached in the widest naturally sized pieces the bus accepts;
 * anything odd goes a byte at a time, as a bus cycle split would.
 */
static void mmio_read(struct gh_cpu *cpu, uint64_t gpa, uint8_t *buf, unsigned len)
{
	uint64_t v;

	if (len == 1 || len == 2 || len == 4 || len == 8) {
		v = cpu->bus.mmio_read(cpu->bus.opaque, gpa, len);
		memcpy(buf, &v, len);
		return;
	}
	for (unsigned i = 0; i < len; i++)
		buf[i] = cpu->bus.mmio_read(cpu->bus.opaque, gpa + i, 1);
}

static void mmio_write(struct gh_cpu *cpu, uint64_t gpa, const uint8_t *buf, unsigned len)
{
	uint64_t v = 0;

	if (len == 1 || len == 2 || len == 4 || len == 8) {
		memcpy(&v, buf, len);
		cpu->bus.mmio_write(cpu->bus.opaque, gpa, v, len);
		return;
	}
	for (unsigned i = 0; i < len; i++)
		cpu->bus.mmio_write(cpu->bus.opaque, gpa + i, buf[i], 1);
}

/*
 * Guest-physical addresses: bus.page() gives the host address of a whole
 * RAM/ROM page; where it gives none, the access goes to MMIO. Writes to
 * ROM go to the MMIO bus, where nothing takes them unless a device (a
 * flash chip) mapped itself over its ROM. The A20 gate is the bus
 * callbacks' business (accel/soft.c masks bit 20 in page and MMIO lookups),
 * so page walks and system accesses see it too.
 */
void gh_cpu_read_phys(struct gh_cpu *cpu, uint64_t gpa, void *buf, unsigned len)
{
	uint8_t *out = buf;

	while (len) {
		unsigned chunk = MIN(len, PAGE_SIZE - (unsigned)(gpa & PAGE_MASK));
		bool writable;
		uint8_t *page =
		    cpu->bus.page(cpu->bus.opaque, gpa & ~PAGE_MASK, &writable);

		if (page)
			memcpy(out, page + (gpa & PAGE_MASK), chunk);
		else
			mmio_read(cpu, gpa, out, chunk);
		gpa += chunk;
		out += chunk;
		len -= chunk;
	}
}

void gh_cpu_write_phys(struct gh_cpu *cpu, uint64_t gpa, const void *buf, unsigned len)
{
	const uint8_t *in = buf;

	while (len) {
		unsigned chunk = MIN(len, PAGE_SIZE - (unsigned)(gpa & PAGE_MASK));
		bool writable = false;
		uint8_t *page =
		    cpu->bus.page(cpu->bus.opaque, gpa & ~PAGE_MASK, &writable);

		if (page && writable) {
			/* stacks and descriptors may share a page with code */
			if (gh_exec_is_code_page(cpu, gpa & ~PAGE_MASK))
				gh_exec_code_written(cpu, gpa, chunk);
			memcpy(page + (gpa & PAGE_MASK), in, chunk);
		} else {
			/* ROM: the MMIO bus gets the write, as a KVM read-only
			 * slot exits with it (a flash chip takes commands so) */
			mmio_write(cpu, gpa, in, chunk);
		}
		gpa += chunk;
		in += chunk;
		len -= chunk;
	}
}

/* The MMU reaches paging structures through the same bus. */
static uint64_t mmu_read_pte(void *opaque, uint64_t gpa, unsigned size)
{
	uint64_t v = 0;

	gh_cpu_read_phys(opaque, gpa, &v, size);
	return v;
}

static bool mmu_cmpxchg_pte(void *opaque, uint64_t gpa, unsigned size, uint64_t expected,
			    uint64_t desired)
{
	struct gh_cpu *cpu = opaque;
	bool writable = false;
	uint8_t *page = cpu->bus.page(cpu->bus.opaque, gpa & ~PAGE_MASK, &writable);
	uint8_t *p;

	/* entries in ROM or MMIO keep their bits, as the contract says */
	if (!page || !writable || (gpa & (size - 1)))
		return true;
	p = page + (gpa & PAGE_MASK);
	if (size == 8)
		return __atomic_compare_exchange_n((uint64_t *)p, &expected, desired,
						   false, __ATOMIC_SEQ_CST,
						   __ATOMIC_SEQ_CST);
	uint32_t e32 = expected;

	return __atomic_compare_exchange_n((uint32_t *)p, &e32, (uint32_t)desired, false,
					   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

static void *mmu_page(void *opaque, uint64_t gpa_page, bool *writable)
{
	struct gh_cpu *cpu = opaque;
	void *p = cpu->bus.page(cpu->bus.opaque, gpa_page, writable);

	/* pages holding decoded code take the slow path for writes */
	if (p && *writable && gh_exec_is_code_page(cpu, gpa_page))
		*writable = false;
	return p;
}

static const struct gh_mmu_ops cpu_mmu_ops = {
    .read_pte = mmu_read_pte,
    .cmpxchg_pte = mmu_cmpxchg_pte,
    .page = mmu_page,
};

void gh_cpu_mmu_ctx(struct gh_cpu *cpu, struct gh_mmu_ctx *ctx, unsigned cpl)
{
	*ctx = (struct gh_mmu_ctx){
	    .cr0 = cpu->cr0,
	    .cr3 = cpu->cr3,
	    .cr4 = cpu->cr4,
	    .efer = cpu->efer,
	    .cpl = cpl,
	    .ac = cpu->rflags & GH_FL_AC,
	    .ops = &cpu_mmu_ops,
	    .opaque = cpu,
	};
	memcpy(ctx->pdpte, cpu->pdpte, sizeof(ctx->pdpte));
}

/*
 * Linear to physical with paging on, for the CPU's own structures (pl < 0:
 * implicit supervisor accesses) and stacks (pl = the privilege pushing).
 * These accesses are rare enough to walk every time; the run loop's TLB
 * (gh_mmu_access) is for instruction operands.
 */
static uint64_t translate(struct gh_cpu *cpu, uint64_t lin, bool write, int pl)
{
	struct gh_mmu_ctx ctx;
	struct gh_mmu_result r;
	unsigned access = write ? GH_MMU_WRITE : GH_MMU_READ;

	if (!(cpu->cr0 & GH_CR0_PG))
		return lin;
	if (pl < 0)
		access |= GH_MMU_IMPLICIT;
	gh_cpu_mmu_ctx(cpu, &ctx, pl < 0 ? 0 : (unsigned)pl);
	if (gh_mmu_translate(&ctx, lin, access, &r) != GH_MMU_OK)
		gh_cpu_raise_pf(cpu, lin, r.error_code);
	return r.gpa;
}

void gh_cpu_mem_cr3_loaded(struct gh_cpu *cpu)
{
	struct gh_mmu_ctx ctx;

	/*
	 * PAE paging caches the four PDPTEs at CR3 load. A reserved bit makes
	 * MOV to CR3 #GP; a task switch has no such check here yet.
	 * Non-global TLB entries go with the old CR3.
	 */
	gh_tlb_flush_nonglobal(cpu->tlb);
	if ((cpu->cr0 & GH_CR0_PG) && (cpu->cr4 & GH_CR4_PAE) &&
	    !(cpu->efer & GH_EFER_LMA)) {
		gh_cpu_mmu_ctx(cpu, &ctx, 0);
		if (gh_mmu_load_pdptes(&ctx, cpu->cr3) == GH_MMU_OK)
			memcpy(cpu->pdpte, ctx.pdpte, sizeof(cpu->pdpte));
	}
}

/* Outside long mode a linear address is 32 bits wide (it wraps at 4 GiB). */
static uint64_t lin_mask(const struct gh_cpu *cpu, uint64_t lin)
{
	return gh_cpu_long_mode(cpu) ? lin : (uint32_t)lin;
}

/*
 * Every page of an access is translated before any byte moves, so a write
 * that faults on its second page changes nothing.
 */
static void linear_access(struct gh_cpu *cpu, uint64_t lin, void *buf, unsigned len,
			  bool write, int pl)
{
	uint64_t gpa[2];
	unsigned first, n = 0;
	uint64_t a = lin_mask(cpu, lin);

	if (!len)
		return;
	/* the MMU sees only canonical addresses (descriptor-table bases
	 * reach here unchecked): #GP(0), as a non-canonical reference is */
	if (gh_cpu_long_mode(cpu) &&
	    (!gh_cpu_canonical(a) || !gh_cpu_canonical(a + len - 1)))
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	first = MIN(len, PAGE_SIZE - (unsigned)(a & PAGE_MASK));
	gpa[n++] = translate(cpu, a, write, pl);
	if (first < len) {
		/* system structures are at most 16 bytes: two pages at most */
		gpa[n++] = translate(cpu, lin_mask(cpu, a + first), write, pl);
	}
	if (write) {
		gh_cpu_write_phys(cpu, gpa[0], buf, first);
		if (n > 1)
			gh_cpu_write_phys(cpu, gpa[1], (uint8_t *)buf + first,
					  len - first);
	} else {
		gh_cpu_read_phys(cpu, gpa[0], buf, first);
		if (n > 1)
			gh_cpu_read_phys(cpu, gpa[1], (uint8_t *)buf + first,
					 len - first);
	}
}

void gh_cpu_read_sys(struct gh_cpu *cpu, uint64_t lin, void *buf, unsigned len)
{
	g_assert(len <= PAGE_SIZE);
	linear_access(cpu, lin, buf, len, false, -1);
}

void gh_cpu_write_sys(struct gh_cpu *cpu, uint64_t lin, const void *buf, unsigned len)
{
	g_assert(len <= PAGE_SIZE);
	linear_access(cpu, lin, (void *)buf, len, true, -1);
}

void gh_cpu_write_stack(struct gh_cpu *cpu, uint64_t lin, const void *buf, unsigned len,
			unsigned pl)
{
	g_assert(len <= PAGE_SIZE);
	linear_access(cpu, lin, (void *)buf, len, true, (int)pl);
}

void gh_cpu_read_stack(struct gh_cpu *cpu, uint64_t lin, void *buf, unsigned len,
		       unsigned pl)
{
	g_assert(len <= PAGE_SIZE);
	linear_access(cpu, lin, buf, len, false, (int)pl);
}

/* Stacks (SDM vol. 3A, 6.12.1 and vol. 1, 6.2): limits, expand-down, widths. */

void gh_cpu_stack_init(struct gh_cpu *cpu, struct gh_stack *st,
		       const struct gh_segment *ss, uint64_t sp, unsigned pl,
		       uint32_t err)
{
	st->sp = sp;
	st->pl = pl;
	st->err = err;
	if (cpu->mode == GH_MODE_LONG) {
		st->width = 8;
		st->base = 0;
		st->limit = 0xffffffff;
		st->expand_down = false;
		return;
	}
	st->width = ss->db ? 4 : 2;
	st->base = ss->base;
	st->limit = ss->limit;
	st->expand_down = ss->s && !(ss->type & 8) && (ss->type & 4);
}

static uint64_t width_mask(unsigned width)
{
	return width == 8 ? ~0ULL : width == 4 ? 0xffffffffULL : 0xffffULL;
}

/* The linear address of size bytes at stack offset off; faults if outside. */
static uint64_t stack_addr(struct gh_cpu *cpu, const struct gh_stack *st, uint64_t off,
			   unsigned size)
{
	uint64_t last;

	if (st->width == 8) {
		if (!gh_cpu_canonical(off) || !gh_cpu_canonical(off + size - 1))
			gh_cpu_raise(cpu, GH_EXC_SS, st->err);
		return off;
	}
	last = off + size - 1;
	if (st->expand_down) {
		uint64_t upper = width_mask(st->width);

		if (off <= st->limit || last > upper)
			gh_cpu_raise(cpu, GH_EXC_SS, st->err);
	} else if (last > st->limit) {
		gh_cpu_raise(cpu, GH_EXC_SS, st->err);
	}
	return st->base + off;
}

void gh_cpu_stack_push(struct gh_cpu *cpu, struct gh_stack *st, uint64_t val,
		       unsigned size)
{
	uint64_t mask = width_mask(st->width);
	uint64_t off = ((st->sp & mask) - size) & mask;
	uint64_t lin = stack_addr(cpu, st, off, size);

	gh_cpu_write_stack(cpu, lin, &val, size, st->pl);
	st->sp = (st->sp & ~mask) | off;
}

uint64_t gh_cpu_stack_peek(struct gh_cpu *cpu, const struct gh_stack *st, uint64_t off,
			   unsigned size)
{
	uint64_t mask = width_mask(st->width);
	uint64_t o = ((st->sp & mask) + off) & mask;
	uint64_t val = 0;
	uint64_t lin = stack_addr(cpu, st, o, size);

	gh_cpu_read_stack(cpu, lin, &val, size, st->pl);
	return val;
}

uint64_t gh_cpu_stack_pop(struct gh_cpu *cpu, struct gh_stack *st, unsigned size)
{
	uint64_t val = gh_cpu_stack_peek(cpu, st, 0, size);

	gh_cpu_stack_adjust(st, size);
	return val;
}

void gh_cpu_stack_adjust(struct gh_stack *st, uint64_t n)
{
	uint64_t mask = width_mask(st->width);

	st->sp = (st->sp & ~mask) | ((st->sp + n) & mask);
}
