/*
 * Out-of-line parts of the software CPU's ALU: flag materialisation, RCL/RCR,
 * SHLD/SHRD, multiply/divide, bit scans and BCD (Intel SDM vol. 2 pseudo-code).
 */
#include "cpu/alu.h"

uint64_t gh_flags_get(const struct gh_lazy_flags *lf, uint64_t rflags)
{
	rflags &= ~(uint64_t)GH_ALU_FLAGS;
	rflags |= gh_flags_cf(lf) ? GH_ALU_CF : 0;
	rflags |= gh_flags_pf(lf) ? GH_ALU_PF : 0;
	rflags |= gh_flags_af(lf) ? GH_ALU_AF : 0;
	rflags |= gh_flags_zf(lf) ? GH_ALU_ZF : 0;
	rflags |= gh_flags_sf(lf) ? GH_ALU_SF : 0;
	rflags |= gh_flags_of(lf) ? GH_ALU_OF : 0;
	return rflags;
}

void gh_flags_set(struct gh_lazy_flags *lf, uint64_t value, uint64_t mask)
{
	uint64_t f;

	mask &= GH_ALU_FLAGS;
	f = (gh_flags_get(lf, 0) & ~mask) | (value & mask);

	/*
	 * A non-zero result with a zero low byte and a clear sign bit reads as
	 * ZF=0 SF=0 PF=1; the deltas then flip SF and PF where f differs.
	 */
	lf->result = (f & GH_ALU_ZF) ? 0 : 0x100;
	lf->aux = gh_lf_aux_bits(!!(f & GH_ALU_CF), !!(f & GH_ALU_OF), !!(f & GH_ALU_AF));
	lf->aux |= (f & GH_ALU_SF) ? GH_LF_SD_MASK : 0;
	lf->aux |= (f & GH_ALU_PF) ? 0 : 1ull << GH_LF_PD_SHIFT;
}

/* Sets every flag from a result and CF/OF/AF, the common tail of the slow ops. */
static void set_all(struct gh_lazy_flags *lf, uint64_t r, unsigned bits, unsigned cf,
		    unsigned of, unsigned af)
{
	lf->result = gh_alu_sext(r, bits);
	lf->aux = gh_lf_aux_bits(cf, of, af);
}

/* As set_all, but ZF reads 0 whatever r is (bit 8 touches neither SF nor PF). */
static void set_all_nz(struct gh_lazy_flags *lf, uint64_t r, unsigned bits, unsigned cf,
		       unsigned of)
{
	lf->result = gh_alu_sext(r, bits) | 0x100;
	lf->aux = gh_lf_aux_bits(cf, of, 0);
}

/* ---- RCL/RCR ---- */

static unsigned rc_count(unsigned count, unsigned bits)
{
	unsigned c = gh_alu_count(count, bits);

	if (bits == 8)
		return c % 9;
	if (bits == 16)
		return c % 17;
	return c;
}

/*
 * A masked count that is a multiple of 9 (17) rotates nothing and leaves every
 * flag, OF included, as it was on this host. OF is that of the first step.
 */
uint64_t gh_alu_rcl(struct gh_lazy_flags *lf, uint64_t a, unsigned count, unsigned bits)
{
	unsigned c = rc_count(count, bits);
	uint64_t am = a & gh_alu_mask(bits);
	unsigned __int128 v, r;

	if (!c)
		return am;
	v = ((unsigned __int128)gh_flags_cf(lf) << bits) | am;
	r = (v << c) | (v >> (bits + 1 - c));
	gh_lf_set_co(lf, (unsigned)(r >> bits) & 1,
		     gh_alu_msb(am, bits) ^ gh_alu_msb(am, bits - 1));
	return (uint64_t)r & gh_alu_mask(bits);
}

uint64_t gh_alu_rcr(struct gh_lazy_flags *lf, uint64_t a, unsigned count, unsigned bits)
{
	unsigned c = rc_count(count, bits);
	uint64_t am = a & gh_alu_mask(bits);
	unsigned cf = gh_flags_cf(lf);
	unsigned __int128 v, r;

	if (!c)
		return am;
	v = ((unsigned __int128)cf << bits) | am;
	r = (v >> c) | (v << (bits + 1 - c));
	gh_lf_set_co(lf, (unsigned)(r >> bits) & 1, gh_alu_msb(am, bits) ^ cf);
	return (uint64_t)r & gh_alu_mask(bits);
}

/* ---- SHLD/SHRD ---- */

/*
 * Both shift a double-width value and keep one half. For 16-bit operands the
 * host behaves as if the value were dst:src:dst (48 bits), which also gives
 * the defined result for counts up to 16. OF is that of the first step,
 * SF/ZF/PF follow the result and AF is cleared, as on this host.
 */
uint64_t gh_alu_shld(struct gh_lazy_flags *lf, uint64_t dst, uint64_t src, unsigned count,
		     unsigned bits)
{
	unsigned c = gh_alu_count(count, bits);
	uint64_t m = gh_alu_mask(bits), d = dst & m, s = src & m;
	unsigned __int128 v;
	unsigned w = bits == 16 ? 48 : 2 * bits;
	uint64_t r;
	unsigned cf;

	if (!c)
		return d;
	v = ((unsigned __int128)d << bits) | s;
	if (bits == 16)
		v = (v << 16) | d;
	r = (uint64_t)((v << c) >> (w - bits)) & m;
	cf = (unsigned)(v >> (w - c)) & 1;
	set_all(lf, r, bits, cf, gh_alu_msb(d, bits) ^ gh_alu_msb(d, bits - 1), 0);
	return r;
}

uint64_t gh_alu_shrd(struct gh_lazy_flags *lf, uint64_t dst, uint64_t src, unsigned count,
		     unsigned bits)
{
	unsigned c = gh_alu_count(count, bits);
	uint64_t m = gh_alu_mask(bits), d = dst & m, s = src & m;
	unsigned __int128 v;
	uint64_t r;
	unsigned cf;

	if (!c)
		return d;
	v = ((unsigned __int128)s << bits) | d;
	if (bits == 16)
		v |= (unsigned __int128)d << 32;
	r = (uint64_t)(v >> c) & m;
	cf = (unsigned)(v >> (c - 1)) & 1;
	set_all(lf, r, bits, cf, (unsigned)(s & 1) ^ gh_alu_msb(d, bits), 0);
	return r;
}

/* ---- multiply and divide ---- */

uint64_t gh_alu_mul(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t *hi,
		    unsigned bits)
{
	uint64_t m = gh_alu_mask(bits), lo;
	unsigned __int128 p = (unsigned __int128)(a & m) * (b & m);

	lo = (uint64_t)p & m;
	*hi = (uint64_t)(p >> bits) & m;
	set_all_nz(lf, lo, bits, *hi != 0, *hi != 0);
	return lo;
}

uint64_t gh_alu_imul1(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t *hi,
		      unsigned bits)
{
	uint64_t m = gh_alu_mask(bits), lo;
	__int128 p = (__int128)(int64_t)gh_alu_sext(a, bits) * (int64_t)gh_alu_sext(b, bits);
	unsigned ov;

	lo = (uint64_t)p & m;
	*hi = (uint64_t)((unsigned __int128)p >> bits) & m;
	ov = p != (__int128)(int64_t)gh_alu_sext(lo, bits);
	set_all_nz(lf, lo, bits, ov, ov);
	return lo;
}

/* DIV/IDIV leave the flags unchanged on this host (they are undefined). */
int gh_alu_div(struct gh_lazy_flags *lf, uint64_t hi, uint64_t lo, uint64_t divisor,
	       uint64_t *quot, uint64_t *rem, unsigned bits)
{
	uint64_t m = gh_alu_mask(bits);
	unsigned __int128 n, q;

	(void)lf;
	divisor &= m;
	if (!divisor)
		return GH_ALU_DE;
	n = ((unsigned __int128)(hi & m) << bits) | (lo & m);
	q = n / divisor;
	if (q > m)
		return GH_ALU_DE;
	*quot = (uint64_t)q;
	*rem = (uint64_t)(n % divisor);
	return 0;
}

int gh_alu_idiv(struct gh_lazy_flags *lf, uint64_t hi, uint64_t lo, uint64_t divisor,
		uint64_t *quot, uint64_t *rem, unsigned bits)
{
	uint64_t m = gh_alu_mask(bits);
	int64_t d = (int64_t)gh_alu_sext(divisor, bits);
	unsigned __int128 un = ((unsigned __int128)(hi & m) << bits) | (lo & m);
	__int128 n, q, qmin, qmax;

	(void)lf;
	if (!d)
		return GH_ALU_DE;
	/* Sign-extend the 2*bits-wide dividend to 128 bits without overflow. */
	if (bits == 64)
		n = (__int128)un;
	else
		n = (__int128)(un << (128 - 2 * bits)) >> (128 - 2 * bits);
	/* The only quotient C cannot compute: INT128_MIN / -1, far out of range. */
	if (d == -1 && bits == 64 && un == (unsigned __int128)1 << 127)
		return GH_ALU_DE;
	q = n / d;
	qmax = (__int128)(m >> 1);
	qmin = -qmax - 1;
	if (q > qmax || q < qmin)
		return GH_ALU_DE;
	*quot = (uint64_t)q & m;
	*rem = (uint64_t)(n % d) & m;
	return 0;
}

/* ---- bit scans and counts ---- */

/* A bit-scan result never has bit 8 set, so it can carry ZF = 0 there. */
static void set_scan(struct gh_lazy_flags *lf, uint64_t index)
{
	lf->result = index | 0x100;
	lf->aux = 0;
}

bool gh_alu_bsf(struct gh_lazy_flags *lf, uint64_t src, uint64_t *dst, unsigned bits)
{
	src &= gh_alu_mask(bits);
	if (!src) {
		lf->result = 0;
		lf->aux = 0;
		return false;
	}
	*dst = (uint64_t)__builtin_ctzll(src);
	set_scan(lf, *dst);
	return true;
}

bool gh_alu_bsr(struct gh_lazy_flags *lf, uint64_t src, uint64_t *dst, unsigned bits)
{
	src &= gh_alu_mask(bits);
	if (!src) {
		lf->result = 0;
		lf->aux = 0;
		return false;
	}
	*dst = (uint64_t)(63 - __builtin_clzll(src));
	set_scan(lf, *dst);
	return true;
}

uint64_t gh_alu_popcnt(struct gh_lazy_flags *lf, uint64_t src, unsigned bits)
{
	src &= gh_alu_mask(bits);
	/* ZF from the source, PF forced to 0 through the parity delta. */
	lf->result = src ? 0x100 : 0;
	lf->aux = 1ull << GH_LF_PD_SHIFT;
	return (uint64_t)__builtin_popcountll(src);
}

/* CF from the source, ZF from the count; OF, SF, AF and PF cleared as on this host. */
static void set_count(struct gh_lazy_flags *lf, uint64_t n, unsigned cf)
{
	lf->result = n ? 0x100 : 0;
	lf->aux = gh_lf_aux_bits(cf, 0, 0) | 1ull << GH_LF_PD_SHIFT;
}

uint64_t gh_alu_lzcnt(struct gh_lazy_flags *lf, uint64_t src, unsigned bits)
{
	uint64_t n;

	src &= gh_alu_mask(bits);
	n = src ? (uint64_t)(__builtin_clzll(src) - (64 - bits)) : bits;
	set_count(lf, n, !src);
	return n;
}

uint64_t gh_alu_tzcnt(struct gh_lazy_flags *lf, uint64_t src, unsigned bits)
{
	uint64_t n;

	src &= gh_alu_mask(bits);
	n = src ? (uint64_t)__builtin_ctzll(src) : bits;
	set_count(lf, n, !src);
	return n;
}

/* ---- BCD ---- */

uint8_t gh_alu_daa(struct gh_lazy_flags *lf, uint8_t al)
{
	unsigned old_al = al, old_cf = gh_flags_cf(lf), cf = 0, af = 0;
	unsigned v = al;

	if ((v & 0xf) > 9 || gh_flags_af(lf)) {
		cf = old_cf | ((v + 6) > 0xff);
		v = (v + 6) & 0xff;
		af = 1;
	}
	if (old_al > 0x99 || old_cf) {
		v = (v + 0x60) & 0xff;
		cf = 1;
	} else {
		cf = 0;
	}
	set_all(lf, v, 8, cf, 0, af);
	return (uint8_t)v;
}

uint8_t gh_alu_das(struct gh_lazy_flags *lf, uint8_t al)
{
	unsigned old_al = al, old_cf = gh_flags_cf(lf), cf = 0, af = 0;
	unsigned v = al;

	if ((v & 0xf) > 9 || gh_flags_af(lf)) {
		cf = old_cf | (v < 6);
		v = (v - 6) & 0xff;
		af = 1;
	}
	if (old_al > 0x99 || old_cf) {
		v = (v - 0x60) & 0xff;
		cf = 1;
	}
	set_all(lf, v, 8, cf, 0, af);
	return (uint8_t)v;
}

uint16_t gh_alu_aaa(struct gh_lazy_flags *lf, uint16_t ax)
{
	unsigned v = ax, adj = (v & 0xf) > 9 || gh_flags_af(lf);

	if (adj)
		v = (v + 0x106) & 0xffff;
	v &= 0xff0f;
	set_all(lf, v & 0xff, 8, adj, 0, adj);
	return (uint16_t)v;
}

uint16_t gh_alu_aas(struct gh_lazy_flags *lf, uint16_t ax)
{
	unsigned v = ax, adj = (v & 0xf) > 9 || gh_flags_af(lf);

	if (adj) {
		v = (v - 6) & 0xffff;
		v = (v - 0x100) & 0xffff;
	}
	v &= 0xff0f;
	set_all(lf, v & 0xff, 8, adj, 0, adj);
	return (uint16_t)v;
}

int gh_alu_aam(struct gh_lazy_flags *lf, uint16_t ax, uint8_t imm, uint16_t *out)
{
	unsigned al = ax & 0xff;

	if (!imm)
		return GH_ALU_DE;
	*out = (uint16_t)(((al / imm) << 8) | (al % imm));
	set_all(lf, al % imm, 8, 0, 0, 0);
	return 0;
}

uint16_t gh_alu_aad(struct gh_lazy_flags *lf, uint16_t ax, uint8_t imm)
{
	unsigned al = ((ax & 0xff) + (ax >> 8) * imm) & 0xff;

	set_all(lf, al, 8, 0, 0, 0);
	return (uint16_t)al;
}
