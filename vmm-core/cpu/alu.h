/*
 * Integer ALU of the software CPU with lazy arithmetic flags (Intel SDM vol. 1
 * 3.4.3 and appendix A, vol. 2 instruction pages); undefined flags follow this host.
 */
#ifndef GH_CPU_ALU_H
#define GH_CPU_ALU_H

#include <stdbool.h>
#include <stdint.h>

/* The six arithmetic status flags, at their RFLAGS positions. */
#define GH_ALU_CF 0x001u
#define GH_ALU_PF 0x004u
#define GH_ALU_AF 0x010u
#define GH_ALU_ZF 0x040u
#define GH_ALU_SF 0x080u
#define GH_ALU_OF 0x800u
#define GH_ALU_FLAGS (GH_ALU_CF | GH_ALU_PF | GH_ALU_AF | GH_ALU_ZF | GH_ALU_SF | GH_ALU_OF)

/* Condition codes, the low nibble of Jcc/SETcc/CMOVcc opcodes. */
enum {
	GH_CC_O, GH_CC_NO, GH_CC_B, GH_CC_AE, GH_CC_E, GH_CC_NE, GH_CC_BE, GH_CC_A,
	GH_CC_S, GH_CC_NS, GH_CC_P, GH_CC_NP, GH_CC_L, GH_CC_GE, GH_CC_LE, GH_CC_G,
};

/* Returned by the dividing operations when the instruction raises #DE. */
#define GH_ALU_DE 1

/*
 * The six flags live in two words so an arithmetic instruction only stores
 * them and pays for a flag when something reads it:
 *
 *  result: the last result sign-extended to 64 bits, so ZF = (result == 0) and
 *          SF = bit 63 for every operand size.
 *  aux:    bit 63 = CF, bit 62 = CF ^ OF, bit 3 = AF. Those are exactly the
 *          carry (or borrow) out of bits n-1, n-2 and 3, so ADD/SUB shift the
 *          carry vector into place instead of computing each flag.
 *          Bits 15:8 and bit 0 are "deltas" XORed into PF's byte and into SF;
 *          they are zero after arithmetic and only let POPF and friends store
 *          combinations no result can produce (ZF=1 with SF=1 or PF=0).
 *
 * Every flag can be derived at any time, so nothing needs to know which
 * instruction set them, and a partial update (INC, BT, ROL) edits aux bits.
 */
struct gh_lazy_flags {
	uint64_t result;
	uint64_t aux;
};

#define GH_LF_CF_SHIFT 63
#define GH_LF_PO_SHIFT 62
#define GH_LF_CO_MASK (3ull << 62)
#define GH_LF_AF_MASK 0x8ull
#define GH_LF_PD_SHIFT 8
#define GH_LF_SD_MASK 0x1ull

/*
 * All operations take their operand size in bits (8, 16, 32 or 64) as a
 * compile-time constant from the handler that calls them, take operands whose
 * bits above that size are ignored, and return results zero-extended from it.
 */
#define GH_ALU_INLINE static inline __attribute__((always_inline))

GH_ALU_INLINE uint64_t gh_alu_mask(unsigned bits)
{
	return bits == 64 ? ~0ull : (1ull << bits) - 1;
}

GH_ALU_INLINE uint64_t gh_alu_sext(uint64_t v, unsigned bits)
{
	switch (bits) {
	case 8:
		return (uint64_t)(int64_t)(int8_t)v;
	case 16:
		return (uint64_t)(int64_t)(int16_t)v;
	case 32:
		return (uint64_t)(int64_t)(int32_t)v;
	default:
		return v;
	}
}

GH_ALU_INLINE unsigned gh_alu_msb(uint64_t v, unsigned bits)
{
	return (v >> (bits - 1)) & 1;
}

/* aux from a carry/borrow vector whose bit i is the carry out of bit i. */
GH_ALU_INLINE uint64_t gh_lf_aux_cv(uint64_t cv, unsigned bits)
{
	if (bits == 64)
		return cv & (GH_LF_CO_MASK | GH_LF_AF_MASK);
	return (cv << (64 - bits)) | (cv & GH_LF_AF_MASK);
}

GH_ALU_INLINE uint64_t gh_lf_aux_bits(unsigned cf, unsigned of, unsigned af)
{
	return ((uint64_t)cf << GH_LF_CF_SHIFT) | ((uint64_t)(cf ^ of) << GH_LF_PO_SHIFT) |
	       ((uint64_t)af << 3);
}

/* ---- flag access ---- */

GH_ALU_INLINE unsigned gh_flags_cf(const struct gh_lazy_flags *lf)
{
	return lf->aux >> 63;
}

GH_ALU_INLINE unsigned gh_flags_of(const struct gh_lazy_flags *lf)
{
	return (lf->aux ^ (lf->aux << 1)) >> 63;
}

GH_ALU_INLINE unsigned gh_flags_zf(const struct gh_lazy_flags *lf)
{
	return lf->result == 0;
}

GH_ALU_INLINE unsigned gh_flags_sf(const struct gh_lazy_flags *lf)
{
	return ((lf->result >> 63) ^ lf->aux) & 1;
}

GH_ALU_INLINE unsigned gh_flags_af(const struct gh_lazy_flags *lf)
{
	return (lf->aux >> 3) & 1;
}

GH_ALU_INLINE unsigned gh_flags_pf(const struct gh_lazy_flags *lf)
{
	return !__builtin_parity((unsigned)((lf->result ^ (lf->aux >> GH_LF_PD_SHIFT)) & 0xff));
}

/* Jcc/SETcc/CMOVcc: evaluates only what condition cc (0-15) needs. */
GH_ALU_INLINE bool gh_flags_cond(const struct gh_lazy_flags *lf, unsigned cc)
{
	unsigned r;

	switch ((cc >> 1) & 7) {
	case 0:
		r = gh_flags_of(lf);
		break;
	case 1:
		r = gh_flags_cf(lf);
		break;
	case 2:
		r = gh_flags_zf(lf);
		break;
	case 3:
		r = gh_flags_cf(lf) | gh_flags_zf(lf);
		break;
	case 4:
		r = gh_flags_sf(lf);
		break;
	case 5:
		r = gh_flags_pf(lf);
		break;
	case 6:
		r = gh_flags_sf(lf) ^ gh_flags_of(lf);
		break;
	default:
		r = gh_flags_zf(lf) | (gh_flags_sf(lf) ^ gh_flags_of(lf));
		break;
	}
	return r ^ (cc & 1);
}

/* RFLAGS with its six arithmetic bits replaced by the lazy ones. */
uint64_t gh_flags_get(const struct gh_lazy_flags *lf, uint64_t rflags);

/* POPF, SAHF, IRET...: the flags in mask (within GH_ALU_FLAGS) take value's bits. */
void gh_flags_set(struct gh_lazy_flags *lf, uint64_t value, uint64_t mask);

/* Changes CF only, keeping OF and the rest. */
GH_ALU_INLINE void gh_flags_set_cf(struct gh_lazy_flags *lf, unsigned cf)
{
	uint64_t flip = (uint64_t)((lf->aux >> 63) ^ cf);

	lf->aux ^= flip * GH_LF_CO_MASK;
}

GH_ALU_INLINE void gh_flags_clc(struct gh_lazy_flags *lf)
{
	gh_flags_set_cf(lf, 0);
}

GH_ALU_INLINE void gh_flags_stc(struct gh_lazy_flags *lf)
{
	gh_flags_set_cf(lf, 1);
}

GH_ALU_INLINE void gh_flags_cmc(struct gh_lazy_flags *lf)
{
	lf->aux ^= GH_LF_CO_MASK;
}

/* ---- add, subtract, logic ---- */

GH_ALU_INLINE uint64_t gh_alu_add_c(struct gh_lazy_flags *lf, uint64_t a, uint64_t b,
				    uint64_t c, unsigned bits)
{
	uint64_t r = a + b + c;

	lf->result = gh_alu_sext(r, bits);
	lf->aux = gh_lf_aux_cv((a & b) | ((a | b) & ~r), bits);
	return r & gh_alu_mask(bits);
}

GH_ALU_INLINE uint64_t gh_alu_sub_c(struct gh_lazy_flags *lf, uint64_t a, uint64_t b,
				    uint64_t c, unsigned bits)
{
	uint64_t r = a - b - c;

	lf->result = gh_alu_sext(r, bits);
	lf->aux = gh_lf_aux_cv((~a & b) | ((~a | b) & r), bits);
	return r & gh_alu_mask(bits);
}

GH_ALU_INLINE uint64_t gh_alu_add(struct gh_lazy_flags *lf, uint64_t a, uint64_t b,
				  unsigned bits)
{
	return gh_alu_add_c(lf, a, b, 0, bits);
}

GH_ALU_INLINE uint64_t gh_alu_adc(struct gh_lazy_flags *lf, uint64_t a, uint64_t b,
				  unsigned bits)
{
	return gh_alu_add_c(lf, a, b, gh_flags_cf(lf), bits);
}

GH_ALU_INLINE uint64_t gh_alu_sub(struct gh_lazy_flags *lf, uint64_t a, uint64_t b,
				  unsigned bits)
{
	return gh_alu_sub_c(lf, a, b, 0, bits);
}

GH_ALU_INLINE uint64_t gh_alu_sbb(struct gh_lazy_flags *lf, uint64_t a, uint64_t b,
				  unsigned bits)
{
	return gh_alu_sub_c(lf, a, b, gh_flags_cf(lf), bits);
}

GH_ALU_INLINE void gh_alu_cmp(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, unsigned bits)
{
	gh_alu_sub_c(lf, a, b, 0, bits);
}

GH_ALU_INLINE uint64_t gh_alu_neg(struct gh_lazy_flags *lf, uint64_t a, unsigned bits)
{
	return gh_alu_sub_c(lf, 0, a, 0, bits);
}

/* AND/OR/XOR/TEST: CF = OF = 0; AF is undefined and this host clears it. */
GH_ALU_INLINE uint64_t gh_alu_logic(struct gh_lazy_flags *lf, uint64_t r, unsigned bits)
{
	lf->result = gh_alu_sext(r, bits);
	lf->aux = 0;
	return r & gh_alu_mask(bits);
}

GH_ALU_INLINE uint64_t gh_alu_and(struct gh_lazy_flags *lf, uint64_t a, uint64_t b,
				  unsigned bits)
{
	return gh_alu_logic(lf, a & b, bits);
}

GH_ALU_INLINE uint64_t gh_alu_or(struct gh_lazy_flags *lf, uint64_t a, uint64_t b,
				 unsigned bits)
{
	return gh_alu_logic(lf, a | b, bits);
}

GH_ALU_INLINE uint64_t gh_alu_xor(struct gh_lazy_flags *lf, uint64_t a, uint64_t b,
				  unsigned bits)
{
	return gh_alu_logic(lf, a ^ b, bits);
}

GH_ALU_INLINE void gh_alu_test(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, unsigned bits)
{
	gh_alu_logic(lf, a & b, bits);
}

GH_ALU_INLINE uint64_t gh_alu_not(uint64_t a, unsigned bits)
{
	return ~a & gh_alu_mask(bits);
}

/*
 * INC/DEC keep CF: the new carry vector supplies OF and AF, then bit 63 is
 * put back and bit 62 corrected so that it still encodes CF ^ OF.
 */
GH_ALU_INLINE void gh_lf_keep_cf(struct gh_lazy_flags *lf, uint64_t aux)
{
	uint64_t d = (aux ^ lf->aux) & (1ull << 63);

	lf->aux = aux ^ d ^ (d >> 1);
}

GH_ALU_INLINE uint64_t gh_alu_inc(struct gh_lazy_flags *lf, uint64_t a, unsigned bits)
{
	uint64_t r = a + 1;

	lf->result = gh_alu_sext(r, bits);
	gh_lf_keep_cf(lf, gh_lf_aux_cv(a & ~r, bits));
	return r & gh_alu_mask(bits);
}

GH_ALU_INLINE uint64_t gh_alu_dec(struct gh_lazy_flags *lf, uint64_t a, unsigned bits)
{
	uint64_t r = a - 1;

	lf->result = gh_alu_sext(r, bits);
	gh_lf_keep_cf(lf, gh_lf_aux_cv(~a & r, bits));
	return r & gh_alu_mask(bits);
}

/* XADD: dst += src, src = old dst, flags as ADD. */
GH_ALU_INLINE void gh_alu_xadd(struct gh_lazy_flags *lf, uint64_t *dst, uint64_t *src,
			       unsigned bits)
{
	uint64_t old = *dst & gh_alu_mask(bits);

	*dst = gh_alu_add(lf, *dst, *src, bits);
	*src = old;
}

/*
 * CMPXCHG's comparison: flags as CMP acc, dst; true when equal, in which
 * case the caller stores the source into dst, else loads dst into acc.
 */
GH_ALU_INLINE bool gh_alu_cmpxchg(struct gh_lazy_flags *lf, uint64_t acc, uint64_t dst,
				  unsigned bits)
{
	gh_alu_sub_c(lf, acc, dst, 0, bits);
	return lf->result == 0;
}

/* ---- shifts and rotates ---- */

/*
 * The count is CL or imm8 as fetched; it is masked to 5 bits (6 for 64-bit
 * operands) and a masked count of 0 changes no flag. The SDM defines OF for
 * a count of 1 only; for larger counts this host computes OF as for the first
 * one-bit step, and so do these functions. One exception they cannot see:
 * ROL/ROR of a register by an immediate count above 1 leaves OF unchanged on
 * this host, so the caller must put the old OF back for that form (exec-alu.c,
 * shift_ib). AF is undefined for shifts; the host clears it.
 */
GH_ALU_INLINE unsigned gh_alu_count(unsigned count, unsigned bits)
{
	return count & (bits == 64 ? 63 : 31);
}

GH_ALU_INLINE uint64_t gh_alu_shift_done(struct gh_lazy_flags *lf, uint64_t r, unsigned cf,
					 unsigned of, unsigned bits)
{
	lf->result = gh_alu_sext(r, bits);
	lf->aux = gh_lf_aux_bits(cf, of, 0);
	return r & gh_alu_mask(bits);
}

GH_ALU_INLINE uint64_t gh_alu_shl(struct gh_lazy_flags *lf, uint64_t a, unsigned count,
				  unsigned bits)
{
	unsigned c = gh_alu_count(count, bits);
	uint64_t am = a & gh_alu_mask(bits);

	if (!c)
		return am;
	/* 8/16-bit counts may exceed the width: bits shifted past it leave CF = 0. */
	return gh_alu_shift_done(lf, am << c, gh_alu_msb(am << (c - 1), bits),
				 gh_alu_msb(am, bits) ^ gh_alu_msb(am, bits - 1), bits);
}

GH_ALU_INLINE uint64_t gh_alu_shr(struct gh_lazy_flags *lf, uint64_t a, unsigned count,
				  unsigned bits)
{
	unsigned c = gh_alu_count(count, bits);
	uint64_t am = a & gh_alu_mask(bits);

	if (!c)
		return am;
	return gh_alu_shift_done(lf, am >> c, (am >> (c - 1)) & 1, gh_alu_msb(am, bits), bits);
}

GH_ALU_INLINE uint64_t gh_alu_sar(struct gh_lazy_flags *lf, uint64_t a, unsigned count,
				  unsigned bits)
{
	unsigned c = gh_alu_count(count, bits);
	int64_t sa = (int64_t)gh_alu_sext(a, bits);

	if (!c)
		return a & gh_alu_mask(bits);
	return gh_alu_shift_done(lf, (uint64_t)(sa >> c), (unsigned)(sa >> (c - 1)) & 1, 0, bits);
}

/* Rotates change CF and OF only; SF, ZF, AF and PF keep their values. */
GH_ALU_INLINE void gh_lf_set_co(struct gh_lazy_flags *lf, unsigned cf, unsigned of)
{
	lf->aux = (lf->aux & ~GH_LF_CO_MASK) | gh_lf_aux_bits(cf, of, 0);
}

GH_ALU_INLINE uint64_t gh_alu_rol(struct gh_lazy_flags *lf, uint64_t a, unsigned count,
				  unsigned bits)
{
	unsigned c = gh_alu_count(count, bits), rc = c & (bits - 1);
	uint64_t am = a & gh_alu_mask(bits), r = am;

	if (!c)
		return am;
	if (rc)
		r = ((am << rc) | (am >> (bits - rc))) & gh_alu_mask(bits);
	gh_lf_set_co(lf, r & 1, gh_alu_msb(am, bits) ^ gh_alu_msb(am, bits - 1));
	return r;
}

GH_ALU_INLINE uint64_t gh_alu_ror(struct gh_lazy_flags *lf, uint64_t a, unsigned count,
				  unsigned bits)
{
	unsigned c = gh_alu_count(count, bits), rc = c & (bits - 1);
	uint64_t am = a & gh_alu_mask(bits), r = am;

	if (!c)
		return am;
	if (rc)
		r = ((am >> rc) | (am << (bits - rc))) & gh_alu_mask(bits);
	gh_lf_set_co(lf, gh_alu_msb(r, bits), (am & 1) ^ gh_alu_msb(am, bits));
	return r;
}

/* RCL/RCR rotate bits+1 bits through CF: 8/16-bit counts are taken mod 9/17. */
uint64_t gh_alu_rcl(struct gh_lazy_flags *lf, uint64_t a, unsigned count, unsigned bits);
uint64_t gh_alu_rcr(struct gh_lazy_flags *lf, uint64_t a, unsigned count, unsigned bits);

/*
 * SHLD/SHRD dst, src, count. A 16-bit count above 16 has an undefined result;
 * this host then shifts the 48-bit dst:src:dst, which we reproduce.
 */
uint64_t gh_alu_shld(struct gh_lazy_flags *lf, uint64_t dst, uint64_t src, unsigned count,
		     unsigned bits);
uint64_t gh_alu_shrd(struct gh_lazy_flags *lf, uint64_t dst, uint64_t src, unsigned count,
		     unsigned bits);

/* ---- multiply and divide ---- */

/*
 * MUL/IMUL set CF = OF when the high half is significant. SF, ZF, AF and PF
 * are undefined: this host sets SF and PF from the low half, clears ZF and AF.
 * The one-operand forms return the low half and store the high half in *hi;
 * gh_alu_imul is also the two- and three-operand IMUL (high half dropped).
 */
uint64_t gh_alu_mul(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t *hi,
		    unsigned bits);
uint64_t gh_alu_imul1(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t *hi,
		      unsigned bits);

/* Inline, unlike gh_alu_imul1: IMUL r, r/m is common in compiled code
 * (array indexing, hashing, the kernel's decompressor), and a constant
 * size lets the compiler use the host's own multiply of that width. */
GH_ALU_INLINE uint64_t gh_alu_imul(struct gh_lazy_flags *lf, uint64_t a, uint64_t b,
				   unsigned bits)
{
	uint64_t lo;
	unsigned ov;

	if (bits == 64) {
		__int128 p = (__int128)(int64_t)a * (int64_t)b;

		lo = (uint64_t)p;
		ov = p != (__int128)(int64_t)lo;
	} else {
		/* the product of two sign-extended 32-bit values fits */
		int64_t p = (int64_t)gh_alu_sext(a, bits) * (int64_t)gh_alu_sext(b, bits);

		lo = (uint64_t)p & gh_alu_mask(bits);
		ov = p != (int64_t)gh_alu_sext(lo, bits);
	}
	/* as gh_alu_imul1: CF = OF = ov, SF and PF from the low half, ZF 0 */
	lf->result = gh_alu_sext(lo, bits) | 0x100;
	lf->aux = gh_lf_aux_bits(ov, ov, 0);
	return lo;
}

/*
 * DIV/IDIV of hi:lo (AH:AL, DX:AX, EDX:EAX, RDX:RAX) by divisor. Returns 0
 * with the quotient and remainder set, or GH_ALU_DE for a zero divisor or a quotient that does
 * not fit (INT_MIN / -1 included), leaving everything untouched. Flags are
 * undefined; see alu.c for what this host does.
 */
int gh_alu_div(struct gh_lazy_flags *lf, uint64_t hi, uint64_t lo, uint64_t divisor,
	       uint64_t *quot, uint64_t *rem, unsigned bits);
int gh_alu_idiv(struct gh_lazy_flags *lf, uint64_t hi, uint64_t lo, uint64_t divisor,
		uint64_t *quot, uint64_t *rem, unsigned bits);

/* ---- bit operations ---- */

/*
 * BT/BTS/BTR/BTC on a register-sized value with the bit offset taken modulo
 * the size (memory forms add the rest of the offset to the address first).
 * Only CF changes; this host leaves the undefined OF, SF, AF and PF alone.
 */
GH_ALU_INLINE uint64_t gh_alu_bt(struct gh_lazy_flags *lf, uint64_t a, uint64_t off,
				 unsigned bits)
{
	uint64_t bit = 1ull << (off & (bits - 1));

	gh_flags_set_cf(lf, (a & bit) != 0);
	return bit;
}

GH_ALU_INLINE uint64_t gh_alu_bts(struct gh_lazy_flags *lf, uint64_t a, uint64_t off,
				  unsigned bits)
{
	return (a | gh_alu_bt(lf, a, off, bits)) & gh_alu_mask(bits);
}

GH_ALU_INLINE uint64_t gh_alu_btr(struct gh_lazy_flags *lf, uint64_t a, uint64_t off,
				  unsigned bits)
{
	return (a & ~gh_alu_bt(lf, a, off, bits)) & gh_alu_mask(bits);
}

GH_ALU_INLINE uint64_t gh_alu_btc(struct gh_lazy_flags *lf, uint64_t a, uint64_t off,
				  unsigned bits)
{
	return (a ^ gh_alu_bt(lf, a, off, bits)) & gh_alu_mask(bits);
}

/*
 * BSF/BSR: ZF = (src == 0). Returns false and leaves *dst alone (the whole
 * 64-bit register, as this host does) when src is 0. The undefined CF, OF, SF
 * and AF are cleared and PF follows the index, as on this host.
 */
bool gh_alu_bsf(struct gh_lazy_flags *lf, uint64_t src, uint64_t *dst, unsigned bits);
bool gh_alu_bsr(struct gh_lazy_flags *lf, uint64_t src, uint64_t *dst, unsigned bits);

/*
 * POPCNT clears all flags but ZF; LZCNT/TZCNT set CF = (src == 0) and
 * ZF = (result == 0), and this host clears their undefined OF, SF, AF, PF.
 */
uint64_t gh_alu_popcnt(struct gh_lazy_flags *lf, uint64_t src, unsigned bits);
uint64_t gh_alu_lzcnt(struct gh_lazy_flags *lf, uint64_t src, unsigned bits);
uint64_t gh_alu_tzcnt(struct gh_lazy_flags *lf, uint64_t src, unsigned bits);

/* BSWAP; the 16-bit form is undefined and this host clears the register's low word. */
static inline uint64_t gh_alu_bswap(uint64_t a, unsigned bits)
{
	switch (bits) {
	case 16:
		return 0;
	case 32:
		return __builtin_bswap32((uint32_t)a);
	default:
		return __builtin_bswap64(a);
	}
}

/* ---- BCD (legacy modes only) ---- */

/*
 * DAA/DAS take AL and return the new AL; AAA/AAS take AX and return the new
 * AX; AAM returns GH_ALU_DE for a zero immediate. Undefined flags (OF of
 * DAA/DAS; OF, SF, ZF, PF of AAA/AAS; OF, AF, CF of AAM/AAD) are computed
 * from AL where they name a result property, else cleared: the host cannot
 * run these in 64-bit mode, so there is nothing to match.
 */
uint8_t gh_alu_daa(struct gh_lazy_flags *lf, uint8_t al);
uint8_t gh_alu_das(struct gh_lazy_flags *lf, uint8_t al);
uint16_t gh_alu_aaa(struct gh_lazy_flags *lf, uint16_t ax);
uint16_t gh_alu_aas(struct gh_lazy_flags *lf, uint16_t ax);
int gh_alu_aam(struct gh_lazy_flags *lf, uint16_t ax, uint8_t imm, uint16_t *out);
uint16_t gh_alu_aad(struct gh_lazy_flags *lf, uint16_t ax, uint8_t imm);

#endif
