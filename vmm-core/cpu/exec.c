/*
 * The interpreter's run loop and the services exec.h gives handlers.
 *
 * Decode once, execute many times: instructions are decoded into blocks
 * (straight-line runs that end at an unconditional transfer or a page end),
 * bound to a handler each, and kept in a direct-mapped cache keyed by the
 * host address of their first byte and the code size. Blocks do not depend
 * on the linear address they run at: RIP-relative operands and branch
 * targets are computed from RIP at run time.
 *
 * Guest pages that hold decoded code lose their fast write path in the
 * TLB; a write that reaches one drops the page's blocks first, so
 * self-modifying code and code loaded by the guest run as written.
 * Interrupts, kicks and the instruction budget are checked between blocks.
 */
#include "cpu/exec.h"
#include "cpu/jit.h"

#include <errno.h>
#include <glib.h>

#define BLOCK_TABLE_SIZE 16384
#define BLOCK_MAX_INSNS 64
#define PAGE_MASK 0xfffULL
/* pages a CPU can have queued for dropping before it drops everything */
#define INVAL_QUEUE 32

#define block_entry gh_exec_entry

/* A block that followed this one before, for skipping the lookup. */
struct chain {
	uint64_t lin;		/* linear address it started at */
	struct block *b;
	/* valid while the TLB and the cache are unchanged: the sum of their
	 * generations, which only grow */
	uint64_t epoch;
};

struct block {
	uintptr_t host;		/* host address of the first byte */
	struct chain next[2];	/* two successors: fall-through and taken */
	uint8_t bits;		/* code size the block was decoded for */
	uint64_t ipmask;	/* RIP wraps to it: IP, EIP or RIP */
	uint64_t pfn[2];	/* guest pages its bytes come from */
	struct block *page_next[2];	/* the other blocks of pfn[0], pfn[1] */
	uint32_t span;		/* bytes from the first to past the last */
	uint32_t n;
	uint32_t runs;		/* times run, until it is translated */
	gh_jit_fn *jit;		/* its translation (jit.h), or NULL */
	struct block *dead_next;	/* on the cache's dead list once dropped */
	struct block_entry e[];		/* n, then a sentinel (GH_FAST_NEXT) */
};

/*
 * The machine's code pages. A CPU claims a page (its bit in the page's
 * mask) before it reads bytes to decode there; claiming a page no CPU held
 * removes the fast write path for it from every CPU's TLB. Whoever writes
 * a claimed page queues the page on every claiming CPU and unclaims it.
 */
struct gh_code_map {
	GMutex lock;
	GHashTable *pages;	/* pfn -> mask of claiming CPU slots */
	struct gh_cpu *cpus[GH_CODE_MAP_CPUS];
	/*
	 * Bumped (before the TLB sweep) whenever a page becomes code: a CPU
	 * that filled a TLB entry while it moved re-checks that entry, as
	 * the sweep may have missed it.
	 */
	uint64_t protect_gen;
};

struct gh_exec_cache {
	gh_handler_fn *handlers[GH_X86_NR_OPS];
	struct block *table[BLOCK_TABLE_SIZE];
	GHashTable *page_blocks;	/* pfn -> this CPU's blocks there (a list) */
	struct gh_code_map *map;
	bool own_map;
	unsigned slot;			/* the CPU's bit in the map's masks */
	/* pages to drop at the next block boundary (under map->lock) */
	uint64_t inval[INVAL_QUEUE];
	unsigned n_inval;
	bool inval_all;
	uint64_t claimed[2];	/* pages claimed for the block being decoded */
	uint64_t budget_end;
	struct block *owned;	/* an uncacheable block being run */
	uint64_t gen;		/* bumped when blocks are dropped or the mode changes */
	struct block *prev;	/* the cached block that ran last (for chaining) */
	uint64_t prev_gen;	/* gen when prev ran: if it moved, prev may be dead */
	/*
	 * Dropped blocks, freed between blocks: a write that invalidates a
	 * page can come from a handler of the block being run, which still
	 * uses its decoded instruction.
	 */
	struct block *dead;
	/* where blocks are decoded: a fetch fault part-way leaks nothing */
	struct block *scratch;
	/* the translator: blocks of 64-bit code run this often are translated */
	struct gh_jit *jit;
	uint32_t jit_threshold;
};

/* ---- handler binding ------------------------------------------------------ */

static void h_ud(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	gh_exec_ud(cpu);
}

static void h_gp_too_long(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	gh_cpu_raise(cpu, GH_EXC_GP, 0);
}

/* A block's sentinel: fast forms chain into it at the block's end. */
static void h_block_end(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
}

void gh_exec_ud(struct gh_cpu *cpu)
{
	gh_cpu_raise_noerr(cpu, GH_EXC_UD);
}

static void bind(struct gh_exec_cache *c, const struct gh_handler_bind *t)
{
	for (; t->fn; t++)
		if (t->op < GH_X86_NR_OPS)
			c->handlers[t->op] = t->fn;
}

#define PFN_KEY(pfn) GSIZE_TO_POINTER((gsize)(pfn))

/* ---- the code map --------------------------------------------------------- */

struct gh_code_map *gh_code_map_new(void)
{
	struct gh_code_map *map = g_new0(struct gh_code_map, 1);

	g_mutex_init(&map->lock);
	map->pages = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	return map;
}

void gh_code_map_free(struct gh_code_map *map)
{
	if (!map)
		return;
	g_hash_table_destroy(map->pages);
	g_mutex_clear(&map->lock);
	g_free(map);
}

static uint64_t map_mask(struct gh_code_map *map, uint64_t pfn)
{
	uint64_t *m = g_hash_table_lookup(map->pages, PFN_KEY(pfn));

	return m ? *m : 0;
}

/* Queues pfn on every CPU claiming it and unclaims it (map->lock held). */
static void map_invalidate_locked(struct gh_code_map *map, uint64_t pfn)
{
	uint64_t mask = map_mask(map, pfn);

	if (!mask)
		return;
	g_hash_table_remove(map->pages, PFN_KEY(pfn));
	while (mask) {
		struct gh_cpu *cpu = map->cpus[__builtin_ctzll(mask)];
		struct gh_exec_cache *c = cpu->cache;
		unsigned k;

		mask &= mask - 1;
		for (k = 0; k < c->n_inval && c->inval[k] != pfn; k++)
			;
		if (k == c->n_inval) {
			if (c->n_inval < INVAL_QUEUE)
				c->inval[c->n_inval++] = pfn;
			else
				c->inval_all = true;
		}
		__atomic_store_n(&cpu->code_inval, 1, __ATOMIC_RELEASE);
	}
}

void gh_code_map_invalidate(struct gh_code_map *map, uint64_t gpa, uint64_t len)
{
	uint64_t pfn, last;

	if (!len)
		return;
	last = (gpa + len - 1) >> 12;
	if (last < gpa >> 12)	/* wrapped: to the end of the address space */
		last = UINT64_MAX >> 12;
	g_mutex_lock(&map->lock);
	/* a range larger than the map: walk the map, not the range */
	if (last - (gpa >> 12) > g_hash_table_size(map->pages)) {
		GHashTableIter it;
		gpointer key, val;
		GArray *hit = g_array_new(false, false, sizeof(uint64_t));
		unsigned k;

		g_hash_table_iter_init(&it, map->pages);
		while (g_hash_table_iter_next(&it, &key, &val)) {
			pfn = GPOINTER_TO_SIZE(key);
			if (pfn >= gpa >> 12 && pfn <= last)
				g_array_append_val(hit, pfn);
		}
		for (k = 0; k < hit->len; k++)
			map_invalidate_locked(map, g_array_index(hit, uint64_t, k));
		g_array_free(hit, true);
	} else {
		for (pfn = gpa >> 12; pfn <= last; pfn++)
			map_invalidate_locked(map, pfn);
	}
	g_mutex_unlock(&map->lock);
}

/*
 * Claims pfn for this CPU before it decodes bytes there. A page new to
 * the map loses its fast write path in every CPU's TLB first, so a write
 * from then on takes the slow path and finds the page claimed.
 */
static void claim_page(struct gh_cpu *cpu, uint64_t pfn)
{
	struct gh_exec_cache *c = cpu->cache;
	struct gh_code_map *map = c->map;
	uint64_t *m;

	if (!g_hash_table_contains(c->page_blocks, PFN_KEY(pfn)))
		g_hash_table_insert(c->page_blocks, PFN_KEY(pfn), NULL);
	g_mutex_lock(&map->lock);
	m = g_hash_table_lookup(map->pages, PFN_KEY(pfn));
	if (!m) {
		unsigned k;

		m = g_new0(uint64_t, 1);
		g_hash_table_insert(map->pages, PFN_KEY(pfn), m);
		/* a full barrier: see fill_check() */
		__atomic_add_fetch(&map->protect_gen, 1, __ATOMIC_SEQ_CST);
		for (k = 0; k < GH_CODE_MAP_CPUS; k++)
			if (map->cpus[k])
				gh_tlb_protect_code(map->cpus[k]->tlb, pfn << 12);
	}
	*m |= 1ULL << c->slot;
	g_mutex_unlock(&map->lock);
}

bool gh_exec_is_code_page(struct gh_cpu *cpu, uint64_t gpa_page)
{
	struct gh_code_map *map = cpu->cache->map;
	bool code;

	g_mutex_lock(&map->lock);
	code = map_mask(map, gpa_page >> 12) != 0;
	g_mutex_unlock(&map->lock);
	return code;
}

/* ---- blocks ------------------------------------------------------------------ */

static unsigned block_index(uintptr_t host, unsigned bits)
{
	return (unsigned)((host >> 0) ^ (host >> 13) ^ bits) & (BLOCK_TABLE_SIZE - 1);
}

static void page_unlink(struct gh_exec_cache *c, struct block *b, unsigned k)
{
	struct block *head = g_hash_table_lookup(c->page_blocks, PFN_KEY(b->pfn[k]));
	struct block **pp = &head;

	while (*pp && *pp != b)
		pp = &(*pp)->page_next[(*pp)->pfn[0] == b->pfn[k] ? 0 : 1];
	if (*pp)
		*pp = b->page_next[k];
	g_hash_table_insert(c->page_blocks, PFN_KEY(b->pfn[k]), head);
}

static void page_link(struct gh_exec_cache *c, struct block *b, unsigned k)
{
	b->page_next[k] = g_hash_table_lookup(c->page_blocks, PFN_KEY(b->pfn[k]));
	g_hash_table_insert(c->page_blocks, PFN_KEY(b->pfn[k]), b);
}

/* The block leaves the table and its pages' lists; freed between blocks. */
static void drop_block(struct gh_exec_cache *c, unsigned idx)
{
	struct block *b = c->table[idx];

	if (!b)
		return;
	page_unlink(c, b, 0);
	if (b->pfn[1] != b->pfn[0])
		page_unlink(c, b, 1);
	if (b->jit)
		gh_jit_drop(b->jit);
	c->table[idx] = NULL;
	c->gen++;
	b->dead_next = c->dead;
	c->dead = b;
}

/* Only between blocks, when no handler is running. */
static void free_dead(struct gh_exec_cache *c)
{
	while (c->dead) {
		struct block *b = c->dead;

		c->dead = b->dead_next;
		g_free(b);
	}
}

/* Drops every block of this CPU with bytes in the page. */
static void drop_page(struct gh_exec_cache *c, uint64_t pfn)
{
	struct block *b;

	while ((b = g_hash_table_lookup(c->page_blocks, PFN_KEY(pfn))))
		drop_block(c, block_index(b->host, b->bits));
	g_hash_table_remove(c->page_blocks, PFN_KEY(pfn));
}

static void drop_all(struct gh_cpu *cpu)
{
	struct gh_exec_cache *c = cpu->cache;
	struct gh_code_map *map = c->map;
	GHashTableIter it;
	gpointer key;
	unsigned i;

	for (i = 0; i < BLOCK_TABLE_SIZE; i++)
		drop_block(c, i);
	/* give up the claims: the pages may become writable again */
	g_mutex_lock(&map->lock);
	g_hash_table_iter_init(&it, c->page_blocks);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		uint64_t *m = g_hash_table_lookup(map->pages, key);

		if (m && !(*m &= ~(1ULL << c->slot)))
			g_hash_table_remove(map->pages, key);
	}
	g_mutex_unlock(&map->lock);
	g_hash_table_remove_all(c->page_blocks);
}

/* At a block boundary: drops what writes to code pages queued for us. */
static void take_invalidations(struct gh_cpu *cpu)
{
	struct gh_exec_cache *c = cpu->cache;
	uint64_t q[INVAL_QUEUE];
	unsigned n, k;
	bool all;

	__atomic_store_n(&cpu->code_inval, 0, __ATOMIC_RELAXED);
	g_mutex_lock(&c->map->lock);
	n = c->n_inval;
	all = c->inval_all;
	memcpy(q, c->inval, n * sizeof(q[0]));
	c->n_inval = 0;
	c->inval_all = false;
	g_mutex_unlock(&c->map->lock);
	if (all) {
		drop_all(cpu);
		return;
	}
	for (k = 0; k < n; k++)
		drop_page(c, q[k]);
}

int gh_exec_init(struct gh_cpu *cpu, struct gh_code_map *map)
{
	struct gh_exec_cache *c = g_new0(struct gh_exec_cache, 1);
	unsigned op, slot;

	c->own_map = !map;
	c->map = map ? map : gh_code_map_new();
	g_mutex_lock(&c->map->lock);
	for (slot = 0; slot < GH_CODE_MAP_CPUS && c->map->cpus[slot]; slot++)
		;
	if (slot < GH_CODE_MAP_CPUS)
		c->map->cpus[slot] = cpu;
	g_mutex_unlock(&c->map->lock);
	if (slot == GH_CODE_MAP_CPUS) {
		g_free(c);
		return -ENOSPC;
	}
	c->slot = slot;
	for (op = 0; op < GH_X86_NR_OPS; op++)
		c->handlers[op] = h_ud;
	bind(c, gh_exec_alu_binds);
	bind(c, gh_exec_ctl_binds);
	bind(c, gh_exec_sys_binds);
	bind(c, gh_exec_x87_binds);
	bind(c, gh_exec_sse_binds);
	bind(c, gh_exec_ssefp_binds);
	c->page_blocks = g_hash_table_new(g_direct_hash, g_direct_equal);
	c->scratch = g_malloc(sizeof(*c->scratch) +
			      (BLOCK_MAX_INSNS + 1) * sizeof(c->scratch->e[0]));
	cpu->tlb = g_new0(struct gh_tlb, 1);
	gh_tlb_flush_all(cpu->tlb);
	cpu->cache = c;
	gh_cpu_set_jit(cpu, GH_CPU_JIT_THRESHOLD);
	return 0;
}

/* Every translation is forgotten (the code buffer starts over). */
static void forget_translations(struct gh_cpu *cpu, struct gh_exec_cache *c)
{
	unsigned k;

	for (k = 0; k < BLOCK_TABLE_SIZE; k++) {
		if (c->table[k]) {
			c->table[k]->jit = NULL;
			c->table[k]->runs = 0;
		}
	}
	if (c->jit)
		gh_jit_reset(c->jit);
	cpu->jit_link = NULL;
}

int gh_cpu_set_jit(struct gh_cpu *cpu, int threshold)
{
	struct gh_exec_cache *c = cpu->cache;

	forget_translations(cpu, c);
	if (threshold < 0) {
		gh_jit_free(c->jit);
		c->jit = NULL;
		return 0;
	}
	if (!c->jit && !(c->jit = gh_jit_new(&c->budget_end)))
		return -ENOMEM;
	c->jit_threshold = (uint32_t)threshold;
	return 0;
}

/*
 * Whether b has a translation, made now if it has run often enough. A
 * full code buffer starts over; a block that still does not fit (it
 * cannot: the buffer holds many of the largest) is never tried again.
 */
static bool translated(struct gh_cpu *cpu, struct gh_exec_cache *c, struct block *b)
{
	if (b->runs == UINT32_MAX || ++b->runs < c->jit_threshold)
		return false;
	b->jit = gh_jit_translate(c->jit, b->e, b->n);
	if (!b->jit) {
		forget_translations(cpu, c);
		b->jit = gh_jit_translate(c->jit, b->e, b->n);
		if (!b->jit)
			b->runs = UINT32_MAX;
	}
	return b->jit != NULL;
}

void gh_exec_fini(struct gh_cpu *cpu)
{
	struct gh_exec_cache *c = cpu->cache;

	drop_all(cpu);
	free_dead(c);
	gh_jit_free(c->jit);
	g_mutex_lock(&c->map->lock);
	c->map->cpus[c->slot] = NULL;
	g_mutex_unlock(&c->map->lock);
	if (c->own_map)
		gh_code_map_free(c->map);
	g_free(c->owned);
	g_free(c->scratch);
	g_hash_table_destroy(c->page_blocks);
	g_free(c);
	g_free(cpu->tlb);
}

void gh_cpu_flush_tlb(struct gh_cpu *cpu)
{
	gh_tlb_flush_all(cpu->tlb);
	cpu->end_block = true;
}

void gh_cpu_flush_code(struct gh_cpu *cpu)
{
	drop_all(cpu);
	/* pages lose their code protection: refill the TLB */
	gh_tlb_flush_all(cpu->tlb);
}

void gh_cpu_invalidate_code(struct gh_cpu *cpu, uint64_t gpa, uint64_t len)
{
	gh_code_map_invalidate(cpu->cache->map, gpa, len);
}

void gh_exec_code_written(struct gh_cpu *cpu, uint64_t gpa, uint64_t len)
{
	gh_code_map_invalidate(cpu->cache->map, gpa, len);
	/* the current block may be one of them */
	cpu->end_block = true;
}

/* ---- modes and flags ------------------------------------------------------- */

void gh_exec_mode_changed(struct gh_cpu *cpu)
{
	if (cpu->cache)
		cpu->cache->gen++;
	if (cpu->cpl == 3)
		cpu->data_mode = GH_TLB_USER;
	else if ((cpu->cr4 & GH_CR4_SMAP) && (cpu->rflags & GH_FL_AC))
		cpu->data_mode = GH_TLB_SUP_AC;
	else
		cpu->data_mode = GH_TLB_SUP;
	cpu->end_block = true;
}

void gh_exec_set_rflags(struct gh_cpu *cpu, uint64_t val, uint64_t mask)
{
	uint64_t sys = mask & ~(uint64_t)GH_ALU_FLAGS;
	uint64_t old = cpu->rflags;

	gh_flags_set(&cpu->lf, val, mask & GH_ALU_FLAGS);
	cpu->rflags = (cpu->rflags & ~sys) | (val & sys) | GH_RFLAGS_FIXED;
	if ((old ^ cpu->rflags) & (GH_FL_VM | GH_FL_AC))
		gh_cpu_update_mode(cpu);
	if ((old ^ cpu->rflags) & (GH_FL_IF | GH_FL_TF | GH_FL_VM | GH_FL_AC))
		cpu->end_block = true;
}

uint64_t gh_exec_tsc(struct gh_cpu *cpu)
{
	uint64_t ns = cpu->bus.now_ns ? cpu->bus.now_ns(cpu->bus.opaque) : 0;

	return ns + (uint64_t)cpu->tsc_offset;
}

/* ---- linear addresses ------------------------------------------------------ */

static bool long64(const struct gh_cpu *cpu)
{
	return cpu->mode == GH_MODE_LONG;
}

__attribute__((noreturn)) static void seg_fault(struct gh_cpu *cpu, unsigned seg)
{
	gh_cpu_raise(cpu, seg == GH_SS ? GH_EXC_SS : GH_EXC_GP, 0);
}

/*
 * seg:off -> linear, with the checks of SDM vol. 3A 5.3 (limits) and 5.5
 * (types) in legacy modes, and the canonical check in 64-bit mode.
 */
static uint64_t seg_lin(struct gh_cpu *cpu, unsigned seg, uint64_t off, unsigned size,
			bool write)
{
	const struct gh_segment *s = &cpu->seg[seg];
	uint64_t lin, last;

	if (long64(cpu)) {
		lin = off;
		if (seg >= GH_FS)
			lin += s->base;
		last = lin + size - 1;
		if (!gh_cpu_canonical(lin) || !gh_cpu_canonical(last))
			seg_fault(cpu, seg);
		return lin;
	}
	if (cpu->mode != GH_MODE_REAL && cpu->mode != GH_MODE_V86) {
		if (s->unusable || !s->present)
			seg_fault(cpu, seg);
		if (s->type & 8) {	/* code: readable, never writable */
			if (write || !(s->type & 2))
				seg_fault(cpu, seg);
		} else if (write && !(s->type & 2)) {
			seg_fault(cpu, seg);
		}
	}
	last = off + size - 1;
	if (!(s->type & 8) && (s->type & 4)) {	/* expand-down data */
		uint64_t top = s->db ? 0xffffffffULL : 0xffffULL;

		if (off <= s->limit || last > top)
			seg_fault(cpu, seg);
	} else if (last > s->limit || last < off) {
		seg_fault(cpu, seg);
	}
	return (s->base + off) & 0xffffffffULL;
}

/* ---- guest memory: the slow path ------------------------------------------- */

/*
 * Translates the part of [lin, lin+len) that lies in lin's page. A page
 * fault is raised, or with quiet, reported by returning false with no
 * other effect.
 */
static bool translate_q(struct gh_cpu *cpu, uint64_t lin, unsigned len, unsigned access,
			struct gh_mem_piece *p, bool quiet)
{
	struct gh_mmu_ctx ctx;
	struct gh_mmu_result r;

	struct gh_code_map *map = cpu->cache->map;
	uint64_t gen = __atomic_load_n(&map->protect_gen, __ATOMIC_ACQUIRE);

	gh_cpu_mmu_ctx(cpu, &ctx, cpu->cpl);
	if (access != GH_MMU_EXEC && cpu->data_mode == GH_TLB_SUP_AC)
		ctx.ac = true;
	if (gh_mmu_access(&ctx, cpu->tlb, lin, access, &r) != GH_MMU_OK) {
		if (quiet)
			return false;
		gh_cpu_raise_pf(cpu, r.linear, r.error_code);
	}
	p->gpa = r.gpa;
	p->host = r.host;
	p->writable = r.host_writable;
	p->len = MIN(len, 0x1000 - (unsigned)(lin & PAGE_MASK));
	if (p->writable) {
		/*
		 * Another CPU may have claimed the page while the entry was
		 * filled, its TLB sweep missing the new entry: the fence
		 * pairs with the one in claim_page(), so one side sees the
		 * other.
		 */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (__atomic_load_n(&map->protect_gen, __ATOMIC_RELAXED) != gen &&
		    gh_exec_is_code_page(cpu, p->gpa & ~PAGE_MASK)) {
			gh_tlb_protect_code(cpu->tlb, p->gpa & ~PAGE_MASK);
			p->writable = false;
		}
	}
	if (access == GH_MMU_WRITE && p->host && !p->writable) {
		/* a page of decoded code (or ROM): drop the code, then ask again */
		if (gh_exec_is_code_page(cpu, p->gpa & ~PAGE_MASK)) {
			bool w = false;

			gh_exec_code_written(cpu, p->gpa & ~PAGE_MASK, 0x1000);
			cpu->bus.page(cpu->bus.opaque, p->gpa & ~PAGE_MASK, &w);
			p->writable = w;
		}
	}
	return true;
}

static void translate(struct gh_cpu *cpu, uint64_t lin, unsigned len, unsigned access,
		      struct gh_mem_piece *p)
{
	translate_q(cpu, lin, len, access, p, false);
}

static void mmio_read(struct gh_cpu *cpu, uint64_t gpa, uint8_t *buf, unsigned len)
{
	uint64_t v;

	if (len == 1 || len == 2 || len == 4 || len == 8) {
		v = cpu->bus.mmio_read(cpu->bus.opaque, gpa, len);
		memcpy(buf, &v, len);
	} else {
		unsigned k;

		for (k = 0; k < len; k++)
			buf[k] = cpu->bus.mmio_read(cpu->bus.opaque, gpa + k, 1);
	}
	cpu->intr_poke = 1;
}

static void mmio_write(struct gh_cpu *cpu, uint64_t gpa, const uint8_t *buf,
		       unsigned len)
{
	uint64_t v = 0;

	if (len == 1 || len == 2 || len == 4 || len == 8) {
		memcpy(&v, buf, len);
		cpu->bus.mmio_write(cpu->bus.opaque, gpa, v, len);
	} else {
		unsigned k;

		for (k = 0; k < len; k++)
			cpu->bus.mmio_write(cpu->bus.opaque, gpa + k, buf[k], 1);
	}
	cpu->intr_poke = 1;
}

/* Translates every page of [lin, lin+len) first: a fault leaves nothing
 * half done. */
static void translate_span(struct gh_cpu *cpu, uint64_t lin, unsigned len, unsigned access,
			   struct gh_mem_span *s)
{
	unsigned done = 0;

	s->n = 0;
	while (done < len) {
		translate(cpu, (lin + done) & (long64(cpu) ? ~0ULL : 0xffffffffULL),
			  len - done, access, &s->p[s->n]);
		done += s->p[s->n++].len;
	}
}

void gh_mem_span_read(struct gh_cpu *cpu, const struct gh_mem_span *s, void *buf)
{
	unsigned done = 0, n;

	for (n = 0; n < s->n; done += s->p[n++].len) {
		if (s->p[n].host)
			memcpy((uint8_t *)buf + done, s->p[n].host, s->p[n].len);
		else
			mmio_read(cpu, s->p[n].gpa, (uint8_t *)buf + done, s->p[n].len);
	}
}

void gh_mem_span_write(struct gh_cpu *cpu, const struct gh_mem_span *s, const void *buf)
{
	unsigned done = 0, n;

	for (n = 0; n < s->n; done += s->p[n++].len) {
		if (s->p[n].host && s->p[n].writable) {
			memcpy(s->p[n].host, (const uint8_t *)buf + done, s->p[n].len);
		} else {
			/* MMIO, or ROM: the MMIO bus gets the write (nothing
			 * takes it there unless a flash chip does) */
			mmio_write(cpu, s->p[n].gpa, (const uint8_t *)buf + done, s->p[n].len);
		}
	}
}

static void slow_read(struct gh_cpu *cpu, uint64_t lin, void *buf, unsigned len,
		      unsigned access)
{
	struct gh_mem_span s;

	translate_span(cpu, lin, len, access, &s);
	gh_mem_span_read(cpu, &s, buf);
}

static void slow_write(struct gh_cpu *cpu, uint64_t lin, const void *buf, unsigned len,
		       bool probe_only)
{
	struct gh_mem_span s;

	translate_span(cpu, lin, len, GH_MMU_WRITE, &s);
	if (!probe_only)
		gh_mem_span_write(cpu, &s, buf);
}

/* ---- guest memory: the entry points ------------------------------------------ */

/* Everything the inline fast path in exec.h does not take. */
uint64_t gh_mem_read_slow(struct gh_cpu *cpu, unsigned seg, uint64_t off, unsigned size)
{
	uint64_t lin = seg_lin(cpu, seg, off, size, false);
	uint64_t v = 0;
	void *h;

	if ((lin & PAGE_MASK) + size <= 0x1000 &&
	    (h = gh_tlb_lookup_read(cpu->tlb, lin, cpu->data_mode)))
		return gh_host_load(h, size);
	slow_read(cpu, lin, &v, size, GH_MMU_READ);
	return v;
}

void gh_mem_write_slow(struct gh_cpu *cpu, unsigned seg, uint64_t off, unsigned size,
		       uint64_t val)
{
	uint64_t lin = seg_lin(cpu, seg, off, size, true);
	void *h;

	if ((lin & PAGE_MASK) + size <= 0x1000 &&
	    (h = gh_tlb_lookup_write(cpu->tlb, lin, cpu->data_mode))) {
		gh_host_store(h, size, val);
		return;
	}
	slow_write(cpu, lin, &val, size, false);
}

void gh_mem_read_buf(struct gh_cpu *cpu, unsigned seg, uint64_t off, void *buf,
		     unsigned len)
{
	slow_read(cpu, seg_lin(cpu, seg, off, len, false), buf, len, GH_MMU_READ);
}

void gh_mem_write_buf(struct gh_cpu *cpu, unsigned seg, uint64_t off, const void *buf,
		      unsigned len)
{
	slow_write(cpu, seg_lin(cpu, seg, off, len, true), buf, len, false);
}

void gh_mem_probe_write(struct gh_cpu *cpu, unsigned seg, uint64_t off, unsigned size)
{
	uint64_t lin = seg_lin(cpu, seg, off, size, true);

	if ((lin & PAGE_MASK) + size <= 0x1000 &&
	    gh_tlb_lookup_write(cpu->tlb, lin, cpu->data_mode))
		return;
	slow_write(cpu, lin, NULL, size, true);
}

void *gh_mem_translate_rmw(struct gh_cpu *cpu, unsigned seg, uint64_t off, unsigned size,
			   struct gh_mem_span *s)
{
	uint64_t lin = seg_lin(cpu, seg, off, size, true);
	void *h;

	if ((lin & PAGE_MASK) + size <= 0x1000 &&
	    (h = gh_tlb_lookup_write(cpu->tlb, lin, cpu->data_mode)))
		return h;
	translate_span(cpu, lin, size, GH_MMU_WRITE, s);
	if (s->n == 1 && s->p[0].host && s->p[0].writable)
		return s->p[0].host;
	return NULL;
}

uint64_t gh_exec_read_E(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned size)
{
	if (!i->has_mem)
		return size == 1 ? gh_reg8_get(cpu, i, i->rm) : gh_reg_get(cpu, i->rm, size);
	return gh_mem_read_seg(cpu, i->seg, gh_exec_ea(cpu, i), size);
}

void gh_exec_write_E(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned size,
		     uint64_t val)
{
	if (!i->has_mem) {
		if (size == 1)
			gh_reg8_set(cpu, i, i->rm, val);
		else
			gh_reg_set(cpu, i->rm, size, val);
		return;
	}
	gh_mem_write_seg(cpu, i->seg, gh_exec_ea(cpu, i), size, val);
}

/* ---- stack ---------------------------------------------------------------------- */

unsigned gh_exec_stack_size(const struct gh_cpu *cpu)
{
	if (cpu->mode == GH_MODE_LONG)
		return 8;
	return cpu->seg[GH_SS].db ? 4 : 2;
}

void gh_exec_push(struct gh_cpu *cpu, uint64_t val, unsigned size)
{
	unsigned ss = gh_exec_stack_size(cpu);
	uint64_t sp = (cpu->gpr[GH_RSP] - size) & gh_size_mask(ss);

	gh_mem_write_seg(cpu, GH_SS, sp, size, val);
	gh_reg_set(cpu, GH_RSP, ss, sp);
}

uint64_t gh_exec_pop(struct gh_cpu *cpu, unsigned size)
{
	unsigned ss = gh_exec_stack_size(cpu);
	uint64_t sp = cpu->gpr[GH_RSP] & gh_size_mask(ss);
	uint64_t v = gh_mem_read_seg(cpu, GH_SS, sp, size);

	gh_reg_set(cpu, GH_RSP, ss, sp + size);
	return v;
}

uint64_t gh_exec_peek(struct gh_cpu *cpu, uint64_t off, unsigned size)
{
	unsigned ss = gh_exec_stack_size(cpu);

	return gh_mem_read_seg(cpu, GH_SS, (cpu->gpr[GH_RSP] + off) & gh_size_mask(ss), size);
}

/* ---- control ----------------------------------------------------------------------- */

void gh_exec_control_changed(struct gh_cpu *cpu, uint64_t old_cr0, uint64_t old_cr4,
			     uint64_t old_efer)
{
	gh_tlb_control_changed(cpu->tlb, old_cr0, old_cr4, old_efer, cpu->cr0, cpu->cr4,
			       cpu->efer);
	if (gh_mmu_pdptes_needed(old_cr0, old_cr4, cpu->cr0, cpu->cr4, cpu->efer))
		gh_cpu_mem_cr3_loaded(cpu);
	gh_cpu_update_mode(cpu);
	cpu->end_block = true;
}

void gh_exec_invlpg(struct gh_cpu *cpu, uint64_t lin)
{
	gh_tlb_flush_page(cpu->tlb, lin);
}

/* SDM vol. 1, 19.5.2: the I/O permission bitmap of a 32-bit TSS. */
void gh_exec_io_check(struct gh_cpu *cpu, uint16_t port, unsigned size)
{
	unsigned iopl = (cpu->rflags & GH_FL_IOPL) >> GH_FL_IOPL_SHIFT;
	const struct gh_segment *tr = &cpu->tr;
	uint16_t base, bits;
	uint32_t at;

	if (cpu->mode == GH_MODE_REAL ||
	    (cpu->mode != GH_MODE_V86 && cpu->cpl <= iopl))
		return;
	if (!tr->present || (tr->type != 9 && tr->type != 11) || tr->limit < 103)
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	gh_cpu_read_sys(cpu, tr->base + 102, &base, 2);
	at = base + port / 8u;
	if (at + 1 > tr->limit)
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	gh_cpu_read_sys(cpu, tr->base + at, &bits, 2);
	if ((bits >> (port & 7)) & ((1u << size) - 1))
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
}

uint32_t gh_exec_pio_in(struct gh_cpu *cpu, uint16_t port, unsigned size)
{
	uint32_t v = cpu->bus.pio_in(cpu->bus.opaque, port, size);

	cpu->intr_poke = 1;	/* a read can lower a device's interrupt */
	return v;
}

void gh_exec_pio_out(struct gh_cpu *cpu, uint16_t port, unsigned size, uint32_t val)
{
	cpu->bus.pio_out(cpu->bus.opaque, port, val, size);
	cpu->intr_poke = 1;
	cpu->end_block = true;	/* the PIC may have something for us now */
}

uint32_t gh_exec_in(struct gh_cpu *cpu, uint16_t port, unsigned size)
{
	gh_exec_io_check(cpu, port, size);
	return gh_exec_pio_in(cpu, port, size);
}

void gh_exec_out(struct gh_cpu *cpu, uint16_t port, unsigned size, uint32_t val)
{
	gh_exec_io_check(cpu, port, size);
	gh_exec_pio_out(cpu, port, size, val);
}

/* ---- decoding blocks ------------------------------------------------------------------ */

static unsigned code_bits(const struct gh_cpu *cpu)
{
	if (cpu->mode == GH_MODE_LONG)
		return 64;
	if (cpu->mode == GH_MODE_REAL || cpu->mode == GH_MODE_V86)
		return 16;
	return cpu->seg[GH_CS].db ? 32 : 16;
}

/* In 64-bit mode the CS base is taken as 0, whatever the descriptor said
 * (SDM vol. 3A, 3.4.4). */
static uint64_t code_lin(const struct gh_cpu *cpu, uint64_t rip)
{
	return long64(cpu) ? rip : (cpu->seg[GH_CS].base + rip) & 0xffffffffULL;
}

/* Instructions after which a block cannot go on straight. */
static bool ends_block(const struct gh_x86_insn *i)
{
	if (i->map == 0) {
		switch (i->opcode) {
		case 0xc2: case 0xc3: case 0xca: case 0xcb: case 0xcc: case 0xcd:
		case 0xce: case 0xcf: case 0xe8: case 0xe9: case 0xea: case 0xeb:
		case 0xf4: case 0xfa: case 0xfb: case 0x9d: case 0x8e: case 0x17:
		case 0x9a:
			return true;
		case 0xff:
			return i->reg >= 2 && i->reg <= 5;
		}
		return false;
	}
	/* the 0F map: SYSCALL, SYSRET, SYSENTER, SYSEXIT, UD2, system groups,
	 * MOV CR/DR, RDMSR/WRMSR, CPUID */
	if (i->map == 1)
		switch (i->opcode) {
		case 0x00: case 0x01: case 0x05: case 0x06: case 0x07: case 0x0b:
		case 0x20: case 0x21: case 0x22: case 0x23: case 0x30: case 0x32:
		case 0x34: case 0x35: case 0xa2:
			return true;
		}
	return false;
}

/* Claims a page for the block being decoded, once per page and block. */
static void claim(struct gh_cpu *cpu, uint64_t pfn)
{
	struct gh_exec_cache *c = cpu->cache;

	if (pfn == c->claimed[0] || pfn == c->claimed[1])
		return;
	claim_page(cpu, pfn);
	c->claimed[c->claimed[0] != UINT64_MAX] = pfn;
}

/*
 * Fetches the instruction bytes at linear lin for decoding: the rest of its
 * page in place, or (cross) 15 bytes across two pages copied into buf.
 * Returns NULL when quiet and a page cannot be fetched.
 */
static const uint8_t *fetch(struct gh_cpu *cpu, uint64_t lin, uint8_t *buf, size_t *avail,
			    uint64_t *gpa, bool cross, bool quiet)
{
	struct gh_mem_piece p, q;
	unsigned in_page = 0x1000 - (unsigned)(lin & PAGE_MASK);

	if (!translate_q(cpu, lin, GH_X86_MAX_LEN, GH_MMU_EXEC, &p, quiet))
		return NULL;
	if (p.host)
		claim(cpu, p.gpa >> 12);
	gpa[0] = gpa[1] = p.gpa;
	if (!cross && p.host) {
		*avail = in_page;
		return p.host;
	}
	if (cross && in_page < GH_X86_MAX_LEN) {
		uint64_t lin2 = long64(cpu) ? lin + in_page : (lin + in_page) & 0xffffffffULL;

		if (!translate_q(cpu, lin2, GH_X86_MAX_LEN - in_page, GH_MMU_EXEC, &q, quiet))
			return NULL;
		if (q.host)
			claim(cpu, q.gpa >> 12);
		if (q.host)
			memcpy(buf + in_page, q.host, GH_X86_MAX_LEN - in_page);
		else
			mmio_read(cpu, q.gpa, buf + in_page, GH_X86_MAX_LEN - in_page);
		gpa[1] = q.gpa;
	}
	if (p.host)
		memcpy(buf, p.host, MIN(in_page, GH_X86_MAX_LEN));
	else
		mmio_read(cpu, p.gpa, buf, MIN(in_page, GH_X86_MAX_LEN));
	*avail = cross ? GH_X86_MAX_LEN : MIN(in_page, GH_X86_MAX_LEN);
	return buf;
}

/* Fills the fast-form fields of i and picks its fast form, or NULL. */
static gh_handler_fn *fast_bind(struct gh_x86_insn *i)
{
	const struct gh_x86_mem *m = &i->mem;
	gh_handler_fn *fn;

	_Static_assert(GH_FAST_RIP < 256 && GH_FAST_SEG_BASE(GH_GS) < 256 &&
		       offsetof(struct gh_cpu, rip) % 8 == 0 &&
		       offsetof(struct gh_cpu, seg[GH_FS].base) % 8 == 0 &&
		       offsetof(struct gh_cpu, seg[GH_GS].base) % 8 == 0,
		       "fast-form words must be addressable by a byte");
	if (i->has_mem) {
		i->x_base = m->base == GH_X86_REG_NONE ? GH_FAST_ZERO : m->base;
		i->x_index = m->rip_rel ? GH_FAST_RIP :
			     m->index == GH_X86_REG_NONE ? GH_FAST_ZERO : m->index;
		i->x_shift = m->rip_rel ? 0 : __builtin_ctz(m->scale ? m->scale : 1);
		i->x_seg = i->seg == GH_FS ? GH_FAST_SEG_BASE(GH_FS) :
			   i->seg == GH_GS ? GH_FAST_SEG_BASE(GH_GS) : GH_FAST_ZERO;
	}
	fn = gh_exec_alu_fast(i);
	return fn ? fn : gh_exec_ctl_fast(i);
}

/*
 * Decodes a block at the current RIP. Faults on fetching the first
 * instruction are raised; later instructions that cannot be fetched
 * simply end the block (they fault when they are reached).
 */
static struct block *build_block(struct gh_cpu *cpu, bool *cacheable)
{
	struct gh_exec_cache *c = cpu->cache;
	struct block *b = c->scratch;
	unsigned bits = code_bits(cpu);
	uint64_t ipmask = bits == 64 ? ~0ULL : bits == 32 ? 0xffffffffULL : 0xffffULL;
	uint64_t rip = cpu->rip, limit = cpu->seg[GH_CS].limit;
	uint8_t buf[2 * GH_X86_MAX_LEN];
	uint64_t gpa[2];

	c->claimed[0] = c->claimed[1] = UINT64_MAX;
	b->n = 0;
	b->span = 0;
	b->bits = bits;
	b->ipmask = ipmask;
	b->runs = 0;
	b->jit = NULL;
	memset(b->next, 0, sizeof(b->next));
	*cacheable = true;
	for (;;) {
		struct block_entry *e = &b->e[b->n];
		uint64_t lin = code_lin(cpu, rip);
		bool quiet = b->n > 0;
		const uint8_t *bytes;
		size_t avail;
		int ret;

		bytes = fetch(cpu, lin, buf, &avail, gpa, false, quiet);
		if (!bytes)
			break;
		if (!b->n) {
			b->host = (uintptr_t)bytes;
			b->pfn[0] = b->pfn[1] = gpa[0] >> 12;
			if (bytes == buf)
				*cacheable = false;	/* code in MMIO */
		} else if (bytes == buf) {
			break;
		}
		ret = gh_x86_decode(bytes, avail, bits, &e->insn);
		if (ret == GH_DECODE_MORE) {
			bytes = fetch(cpu, lin, buf, &avail, gpa, true, quiet);
			if (!bytes)
				break;
			ret = gh_x86_decode(bytes, avail, bits, &e->insn);
			b->pfn[1] = gpa[1] >> 12;
		}
		if (ret)	/* not an instruction the translator may look at */
			e->insn.op = GH_X86_OP_NONE;
		if (ret == GH_DECODE_UD)
			e->fn = h_ud;
		else if (ret == GH_DECODE_GP || ret == GH_DECODE_MORE)
			e->fn = h_gp_too_long;
		else if (!(bits == 64 && (e->fn = fast_bind(&e->insn))))
			e->fn = c->handlers[e->insn.op];
		if (!e->insn.len)
			e->insn.len = 1;
		/* an instruction past the CS limit faults when it is reached */
		if (bits != 64 && rip + e->insn.len - 1 > limit)
			e->fn = h_gp_too_long;
		b->n++;
		b->span += e->insn.len;
		rip = (rip + e->insn.len) & ipmask;
		if (ret || ends_block(&e->insn) || b->n == BLOCK_MAX_INSNS ||
		    b->pfn[1] != b->pfn[0] || ((code_lin(cpu, rip) & PAGE_MASK) == 0))
			break;
	}
	b->e[b->n] = (struct block_entry){ .fn = h_block_end };
	return g_memdup2(b, sizeof(*b) + (b->n + 1) * sizeof(b->e[0]));
}

/* The block at RIP: from the cache when its bytes are unchanged. */
static struct block *find_block(struct gh_cpu *cpu)
{
	struct gh_exec_cache *c = cpu->cache;
	uint64_t lin = code_lin(cpu, cpu->rip);
	unsigned bits = code_bits(cpu);
	struct block *b;
	bool cacheable;
	uint8_t *h;
	unsigned idx;

	free_dead(c);
	h = gh_tlb_lookup_exec(cpu->tlb, lin, cpu->cpl == 3 ? GH_TLB_USER : GH_TLB_SUP);
	if (!h) {
		struct gh_mem_piece p;

		translate(cpu, lin, 1, GH_MMU_EXEC, &p);
		h = p.host;
	}
	if (h) {
		idx = block_index((uintptr_t)h, bits);
		b = c->table[idx];
		if (b && b->host == (uintptr_t)h && b->bits == bits &&
		    (bits == 64 || cpu->rip + b->span - 1 <= cpu->seg[GH_CS].limit))
			return b;
	}
	b = build_block(cpu, &cacheable);
	if (!cacheable) {
		g_free(c->owned);
		c->owned = b;
		return b;
	}
	idx = block_index(b->host, bits);
	drop_block(c, idx);
	c->table[idx] = b;
	page_link(c, b, 0);
	if (b->pfn[1] != b->pfn[0])
		page_link(c, b, 1);
	return b;
}

static uint64_t epoch(const struct gh_cpu *cpu)
{
	return cpu->tlb->generation + cpu->cache->gen;
}

/*
 * The block at RIP, through the previous block's chain when nothing that
 * could change the answer happened since (a TLB flush, a dropped block, a
 * mode change): most blocks end in a branch to a block seen before. The
 * epoch covers the mode, CS and the code size (they bump the cache's
 * generation), but not a real-mode CS base, which a different linear
 * address or the CS limit check catches.
 */
static inline struct block *next_block(struct gh_cpu *cpu)
{
	struct gh_exec_cache *c = cpu->cache;
	struct block *prev = c->prev, *b;
	uint64_t lin = code_lin(cpu, cpu->rip);
	struct chain *ch = NULL;
	uint64_t gen;

	if (prev && c->prev_gen == c->gen) {
		ch = &prev->next[(lin ^ (lin >> 4)) & 1];
		if (__builtin_expect(ch->lin == lin && ch->epoch == epoch(cpu) && ch->b, 1) &&
		    (ch->b->bits == 64 ||
		     cpu->rip + ch->b->span - 1 <= cpu->seg[GH_CS].limit)) {
			c->prev = ch->b;
			return ch->b;	/* prev_gen is still right */
		}
	}
	gen = c->gen;
	b = find_block(cpu);
	if (b == c->owned) {
		c->prev = NULL;
		return b;
	}
	/* link prev to it, unless find_block dropped blocks (prev may be gone) */
	if (ch && c->gen == gen)
		*ch = (struct chain){ lin, b, epoch(cpu) };
	c->prev = b;
	c->prev_gen = c->gen;
	return b;
}

/* ---- the run loop ----------------------------------------------------------------------- */

/* Between blocks: #DB traps, NMI, INTR. Returns false if the CPU stays halted. */
static bool take_events(struct gh_cpu *cpu)
{
	if (cpu->pending_dbg) {
		uint32_t dr6 = cpu->pending_dbg;

		cpu->pending_dbg = 0;
		cpu->dr[6] |= dr6;
		gh_exec_flags_out(cpu);
		gh_cpu_deliver(cpu, GH_EXC_DB, GH_EVENT_EXCEPTION, false, 0);
		gh_exec_flags_in(cpu);
	}
	if (__atomic_load_n(&cpu->nmi_pending, __ATOMIC_ACQUIRE) && !cpu->nmi_blocked &&
	    !cpu->interrupt_shadow) {
		__atomic_store_n(&cpu->nmi_pending, false, __ATOMIC_RELAXED);
		cpu->nmi_blocked = true;
		cpu->halted = false;
		cpu->prev_rip = cpu->rip;
		gh_exec_flags_out(cpu);
		gh_cpu_deliver(cpu, GH_EXC_NMI, GH_EVENT_EXTERNAL, false, 0);
		gh_exec_flags_in(cpu);
	}
	if (__atomic_load_n(&cpu->intr_poke, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&cpu->intr_poke, 0, __ATOMIC_ACQ_REL) && cpu->bus.intr_pending)
		cpu->intr_line = cpu->bus.intr_pending(cpu->bus.opaque);
	if (cpu->intr_line && (cpu->rflags & GH_FL_IF) && !cpu->interrupt_shadow) {
		int vector = cpu->bus.intr_ack(cpu->bus.opaque);

		cpu->intr_line = cpu->bus.intr_pending(cpu->bus.opaque);
		if (vector >= 0) {
			cpu->halted = false;
			cpu->prev_rip = cpu->rip;
			gh_exec_flags_out(cpu);
			gh_cpu_deliver(cpu, vector & 0xff, GH_EVENT_EXTERNAL, false, 0);
			gh_exec_flags_in(cpu);
		}
	}
	return !cpu->halted;
}

/*
 * Between blocks, when something may need doing: the reason to return, or
 * -1 to go on. Other threads set kick, code_inval, intr_poke, nmi_pending.
 */
static int between_blocks(struct gh_cpu *cpu)
{
	struct gh_exec_cache *c = cpu->cache;

	if (cpu->shutdown)
		return GH_CPU_SHUTDOWN;
	/* plain loads first: the locked exchange only when something is set */
	if (__atomic_load_n(&cpu->kick, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&cpu->kick, 0, __ATOMIC_ACQ_REL))
		return GH_CPU_KICKED;
	if (cpu->retired >= c->budget_end)
		return GH_CPU_BUDGET;
	if (__atomic_load_n(&cpu->code_inval, __ATOMIC_ACQUIRE))
		take_invalidations(cpu);
	if ((cpu->pending_dbg | cpu->halted | cpu->intr_line |
	     __atomic_load_n(&cpu->intr_poke, __ATOMIC_RELAXED) |
	     __atomic_load_n(&cpu->nmi_pending, __ATOMIC_RELAXED)) &&
	    !take_events(cpu))
		return GH_CPU_HLT;
	return -1;
}

/* Whether between_blocks() has anything to do: the attention word, a #DB
 * trap, TF, INTR where IF lets it in, the budget. */
static inline bool attention(const struct gh_cpu *cpu, const struct gh_exec_cache *c)
{
	uint64_t fl = cpu->rflags & (GH_FL_TF | ((uint64_t)cpu->intr_line << 9));

	return (__atomic_load_n(&cpu->attn, __ATOMIC_RELAXED) | cpu->pending_dbg | fl) ||
	       cpu->retired >= c->budget_end;
}

/*
 * One instruction under an interrupt shadow or TF: the shadow covers just
 * it, and TF traps after it.
 */
static void single_step(struct gh_cpu *cpu, const struct block *b)
{
	const struct block_entry *e = &b->e[0];
	bool tf = cpu->rflags & GH_FL_TF;

	cpu->rip = (cpu->rip + e->insn.len) & b->ipmask;
	cpu->interrupt_shadow = false;
	cpu->no_chain = true;
	e->fn(cpu, &e->insn);
	cpu->no_chain = false;
	cpu->retired++;
	/* the single-step trap after an instruction begun with TF */
	if (tf)
		cpu->pending_dbg |= GH_DR6_BS;
}

/*
 * Runs blocks until there is a reason to return. Apart from gh_cpu_run()
 * and its setjmp, which would make the compiler keep every variable of the
 * loop in memory.
 */
static __attribute__((noinline)) enum gh_cpu_stop run_blocks(struct gh_cpu *cpu)
{
	struct gh_exec_cache *c = cpu->cache;

	for (;;) {
		const struct block_entry *e, *end;
		struct block *b;
		uint64_t ipmask;
		uint32_t k, n;
		/* the translated exit that led here, if nothing came between */
		void *link = cpu->jit_link;

		cpu->jit_link = NULL;
		if (__builtin_expect(attention(cpu, c), 0)) {
			int stop = between_blocks(cpu);

			link = NULL;
			if (stop >= 0)
				return stop;
			if (__builtin_expect(c->dead != NULL, 0))
				free_dead(c);
			if (cpu->interrupt_shadow | ((cpu->rflags & GH_FL_TF) != 0)) {
				cpu->prev_rip = cpu->rip;
				b = next_block(cpu);
				cpu->end_block = false;
				single_step(cpu, b);
				continue;
			}
		}
		/* a fault fetching the block reports its own first byte */
		cpu->prev_rip = cpu->rip;
		b = next_block(cpu);
		ipmask = b->ipmask;
		cpu->end_block = false;
		n = b->n;
		if (__builtin_expect(c->budget_end - cpu->retired < n, 0)) {
			/* "at most max_insns": the block is cut short, and runs
			 * one instruction at a time */
			n = (uint32_t)(c->budget_end - cpu->retired);
			cpu->no_chain = true;
			for (k = 0; k < n; k++) {
				e = &b->e[k];
				cpu->prev_rip = cpu->rip;
				cpu->rip = (cpu->rip + e->insn.len) & ipmask;
				e->fn(cpu, &e->insn);
				if (cpu->end_block) {
					k++;
					break;
				}
			}
			cpu->no_chain = false;
			cpu->retired += k;
			continue;
		}
		if (b->jit) {
			if (link)
				gh_jit_link(link, b->jit, b->host, cpu->rip);
		} else if (!(c->jit && b->bits == 64 && b != c->owned &&
			     translated(cpu, c, b))) {
			goto interpret;
		}
		/* handlers it calls run one instruction each */
		cpu->no_chain = true;
		b->jit(cpu, GH_TLB_R(cpu->data_mode),
		       GH_TLB_X(cpu->cpl == 3 ? GH_TLB_USER : GH_TLB_SUP));
		cpu->no_chain = false;
		continue;
interpret:
		/*
		 * Fast forms run on by themselves (GH_FAST_NEXT), leaving in
		 * cpu->cur the last entry they started; the others return
		 * here after one instruction.
		 */
		e = b->e;
		end = &b->e[n];
		do {
			cpu->prev_rip = cpu->rip;
			cpu->rip = (cpu->rip + e->insn.len) & ipmask;
			cpu->cur = e;
			e->fn(cpu, &e->insn);
			e = cpu->cur + 1;
		} while (!cpu->end_block && e < end);
		/* the sentinel (end) is no instruction */
		cpu->retired += (uint32_t)(MIN(e, end) - b->e);
	}
}

enum gh_cpu_stop gh_cpu_run(struct gh_cpu *cpu, uint64_t max_insns)
{
	struct gh_exec_cache *c = cpu->cache;
	jmp_buf jb;

	c->budget_end = max_insns ? cpu->retired + max_insns : UINT64_MAX;
	cpu->jmp = &jb;
	c->prev = NULL;
	if (setjmp(jb)) {
		/* an instruction or an event delivery raised an exception */
		c->prev = NULL;
		gh_exec_flags_out(cpu);
		gh_cpu_handle_exception(cpu);
		gh_exec_flags_in(cpu);
		cpu->jmp = &jb;
		cpu->chain_stop = 0;
		cpu->interrupt_shadow = false;
		cpu->jit_link = NULL;
	}
	return run_blocks(cpu);
}

bool gh_cpu_interrupts_enabled(struct gh_cpu *cpu)
{
	return cpu->rflags & GH_FL_IF;
}

void gh_cpu_nmi(struct gh_cpu *cpu)
{
	__atomic_store_n(&cpu->nmi_pending, true, __ATOMIC_RELEASE);
}
