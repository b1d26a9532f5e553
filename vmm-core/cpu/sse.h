/*
 * What the MMX and SSE handlers share (exec-sse.c, exec-ssefp.c): whether
 * an instruction may run at all (SDM vol. 2A, 2.5 "exception classes",
 * vol. 3A 13.1/13.2), MXCSR's constants, and the XMM/MMX operand accessors
 * with the 16-byte alignment rule of the legacy SSE encodings.
 */
#ifndef GH_CPU_SSE_H
#define GH_CPU_SSE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu/exec.h"

/* MXCSR (SDM vol. 1, 10.2.3): DAZ is supported, so every low 16 bits is
 * writable and MXCSR_MASK in the FXSAVE image is 0xffff (11.6.6). Setting
 * a bit outside the mask is #GP(0) (LDMXCSR, FXRSTOR, XRSTOR). */
#define GH_MXCSR_MASK	0xffffu
#define GH_MXCSR_RESET	0x1f80u

/* XCR0 (SDM vol. 1, 13.3): the components this CPU has, x87 and SSE. */
#define GH_XCR0_X87	(1ULL << 0)
#define GH_XCR0_SSE	(1ULL << 1)
#define GH_XCR0_VALID	(GH_XCR0_X87 | GH_XCR0_SSE)

/*
 * The FXSAVE image (SDM vol. 2A, FXSAVE, tables 3-53 and 3-56) of the CPU's
 * x87, MMX and SSE state, in the 64-bit layout (w64: FIP/FDP 64 bits) or
 * the 32-bit one (FCS/FDS), with XMM0 to XMM(nxmm - 1); img holds at
 * least 160 + 16 * nxmm bytes. Loading fails (-1, nothing changed) if
 * MXCSR sets a reserved bit.
 */
void gh_sse_fxsave_image(const struct gh_cpu *cpu, uint8_t *img, bool w64, unsigned nxmm);
int gh_sse_fxrstor_image(struct gh_cpu *cpu, const uint8_t *img, bool w64, unsigned nxmm);

/* FSW.ES: an unmasked x87 exception is pending (SDM vol. 1, 8.1.3). */
#define GH_FSW_ES	0x0080u
#define GH_FSW_TOP	0x3800u

__attribute__((noreturn, cold)) static inline void gh_sse_unusable(struct gh_cpu *cpu)
{
	if ((cpu->cr0 & GH_CR0_EM) || !(cpu->cr4 & GH_CR4_OSFXSR))
		gh_exec_ud(cpu);
	gh_cpu_raise_noerr(cpu, GH_EXC_NM);
}

/*
 * Before any SSE instruction: #UD if CR0.EM is set or CR4.OSFXSR clear,
 * then #NM if CR0.TS is set (SDM vol. 3A, table 13-1 and 2.5 class 1-5).
 */
static inline void gh_sse_check(struct gh_cpu *cpu)
{
	if (__builtin_expect((cpu->cr0 & (GH_CR0_EM | GH_CR0_TS)) ||
			     !(cpu->cr4 & GH_CR4_OSFXSR), 0))
		gh_sse_unusable(cpu);
}

__attribute__((cold)) void gh_mmx_unusable(struct gh_cpu *cpu);

/*
 * Before any MMX instruction (SDM vol. 1, 9.6 and the MMX exception
 * tables of vol. 2): #UD if CR0.EM, #NM if CR0.TS, #MF if an unmasked x87
 * exception is pending (FSW.ES) and CR0.NE asks for native reporting;
 * with NE clear the pending exception stays for the FERR# path of the
 * next waiting x87 instruction.
 */
static inline void gh_mmx_check(struct gh_cpu *cpu)
{
	if (__builtin_expect((cpu->cr0 & (GH_CR0_EM | GH_CR0_TS)) ||
			     (cpu->x87.fsw & GH_FSW_ES), 0))
		gh_mmx_unusable(cpu);
}

/*
 * After an MMX instruction's last access that can fault: the x87 state
 * switches to MMX use, TOP = 0 and every tag valid (SDM vol. 1, 9.5.1).
 */
static inline void gh_mmx_enter(struct gh_cpu *cpu)
{
	cpu->x87.fsw &= ~GH_FSW_TOP;
	cpu->x87.ftw = 0xff;
}

/* MMX register r (0-7, REX ignored): the significand of physical x87
 * register r; a write sets its sign and exponent to all ones (9.5.1). */
static inline uint64_t gh_mmx_get(const struct gh_cpu *cpu, unsigned r)
{
	return cpu->x87.r[r & 7].mant;
}

static inline void gh_mmx_set(struct gh_cpu *cpu, unsigned r, uint64_t v)
{
	cpu->x87.r[r & 7].mant = v;
	cpu->x87.r[r & 7].sexp = 0xffff;
}

/* The linear address the alignment rule looks at: the segment base is
 * ignored in 64-bit mode except for FS and GS. */
static inline uint64_t gh_sse_lin(const struct gh_cpu *cpu, unsigned seg, uint64_t off)
{
	if (cpu->mode == GH_MODE_LONG && seg < GH_FS)
		return off;
	return cpu->seg[seg].base + off;
}

/*
 * The 16-byte memory operand of a legacy-SSE instruction that is not one
 * of the unaligned forms (MOVUPS/UPD/DQU, LDDQU, MASKMOVDQU, the scalar
 * and 64-bit operands) must be 16-byte aligned, whatever AC says: #GP(0)
 * (SDM vol. 1, 10.4.1.1 and vol. 2A, 2.5 class 1).
 */
static inline void gh_sse_check_align(struct gh_cpu *cpu, unsigned seg, uint64_t off)
{
	if (__builtin_expect(gh_sse_lin(cpu, seg, off) & 15, 0))
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
}

static inline void gh_sse_read128(struct gh_cpu *cpu, unsigned seg, uint64_t off,
				  union gh_xmm *x)
{
	void *h;

	if (__builtin_expect(gh_mem_fast(cpu, seg, off, 16), 1) &&
	    (h = gh_tlb_lookup_read(cpu->tlb, off, cpu->data_mode))) {
		memcpy(x, h, 16);
		return;
	}
	gh_mem_read_buf(cpu, seg, off, x, 16);
}

static inline void gh_sse_write128(struct gh_cpu *cpu, unsigned seg, uint64_t off,
				   const union gh_xmm *x)
{
	void *h;

	if (__builtin_expect(gh_mem_fast(cpu, seg, off, 16), 1) &&
	    (h = gh_tlb_lookup_write(cpu->tlb, off, cpu->data_mode))) {
		memcpy(h, x, 16);
		return;
	}
	gh_mem_write_buf(cpu, seg, off, x, 16);
}

/*
 * The W operand (ModRM r/m) of 16 bytes: the XMM register itself, or the
 * memory operand read into tmp. The _a form enforces 16-byte alignment.
 */
static inline const union gh_xmm *gh_sse_W(struct gh_cpu *cpu, const struct gh_x86_insn *i,
					   union gh_xmm *tmp)
{
	if (!i->has_mem)
		return &cpu->xmm[i->rm];
	gh_sse_read128(cpu, i->seg, gh_exec_ea(cpu, i), tmp);
	return tmp;
}

static inline const union gh_xmm *gh_sse_Wa(struct gh_cpu *cpu, const struct gh_x86_insn *i,
					    union gh_xmm *tmp)
{
	uint64_t off;

	if (!i->has_mem)
		return &cpu->xmm[i->rm];
	off = gh_exec_ea(cpu, i);
	gh_sse_check_align(cpu, i->seg, off);
	gh_sse_read128(cpu, i->seg, off, tmp);
	return tmp;
}

/* A W operand of size 4 or 8 (scalar forms): the low bits of the XMM
 * register, or memory of that size, without alignment rule. */
static inline uint64_t gh_sse_W_low(struct gh_cpu *cpu, const struct gh_x86_insn *i,
				    unsigned size)
{
	if (!i->has_mem)
		return size == 8 ? cpu->xmm[i->rm].q[0] : cpu->xmm[i->rm].d[0];
	return gh_mem_read_seg(cpu, i->seg, gh_exec_ea(cpu, i), size);
}

#endif
