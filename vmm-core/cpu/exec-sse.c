/*
 * MMX and the SSE to SSE4.1 instructions that neither round nor raise SIMD
 * floating-point exceptions (SDM vol. 1, chapters 9-12; vol. 2 for each
 * instruction): moves, logic, shuffles, packed-integer arithmetic, and
 * FXSAVE/FXRSTOR. The floating-point group is exec-ssefp.c.
 *
 * Each packed operation is one inline kernel r = f(a, b) over n bytes (8
 * for MMX, 16 for XMM); PACKED() makes the MMX and the XMM handler of it,
 * so both forms share the arithmetic and the compiler unrolls the lanes.
 */
#include "cpu/exec.h"
#include "cpu/sse.h"

#include <string.h>

void gh_mmx_unusable(struct gh_cpu *cpu)
{
	if (cpu->cr0 & GH_CR0_EM)
		gh_exec_ud(cpu);
	if (cpu->cr0 & GH_CR0_TS)
		gh_cpu_raise_noerr(cpu, GH_EXC_NM);
	if (cpu->cr0 & GH_CR0_NE)
		gh_cpu_raise_noerr(cpu, GH_EXC_MF);
}

typedef union gh_xmm xmm_t;

#define HANDLER(name) static void name(struct gh_cpu *cpu, const struct gh_x86_insn *i)

/* ---- saturation ------------------------------------------------------------ */

static inline int8_t sat8s(int v)
{
	return v > 127 ? 127 : v < -128 ? -128 : v;
}

static inline uint8_t sat8u(int v)
{
	return v > 255 ? 255 : v < 0 ? 0 : v;
}

static inline int16_t sat16s(int32_t v)
{
	return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

static inline uint16_t sat16u(int32_t v)
{
	return v > 65535 ? 65535 : v < 0 ? 0 : v;
}

/* ---- lane-wise kernels ------------------------------------------------------- */

#define KERNEL(name)                                                                     \
	static inline void name(xmm_t *r, const xmm_t *a, const xmm_t *b, unsigned n,   \
				unsigned imm)

/* r[k] = expr(x = a[k], y = b[k]) over lanes of type T. */
#define LANES(name, T, expr)                                                             \
	KERNEL(name)                                                                     \
	{                                                                                \
		for (unsigned k = 0; k < n / sizeof(T); k++) {                           \
			T x = ((const T *)a)[k], y = ((const T *)b)[k];                  \
			(void)x;                                                         \
			((T *)r)[k] = (T)(expr);                                         \
		}                                                                        \
	}

LANES(k_paddb, uint8_t, x + y)
LANES(k_paddw, uint16_t, x + y)
LANES(k_paddd, uint32_t, x + y)
LANES(k_paddq, uint64_t, x + y)
LANES(k_psubb, uint8_t, x - y)
LANES(k_psubw, uint16_t, x - y)
LANES(k_psubd, uint32_t, x - y)
LANES(k_psubq, uint64_t, x - y)
LANES(k_paddsb, int8_t, sat8s(x + y))
LANES(k_paddsw, int16_t, sat16s(x + y))
LANES(k_paddusb, uint8_t, sat8u(x + y))
LANES(k_paddusw, uint16_t, sat16u(x + y))
LANES(k_psubsb, int8_t, sat8s(x - y))
LANES(k_psubsw, int16_t, sat16s(x - y))
LANES(k_psubusb, uint8_t, x > y ? x - y : 0)
LANES(k_psubusw, uint16_t, x > y ? x - y : 0)
LANES(k_pmullw, uint16_t, (uint32_t)x * y)
LANES(k_pmulhw, int16_t, ((int32_t)x * y) >> 16)
LANES(k_pmulhuw, uint16_t, ((uint32_t)x * y) >> 16)
LANES(k_pmulhrsw, int16_t, ((((int32_t)x * y) >> 14) + 1) >> 1)
LANES(k_pmulld, uint32_t, (uint64_t)x * y)
LANES(k_pmuludq, uint64_t, (uint64_t)(uint32_t)x * (uint32_t)y)
LANES(k_pmuldq, uint64_t, (uint64_t)((int64_t)(int32_t)x * (int32_t)y))
LANES(k_pavgb, uint8_t, (x + y + 1) >> 1)
LANES(k_pavgw, uint16_t, (x + y + 1) >> 1)
LANES(k_pminub, uint8_t, x < y ? x : y)
LANES(k_pmaxub, uint8_t, x > y ? x : y)
LANES(k_pminsb, int8_t, x < y ? x : y)
LANES(k_pmaxsb, int8_t, x > y ? x : y)
LANES(k_pminsw, int16_t, x < y ? x : y)
LANES(k_pmaxsw, int16_t, x > y ? x : y)
LANES(k_pminuw, uint16_t, x < y ? x : y)
LANES(k_pmaxuw, uint16_t, x > y ? x : y)
LANES(k_pminsd, int32_t, x < y ? x : y)
LANES(k_pmaxsd, int32_t, x > y ? x : y)
LANES(k_pminud, uint32_t, x < y ? x : y)
LANES(k_pmaxud, uint32_t, x > y ? x : y)
LANES(k_pcmpeqb, uint8_t, x == y ? 0xff : 0)
LANES(k_pcmpeqw, uint16_t, x == y ? 0xffff : 0)
LANES(k_pcmpeqd, uint32_t, x == y ? ~0u : 0)
LANES(k_pcmpeqq, uint64_t, x == y ? ~0ULL : 0)
LANES(k_pcmpgtb, int8_t, x > y ? -1 : 0)
LANES(k_pcmpgtw, int16_t, x > y ? -1 : 0)
LANES(k_pcmpgtd, int32_t, x > y ? -1 : 0)
LANES(k_pcmpgtq, int64_t, x > y ? -1 : 0)
LANES(k_pand, uint64_t, x & y)
LANES(k_pandn, uint64_t, ~x & y)
LANES(k_por, uint64_t, x | y)
LANES(k_pxor, uint64_t, x ^ y)
/* PSIGN: negation wraps (-(-128) is -128), so it is done unsigned */
LANES(k_psignb, int8_t, y < 0 ? (int8_t)(0u - (uint8_t)x) : y ? x : 0)
LANES(k_psignw, int16_t, y < 0 ? (int16_t)(0u - (uint16_t)x) : y ? x : 0)
LANES(k_psignd, int32_t, y < 0 ? (int32_t)(0u - (uint32_t)x) : y ? x : 0)
LANES(k_pabsb, int8_t, y < 0 ? (uint8_t)(0u - (uint8_t)y) : y)
LANES(k_pabsw, int16_t, y < 0 ? (uint16_t)(0u - (uint16_t)y) : y)
LANES(k_pabsd, int32_t, y < 0 ? 0u - (uint32_t)y : (uint32_t)y)

KERNEL(k_pmaddwd)
{
	for (unsigned k = 0; k < n / 4; k++)
		/* the sum wraps: two -32768 * -32768 products give 80000000H */
		r->d[k] = (uint32_t)((int32_t)(int16_t)a->w[2 * k] * (int16_t)b->w[2 * k]) +
			  (uint32_t)((int32_t)(int16_t)a->w[2 * k + 1] * (int16_t)b->w[2 * k + 1]);
}

/* PMADDUBSW: unsigned bytes of the destination times signed bytes of the
 * source, pairs added with signed saturation. */
KERNEL(k_pmaddubsw)
{
	for (unsigned k = 0; k < n / 2; k++)
		r->w[k] = sat16s(a->b[2 * k] * (int8_t)b->b[2 * k] +
				 a->b[2 * k + 1] * (int8_t)b->b[2 * k + 1]);
}

KERNEL(k_psadbw)
{
	for (unsigned q = 0; q < n / 8; q++) {
		unsigned s = 0;

		for (unsigned k = 0; k < 8; k++) {
			int d = a->b[8 * q + k] - b->b[8 * q + k];

			s += d < 0 ? -d : d;
		}
		r->q[q] = s;
	}
}

/* ---- horizontal, pack, unpack ------------------------------------------------- */

/* The low half of r from pairs of a, the high half from pairs of b. */
#define HORIZ(name, T, expr)                                                             \
	KERNEL(name)                                                                     \
	{                                                                                \
		unsigned m = n / sizeof(T);                                              \
		T t[16];                                                                 \
		for (unsigned k = 0; k < m / 2; k++) {                                   \
			T x = ((const T *)a)[2 * k], y = ((const T *)a)[2 * k + 1];      \
			t[k] = (T)(expr);                                                \
			x = ((const T *)b)[2 * k], y = ((const T *)b)[2 * k + 1];        \
			t[m / 2 + k] = (T)(expr);                                        \
		}                                                                        \
		memcpy(r, t, n);                                                         \
	}

HORIZ(k_phaddw, uint16_t, x + y)
HORIZ(k_phaddd, uint32_t, x + y)
HORIZ(k_phsubw, uint16_t, x - y)
HORIZ(k_phsubd, uint32_t, x - y)
HORIZ(k_phaddsw, int16_t, sat16s(x + y))
HORIZ(k_phsubsw, int16_t, sat16s(x - y))

/* Narrowing with saturation: a's lanes then b's. */
#define PACK(name, TS, TD, sat)                                                          \
	KERNEL(name)                                                                     \
	{                                                                                \
		unsigned m = n / sizeof(TS);                                             \
		TD t[16];                                                                \
		for (unsigned k = 0; k < m; k++) {                                       \
			t[k] = sat(((const TS *)a)[k]);                                  \
			t[m + k] = sat(((const TS *)b)[k]);                              \
		}                                                                        \
		memcpy(r, t, n);                                                         \
	}

PACK(k_packsswb, int16_t, int8_t, sat8s)
PACK(k_packuswb, int16_t, uint8_t, sat8u)
PACK(k_packssdw, int32_t, int16_t, sat16s)
PACK(k_packusdw, int32_t, uint16_t, sat16u)

/* Interleaves the low (hi = 0) or high halves of a and b. */
#define UNPCK(name, T, hi)                                                               \
	KERNEL(name)                                                                     \
	{                                                                                \
		unsigned m = n / sizeof(T), base = (hi) ? m / 2 : 0;                     \
		T t[16];                                                                 \
		for (unsigned k = 0; k < m / 2; k++) {                                   \
			t[2 * k] = ((const T *)a)[base + k];                             \
			t[2 * k + 1] = ((const T *)b)[base + k];                         \
		}                                                                        \
		memcpy(r, t, n);                                                         \
	}

UNPCK(k_punpcklbw, uint8_t, 0)
UNPCK(k_punpcklwd, uint16_t, 0)
UNPCK(k_punpckldq, uint32_t, 0)
UNPCK(k_punpcklqdq, uint64_t, 0)
UNPCK(k_punpckhbw, uint8_t, 1)
UNPCK(k_punpckhwd, uint16_t, 1)
UNPCK(k_punpckhdq, uint32_t, 1)
UNPCK(k_punpckhqdq, uint64_t, 1)

/* ---- byte permutes --------------------------------------------------------------- */

KERNEL(k_pshufb)
{
	uint8_t t[16];

	for (unsigned k = 0; k < n; k++)
		t[k] = (b->b[k] & 0x80) ? 0 : a->b[b->b[k] & (n - 1)];
	memcpy(r, t, n);
}

/* PALIGNR: the concatenation a:b shifted right by imm bytes. */
KERNEL(k_palignr)
{
	uint8_t cat[32], t[16];

	memcpy(cat, b, n);
	memcpy(cat + n, a, n);
	for (unsigned k = 0; k < n; k++)
		t[k] = k + imm < 2 * n ? cat[k + imm] : 0;
	memcpy(r, t, n);
}

/* ---- shifts (count: the low quadword of b, or the immediate) -------------------- */

#define SHIFT(name, T, bits, expr_in, expr_out)                                          \
	KERNEL(name)                                                                     \
	{                                                                                \
		uint64_t c = b->q[0];                                                    \
		for (unsigned k = 0; k < n / sizeof(T); k++) {                           \
			T x = ((const T *)a)[k];                                         \
			((T *)r)[k] = c < (bits) ? (T)(expr_in) : (T)(expr_out);         \
		}                                                                        \
	}

SHIFT(k_psrlw, uint16_t, 16, x >> c, 0)
SHIFT(k_psrld, uint32_t, 32, x >> c, 0)
SHIFT(k_psrlq, uint64_t, 64, x >> c, 0)
SHIFT(k_psllw, uint16_t, 16, x << c, 0)
SHIFT(k_pslld, uint32_t, 32, x << c, 0)
SHIFT(k_psllq, uint64_t, 64, x << c, 0)
SHIFT(k_psraw, int16_t, 16, x >> c, x >> 15)
SHIFT(k_psrad, int32_t, 32, x >> c, x >> 31)

/* ---- shuffles and blends with an immediate -------------------------------------- */

KERNEL(k_pshufd)
{
	xmm_t t;

	for (unsigned k = 0; k < 4; k++)
		t.d[k] = b->d[(imm >> (2 * k)) & 3];
	*r = t;
}

/* PSHUFW (MMX, n = 8) and PSHUFLW: the low four words; PSHUFHW below. */
KERNEL(k_pshuflw)
{
	xmm_t t = *b;

	for (unsigned k = 0; k < 4; k++)
		t.w[k] = b->w[(imm >> (2 * k)) & 3];
	memcpy(r, &t, n);
}

KERNEL(k_pshufhw)
{
	xmm_t t = *b;

	for (unsigned k = 0; k < 4; k++)
		t.w[4 + k] = b->w[4 + ((imm >> (2 * k)) & 3)];
	*r = t;
}

KERNEL(k_shufps)
{
	xmm_t t;

	t.d[0] = a->d[imm & 3];
	t.d[1] = a->d[(imm >> 2) & 3];
	t.d[2] = b->d[(imm >> 4) & 3];
	t.d[3] = b->d[(imm >> 6) & 3];
	*r = t;
}

KERNEL(k_shufpd)
{
	xmm_t t;

	t.q[0] = a->q[imm & 1];
	t.q[1] = b->q[(imm >> 1) & 1];
	*r = t;
}

#define BLEND(name, T, lanes)                                                            \
	KERNEL(name)                                                                     \
	{                                                                                \
		for (unsigned k = 0; k < (lanes); k++)                                   \
			((T *)r)[k] = ((imm >> k) & 1) ? ((const T *)b)[k] : ((const T *)a)[k]; \
	}

BLEND(k_blendps, uint32_t, 4)
BLEND(k_blendpd, uint64_t, 2)
BLEND(k_pblendw, uint16_t, 8)

/* MPSADBW: eight sums of absolute differences of 4-byte groups. */
KERNEL(k_mpsadbw)
{
	unsigned so = (imm & 3) * 4, dof = ((imm >> 2) & 1) * 4;
	xmm_t t;

	for (unsigned k = 0; k < 8; k++) {
		unsigned s = 0;

		for (unsigned j = 0; j < 4; j++) {
			int d = a->b[dof + k + j] - b->b[so + j];

			s += d < 0 ? -d : d;
		}
		t.w[k] = s;
	}
	*r = t;
}

KERNEL(k_phminposuw)
{
	unsigned best = 0;
	xmm_t t = {{0}};

	for (unsigned k = 1; k < 8; k++)
		if (b->w[k] < b->w[best])
			best = k;
	t.w[0] = b->w[best];
	t.w[1] = best;
	*r = t;
}

/* Unary data movement: r = b. */
KERNEL(k_mov)
{
	memcpy(r, b, n);
}

KERNEL(k_movsldup)
{
	xmm_t t = {.d = {b->d[0], b->d[0], b->d[2], b->d[2]}};

	*r = t;
}

KERNEL(k_movshdup)
{
	xmm_t t = {.d = {b->d[1], b->d[1], b->d[3], b->d[3]}};

	*r = t;
}

/* ---- handler shapes ------------------------------------------------------------- */

/* The Q operand of an MMX instruction: an MMX register or 8 bytes of memory. */
static inline uint64_t mmx_Q(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	if (!i->has_mem)
		return gh_mmx_get(cpu, i->rm);
	return gh_mem_read_seg(cpu, i->seg, gh_exec_ea(cpu, i), 8);
}

#define MMX_OF(name, kern)                                                               \
	HANDLER(h_##name##_mmx)                                                          \
	{                                                                                \
		xmm_t a = {{0}}, b = {{0}}, r;                                           \
		gh_mmx_check(cpu);                                                       \
		b.q[0] = mmx_Q(cpu, i);                                                  \
		a.q[0] = gh_mmx_get(cpu, i->reg);                                        \
		kern(&r, &a, &b, 8, (uint8_t)i->imm);                                    \
		gh_mmx_set(cpu, i->reg, r.q[0]);                                         \
		gh_mmx_enter(cpu);                                                       \
	}

/* Vx,Wx with the alignment rule (W16 = gh_sse_Wa) or without (gh_sse_W). */
#define XMM_OF(name, kern, W16)                                                          \
	HANDLER(h_##name)                                                                \
	{                                                                                \
		xmm_t t, r;                                                              \
		const xmm_t *b;                                                          \
		gh_sse_check(cpu);                                                       \
		b = W16(cpu, i, &t);                                                     \
		kern(&r, &cpu->xmm[i->reg], b, 16, (uint8_t)i->imm);                     \
		cpu->xmm[i->reg] = r;                                                    \
	}

#define PACKED(name, kern) MMX_OF(name, kern) XMM_OF(name##_xmm, kern, gh_sse_Wa)

PACKED(paddb, k_paddb)
PACKED(paddw, k_paddw)
PACKED(paddd, k_paddd)
PACKED(paddq, k_paddq)
PACKED(psubb, k_psubb)
PACKED(psubw, k_psubw)
PACKED(psubd, k_psubd)
PACKED(psubq, k_psubq)
PACKED(paddsb, k_paddsb)
PACKED(paddsw, k_paddsw)
PACKED(paddusb, k_paddusb)
PACKED(paddusw, k_paddusw)
PACKED(psubsb, k_psubsb)
PACKED(psubsw, k_psubsw)
PACKED(psubusb, k_psubusb)
PACKED(psubusw, k_psubusw)
PACKED(pmullw, k_pmullw)
PACKED(pmulhw, k_pmulhw)
PACKED(pmulhuw, k_pmulhuw)
PACKED(pmulhrsw, k_pmulhrsw)
PACKED(pmuludq, k_pmuludq)
PACKED(pmaddwd, k_pmaddwd)
PACKED(pmaddubsw, k_pmaddubsw)
PACKED(psadbw, k_psadbw)
PACKED(pavgb, k_pavgb)
PACKED(pavgw, k_pavgw)
PACKED(pminub, k_pminub)
PACKED(pmaxub, k_pmaxub)
PACKED(pminsw, k_pminsw)
PACKED(pmaxsw, k_pmaxsw)
PACKED(pcmpeqb, k_pcmpeqb)
PACKED(pcmpeqw, k_pcmpeqw)
PACKED(pcmpeqd, k_pcmpeqd)
PACKED(pcmpgtb, k_pcmpgtb)
PACKED(pcmpgtw, k_pcmpgtw)
PACKED(pcmpgtd, k_pcmpgtd)
PACKED(pand, k_pand)
PACKED(pandn, k_pandn)
PACKED(por, k_por)
PACKED(pxor, k_pxor)
PACKED(psignb, k_psignb)
PACKED(psignw, k_psignw)
PACKED(psignd, k_psignd)
PACKED(pabsb, k_pabsb)
PACKED(pabsw, k_pabsw)
PACKED(pabsd, k_pabsd)
PACKED(phaddw, k_phaddw)
PACKED(phaddd, k_phaddd)
PACKED(phsubw, k_phsubw)
PACKED(phsubd, k_phsubd)
PACKED(phaddsw, k_phaddsw)
PACKED(phsubsw, k_phsubsw)
PACKED(packsswb, k_packsswb)
PACKED(packuswb, k_packuswb)
PACKED(packssdw, k_packssdw)
PACKED(punpcklbw, k_punpcklbw)
PACKED(punpcklwd, k_punpcklwd)
PACKED(punpckldq, k_punpckldq)
PACKED(punpckhbw, k_punpckhbw)
PACKED(punpckhwd, k_punpckhwd)
PACKED(punpckhdq, k_punpckhdq)
PACKED(pshufb, k_pshufb)
PACKED(palignr, k_palignr)
PACKED(psrlw, k_psrlw)
PACKED(psrld, k_psrld)
PACKED(psrlq, k_psrlq)
PACKED(psllw, k_psllw)
PACKED(pslld, k_pslld)
PACKED(psllq, k_psllq)
PACKED(psraw, k_psraw)
PACKED(psrad, k_psrad)
MMX_OF(pshufw, k_pshuflw)

XMM_OF(punpcklqdq, k_punpcklqdq, gh_sse_Wa)
XMM_OF(punpckhqdq, k_punpckhqdq, gh_sse_Wa)
XMM_OF(pminsb, k_pminsb, gh_sse_Wa)
XMM_OF(pmaxsb, k_pmaxsb, gh_sse_Wa)
XMM_OF(pminuw, k_pminuw, gh_sse_Wa)
XMM_OF(pmaxuw, k_pmaxuw, gh_sse_Wa)
XMM_OF(pminsd, k_pminsd, gh_sse_Wa)
XMM_OF(pmaxsd, k_pmaxsd, gh_sse_Wa)
XMM_OF(pminud, k_pminud, gh_sse_Wa)
XMM_OF(pmaxud, k_pmaxud, gh_sse_Wa)
XMM_OF(pcmpeqq, k_pcmpeqq, gh_sse_Wa)
XMM_OF(pcmpgtq, k_pcmpgtq, gh_sse_Wa)
XMM_OF(pmulld, k_pmulld, gh_sse_Wa)
XMM_OF(pmuldq, k_pmuldq, gh_sse_Wa)
XMM_OF(packusdw, k_packusdw, gh_sse_Wa)
XMM_OF(phminposuw, k_phminposuw, gh_sse_Wa)
XMM_OF(mpsadbw, k_mpsadbw, gh_sse_Wa)
XMM_OF(pshufd, k_pshufd, gh_sse_Wa)
XMM_OF(pshuflw, k_pshuflw, gh_sse_Wa)
XMM_OF(pshufhw, k_pshufhw, gh_sse_Wa)
XMM_OF(shufps, k_shufps, gh_sse_Wa)
XMM_OF(shufpd, k_shufpd, gh_sse_Wa)
XMM_OF(blendps, k_blendps, gh_sse_Wa)
XMM_OF(blendpd, k_blendpd, gh_sse_Wa)
XMM_OF(pblendw, k_pblendw, gh_sse_Wa)
XMM_OF(movsldup, k_movsldup, gh_sse_Wa)
XMM_OF(movshdup, k_movshdup, gh_sse_Wa)
/* MOVAPS/APD/DQA, MOVNTDQA: aligned loads; MOVUPS/UPD/DQU, LDDQU: not */
XMM_OF(mova_load, k_mov, gh_sse_Wa)
XMM_OF(movu_load, k_mov, gh_sse_W)

/* ---- shifts by an immediate (groups 12-14), the destination in r/m ------------- */

#define SHIFT_IMM(name, kern)                                                            \
	HANDLER(h_##name##_imm_mmx)                                                      \
	{                                                                                \
		xmm_t a = {{0}}, b = {.q = {(uint8_t)i->imm, 0}}, r;                     \
		gh_mmx_check(cpu);                                                       \
		a.q[0] = gh_mmx_get(cpu, i->rm);                                         \
		kern(&r, &a, &b, 8, 0);                                                  \
		gh_mmx_set(cpu, i->rm, r.q[0]);                                          \
		gh_mmx_enter(cpu);                                                       \
	}                                                                                \
	HANDLER(h_##name##_imm_xmm)                                                      \
	{                                                                                \
		xmm_t b = {.q = {(uint8_t)i->imm, 0}};                                   \
		gh_sse_check(cpu);                                                       \
		kern(&cpu->xmm[i->rm], &cpu->xmm[i->rm], &b, 16, 0);                     \
	}

SHIFT_IMM(psrlw, k_psrlw)
SHIFT_IMM(psrld, k_psrld)
SHIFT_IMM(psrlq, k_psrlq)
SHIFT_IMM(psllw, k_psllw)
SHIFT_IMM(pslld, k_pslld)
SHIFT_IMM(psllq, k_psllq)
SHIFT_IMM(psraw, k_psraw)
SHIFT_IMM(psrad, k_psrad)

/* PSRLDQ/PSLLDQ: whole-register byte shifts; counts above 15 clear it. */
HANDLER(h_psrldq)
{
	xmm_t t = {{0}};
	unsigned c = (uint8_t)i->imm;

	gh_sse_check(cpu);
	if (c < 16)
		memcpy(t.b, cpu->xmm[i->rm].b + c, 16 - c);
	cpu->xmm[i->rm] = t;
}

HANDLER(h_pslldq)
{
	xmm_t t = {{0}};
	unsigned c = (uint8_t)i->imm;

	gh_sse_check(cpu);
	if (c < 16)
		memcpy(t.b + c, cpu->xmm[i->rm].b, 16 - c);
	cpu->xmm[i->rm] = t;
}

/* ---- blends with XMM0 as the mask (SSE4.1) -------------------------------------- */

#define BLENDV(name, T)                                                                  \
	HANDLER(h_##name)                                                                \
	{                                                                                \
		xmm_t t;                                                                 \
		const xmm_t *b;                                                          \
		T *d = (T *)&cpu->xmm[i->reg];                                           \
		const T *m = (const T *)&cpu->xmm[0];                                    \
		gh_sse_check(cpu);                                                       \
		b = gh_sse_Wa(cpu, i, &t);                                               \
		for (unsigned k = 0; k < 16 / sizeof(T); k++)                            \
			if (m[k] >> (8 * sizeof(T) - 1))                                 \
				d[k] = ((const T *)b)[k];                                \
	}

BLENDV(pblendvb, uint8_t)
BLENDV(blendvps, uint32_t)
BLENDV(blendvpd, uint64_t)

/* ---- PTEST: ZF = (a AND b) = 0, CF = (NOT a AND b) = 0, the rest clear ---------- */

HANDLER(h_ptest)
{
	xmm_t t;
	const xmm_t *b, *a = &cpu->xmm[i->reg];
	uint64_t fl = 0;

	gh_sse_check(cpu);
	b = gh_sse_Wa(cpu, i, &t);
	if (!((a->q[0] & b->q[0]) | (a->q[1] & b->q[1])))
		fl |= GH_FL_ZF;
	if (!((~a->q[0] & b->q[0]) | (~a->q[1] & b->q[1])))
		fl |= GH_FL_CF;
	gh_flags_set(&cpu->lf, fl, GH_ALU_FLAGS);
}

/* ---- PMOVSX/PMOVZX: the low 2, 4 or 8 bytes widened; memory unaligned ------------ */

#define PMOVX(name, TS, TD)                                                              \
	HANDLER(h_##name)                                                                \
	{                                                                                \
		enum { N = 16 / sizeof(TD) };                                            \
		TS s[N];                                                                 \
		xmm_t t;                                                                 \
		gh_sse_check(cpu);                                                       \
		if (i->has_mem)                                                          \
			gh_mem_read_buf(cpu, i->seg, gh_exec_ea(cpu, i), s, sizeof(s));  \
		else                                                                     \
			memcpy(s, &cpu->xmm[i->rm], sizeof(s));                          \
		for (unsigned k = 0; k < N; k++)                                         \
			((TD *)&t)[k] = (TD)s[k];                                        \
		cpu->xmm[i->reg] = t;                                                    \
	}

PMOVX(pmovsxbw, int8_t, int16_t)
PMOVX(pmovsxbd, int8_t, int32_t)
PMOVX(pmovsxbq, int8_t, int64_t)
PMOVX(pmovsxwd, int16_t, int32_t)
PMOVX(pmovsxwq, int16_t, int64_t)
PMOVX(pmovsxdq, int32_t, int64_t)
PMOVX(pmovzxbw, uint8_t, uint16_t)
PMOVX(pmovzxbd, uint8_t, uint32_t)
PMOVX(pmovzxbq, uint8_t, uint64_t)
PMOVX(pmovzxwd, uint16_t, uint32_t)
PMOVX(pmovzxwq, uint16_t, uint64_t)
PMOVX(pmovzxdq, uint32_t, uint64_t)

/* ---- whole-register moves ----------------------------------------------------- */

static void store_W(struct gh_cpu *cpu, const struct gh_x86_insn *i, bool aligned)
{
	uint64_t off;

	gh_sse_check(cpu);
	if (!i->has_mem) {
		cpu->xmm[i->rm] = cpu->xmm[i->reg];
		return;
	}
	off = gh_exec_ea(cpu, i);
	if (aligned)
		gh_sse_check_align(cpu, i->seg, off);
	gh_sse_write128(cpu, i->seg, off, &cpu->xmm[i->reg]);
}

/* MOVAPS/APD/DQA Wx,Vx and MOVNTPS/PD/DQ */
HANDLER(h_mova_store)
{
	store_W(cpu, i, true);
}

HANDLER(h_movu_store)
{
	store_W(cpu, i, false);
}

/* ---- scalar and half moves -------------------------------------------------------- */

/* MOVSS/MOVSD Vx,Wx: a register merges the low lane, memory zeroes the rest. */
static void movs_load(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned size)
{
	uint64_t v;
	xmm_t *d = &cpu->xmm[i->reg];

	gh_sse_check(cpu);
	v = gh_sse_W_low(cpu, i, size);
	if (i->has_mem) {
		d->q[0] = v;
		d->q[1] = 0;
	} else if (size == 4) {
		d->d[0] = v;
	} else {
		d->q[0] = v;
	}
}

HANDLER(h_movss_load)
{
	movs_load(cpu, i, 4);
}

HANDLER(h_movsd_load)
{
	movs_load(cpu, i, 8);
}

static void movs_store(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned size)
{
	const xmm_t *s = &cpu->xmm[i->reg];

	gh_sse_check(cpu);
	if (i->has_mem)
		gh_mem_write_seg(cpu, i->seg, gh_exec_ea(cpu, i), size,
				 size == 4 ? s->d[0] : s->q[0]);
	else if (size == 4)
		cpu->xmm[i->rm].d[0] = s->d[0];
	else
		cpu->xmm[i->rm].q[0] = s->q[0];
}

HANDLER(h_movss_store)
{
	movs_store(cpu, i, 4);
}

HANDLER(h_movsd_store)
{
	movs_store(cpu, i, 8);
}

/*
 * The 64-bit halves: MOVLPS/LPD and MOVHPS/HPD load or store the low
 * (half 0) or high quadword; the register forms of 0F 12 and 0F 16 are
 * MOVHLPS and MOVLHPS, which take the source's other half.
 */
static void movhalf_load(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned half)
{
	gh_sse_check(cpu);
	if (i->has_mem)
		cpu->xmm[i->reg].q[half] = gh_mem_read_seg(cpu, i->seg, gh_exec_ea(cpu, i), 8);
	else
		cpu->xmm[i->reg].q[half] = cpu->xmm[i->rm].q[!half];
}

static void movhalf_store(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned half)
{
	gh_sse_check(cpu);
	gh_mem_write_seg(cpu, i->seg, gh_exec_ea(cpu, i), 8, cpu->xmm[i->reg].q[half]);
}

HANDLER(h_movlp_load)
{
	movhalf_load(cpu, i, 0);
}

HANDLER(h_movhp_load)
{
	movhalf_load(cpu, i, 1);
}

HANDLER(h_movlp_store)
{
	movhalf_store(cpu, i, 0);
}

HANDLER(h_movhp_store)
{
	movhalf_store(cpu, i, 1);
}

HANDLER(h_movddup)
{
	uint64_t v;

	gh_sse_check(cpu);
	v = gh_sse_W_low(cpu, i, 8);
	cpu->xmm[i->reg].q[0] = v;
	cpu->xmm[i->reg].q[1] = v;
}

/* ---- MOVD/MOVQ ----------------------------------------------------------------------- */

/* MOVD is 32 bits, MOVQ (REX.W) 64; a 66 prefix does not make it 16. */
static inline unsigned movd_size(const struct gh_x86_insn *i)
{
	return (i->rex & 8) ? 8 : 4;
}

HANDLER(h_movd_pq_ey)
{
	uint64_t v;

	gh_mmx_check(cpu);
	v = gh_exec_read_E(cpu, i, movd_size(i));
	gh_mmx_set(cpu, i->reg, v);
	gh_mmx_enter(cpu);
}

HANDLER(h_movd_ey_pq)
{
	gh_mmx_check(cpu);
	gh_exec_write_E(cpu, i, movd_size(i), gh_mmx_get(cpu, i->reg));
	gh_mmx_enter(cpu);
}

HANDLER(h_movd_vx_ey)
{
	uint64_t v;

	gh_sse_check(cpu);
	v = gh_exec_read_E(cpu, i, movd_size(i));
	cpu->xmm[i->reg].q[0] = v;
	cpu->xmm[i->reg].q[1] = 0;
}

HANDLER(h_movd_ey_vx)
{
	unsigned size = movd_size(i);

	gh_sse_check(cpu);
	gh_exec_write_E(cpu, i, size, size == 8 ? cpu->xmm[i->reg].q[0] : cpu->xmm[i->reg].d[0]);
}

HANDLER(h_movq_pq_qq)
{
	uint64_t v;

	gh_mmx_check(cpu);
	v = mmx_Q(cpu, i);
	gh_mmx_set(cpu, i->reg, v);
	gh_mmx_enter(cpu);
}

HANDLER(h_movq_qq_pq)
{
	gh_mmx_check(cpu);
	if (i->has_mem)
		gh_mem_write_seg(cpu, i->seg, gh_exec_ea(cpu, i), 8, gh_mmx_get(cpu, i->reg));
	else
		gh_mmx_set(cpu, i->rm, gh_mmx_get(cpu, i->reg));
	gh_mmx_enter(cpu);
}

/* MOVQ Vq,Wq (F3 0F 7E): the low quadword, the upper one zeroed. */
HANDLER(h_movq_vq_wq)
{
	uint64_t v;

	gh_sse_check(cpu);
	v = gh_sse_W_low(cpu, i, 8);
	cpu->xmm[i->reg].q[0] = v;
	cpu->xmm[i->reg].q[1] = 0;
}

/* MOVQ Wq,Vq (66 0F D6): to a register it zeroes the upper quadword too. */
HANDLER(h_movq_wq_vq)
{
	uint64_t v = cpu->xmm[i->reg].q[0];

	gh_sse_check(cpu);
	if (i->has_mem) {
		gh_mem_write_seg(cpu, i->seg, gh_exec_ea(cpu, i), 8, v);
		return;
	}
	cpu->xmm[i->rm].q[0] = v;
	cpu->xmm[i->rm].q[1] = 0;
}

/* MOVQ2DQ and MOVDQ2Q are both MMX transitions (SDM vol. 2B). */
HANDLER(h_movq2dq)
{
	gh_sse_check(cpu);
	gh_mmx_check(cpu);
	cpu->xmm[i->reg].q[0] = gh_mmx_get(cpu, i->rm);
	cpu->xmm[i->reg].q[1] = 0;
	gh_mmx_enter(cpu);
}

HANDLER(h_movdq2q)
{
	gh_sse_check(cpu);
	gh_mmx_check(cpu);
	gh_mmx_set(cpu, i->reg, cpu->xmm[i->rm].q[0]);
	gh_mmx_enter(cpu);
}

HANDLER(h_movntq)
{
	gh_mmx_check(cpu);
	gh_mem_write_seg(cpu, i->seg, gh_exec_ea(cpu, i), 8, gh_mmx_get(cpu, i->reg));
	gh_mmx_enter(cpu);
}

/* MOVNTI My,Gy: an ordinary store for an interpreter with no caches. */
HANDLER(h_movnti)
{
	unsigned size = (i->rex & 8) ? 8 : 4;

	gh_mem_write_seg(cpu, i->seg, gh_exec_ea(cpu, i), size, gh_reg_get(cpu, i->reg, size));
}

/* ---- masks to general registers --------------------------------------------------------- */

/* The sign bits of each byte of v, packed (bit k from byte k). */
static inline unsigned byte_signs(uint64_t v)
{
	/* gather bit 7 of every byte into the top byte */
	return (unsigned)((((v >> 7) & 0x0101010101010101ULL) * 0x0102040810204080ULL) >> 56);
}

HANDLER(h_pmovmskb_mmx)
{
	gh_mmx_check(cpu);
	gh_reg_set(cpu, i->reg, 8, byte_signs(gh_mmx_get(cpu, i->rm)));
	gh_mmx_enter(cpu);
}

HANDLER(h_pmovmskb_xmm)
{
	const xmm_t *s = &cpu->xmm[i->rm];

	gh_sse_check(cpu);
	gh_reg_set(cpu, i->reg, 8, byte_signs(s->q[0]) | byte_signs(s->q[1]) << 8);
}

HANDLER(h_movmskps)
{
	const xmm_t *s = &cpu->xmm[i->rm];

	gh_sse_check(cpu);
	gh_reg_set(cpu, i->reg, 8, (s->d[0] >> 31) | (s->d[1] >> 31) << 1 |
				   (s->d[2] >> 31) << 2 | (s->d[3] >> 31) << 3);
}

HANDLER(h_movmskpd)
{
	const xmm_t *s = &cpu->xmm[i->rm];

	gh_sse_check(cpu);
	gh_reg_set(cpu, i->reg, 8, (s->q[0] >> 63) | (s->q[1] >> 63) << 1);
}

/*
 * MASKMOVQ/MASKMOVDQU: the bytes whose mask byte has its top bit set go to
 * DS:rDI (a segment override applies). The whole span is checked for
 * writing first so a fault stores nothing; an all-zero mask touches no
 * memory (SDM allows either for faults then; this takes none).
 */
static void maskmov(struct gh_cpu *cpu, const struct gh_x86_insn *i, const uint8_t *src,
		    const uint8_t *mask, unsigned n)
{
	unsigned seg = i->seg_prefix != GH_X86_SEG_NONE ? i->seg_prefix : GH_DS;
	uint64_t off = cpu->gpr[GH_RDI] & gh_size_mask(i->addrsize);
	bool any = false;

	for (unsigned k = 0; k < n; k++)
		any |= mask[k] >> 7;
	if (!any)
		return;
	gh_mem_probe_write(cpu, seg, off, n);
	for (unsigned k = 0; k < n; k++)
		if (mask[k] >> 7)
			gh_mem_write_seg(cpu, seg, (off + k) & gh_size_mask(i->addrsize), 1, src[k]);
}

HANDLER(h_maskmovq)
{
	uint64_t s, m;

	gh_mmx_check(cpu);
	s = gh_mmx_get(cpu, i->reg);
	m = gh_mmx_get(cpu, i->rm);
	maskmov(cpu, i, (const uint8_t *)&s, (const uint8_t *)&m, 8);
	gh_mmx_enter(cpu);
}

HANDLER(h_maskmovdqu)
{
	xmm_t s, m;

	gh_sse_check(cpu);
	s = cpu->xmm[i->reg];
	m = cpu->xmm[i->rm];
	maskmov(cpu, i, s.b, m.b, 16);
}

/* ---- inserts and extracts ------------------------------------------------------------------ */

/* The value for an Ry/Mw-style source of size bytes: a GPR's low bits or memory. */
static inline uint64_t src_E(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned size)
{
	if (!i->has_mem)
		return cpu->gpr[i->rm] & gh_size_mask(size);
	return gh_mem_read_seg(cpu, i->seg, gh_exec_ea(cpu, i), size);
}

/* A destination Rd/Mb-style: memory of size bytes, or the whole GPR
 * zero-extended (the 32-bit or 64-bit register, upper bits cleared). */
static inline void dst_E(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned size,
			 uint64_t v)
{
	if (i->has_mem)
		gh_mem_write_seg(cpu, i->seg, gh_exec_ea(cpu, i), size, v);
	else
		gh_reg_set(cpu, i->rm, 8, v & gh_size_mask(size));
}

HANDLER(h_pinsrw_mmx)
{
	uint64_t v, mm;
	unsigned sh = ((uint8_t)i->imm & 3) * 16;

	gh_mmx_check(cpu);
	v = src_E(cpu, i, 2);
	mm = gh_mmx_get(cpu, i->reg);
	gh_mmx_set(cpu, i->reg, (mm & ~(0xffffULL << sh)) | v << sh);
	gh_mmx_enter(cpu);
}

HANDLER(h_pinsrw_xmm)
{
	uint64_t v;

	gh_sse_check(cpu);
	v = src_E(cpu, i, 2);
	cpu->xmm[i->reg].w[i->imm & 7] = v;
}

HANDLER(h_pinsrb)
{
	uint64_t v;

	gh_sse_check(cpu);
	v = src_E(cpu, i, 1);
	cpu->xmm[i->reg].b[i->imm & 15] = v;
}

HANDLER(h_pinsrd)
{
	uint64_t v;

	gh_sse_check(cpu);
	if (i->rex & 8) {
		v = src_E(cpu, i, 8);
		cpu->xmm[i->reg].q[i->imm & 1] = v;
	} else {
		v = src_E(cpu, i, 4);
		cpu->xmm[i->reg].d[i->imm & 3] = v;
	}
}

HANDLER(h_pextrw_mmx)
{
	gh_mmx_check(cpu);
	gh_reg_set(cpu, i->reg, 8, (gh_mmx_get(cpu, i->rm) >> ((i->imm & 3) * 16)) & 0xffff);
	gh_mmx_enter(cpu);
}

HANDLER(h_pextrw_gd_ux)
{
	gh_sse_check(cpu);
	gh_reg_set(cpu, i->reg, 8, cpu->xmm[i->rm].w[i->imm & 7]);
}

HANDLER(h_pextrb)
{
	gh_sse_check(cpu);
	dst_E(cpu, i, 1, cpu->xmm[i->reg].b[i->imm & 15]);
}

HANDLER(h_pextrw_ew)
{
	gh_sse_check(cpu);
	dst_E(cpu, i, 2, cpu->xmm[i->reg].w[i->imm & 7]);
}

HANDLER(h_pextrd)
{
	gh_sse_check(cpu);
	if (i->rex & 8)
		dst_E(cpu, i, 8, cpu->xmm[i->reg].q[i->imm & 1]);
	else
		dst_E(cpu, i, 4, cpu->xmm[i->reg].d[i->imm & 3]);
}

/* EXTRACTPS Ed: a register destination takes 32 bits, zero-extended. */
HANDLER(h_extractps)
{
	gh_sse_check(cpu);
	dst_E(cpu, i, 4, cpu->xmm[i->reg].d[i->imm & 3]);
}

/* INSERTPS: source lane imm[7:6] (a register) or the dword in memory into
 * lane imm[5:4], then lanes in imm[3:0] cleared. */
HANDLER(h_insertps)
{
	unsigned imm = (uint8_t)i->imm;
	uint32_t v;
	xmm_t *d = &cpu->xmm[i->reg];

	gh_sse_check(cpu);
	if (i->has_mem)
		v = gh_mem_read_seg(cpu, i->seg, gh_exec_ea(cpu, i), 4);
	else
		v = cpu->xmm[i->rm].d[imm >> 6];
	d->d[(imm >> 4) & 3] = v;
	for (unsigned k = 0; k < 4; k++)
		if ((imm >> k) & 1)
			d->d[k] = 0;
}

/* ---- EMMS ------------------------------------------------------------------------------------- */

/* Every x87 register tagged empty and TOP = 0 (SDM vol. 1, table 9-2). */
HANDLER(h_emms)
{
	gh_mmx_check(cpu);
	cpu->x87.fsw &= ~GH_FSW_TOP;
	cpu->x87.ftw = 0;
}

/* ---- FXSAVE and FXRSTOR (SDM vol. 2A, FXSAVE, tables 3-53 and 3-56) ----------------------- */

static inline void put(uint8_t *p, uint64_t v, unsigned n)
{
	memcpy(p, &v, n);
}

static inline uint64_t get(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	memcpy(&v, p, n);
	return v;
}

/* The x87 part of the image: bytes 0-23 and the registers at 32-159. */
static void x87_to_image(const struct gh_cpu *cpu, uint8_t *img, bool w64)
{
	const struct gh_x87 *f = &cpu->x87;
	unsigned top = (f->fsw >> 11) & 7;

	memset(img, 0, 160);	/* MXCSR (24-31) is the caller's */
	put(img, f->fcw, 2);
	put(img + 2, f->fsw, 2);
	img[4] = f->ftw;
	put(img + 6, f->fop, 2);
	if (w64) {
		put(img + 8, f->fip, 8);
		put(img + 16, f->fdp, 8);
	} else {
		put(img + 8, f->fip, 4);
		put(img + 12, f->fcs, 2);
		put(img + 16, f->fdp, 4);
		put(img + 20, f->fds, 2);
	}
	for (unsigned k = 0; k < 8; k++) {
		const struct gh_f80 *r = &f->r[(top + k) & 7];

		put(img + 32 + 16 * k, r->mant, 8);
		put(img + 40 + 16 * k, r->sexp, 2);
	}
}

static void x87_from_image(struct gh_cpu *cpu, const uint8_t *img, bool w64)
{
	struct gh_x87 *f = &cpu->x87;
	unsigned top;

	/*
	 * What the host does with the image's control and status words: FCW
	 * bit 6 reads as 1 and bits 7, 13-15 as 0; FSW.ES is recomputed from
	 * the exception flags left unmasked, and B mirrors it (SDM vol. 1,
	 * 8.1.3, 8.1.5).
	 */
	f->fcw = (get(img, 2) & 0x1f3f) | 0x40;
	f->fsw = get(img + 2, 2) & 0x7f7f;
	if (f->fsw & ~f->fcw & 0x3f)
		f->fsw |= GH_FSW_ES | 0x8000;
	else
		f->ferr = false; /* FERR# follows ES (SDM vol. 1, D.2.1) */
	f->ftw = img[4];
	f->fop = get(img + 6, 2) & 0x7ff;
	if (w64) {
		f->fip = get(img + 8, 8);
		f->fdp = get(img + 16, 8);
		f->fcs = f->fds = 0;
	} else {
		f->fip = get(img + 8, 4);
		f->fcs = get(img + 12, 2);
		f->fdp = get(img + 16, 4);
		f->fds = get(img + 20, 2);
	}
	top = (f->fsw >> 11) & 7;
	for (unsigned k = 0; k < 8; k++) {
		struct gh_f80 *r = &f->r[(top + k) & 7];

		r->mant = get(img + 32 + 16 * k, 8);
		r->sexp = get(img + 40 + 16 * k, 2);
	}
}

/* The x87 init configuration of XRSTOR (SDM vol. 1, 13.6): FCW 037FH, an
 * empty stack of zeros. */
static void x87_init(struct gh_cpu *cpu)
{
	memset(&cpu->x87, 0, sizeof(cpu->x87));
	cpu->x87.fcw = 0x37f;
}

void gh_sse_fxsave_image(const struct gh_cpu *cpu, uint8_t *img, bool w64, unsigned nxmm)
{
	x87_to_image(cpu, img, w64);
	put(img + 24, cpu->mxcsr, 4);
	put(img + 28, GH_MXCSR_MASK, 4);
	memcpy(img + 160, cpu->xmm, 16 * nxmm);
}

int gh_sse_fxrstor_image(struct gh_cpu *cpu, const uint8_t *img, bool w64, unsigned nxmm)
{
	uint32_t mxcsr = get(img + 24, 4);

	if (mxcsr & ~GH_MXCSR_MASK)
		return -1;
	x87_from_image(cpu, img, w64);
	cpu->mxcsr = mxcsr;
	memcpy(cpu->xmm, img + 160, 16 * nxmm);
	return 0;
}

/* XMM8-15 exist in 64-bit mode only. */
static inline unsigned nxmm(const struct gh_cpu *cpu)
{
	return cpu->mode == GH_MODE_LONG ? 16 : 8;
}

/* The image's first bytes that FXSAVE writes: nothing past the XMM area. */
#define FX_LEN(n) (160 + 16 * (n))

/* FXSAVE and FXRSTOR: #NM with CR0.EM or TS; #GP(0) unless 16-byte aligned. */
static uint64_t fx_begin(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t off;

	if (cpu->cr0 & (GH_CR0_EM | GH_CR0_TS))
		gh_cpu_raise_noerr(cpu, GH_EXC_NM);
	off = gh_exec_ea(cpu, i);
	gh_sse_check_align(cpu, i->seg, off);
	return off;
}

HANDLER(h_fxsave)
{
	uint8_t img[FX_LEN(16)];
	uint64_t off = fx_begin(cpu, i);
	unsigned n = nxmm(cpu);

	gh_sse_fxsave_image(cpu, img, i->rex & 8, n);
	memset(img + 160 + 16 * n, 0, sizeof(img) - 160 - 16 * n);
	gh_mem_write_buf(cpu, i->seg, off, img, FX_LEN(n));
}

HANDLER(h_fxrstor)
{
	uint8_t img[FX_LEN(16)];
	uint64_t off = fx_begin(cpu, i);
	unsigned n = nxmm(cpu);

	gh_mem_read_buf(cpu, i->seg, off, img, FX_LEN(n));
	if (gh_sse_fxrstor_image(cpu, img, i->rex & 8, n))
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
}

/* ---- XSAVE, XRSTOR, XGETBV, XSETBV (SDM vol. 1, chapter 13; vol. 2) ------------------------- */

#define XSAVE_HDR 512

/* #UD without CR4.OSXSAVE, #NM with CR0.TS. */
static void xsave_check(struct gh_cpu *cpu)
{
	if (!(cpu->cr4 & GH_CR4_OSXSAVE))
		gh_exec_ud(cpu);
	if (cpu->cr0 & GH_CR0_TS)
		gh_cpu_raise_noerr(cpu, GH_EXC_NM);
}

static uint64_t xsave_begin(struct gh_cpu *cpu, const struct gh_x86_insn *i, uint64_t *rfbm)
{
	uint64_t off;

	xsave_check(cpu);
	off = gh_exec_ea(cpu, i);
	if (gh_sse_lin(cpu, i->seg, off) & 63)
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	*rfbm = ((cpu->gpr[GH_RDX] << 32) | (uint32_t)cpu->gpr[GH_RAX]) & cpu->xcr0;
	return off;
}

/*
 * XSAVE and XSAVEOPT (which may skip unmodified state; saving it is
 * allowed): the requested components of x87 (bit 0) and SSE (bit 1), and
 * their XSTATE_BV bits. XINUSE is taken as 1 for both, which the SDM
 * permits (13.6). Everything is probed before the first byte is written.
 */
HANDLER(h_xsave)
{
	uint8_t img[FX_LEN(16)];
	uint64_t rfbm, bv, off = xsave_begin(cpu, i, &rfbm);
	unsigned n = nxmm(cpu);
	gh_mem_probe_write(cpu, i->seg, off, XSAVE_HDR + 8);
	bv = gh_mem_read_seg(cpu, i->seg, off + XSAVE_HDR, 8);
	gh_sse_fxsave_image(cpu, img, i->rex & 8, n);
	if (rfbm & 1) {
		gh_mem_write_buf(cpu, i->seg, off, img, 24);
		gh_mem_write_buf(cpu, i->seg, off + 32, img + 32, 128);
	}
	if (rfbm & 2) {
		gh_mem_write_buf(cpu, i->seg, off + 24, img + 24, 8);
		gh_mem_write_buf(cpu, i->seg, off + 160, img + 160, 16 * n);
	}
	gh_mem_write_seg(cpu, i->seg, off + XSAVE_HDR, 8, (bv & ~rfbm) | (rfbm & 3));
}

/*
 * XRSTOR, standard form: #GP(0) if XSTATE_BV names a component XCR0 does
 * not enable or if header bytes 8-23 (XCOMP_BV, no compaction here) are
 * not 0, or for reserved MXCSR bits. Requested components whose XSTATE_BV
 * bit is clear get their init configuration; MXCSR comes from memory
 * whenever SSE is requested.
 */
HANDLER(h_xrstor)
{
	uint8_t img[FX_LEN(16)], hdr[24];
	uint64_t rfbm, bv, off = xsave_begin(cpu, i, &rfbm);
	unsigned n = nxmm(cpu);
	uint32_t mxcsr;

	gh_mem_read_buf(cpu, i->seg, off + XSAVE_HDR, hdr, sizeof(hdr));
	bv = get(hdr, 8);
	if ((bv & ~cpu->xcr0) || get(hdr + 8, 8) || get(hdr + 16, 8))
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	gh_mem_read_buf(cpu, i->seg, off, img, FX_LEN(n));
	mxcsr = get(img + 24, 4);
	if ((rfbm & 2) && (mxcsr & ~GH_MXCSR_MASK))
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	if (rfbm & 1) {
		if (bv & 1)
			x87_from_image(cpu, img, i->rex & 8);
		else
			x87_init(cpu);
	}
	if (rfbm & 2) {
		cpu->mxcsr = mxcsr;
		if (bv & 2)
			memcpy(cpu->xmm, img + 160, 16 * n);
		else
			memset(cpu->xmm, 0, 16 * n);
	}
}

/* XGETBV: ECX = 0 reads XCR0; XINUSE (ECX = 1) is not offered: #GP(0). */
HANDLER(h_xgetbv)
{
	xsave_check(cpu);
	if ((uint32_t)cpu->gpr[GH_RCX])
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	cpu->gpr[GH_RAX] = (uint32_t)cpu->xcr0;
	cpu->gpr[GH_RDX] = cpu->xcr0 >> 32;
}

/* XSETBV: CPL 0 only; XCR0 must keep x87 (bit 0) and enable nothing but
 * x87 and SSE (no AVX here): #GP(0). */
HANDLER(h_xsetbv)
{
	uint64_t v = (cpu->gpr[GH_RDX] << 32) | (uint32_t)cpu->gpr[GH_RAX];

	if (!(cpu->cr4 & GH_CR4_OSXSAVE))
		gh_exec_ud(cpu);
	if (cpu->cpl || cpu->mode == GH_MODE_V86 || (uint32_t)cpu->gpr[GH_RCX] ||
	    !(v & GH_XCR0_X87) || (v & ~GH_XCR0_VALID))
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	cpu->xcr0 = v;
}

/* ---- the bind table ----------------------------------------------------------------------------- */

#define B(op, fn) { GH_X86_OP_##op, fn }
#define BP(N, n) B(N##_Pq_Qq, h_##n##_mmx), B(N##_Vx_Wx, h_##n##_xmm)
#define BX(N, n) B(N, h_##n)
#define BSH(N, n) B(N##_Nq_Ib, h_##n##_imm_mmx), B(N##_Ux_Ib, h_##n##_imm_xmm)

const struct gh_handler_bind gh_exec_sse_binds[] = {
	/* moves */
	B(MOVUPS_Vps_Wps, h_movu_load), B(MOVUPD_Vpd_Wpd, h_movu_load),
	B(MOVDQU_Vx_Wx, h_movu_load), B(LDDQU, h_movu_load),
	B(MOVAPS, h_mova_load), B(MOVAPD, h_mova_load), B(MOVDQA_Vx_Wx, h_mova_load),
	B(MOVNTDQA, h_mova_load),
	B(MOVUPS_Wps_Vps, h_movu_store), B(MOVUPD_Wpd_Vpd, h_movu_store),
	B(MOVDQU_Wx_Vx, h_movu_store),
	B(MOVAPS_Wps_Vps, h_mova_store), B(MOVAPD_Wpd_Vpd, h_mova_store),
	B(MOVDQA_Wx_Vx, h_mova_store), B(MOVNTPS, h_mova_store), B(MOVNTPD, h_mova_store),
	B(MOVNTDQ, h_mova_store),
	B(MOVSS_Vss_Wss, h_movss_load), B(MOVSD_Vsd_Wsd, h_movsd_load),
	B(MOVSS_Wss_Vss, h_movss_store), B(MOVSD_Wsd_Vsd, h_movsd_store),
	B(MOVLPS_Vq_Mq, h_movlp_load), B(MOVLPD_Vq_Mq, h_movlp_load),
	B(MOVHPS_Vdq_Mq, h_movhp_load), B(MOVHPD_Vdq_Mq, h_movhp_load),
	B(MOVLPS_Mq_Vq, h_movlp_store), B(MOVLPD_Mq_Vq, h_movlp_store),
	B(MOVHPS_Mq_Vq, h_movhp_store), B(MOVHPD_Mq_Vq, h_movhp_store),
	B(MOVSLDUP, h_movsldup), B(MOVSHDUP, h_movshdup), B(MOVDDUP, h_movddup),
	B(MOVD_Pq_Ey, h_movd_pq_ey), B(MOVD_Ey_Pq, h_movd_ey_pq),
	B(MOVD_Vx_Ey, h_movd_vx_ey), B(MOVD_Ey_Vx, h_movd_ey_vx),
	B(MOVQ_Pq_Qq, h_movq_pq_qq), B(MOVQ_Qq_Pq, h_movq_qq_pq),
	B(MOVQ_Vq_Wq, h_movq_vq_wq), B(MOVQ_Wq_Vq, h_movq_wq_vq),
	B(MOVQ2DQ, h_movq2dq), B(MOVDQ2Q, h_movdq2q),
	B(MOVNTQ, h_movntq), B(MOVNTI_My_Gy, h_movnti),
	B(MASKMOVQ, h_maskmovq), B(MASKMOVDQU, h_maskmovdqu),
	B(MOVMSKPS, h_movmskps), B(MOVMSKPD, h_movmskpd),
	B(PMOVMSKB_Gd_Nq, h_pmovmskb_mmx), B(PMOVMSKB_Gd_Ux, h_pmovmskb_xmm),
	/* logic: the PS/PD forms are the same bits */
	B(ANDPS, h_pand_xmm), B(ANDPD, h_pand_xmm), B(ANDNPS, h_pandn_xmm),
	B(ANDNPD, h_pandn_xmm), B(ORPS, h_por_xmm), B(ORPD, h_por_xmm),
	B(XORPS, h_pxor_xmm), B(XORPD, h_pxor_xmm),
	BP(PAND, pand), BP(PANDN, pandn), BP(POR, por), BP(PXOR, pxor),
	/* packed integer arithmetic */
	BP(PADDB, paddb), BP(PADDW, paddw), BP(PADDD, paddd), BP(PADDQ, paddq),
	BP(PSUBB, psubb), BP(PSUBW, psubw), BP(PSUBD, psubd), BP(PSUBQ, psubq),
	BP(PADDSB, paddsb), BP(PADDSW, paddsw), BP(PADDUSB, paddusb), BP(PADDUSW, paddusw),
	BP(PSUBSB, psubsb), BP(PSUBSW, psubsw), BP(PSUBUSB, psubusb), BP(PSUBUSW, psubusw),
	BP(PMULLW, pmullw), BP(PMULHW, pmulhw), BP(PMULHUW, pmulhuw),
	BP(PMULHRSW, pmulhrsw), BP(PMULUDQ, pmuludq), BP(PMADDWD, pmaddwd),
	BP(PMADDUBSW, pmaddubsw), BP(PSADBW, psadbw), BP(PAVGB, pavgb), BP(PAVGW, pavgw),
	BP(PMINUB, pminub), BP(PMAXUB, pmaxub), BP(PMINSW, pminsw), BP(PMAXSW, pmaxsw),
	BP(PCMPEQB, pcmpeqb), BP(PCMPEQW, pcmpeqw), BP(PCMPEQD, pcmpeqd),
	BP(PCMPGTB, pcmpgtb), BP(PCMPGTW, pcmpgtw), BP(PCMPGTD, pcmpgtd),
	BP(PSIGNB, psignb), BP(PSIGNW, psignw), BP(PSIGND, psignd),
	BP(PABSB, pabsb), BP(PABSW, pabsw), BP(PABSD, pabsd),
	BP(PHADDW, phaddw), BP(PHADDD, phaddd), BP(PHSUBW, phsubw), BP(PHSUBD, phsubd),
	BP(PHADDSW, phaddsw), BP(PHSUBSW, phsubsw),
	BX(PMINSB, pminsb), BX(PMAXSB, pmaxsb), BX(PMINUW, pminuw), BX(PMAXUW, pmaxuw),
	BX(PMINSD, pminsd), BX(PMAXSD, pmaxsd), BX(PMINUD, pminud), BX(PMAXUD, pmaxud),
	BX(PCMPEQQ, pcmpeqq), BX(PCMPGTQ, pcmpgtq), BX(PMULLD, pmulld), BX(PMULDQ, pmuldq),
	BX(PHMINPOSUW, phminposuw), BX(MPSADBW, mpsadbw),
	/* pack, unpack, shuffle */
	BP(PACKSSWB, packsswb), BP(PACKUSWB, packuswb), BP(PACKSSDW, packssdw),
	BX(PACKUSDW, packusdw),
	BP(PUNPCKLBW, punpcklbw), BP(PUNPCKLWD, punpcklwd), BP(PUNPCKLDQ, punpckldq),
	BP(PUNPCKHBW, punpckhbw), BP(PUNPCKHWD, punpckhwd), BP(PUNPCKHDQ, punpckhdq),
	BX(PUNPCKLQDQ, punpcklqdq), BX(PUNPCKHQDQ, punpckhqdq),
	B(UNPCKLPS, h_punpckldq_xmm), B(UNPCKHPS, h_punpckhdq_xmm),
	B(UNPCKLPD, h_punpcklqdq), B(UNPCKHPD, h_punpckhqdq),
	BP(PSHUFB, pshufb), B(PALIGNR_Pq_Qq, h_palignr_mmx), B(PALIGNR_Vx_Wx, h_palignr_xmm),
	B(PSHUFW, h_pshufw_mmx), BX(PSHUFD, pshufd), BX(PSHUFLW, pshuflw),
	BX(PSHUFHW, pshufhw), BX(SHUFPS, shufps), BX(SHUFPD, shufpd),
	BX(BLENDPS, blendps), BX(BLENDPD, blendpd), BX(PBLENDW, pblendw),
	BX(PBLENDVB, pblendvb), BX(BLENDVPS, blendvps), BX(BLENDVPD, blendvpd),
	BX(PTEST, ptest),
	BX(PMOVSXBW, pmovsxbw), BX(PMOVSXBD, pmovsxbd), BX(PMOVSXBQ, pmovsxbq),
	BX(PMOVSXWD, pmovsxwd), BX(PMOVSXWQ, pmovsxwq), BX(PMOVSXDQ, pmovsxdq),
	BX(PMOVZXBW, pmovzxbw), BX(PMOVZXBD, pmovzxbd), BX(PMOVZXBQ, pmovzxbq),
	BX(PMOVZXWD, pmovzxwd), BX(PMOVZXWQ, pmovzxwq), BX(PMOVZXDQ, pmovzxdq),
	/* inserts, extracts */
	B(PINSRW_Pq_Ew, h_pinsrw_mmx), B(PINSRW_Vx_Ew, h_pinsrw_xmm),
	BX(PINSRB, pinsrb), BX(PINSRD, pinsrd), BX(INSERTPS, insertps),
	B(PEXTRW_Gd_Nq, h_pextrw_mmx), B(PEXTRW_Gd_Ux, h_pextrw_gd_ux),
	B(PEXTRW_Ew_Vx, h_pextrw_ew), BX(PEXTRB, pextrb), BX(PEXTRD, pextrd),
	BX(EXTRACTPS, extractps),
	/* shifts */
	BP(PSRLW, psrlw), BP(PSRLD, psrld), BP(PSRLQ, psrlq), BP(PSLLW, psllw),
	BP(PSLLD, pslld), BP(PSLLQ, psllq), BP(PSRAW, psraw), BP(PSRAD, psrad),
	BSH(PSRLW, psrlw), BSH(PSRLD, psrld), BSH(PSRLQ, psrlq), BSH(PSLLW, psllw),
	BSH(PSLLD, pslld), BSH(PSLLQ, psllq), BSH(PSRAW, psraw), BSH(PSRAD, psrad),
	B(PSRLDQ_Ux_Ib, h_psrldq), B(PSLLDQ_Ux_Ib, h_pslldq),
	B(EMMS, h_emms),
	/* state */
	B(FXSAVE, h_fxsave), B(FXRSTOR, h_fxrstor), B(XSAVE, h_xsave),
	B(XSAVEOPT, h_xsave), B(XRSTOR, h_xrstor), B(XGETBV, h_xgetbv),
	B(XSETBV, h_xsetbv),
	{ 0, NULL },
};
