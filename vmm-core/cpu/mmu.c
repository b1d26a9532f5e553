/*
 * The software CPU's MMU: 32-bit, PAE and 4-level page walks, access rights,
 * A/D bits and a host-pointer TLB (Intel SDM vol. 3A, 4.3-4.8 and 4.10).
 */
#include "cpu/mmu.h"

#include <string.h>

/* Bits hi:lo of a 64-bit value. */
#define BITS(hi, lo) ((~0ULL >> (63 - (hi))) & ~((1ULL << (lo)) - 1))

#define M		GH_MMU_MAXPHYADDR
#define ADDR_MASK	BITS(M - 1, 12)

enum { WALK_OK, WALK_NOT_PRESENT, WALK_RSVD };

/* The entries one walk used, for the A/D update, and what they combine to. */
struct walk {
	uint64_t gpa[4];
	uint64_t pte[4];
	unsigned n;
	unsigned size;		/* 4 (32-bit paging) or 8 */
	uint64_t paddr;
	unsigned shift;
	bool user;		/* U/S = 1 in every entry */
	bool writable;		/* R/W = 1 in every entry */
	bool nx;		/* XD = 1 in some entry, with EFER.NXE = 1 */
	bool global;
};

static uint64_t read_entry(const struct gh_mmu_ctx *ctx, struct walk *w, uint64_t gpa,
			   bool nxe)
{
	uint64_t e = ctx->ops->read_pte(ctx->opaque, gpa, w->size);

	if (w->size == 4)
		e &= 0xffffffffu;
	w->gpa[w->n] = gpa;
	w->pte[w->n] = e;
	w->n++;
	w->user &= !!(e & GH_PTE_US);
	w->writable &= !!(e & GH_PTE_RW);
	if (nxe)
		w->nx |= !!(e & GH_PTE_XD);
	return e;
}

static void leaf(struct walk *w, uint64_t e, uint64_t base, uint64_t linear,
		 unsigned shift)
{
	w->shift = shift;
	w->paddr = base | (linear & BITS(shift - 1, 0));
	w->global = !!(e & GH_PTE_G);
}

/* SDM 4.3: 32-bit paging, with 4 MiB pages under CR4.PSE and PSE-36. */
static int walk_32bit(const struct gh_mmu_ctx *ctx, uint32_t linear, struct walk *w)
{
	uint64_t e;

	w->size = 4;
	e = read_entry(ctx, w, (ctx->cr3 & 0xfffff000u) + (linear >> 22) * 4, false);
	if (!(e & GH_PTE_P))
		return WALK_NOT_PRESENT;
	if ((e & GH_PTE_PS) && (ctx->cr4 & GH_CR4_PSE)) {
		/* Bits 20:13 hold physical bits 39:32; 21:(M-19) are reserved. */
		if (e & BITS(21, M - 19))
			return WALK_RSVD;
		leaf(w, e, (e & 0xffc00000u) | ((e & BITS(M - 20, 13)) << 19), linear, 22);
		return WALK_OK;
	}
	e = read_entry(ctx, w, (e & 0xfffff000u) + ((linear >> 12) & 1023) * 4, false);
	if (!(e & GH_PTE_P))
		return WALK_NOT_PRESENT;
	leaf(w, e, e & 0xfffff000u, linear, 12);
	return WALK_OK;
}

/* SDM 4.4: PAE paging; the PDPTEs come from registers and carry no rights. */
static int walk_pae(const struct gh_mmu_ctx *ctx, uint32_t linear, struct walk *w)
{
	bool nxe = ctx->efer & GH_EFER_NXE;
	uint64_t rsvd = BITS(62, M) | (nxe ? 0 : GH_PTE_XD);
	uint64_t pdpte = ctx->pdpte[linear >> 30];
	uint64_t e;

	w->size = 8;
	if (!(pdpte & GH_PTE_P))
		return WALK_NOT_PRESENT;
	e = read_entry(ctx, w, (pdpte & ADDR_MASK) + ((linear >> 21) & 511) * 8, nxe);
	if (!(e & GH_PTE_P))
		return WALK_NOT_PRESENT;
	if (e & GH_PTE_PS) {
		if (e & (rsvd | BITS(20, 13)))
			return WALK_RSVD;
		leaf(w, e, e & BITS(M - 1, 21), linear, 21);
		return WALK_OK;
	}
	if (e & rsvd)
		return WALK_RSVD;
	e = read_entry(ctx, w, (e & ADDR_MASK) + ((linear >> 12) & 511) * 8, nxe);
	if (!(e & GH_PTE_P))
		return WALK_NOT_PRESENT;
	if (e & rsvd)
		return WALK_RSVD;
	leaf(w, e, e & ADDR_MASK, linear, 12);
	return WALK_OK;
}

/* SDM 4.5: 4-level paging with 2 MiB and 1 GiB pages; bits 63:48 unused. */
static int walk_4level(const struct gh_mmu_ctx *ctx, uint64_t linear, struct walk *w)
{
	bool nxe = ctx->efer & GH_EFER_NXE;
	uint64_t rsvd = BITS(51, M) | (nxe ? 0 : GH_PTE_XD);
	uint64_t table = ctx->cr3 & ADDR_MASK;
	int level;

	w->size = 8;
	for (level = 4; level >= 1; level--) {
		unsigned shift = 12 + 9 * (level - 1);
		uint64_t e = read_entry(ctx, w, table + ((linear >> shift) & 511) * 8, nxe);
		uint64_t r = rsvd;

		if (!(e & GH_PTE_P))
			return WALK_NOT_PRESENT;
		if (level == 4)
			r |= GH_PTE_PS;
		else if (level > 1 && (e & GH_PTE_PS))
			r |= BITS(shift - 1, 13);
		if (e & r)
			return WALK_RSVD;
		if (level == 1 || (level < 4 && (e & GH_PTE_PS))) {
			leaf(w, e, e & BITS(M - 1, shift), linear, shift);
			return WALK_OK;
		}
		table = e & ADDR_MASK;
	}
	return WALK_OK;	/* not reached: level 1 always returns */
}

/*
 * Access rights of a translation for every (access, class) pair, SDM 4.6.
 * Data accesses to user pages: supervisor ones need SMAP off, or AC = 1 for
 * an explicit access (the SUP_AC class). Writes: user ones need R/W, and so
 * do supervisor ones under CR0.WP. Fetches: XD clear (under NXE), and no
 * supervisor fetch from a user page under SMEP.
 */
static uint16_t access_rights(const struct gh_mmu_ctx *ctx, const struct walk *w)
{
	bool wp = ctx->cr0 & GH_CR0_WP;
	bool sup_write = w->writable || !wp;
	bool sup_exec = !w->nx && !(w->user && (ctx->cr4 & GH_CR4_SMEP));
	uint16_t p = GH_TLB_R(GH_TLB_SUP_AC);

	if (w->user) {
		p |= GH_TLB_R(GH_TLB_USER);
		if (w->writable)
			p |= GH_TLB_W(GH_TLB_USER);
		if (!w->nx)
			p |= GH_TLB_X(GH_TLB_USER);
	}
	if (sup_write)
		p |= GH_TLB_W(GH_TLB_SUP_AC);
	if (!w->user || !(ctx->cr4 & GH_CR4_SMAP)) {
		p |= GH_TLB_R(GH_TLB_SUP);
		if (sup_write)
			p |= GH_TLB_W(GH_TLB_SUP);
	}
	if (sup_exec)
		p |= GH_TLB_X(GH_TLB_SUP) | GH_TLB_X(GH_TLB_SUP_AC);
	return p;
}

/*
 * A in every entry used, D in the final one for a write (SDM 4.8). Each
 * update is a compare-and-swap against the value the walk used; if another
 * vCPU changed the entry meanwhile the walk is redone.
 */
static bool set_accessed_dirty(const struct gh_mmu_ctx *ctx, struct walk *w, bool write)
{
	unsigned i;

	for (i = 0; i < w->n; i++) {
		uint64_t want = w->pte[i] | GH_PTE_A;

		if (write && i == w->n - 1)
			want |= GH_PTE_D;
		if (want == w->pte[i])
			continue;
		if (!ctx->ops->cmpxchg_pte(ctx->opaque, w->gpa[i], w->size, w->pte[i], want))
			return false;
		w->pte[i] = want;
	}
	return true;
}

static unsigned need_bit(unsigned type, unsigned mode)
{
	return 1u << (type * 3 + mode);
}

int gh_mmu_translate(struct gh_mmu_ctx *ctx, uint64_t linear, unsigned access,
		     struct gh_mmu_result *result)
{
	unsigned type = access & 3;
	unsigned mode = gh_mmu_mode(ctx, access);
	uint32_t ec = 0;

	memset(result, 0, sizeof(*result));
	result->linear = linear;
	if (type > GH_MMU_EXEC)
		type = GH_MMU_READ;

	if (!(ctx->cr0 & GH_CR0_PG)) {
		result->gpa = (uint32_t)linear;
		result->perms = GH_TLB_PERM_ALL;
		result->page_shift = 12;
		result->global = true;
		result->dirty = true;
		return GH_MMU_OK;
	}

	if (type == GH_MMU_WRITE)
		ec |= GH_PFEC_W;
	if (mode == GH_TLB_USER)
		ec |= GH_PFEC_U;
	/* I/D is reported only where fetches can fault for being fetches. */
	if (type == GH_MMU_EXEC && ((ctx->cr4 & GH_CR4_SMEP) ||
				    ((ctx->cr4 & GH_CR4_PAE) && (ctx->efer & GH_EFER_NXE))))
		ec |= GH_PFEC_I;

	for (;;) {
		struct walk w = { .user = true, .writable = true };
		uint16_t perms;
		int r;

		if (!(ctx->cr4 & GH_CR4_PAE))
			r = walk_32bit(ctx, (uint32_t)linear, &w);
		else if (ctx->efer & GH_EFER_LMA)
			r = walk_4level(ctx, linear, &w);
		else
			r = walk_pae(ctx, (uint32_t)linear, &w);

		if (r == WALK_NOT_PRESENT) {
			result->error_code = ec;
			return GH_MMU_PF;
		}
		if (r == WALK_RSVD) {
			result->error_code = ec | GH_PFEC_P | GH_PFEC_RSVD;
			return GH_MMU_PF;
		}
		perms = access_rights(ctx, &w);
		if (!(perms & need_bit(type, mode))) {
			result->error_code = ec | GH_PFEC_P;
			return GH_MMU_PF;
		}
		if (!set_accessed_dirty(ctx, &w, type == GH_MMU_WRITE))
			continue;

		result->gpa = w.paddr;
		result->perms = perms;
		result->page_shift = w.shift;
		result->global = w.global && (ctx->cr4 & GH_CR4_PGE);
		result->dirty = !!(w.pte[w.n - 1] & GH_PTE_D);
		return GH_MMU_OK;
	}
}

int gh_mmu_load_pdptes(struct gh_mmu_ctx *ctx, uint64_t cr3)
{
	uint64_t rsvd = BITS(2, 1) | BITS(8, 5) | BITS(63, M);
	uint64_t base = cr3 & 0xffffffe0u;
	uint64_t v[4];
	unsigned i;

	for (i = 0; i < 4; i++) {
		v[i] = ctx->ops->read_pte(ctx->opaque, base + i * 8, 8);
		if ((v[i] & GH_PTE_P) && (v[i] & rsvd))
			return GH_MMU_GP;
	}
	memcpy(ctx->pdpte, v, sizeof(v));
	return GH_MMU_OK;
}

bool gh_mmu_pdptes_needed(uint64_t old_cr0, uint64_t old_cr4, uint64_t cr0,
			  uint64_t cr4, uint64_t efer)
{
	bool pae = (cr0 & GH_CR0_PG) && (cr4 & GH_CR4_PAE) && !(efer & GH_EFER_LME);
	bool changed = ((old_cr0 ^ cr0) & (GH_CR0_CD | GH_CR0_NW | GH_CR0_PG)) ||
		       ((old_cr4 ^ cr4) & (GH_CR4_PAE | GH_CR4_PGE | GH_CR4_PSE |
					   GH_CR4_SMEP));

	return pae && changed;
}

static void drop(struct gh_tlb *tlb, unsigned idx)
{
	tlb->e[idx].tag = 0;
	tlb->e[idx].addend = 0;
	memset(&tlb->info[idx], 0, sizeof(tlb->info[idx]));
}

static void note_large(struct gh_tlb *tlb, uint64_t page, unsigned shift)
{
	uint64_t lo = page & ~BITS(shift - 1, 0);
	uint64_t hi = lo | BITS(shift - 1, 0);

	if (!tlb->large_shifts) {
		tlb->large_lo = lo;
		tlb->large_hi = hi;
	} else {
		if (lo < tlb->large_lo)
			tlb->large_lo = lo;
		if (hi > tlb->large_hi)
			tlb->large_hi = hi;
	}
	tlb->large_shifts |= 1u << shift;
}

static void fill(struct gh_tlb *tlb, uint64_t linear, const struct gh_mmu_result *res,
		 void *host, bool writable)
{
	uint64_t page = linear & GH_TLB_PAGE_MASK;
	unsigned idx = (linear >> 12) & (GH_TLB_SIZE - 1);
	struct gh_tlb_info *in = &tlb->info[idx];
	uint64_t fast = 0;

	if (host) {
		fast = res->perms;
		if (!writable || !res->dirty)
			fast &= ~(uint64_t)GH_TLB_W_ALL;
	}
	tlb->e[idx].tag = page | fast;
	tlb->e[idx].addend = (uintptr_t)host - (uintptr_t)page;
	in->gpa = res->gpa & GH_TLB_PAGE_MASK;
	in->perms = res->perms;
	in->shift = res->page_shift;
	in->flags = GH_TLB_F_VALID | (res->global ? GH_TLB_F_GLOBAL : 0) |
		    (res->dirty ? GH_TLB_F_DIRTY : 0);
	if (res->page_shift > 12)
		note_large(tlb, page, res->page_shift);
}

int gh_mmu_access(struct gh_mmu_ctx *ctx, struct gh_tlb *tlb, uint64_t linear,
		  unsigned access, struct gh_mmu_result *result)
{
	unsigned type = access & 3;
	unsigned mode = gh_mmu_mode(ctx, access);
	unsigned idx = (linear >> 12) & (GH_TLB_SIZE - 1);
	const struct gh_tlb_info *in = &tlb->info[idx];
	uint64_t page = linear & GH_TLB_PAGE_MASK;
	bool writable = false;
	void *host;

	if (type > GH_MMU_EXEC)
		type = GH_MMU_READ;
	if ((in->flags & GH_TLB_F_VALID) && (tlb->e[idx].tag & GH_TLB_PAGE_MASK) == page &&
	    (in->perms & need_bit(type, mode)) &&
	    (type != GH_MMU_WRITE || (in->flags & GH_TLB_F_DIRTY))) {
		memset(result, 0, sizeof(*result));
		result->linear = linear;
		result->gpa = in->gpa | (linear & 0xfff);
		result->perms = in->perms;
		result->page_shift = in->shift;
		result->global = in->flags & GH_TLB_F_GLOBAL;
		result->dirty = in->flags & GH_TLB_F_DIRTY;
	} else {
		int r = gh_mmu_translate(ctx, linear, access, result);

		if (r != GH_MMU_OK) {
			if ((in->flags & GH_TLB_F_VALID) &&
			    (tlb->e[idx].tag & GH_TLB_PAGE_MASK) == page)
				drop(tlb, idx);
			return r;
		}
	}

	/*
	 * Ask for the host page even on a hit: whether it holds code, and so
	 * whether writes may take the fast path, changes behind the TLB's back.
	 */
	host = ctx->ops->page(ctx->opaque, result->gpa & GH_TLB_PAGE_MASK, &writable);
	fill(tlb, linear, result, host, writable);
	result->host = host ? (uint8_t *)host + (linear & 0xfff) : NULL;
	result->host_writable = host && writable;
	return GH_MMU_OK;
}

void gh_tlb_flush_all(struct gh_tlb *tlb)
{
	tlb->generation++;
	memset(tlb->e, 0, sizeof(tlb->e));
	memset(tlb->info, 0, sizeof(tlb->info));
	tlb->large_shifts = 0;
	tlb->large_lo = 0;
	tlb->large_hi = 0;
}

void gh_tlb_flush_nonglobal(struct gh_tlb *tlb)
{
	unsigned i;

	tlb->generation++;
	tlb->large_shifts = 0;
	for (i = 0; i < GH_TLB_SIZE; i++) {
		const struct gh_tlb_info *in = &tlb->info[i];

		if (!(in->flags & GH_TLB_F_VALID))
			continue;
		if (!(in->flags & GH_TLB_F_GLOBAL))
			drop(tlb, i);
		else if (in->shift > 12)
			note_large(tlb, tlb->e[i].tag & GH_TLB_PAGE_MASK, in->shift);
	}
}

void gh_tlb_flush_page(struct gh_tlb *tlb, uint64_t linear)
{
	unsigned idx = (linear >> 12) & (GH_TLB_SIZE - 1);
	unsigned s;

	tlb->generation++;
	if ((tlb->info[idx].flags & GH_TLB_F_VALID) &&
	    (tlb->e[idx].tag & GH_TLB_PAGE_MASK) == (linear & GH_TLB_PAGE_MASK))
		drop(tlb, idx);
	if (!tlb->large_shifts || linear < tlb->large_lo || linear > tlb->large_hi)
		return;

	/* The pieces of a 2^s-byte page sit in consecutive slots from its base. */
	for (s = 13; s < 32; s++) {
		uint64_t base = linear & ~BITS(s - 1, 0);
		uint64_t n = 1ULL << (s - 12);
		uint64_t i;

		if (!(tlb->large_shifts & (1u << s)))
			continue;
		if (n > GH_TLB_SIZE)
			n = GH_TLB_SIZE;
		for (i = 0; i < n; i++) {
			unsigned j = ((base >> 12) + i) & (GH_TLB_SIZE - 1);
			const struct gh_tlb_info *in = &tlb->info[j];

			if ((in->flags & GH_TLB_F_VALID) && in->shift == s &&
			    ((tlb->e[j].tag & GH_TLB_PAGE_MASK) >> s) == (linear >> s))
				drop(tlb, j);
		}
	}
}

bool gh_tlb_control_changed(struct gh_tlb *tlb, uint64_t old_cr0, uint64_t old_cr4,
			    uint64_t old_efer, uint64_t cr0, uint64_t cr4,
			    uint64_t efer)
{
	/*
	 * The SDM requires a flush only for PG 1->0, PGE and PCIDE 1->0 changes;
	 * the other bits are folded into the cached rights and paging mode,
	 * and flushing more than required is always allowed.
	 */
	if (((old_cr0 ^ cr0) & (GH_CR0_PG | GH_CR0_WP)) ||
	    ((old_cr4 ^ cr4) & (GH_CR4_PSE | GH_CR4_PAE | GH_CR4_PGE | GH_CR4_PCIDE |
				GH_CR4_SMEP | GH_CR4_SMAP)) ||
	    ((old_efer ^ efer) & (GH_EFER_NXE | GH_EFER_LME | GH_EFER_LMA))) {
		gh_tlb_flush_all(tlb);
		return true;
	}
	return false;
}

void gh_tlb_protect_code(struct gh_tlb *tlb, uint64_t gpa_page)
{
	unsigned i;

	gpa_page &= GH_TLB_PAGE_MASK;
	for (i = 0; i < GH_TLB_SIZE; i++) {
		if ((__atomic_load_n(&tlb->info[i].flags, __ATOMIC_RELAXED) & GH_TLB_F_VALID) &&
		    __atomic_load_n(&tlb->info[i].gpa, __ATOMIC_RELAXED) == gpa_page)
			__atomic_fetch_and(&tlb->e[i].tag, ~(uint64_t)GH_TLB_W_ALL,
					   __ATOMIC_RELAXED);
	}
}
