/*
 * The software CPU's MMU: linear-address translation and a software TLB that
 * caches host pointers (Intel SDM vol. 3A, chapter 4 "Paging").
 *
 * What the interpreter does around this module:
 *  - Canonical-address checks (#GP/#SS) happen before a linear address gets
 *    here; 4-level paging only looks at bits 47:0. LA57 is not supported.
 *  - Segmentation, alignment checks (#AC) and page-crossing accesses: a TLB
 *    lookup answers for one 4 KiB page, so an access that crosses a page
 *    boundary is split (or taken through the slow path) by the caller.
 *  - On a fault, CR2 := result.linear and the error code is result.error_code.
 *  - A20 masking, if any, belongs in the page and PTE callbacks.
 *  - When the host memory behind guest-physical addresses changes (RAM
 *    remapped, PAM/ROM shadowing switched), call gh_tlb_flush_all().
 *
 * The walk keeps no paging-structure caches: every TLB miss walks from CR3
 * (or the PDPTE registers), so invalidating the TLB is all that INVLPG, MOV to
 * CR3 and the control-register rules need to do.
 */
#ifndef GH_CPU_MMU_H
#define GH_CPU_MMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gh/cpu-state.h"

/* The physical-address width CPUID 0x80000008 reports for the soft CPU. */
#define GH_MMU_MAXPHYADDR 40

/* Paging-structure entry bits. */
#define GH_PTE_P	(1ULL << 0)
#define GH_PTE_RW	(1ULL << 1)
#define GH_PTE_US	(1ULL << 2)
#define GH_PTE_PWT	(1ULL << 3)
#define GH_PTE_PCD	(1ULL << 4)
#define GH_PTE_A	(1ULL << 5)
#define GH_PTE_D	(1ULL << 6)
#define GH_PTE_PS	(1ULL << 7)
#define GH_PTE_G	(1ULL << 8)
#define GH_PTE_XD	(1ULL << 63)

/* #PF error code bits (SDM 4.7). */
#define GH_PFEC_P	(1u << 0)
#define GH_PFEC_W	(1u << 1)
#define GH_PFEC_U	(1u << 2)
#define GH_PFEC_RSVD	(1u << 3)
#define GH_PFEC_I	(1u << 4)

/* Values returned by gh_mmu_* functions: 0 or the exception vector to raise. */
#define GH_MMU_OK	0
#define GH_MMU_GP	13
#define GH_MMU_PF	14

/*
 * An access: one type, optionally or'ed with GH_MMU_IMPLICIT for the accesses
 * the CPU makes itself to the GDT, LDT, IDT and TSS. Those are supervisor-mode
 * accesses whatever the CPL, and SMAP forbids them on user pages even with
 * EFLAGS.AC = 1 (SDM 4.6).
 */
enum {
	GH_MMU_READ = 0,
	GH_MMU_WRITE = 1,
	GH_MMU_EXEC = 2,
};
#define GH_MMU_IMPLICIT 4u

/*
 * The privilege class a TLB lookup is made for. SUP_AC is an explicit
 * supervisor access with EFLAGS.AC = 1, which SMAP lets reach user pages.
 * The interpreter keeps the current class for explicit accesses
 * (gh_mmu_mode()) and updates it when CPL or EFLAGS.AC change; implicit
 * supervisor accesses always use GH_TLB_SUP.
 */
enum {
	GH_TLB_SUP = 0,
	GH_TLB_USER = 1,
	GH_TLB_SUP_AC = 2,
};

/* Permission bits: one per (access type, class); 9 bits of the TLB tag. */
#define GH_TLB_R(mode)	(1u << (mode))
#define GH_TLB_W(mode)	(8u << (mode))
#define GH_TLB_X(mode)	(64u << (mode))
#define GH_TLB_R_ALL	0x007u
#define GH_TLB_W_ALL	0x038u
#define GH_TLB_X_ALL	0x1c0u
#define GH_TLB_PERM_ALL	0x1ffu

/*
 * Guest-physical memory as the walker sees it. The callbacks must accept any
 * gpa below 2^GH_MMU_MAXPHYADDR (guest controlled): reads of addresses that
 * are not RAM return what the bus returns there; cmpxchg of an address that
 * is not RAM returns true and changes nothing.
 */
struct gh_mmu_ops {
	/* Read a 4- or 8-byte paging-structure entry. */
	uint64_t (*read_pte)(void *opaque, uint64_t gpa, unsigned size);
	/*
	 * Atomically replace the entry at gpa with desired if it still holds
	 * expected; false if it did not (another vCPU changed it: the walk
	 * restarts).
	 */
	bool (*cmpxchg_pte)(void *opaque, uint64_t gpa, unsigned size, uint64_t expected,
			    uint64_t desired);
	/*
	 * Host address of the 4 KiB guest-physical page gpa_page, or NULL when
	 * it is not RAM (MMIO, unassigned): those pages never get a fast path.
	 * *writable is false for ROM and for pages that hold decoded code, so
	 * that writes to them take the slow path.
	 */
	void *(*page)(void *opaque, uint64_t gpa_page, bool *writable);
};

/* The state a translation depends on; the interpreter keeps it up to date. */
struct gh_mmu_ctx {
	uint64_t cr0, cr3, cr4, efer;
	uint64_t pdpte[4];	/* PAE PDPTE registers, see gh_mmu_load_pdptes() */
	unsigned cpl;
	bool ac;		/* EFLAGS.AC */
	const struct gh_mmu_ops *ops;
	void *opaque;
};

struct gh_mmu_result {
	uint64_t linear;	/* the address translated, for CR2 on a fault */
	uint64_t gpa;		/* guest-physical address of linear */
	uint32_t error_code;	/* #PF error code, when GH_MMU_PF is returned */
	uint16_t perms;		/* GH_TLB_* bits the translation allows */
	uint8_t page_shift;	/* 12, 21, 22 or 30: size of the mapping */
	bool global;		/* G set and CR4.PGE = 1 */
	bool dirty;		/* the final entry's D bit (no paging: true) */
	void *host;		/* gh_mmu_access(): host address of linear or NULL */
	bool host_writable;	/* gh_mmu_access(): writes may go through host */
};

/*
 * Walk the paging structures for one access, check it and set the accessed
 * and dirty bits as SDM 4.8 says (A in every entry used, D in the final
 * entry of a write; nothing when the access faults). Returns GH_MMU_OK or
 * GH_MMU_PF with result->error_code set. Does not touch any TLB.
 */
int gh_mmu_translate(struct gh_mmu_ctx *ctx, uint64_t linear, unsigned access,
		     struct gh_mmu_result *result);

/*
 * Load the four PAE PDPTE registers from the 32-byte table at cr3 (SDM 4.4.1).
 * Call it, with the new CR3 value, when MOV to CR3 or a task switch loads CR3
 * while PAE paging is in use, and when gh_mmu_pdptes_needed() says so for MOV
 * to CR0/CR4. Returns GH_MMU_GP (#GP(0); ctx->pdpte and the register being
 * written must then stay unchanged) if a present PDPTE has a reserved bit set.
 */
int gh_mmu_load_pdptes(struct gh_mmu_ctx *ctx, uint64_t cr3);

/* Whether MOV to CR0/CR4 from old to new values loads the PDPTEs (SDM 4.4.1). */
bool gh_mmu_pdptes_needed(uint64_t old_cr0, uint64_t old_cr4, uint64_t cr0,
			  uint64_t cr4, uint64_t efer);

static inline unsigned gh_mmu_mode(const struct gh_mmu_ctx *ctx, unsigned access)
{
	if (access & GH_MMU_IMPLICIT)
		return GH_TLB_SUP;
	if (ctx->cpl == 3)
		return GH_TLB_USER;
	return ctx->ac ? GH_TLB_SUP_AC : GH_TLB_SUP;
}

/*
 * The software TLB: direct mapped, one entry per 4 KiB linear page. Pages
 * larger than 4 KiB are cached piecewise, each 4 KiB part in its own slot;
 * the TLB remembers which large sizes and which linear range it holds pieces
 * of, so INVLPG anywhere in a large page drops all its pieces.
 *
 * The hot part of an entry is 16 bytes: tag = linear page | the GH_TLB_*
 * bits the fast path may take, and addend = host page - linear page. A fast
 * bit is set only when the access needs no walk and no side effect: the page
 * is RAM, and for writes the final entry is already dirty and the page is
 * neither ROM nor decoded code. Everything else (MMIO, first write to a clean
 * page, code pages, ROM) takes the slow path, gh_mmu_access().
 *
 * Entries are computed with the current CR0.WP, CR4.SMEP/SMAP and EFER.NXE,
 * so changing those flushes (gh_tlb_control_changed()); CPL and EFLAGS.AC are
 * lookup arguments and flush nothing.
 *
 * PCIDs: entries carry no PCID tag. The TLB only holds translations of the
 * current PCID plus global ones, which is allowed because a processor may drop
 * any TLB entry at any time (SDM 4.10.4.1). So with CR4.PCIDE = 1:
 *   MOV to CR3 (with or without bit 63 NOFLUSH) -> gh_tlb_flush_nonglobal()
 *   INVPCID type 0 (address) -> gh_tlb_flush_page() if the PCID is current,
 *     otherwise nothing
 *   INVPCID type 1 (single context) -> gh_tlb_flush_nonglobal() if the PCID
 *     is current, otherwise nothing
 *   INVPCID type 2 (all, global too) -> gh_tlb_flush_all()
 *   INVPCID type 3 (all but global) -> gh_tlb_flush_nonglobal()
 * A zero-filled struct gh_tlb is empty.
 */
#define GH_TLB_BITS	12
#define GH_TLB_SIZE	(1u << GH_TLB_BITS)
#define GH_TLB_PAGE_MASK (~(uint64_t)0xfff)

struct gh_tlb_entry {
	uint64_t tag;
	uintptr_t addend;
};

/* The cold part, used by the slow path and by invalidation. */
struct gh_tlb_info {
	uint64_t gpa;		/* guest-physical 4 KiB page */
	uint16_t perms;		/* all GH_TLB_* bits the translation allows */
	uint8_t shift;		/* size of the mapping the piece belongs to */
	uint8_t flags;		/* GH_TLB_F_* */
	uint32_t pad;
};

#define GH_TLB_F_VALID	1u
#define GH_TLB_F_GLOBAL	2u
#define GH_TLB_F_DIRTY	4u

struct gh_tlb {
	struct gh_tlb_entry e[GH_TLB_SIZE];
	struct gh_tlb_info info[GH_TLB_SIZE];
	uint32_t large_shifts;	/* bit s: pieces of 2^s-byte pages are cached */
	uint64_t large_lo;	/* linear range covered by those pages */
	uint64_t large_hi;	/* (inclusive) */
	uint64_t generation;	/* bumped by every flush: cached translations
				 * made from entries (block chains) check it */
};

static inline void *gh_tlb_lookup(const struct gh_tlb *tlb, uint64_t linear,
				  unsigned need)
{
	const struct gh_tlb_entry *e = &tlb->e[(linear >> 12) & (GH_TLB_SIZE - 1)];
	/* atomic: other CPUs clear write bits (gh_tlb_protect_code()) */
	uint64_t tag = __atomic_load_n(&e->tag, __ATOMIC_RELAXED);

	if (__builtin_expect((tag & (GH_TLB_PAGE_MASK | need)) ==
			     ((linear & GH_TLB_PAGE_MASK) | need), 1))
		return (void *)((uintptr_t)linear + e->addend);
	return NULL;
}

/* Host address of linear for a read/write/fetch by mode, or NULL: slow path. */
static inline void *gh_tlb_lookup_read(const struct gh_tlb *tlb, uint64_t linear,
				       unsigned mode)
{
	return gh_tlb_lookup(tlb, linear, GH_TLB_R(mode));
}

static inline void *gh_tlb_lookup_write(const struct gh_tlb *tlb, uint64_t linear,
					unsigned mode)
{
	return gh_tlb_lookup(tlb, linear, GH_TLB_W(mode));
}

static inline void *gh_tlb_lookup_exec(const struct gh_tlb *tlb, uint64_t linear,
				       unsigned mode)
{
	return gh_tlb_lookup(tlb, linear, GH_TLB_X(mode));
}

/*
 * The slow path: answer from the TLB if it can, otherwise walk and fill it.
 * On success result->gpa, ->host (NULL for MMIO: go to the bus with gpa) and
 * ->host_writable (false for ROM: drop the write; false for a code page: the
 * interpreter invalidates its decoded code first, then may write through
 * host) are set. On GH_MMU_PF the TLB entry for the page is dropped, as a
 * page fault does (SDM 4.10.4.2).
 */
int gh_mmu_access(struct gh_mmu_ctx *ctx, struct gh_tlb *tlb, uint64_t linear,
		  unsigned access, struct gh_mmu_result *result);

/* Everything, global entries too (MOV to CR4 changing PGE, INVPCID type 2). */
void gh_tlb_flush_all(struct gh_tlb *tlb);
/* MOV to CR3 (any CR4.PCIDE), task switch: keep global entries. */
void gh_tlb_flush_nonglobal(struct gh_tlb *tlb);
/* INVLPG: the page of linear, global or not, and every piece of a large page
 * that covers linear. */
void gh_tlb_flush_page(struct gh_tlb *tlb, uint64_t linear);
/*
 * MOV to CR0/CR4, WRMSR to EFER: flushes everything if a bit that entries
 * depend on changed (CR0.PG/WP, CR4.PSE/PAE/PGE/PCIDE/SMEP/SMAP,
 * EFER.NXE/LME/LMA). Returns whether it flushed.
 */
bool gh_tlb_control_changed(struct gh_tlb *tlb, uint64_t old_cr0, uint64_t old_cr4,
			    uint64_t old_efer, uint64_t cr0, uint64_t cr4,
			    uint64_t efer);
/*
 * The guest-physical page gpa_page now holds decoded code: drop the fast
 * write permission of every entry that maps it, so writes to it reach the
 * slow path (and the interpreter's code invalidation). Later fills learn it
 * from the page callback's *writable. Any thread may call it on a TLB
 * another thread is using: it only clears bits, atomically; the owner
 * handles an entry it filled meanwhile.
 */
void gh_tlb_protect_code(struct gh_tlb *tlb, uint64_t gpa_page);

#endif
