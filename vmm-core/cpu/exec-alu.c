/*
 * Instruction handlers for data movement and integer arithmetic: MOV and its
 * extending forms, the ALU groups, multiply/divide, shifts, bit operations,
 * exchanges, BCD adjusts and the flag instructions (Intel SDM vol. 2).
 */
#include "cpu/atomic.h"
#include "cpu/exec.h"

#define H(name) static void h_##name(struct gh_cpu *cpu, const struct gh_x86_insn *i)
#define INL static inline __attribute__((always_inline))

/* Runs fn(args..., n) with n the operand size as a constant, so every size
 * gets its own copy of the always-inline helpers. */
#define SIZED(fn, ...)                                                                   \
	do {                                                                             \
		switch (i->opsize) {                                                     \
		case 2:                                                                  \
			fn(__VA_ARGS__, 2);                                              \
			break;                                                           \
		case 4:                                                                  \
			fn(__VA_ARGS__, 4);                                              \
			break;                                                           \
		default:                                                                 \
			fn(__VA_ARGS__, 8);                                              \
			break;                                                           \
		}                                                                        \
	} while (0)

/* ---- operands ------------------------------------------------------------ */

/* A register operand of n bytes; n = 1 applies the AH..BH rule. */
INL uint64_t rd(const struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned r, unsigned n)
{
	return n == 1 ? gh_reg8_get(cpu, i, r) : gh_reg_get(cpu, r, n);
}

INL void wr(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned r, unsigned n,
	    uint64_t v)
{
	if (n == 1)
		gh_reg8_set(cpu, i, r, (uint8_t)v);
	else
		gh_reg_set(cpu, r, n, v);
}

INL uint64_t ld_E(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned n)
{
	if (i->mod == 3)
		return rd(cpu, i, i->rm, n);
	return gh_mem_read_seg(cpu, i->seg, gh_exec_ea(cpu, i), n);
}

INL void st_E(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned n, uint64_t v)
{
	if (i->mod == 3)
		wr(cpu, i, i->rm, n, v);
	else
		gh_mem_write_seg(cpu, i->seg, gh_exec_ea(cpu, i), n, v);
}

/* LOCK on a memory operand (the decoder refuses it anywhere else). */
INL bool locked(const struct gh_x86_insn *i)
{
	return i->prefix & GH_X86_PFX_LOCK;
}

static inline uint64_t addr_wrap(const struct gh_x86_insn *i, uint64_t a)
{
	return i->addrsize == 8 ? a : a & gh_size_mask(i->addrsize);
}

/* ---- the eight ALU operations, TEST and the unary ones --------------------- */

enum { K_ADD, K_OR, K_ADC, K_SBB, K_AND, K_SUB, K_XOR, K_CMP, K_TEST, K_INC, K_DEC,
       K_NOT, K_NEG };

INL uint64_t alu(struct gh_lazy_flags *lf, unsigned k, uint64_t a, uint64_t b, unsigned bits)
{
	switch (k) {
	case K_ADD:
		return gh_alu_add(lf, a, b, bits);
	case K_OR:
		return gh_alu_or(lf, a, b, bits);
	case K_ADC:
		return gh_alu_adc(lf, a, b, bits);
	case K_SBB:
		return gh_alu_sbb(lf, a, b, bits);
	case K_AND:
		return gh_alu_and(lf, a, b, bits);
	case K_SUB:
		return gh_alu_sub(lf, a, b, bits);
	case K_XOR:
		return gh_alu_xor(lf, a, b, bits);
	case K_CMP:
		gh_alu_cmp(lf, a, b, bits);
		return a;
	case K_TEST:
		gh_alu_test(lf, a, b, bits);
		return a;
	case K_INC:
		return gh_alu_inc(lf, a, bits);
	case K_DEC:
		return gh_alu_dec(lf, a, bits);
	case K_NOT:
		return gh_alu_not(a, bits);
	default:
		return gh_alu_neg(lf, a, bits);
	}
}

INL bool alu_writes(unsigned k)
{
	return k != K_CMP && k != K_TEST;
}

/*
 * LOCK op E, src: the flags come from the value the atomic operation found.
 * Additions go through one host fetch-and-add; the others through a
 * compare-and-swap loop, recomputing the result and flags (from the flags
 * before the instruction: ADC/SBB read CF) until no other CPU got between.
 */
INL void alu_locked(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned k,
		    uint64_t src, unsigned n)
{
	struct gh_locked l;
	struct gh_lazy_flags lf;
	uint64_t old, r;

	gh_locked_begin(cpu, i->seg, gh_exec_ea(cpu, i), n, &l);
	if (k == K_ADD || k == K_SUB || k == K_INC || k == K_DEC) {
		uint64_t add = k == K_ADD ? src : k == K_SUB ? -src : k == K_INC ? 1 : -1ULL;

		old = gh_locked_fetch_add(cpu, &l, add);
		lf = cpu->lf;
		alu(&lf, k, old, src, n * 8);
	} else {
		old = gh_locked_load(cpu, &l);
		do {
			lf = cpu->lf;
			r = alu(&lf, k, old, src, n * 8);
		} while (!gh_locked_cas(cpu, &l, &old, r));
	}
	gh_locked_end(cpu, &l);
	cpu->lf = lf;
}

/*
 * op E, src. The memory form computes its flags aside and commits them only
 * after the write: a fault on the write (a read-only page) must find the
 * flags of before the instruction.
 */
INL void alu_E(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned k, uint64_t src,
	       unsigned n)
{
	if (i->mod != 3 && __builtin_expect(locked(i), 0) && alu_writes(k)) {
		alu_locked(cpu, i, k, src, n);
	} else if (i->mod == 3) {
		uint64_t r = alu(&cpu->lf, k, rd(cpu, i, i->rm, n), src, n * 8);

		if (alu_writes(k))
			wr(cpu, i, i->rm, n, r);
	} else {
		uint64_t off = gh_exec_ea(cpu, i);
		struct gh_lazy_flags lf = cpu->lf;
		uint64_t r = alu(&lf, k, gh_mem_read_seg(cpu, i->seg, off, n), src, n * 8);

		if (alu_writes(k))
			gh_mem_write_seg(cpu, i->seg, off, n, r);
		cpu->lf = lf;
	}
}

/* op G, E */
INL void alu_G(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned k, unsigned n)
{
	uint64_t src = ld_E(cpu, i, n);
	uint64_t r = alu(&cpu->lf, k, rd(cpu, i, i->reg, n), src, n * 8);

	if (alu_writes(k))
		wr(cpu, i, i->reg, n, r);
}

INL void alu_A(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned k, unsigned n)
{
	uint64_t r = alu(&cpu->lf, k, rd(cpu, i, GH_RAX, n), (uint64_t)i->imm, n * 8);

	if (alu_writes(k))
		wr(cpu, i, GH_RAX, n, r);
}

INL void alu_Ev_Gv(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned k, unsigned n)
{
	alu_E(cpu, i, k, gh_reg_get(cpu, i->reg, n), n);
}

INL void alu_Ev_I(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned k, unsigned n)
{
	alu_E(cpu, i, k, (uint64_t)i->imm, n);
}

#define ALU_HANDLERS(N, K)                                                               \
	H(N##_Eb_Gb) { alu_E(cpu, i, K, gh_reg8_get(cpu, i, i->reg), 1); }               \
	H(N##_Ev_Gv) { SIZED(alu_Ev_Gv, cpu, i, K); }                                    \
	H(N##_Gb_Eb) { alu_G(cpu, i, K, 1); }                                            \
	H(N##_Gv_Ev) { SIZED(alu_G, cpu, i, K); }                                        \
	H(N##_AL_Ib) { alu_A(cpu, i, K, 1); }                                            \
	H(N##_rAX_Iz) { SIZED(alu_A, cpu, i, K); }                                       \
	H(N##_Eb_Ib) { alu_E(cpu, i, K, (uint64_t)i->imm, 1); }                          \
	H(N##_Ev_Iz) { SIZED(alu_Ev_I, cpu, i, K); }                                     \
	H(N##_Ev_Ib) { SIZED(alu_Ev_I, cpu, i, K); }
ALU_HANDLERS(ADD, K_ADD)
ALU_HANDLERS(OR, K_OR)
ALU_HANDLERS(ADC, K_ADC)
ALU_HANDLERS(SBB, K_SBB)
ALU_HANDLERS(AND, K_AND)
ALU_HANDLERS(SUB, K_SUB)
ALU_HANDLERS(XOR, K_XOR)
ALU_HANDLERS(CMP, K_CMP)
#undef ALU_HANDLERS

H(TEST_Eb_Gb) { alu_E(cpu, i, K_TEST, gh_reg8_get(cpu, i, i->reg), 1); }
H(TEST_Ev_Gv) { SIZED(alu_Ev_Gv, cpu, i, K_TEST); }
H(TEST_AL_Ib) { alu_A(cpu, i, K_TEST, 1); }
H(TEST_rAX_Iz) { SIZED(alu_A, cpu, i, K_TEST); }
H(TEST_Eb_Ib) { alu_E(cpu, i, K_TEST, (uint64_t)i->imm, 1); }
H(TEST_Ev_Iz) { SIZED(alu_Ev_I, cpu, i, K_TEST); }

H(INC_Eb) { alu_E(cpu, i, K_INC, 0, 1); }
H(DEC_Eb) { alu_E(cpu, i, K_DEC, 0, 1); }
H(NOT_Eb) { alu_E(cpu, i, K_NOT, 0, 1); }
H(NEG_Eb) { alu_E(cpu, i, K_NEG, 0, 1); }
H(INC_Ev) { SIZED(alu_E, cpu, i, K_INC, 0); }
H(DEC_Ev) { SIZED(alu_E, cpu, i, K_DEC, 0); }
H(NOT_Ev) { SIZED(alu_E, cpu, i, K_NOT, 0); }
H(NEG_Ev) { SIZED(alu_E, cpu, i, K_NEG, 0); }

/* 40+r and 48+r (legacy modes: 2 or 4 bytes) */
H(INC_Zv)
{
	unsigned n = i->opsize;

	gh_reg_set(cpu, i->rm, n, gh_alu_inc(&cpu->lf, gh_reg_get(cpu, i->rm, n), n * 8));
}

H(DEC_Zv)
{
	unsigned n = i->opsize;

	gh_reg_set(cpu, i->rm, n, gh_alu_dec(&cpu->lf, gh_reg_get(cpu, i->rm, n), n * 8));
}

/* ---- moves ------------------------------------------------------------------ */

INL void mov_Ev_Gv(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned n)
{
	st_E(cpu, i, n, gh_reg_get(cpu, i->reg, n));
}

INL void mov_Gv_Ev(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned n)
{
	gh_reg_set(cpu, i->reg, n, ld_E(cpu, i, n));
}

H(MOV_Eb_Gb) { st_E(cpu, i, 1, gh_reg8_get(cpu, i, i->reg)); }
H(MOV_Ev_Gv) { SIZED(mov_Ev_Gv, cpu, i); }
H(MOV_Gb_Eb) { gh_reg8_set(cpu, i, i->reg, (uint8_t)ld_E(cpu, i, 1)); }
H(MOV_Gv_Ev) { SIZED(mov_Gv_Ev, cpu, i); }
H(MOV_Eb_Ib) { st_E(cpu, i, 1, (uint64_t)i->imm); }
H(MOV_Ev_Iz) { st_E(cpu, i, i->opsize, (uint64_t)i->imm); }
H(MOV_Zb_Ib) { gh_reg8_set(cpu, i, i->rm, (uint8_t)i->imm); }
H(MOV_Zv_Iv) { gh_reg_set(cpu, i->rm, i->opsize, (uint64_t)i->imm); }

/* A0-A3: the moffs is the memory operand's displacement. */
H(MOV_AL_Ob)
{
	gh_reg8_set(cpu, i, GH_RAX,
		    (uint8_t)gh_mem_read_seg(cpu, i->seg, gh_exec_ea(cpu, i), 1));
}

H(MOV_rAX_Ov)
{
	gh_reg_set(cpu, GH_RAX, i->opsize,
		   gh_mem_read_seg(cpu, i->seg, gh_exec_ea(cpu, i), i->opsize));
}

H(MOV_Ob_AL)
{
	gh_mem_write_seg(cpu, i->seg, gh_exec_ea(cpu, i), 1, cpu->gpr[GH_RAX] & 0xff);
}

H(MOV_Ov_rAX)
{
	gh_mem_write_seg(cpu, i->seg, gh_exec_ea(cpu, i), i->opsize,
			 gh_reg_get(cpu, GH_RAX, i->opsize));
}

H(MOVZX_Gv_Eb) { gh_reg_set(cpu, i->reg, i->opsize, ld_E(cpu, i, 1)); }
H(MOVZX_Gv_Ew) { gh_reg_set(cpu, i->reg, i->opsize, ld_E(cpu, i, 2)); }
H(MOVSX_Gv_Eb) { gh_reg_set(cpu, i->reg, i->opsize, gh_alu_sext(ld_E(cpu, i, 1), 8)); }
H(MOVSX_Gv_Ew) { gh_reg_set(cpu, i->reg, i->opsize, gh_alu_sext(ld_E(cpu, i, 2), 16)); }

/* 63 in 64-bit mode: without REX.W it is a plain MOV of the operand size. */
H(MOVSXD_Gv_Ed)
{
	if (i->opsize == 8)
		cpu->gpr[i->reg] = gh_alu_sext(ld_E(cpu, i, 4), 32);
	else
		gh_reg_set(cpu, i->reg, i->opsize, ld_E(cpu, i, i->opsize));
}

H(LEA_Gv_M) { gh_reg_set(cpu, i->reg, i->opsize, gh_exec_ea(cpu, i)); }

/* XCHG with memory is locked with or without the prefix (SDM vol. 2, XCHG). */
INL void xchg_E_G(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned n)
{
	uint64_t g = rd(cpu, i, i->reg, n), e;

	if (i->mod == 3) {
		e = rd(cpu, i, i->rm, n);
		wr(cpu, i, i->rm, n, g);
	} else {
		struct gh_locked l;

		gh_locked_begin(cpu, i->seg, gh_exec_ea(cpu, i), n, &l);
		e = gh_locked_xchg(cpu, &l, g);
		gh_locked_end(cpu, &l);
	}
	wr(cpu, i, i->reg, n, e);
}

H(XCHG_Eb_Gb) { xchg_E_G(cpu, i, 1); }
H(XCHG_Ev_Gv) { SIZED(xchg_E_G, cpu, i); }

H(XCHG_Zv_rAX)
{
	unsigned n = i->opsize;
	uint64_t a = gh_reg_get(cpu, GH_RAX, n);

	gh_reg_set(cpu, GH_RAX, n, gh_reg_get(cpu, i->rm, n));
	gh_reg_set(cpu, i->rm, n, a);
}

/* 90, 0F 1F, 0F 18-1E and 0F 0D (prefetch hints, a NOP on Intel parts
 * without PREFETCHW): no operand is accessed, so nothing can fault. */
H(NOP)
{
	(void)cpu;
	(void)i;
}

/* ---- multiply and divide ------------------------------------------------------ */

H(MUL_Eb)
{
	uint64_t hi, lo = gh_alu_mul(&cpu->lf, cpu->gpr[GH_RAX], ld_E(cpu, i, 1), &hi, 8);

	gh_reg_set(cpu, GH_RAX, 2, hi << 8 | lo);
}

H(IMUL_Eb)
{
	uint64_t hi, lo = gh_alu_imul1(&cpu->lf, cpu->gpr[GH_RAX], ld_E(cpu, i, 1), &hi, 8);

	gh_reg_set(cpu, GH_RAX, 2, hi << 8 | lo);
}

INL void mul_Ev(struct gh_cpu *cpu, const struct gh_x86_insn *i, bool sign, unsigned n)
{
	uint64_t src = ld_E(cpu, i, n), a = cpu->gpr[GH_RAX], hi, lo;

	if (sign)
		lo = gh_alu_imul1(&cpu->lf, a, src, &hi, n * 8);
	else
		lo = gh_alu_mul(&cpu->lf, a, src, &hi, n * 8);
	gh_reg_set(cpu, GH_RAX, n, lo);
	gh_reg_set(cpu, GH_RDX, n, hi);
}

H(MUL_Ev) { SIZED(mul_Ev, cpu, i, false); }
H(IMUL_Ev) { SIZED(mul_Ev, cpu, i, true); }

INL void imul_G(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned n)
{
	uint64_t src = ld_E(cpu, i, n);

	gh_reg_set(cpu, i->reg, n, gh_alu_imul(&cpu->lf, cpu->gpr[i->reg], src, n * 8));
}

INL void imul_G_I(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned n)
{
	uint64_t src = ld_E(cpu, i, n);

	gh_reg_set(cpu, i->reg, n, gh_alu_imul(&cpu->lf, src, (uint64_t)i->imm, n * 8));
}

H(IMUL_Gv_Ev) { SIZED(imul_G, cpu, i); }
H(IMUL_Gv_Ev_I) { SIZED(imul_G_I, cpu, i); }

INL void div_n(struct gh_cpu *cpu, const struct gh_x86_insn *i, bool sign, unsigned n)
{
	uint64_t d = ld_E(cpu, i, n), q, r;
	uint64_t hi = n == 1 ? cpu->gpr[GH_RAX] >> 8 : cpu->gpr[GH_RDX];
	int err;

	if (sign)
		err = gh_alu_idiv(&cpu->lf, hi, cpu->gpr[GH_RAX], d, &q, &r, n * 8);
	else
		err = gh_alu_div(&cpu->lf, hi, cpu->gpr[GH_RAX], d, &q, &r, n * 8);
	if (err)
		gh_cpu_raise_noerr(cpu, GH_EXC_DE);
	if (n == 1) {
		gh_reg_set(cpu, GH_RAX, 2, r << 8 | q);
	} else {
		gh_reg_set(cpu, GH_RAX, n, q);
		gh_reg_set(cpu, GH_RDX, n, r);
	}
}

H(DIV_Eb) { div_n(cpu, i, false, 1); }
H(IDIV_Eb) { div_n(cpu, i, true, 1); }
H(DIV_Ev) { SIZED(div_n, cpu, i, false); }
H(IDIV_Ev) { SIZED(div_n, cpu, i, true); }

/* ---- shifts and rotates --------------------------------------------------------- */

enum { S_ROL, S_ROR, S_RCL, S_RCR, S_SHL, S_SHR, S_SAR };

INL uint64_t shift(struct gh_lazy_flags *lf, unsigned k, uint64_t a, unsigned c, unsigned bits)
{
	switch (k) {
	case S_ROL:
		return gh_alu_rol(lf, a, c, bits);
	case S_ROR:
		return gh_alu_ror(lf, a, c, bits);
	case S_RCL:
		return gh_alu_rcl(lf, a, c, bits);
	case S_RCR:
		return gh_alu_rcr(lf, a, c, bits);
	case S_SHL:
		return gh_alu_shl(lf, a, c, bits);
	case S_SHR:
		return gh_alu_shr(lf, a, c, bits);
	default:
		return gh_alu_sar(lf, a, c, bits);
	}
}

/*
 * The undefined OF of a multi-bit ROL/ROR: alu.h computes it as for the
 * first one-bit step, as this host does for CL counts and for memory
 * operands; with a register operand and an immediate count the host leaves
 * OF unchanged, and so do we.
 */
INL uint64_t shift_ib(struct gh_lazy_flags *lf, unsigned k, uint64_t a, unsigned c,
		      unsigned bits)
{
	if ((k == S_ROL || k == S_ROR) && gh_alu_count(c, bits) > 1) {
		unsigned of = gh_flags_of(lf);
		uint64_t r = shift(lf, k, a, c, bits);

		gh_lf_set_co(lf, gh_flags_cf(lf), of);
		return r;
	}
	return shift(lf, k, a, c, bits);
}

/*
 * A register is written even for a count of 0 (a 32-bit one is then
 * zero-extended, as the host does); memory is only read then.
 */
INL void shift_E(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned k, bool ib,
		 unsigned c, unsigned n)
{
	if (i->mod == 3) {
		uint64_t a = rd(cpu, i, i->rm, n);

		wr(cpu, i, i->rm, n,
		   ib ? shift_ib(&cpu->lf, k, a, c, n * 8) : shift(&cpu->lf, k, a, c, n * 8));
	} else {
		uint64_t off = gh_exec_ea(cpu, i);
		uint64_t a = gh_mem_read_seg(cpu, i->seg, off, n);
		struct gh_lazy_flags lf = cpu->lf;
		uint64_t r = shift(&lf, k, a, c, n * 8);

		if (gh_alu_count(c, n * 8)) {
			gh_mem_write_seg(cpu, i->seg, off, n, r);
			cpu->lf = lf;
		}
	}
}

#define SHIFT_HANDLERS(N, K)                                                             \
	H(N##_Eb_Ib) { shift_E(cpu, i, K, true, (uint8_t)i->imm, 1); }                   \
	H(N##_Ev_Ib) { SIZED(shift_E, cpu, i, K, true, (uint8_t)i->imm); }               \
	H(N##_Eb_1) { shift_E(cpu, i, K, false, 1, 1); }                                 \
	H(N##_Ev_1) { SIZED(shift_E, cpu, i, K, false, 1); }                             \
	H(N##_Eb_CL) { shift_E(cpu, i, K, false, cpu->gpr[GH_RCX] & 0xff, 1); }          \
	H(N##_Ev_CL) { SIZED(shift_E, cpu, i, K, false, cpu->gpr[GH_RCX] & 0xff); }
SHIFT_HANDLERS(ROL, S_ROL)
SHIFT_HANDLERS(ROR, S_ROR)
SHIFT_HANDLERS(RCL, S_RCL)
SHIFT_HANDLERS(RCR, S_RCR)
SHIFT_HANDLERS(SHL, S_SHL)
SHIFT_HANDLERS(SHR, S_SHR)
SHIFT_HANDLERS(SAR, S_SAR)
#undef SHIFT_HANDLERS

INL void dshift_E(struct gh_cpu *cpu, const struct gh_x86_insn *i, bool right, unsigned c,
		  unsigned n)
{
	uint64_t src = gh_reg_get(cpu, i->reg, n);
	struct gh_lazy_flags lf = cpu->lf;
	uint64_t off = 0, a, r;

	if (i->mod == 3) {
		a = gh_reg_get(cpu, i->rm, n);
	} else {
		off = gh_exec_ea(cpu, i);
		a = gh_mem_read_seg(cpu, i->seg, off, n);
	}
	r = right ? gh_alu_shrd(&lf, a, src, c, n * 8) : gh_alu_shld(&lf, a, src, c, n * 8);
	if (i->mod == 3)
		gh_reg_set(cpu, i->rm, n, r);
	else if (gh_alu_count(c, n * 8))
		gh_mem_write_seg(cpu, i->seg, off, n, r);
	cpu->lf = lf;
}

H(SHLD_Ev_Gv_Ib) { SIZED(dshift_E, cpu, i, false, (uint8_t)i->imm); }
H(SHLD_Ev_Gv_CL) { SIZED(dshift_E, cpu, i, false, cpu->gpr[GH_RCX] & 0xff); }
H(SHRD_Ev_Gv_Ib) { SIZED(dshift_E, cpu, i, true, (uint8_t)i->imm); }
H(SHRD_Ev_Gv_CL) { SIZED(dshift_E, cpu, i, true, cpu->gpr[GH_RCX] & 0xff); }

/* ---- bit tests and scans ----------------------------------------------------------- */

enum { B_BT, B_BTS, B_BTR, B_BTC };

INL uint64_t bitop(struct gh_lazy_flags *lf, unsigned k, uint64_t a, uint64_t off,
		   unsigned bits)
{
	switch (k) {
	case B_BT:
		gh_alu_bt(lf, a, off, bits);
		return a;
	case B_BTS:
		return gh_alu_bts(lf, a, off, bits);
	case B_BTR:
		return gh_alu_btr(lf, a, off, bits);
	default:
		return gh_alu_btc(lf, a, off, bits);
	}
}

/*
 * With a register offset and a memory operand the offset is a signed bit
 * index into a bit string that starts at the operand (SDM vol. 2, BT): the
 * access is the operand-sized unit that holds the bit.
 */
INL void bit_E(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned k, bool imm,
	       unsigned n)
{
	const unsigned bits = n * 8;
	uint64_t off = imm ? (uint64_t)i->imm : gh_reg_get(cpu, i->reg, n);

	if (i->mod == 3) {
		uint64_t r = bitop(&cpu->lf, k, gh_reg_get(cpu, i->rm, n), off, bits);

		if (k != B_BT)
			gh_reg_set(cpu, i->rm, n, r);
	} else {
		uint64_t addr = gh_exec_ea(cpu, i);
		struct gh_lazy_flags lf = cpu->lf;
		uint64_t r;

		if (!imm) {
			int64_t unit = (int64_t)gh_alu_sext(off, bits) >> (n == 2 ? 4 : n == 4 ? 5 : 6);

			addr = addr_wrap(i, addr + (uint64_t)unit * n);
		}
		if (locked(i) && k != B_BT) {
			struct gh_locked l;
			uint64_t old;

			gh_locked_begin(cpu, i->seg, addr, n, &l);
			old = gh_locked_load(cpu, &l);
			do {
				lf = cpu->lf;
				r = bitop(&lf, k, old, off, bits);
			} while (!gh_locked_cas(cpu, &l, &old, r));
			gh_locked_end(cpu, &l);
		} else {
			r = bitop(&lf, k, gh_mem_read_seg(cpu, i->seg, addr, n), off, bits);
			if (k != B_BT)
				gh_mem_write_seg(cpu, i->seg, addr, n, r);
		}
		cpu->lf = lf;
	}
}

H(BT_Ev_Gv) { SIZED(bit_E, cpu, i, B_BT, false); }
H(BTS_Ev_Gv) { SIZED(bit_E, cpu, i, B_BTS, false); }
H(BTR_Ev_Gv) { SIZED(bit_E, cpu, i, B_BTR, false); }
H(BTC_Ev_Gv) { SIZED(bit_E, cpu, i, B_BTC, false); }
H(BT_Ev_Ib) { SIZED(bit_E, cpu, i, B_BT, true); }
H(BTS_Ev_Ib) { SIZED(bit_E, cpu, i, B_BTS, true); }
H(BTR_Ev_Ib) { SIZED(bit_E, cpu, i, B_BTR, true); }
H(BTC_Ev_Ib) { SIZED(bit_E, cpu, i, B_BTC, true); }

enum { C_BSF, C_BSR, C_LZCNT, C_POPCNT };

INL void count_G(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned k, unsigned n)
{
	uint64_t src = ld_E(cpu, i, n), d;

	switch (k) {
	case C_BSF:
		if (gh_alu_bsf(&cpu->lf, src, &d, n * 8))
			gh_reg_set(cpu, i->reg, n, d);
		break;
	case C_BSR:
		if (gh_alu_bsr(&cpu->lf, src, &d, n * 8))
			gh_reg_set(cpu, i->reg, n, d);
		break;
	case C_LZCNT:
		gh_reg_set(cpu, i->reg, n, gh_alu_lzcnt(&cpu->lf, src, n * 8));
		break;
	default:
		gh_reg_set(cpu, i->reg, n, gh_alu_popcnt(&cpu->lf, src, n * 8));
		break;
	}
}

/* F3 0F BC is TZCNT only with BMI1, which CPUID does not advertise: BSF. */
H(BSF_Gv_Ev) { SIZED(count_G, cpu, i, C_BSF); }
H(BSR_Gv_Ev) { SIZED(count_G, cpu, i, C_BSR); }
H(LZCNT_Gv_Ev) { SIZED(count_G, cpu, i, C_LZCNT); }
H(POPCNT_Gv_Ev) { SIZED(count_G, cpu, i, C_POPCNT); }

H(BSWAP_Zv)
{
	unsigned n = i->opsize;

	gh_reg_set(cpu, i->rm, n, gh_alu_bswap(cpu->gpr[i->rm], n * 8));
}

INL uint64_t swap_n(uint64_t v, unsigned n)
{
	switch (n) {
	case 2:
		return __builtin_bswap16((uint16_t)v);
	case 4:
		return __builtin_bswap32((uint32_t)v);
	default:
		return __builtin_bswap64(v);
	}
}

INL void movbe_load(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned n)
{
	uint64_t v = gh_mem_read_seg(cpu, i->seg, gh_exec_ea(cpu, i), n);

	gh_reg_set(cpu, i->reg, n, swap_n(v, n));
}

INL void movbe_store(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned n)
{
	gh_mem_write_seg(cpu, i->seg, gh_exec_ea(cpu, i), n,
			 swap_n(gh_reg_get(cpu, i->reg, n), n));
}

H(MOVBE_Gv_Mv) { SIZED(movbe_load, cpu, i); }
H(MOVBE_Mv_Gv) { SIZED(movbe_store, cpu, i); }

/* ---- conditional moves and sets ------------------------------------------------------ */

/*
 * CMOV reads its source whatever the condition (a memory source can fault)
 * and, with a 32-bit operand, zero-extends the destination even when the
 * condition is false (SDM vol. 2, CMOVcc).
 */
INL void cmov(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned cc)
{
	unsigned n = i->opsize, r = i->reg;
	uint64_t v = ld_E(cpu, i, n);

	gh_reg_set(cpu, r, n, gh_flags_cond(&cpu->lf, cc) ? v : cpu->gpr[r]);
}

#define CC_HANDLERS(N, cc)                                                               \
	H(CMOV##N) { cmov(cpu, i, cc); }                                                 \
	H(SET##N) { st_E(cpu, i, 1, gh_flags_cond(&cpu->lf, cc)); }
CC_HANDLERS(O, GH_CC_O)
CC_HANDLERS(NO, GH_CC_NO)
CC_HANDLERS(B, GH_CC_B)
CC_HANDLERS(NB, GH_CC_AE)
CC_HANDLERS(Z, GH_CC_E)
CC_HANDLERS(NZ, GH_CC_NE)
CC_HANDLERS(BE, GH_CC_BE)
CC_HANDLERS(NBE, GH_CC_A)
CC_HANDLERS(S, GH_CC_S)
CC_HANDLERS(NS, GH_CC_NS)
CC_HANDLERS(P, GH_CC_P)
CC_HANDLERS(NP, GH_CC_NP)
CC_HANDLERS(L, GH_CC_L)
CC_HANDLERS(NL, GH_CC_GE)
CC_HANDLERS(LE, GH_CC_LE)
CC_HANDLERS(NLE, GH_CC_G)
#undef CC_HANDLERS

/* ---- exchange-and-operate ----------------------------------------------------------- */

INL void xadd(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned n)
{
	uint64_t src = rd(cpu, i, i->reg, n), d, sum;

	if (i->mod == 3) {
		d = rd(cpu, i, i->rm, n);
		sum = gh_alu_add(&cpu->lf, d, src, n * 8);
		/* the sum wins when both operands name one register */
		wr(cpu, i, i->reg, n, d);
		wr(cpu, i, i->rm, n, sum);
	} else {
		uint64_t off = gh_exec_ea(cpu, i);
		struct gh_lazy_flags lf = cpu->lf;

		if (locked(i)) {
			struct gh_locked l;

			gh_locked_begin(cpu, i->seg, off, n, &l);
			d = gh_locked_fetch_add(cpu, &l, src);
			gh_locked_end(cpu, &l);
			gh_alu_add(&lf, d, src, n * 8);
		} else {
			d = gh_mem_read_seg(cpu, i->seg, off, n);
			sum = gh_alu_add(&lf, d, src, n * 8);
			gh_mem_write_seg(cpu, i->seg, off, n, sum);
		}
		cpu->lf = lf;
		wr(cpu, i, i->reg, n, d);
	}
}

H(XADD_Eb_Gb) { xadd(cpu, i, 1); }
H(XADD_Ev_Gv) { SIZED(xadd, cpu, i); }

/*
 * CMPXCHG always writes its destination (the old value when the comparison
 * fails), so a read-only destination faults either way (SDM vol. 2).
 */
INL void cmpxchg(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned n)
{
	uint64_t acc = rd(cpu, i, GH_RAX, n), src = rd(cpu, i, i->reg, n), d;
	bool eq;

	if (i->mod == 3) {
		d = rd(cpu, i, i->rm, n);
		eq = gh_alu_cmpxchg(&cpu->lf, acc, d, n * 8);
		if (eq)
			wr(cpu, i, i->rm, n, src);
		else
			wr(cpu, i, GH_RAX, n, d);
	} else {
		uint64_t off = gh_exec_ea(cpu, i);
		struct gh_lazy_flags lf = cpu->lf;

		if (locked(i)) {
			struct gh_locked l;

			d = acc;
			gh_locked_begin(cpu, i->seg, off, n, &l);
			gh_locked_cas(cpu, &l, &d, src);
			gh_locked_end(cpu, &l);
			eq = gh_alu_cmpxchg(&lf, acc, d, n * 8);
		} else {
			d = gh_mem_read_seg(cpu, i->seg, off, n);
			eq = gh_alu_cmpxchg(&lf, acc, d, n * 8);
			gh_mem_write_seg(cpu, i->seg, off, n, eq ? src : d);
		}
		cpu->lf = lf;
		if (!eq)
			wr(cpu, i, GH_RAX, n, d);
	}
}

H(CMPXCHG_Eb_Gb) { cmpxchg(cpu, i, 1); }
H(CMPXCHG_Ev_Gv) { SIZED(cmpxchg, cpu, i); }

/* CMPXCHG8B/16B change only ZF. */
H(CMPXCHG8B_Mq)
{
	uint64_t off = gh_exec_ea(cpu, i), m;
	uint64_t cmp = (uint32_t)cpu->gpr[GH_RAX] | cpu->gpr[GH_RDX] << 32;
	uint64_t nv = (uint32_t)cpu->gpr[GH_RBX] | cpu->gpr[GH_RCX] << 32;
	bool eq;

	if (locked(i)) {
		struct gh_locked l;

		m = cmp;
		gh_locked_begin(cpu, i->seg, off, 8, &l);
		eq = gh_locked_cas(cpu, &l, &m, nv);
		gh_locked_end(cpu, &l);
	} else {
		m = gh_mem_read_seg(cpu, i->seg, off, 8);
		eq = m == cmp;
		gh_mem_write_seg(cpu, i->seg, off, 8, eq ? nv : m);
	}
	gh_flags_set(&cpu->lf, eq ? GH_ALU_ZF : 0, GH_ALU_ZF);
	if (!eq) {
		gh_reg_set(cpu, GH_RAX, 4, m);
		gh_reg_set(cpu, GH_RDX, 4, m >> 32);
	}
}

H(CMPXCHG16B_Mdq)
{
	uint64_t off = gh_exec_ea(cpu, i), m[2], nv[2];
	uint64_t base = i->seg >= GH_X86_SEG_FS ? cpu->seg[i->seg].base : 0;
	bool eq;

	if ((base + off) & 15)
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	if (locked(i)) {
		struct gh_locked l;

		m[0] = cpu->gpr[GH_RAX];
		m[1] = cpu->gpr[GH_RDX];
		nv[0] = cpu->gpr[GH_RBX];
		nv[1] = cpu->gpr[GH_RCX];
		gh_locked_begin(cpu, i->seg, off, 16, &l);
		eq = gh_locked_cas16(cpu, &l, m, nv);
		gh_locked_end(cpu, &l);
	} else {
		gh_mem_read_buf(cpu, i->seg, off, m, 16);
		eq = m[0] == cpu->gpr[GH_RAX] && m[1] == cpu->gpr[GH_RDX];
		nv[0] = eq ? cpu->gpr[GH_RBX] : m[0];
		nv[1] = eq ? cpu->gpr[GH_RCX] : m[1];
		gh_mem_write_buf(cpu, i->seg, off, nv, 16);
	}
	gh_flags_set(&cpu->lf, eq ? GH_ALU_ZF : 0, GH_ALU_ZF);
	if (!eq) {
		cpu->gpr[GH_RAX] = m[0];
		cpu->gpr[GH_RDX] = m[1];
	}
}

/* ---- accumulator conversions, BCD, flags ------------------------------------------- */

H(CBW)
{
	unsigned n = i->opsize;

	gh_reg_set(cpu, GH_RAX, n, gh_alu_sext(cpu->gpr[GH_RAX], n * 4));
}

H(CWD)
{
	unsigned n = i->opsize;
	uint64_t sign = (cpu->gpr[GH_RAX] >> (n * 8 - 1)) & 1;

	gh_reg_set(cpu, GH_RDX, n, sign ? ~0ULL : 0);
}

H(DAA) { gh_reg8_set(cpu, i, GH_RAX, gh_alu_daa(&cpu->lf, (uint8_t)cpu->gpr[GH_RAX])); }
H(DAS) { gh_reg8_set(cpu, i, GH_RAX, gh_alu_das(&cpu->lf, (uint8_t)cpu->gpr[GH_RAX])); }
H(AAA) { gh_reg_set(cpu, GH_RAX, 2, gh_alu_aaa(&cpu->lf, (uint16_t)cpu->gpr[GH_RAX])); }
H(AAS) { gh_reg_set(cpu, GH_RAX, 2, gh_alu_aas(&cpu->lf, (uint16_t)cpu->gpr[GH_RAX])); }

H(AAM_Ib)
{
	uint16_t ax;

	if (gh_alu_aam(&cpu->lf, (uint16_t)cpu->gpr[GH_RAX], (uint8_t)i->imm, &ax))
		gh_cpu_raise_noerr(cpu, GH_EXC_DE);
	gh_reg_set(cpu, GH_RAX, 2, ax);
}

H(AAD_Ib)
{
	gh_reg_set(cpu, GH_RAX, 2,
		   gh_alu_aad(&cpu->lf, (uint16_t)cpu->gpr[GH_RAX], (uint8_t)i->imm));
}

#define AH_FLAGS (GH_ALU_SF | GH_ALU_ZF | GH_ALU_AF | GH_ALU_PF | GH_ALU_CF)

H(LAHF)
{
	uint64_t f = (gh_flags_get(&cpu->lf, 0) & AH_FLAGS) | 2;

	cpu->gpr[GH_RAX] = (cpu->gpr[GH_RAX] & ~0xff00ULL) | f << 8;
	(void)i;
}

H(SAHF)
{
	gh_flags_set(&cpu->lf, cpu->gpr[GH_RAX] >> 8, AH_FLAGS);
	(void)i;
}

H(CMC) { gh_flags_cmc(&cpu->lf); (void)i; }
H(CLC) { gh_flags_clc(&cpu->lf); (void)i; }
H(STC) { gh_flags_stc(&cpu->lf); (void)i; }
H(CLD) { cpu->rflags &= ~(uint64_t)GH_FL_DF; (void)i; }
H(STD) { cpu->rflags |= GH_FL_DF; (void)i; }

/* D6 (undocumented, legacy modes): AL = CF ? FF : 00, flags unchanged. */
H(SALC) { gh_reg8_set(cpu, i, GH_RAX, gh_flags_cf(&cpu->lf) ? 0xff : 0); }

H(XLAT)
{
	uint64_t off = addr_wrap(i, cpu->gpr[GH_RBX] + (cpu->gpr[GH_RAX] & 0xff));

	gh_reg8_set(cpu, i, GH_RAX, (uint8_t)gh_mem_read_seg(cpu, i->seg, off, 1));
}

/* ---- the table -------------------------------------------------------------------------- */

#define B(op, fn) { GH_X86_OP_##op, h_##fn }
#define B1(op) B(op, op)
#define ALU_BINDS(N)                                                                     \
	B1(N##_Eb_Gb), B1(N##_Ev_Gv), B1(N##_Gb_Eb), B1(N##_Gv_Ev), B1(N##_AL_Ib),       \
	B1(N##_rAX_Iz), B1(N##_Eb_Ib), B(N##_Eb_Ib_82, N##_Eb_Ib), B1(N##_Ev_Iz),         \
	B1(N##_Ev_Ib)
#define SHIFT_BINDS(N)                                                                   \
	B1(N##_Eb_Ib), B1(N##_Ev_Ib), B1(N##_Eb_1), B1(N##_Ev_1), B1(N##_Eb_CL),         \
	B1(N##_Ev_CL)
#define CC_BINDS(N) B1(CMOV##N), B1(SET##N)

const struct gh_handler_bind gh_exec_alu_binds[] = {
	ALU_BINDS(ADD), ALU_BINDS(OR), ALU_BINDS(ADC), ALU_BINDS(SBB),
	ALU_BINDS(AND), ALU_BINDS(SUB), ALU_BINDS(XOR), ALU_BINDS(CMP),
	B1(TEST_Eb_Gb), B1(TEST_Ev_Gv), B1(TEST_AL_Ib), B1(TEST_rAX_Iz),
	B1(TEST_Eb_Ib), B1(TEST_Ev_Iz),
	B1(INC_Eb), B1(DEC_Eb), B1(NOT_Eb), B1(NEG_Eb),
	B1(INC_Ev), B1(DEC_Ev), B1(NOT_Ev), B1(NEG_Ev),
	B1(INC_Zv), B1(DEC_Zv),
	B1(MOV_Eb_Gb), B1(MOV_Ev_Gv), B1(MOV_Gb_Eb), B1(MOV_Gv_Ev),
	B1(MOV_Eb_Ib), B1(MOV_Ev_Iz), B1(MOV_Zb_Ib), B1(MOV_Zv_Iv),
	B1(MOV_AL_Ob), B1(MOV_rAX_Ov), B1(MOV_Ob_AL), B1(MOV_Ov_rAX),
	B1(MOVZX_Gv_Eb), B1(MOVZX_Gv_Ew), B1(MOVSX_Gv_Eb), B1(MOVSX_Gv_Ew),
	B1(MOVSXD_Gv_Ed), B1(LEA_Gv_M),
	B1(XCHG_Eb_Gb), B1(XCHG_Ev_Gv), B1(XCHG_Zv_rAX),
	B1(NOP), B(NOP_Ev, NOP), B(NOP_Ev_18, NOP), B(PREFETCHNTA, NOP),
	B(PREFETCHT0, NOP), B(PREFETCHT1, NOP), B(PREFETCHT2, NOP), B(PREFETCHW_Eb, NOP),
	B1(MUL_Eb), B1(IMUL_Eb), B1(MUL_Ev), B1(IMUL_Ev),
	B1(IMUL_Gv_Ev), B(IMUL_Gv_Ev_Iz, IMUL_Gv_Ev_I), B(IMUL_Gv_Ev_Ib, IMUL_Gv_Ev_I),
	B1(DIV_Eb), B1(IDIV_Eb), B1(DIV_Ev), B1(IDIV_Ev),
	SHIFT_BINDS(ROL), SHIFT_BINDS(ROR), SHIFT_BINDS(RCL), SHIFT_BINDS(RCR),
	SHIFT_BINDS(SHL), SHIFT_BINDS(SHR), SHIFT_BINDS(SAR),
	B1(SHLD_Ev_Gv_Ib), B1(SHLD_Ev_Gv_CL), B1(SHRD_Ev_Gv_Ib), B1(SHRD_Ev_Gv_CL),
	B1(BT_Ev_Gv), B1(BTS_Ev_Gv), B1(BTR_Ev_Gv), B1(BTC_Ev_Gv),
	B1(BT_Ev_Ib), B1(BTS_Ev_Ib), B1(BTR_Ev_Ib), B1(BTC_Ev_Ib),
	B1(BSF_Gv_Ev), B1(BSR_Gv_Ev), B(TZCNT_Gv_Ev, BSF_Gv_Ev), B1(LZCNT_Gv_Ev),
	B1(POPCNT_Gv_Ev), B1(BSWAP_Zv), B1(MOVBE_Gv_Mv), B1(MOVBE_Mv_Gv),
	CC_BINDS(O), CC_BINDS(NO), CC_BINDS(B), CC_BINDS(NB),
	CC_BINDS(Z), CC_BINDS(NZ), CC_BINDS(BE), CC_BINDS(NBE),
	CC_BINDS(S), CC_BINDS(NS), CC_BINDS(P), CC_BINDS(NP),
	CC_BINDS(L), CC_BINDS(NL), CC_BINDS(LE), CC_BINDS(NLE),
	B1(XADD_Eb_Gb), B1(XADD_Ev_Gv), B1(CMPXCHG_Eb_Gb), B1(CMPXCHG_Ev_Gv),
	B1(CMPXCHG8B_Mq), B1(CMPXCHG16B_Mdq),
	B1(CBW), B1(CWD), B1(DAA), B1(DAS), B1(AAA), B1(AAS), B1(AAM_Ib), B1(AAD_Ib),
	B1(LAHF), B1(SAHF), B1(CMC), B1(CLC), B1(STC), B1(CLD), B1(STD), B1(SALC),
	B1(XLAT),
	{ 0, NULL },
};

/* ---- fast forms (exec.h): 64-bit code, operand sizes 4 and 8 ----------------------- */

/* op Ev,Gv / op Gv,Ev / op Ev,imm (and INC/DEC Ev) / op rAX,imm */
enum { F_EG, F_GE, F_EI, F_AI };

/* A fast form: its body, then on to the block's next instruction. */
#define F(name, ...) H(name) { __VA_ARGS__; GH_FAST_NEXT(cpu, i); }

/*
 * op of kind k in form f, n bytes, register (mem = false) or memory
 * operand. The memory destination computes its flags aside until the
 * write succeeded, as alu_E() does; through the TLB the write cannot fault.
 */
INL void fast_alu(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned k, unsigned f,
		  bool mem, unsigned n)
{
	uint64_t src, ea, r;
	struct gh_lazy_flags lf;
	void *h;

	if (f == F_GE) {
		src = mem ? gh_fast_load(cpu, i, gh_fast_ea(cpu, i), n) : cpu->gpr[i->rm];
		r = alu(&cpu->lf, k, cpu->gpr[i->reg], src, n * 8);
		if (alu_writes(k))
			gh_fast_set(cpu, i->reg, n, r);
		return;
	}
	src = f == F_EG ? cpu->gpr[i->reg] : (uint64_t)i->imm;
	if (f == F_AI) {
		r = alu(&cpu->lf, k, cpu->gpr[GH_RAX], src, n * 8);
		if (alu_writes(k))
			gh_fast_set(cpu, GH_RAX, n, r);
		return;
	}
	if (!mem) {
		r = alu(&cpu->lf, k, cpu->gpr[i->rm], src, n * 8);
		if (alu_writes(k))
			gh_fast_set(cpu, i->rm, n, r);
		return;
	}
	ea = gh_fast_ea(cpu, i);
	if (!alu_writes(k)) {
		alu(&cpu->lf, k, gh_fast_load(cpu, i, ea, n), src, n * 8);
		return;
	}
	h = gh_fast_probe(cpu, ea + gh_fast_word(cpu, i->x_seg), n, GH_TLB_W(cpu->data_mode));
	if (h) {
		gh_host_store(h, n, alu(&cpu->lf, k, gh_host_load(h, n), src, n * 8));
		return;
	}
	lf = cpu->lf;
	r = alu(&lf, k, gh_mem_read_slow(cpu, i->seg, ea, n), src, n * 8);
	gh_mem_write_slow(cpu, i->seg, ea, n, r);
	cpu->lf = lf;
}

#define FAST_ALU4(N, K, FORM)                                                            \
	F(fr4_##N##_##FORM, fast_alu(cpu, i, K, FORM, false, 4))                         \
	F(fr8_##N##_##FORM, fast_alu(cpu, i, K, FORM, false, 8))                         \
	F(fm4_##N##_##FORM, fast_alu(cpu, i, K, FORM, true, 4))                          \
	F(fm8_##N##_##FORM, fast_alu(cpu, i, K, FORM, true, 8))
#define FAST_ALU_A(N, K)                                                                 \
	F(fr4_##N##_F_AI, fast_alu(cpu, i, K, F_AI, false, 4))                           \
	F(fr8_##N##_F_AI, fast_alu(cpu, i, K, F_AI, false, 8))
#define FAST_ALU(N, K)                                                                   \
	FAST_ALU4(N, K, F_EG) FAST_ALU4(N, K, F_GE) FAST_ALU4(N, K, F_EI) FAST_ALU_A(N, K)
FAST_ALU(ADD, K_ADD)
FAST_ALU(OR, K_OR)
FAST_ALU(AND, K_AND)
FAST_ALU(SUB, K_SUB)
FAST_ALU(XOR, K_XOR)
FAST_ALU(CMP, K_CMP)
FAST_ALU4(TEST, K_TEST, F_EG)
FAST_ALU4(TEST, K_TEST, F_EI)
FAST_ALU_A(TEST, K_TEST)
FAST_ALU4(INC, K_INC, F_EI)
FAST_ALU4(DEC, K_DEC, F_EI)
#undef FAST_ALU
#undef FAST_ALU_A
#undef FAST_ALU4

/* MOV and the extending loads: v is the size of a memory source, n the
 * destination's (which decides only the zero- or sign-extension). */
INL void fast_mov_load(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned v,
		       bool sx, unsigned n)
{
	uint64_t x = gh_fast_load(cpu, i, gh_fast_ea(cpu, i), v);

	gh_fast_set(cpu, i->reg, n, sx ? gh_alu_sext(x, v * 8) : x);
}

F(fm4_MOV_GE, fast_mov_load(cpu, i, 4, false, 4))
F(fm8_MOV_GE, fast_mov_load(cpu, i, 8, false, 8))
F(fm_MOVZX_b, fast_mov_load(cpu, i, 1, false, 8))
F(fm_MOVZX_w, fast_mov_load(cpu, i, 2, false, 8))
F(fm4_MOVSX_b, fast_mov_load(cpu, i, 1, true, 4))
F(fm8_MOVSX_b, fast_mov_load(cpu, i, 1, true, 8))
F(fm4_MOVSX_w, fast_mov_load(cpu, i, 2, true, 4))
F(fm8_MOVSX_w, fast_mov_load(cpu, i, 2, true, 8))
F(fm_MOVSXD, fast_mov_load(cpu, i, 4, true, 8))
F(fr4_MOV_GE, cpu->gpr[i->reg] = (uint32_t)cpu->gpr[i->rm])
F(fr8_MOV_GE, cpu->gpr[i->reg] = cpu->gpr[i->rm])
F(fr4_MOV_EG, cpu->gpr[i->rm] = (uint32_t)cpu->gpr[i->reg])
F(fr8_MOV_EG, cpu->gpr[i->rm] = cpu->gpr[i->reg])
F(fr_MOVSXD, cpu->gpr[i->reg] = gh_alu_sext(cpu->gpr[i->rm], 32))
F(fm4_MOV_EG, gh_fast_store(cpu, i, gh_fast_ea(cpu, i), 4, cpu->gpr[i->reg]))
F(fm8_MOV_EG, gh_fast_store(cpu, i, gh_fast_ea(cpu, i), 8, cpu->gpr[i->reg]))
F(fm2_MOV_EG, gh_fast_store(cpu, i, gh_fast_ea(cpu, i), 2, cpu->gpr[i->reg]))
F(fm1_MOV_EG, gh_fast_store(cpu, i, gh_fast_ea(cpu, i), 1, cpu->gpr[i->reg]))
F(fm4_MOV_EI, gh_fast_store(cpu, i, gh_fast_ea(cpu, i), 4, (uint64_t)i->imm))
F(fm8_MOV_EI, gh_fast_store(cpu, i, gh_fast_ea(cpu, i), 8, (uint64_t)i->imm))
F(fm1_MOV_EI, gh_fast_store(cpu, i, gh_fast_ea(cpu, i), 1, (uint64_t)i->imm))
F(f4_LEA, cpu->gpr[i->reg] = (uint32_t)gh_fast_ea(cpu, i))
F(f8_LEA, cpu->gpr[i->reg] = gh_fast_ea(cpu, i))
H(fm1_CMP_EI)
{
	gh_alu_cmp(&cpu->lf, gh_fast_load(cpu, i, gh_fast_ea(cpu, i), 1),
		   (uint64_t)i->imm, 8);
	GH_FAST_NEXT(cpu, i);
}

H(fm1_TEST_EI)
{
	gh_alu_test(&cpu->lf, gh_fast_load(cpu, i, gh_fast_ea(cpu, i), 1),
		    (uint64_t)i->imm, 8);
	GH_FAST_NEXT(cpu, i);
}

/* Shifts and rotates of a register by an immediate or by 1. */
#define FAST_SHIFT(N, K)                                                                 \
	F(fr4_##N##_Ib, gh_fast_set(cpu, i->rm, 4, shift_ib(&cpu->lf, K, cpu->gpr[i->rm],  \
							   (uint8_t)i->imm, 32)))          \
	F(fr8_##N##_Ib, cpu->gpr[i->rm] = shift_ib(&cpu->lf, K, cpu->gpr[i->rm],           \
						   (uint8_t)i->imm, 64))                   \
	F(fr4_##N##_1, gh_fast_set(cpu, i->rm, 4, shift(&cpu->lf, K, cpu->gpr[i->rm], 1, 32))) \
	F(fr8_##N##_1, cpu->gpr[i->rm] = shift(&cpu->lf, K, cpu->gpr[i->rm], 1, 64))
FAST_SHIFT(ROL, S_ROL)
FAST_SHIFT(ROR, S_ROR)
FAST_SHIFT(SHL, S_SHL)
FAST_SHIFT(SHR, S_SHR)
FAST_SHIFT(SAR, S_SAR)
#undef FAST_SHIFT

/* IMUL Gv,Ev and Gv,Ev,imm: the source from a register or memory. */
INL uint64_t fast_src(struct gh_cpu *cpu, const struct gh_x86_insn *i, bool mem, unsigned n)
{
	return mem ? gh_fast_load(cpu, i, gh_fast_ea(cpu, i), n) : cpu->gpr[i->rm];
}

#define FAST_IMUL(M, MEM, N)                                                             \
	F(f##M##N##_IMUL_GE, gh_fast_set(cpu, i->reg, N, gh_alu_imul(&cpu->lf,            \
		cpu->gpr[i->reg], fast_src(cpu, i, MEM, N), N * 8)))                        \
	F(f##M##N##_IMUL_GEI, gh_fast_set(cpu, i->reg, N, gh_alu_imul(&cpu->lf,           \
		fast_src(cpu, i, MEM, N), (uint64_t)i->imm, N * 8)))
FAST_IMUL(r, false, 4)
FAST_IMUL(r, false, 8)
FAST_IMUL(m, true, 4)
FAST_IMUL(m, true, 8)
#undef FAST_IMUL

/* CMOVcc reads its source whatever the condition; a 32-bit one always
 * writes (zero-extends) the destination. SETcc writes a byte. */
INL void fast_cmov(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned cc, bool mem,
		   unsigned n)
{
	uint64_t v = fast_src(cpu, i, mem, n);

	gh_fast_set(cpu, i->reg, n, gh_flags_cond(&cpu->lf, cc) ? v : cpu->gpr[i->reg]);
}

#define FAST_CC(cc)                                                                      \
	F(fr4_CMOV_##cc, fast_cmov(cpu, i, cc, false, 4))                                \
	F(fr8_CMOV_##cc, fast_cmov(cpu, i, cc, false, 8))                                \
	F(fm4_CMOV_##cc, fast_cmov(cpu, i, cc, true, 4))                                 \
	F(fm8_CMOV_##cc, fast_cmov(cpu, i, cc, true, 8))                                 \
	F(fr_SET_##cc, cpu->gpr[i->rm] = (cpu->gpr[i->rm] & ~0xffULL) |                   \
				       gh_flags_cond(&cpu->lf, cc))                       \
	F(fm_SET_##cc, gh_fast_store(cpu, i, gh_fast_ea(cpu, i), 1,                   \
				     gh_flags_cond(&cpu->lf, cc)))
FAST_CC(0) FAST_CC(1) FAST_CC(2) FAST_CC(3) FAST_CC(4) FAST_CC(5) FAST_CC(6) FAST_CC(7)
FAST_CC(8) FAST_CC(9) FAST_CC(10) FAST_CC(11) FAST_CC(12) FAST_CC(13) FAST_CC(14)
FAST_CC(15)
#undef FAST_CC

/* MOVZX/MOVSX from a register (not AH..BH): n is the destination size. */
F(fr_MOVZX_b, cpu->gpr[i->reg] = (uint8_t)cpu->gpr[i->rm])
F(fr_MOVZX_w, cpu->gpr[i->reg] = (uint16_t)cpu->gpr[i->rm])
F(fr4_MOVSX_b, cpu->gpr[i->reg] = (uint32_t)(int32_t)(int8_t)cpu->gpr[i->rm])
F(fr8_MOVSX_b, cpu->gpr[i->reg] = (uint64_t)(int64_t)(int8_t)cpu->gpr[i->rm])
F(fr4_MOVSX_w, cpu->gpr[i->reg] = (uint32_t)(int32_t)(int16_t)cpu->gpr[i->rm])
F(fr8_MOVSX_w, cpu->gpr[i->reg] = (uint64_t)(int64_t)(int16_t)cpu->gpr[i->rm])

/* An op's four fast handlers, by size (4, 8) and register/memory; the
 * table is indexed by op. */
struct fast_row {
	gh_handler_fn *fn[2][2];	/* [mem][n == 8] */
};

#define R4(op, N, F)                                                                     \
	[GH_X86_OP_##op] = { { { h_fr4_##N##_##F, h_fr8_##N##_##F },                      \
			       { h_fm4_##N##_##F, h_fm8_##N##_##F } } }
/* rAX,imm has no ModRM: register forms only, whatever mod says */
#define RA(op, N)                                                                        \
	[GH_X86_OP_##op] = { { { h_fr4_##N##_F_AI, h_fr8_##N##_F_AI },                    \
			       { h_fr4_##N##_F_AI, h_fr8_##N##_F_AI } } }
#define RALU(N)                                                                          \
	R4(N##_Ev_Gv, N, F_EG), R4(N##_Gv_Ev, N, F_GE), R4(N##_Ev_Iz, N, F_EI),           \
	R4(N##_Ev_Ib, N, F_EI), RA(N##_rAX_Iz, N)

#define RSH(N)                                                                           \
	[GH_X86_OP_##N##_Ev_Ib] = { { { h_fr4_##N##_Ib, h_fr8_##N##_Ib } } },             \
	[GH_X86_OP_##N##_Ev_1] = { { { h_fr4_##N##_1, h_fr8_##N##_1 } } }
#define RIMUL(op, F)                                                                     \
	[GH_X86_OP_##op] = { { { h_fr4_IMUL_##F, h_fr8_IMUL_##F },                        \
			       { h_fm4_IMUL_##F, h_fm8_IMUL_##F } } }

static const struct fast_row fast_rows[GH_X86_NR_OPS] = {
	RALU(ADD), RALU(OR), RALU(AND), RALU(SUB), RALU(XOR), RALU(CMP),
	R4(TEST_Ev_Gv, TEST, F_EG), R4(TEST_Ev_Iz, TEST, F_EI), RA(TEST_rAX_Iz, TEST),
	R4(INC_Ev, INC, F_EI), R4(DEC_Ev, DEC, F_EI),
	[GH_X86_OP_MOV_Gv_Ev] = { { { h_fr4_MOV_GE, h_fr8_MOV_GE },
				    { h_fm4_MOV_GE, h_fm8_MOV_GE } } },
	[GH_X86_OP_MOV_Ev_Gv] = { { { h_fr4_MOV_EG, h_fr8_MOV_EG },
				    { h_fm4_MOV_EG, h_fm8_MOV_EG } } },
	[GH_X86_OP_MOV_Ev_Iz] = { { { NULL, NULL }, { h_fm4_MOV_EI, h_fm8_MOV_EI } } },
	[GH_X86_OP_MOVZX_Gv_Eb] = { { { NULL, NULL }, { h_fm_MOVZX_b, h_fm_MOVZX_b } } },
	[GH_X86_OP_MOVZX_Gv_Ew] = { { { h_fr_MOVZX_w, h_fr_MOVZX_w },
				      { h_fm_MOVZX_w, h_fm_MOVZX_w } } },
	[GH_X86_OP_MOVSX_Gv_Eb] = { { { NULL, NULL }, { h_fm4_MOVSX_b, h_fm8_MOVSX_b } } },
	[GH_X86_OP_MOVSX_Gv_Ew] = { { { h_fr4_MOVSX_w, h_fr8_MOVSX_w },
				      { h_fm4_MOVSX_w, h_fm8_MOVSX_w } } },
	[GH_X86_OP_MOVSXD_Gv_Ed] = { { { NULL, h_fr_MOVSXD }, { NULL, h_fm_MOVSXD } } },
	[GH_X86_OP_LEA_Gv_M] = { { { NULL, NULL }, { h_f4_LEA, h_f8_LEA } } },
	RSH(ROL), RSH(ROR), RSH(SHL), RSH(SHR), RSH(SAR),
	RIMUL(IMUL_Gv_Ev, GE), RIMUL(IMUL_Gv_Ev_Iz, GEI), RIMUL(IMUL_Gv_Ev_Ib, GEI),
};
#undef RALU
#undef RA
#undef R4
#undef RSH
#undef RIMUL

/* CMOVcc (0F 40+cc) by [mem][n == 8][cc], SETcc (0F 90+cc) by [mem][cc]. */
#define CC16(p, s) { p##0##s, p##1##s, p##2##s, p##3##s, p##4##s, p##5##s, p##6##s,      \
		     p##7##s, p##8##s, p##9##s, p##10##s, p##11##s, p##12##s, p##13##s,  \
		     p##14##s, p##15##s }
static gh_handler_fn *const fast_cmov_fn[2][2][16] = {
	{ CC16(h_fr4_CMOV_, ), CC16(h_fr8_CMOV_, ) },
	{ CC16(h_fm4_CMOV_, ), CC16(h_fm8_CMOV_, ) },
};
static gh_handler_fn *const fast_set_fn[2][16] = { CC16(h_fr_SET_, ), CC16(h_fm_SET_, ) };
#undef CC16

/* AH..BH as an operand (no REX, register 4-7) stays with the generic form. */
static bool high_byte(const struct gh_x86_insn *i, unsigned r)
{
	return !i->rex && r >= 4 && r < 8;
}

gh_handler_fn *gh_exec_alu_fast(const struct gh_x86_insn *i)
{
	bool mem = i->has_mem;

	if (mem && !gh_fast_mem_ok(i))
		return NULL;
	/* the byte forms with a memory operand */
	if (mem) {
		switch (i->op) {
		case GH_X86_OP_MOV_Eb_Gb:
			return high_byte(i, i->reg) ? NULL : h_fm1_MOV_EG;
		case GH_X86_OP_MOV_Eb_Ib:
			return h_fm1_MOV_EI;
		case GH_X86_OP_CMP_Eb_Ib:
			return h_fm1_CMP_EI;
		case GH_X86_OP_TEST_Eb_Ib:
			return h_fm1_TEST_EI;
		}
	}
	if (i->map == 1 && (i->opcode & 0xf0) == 0x90)
		return mem || !high_byte(i, i->rm) ? fast_set_fn[mem][i->opcode & 0xf] : NULL;
	if (!mem && i->op == GH_X86_OP_MOVZX_Gv_Eb)
		return high_byte(i, i->rm) || i->opsize == 2 ? NULL : h_fr_MOVZX_b;
	if (!mem && i->op == GH_X86_OP_MOVSX_Gv_Eb && !high_byte(i, i->rm))
		return i->opsize == 4 ? h_fr4_MOVSX_b : i->opsize == 8 ? h_fr8_MOVSX_b : NULL;
	/* 16-bit stores: the probability tables of the kernel's decompressor */
	if (mem && i->opsize == 2 && i->op == GH_X86_OP_MOV_Ev_Gv)
		return h_fm2_MOV_EG;
	if (i->opsize != 4 && i->opsize != 8)
		return NULL;
	if (i->map == 1 && (i->opcode & 0xf0) == 0x40)
		return fast_cmov_fn[mem][i->opsize == 8][i->opcode & 0xf];
	return fast_rows[i->op].fn[mem][i->opsize == 8];
}
