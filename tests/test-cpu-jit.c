/*
 * The translator (vmm-core/cpu/jit.c) against the interpreter: random
 * straight-line sequences of the instructions it runs natively (ALU ops of
 * every size on registers and memory, INC/DEC, shifts and rotates, IMUL,
 * MOV/MOVZX/MOVSX/LEA, SETcc/CMOVcc, forward Jcc, PUSH/POP, CALL) mixed with
 * ones it hands to the interpreter (ADC/SBB, CLC/STC/CMC, LAHF/SAHF, BT,
 * NOT/NEG), run once by a CPU that only interprets and once by a CPU that
 * translates every block before its first run; registers, RFLAGS, RIP, CR2
 * and memory must come out identical. Memory operands sometimes cross into
 * the next page, into a page that is not present (#PF mid-block, with the
 * flags of the instructions before it), or reach the page of the code
 * itself. The interpreter is checked against the host by
 * test-cpu-exec-alu and test-cpu-exec-diff; here it is the reference.
 */
#include <glib.h>
#include <stdio.h>

#include "cputest.h"

#define RAM_SIZE (4u << 20)
#define TSS_BASE 0x3000
#define PML4 0x10000
#define CODE 0x20000
#define DATA 0x3e000		/* 0x3e000-0x3ffff: two present pages */
#define HOLE 0x40000		/* not present */
#define STACK_TOP 0x80000
#define STACK_SIZE 0x1000
#define HBASE 0x100000
#define MAX_CODE 512

/* The machine of test-cpu-fast, interpreting (jit < 0) or translating
 * every block before its first run (jit 0). */
static void env_init(struct ct_env64 *e, int jit)
{
	ct_env64_init(e, RAM_SIZE, PML4, TSS_BASE, HOLE, HBASE, STACK_TOP, CODE);
	g_assert_cmpint(gh_cpu_set_jit(e->cpu, jit), ==, 0);
}

/* ---- generating sequences --------------------------------------------------- */

struct seq {
	uint8_t code[MAX_CODE];
	unsigned len;
	unsigned starts[64];	/* instruction boundaries */
	unsigned n;
	int jcc_at[64];		/* offset of a Jcc's rel8, or -1 */
};

/* Registers an instruction may write: not RSP, not R14 (an index kept
 * small) nor R15 (the data base). */
static unsigned dst_reg(struct ct_rng *g)
{
	static const unsigned pool[] = { 0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13 };

	return pool[ct_rnd(g) % G_N_ELEMENTS(pool)];
}

static void put(struct seq *q, uint8_t b)
{
	if (q->len < MAX_CODE)
		q->code[q->len++] = b;
}

static void put32(struct seq *q, uint32_t v)
{
	for (unsigned k = 0; k < 4; k++)
		put(q, (uint8_t)(v >> (8 * k)));
}

/*
 * Prefixes, opcode and a ModRM whose reg field is reg (a register or an
 * opcode extension) and whose r/m is a register (rm_reg) or memory: one of
 * [r15 + disp8], [r15 + r14*s + disp8], [r15 + disp32] at a page's end
 * (crossing into the other data page or into HOLE), or [rip + disp32].
 */
static void modrm_insn(struct seq *q, struct ct_rng *g, unsigned size, bool byte_op,
		       const uint8_t *op, unsigned nop, unsigned reg, bool mem, unsigned rm_reg)
{
	unsigned rex = 0x40;
	unsigned kind = (unsigned)(ct_rnd(g) % 16);

	if (size == 2)
		put(q, 0x66);
	if (size == 8)
		rex |= 8;
	if (reg & 8)
		rex |= 4;
	if (mem) {
		rex |= 1;		/* base r15 (or r13 with RIP forms: unused) */
		if (kind >= 10 && kind < 13)
			rex |= 2;	/* index r14 */
	} else if (rm_reg & 8) {
		rex |= 1;
	}
	/* byte registers: a REX now and then so SPL..DIL and AH..BH both occur */
	if (rex != 0x40 || (byte_op && (ct_rnd(g) & 1)))
		put(q, (uint8_t)rex);
	for (unsigned k = 0; k < nop; k++)
		put(q, op[k]);
	if (!mem) {
		put(q, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm_reg & 7)));
		return;
	}
	if (kind < 10) {
		put(q, (uint8_t)(0x40 | (reg & 7) << 3 | 7));	/* [r15 + disp8] */
		put(q, (uint8_t)(ct_rnd(g) & 0xf8) - 0x40);
	} else if (kind < 13) {
		put(q, (uint8_t)(0x44 | (reg & 7) << 3));	/* SIB, disp8 */
		put(q, (uint8_t)((ct_rnd(g) % 4) << 6 | 6 << 3 | 7));
		put(q, (uint8_t)(ct_rnd(g) & 0x7f));
	} else if (kind < 15) {
		/* r15 = DATA + 0x800: reach the end of the first or second page */
		uint32_t end = (kind == 13 ? 0x1000 : 0x2000) - 0x800;

		put(q, (uint8_t)(0x80 | (reg & 7) << 3 | 7));
		put32(q, end - 1 - (uint32_t)(ct_rnd(g) % 4));
	} else {
		/* RIP-relative into the data: DATA - CODE - (offset of the next
		 * instruction), the immediate that may follow ignored */
		q->code[q->len - 1 - nop] &= (uint8_t)~1;	/* no REX.B needed */
		put(q, (uint8_t)(0x00 | (reg & 7) << 3 | 5));
		put32(q, (uint32_t)(DATA + 0x100 - CODE - q->len - 4));
	}
}

static void gen_one(struct seq *q, struct ct_rng *g, unsigned left)
{
	static const unsigned sizes[] = { 1, 2, 4, 8, 4, 8, 8 };
	unsigned size = sizes[ct_rnd(g) % G_N_ELEMENTS(sizes)];
	bool mem = ct_rnd(g) % 3 == 0;
	unsigned r = dst_reg(g), r2 = dst_reg(g);
	unsigned pick = (unsigned)(ct_rnd(g) % 32);
	uint8_t op[3];

	q->jcc_at[q->n] = -1;
	q->starts[q->n++] = q->len;
	switch (pick) {
	case 0: case 1: case 2: case 3: case 4: case 5: {
		/* ALU E,G / G,E: ADD OR ADC SBB AND SUB XOR CMP, and TEST */
		unsigned alu = (unsigned)(ct_rnd(g) % 9);

		op[0] = alu == 8 ? 0x84 : (uint8_t)(alu << 3 | (ct_rnd(g) & 2));
		if (size > 1)
			op[0] |= 1;
		modrm_insn(q, g, size, size == 1, op, 1, r, mem, r2);
		break;
	}
	case 6: case 7: case 8: {
		/* group 1 with an immediate: 80, 81, 83 */
		unsigned ext = (unsigned)(ct_rnd(g) % 8);

		op[0] = size == 1 ? 0x80 : (ct_rnd(g) & 1) ? 0x83 : 0x81;
		modrm_insn(q, g, size, size == 1, op, 1, ext, mem, r);
		for (unsigned k = 0; k < (op[0] != 0x81 ? 1u : size == 2 ? 2u : 4u); k++)
			put(q, (uint8_t)ct_rnd(g));
		break;
	}
	case 9: {
		/* INC/DEC, NOT/NEG */
		bool grp3 = ct_rnd(g) & 1;

		op[0] = grp3 ? (size == 1 ? 0xf6 : 0xf7) : (size == 1 ? 0xfe : 0xff);
		modrm_insn(q, g, size, size == 1, op, 1,
			   grp3 ? 2 + (unsigned)(ct_rnd(g) & 1) : (unsigned)(ct_rnd(g) & 1),
			   mem, r);
		break;
	}
	case 10: case 11: {
		/* shifts and rotates by an immediate or by 1 */
		static const unsigned ext[] = { 0, 1, 4, 5, 7, 6 };	/* 6: SHL's alias */
		bool by1 = ct_rnd(g) % 4 == 0;
		static const uint8_t counts[] = { 0, 1, 2, 7, 8, 15, 16, 31, 32, 33, 63, 64, 3 };

		op[0] = by1 ? (size == 1 ? 0xd0 : 0xd1) : (size == 1 ? 0xc0 : 0xc1);
		modrm_insn(q, g, size, size == 1, op, 1, ext[ct_rnd(g) % 6], mem, r);
		if (!by1)
			put(q, counts[ct_rnd(g) % G_N_ELEMENTS(counts)]);
		break;
	}
	case 12: {
		/* IMUL Gv,Ev / Gv,Ev,Ib / Gv,Ev,Iz */
		unsigned form = (unsigned)(ct_rnd(g) % 3);
		unsigned sz = size == 1 ? 4 : size;

		if (form == 0) {
			op[0] = 0x0f, op[1] = 0xaf;
			modrm_insn(q, g, sz, false, op, 2, r, mem, r2);
		} else {
			op[0] = form == 1 ? 0x6b : 0x69;
			modrm_insn(q, g, sz, false, op, 1, r, mem, r2);
			put(q, (uint8_t)ct_rnd(g));
			if (form == 2) {
				put(q, (uint8_t)ct_rnd(g));
				if (sz != 2)
					put(q, (uint8_t)ct_rnd(g)), put(q, (uint8_t)ct_rnd(g));
			}
		}
		break;
	}
	case 13: case 14: case 15: {
		/* MOV E,G / G,E; MOV E,imm */
		unsigned f = (unsigned)(ct_rnd(g) % 3);

		if (f < 2) {
			op[0] = (uint8_t)(0x88 | (f << 1) | (size > 1));
			modrm_insn(q, g, size, size == 1, op, 1, r, mem, r2);
		} else {
			op[0] = size == 1 ? 0xc6 : 0xc7;
			modrm_insn(q, g, size, size == 1, op, 1, 0, mem, r);
			for (unsigned k = 0; k < (size == 1 ? 1u : size == 2 ? 2u : 4u); k++)
				put(q, (uint8_t)ct_rnd(g));
		}
		break;
	}
	case 16: {
		/* MOV r, imm (B8+r, imm64 with REX.W) */
		if (size == 2)
			put(q, 0x66);
		put(q, (uint8_t)(0x40 | (size == 8 ? 8 : 0) | (r >> 3)));
		put(q, (uint8_t)((size == 1 ? 0xb0 : 0xb8) + (r & 7)));
		for (unsigned k = 0; k < size; k++)
			put(q, (uint8_t)ct_rnd(g));
		break;
	}
	case 17: {
		/* LEA, MOVZX/MOVSX, MOVSXD */
		unsigned f = (unsigned)(ct_rnd(g) % 4);
		unsigned sz = size < 4 ? 4 : size;

		if (f == 0) {
			op[0] = 0x8d;
			modrm_insn(q, g, sz, false, op, 1, r, true, 0);
		} else if (f == 1) {
			op[0] = 0x63;
			modrm_insn(q, g, 8, false, op, 1, r, mem, r2);
		} else {
			op[0] = 0x0f;
			op[1] = (uint8_t)(0xb6 | (ct_rnd(g) & 9));
			modrm_insn(q, g, sz, !(op[1] & 1), op, 2, r, mem, r2);
		}
		break;
	}
	case 18: case 19: {
		/* SETcc, CMOVcc */
		unsigned cc = (unsigned)(ct_rnd(g) % 16);

		op[0] = 0x0f;
		if (pick == 18) {
			op[1] = (uint8_t)(0x90 + cc);
			modrm_insn(q, g, 1, true, op, 2, 0, mem, r);
		} else {
			op[1] = (uint8_t)(0x40 + cc);
			modrm_insn(q, g, size < 4 ? 4 : size, false, op, 2, r, mem, r2);
		}
		break;
	}
	case 20: case 21: case 22:
		/* Jcc rel8 over the next instruction (fixed up later) */
		if (left > 1) {
			put(q, (uint8_t)(0x70 + ct_rnd(g) % 16));
			q->jcc_at[q->n - 1] = (int)q->len;
			put(q, 0);
		} else {
			put(q, 0x90);
		}
		break;
	case 23:
		/* flag-only instructions the interpreter runs */
		{
			static const uint8_t fl[] = { 0xf8, 0xf9, 0xf5, 0x9f, 0x9e };

			put(q, fl[ct_rnd(g) % G_N_ELEMENTS(fl)]);
		}
		break;
	case 24:
		/* BT Ev,Gv (reads its register bit offset; flags: CF only) */
		op[0] = 0x0f, op[1] = 0xa3;
		modrm_insn(q, g, size < 2 ? 4 : size, false, op, 2, r, false, r2);
		break;
	case 25:
		/* PUSH r; POP r (another) */
		put(q, (uint8_t)(0x40 | (r >> 3)));
		put(q, (uint8_t)(0x50 + (r & 7)));
		q->jcc_at[q->n] = -1;
		q->starts[q->n++] = q->len;
		put(q, (uint8_t)(0x40 | (r2 >> 3)));
		put(q, (uint8_t)(0x58 + (r2 & 7)));
		break;
	case 26:
		/* CALL to the next instruction: ends the block, pushes */
		put(q, 0xe8);
		put32(q, 0);
		break;
	case 27:
		/* ALU AL/rAX, imm */
		{
			unsigned alu = (unsigned)(ct_rnd(g) % 8);

			if (size == 2)
				put(q, 0x66);
			if (size == 8)
				put(q, 0x48);
			put(q, (uint8_t)(alu << 3 | 4 | (size > 1)));
			for (unsigned k = 0; k < (size == 1 ? 1u : size == 2 ? 2u : 4u); k++)
				put(q, (uint8_t)ct_rnd(g));
		}
		break;
	default:
		/* ALU E,G on registers, the common case */
		op[0] = (uint8_t)(((ct_rnd(g) % 8) << 3) | 1);
		modrm_insn(q, g, size < 4 ? 4 : size, false, op, 1, r, false, r2);
		break;
	}
}

/* n instructions, then HLT; each Jcc skips a random number of the ones
 * after it. */
static void gen_seq(struct seq *q, struct ct_rng *g, unsigned n)
{
	memset(q, 0, sizeof(*q));
	for (unsigned k = 0; k < n && q->n < 60; k++)
		gen_one(q, g, n - k);
	q->starts[q->n] = q->len;
	put(q, 0xf4);
	for (unsigned k = 0; k < q->n; k++) {
		if (q->jcc_at[k] < 0)
			continue;
		unsigned skip = 1 + (unsigned)(ct_rnd(g) % 3);
		unsigned to = MIN(k + 1 + skip, q->n);
		int rel = (int)q->starts[to] - (q->jcc_at[k] + 1);

		q->code[q->jcc_at[k]] = (uint8_t)(rel > 127 ? 0 : rel);
	}
}

/* ---- running ------------------------------------------------------------------ */

/* new_code: the code changed (its blocks go); otherwise only the data and
 * the stack are reset, and the code (which may have written itself) put
 * back byte for byte. */
static void setup(struct ct_env64 *e, const struct seq *q, const uint8_t *data, bool new_code)
{
	if (new_code || memcmp(e->ram + CODE, q->code, q->len)) {
		memcpy(e->ram + CODE, q->code, q->len);
		memset(e->ram + CODE + q->len, 0xf4, 64);
		gh_cpu_invalidate_code(e->cpu, CODE, 0x1000);
	}
	memcpy(e->ram + DATA, data, 0x2000);
	/* pops above the top are possible too */
	memset(e->ram + STACK_TOP - STACK_SIZE, 0, 2 * STACK_SIZE);
}

static void state_init(struct gh_cpu_state *s, struct ct_rng *g)
{
	static const uint64_t shapes[] = { 0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000,
					   0x7fffffff, 0x80000000, 0xffffffff,
					   0x7fffffffffffffffULL, 0x8000000000000000ULL,
					   ~0ULL };

	for (unsigned k = 0; k < 16; k++)
		s->gpr[k] = ct_rnd(g) % 3 ? ct_rnd(g) : shapes[ct_rnd(g) % G_N_ELEMENTS(shapes)];
	s->gpr[GH_RSP] = STACK_TOP;
	s->gpr[14] = ct_rnd(g) % 64;
	s->gpr[15] = DATA + 0x800;
	s->rip = CODE;
	s->rflags = 2 | (ct_rnd(g) & 0x8d5);
}

static enum gh_cpu_stop run(struct ct_env64 *e, const struct gh_cpu_state *s,
			    struct gh_cpu_state *out)
{
	enum gh_cpu_stop stop;

	ct_apply(e->cpu, s);
	stop = gh_cpu_run(e->cpu, 5000);
	gh_cpu_get_state(e->cpu, out);
	return stop;
}

static bool same(const struct ct_env64 *a, const struct ct_env64 *b, const struct gh_cpu_state *sa,
		 const struct gh_cpu_state *sb)
{
	bool ok = sa->rip == sb->rip && sa->rflags == sb->rflags && sa->cr2 == sb->cr2;

	for (unsigned k = 0; k < 16; k++)
		ok &= sa->gpr[k] == sb->gpr[k];
	ok &= !memcmp(a->ram + DATA, b->ram + DATA, 0x2000);
	ok &= !memcmp(a->ram + STACK_TOP - STACK_SIZE, b->ram + STACK_TOP - STACK_SIZE,
		      2 * STACK_SIZE);
	ok &= !memcmp(a->ram + CODE, b->ram + CODE, 0x1000);
	return ok;
}

static void dump(const struct seq *q, const struct gh_cpu_state *init,
		 const struct gh_cpu_state *si, const struct gh_cpu_state *sj)
{
	fprintf(stderr, "code:");
	for (unsigned k = 0; k < q->len; k++)
		fprintf(stderr, "%s%02x", k % 32 ? " " : "\n  ", q->code[k]);
	fprintf(stderr, "\n%-6s %16s %16s %16s\n", "", "initial", "interp", "jit");
	for (unsigned k = 0; k < 16; k++)
		fprintf(stderr, "r%-5u %016" G_GINT64_MODIFIER "x %016" G_GINT64_MODIFIER
			"x %016" G_GINT64_MODIFIER "x%s\n", k, init->gpr[k], si->gpr[k],
			sj->gpr[k], si->gpr[k] != sj->gpr[k] ? "  <--" : "");
	fprintf(stderr, "rip    %16" G_GINT64_MODIFIER "x %16" G_GINT64_MODIFIER
		"x %16" G_GINT64_MODIFIER "x\n", init->rip, si->rip, sj->rip);
	fprintf(stderr, "rflags %16" G_GINT64_MODIFIER "x %16" G_GINT64_MODIFIER
		"x %16" G_GINT64_MODIFIER "x\n", init->rflags, si->rflags, sj->rflags);
}

/*
 * Runs cases sequences of n instructions on both CPUs. Each CPU keeps its
 * blocks between cases (the code is rewritten and invalidated), as a
 * guest's would.
 */
static void differential(unsigned cases, unsigned n, uint64_t seed)
{
	struct ct_env64 ei, ej;
	struct ct_rng g = { seed };
	static struct seq q;
	uint8_t *data = g_malloc(0x2000);
	unsigned faults = 0, failures = 0;

	env_init(&ei, -1);
	env_init(&ej, 0);
	for (unsigned c = 0; c < cases && failures < 3; c++) {
		struct gh_cpu_state init, si, sj;

		gen_seq(&q, &g, 1 + (unsigned)(ct_rnd(&g) % n));
		for (unsigned k = 0; k < 0x2000; k += 8) {
			uint64_t v = ct_rnd(&g);

			memcpy(data + k, &v, 8);
		}
		init = ei.s;
		state_init(&init, &g);
		setup(&ei, &q, data, true);
		g_assert_cmpint(run(&ei, &init, &si), ==, GH_CPU_HLT);
		faults += si.rip != CODE + q.starts[q.n] + 1;
		/* three times: translated, then with exits linked, then
		 * through the links */
		for (unsigned again = 0; again < 3; again++) {
			setup(&ej, &q, data, again == 0);
			g_assert_cmpint(run(&ej, &init, &sj), ==, GH_CPU_HLT);
			if (!same(&ei, &ej, &si, &sj)) {
				fprintf(stderr, "MISMATCH seed %" G_GINT64_MODIFIER
					"x case %u run %u\n", seed, c, again);
				dump(&q, &init, &si, &sj);
				failures++;
				g_test_fail();
				break;
			}
		}
	}
	g_test_message("%u cases of up to %u instructions, %u ended in an exception",
		       cases, n, faults);
	/* the mix must reach the fault paths, and mostly run to the end */
	g_assert_cmpuint(faults, >, cases / 100);
	g_assert_cmpuint(faults, <, cases / 2);
	ct_cpu_free(ei.cpu, ei.ram);
	ct_cpu_free(ej.cpu, ej.ram);
	g_free(data);
}

/*
 * A loop of one block linked to itself, run under instruction budgets: the
 * translated CPU stops after exactly as many instructions as the
 * interpreter, at the same state, whatever the budget.
 */
static void test_budget(void)
{
	/* mov ecx, 5000; L: add rax, rcx; xor rax, 0x55; dec ecx; jnz L; hlt */
	static const uint8_t code[] = { 0xb9, 0x88, 0x13, 0x00, 0x00, 0x48, 0x01, 0xc8,
					0x48, 0x83, 0xf0, 0x55, 0xff, 0xc9, 0x75, 0xf5,
					0xf4 };
	static const uint64_t budgets[] = { 1, 2, 3, 5, 7, 100, 999, 4, 4096 };
	struct ct_env64 ei, ej;
	uint64_t total = 0;
	unsigned k = 0;

	env_init(&ei, -1);
	env_init(&ej, 0);
	memcpy(ei.ram + CODE, code, sizeof(code));
	memcpy(ej.ram + CODE, code, sizeof(code));
	ct_apply(ei.cpu, &ei.s);
	ct_apply(ej.cpu, &ej.s);
	for (;;) {
		uint64_t budget = budgets[k++ % G_N_ELEMENTS(budgets)];
		enum gh_cpu_stop a = gh_cpu_run(ei.cpu, budget);
		enum gh_cpu_stop b = gh_cpu_run(ej.cpu, budget);
		struct gh_cpu_state si, sj;

		g_assert_cmpint(a, ==, b);
		gh_cpu_get_state(ei.cpu, &si);
		gh_cpu_get_state(ej.cpu, &sj);
		g_assert_cmphex(si.rip, ==, sj.rip);
		g_assert_cmphex(si.gpr[GH_RAX], ==, sj.gpr[GH_RAX]);
		g_assert_cmphex(si.gpr[GH_RCX], ==, sj.gpr[GH_RCX]);
		g_assert_cmphex(si.rflags, ==, sj.rflags);
		g_assert_cmpuint(gh_cpu_retired(ei.cpu), ==, gh_cpu_retired(ej.cpu));
		if (a == GH_CPU_HLT)
			break;
		g_assert_cmpint(a, ==, GH_CPU_BUDGET);
		total += budget;
		g_assert_cmpuint(gh_cpu_retired(ej.cpu), ==, total);
	}
	g_assert_cmpuint(gh_cpu_retired(ej.cpu), >=, 1 + 4 * 5000);
	ct_cpu_free(ei.cpu, ei.ram);
	ct_cpu_free(ej.cpu, ej.ram);
}

/*
 * Linked exits follow what the target address means now: a JMP and a
 * RET into a page whose mapping changes, then whose code is rewritten,
 * reach the new code, not the block they were linked to.
 */
static void test_relink(void)
{
	/* mov ecx, 4; L: call 0x600000; dec ecx; jnz L; hlt */
	static const uint8_t code[] = { 0xb9, 0x04, 0x00, 0x00, 0x00,
					0xe8, 0xf6, 0xff, 0x5d, 0x00,
					0xff, 0xc9, 0x75, 0xf7, 0xf4 };
	/* at 0x600000: mov eax, imm32; add edi, eax; ret */
	uint8_t target[] = { 0xb8, 1, 0, 0, 0, 0x01, 0xc7, 0xc3 };
	const uint64_t page1 = 0x200000, page2 = 0x201000;
	const uint64_t pt2 = PML4 + 0x4000;
	struct ct_env64 e;

	env_init(&e, 0);
	/* a page table for 0x600000-0x7fffff: 0x600000 -> page1 */
	ct_put64(e.ram, PML4 + 0x2000 + 3 * 8, pt2 | 3);
	ct_put64(e.ram, pt2, page1 | 3);
	memcpy(e.ram + CODE, code, sizeof(code));
	memcpy(e.ram + page1, target, sizeof(target));
	target[1] = 2;
	memcpy(e.ram + page2, target, sizeof(target));
	for (unsigned run = 0; run < 9; run++) {
		struct gh_cpu_state st = e.s, out;
		uint64_t expect = run < 3 ? 1 : run < 6 ? 2 : 3;

		if (run == 3) {
			/* the page moves: page2 at 0x600000 */
			ct_put64(e.ram, pt2, page2 | 3);
			gh_cpu_flush_tlb(e.cpu);
		}
		if (run == 6) {
			/* its code changes in place */
			e.ram[page2 + 1] = 3;
			gh_cpu_invalidate_code(e.cpu, page2, 0x1000);
		}
		st.gpr[GH_RDI] = 0;
		ct_apply(e.cpu, &st);
		g_assert_cmpint(gh_cpu_run(e.cpu, 1000), ==, GH_CPU_HLT);
		gh_cpu_get_state(e.cpu, &out);
		g_assert_cmphex(out.rip, ==, CODE + sizeof(code));
		g_assert_cmphex(out.gpr[GH_RAX] & 0xffffffff, ==, expect);
		g_assert_cmphex(out.gpr[GH_RDI], ==, 4 * expect);
	}
	ct_cpu_free(e.cpu, e.ram);
}

static void test_short(void)
{
	differential(6000, 4, 0x5eed0001);
}

static void test_long(void)
{
	differential(3000, 40, 0x5eed0002);
}


int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cpu-jit/short", test_short);
	g_test_add_func("/cpu-jit/long", test_long);
	g_test_add_func("/cpu-jit/budget", test_budget);
	g_test_add_func("/cpu-jit/relink", test_relink);
	return g_test_run();
}
