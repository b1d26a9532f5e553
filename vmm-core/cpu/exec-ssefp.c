/*
 * SSE floating-point instructions, those that round or raise SIMD
 * floating-point exceptions under MXCSR (SDM vol. 1, 10.4, 11.4 and 11.5),
 * the SSE4.2 string compares and CRC32 (SDM vol. 1, 12.10; vol. 2).
 *
 * Bit-exact with the host by construction, as VirtualBox's IEM does it:
 * each operation runs the host's own instruction on copies of the
 * operands, with the guest's rounding control and DAZ/FTZ in the host
 * MXCSR and every exception masked, and the flags the host raised come back
 * to the guest's MXCSR. An unmasked one is then delivered as #XM (#UD
 * without CR4.OSXMMEXCPT) and the destination keeps its old value.
 */
#include "cpu/sse.h"

#define H(name) static void h_##name(struct gh_cpu *cpu, const struct gh_x86_insn *i)

/* MXCSR (SDM vol. 1, 10.2.3) */
#define MX_IE 0x0001u
#define MX_DE 0x0002u
#define MX_ZE 0x0004u
#define MX_OE 0x0008u
#define MX_UE 0x0010u
#define MX_PE 0x0020u
#define MX_FLAGS 0x003fu
#define MX_DAZ 0x0040u
#define MX_MASKS 0x1f80u
#define MX_UM 0x0800u
#define MX_RC 0x6000u
#define MX_FTZ 0x8000u
/* The pre-computation exceptions (SDM vol. 1, 11.5.1). */
#define MX_PRE (MX_IE | MX_DE | MX_ZE)

/* ---- operands ------------------------------------------------------------ */

/*
 * The W operand: an XMM register, or n bytes of memory in the low bytes of
 * v (the rest zero); 16-byte operands of the packed forms must be aligned
 * (sse.h).
 */
static void load_W(struct gh_cpu *cpu, const struct gh_x86_insn *i, union gh_xmm *v,
		   unsigned n, bool align)
{
	union gh_xmm tmp;

	if (!i->has_mem) {
		*v = cpu->xmm[i->rm];
	} else if (n == 16) {
		*v = *(align ? gh_sse_Wa : gh_sse_W)(cpu, i, &tmp);
	} else {
		memset(v, 0, sizeof(*v));
		v->q[0] = gh_sse_W_low(cpu, i, n);
	}
}

/*
 * The host runs the guest's instruction, so one it lacks is #UD for the
 * guest too (and CPUID must not advertise it).
 */
#define NEED_HOST(cpu, feat)                                                             \
	do {                                                                             \
		if (!__builtin_cpu_supports(feat))                                       \
			gh_exec_ud(cpu);                                                 \
	} while (0)

/* The general-register size of the Gy/Ey operands: 8 with REX.W. */
static unsigned y_size(const struct gh_x86_insn *i)
{
	return (i->rex & 8) ? 8 : 4;
}

/* ---- the host instructions ------------------------------------------------- */

typedef float v128 __attribute__((vector_size(16)));

static inline v128 ld(const union gh_xmm *x)
{
	v128 v;

	memcpy(&v, x, sizeof(v));
	return v;
}

static inline void st(union gh_xmm *x, v128 v)
{
	memcpy(x, &v, sizeof(v));
}

/*
 * A host operation: d = d op s under the host MXCSR mx, returning the host
 * MXCSR afterwards. Scalar results that are not XMM (integers, EFLAGS) go
 * to d->q[0]; integer sources come in s->q[0]. Each asm statement swaps
 * the host's MXCSR in and out around the one instruction, so nothing the
 * compiler schedules around it runs under the guest's.
 */
typedef uint32_t host_fn(union gh_xmm *d, const union gh_xmm *s, uint32_t mx, unsigned imm);

#define MX_IN "stmxcsr %[save]\n\tldmxcsr %[mx]\n\t"
#define MX_OUT "\n\tstmxcsr %[out]\n\tldmxcsr %[save]"
#define MX_OPS [save] "+m"(save), [out] "=m"(out)

/* insn %src, %dst on XMM registers. */
#define XOP(name, insn)                                                                  \
	static uint32_t x_##name(union gh_xmm *d, const union gh_xmm *s, uint32_t mx,       \
				 unsigned imm)                                              \
	{                                                                                \
		v128 a = ld(d), b = ld(s);                                               \
		uint32_t save = 0, out;                                                  \
		(void)imm;                                                               \
		__asm__ volatile(MX_IN insn " %[b], %[a]" MX_OUT                         \
				 : [a] "+x"(a), MX_OPS                                   \
				 : [b] "x"(b), [mx] "m"(mx));                            \
		st(d, a);                                                                \
		return out;                                                              \
	}

/* insn $imm, %src, %dst for the imm values that matter (imm & mask): one
 * case per value, as the immediate is part of the instruction. */
#define R2(f, x, n) f(x, n) f(x, (n) + 1)
#define R4(f, x, n) R2(f, x, n) R2(f, x, (n) + 2)
#define R8(f, x, n) R4(f, x, n) R4(f, x, (n) + 4)
#define R16(f, x, n) R8(f, x, n) R8(f, x, (n) + 8)
#define R32(f, x, n) R16(f, x, n) R16(f, x, (n) + 16)
#define R64(f, x, n) R32(f, x, n) R32(f, x, (n) + 32)
#define R128(f, x, n) R64(f, x, n) R64(f, x, (n) + 64)
#define R256(f, x, n) R128(f, x, n) R128(f, x, (n) + 128)

#define XCASE(insn, n)                                                                   \
	case (n):                                                                        \
		__asm__ volatile(MX_IN insn " %[imm], %[b], %[a]" MX_OUT                 \
				 : [a] "+x"(a), MX_OPS                                   \
				 : [b] "x"(b), [mx] "m"(mx), [imm] "i"(n));              \
		break;

#define XOPI(name, insn, reps, mask)                                                     \
	static uint32_t x_##name(union gh_xmm *d, const union gh_xmm *s, uint32_t mx,       \
				 unsigned imm)                                              \
	{                                                                                \
		v128 a = ld(d), b = ld(s);                                               \
		uint32_t save = 0, out = 0;                                              \
		switch (imm & (mask)) {                                                  \
			reps(XCASE, insn, 0)                                             \
		}                                                                        \
		st(d, a);                                                                \
		return out;                                                              \
	}

#define ARITH(N, n)                                                                      \
	XOP(N##PS, #n "ps") XOP(N##PD, #n "pd") XOP(N##SS, #n "ss") XOP(N##SD, #n "sd")
ARITH(ADD, add)
ARITH(SUB, sub)
ARITH(MUL, mul)
ARITH(DIV, div)
ARITH(SQRT, sqrt)
ARITH(MIN, min)
ARITH(MAX, max)
XOP(RCPPS, "rcpps")
XOP(RCPSS, "rcpss")
XOP(RSQRTPS, "rsqrtps")
XOP(RSQRTSS, "rsqrtss")
XOP(HADDPS, "haddps")
XOP(HADDPD, "haddpd")
XOP(HSUBPS, "hsubps")
XOP(HSUBPD, "hsubpd")
XOP(ADDSUBPS, "addsubps")
XOP(ADDSUBPD, "addsubpd")
XOP(CVTPS2PD, "cvtps2pd")
XOP(CVTPD2PS, "cvtpd2ps")
XOP(CVTSS2SD, "cvtss2sd")
XOP(CVTSD2SS, "cvtsd2ss")
XOP(CVTDQ2PS, "cvtdq2ps")
XOP(CVTPS2DQ, "cvtps2dq")
XOP(CVTTPS2DQ, "cvttps2dq")
XOP(CVTDQ2PD, "cvtdq2pd")
XOP(CVTPD2DQ, "cvtpd2dq")
XOP(CVTTPD2DQ, "cvttpd2dq")
/* The legacy compare encodings use imm bits 2:0 (SDM vol. 2, CMPPS). */
XOPI(CMPPS, "cmpps", R8, 7)
XOPI(CMPPD, "cmppd", R8, 7)
XOPI(CMPSS, "cmpss", R8, 7)
XOPI(CMPSD, "cmpsd", R8, 7)
/* ROUND* use imm bits 3:0 (rounding, MXCSR.RC select, precision mask). */
XOPI(ROUNDPS, "roundps", R16, 15)
XOPI(ROUNDPD, "roundpd", R16, 15)
XOPI(ROUNDSS, "roundss", R16, 15)
XOPI(ROUNDSD, "roundsd", R16, 15)
/* DPPS/DPPD: every imm bit shapes the rounding sequence, so 256 cases. */
XOPI(DPPS, "dpps", R256, 255)
XOPI(DPPD, "dppd", R256, 255)

/* Conversions to a general register: n-bit result in d->q[0]. */
#define XTOI(name, insn, T)                                                              \
	static uint32_t x_##name(union gh_xmm *d, const union gh_xmm *s, uint32_t mx,       \
				 unsigned imm)                                              \
	{                                                                                \
		v128 b = ld(s);                                                          \
		uint32_t save = 0, out;                                                  \
		T r;                                                                     \
		(void)imm;                                                               \
		__asm__ volatile(MX_IN insn " %[b], %[r]" MX_OUT                         \
				 : [r] "=r"(r), MX_OPS                                   \
				 : [b] "x"(b), [mx] "m"(mx));                            \
		d->q[0] = r;                                                             \
		return out;                                                              \
	}
XTOI(CVTSS2SI32, "cvtss2si", uint32_t)
XTOI(CVTSS2SI64, "cvtss2si", uint64_t)
XTOI(CVTTSS2SI32, "cvttss2si", uint32_t)
XTOI(CVTTSS2SI64, "cvttss2si", uint64_t)
XTOI(CVTSD2SI32, "cvtsd2si", uint32_t)
XTOI(CVTSD2SI64, "cvtsd2si", uint64_t)
XTOI(CVTTSD2SI32, "cvttsd2si", uint32_t)
XTOI(CVTTSD2SI64, "cvttsd2si", uint64_t)

/* Conversions from a general register (s->q[0]) into the low element. */
#define XFROMI(name, insn, T)                                                            \
	static uint32_t x_##name(union gh_xmm *d, const union gh_xmm *s, uint32_t mx,       \
				 unsigned imm)                                              \
	{                                                                                \
		v128 a = ld(d);                                                          \
		uint32_t save = 0, out;                                                  \
		T g = (T)s->q[0];                                                        \
		(void)imm;                                                               \
		__asm__ volatile(MX_IN insn " %[g], %[a]" MX_OUT                         \
				 : [a] "+x"(a), MX_OPS                                   \
				 : [g] "r"(g), [mx] "m"(mx));                            \
		st(d, a);                                                                \
		return out;                                                              \
	}
XFROMI(CVTSI2SS32, "cvtsi2ssl", uint32_t)
XFROMI(CVTSI2SS64, "cvtsi2ssq", uint64_t)
XFROMI(CVTSI2SD32, "cvtsi2sdl", uint32_t)
XFROMI(CVTSI2SD64, "cvtsi2sdq", uint64_t)

/* COMISS/UCOMISS/COMISD/UCOMISD: ZF, PF, CF in d->q[0]. */
#define XCOMI(name, insn)                                                                \
	static uint32_t x_##name(union gh_xmm *d, const union gh_xmm *s, uint32_t mx,       \
				 unsigned imm)                                              \
	{                                                                                \
		v128 a = ld(d), b = ld(s);                                               \
		uint32_t save = 0, out;                                                  \
		bool z, p, c;                                                            \
		(void)imm;                                                               \
		__asm__ volatile(MX_IN insn " %[b], %[a]" MX_OUT                         \
				 : "=@ccz"(z), "=@ccp"(p), "=@ccc"(c), MX_OPS            \
				 : [a] "x"(a), [b] "x"(b), [mx] "m"(mx));                \
		d->q[0] = (z ? GH_FL_ZF : 0) | (p ? GH_FL_PF : 0) | (c ? GH_FL_CF : 0);  \
		return out;                                                              \
	}
XCOMI(COMISS, "comiss")
XCOMI(UCOMISS, "ucomiss")
XCOMI(COMISD, "comisd")
XCOMI(UCOMISD, "ucomisd")

/*
 * The MMX conversions as their XMM counterparts on the low two elements
 * (the same rounding and flags; a zeroed upper half converts exactly).
 * CVTPI2PS keeps the destination's upper half.
 */
static uint32_t x_CVTPI2PS(union gh_xmm *d, const union gh_xmm *s, uint32_t mx, unsigned imm)
{
	union gh_xmm t = *d;
	uint32_t out = x_CVTDQ2PS(&t, s, mx, imm);

	d->q[0] = t.q[0];
	return out;
}

/* ---- MXCSR and exceptions ------------------------------------------------------ */

/* #XM, or #UD when the OS has not said it handles #XM (SDM vol. 3A, 2.5). */
static __attribute__((noreturn)) void simd_fault(struct gh_cpu *cpu)
{
	if (cpu->cr4 & GH_CR4_OSXMMEXCPT)
		gh_cpu_raise_noerr(cpu, GH_EXC_XM);
	gh_exec_ud(cpu);
}

/*
 * The shape of an operation whose elements can overflow or underflow, for
 * the flags of an unmasked OE or UE (below): what each result element
 * computes from which source elements.
 */
enum { K_ADD, K_SUB, K_MUL, K_DIV, K_CVT };	/* element operation */
enum {
	S_NONE,		/* cannot overflow or underflow */
	S_PACKED,	/* element k from d[k], s[k] */
	S_SCALAR,	/* element 0 only */
	S_ADDSUB,	/* even elements subtract, odd ones add */
	S_HORIZ,	/* d0 op d1, d2 op d3, ..., s0 op s1, ... */
	S_CVT,		/* double s[k] to single (CVTPD2PS, CVTSD2SS with 1) */
};
#define SHAPE(form, kind, dbl, n) ((form) | (kind) << 4 | (dbl) << 7 | (n) << 8)
#define SH_FORM(sh) ((sh) & 15)
#define SH_KIND(sh) (((sh) >> 4) & 7)
#define SH_DBL(sh) (((sh) >> 7) & 1)
#define SH_N(sh) ((sh) >> 8)

struct elem {
	uint8_t kind;
	bool dbl;
	uint64_t x, y;
};

static uint64_t lane(const union gh_xmm *v, bool dbl, unsigned k)
{
	return dbl ? v->q[k] : v->d[k];
}

static unsigned split(unsigned sh, const union gh_xmm *d, const union gh_xmm *s,
		      struct elem *e)
{
	const bool dbl = SH_DBL(sh);
	const unsigned n = SH_N(sh), half = n / 2;

	for (unsigned k = 0; k < n; k++) {
		e[k].kind = SH_KIND(sh);
		e[k].dbl = dbl;
		switch (SH_FORM(sh)) {
		case S_ADDSUB:
			e[k].kind = k & 1 ? K_ADD : K_SUB;
			/* fall through */
		case S_PACKED:
		case S_SCALAR:
			e[k].x = lane(d, dbl, k);
			e[k].y = lane(s, dbl, k);
			break;
		case S_HORIZ:
			e[k].x = lane(k < half ? d : s, dbl, 2 * (k % half));
			e[k].y = lane(k < half ? d : s, dbl, 2 * (k % half) + 1);
			break;
		default: /* S_CVT */
			e[k].x = s->q[k];
			e[k].y = 0;
			break;
		}
	}
	return n;
}

/* One element on the host: its flags under mx. */
static uint32_t elem_host(const struct elem *e, uint32_t mx)
{
	static host_fn *const fns[2][5] = {
	    {x_ADDSS, x_SUBSS, x_MULSS, x_DIVSS, x_CVTSD2SS},
	    {x_ADDSD, x_SUBSD, x_MULSD, x_DIVSD, x_CVTSD2SS},
	};
	union gh_xmm a = {{0}}, b = {{0}};

	if (e->kind == K_CVT) {
		b.q[0] = e->x;
	} else {
		a.q[0] = e->x;
		b.q[0] = e->y;
	}
	return fns[e->dbl][e->kind](&a, &b, mx, 0) & MX_FLAGS;
}

static bool is_denormal(uint64_t v, bool dbl)
{
	return dbl ? !(v & 0x7ff0000000000000ULL) && (v & 0x000fffffffffffffULL)
		   : !(v & 0x7f800000u) && (v & 0x007fffffu);
}

/*
 * Whether the element's result rounded to single or double precision,
 * with an exponent range unbounded, is inexact: the x87 computes it with
 * the precision control at 24 or 53 bits and its 15-bit exponent, in the
 * guest's rounding mode. DAZ zeroes denormal inputs first, as the SSE
 * unit does.
 */
static bool elem_inexact(const struct elem *e, uint32_t g)
{
	uint64_t x = e->x, y = e->y;
	uint16_t cw = 0x003f | (e->dbl ? 0x200 : 0) | ((g & MX_RC) >> 3), save, sw;
	const bool src_dbl = e->dbl || e->kind == K_CVT;
	const uint64_t one = 0x3ff0000000000000ULL;

	if ((g & MX_DAZ) && is_denormal(x, src_dbl))
		x &= src_dbl ? 1ULL << 63 : 1u << 31;
	if ((g & MX_DAZ) && is_denormal(y, e->dbl))
		y &= e->dbl ? 1ULL << 63 : 1u << 31;
	if (e->kind == K_CVT) {
		/* a multiplication by 1 rounds to the precision control */
		cw &= ~0x200;
		__asm__ volatile("fnstcw %[save]\n\tfldcw %[cw]\n\tfnclex\n\t"
				 "fldl %[x]\n\tfmull %[one]\n\tfstp %%st(0)\n\t"
				 "fnstsw %[sw]\n\tfldcw %[save]"
				 : [save] "=m"(save), [sw] "=m"(sw)
				 : [cw] "m"(cw), [x] "m"(x), [one] "m"(one));
		return sw & 0x20;
	}
#define X87_OP(ld, op)                                                                   \
	__asm__ volatile("fnstcw %[save]\n\tfldcw %[cw]\n\tfnclex\n\t" ld " %[x]\n\t" op      \
			 " %[y]\n\tfstp %%st(0)\n\tfnstsw %[sw]\n\tfldcw %[save]"            \
			 : [save] "=m"(save), [sw] "=m"(sw)                                  \
			 : [cw] "m"(cw), [x] "m"(x), [y] "m"(y))
	if (e->dbl) {
		switch (e->kind) {
		case K_ADD: X87_OP("fldl", "faddl"); break;
		case K_SUB: X87_OP("fldl", "fsubl"); break;
		case K_MUL: X87_OP("fldl", "fmull"); break;
		default: X87_OP("fldl", "fdivl"); break;
		}
	} else {
		switch (e->kind) {
		case K_ADD: X87_OP("flds", "fadds"); break;
		case K_SUB: X87_OP("flds", "fsubs"); break;
		case K_MUL: X87_OP("flds", "fmuls"); break;
		default: X87_OP("flds", "fdivs"); break;
		}
	}
#undef X87_OP
	return sw & 0x20;
}

/*
 * The flags an unmasked overflow or underflow reports, element by element
 * (measured on the hardware: SDM vol. 1, 11.5.2.4-5 leave it open): an
 * element that overflows with OE unmasked, or is tiny with UE unmasked,
 * reports OE or UE, and PE only if its result is inexact with the
 * exponent range unbounded (as IEEE 754's trapped exceptions deliver it);
 * the others report what they do masked.
 */
static uint32_t post_flags(uint32_t g, unsigned sh, const union gh_xmm *d,
			   const union gh_xmm *s)
{
	const uint32_t unmasked = ~(g >> 7) & MX_FLAGS;
	const uint32_t mx = (g & (MX_RC | MX_DAZ)) | MX_MASKS | (unmasked & MX_UE ? 0 : g & MX_FTZ);
	struct elem e[4];
	unsigned n = split(sh, d, s, e);
	uint32_t acc = 0;

	for (unsigned k = 0; k < n; k++) {
		uint32_t f = elem_host(&e[k], mx);
		bool ov = (f & MX_OE) && (unmasked & MX_OE);
		bool tiny = (unmasked & MX_UE) && (elem_host(&e[k], mx | MX_FTZ) & MX_UE);

		if (ov || tiny)
			f = (f & MX_PRE) | (ov ? MX_OE : 0) | (tiny ? MX_UE : 0) |
			    (elem_inexact(&e[k], g) ? MX_PE : 0);
		acc |= f;
	}
	return acc;
}

/*
 * Runs fn on *d and *s under the guest's MXCSR; returns the flags to
 * report, and changes *d only when none of them is unmasked. The host runs
 * with everything masked, so what an unmasked exception reports is built
 * as the hardware does it (SDM vol. 1, 11.5.1-11.5.2): an unmasked
 * pre-computation exception (IE, DE, ZE) in any element reports only the
 * pre-computation flags; an unmasked underflow is raised for any tiny
 * result, exact or not (masked, only inexact ones set UE), which the host
 * shows when run again with FTZ, as FTZ flushes every tiny result; an
 * unmasked overflow or underflow reports per element (post_flags).
 */
static uint32_t fp_flags(struct gh_cpu *cpu, host_fn *fn, unsigned sh, union gh_xmm *d,
			 const union gh_xmm *s, unsigned imm)
{
	uint32_t g = cpu->mxcsr, unmasked = ~(g >> 7) & MX_FLAGS;
	uint32_t mx = (g & (MX_RC | MX_DAZ)) | MX_MASKS, f;
	union gh_xmm t = *d;

	/* FTZ applies only to masked underflows */
	if (!(unmasked & MX_UE))
		mx |= g & MX_FTZ;
	f = fn(&t, s, mx, imm) & MX_FLAGS;
	if (f & unmasked & MX_PRE) {
		f &= MX_PRE;
	} else if (SH_FORM(sh) != S_NONE &&
		   ((f & unmasked & MX_OE) || (unmasked & MX_UE))) {
		f = post_flags(g, sh, d, s);
	}
	if (!(f & unmasked))
		*d = t;
	return f;
}

static void fp_run(struct gh_cpu *cpu, host_fn *fn, unsigned sh, union gh_xmm *d,
		   const union gh_xmm *s, unsigned imm)
{
	uint32_t f = fp_flags(cpu, fn, sh, d, s, imm);

	cpu->mxcsr |= f;
	if (f & ~(cpu->mxcsr >> 7) & MX_FLAGS)
		simd_fault(cpu);
}

/* ---- handlers ------------------------------------------------------------------- */

/* xmm[reg] = xmm[reg] op W, W of n bytes (16: packed, aligned). */
static void fp_op(struct gh_cpu *cpu, const struct gh_x86_insn *i, host_fn *fn, unsigned sh,
		  unsigned n)
{
	union gh_xmm s, d;

	gh_sse_check(cpu);
	load_W(cpu, i, &s, n, true);
	d = cpu->xmm[i->reg];
	fp_run(cpu, fn, sh, &d, &s, (uint8_t)i->imm);
	cpu->xmm[i->reg] = d;
}

#define FPS(op, n, sh) H(op) { fp_op(cpu, i, x_##op, sh, n); }
#define FPH(op, n, sh, feat)                                                             \
	H(op)                                                                            \
	{                                                                                \
		NEED_HOST(cpu, feat);                                                    \
		fp_op(cpu, i, x_##op, sh, n);                                            \
	}
#define FP(op, n) FPS(op, n, S_NONE)
#define FPK4(N, k)                                                                       \
	FPS(N##PS, 16, SHAPE(S_PACKED, k, 0, 4)) FPS(N##PD, 16, SHAPE(S_PACKED, k, 1, 2))    \
	FPS(N##SS, 4, SHAPE(S_SCALAR, k, 0, 1)) FPS(N##SD, 8, SHAPE(S_SCALAR, k, 1, 1))
FPK4(ADD, K_ADD)
FPK4(SUB, K_SUB)
FPK4(MUL, K_MUL)
FPK4(DIV, K_DIV)
FPH(HADDPS, 16, SHAPE(S_HORIZ, K_ADD, 0, 4), "sse3")
FPH(HADDPD, 16, SHAPE(S_HORIZ, K_ADD, 1, 2), "sse3")
FPH(HSUBPS, 16, SHAPE(S_HORIZ, K_SUB, 0, 4), "sse3")
FPH(HSUBPD, 16, SHAPE(S_HORIZ, K_SUB, 1, 2), "sse3")
FPH(ADDSUBPS, 16, SHAPE(S_ADDSUB, K_ADD, 0, 4), "sse3")
FPH(ADDSUBPD, 16, SHAPE(S_ADDSUB, K_ADD, 1, 2), "sse3")
FPS(CVTPD2PS, 16, SHAPE(S_CVT, K_CVT, 0, 2))
FPS(CVTSD2SS, 8, SHAPE(S_CVT, K_CVT, 0, 1))
#define FP4(N) FP(N##PS, 16) FP(N##PD, 16) FP(N##SS, 4) FP(N##SD, 8)
FP4(SQRT)
FP4(MIN)
FP4(MAX)
FP4(CMP)
FP(RCPPS, 16)
FP(RCPSS, 4)
FP(RSQRTPS, 16)
FP(RSQRTSS, 4)
FPH(ROUNDPS, 16, S_NONE, "sse4.1")
FPH(ROUNDPD, 16, S_NONE, "sse4.1")
FPH(ROUNDSS, 4, S_NONE, "sse4.1")
FPH(ROUNDSD, 8, S_NONE, "sse4.1")
FP(CVTPS2PD, 8)
FP(CVTSS2SD, 4)
FP(CVTDQ2PS, 16)
FP(CVTPS2DQ, 16)
FP(CVTTPS2DQ, 16)
FP(CVTDQ2PD, 8)
FP(CVTPD2DQ, 16)
FP(CVTTPD2DQ, 16)

/*
 * DPPS/DPPD (SDM vol. 2): the host instruction gives the result and the
 * flags while no exception is unmasked. The exceptions are "determined
 * separately for each add and multiply", a step with an unmasked one
 * ending the instruction, so then the steps run one by one for the flags:
 * the products imm[7:4] selects (the others +0.0), the pairwise sums, the
 * total.
 */
static bool dpp_step(struct gh_cpu *cpu, host_fn *fn, unsigned sh, union gh_xmm *a,
		     const union gh_xmm *b, uint32_t *acc)
{
	uint32_t f = fp_flags(cpu, fn, sh, a, b, 0);

	*acc |= f;
	return !(f & ~(cpu->mxcsr >> 7) & MX_FLAGS);
}

static void dpp(struct gh_cpu *cpu, const struct gh_x86_insn *i, bool dbl)
{
	const unsigned imm = (uint8_t)i->imm, n = dbl ? 2 : 4;
	const uint32_t g = cpu->mxcsr, unmasked = ~(g >> 7) & MX_FLAGS;
	union gh_xmm s, d, p, x = {{0}}, y = {{0}};
	uint32_t mx = (g & (MX_RC | MX_DAZ | MX_FTZ)) | MX_MASKS, f, acc = 0;

	gh_sse_check(cpu);
	load_W(cpu, i, &s, 16, true);
	d = cpu->xmm[i->reg];
	p = d;
	f = (dbl ? x_DPPD : x_DPPS)(&d, &s, mx, imm) & MX_FLAGS;
	if (!(f & unmasked) && !(unmasked & MX_UE)) {
		cpu->mxcsr |= f;
		cpu->xmm[i->reg] = d;
		return;
	}
	for (unsigned k = 0; k < n; k++) {
		if (!(imm & (0x10 << k))) {
			if (dbl)
				p.q[k] = s.q[k] = 0;
			else
				p.d[k] = s.d[k] = 0;
		}
	}
	if (!dpp_step(cpu, dbl ? x_MULPD : x_MULPS, SHAPE(S_PACKED, K_MUL, dbl, n), &p, &s,
		      &acc))
		goto fault;
	if (dbl) {
		x.q[0] = p.q[0];
		y.q[0] = p.q[1];
		if (!dpp_step(cpu, x_ADDSD, SHAPE(S_SCALAR, K_ADD, 1, 1), &x, &y, &acc))
			goto fault;
	} else {
		x.d[0] = p.d[0];
		x.d[1] = p.d[2];
		y.d[0] = p.d[1];
		y.d[1] = p.d[3];
		if (!dpp_step(cpu, x_ADDPS, SHAPE(S_PACKED, K_ADD, 0, 2), &x, &y, &acc))
			goto fault;
		y.d[0] = x.d[1];
		x.d[1] = y.d[1] = 0;
		if (!dpp_step(cpu, x_ADDSS, SHAPE(S_SCALAR, K_ADD, 0, 1), &x, &y, &acc))
			goto fault;
	}
	cpu->mxcsr |= acc;
	cpu->xmm[i->reg] = d;
	return;
fault:
	cpu->mxcsr |= acc;
	simd_fault(cpu);
}

H(DPPS)
{
	NEED_HOST(cpu, "sse4.1");
	dpp(cpu, i, false);
}

H(DPPD)
{
	NEED_HOST(cpu, "sse4.1");
	dpp(cpu, i, true);
}

/* COMISS and friends: EFLAGS.ZF/PF/CF from the compare, OF, SF, AF cleared. */
static void comi(struct gh_cpu *cpu, const struct gh_x86_insn *i, host_fn *fn, unsigned n)
{
	union gh_xmm s, d;

	gh_sse_check(cpu);
	load_W(cpu, i, &s, n, false);
	d = cpu->xmm[i->reg];
	fp_run(cpu, fn, S_NONE, &d, &s, 0);
	gh_exec_set_rflags(cpu, d.q[0],
			   GH_FL_CF | GH_FL_PF | GH_FL_AF | GH_FL_ZF | GH_FL_SF | GH_FL_OF);
}

H(COMISS) { comi(cpu, i, x_COMISS, 4); }
H(UCOMISS) { comi(cpu, i, x_UCOMISS, 4); }
H(COMISD) { comi(cpu, i, x_COMISD, 8); }
H(UCOMISD) { comi(cpu, i, x_UCOMISD, 8); }

/* CVT(T)SS2SI / CVT(T)SD2SI Gy,W: a 32- or 64-bit integer (REX.W). */
static void cvt_to_gpr(struct gh_cpu *cpu, const struct gh_x86_insn *i, host_fn *fn32,
		       host_fn *fn64, unsigned n)
{
	union gh_xmm s, d = {{0}};
	unsigned size = y_size(i);

	gh_sse_check(cpu);
	load_W(cpu, i, &s, n, false);
	fp_run(cpu, size == 8 ? fn64 : fn32, S_NONE, &d, &s, 0);
	gh_reg_set(cpu, i->reg, size, d.q[0]);
}

H(CVTSS2SI) { cvt_to_gpr(cpu, i, x_CVTSS2SI32, x_CVTSS2SI64, 4); }
H(CVTTSS2SI) { cvt_to_gpr(cpu, i, x_CVTTSS2SI32, x_CVTTSS2SI64, 4); }
H(CVTSD2SI) { cvt_to_gpr(cpu, i, x_CVTSD2SI32, x_CVTSD2SI64, 8); }
H(CVTTSD2SI) { cvt_to_gpr(cpu, i, x_CVTTSD2SI32, x_CVTTSD2SI64, 8); }

/* CVTSI2SS / CVTSI2SD V,Ey. */
static void cvt_from_gpr(struct gh_cpu *cpu, const struct gh_x86_insn *i, host_fn *fn32,
			 host_fn *fn64)
{
	union gh_xmm s = {{0}}, d;
	unsigned size = y_size(i);

	gh_sse_check(cpu);
	s.q[0] = gh_exec_read_E(cpu, i, size);
	d = cpu->xmm[i->reg];
	fp_run(cpu, size == 8 ? fn64 : fn32, S_NONE, &d, &s, 0);
	cpu->xmm[i->reg] = d;
}

H(CVTSI2SS) { cvt_from_gpr(cpu, i, x_CVTSI2SS32, x_CVTSI2SS64); }
H(CVTSI2SD) { cvt_from_gpr(cpu, i, x_CVTSI2SD32, x_CVTSI2SD64); }

/* CVTPI2PS / CVTPI2PD V,Q: two int32 from an MMX register or memory; only
 * the register form is an MMX instruction (SDM vol. 2, CVTPI2PS). */
static void cvt_from_mmx(struct gh_cpu *cpu, const struct gh_x86_insn *i, host_fn *fn)
{
	union gh_xmm s, d;

	gh_sse_check(cpu);
	if (i->has_mem) {
		load_W(cpu, i, &s, 8, false);
	} else {
		gh_mmx_check(cpu);
		memset(&s, 0, sizeof(s));
		s.q[0] = gh_mmx_get(cpu, i->rm);
	}
	d = cpu->xmm[i->reg];
	fp_run(cpu, fn, S_NONE, &d, &s, 0);
	if (!i->has_mem)
		gh_mmx_enter(cpu);
	cpu->xmm[i->reg] = d;
}

H(CVTPI2PS) { cvt_from_mmx(cpu, i, x_CVTPI2PS); }
H(CVTPI2PD) { cvt_from_mmx(cpu, i, x_CVTDQ2PD); }

/* CVT(T)PS2PI / CVT(T)PD2PI P,W: two int32 into an MMX register. The PS
 * forms read 8 bytes: the XMM register's upper half is not converted. */
static void cvt_to_mmx(struct gh_cpu *cpu, const struct gh_x86_insn *i, host_fn *fn,
		       unsigned n)
{
	union gh_xmm s, d = {{0}};

	gh_sse_check(cpu);
	gh_mmx_check(cpu);
	load_W(cpu, i, &s, n, true);
	if (n == 8)
		s.q[1] = 0;
	fp_run(cpu, fn, S_NONE, &d, &s, 0);
	gh_mmx_enter(cpu);
	gh_mmx_set(cpu, i->reg, d.q[0]);
}

H(CVTPS2PI) { cvt_to_mmx(cpu, i, x_CVTPS2DQ, 8); }
H(CVTTPS2PI) { cvt_to_mmx(cpu, i, x_CVTTPS2DQ, 8); }
H(CVTPD2PI) { cvt_to_mmx(cpu, i, x_CVTPD2DQ, 16); }
H(CVTTPD2PI) { cvt_to_mmx(cpu, i, x_CVTTPD2DQ, 16); }

/* LDMXCSR: reserved bits set is #GP(0) (SDM vol. 2, LDMXCSR). */
H(LDMXCSR)
{
	uint32_t v;

	gh_sse_check(cpu);
	v = gh_mem_read_seg(cpu, i->seg, gh_exec_ea(cpu, i), 4);
	if (v & ~GH_MXCSR_MASK)
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	cpu->mxcsr = v;
}

H(STMXCSR)
{
	gh_sse_check(cpu);
	gh_mem_write_seg(cpu, i->seg, gh_exec_ea(cpu, i), 4, cpu->mxcsr);
}

/* ---- SSE4.2 string compares (SDM vol. 1, 12.10; vol. 2, 4.1) ------------------------- */

/*
 * Integer-only, no MXCSR: the host instruction per imm8 value (bits 6:0
 * matter, bit 7 is reserved), with explicit lengths already reduced to
 * 0..16 (or 0..8 for words) as the SDM's absolute value and saturation
 * rule gives them. Returns CF, ZF, SF, OF; the index goes to *ecx, the
 * mask to *mask.
 */
#define FL_OUT "=@ccc"(c), "=@ccz"(z), "=@ccs"(sg), "=@cco"(o)
#define PSTR_FLAGS() \
	((c ? GH_FL_CF : 0) | (z ? GH_FL_ZF : 0) | (sg ? GH_FL_SF : 0) | (o ? GH_FL_OF : 0))

#define ESTRI_CASE(x, n)                                                                 \
	case (n):                                                                        \
		__asm__("pcmpestri %[imm], %[b], %[a]"                                   \
			: "=c"(idx), FL_OUT                                              \
			: [a] "x"(a), [b] "x"(b), "a"(la), "d"(lb), [imm] "i"(n));       \
		break;
#define ESTRM_CASE(x, n)                                                                 \
	case (n):                                                                        \
		__asm__("pcmpestrm %[imm], %[b], %[a]"                                   \
			: "=Yz"(m), FL_OUT                                               \
			: [a] "x"(a), [b] "x"(b), "a"(la), "d"(lb), [imm] "i"(n));       \
		break;
#define ISTRI_CASE(x, n)                                                                 \
	case (n):                                                                        \
		__asm__("pcmpistri %[imm], %[b], %[a]"                                   \
			: "=c"(idx), FL_OUT                                              \
			: [a] "x"(a), [b] "x"(b), [imm] "i"(n));                         \
		break;
#define ISTRM_CASE(x, n)                                                                 \
	case (n):                                                                        \
		__asm__("pcmpistrm %[imm], %[b], %[a]"                                   \
			: "=Yz"(m), FL_OUT                                               \
			: [a] "x"(a), [b] "x"(b), [imm] "i"(n));                         \
		break;

static uint32_t host_pcmpstr(unsigned op, unsigned imm, const union gh_xmm *xa,
			     const union gh_xmm *xb, uint32_t la, uint32_t lb, uint32_t *ecx,
			     union gh_xmm *mask)
{
	v128 a = ld(xa), b = ld(xb), m = {0};
	uint32_t idx = 0;
	bool c = false, z = false, sg = false, o = false;

	switch (op) {
	case GH_X86_OP_PCMPESTRI:
		switch (imm & 0x7f) {
			R128(ESTRI_CASE, 0, 0)
		}
		break;
	case GH_X86_OP_PCMPESTRM:
		switch (imm & 0x7f) {
			R128(ESTRM_CASE, 0, 0)
		}
		break;
	case GH_X86_OP_PCMPISTRI:
		switch (imm & 0x7f) {
			R128(ISTRI_CASE, 0, 0)
		}
		break;
	default:
		switch (imm & 0x7f) {
			R128(ISTRM_CASE, 0, 0)
		}
		break;
	}
	*ecx = idx;
	st(mask, m);
	return PSTR_FLAGS();
}

/* |len| (32-bit, or 64-bit with REX.W), saturated to the element count. */
static uint32_t str_len(const struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned r,
			unsigned imm)
{
	uint32_t max = (imm & 1) ? 8 : 16;
	uint64_t mag;

	if (i->rex & 8) {
		int64_t v = (int64_t)cpu->gpr[r];

		mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
	} else {
		int32_t v = (int32_t)cpu->gpr[r];

		mag = v < 0 ? -(uint64_t)(int64_t)v : (uint64_t)v;
	}
	return mag > max ? max : (uint32_t)mag;
}

static void pcmpstr(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	const unsigned imm = (uint8_t)i->imm;
	union gh_xmm b, mask;
	uint32_t la = 0, lb = 0, idx, fl;
	const bool expl = i->op == GH_X86_OP_PCMPESTRI || i->op == GH_X86_OP_PCMPESTRM;

	gh_sse_check(cpu);
	load_W(cpu, i, &b, 16, false);
	if (expl) {
		la = str_len(cpu, i, GH_RAX, imm);
		lb = str_len(cpu, i, GH_RDX, imm);
	}
	fl = host_pcmpstr(i->op, imm, &cpu->xmm[i->reg], &b, la, lb, &idx, &mask);
	if (i->op == GH_X86_OP_PCMPESTRI || i->op == GH_X86_OP_PCMPISTRI)
		gh_reg_set(cpu, GH_RCX, 4, idx);
	else
		cpu->xmm[0] = mask;
	gh_exec_set_rflags(cpu, fl,
			   GH_FL_CF | GH_FL_PF | GH_FL_AF | GH_FL_ZF | GH_FL_SF | GH_FL_OF);
}

H(PCMPSTR)
{
	NEED_HOST(cpu, "sse4.2");
	pcmpstr(cpu, i);
}

/* ---- CRC32 (SDM vol. 2, CRC32) --------------------------------------------------- */

/* CRC-32C (polynomial 11EDC6F41h), bit-reflected, no inversion: the
 * instruction's definition, one byte at a time from the least significant. */
static uint32_t crc32c(uint32_t crc, uint64_t data, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		crc ^= (uint8_t)(data >> (8 * k));
		for (unsigned b = 0; b < 8; b++)
			crc = (crc >> 1) ^ (0x82f63b78u & -(crc & 1));
	}
	return crc;
}

/* The destination is 32 bits, zero-extended to 64 with REX.W. */
H(CRC32_Gy_Eb)
{
	uint8_t v;

	if (i->mod == 3)
		v = gh_reg8_get(cpu, i, i->rm);
	else
		v = gh_mem_read_seg(cpu, i->seg, gh_exec_ea(cpu, i), 1);
	gh_reg_set(cpu, i->reg, 8, crc32c((uint32_t)cpu->gpr[i->reg], v, 1));
}

H(CRC32_Gy_Ev)
{
	uint64_t v = gh_exec_read_E(cpu, i, i->opsize);

	gh_reg_set(cpu, i->reg, 8, crc32c((uint32_t)cpu->gpr[i->reg], v, i->opsize));
}

/* ---- the table ---------------------------------------------------------------------- */

#define B(op, fn) { GH_X86_OP_##op, h_##fn }
#define B1(op) B(op, op)
#define B4(N) B1(N##PS), B1(N##PD), B1(N##SS), B1(N##SD)

const struct gh_handler_bind gh_exec_ssefp_binds[] = {
	B4(ADD), B4(SUB), B4(MUL), B4(DIV), B4(SQRT), B4(MIN), B4(MAX), B4(CMP),
	B1(RCPPS), B1(RCPSS), B1(RSQRTPS), B1(RSQRTSS),
	B1(HADDPS), B1(HADDPD), B1(HSUBPS), B1(HSUBPD), B1(ADDSUBPS), B1(ADDSUBPD),
	B1(ROUNDPS), B1(ROUNDPD), B1(ROUNDSS), B1(ROUNDSD), B1(DPPS), B1(DPPD),
	B1(COMISS), B1(UCOMISS), B1(COMISD), B1(UCOMISD),
	B1(CVTPS2PD), B1(CVTPD2PS), B1(CVTSS2SD), B1(CVTSD2SS),
	B1(CVTDQ2PS), B1(CVTPS2DQ), B1(CVTTPS2DQ),
	B1(CVTDQ2PD), B1(CVTPD2DQ), B1(CVTTPD2DQ),
	B1(CVTSS2SI), B1(CVTTSS2SI), B1(CVTSD2SI), B1(CVTTSD2SI),
	B1(CVTSI2SS), B1(CVTSI2SD),
	B1(CVTPI2PS), B1(CVTPI2PD), B1(CVTPS2PI), B1(CVTTPS2PI), B1(CVTPD2PI), B1(CVTTPD2PI),
	B1(LDMXCSR), B1(STMXCSR),
	B(PCMPESTRI, PCMPSTR), B(PCMPESTRM, PCMPSTR), B(PCMPISTRI, PCMPSTR),
	B(PCMPISTRM, PCMPSTR),
	B1(CRC32_Gy_Eb), B1(CRC32_Gy_Ev),
	{ 0, NULL },
};
