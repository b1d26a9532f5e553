/*
 * Differential tests of the software CPU's ALU (cpu/alu.h) against the x86-64
 * host: every operation and size runs natively and through the ALU on the
 * same random operands and flags, and results and all six flags must agree.
 */
#include "cpu/alu.h"

#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

#define SEED 0x9e3779b97f4a7c15ull
#define CASES 20000
#define ARITH 0x8d5ull

/* ---- native execution ---- */

/*
 * The 128-byte step over the red zone keeps push/pushf from overwriting
 * locals the compiler may hold below %rsp.
 */
#define PRE "sub $128, %%rsp\n\tpush %[fl]\n\tpopf\n\t"
#define POST "\n\tpushf\n\tpop %[fl]\n\tadd $128, %%rsp"

typedef uint64_t (*native_fn)(uint64_t a, uint64_t b, uint64_t c, uint64_t *o2, uint64_t *fl);

/* op b, a */
#define N_BIN1(op, n, m)                                                                  \
	static uint64_t n_##op##n(uint64_t a, uint64_t b, uint64_t c, uint64_t *o2,       \
				  uint64_t *fl)                                            \
	{                                                                                 \
		(void)c;                                                                  \
		(void)o2;                                                                 \
		asm volatile(PRE #op " %" #m "[b], %" #m "[a]" POST                      \
			     : [a] "+r"(a), [fl] "+r"(*fl)                                \
			     : [b] "r"(b)                                                 \
			     : "cc", "memory");                                           \
		return a;                                                                 \
	}
/* op a */
#define N_UN1(op, n, m)                                                                   \
	static uint64_t n_##op##n(uint64_t a, uint64_t b, uint64_t c, uint64_t *o2,       \
				  uint64_t *fl)                                            \
	{                                                                                 \
		(void)b;                                                                  \
		(void)c;                                                                  \
		(void)o2;                                                                 \
		asm volatile(PRE #op " %" #m "[a]" POST                                   \
			     : [a] "+r"(a), [fl] "+r"(*fl)                                \
			     :                                                            \
			     : "cc", "memory");                                           \
		return a;                                                                 \
	}
/* op %cl, a */
#define N_SH1(op, n, m)                                                                   \
	static uint64_t n_##op##n(uint64_t a, uint64_t b, uint64_t c, uint64_t *o2,       \
				  uint64_t *fl)                                            \
	{                                                                                 \
		(void)c;                                                                  \
		(void)o2;                                                                 \
		asm volatile(PRE #op " %%cl, %" #m "[a]" POST                             \
			     : [a] "+r"(a), [fl] "+r"(*fl)                                \
			     : [b] "c"(b)                                                 \
			     : "cc", "memory");                                           \
		return a;                                                                 \
	}
/* op %cl, b, a (SHLD/SHRD: a = dst, b = src, c = count) */
#define N_DSH1(op, n, m)                                                                  \
	static uint64_t n_##op##n(uint64_t a, uint64_t b, uint64_t c, uint64_t *o2,       \
				  uint64_t *fl)                                            \
	{                                                                                 \
		(void)o2;                                                                 \
		asm volatile(PRE #op " %%cl, %" #m "[b], %" #m "[a]" POST                \
			     : [a] "+r"(a), [fl] "+r"(*fl)                                \
			     : [b] "r"(b), [c] "c"(c)                                     \
			     : "cc", "memory");                                           \
		return a;                                                                 \
	}
/* XADD b, a: a = dst, b = src (old dst comes back in *o2) */
#define N_XADD1(op, n, m)                                                                 \
	static uint64_t n_##op##n(uint64_t a, uint64_t b, uint64_t c, uint64_t *o2,       \
				  uint64_t *fl)                                            \
	{                                                                                 \
		(void)c;                                                                  \
		asm volatile(PRE "xadd %" #m "[b], %" #m "[a]" POST                       \
			     : [a] "+r"(a), [b] "+r"(b), [fl] "+r"(*fl)                   \
			     :                                                            \
			     : "cc", "memory");                                           \
		*o2 = b;                                                                  \
		return a;                                                                 \
	}
/* CMPXCHG b, a with the accumulator c (new accumulator in *o2) */
#define N_CX1(op, n, m)                                                                   \
	static uint64_t n_##op##n(uint64_t a, uint64_t b, uint64_t c, uint64_t *o2,       \
				  uint64_t *fl)                                            \
	{                                                                                 \
		asm volatile(PRE "cmpxchg %" #m "[b], %" #m "[a]" POST                    \
			     : [a] "+r"(a), "+a"(c), [fl] "+r"(*fl)                       \
			     : [b] "r"(b)                                                 \
			     : "cc", "memory");                                           \
		*o2 = c;                                                                  \
		return a;                                                                 \
	}
/* MUL/IMUL b with the accumulator a: low half returned, high half in *o2 */
#define N_MUL1(op, n, m)                                                                  \
	static uint64_t n_##op##n(uint64_t a, uint64_t b, uint64_t c, uint64_t *o2,       \
				  uint64_t *fl)                                            \
	{                                                                                 \
		uint64_t d = 0;                                                           \
		(void)c;                                                                  \
		asm volatile(PRE #op " %" #m "[b]" POST                                   \
			     : "+a"(a), "+d"(d), [fl] "+r"(*fl)                           \
			     : [b] "r"(b)                                                 \
			     : "cc", "memory");                                           \
		if (n == 8)                                                               \
			d = a >> 8;                                                       \
		*o2 = d;                                                                  \
		return a;                                                                 \
	}
/* DIV/IDIV of c:a by b: quotient returned, remainder in *o2 */
#define N_DIV1(op, n, m)                                                                  \
	static uint64_t n_##op##n(uint64_t a, uint64_t b, uint64_t c, uint64_t *o2,       \
				  uint64_t *fl)                                            \
	{                                                                                 \
		if (n == 8)                                                               \
			a = ((c & 0xff) << 8) | (a & 0xff);                               \
		asm volatile(PRE #op " %" #m "[b]" POST                                   \
			     : "+a"(a), "+d"(c), [fl] "+r"(*fl)                           \
			     : [b] "r"(b)                                                 \
			     : "cc", "memory");                                           \
		if (n == 8)                                                               \
			c = a >> 8;                                                       \
		*o2 = c;                                                                  \
		return a;                                                                 \
	}

/* IMUL b, a (two-operand form; the same ALU entry serves the three-operand one) */
#define N_IMUL2(op, n, m)                                                                 \
	static uint64_t n_##op##n(uint64_t a, uint64_t b, uint64_t c, uint64_t *o2,       \
				  uint64_t *fl)                                            \
	{                                                                                 \
		(void)c;                                                                  \
		(void)o2;                                                                 \
		asm volatile(PRE "imul %" #m "[b], %" #m "[a]" POST                       \
			     : [a] "+r"(a), [fl] "+r"(*fl)                                \
			     : [b] "r"(b)                                                 \
			     : "cc", "memory");                                           \
		return a;                                                                 \
	}

#define ALL4(gen, op) gen(op, 8, b) gen(op, 16, w) gen(op, 32, k) gen(op, 64, q)
#define BIG3(gen, op) gen(op, 16, w) gen(op, 32, k) gen(op, 64, q)

ALL4(N_BIN1, add)
ALL4(N_BIN1, adc)
ALL4(N_BIN1, sub)
ALL4(N_BIN1, sbb)
ALL4(N_BIN1, cmp)
ALL4(N_BIN1, and)
ALL4(N_BIN1, or)
ALL4(N_BIN1, xor)
ALL4(N_BIN1, test)
ALL4(N_UN1, neg)
ALL4(N_UN1, not)
ALL4(N_UN1, inc)
ALL4(N_UN1, dec)
ALL4(N_SH1, shl)
ALL4(N_SH1, shr)
ALL4(N_SH1, sar)
ALL4(N_SH1, rol)
ALL4(N_SH1, ror)
ALL4(N_SH1, rcl)
ALL4(N_SH1, rcr)
BIG3(N_DSH1, shld)
BIG3(N_DSH1, shrd)
ALL4(N_MUL1, mul)
ALL4(N_MUL1, imul)
BIG3(N_IMUL2, imul2)
ALL4(N_DIV1, div)
ALL4(N_DIV1, idiv)
BIG3(N_BIN1, bt)
BIG3(N_BIN1, bts)
BIG3(N_BIN1, btr)
BIG3(N_BIN1, btc)
BIG3(N_BIN1, bsf)
BIG3(N_BIN1, bsr)
BIG3(N_BIN1, popcnt)
BIG3(N_BIN1, lzcnt)
BIG3(N_BIN1, tzcnt)
ALL4(N_XADD1, xadd)
ALL4(N_CX1, cmpxchg)

/* The assembler refuses the undefined 16-bit BSWAP, so it is spelled out. */
static uint64_t n_bswap16(uint64_t a, uint64_t b, uint64_t c, uint64_t *o2, uint64_t *fl)
{
	(void)b, (void)c, (void)o2;
	asm volatile(PRE ".byte 0x66\n\tbswap %k[a]" POST
		     : [a] "+r"(a), [fl] "+r"(*fl) : : "cc", "memory");
	return a;
}
N_UN1(bswap, 32, k)
N_UN1(bswap, 64, q)

/* ---- the same through the ALU ---- */

typedef uint64_t (*alu_fn)(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c,
			   uint64_t *o2, unsigned bits);

#define A_BIN(op)                                                                          \
	static uint64_t a_##op(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c, \
			       uint64_t *o2, unsigned bits)                                  \
	{                                                                                  \
		(void)c, (void)o2;                                                         \
		return gh_alu_##op(lf, a, b, bits);                                        \
	}
#define A_UN(op)                                                                           \
	static uint64_t a_##op(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c, \
			       uint64_t *o2, unsigned bits)                                  \
	{                                                                                  \
		(void)b, (void)c, (void)o2;                                                \
		return gh_alu_##op(lf, a, bits);                                           \
	}
/* op src, dst where only src is read */
#define A_SRC(op)                                                                          \
	static uint64_t a_##op(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c, \
			       uint64_t *o2, unsigned bits)                                  \
	{                                                                                  \
		(void)a, (void)c, (void)o2;                                                \
		return gh_alu_##op(lf, b, bits);                                           \
	}

A_BIN(add)
A_BIN(adc)
A_BIN(sub)
A_BIN(sbb)
A_BIN(and)
A_BIN(or)
A_BIN(xor)
A_BIN(shl)
A_BIN(shr)
A_BIN(sar)
A_BIN(rol)
A_BIN(ror)
A_BIN(rcl)
A_BIN(rcr)
A_BIN(imul)
A_BIN(bts)
A_BIN(btr)
A_BIN(btc)
A_SRC(popcnt)
A_SRC(lzcnt)
A_SRC(tzcnt)
A_UN(neg)
A_UN(inc)
A_UN(dec)

/* Operations whose register result is the unchanged destination. */
static uint64_t a_cmp(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c,
		      uint64_t *o2, unsigned bits)
{
	(void)c, (void)o2;
	gh_alu_cmp(lf, a, b, bits);
	return a;
}

static uint64_t a_test(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c,
		       uint64_t *o2, unsigned bits)
{
	(void)c, (void)o2;
	gh_alu_test(lf, a, b, bits);
	return a;
}

static uint64_t a_bt(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c,
		     uint64_t *o2, unsigned bits)
{
	(void)c, (void)o2;
	gh_alu_bt(lf, a, b, bits);
	return a;
}

static uint64_t a_not(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c,
		      uint64_t *o2, unsigned bits)
{
	(void)lf, (void)b, (void)c, (void)o2;
	return gh_alu_not(a, bits);
}

static uint64_t a_bswap(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c,
			uint64_t *o2, unsigned bits)
{
	(void)lf, (void)b, (void)c, (void)o2;
	return gh_alu_bswap(a, bits);
}

static uint64_t a_shld(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c,
		       uint64_t *o2, unsigned bits)
{
	(void)o2;
	return gh_alu_shld(lf, a, b, (unsigned)c, bits);
}

static uint64_t a_shrd(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c,
		       uint64_t *o2, unsigned bits)
{
	(void)o2;
	return gh_alu_shrd(lf, a, b, (unsigned)c, bits);
}

static uint64_t a_mul(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c,
		      uint64_t *o2, unsigned bits)
{
	(void)c;
	return gh_alu_mul(lf, a, b, o2, bits);
}

static uint64_t a_imul1(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c,
			uint64_t *o2, unsigned bits)
{
	(void)c;
	return gh_alu_imul1(lf, a, b, o2, bits);
}

/* A register write as the interpreter does it: 16-bit merges, 32-bit zero-extends. */
static uint64_t reg_write(uint64_t old, uint64_t v, unsigned bits)
{
	return bits == 16 ? (old & ~0xffffull) | v : v;
}

/* Returns the whole destination register: untouched when src is 0. */
static uint64_t a_bsf(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c,
		      uint64_t *o2, unsigned bits)
{
	uint64_t idx;

	(void)c, (void)o2;
	return gh_alu_bsf(lf, b, &idx, bits) ? reg_write(a, idx, bits) : a;
}

static uint64_t a_bsr(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c,
		      uint64_t *o2, unsigned bits)
{
	uint64_t idx;

	(void)c, (void)o2;
	return gh_alu_bsr(lf, b, &idx, bits) ? reg_write(a, idx, bits) : a;
}

static uint64_t a_xadd(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c,
		       uint64_t *o2, unsigned bits)
{
	(void)c;
	gh_alu_xadd(lf, &a, &b, bits);
	*o2 = b;
	return a;
}

static uint64_t a_cmpxchg(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c,
			  uint64_t *o2, unsigned bits)
{
	if (gh_alu_cmpxchg(lf, c, a, bits)) {
		*o2 = c;
		return b;
	}
	*o2 = a;
	return a;
}

/* Division: the ALU's #DE comes back as an unlikely quotient and remainder. */
#define DE_MARK 0xdeadbeefcafef00dull

static uint64_t a_div(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c,
		      uint64_t *o2, unsigned bits)
{
	uint64_t q = 0;

	if (gh_alu_div(lf, c, a, b, &q, o2, bits) == GH_ALU_DE) {
		*o2 = DE_MARK;
		return DE_MARK;
	}
	return q;
}

static uint64_t a_idiv(struct gh_lazy_flags *lf, uint64_t a, uint64_t b, uint64_t c,
		       uint64_t *o2, unsigned bits)
{
	uint64_t q = 0;

	if (gh_alu_idiv(lf, c, a, b, &q, o2, bits) == GH_ALU_DE) {
		*o2 = DE_MARK;
		return DE_MARK;
	}
	return q;
}

/* ---- the table ---- */

enum {
	K_COUNT = 1,	/* b is a shift count 0..255 */
	K_C_COUNT = 2,	/* c is a shift count 0..255 */
	K_O2 = 4,	/* *o2 is a result too */
	K_DIV = 8,	/* may raise #DE */
	K_NOFLAGS = 16,	/* leaves every flag alone: checked as such */
	K_FULL = 32,	/* compare the whole 64-bit register (BSF/BSR keep it) */
	K_IMM8 = 64,	/* the ALU's 8-bit form only: a, b tested in full */
};

struct op {
	const char *name;
	unsigned bits;
	native_fn native;
	alu_fn alu;
	unsigned kind;
};

#define E(nm, n, fn, k) { #nm, n, n_##nm##n, a_##fn, k }
#define OP4(nm, fn, k) E(nm, 8, fn, k), E(nm, 16, fn, k), E(nm, 32, fn, k), E(nm, 64, fn, k)
#define OP3(nm, fn, k) E(nm, 16, fn, k), E(nm, 32, fn, k), E(nm, 64, fn, k)

static const struct op ops[] = {
	OP4(add, add, 0), OP4(adc, adc, 0), OP4(sub, sub, 0), OP4(sbb, sbb, 0),
	OP4(cmp, cmp, 0), OP4(and, and, 0), OP4(or, or, 0), OP4(xor, xor, 0),
	OP4(test, test, 0), OP4(neg, neg, 0), OP4(not, not, K_NOFLAGS),
	OP4(inc, inc, 0), OP4(dec, dec, 0),
	OP4(shl, shl, K_COUNT), OP4(shr, shr, K_COUNT), OP4(sar, sar, K_COUNT),
	OP4(rol, rol, K_COUNT), OP4(ror, ror, K_COUNT), OP4(rcl, rcl, K_COUNT),
	OP4(rcr, rcr, K_COUNT),
	OP3(shld, shld, K_C_COUNT), OP3(shrd, shrd, K_C_COUNT),
	OP4(mul, mul, K_O2), OP4(imul, imul1, K_O2),
	OP3(imul2, imul, 0),
	OP4(div, div, K_O2 | K_DIV), OP4(idiv, idiv, K_O2 | K_DIV),
	OP3(bt, bt, 0), OP3(bts, bts, 0), OP3(btr, btr, 0), OP3(btc, btc, 0),
	OP3(bsf, bsf, K_FULL), OP3(bsr, bsr, K_FULL),
	OP3(popcnt, popcnt, 0), OP3(lzcnt, lzcnt, 0), OP3(tzcnt, tzcnt, 0),
	OP4(xadd, xadd, K_O2), OP4(cmpxchg, cmpxchg, K_O2),
	OP3(bswap, bswap, K_NOFLAGS),
};

/* ---- operands ---- */

struct rng {
	GRand *r;
};

static uint64_t r64(struct rng *g)
{
	return ((uint64_t)g_rand_int(g->r) << 32) | g_rand_int(g->r);
}

/* Edge values in the operand's own size, or random bits, or small numbers. */
static uint64_t operand(struct rng *g, unsigned bits)
{
	uint64_t m = bits == 64 ? ~0ull : (1ull << bits) - 1, sign = 1ull << (bits - 1);
	uint64_t junk = r64(g) & ~m;	/* bits above the size must not matter */

	switch (g_rand_int_range(g->r, 0, 16)) {
	case 0:
		return junk;
	case 1:
		return junk | 1;
	case 2:
		return junk | m;
	case 3:
		return junk | (sign - 1);
	case 4:
		return junk | sign;
	case 5:
		return junk | (sign + 1);
	case 6:
		return junk | (m - 1);
	case 7:
		return junk | (uint64_t)g_rand_int_range(g->r, 0, 32);
	case 8:
		return junk | (m & (0 - (uint64_t)g_rand_int_range(g->r, 1, 32)));
	case 9:
		return junk | (r64(g) & m & 0xf0f);
	default:
		return r64(g);
	}
}

static const char *flagstr(uint64_t f, char *buf)
{
	static const struct {
		uint64_t bit;
		char c;
	} names[] = {
		{ GH_ALU_OF, 'O' }, { GH_ALU_SF, 'S' }, { GH_ALU_ZF, 'Z' },
		{ GH_ALU_AF, 'A' }, { GH_ALU_PF, 'P' }, { GH_ALU_CF, 'C' },
	};

	for (unsigned i = 0; i < G_N_ELEMENTS(names); i++)
		buf[i] = (f & names[i].bit) ? names[i].c : '-';
	buf[6] = 0;
	return buf;
}

/*
 * A #DE from the native division comes back as SIGFPE; the handler can only
 * reach the test through a static jump buffer.
 */
static sigjmp_buf fpe_env;

static void on_fpe(int sig)
{
	(void)sig;
	siglongjmp(fpe_env, 1);
}

static bool run_native(const struct op *op, uint64_t a, uint64_t b, uint64_t c,
		       uint64_t *res, uint64_t *o2, uint64_t *fl)
{
	if (op->kind & K_DIV) {
		if (sigsetjmp(fpe_env, 1))
			return false;
	}
	*res = op->native(a, b, c, o2, fl);
	return true;
}

/*
 * The flags going in: half the time set by POPF/gh_flags_set (any combination),
 * half the time left by an ADD or SUB of random operands, so the operation
 * under test also starts from the lazy state arithmetic leaves.
 */
static void initial_flags(struct rng *g, struct gh_lazy_flags *lf, uint64_t *fl)
{
	uint64_t p = operand(g, 64), q = operand(g, 64), nf, got;
	unsigned bits = 8u << g_rand_int_range(g->r, 0, 4);
	char x[8], y[8];

	*fl = 0x202 | (r64(g) & ARITH);
	if (g_rand_boolean(g->r)) {
		gh_flags_set(lf, r64(g), GH_ALU_FLAGS);
		gh_flags_set(lf, *fl, GH_ALU_FLAGS);
		g_assert_cmphex(gh_flags_get(lf, 0x202), ==, *fl);
		return;
	}
	nf = *fl;
	if (g_rand_boolean(g->r)) {
		switch (bits) {
		case 8: n_add8(p, q, 0, NULL, &nf); break;
		case 16: n_add16(p, q, 0, NULL, &nf); break;
		case 32: n_add32(p, q, 0, NULL, &nf); break;
		default: n_add64(p, q, 0, NULL, &nf); break;
		}
		gh_alu_add(lf, p, q, bits);
	} else {
		switch (bits) {
		case 8: n_sub8(p, q, 0, NULL, &nf); break;
		case 16: n_sub16(p, q, 0, NULL, &nf); break;
		case 32: n_sub32(p, q, 0, NULL, &nf); break;
		default: n_sub64(p, q, 0, NULL, &nf); break;
		}
		gh_alu_sub(lf, p, q, bits);
	}
	got = gh_flags_get(lf, 0x202);
	if ((got & ARITH) != (nf & ARITH))
		g_error("seed %#llx: add/sub%u %#" G_GINT64_MODIFIER "x, %#" G_GINT64_MODIFIER
			"x: host %s alu %s", SEED, bits, p, q, flagstr(nf, x), flagstr(got, y));
	*fl = nf;
}

static void check_op(gconstpointer data)
{
	const struct op *op = data;
	uint64_t m = op->bits == 64 ? ~0ull : (1ull << op->bits) - 1;
	struct rng g = { g_rand_new_with_seed((guint32)(SEED ^ op->bits ^ g_str_hash(op->name))) };
	struct sigaction sa = { .sa_handler = on_fpe }, old;
	unsigned des = 0, fails = 0;

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGFPE, &sa, &old);
	for (unsigned i = 0; i < CASES; i++) {
		struct gh_lazy_flags lf;
		uint64_t a = operand(&g, op->bits), b = operand(&g, op->bits);
		uint64_t c = operand(&g, op->bits);
		uint64_t fl, fl_in, nres = 0, no2 = 0, ares, ao2 = 0, af, cmpm = m;
		bool ok;
		char x[8], y[8], z[8];

		if (op->kind & K_COUNT)
			b = i < 256 ? i : (uint64_t)g_rand_int_range(g.r, 0, 256);
		if (op->kind & K_C_COUNT)
			c = i < 256 ? i : (uint64_t)g_rand_int_range(g.r, 0, 256);
		if (op->kind & K_FULL)
			cmpm = ~0ull;
		if ((op->kind & K_DIV) && (i & 3) == 0)
			c = (a >> 63) ? m : 0;	/* sign-extended dividends fit more often */
		initial_flags(&g, &lf, &fl);
		fl_in = fl;
		ok = run_native(op, a, b, c, &nres, &no2, &fl);
		ares = op->alu(&lf, a, b, c, &ao2, op->bits);
		af = gh_flags_get(&lf, 0x202);
		if (op->kind & K_DIV) {
			if (!ok || ares == DE_MARK) {
				des++;
				if (ok != (ares != DE_MARK) || ao2 != DE_MARK)
					g_error("seed %#llx %s%u a=%#" G_GINT64_MODIFIER "x b=%#"
						G_GINT64_MODIFIER "x c=%#" G_GINT64_MODIFIER
						"x: host #DE %d, alu #DE %d", SEED, op->name,
						op->bits, a, b, c, !ok, ares == DE_MARK);
				continue;
			}
		}
		if ((nres & cmpm) != (ares & cmpm) ||
		    ((op->kind & K_O2) && ((no2 ^ ao2) & m)) ||
		    (fl & ARITH) != (af & ARITH) ||
		    ((op->kind & K_NOFLAGS) && (fl_in & ARITH) != (fl & ARITH))) {
			g_test_message("seed %#llx case %u: %s%u a=%#" G_GINT64_MODIFIER "x b=%#"
				       G_GINT64_MODIFIER "x c=%#" G_GINT64_MODIFIER "x flags in %s: "
				       "host %#" G_GINT64_MODIFIER "x/%#" G_GINT64_MODIFIER "x %s, "
				       "alu %#" G_GINT64_MODIFIER "x/%#" G_GINT64_MODIFIER "x %s",
				       SEED, i, op->name, op->bits, a, b, c, flagstr(fl_in, z),
				       nres & cmpm, no2 & m, flagstr(fl, x), ares & cmpm, ao2 & m,
				       flagstr(af, y));
			if (++fails >= 10)
				break;
		}
	}
	sigaction(SIGFPE, &old, NULL);
	g_rand_free(g.r);
	if (op->kind & K_DIV)
		g_assert_cmpuint(des, >, 0);
	if (fails)
		g_test_fail();
}

/* ---- conditions ---- */

/* Jcc's conditions from RFLAGS as the SDM's table states them. */
static bool cond_from_flags(uint64_t f, unsigned cc)
{
	bool cf = f & GH_ALU_CF, zf = f & GH_ALU_ZF, sf = f & GH_ALU_SF;
	bool of = f & GH_ALU_OF, pf = f & GH_ALU_PF, r;

	switch (cc >> 1) {
	case 0: r = of; break;
	case 1: r = cf; break;
	case 2: r = zf; break;
	case 3: r = cf || zf; break;
	case 4: r = sf; break;
	case 5: r = pf; break;
	case 6: r = sf != of; break;
	default: r = zf || sf != of; break;
	}
	return r ^ (cc & 1);
}

static bool native_cond(uint64_t fl, unsigned cc)
{
	uint64_t r = 0;

#define CC(n, mn)                                                                          \
	case n:                                                                            \
		asm volatile(PRE "set" mn " %b[r]" POST                                    \
			     : [r] "+r"(r), [fl] "+r"(fl) : : "cc", "memory");             \
		break;
	switch (cc) {
	CC(0, "o") CC(1, "no") CC(2, "b") CC(3, "ae") CC(4, "e") CC(5, "ne") CC(6, "be")
	CC(7, "a") CC(8, "s") CC(9, "ns") CC(10, "p") CC(11, "np") CC(12, "l")
	CC(13, "ge") CC(14, "le") CC(15, "g")
	}
#undef CC
	return r & 1;
}

/* Every flag combination: set/get round trip, conditions against SETcc on the host. */
static void test_flags_set_get(void)
{
	for (unsigned v = 0; v < 64; v++) {
		uint64_t f = 0x202;
		struct gh_lazy_flags lf;

		f |= (v & 1) ? GH_ALU_CF : 0;
		f |= (v & 2) ? GH_ALU_PF : 0;
		f |= (v & 4) ? GH_ALU_AF : 0;
		f |= (v & 8) ? GH_ALU_ZF : 0;
		f |= (v & 16) ? GH_ALU_SF : 0;
		f |= (v & 32) ? GH_ALU_OF : 0;
		gh_flags_set(&lf, f | 0xfffff000ull, GH_ALU_FLAGS | 0xfff000ull);
		/* bits outside the six stay the caller's */
		g_assert_cmphex(gh_flags_get(&lf, 0x246 | 0x400), ==,
				(f & GH_ALU_FLAGS) | 0x602);
		for (unsigned cc = 0; cc < 16; cc++) {
			g_assert_cmpint(cond_from_flags(f, cc), ==, native_cond(f, cc));
			g_assert_cmpint(gh_flags_cond(&lf, cc), ==, native_cond(f, cc));
		}
		/* SAHF-style partial writes leave OF alone. */
		gh_flags_set(&lf, ~f, GH_ALU_FLAGS & ~GH_ALU_OF);
		g_assert_cmphex(gh_flags_get(&lf, 0x202), ==,
				0x202 | (~f & (GH_ALU_FLAGS & ~GH_ALU_OF)) | (f & GH_ALU_OF));
		/* CLC/STC/CMC change CF only. */
		gh_flags_set(&lf, f, GH_ALU_FLAGS);
		gh_flags_cmc(&lf);
		g_assert_cmphex(gh_flags_get(&lf, 0x202), ==, f ^ GH_ALU_CF);
		gh_flags_stc(&lf);
		g_assert_cmphex(gh_flags_get(&lf, 0x202), ==, f | GH_ALU_CF);
		gh_flags_clc(&lf);
		g_assert_cmphex(gh_flags_get(&lf, 0x202), ==, f & ~(uint64_t)GH_ALU_CF);
	}
}

/* Conditions after each kind of lazy state, against the host's SETcc. */
static void test_cond_random(void)
{
	struct rng g = { g_rand_new_with_seed((guint32)SEED) };

	for (unsigned i = 0; i < CASES; i++) {
		const struct op *op = &ops[g_rand_int_range(g.r, 0, G_N_ELEMENTS(ops))];
		uint64_t a = operand(&g, op->bits), b = operand(&g, op->bits), c = 0, o2, fl;
		struct gh_lazy_flags lf;

		if (op->kind & (K_DIV | K_NOFLAGS))
			continue;
		if (op->kind & K_COUNT)
			b &= 0xff;
		c &= 0xff;
		initial_flags(&g, &lf, &fl);
		op->native(a, b, c, &o2, &fl);
		op->alu(&lf, a, b, c, &o2, op->bits);
		for (unsigned cc = 0; cc < 16; cc++) {
			if (gh_flags_cond(&lf, cc) != native_cond(fl, cc))
				g_error("seed %#llx case %u: %s%u a=%#" G_GINT64_MODIFIER "x b=%#"
					G_GINT64_MODIFIER "x: cc %u host %d", SEED, i, op->name,
					op->bits, a, b, cc, native_cond(fl, cc));
		}
	}
	g_rand_free(g.r);
}

/* ---- BCD ---- */

/*
 * DAA/DAS/AAA/AAS/AAM/AAD do not exist in 64-bit mode, so they are checked
 * against a second, deliberately plain reading of the SDM pseudo-code (one
 * adjustment decision per nibble) over all inputs, plus vectors worked out by
 * hand from the SDM's examples.
 */
struct bcd {
	unsigned ax, cf, af, of, sf, zf, pf;
};

static void bcd_result_flags(struct bcd *r)
{
	unsigned al = r->ax & 0xff;

	r->sf = al >> 7;
	r->zf = al == 0;
	r->pf = !__builtin_parity(al);
	r->of = 0;
}

static struct bcd ref_daa(unsigned al, unsigned cf, unsigned af)
{
	bool lo = (al & 0xf) > 9 || af, hi = al > 0x99 || cf;
	struct bcd r = { .ax = (al + (lo ? 0x06 : 0) + (hi ? 0x60 : 0)) & 0xff };

	r.cf = hi;	/* the low step's carry is overwritten by the high decision */
	r.af = lo;
	bcd_result_flags(&r);
	return r;
}

static struct bcd ref_das(unsigned al, unsigned cf, unsigned af)
{
	bool lo = (al & 0xf) > 9 || af, hi = al > 0x99 || cf;
	struct bcd r = { .ax = (al - (lo ? 0x06 : 0) - (hi ? 0x60 : 0)) & 0xff };

	r.cf = hi || (lo && al < 6);
	r.af = lo;
	bcd_result_flags(&r);
	return r;
}

static struct bcd ref_aaa(unsigned ax, unsigned af, bool sub)
{
	bool adj = (ax & 0xf) > 9 || af;
	unsigned al = ax & 0xff, ah = ax >> 8;
	struct bcd r;

	if (adj && !sub) {
		ah = (ah + 1 + (al + 6 > 0xff)) & 0xff;
		al = (al + 6) & 0xff;
	} else if (adj) {
		ah = (ah - 1 - (al < 6)) & 0xff;
		al = (al - 6) & 0xff;
	}
	r.ax = (ah << 8) | (al & 0xf);
	r.cf = r.af = adj;
	bcd_result_flags(&r);
	return r;
}

static void check_bcd(const char *what, unsigned in, struct gh_lazy_flags *lf, unsigned got,
		      const struct bcd *want)
{
	uint64_t f = gh_flags_get(lf, 0), wf = 0;

	wf |= want->cf ? GH_ALU_CF : 0;
	wf |= want->pf ? GH_ALU_PF : 0;
	wf |= want->af ? GH_ALU_AF : 0;
	wf |= want->zf ? GH_ALU_ZF : 0;
	wf |= want->sf ? GH_ALU_SF : 0;
	wf |= want->of ? GH_ALU_OF : 0;
	if (got != want->ax || f != wf)
		g_error("%s %#x: got %#x flags %#" G_GINT64_MODIFIER "x, want %#x flags %#"
			G_GINT64_MODIFIER "x", what, in, got, f, want->ax, wf);
}

static void lf_with(struct gh_lazy_flags *lf, unsigned cf, unsigned af)
{
	gh_flags_set(lf, (cf ? GH_ALU_CF : 0) | (af ? GH_ALU_AF : 0) | GH_ALU_OF | GH_ALU_ZF,
		     GH_ALU_FLAGS);
}

static void test_bcd(void)
{
	struct gh_lazy_flags lf;
	uint16_t out;

	/* Hand-checked: SDM DAA example (79h + 35h = AEh -> 14h, CF=AF=1). */
	lf_with(&lf, 0, 0);
	g_assert_cmphex(gh_alu_daa(&lf, 0xae), ==, 0x14);
	g_assert_cmphex(gh_flags_get(&lf, 0), ==, GH_ALU_CF | GH_ALU_AF | GH_ALU_PF);
	/* SDM DAS example (35h - 47h = EEh, AF=CF=1 -> 88h, S A P C). */
	lf_with(&lf, 1, 1);
	g_assert_cmphex(gh_alu_das(&lf, 0xee), ==, 0x88);
	g_assert_cmphex(gh_flags_get(&lf, 0), ==,
			GH_ALU_SF | GH_ALU_AF | GH_ALU_PF | GH_ALU_CF);
	/* 08h + 09h = 11h with AF: DAA gives 17h. */
	lf_with(&lf, 0, 1);
	g_assert_cmphex(gh_alu_daa(&lf, 0x11), ==, 0x17);
	/* AAA after 0009h + 0006h = 000Fh: AX = 0105h, AF = CF = 1. */
	lf_with(&lf, 0, 0);
	g_assert_cmphex(gh_alu_aaa(&lf, 0x000f), ==, 0x0105);
	g_assert_true(gh_flags_cf(&lf) && gh_flags_af(&lf));
	/* AAS after 0105h - 0009h = 00FCh with AF: AX = FF06h. */
	lf_with(&lf, 1, 1);
	g_assert_cmphex(gh_alu_aas(&lf, 0x00fc), ==, 0xff06);
	/* AAM 10 of 63 = 3Fh: AH = 6, AL = 3; AAD 10 of 0603h: 3Fh. */
	g_assert_cmpint(gh_alu_aam(&lf, 0x123f, 10, &out), ==, 0);
	g_assert_cmphex(out, ==, 0x0603);
	g_assert_cmphex(gh_alu_aad(&lf, 0x0603, 10), ==, 0x003f);
	/* AAM 0 raises #DE and writes nothing. */
	out = 0x5555;
	g_assert_cmpint(gh_alu_aam(&lf, 0x123f, 0, &out), ==, GH_ALU_DE);
	g_assert_cmphex(out, ==, 0x5555);

	for (unsigned v = 0; v < 1024; v++) {
		unsigned al = v & 0xff, cf = (v >> 8) & 1, af = v >> 9;
		struct bcd want;

		lf_with(&lf, cf, af);
		want = ref_daa(al, cf, af);
		check_bcd("daa", v, &lf, gh_alu_daa(&lf, (uint8_t)al), &want);
		lf_with(&lf, cf, af);
		want = ref_das(al, cf, af);
		check_bcd("das", v, &lf, gh_alu_das(&lf, (uint8_t)al), &want);
	}
	for (unsigned v = 0; v < 0x40000; v++) {
		unsigned ax = v & 0xffff, af = (v >> 16) & 1, cf = v >> 17;
		struct bcd want;

		lf_with(&lf, cf, af);
		want = ref_aaa(ax, af, false);
		check_bcd("aaa", v, &lf, gh_alu_aaa(&lf, (uint16_t)ax), &want);
		lf_with(&lf, cf, af);
		want = ref_aaa(ax, af, true);
		check_bcd("aas", v, &lf, gh_alu_aas(&lf, (uint16_t)ax), &want);
	}
	for (unsigned v = 0; v < 0x10000; v++) {
		unsigned al = v & 0xff, imm = v >> 8, ah = (v * 0x9du) >> 8 & 0xff;
		struct bcd want = { 0 };

		if (imm) {
			g_assert_cmpint(gh_alu_aam(&lf, (uint16_t)(ah << 8 | al), (uint8_t)imm,
						   &out), ==, 0);
			want.ax = (al / imm) << 8 | (al % imm);
			bcd_result_flags(&want);
			check_bcd("aam", v, &lf, out, &want);
		}
		want.ax = (al + ah * imm) & 0xff;
		bcd_result_flags(&want);
		check_bcd("aad", v, &lf, gh_alu_aad(&lf, (uint16_t)(ah << 8 | al), (uint8_t)imm),
			  &want);
	}
}

/* ---- division edges, each also run on the host ---- */

static void test_div_edges(void)
{
	static const struct {
		const char *name;
		unsigned bits;
		uint64_t hi, lo, d;
		bool de;
	} v[] = {
		/* INT_MIN / -1 in the dividend's own width: quotient overflow */
		{ "idiv", 8, 0xff, 0x80, 0xff, true },
		{ "idiv", 16, 0xffff, 0x8000, 0xffff, true },
		{ "idiv", 32, 0xffffffff, 0x80000000, 0xffffffff, true },
		{ "idiv", 64, ~0ull, 1ull << 63, ~0ull, true },
		/* the whole double-width INT_MIN / -1 (the case C cannot divide) */
		{ "idiv", 64, 1ull << 63, 0, ~0ull, true },
		{ "idiv", 32, 0x80000000, 0, 0xffffffff, true },
		/* largest quotients that still fit */
		{ "idiv", 64, ~0ull, 1ull << 63, 1, false },
		{ "idiv", 32, 0, 0x7fffffff, 1, false },
		{ "div", 64, 0xfffffffffffffffeull, ~0ull, ~0ull, false },
		{ "div", 8, 0xfe, 0xff, 0xff, false },
		/* one past */
		{ "div", 64, 1, 0, 1, true },
		{ "div", 8, 0xff, 0x00, 0xff, true },
		/* zero divisors, with junk above the operand size */
		{ "div", 16, 0, 5, 0xffff0000, true },
		{ "idiv", 32, 0, 5, 0xffffffff00000000ull, true },
	};

	for (unsigned i = 0; i < G_N_ELEMENTS(v); i++) {
		const struct op *op = NULL;
		struct gh_lazy_flags lf;
		struct sigaction sa = { .sa_handler = on_fpe }, old;
		uint64_t q, r = 0, fl = 0x202, nq = 0, nr = 0;
		bool ok;

		for (unsigned j = 0; j < G_N_ELEMENTS(ops); j++)
			if (!strcmp(ops[j].name, v[i].name) && ops[j].bits == v[i].bits)
				op = &ops[j];
		g_assert_nonnull(op);
		gh_flags_set(&lf, fl, GH_ALU_FLAGS);
		q = op->alu(&lf, v[i].lo, v[i].d, v[i].hi, &r, v[i].bits);
		g_assert_cmpint(q == DE_MARK, ==, v[i].de);
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_NODEFER;
		sigaction(SIGFPE, &sa, &old);
		ok = run_native(op, v[i].lo, v[i].d, v[i].hi, &nq, &nr, &fl);
		sigaction(SIGFPE, &old, NULL);
		g_assert_cmpint(!ok, ==, v[i].de);
		if (ok) {
			uint64_t m = v[i].bits == 64 ? ~0ull : (1ull << v[i].bits) - 1;

			g_assert_cmphex(q, ==, nq & m);
			g_assert_cmphex(r, ==, nr & m);
		}
	}
}

/* ---- speed ---- */

/*
 * What a handler pays: the lazy state lives in memory (the CPU struct), so
 * the barrier makes every iteration store and reload it.
 */
static void test_bench(void)
{
	struct gh_lazy_flags lf = { 0 };
	const uint64_t n = 50 * 1000 * 1000;
	uint64_t x = 1, taken = 0, rx = 1, rtaken = 0;
	gint64 t0, t1, t2, t3;

	t0 = g_get_monotonic_time();
	for (uint64_t i = 0; i < n; i++) {
		x = gh_alu_add(&lf, x, i, 32);
		asm volatile("" : : "r"(&lf) : "memory");
		taken += gh_flags_cond(&lf, GH_CC_L);
	}
	t1 = g_get_monotonic_time();
	for (uint64_t i = 0; i < n; i++) {
		gh_alu_cmp(&lf, x, i, 64);
		asm volatile("" : : "r"(&lf) : "memory");
		taken += gh_flags_cond(&lf, GH_CC_BE);
	}
	t2 = g_get_monotonic_time();
	for (uint64_t i = 0; i < n; i++) {
		x = gh_alu_dec(&lf, x, 32);
		asm volatile("" : : "r"(&lf) : "memory");
		taken += gh_flags_cond(&lf, GH_CC_NE);
	}
	t3 = g_get_monotonic_time();
	/* The same three loops in plain C: the timed ones must have computed this. */
	for (uint64_t i = 0; i < n; i++) {
		/* JL after ADD: SF != OF, i.e. the exact signed sum is negative */
		rtaken += (int64_t)(int32_t)rx + (int32_t)i < 0;
		rx = (uint32_t)(rx + i);
	}
	for (uint64_t i = 0; i < n; i++)
		rtaken += rx <= i;
	for (uint64_t i = 0; i < n; i++) {
		rx = (uint32_t)(rx - 1);
		rtaken += rx != 0;
	}
	g_assert_cmphex(x, ==, rx);
	g_assert_cmpuint(taken, ==, rtaken);
	g_test_message("add32+jl %.2f ns, cmp64+jbe %.2f ns, dec32+jne %.2f ns per pair "
		       "(%" G_GUINT64_FORMAT " taken)", (t1 - t0) * 1000.0 / n,
		       (t2 - t1) * 1000.0 / n, (t3 - t2) * 1000.0 / n, taken);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/alu/flags/set-get", test_flags_set_get);
	g_test_add_func("/alu/flags/cond", test_cond_random);
	for (unsigned i = 0; i < G_N_ELEMENTS(ops); i++) {
		char *path = g_strdup_printf("/alu/diff/%s%u", ops[i].name, ops[i].bits);

		g_test_add_data_func(path, &ops[i], check_op);
		g_free(path);
	}
	g_test_add_func("/alu/div-edges", test_div_edges);
	g_test_add_func("/alu/bcd", test_bcd);
	g_test_add_func("/alu/bench", test_bench);
	return g_test_run();
}
