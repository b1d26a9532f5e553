/*
 * Differential tests of the control-flow, stack, flag and string handlers
 * (exec-ctl.c): the same bytes run natively in user mode on the x86-64
 * host and in the interpreter at CPL 3 in 64-bit mode, from the same
 * random registers, flags and memory, and every register, the memory and
 * the user-visible flags must agree (faults included).
 *
 * A case is a few instructions at the end of a code page, run until RIP
 * reaches the page end (natively a RET lies there). Stack forms run on a
 * stack inside the compared buffer: "xchg rsp, r15" around the
 * instruction swaps it in and out, so the host's own stack never shows.
 * Branch targets are the page end or the instruction after, so taken and
 * not-taken paths differ in a register (r8) and in RIP.
 */
#include "cpu/cpu-internal.h"
#include "cpu/exec.h"
#include "cputest.h"
#include "hosttest.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define RAM_SIZE (4u << 20)
#define TSS_BASE 0x3000
#define PML4 0x10000
#define RSP0 0x70000
#define HBASE 0x100000		/* vector v's handler: a NOP ending page v */

/* The native window: code page, a page holding RET, then the buffer. */
#define BUF_OFF 0x2000
#define BUF_SIZE 0x8000
#define WIN_SIZE (BUF_OFF + BUF_SIZE)

#define SEL_TSS 0x40
#define SEL_UCODE 0x2b
#define SEL_UDATA 0x33

/* The flags a CPL-3 program can see change: POPF cannot touch IF, IOPL
 * (IOPL 0) or VM/VIF/VIP; AC and TF stay clear (they would trap). */
#define USER_FLAGS (GH_ALU_FLAGS | GH_FL_DF | GH_FL_NT | GH_FL_ID | GH_FL_IF | GH_FL_IOPL)

#define MAX_CODE 64

struct env {
	uint8_t *ram;
	uint8_t *win;
	uint64_t va;
	uint8_t icode[0x1000];
	uint8_t ibuf[BUF_SIZE];
	struct gh_cpu *cpu;
};

struct tcase {
	uint8_t code[MAX_CODE];
	unsigned len;
	struct nregs r;
	uint8_t buf[BUF_SIZE];
};

struct outcome {
	struct nregs r;
	uint8_t buf[BUF_SIZE];
	int vector;
};

static uint8_t *fake_page(void *opaque, uint64_t gpa, bool *writable)
{
	struct env *e = opaque;

	*writable = true;
	if (gpa < RAM_SIZE)
		return e->ram + (gpa & ~0xfffULL);
	if (gpa >= e->va && gpa < e->va + 0x1000)
		return e->icode;
	if (gpa >= e->va + BUF_OFF && gpa < e->va + WIN_SIZE)
		return e->ibuf + ((gpa - e->va - BUF_OFF) & ~0xfffULL);
	return NULL;
}

static bool map_window(struct env *e)
{
	e->win = ct_map_window(WIN_SIZE, &e->va);
	if (!e->win)
		return false;
	e->win[0x1000] = 0xc3; /* RET after the case */
	return true;
}

/* 64-bit mode at CPL 3, IF set, IOPL 0. */
static void user_state(struct env *e)
{
	struct gh_cpu_state s;

	ct_flat_state(e->ram, &s, SEL_UCODE, SEL_UDATA, SEL_TSS, false);
	ct_long_mode(&s, PML4);
	s.gdt.limit = 0x4f;
	s.idt.base = CT_IDT_BASE;
	s.idt.limit = 32 * 16 - 1;
	s.rflags = 0x202;
	ct_apply(e->cpu, &s);
	g_assert_cmpint(e->cpu->cpl, ==, 3);
}

/* 0-1 GiB identity-mapped, user-accessible; faults go to CPL-0 NOPs. */
static struct env *env_new(void)
{
	struct env *e = g_new0(struct env, 1);
	struct gh_cpu_bus bus = { .opaque = e, .page = fake_page };
	uint64_t pd;

	e->cpu = ct_cpu_new(bus, &e->ram, RAM_SIZE);
	ct_gdt_set(e->ram, 0x08, ct_seg_desc(0, 0xfffff, 0x9b, 0xa));
	ct_gdt_set(e->ram, 0x10, ct_seg_desc(0, 0xfffff, 0x93, 0xc));
	ct_gdt_set(e->ram, 0x28, ct_seg_desc(0, 0xfffff, 0xfb, 0xa));
	ct_gdt_set(e->ram, 0x30, ct_seg_desc(0, 0xfffff, 0xf3, 0xc));
	ct_gdt_set(e->ram, SEL_TSS, ct_seg_desc(TSS_BASE, 0x67, 0x89, 0));
	ct_put64(e->ram, TSS_BASE + 4, RSP0);
	for (unsigned v = 0; v < 32; v++) {
		e->ram[HBASE + v * 0x1000 + 0xfff] = 0x90;
		ct_idt64_set(e->ram, v, 0x08, HBASE + v * 0x1000 + 0xfff, 0x8e, 0);
	}
	pd = ct_map_low(e->ram, PML4, 7);
	for (uint64_t k = 0; k < 512; k++)
		ct_put64(e->ram, pd + k * 8, (k << 21) | 0x87);
	user_state(e);
	return e;
}

static void env_free(struct env *e)
{
	ct_cpu_free(e->cpu, e->ram);
	if (e->win)
		munmap(e->win, WIN_SIZE);
	g_free(e);
}

static void run_native(struct env *e, const struct tcase *c, struct outcome *o)
{
	uint8_t *code = e->win + 0x1000 - c->len;

	memcpy(code, c->code, c->len);
	memcpy(e->win + BUF_OFF, c->buf, BUF_SIZE);
	o->r = c->r;
	o->vector = native_run(&o->r, code);
	if (o->vector >= 0)
		o->r = c->r;
	memcpy(o->buf, e->win + BUF_OFF, BUF_SIZE);
}

/*
 * One instruction per gh_cpu_run() until RIP reaches the page end or a
 * handler: REP forms that yield part-way (every REP_BATCH iterations)
 * restart from their registers, which the comparison then checks.
 */
static void run_interp(struct env *e, const struct tcase *c, struct outcome *o)
{
	struct gh_cpu *cpu = e->cpu;
	unsigned steps;

	memset(e->icode, 0xcc, sizeof(e->icode));
	memcpy(e->icode + 0x1000 - c->len, c->code, c->len);
	gh_cpu_invalidate_code(cpu, e->va, 0x1000);
	memcpy(e->ibuf, c->buf, BUF_SIZE);
	memcpy(cpu->gpr, c->r.g, sizeof(cpu->gpr));
	cpu->gpr[GH_RSP] = e->va + BUF_OFF + BUF_SIZE - 8;	/* unused by cases */
	cpu->rip = e->va + 0x1000 - c->len;
	gh_exec_set_rflags(cpu, c->r.fl, USER_FLAGS & ~(uint64_t)(GH_FL_IF | GH_FL_IOPL));
	o->vector = -2;
	for (steps = 0; steps < 64; steps++) {
		g_assert_cmpint(gh_cpu_run(cpu, 1), ==, GH_CPU_BUDGET);
		if (cpu->rip == e->va + 0x1000) {
			o->vector = -1;
			break;
		}
		if (cpu->rip > HBASE && cpu->rip <= HBASE + 32 * 0x1000 && !(cpu->rip & 0xfff)) {
			o->vector = (int)((cpu->rip - HBASE) >> 12) - 1;
			break;
		}
	}
	memcpy(o->r.g, cpu->gpr, sizeof(o->r.g));
	o->r.fl = gh_exec_rflags(cpu);
	memcpy(o->buf, e->ibuf, BUF_SIZE);
	if (o->vector != -1)	/* a fault: back to CPL 3 for the next case */
		user_state(e);
}

static bool same(const char *name, uint64_t seed, unsigned idx, const struct tcase *c,
		 const struct outcome *n, const struct outcome *v)
{
	bool ok = n->vector == v->vector && !((n->r.fl ^ v->r.fl) & USER_FLAGS);
	int at = -1;

	for (unsigned k = 0; k < 16 && ok; k++)
		if (k != GH_RSP && n->r.g[k] != v->r.g[k])
			ok = false;
	for (unsigned k = 0; k < BUF_SIZE; k++)
		if (n->buf[k] != v->buf[k]) {
			at = (int)k;
			ok = false;
			break;
		}
	if (ok)
		return true;
	fprintf(stderr, "MISMATCH %s seed %#" G_GINT64_MODIFIER "x case %u:", name, seed, idx);
	for (unsigned k = 0; k < c->len; k++)
		fprintf(stderr, " %02x", c->code[k]);
	fprintf(stderr, "\n  vector native %d interp %d; flags in %#" G_GINT64_MODIFIER
		"x native %#" G_GINT64_MODIFIER "x interp %#" G_GINT64_MODIFIER "x\n",
		n->vector, v->vector, c->r.fl, n->r.fl, v->r.fl);
	for (unsigned k = 0; k < 16; k++)
		if (n->r.g[k] != v->r.g[k] || c->r.g[k] != n->r.g[k])
			fprintf(stderr, "  r%u: in %#" G_GINT64_MODIFIER "x native %#"
				G_GINT64_MODIFIER "x interp %#" G_GINT64_MODIFIER "x\n",
				k, c->r.g[k], n->r.g[k], v->r.g[k]);
	if (at >= 0)
		fprintf(stderr, "  memory at +%#x: native %02x interp %02x (was %02x)\n", at,
			n->buf[at], v->buf[at], c->buf[at]);
	return false;
}

/* ---- case generation ------------------------------------------------------ */

static void put(struct tcase *c, const uint8_t *b, unsigned n)
{
	g_assert_cmpuint(c->len + n, <=, MAX_CODE);
	memcpy(c->code + c->len, b, n);
	c->len += n;
}

#define PUT(c, ...) put(c, (const uint8_t[]){ __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ }))

/* The address the next byte put will have once the case is placed. */
static uint64_t where(const struct env *e, const struct tcase *c, unsigned total)
{
	return e->va + 0x1000 - total + c->len;
}

static uint64_t rnd_flags(struct ct_rng *g)
{
	/* random user flags; IF set, IOPL 0, AC/TF/NT clear */
	uint64_t f = ct_rnd(g) & (GH_ALU_FLAGS | GH_FL_DF | GH_FL_ID);

	return f | GH_FL_IF | 2;
}

static void rnd_case(struct env *e, struct ct_rng *g, struct tcase *c)
{
	memset(c, 0, sizeof(*c));
	for (unsigned k = 0; k < 16; k++)
		c->r.g[k] = ct_rnd(g);
	c->r.fl = rnd_flags(g);
	for (unsigned k = 0; k < BUF_SIZE; k += 8) {
		uint64_t v = ct_rnd(g);

		memcpy(c->buf + k, &v, 8);
	}
}

/* A pointer into the buffer with room of lo bytes below and hi above. */
static uint64_t buf_ptr(const struct env *e, struct ct_rng *g, unsigned lo, unsigned hi)
{
	g_assert_cmpuint(lo + hi, <, BUF_SIZE);
	return e->va + BUF_OFF + lo + ct_rndn(g, BUF_SIZE - lo - hi);
}

typedef void gen_fn(struct env *e, struct ct_rng *g, struct tcase *c, unsigned variant);

static void run_cases(const char *name, gen_fn *gen, unsigned variants, unsigned per)
{
	struct env *e = env_new();
	struct tcase *c = g_new0(struct tcase, 1);
	struct outcome *on = g_new0(struct outcome, 1), *oi = g_new0(struct outcome, 1);
	struct sigaction old[4];
	unsigned failures = 0, ran[2] = { 0, 0 };

	if (!map_window(e)) {
		g_test_skip("no fixed low address for the native window");
		goto out;
	}
	native_signals(old, true);
	for (unsigned v = 0; v < variants && failures < 20; v++) {
		uint64_t seed = 0x243f6a8885a308d3ULL ^ ((uint64_t)v << 20) ^ (uint64_t)name[0];
		struct ct_rng g = {seed};

		for (unsigned k = 0; k < per && failures < 20; k++) {
			gen(e, &g, c, v);
			run_native(e, c, on);
			run_interp(e, c, oi);
			if (!same(name, seed, k, c, on, oi))
				failures++;
			ran[on->vector < 0 ? 0 : 1]++;
		}
	}
	native_signals(old, false);
	g_assert_cmpuint(failures, ==, 0);
	/* the cases must mostly complete: faults compare only the vector */
	g_test_message("%s: %u cases completed, %u faulted", name, ran[0], ran[1]);
	g_assert_cmpuint(ran[1], <, ran[0] / 8);
out:
	g_free(on);
	g_free(oi);
	g_free(c);
	env_free(e);
}

/* ---- conditions: Jcc, SETcc, CMOVcc --------------------------------------- */

/* variant: condition (0-15) x form (4) */
static void gen_cond(struct env *e, struct ct_rng *g, struct tcase *c, unsigned v)
{
	unsigned cc = v & 15, form = v >> 4;

	rnd_case(e, g, c);
	switch (form) {
	case 0: /* jcc rel8 over "or r8, 1" */
		PUT(c, 0x70 | cc, 4, 0x49, 0x83, 0xc8, 0x01);
		break;
	case 1: /* jcc rel32 over it */
		PUT(c, 0x0f, 0x80 | cc, 4, 0, 0, 0, 0x49, 0x83, 0xc8, 0x01);
		break;
	case 2: /* setcc r/m8: a register (with and without REX) or [rbx] */
		switch (ct_rndn(g, 3)) {
		case 0:
			PUT(c, 0x0f, 0x90 | cc, 0xc0 | ct_rndn(g, 8));
			break;
		case 1:
			PUT(c, 0x41, 0x0f, 0x90 | cc, 0xc0 | ct_rndn(g, 8));
			break;
		default:
			c->r.g[GH_RBX] = buf_ptr(e, g, 0, 1);
			PUT(c, 0x0f, 0x90 | cc, 0x03);
			break;
		}
		break;
	default: { /* cmovcc 16/32/64, register or [rbx] source; never RSP */
		static const uint8_t pfx[3] = { 0x66, 0, 0x48 };
		unsigned size = ct_rndn(g, 3), r = ct_rndn(g, 8), m = ct_rndn(g, 8);

		r = r == 4 ? 5 : r;
		m = m == 4 ? 6 : m;
		c->r.g[GH_RBX] = buf_ptr(e, g, 0, 8);
		if (pfx[size])
			PUT(c, pfx[size]);
		PUT(c, 0x0f, 0x40 | cc, ct_rndn(g, 2) ? 0x03 | (r << 3) : 0xc0 | (r << 3) | m);
		break;
	}
	}
}

static void test_cond(void)
{
	run_cases("cond", gen_cond, 64, 200);
}

/* ---- LOOP, LOOPE, LOOPNE, JrCXZ ------------------------------------------ */

static void gen_loop(struct env *e, struct ct_rng *g, struct tcase *c, unsigned v)
{
	static const uint8_t ops[4] = { 0xe2, 0xe1, 0xe0, 0xe3 };

	rnd_case(e, g, c);
	switch (ct_rndn(g, 4)) {
	case 0:
		c->r.g[GH_RCX] = 0;
		break;
	case 1:
		c->r.g[GH_RCX] = 1 + (ct_rnd(g) & 0xffffffff00000000ULL) * ct_rndn(g, 2);
		break;
	case 2:
		c->r.g[GH_RCX] &= 0xffffffff00000001ULL;
		break;
	}
	if (v & 4)	/* address size 32: ECX */
		PUT(c, 0x67);
	PUT(c, ops[v & 3], 4, 0x49, 0x83, 0xc8, 0x01);
}

static void test_loop(void)
{
	run_cases("loop", gen_loop, 8, 300);
}

/* ---- flag instructions ------------------------------------------------------- */

static void gen_flags(struct env *e, struct ct_rng *g, struct tcase *c, unsigned v)
{
	static const uint8_t ops[7] = { 0xf5, 0xf8, 0xf9, 0xfc, 0xfd, 0x9f, 0x9e };

	rnd_case(e, g, c);
	PUT(c, ops[v]);
	/* and a second one after it, so lazily computed flags feed it */
	PUT(c, ops[ct_rndn(g, 7)]);
}

static void test_flags(void)
{
	run_cases("flags", gen_flags, 7, 200);
}

/* ---- the stack: PUSH/POP, PUSHF/POPF, CALL/RET, ENTER/LEAVE ------------------ */

#define XCHG_RSP_R15 0x4c, 0x87, 0xfc

/*
 * The instruction runs between two "xchg rsp, r15"; r15 starts as the
 * stack pointer in the buffer. Branches land on the second xchg.
 */
static void gen_stack(struct env *e, struct ct_rng *g, struct tcase *c, unsigned v)
{
	uint8_t insn[16];
	unsigned n = 0, total;
	uint64_t sp = buf_ptr(e, g, 0x200, 0x200);
	bool ret_to_tail = false;
	unsigned reg = ct_rndn(g, 16);

	rnd_case(e, g, c);
	if (ct_rndn(g, 2))
		sp &= ~7ULL;
	/* no register but r15 (the stack) names RSP's slot: keep r15 out */
	if (reg == 15)
		reg = 14;
	switch (v) {
	case 0: /* push r / pop r, 64 and 16 bits */
		if (ct_rndn(g, 2))
			insn[n++] = 0x66;
		if (reg >= 8)
			insn[n++] = 0x41;
		insn[n++] = (ct_rndn(g, 2) ? 0x50 : 0x58) | (reg & 7);
		break;
	case 1: /* push/pop [rbx], push imm8/imm32 */
		c->r.g[GH_RBX] = buf_ptr(e, g, 0, 8);
		switch (ct_rndn(g, 4)) {
		case 0:
			insn[n++] = 0xff, insn[n++] = 0x33;
			break;
		case 1:
			insn[n++] = 0x8f, insn[n++] = 0x03;
			break;
		case 2:
			insn[n++] = 0x6a, insn[n++] = ct_rnd(g);
			break;
		default:
			insn[n++] = 0x68;
			for (unsigned k = 0; k < 4; k++)
				insn[n++] = ct_rnd(g);
			break;
		}
		if (insn[0] != 0x68 && ct_rndn(g, 3) == 0) {	/* 16-bit forms */
			memmove(insn + 1, insn, n);
			insn[0] = 0x66;
			n++;
		}
		break;
	case 2: /* pushf / popf (64 and 16 bits); popf's random image */
		if (ct_rndn(g, 2))
			insn[n++] = 0x66;
		insn[n++] = ct_rndn(g, 2) ? 0x9c : 0x9d;
		if (insn[n - 1] == 0x9d) {
			uint64_t img = ct_rnd(g) & ~(uint64_t)(GH_FL_TF | GH_FL_AC | GH_FL_NT | GH_FL_RF |
							    GH_FL_VM);

			memcpy(c->buf + (sp - e->va - BUF_OFF), &img, 8);
		}
		break;
	case 3: /* push rsp-relative: push r15's stack slot itself, pop into rsp */
		insn[n++] = ct_rndn(g, 2) ? 0x54 : 0x5c;
		break;
	case 4: /* call rel32 (to the tail), call r/m64 */
		if (ct_rndn(g, 2)) {
			insn[n++] = 0xe8;
			for (unsigned k = 0; k < 4; k++)
				insn[n++] = 0;
		} else {
			reg = 8 + ct_rndn(g, 7);	/* r8-r14 */
			insn[n++] = 0x41, insn[n++] = 0xff, insn[n++] = 0xd0 | (reg & 7);
			ret_to_tail = true;	/* the register gets the tail's address */
		}
		break;
	case 5: /* ret, ret imm16 */
		if (ct_rndn(g, 2)) {
			insn[n++] = 0xc3;
		} else {
			insn[n++] = 0xc2, insn[n++] = ct_rndn(g, 64), insn[n++] = ct_rndn(g, 2) ? 0 : 1;
		}
		ret_to_tail = true;
		break;
	case 6: /* leave, 64 and 16 bits: rbp in the buffer */
		c->r.g[GH_RBP] = buf_ptr(e, g, 0, 8);
		if (ct_rndn(g, 3) == 0)
			insn[n++] = 0x66;
		insn[n++] = 0xc9;
		break;
	default: { /* enter imm16, level 0-31; rbp in the buffer */
		unsigned level = (v - 7) & 31;

		c->r.g[GH_RBP] = buf_ptr(e, g, 0x200, 0x10);
		insn[n++] = 0xc8;
		insn[n++] = ct_rndn(g, 64);
		insn[n++] = ct_rndn(g, 4) ? 0 : 1;
		insn[n++] = level | (ct_rndn(g, 4) ? 0 : 0x20);	/* level is mod 32 */
		break;
	}
	}
	total = 3 + n + 3;
	PUT(c, XCHG_RSP_R15);
	put(c, insn, n);
	if (ret_to_tail) {
		uint64_t tail = where(e, c, total);

		if (v == 5)
			memcpy(c->buf + (sp - e->va - BUF_OFF), &tail, 8);
		else
			c->r.g[reg] = tail;
	}
	PUT(c, XCHG_RSP_R15);
	c->r.g[15] = sp;
}

static void test_stack(void)
{
	run_cases("stack", gen_stack, 7 + 32, 100);
}

/* ---- strings ------------------------------------------------------------------- */

/*
 * MOVS, CMPS, STOS, LODS, SCAS in every size with no prefix, REP, REPE or
 * REPNE, either direction, random counts (some beyond REP_BATCH, so the
 * interpreter yields and restarts part-way). The buffer is mostly zeros,
 * so REPE/REPNE stop at random places.
 */
static void gen_string(struct env *e, struct ct_rng *g, struct tcase *c, unsigned v)
{
	static const uint8_t ops[5] = { 0xa4, 0xa6, 0xaa, 0xac, 0xae };
	unsigned op = v % 5, size = 1u << ((v / 5) & 3), rep = v / 20;
	bool cmp = op == 1 || op == 4;
	uint64_t cnt, span;

	rnd_case(e, g, c);
	for (unsigned k = 0; k < BUF_SIZE; k++)
		c->buf[k] = ct_rndn(g, 64) ? 0 : ct_rnd(g);
	c->r.g[GH_RAX] = ct_rndn(g, 2) ? 0 : ct_rnd(g);
	switch (ct_rndn(g, 8)) {
	case 0:
		cnt = 0;
		break;
	case 1:
		cnt = 4096 + ct_rndn(g, (BUF_SIZE / 2) / size > 4096 ? (BUF_SIZE / 2) / size - 4096
								  : 1);
		break;
	default:
		cnt = ct_rndn(g, 80);
		break;
	}
	if (cnt * size >= BUF_SIZE / 2)
		cnt = BUF_SIZE / 2 / size - 1;
	span = (cnt + 1) * size;
	if (c->r.fl & GH_FL_DF) {
		c->r.g[GH_RSI] = buf_ptr(e, g, span, 8);
		c->r.g[GH_RDI] = buf_ptr(e, g, span, 8);
	} else {
		c->r.g[GH_RSI] = buf_ptr(e, g, 0, span);
		c->r.g[GH_RDI] = buf_ptr(e, g, 0, span);
	}
	c->r.g[GH_RCX] = cnt | (rep ? 0 : ct_rnd(g) << 32);
	if (size == 2)
		PUT(c, 0x66);
	if (rep == 1 || (rep == 2 && !cmp))
		PUT(c, 0xf3);
	else if (rep == 2)
		PUT(c, 0xf2);
	if (size == 8)
		PUT(c, 0x48);
	PUT(c, ops[op] | (size > 1));
}

static void test_string(void)
{
	run_cases("string", gen_string, 60, 60);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cpu-exec-diff/cond", test_cond);
	g_test_add_func("/cpu-exec-diff/loop", test_loop);
	g_test_add_func("/cpu-exec-diff/flags", test_flags);
	g_test_add_func("/cpu-exec-diff/stack", test_stack);
	g_test_add_func("/cpu-exec-diff/string", test_string);
	return g_test_run();
}
