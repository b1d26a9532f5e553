/*
 * The translator (jit.h): blocks of 64-bit guest code into x86-64 host code.
 *
 * Host registers in translated code:
 *   rbx  the struct gh_cpu            r12  RIP at the block's start
 *   r13  cpu->tlb                     r14  TLB bits a read needs
 *   r15  TLB bits a write needs       rbp  both
 *   r8, r9, r10  the operands and result of the last instruction whose
 *        flags have not been stored yet ("pending", below)
 *   rax, rcx, rdx, rsi, rdi, r11  scratch
 * Guest registers stay in cpu->gpr: an instruction loads its operands into
 * scratch registers, runs the host's own instruction of the same size on
 * them, and stores the result, so results and flags are the host's, which
 * is what the interpreter computes too (its undefined flags follow this
 * host).
 *
 * Flags. An ADD, SUB, CMP, AND, OR, XOR, TEST, INC or DEC leaves its
 * operands and result in r8-r10 and the flags in cpu->lf stale: "pending".
 * They are stored (in the interpreter's lazy form, alu.h) only where
 * something can see them: before a call into the interpreter, at every
 * exit, and on the slow paths, which all start from a memory probe that
 * cannot change r8-r10. A Jcc, SETcc or CMOVcc right after its flags'
 * producer tests the host's flags directly. Shifts, rotates and IMUL run
 * natively only when their flags are dead: overwritten before any
 * instruction reads them or can fault.
 *
 * Control leaves a block at its end, at a taken branch, after an
 * interpreter handler that ends the block (end_block), and after any slow
 * path: the instruction it ran is the block's last.
 */
#include "cpu/jit.h"

#include <errno.h>
#include <glib.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

/*
 * A CPU's code buffer: small, as it counts against the VMM's memory
 * overhead (issue 4: under 30 MiB beside guest RAM). Linux's boot and a
 * userland workload translate about 8 MiB over time; the hot part fits,
 * and starting over when full costs little (bench/linux-boot.py: 2 MiB
 * gave the same times as 16 MiB, with 14 MiB less resident).
 */
#define JIT_BUF_SIZE (2u << 20)
/* The most one block's code can take: 64 instructions and their stubs. */
#define JIT_BLOCK_MAX (48u << 10)
#define MAX_STUBS 192
/* Where a chained jump enters a block: past the prologue, at the budget
 * check (the prologue's length is the same for every block). */
#define JIT_CHAIN_ENTRY 64

/* What the flags of the last producer still need (see above). */
enum pend {
	P_NONE,
	P_LOGIC,	/* r10 = result */
	P_ADD,		/* r8 + r9 = r10 */
	P_SUB,		/* r8 - r9 = r10 */
	P_INC,		/* r8 + 1 = r10, CF kept */
	P_DEC,		/* r8 - 1 = r10, CF kept */
	/* by count (not 0): r8 = the operand, r10 = the result; flags as
	 * alu.h computes them, AF 0 and OF from the operand whatever the
	 * count (both undefined beyond a count of 1) */
	P_SHL,
	P_SHR,
	P_SAR,
	P_ROL,		/* CF and OF only */
	P_ROR,
};

struct gh_jit {
	uint8_t *base;
	size_t size, used;
	/*
	 * Link records, apart from the code (stores next to code being run
	 * cost the host a pipeline flush): one per linked exit, then the
	 * jump cache of RET and indirect JMP, indexed by a hash of the target.
	 */
	struct gh_jit_link *links;
	unsigned n_links;
	struct gh_jit_link *jcache;
	const uint64_t *budget_end;	/* the run loop's, for chained entries */
	/* code every translation shares, at the buffer's start */
	const uint8_t *exit_tail;	/* link_exit()'s checks and jump */
	const uint8_t *epilogue;	/* the return to the loop */
	const uint8_t *call;		/* call_handler()'s routine */
	const uint8_t *mat[P_DEC + 1][4];	/* materialize()'s, by kind and size */
	size_t shared;			/* bytes they take */
};

/*
 * Where an exit goes without the run loop: the block whose first byte is
 * at host address host, found for linear address lin, entered at to while
 * *valid (the first byte of its translation's header) is not 0. An exit
 * checks all of that against the TLB as it is now.
 */
struct gh_jit_link {
	uint64_t lin;
	uintptr_t host;
	const uint8_t *to;
	const uint8_t *valid;
};

#define MAX_LINKS (1u << 18)
#define JCACHE_BITS 12
#define JCACHE_SIZE (1u << JCACHE_BITS)
/* no target is this (non-canonical) address: an empty record */
#define NO_LIN 0x8000000000000000ULL
/* a translation starts with its valid byte, padded, then the code */
#define HEADER 16

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

struct pending {
	uint8_t kind;	/* enum pend */
	uint8_t size;	/* operand size in bytes */
	uint8_t count;	/* shifts and rotates */
	bool keep_of;	/* a rotate that leaves OF (see do_shift()) */
};

enum stub_kind {
	STUB_SLOW,	/* run instruction k in the interpreter, then leave */
	STUB_TAKEN,	/* a taken Jcc: leave with RIP = r12 + target */
	STUB_END,	/* a handler ended the block: leave after k */
};

struct stub {
	uint32_t patch;		/* offset of the rel32 that jumps here */
	uint8_t kind;
	uint8_t k;
	struct pending p;
	int64_t target;		/* STUB_TAKEN: offset from the block's RIP */
};

struct em {
	uint8_t *start, *p, *end;
	bool overflow;
	const struct gh_exec_entry *e;
	unsigned n;
	uint32_t off[65];	/* instruction k starts at RIP + off[k] */
	struct pending pend;
	bool rip_set;		/* the last instruction was a handler's: RIP is its */
	/* the host's flags are the guest's: those of the pending producer */
	bool hf;
	struct stub stubs[MAX_STUBS];
	unsigned nstubs;
	struct gh_jit *j;
};

/* ---- the code buffer ------------------------------------------------------- */

/* The jump cache empties; a translation's own records are set when it
 * is made (the array is only touched as far as it is used). */
static void emit_shared(struct gh_jit *j);

static void clear_links(struct gh_jit *j)
{
	unsigned k;

	for (k = 0; k < JCACHE_SIZE; k++)
		j->jcache[k] = (struct gh_jit_link){ .lin = NO_LIN };
	j->n_links = 0;
}

struct gh_jit *gh_jit_new(const uint64_t *budget_end)
{
	struct gh_jit *j;
	void *p = mmap(NULL, JIT_BUF_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	j = g_new0(struct gh_jit, 1);
	j->base = p;
	j->size = JIT_BUF_SIZE;
	j->links = g_new(struct gh_jit_link, MAX_LINKS + JCACHE_SIZE);
	j->jcache = j->links + MAX_LINKS;
	j->budget_end = budget_end;
	clear_links(j);
	emit_shared(j);
	j->used = j->shared;
	return j;
}

void gh_jit_free(struct gh_jit *j)
{
	if (!j)
		return;
	munmap(j->base, j->size);
	g_free(j->links);
	g_free(j);
}

void gh_jit_reset(struct gh_jit *j)
{
	j->used = j->shared;
	clear_links(j);
}

void gh_jit_link(void *link, gh_jit_fn *to, uintptr_t host, uint64_t lin)
{
	struct gh_jit_link *l = link;
	const uint8_t *code = (const uint8_t *)(void *)to;

	l->host = host;
	l->to = code + JIT_CHAIN_ENTRY;
	l->valid = code - HEADER;
	l->lin = lin;
}

void gh_jit_drop(gh_jit_fn *fn)
{
	*((uint8_t *)(void *)fn - HEADER) = 0;
}

/* ---- encoding ----------------------------------------------------------------- */

static void b1(struct em *m, unsigned v)
{
	if (m->p < m->end)
		*m->p++ = (uint8_t)v;
	else
		m->overflow = true;
}

static void b4(struct em *m, uint32_t v)
{
	b1(m, v);
	b1(m, v >> 8);
	b1(m, v >> 16);
	b1(m, v >> 24);
}

static uint32_t here(const struct em *m)
{
	return (uint32_t)(m->p - m->start);
}

static bool fits8(int64_t v)
{
	return v >= -128 && v <= 127;
}

static bool fits32(int64_t v)
{
	return v >= INT32_MIN && v <= INT32_MAX;
}

/*
 * One instruction: an optional 66 prefix, REX (W, and the high bits of
 * reg/index/base), opcode bytes, ModRM and whatever follows. byte: reg or
 * rm is a byte register, where 4-7 need a REX to mean SPL..DIL.
 */
struct operand {
	bool mem;
	unsigned r;		/* register, or the base */
	int index;		/* -1: none */
	unsigned shift;
	int32_t disp;
};

static struct operand R(unsigned r)
{
	return (struct operand){ .r = r, .index = -1 };
}

static struct operand M(unsigned base, int32_t disp)
{
	return (struct operand){ .mem = true, .r = base, .index = -1, .disp = disp };
}

static struct operand MI(unsigned base, unsigned index, unsigned shift, int32_t disp)
{
	return (struct operand){ .mem = true, .r = base, .index = (int)index,
				 .shift = shift, .disp = disp };
}

static void insn(struct em *m, unsigned size, bool byte, unsigned op, unsigned reg,
		 struct operand rm)
{
	unsigned x = rm.index >= 0 ? (unsigned)rm.index : 0;
	unsigned rex = 0x40 | (size == 8 ? 8 : 0) | ((reg >> 3) << 2) | ((x >> 3) << 1) |
		       (rm.r >> 3);

	if (size == 2)
		b1(m, 0x66);
	if (rex != 0x40 || (byte && (reg >= 4 || (!rm.mem && rm.r >= 4))))
		b1(m, rex);
	if (op > 0xffff)
		b1(m, op >> 16);
	if (op > 0xff)
		b1(m, op >> 8);
	b1(m, op);
	if (!rm.mem) {
		b1(m, 0xc0 | (reg & 7) << 3 | (rm.r & 7));
		return;
	}
	{
		unsigned mod = rm.disp == 0 && (rm.r & 7) != RBP ? 0 : fits8(rm.disp) ? 1 : 2;
		bool sib = rm.index >= 0 || (rm.r & 7) == RSP;

		b1(m, mod << 6 | (reg & 7) << 3 | (sib ? 4 : rm.r & 7));
		if (sib)
			b1(m, rm.shift << 6 | (rm.index >= 0 ? (x & 7) : 4) << 3 | (rm.r & 7));
		if (mod == 1)
			b1(m, (uint8_t)rm.disp);
		else if (mod == 2)
			b4(m, (uint32_t)rm.disp);
	}
}

/* Offsets into struct gh_cpu. */
#define CPU(field) ((int32_t)offsetof(struct gh_cpu, field))
#define GPR(r) ((int32_t)(offsetof(struct gh_cpu, gpr) + 8 * (r)))

static struct operand C(int32_t off)
{
	return M(RBX, off);
}

static void mov_load(struct em *m, unsigned size, unsigned r, struct operand src)
{
	insn(m, size == 8 ? 8 : 4, false, 0x8b, r, src);
}

static void mov_store(struct em *m, unsigned size, struct operand dst, unsigned r)
{
	insn(m, size, size == 1, size == 1 ? 0x88 : 0x89, r, dst);
}

static void mov_rr(struct em *m, unsigned size, unsigned dst, unsigned src)
{
	insn(m, size, size == 1, size == 1 ? 0x88 : 0x89, src, R(dst));
}

/* movzx/movsx from 1 or 2 bytes into a 4- or 8-byte register. */
static void movx(struct em *m, unsigned dsize, bool sign, unsigned from, unsigned r,
		 struct operand src)
{
	unsigned op = 0x0fb6 | (from == 2 ? 1 : 0) | (sign ? 8 : 0);

	insn(m, dsize, from == 1, op, r, src);
}

static void mov_imm(struct em *m, unsigned r, uint64_t v)
{
	if (v <= UINT32_MAX) {
		if (r >= 8)
			b1(m, 0x41);
		b1(m, 0xb8 + (r & 7));
		b4(m, (uint32_t)v);
	} else if (fits32((int64_t)v)) {
		insn(m, 8, false, 0xc7, 0, R(r));
		b4(m, (uint32_t)v);
	} else {
		b1(m, 0x48 | (r >> 3));
		b1(m, 0xb8 + (r & 7));
		b4(m, (uint32_t)v);
		b4(m, (uint32_t)(v >> 32));
	}
}

static void lea(struct em *m, unsigned r, struct operand a)
{
	insn(m, 8, false, 0x8d, r, a);
}

/* ALU op reg,reg of the 01/09/21/29/31/39/85 family at size bytes. */
static void alu_rr(struct em *m, unsigned op, unsigned size, unsigned dst, unsigned src)
{
	insn(m, size, size == 1, size == 1 ? op - 1 : op, src, R(dst));
}

/* Group 1 with an 8- or 32-bit immediate on a 64- or 32-bit register. */
static void alu_ri(struct em *m, unsigned ext, unsigned size, unsigned r, int32_t imm)
{
	if (fits8(imm)) {
		insn(m, size, false, 0x83, ext, R(r));
		b1(m, (uint8_t)imm);
	} else {
		insn(m, size, false, 0x81, ext, R(r));
		b4(m, (uint32_t)imm);
	}
}

enum { G1_ADD = 0, G1_OR = 1, G1_AND = 4, G1_SUB = 5, G1_XOR = 6, G1_CMP = 7 };

static void shift_ri(struct em *m, unsigned ext, unsigned size, unsigned r, unsigned n)
{
	insn(m, size, size == 1, size == 1 ? 0xc0 : 0xc1, ext, R(r));
	b1(m, n);
}

enum { SH_ROL = 0, SH_ROR = 1, SH_SHL = 4, SH_SHR = 5, SH_SAR = 7 };

static void not_r(struct em *m, unsigned r)
{
	insn(m, 8, false, 0xf7, 2, R(r));
}

/* A jump (jcc with cc >= 0, jmp otherwise) to be patched; returns the
 * offset of its rel32. */
static uint32_t jump32(struct em *m, int cc)
{
	if (cc >= 0) {
		b1(m, 0x0f);
		b1(m, 0x80 + cc);
	} else {
		b1(m, 0xe9);
	}
	b4(m, 0);
	return here(m) - 4;
}

static void patch(struct em *m, uint32_t at, uint32_t to)
{
	if (m->overflow)
		return;
	uint32_t rel = to - (at + 4);

	memcpy(m->start + at, &rel, 4);
}

static void add_stub(struct em *m, uint32_t at, enum stub_kind kind, unsigned k,
		     int64_t target)
{
	if (m->nstubs == MAX_STUBS) {
		m->overflow = true;
		return;
	}
	m->stubs[m->nstubs++] = (struct stub){ .patch = at, .kind = kind, .k = k,
					       .p = m->pend, .target = target };
}

/* ---- flags -------------------------------------------------------------------- */

#define LF_RES CPU(lf.result)
#define LF_AUX CPU(lf.aux)

/* rax = r10 sign-extended from size bytes. */
static void sext_result(struct em *m, unsigned size)
{
	switch (size) {
	case 1:
		movx(m, 8, true, 1, RAX, R(R10));
		break;
	case 2:
		movx(m, 8, true, 2, RAX, R(R10));
		break;
	case 4:
		insn(m, 8, false, 0x63, RAX, R(R10));
		break;
	default:
		mov_rr(m, 8, RAX, R10);
		break;
	}
}

/* ecx (or edx) = bit n of r8, or of the value sign-extended past it */
static void bit_of(struct em *m, unsigned dst, unsigned n)
{
	mov_rr(m, 8, dst, R8);
	if (n)
		shift_ri(m, SH_SHR, 8, dst, n);
	alu_ri(m, G1_AND, 4, dst, 1);
}

/* The flags of a shift or rotate (alu.h's gh_alu_shl ... gh_alu_ror). */
static void materialize_shift(struct em *m, struct pending p)
{
	unsigned bits = p.size * 8, c = p.count;
	bool rot = p.kind == P_ROL || p.kind == P_ROR;

	/* ecx = CF */
	switch (p.kind) {
	case P_SHL:
		if (c > bits)
			alu_rr(m, 0x31, 4, RCX, RCX);
		else
			bit_of(m, RCX, bits - c);
		break;
	case P_SHR:
		if (c > bits)
			alu_rr(m, 0x31, 4, RCX, RCX);
		else
			bit_of(m, RCX, c - 1);
		break;
	case P_SAR:
		bit_of(m, RCX, MIN(c - 1, bits - 1));
		break;
	case P_ROL:	/* the result's bit 0 */
		mov_rr(m, 8, RCX, R10);
		alu_ri(m, G1_AND, 4, RCX, 1);
		break;
	default:	/* P_ROR: the result's top bit */
		mov_rr(m, 8, RCX, R10);
		shift_ri(m, SH_SHR, 8, RCX, bits - 1);
		alu_ri(m, G1_AND, 4, RCX, 1);
		break;
	}
	/* edx = OF, from the operand */
	switch (p.kind) {
	case P_SHL:
	case P_ROL:	/* msb ^ the bit below */
		bit_of(m, RDX, bits - 1);
		bit_of(m, RAX, bits - 2);
		alu_rr(m, 0x31, 4, RDX, RAX);
		break;
	case P_SHR:
		bit_of(m, RDX, bits - 1);
		break;
	case P_SAR:
		alu_rr(m, 0x31, 4, RDX, RDX);
		break;
	default:	/* P_ROR: bit 0 ^ msb */
		bit_of(m, RDX, bits - 1);
		bit_of(m, RAX, 0);
		alu_rr(m, 0x31, 4, RDX, RAX);
		break;
	}
	if (p.keep_of) {
		/* edx = OF as it was: aux bit 63 ^ bit 62 */
		mov_load(m, 8, RDX, C(LF_AUX));
		mov_rr(m, 8, RAX, RDX);
		alu_rr(m, 0x01, 8, RAX, RAX);
		alu_rr(m, 0x31, 8, RDX, RAX);
		shift_ri(m, SH_SHR, 8, RDX, 63);
	}
	/* rcx = CF << 63 | (CF ^ OF) << 62 */
	alu_rr(m, 0x31, 4, RDX, RCX);
	shift_ri(m, SH_SHL, 8, RCX, 63);
	shift_ri(m, SH_SHL, 8, RDX, 62);
	alu_rr(m, 0x09, 8, RCX, RDX);
	if (rot) {
		/* SF, ZF, AF and PF keep their values */
		mov_load(m, 8, RAX, C(LF_AUX));
		shift_ri(m, SH_SHL, 8, RAX, 2);
		shift_ri(m, SH_SHR, 8, RAX, 2);
		alu_rr(m, 0x09, 8, RCX, RAX);
	} else {
		sext_result(m, p.size);
		mov_store(m, 8, C(LF_RES), RAX);
	}
	mov_store(m, 8, C(LF_AUX), RCX);
}

/*
 * Stores the pending flags into cpu->lf (alu.h's form: result
 * sign-extended, aux = carry vector shifted so its bits n-1 and n-2 land
 * in 63 and 62, plus AF in bit 3). Clobbers rax, rcx, rdx and the host
 * flags.
 */
static void call_to(struct em *m, const uint8_t *to);

static void materialize(struct em *m, struct pending p)
{
	if (p.kind == P_NONE)
		return;
	if (p.kind >= P_SHL)
		materialize_shift(m, p);
	else	/* a routine of the shared code */
		call_to(m, m->j->mat[p.kind][__builtin_ctz(p.size)]);
}

/* The body of materialize()'s shared routines (ADD ... DEC). */
static void emit_materialize(struct em *m, struct pending p)
{
	unsigned bits = p.size * 8;

	sext_result(m, p.size);
	mov_store(m, 8, C(LF_RES), RAX);
	if (p.kind == P_LOGIC) {
		insn(m, 8, false, 0xc7, 0, C(LF_AUX));	/* mov qword [aux], 0 */
		b4(m, 0);
		return;
	}
	/* rax = the carry (borrow) vector */
	switch (p.kind) {
	case P_ADD:	/* (a & b) | ((a | b) & ~r) */
		mov_rr(m, 8, RAX, R8);
		alu_rr(m, 0x21, 8, RAX, R9);
		mov_rr(m, 8, RCX, R8);
		alu_rr(m, 0x09, 8, RCX, R9);
		mov_rr(m, 8, RDX, R10);
		not_r(m, RDX);
		alu_rr(m, 0x21, 8, RCX, RDX);
		alu_rr(m, 0x09, 8, RAX, RCX);
		break;
	case P_SUB:	/* (~a & b) | ((~a | b) & r) */
		mov_rr(m, 8, RDX, R8);
		not_r(m, RDX);
		mov_rr(m, 8, RAX, RDX);
		alu_rr(m, 0x21, 8, RAX, R9);
		alu_rr(m, 0x09, 8, RDX, R9);
		alu_rr(m, 0x21, 8, RDX, R10);
		alu_rr(m, 0x09, 8, RAX, RDX);
		break;
	case P_INC:	/* a & ~r */
		mov_rr(m, 8, RAX, R10);
		not_r(m, RAX);
		alu_rr(m, 0x21, 8, RAX, R8);
		break;
	default:	/* P_DEC: ~a & r */
		mov_rr(m, 8, RAX, R8);
		not_r(m, RAX);
		alu_rr(m, 0x21, 8, RAX, R10);
		break;
	}
	/* aux = (cv << (64 - bits)) | (cv & 8); for 64 bits, cv's bits 63, 62, 3 */
	mov_rr(m, 8, RCX, RAX);
	if (bits == 64) {
		shift_ri(m, SH_SHR, 8, RCX, 62);
		shift_ri(m, SH_SHL, 8, RCX, 62);
	} else {
		shift_ri(m, SH_SHL, 8, RCX, 64 - bits);
	}
	alu_ri(m, G1_AND, 4, RAX, 8);
	alu_rr(m, 0x09, 8, RAX, RCX);
	if (p.kind == P_INC || p.kind == P_DEC) {
		/* CF stays: d = (new ^ old) & bit 63; aux ^= d ^ (d >> 1) */
		mov_load(m, 8, RCX, C(LF_AUX));
		alu_rr(m, 0x31, 8, RCX, RAX);
		shift_ri(m, SH_SHR, 8, RCX, 63);
		shift_ri(m, SH_SHL, 8, RCX, 63);
		alu_rr(m, 0x31, 8, RAX, RCX);
		shift_ri(m, SH_SHR, 8, RCX, 1);
		alu_rr(m, 0x31, 8, RAX, RCX);
	}
	mov_store(m, 8, C(LF_AUX), RAX);
}

/* The pending flags go to cpu->lf now, on the main path. */
static void flush_flags(struct em *m)
{
	materialize(m, m->pend);
	m->pend.kind = P_NONE;
	m->hf = false;
}

/*
 * Makes the host's flags answer condition cc; returns the host condition
 * to test. From the producer's own flags when they are still there,
 * otherwise computed from cpu->lf into eax (clobbers rax, rcx, rdx).
 */
static unsigned cond(struct em *m, unsigned cc)
{
	unsigned base = cc & ~1u;
	bool uses_cf = base == 2 || base == 6;

	bool uses_of = base == 0 || base == 12 || base == 14;
	bool shift = m->pend.kind >= P_SHL && m->pend.kind <= P_SAR;
	bool rot = m->pend.kind == P_ROL || m->pend.kind == P_ROR;

	/* the host's flags where they are the guest's: after INC/DEC not CF,
	 * after a shift not OF (undefined, and alu.h's may differ), after a
	 * rotate only CF */
	if (m->hf && !(uses_cf && (m->pend.kind == P_INC || m->pend.kind == P_DEC)) &&
	    !(shift && uses_of) && !(rot && base != 2))
		return cc;
	flush_flags(m);
	/* eax = the condition without its negation bit */
	switch (base) {
	case 0:	/* OF = aux63 ^ aux62 */
		mov_load(m, 8, RAX, C(LF_AUX));
		mov_rr(m, 8, RCX, RAX);
		alu_rr(m, 0x01, 8, RCX, RCX);	/* rcx = aux << 1 */
		alu_rr(m, 0x31, 8, RAX, RCX);
		shift_ri(m, SH_SHR, 8, RAX, 63);
		break;
	case 2:	/* CF */
		mov_load(m, 8, RAX, C(LF_AUX));
		shift_ri(m, SH_SHR, 8, RAX, 63);
		break;
	case 4:	/* ZF */
	case 6:	/* CF | ZF */
		insn(m, 8, false, 0x83, 7, C(LF_RES));	/* cmp qword [res], 0 */
		b1(m, 0);
		insn(m, 4, true, 0x0f94, RAX, R(RAX));	/* sete al */
		movx(m, 4, false, 1, RAX, R(RAX));
		if (base == 6) {
			mov_load(m, 8, RCX, C(LF_AUX));
			shift_ri(m, SH_SHR, 8, RCX, 63);
			alu_rr(m, 0x09, 4, RAX, RCX);
		}
		break;
	case 10:	/* PF: even parity of (result ^ aux >> 8)'s low byte */
		mov_load(m, 8, RAX, C(LF_RES));
		mov_load(m, 8, RCX, C(LF_AUX));
		shift_ri(m, SH_SHR, 8, RCX, 8);
		alu_rr(m, 0x31, 4, RAX, RCX);
		alu_rr(m, 0x85, 1, RAX, RAX);		/* test al, al */
		insn(m, 4, true, 0x0f9a, RAX, R(RAX));	/* setp al */
		movx(m, 4, false, 1, RAX, R(RAX));
		break;
	default:	/* 8: SF, 12: SF ^ OF, 14: ZF | (SF ^ OF) */
		/* SF = result63 ^ aux0 */
		mov_load(m, 8, RAX, C(LF_RES));
		shift_ri(m, SH_SHR, 8, RAX, 63);
		mov_load(m, 8, RCX, C(LF_AUX));
		alu_rr(m, 0x31, 4, RAX, RCX);
		alu_ri(m, G1_AND, 4, RAX, 1);
		if (base >= 12) {
			/* ^ OF */
			mov_rr(m, 8, RDX, RCX);
			alu_rr(m, 0x01, 8, RDX, RDX);
			alu_rr(m, 0x31, 8, RCX, RDX);
			shift_ri(m, SH_SHR, 8, RCX, 63);
			alu_rr(m, 0x31, 4, RAX, RCX);
		}
		if (base == 14) {
			insn(m, 8, false, 0x83, 7, C(LF_RES));
			b1(m, 0);
			insn(m, 4, true, 0x0f94, RCX, R(RCX));	/* sete cl */
			movx(m, 4, false, 1, RCX, R(RCX));
			alu_rr(m, 0x09, 4, RAX, RCX);
		}
		break;
	}
	alu_rr(m, 0x85, 4, RAX, RAX);
	return (cc & 1) ? 4 : 5;	/* E when negated, else NE */
}

/* ---- memory -------------------------------------------------------------------- */

/* rsi = the guest offset of i's memory operand, plus FS/GS's base when
 * linear (LEA wants the offset). */
static void ea(struct em *m, unsigned k, bool linear)
{
	const struct gh_x86_insn *i = &m->e[k].insn;
	const struct gh_x86_mem *mm = &i->mem;
	int64_t disp = mm->disp;
	unsigned shift = __builtin_ctz(mm->scale ? mm->scale : 1);

	if (mm->rip_rel) {
		lea(m, RSI, M(R12, (int32_t)(m->off[k + 1] + disp)));
	} else if (mm->base != GH_X86_REG_NONE) {
		mov_load(m, 8, RSI, C(GPR(mm->base)));
		if (mm->index != GH_X86_REG_NONE) {
			mov_load(m, 8, RDI, C(GPR(mm->index)));
			lea(m, RSI, MI(RSI, RDI, shift, (int32_t)disp));
		} else if (disp) {
			lea(m, RSI, M(RSI, (int32_t)disp));
		}
	} else if (mm->index != GH_X86_REG_NONE) {
		mov_load(m, 8, RSI, C(GPR(mm->index)));
		/* [index*scale + disp32]: base 101 with mod 00 */
		if (shift)
			shift_ri(m, SH_SHL, 8, RSI, shift);
		if (disp)
			lea(m, RSI, M(RSI, (int32_t)disp));
	} else {
		mov_imm(m, RSI, (uint64_t)disp);
	}
	if (linear && (i->seg == GH_FS || i->seg == GH_GS)) {
		mov_load(m, 8, RDI, C(CPU(seg[i->seg].base)));
		lea(m, RSI, MI(RSI, RDI, 0, 0));
	}
}

/*
 * rsi (a linear address) becomes the host address of n bytes there, or
 * instruction k goes to the slow path. need: the register holding the TLB
 * bits the access needs. Clobbers rcx, rdx, rdi and the host flags.
 */
static void probe(struct em *m, unsigned k, unsigned n, unsigned need)
{
	lea(m, RDX, M(RSI, (int32_t)n - 1));
	mov_rr(m, 8, RCX, RSI);
	shift_ri(m, SH_SHR, 8, RCX, 12 - 4);
	alu_ri(m, G1_AND, 4, RCX, (GH_TLB_SIZE - 1) << 4);
	alu_ri(m, G1_AND, 8, RDX, -4096);
	alu_rr(m, 0x09, 8, RDX, need);
	insn(m, 8, false, 0x33, RDX, MI(R13, RCX, 0, 0));	/* xor rdx, [r13 + rcx] */
	lea(m, RDI, M(need, -4096));
	alu_rr(m, 0x85, 8, RDX, RDI);
	add_stub(m, jump32(m, 5), STUB_SLOW, k, 0);		/* jnz slow */
	insn(m, 8, false, 0x03, RSI, MI(R13, RCX, 0, 8));	/* add rsi, [r13+rcx+8] */
	m->hf = false;
}

/* ---- operands --------------------------------------------------------------------- */

/* A register operand of size bytes in cpu->gpr (AH..BH: byte 1 of 0-3). */
static struct operand greg(const struct gh_x86_insn *i, unsigned r, unsigned size)
{
	if (size == 1 && !i->rex && r >= 4 && r < 8)
		return C(GPR(r - 4) + 1);
	return C(GPR(r));
}

/* Loads size bytes (zero-extended) from a register or memory operand. */
static void load(struct em *m, unsigned size, unsigned r, struct operand src)
{
	if (size <= 2)
		movx(m, 4, false, size, r, src);
	else
		mov_load(m, size, r, src);
}

/* Stores size bytes: a 4-byte result into a guest register zero-extends
 * (the host register holds it zero-extended already). */
static void store(struct em *m, unsigned size, struct operand dst, bool to_reg, unsigned r)
{
	mov_store(m, to_reg && size == 4 ? 8 : size, dst, r);
}

/* ---- exits ------------------------------------------------------------------------- */

/* A jump (jcc with cc >= 0) to shared code at to. */
static void jump_to(struct em *m, int cc, const uint8_t *to)
{
	uint32_t at = jump32(m, cc);

	if (!m->overflow) {
		int32_t rel = (int32_t)(to - (m->start + at + 4));

		memcpy(m->start + at, &rel, 4);
	}
}

static void to_epilogue(struct em *m)
{
	jump_to(m, -1, m->j->epilogue);
}

/* A call to shared code at to. */
static void call_to(struct em *m, const uint8_t *to)
{
	b1(m, 0xe8);
	b4(m, 0);
	if (!m->overflow) {
		int32_t rel = (int32_t)(to - m->p);

		memcpy(m->p - 4, &rel, 4);
	}
}

/* count more instructions retired */
static void retire(struct em *m, unsigned count)
{
	if (count) {
		insn(m, 8, false, 0x83, 0, C(CPU(retired)));	/* add qword [retired], n */
		b1(m, count);
	}
}

/* Leaves after count instructions (RIP already stored). */
static void leave(struct em *m, unsigned count)
{
	retire(m, count);
	to_epilogue(m);
}

/*
 * Leaves after count instructions with rax = the next RIP (stored here),
 * straight into the block that rsi's link record names when nothing needs
 * the loop: the attention word and a pending #DB are clear, the record is
 * for this address, the TLB maps it to the record's block for execution at
 * this privilege ([rsp] = the TLB bits that needs) and that block's
 * translation is still valid. Otherwise the loop runs, and fills the
 * record with the block it finds (cpu->jit_link). The target's own entry
 * checks the budget.
 */
static void link_exit(struct em *m, unsigned count)
{
	retire(m, count);
	jump_to(m, -1, m->j->exit_tail);
}

/* What every link_exit() shares: from storing RIP on. */
static void emit_exit_tail(struct em *m)
{
	uint32_t out[6];
	unsigned k;

	mov_store(m, 8, C(CPU(rip)), RAX);
	insn(m, 8, false, 0x3b, RAX, M(RSI, offsetof(struct gh_jit_link, lin)));
	out[0] = jump32(m, 5);
	mov_load(m, 8, RDX, C(CPU(attn)));
	alu_rr(m, 0x85, 8, RDX, RDX);
	out[1] = jump32(m, 5);
	insn(m, 4, false, 0x83, 7, C(CPU(pending_dbg)));	/* cmp dword, 0 */
	b1(m, 0);
	out[2] = jump32(m, 5);
	/* the TLB's entry for the target, for execution */
	mov_rr(m, 8, R12, RAX);
	mov_rr(m, 8, RCX, RAX);
	shift_ri(m, SH_SHR, 8, RCX, 12 - 4);
	alu_ri(m, G1_AND, 4, RCX, (GH_TLB_SIZE - 1) << 4);
	mov_load(m, 8, RDI, M(RSP, 0));				/* X bits */
	alu_ri(m, G1_AND, 8, RAX, -4096);
	alu_rr(m, 0x09, 8, RAX, RDI);
	insn(m, 8, false, 0x33, RAX, MI(R13, RCX, 0, 0));	/* xor rax, tag */
	lea(m, RDI, M(RDI, -4096));
	alu_rr(m, 0x85, 8, RAX, RDI);
	out[3] = jump32(m, 5);
	mov_rr(m, 8, RAX, R12);
	insn(m, 8, false, 0x03, RAX, MI(R13, RCX, 0, 8));	/* host = lin + addend */
	insn(m, 8, false, 0x3b, RAX, M(RSI, offsetof(struct gh_jit_link, host)));
	out[4] = jump32(m, 5);
	mov_load(m, 8, RDX, M(RSI, offsetof(struct gh_jit_link, valid)));
	insn(m, 4, true, 0x80, 7, M(RDX, 0));			/* cmp byte [rdx], 0 */
	b1(m, 0);
	out[5] = jump32(m, 4);
	insn(m, 4, false, 0xff, 4, M(RSI, offsetof(struct gh_jit_link, to)));	/* jmp */
	for (k = 0; k < 6; k++)
		patch(m, out[k], here(m));
	mov_store(m, 8, C(CPU(jit_link)), RSI);
	/* on into the epilogue, which follows */
}

/* The return to the loop: the prologue's pushes undone. */
static void emit_epilogue(struct em *m)
{
	alu_ri(m, G1_ADD, 8, RSP, 8);
	b1(m, 0x41); b1(m, 0x5f);	/* pop r15 */
	b1(m, 0x41); b1(m, 0x5e);
	b1(m, 0x41); b1(m, 0x5d);
	b1(m, 0x41); b1(m, 0x5c);
	b1(m, 0x5d);
	b1(m, 0x5b);
	b1(m, 0xc3);
}

static void emit_call_routine(struct em *m);

/* The shared code at the buffer's start. */
static void emit_shared(struct gh_jit *j)
{
	struct em *m = g_new0(struct em, 1);

	m->start = m->p = j->base;
	m->end = j->base + JIT_BLOCK_MAX;
	m->j = j;
	j->exit_tail = m->p;
	emit_exit_tail(m);
	j->epilogue = m->p;
	emit_epilogue(m);
	j->call = m->p;
	emit_call_routine(m);
	for (unsigned kind = P_LOGIC; kind <= P_DEC; kind++) {
		for (unsigned sz = 0; sz < 4; sz++) {
			j->mat[kind][sz] = m->p;
			emit_materialize(m, (struct pending){ (uint8_t)kind, (uint8_t)(1u << sz),
							      0, false });
			b1(m, 0xc3);
		}
	}
	g_assert(!m->overflow);
	j->shared = ((size_t)(m->p - m->start) + 63) & ~(size_t)63;
	g_free(m);
}

/* The canonical check of a jump target in reg: a non-canonical one is
 * the interpreter's to fault on (instruction k). Clobbers rcx. */
static void canonical_or_slow(struct em *m, unsigned k, unsigned reg)
{
	mov_rr(m, 8, RCX, reg);
	shift_ri(m, SH_SHL, 8, RCX, 16);
	shift_ri(m, SH_SAR, 8, RCX, 16);
	alu_rr(m, 0x39, 8, RCX, reg);
	add_stub(m, jump32(m, 5), STUB_SLOW, k, 0);
}

/* A linked exit to r12 + target: a record of its own. A jump (check_k:
 * its instruction, or -1 for a block's end) checks the target first. */
static void chain_exit(struct em *m, unsigned count, int64_t target, int check_k)
{
	struct gh_jit *j = m->j;

	if (j->n_links == MAX_LINKS) {
		m->overflow = true;
		return;
	}
	lea(m, RAX, M(R12, (int32_t)target));
	if (check_k >= 0)
		canonical_or_slow(m, (unsigned)check_k, RAX);
	j->links[j->n_links] = (struct gh_jit_link){ .lin = NO_LIN };
	mov_imm(m, RSI, (uint64_t)(uintptr_t)&j->links[j->n_links++]);
	link_exit(m, count);
}

/* A linked exit to rax (RET, indirect JMP): the jump cache's record for
 * it, which any such exit of any block shares. */
static void jcache_exit(struct em *m, unsigned count)
{
	/* rsi = jcache + ((rax ^ rax >> 12) & (size - 1)) * 32 */
	mov_rr(m, 8, RSI, RAX);
	shift_ri(m, SH_SHR, 8, RSI, JCACHE_BITS);
	alu_rr(m, 0x31, 4, RSI, RAX);
	alu_ri(m, G1_AND, 4, RSI, JCACHE_SIZE - 1);
	shift_ri(m, SH_SHL, 4, RSI, 5);
	mov_imm(m, RDX, (uint64_t)(uintptr_t)m->j->jcache);
	lea(m, RSI, MI(RSI, RDX, 0, 0));
	link_exit(m, count);
}


/* Calls instruction k's interpreter handler with prev_rip and rip set,
 * through the shared routine (rsi = its entry, edx = its offset). */
static void call_handler(struct em *m, unsigned k)
{
	mov_imm(m, RSI, (uint64_t)(uintptr_t)&m->e[k]);
	mov_imm(m, RDX, m->off[k]);
	call_to(m, m->j->call);
}

static void emit_call_routine(struct em *m)
{
	alu_ri(m, G1_SUB, 8, RSP, 8);		/* the call pushed 8 */
	lea(m, RAX, MI(R12, RDX, 0, 0));
	mov_store(m, 8, C(CPU(prev_rip)), RAX);
	movx(m, 4, false, 1, RCX,
	     M(RSI, offsetof(struct gh_exec_entry, insn) + offsetof(struct gh_x86_insn, len)));
	alu_rr(m, 0x01, 8, RAX, RCX);
	mov_store(m, 8, C(CPU(rip)), RAX);
	mov_rr(m, 8, RDI, RBX);
	mov_load(m, 8, RAX, M(RSI, offsetof(struct gh_exec_entry, fn)));
	lea(m, RSI, M(RSI, offsetof(struct gh_exec_entry, insn)));
	insn(m, 4, false, 0xff, 2, R(RAX));	/* call rax */
	alu_ri(m, G1_ADD, 8, RSP, 8);
	b1(m, 0xc3);
}

/* ---- instructions ------------------------------------------------------------------ */

/* Whether i's memory operand (if any) is one the fast path takes. */
static bool mem_ok(const struct gh_x86_insn *i)
{
	return !i->has_mem || (i->addrsize == 8 && !(i->prefix & GH_X86_PFX_LOCK));
}

enum cls {
	C_FALLBACK,	/* the interpreter's handler */
	C_NOP,
	C_MOV,		/* MOV E,G / G,E / E,I / r,I */
	C_LEA,
	C_MOVX,		/* MOVZX, MOVSX, MOVSXD */
	C_ALU,		/* ADD OR AND SUB XOR CMP TEST, binary */
	C_INCDEC,
	C_NOT,
	C_NEG,
	C_SHIFT,	/* by an immediate or 1 */
	C_IMUL,
	C_SETCC,
	C_CMOV,
	C_JCC,
	C_JMP,
	C_CALL,
	C_RET,
	C_JMP_IND,
	C_PUSH,
	C_POP,
};

static unsigned opsz(const struct gh_x86_insn *i)
{
	return gh_opsize(i);
}

static enum cls classify(const struct gh_x86_insn *i)
{
	unsigned size = opsz(i);

	/* NONE: what did not decode (the block builder's #UD/#GP entries) */
	if (i->op == GH_X86_OP_NONE || !mem_ok(i) || (i->prefix & GH_X86_PFX_LOCK))
		return C_FALLBACK;
	switch (i->op) {
	case GH_X86_OP_NOP:
	case GH_X86_OP_NOP_Ev:
		return C_NOP;
	case GH_X86_OP_MOV_Eb_Gb:
	case GH_X86_OP_MOV_Gb_Eb:
	case GH_X86_OP_MOV_Ev_Gv:
	case GH_X86_OP_MOV_Gv_Ev:
	case GH_X86_OP_MOV_Eb_Ib:
	case GH_X86_OP_MOV_Ev_Iz:
	case GH_X86_OP_MOV_Zv_Iv:
	case GH_X86_OP_MOV_Zb_Ib:
		return C_MOV;
	case GH_X86_OP_LEA_Gv_M:
		return size >= 4 ? C_LEA : C_FALLBACK;
	case GH_X86_OP_MOVZX_Gv_Eb:
	case GH_X86_OP_MOVZX_Gv_Ew:
	case GH_X86_OP_MOVSX_Gv_Eb:
	case GH_X86_OP_MOVSX_Gv_Ew:
		return size >= 4 ? C_MOVX : C_FALLBACK;
	case GH_X86_OP_MOVSXD_Gv_Ed:
		return size == 8 ? C_MOVX : C_FALLBACK;
#define ALU(N)                                                                           \
	case GH_X86_OP_##N##_Eb_Gb: case GH_X86_OP_##N##_Ev_Gv:                          \
	case GH_X86_OP_##N##_Gb_Eb: case GH_X86_OP_##N##_Gv_Ev:                          \
	case GH_X86_OP_##N##_Eb_Ib: case GH_X86_OP_##N##_Ev_Iz:                          \
	case GH_X86_OP_##N##_Ev_Ib: case GH_X86_OP_##N##_AL_Ib:                          \
	case GH_X86_OP_##N##_rAX_Iz:
	ALU(ADD) ALU(OR) ALU(AND) ALU(SUB) ALU(XOR) ALU(CMP)
#undef ALU
	case GH_X86_OP_TEST_Eb_Gb:
	case GH_X86_OP_TEST_Ev_Gv:
	case GH_X86_OP_TEST_Eb_Ib:
	case GH_X86_OP_TEST_Ev_Iz:
	case GH_X86_OP_TEST_AL_Ib:
	case GH_X86_OP_TEST_rAX_Iz:
		return C_ALU;
	case GH_X86_OP_NOT_Ev:
	case GH_X86_OP_NOT_Eb:
		return C_NOT;
	case GH_X86_OP_NEG_Ev:
	case GH_X86_OP_NEG_Eb:
		return C_NEG;
	case GH_X86_OP_INC_Ev:
	case GH_X86_OP_DEC_Ev:
	case GH_X86_OP_INC_Eb:
	case GH_X86_OP_DEC_Eb:
		return C_INCDEC;
#define SH(N)                                                                            \
	case GH_X86_OP_##N##_Eb_Ib: case GH_X86_OP_##N##_Ev_Ib:                          \
	case GH_X86_OP_##N##_Eb_1: case GH_X86_OP_##N##_Ev_1:
	SH(ROL) SH(ROR) SH(SHL) SH(SHR) SH(SAR)
#undef SH
		return C_SHIFT;
	case GH_X86_OP_IMUL_Gv_Ev:
	case GH_X86_OP_IMUL_Gv_Ev_Iz:
	case GH_X86_OP_IMUL_Gv_Ev_Ib:
		return size >= 4 ? C_IMUL : C_FALLBACK;
	case GH_X86_OP_JMP_Jb:
	case GH_X86_OP_JMP_Jz:
		return C_JMP;
	case GH_X86_OP_CALL_Jz:
		return C_CALL;
	case GH_X86_OP_RET:
		return C_RET;
	case GH_X86_OP_JMP_Ev:
		return C_JMP_IND;
	case GH_X86_OP_PUSH_Zv:
		return size == 8 ? C_PUSH : C_FALLBACK;
	case GH_X86_OP_POP_Zv:
		return size == 8 && i->rm != GH_RSP ? C_POP : C_FALLBACK;
	}
	if ((i->map == 0 && i->opcode >= 0x70 && i->opcode <= 0x7f) ||
	    (i->map == 1 && i->opcode >= 0x80 && i->opcode <= 0x8f))
		return C_JCC;
	if (i->map == 1 && (i->opcode & 0xf0) == 0x90 && i->op != GH_X86_OP_NONE)
		return C_SETCC;
	if (i->map == 1 && (i->opcode & 0xf0) == 0x40 && size >= 4)
		return C_CMOV;
	return C_FALLBACK;
}

/* Whether flags written by instruction k are dead: overwritten by a
 * register-only producer before anything reads them or can fault. */
static bool flags_dead_after(const struct em *m, unsigned k)
{
	unsigned j;

	for (j = k + 1; j < m->n; j++) {
		const struct gh_x86_insn *i = &m->e[j].insn;

		switch (classify(i)) {
		case C_NOP:
		case C_LEA:
			continue;
		case C_MOV:
		case C_MOVX:
		case C_NOT:
			if (i->has_mem)
				return false;
			continue;
		case C_ALU:
		case C_NEG:
			return !i->has_mem;
		default:
			return false;
		}
	}
	return false;
}

/* The two operands of a binary ALU-like instruction: where the E operand
 * lives and whether the G side is the destination. */
static void alu_ops(struct em *m, unsigned k, struct operand *eop, bool *to_reg)
{
	const struct gh_x86_insn *i = &m->e[k].insn;

	if (i->has_mem) {
		*eop = M(RSI, 0);
		*to_reg = false;
	} else {
		*eop = greg(i, i->rm, opsz(i));
		*to_reg = true;
	}
}

/* Memory operand of instruction k, when it has one: rsi = host address. */
static void mem_operand(struct em *m, unsigned k, unsigned n, unsigned need)
{
	if (m->e[k].insn.has_mem) {
		ea(m, k, true);
		probe(m, k, n, need);
	}
}

static void do_mov(struct em *m, unsigned k)
{
	const struct gh_x86_insn *i = &m->e[k].insn;
	unsigned size = opsz(i);
	struct operand eop;
	bool ereg;

	switch (i->op) {
	case GH_X86_OP_MOV_Zv_Iv:
	case GH_X86_OP_MOV_Zb_Ib:
		mov_imm(m, RAX, size == 8 ? (uint64_t)i->imm : (uint64_t)i->imm & gh_size_mask(size));
		store(m, size, greg(i, i->rm, size), true, RAX);
		return;
	case GH_X86_OP_MOV_Eb_Ib:
	case GH_X86_OP_MOV_Ev_Iz:
		mem_operand(m, k, size, R15);
		alu_ops(m, k, &eop, &ereg);
		mov_imm(m, RAX, size == 8 ? (uint64_t)i->imm : (uint64_t)i->imm & gh_size_mask(size));
		store(m, size, eop, ereg, RAX);
		return;
	case GH_X86_OP_MOV_Eb_Gb:
	case GH_X86_OP_MOV_Ev_Gv:
		mem_operand(m, k, size, R15);
		alu_ops(m, k, &eop, &ereg);
		load(m, size, RAX, greg(i, i->reg, size));
		store(m, size, eop, ereg, RAX);
		return;
	default:	/* G,E */
		mem_operand(m, k, size, R14);
		alu_ops(m, k, &eop, &ereg);
		load(m, size, RAX, eop);
		store(m, size, greg(i, i->reg, size), true, RAX);
		return;
	}
}

static void do_movx(struct em *m, unsigned k)
{
	const struct gh_x86_insn *i = &m->e[k].insn;
	unsigned size = opsz(i);
	unsigned from = i->op == GH_X86_OP_MOVSXD_Gv_Ed ? 4 :
			(i->op == GH_X86_OP_MOVZX_Gv_Eb || i->op == GH_X86_OP_MOVSX_Gv_Eb) ? 1 : 2;
	bool sign = i->op != GH_X86_OP_MOVZX_Gv_Eb && i->op != GH_X86_OP_MOVZX_Gv_Ew;
	struct operand eop;
	bool ereg;

	mem_operand(m, k, from, R14);
	alu_ops(m, k, &eop, &ereg);
	if (!i->has_mem)
		eop = greg(i, i->rm, from);
	if (from == 4)
		insn(m, 8, false, 0x63, RAX, eop);		/* movsxd */
	else if (sign)
		movx(m, size, true, from, RAX, eop);
	else
		movx(m, 4, false, from, RAX, eop);
	store(m, size, greg(i, i->reg, size), true, RAX);
}

static void do_lea(struct em *m, unsigned k)
{
	const struct gh_x86_insn *i = &m->e[k].insn;
	unsigned size = opsz(i);

	ea(m, k, false);	/* the offset: LEA adds no segment base */
	if (size == 4)
		mov_rr(m, 4, RSI, RSI);
	store(m, size, C(GPR(i->reg)), true, RSI);
}

/* The binary ALU ops: host opcode (r/m, reg form) and pending kind. */
static void alu_kind(const struct gh_x86_insn *i, unsigned *op, enum pend *p, bool *store_res)
{
	unsigned ext;

	if (i->op == GH_X86_OP_TEST_Eb_Gb || i->op == GH_X86_OP_TEST_Ev_Gv ||
	    i->op == GH_X86_OP_TEST_Eb_Ib || i->op == GH_X86_OP_TEST_Ev_Iz ||
	    i->op == GH_X86_OP_TEST_AL_Ib || i->op == GH_X86_OP_TEST_rAX_Iz) {
		*op = 0x21;
		*p = P_LOGIC;
		*store_res = false;
		return;
	}
	/* 00-3D: the operation is bits 5:3 of the opcode; 80-83: ModRM.reg */
	ext = (i->map == 0 && i->opcode < 0x40) ? (i->opcode >> 3) & 7 : (i->modrm >> 3) & 7;
	*store_res = ext != G1_CMP;
	switch (ext) {
	case G1_ADD:
		*op = 0x01;
		*p = P_ADD;
		break;
	case G1_OR:
		*op = 0x09;
		*p = P_LOGIC;
		break;
	case G1_AND:
		*op = 0x21;
		*p = P_LOGIC;
		break;
	case G1_XOR:
		*op = 0x31;
		*p = P_LOGIC;
		break;
	default:	/* SUB, CMP */
		*op = 0x29;
		*p = P_SUB;
		break;
	}
}

static void do_alu(struct em *m, unsigned k)
{
	const struct gh_x86_insn *i = &m->e[k].insn;
	unsigned size = opsz(i), op;
	enum pend kind;
	bool store_res, ereg;
	struct operand eop;
	bool imm = i->imm_size > 0;
	bool no_modrm = !i->has_modrm;	/* AL/rAX, imm */
	bool g_dst = !imm && i->map == 0 && (i->opcode & 2);	/* Gb,Eb / Gv,Ev */

	alu_kind(i, &op, &kind, &store_res);
	mem_operand(m, k, size, store_res && !g_dst ? RBP : R14);
	if (no_modrm) {
		eop = C(GPR(GH_RAX));
		ereg = true;
	} else {
		alu_ops(m, k, &eop, &ereg);
	}
	/* r8 = destination, r9 = source */
	if (g_dst) {
		load(m, size, R8, greg(i, i->reg, size));
		load(m, size, R9, eop);
	} else {
		load(m, size, R8, eop);
		if (imm)
			mov_imm(m, R9, (uint64_t)i->imm);
		else
			load(m, size, R9, greg(i, i->reg, size));
	}
	mov_rr(m, 8, R10, R8);
	alu_rr(m, op, size, R10, R9);
	m->pend = (struct pending){ kind, (uint8_t)size, 0, false };
	m->hf = true;
	if (store_res) {
		if (g_dst)
			store(m, size, greg(i, i->reg, size), true, R10);
		else
			store(m, size, eop, ereg, R10);
	}
}

static void do_incdec(struct em *m, unsigned k)
{
	const struct gh_x86_insn *i = &m->e[k].insn;
	unsigned size = opsz(i);
	bool dec = i->op == GH_X86_OP_DEC_Ev || i->op == GH_X86_OP_DEC_Eb;
	struct operand eop;
	bool ereg;

	/* the CF it keeps is the previous producer's */
	if (m->pend.kind != P_NONE)
		flush_flags(m);
	mem_operand(m, k, size, RBP);
	alu_ops(m, k, &eop, &ereg);
	load(m, size, R8, eop);
	mov_rr(m, 8, R10, R8);
	insn(m, size, size == 1, size == 1 ? 0xfe : 0xff, dec ? 1 : 0, R(R10));
	m->pend = (struct pending){ dec ? P_DEC : P_INC, (uint8_t)size, 0, false };
	m->hf = true;
	store(m, size, eop, ereg, R10);
}

/* The interpreter's handler runs the instruction. */
static void do_fallback(struct em *m, unsigned k)
{
	flush_flags(m);
	call_handler(m, k);
	m->rip_set = true;
	insn(m, 4, true, 0x80, 7, C(CPU(end_block)));	/* cmp byte [end_block], 0 */
	b1(m, 0);
	add_stub(m, jump32(m, 5), STUB_END, k, 0);
}

/*
 * Shifts and rotates by a constant: the host's result. A count that
 * masks to 0 changes no flags; otherwise, unless they are dead, they are
 * pending as P_SHL ... P_ROR (materialize_shift()).
 */
static void do_shift(struct em *m, unsigned k, bool dead)
{
	const struct gh_x86_insn *i = &m->e[k].insn;
	unsigned size = opsz(i);
	unsigned count = (i->opcode == 0xd0 || i->opcode == 0xd1) ? 1 : (unsigned)i->imm & 0xff;
	unsigned ext = (i->modrm >> 3) & 7;
	bool rot = ext == SH_ROL || ext == SH_ROR;
	struct operand eop;
	bool ereg;

	count &= size == 8 ? 63 : 31;
	if (!count && i->has_mem) {
		/* the interpreter only reads the operand then */
		do_fallback(m, k);
		return;
	}
	if (count && !dead && rot)
		flush_flags(m);
	/* r8/r10 only when they become the pending operand and result:
	 * otherwise the pending flags (a count of 0 changes none) need theirs */
	unsigned r = count && !dead ? R10 : RAX;
	/* /6 is the undocumented alias of SHL */
	static const uint8_t kinds[8] = { P_ROL, P_ROR, 0, 0, P_SHL, P_SHR, P_SHL, P_SAR };

	mem_operand(m, k, size, RBP);
	alu_ops(m, k, &eop, &ereg);
	load(m, size, r, eop);
	if (r == R10)
		mov_rr(m, 8, R8, R10);
	/* the operation is ModRM.reg itself (no REX.R) */
	insn(m, size, size == 1, size == 1 ? 0xc0 : 0xc1, ext, R(r));
	b1(m, count);
	if (count && !dead) {
		/*
		 * The undefined OF of a rotate by more than 1: exec-alu.c's
		 * shift_ib() keeps it for a register and an immediate count,
		 * as this host does.
		 */
		m->pend = (struct pending){ kinds[ext], (uint8_t)size, (uint8_t)count,
					    rot && !i->has_mem && count > 1 };
		m->hf = true;
	} else if (count) {
		m->pend.kind = P_NONE;
		m->hf = false;
	}
	store(m, size, eop, ereg, r);
}

/* NOT (no flags) and NEG (flags as 0 - x). */
static void do_notneg(struct em *m, unsigned k)
{
	const struct gh_x86_insn *i = &m->e[k].insn;
	unsigned size = opsz(i);
	bool neg = i->op == GH_X86_OP_NEG_Ev || i->op == GH_X86_OP_NEG_Eb;
	struct operand eop;
	bool ereg;

	mem_operand(m, k, size, RBP);
	alu_ops(m, k, &eop, &ereg);
	if (!neg) {
		load(m, size, RAX, eop);
		insn(m, size, size == 1, size == 1 ? 0xf6 : 0xf7, 2, R(RAX));
		store(m, size, eop, ereg, RAX);
		return;
	}
	alu_rr(m, 0x31, 4, R8, R8);	/* 0 - x */
	load(m, size, R9, eop);
	mov_rr(m, 8, R10, R9);
	insn(m, size, size == 1, size == 1 ? 0xf6 : 0xf7, 3, R(R10));
	m->pend = (struct pending){ P_SUB, (uint8_t)size, 0, false };
	m->hf = true;
	store(m, size, eop, ereg, R10);
}

static void do_imul(struct em *m, unsigned k)
{
	const struct gh_x86_insn *i = &m->e[k].insn;
	unsigned size = opsz(i);
	struct operand eop;
	bool ereg;

	mem_operand(m, k, size, R14);
	alu_ops(m, k, &eop, &ereg);
	load(m, size, RAX, eop);
	if (i->op == GH_X86_OP_IMUL_Gv_Ev) {
		load(m, size, RCX, C(GPR(i->reg)));
		insn(m, size, false, 0x0faf, RAX, R(RCX));
	} else {
		insn(m, size, false, 0x69, RAX, R(RAX));
		b4(m, (uint32_t)i->imm);
	}
	store(m, size, C(GPR(i->reg)), true, RAX);
	m->pend.kind = P_NONE;
	m->hf = false;
}

static void do_setcc(struct em *m, unsigned k)
{
	const struct gh_x86_insn *i = &m->e[k].insn;
	unsigned hc;

	if (i->has_mem) {
		/* the probe would clobber the flags: condition first, into r11 */
		hc = cond(m, i->opcode & 0xf);
		insn(m, 4, true, 0x0f90 + hc, 0, R(R11));
		flush_flags(m);
		mem_operand(m, k, 1, R15);
		mov_store(m, 1, M(RSI, 0), R11);
		return;
	}
	hc = cond(m, i->opcode & 0xf);
	insn(m, 4, true, 0x0f90 + hc, RAX, R(RAX));
	mov_store(m, 1, greg(i, i->rm, 1), RAX);
}

static void do_cmov(struct em *m, unsigned k)
{
	const struct gh_x86_insn *i = &m->e[k].insn;
	unsigned size = opsz(i), hc;
	struct operand eop;
	bool ereg;

	if (i->has_mem) {
		/* the load happens (and faults) whatever the condition */
		flush_flags(m);
		mem_operand(m, k, size, R14);
	}
	alu_ops(m, k, &eop, &ereg);
	load(m, size, R11, eop);
	hc = cond(m, i->opcode & 0xf);
	load(m, size, RAX, C(GPR(i->reg)));
	/* a 32-bit CMOV zero-extends its destination even when false */
	insn(m, size, false, 0x0f40 + hc, RAX, R(R11));
	store(m, size, C(GPR(i->reg)), true, RAX);
}

/* Jcc: a taken branch leaves through a stub; the block goes on otherwise. */
static void do_jcc(struct em *m, unsigned k)
{
	const struct gh_x86_insn *i = &m->e[k].insn;
	unsigned hc = cond(m, i->opcode & 0xf);

	add_stub(m, jump32(m, (int)hc), STUB_TAKEN, k, (int64_t)m->off[k + 1] + i->imm);
}

static void do_jmp(struct em *m, unsigned k)
{
	const struct gh_x86_insn *i = &m->e[k].insn;

	flush_flags(m);
	chain_exit(m, k + 1, (int64_t)m->off[k + 1] + i->imm, (int)k);
}

static void do_call(struct em *m, unsigned k)
{
	const struct gh_x86_insn *i = &m->e[k].insn;

	flush_flags(m);
	/* target first: a non-canonical one faults before the push */
	lea(m, R11, M(R12, (int32_t)((int64_t)m->off[k + 1] + i->imm)));
	canonical_or_slow(m, k, R11);
	mov_load(m, 8, RSI, C(GPR(GH_RSP)));
	lea(m, RSI, M(RSI, -8));
	probe(m, k, 8, R15);
	lea(m, RAX, M(R12, (int32_t)m->off[k + 1]));
	mov_store(m, 8, M(RSI, 0), RAX);
	insn(m, 8, false, 0x83, 5, C(GPR(GH_RSP)));	/* sub qword [rsp], 8 */
	b1(m, 8);
	chain_exit(m, k + 1, (int64_t)m->off[k + 1] + i->imm, -1);
}

static void do_ret(struct em *m, unsigned k)
{
	flush_flags(m);
	mov_load(m, 8, RSI, C(GPR(GH_RSP)));
	probe(m, k, 8, R14);
	mov_load(m, 8, RAX, M(RSI, 0));
	canonical_or_slow(m, k, RAX);
	insn(m, 8, false, 0x83, 0, C(GPR(GH_RSP)));	/* add qword [rsp], 8 */
	b1(m, 8);
	jcache_exit(m, k + 1);
}

static void do_jmp_ind(struct em *m, unsigned k)
{
	struct operand eop;
	bool ereg;

	flush_flags(m);
	mem_operand(m, k, 8, R14);
	alu_ops(m, k, &eop, &ereg);
	mov_load(m, 8, RAX, eop);
	canonical_or_slow(m, k, RAX);
	jcache_exit(m, k + 1);
}

static void do_push(struct em *m, unsigned k)
{
	const struct gh_x86_insn *i = &m->e[k].insn;

	mov_load(m, 8, RSI, C(GPR(GH_RSP)));
	lea(m, RSI, M(RSI, -8));
	probe(m, k, 8, R15);
	mov_load(m, 8, RAX, C(GPR(i->rm)));
	mov_store(m, 8, M(RSI, 0), RAX);
	insn(m, 8, false, 0x83, 5, C(GPR(GH_RSP)));
	b1(m, 8);
}

static void do_pop(struct em *m, unsigned k)
{
	const struct gh_x86_insn *i = &m->e[k].insn;

	mov_load(m, 8, RSI, C(GPR(GH_RSP)));
	probe(m, k, 8, R14);
	mov_load(m, 8, RAX, M(RSI, 0));
	insn(m, 8, false, 0x83, 0, C(GPR(GH_RSP)));
	b1(m, 8);
	mov_store(m, 8, C(GPR(i->rm)), RAX);
}


static void translate_one(struct em *m, unsigned k)
{
	const struct gh_x86_insn *i = &m->e[k].insn;
	enum cls c = classify(i);

	m->rip_set = false;
	/* flags the code below would produce but nobody can see */
	if (c == C_IMUL && !flags_dead_after(m, k))
		c = C_FALLBACK;
	switch (c) {
	case C_NOP:
		break;
	case C_MOV:
		do_mov(m, k);
		break;
	case C_LEA:
		do_lea(m, k);
		break;
	case C_MOVX:
		do_movx(m, k);
		break;
	case C_ALU:
		do_alu(m, k);
		break;
	case C_INCDEC:
		do_incdec(m, k);
		break;
	case C_SHIFT:
		do_shift(m, k, flags_dead_after(m, k));
		break;
	case C_NOT:
	case C_NEG:
		do_notneg(m, k);
		break;
	case C_IMUL:
		do_imul(m, k);
		break;
	case C_SETCC:
		do_setcc(m, k);
		break;
	case C_CMOV:
		do_cmov(m, k);
		break;
	case C_JCC:
		do_jcc(m, k);
		break;
	case C_JMP:
		do_jmp(m, k);
		break;
	case C_CALL:
		do_call(m, k);
		break;
	case C_RET:
		do_ret(m, k);
		break;
	case C_JMP_IND:
		do_jmp_ind(m, k);
		break;
	case C_PUSH:
		do_push(m, k);
		break;
	case C_POP:
		do_pop(m, k);
		break;
	default:
		do_fallback(m, k);
		break;
	}
}

static bool ends_here(enum cls c)
{
	return c == C_JMP || c == C_CALL || c == C_RET || c == C_JMP_IND;
}

static void emit_stubs(struct em *m)
{
	unsigned s;

	for (s = 0; s < m->nstubs && !m->overflow; s++) {
		struct stub *st = &m->stubs[s];

		patch(m, st->patch, here(m));
		switch (st->kind) {
		case STUB_SLOW:
			materialize(m, st->p);
			call_handler(m, st->k);
			leave(m, st->k + 1);
			break;
		case STUB_TAKEN:
			materialize(m, st->p);
			{
				/* the fall-through's pending state must not leak */
				struct pending save = m->pend;

				m->pend.kind = P_NONE;
				chain_exit(m, st->k + 1, st->target, st->k);
				m->pend = save;
			}
			break;
		default:	/* STUB_END: the handler set RIP */
			leave(m, st->k + 1);
			break;
		}
	}
}

gh_jit_fn *gh_jit_translate(struct gh_jit *j, const struct gh_exec_entry *e, unsigned n)
{
	struct em *m;
	unsigned k;
	gh_jit_fn *fn = NULL;

	if (j->size - j->used < JIT_BLOCK_MAX)
		return NULL;
	m = g_new0(struct em, 1);
	m->start = m->p = j->base + j->used;
	m->end = m->start + JIT_BLOCK_MAX;
	m->e = e;
	m->n = n;
	m->j = j;
	for (k = 0; k < n; k++)
		m->off[k + 1] = m->off[k] + e[k].insn.len;

	/* the header: the valid byte (gh_jit_drop() clears it) */
	b1(m, 1);
	while (here(m) < HEADER)
		b1(m, 0xcc);
	/* prologue: callee-saved registers, then the block's constants */
	b1(m, 0x53);			/* push rbx */
	b1(m, 0x55);			/* push rbp */
	b1(m, 0x41); b1(m, 0x54);	/* push r12 */
	b1(m, 0x41); b1(m, 0x55);	/* push r13 */
	b1(m, 0x41); b1(m, 0x56);	/* push r14 */
	b1(m, 0x41); b1(m, 0x57);	/* push r15 */
	alu_ri(m, G1_SUB, 8, RSP, 8);	/* 16-byte alignment for calls */
	mov_store(m, 8, M(RSP, 0), RDX);	/* the TLB bits of execution */
	mov_rr(m, 8, RBX, RDI);
	mov_rr(m, 8, R14, RSI);
	mov_load(m, 8, R12, C(CPU(rip)));
	mov_load(m, 8, R13, C(CPU(tlb)));
	mov_rr(m, 8, R15, R14);
	shift_ri(m, SH_SHL, 8, R15, 3);
	mov_rr(m, 8, RBP, R14);
	alu_rr(m, 0x09, 8, RBP, R15);
	/* chained jumps enter here: leave at once if the block does not fit
	 * in the budget (budget_end - retired < n), as the loop would */
	g_assert(here(m) <= HEADER + JIT_CHAIN_ENTRY);
	while (here(m) < HEADER + JIT_CHAIN_ENTRY)
		b1(m, 0x90);
	mov_imm(m, RAX, (uint64_t)(uintptr_t)j->budget_end);
	mov_load(m, 8, RAX, M(RAX, 0));
	insn(m, 8, false, 0x2b, RAX, C(CPU(retired)));	/* sub rax, [retired] */
	alu_ri(m, G1_CMP, 8, RAX, (int32_t)n);
	jump_to(m, 2, j->epilogue);			/* jb */

	for (k = 0; k < n && !m->overflow; k++) {
		enum cls c = classify(&e[k].insn);

		translate_one(m, k);
		if (ends_here(c))
			break;
	}
	if (k == n) {
		/* the block ran to its end: RIP is past its last instruction */
		flush_flags(m);
		if (m->rip_set)
			leave(m, n);
		else
			chain_exit(m, n, m->off[n], -1);
	}
	emit_stubs(m);
	if (!m->overflow) {
		fn = (gh_jit_fn *)(void *)(m->start + HEADER);
		j->used += (size_t)(m->p - m->start);
		j->used = (j->used + 15) & ~(size_t)15;
	}
	g_free(m);
	return fn;
}
