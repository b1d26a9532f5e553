/*
 * The interpreter's interface for instruction handlers: operand access,
 * guest memory through the TLB, the stack, flags and control transfers.
 *
 * A handler runs one decoded instruction. When it starts, cpu->rip already
 * points past the instruction and cpu->prev_rip at its start (what a fault
 * reports). Faults are raised with gh_cpu_raise*() and unwind to the run
 * loop; a handler must not change architectural state (registers, RSP,
 * flags) before its last access that can fault.
 *
 * Handlers that change anything the decoded-code cache or the run loop
 * depends on (CS, the mode, CR0/CR3/CR4/EFER, IF, TF, paging, the
 * interrupt shadow, HLT) call gh_exec_end_block() so the loop re-checks
 * before the next instruction.
 */
#ifndef GH_CPU_EXEC_H
#define GH_CPU_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cpu/alu.h"
#include "cpu/cpu-internal.h"
#include "cpu/decode.h"
#include "cpu/mmu.h"

typedef void gh_handler_fn(struct gh_cpu *cpu, const struct gh_x86_insn *i);

/* A decoded instruction of a block and its handler (exec.c). */
struct gh_exec_entry {
	gh_handler_fn *fn;
	struct gh_x86_insn insn;
};

/* One row of a handler table: which op a function executes. */
struct gh_handler_bind {
	uint16_t op;
	gh_handler_fn *fn;
};

/*
 * The handler groups (exec-*.c), each a table ending with { 0, NULL }.
 * Ops no table names raise #UD.
 */
extern const struct gh_handler_bind gh_exec_alu_binds[];	/* exec-alu.c */
extern const struct gh_handler_bind gh_exec_ctl_binds[];	/* exec-ctl.c */
extern const struct gh_handler_bind gh_exec_sys_binds[];	/* exec-sys.c */
extern const struct gh_handler_bind gh_exec_x87_binds[];	/* exec-x87.c */
extern const struct gh_handler_bind gh_exec_sse_binds[];	/* exec-sse.c */
extern const struct gh_handler_bind gh_exec_ssefp_binds[];	/* exec-ssefp.c */

/* ---- registers ---------------------------------------------------------- */

/* A general register as an operand of size 1, 2, 4 or 8 bytes. For size 1,
 * r is a ModRM register number and the AH..BH rule applies (needs i). */
static inline uint64_t gh_reg_get(const struct gh_cpu *cpu, unsigned r, unsigned size)
{
	switch (size) {
	case 2:
		return cpu->gpr[r] & 0xffff;
	case 4:
		return (uint32_t)cpu->gpr[r];
	default:
		return cpu->gpr[r];
	}
}

/* Writes size bytes: 32-bit writes zero-extend, 16-bit writes merge. */
static inline void gh_reg_set(struct gh_cpu *cpu, unsigned r, unsigned size, uint64_t v)
{
	switch (size) {
	case 2:
		cpu->gpr[r] = (cpu->gpr[r] & ~0xffffULL) | (v & 0xffff);
		break;
	case 4:
		cpu->gpr[r] = (uint32_t)v;
		break;
	default:
		cpu->gpr[r] = v;
		break;
	}
}

static inline uint8_t gh_reg8_get(const struct gh_cpu *cpu, const struct gh_x86_insn *i,
				  unsigned r)
{
	bool high;
	unsigned g = gh_x86_byte_reg(i, r, &high);

	return high ? cpu->gpr[g] >> 8 : cpu->gpr[g];
}

static inline void gh_reg8_set(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned r,
			       uint8_t v)
{
	bool high;
	unsigned g = gh_x86_byte_reg(i, r, &high);

	if (high)
		cpu->gpr[g] = (cpu->gpr[g] & ~0xff00ULL) | ((uint64_t)v << 8);
	else
		cpu->gpr[g] = (cpu->gpr[g] & ~0xffULL) | v;
}

/* Operand size of an instruction in bytes: 1 for byte forms. */
static inline unsigned gh_opsize(const struct gh_x86_insn *i)
{
	return (gh_x86_op_flags(i->op) & GH_X86_F_BYTE) ? 1 : i->opsize;
}

static inline uint64_t gh_size_mask(unsigned size)
{
	return size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

/* ---- memory -------------------------------------------------------------- */

/* Inline at every operand access, even where the compiler would not. */
#define GH_EXEC_INLINE static inline __attribute__((always_inline))

/* The offset of the ModRM memory operand, wrapped to the address size. */
GH_EXEC_INLINE uint64_t gh_exec_ea(const struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	const struct gh_x86_mem *m = &i->mem;
	uint64_t a = (uint64_t)m->disp;

	if (m->base != GH_X86_REG_NONE)
		a += cpu->gpr[m->base];
	if (m->index != GH_X86_REG_NONE)
		a += cpu->gpr[m->index] * m->scale;
	if (m->rip_rel)
		a += cpu->rip;
	return a & gh_size_mask(i->addrsize);
}

/*
 * Reads/writes size (1, 2, 4, 8, or up to 16 for *_buf) bytes at seg:off:
 * segment checks (limit, type, null selector, canonical form in 64-bit
 * mode: #GP(0), or #SS(0) for SS), then the TLB (fast path: RAM pages), or
 * the slow path: page walk, MMIO, accesses that cross a page, writes to
 * ROM (dropped) and to pages holding decoded code (invalidated first).
 */
uint64_t gh_mem_read_slow(struct gh_cpu *cpu, unsigned seg, uint64_t off, unsigned size);
void gh_mem_write_slow(struct gh_cpu *cpu, unsigned seg, uint64_t off, unsigned size,
		       uint64_t val);

GH_EXEC_INLINE uint64_t gh_host_load(const void *h, unsigned size)
{
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (size) {
	case 1:
		return *(const uint8_t *)h;
	case 2:
		memcpy(&v16, h, 2);
		return v16;
	case 4:
		memcpy(&v32, h, 4);
		return v32;
	default:
		memcpy(&v64, h, 8);
		return v64;
	}
}

GH_EXEC_INLINE void gh_host_store(void *h, unsigned size, uint64_t val)
{
	uint16_t v16 = val;
	uint32_t v32 = val;

	switch (size) {
	case 1:
		*(uint8_t *)h = val;
		break;
	case 2:
		memcpy(h, &v16, 2);
		break;
	case 4:
		memcpy(h, &v32, 4);
		break;
	default:
		memcpy(h, &val, 8);
		break;
	}
}

/*
 * The fast path, inline at every operand access: 64-bit mode, a segment
 * with no base (not FS/GS), a canonical address whose bytes lie in one
 * page that the TLB maps to host memory. Everything else is the slow path.
 */
GH_EXEC_INLINE bool gh_mem_fast(const struct gh_cpu *cpu, unsigned seg, uint64_t off,
				unsigned size)
{
	return cpu->mode == GH_MODE_LONG && seg < GH_FS && gh_cpu_canonical(off) &&
	       (off & 0xfff) + size <= 0x1000;
}

/*
 * The same outside 64-bit mode, where a segment's base and limit apply: a
 * present, usable segment that allows the access (readable, or writable
 * data) and is not expand-down, the bytes within its limit and in one page
 * of the linear space. Then the linear address is base + offset (32-bit),
 * as seg_lin() in exec.c would find without raising anything.
 */
GH_EXEC_INLINE bool gh_mem_fast_legacy(const struct gh_cpu *cpu, unsigned seg,
				       uint64_t off, unsigned size, bool write,
				       uint64_t *lin)
{
	const struct gh_segment *s = &cpu->seg[seg];
	uint64_t l;

	if (cpu->mode == GH_MODE_LONG || off > s->limit ||
	    off + size - 1 > s->limit || !s->present || s->unusable)
		return false;
	/* type: data 0-7 (bit 2 expand-down, bit 1 writable), code 8-15
	 * (bit 1 readable) */
	if (write ? (s->type & 0xe) != 0x2 :
		    (s->type & 0xc) != 0 && (s->type & 0xa) != 0xa)
		return false;
	l = (s->base + off) & 0xffffffffULL;
	if ((l & 0xfff) + size > 0x1000)
		return false;
	*lin = l;
	return true;
}

GH_EXEC_INLINE uint64_t gh_mem_read_seg(struct gh_cpu *cpu, unsigned seg, uint64_t off,
					unsigned size)
{
	uint64_t lin;
	void *h;

	if (__builtin_expect(gh_mem_fast(cpu, seg, off, size), 1)) {
		if ((h = gh_tlb_lookup_read(cpu->tlb, off, cpu->data_mode)))
			return gh_host_load(h, size);
	} else if (gh_mem_fast_legacy(cpu, seg, off, size, false, &lin) &&
		   (h = gh_tlb_lookup_read(cpu->tlb, lin, cpu->data_mode))) {
		return gh_host_load(h, size);
	}
	return gh_mem_read_slow(cpu, seg, off, size);
}

GH_EXEC_INLINE void gh_mem_write_seg(struct gh_cpu *cpu, unsigned seg, uint64_t off,
				     unsigned size, uint64_t val)
{
	uint64_t lin;
	void *h;

	if (__builtin_expect(gh_mem_fast(cpu, seg, off, size), 1)) {
		h = gh_tlb_lookup_write(cpu->tlb, off, cpu->data_mode);
	} else {
		h = gh_mem_fast_legacy(cpu, seg, off, size, true, &lin) ?
		    gh_tlb_lookup_write(cpu->tlb, lin, cpu->data_mode) : NULL;
	}
	if (h) {
		gh_host_store(h, size, val);
		return;
	}
	gh_mem_write_slow(cpu, seg, off, size, val);
}

/*
 * The fast forms: handlers that the block builder picks instead of the
 * generic ones for the hottest instructions in 64-bit code, specialised on
 * operand size and on register or memory operand (exec.c's fast_bind()).
 * Their memory operands have a 64-bit address and no LOCK, so the address
 * is a sum without branches: the decoded instruction's x_* fields name
 * 64-bit words of struct gh_cpu (gh_fast_word()): general registers, RIP
 * (the index of a RIP-relative operand), a word that is always 0 (a
 * missing base or index, the segment base of DS/ES/SS/CS, which 64-bit
 * mode ignores) and the FS and GS bases. The access is one TLB probe. No
 * segment check is needed in 64-bit mode, nor a canonical check: the TLB
 * only ever holds canonical pages, and the probe compares the tag with the
 * page of the last byte, which fails for an access that crosses a page
 * (that page has another slot). Everything else goes to the slow path with
 * the operand's offset.
 */
static inline uint64_t gh_fast_word(const struct gh_cpu *cpu, unsigned w)
{
	return ((const uint64_t *)cpu)[w];
}

/* The word numbers of the x_* fields (checked in exec.c). */
#define GH_FAST_ZERO GH_NR_GPRS				/* xreg[16] */
#define GH_FAST_RIP (offsetof(struct gh_cpu, rip) / 8)
#define GH_FAST_SEG_BASE(s) (offsetof(struct gh_cpu, seg[s].base) / 8)

/* The operand's offset (what LEA computes). */
GH_EXEC_INLINE uint64_t gh_fast_ea(const struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	return gh_fast_word(cpu, i->x_base) + (gh_fast_word(cpu, i->x_index) << i->x_shift) +
	       (uint64_t)i->mem.disp;
}

/* The host address of n bytes at linear a for an access needing tlb
 * bits need, or NULL. */
GH_EXEC_INLINE void *gh_fast_probe(const struct gh_cpu *cpu, uint64_t a, unsigned n,
				   unsigned need)
{
	const struct gh_tlb_entry *e = &cpu->tlb->e[(a >> 12) & (GH_TLB_SIZE - 1)];
	uint64_t tag = __atomic_load_n(&e->tag, __ATOMIC_RELAXED);

	if (__builtin_expect((tag & (GH_TLB_PAGE_MASK | need)) ==
			     (((a + n - 1) & GH_TLB_PAGE_MASK) | need), 1))
		return (void *)((uintptr_t)a + e->addend);
	return NULL;
}

/* n bytes at linear lin through the TLB, or the slow path with the
 * segment and offset the access has there. */
GH_EXEC_INLINE uint64_t gh_fast_read_at(struct gh_cpu *cpu, unsigned seg, uint64_t lin,
					uint64_t off, unsigned n)
{
	void *h = gh_fast_probe(cpu, lin, n, GH_TLB_R(cpu->data_mode));

	return h ? gh_host_load(h, n) : gh_mem_read_slow(cpu, seg, off, n);
}

GH_EXEC_INLINE void gh_fast_write_at(struct gh_cpu *cpu, unsigned seg, uint64_t lin,
				     uint64_t off, unsigned n, uint64_t v)
{
	void *h = gh_fast_probe(cpu, lin, n, GH_TLB_W(cpu->data_mode));

	if (h)
		gh_host_store(h, n, v);
	else
		gh_mem_write_slow(cpu, seg, off, n, v);
}

/* n bytes of i's memory operand at offset off. */
GH_EXEC_INLINE uint64_t gh_fast_load(struct gh_cpu *cpu, const struct gh_x86_insn *i,
				     uint64_t off, unsigned n)
{
	return gh_fast_read_at(cpu, i->seg, off + gh_fast_word(cpu, i->x_seg), off, n);
}

GH_EXEC_INLINE void gh_fast_store(struct gh_cpu *cpu, const struct gh_x86_insn *i,
				  uint64_t off, unsigned n, uint64_t v)
{
	gh_fast_write_at(cpu, i->seg, off + gh_fast_word(cpu, i->x_seg), off, n, v);
}

/* The same on the stack (SS, whose base 64-bit mode ignores). */
GH_EXEC_INLINE uint64_t gh_fast_read(struct gh_cpu *cpu, unsigned seg, uint64_t a,
				     unsigned n)
{
	return gh_fast_read_at(cpu, seg, a, a, n);
}

GH_EXEC_INLINE void gh_fast_write(struct gh_cpu *cpu, unsigned seg, uint64_t a, unsigned n,
				  uint64_t v)
{
	gh_fast_write_at(cpu, seg, a, a, n, v);
}

/* A register result of 4 (zero-extended) or 8 bytes. */
GH_EXEC_INLINE void gh_fast_set(struct gh_cpu *cpu, unsigned r, unsigned n, uint64_t v)
{
	cpu->gpr[r] = n == 4 ? (uint32_t)v : v;
}

/*
 * The last statement of a fast form: runs the block's next instruction by
 * a tail call, so dispatch is spread over the handlers (which predicts
 * better than one loop) and skips the loop's bookkeeping. It returns to
 * the loop instead when the block must stop (end_block), when the loop
 * runs one instruction at a time (no_chain), or at the block's end, where
 * a sentinel entry just returns. 64-bit code only: RIP does not wrap.
 */
#define GH_FAST_NEXT(cpu, i)                                                             \
	do {                                                                             \
		const struct gh_exec_entry *next_ =                                      \
			(const struct gh_exec_entry *)((const char *)(i) -                \
				offsetof(struct gh_exec_entry, insn)) + 1;               \
		if (__builtin_expect((cpu)->chain_stop, 0))                              \
			return;                                                          \
		(cpu)->cur = next_;                                                      \
		(cpu)->prev_rip = (cpu)->rip;                                            \
		(cpu)->rip += next_->insn.len;                                           \
		next_->fn((cpu), &next_->insn);                                          \
		return;                                                                  \
	} while (0)

/* Whether i's memory operand suits the fast forms. */
static inline bool gh_fast_mem_ok(const struct gh_x86_insn *i)
{
	return i->addrsize == 8 && !(i->prefix & GH_X86_PFX_LOCK);
}

/* The fast form of a decoded instruction in 64-bit code (its x_* fields
 * filled), or NULL: exec.c asks each handler group in turn. */
gh_handler_fn *gh_exec_alu_fast(const struct gh_x86_insn *i);	/* exec-alu.c */
gh_handler_fn *gh_exec_ctl_fast(const struct gh_x86_insn *i);	/* exec-ctl.c */

void gh_mem_read_buf(struct gh_cpu *cpu, unsigned seg, uint64_t off, void *buf,
		     unsigned len);
void gh_mem_write_buf(struct gh_cpu *cpu, unsigned seg, uint64_t off, const void *buf,
		      unsigned len);
/* Checks that a write of size bytes at seg:off would succeed (translating
 * and setting A/D bits as the write would), without writing: for
 * instructions that must fault before they change anything. */
void gh_mem_probe_write(struct gh_cpu *cpu, unsigned seg, uint64_t off, unsigned size);

/* The part of an access that lies in one page, translated. */
struct gh_mem_piece {
	uint64_t gpa;
	uint8_t *host;		/* NULL: MMIO */
	bool writable;		/* host may be written (RAM that is not ROM) */
	unsigned len;
};

/* An access translated page by page (at most two pages). */
struct gh_mem_span {
	struct gh_mem_piece p[2];
	unsigned n;
};

/*
 * For locked read-modify-writes (atomic.c): translates size bytes at
 * seg:off for a write, raising every fault the write can raise (segment
 * checks, #PF) and setting the A/D bits before anything is read. Returns
 * the host address when the bytes lie in one page of writable RAM;
 * otherwise NULL, with s filled for gh_mem_span_read/write, which cannot
 * fault (MMIO, ROM, two pages).
 */
void *gh_mem_translate_rmw(struct gh_cpu *cpu, unsigned seg, uint64_t off, unsigned size,
			   struct gh_mem_span *s);
void gh_mem_span_read(struct gh_cpu *cpu, const struct gh_mem_span *s, void *buf);
void gh_mem_span_write(struct gh_cpu *cpu, const struct gh_mem_span *s, const void *buf);

/* The E (ModRM r/m) operand: a register or memory, of size bytes. */
uint64_t gh_exec_read_E(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned size);
void gh_exec_write_E(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned size,
		     uint64_t val);

/* ---- stack ---------------------------------------------------------------- */

/* Pushes/pops size bytes on SS:rSP with the stack's address size (SS.B, or
 * 64-bit in long mode); RSP is only updated after the access succeeded. */
void gh_exec_push(struct gh_cpu *cpu, uint64_t val, unsigned size);
uint64_t gh_exec_pop(struct gh_cpu *cpu, unsigned size);
/* Reads the stack at rSP + off without popping. */
uint64_t gh_exec_peek(struct gh_cpu *cpu, uint64_t off, unsigned size);
/* The stack pointer's width in bytes (2, 4 or 8). */
unsigned gh_exec_stack_size(const struct gh_cpu *cpu);

/* ---- flags ---------------------------------------------------------------- */

/*
 * The arithmetic flags live in cpu->lf while the loop runs; cpu->rflags
 * holds the others. These give and take the whole RFLAGS.
 */
static inline uint64_t gh_exec_rflags(const struct gh_cpu *cpu)
{
	return gh_flags_get(&cpu->lf, cpu->rflags);
}

/* Sets the bits of mask from val (arithmetic and system flags alike); the
 * caller has applied the privilege rules (POPF, IRET...). */
void gh_exec_set_rflags(struct gh_cpu *cpu, uint64_t val, uint64_t mask);

/* cpu->rflags <-> cpu->lf around code that reads RFLAGS directly
 * (exception delivery, IRET, task switches). */
static inline void gh_exec_flags_out(struct gh_cpu *cpu)
{
	cpu->rflags = gh_flags_get(&cpu->lf, cpu->rflags);
}

static inline void gh_exec_flags_in(struct gh_cpu *cpu)
{
	gh_flags_set(&cpu->lf, cpu->rflags, GH_ALU_FLAGS);
}

/* ---- control ---------------------------------------------------------------- */

/* Near jump to target: wraps to the operand size (IP, EIP), checks the CS
 * limit (legacy modes) or canonical form (64-bit mode): #GP(0). Inline:
 * every taken branch comes here. */
static inline void gh_exec_jump(struct gh_cpu *cpu, uint64_t target, unsigned opsize)
{
	target &= gh_size_mask(opsize);
	if (cpu->mode == GH_MODE_LONG) {
		if (__builtin_expect(!gh_cpu_canonical(target), 0))
			gh_cpu_raise(cpu, GH_EXC_GP, 0);
	} else if (__builtin_expect(target > cpu->seg[GH_CS].limit, 0)) {
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	}
	cpu->rip = target;
	cpu->end_block = true;
}

/* The loop re-checks mode, interrupts and the decoded-code cache before
 * the next instruction. */
static inline void gh_exec_end_block(struct gh_cpu *cpu)
{
	cpu->end_block = true;
}

/* After writes to CR0/CR3/CR4/EFER: flushes the TLB as the architecture
 * says, reloads PDPTEs, recomputes the mode (old values given). */
void gh_exec_control_changed(struct gh_cpu *cpu, uint64_t old_cr0, uint64_t old_cr4,
			     uint64_t old_efer);
/* INVLPG. */
void gh_exec_invlpg(struct gh_cpu *cpu, uint64_t lin);

/* Port I/O through the bus, with the TSS I/O permission bitmap checked
 * first when CPL > IOPL or in V86 mode (#GP(0)). */
uint32_t gh_exec_in(struct gh_cpu *cpu, uint16_t port, unsigned size);
void gh_exec_out(struct gh_cpu *cpu, uint16_t port, unsigned size, uint32_t val);
/* Just the permission check, and the accesses after it: string I/O checks
 * each iteration before its memory operand, then moves the data. */
void gh_exec_io_check(struct gh_cpu *cpu, uint16_t port, unsigned size);
uint32_t gh_exec_pio_in(struct gh_cpu *cpu, uint16_t port, unsigned size);
void gh_exec_pio_out(struct gh_cpu *cpu, uint16_t port, unsigned size, uint32_t val);

/* The TSC as the guest reads it. */
uint64_t gh_exec_tsc(struct gh_cpu *cpu);

/* #UD for the current instruction. */
__attribute__((noreturn)) void gh_exec_ud(struct gh_cpu *cpu);

#endif
