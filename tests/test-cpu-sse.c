/*
 * Tests of the MMX and integer/data-movement SSE handlers (vmm-core/cpu/
 * exec-sse.c). Every form runs natively on the x86-64 host and in the
 * interpreter from the same random GPRs, flags, MMX/x87 registers, XMM
 * registers and memory, and all of them must agree, faults (misaligned
 * operands) included; then the exception rules of SDM vol. 2A, 2.5
 * (#UD/#NM/#MF) are checked by hand.
 */
#include "cpu/cpu-internal.h"
#include "cpu/cpuid.h"
#include "cpu/exec.h"
#include "cpu/sse.h"
#include "cputest.h"

#include <cpuid.h>
#include <errno.h>
#include <glib.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define RAM_SIZE (4u << 20)
#define TSS_BASE 0x3000
#define PML4 0x10000
#define STACK_TOP 0x80000
#define HBASE 0x100000 /* vector v's handler: a NOP ending page v */

#define WIN_SIZE 0x4000
#define BUF_OFF 0x2000
#define BUF_SIZE 0x1000
#define MARGIN 0x100

struct env {
	uint8_t *ram;
	uint8_t *win;
	uint64_t va;
	uint8_t icode[0x1000];
	uint8_t ibuf[BUF_SIZE];
	struct gh_cpu *cpu;
	struct gh_cpu_state s;
};

static uint8_t *fake_page(void *opaque, uint64_t gpa, bool *writable)
{
	struct env *e = opaque;

	*writable = true;
	if (gpa < RAM_SIZE)
		return e->ram + (gpa & ~0xfffULL);
	if (e->va && gpa >= e->va && gpa < e->va + 0x1000)
		return e->icode;
	if (e->va && gpa >= e->va + BUF_OFF && gpa < e->va + BUF_OFF + BUF_SIZE)
		return e->ibuf;
	return NULL;
}

/* 64-bit mode at CPL 0, 0-1 GiB identity-mapped, SSE enabled (CR4.OSFXSR,
 * OSXMMEXCPT; CR0.NE for native #MF). */
static struct env *env_new(void)
{
	struct env *e = g_new0(struct env, 1);
	struct gh_cpu_bus bus = {.opaque = e, .page = fake_page};
	struct gh_cpu_state *s = &e->s;
	uint64_t pd;

	e->cpu = ct_cpu_new(bus, &e->ram, RAM_SIZE);
	ct_gdt_set(e->ram, 0x08, ct_seg_desc(0, 0xfffff, 0x9b, 0xa));
	ct_gdt_set(e->ram, 0x10, ct_seg_desc(0, 0xfffff, 0x93, 0xc));
	ct_gdt_set(e->ram, 0x20, ct_seg_desc(TSS_BASE, 0x67, 0x8b, 0));
	for (unsigned v = 0; v < 32; v++)
		e->ram[HBASE + v * 0x1000 + 0xfff] = 0x90;
	pd = ct_map_low(e->ram, PML4, 3);
	for (uint64_t k = 0; k < 512; k++)
		ct_put64(e->ram, pd + k * 8, (k << 21) | 0x83);
	for (unsigned v = 0; v < 32; v++)
		ct_idt64_set(e->ram, v, 0x08, HBASE + v * 0x1000 + 0xfff, 0x8e, 0);
	ct_flat_state(e->ram, s, 0x08, 0x10, 0x20, false);
	ct_long_mode(s, PML4);
	s->cr0 |= GH_CR0_WP | GH_CR0_NE | GH_CR0_MP;
	s->cr4 |= GH_CR4_OSFXSR | GH_CR4_OSXMMEXCPT;
	s->gdt.limit = 0x27;
	s->idt.base = CT_IDT_BASE;
	s->idt.limit = 32 * 16 - 1;
	s->rflags = 2;
	s->gpr[GH_RSP] = STACK_TOP;
	s->rip = 0x5000;
	ct_apply(e->cpu, s);
	return e;
}

static void env_free(struct env *e)
{
	ct_cpu_free(e->cpu, e->ram);
	if (e->win)
		munmap(e->win, WIN_SIZE);
	g_free(e);
}

static bool map_window(struct env *e)
{
	e->win = ct_map_window(WIN_SIZE, &e->va);
	if (!e->win)
		return false;
	e->win[0x1000] = 0xc3;
	return true;
}

/* ---- native execution ----------------------------------------------------------- */

/* GPRs, RFLAGS and an FXSAVE image (x87/MMX, XMM, MXCSR) in and out. */
struct sregs {
	uint64_t g[16];
	uint64_t fl;
	uint64_t pad;
	uint8_t fx[512] __attribute__((aligned(16)));
};

void hx_sse_exec(struct sregs *r, const void *code) __attribute__((visibility("hidden")));
__asm__(".text\n"
	".globl hx_sse_exec\n"
	".hidden hx_sse_exec\n"
	".type hx_sse_exec, @function\n"
	"hx_sse_exec:\n"
	"	push %rbx\n	push %rbp\n	push %r12\n	push %r13\n	push %r14\n	push %r15\n"
	"	push %rdi\n	push %rsi\n"
	"	fxrstor64 144(%rdi)\n"
	"	pushq 128(%rdi)\n	popfq\n"
	"	mov 0(%rdi), %rax\n	mov 8(%rdi), %rcx\n	mov 16(%rdi), %rdx\n"
	"	mov 24(%rdi), %rbx\n	mov 40(%rdi), %rbp\n	mov 48(%rdi), %rsi\n"
	"	mov 64(%rdi), %r8\n	mov 72(%rdi), %r9\n	mov 80(%rdi), %r10\n"
	"	mov 88(%rdi), %r11\n	mov 96(%rdi), %r12\n	mov 104(%rdi), %r13\n"
	"	mov 112(%rdi), %r14\n	mov 120(%rdi), %r15\n	mov 56(%rdi), %rdi\n"
	"	call *(%rsp)\n"
	"	push %rdi\n	mov 16(%rsp), %rdi\n"
	"	mov %rax, 0(%rdi)\n	mov %rcx, 8(%rdi)\n	mov %rdx, 16(%rdi)\n"
	"	mov %rbx, 24(%rdi)\n	mov %rbp, 40(%rdi)\n	mov %rsi, 48(%rdi)\n"
	"	mov %r8, 64(%rdi)\n	mov %r9, 72(%rdi)\n	mov %r10, 80(%rdi)\n"
	"	mov %r11, 88(%rdi)\n	mov %r12, 96(%rdi)\n	mov %r13, 104(%rdi)\n"
	"	mov %r14, 112(%rdi)\n	mov %r15, 120(%rdi)\n	popq 56(%rdi)\n"
	"	pushfq\n	popq 128(%rdi)\n	cld\n"
	"	fxsave64 144(%rdi)\n"
	"	add $16, %rsp\n"
	"	pop %r15\n	pop %r14\n	pop %r13\n	pop %r12\n	pop %rbp\n	pop %rbx\n"
	"	ret\n"
	".size hx_sse_exec, .-hx_sse_exec\n");

static sigjmp_buf *volatile native_jb;
static const int native_sigs[3] = {SIGSEGV, SIGILL, SIGBUS};

static void on_signal(int sig)
{
	if (!native_jb) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	siglongjmp(*native_jb, sig);
}

/* Catches the faults of native runs (installs with old != NULL saving the
 * previous handlers, restores with on = false). */
static void native_signals(bool on, struct sigaction *old)
{
	struct sigaction sa = {0};

	sa.sa_handler = on_signal;
	sa.sa_flags = SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (unsigned k = 0; k < G_N_ELEMENTS(native_sigs); k++)
		sigaction(native_sigs[k], on ? &sa : &old[k], on ? &old[k] : NULL);
}

/* Runs the code natively with the host's own x87/SSE state saved around
 * it; returns the exception vector it raised, or -1. */
static int native_run(struct sregs *r, const void *code)
{
	static uint8_t host_fx[512] __attribute__((aligned(16)));
	sigjmp_buf jb;
	volatile int sig;

	__asm__ volatile("fxsave64 %0" : "=m"(host_fx));
	sig = sigsetjmp(jb, 0);
	if (sig == 0) {
		native_jb = &jb;
		hx_sse_exec(r, code);
	}
	native_jb = NULL;
	__asm__ volatile("fxrstor64 %0\n\tcld" : : "m"(host_fx));
	switch (sig) {
	case 0:
		return -1;
	case SIGFPE:
		return GH_EXC_MF;
	case SIGILL:
		return GH_EXC_UD;
	default:
		return GH_EXC_GP;
	}
}

/* ---- FXSAVE image fields (SDM vol. 2A, FXSAVE, table 3-53) ---------------------------- */

static void img_to_cpu(const uint8_t *fx, struct gh_cpu *cpu)
{
	uint16_t fsw;
	unsigned top;

	memcpy(&cpu->x87.fcw, fx, 2);
	memcpy(&fsw, fx + 2, 2);
	cpu->x87.fsw = fsw;
	cpu->x87.ftw = fx[4];
	memcpy(&cpu->x87.fop, fx + 6, 2);
	memcpy(&cpu->x87.fip, fx + 8, 8);
	memcpy(&cpu->x87.fdp, fx + 16, 8);
	cpu->x87.fcs = cpu->x87.fds = 0;
	top = (fsw >> 11) & 7;
	for (unsigned k = 0; k < 8; k++) {
		struct gh_f80 *r = &cpu->x87.r[(top + k) & 7];

		memcpy(&r->mant, fx + 32 + 16 * k, 8);
		memcpy(&r->sexp, fx + 40 + 16 * k, 2);
	}
	memcpy(&cpu->mxcsr, fx + 24, 4);
	memcpy(cpu->xmm, fx + 160, 256);
}

static void cpu_to_img(const struct gh_cpu *cpu, uint8_t *fx)
{
	unsigned top = (cpu->x87.fsw >> 11) & 7;

	memcpy(fx, &cpu->x87.fcw, 2);
	memcpy(fx + 2, &cpu->x87.fsw, 2);
	fx[4] = cpu->x87.ftw;
	memcpy(fx + 6, &cpu->x87.fop, 2);
	memcpy(fx + 8, &cpu->x87.fip, 8);
	memcpy(fx + 16, &cpu->x87.fdp, 8);
	for (unsigned k = 0; k < 8; k++) {
		const struct gh_f80 *r = &cpu->x87.r[(top + k) & 7];

		memcpy(fx + 32 + 16 * k, &r->mant, 8);
		memcpy(fx + 40 + 16 * k, &r->sexp, 2);
	}
	memcpy(fx + 24, &cpu->mxcsr, 4);
	memcpy(fx + 160, cpu->xmm, 256);
}

/* ---- random cases -------------------------------------------------------------------------- */

/* 16 bytes with edge values in some lanes: saturation and compare limits. */
static void rnd_vec(struct ct_rng *g, uint8_t *v)
{
	static const uint16_t edges[] = {0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0xff80};

	for (unsigned k = 0; k < 16; k += 8) {
		uint64_t x = ct_rnd(g);

		memcpy(v + k, &x, 8);
	}
	if (ct_rndn(g, 2))
		for (unsigned k = 0; k < 8; k++)
			if (ct_rndn(g, 3) == 0) {
				uint16_t w = edges[ct_rndn(g, G_N_ELEMENTS(edges))];

				memcpy(v + 2 * k, &w, 2);
			}
}

enum {
	F_IB = 1 << 0,		/* imm8 follows */
	F_CNT = 1 << 1,		/* source's low quadword is a shift count */
	F_SHI = 1 << 2,		/* imm8 is a shift count */
	F_MASKMOV = 1 << 3,	/* stores to [rDI] */
	F_NOMODRM = 1 << 4,
	F_MMXUSE = 1 << 5,	/* TOP/tags compared, not only the registers */
};

/*
 * One instruction form. reg: 'V' XMM, 'P' MMX, 'G' GPR, or '0'-'7' a /digit.
 * rm: 'W' XMM or memory, 'Q' MMX or memory, 'E' GPR or memory, 'U' XMM,
 * 'N' MMX, 'R' GPR, 'M' memory.
 */
struct form {
	uint8_t map, opc, pfx;
	char reg, rm;
	uint32_t f;
};

struct gen {
	struct sregs r;
	uint8_t buf[BUF_SIZE];
	uint8_t b[16];
	unsigned len;
	bool mem;
	uint64_t target;
};

static bool is_xmm(char c)
{
	return c == 'V' || c == 'W' || c == 'U';
}

static unsigned pick_gpr(struct ct_rng *g, unsigned avoid)
{
	unsigned r;

	do
		r = ct_rndn(g, 16);
	while (r == GH_RSP || (avoid >> r & 1));
	return r;
}

static void gen_case(struct env *e, struct ct_rng *g, const struct form *f, struct gen *c)
{
	unsigned reg = 0, rm = 0, base = 0, rex = 0, at_disp = 0;
	bool riprel = false;
	uint64_t t = 0;
	uint16_t fsw;
	int32_t disp = 0;

	memset(c, 0, sizeof(*c));
	for (unsigned k = 0; k < BUF_SIZE; k += 16)
		rnd_vec(g, c->buf + k);
	for (unsigned k = 0; k < 16; k++)
		c->r.g[k] = ct_rnd(g);
	c->r.fl = 2 | (ct_rnd(g) & GH_ALU_FLAGS);
	/* x87/MMX: FCW default, TOP random, no exception pending, random tags */
	c->r.fx[0] = 0x7f;
	c->r.fx[1] = 0x03;
	fsw = (uint16_t)(ct_rndn(g, 8) << 11);
	memcpy(c->r.fx + 2, &fsw, 2);
	c->r.fx[4] = (uint8_t)ct_rnd(g);
	{
		uint16_t fop = ct_rnd(g) & 0x7ff;
		uint64_t fip = ct_rnd(g) >> 16, fdp = ct_rnd(g) >> 16;

		memcpy(c->r.fx + 6, &fop, 2);
		memcpy(c->r.fx + 8, &fip, 8);
		memcpy(c->r.fx + 16, &fdp, 8);
	}
	for (unsigned k = 0; k < 8; k++) {
		uint64_t m = ct_rnd(g);
		uint16_t se = (uint16_t)ct_rnd(g);

		memcpy(c->r.fx + 32 + 16 * k, &m, 8);
		memcpy(c->r.fx + 40 + 16 * k, &se, 2);
	}
	c->r.fx[24] = 0x80;
	c->r.fx[25] = 0x1f;
	for (unsigned k = 0; k < 16; k++)
		rnd_vec(g, c->r.fx + 160 + 16 * k);

	if (f->reg >= '0' && f->reg <= '7')
		reg = f->reg - '0';
	else if (f->reg == 'G')
		reg = pick_gpr(g, 0);
	else
		reg = ct_rndn(g, 16); /* REX.R is ignored for MMX */
	if (f->rm == 'M')
		c->mem = true;
	else if (f->rm == 'W' || f->rm == 'Q' || f->rm == 'E')
		c->mem = ct_rndn(g, 2);
	if (!c->mem)
		rm = (f->rm == 'E' || f->rm == 'R') ? pick_gpr(g, f->reg == 'G' ? 0 : 0)
						    : ct_rndn(g, 16);
	if (c->mem || (f->f & F_MASKMOV)) {
		t = MARGIN + ct_rndn(g, BUF_SIZE - 2 * MARGIN);
		if (ct_rndn(g, 8))
			t &= ~15ULL;
		c->target = e->va + BUF_OFF + t;
	}
	if (c->mem) {
		riprel = ct_rndn(g, 4) == 0;
		base = pick_gpr(g, f->reg == 'G' ? 1u << reg : 0);
		disp = (int32_t)ct_rndn(g, 0x200) - 0x100;
	}

	/* the interesting shapes */
	if (ct_rndn(g, 6) == 0 && is_xmm(f->rm) && !c->mem)
		memcpy(c->r.fx + 160 + 16 * rm, c->r.fx + 160 + 16 * reg, 16);
	if (ct_rndn(g, 8) == 0 && c->mem)
		memset(c->buf + t, ct_rndn(g, 2) ? 0xff : 0, 16);
	if ((f->f & F_CNT) && ct_rndn(g, 2)) {
		uint64_t cnt = ct_rndn(g, 70);

		if (c->mem)
			memcpy(c->buf + t, &cnt, 8);
		else if (is_xmm(f->rm))
			memcpy(c->r.fx + 160 + 16 * rm, &cnt, 8);
		else {
			/* the MMX register of rm: physical index = (slot + TOP) & 7 */
			unsigned slot = ((rm & 7) - (fsw >> 11)) & 7;

			memcpy(c->r.fx + 32 + 16 * slot, &cnt, 8);
		}
	}
	if (f->f & F_MASKMOV)
		c->r.g[GH_RDI] = c->target;

	/* bytes: mandatory prefix, REX, escape, opcode, ModRM, disp32, imm8 */
	if (f->pfx)
		c->b[c->len++] = f->pfx;
	rex = ct_rndn(g, 2) ? 8 : 0;
	if (reg & 8)
		rex |= 4;
	if (c->mem && !riprel && (base & 8))
		rex |= 1;
	if (!c->mem && (rm & 8))
		rex |= 1;
	if (rex || ct_rndn(g, 4) == 0)
		c->b[c->len++] = 0x40 | rex;
	c->b[c->len++] = 0x0f;
	if (f->map == 2)
		c->b[c->len++] = 0x38;
	if (f->map == 3)
		c->b[c->len++] = 0x3a;
	c->b[c->len++] = f->opc;
	if (!(f->f & F_NOMODRM)) {
		if (!c->mem) {
			c->b[c->len++] = 0xc0 | (reg & 7) << 3 | (rm & 7);
		} else if (riprel) {
			c->b[c->len++] = (reg & 7) << 3 | 5;
			at_disp = c->len;
			c->len += 4;
		} else {
			c->b[c->len++] = 0x80 | (reg & 7) << 3 | ((base & 7) == 4 ? 4 : base & 7);
			if ((base & 7) == 4)
				c->b[c->len++] = 0x24;
			at_disp = c->len;
			c->len += 4;
		}
	}
	if (f->f & F_IB) {
		unsigned imm = ct_rndn(g, 256);

		if ((f->f & F_SHI) && ct_rndn(g, 2))
			imm = ct_rndn(g, 70);
		c->b[c->len++] = (uint8_t)imm;
	}
	if (c->mem) {
		if (riprel)
			disp = (int32_t)(c->target - (e->va + 0x1000));
		else
			c->r.g[base] = c->target - (uint64_t)(int64_t)disp;
		memcpy(c->b + at_disp, &disp, 4);
	}
}

struct outcome {
	struct sregs r;
	uint8_t buf[BUF_SIZE];
	int vector;
};

static void run_native(struct env *e, const struct gen *c, struct outcome *o)
{
	uint8_t *code = e->win + 0x1000 - c->len;

	memcpy(code, c->b, c->len);
	memcpy(e->win + BUF_OFF, c->buf, BUF_SIZE);
	o->r = c->r;
	o->vector = native_run(&o->r, code);
	if (o->vector >= 0)
		o->r = c->r;
	memcpy(o->buf, e->win + BUF_OFF, BUF_SIZE);
}

static void run_interp(struct env *e, const struct gen *c, struct outcome *o)
{
	struct gh_cpu *cpu = e->cpu;

	memset(e->icode, 0xcc, sizeof(e->icode));
	memcpy(e->icode + 0x1000 - c->len, c->b, c->len);
	gh_cpu_invalidate_code(cpu, e->va, 0x1000);
	memcpy(e->ibuf, c->buf, BUF_SIZE);
	memcpy(cpu->gpr, c->r.g, sizeof(cpu->gpr));
	cpu->gpr[GH_RSP] = STACK_TOP;
	cpu->rip = e->va + 0x1000 - c->len;
	cpu->rflags = 2;
	gh_flags_set(&cpu->lf, c->r.fl, GH_ALU_FLAGS);
	img_to_cpu(c->r.fx, cpu);

	g_assert_cmpint(gh_cpu_run(cpu, 1), ==, GH_CPU_BUDGET);
	o->r = c->r;
	memcpy(o->r.g, cpu->gpr, sizeof(o->r.g));
	o->r.fl = gh_exec_rflags(cpu);
	memcpy(o->buf, e->ibuf, BUF_SIZE);
	if (cpu->rip == e->va + 0x1000) {
		o->vector = -1;
		cpu_to_img(cpu, o->r.fx);
	} else if (cpu->rip > HBASE && cpu->rip <= HBASE + 32 * 0x1000 && !(cpu->rip & 0xfff)) {
		o->vector = (int)((cpu->rip - HBASE) >> 12) - 1;
		o->r = c->r;
	} else {
		o->vector = -2;
	}
}

static void hex(const char *what, const uint8_t *p, unsigned n)
{
	fprintf(stderr, "  %s:", what);
	for (unsigned k = 0; k < n; k++)
		fprintf(stderr, "%s%02x", k % 16 ? "" : " ", p[k]);
	fprintf(stderr, "\n");
}

/* The parts of the FXSAVE image both sides fill: FCW, FSW, abridged FTW,
 * MXCSR, the eight 80-bit registers, XMM0-15. */
static bool fx_equal(const uint8_t *a, const uint8_t *b, int *at)
{
	static const struct {
		unsigned off, len;
	} parts[] = {{0, 5}, {6, 18}, {24, 4}, {160, 256}};

	for (unsigned k = 0; k < G_N_ELEMENTS(parts); k++)
		if (memcmp(a + parts[k].off, b + parts[k].off, parts[k].len)) {
			*at = (int)parts[k].off;
			return false;
		}
	for (unsigned k = 0; k < 8; k++)
		if (memcmp(a + 32 + 16 * k, b + 32 + 16 * k, 10)) {
			*at = 32 + 16 * (int)k;
			return false;
		}
	return true;
}

static bool compare(const struct gen *c, const struct outcome *n, const struct outcome *v,
		    uint64_t seed, unsigned idx)
{
	bool ok = n->vector == v->vector;
	int at = -1;

	for (unsigned k = 0; k < 16 && ok; k++)
		if (k != GH_RSP && n->r.g[k] != v->r.g[k])
			ok = false;
	if (ok && ((n->r.fl ^ v->r.fl) & GH_ALU_FLAGS))
		ok = false;
	if (ok && memcmp(n->buf, v->buf, BUF_SIZE))
		ok = false;
	if (ok && !fx_equal(n->r.fx, v->r.fx, &at))
		ok = false;
	if (ok)
		return true;

	struct gh_x86_insn insn = {0};

	gh_x86_decode(c->b, c->len, 64, &insn);
	fprintf(stderr, "MISMATCH seed %#" G_GINT64_MODIFIER "x case %u: %s", seed, idx,
		gh_x86_op_name(insn.op));
	for (unsigned k = 0; k < c->len; k++)
		fprintf(stderr, " %02x", c->b[k]);
	fprintf(stderr, "\n  vector native %d interp %d, memory at %#" G_GINT64_MODIFIER
		"x, fx differs at %d, flags %#" G_GINT64_MODIFIER "x/%#" G_GINT64_MODIFIER "x\n",
		n->vector, v->vector, c->target, at, n->r.fl, v->r.fl);
	for (unsigned k = 0; k < 16; k++)
		if (n->r.g[k] != v->r.g[k] && k != GH_RSP)
			fprintf(stderr, "  gpr %u: initial %016" G_GINT64_MODIFIER "x native %016"
				G_GINT64_MODIFIER "x interp %016" G_GINT64_MODIFIER "x\n",
				k, c->r.g[k], n->r.g[k], v->r.g[k]);
	if (at >= 0) {
		unsigned o = at >= 160 ? 160 : at >= 32 ? 32 : 0;
		unsigned len = at >= 160 ? 256 : at >= 32 ? 128 : 32;

		hex("initial", c->r.fx + o, len);
		hex("native ", n->r.fx + o, len);
		hex("interp ", v->r.fx + o, len);
	}
	for (unsigned k = 0; k < BUF_SIZE; k++)
		if (n->buf[k] != v->buf[k]) {
			fprintf(stderr, "  memory differs at +%#x: native %02x interp %02x\n", k,
				n->buf[k], v->buf[k]);
			break;
		}
	return false;
}

/* ---- the form table ------------------------------------------------------------------------- */

static void add(GArray *a, unsigned map, unsigned opc, unsigned pfx, char reg, char rm,
		uint32_t f)
{
	struct form fm = {(uint8_t)map, (uint8_t)opc, (uint8_t)pfx, reg, rm, f};

	g_array_append_val(a, fm);
}

static GArray *build_forms(void)
{
	GArray *a = g_array_new(false, false, sizeof(struct form));
	/* 0F opcodes with an MMX form Pq,Qq and an SSE2 form 66 Vx,Wx */
	static const uint8_t mx[] = {
	    0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b,
	    0x74, 0x75, 0x76, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd8, 0xd9, 0xda, 0xdb,
	    0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe8, 0xe9,
	    0xea, 0xeb, 0xec, 0xed, 0xee, 0xef, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6,
	    0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe};
	/* 0F 38 opcodes with both forms (SSSE3) */
	static const uint8_t x38[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
				      0x08, 0x09, 0x0a, 0x0b, 0x1c, 0x1d, 0x1e};
	/* 0F 38 opcodes with only 66 Vx,Wx (SSE4.1, PCMPGTQ) */
	static const uint8_t s38[] = {0x10, 0x14, 0x15, 0x17, 0x20, 0x21, 0x22, 0x23,
				      0x24, 0x25, 0x28, 0x29, 0x2b, 0x30, 0x31, 0x32,
				      0x33, 0x34, 0x35, 0x37, 0x38, 0x39, 0x3a, 0x3b,
				      0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x41};

	for (unsigned k = 0; k < sizeof(mx); k++) {
		uint32_t cnt = (mx[k] & 0xf0) >= 0xd0 && ((mx[k] & 0xf) == 1 || (mx[k] & 0xf) == 2 ||
			       (mx[k] & 0xf) == 3) ? F_CNT : 0;

		add(a, 1, mx[k], 0, 'P', 'Q', cnt);
		add(a, 1, mx[k], 0x66, 'V', 'W', cnt);
	}
	for (unsigned k = 0; k < sizeof(x38); k++) {
		add(a, 2, x38[k], 0, 'P', 'Q', 0);
		add(a, 2, x38[k], 0x66, 'V', 'W', 0);
	}
	for (unsigned k = 0; k < sizeof(s38); k++)
		add(a, 2, s38[k], 0x66, 'V', 'W', 0);
	add(a, 2, 0x2a, 0x66, 'V', 'M', 0);		/* MOVNTDQA */
	add(a, 1, 0x6c, 0x66, 'V', 'W', 0);
	add(a, 1, 0x6d, 0x66, 'V', 'W', 0);
	/* moves */
	for (unsigned p = 0; p < 4; p++) {
		static const uint8_t pf[] = {0, 0x66, 0xf3, 0xf2};

		add(a, 1, 0x10, pf[p], 'V', 'W', 0);
		add(a, 1, 0x11, pf[p], 'V', 'W', 0);
	}
	add(a, 1, 0x12, 0, 'V', 'W', 0);
	add(a, 1, 0x12, 0x66, 'V', 'M', 0);
	add(a, 1, 0x12, 0xf3, 'V', 'W', 0);
	add(a, 1, 0x12, 0xf2, 'V', 'W', 0);
	add(a, 1, 0x13, 0, 'V', 'M', 0);
	add(a, 1, 0x13, 0x66, 'V', 'M', 0);
	add(a, 1, 0x16, 0, 'V', 'W', 0);
	add(a, 1, 0x16, 0x66, 'V', 'M', 0);
	add(a, 1, 0x16, 0xf3, 'V', 'W', 0);
	add(a, 1, 0x17, 0, 'V', 'M', 0);
	add(a, 1, 0x17, 0x66, 'V', 'M', 0);
	for (unsigned p = 0; p < 2; p++) {
		unsigned pf = p ? 0x66 : 0;

		add(a, 1, 0x14, pf, 'V', 'W', 0);
		add(a, 1, 0x15, pf, 'V', 'W', 0);
		add(a, 1, 0x28, pf, 'V', 'W', 0);
		add(a, 1, 0x29, pf, 'V', 'W', 0);
		add(a, 1, 0x2b, pf, 'V', 'M', 0);
		add(a, 1, 0x50, pf, 'G', 'U', 0);
		for (unsigned o = 0x54; o <= 0x57; o++)
			add(a, 1, o, pf, 'V', 'W', 0);
		add(a, 1, 0xc6, pf, 'V', 'W', F_IB);
	}
	add(a, 1, 0x6e, 0, 'P', 'E', 0);
	add(a, 1, 0x6e, 0x66, 'V', 'E', 0);
	add(a, 1, 0x6f, 0, 'P', 'Q', 0);
	add(a, 1, 0x6f, 0x66, 'V', 'W', 0);
	add(a, 1, 0x6f, 0xf3, 'V', 'W', 0);
	add(a, 1, 0x70, 0, 'P', 'Q', F_IB);
	add(a, 1, 0x70, 0x66, 'V', 'W', F_IB);
	add(a, 1, 0x70, 0xf3, 'V', 'W', F_IB);
	add(a, 1, 0x70, 0xf2, 'V', 'W', F_IB);
	add(a, 1, 0x71, 0, '2', 'N', F_IB | F_SHI);
	add(a, 1, 0x71, 0, '4', 'N', F_IB | F_SHI);
	add(a, 1, 0x71, 0, '6', 'N', F_IB | F_SHI);
	add(a, 1, 0x72, 0, '2', 'N', F_IB | F_SHI);
	add(a, 1, 0x72, 0, '4', 'N', F_IB | F_SHI);
	add(a, 1, 0x72, 0, '6', 'N', F_IB | F_SHI);
	add(a, 1, 0x73, 0, '2', 'N', F_IB | F_SHI);
	add(a, 1, 0x73, 0, '6', 'N', F_IB | F_SHI);
	add(a, 1, 0x71, 0x66, '2', 'U', F_IB | F_SHI);
	add(a, 1, 0x71, 0x66, '4', 'U', F_IB | F_SHI);
	add(a, 1, 0x71, 0x66, '6', 'U', F_IB | F_SHI);
	add(a, 1, 0x72, 0x66, '2', 'U', F_IB | F_SHI);
	add(a, 1, 0x72, 0x66, '4', 'U', F_IB | F_SHI);
	add(a, 1, 0x72, 0x66, '6', 'U', F_IB | F_SHI);
	add(a, 1, 0x73, 0x66, '2', 'U', F_IB | F_SHI);
	add(a, 1, 0x73, 0x66, '3', 'U', F_IB | F_SHI);
	add(a, 1, 0x73, 0x66, '6', 'U', F_IB | F_SHI);
	add(a, 1, 0x73, 0x66, '7', 'U', F_IB | F_SHI);
	add(a, 1, 0x77, 0, 'P', 'N', F_NOMODRM);		/* EMMS */
	add(a, 1, 0x7e, 0, 'P', 'E', 0);
	add(a, 1, 0x7e, 0x66, 'V', 'E', 0);
	add(a, 1, 0x7e, 0xf3, 'V', 'W', 0);
	add(a, 1, 0x7f, 0, 'P', 'Q', 0);
	add(a, 1, 0x7f, 0x66, 'V', 'W', 0);
	add(a, 1, 0x7f, 0xf3, 'V', 'W', 0);
	add(a, 1, 0xc3, 0, 'G', 'M', 0);			/* MOVNTI */
	add(a, 1, 0xc4, 0, 'P', 'E', F_IB);
	add(a, 1, 0xc4, 0x66, 'V', 'E', F_IB);
	add(a, 1, 0xc5, 0, 'G', 'N', F_IB);
	add(a, 1, 0xc5, 0x66, 'G', 'U', F_IB);
	add(a, 1, 0xd6, 0x66, 'V', 'W', 0);
	add(a, 1, 0xd6, 0xf3, 'V', 'N', 0);
	add(a, 1, 0xd6, 0xf2, 'P', 'U', 0);
	add(a, 1, 0xd7, 0, 'G', 'N', 0);
	add(a, 1, 0xd7, 0x66, 'G', 'U', 0);
	add(a, 1, 0xe7, 0, 'P', 'M', 0);
	add(a, 1, 0xe7, 0x66, 'V', 'M', 0);
	add(a, 1, 0xf0, 0xf2, 'V', 'M', 0);
	add(a, 1, 0xf7, 0, 'P', 'N', F_MASKMOV);
	add(a, 1, 0xf7, 0x66, 'V', 'U', F_MASKMOV);
	/* 0F 3A */
	add(a, 3, 0x0c, 0x66, 'V', 'W', F_IB);
	add(a, 3, 0x0d, 0x66, 'V', 'W', F_IB);
	add(a, 3, 0x0e, 0x66, 'V', 'W', F_IB);
	add(a, 3, 0x0f, 0, 'P', 'Q', F_IB);
	add(a, 3, 0x0f, 0x66, 'V', 'W', F_IB);
	add(a, 3, 0x14, 0x66, 'V', 'E', F_IB);
	add(a, 3, 0x15, 0x66, 'V', 'E', F_IB);
	add(a, 3, 0x16, 0x66, 'V', 'E', F_IB);
	add(a, 3, 0x17, 0x66, 'V', 'E', F_IB);
	add(a, 3, 0x20, 0x66, 'V', 'E', F_IB);
	add(a, 3, 0x21, 0x66, 'V', 'W', F_IB);
	add(a, 3, 0x22, 0x66, 'V', 'E', F_IB);
	add(a, 3, 0x42, 0x66, 'V', 'W', F_IB);
	return a;
}

static bool host_has_sse41(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return false;
	return (c & bit_SSE4_1) && (c & bit_SSSE3) && (c & bit_SSE4_2);
}

/* The state instructions, tested on their own. */
static bool state_op(unsigned op)
{
	return op == GH_X86_OP_FXSAVE || op == GH_X86_OP_FXRSTOR || op == GH_X86_OP_XSAVE ||
	       op == GH_X86_OP_XSAVEOPT || op == GH_X86_OP_XRSTOR || op == GH_X86_OP_XGETBV ||
	       op == GH_X86_OP_XSETBV;
}

#define COV_REG 1
#define COV_MEM 2

static void test_differential(void)
{
	struct env *e = env_new();
	GArray *forms = build_forms();
	uint8_t *cov = g_new0(uint8_t, GH_X86_NR_OPS);
	uint8_t *fcov = g_new0(uint8_t, forms->len);
	struct sigaction old[3];
	struct gen *c = g_new0(struct gen, 1);
	struct outcome *on = g_new0(struct outcome, 1), *oi = g_new0(struct outcome, 1);
	unsigned failures = 0, n = g_test_slow() ? 20000 : 600;

	if (!host_has_sse41()) {
		g_test_skip("the host has no SSSE3/SSE4.1/SSE4.2 to compare with");
		goto out;
	}
	if (!map_window(e)) {
		g_test_skip("no fixed low address for the native window");
		goto out;
	}
	native_signals(true, old);

	for (unsigned fi = 0; fi < forms->len && failures < 20; fi++) {
		const struct form *f = &g_array_index(forms, struct form, fi);
		uint64_t seed = 0x5eed5eed12345678ULL ^ ((uint64_t)fi << 32) ^ f->opc;
		struct ct_rng g = {seed};

		for (unsigned idx = 0; idx < n; idx++) {
			struct gh_x86_insn insn;

			gen_case(e, &g, f, c);
			g_assert_cmpint(gh_x86_decode(c->b, c->len, 64, &insn), ==, 0);
			g_assert_cmpuint(insn.len, ==, c->len);
			cov[insn.op] |= c->mem ? COV_MEM : COV_REG;
			fcov[fi] |= c->mem ? COV_MEM : COV_REG;
			run_native(e, c, on);
			run_interp(e, c, oi);
			if (!compare(c, on, oi, seed, idx)) {
				g_test_fail();
				failures++;
				break;
			}
		}
	}
	native_signals(false, old);

	/* every bound op ran, and every form that takes both ran in both */
	for (const struct gh_handler_bind *b = gh_exec_sse_binds; b->fn; b++) {
		if (state_op(b->op))
			continue;	/* /cpu-sse/state-images and /cpu-sse/xcr0 */
		if (!cov[b->op])
			fprintf(stderr, "not covered: %s\n", gh_x86_op_name(b->op));
		g_assert_cmphex(cov[b->op], !=, 0);
	}
	for (unsigned fi = 0; fi < forms->len; fi++) {
		const struct form *f = &g_array_index(forms, struct form, fi);
		bool both = f->rm == 'W' || f->rm == 'Q' || f->rm == 'E';

		if (both && !failures)
			g_assert_cmphex(fcov[fi], ==, COV_REG | COV_MEM);
	}
out:
	g_free(c);
	g_free(on);
	g_free(oi);
	g_free(cov);
	g_free(fcov);
	g_array_free(forms, true);
	env_free(e);
}

static bool host_has_xsave(void)
{
	unsigned a, b, c, d;

	return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_OSXSAVE) && (c & bit_XSAVE);
}

/*
 * FXSAVE/FXRSTOR (both layouts), XSAVE/XSAVEOPT/XRSTOR with every request
 * mask of x87 and SSE: the image written and the state loaded must be the
 * host's for the same registers and memory, alignment faults and reserved
 * MXCSR bits (#GP) included.
 */
static void test_state_images(void)
{
	static const uint8_t ops[][4] = {
	    {0x48, 0x0f, 0xae, 0x00}, {0x40, 0x0f, 0xae, 0x00},	/* FXSAVE64, FXSAVE */
	    {0x48, 0x0f, 0xae, 0x08}, {0x40, 0x0f, 0xae, 0x08},	/* FXRSTOR64, FXRSTOR */
	    {0x48, 0x0f, 0xae, 0x20}, {0x40, 0x0f, 0xae, 0x20},	/* XSAVE64, XSAVE */
	    {0x48, 0x0f, 0xae, 0x30},				/* XSAVEOPT64 */
	    {0x48, 0x0f, 0xae, 0x28}, {0x40, 0x0f, 0xae, 0x28},	/* XRSTOR64, XRSTOR */
	};
	struct env *e = env_new();
	struct sigaction old[3];
	struct gen *c = g_new0(struct gen, 1);
	struct outcome *on = g_new0(struct outcome, 1), *oi = g_new0(struct outcome, 1);
	struct form dummy = {1, 0x58, 0x66, 'V', 'W', 0};	/* only for the state */
	unsigned n = g_test_slow() ? 20000 : 800, failures = 0;

	if (!host_has_xsave()) {
		g_test_skip("the host has no XSAVE enabled to compare with");
		goto out;
	}
	if (!map_window(e)) {
		g_test_skip("no fixed low address for the native window");
		goto out;
	}
	e->s.cr4 |= GH_CR4_OSXSAVE;
	e->s.xcr0 = 3;
	ct_apply(e->cpu, &e->s);
	native_signals(true, old);
	for (unsigned oi_ = 0; oi_ < G_N_ELEMENTS(ops) && failures < 5; oi_++) {
		uint64_t seed = 0xf85a7e00ULL + oi_;
		struct ct_rng g = {seed};
		bool xs = ops[oi_][3] >= 0x20, rstor = ops[oi_][3] == 0x08 || ops[oi_][3] == 0x28;

		for (unsigned idx = 0; idx < n; idx++) {
			uint64_t t = ct_rndn(&g, BUF_SIZE - 1024) & ~63ULL, bv;
			uint32_t mxcsr;

			gen_case(e, &g, &dummy, c);
			memcpy(c->b, ops[oi_], 4);
			c->len = 4;
			if (ct_rndn(&g, 8) == 0)
				t += ct_rndn(&g, 4) * 16 + (ct_rndn(&g, 2) ? 0 : 1 + ct_rndn(&g, 15));
			c->target = e->va + BUF_OFF + t;
			c->r.g[GH_RAX] = c->target;
			/* XSAVE forms: the request mask is EDX:EAX, the address in RBX */
			if (xs) {
				c->b[3] = (c->b[3] & ~7) | GH_RBX;
				c->r.g[GH_RBX] = c->target;
				c->r.g[GH_RAX] = ct_rnd(&g) & 3;
				c->r.g[GH_RDX] = 0;
			}
			if (rstor) {
				/* a plausible image: MXCSR mostly valid, header valid */
				mxcsr = ct_rnd(&g) & 0xffff;
				if (ct_rndn(&g, 8) == 0)
					mxcsr |= 1u << (16 + ct_rndn(&g, 16));
				memcpy(c->buf + t + 24, &mxcsr, 4);
				/* FIP/FDP canonical for 48 bits (the host may have 57) */
				c->buf[t + 14] = c->buf[t + 15] = c->buf[t + 22] = c->buf[t + 23] = 0;
				bv = ct_rnd(&g) & 3;
				memcpy(c->buf + t + 512, &bv, 8);
				memset(c->buf + t + 520, 0, 56);
				if (ct_rndn(&g, 10) == 0)
					c->buf[t + 520 + ct_rndn(&g, 16)] = 1 + ct_rndn(&g, 255);
			}
			run_native(e, c, on);
			run_interp(e, c, oi);
			if (!compare(c, on, oi, seed, idx)) {
				g_test_fail();
				failures++;
				break;
			}
		}
	}
	native_signals(false, old);
out:
	g_free(c);
	g_free(on);
	g_free(oi);
	env_free(e);
}

/* Runs bytes once in the interpreter under cr0/cr4 and FSW; returns the
 * vector raised, or -1. */
static int interp_vector(struct env *e, const uint8_t *bytes, unsigned len, uint64_t cr0,
			 uint64_t cr4, uint16_t fsw)
{
	struct gen *c = g_new0(struct gen, 1);
	struct outcome *o = g_new0(struct outcome, 1);
	int v;

	e->va = 0x400000; /* RAM here: the code page and the buffer */
	e->s.cr0 = cr0;
	e->s.cr4 = cr4;
	ct_apply(e->cpu, &e->s);
	memcpy(c->b, bytes, len);
	c->len = len;
	c->r.fx[0] = 0x7f;
	c->r.fx[1] = 0x03;
	memcpy(c->r.fx + 2, &fsw, 2);
	c->r.fx[24] = 0x80;
	c->r.fx[25] = 0x1f;
	c->r.fl = 2;
	for (unsigned k = 0; k < 16; k++)
		c->r.g[k] = e->va + BUF_OFF + 0x100;
	run_interp(e, c, o);
	v = o->vector;
	g_free(c);
	g_free(o);
	return v;
}

/*
 * SDM vol. 2A, 2.5 and vol. 3A, 13.1: SSE is #UD with CR0.EM or without
 * CR4.OSFXSR, #NM with CR0.TS; MMX does not look at OSFXSR, is #UD with EM,
 * #NM with TS, and #MF while an unmasked x87 exception is pending (CR0.NE).
 * A misaligned MOVDQA is #GP(0), a misaligned MOVDQU is not.
 */
static void test_exceptions(void)
{
	struct env *e = env_new();
	const uint64_t cr0 = e->s.cr0, cr4 = e->s.cr4;
	static const uint8_t pxor_x[] = {0x66, 0x0f, 0xef, 0xc1};	/* PXOR xmm0,xmm1 */
	static const uint8_t pxor_m[] = {0x0f, 0xef, 0xc1};		/* PXOR mm0,mm1 */
	static const uint8_t emms[] = {0x0f, 0x77};
	static const uint8_t movdqa_m1[] = {0x66, 0x0f, 0x6f, 0x40, 0x01}; /* [rax+1] */
	static const uint8_t movdqu_m1[] = {0xf3, 0x0f, 0x6f, 0x40, 0x01};
	static const uint8_t movdqa_m0[] = {0x66, 0x0f, 0x6f, 0x40, 0x00};
	g_assert_cmpint(interp_vector(e, pxor_x, 4, cr0, cr4, 0), ==, -1);
	g_assert_cmpint(interp_vector(e, pxor_x, 4, cr0 | GH_CR0_EM, cr4, 0), ==, GH_EXC_UD);
	g_assert_cmpint(interp_vector(e, pxor_x, 4, cr0, cr4 & ~GH_CR4_OSFXSR, 0), ==, GH_EXC_UD);
	g_assert_cmpint(interp_vector(e, pxor_x, 4, cr0 | GH_CR0_TS, cr4, 0), ==, GH_EXC_NM);
	g_assert_cmpint(interp_vector(e, pxor_x, 4, cr0 | GH_CR0_TS | GH_CR0_EM, cr4, 0), ==,
			GH_EXC_UD);
	/* a pending x87 exception does not concern SSE */
	g_assert_cmpint(interp_vector(e, pxor_x, 4, cr0, cr4, GH_FSW_ES | 1), ==, -1);

	g_assert_cmpint(interp_vector(e, pxor_m, 3, cr0, cr4, 0), ==, -1);
	g_assert_cmpint(interp_vector(e, pxor_m, 3, cr0, cr4 & ~GH_CR4_OSFXSR, 0), ==, -1);
	g_assert_cmpint(interp_vector(e, pxor_m, 3, cr0 | GH_CR0_EM, cr4, 0), ==, GH_EXC_UD);
	g_assert_cmpint(interp_vector(e, pxor_m, 3, cr0 | GH_CR0_TS, cr4, 0), ==, GH_EXC_NM);
	g_assert_cmpint(interp_vector(e, pxor_m, 3, cr0, cr4, GH_FSW_ES | 1), ==, GH_EXC_MF);
	g_assert_cmpint(interp_vector(e, pxor_m, 3, cr0 | GH_CR0_TS, cr4, GH_FSW_ES | 1), ==,
			GH_EXC_NM);
	g_assert_cmpint(interp_vector(e, emms, 2, cr0, cr4, GH_FSW_ES | 1), ==, GH_EXC_MF);
	g_assert_cmpint(interp_vector(e, emms, 2, cr0 | GH_CR0_EM, cr4, 0), ==, GH_EXC_UD);
	/* MMX ran: TOP = 0, every tag valid; EMMS: every tag empty */
	g_assert_cmpint(interp_vector(e, pxor_m, 3, cr0, cr4, 5u << 11), ==, -1);
	g_assert_cmphex(e->cpu->x87.fsw & GH_FSW_TOP, ==, 0);
	g_assert_cmphex(e->cpu->x87.ftw, ==, 0xff);
	g_assert_cmphex(e->cpu->x87.r[0].sexp, ==, 0xffff);
	g_assert_cmpint(interp_vector(e, emms, 2, cr0, cr4, 3u << 11), ==, -1);
	g_assert_cmphex(e->cpu->x87.ftw, ==, 0);

	g_assert_cmpint(interp_vector(e, movdqa_m0, 5, cr0, cr4, 0), ==, -1);
	g_assert_cmpint(interp_vector(e, movdqa_m1, 5, cr0, cr4, 0), ==, GH_EXC_GP);
	g_assert_cmpint(interp_vector(e, movdqu_m1, 5, cr0, cr4, 0), ==, -1);
	env_free(e);
}

/* Runs bytes once in the interpreter from state s (its RIP is set here);
 * returns the vector raised, or -1. */
static int state_vector(struct env *e, const struct gh_cpu_state *s, const uint8_t *bytes,
			unsigned len)
{
	struct gh_cpu_state *t = g_new(struct gh_cpu_state, 1);
	struct gh_cpu *cpu = e->cpu;
	int v = -2;

	*t = *s;
	e->va = 0x400000;
	t->rip = e->va + 0x1000 - len;
	memset(e->icode, 0xcc, sizeof(e->icode));
	memcpy(e->icode + 0x1000 - len, bytes, len);
	ct_apply(cpu, t);
	gh_cpu_invalidate_code(cpu, e->va, 0x1000);
	g_assert_cmpint(gh_cpu_run(cpu, 1), ==, GH_CPU_BUDGET);
	if (cpu->rip == e->va + 0x1000)
		v = -1;
	else if (cpu->rip > HBASE && !(cpu->rip & 0xfff))
		v = (int)((cpu->rip - HBASE) >> 12) - 1;
	g_free(t);
	return v;
}

/*
 * XGETBV/XSETBV and the XSAVE checks the host cannot show (SDM vol. 1,
 * 13.3; vol. 2 XSETBV, XRSTOR): #UD without CR4.OSXSAVE, XSETBV #GP(0)
 * for an XCR0 without x87, with AVX, or another XCR; XRSTOR
 * #GP(0) for an XSTATE_BV bit XCR0 does not enable; XSAVE #GP(0) unless
 * 64-byte aligned. CPUID follows CR4.OSXSAVE and reports leaf 0xD.
 */
static void test_xcr0(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	const uint64_t cr0 = e->s.cr0, cr4 = e->s.cr4 | GH_CR4_OSXSAVE;
	static const uint8_t xgetbv[] = {0x0f, 0x01, 0xd0}, xsetbv[] = {0x0f, 0x01, 0xd1};
	static const uint8_t xsave[] = {0x0f, 0xae, 0x23}, xrstor[] = {0x0f, 0xae, 0x2b};
	uint32_t r[4];

	g_assert_cmpint(interp_vector(e, xgetbv, 3, cr0, cr4 & ~GH_CR4_OSXSAVE, 0), ==, GH_EXC_UD);
	g_assert_cmpint(interp_vector(e, xsetbv, 3, cr0, cr4 & ~GH_CR4_OSXSAVE, 0), ==, GH_EXC_UD);
	g_assert_cmpint(interp_vector(e, xgetbv, 3, cr0, cr4, 0), ==, GH_EXC_GP); /* ECX != 0 */
	e->s.cr4 = cr4;
	e->s.gpr[GH_RCX] = 0;
	e->s.gpr[GH_RDX] = 0;
	g_assert_cmpint(state_vector(e, &e->s, xgetbv, 3), ==, -1);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 1);	/* reset: x87 only */
	g_assert_cmphex(cpu->gpr[GH_RDX], ==, 0);
	e->s.gpr[GH_RAX] = 3;
	g_assert_cmpint(state_vector(e, &e->s, xsetbv, 3), ==, -1);
	g_assert_cmphex(cpu->xcr0, ==, 3);
	e->s.xcr0 = 3;	/* XCR0 is part of the state */
	g_assert_cmpint(state_vector(e, &e->s, xgetbv, 3), ==, -1);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 3);
	e->s.xcr0 = 1;

	{
		static const struct {
			uint64_t rax, rcx, rdx;
		} bad[] = {
		    {2, 0, 0},	/* no x87 */
		    {7, 0, 0},	/* AVX */
		    {1, 0, 1},	/* bit 32 */
		    {1, 1, 0},	/* XCR1 */
		};

		for (unsigned k = 0; k < G_N_ELEMENTS(bad); k++) {
			struct gh_cpu_state s = e->s;

			s.gpr[GH_RAX] = bad[k].rax;
			s.gpr[GH_RCX] = bad[k].rcx;
			s.gpr[GH_RDX] = bad[k].rdx;
			g_assert_cmpint(state_vector(e, &s, xsetbv, 3), ==, GH_EXC_GP);
			g_assert_cmphex(cpu->xcr0, ==, 1);
		}
	}

	/* XRSTOR: XSTATE_BV bit 1 with XCR0 = 1 is #GP; with bit 0 it loads */
	ct_apply(cpu, &e->s);
	{
		struct gen *c = g_new0(struct gen, 1);
		struct outcome *o = g_new0(struct outcome, 1);
		uint64_t bv = 2;

		c->len = 3;
		memcpy(c->b, xrstor, 3);
		c->r.fl = 2;
		c->r.fx[0] = 0x7f;
		c->r.fx[1] = 0x03;
		c->r.fx[25] = 0x1f;
		c->r.g[GH_RBX] = e->va + BUF_OFF;
		c->r.g[GH_RAX] = 3;
		c->buf[24] = 0x80;
		c->buf[25] = 0x1f;
		memcpy(c->buf + 512, &bv, 8);
		run_interp(e, c, o);
		g_assert_cmpint(o->vector, ==, GH_EXC_GP);
		bv = 1;
		memcpy(c->buf + 512, &bv, 8);
		c->buf[0] = 0x7f;
		c->buf[2] = 0x01; /* FSW.IE, masked */
		run_interp(e, c, o);
		g_assert_cmpint(o->vector, ==, -1);
		g_assert_cmphex(cpu->x87.fsw, ==, 1);
		/* XSAVE to a 16- but not 64-byte aligned address */
		memcpy(c->b, xsave, 3);
		c->r.g[GH_RBX] = e->va + BUF_OFF + 16;
		run_interp(e, c, o);
		g_assert_cmpint(o->vector, ==, GH_EXC_GP);
		g_free(c);
		g_free(o);
	}

	/* CPUID: OSXSAVE follows CR4; leaf 0xD lists x87 and SSE in 576 bytes */
	gh_cpuid(cpu, 1, 0, r);
	g_assert_cmphex(r[GH_CPUID_ECX] & (1u << 27), ==, 1u << 27);
	gh_cpuid(cpu, 0xd, 0, r);
	g_assert_cmphex(r[GH_CPUID_EAX], ==, 3);
	g_assert_cmphex(r[GH_CPUID_EBX], ==, 576);
	g_assert_cmphex(r[GH_CPUID_ECX], ==, 576);
	gh_cpuid(cpu, 0xd, 1, r);
	g_assert_cmphex(r[GH_CPUID_EAX], ==, 1);
	env_free(e);
}

/*
 * gh_cpu_get_state/gh_cpu_set_state carry the x87/MMX/SSE state and XCR0
 * as an FXSAVE image: what is set is what is read back, what the
 * interpreter computes shows in it, and an MXCSR or XCR0 with reserved
 * bits is refused. The reset state is table 9-1's (FCW 0040H, every tag
 * valid, MXCSR 1F80H) and XCR0 1.
 */
static void test_state_roundtrip(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	struct gh_cpu_state *s = g_new0(struct gh_cpu_state, 1), *t = g_new0(struct gh_cpu_state, 1);
	struct ct_rng g = {0x51a7e};
	uint32_t mxcsr;

	gh_cpu_state_reset(s, true);
	g_assert_cmphex(s->xcr0, ==, 1);
	g_assert_cmphex(ct_get16(s->fxsave, GH_FXSAVE_FCW), ==, 0x40);
	g_assert_cmphex(s->fxsave[GH_FXSAVE_FTW], ==, 0xff);
	g_assert_cmphex(ct_get32(s->fxsave, GH_FXSAVE_MXCSR), ==, 0x1f80);

	*s = e->s;
	for (unsigned k = 0; k < 16; k++)
		rnd_vec(&g, s->fxsave + GH_FXSAVE_XMM(k));
	for (unsigned k = 0; k < 8; k++) {
		ct_put64(s->fxsave, GH_FXSAVE_ST(k), ct_rnd(&g));
		ct_put16(s->fxsave, GH_FXSAVE_ST(k) + 8, (uint16_t)ct_rnd(&g));
	}
	ct_put16(s->fxsave, GH_FXSAVE_FCW, 0x27f);
	ct_put16(s->fxsave, GH_FXSAVE_FSW, 3u << 11);
	s->fxsave[GH_FXSAVE_FTW] = 0x5a;
	ct_put32(s->fxsave, GH_FXSAVE_MXCSR, 0x9fc0);
	s->xcr0 = 3;
	ct_apply(cpu, s);
	gh_cpu_get_state(cpu, t);
	g_assert_cmpmem(t->fxsave, 24, s->fxsave, 24);
	g_assert_cmphex(ct_get32(t->fxsave, GH_FXSAVE_MXCSR), ==, 0x9fc0);
	g_assert_cmphex(ct_get32(t->fxsave, GH_FXSAVE_MXCSR_MASK), ==, GH_MXCSR_MASK);
	g_assert_cmpmem(t->fxsave + 32, 416 - 32, s->fxsave + 32, 416 - 32);
	g_assert_cmphex(t->xcr0, ==, 3);
	/* ST(i) is R((TOP + i) & 7): physical register 3 is ST0 here */
	g_assert_cmphex(cpu->x87.r[3].mant, ==, ct_get64(s->fxsave, GH_FXSAVE_ST(0)));

	/* an MMX instruction's effect shows: PXOR mm3,mm3 (TOP 0, R3 zero) */
	e->va = 0x400000;
	memset(e->icode, 0xcc, sizeof(e->icode));
	memcpy(e->icode + 0x1000 - 3, (const uint8_t[]){0x0f, 0xef, 0xdb}, 3);
	s->rip = e->va + 0x1000 - 3;
	ct_apply(cpu, s);
	gh_cpu_invalidate_code(cpu, e->va, 0x1000);
	g_assert_cmpint(gh_cpu_run(cpu, 1), ==, GH_CPU_BUDGET);
	gh_cpu_get_state(cpu, t);
	g_assert_cmphex(ct_get16(t->fxsave, GH_FXSAVE_FSW) & GH_FSW_TOP, ==, 0);
	g_assert_cmphex(t->fxsave[GH_FXSAVE_FTW], ==, 0xff);
	g_assert_cmphex(ct_get64(t->fxsave, GH_FXSAVE_ST(3)), ==, 0);
	g_assert_cmphex(ct_get16(t->fxsave, GH_FXSAVE_ST(3) + 8), ==, 0xffff);

	/* refused: reserved MXCSR bits, XCR0 without x87 or with AVX */
	mxcsr = 0x10000 | 0x1f80;
	ct_put32(s->fxsave, GH_FXSAVE_MXCSR, mxcsr);
	g_assert_cmpint(gh_cpu_set_state(cpu, s), ==, -EINVAL);
	ct_put32(s->fxsave, GH_FXSAVE_MXCSR, 0x1f80);
	s->xcr0 = 2;
	g_assert_cmpint(gh_cpu_set_state(cpu, s), ==, -EINVAL);
	s->xcr0 = 7;
	g_assert_cmpint(gh_cpu_set_state(cpu, s), ==, -EINVAL);
	s->xcr0 = 1;
	g_assert_cmpint(gh_cpu_set_state(cpu, s), ==, 0);
	g_free(s);
	g_free(t);
	env_free(e);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cpu-sse/differential", test_differential);
	g_test_add_func("/cpu-sse/exceptions", test_exceptions);
	g_test_add_func("/cpu-sse/state-images", test_state_images);
	g_test_add_func("/cpu-sse/xcr0", test_xcr0);
	g_test_add_func("/cpu-sse/state-roundtrip", test_state_roundtrip);
	return g_test_run();
}
