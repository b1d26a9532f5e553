/*
 * Tests for the soft CPU's MMU (cpu/mmu.h): 32-bit, PAE and 4-level walks,
 * access rights, A/D bits, reserved bits and #PF error codes (Intel SDM vol.
 * 3A, chapter 4), and the TLB's fast path, flush rules and code protection.
 */
#include "cpu/mmu.h"

#include <glib.h>
#include <string.h>

#define RAM_SIZE	(16u << 20)
#define TABLES_BASE	(8u << 20)	/* page tables are allocated from here */
#define ADDR		(((1ULL << GH_MMU_MAXPHYADDR) - 1) & ~0xfffULL)

#define P	GH_PTE_P
#define RW	GH_PTE_RW
#define US	GH_PTE_US
#define A	GH_PTE_A
#define D	GH_PTE_D
#define PS	GH_PTE_PS
#define G	GH_PTE_G
#define XD	GH_PTE_XD

struct env {
	uint8_t *ram;
	uint64_t next;		/* bump allocator for tables */
	struct gh_mmu_ctx ctx;
	struct gh_tlb *tlb;
	unsigned reads;
	unsigned cas;
	uint64_t rom_page;	/* reported read-only by the page callback */
	uint64_t code_page;	/* likewise, as a page holding decoded code */
	/* Simulated second vCPU: before the next CAS at race_gpa, or in race_val. */
	uint64_t race_gpa;
	uint64_t race_or;
	uint64_t race_andnot;
	bool race;
	/* What check_one() saw: fast-path hits, slow-path successes, faults. */
	unsigned fast, slow, faults;
};

static uint64_t rd(struct env *e, uint64_t gpa, unsigned size)
{
	uint64_t v = 0;

	g_assert_cmpuint(gpa + size, <=, RAM_SIZE);
	memcpy(&v, e->ram + gpa, size);
	return v;
}

static void wr(struct env *e, uint64_t gpa, unsigned size, uint64_t v)
{
	g_assert_cmpuint(gpa + size, <=, RAM_SIZE);
	memcpy(e->ram + gpa, &v, size);
}

static uint64_t read_pte(void *opaque, uint64_t gpa, unsigned size)
{
	struct env *e = opaque;
	uint64_t v = 0;

	g_assert(size == 4 || size == 8);
	e->reads++;
	if (gpa >= RAM_SIZE || RAM_SIZE - gpa < size)
		return size == 8 ? ~0ULL : 0xffffffffu;	/* floating bus */
	memcpy(&v, e->ram + gpa, size);
	return v;
}

static bool cmpxchg_pte(void *opaque, uint64_t gpa, unsigned size, uint64_t expected,
			uint64_t desired)
{
	struct env *e = opaque;
	uint64_t cur = 0;

	g_assert(size == 4 || size == 8);
	e->cas++;
	if (gpa >= RAM_SIZE || RAM_SIZE - gpa < size)
		return true;
	memcpy(&cur, e->ram + gpa, size);
	if (e->race && gpa == e->race_gpa) {
		e->race = false;
		cur = (cur | e->race_or) & ~e->race_andnot;
		memcpy(e->ram + gpa, &cur, size);
	}
	if (cur != expected)
		return false;
	memcpy(e->ram + gpa, &desired, size);
	return true;
}

static void *host_page(void *opaque, uint64_t gpa_page, bool *writable)
{
	struct env *e = opaque;

	g_assert_cmpuint(gpa_page & 0xfff, ==, 0);
	if (gpa_page >= RAM_SIZE)
		return NULL;
	*writable = gpa_page != e->rom_page && gpa_page != e->code_page;
	return e->ram + gpa_page;
}

static const struct gh_mmu_ops test_ops = {
	.read_pte = read_pte,
	.cmpxchg_pte = cmpxchg_pte,
	.page = host_page,
};

static struct env *env_new(void)
{
	struct env *e = g_new0(struct env, 1);

	e->ram = g_malloc0(RAM_SIZE);
	e->next = TABLES_BASE;
	e->tlb = g_new0(struct gh_tlb, 1);
	e->ctx.ops = &test_ops;
	e->ctx.opaque = e;
	e->rom_page = ~0ULL;
	e->code_page = ~0ULL;
	return e;
}

static void env_free(struct env *e)
{
	g_free(e->tlb);
	g_free(e->ram);
	g_free(e);
}

static uint64_t alloc_table(struct env *e)
{
	uint64_t t = e->next;

	e->next += 4096;
	g_assert_cmpuint(e->next, <=, RAM_SIZE);
	memset(e->ram + t, 0, 4096);
	return t;
}

/* 4-level paging with a fresh PML4; cr0/cr4/efer bits beyond the mode's own. */
static void setup_4level(struct env *e, uint64_t cr0, uint64_t cr4, uint64_t efer)
{
	e->ctx.cr0 = GH_CR0_PE | GH_CR0_PG | cr0;
	e->ctx.cr4 = GH_CR4_PAE | cr4;
	e->ctx.efer = GH_EFER_LME | GH_EFER_LMA | efer;
	e->ctx.cr3 = alloc_table(e);
}

/*
 * Map lin to pa with the leaf at level leaf (1: 4 KiB, 2: 2 MiB, 3: 1 GiB).
 * fl[level] are the flags of each entry; ent[level] receives its address.
 */
static void map4(struct env *e, uint64_t lin, uint64_t pa, int leaf, const uint64_t fl[5],
		 uint64_t ent[5])
{
	uint64_t table = e->ctx.cr3 & ADDR;
	int level;

	for (level = 4; level >= leaf; level--) {
		unsigned shift = 12 + 9 * (level - 1);
		uint64_t gpa = table + ((lin >> shift) & 511) * 8;
		uint64_t v;

		if (ent)
			ent[level] = gpa;
		if (level == leaf) {
			wr(e, gpa, 8, pa | fl[level] | (leaf > 1 ? PS : 0));
			return;
		}
		v = rd(e, gpa, 8);
		if (!(v & ADDR) || (v & PS))
			v = alloc_table(e);
		v = (v & ADDR) | fl[level];
		wr(e, gpa, 8, v);
		table = v & ADDR;
	}
}

static void map4_simple(struct env *e, uint64_t lin, uint64_t pa, int leaf,
			uint64_t leaf_flags, uint64_t ent[5])
{
	uint64_t fl[5] = { 0, P | RW | US, P | RW | US, P | RW | US, P | RW | US };

	fl[leaf] = leaf_flags;
	map4(e, lin, pa, leaf, fl, ent);
}

/* PAE paging: a PDPT at cr3 and its directories. */
static void setup_pae(struct env *e, uint64_t cr0, uint64_t cr4, uint64_t efer)
{
	e->ctx.cr0 = GH_CR0_PE | GH_CR0_PG | cr0;
	e->ctx.cr4 = GH_CR4_PAE | cr4;
	e->ctx.efer = efer;
	e->ctx.cr3 = alloc_table(e) + 0x20;	/* 32-byte aligned, not page aligned */
}

static void map_pae(struct env *e, uint32_t lin, uint64_t pa, bool large, uint64_t pde_fl,
		    uint64_t pte_fl, uint64_t ent[3])
{
	uint64_t pdpte_gpa = (e->ctx.cr3 & 0xffffffe0u) + (lin >> 30) * 8;
	uint64_t pdpte = rd(e, pdpte_gpa, 8);
	uint64_t pde_gpa, pde, pte_gpa;

	if (!(pdpte & P)) {
		pdpte = alloc_table(e) | P;
		wr(e, pdpte_gpa, 8, pdpte);
	}
	g_assert_cmpint(gh_mmu_load_pdptes(&e->ctx, e->ctx.cr3), ==, GH_MMU_OK);
	pde_gpa = (pdpte & ADDR) + ((lin >> 21) & 511) * 8;
	if (ent)
		ent[2] = pde_gpa;
	if (large) {
		wr(e, pde_gpa, 8, pa | pde_fl | PS);
		return;
	}
	pde = rd(e, pde_gpa, 8);
	if (!(pde & ADDR) || (pde & PS))
		pde = alloc_table(e);
	pde = (pde & ADDR) | pde_fl;
	wr(e, pde_gpa, 8, pde);
	pte_gpa = (pde & ADDR) + ((lin >> 12) & 511) * 8;
	if (ent)
		ent[1] = pte_gpa;
	wr(e, pte_gpa, 8, pa | pte_fl);
}

/* 32-bit paging. */
static void setup_32(struct env *e, uint64_t cr0, uint64_t cr4, uint64_t efer)
{
	e->ctx.cr0 = GH_CR0_PE | GH_CR0_PG | cr0;
	e->ctx.cr4 = cr4;
	e->ctx.efer = efer;
	e->ctx.cr3 = alloc_table(e);
}

static void map32(struct env *e, uint32_t lin, uint64_t pde_val_large, uint64_t pa,
		  uint32_t pde_fl, uint32_t pte_fl, uint64_t ent[3])
{
	uint64_t pde_gpa = (e->ctx.cr3 & 0xfffff000u) + (lin >> 22) * 4;
	uint64_t pde, pte_gpa;

	if (ent)
		ent[2] = pde_gpa;
	if (pde_val_large) {
		wr(e, pde_gpa, 4, pde_val_large);
		return;
	}
	pde = rd(e, pde_gpa, 4);
	if (!(pde & 0xfffff000u) || (pde & PS))
		pde = alloc_table(e);
	pde = (pde & 0xfffff000u) | pde_fl;
	wr(e, pde_gpa, 4, pde);
	pte_gpa = (pde & 0xfffff000u) + ((lin >> 12) & 1023) * 4;
	if (ent)
		ent[1] = pte_gpa;
	wr(e, pte_gpa, 4, pa | pte_fl);
}

static int xlate(struct env *e, uint64_t lin, unsigned access, struct gh_mmu_result *r)
{
	return gh_mmu_translate(&e->ctx, lin, access, r);
}

static void assert_gpa(struct env *e, uint64_t lin, unsigned access, uint64_t gpa)
{
	struct gh_mmu_result r;

	g_assert_cmpint(xlate(e, lin, access, &r), ==, GH_MMU_OK);
	g_assert_cmphex(r.gpa, ==, gpa);
}

static void assert_pf(struct env *e, uint64_t lin, unsigned access, uint32_t ec)
{
	struct gh_mmu_result r;

	g_assert_cmpint(xlate(e, lin, access, &r), ==, GH_MMU_PF);
	g_assert_cmphex(r.error_code, ==, ec);
	g_assert_cmphex(r.linear, ==, lin);
}

/* ---- translation ---------------------------------------------------------- */

static void test_no_paging(void)
{
	struct env *e = env_new();
	struct gh_mmu_result r;

	e->ctx.cr0 = GH_CR0_PE;
	assert_gpa(e, 0x12345678, GH_MMU_WRITE, 0x12345678);
	assert_gpa(e, 0xfffffff0, GH_MMU_EXEC, 0xfffffff0);
	/* Without paging linear addresses are 32 bits wide. */
	assert_gpa(e, 0x100001000ULL, GH_MMU_READ, 0x1000);
	g_assert_cmpuint(e->reads, ==, 0);

	e->ctx.cpl = 3;
	g_assert_cmpint(gh_mmu_access(&e->ctx, e->tlb, 0x5123, GH_MMU_WRITE, &r), ==, 0);
	g_assert_true(r.host == e->ram + 0x5123);
	g_assert_true(r.host_writable);
	g_assert_true(gh_tlb_lookup_write(e->tlb, 0x5ffc, GH_TLB_USER) == e->ram + 0x5ffc);
	g_assert_true(gh_tlb_lookup_exec(e->tlb, 0x5000, GH_TLB_SUP) == e->ram + 0x5000);
	/* Above RAM: no host pointer, gpa for the bus. */
	g_assert_cmpint(gh_mmu_access(&e->ctx, e->tlb, 0xfee00030, GH_MMU_READ, &r), ==, 0);
	g_assert_null(r.host);
	g_assert_cmphex(r.gpa, ==, 0xfee00030);
	g_assert_null(gh_tlb_lookup_read(e->tlb, 0xfee00030, GH_TLB_SUP));
	env_free(e);
}

static void test_32bit(void)
{
	struct env *e = env_new();
	uint64_t ent[3];
	struct gh_mmu_result r;

	setup_32(e, GH_CR0_WP, GH_CR4_PSE, 0);
	map32(e, 0x00401000, 0, 0x00203000, P | RW | US, P | RW | US, ent);
	assert_gpa(e, 0x00401abc, GH_MMU_READ, 0x00203abc);
	g_assert_cmphex(rd(e, ent[2], 4), ==, (rd(e, ent[2], 4) & ~0xfffULL) | P | RW | US | A);
	g_assert_cmphex(rd(e, ent[1], 4), ==, 0x00203000 | P | RW | US | A);
	assert_gpa(e, 0x00401abc, GH_MMU_WRITE, 0x00203abc);
	g_assert_cmphex(rd(e, ent[1], 4), ==, 0x00203000 | P | RW | US | A | D);
	g_assert_false(rd(e, ent[2], 4) & D);
	/* Linear bits above 31 do not take part. */
	assert_gpa(e, 0x500401abcULL, GH_MMU_READ, 0x00203abc);

	/* 4 MiB page; D goes into the PDE. */
	map32(e, 0x00800000, 0x00c00000 | P | RW | PS, 0, 0, 0, ent);
	g_assert_cmpint(xlate(e, 0x00812345, GH_MMU_WRITE, &r), ==, 0);
	g_assert_cmphex(r.gpa, ==, 0x00c12345);
	g_assert_cmpuint(r.page_shift, ==, 22);
	g_assert_cmphex(rd(e, ent[2], 4), ==, 0x00c00000 | P | RW | PS | A | D);

	/* PSE-36: PDE bits 20:13 are physical bits 39:32. */
	map32(e, 0x01000000, 0x01400000 | (0xabULL << 13) | P | RW | PS, 0, 0, 0, ent);
	assert_gpa(e, 0x01054321, GH_MMU_READ, 0xab01454321ULL);
	/* Bit 21 is reserved with MAXPHYADDR 40. */
	wr(e, ent[2], 4, 0x01400000 | (1u << 21) | P | RW | PS);
	assert_pf(e, 0x01054321, GH_MMU_WRITE, GH_PFEC_P | GH_PFEC_RSVD | GH_PFEC_W);
	g_assert_false(rd(e, ent[2], 4) & A);

	/* Without CR4.PSE, PS is ignored: the PDE points to a page table. */
	e->ctx.cr4 = 0;
	wr(e, 0x00c00000 + 0x12 * 4, 4, 0x00345000 | P);
	assert_gpa(e, 0x00812345, GH_MMU_READ, 0x00345345);
	assert_pf(e, 0x00813000, GH_MMU_READ, 0);

	/* No XD in 32-bit paging: bit 31 of an entry is address, NXE changes nothing. */
	e->ctx.efer = GH_EFER_NXE;
	map32(e, 0x02000000, 0, 0x80000000u, P | RW, P | RW, NULL);
	assert_gpa(e, 0x02000010, GH_MMU_EXEC, 0x80000010u);
	/* I/D is reported with SMEP only (32-bit paging has no NX). */
	assert_pf(e, 0x03000000, GH_MMU_EXEC, 0);
	e->ctx.cr4 = GH_CR4_SMEP;
	assert_pf(e, 0x03000000, GH_MMU_EXEC, GH_PFEC_I);
	e->ctx.cpl = 3;
	assert_pf(e, 0x03000000, GH_MMU_EXEC, GH_PFEC_I | GH_PFEC_U);
	assert_pf(e, 0x02000000, GH_MMU_WRITE, GH_PFEC_P | GH_PFEC_W | GH_PFEC_U);
	env_free(e);
}

static void test_pae(void)
{
	static const unsigned bad_bits[] = { 1, 2, 5, 6, 7, 8, 40, 51, 52, 62, 63 };
	struct env *e = env_new();
	uint64_t ent[3];
	uint64_t pdpt, saved[4];
	struct gh_mmu_result r;
	unsigned i;

	setup_pae(e, GH_CR0_WP, 0, 0);
	pdpt = e->ctx.cr3 & 0xffffffe0u;
	map_pae(e, 0x40201000, 0x123456000ULL, false, P | RW | US, P | RW | US, ent);
	map_pae(e, 0xc0400000, 0xabc00000ULL, true, P | RW, 0, NULL);
	g_assert_cmphex(e->ctx.pdpte[1], ==, rd(e, pdpt + 8, 8));
	assert_gpa(e, 0x40201fff, GH_MMU_READ, 0x123456fffULL);
	g_assert_cmpint(xlate(e, 0xc04fedcb, GH_MMU_READ, &r), ==, 0);
	g_assert_cmphex(r.gpa, ==, 0xabcfedcbULL);
	g_assert_cmpuint(r.page_shift, ==, 21);
	/* The PDPTEs are registers: the walk sets no A bit in memory. */
	g_assert_false(rd(e, pdpt + 8, 8) & A);
	g_assert_true(rd(e, ent[2], 8) & A);

	/* PDPTE 0 not present: #PF with P = 0. */
	assert_pf(e, 0x00001000, GH_MMU_WRITE, GH_PFEC_W);

	/* PDPTE validation: present + reserved bit -> #GP, registers unchanged. */
	memcpy(saved, e->ctx.pdpte, sizeof(saved));
	for (i = 0; i < G_N_ELEMENTS(bad_bits); i++) {
		uint64_t good = rd(e, pdpt + 24, 8);

		wr(e, pdpt + 24, 8, alloc_table(e) | P | (1ULL << bad_bits[i]));
		g_assert_cmpint(gh_mmu_load_pdptes(&e->ctx, e->ctx.cr3), ==, GH_MMU_GP);
		g_assert_cmpmem(saved, sizeof(saved), e->ctx.pdpte, sizeof(saved));
		/* Not present: the other bits are ignored. */
		wr(e, pdpt + 24, 8, (1ULL << bad_bits[i]) | 0xfff0);
		g_assert_cmpint(gh_mmu_load_pdptes(&e->ctx, e->ctx.cr3), ==, GH_MMU_OK);
		wr(e, pdpt + 24, 8, good);
		g_assert_cmpint(gh_mmu_load_pdptes(&e->ctx, e->ctx.cr3), ==, GH_MMU_OK);
	}
	/* PWT, PCD and the ignored bits 11:9 are allowed. */
	wr(e, pdpt + 24, 8, alloc_table(e) | P | GH_PTE_PWT | GH_PTE_PCD | 0xe00);
	g_assert_cmpint(gh_mmu_load_pdptes(&e->ctx, e->ctx.cr3), ==, GH_MMU_OK);
	g_assert_cmphex(e->ctx.pdpte[3], ==, rd(e, pdpt + 24, 8));
	/* CR3 bits 4:0 and 63:32 are ignored. */
	g_assert_cmpint(gh_mmu_load_pdptes(&e->ctx, pdpt | 0x1f | (0x5ULL << 32)), ==,
			GH_MMU_OK);

	/* Reserved bits: 62:40 and 63 without NXE; 20:13 in a 2 MiB PDE. */
	wr(e, ent[1], 8, 0x123456000ULL | P | RW | US | (1ULL << 62));
	assert_pf(e, 0x40201000, GH_MMU_READ, GH_PFEC_P | GH_PFEC_RSVD);
	wr(e, ent[1], 8, 0x123456000ULL | P | RW | US | (1ULL << 40));
	assert_pf(e, 0x40201000, GH_MMU_READ, GH_PFEC_P | GH_PFEC_RSVD);
	wr(e, ent[1], 8, 0x123456000ULL | P | RW | US | XD);
	assert_pf(e, 0x40201000, GH_MMU_READ, GH_PFEC_P | GH_PFEC_RSVD);
	g_assert_false(rd(e, ent[1], 8) & A);
	e->ctx.efer = GH_EFER_NXE;
	assert_gpa(e, 0x40201000, GH_MMU_READ, 0x123456000ULL);
	assert_pf(e, 0x40201000, GH_MMU_EXEC, GH_PFEC_P | GH_PFEC_I);
	wr(e, ent[2], 8, 0xabc00000ULL | P | RW | PS | (1ULL << 13));
	assert_pf(e, 0x40201000, GH_MMU_READ, GH_PFEC_P | GH_PFEC_RSVD);
	wr(e, ent[2], 8, 0xabc00000ULL | P | RW | PS | (1ULL << 12));	/* PAT */
	assert_gpa(e, 0x40201000, GH_MMU_READ, 0xabc01000ULL);

	/* When MOV to CR0/CR4 reloads the PDPTEs (SDM 4.4.1). */
	g_assert_true(gh_mmu_pdptes_needed(0, GH_CR4_PAE, GH_CR0_PG, GH_CR4_PAE, 0));
	g_assert_true(gh_mmu_pdptes_needed(GH_CR0_PG, 0, GH_CR0_PG, GH_CR4_PAE, 0));
	g_assert_true(gh_mmu_pdptes_needed(GH_CR0_PG, GH_CR4_PAE, GH_CR0_PG,
					   GH_CR4_PAE | GH_CR4_PGE, 0));
	g_assert_true(gh_mmu_pdptes_needed(GH_CR0_PG, GH_CR4_PAE, GH_CR0_PG | GH_CR0_CD,
					   GH_CR4_PAE, 0));
	g_assert_true(gh_mmu_pdptes_needed(GH_CR0_PG, GH_CR4_PAE | GH_CR4_SMEP, GH_CR0_PG,
					   GH_CR4_PAE, 0));
	g_assert_false(gh_mmu_pdptes_needed(GH_CR0_PG, GH_CR4_PAE, GH_CR0_PG | GH_CR0_WP,
					    GH_CR4_PAE, 0));
	g_assert_false(gh_mmu_pdptes_needed(GH_CR0_PG, GH_CR4_PAE, GH_CR0_PG,
					    GH_CR4_PAE | GH_CR4_SMAP, 0));
	g_assert_false(gh_mmu_pdptes_needed(GH_CR0_PG, GH_CR4_PAE, 0, GH_CR4_PAE, 0));
	g_assert_false(gh_mmu_pdptes_needed(0, GH_CR4_PAE, GH_CR0_PG, GH_CR4_PAE,
					    GH_EFER_LME));
	env_free(e);
}

static void test_4level(void)
{
	struct env *e = env_new();
	uint64_t ent[5], ent2[5], ent3[5];
	struct gh_mmu_result r;
	int level;

	setup_4level(e, GH_CR0_WP, 0, 0);
	map4_simple(e, 0x00007f1234567000ULL, 0x00abcdef000ULL, 1, P | RW | US, ent);
	map4_simple(e, 0x0000000040200000ULL, 0x0000fe00000ULL, 2, P | RW, ent2);
	map4_simple(e, 0x0000008080000000ULL, 0x00fc0000000ULL, 3, P | RW | G, ent3);

	assert_gpa(e, 0x00007f1234567123ULL, GH_MMU_READ, 0x00abcdef123ULL);
	/* Bits 63:48 are the interpreter's business (canonical check). */
	assert_gpa(e, 0xffff7f1234567123ULL, GH_MMU_READ, 0x00abcdef123ULL);
	g_assert_cmpint(xlate(e, 0x40312345, GH_MMU_EXEC, &r), ==, 0);
	g_assert_cmphex(r.gpa, ==, 0xfe00000ULL + 0x112345);
	g_assert_cmpuint(r.page_shift, ==, 21);
	g_assert_false(r.global);
	g_assert_cmpint(xlate(e, 0x8080000000ULL + 0x2abcdef1, GH_MMU_READ, &r), ==, 0);
	g_assert_cmphex(r.gpa, ==, 0xfc0000000ULL + 0x2abcdef1);
	g_assert_cmpuint(r.page_shift, ==, 30);
	g_assert_false(r.global);	/* CR4.PGE = 0 */
	e->ctx.cr4 |= GH_CR4_PGE;
	g_assert_cmpint(xlate(e, 0x8080000000ULL, GH_MMU_READ, &r), ==, 0);
	g_assert_true(r.global);

	/* Not present at each level. */
	for (level = 4; level >= 1; level--) {
		uint64_t v = rd(e, ent[level], 8);

		wr(e, ent[level], 8, v & ~P);
		e->ctx.cpl = 3;
		assert_pf(e, 0x7f1234567000ULL, GH_MMU_WRITE, GH_PFEC_W | GH_PFEC_U);
		e->ctx.cpl = 0;
		wr(e, ent[level], 8, v);
	}
	/* Reserved: bits 51:40 and 63 (no NXE) everywhere, PS in the PML4E. */
	for (level = 4; level >= 1; level--) {
		static const unsigned bits[] = { 40, 45, 51, 63 };
		uint64_t v = rd(e, ent[level], 8);
		unsigned i;

		for (i = 0; i < G_N_ELEMENTS(bits); i++) {
			wr(e, ent[level], 8, v | (1ULL << bits[i]));
			assert_pf(e, 0x7f1234567000ULL, GH_MMU_READ,
				  GH_PFEC_P | GH_PFEC_RSVD);
		}
		/* Bits 62:52 are ignored. */
		wr(e, ent[level], 8, v | (0x7ffULL << 52));
		assert_gpa(e, 0x7f1234567000ULL, GH_MMU_READ, 0xabcdef000ULL);
		wr(e, ent[level], 8, v);
	}
	wr(e, ent[4], 8, rd(e, ent[4], 8) | PS);
	assert_pf(e, 0x7f1234567000ULL, GH_MMU_READ, GH_PFEC_P | GH_PFEC_RSVD);
	wr(e, ent[4], 8, rd(e, ent[4], 8) & ~PS);
	/* PAT bit 7 of a PTE is not PS. */
	wr(e, ent[1], 8, rd(e, ent[1], 8) | PS);
	assert_gpa(e, 0x7f1234567000ULL, GH_MMU_READ, 0xabcdef000ULL);

	/* Large-page reserved bits: 20:13 (2 MiB), 29:13 (1 GiB). */
	wr(e, ent2[2], 8, 0xfe00000ULL | P | RW | PS | (1ULL << 20));
	assert_pf(e, 0x40200000, GH_MMU_READ, GH_PFEC_P | GH_PFEC_RSVD);
	wr(e, ent2[2], 8, 0xfe00000ULL | P | RW | PS | (1ULL << 13));
	assert_pf(e, 0x40200000, GH_MMU_READ, GH_PFEC_P | GH_PFEC_RSVD);
	wr(e, ent3[3], 8, 0xfc0000000ULL | P | RW | PS | (1ULL << 29));
	assert_pf(e, 0x8080000000ULL, GH_MMU_READ, GH_PFEC_P | GH_PFEC_RSVD);
	wr(e, ent3[3], 8, 0xfc0000000ULL | P | RW | PS | (1ULL << 21));
	assert_pf(e, 0x8080000000ULL, GH_MMU_READ, GH_PFEC_P | GH_PFEC_RSVD);
	wr(e, ent3[3], 8, 0xfc0000000ULL | P | RW | PS | (1ULL << 12));
	assert_gpa(e, 0x8080000000ULL, GH_MMU_READ, 0xfc0000000ULL);

	/* XD with NXE: fetch faults with I/D; without NXE it is reserved. */
	wr(e, ent[3], 8, rd(e, ent[3], 8) | XD);
	assert_pf(e, 0x7f1234567000ULL, GH_MMU_EXEC, GH_PFEC_P | GH_PFEC_RSVD);
	e->ctx.efer |= GH_EFER_NXE;
	assert_pf(e, 0x7f1234567000ULL, GH_MMU_EXEC, GH_PFEC_P | GH_PFEC_I);
	assert_gpa(e, 0x7f1234567000ULL, GH_MMU_WRITE, 0xabcdef000ULL);
	/* Not-present fetch with NXE reports I/D too. */
	assert_pf(e, 0x7f0000000000ULL, GH_MMU_EXEC, GH_PFEC_I);
	env_free(e);
}

/* ---- access rights ------------------------------------------------------ */

/* The rules of SDM 4.6, written the way the manual lists them. */
static bool ref_allowed(bool user_addr, bool rw_all, bool xd_any, bool wp, bool nxe,
			bool smep, bool smap, unsigned cpl, bool ac, bool implicit,
			unsigned type)
{
	bool supervisor = implicit || cpl < 3;
	bool nx = nxe && xd_any;

	if (!supervisor) {
		if (!user_addr)
			return false;
		if (type == GH_MMU_READ)
			return true;
		if (type == GH_MMU_WRITE)
			return rw_all;
		return !nx;
	}
	if (type == GH_MMU_EXEC) {
		if (nx)
			return false;
		return !(user_addr && smep);
	}
	if (user_addr && smap && !(ac && !implicit))
		return false;
	if (type == GH_MMU_READ)
		return true;
	return rw_all || !wp;
}

static void check_rights(int paging)
{
	struct env *e = env_new();
	unsigned combo, cfg;
	uint64_t lin = paging == 4 ? 0x7f0000201000ULL : 0x40201000;
	uint64_t pa = 0x345000;
	unsigned checked = 0;

	for (combo = 0; combo < 64; combo++) {
		bool up_us = combo & 1, lf_us = combo & 2, up_rw = combo & 4;
		bool lf_rw = combo & 8, up_xd = combo & 16, lf_xd = combo & 32;

		if (paging == 32 && (up_xd || lf_xd))
			continue;
		for (cfg = 0; cfg < 16; cfg++) {
			bool wp = cfg & 1, nxe = cfg & 2, smep = cfg & 4, smap = cfg & 8;
			uint64_t cr0 = wp ? GH_CR0_WP : 0;
			uint64_t cr4 = (smep ? GH_CR4_SMEP : 0) | (smap ? GH_CR4_SMAP : 0);
			uint64_t efer = nxe ? GH_EFER_NXE : 0;
			uint64_t upper = P | (up_us ? US : 0) | (up_rw ? RW : 0) |
					 (up_xd && nxe ? XD : 0);
			uint64_t leaf = P | (lf_us ? US : 0) | (lf_rw ? RW : 0) |
					(lf_xd && nxe ? XD : 0);
			bool user_addr = up_us && lf_us, rw_all = up_rw && lf_rw;
			bool xd_any = up_xd || lf_xd;
			unsigned k;

			if (xd_any && !nxe && paging != 32)
				continue;	/* reserved bit, tested elsewhere */
			for (k = 0; k < 3 * 2 * 2 * 2; k++) {
				unsigned type = k % 3, cpl = (k / 3) % 2 ? 3 : 0;
				bool ac = (k / 6) % 2, implicit = (k / 12) % 2;
				unsigned access = type | (implicit ? GH_MMU_IMPLICIT : 0);
				bool ok = ref_allowed(user_addr, rw_all, xd_any, wp, nxe, smep,
						      smap, cpl, ac, implicit, type);
				uint64_t ent[5] = { 0 };
				struct gh_mmu_result r;
				unsigned mode, t2, m2;
				int ret;

				e->next = TABLES_BASE;
				if (paging == 4) {
					uint64_t fl[5] = { 0, leaf, upper, upper, upper };

					setup_4level(e, cr0, cr4, efer);
					map4(e, lin, pa, 1, fl, ent);
				} else if (paging == 3) {
					setup_pae(e, cr0, cr4, efer);
					map_pae(e, lin, pa, false, upper, leaf, ent);
				} else {
					setup_32(e, cr0, cr4, efer);
					map32(e, lin, 0, pa, upper, leaf, ent);
				}
				e->ctx.cpl = cpl;
				e->ctx.ac = ac;
				gh_tlb_flush_all(e->tlb);
				ret = gh_mmu_access(&e->ctx, e->tlb, lin + 8, access, &r);
				if (!ok) {
					uint32_t ec = GH_PFEC_P;

					if (type == GH_MMU_WRITE)
						ec |= GH_PFEC_W;
					if (cpl == 3 && !implicit)
						ec |= GH_PFEC_U;
					if (type == GH_MMU_EXEC &&
					    (smep || (paging != 32 && nxe)))
						ec |= GH_PFEC_I;
					g_assert_cmpint(ret, ==, GH_MMU_PF);
					g_assert_cmphex(r.error_code, ==, ec);
					/* A fault sets no accessed bit anywhere. */
					g_assert_false(rd(e, ent[1], paging == 32 ? 4 : 8) & A);
					g_assert_false(rd(e, ent[2], paging == 32 ? 4 : 8) & A);
					mode = gh_mmu_mode(&e->ctx, access);
					g_assert_null(gh_tlb_lookup(e->tlb, lin, 1u << (type * 3 + mode)));
					continue;
				}
				g_assert_cmpint(ret, ==, GH_MMU_OK);
				g_assert_cmphex(r.gpa, ==, pa + 8);
				g_assert_true(r.host == e->ram + pa + 8);
				g_assert_true(rd(e, ent[1], paging == 32 ? 4 : 8) & A);
				g_assert_true(rd(e, ent[2], paging == 32 ? 4 : 8) & A);
				g_assert_cmpint(!!(rd(e, ent[1], paging == 32 ? 4 : 8) & D), ==,
						type == GH_MMU_WRITE);
				/*
				 * The entry now answers every class and access the same
				 * way the rules do, except writes before D is set.
				 */
				for (m2 = 0; m2 < 3; m2++) {
					unsigned ccpl = m2 == GH_TLB_USER ? 3 : 0;
					bool cac = m2 == GH_TLB_SUP_AC;

					for (t2 = 0; t2 < 3; t2++) {
						bool want = ref_allowed(user_addr, rw_all, xd_any,
									wp, nxe, smep, smap, ccpl,
									cac, false, t2);
						void *p = gh_tlb_lookup(e->tlb, lin + 0xff8,
									1u << (t2 * 3 + m2));

						if (t2 == GH_MMU_WRITE && type != GH_MMU_WRITE)
							want = false;
						g_assert_cmpint(p != NULL, ==, want);
						if (p)
							g_assert_true(p == e->ram + pa + 0xff8);
						checked++;
					}
				}
			}
		}
	}
	g_assert_cmpuint(checked, >, 1000);
	env_free(e);
}

static void test_rights_4level(void)
{
	check_rights(4);
}

static void test_rights_pae(void)
{
	check_rights(3);
}

static void test_rights_32bit(void)
{
	check_rights(32);
}

/* ---- accessed and dirty bits -------------------------------------------- */

static void test_accessed_dirty(void)
{
	struct env *e = env_new();
	uint64_t ent[5], ent2[5], ent3[5];
	int level;
	unsigned cas;

	setup_4level(e, GH_CR0_WP, 0, 0);
	map4_simple(e, 0x1000, 0x5000, 1, P | RW | US, ent);
	map4_simple(e, 0x200000, 0x400000, 2, P | RW | US, ent2);
	map4_simple(e, 0x4000000000ULL, 0x40000000, 3, P | RW | US, ent3);

	assert_gpa(e, 0x1000, GH_MMU_READ, 0x5000);
	for (level = 4; level >= 1; level--) {
		g_assert_true(rd(e, ent[level], 8) & A);
		g_assert_false(rd(e, ent[level], 8) & D);
	}
	/* Nothing left to set: no atomic operation. */
	cas = e->cas;
	assert_gpa(e, 0x1000, GH_MMU_READ, 0x5000);
	g_assert_cmpuint(e->cas, ==, cas);
	assert_gpa(e, 0x1000, GH_MMU_WRITE, 0x5000);
	g_assert_cmpuint(e->cas, ==, cas + 1);
	g_assert_true(rd(e, ent[1], 8) & D);
	for (level = 4; level >= 2; level--)
		g_assert_false(rd(e, ent[level], 8) & D);

	/* Large pages: D in the PDE / PDPTE that maps the page. */
	assert_gpa(e, 0x212345, GH_MMU_WRITE, 0x412345);
	g_assert_cmphex(rd(e, ent2[2], 8), ==, 0x400000 | P | RW | US | PS | A | D);
	g_assert_false(rd(e, ent2[3], 8) & D);
	g_assert_true(rd(e, ent2[3], 8) & A);
	assert_gpa(e, 0x4000000008ULL, GH_MMU_WRITE, 0x40000008);
	g_assert_cmphex(rd(e, ent3[3], 8), ==, 0x40000000 | P | RW | US | PS | A | D);
	g_assert_false(rd(e, ent3[4], 8) & D);

	/* Faults leave A alone: permission, reserved bit, not present. */
	map4_simple(e, 0x7000, 0x8000, 1, P, ent);
	for (level = 4; level >= 1; level--)
		wr(e, ent[level], 8, rd(e, ent[level], 8) & ~A);
	assert_pf(e, 0x7000, GH_MMU_WRITE, GH_PFEC_P | GH_PFEC_W);	/* WP = 1 */
	for (level = 4; level >= 1; level--)
		g_assert_false(rd(e, ent[level], 8) & A);
	wr(e, ent[1], 8, 0x8000 | P | RW | (1ULL << 45));
	assert_pf(e, 0x7000, GH_MMU_READ, GH_PFEC_P | GH_PFEC_RSVD);
	wr(e, ent[1], 8, 0x8000 | RW);
	assert_pf(e, 0x7000, GH_MMU_READ, 0);
	for (level = 4; level >= 1; level--)
		g_assert_false(rd(e, ent[level], 8) & A);
	env_free(e);
}

/* Another vCPU changes an entry between our read and our atomic update. */
static void test_ad_race(void)
{
	struct env *e = env_new();
	uint64_t ent[5];

	setup_4level(e, GH_CR0_WP, 0, 0);
	map4_simple(e, 0x1000, 0x5000, 1, P | RW | US, ent);

	/* It sets A itself: our CAS fails, the walk restarts and succeeds. */
	e->race = true;
	e->race_gpa = ent[1];
	e->race_or = A;
	assert_gpa(e, 0x1000, GH_MMU_WRITE, 0x5000);
	g_assert_false(e->race);
	g_assert_cmphex(rd(e, ent[1], 8), ==, 0x5000 | P | RW | US | A | D);

	/* It write-protects the page: the restarted walk faults, D stays clear. */
	wr(e, ent[1], 8, 0x5000 | P | RW | US);
	e->race = true;
	e->race_andnot = RW;
	e->race_or = 0;
	assert_pf(e, 0x1000, GH_MMU_WRITE, GH_PFEC_P | GH_PFEC_W);
	g_assert_cmphex(rd(e, ent[1], 8), ==, 0x5000 | P | US);

	/* It unmaps the page table from the PML4: not-present fault. */
	e->race = true;
	e->race_gpa = ent[4];
	e->race_andnot = P;
	wr(e, ent[4], 8, rd(e, ent[4], 8) & ~A);
	assert_pf(e, 0x1000, GH_MMU_READ, 0);
	env_free(e);
}

/* ---- TLB ------------------------------------------------------------------ */

static void access_ok(struct env *e, uint64_t lin, unsigned access, struct gh_mmu_result *r)
{
	g_assert_cmpint(gh_mmu_access(&e->ctx, e->tlb, lin, access, r), ==, GH_MMU_OK);
}

static void test_tlb_fast_path(void)
{
	struct env *e = env_new();
	struct gh_mmu_result r;
	uint64_t ent[5];
	unsigned reads;

	setup_4level(e, GH_CR0_WP, 0, GH_EFER_NXE);
	map4_simple(e, 0x400000, 0x123000, 1, P | RW | US, ent);
	e->ctx.cpl = 3;

	g_assert_null(gh_tlb_lookup_read(e->tlb, 0x400000, GH_TLB_USER));
	access_ok(e, 0x400010, GH_MMU_READ, &r);
	g_assert_true(r.host == e->ram + 0x123010);
	g_assert_true(gh_tlb_lookup_read(e->tlb, 0x400ffc, GH_TLB_USER) == e->ram + 0x123ffc);
	g_assert_true(gh_tlb_lookup_exec(e->tlb, 0x400000, GH_TLB_USER) == e->ram + 0x123000);
	g_assert_true(gh_tlb_lookup_read(e->tlb, 0x400000, GH_TLB_SUP) == e->ram + 0x123000);
	/* D is clear: the first write must walk to set it. */
	g_assert_null(gh_tlb_lookup_write(e->tlb, 0x400000, GH_TLB_USER));
	/* Another page in the same slot misses. */
	g_assert_null(gh_tlb_lookup_read(e->tlb, 0x400000 + ((uint64_t)GH_TLB_SIZE << 12),
					 GH_TLB_USER));
	g_assert_null(gh_tlb_lookup_read(e->tlb, 0x400000 | (1ULL << 47), GH_TLB_USER));

	/* A hit in the slow path does not walk. */
	reads = e->reads;
	access_ok(e, 0x400020, GH_MMU_READ, &r);
	g_assert_cmpuint(e->reads, ==, reads);
	access_ok(e, 0x400020, GH_MMU_WRITE, &r);
	g_assert_cmpuint(e->reads, >, reads);
	g_assert_true(rd(e, ent[1], 8) & D);
	g_assert_true(gh_tlb_lookup_write(e->tlb, 0x400abc, GH_TLB_USER) == e->ram + 0x123abc);
	g_assert_true(gh_tlb_lookup_write(e->tlb, 0x400abc, GH_TLB_SUP) == e->ram + 0x123abc);

	/* MMIO: gpa for the bus, never a fast path, no walk on later accesses. */
	map4_simple(e, 0x401000, 0xfee00000ULL, 1, P | RW | US | D, NULL);
	access_ok(e, 0x401030, GH_MMU_WRITE, &r);
	g_assert_null(r.host);
	g_assert_false(r.host_writable);
	g_assert_cmphex(r.gpa, ==, 0xfee00030ULL);
	g_assert_null(gh_tlb_lookup_read(e->tlb, 0x401030, GH_TLB_USER));
	g_assert_null(gh_tlb_lookup_write(e->tlb, 0x401030, GH_TLB_USER));
	reads = e->reads;
	access_ok(e, 0x401034, GH_MMU_READ, &r);
	g_assert_cmphex(r.gpa, ==, 0xfee00034ULL);
	g_assert_cmpuint(e->reads, ==, reads);

	/* ROM: fast reads, slow writes that the caller drops. */
	e->rom_page = 0x200000;
	map4_simple(e, 0x402000, 0x200000, 1, P | RW | US | D, NULL);
	access_ok(e, 0x402000, GH_MMU_WRITE, &r);
	g_assert_true(r.host == e->ram + 0x200000);
	g_assert_false(r.host_writable);
	g_assert_nonnull(gh_tlb_lookup_read(e->tlb, 0x402000, GH_TLB_USER));
	g_assert_null(gh_tlb_lookup_write(e->tlb, 0x402000, GH_TLB_USER));

	/*
	 * A fault drops the page's entry: a user write to a read-only page
	 * walks, finds the page gone, and faults as not present.
	 */
	map4_simple(e, 0x403000, 0x124000, 1, P | US, ent);
	access_ok(e, 0x403000, GH_MMU_READ, &r);
	wr(e, ent[1], 8, 0);
	access_ok(e, 0x403000, GH_MMU_READ, &r);	/* stale, allowed */
	g_assert_cmpint(gh_mmu_access(&e->ctx, e->tlb, 0x403000, GH_MMU_WRITE, &r), ==,
			GH_MMU_PF);
	g_assert_cmphex(r.error_code, ==, GH_PFEC_W | GH_PFEC_U);
	g_assert_cmphex(r.linear, ==, 0x403000);
	g_assert_null(gh_tlb_lookup_read(e->tlb, 0x403000, GH_TLB_USER));
	g_assert_cmpint(gh_mmu_access(&e->ctx, e->tlb, 0x403000, GH_MMU_READ, &r), ==,
			GH_MMU_PF);
	env_free(e);
}

/* Whether the TLB holds lin's page, with or without a fast path (MMIO). */
static bool cached(struct env *e, uint64_t lin)
{
	unsigned idx = (lin >> 12) & (GH_TLB_SIZE - 1);

	return (e->tlb->info[idx].flags & GH_TLB_F_VALID) &&
	       (e->tlb->e[idx].tag & GH_TLB_PAGE_MASK) == (lin & GH_TLB_PAGE_MASK);
}

static void fill_read(struct env *e, uint64_t lin)
{
	struct gh_mmu_result r;

	access_ok(e, lin, GH_MMU_READ, &r);
	g_assert_true(cached(e, lin));
	if (r.gpa < RAM_SIZE)
		g_assert_nonnull(gh_tlb_lookup_read(e->tlb, lin, GH_TLB_SUP));
}

static void test_tlb_global(void)
{
	struct env *e = env_new();
	uint64_t ent[5];

	setup_4level(e, GH_CR0_WP, GH_CR4_PGE, 0);
	map4_simple(e, 0x1000, 0x11000, 1, P | RW | G, ent);
	map4_simple(e, 0x2000, 0x12000, 1, P | RW, NULL);
	fill_read(e, 0x1000);
	fill_read(e, 0x2000);

	/* MOV to CR3: the global entry survives, even when stale. */
	wr(e, ent[1], 8, 0x13000 | P | RW | G);
	gh_tlb_flush_nonglobal(e->tlb);
	g_assert_true(gh_tlb_lookup_read(e->tlb, 0x1000, GH_TLB_SUP) == e->ram + 0x11000);
	g_assert_false(cached(e, 0x2000));
	/* INVLPG drops it, global or not. */
	gh_tlb_flush_page(e->tlb, 0x1fff);
	g_assert_false(cached(e, 0x1000));
	fill_read(e, 0x1000);
	g_assert_true(gh_tlb_lookup_read(e->tlb, 0x1000, GH_TLB_SUP) == e->ram + 0x13000);

	/* INVLPG of another page leaves both alone. */
	fill_read(e, 0x2000);
	gh_tlb_flush_page(e->tlb, 0x3000);
	g_assert_true(cached(e, 0x1000) && cached(e, 0x2000));

	/* Toggling CR4.PGE flushes global entries too. */
	g_assert_true(gh_tlb_control_changed(e->tlb, e->ctx.cr0, e->ctx.cr4, e->ctx.efer,
					     e->ctx.cr0, e->ctx.cr4 & ~GH_CR4_PGE, e->ctx.efer));
	g_assert_false(cached(e, 0x1000));
	/* Without PGE, G is ignored: a CR3 write drops the entry. */
	e->ctx.cr4 &= ~GH_CR4_PGE;
	fill_read(e, 0x1000);
	gh_tlb_flush_nonglobal(e->tlb);
	g_assert_false(cached(e, 0x1000));

	/* flush_all drops everything. */
	e->ctx.cr4 |= GH_CR4_PGE;
	fill_read(e, 0x1000);
	fill_read(e, 0x2000);
	gh_tlb_flush_all(e->tlb);
	g_assert_false(cached(e, 0x1000) || cached(e, 0x2000));
	env_free(e);
}

static void test_tlb_control_changes(void)
{
	static const struct {
		uint64_t cr0, cr4, efer;
		bool flush;
	} cases[] = {
		{ GH_CR0_WP, 0, 0, true },
		{ GH_CR0_PG, 0, 0, true },
		{ 1ULL << 3 /* TS */, 0, 0, false },
		{ GH_CR0_CD, 0, 0, false },
		{ 0, GH_CR4_PGE, 0, true },
		{ 0, GH_CR4_PSE, 0, true },
		{ 0, GH_CR4_PCIDE, 0, true },
		{ 0, GH_CR4_SMEP, 0, true },
		{ 0, GH_CR4_SMAP, 0, true },
		{ 0, 1ULL << 9 /* OSFXSR */, 0, false },
		{ 0, 1ULL << 16 /* FSGSBASE */, 0, false },
		{ 0, 0, GH_EFER_NXE, true },
		{ 0, 0, 1 /* SCE */, false },
	};
	struct env *e = env_new();
	unsigned i;

	setup_4level(e, GH_CR0_WP, GH_CR4_PGE, GH_EFER_NXE);
	map4_simple(e, 0x1000, 0x11000, 1, P | RW | G, NULL);
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		uint64_t cr0 = e->ctx.cr0, cr4 = e->ctx.cr4, efer = e->ctx.efer;

		fill_read(e, 0x1000);
		g_assert_cmpint(gh_tlb_control_changed(e->tlb, cr0, cr4, efer,
						       cr0 ^ cases[i].cr0, cr4 ^ cases[i].cr4,
						       efer ^ cases[i].efer), ==,
				cases[i].flush);
		g_assert_cmpint(cached(e, 0x1000), ==, !cases[i].flush);
	}
	/* CPL and EFLAGS.AC are lookup arguments: SMAP with and without AC. */
	e->ctx.cr4 |= GH_CR4_SMAP;
	gh_tlb_flush_all(e->tlb);
	map4_simple(e, 0x5000, 0x15000, 1, P | RW | US | D, NULL);
	e->ctx.ac = true;
	{
		struct gh_mmu_result r;

		access_ok(e, 0x5000, GH_MMU_WRITE, &r);
	}
	g_assert_nonnull(gh_tlb_lookup_write(e->tlb, 0x5000, GH_TLB_SUP_AC));
	g_assert_nonnull(gh_tlb_lookup_read(e->tlb, 0x5000, GH_TLB_USER));
	g_assert_null(gh_tlb_lookup_read(e->tlb, 0x5000, GH_TLB_SUP));
	g_assert_null(gh_tlb_lookup_write(e->tlb, 0x5000, GH_TLB_SUP));
	g_assert_nonnull(gh_tlb_lookup_exec(e->tlb, 0x5000, GH_TLB_SUP));	/* SMEP off */
	env_free(e);
}

/* Every cached piece of a large page goes when INVLPG names any byte of it. */
static void check_large(struct env *e, uint64_t base, uint64_t size,
			const uint64_t *others, unsigned nothers)
{
	uint64_t offs[] = { 0, 0x5000, size / 2 + 0x3000, size - 0x1000,
			    (uint64_t)GH_TLB_SIZE << 12 };
	unsigned i, j;

	for (j = 0; j < 3; j++) {
		uint64_t target = base + (j == 0 ? 0x123 : j == 1 ? size - 1 : size / 3);

		for (i = 0; i < G_N_ELEMENTS(offs); i++)
			if (offs[i] < size)
				fill_read(e, base + offs[i]);
		for (i = 0; i < nothers; i++)
			fill_read(e, others[i]);
		gh_tlb_flush_page(e->tlb, target);
		for (i = 0; i < G_N_ELEMENTS(offs); i++)
			if (offs[i] < size)
				g_assert_false(cached(e, base + offs[i]));
		for (i = 0; i < nothers; i++)
			g_assert_true(cached(e, others[i]));
	}
}

static void test_tlb_large_invlpg(void)
{
	struct env *e = env_new();
	uint64_t others[4];

	setup_4level(e, GH_CR0_WP, GH_CR4_PGE, 0);
	map4_simple(e, 0x40000000, 0x400000, 2, P | RW | G, NULL);		/* 2M */
	map4_simple(e, 0x40200000, 0x600000, 2, P | RW, NULL);		/* next 2M */
	map4_simple(e, 0x8000000000ULL, 0, 3, P | RW | G, NULL);		/* 1G */
	map4_simple(e, 0x40400000, 0x700000, 1, P | RW, NULL);		/* 4K */
	map4_simple(e, 0x40005000 + ((uint64_t)GH_TLB_SIZE << 12), 0x701000, 1, P | RW,
		    NULL);

	/* Pages beside the large page, or in the slots of its pieces, survive. */
	others[0] = 0x40200000;
	others[1] = 0x40400000;
	others[2] = 0x8000000000ULL + 0x40000000 - 0x1000;
	others[3] = 0x40005000 + ((uint64_t)GH_TLB_SIZE << 12);
	check_large(e, 0x40000000, 0x200000, others, 4);
	others[0] = 0x40000000;
	others[1] = 0x40400000;
	others[2] = 0x40201000;
	check_large(e, 0x8000000000ULL, 0x40000000, others, 3);

	/* A global large page survives CR3 writes and still goes on INVLPG. */
	fill_read(e, 0x40000000);
	fill_read(e, 0x40100000);
	gh_tlb_flush_nonglobal(e->tlb);
	g_assert_true(cached(e, 0x40000000) && cached(e, 0x40100000));
	gh_tlb_flush_page(e->tlb, 0x401fffff);
	g_assert_false(cached(e, 0x40000000) || cached(e, 0x40100000));
	env_free(e);

	/* 4 MiB pages of 32-bit paging. */
	e = env_new();
	setup_32(e, 0, GH_CR4_PSE, 0);
	map32(e, 0x00800000, 0x00c00000 | P | RW | PS, 0, 0, 0, NULL);
	map32(e, 0x00c00000, 0, 0x9000, P | RW, P | RW, NULL);
	others[0] = 0x00c00000;
	check_large(e, 0x00800000, 0x400000, others, 1);
	env_free(e);
}

static void test_protect_code(void)
{
	struct env *e = env_new();
	struct gh_mmu_result r;

	setup_4level(e, GH_CR0_WP, 0, 0);
	map4_simple(e, 0x10000, 0x30000, 1, P | RW | US, NULL);
	map4_simple(e, 0x20000, 0x30000, 1, P | RW | US, NULL);	/* alias */
	map4_simple(e, 0x11000, 0x31000, 1, P | RW | US, NULL);
	access_ok(e, 0x10000, GH_MMU_WRITE, &r);
	access_ok(e, 0x20000, GH_MMU_WRITE, &r);
	access_ok(e, 0x11000, GH_MMU_WRITE, &r);
	g_assert_nonnull(gh_tlb_lookup_write(e->tlb, 0x10000, GH_TLB_SUP));
	g_assert_nonnull(gh_tlb_lookup_write(e->tlb, 0x20000, GH_TLB_SUP));

	/* The interpreter decodes code in gpa 0x30000. */
	e->code_page = 0x30000;
	gh_tlb_protect_code(e->tlb, 0x30000);
	g_assert_null(gh_tlb_lookup_write(e->tlb, 0x10004, GH_TLB_SUP));
	g_assert_null(gh_tlb_lookup_write(e->tlb, 0x20004, GH_TLB_USER));
	g_assert_nonnull(gh_tlb_lookup_read(e->tlb, 0x10004, GH_TLB_SUP));
	g_assert_nonnull(gh_tlb_lookup_exec(e->tlb, 0x20004, GH_TLB_SUP));
	g_assert_nonnull(gh_tlb_lookup_write(e->tlb, 0x11000, GH_TLB_SUP));
	/* The slow path gives the page but says writes need care. */
	access_ok(e, 0x10008, GH_MMU_WRITE, &r);
	g_assert_true(r.host == e->ram + 0x30008);
	g_assert_false(r.host_writable);
	g_assert_null(gh_tlb_lookup_write(e->tlb, 0x10008, GH_TLB_SUP));
	/* A refill after a flush stays protected (the page callback says so). */
	gh_tlb_flush_all(e->tlb);
	access_ok(e, 0x20000, GH_MMU_WRITE, &r);
	g_assert_null(gh_tlb_lookup_write(e->tlb, 0x20000, GH_TLB_SUP));
	/* Code invalidated: the next slow write restores the fast path. */
	e->code_page = ~0ULL;
	access_ok(e, 0x20000, GH_MMU_WRITE, &r);
	g_assert_true(r.host_writable);
	g_assert_true(gh_tlb_lookup_write(e->tlb, 0x20010, GH_TLB_SUP) == e->ram + 0x30010);
	env_free(e);
}

/* ---- randomised differential test --------------------------------------- */

struct leafrec {
	uint64_t gpa;		/* address of the leaf entry */
	uint64_t lin;		/* a linear address it maps */
	unsigned size;		/* entry size */
	bool large;		/* it was made a large-page leaf */
};

static uint64_t rand_flags(GRand *rnd, bool nxe_ok)
{
	uint64_t f = 0;

	if (g_rand_int_range(rnd, 0, 32))
		f |= P;
	if (g_rand_int_range(rnd, 0, 3))
		f |= RW;
	if (g_rand_int_range(rnd, 0, 8))
		f |= US;
	if (g_rand_int_range(rnd, 0, 4) == 0)
		f |= A;
	if (g_rand_int_range(rnd, 0, 4) == 0)
		f |= G;
	if (nxe_ok && g_rand_int_range(rnd, 0, 4) == 0)
		f |= XD;
	if (g_rand_int_range(rnd, 0, 64) == 0)
		f |= 1ULL << g_rand_int_range(rnd, 40, 52);	/* reserved */
	return f;
}

/* Upper levels: mostly open, sometimes restricting like a leaf. */
static uint64_t rand_upper(GRand *rnd, bool nxe_ok)
{
	if (g_rand_int_range(rnd, 0, 6))
		return P | RW | US;
	return rand_flags(rnd, nxe_ok) | P;
}

static void check_one(struct env *e, uint64_t lin, unsigned access)
{
	unsigned type = access & 3;
	unsigned mode = gh_mmu_mode(&e->ctx, access);
	void *fast = gh_tlb_lookup(e->tlb, lin, 1u << (type * 3 + mode));
	struct gh_mmu_result r1, r2;
	int ret1, ret2;

	if (fast) {
		/* A fast write is only allowed once D is set: look without setting it. */
		if (type == GH_MMU_WRITE) {
			ret2 = gh_mmu_translate(&e->ctx, lin, access & ~3u, &r2);
			g_assert_cmpint(ret2, ==, GH_MMU_OK);
			g_assert_true(r2.dirty);
		}
		ret2 = gh_mmu_translate(&e->ctx, lin, access, &r2);
		g_assert_cmpint(ret2, ==, GH_MMU_OK);
		g_assert_true(fast == e->ram + r2.gpa);
		e->fast++;
		return;
	}
	ret1 = gh_mmu_access(&e->ctx, e->tlb, lin, access, &r1);
	ret2 = gh_mmu_translate(&e->ctx, lin, access, &r2);
	g_assert_cmpint(ret1, ==, ret2);
	if (ret1 == GH_MMU_OK)
		e->slow++;
	else
		e->faults++;
	if (ret1 == GH_MMU_OK) {
		g_assert_cmphex(r1.gpa, ==, r2.gpa);
		g_assert_cmphex(r1.perms, ==, r2.perms);
		g_assert_cmpuint(r1.page_shift, ==, r2.page_shift);
		g_assert_true(r1.host == (r2.gpa < RAM_SIZE ? e->ram + r2.gpa : NULL));
	} else {
		g_assert_cmphex(r1.error_code, ==, r2.error_code);
	}
}

static void differential(int paging, guint32 seed)
{
	struct env *e = env_new();
	GRand *rnd = g_rand_new_with_seed(seed);
	struct leafrec leaves[256];
	unsigned nleaves = 0, step, i;
	bool nxe = paging != 32;

	if (paging == 4)
		setup_4level(e, GH_CR0_WP, GH_CR4_PGE, GH_EFER_NXE);
	else if (paging == 3)
		setup_pae(e, GH_CR0_WP, GH_CR4_PGE, GH_EFER_NXE);
	else
		setup_32(e, GH_CR0_WP, GH_CR4_PGE | GH_CR4_PSE, 0);

	/* Linear pages clustered so that tables, slots and large pages are shared. */
	for (i = 0; i < G_N_ELEMENTS(leaves); i++) {
		uint64_t lin, pa;
		int size = g_rand_int_range(rnd, 0, 10) == 0 ? 2 :
			   g_rand_int_range(rnd, 0, 30) == 0 ? 3 : 1;
		uint64_t ent[5] = { 0 };

		if (paging == 4)
			lin = ((uint64_t)g_rand_int_range(rnd, 0, 4) << 39) |
			      ((uint64_t)g_rand_int_range(rnd, 0, 4) << 30) |
			      ((uint64_t)g_rand_int_range(rnd, 0, 8) << 21) |
			      ((uint64_t)g_rand_int_range(rnd, 0, 16) << 12);
		else
			lin = ((uint64_t)g_rand_int_range(rnd, 0, 4) << 30) |
			      ((uint64_t)g_rand_int_range(rnd, 0, 8) << 22) |
			      ((uint64_t)g_rand_int_range(rnd, 0, 16) << 12);
		/* Targets: RAM below the tables, or above RAM (MMIO). */
		pa = (uint64_t)g_rand_int_range(rnd, 0, 8 << 8) << 12;
		if (g_rand_int_range(rnd, 0, 8) == 0)
			pa += 16 << 20;
		if (paging == 4) {
			uint64_t fl[5];
			int l;

			if (size == 3 && g_rand_boolean(rnd))
				size = 2;
			for (l = 1; l <= 4; l++)
				fl[l] = rand_upper(rnd, nxe);
			fl[size] = rand_flags(rnd, nxe);
			pa &= ~((1ULL << (12 + 9 * (size - 1))) - 1);
			map4(e, lin, pa, size, fl, ent);
			leaves[nleaves++] = (struct leafrec){ ent[size], lin, 8, size > 1 };
		} else if (paging == 3) {
			bool large = size > 1;

			if (large)
				pa &= ~0x1fffffULL;
			map_pae(e, lin, pa, large, large ? rand_flags(rnd, nxe) : rand_upper(rnd, nxe),
				rand_flags(rnd, nxe), ent);
			leaves[nleaves++] = (struct leafrec){ ent[large ? 2 : 1], lin, 8, large };
		} else {
			bool large = size > 1;

			if (large) {
				uint64_t v = (pa & 0xffc00000u) | PS | rand_flags(rnd, false);

				/* Sometimes PSE-36 high bits or the reserved bit 21. */
				if (g_rand_int_range(rnd, 0, 8) == 0)
					v |= (uint64_t)g_rand_int_range(rnd, 0, 512) << 13;
				map32(e, lin, v & 0xffffffffu, 0, 0, 0, ent);
				leaves[nleaves++] = (struct leafrec){ ent[2], lin, 4, true };
			} else {
				uint64_t pdef = rand_upper(rnd, false) & ~PS;

				/* Don't turn an existing 4 MiB PDE into a table pointer. */
				if (rd(e, (e->ctx.cr3 & ~0xfffULL) + (lin >> 22) * 4, 4) & PS)
					continue;
				map32(e, lin, 0, pa, pdef & 0xfff, rand_flags(rnd, false) & 0xfff,
				      ent);
				leaves[nleaves++] = (struct leafrec){ ent[1], lin, 4, false };
			}
		}
	}
	if (paging == 3)
		g_assert_cmpint(gh_mmu_load_pdptes(&e->ctx, e->ctx.cr3), ==, GH_MMU_OK);

	for (step = 0; step < 40000; step++) {
		unsigned op = g_rand_int_range(rnd, 0, 1000);
		/* A hot set, so that pages get hit again before the next flush. */
		unsigned which = g_rand_int_range(rnd, 0, 4) ? g_rand_int_range(rnd, 0, 16) :
			g_rand_int_range(rnd, 0, nleaves);
		struct leafrec *lf = &leaves[which % nleaves];

		if (op < 900) {
			uint64_t lin = lf->lin + g_rand_int_range(rnd, 0, 4096);
			unsigned access = g_rand_int_range(rnd, 0, 3);

			if (g_rand_int_range(rnd, 0, 8) == 0)
				lin += (uint64_t)g_rand_int_range(rnd, 1, 512) << 12;
			e->ctx.cpl = g_rand_int_range(rnd, 0, 3) ? 0 : 3;
			e->ctx.ac = g_rand_boolean(rnd);
			if (g_rand_int_range(rnd, 0, 8) == 0)
				access |= GH_MMU_IMPLICIT;
			check_one(e, lin, access);
		} else if (op < 950) {
			/* Change a leaf, then INVLPG an address inside its page. */
			uint64_t v = rd(e, lf->gpa, lf->size);
			uint64_t keep = lf->size == 4 ? (PS | 0xffffe000u) : (PS | ADDR);

			v = (v & keep) | (rand_flags(rnd, nxe) & ~keep);
			wr(e, lf->gpa, lf->size, v);
			/*
			 * A large leaf that a later mapping turned into a table
			 * pointer covers many pages: only a full flush is enough.
			 */
			if (lf->large && !(v & PS))
				gh_tlb_flush_all(e->tlb);
			else
				gh_tlb_flush_page(e->tlb,
						  lf->lin + g_rand_int_range(rnd, 0, 4096));
		} else if (op < 970) {
			gh_tlb_flush_page(e->tlb, lf->lin + g_rand_int_range(rnd, 0, 1 << 22));
		} else if (op < 980) {
			gh_tlb_flush_nonglobal(e->tlb);
		} else if (op < 983) {
			gh_tlb_flush_all(e->tlb);
		} else if (op < 993) {
			static const uint64_t cr4_bits[] = { GH_CR4_SMEP, GH_CR4_SMAP,
							     GH_CR4_PGE };
			uint64_t cr0 = e->ctx.cr0, cr4 = e->ctx.cr4, efer = e->ctx.efer;

			switch (g_rand_int_range(rnd, 0, 3)) {
			case 0:
				e->ctx.cr0 ^= GH_CR0_WP;
				break;
			case 1:
				e->ctx.cr4 ^= cr4_bits[g_rand_int_range(rnd, 0, 3)];
				break;
			default:
				/* NXE stays on where the tables use XD. */
				if (paging == 32)
					e->ctx.efer ^= GH_EFER_NXE;
				else
					e->ctx.cr0 ^= 1ULL << 3;
				break;
			}
			gh_tlb_control_changed(e->tlb, cr0, cr4, efer, e->ctx.cr0, e->ctx.cr4,
					       e->ctx.efer);
		} else {
			gh_tlb_protect_code(e->tlb, (uint64_t)g_rand_int_range(rnd, 0, 6 << 8)
							    << 12);
		}
	}
	g_test_message("paging %d seed %u: %u fast, %u slow, %u faults", paging, seed,
		       e->fast, e->slow, e->faults);
	g_assert_cmpuint(e->fast, >, 1000);
	g_assert_cmpuint(e->slow, >, 1000);
	g_assert_cmpuint(e->faults, >, 1000);
	g_rand_free(rnd);
	env_free(e);
}

static void test_differential(void)
{
	guint32 seed;

	for (seed = 1; seed <= 4; seed++) {
		differential(4, seed);
		differential(3, seed);
		differential(32, seed);
	}
}

/* Random bytes as page tables and CR3: nothing but faults or translations. */
static void test_garbage_tables(void)
{
	struct env *e = env_new();
	GRand *rnd = g_rand_new_with_seed(7);
	unsigned i;

	for (i = TABLES_BASE; i < RAM_SIZE; i += 4)
		*(guint32 *)(e->ram + i) = g_rand_int(rnd);
	for (i = 0; i < 20000; i++) {
		int paging = g_rand_int_range(rnd, 0, 3);
		uint64_t lin = ((uint64_t)g_rand_int(rnd) << 16) ^ g_rand_int(rnd);
		unsigned access = g_rand_int_range(rnd, 0, 8);

		e->ctx.cr0 = GH_CR0_PE | GH_CR0_PG | (g_rand_boolean(rnd) ? GH_CR0_WP : 0);
		e->ctx.cr3 = TABLES_BASE + (g_rand_int_range(rnd, 0, 2048) << 12);
		if (g_rand_int_range(rnd, 0, 16) == 0)
			e->ctx.cr3 = ((uint64_t)g_rand_int(rnd) << 20) ^ g_rand_int(rnd);
		e->ctx.cr4 = g_rand_int(rnd) & (GH_CR4_PSE | GH_CR4_PGE | GH_CR4_SMEP |
						GH_CR4_SMAP);
		e->ctx.efer = g_rand_boolean(rnd) ? GH_EFER_NXE : 0;
		e->ctx.cpl = g_rand_boolean(rnd) ? 3 : 0;
		if (paging == 1) {
			e->ctx.cr4 |= GH_CR4_PAE;
			gh_mmu_load_pdptes(&e->ctx, e->ctx.cr3);
		} else if (paging == 2) {
			e->ctx.cr4 |= GH_CR4_PAE;
			e->ctx.efer |= GH_EFER_LME | GH_EFER_LMA;
		}
		gh_tlb_flush_all(e->tlb);
		check_one(e, lin, access);
		check_one(e, lin, access);
	}
	g_rand_free(rnd);
	env_free(e);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/mmu/no-paging", test_no_paging);
	g_test_add_func("/mmu/32bit", test_32bit);
	g_test_add_func("/mmu/pae", test_pae);
	g_test_add_func("/mmu/4level", test_4level);
	g_test_add_func("/mmu/rights/4level", test_rights_4level);
	g_test_add_func("/mmu/rights/pae", test_rights_pae);
	g_test_add_func("/mmu/rights/32bit", test_rights_32bit);
	g_test_add_func("/mmu/accessed-dirty", test_accessed_dirty);
	g_test_add_func("/mmu/accessed-dirty-race", test_ad_race);
	g_test_add_func("/mmu/tlb/fast-path", test_tlb_fast_path);
	g_test_add_func("/mmu/tlb/global", test_tlb_global);
	g_test_add_func("/mmu/tlb/control-changes", test_tlb_control_changes);
	g_test_add_func("/mmu/tlb/large-invlpg", test_tlb_large_invlpg);
	g_test_add_func("/mmu/tlb/protect-code", test_protect_code);
	g_test_add_func("/mmu/differential", test_differential);
	g_test_add_func("/mmu/garbage-tables", test_garbage_tables);
	return g_test_run();
}
