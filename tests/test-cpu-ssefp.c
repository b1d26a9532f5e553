/*
 * Tests of the SSE floating-point, SSE4.2 string and CRC32 handlers
 * (vmm-core/cpu/exec-ssefp.c). Every form runs natively on the x86-64 host
 * and in the interpreter from the same random XMM, MMX and general
 * registers, MXCSR and memory, and everything must agree bit for bit:
 * results, MXCSR, EFLAGS, and the faults (#XM as SIGFPE, #GP as SIGSEGV,
 * with the registers the host had when it faulted). Operands are drawn to
 * hit NaNs, infinities, zeros, denormals, rounding and conversion
 * boundaries, in all rounding modes, with DAZ/FTZ and masked and unmasked
 * exceptions. What the host cannot show (CR0/CR4 checks, the x87 side of
 * the MMX forms, #UD instead of #XM) is checked against the SDM by hand.
 */
#include "cpu/cpu-internal.h"
#include "cpu/exec.h"
#include "cputest.h"
#include "cpu/sse.h"

#include <glib.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#define RAM_SIZE (4u << 20)
#define TSS_BASE 0x3000
#define PML4 0x10000
#define STACK_TOP 0x80000
#define HBASE 0x100000		/* vector v's handler: a NOP ending page v */
#define CODE_END 0x6000		/* the interpreter's instruction ends here */

/* The native window, also mapped at the same guest address: the code page,
 * then two data pages the memory operand lies in. */
#define WIN_SIZE 0x3000
#define BUF_OFF 0x1000
#define BUF_SIZE 0x2000

#define ARITH (GH_FL_CF | GH_FL_PF | GH_FL_AF | GH_FL_ZF | GH_FL_SF | GH_FL_OF)

/* The register file both sides start from and end with (offsets used by
 * the native trampoline). */
struct nst {
	uint8_t xmm[16][16];	/* 0 */
	uint64_t g[16];		/* 256 */
	uint64_t fl;		/* 384 */
	uint32_t mxcsr;		/* 392 */
	uint32_t pad;
	uint64_t mm[8];		/* 400 */
};

struct env {
	uint8_t *ram;
	uint8_t *win;
	uint64_t va;
	struct gh_cpu *cpu;
	struct gh_cpu_state s;
};

static uint8_t *fake_page(void *opaque, uint64_t gpa, bool *writable)
{
	struct env *e = opaque;

	*writable = true;
	if (gpa < RAM_SIZE)
		return e->ram + (gpa & ~0xfffULL);
	if (e->win && gpa >= e->va && gpa < e->va + WIN_SIZE)
		return e->win + ((gpa - e->va) & ~0xfffULL);
	return NULL;
}

static bool map_window(struct env *e)
{
	e->win = ct_map_window(WIN_SIZE, &e->va);
	if (!e->win)
		return false;
	return true;
}

/* 64-bit mode at CPL 0 with SSE enabled (CR4.OSFXSR, OSXMMEXCPT), 0-1 GiB
 * identity-mapped with 2 MiB pages. */
static struct env *env_new(void)
{
	struct env *e = g_new0(struct env, 1);
	struct gh_cpu_bus bus = {
	    .opaque = e,
	    .page = fake_page,
	};
	struct gh_cpu_state *s = &e->s;
	uint64_t pd;

	e->cpu = ct_cpu_new(bus, &e->ram, RAM_SIZE);
	ct_gdt_set(e->ram, 0x08, ct_seg_desc(0, 0xfffff, 0x9b, 0xa));
	ct_gdt_set(e->ram, 0x10, ct_seg_desc(0, 0xfffff, 0x93, 0xc));
	ct_gdt_set(e->ram, 0x20, ct_seg_desc(TSS_BASE, 0x67, 0x8b, 0));
	for (unsigned v = 0; v < 32; v++) {
		e->ram[HBASE + v * 0x1000 + 0xfff] = 0x90;
		ct_idt64_set(e->ram, v, 0x08, HBASE + v * 0x1000 + 0xfff, 0x8e, 0);
	}
	pd = ct_map_low(e->ram, PML4, 3);
	for (uint64_t k = 0; k < 512; k++)
		ct_put64(e->ram, pd + k * 8, (k << 21) | 0x83);
	ct_flat_state(e->ram, s, 0x08, 0x10, 0x20, false);
	ct_long_mode(s, PML4);
	s->cr0 |= GH_CR0_WP | GH_CR0_MP | GH_CR0_NE;
	s->cr4 |= GH_CR4_OSFXSR | GH_CR4_OSXMMEXCPT;
	s->gdt.limit = 0x27;
	s->idt.base = CT_IDT_BASE;
	s->idt.limit = 32 * 16 - 1;
	s->rflags = 2;
	s->gpr[GH_RSP] = STACK_TOP;
	s->rip = CODE_END - 1;
	ct_apply(e->cpu, s);
	e->cpu->mxcsr = 0x1f80;
	return e;
}

static void env_free(struct env *e)
{
	ct_cpu_free(e->cpu, e->ram);
	if (e->win)
		munmap(e->win, WIN_SIZE);
	g_free(e);
}

/* ---- native execution ------------------------------------------------------ */

/*
 * hx_sse_exec(st, code): loads XMM0-15, MM0-7, MXCSR, RFLAGS and every GPR
 * but RSP from st, calls code (the instruction, then RET), stores them
 * back, and gives the caller a clean x87 (EMMS) and the default MXCSR.
 */
void hx_sse_exec(struct nst *st, const void *code) __attribute__((visibility("hidden")));
#define XMM_LD(n) "	movdqu " #n "*16(%rdi), %xmm" #n "\n"
#define XMM_ST(n) "	movdqu %xmm" #n ", " #n "*16(%rdi)\n"
#define MM_LD(n) "	movq 400+" #n "*8(%rdi), %mm" #n "\n"
#define MM_ST(n) "	movq %mm" #n ", 400+" #n "*8(%rdi)\n"
__asm__(".text\n"
	".globl hx_sse_exec\n"
	".hidden hx_sse_exec\n"
	".type hx_sse_exec, @function\n"
	"hx_sse_exec:\n"
	"	push %rbx\n	push %rbp\n	push %r12\n	push %r13\n	push %r14\n	push %r15\n"
	"	push %rdi\n	push %rsi\n"
	XMM_LD(0) XMM_LD(1) XMM_LD(2) XMM_LD(3) XMM_LD(4) XMM_LD(5) XMM_LD(6) XMM_LD(7)
	XMM_LD(8) XMM_LD(9) XMM_LD(10) XMM_LD(11) XMM_LD(12) XMM_LD(13) XMM_LD(14)
	XMM_LD(15)
	MM_LD(0) MM_LD(1) MM_LD(2) MM_LD(3) MM_LD(4) MM_LD(5) MM_LD(6) MM_LD(7)
	"	ldmxcsr 392(%rdi)\n"
	"	pushq 384(%rdi)\n	popfq\n"
	"	mov 256(%rdi), %rax\n	mov 264(%rdi), %rcx\n	mov 272(%rdi), %rdx\n"
	"	mov 280(%rdi), %rbx\n	mov 296(%rdi), %rbp\n	mov 304(%rdi), %rsi\n"
	"	mov 320(%rdi), %r8\n	mov 328(%rdi), %r9\n	mov 336(%rdi), %r10\n"
	"	mov 344(%rdi), %r11\n	mov 352(%rdi), %r12\n	mov 360(%rdi), %r13\n"
	"	mov 368(%rdi), %r14\n	mov 376(%rdi), %r15\n	mov 312(%rdi), %rdi\n"
	"	call *(%rsp)\n"
	"	push %rdi\n	mov 16(%rsp), %rdi\n"
	"	mov %rax, 256(%rdi)\n	mov %rcx, 264(%rdi)\n	mov %rdx, 272(%rdi)\n"
	"	mov %rbx, 280(%rdi)\n	mov %rbp, 296(%rdi)\n	mov %rsi, 304(%rdi)\n"
	"	mov %r8, 320(%rdi)\n	mov %r9, 328(%rdi)\n	mov %r10, 336(%rdi)\n"
	"	mov %r11, 344(%rdi)\n	mov %r12, 352(%rdi)\n	mov %r13, 360(%rdi)\n"
	"	mov %r14, 368(%rdi)\n	mov %r15, 376(%rdi)\n	popq 312(%rdi)\n"
	"	pushfq\n	popq 384(%rdi)\n"
	"	stmxcsr 392(%rdi)\n"
	XMM_ST(0) XMM_ST(1) XMM_ST(2) XMM_ST(3) XMM_ST(4) XMM_ST(5) XMM_ST(6) XMM_ST(7)
	XMM_ST(8) XMM_ST(9) XMM_ST(10) XMM_ST(11) XMM_ST(12) XMM_ST(13) XMM_ST(14)
	XMM_ST(15)
	MM_ST(0) MM_ST(1) MM_ST(2) MM_ST(3) MM_ST(4) MM_ST(5) MM_ST(6) MM_ST(7)
	"	emms\n"
	"	pushq $0x1f80\n	ldmxcsr (%rsp)\n	add $8, %rsp\n"
	"	cld\n"
	"	add $16, %rsp\n"
	"	pop %r15\n	pop %r14\n	pop %r13\n	pop %r12\n	pop %rbp\n	pop %rbx\n"
	"	ret\n"
	".size hx_sse_exec, .-hx_sse_exec\n");

/* What a fault left: the signal handler can only reach these through statics. */
static sigjmp_buf *volatile native_jb;
static struct nst fault_st;

static void on_signal(int sig, siginfo_t *si, void *uctx)
{
	ucontext_t *uc = uctx;
	const struct _libc_fpstate *fp = uc->uc_mcontext.fpregs;

	(void)si;
	if (!native_jb) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	fault_st.mxcsr = fp->mxcsr;
	memcpy(fault_st.xmm, fp->_xmm, sizeof(fault_st.xmm));
	for (unsigned k = 0; k < 8; k++)
		memcpy(&fault_st.mm[k], fp->_st[k].significand, 8);
	siglongjmp(*native_jb, sig);
}

/* Runs code natively on *st; returns the exception vector it raised (with
 * XMM, MMX and MXCSR as they were at the fault), or -1. */
static int native_run(struct nst *st, const void *code)
{
	sigjmp_buf jb;
	volatile int sig;

	sig = sigsetjmp(jb, 1);
	if (sig == 0) {
		native_jb = &jb;
		hx_sse_exec(st, code);
	}
	native_jb = NULL;
	switch (sig) {
	case 0:
		return -1;
	case SIGFPE:
		memcpy(st->xmm, fault_st.xmm, sizeof(st->xmm));
		memcpy(st->mm, fault_st.mm, sizeof(st->mm));
		st->mxcsr = fault_st.mxcsr;
		return GH_EXC_XM;
	case SIGILL:
		return GH_EXC_UD;
	default:
		memcpy(st->xmm, fault_st.xmm, sizeof(st->xmm));
		st->mxcsr = fault_st.mxcsr;
		return GH_EXC_GP;
	}
}

static void install_handlers(void)
{
	struct sigaction sa = {0};

	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
}

/* ---- random operands ---------------------------------------------------------- */

/*
 * A float of the format with ebits exponent bits and mbits fraction bits,
 * as raw bits: zeros, infinities, quiet and signalling NaNs, denormals,
 * the extremes, values whose sums and products round at a tie or
 * overflow/underflow, and integers at the conversion limits.
 */
static uint64_t fp_special(struct ct_rng *g, unsigned ebits, unsigned mbits)
{
	const uint64_t mmask = (1ULL << mbits) - 1, emax = (1ULL << ebits) - 1;
	const uint64_t bias = emax >> 1;
	uint64_t sign = (ct_rnd(g) & 1) << (ebits + mbits), e, m = ct_rnd(g) & mmask;

	switch (ct_rndn(g, 14)) {
	case 0:
		return sign;					/* +-0 */
	case 1:
		return sign | (emax << mbits);			/* +-inf */
	case 2:
		return sign | (emax << mbits) | (1ULL << (mbits - 1)) | (m >> 1); /* QNaN */
	case 3:
		return sign | (emax << mbits) | ((m >> 1) | 1);	/* SNaN */
	case 4:
		return sign | (m ? m : 1);			/* denormal */
	case 5:
		e = 1 + ct_rndn(g, 3);				/* near the smallest normal */
		break;
	case 6:
		e = emax - 1 - ct_rndn(g, 3);			/* near the largest */
		break;
	case 7:
		/* integers around 2^31, 2^32, 2^63, 2^64 and small ones */
		e = bias + (uint64_t[]){0, 1, 30, 31, 32, 62, 63, 64}[ct_rndn(g, 8)];
		m = ct_rndn(g, 2) ? m & (0xfULL << (mbits - 4)) : (ct_rndn(g, 2) ? 0 : mmask);
		break;
	case 8:
		m &= ~0xffULL;					/* a tie at the last bits */
		m |= 0x80ULL >> ct_rndn(g, 2);
		e = bias - 8 + ct_rndn(g, 16);
		break;
	case 9:
		return sign | ((bias + ct_rndn(g, 3)) << mbits) | (ct_rndn(g, 2) ? 1 : 0); /* ~1 */
	default:
		e = bias - 20 + ct_rndn(g, 40);
		break;
	}
	return sign | (e << mbits) | (m & mmask);
}

static uint32_t rnd_f32(struct ct_rng *g)
{
	return ct_rndn(g, 8) ? (uint32_t)fp_special(g, 8, 23) : (uint32_t)ct_rnd(g);
}

static uint64_t rnd_f64(struct ct_rng *g)
{
	return ct_rndn(g, 8) ? fp_special(g, 11, 52) : ct_rnd(g);
}

static uint64_t rnd_int(struct ct_rng *g, unsigned bits)
{
	uint64_t m = bits == 64 ? ~0ULL : (1ULL << bits) - 1;

	switch (ct_rndn(g, 6)) {
	case 0:
		return (uint64_t)(int64_t)(int)(ct_rndn(g, 7) - 3) & m;
	case 1:
		return (1ULL << (bits - 1)) + ct_rndn(g, 3) - 1;
	case 2:
		return (ct_rnd(g) >> ct_rndn(g, 64)) & m;
	default:
		return ct_rnd(g) & m;
	}
}

enum elem { E_F32, E_F64, E_I32, E_STR, E_CRC, E_MX };

/* 16 bytes of elements; b often close to a (same exponent, neighbouring
 * bits) so that subtractions cancel and rounding is at stake. */
static void gen_vec(struct ct_rng *g, enum elem el, uint8_t v[16], const uint8_t *near)
{
	for (unsigned k = 0; k < 16;) {
		if (el == E_F64) {
			uint64_t x = rnd_f64(g), a;

			if (near && ct_rndn(g, 3) == 0) {
				memcpy(&a, near + k, 8);
				x = a ^ (ct_rnd(g) >> (12 + ct_rndn(g, 52))) ^ ((ct_rnd(g) & 1) << 63);
			}
			memcpy(v + k, &x, 8);
			k += 8;
		} else {
			uint32_t x = el == E_F32 ? rnd_f32(g) : (uint32_t)rnd_int(g, 32), a;

			if (el == E_F32 && near && ct_rndn(g, 3) == 0) {
				memcpy(&a, near + k, 4);
				x = a ^ ((uint32_t)ct_rnd(g) >> (9 + ct_rndn(g, 23))) ^
				    ((uint32_t)(ct_rnd(g) & 1) << 31);
			}
			memcpy(v + k, &x, 4);
			k += 4;
		}
	}
}

/* A string for PCMPxSTRx: random bytes, or a small alphabet with NULs so
 * that matches, ranges and ends happen. */
static void gen_str(struct ct_rng *g, uint8_t v[16])
{
	static const uint8_t alpha[] = {0, 'a', 'b', 'c', 'z', 0x80, 0xff, 'A'};
	unsigned kind = ct_rndn(g, 4);

	for (unsigned k = 0; k < 16; k++) {
		if (kind == 0)
			v[k] = (uint8_t)ct_rnd(g);
		else if (kind == 1)
			v[k] = alpha[1 + ct_rndn(g, 4)];
		else
			v[k] = alpha[ct_rndn(g, 8)];
	}
	if (kind == 1 && ct_rndn(g, 2))
		v[ct_rndn(g, 16)] = 0;
}

/* An MXCSR: rounding, DAZ and FTZ from mode (all 16 combinations cycle),
 * masks all set most of the time, else random; some sticky flags. */
static uint32_t gen_mxcsr(struct ct_rng *g, unsigned mode)
{
	uint32_t m = ((mode & 3) << 13) | ((mode & 4) ? 0x40 : 0) | ((mode & 8) ? 0x8000 : 0);

	m |= ct_rndn(g, 3) ? 0x1f80 : (uint32_t)(ct_rnd(g) & 0x1f80);
	if (ct_rndn(g, 4) == 0)
		m |= ct_rnd(g) & 0x3f;
	return m;
}

/* ---- instruction forms ------------------------------------------------------------ */

enum kind { K_X, K_M, K_G };	/* XMM, MMX, general register */

enum {
	F_IMM = 1 << 0,
	F_W = 1 << 1,		/* REX.W random (Gy/Ey, PCMPESTRx lengths) */
	F_MEMONLY = 1 << 2,
	F_ALIGN = 1 << 3,	/* 16-byte memory operand that must be aligned */
	F_OSZ = 1 << 4,		/* 66 random (CRC32 Ev) */
	F_BYTE = 1 << 5,	/* Eb */
};

struct form {
	const char *name;
	uint8_t pfx;	/* mandatory prefix or 0 */
	uint8_t map;	/* 1: 0F, 2: 0F 38, 3: 0F 3A */
	uint8_t opc;
	int8_t ext;	/* ModRM.reg for /digit forms, or -1 */
	uint8_t reg;	/* enum kind of ModRM.reg */
	uint8_t rm;	/* enum kind of ModRM.rm as a register */
	uint8_t el;	/* enum elem of the sources */
	uint8_t msize;	/* memory operand bytes */
	uint32_t f;
};

#define PS(n, o, el) {#n "ps", 0, 1, o, -1, K_X, K_X, el, 16, F_ALIGN}
#define PD(n, o, el) {#n "pd", 0x66, 1, o, -1, K_X, K_X, el, 16, F_ALIGN}
#define SS(n, o, el) {#n "ss", 0xf3, 1, o, -1, K_X, K_X, el, 4, 0}
#define SD(n, o, el) {#n "sd", 0xf2, 1, o, -1, K_X, K_X, el, 8, 0}
#define ALL4(n, o) PS(n, o, E_F32), PD(n, o, E_F64), SS(n, o, E_F32), SD(n, o, E_F64)

static const struct form forms[] = {
	ALL4(add, 0x58), ALL4(mul, 0x59), ALL4(sub, 0x5c), ALL4(min, 0x5d),
	ALL4(div, 0x5e), ALL4(max, 0x5f), ALL4(sqrt, 0x51),
	{"cmpps", 0, 1, 0xc2, -1, K_X, K_X, E_F32, 16, F_ALIGN | F_IMM},
	{"cmppd", 0x66, 1, 0xc2, -1, K_X, K_X, E_F64, 16, F_ALIGN | F_IMM},
	{"cmpss", 0xf3, 1, 0xc2, -1, K_X, K_X, E_F32, 4, F_IMM},
	{"cmpsd", 0xf2, 1, 0xc2, -1, K_X, K_X, E_F64, 8, F_IMM},
	PS(rsqrt, 0x52, E_F32), SS(rsqrt, 0x52, E_F32),
	PS(rcp, 0x53, E_F32), SS(rcp, 0x53, E_F32),
	{"comiss", 0, 1, 0x2f, -1, K_X, K_X, E_F32, 4, 0},
	{"comisd", 0x66, 1, 0x2f, -1, K_X, K_X, E_F64, 8, 0},
	{"ucomiss", 0, 1, 0x2e, -1, K_X, K_X, E_F32, 4, 0},
	{"ucomisd", 0x66, 1, 0x2e, -1, K_X, K_X, E_F64, 8, 0},
	{"cvtps2pd", 0, 1, 0x5a, -1, K_X, K_X, E_F32, 8, 0},
	{"cvtpd2ps", 0x66, 1, 0x5a, -1, K_X, K_X, E_F64, 16, F_ALIGN},
	{"cvtss2sd", 0xf3, 1, 0x5a, -1, K_X, K_X, E_F32, 4, 0},
	{"cvtsd2ss", 0xf2, 1, 0x5a, -1, K_X, K_X, E_F64, 8, 0},
	{"cvtdq2ps", 0, 1, 0x5b, -1, K_X, K_X, E_I32, 16, F_ALIGN},
	{"cvtps2dq", 0x66, 1, 0x5b, -1, K_X, K_X, E_F32, 16, F_ALIGN},
	{"cvttps2dq", 0xf3, 1, 0x5b, -1, K_X, K_X, E_F32, 16, F_ALIGN},
	{"cvttpd2dq", 0x66, 1, 0xe6, -1, K_X, K_X, E_F64, 16, F_ALIGN},
	{"cvtdq2pd", 0xf3, 1, 0xe6, -1, K_X, K_X, E_I32, 8, 0},
	{"cvtpd2dq", 0xf2, 1, 0xe6, -1, K_X, K_X, E_F64, 16, F_ALIGN},
	{"cvtpi2ps", 0, 1, 0x2a, -1, K_X, K_M, E_I32, 8, 0},
	{"cvtpi2pd", 0x66, 1, 0x2a, -1, K_X, K_M, E_I32, 8, 0},
	{"cvtsi2ss", 0xf3, 1, 0x2a, -1, K_X, K_G, E_I32, 4, F_W},
	{"cvtsi2sd", 0xf2, 1, 0x2a, -1, K_X, K_G, E_I32, 4, F_W},
	{"cvttps2pi", 0, 1, 0x2c, -1, K_M, K_X, E_F32, 8, 0},
	{"cvttpd2pi", 0x66, 1, 0x2c, -1, K_M, K_X, E_F64, 16, F_ALIGN},
	{"cvttss2si", 0xf3, 1, 0x2c, -1, K_G, K_X, E_F32, 4, F_W},
	{"cvttsd2si", 0xf2, 1, 0x2c, -1, K_G, K_X, E_F64, 8, F_W},
	{"cvtps2pi", 0, 1, 0x2d, -1, K_M, K_X, E_F32, 8, 0},
	{"cvtpd2pi", 0x66, 1, 0x2d, -1, K_M, K_X, E_F64, 16, F_ALIGN},
	{"cvtss2si", 0xf3, 1, 0x2d, -1, K_G, K_X, E_F32, 4, F_W},
	{"cvtsd2si", 0xf2, 1, 0x2d, -1, K_G, K_X, E_F64, 8, F_W},
	{"haddpd", 0x66, 1, 0x7c, -1, K_X, K_X, E_F64, 16, F_ALIGN},
	{"haddps", 0xf2, 1, 0x7c, -1, K_X, K_X, E_F32, 16, F_ALIGN},
	{"hsubpd", 0x66, 1, 0x7d, -1, K_X, K_X, E_F64, 16, F_ALIGN},
	{"hsubps", 0xf2, 1, 0x7d, -1, K_X, K_X, E_F32, 16, F_ALIGN},
	{"addsubpd", 0x66, 1, 0xd0, -1, K_X, K_X, E_F64, 16, F_ALIGN},
	{"addsubps", 0xf2, 1, 0xd0, -1, K_X, K_X, E_F32, 16, F_ALIGN},
	{"roundps", 0x66, 3, 0x08, -1, K_X, K_X, E_F32, 16, F_ALIGN | F_IMM},
	{"roundpd", 0x66, 3, 0x09, -1, K_X, K_X, E_F64, 16, F_ALIGN | F_IMM},
	{"roundss", 0x66, 3, 0x0a, -1, K_X, K_X, E_F32, 4, F_IMM},
	{"roundsd", 0x66, 3, 0x0b, -1, K_X, K_X, E_F64, 8, F_IMM},
	{"dpps", 0x66, 3, 0x40, -1, K_X, K_X, E_F32, 16, F_ALIGN | F_IMM},
	{"dppd", 0x66, 3, 0x41, -1, K_X, K_X, E_F64, 16, F_ALIGN | F_IMM},
	{"pcmpestrm", 0x66, 3, 0x60, -1, K_X, K_X, E_STR, 16, F_IMM | F_W},
	{"pcmpestri", 0x66, 3, 0x61, -1, K_X, K_X, E_STR, 16, F_IMM | F_W},
	{"pcmpistrm", 0x66, 3, 0x62, -1, K_X, K_X, E_STR, 16, F_IMM},
	{"pcmpistri", 0x66, 3, 0x63, -1, K_X, K_X, E_STR, 16, F_IMM},
	{"crc32b", 0xf2, 2, 0xf0, -1, K_G, K_G, E_CRC, 1, F_W | F_BYTE},
	{"crc32v", 0xf2, 2, 0xf1, -1, K_G, K_G, E_CRC, 4, F_W | F_OSZ},
	{"ldmxcsr", 0, 1, 0xae, 2, K_X, K_X, E_MX, 4, F_MEMONLY},
	{"stmxcsr", 0, 1, 0xae, 3, K_X, K_X, E_MX, 4, F_MEMONLY},
};

struct gen {
	struct nst st;
	uint8_t buf[BUF_SIZE];
	uint8_t b[16];
	unsigned len;
	bool mem;
	uint64_t target;
};

/* A general register operand: never RSP, nor RBX (the memory base). */
static unsigned gpr_pick(struct ct_rng *g)
{
	unsigned r;

	do
		r = ct_rndn(g, 16);
	while (r == GH_RSP || r == GH_RBX);
	return r;
}

static void gen_case(struct env *e, struct ct_rng *g, const struct form *f, unsigned mode,
		     struct gen *c)
{
	unsigned rex = 0, reg, rm = 0, n = 0, size = f->msize;
	bool w = (f->f & F_W) && ct_rndn(g, 2), osz = (f->f & F_OSZ) && ct_rndn(g, 3) == 0;
	uint8_t near[16];

	memset(c, 0, sizeof(*c));
	for (unsigned k = 0; k < 16; k++)
		c->st.g[k] = rnd_int(g, 64);
	for (unsigned k = 0; k < 8; k++)
		c->st.mm[k] = rnd_int(g, 32) | rnd_int(g, 32) << 32;
	c->st.fl = 2 | (ct_rnd(g) & ARITH);
	c->st.mxcsr = gen_mxcsr(g, mode);
	c->mem = (f->f & F_MEMONLY) || ct_rndn(g, 3) == 0;

	/* operands */
	reg = f->reg == K_X ? ct_rndn(g, 16) : f->reg == K_M ? ct_rndn(g, 8) : gpr_pick(g);
	if (!c->mem)
		rm = f->rm == K_X ? ct_rndn(g, 16) : f->rm == K_M ? ct_rndn(g, 8) : gpr_pick(g);
	if (f->el == E_STR) {
		for (unsigned k = 0; k < 16; k++)
			gen_str(g, c->st.xmm[k]);
	} else if (f->el != E_CRC && f->el != E_MX) {
		for (unsigned k = 0; k < 16; k++)
			gen_vec(g, f->el, c->st.xmm[k], NULL);
		memcpy(near, c->st.xmm[reg], 16);
		if (!c->mem && f->rm == K_X)
			gen_vec(g, f->el, c->st.xmm[rm], near);
	}
	if (f->rm == K_G && f->el == E_I32 && !c->mem)
		c->st.g[rm] = rnd_int(g, w ? 64 : 32) | (w ? 0 : ct_rnd(g) << 32);
	if (f->f & F_W && f->el == E_STR) {
		/* lengths: mostly in range, sometimes negative or huge */
		for (unsigned r = GH_RAX; r <= GH_RDX; r += 2) {
			int64_t l = (int64_t)ct_rndn(g, 20) - 2;

			if (ct_rndn(g, 6) == 0)
				l = (int64_t)ct_rnd(g) >> ct_rndn(g, 64);
			c->st.g[r] = (uint64_t)l;
		}
	}
	if (f->el == E_CRC && (f->f & F_BYTE) && !w && !c->mem)
		rex = ct_rndn(g, 2) ? 0x40 : 0;	/* AH..BH without REX */

	/* the memory operand: [rbx + disp32], aligned most of the time */
	if (c->mem) {
		uint64_t off = ct_rndn(g, BUF_SIZE / 16 - 1) * 16;

		if (f->f & F_W && f->rm == K_G && f->el == E_I32)
			size = w ? 8 : 4;
		if (f->f & F_OSZ)
			size = osz ? 2 : w ? 8 : 4;
		if (ct_rndn(g, 5) == 0)
			off += 1 + ct_rndn(g, 15);
		if (off + size > BUF_SIZE)
			off = BUF_SIZE - size;
		/* junk around the operand; the rest of the buffer stays zero */
		for (unsigned k = off & ~15u; k < BUF_SIZE && k < (off & ~15u) + 32; k += 8) {
			uint64_t v = ct_rnd(g);

			memcpy(c->buf + k, &v, 8);
		}
		c->target = e->va + BUF_OFF + off;
		c->st.g[GH_RBX] = c->target - 0x80;
		if (f->el == E_MX) {
			uint32_t m = gen_mxcsr(g, ct_rndn(g, 16));

			if (ct_rndn(g, 8) == 0)
				m |= 1u << (16 + ct_rndn(g, 16));
			memcpy(c->buf + off, &m, 4);
		} else if (f->el == E_STR) {
			gen_str(g, c->buf + off);
		} else if (f->el == E_F32 || f->el == E_F64 || f->el == E_I32) {
			uint8_t v[16];

			gen_vec(g, f->el, v, c->st.xmm[reg]);
			memcpy(c->buf + off, v, size < 16 ? size : 16);
		}
	}

	/* encoding */
	if (osz)
		c->b[n++] = 0x66;
	if (f->pfx)
		c->b[n++] = f->pfx;
	if (f->reg != K_M && reg >= 8)
		rex |= 0x44;
	if (!c->mem && f->rm != K_M && rm >= 8)
		rex |= 0x41;
	if (w)
		rex |= 0x48;
	if (rex)
		c->b[n++] = (uint8_t)rex;
	c->b[n++] = 0x0f;
	if (f->map == 2)
		c->b[n++] = 0x38;
	else if (f->map == 3)
		c->b[n++] = 0x3a;
	c->b[n++] = f->opc;
	if (f->ext >= 0)
		reg = (unsigned)f->ext;
	if (c->mem) {
		c->b[n++] = (uint8_t)(0x80 | (reg & 7) << 3 | GH_RBX);
		c->b[n++] = 0x80;
		c->b[n++] = 0;
		c->b[n++] = 0;
		c->b[n++] = 0;
	} else {
		c->b[n++] = (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7));
	}
	if (f->f & F_IMM)
		c->b[n++] = (uint8_t)ct_rnd(g);
	c->len = n;
}

struct outcome {
	struct nst st;
	uint8_t buf[BUF_SIZE];
	int vector;
};

static void run_native(struct env *e, const struct gen *c, struct outcome *o)
{
	memcpy(e->win, c->b, c->len);
	e->win[c->len] = 0xc3;
	memcpy(e->win + BUF_OFF, c->buf, BUF_SIZE);
	o->st = c->st;
	o->vector = native_run(&o->st, e->win);
	memcpy(o->buf, e->win + BUF_OFF, BUF_SIZE);
}

/* The instruction ends the code page, so one instruction (or one exception
 * and its one-NOP handler) runs. */
static void run_interp(struct env *e, const struct gen *c, struct outcome *o)
{
	struct gh_cpu *cpu = e->cpu;

	ct_load(cpu, e->ram, CODE_END - c->len, c->b, c->len);
	memcpy(e->win + BUF_OFF, c->buf, BUF_SIZE);
	memcpy(cpu->gpr, c->st.g, sizeof(cpu->gpr));
	memcpy(cpu->xmm, c->st.xmm, sizeof(cpu->xmm));
	for (unsigned k = 0; k < 8; k++) {
		cpu->x87.r[k].mant = c->st.mm[k];
		cpu->x87.r[k].sexp = 0xffff;
	}
	cpu->x87.fsw = 0;
	cpu->mxcsr = c->st.mxcsr;
	cpu->gpr[GH_RSP] = STACK_TOP;
	cpu->rip = CODE_END - c->len;
	cpu->rflags = 2;
	gh_flags_set(&cpu->lf, c->st.fl, ARITH);

	g_assert_cmpint(gh_cpu_run(cpu, 1), ==, GH_CPU_BUDGET);
	o->st = c->st;
	memcpy(o->st.g, cpu->gpr, sizeof(o->st.g));
	memcpy(o->st.xmm, cpu->xmm, sizeof(o->st.xmm));
	for (unsigned k = 0; k < 8; k++)
		o->st.mm[k] = cpu->x87.r[k].mant;
	o->st.mxcsr = cpu->mxcsr;
	o->st.fl = gh_exec_rflags(cpu);
	memcpy(o->buf, e->win + BUF_OFF, BUF_SIZE);
	if (cpu->rip == CODE_END)
		o->vector = -1;
	else if (cpu->rip > HBASE && cpu->rip <= HBASE + 32 * 0x1000 && !(cpu->rip & 0xfff))
		o->vector = (int)((cpu->rip - HBASE) >> 12) - 1;
	else
		o->vector = -2;
}

static void dump(const char *what, const struct nst *s, const struct gen *c,
		 const struct form *f)
{
	fprintf(stderr, "  %s: mxcsr %08x rflags %04" G_GINT64_MODIFIER "x\n", what, s->mxcsr,
		s->fl);
	for (unsigned k = 0; k < 16; k++) {
		uint64_t q[2];

		memcpy(q, s->xmm[k], 16);
		fprintf(stderr, "   xmm%-2u %016" G_GINT64_MODIFIER "x:%016" G_GINT64_MODIFIER
			"x   r%-2u %016" G_GINT64_MODIFIER "x%s\n",
			k, q[1], q[0], k, s->g[k], k < 8 && f->reg == K_M ? " (mm)" : "");
	}
	for (unsigned k = 0; k < 8; k++)
		fprintf(stderr, "   mm%u %016" G_GINT64_MODIFIER "x\n", k, s->mm[k]);
	(void)c;
}

/* On a mismatch prints the case and returns false. Faults compare the
 * vector, XMM and MXCSR only (the host's other registers are lost). */
static bool compare(const struct form *f, const struct gen *c, const struct outcome *n,
		    const struct outcome *v, unsigned idx)
{
	bool ok = n->vector == v->vector;

	if (ok)
		ok = !memcmp(n->st.xmm, v->st.xmm, sizeof(n->st.xmm)) &&
		     n->st.mxcsr == v->st.mxcsr;
	if (ok && n->vector < 0) {
		for (unsigned k = 0; k < 16; k++)
			if (k != GH_RSP && n->st.g[k] != v->st.g[k])
				ok = false;
		ok = ok && !((n->st.fl ^ v->st.fl) & ARITH) &&
		     !memcmp(n->st.mm, v->st.mm, sizeof(n->st.mm)) &&
		     !memcmp(n->buf, v->buf, BUF_SIZE);
	}
	if (ok)
		return true;
	fprintf(stderr, "MISMATCH %s case %u:", f->name, idx);
	for (unsigned k = 0; k < c->len; k++)
		fprintf(stderr, " %02x", c->b[k]);
	fprintf(stderr, "\n  vector native %d interp %d, memory at %#" G_GINT64_MODIFIER "x\n",
		n->vector, v->vector, c->target);
	dump("initial", &c->st, c, f);
	dump("native", &n->st, c, f);
	dump("interp", &v->st, c, f);
	return false;
}

/* ---- the tests --------------------------------------------------------------------- */

static bool has_host(const char *feat)
{
	if (!strcmp(feat, "sse4.2"))
		return __builtin_cpu_supports("sse4.2");
	if (!strcmp(feat, "sse4.1"))
		return __builtin_cpu_supports("sse4.1");
	return __builtin_cpu_supports("sse3");
}

static const char *needs(const struct form *f)
{
	if (f->map == 3 && f->opc >= 0x60)
		return "sse4.2";
	if (f->map == 2)
		return "sse4.2";
	if (f->map == 3)
		return "sse4.1";
	return "sse3";
}

static void run_forms(const char *prefix, unsigned iters, uint64_t seed)
{
	struct env *e = env_new();
	unsigned bad = 0, forms_run = 0;

	if (!map_window(e)) {
		env_free(e);
		g_test_skip("no fixed address free for the native window");
		return;
	}
	install_handlers();
	for (unsigned fi = 0; fi < G_N_ELEMENTS(forms); fi++) {
		const struct form *f = &forms[fi];
		struct ct_rng g = {seed ^ (fi * 0x9e3779b97f4a7c15ULL)};
		unsigned nbad = 0;

		if (prefix && strncmp(f->name, prefix, strlen(prefix)))
			continue;
		if (!has_host(needs(f)))
			continue;
		forms_run++;
		for (unsigned k = 0; k < iters && nbad < 3; k++) {
			struct gen c;
			struct outcome n, v;

			gen_case(e, &g, f, k, &c);
			run_native(e, &c, &n);
			run_interp(e, &c, &v);
			if (!compare(f, &c, &n, &v, k))
				nbad++;
		}
		bad += nbad;
	}
	env_free(e);
	g_assert_cmpuint(forms_run, >, 0);
	g_assert_cmpuint(bad, ==, 0);
}

static void test_differential(void)
{
	run_forms(NULL, 1500, 0x5eedf00dULL);
}

/* PCMPxSTRx: every imm8, each with many strings and lengths. */
static void test_pcmpstr_imm(void)
{
	struct env *e = env_new();
	unsigned bad = 0;

	if (!__builtin_cpu_supports("sse4.2")) {
		env_free(e);
		g_test_skip("the host has no SSE4.2");
		return;
	}
	if (!map_window(e)) {
		env_free(e);
		g_test_skip("no fixed address free for the native window");
		return;
	}
	install_handlers();
	for (unsigned fi = 0; fi < G_N_ELEMENTS(forms); fi++) {
		const struct form *f = &forms[fi];
		struct ct_rng g = {0xabcdef12345ULL + fi};

		if (f->el != E_STR)
			continue;
		for (unsigned imm = 0; imm < 256 && bad < 3; imm++) {
			for (unsigned k = 0; k < 16; k++) {
				struct gen c;
				struct outcome n, v;

				gen_case(e, &g, f, k, &c);
				c.b[c.len - 1] = (uint8_t)imm;
				run_native(e, &c, &n);
				run_interp(e, &c, &v);
				if (!compare(f, &c, &n, &v, imm * 100 + k))
					bad++;
			}
		}
	}
	env_free(e);
	g_assert_cmpuint(bad, ==, 0);
}

/* Runs bytes at the end of the code page in the interpreter; returns the
 * vector taken or -1. */
static int interp(struct env *e, const uint8_t *b, unsigned len)
{
	struct gh_cpu *cpu = e->cpu;

	ct_load(cpu, e->ram, CODE_END - len, b, len);
	cpu->rip = CODE_END - len;
	cpu->gpr[GH_RSP] = STACK_TOP;
	g_assert_cmpint(gh_cpu_run(cpu, 1), ==, GH_CPU_BUDGET);
	if (cpu->rip == CODE_END)
		return -1;
	return (int)((cpu->rip - HBASE) >> 12) - 1;
}

/* What the host cannot show: CR0.EM/TS and CR4.OSFXSR (#UD, #NM), #UD
 * instead of #XM without CR4.OSXMMEXCPT (SDM vol. 3A 2.5, vol. 1 11.5),
 * the x87 side of the MMX conversions (vol. 1 9.5), CRC32 and LDMXCSR by
 * hand. */
static void test_system(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	static const uint8_t addps[] = {0x0f, 0x58, 0xc1};		/* addps xmm0, xmm1 */
	static const uint8_t divss[] = {0xf3, 0x0f, 0x5e, 0xc1};	/* divss xmm0, xmm1 */
	static const uint8_t stmx[] = {0x0f, 0xae, 0x1c, 0x25, 0, 0x40, 0, 0}; /* [0x4000] */
	static const uint8_t ldmx[] = {0x0f, 0xae, 0x14, 0x25, 0, 0x40, 0, 0};
	static const uint8_t cvtps2pi[] = {0x0f, 0x2d, 0xd9};		/* cvtps2pi mm3, xmm1 */
	static const uint8_t cvtpi2ps_m[] = {0x0f, 0x2a, 0x04, 0x25, 0, 0x40, 0, 0};
	static const uint8_t crc32q[] = {0xf2, 0x48, 0x0f, 0x38, 0xf1, 0xc1}; /* rax, rcx */
	static const uint8_t crc32b[] = {0xf2, 0x0f, 0x38, 0xf0, 0xc1};      /* eax, cl */
	uint64_t cr0 = cpu->cr0, cr4 = cpu->cr4;
	float one = 1.0f, zero = 0.0f;

	memcpy(&cpu->xmm[0].d[0], &one, 4);
	memcpy(&cpu->xmm[1].d[0], &zero, 4);

	cpu->cr0 = cr0 | GH_CR0_EM;
	g_assert_cmpint(interp(e, addps, sizeof(addps)), ==, GH_EXC_UD);
	cpu->cr0 = cr0 | GH_CR0_TS;
	g_assert_cmpint(interp(e, addps, sizeof(addps)), ==, GH_EXC_NM);
	g_assert_cmpint(interp(e, stmx, sizeof(stmx)), ==, GH_EXC_NM);
	cpu->cr0 = cr0;
	cpu->cr4 = cr4 & ~GH_CR4_OSFXSR;
	g_assert_cmpint(interp(e, addps, sizeof(addps)), ==, GH_EXC_UD);
	g_assert_cmpint(interp(e, ldmx, sizeof(ldmx)), ==, GH_EXC_UD);
	cpu->cr4 = cr4;

	/* 1/0 with ZE unmasked: #XM, or #UD without OSXMMEXCPT; ZE is set
	 * either way and xmm0 is kept */
	cpu->mxcsr = 0x1f80 & ~0x200u;
	g_assert_cmpint(interp(e, divss, sizeof(divss)), ==, GH_EXC_XM);
	g_assert_cmphex(cpu->mxcsr, ==, (0x1f80 & ~0x200u) | 0x4);
	g_assert_cmphex(cpu->xmm[0].d[0], ==, 0x3f800000);
	cpu->cr4 = cr4 & ~GH_CR4_OSXMMEXCPT;
	cpu->mxcsr = 0x1f80 & ~0x200u;
	g_assert_cmpint(interp(e, divss, sizeof(divss)), ==, GH_EXC_UD);
	g_assert_cmphex(cpu->mxcsr, ==, (0x1f80 & ~0x200u) | 0x4);
	cpu->cr4 = cr4;
	cpu->mxcsr = 0x1f80;
	g_assert_cmpint(interp(e, divss, sizeof(divss)), ==, -1);
	g_assert_cmphex(cpu->xmm[0].d[0], ==, 0x7f800000);
	g_assert_cmphex(cpu->mxcsr, ==, 0x1f84);

	/* LDMXCSR: bits 31:16 reserved (#GP), 15:0 all writable, as this
	 * host's MXCSR_MASK (FXSAVE bytes 28-31) says too; STMXCSR */
	{
		uint8_t area[512] __attribute__((aligned(16))) = {0};
		uint32_t host_mask;

		__asm__ volatile("fxsave %0" : "=m"(area));
		memcpy(&host_mask, area + 28, 4);
		g_assert_cmphex(host_mask ? host_mask : 0xffbf, ==, GH_MXCSR_MASK);
	}
	/* LDMXCSR: bits 31:16 reserved (#GP), 15:0 all writable; STMXCSR */
	ct_put32(e->ram, 0x4000, 0x10000 | 0x1f80);
	g_assert_cmpint(interp(e, ldmx, sizeof(ldmx)), ==, GH_EXC_GP);
	g_assert_cmphex(cpu->mxcsr, ==, 0x1f84);
	ct_put32(e->ram, 0x4000, 0xffff);
	g_assert_cmpint(interp(e, ldmx, sizeof(ldmx)), ==, -1);
	g_assert_cmphex(cpu->mxcsr, ==, 0xffff);
	cpu->mxcsr = 0x9fc0;
	g_assert_cmpint(interp(e, stmx, sizeof(stmx)), ==, -1);
	g_assert_cmphex(ct_get32(e->ram, 0x4000), ==, 0x9fc0);
	cpu->mxcsr = 0x1f80;

	/* an MMX destination: TOP = 0, all tags valid, exponent bits set; a
	 * pending x87 exception is #MF first */
	cpu->x87.fsw = 5u << 11;
	cpu->x87.ftw = 0;
	cpu->x87.r[3].sexp = 0x3fff;
	memcpy(&cpu->xmm[1].d[0], &one, 4);
	g_assert_cmpint(interp(e, cvtps2pi, sizeof(cvtps2pi)), ==, -1);
	g_assert_cmphex(cpu->x87.fsw, ==, 0);
	g_assert_cmphex(cpu->x87.ftw, ==, 0xff);
	g_assert_cmphex(cpu->x87.r[3].sexp, ==, 0xffff);
	g_assert_cmphex(cpu->x87.r[3].mant & 0xffffffff, ==, 1);
	cpu->x87.fsw = 0x80 | (5u << 11);
	g_assert_cmpint(interp(e, cvtps2pi, sizeof(cvtps2pi)), ==, GH_EXC_MF);
	/* a memory source is no MMX instruction: no #MF, x87 untouched */
	ct_put64(e->ram, 0x4000, 0x0000000200000001ULL);
	cpu->x87.ftw = 0x0f;
	g_assert_cmpint(interp(e, cvtpi2ps_m, sizeof(cvtpi2ps_m)), ==, -1);
	g_assert_cmphex(cpu->xmm[0].q[0], ==, 0x400000003f800000ULL);
	g_assert_cmphex(cpu->x87.ftw, ==, 0x0f);
	cpu->x87.fsw = 0;

	/* CRC32 is no SSE instruction: no CR0/CR4 checks. The CRC-32C check
	 * value: "123456789" with the usual inversions gives E3069283h. */
	cpu->cr0 = cr0 | GH_CR0_EM | GH_CR0_TS;
	cpu->gpr[GH_RAX] = 0xffffffff;
	cpu->gpr[GH_RCX] = 0x3837363534333231ULL;
	g_assert_cmpint(interp(e, crc32q, sizeof(crc32q)), ==, -1);
	cpu->gpr[GH_RCX] = '9';
	g_assert_cmpint(interp(e, crc32b, sizeof(crc32b)), ==, -1);
	g_assert_cmphex(cpu->gpr[GH_RAX] >> 32, ==, 0);
	g_assert_cmphex(~cpu->gpr[GH_RAX] & 0xffffffff, ==, 0xe3069283);
	cpu->cr0 = cr0;
	env_free(e);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cpu-ssefp/differential", test_differential);
	g_test_add_func("/cpu-ssefp/pcmpstr-imm", test_pcmpstr_imm);
	g_test_add_func("/cpu-ssefp/system", test_system);
	return g_test_run();
}
