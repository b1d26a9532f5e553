/*
 * Tests for the control-flow, stack, string, I/O and segment-load handlers
 * of the software CPU (vmm-core/cpu/exec-ctl.c): hand-assembled programs run
 * with gh_cpu_run in real, 32-bit protected and 64-bit mode, results checked
 * against the Intel SDM vol. 2 instruction pages.
 */
#include "cpu/cpu-internal.h"
#include "cpu/mmu.h"
#include "cputest.h"

#include <glib.h>
#include <string.h>

#define RAM_SIZE (4u << 20)

#define GDT_BASE CT_GDT_BASE
#define IDT_BASE CT_IDT_BASE
#define TSS64 0x3400
#define STUBS 0x5000	/* exception stubs: "jmp $" at STUBS + vector * 4 */
#define STUBS_REAL 0x600
#define CODE 0x10100	/* prot/long code; real mode: CS=0x1000, IP=0x100 */
#define TSS32 0x60000	/* with an I/O bitmap */
#define PML4 0x70000
#define PT 0x73000

/* GDT selectors */
#define S_CODE0 0x08
#define S_DATA0 0x10
#define S_CODE3 0x1b
#define S_DATA3 0x23
#define S_TSS32 0x28
#define S_CODE16 0x30
#define S_DATA16 0x38
#define S_CODE64 0x40
#define S_CODE64_3 0x4b
#define S_TSS64 0x50 /* 16 bytes */
#define S_DATAB 0x60 /* data, base 0x20000, limit 0xffff */

struct out_rec {
	uint16_t port;
	uint32_t val;
	unsigned size;
};

struct env {
	uint8_t *ram;
	struct gh_cpu *cpu;
	struct gh_cpu_state s;
	struct out_rec out[64];
	unsigned nout;
	uint16_t in_port[64];
	unsigned nin;
	bool intr;
	int intr_vector;
};

/* ---- the fake machine --------------------------------------------------- */

static uint8_t *fake_page(void *opaque, uint64_t gpa, bool *writable)
{
	struct env *e = opaque;

	*writable = true;
	return ct_ram_page(e->ram, RAM_SIZE, gpa);
}

/* Reads give 0x44332211 + n * 0x01010101 for the n-th read, cut to size. */
static uint32_t fake_in(void *opaque, uint16_t port, unsigned size)
{
	struct env *e = opaque;
	uint32_t v = 0x44332211u + e->nin * 0x01010101u;

	g_assert_true(size == 1 || size == 2 || size == 4);
	if (e->nin < G_N_ELEMENTS(e->in_port))
		e->in_port[e->nin] = port;
	e->nin++;
	return size == 4 ? v : v & ((1u << (size * 8)) - 1);
}

static void fake_out(void *opaque, uint16_t port, uint32_t val, unsigned size)
{
	struct env *e = opaque;

	g_assert_true(size == 1 || size == 2 || size == 4);
	if (e->nout < G_N_ELEMENTS(e->out))
		e->out[e->nout] = (struct out_rec){port, val, size};
	e->nout++;
	/* port 0x99 asks the CPU to stop, as another thread would */
	if (port == 0x99 && e->nout == 1)
		gh_cpu_kick(e->cpu);
}

static bool fake_intr_pending(void *opaque)
{
	return ((struct env *)opaque)->intr;
}

static int fake_intr_ack(void *opaque)
{
	struct env *e = opaque;

	e->intr = false;
	return e->intr_vector;
}

static uint64_t fake_now(void *opaque)
{
	(void)opaque;
	return 0;
}

/* Places code at a physical address, dropping decoded blocks of it. */
static void load(struct env *e, uint64_t a, const uint8_t *bytes, size_t n)
{
	ct_load(e->cpu, e->ram, a, bytes, n);
}

#define CODE_AT(e, a, ...)                                                               \
	do {                                                                             \
		static const uint8_t b_[] = {__VA_ARGS__};                               \
		load(e, a, b_, sizeof(b_));                                              \
	} while (0)

static void build_tables(struct env *e)
{
	ct_gdt_set(e->ram, S_CODE0, ct_seg_desc(0, 0xfffff, 0x9b, 0xc));
	ct_gdt_set(e->ram, S_DATA0, ct_seg_desc(0, 0xfffff, 0x93, 0xc));
	ct_gdt_set(e->ram, S_CODE3, ct_seg_desc(0, 0xfffff, 0xfb, 0xc));
	ct_gdt_set(e->ram, S_DATA3, ct_seg_desc(0, 0xfffff, 0xf3, 0xc));
	ct_gdt_set(e->ram, S_TSS32, ct_seg_desc(TSS32, 0x68 + 0x2000, 0x89, 0));
	ct_gdt_set(e->ram, S_CODE16, ct_seg_desc(0, 0xffff, 0x9b, 0));
	ct_gdt_set(e->ram, S_DATA16, ct_seg_desc(0, 0xffff, 0x93, 0));
	ct_gdt_set(e->ram, S_CODE64, ct_seg_desc(0, 0xfffff, 0x9b, 0xa));
	ct_gdt_set(e->ram, S_CODE64_3, ct_seg_desc(0, 0xfffff, 0xfb, 0xa));
	ct_gdt_set(e->ram, S_TSS64, ct_seg_desc(TSS64, 0x67, 0x89, 0));
	ct_put64(e->ram, GDT_BASE + S_TSS64 + 8, 0);
	ct_gdt_set(e->ram, S_DATAB, ct_seg_desc(0x20000, 0xffff, 0x93, 0));
	/* the 32-bit TSS: ring-0 stack, an I/O bitmap allowing ports 0x60-0x67 */
	ct_put32(e->ram, TSS32 + 4, 0x9000);
	ct_put16(e->ram, TSS32 + 8, S_DATA0);
	ct_put16(e->ram, TSS32 + 102, 0x68);
	memset(e->ram + TSS32 + 0x68, 0xff, 0x2000);
	ct_put8(e->ram, TSS32 + 0x68 + 0x60 / 8, 0);
	ct_put8(e->ram, TSS32 + 0x68 + 0x2000, 0xff);
	ct_put64(e->ram, TSS64 + 4, 0x9000);
	/* exception stubs: jmp $ */
	for (unsigned v = 0; v < 256; v++) {
		ct_put16(e->ram, STUBS + v * 4, 0xfeeb);
		ct_put16(e->ram, STUBS_REAL + v * 4, 0xfeeb);
	}
}

static struct env *env_new(void)
{
	struct env *e = g_new0(struct env, 1);
	struct gh_cpu_bus bus = {
	    .opaque = e,
	    .page = fake_page,
	    .pio_in = fake_in,
	    .pio_out = fake_out,
	    .intr_pending = fake_intr_pending,
	    .intr_ack = fake_intr_ack,
	    .now_ns = fake_now,
	};

	e->cpu = ct_cpu_new(bus, &e->ram, RAM_SIZE);
	build_tables(e);
	return e;
}

static void env_free(struct env *e)
{
	ct_cpu_free(e->cpu, e->ram);
	g_free(e);
}

static void apply(struct env *e)
{
	ct_apply(e->cpu, &e->s);
}

/* Real mode: CS=0x1000 IP=0x100, SS=0 SP=0x8000, DS=0x2000, ES=0x3000. */
static void real_state(struct env *e)
{
	struct gh_cpu_state *s = &e->s;

	gh_cpu_state_reset(s, true);
	s->cr0 = GH_CR0_ET;
	ct_real_seg(s, GH_CS, 0x1000);
	s->rip = 0x100;
	ct_real_seg(s, GH_SS, 0);
	s->gpr[GH_RSP] = 0x8000;
	ct_real_seg(s, GH_DS, 0x2000);
	ct_real_seg(s, GH_ES, 0x3000);
	ct_real_seg(s, GH_FS, 0x4000);
	ct_real_seg(s, GH_GS, 0);
	s->rflags = GH_RFLAGS_FIXED;
	s->idt.base = 0;
	s->idt.limit = 0x3ff;
	for (unsigned v = 0; v < 256; v++) {
		ct_put16(e->ram, v * 4, STUBS_REAL + v * 4);
		ct_put16(e->ram, v * 4 + 2, 0);
	}
}

/* 32-bit protected mode, flat, at CPL 0 or 3, code at CODE. */
static void prot_state(struct env *e, unsigned cpl)
{
	struct gh_cpu_state *s = &e->s;

	ct_flat_state(e->ram, s, cpl ? S_CODE3 : S_CODE0, cpl ? S_DATA3 : S_DATA0,
		      S_TSS32, false);
	s->rip = CODE;
	s->rflags = GH_RFLAGS_FIXED;
	s->gpr[GH_RSP] = cpl ? 0x8000 : 0x8800;
	s->tr.type = 0xb;
	s->gdt.limit = 0xff;
	s->idt.base = IDT_BASE;
	s->idt.limit = 0x7ff;
	for (unsigned v = 0; v < 32; v++)
		ct_idt32_set(e->ram, v, S_CODE0, STUBS + v * 4, 0x8e);
}

/*
 * 64-bit mode: the low 2 MiB mapped with 4 KiB pages through PT (so single
 * pages can be unmapped), the next 2 MiB with one large page.
 */
static void long_state(struct env *e, unsigned cpl)
{
	struct gh_cpu_state *s = &e->s;
	uint64_t pd = ct_map_low(e->ram, PML4, 7);

	ct_put64(e->ram, pd, PT | 7);
	ct_put64(e->ram, pd + 8, 0x200000 | 0x87);
	for (unsigned p = 0; p < 512; p++)
		ct_put64(e->ram, PT + p * 8, ((uint64_t)p << 12) | 7);
	prot_state(e, cpl);
	ct_long_mode(s, PML4);
	ct_seg_from_gdt(e->ram, cpl ? S_CODE64_3 : S_CODE64, &s->seg[GH_CS]);
	ct_seg_from_gdt(e->ram, S_TSS64, &s->tr);
	s->tr.type = 0xb;
	s->idt.limit = 0xfff;
	for (unsigned v = 0; v < 32; v++)
		ct_idt64_set(e->ram, v, S_CODE64, STUBS + v * 4, 0x8e, 0);
}

/* #PF on IST1 (a good stack at 0xb000), for faults of the stack itself. */
static void pf_on_ist(struct env *e)
{
	ct_put64(e->ram, TSS64 + 0x24, 0xb000);
	ct_idt64_set(e->ram, GH_EXC_PF, S_CODE64, STUBS + GH_EXC_PF * 4, 0x8e, 0);
	ct_put64(e->ram, IDT_BASE + GH_EXC_PF * 16,
		 ct_get64(e->ram, IDT_BASE + GH_EXC_PF * 16) | (1ULL << 32));
}

static struct gh_cpu *cpu_of(struct env *e)
{
	return e->cpu;
}

static uint64_t gpr(struct env *e, unsigned r)
{
	return e->cpu->gpr[r];
}

static uint64_t rflags(struct env *e)
{
	return gh_flags_get(&e->cpu->lf, e->cpu->rflags);
}

/* Runs up to n instructions; the program must then sit on a "jmp $" at rip. */
static void run_to(struct env *e, uint64_t n, uint64_t rip)
{
	gh_cpu_run(e->cpu, n);
	g_assert_cmphex(e->cpu->rip, ==, rip);
}

/*
 * Runs until RIP reaches rip between blocks (the program puts a "jmp $+2"
 * there to end a block), for checks half-way through a program.
 */
static void run_until(struct env *e, uint64_t rip)
{
	for (unsigned n = 0; n < 100 && e->cpu->rip != rip; n++)
		gh_cpu_run(e->cpu, 1);
	g_assert_cmphex(e->cpu->rip, ==, rip);
}

/* Runs, and expects an exception stub for vector to be reached. */
static void run_fault(struct env *e, uint64_t n, unsigned vector)
{
	bool real = e->cpu->mode == GH_MODE_REAL;

	gh_cpu_run(e->cpu, n);
	g_assert_cmphex(e->cpu->rip, ==, (real ? STUBS_REAL : STUBS) + vector * 4);
}

/* ---- branches ----------------------------------------------------------- */

/* The SDM's definition of each condition code, from RFLAGS bits. */
static bool cc_ref(unsigned cc, uint64_t f)
{
	bool cf = f & GH_FL_CF, zf = f & GH_FL_ZF, sf = f & GH_FL_SF, of = f & GH_FL_OF,
	     pf = f & GH_FL_PF;
	bool r;

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
	return (cc & 1) ? !r : r;
}

static void test_jcc(void)
{
	static const uint64_t flagsets[] = {
	    0, GH_FL_CF, GH_FL_ZF, GH_FL_SF, GH_FL_OF, GH_FL_PF, GH_FL_SF | GH_FL_OF,
	    GH_FL_ZF | GH_FL_SF, GH_FL_CF | GH_FL_ZF | GH_FL_PF | GH_FL_OF,
	};
	struct env *e = env_new();

	for (unsigned cc = 0; cc < 16; cc++) {
		for (unsigned k = 0; k < G_N_ELEMENTS(flagsets); k++) {
			bool taken = cc_ref(cc, flagsets[k]);
			uint8_t code[16];

			/* 32-bit: Jcc rel8 +4 ; jmp $ ; (+4:) Jcc rel32 -8 back */
			prot_state(e, 0);
			e->s.rflags = GH_RFLAGS_FIXED | flagsets[k];
			code[0] = 0x70 + cc;
			code[1] = 2;
			code[2] = 0xeb; /* not taken: jmp $ at CODE+2 */
			code[3] = 0xfe;
			code[4] = 0x0f; /* taken: CODE+4 */
			code[5] = 0x80 + cc;
			{
				int32_t rel = -(int32_t)(4 + 6 + 0x100);
				memcpy(code + 6, &rel, 4);
			}
			load(e, CODE, code, 10);
			/* CODE+10-0x10a+... : the near target, a jmp $ */
			ct_put16(e->ram, CODE + 10 - (4 + 6 + 0x100), 0xfeeb);
			gh_cpu_invalidate_code(e->cpu, CODE - 0x100, 0x100);
			apply(e);
			if (!taken) {
				run_to(e, 20, CODE + 2);
			} else {
				/* at CODE+4 the near Jcc takes the same branch */
				run_to(e, 20, CODE + 10 - (4 + 6 + 0x100));
			}
		}
	}
	env_free(e);
}

static void test_jmp_wrap16(void)
{
	struct env *e = env_new();

	/* real mode: a short jump at IP 0xfff0 wraps to 0x0012 */
	real_state(e);
	e->s.rip = 0xfff0;
	CODE_AT(e, 0x10000 + 0xfff0, 0xeb, 0x20);
	CODE_AT(e, 0x10012, 0xeb, 0xfe);
	apply(e);
	run_to(e, 10, 0x12);

	/* 16-bit operand size in 32-bit code: JMP rel16 (66 E9) truncates EIP */
	prot_state(e, 0);
	CODE_AT(e, CODE, 0x66, 0xe9, 0x00, 0x10); /* to (CODE+4+0x1000) & 0xffff */
	CODE_AT(e, (CODE + 4 + 0x1000) & 0xffff, 0xeb, 0xfe);
	apply(e);
	run_to(e, 10, (CODE + 4 + 0x1000) & 0xffff);

	/* a jump past the CS limit (16-bit code segment, 32-bit operand):
	 * #GP(0) with the jump's own address in the frame */
	prot_state(e, 0);
	ct_seg_from_gdt(e->ram, S_CODE16, &e->s.seg[GH_CS]);
	e->s.rip = 0x4000;
	CODE_AT(e, 0x4000, 0x66, 0xe9, 0x00, 0x00, 0x01, 0x00);
	apply(e);
	run_fault(e, 10, GH_EXC_GP);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 16), ==, 0);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 12), ==, 0x4000);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 8), ==, S_CODE16);
	env_free(e);
}

static void test_call_ret(void)
{
	struct env *e = env_new();

	/* 32-bit: call f; jmp $ ... f: push 0x55; pop ebx; ret */
	prot_state(e, 0);
	CODE_AT(e, CODE, 0xe8, 0x10, 0x00, 0x00, 0x00, 0xeb, 0xfe);
	CODE_AT(e, CODE + 0x15, 0x6a, 0x55, 0x5b, 0xc3);
	apply(e);
	run_to(e, 20, CODE + 5);
	g_assert_cmphex(gpr(e, GH_RBX), ==, 0x55);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8800);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 4), ==, CODE + 5);

	/* CALL [mem] and RET imm16: call dword [0x20000]; f: ret 8 */
	prot_state(e, 0);
	ct_put32(e->ram, 0x20000, CODE + 0x40);
	CODE_AT(e, CODE, 0xff, 0x15, 0x00, 0x00, 0x02, 0x00, 0xeb, 0xfe);
	CODE_AT(e, CODE + 0x40, 0xc2, 0x08, 0x00);
	apply(e);
	run_to(e, 20, CODE + 6);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8808);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 4), ==, CODE + 6);

	/* CALL reg and JMP reg: mov through push/pop */
	prot_state(e, 0);
	e->s.gpr[GH_RAX] = CODE + 0x30;
	e->s.gpr[GH_RCX] = CODE + 0x50;
	CODE_AT(e, CODE, 0xff, 0xd0, 0xeb, 0xfe);	/* call eax */
	CODE_AT(e, CODE + 0x30, 0xff, 0xe1);		/* jmp ecx */
	CODE_AT(e, CODE + 0x50, 0xc3);			/* ret */
	apply(e);
	run_to(e, 20, CODE + 2);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8800);

	/* 16-bit: call in real mode pushes IP only (2 bytes) */
	real_state(e);
	CODE_AT(e, 0x10100, 0xe8, 0x10, 0x00, 0xeb, 0xfe);
	CODE_AT(e, 0x10113, 0xc3);
	apply(e);
	gh_cpu_run(e->cpu, 1);
	g_assert_cmphex(cpu_of(e)->rip, ==, 0x113);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x7ffe);
	g_assert_cmphex(ct_get16(e->ram, 0x7ffe), ==, 0x103);
	run_to(e, 10, 0x103);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8000);

	/* 64-bit: call pushes 8 bytes; ret pops them */
	long_state(e, 0);
	CODE_AT(e, CODE, 0xe8, 0x10, 0x00, 0x00, 0x00, 0xeb, 0xfe);
	CODE_AT(e, CODE + 0x15, 0xc3);
	apply(e);
	gh_cpu_run(e->cpu, 1);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8800 - 8);
	g_assert_cmphex(ct_get64(e->ram, 0x8800 - 8), ==, CODE + 5);
	run_to(e, 10, CODE + 5);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8800);

	/* 64-bit: a jump to a non-canonical address is #GP(0); the call that
	 * would go there pushes nothing */
	long_state(e, 0);
	e->s.gpr[GH_RAX] = 0x0000800000000000ULL;
	CODE_AT(e, CODE, 0xff, 0xd0);
	apply(e);
	run_fault(e, 10, GH_EXC_GP);
	/* frame: error code, RIP of the call; RSP before it was 0x8800 */
	g_assert_cmphex(ct_get64(e->ram, 0x8800 - 48), ==, 0);
	g_assert_cmphex(ct_get64(e->ram, 0x8800 - 40), ==, CODE);
	g_assert_cmphex(ct_get64(e->ram, 0x8800 - 16), ==, 0x8800);
	env_free(e);
}

static void test_loop(void)
{
	struct env *e = env_new();

	/* real mode: loop to itself 5 times: l: loop l ; jmp $ */
	real_state(e);
	e->s.gpr[GH_RCX] = 0xabcd0005;
	CODE_AT(e, 0x10100, 0xe2, 0xfe, 0xeb, 0xfe);
	apply(e);
	run_to(e, 20, 0x102);
	g_assert_cmphex(gpr(e, GH_RCX), ==, 0xabcd0000);
	g_assert_cmpuint(gh_cpu_retired(e->cpu), >=, 5);

	/* CX=0 wraps: 65536 iterations */
	real_state(e);
	e->s.gpr[GH_RCX] = 0x10000;
	apply(e);
	run_to(e, 70000, 0x102);
	g_assert_cmphex(gpr(e, GH_RCX), ==, 0x10000);

	/* 32-bit with 67: the counter is CX, ECX's upper half stays */
	prot_state(e, 0);
	e->s.gpr[GH_RCX] = 0x00070003;
	CODE_AT(e, CODE, 0x67, 0xe2, 0xfd, 0xeb, 0xfe);
	apply(e);
	run_to(e, 20, CODE + 3);
	g_assert_cmphex(gpr(e, GH_RCX), ==, 0x00070000);

	/* LOOPE stops when ZF=0; LOOPNE when ZF=1 */
	prot_state(e, 0);
	e->s.rflags = GH_RFLAGS_FIXED; /* ZF=0 */
	e->s.gpr[GH_RCX] = 10;
	CODE_AT(e, CODE, 0xe1, 0xfe, 0xeb, 0xfe);
	apply(e);
	run_to(e, 20, CODE + 2);
	g_assert_cmphex(gpr(e, GH_RCX), ==, 9);
	prot_state(e, 0);
	e->s.rflags = GH_RFLAGS_FIXED | GH_FL_ZF;
	e->s.gpr[GH_RCX] = 10;
	apply(e);
	run_to(e, 20, CODE + 2);
	g_assert_cmphex(gpr(e, GH_RCX), ==, 0);
	prot_state(e, 0);
	e->s.rflags = GH_RFLAGS_FIXED | GH_FL_ZF;
	e->s.gpr[GH_RCX] = 10;
	CODE_AT(e, CODE, 0xe0, 0xfe, 0xeb, 0xfe);
	apply(e);
	run_to(e, 20, CODE + 2);
	g_assert_cmphex(gpr(e, GH_RCX), ==, 9);

	/* JECXZ / JCXZ (67 in 32-bit code) */
	prot_state(e, 0);
	e->s.gpr[GH_RCX] = 0x10000;
	CODE_AT(e, CODE, 0x67, 0xe3, 0x02, 0xeb, 0xfe, 0xe3, 0x02, 0xeb, 0xfe, 0xeb, 0xfe);
	apply(e);
	/* CX = 0: first taken; ECX != 0: second falls through */
	run_to(e, 20, CODE + 7);

	/* 64-bit: JRCXZ looks at all of RCX, 67 JECXZ at ECX only */
	long_state(e, 0);
	e->s.gpr[GH_RCX] = 0x100000000ULL;
	CODE_AT(e, CODE, 0xe3, 0x02, 0x67, 0xe3, 0x02, 0xeb, 0xfe, 0xeb, 0xfe);
	apply(e);
	run_to(e, 20, CODE + 7);

	/* 64-bit LOOP with 67: ECX counts, RCX's upper half is cleared */
	long_state(e, 0);
	e->s.gpr[GH_RCX] = 0xffffffff00000002ULL;
	CODE_AT(e, CODE, 0x67, 0xe2, 0xfd, 0xeb, 0xfe);
	apply(e);
	run_to(e, 20, CODE + 3);
	g_assert_cmphex(gpr(e, GH_RCX), ==, 0);
	env_free(e);
}

/* ---- stack -------------------------------------------------------------- */

static void test_push_pop(void)
{
	struct env *e = env_new();

	/* 32-bit: push imm8 (sign-extended), push imm32, push esp, pop ebp,
	 * push [0x20000], pop [esp] (the address uses ESP after the pop) */
	prot_state(e, 0);
	ct_put32(e->ram, 0x20000, 0xcafef00d);
	CODE_AT(e, CODE, 0x6a, 0x80, 0x5a,		/* push -128; pop edx */
		0x6a, 0x80,				/* push -128 */
		0x68, 0x78, 0x56, 0x34, 0x12,		/* push 0x12345678 */
		0x54,					/* push esp */
		0x5d,					/* pop ebp */
		0xff, 0x35, 0x00, 0x00, 0x02, 0x00,	/* push dword [0x20000] */
		0x8f, 0x44, 0x24, 0x04,			/* pop dword [esp+4] */
		0xeb, 0xfe);
	apply(e);
	run_to(e, 20, CODE + 22);
	g_assert_cmphex(gpr(e, GH_RDX), ==, 0xffffff80);
	g_assert_cmphex(gpr(e, GH_RBP), ==, 0x8800 - 8);
	/* after pop: ESP = 0x87f8, the store went to [0x87f8 + 4] */
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8800 - 8);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 4), ==, 0xcafef00d);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 8), ==, 0x12345678);

	/* pop esp loads the popped value */
	prot_state(e, 0);
	ct_put32(e->ram, 0x8800, 0x7000);
	CODE_AT(e, CODE, 0x5c, 0xeb, 0xfe);
	apply(e);
	run_to(e, 20, CODE + 1);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x7000);

	/* a 16-bit stack (SS.B=0) in 32-bit code: SP wraps, ESP's top stays */
	prot_state(e, 0);
	ct_seg_from_gdt(e->ram, S_DATA16, &e->s.seg[GH_SS]);
	e->s.gpr[GH_RSP] = 0x12340004;
	e->s.gpr[GH_RAX] = 0xaabbccdd;
	CODE_AT(e, CODE, 0x50, 0x66, 0x50, 0xeb, 0xfe); /* push eax; push ax */
	apply(e);
	run_to(e, 20, CODE + 3);
	g_assert_cmphex(gpr(e, GH_RSP) & 0xffffffff, ==, 0x1234fffe);
	g_assert_cmphex(ct_get32(e->ram, 0), ==, 0xaabbccdd);
	g_assert_cmphex(ct_get16(e->ram, 0xfffe), ==, 0xccdd);

	/* 64-bit: push/pop are 8 bytes, 66 makes them 2; REX.B reaches r8-r15 */
	long_state(e, 0);
	e->s.gpr[GH_R12] = 0x1122334455667788ULL;
	CODE_AT(e, CODE, 0x41, 0x54,		/* push r12 */
		0x66, 0x6a, 0xff,		/* push word -1 */
		0x66, 0x58,			/* pop ax */
		0x41, 0x5f,			/* pop r15 */
		0xeb, 0xfe);
	apply(e);
	run_to(e, 20, CODE + 9);
	g_assert_cmphex(gpr(e, GH_RAX) & 0xffff, ==, 0xffff);
	g_assert_cmphex(gpr(e, GH_R15), ==, 0x1122334455667788ULL);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8800);

	/* a push that faults changes nothing: 64-bit, stack page unmapped */
	/* a fresh CPU: its TLB must not know the page from earlier runs */
	env_free(e);
	e = env_new();
	long_state(e, 0);
	pf_on_ist(e);
	ct_put64(e->ram, PT + 7 * 8, 0); /* 0x7000-0x7fff */
	e->s.gpr[GH_RSP] = 0x8000;
	e->s.gpr[GH_RAX] = 0x42;
	CODE_AT(e, CODE, 0x50);
	apply(e);
	run_fault(e, 10, GH_EXC_PF);
	g_assert_cmphex(e->cpu->cr2, ==, 0x7ff8);
	g_assert_cmphex(ct_get64(e->ram, 0xb000 - 16), ==, 0x8000); /* RSP in the frame */
	g_assert_cmphex(ct_get64(e->ram, 0xb000 - 40), ==, CODE);	/* RIP */
	env_free(e);
}

static void test_push_pop_sreg(void)
{
	struct env *e = env_new();

	/* 32-bit: push ds writes 2 bytes and moves ESP by 4 (SDM: recent Core
	 * processors); pop es loads a descriptor; push fs / pop gs */
	prot_state(e, 0);
	ct_put32(e->ram, 0x8800 - 4, 0xdeadbeef);
	CODE_AT(e, CODE, 0x1e,	/* push ds */
		0x6a, 0x60,	/* push S_DATAB */
		0x07,		/* pop es */
		0x0f, 0xa0,	/* push fs */
		0x0f, 0xa9,	/* pop gs */
		0xeb, 0xfe);
	apply(e);
	run_to(e, 20, CODE + 8);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 4), ==, 0xdead0000 | S_DATA0);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8800 - 4);
	g_assert_cmphex(e->cpu->seg[GH_ES].selector, ==, S_DATAB);
	g_assert_cmphex(e->cpu->seg[GH_ES].base, ==, 0x20000);
	g_assert_cmphex(e->cpu->seg[GH_GS].selector, ==, S_DATA0);

	/* pop ds of a bad selector: #GP(sel), ESP unchanged */
	prot_state(e, 0);
	ct_put32(e->ram, 0x8800, S_TSS32);
	CODE_AT(e, CODE, 0x1f);
	apply(e);
	run_fault(e, 10, GH_EXC_GP);
	/* frame: error, EIP, CS, EFLAGS at the handler's ESP */
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 16), ==, S_TSS32);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 12), ==, CODE);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8800 - 16);

	/* real mode: push cs / pop ds */
	real_state(e);
	CODE_AT(e, 0x10100, 0x0e, 0x1f, 0xeb, 0xfe);
	apply(e);
	run_to(e, 20, 0x102);
	g_assert_cmphex(e->cpu->seg[GH_DS].selector, ==, 0x1000);
	g_assert_cmphex(e->cpu->seg[GH_DS].base, ==, 0x10000);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8000);

	/* 64-bit: push fs is 8 bytes of stack, 2 written */
	long_state(e, 0);
	ct_put64(e->ram, 0x8800 - 8, 0x1111111111111111ULL);
	CODE_AT(e, CODE, 0x0f, 0xa0, 0xeb, 0xfe);
	apply(e);
	run_to(e, 20, CODE + 2);
	g_assert_cmphex(ct_get64(e->ram, 0x8800 - 8), ==,
			0x1111111111110000ULL | S_DATA0);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8800 - 8);
	env_free(e);
}

/* POP SS and MOV SS hold off interrupts for one instruction; LSS does not. */
static void test_ss_shadow(void)
{
	static const uint8_t progs[3][8] = {
	    {0x17, 0x50, 0xeb, 0xfe},			/* pop ss; push ax */
	    {0x8e, 0xd0, 0x50, 0xeb, 0xfe},		/* mov ss, ax; push ax */
	    {0x0f, 0xb2, 0x26, 0x00, 0x00, 0x50, 0xeb, 0xfe}, /* lss sp,[0]; push ax */
	};
	static const unsigned first_len[3] = {1, 2, 5};
	struct env *e = env_new();

	for (unsigned p = 0; p < 3; p++) {
		real_state(e);
		e->s.rflags = GH_RFLAGS_FIXED | GH_FL_IF;
		e->s.gpr[GH_RAX] = 0;
		ct_put16(e->ram, 0x8000, 0); /* the SS that POP SS loads */
		ct_put16(e->ram, 0x20000, 0x8000); /* LSS: SP, SS */
		ct_put16(e->ram, 0x20002, 0);
		load(e, 0x10100, progs[p], 8);
		apply(e);
		gh_cpu_run(e->cpu, 1);
		if (p == 2) {
			/* LSS leaves no shadow: an interrupt now is taken
			 * before the next instruction */
			uint64_t ip = e->cpu->rip;

			g_assert_true(ip == 0x105 || ip == 0x106);
			g_assert_false(e->cpu->interrupt_shadow);
			e->intr = true;
			e->intr_vector = 0x40;
			gh_cpu_intr_changed(e->cpu);
			gh_cpu_run(e->cpu, 1);
			g_assert_false(e->intr);
			g_assert_cmphex(e->cpu->rip, ==, STUBS_REAL + 0x40 * 4);
			g_assert_cmphex(ct_get16(e->ram, gpr(e, GH_RSP)), ==, ip);
			continue;
		}
		g_assert_cmphex(e->cpu->rip, ==, 0x100 + first_len[p]);
		g_assert_true(e->cpu->interrupt_shadow);
		/* the interrupt arrives now: the push runs first */
		e->intr = true;
		e->intr_vector = 0x40;
		gh_cpu_intr_changed(e->cpu);
		gh_cpu_run(e->cpu, 1);
		g_assert_true(e->intr);
		g_assert_cmphex(e->cpu->rip, ==, 0x100 + first_len[p] + 1);
		g_assert_false(e->cpu->interrupt_shadow);
		/* and then the interrupt */
		gh_cpu_run(e->cpu, 1);
		g_assert_false(e->intr);
		g_assert_cmphex(e->cpu->rip, ==, STUBS_REAL + 0x40 * 4);
		g_assert_cmphex(ct_get16(e->ram, gpr(e, GH_RSP)), ==,
				0x100 + first_len[p] + 1);
	}
	env_free(e);
}

static void test_pusha_popa(void)
{
	struct env *e = env_new();

	/* 16-bit: pusha order AX CX DX BX SP BP SI DI, popa skips SP */
	real_state(e);
	for (unsigned r = 0; r < 8; r++)
		e->s.gpr[r] = 0x11110000 + r * 0x101;
	e->s.gpr[GH_RSP] = 0x8000;
	CODE_AT(e, 0x10100, 0x60, 0xeb, 0xfe);
	apply(e);
	run_to(e, 20, 0x101);
	for (unsigned r = 0; r < 8; r++) {
		uint16_t want = r == GH_RSP ? 0x8000 : 0x0000 + r * 0x101;

		g_assert_cmphex(ct_get16(e->ram, 0x8000 - 2 * (r + 1)), ==, want);
	}
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8000 - 16);

	real_state(e);
	e->s.gpr[GH_RSP] = 0x7000;
	for (unsigned r = 0; r < 8; r++)
		ct_put16(e->ram, 0x7000 + 14 - 2 * r, 0xa000 + r);
	e->s.gpr[GH_RAX] = 0x55550000;
	CODE_AT(e, 0x10100, 0x61, 0xeb, 0xfe);
	apply(e);
	run_to(e, 20, 0x101);
	for (unsigned r = 0; r < 8; r++) {
		if (r != GH_RSP)
			g_assert_cmphex(gpr(e, r) & 0xffff, ==, 0xa000 + r);
	}
	g_assert_cmphex(gpr(e, GH_RAX), ==, 0x5555a000);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x7010);

	/* 32-bit */
	prot_state(e, 0);
	for (unsigned r = 0; r < 8; r++)
		if (r != GH_RSP)
			e->s.gpr[r] = 0x10000000u * r + 7;
	CODE_AT(e, CODE, 0x60, 0xeb, 0x00, 0x61, 0xeb, 0xfe);
	apply(e);
	run_until(e, CODE + 3);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8800 - 32);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 20), ==, 0x8800); /* ESP slot */
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 32), ==, 0x70000007); /* EDI */
	run_to(e, 20, CODE + 4);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8800);
	g_assert_cmphex(gpr(e, GH_RBX), ==, 0x30000007);
	env_free(e);
}

static void test_pushf_popf(void)
{
	struct env *e = env_new();
	/* every defined flag but TF (which would single-step) */
	const uint64_t all = 0x3f7fd7 & ~(uint64_t)GH_FL_TF;

	/* CPL 0, 32-bit: POPF sets IOPL, IF, AC, ID, NT; never VM, VIF, VIP;
	 * clears RF */
	prot_state(e, 0);
	e->s.rflags = GH_RFLAGS_FIXED | GH_FL_RF;
	ct_put32(e->ram, 0x8800 - 4, (uint32_t)all);
	e->s.gpr[GH_RSP] = 0x8800 - 4;
	CODE_AT(e, CODE, 0x9d, 0x9c, 0xeb, 0xfe);
	apply(e);
	run_to(e, 20, CODE + 2);
	g_assert_cmphex(rflags(e), ==,
			(all & ~(uint64_t)(GH_FL_VM | GH_FL_VIF | GH_FL_VIP | GH_FL_RF)) |
			    GH_RFLAGS_FIXED);
	/* PUSHF's image: VM and RF clear */
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 4), ==,
			rflags(e) & ~(uint64_t)(GH_FL_RF | GH_FL_VM));

	/* CPL 3, IOPL 0: IF and IOPL stay, the rest changes */
	prot_state(e, 3);
	e->s.rflags = GH_RFLAGS_FIXED | GH_FL_IF;
	ct_put32(e->ram, 0x8000 - 4,
		 GH_FL_CF | GH_FL_AC | (3u << GH_FL_IOPL_SHIFT) | GH_FL_ZF);
	e->s.gpr[GH_RSP] = 0x8000 - 4;
	CODE_AT(e, CODE, 0x9d, 0xeb, 0xfe);
	apply(e);
	run_to(e, 20, CODE + 1);
	g_assert_cmphex(rflags(e), ==,
			GH_RFLAGS_FIXED | GH_FL_IF | GH_FL_CF | GH_FL_AC | GH_FL_ZF);

	/* CPL 3, IOPL 3: IF can change, IOPL still not (it can't go down) */
	prot_state(e, 3);
	e->s.rflags = GH_RFLAGS_FIXED | GH_FL_IF | (3u << GH_FL_IOPL_SHIFT);
	ct_put32(e->ram, 0x8000 - 4, 0);
	e->s.gpr[GH_RSP] = 0x8000 - 4;
	apply(e);
	run_to(e, 20, CODE + 1);
	g_assert_cmphex(rflags(e), ==, GH_RFLAGS_FIXED | (3u << GH_FL_IOPL_SHIFT));

	/* 16-bit POPF in real mode changes only bits 15:0 (AC stays) */
	real_state(e);
	e->s.rflags = GH_RFLAGS_FIXED | GH_FL_AC;
	ct_put16(e->ram, 0x7ffe, 0xfeff);
	e->s.gpr[GH_RSP] = 0x7ffe;
	CODE_AT(e, 0x10100, 0x9d, 0xeb, 0xfe);
	apply(e);
	run_to(e, 20, 0x101);
	g_assert_cmphex(rflags(e), ==, GH_FL_AC | 0x7ed7);

	/* 64-bit CPL 3: POPFQ; PUSHFQ pushes 8 bytes */
	long_state(e, 3);
	e->s.rflags = GH_RFLAGS_FIXED;
	ct_put64(e->ram, 0x8000 - 8, ~(uint64_t)GH_FL_TF);
	e->s.gpr[GH_RSP] = 0x8000 - 8;
	CODE_AT(e, CODE, 0x9d, 0x9c, 0xeb, 0xfe);
	apply(e);
	run_to(e, 20, CODE + 2);
	g_assert_cmphex(rflags(e), ==,
			GH_RFLAGS_FIXED | GH_ALU_FLAGS | GH_FL_DF | GH_FL_NT | GH_FL_AC |
			    GH_FL_ID);
	g_assert_cmphex(ct_get64(e->ram, 0x8000 - 8), ==, rflags(e));
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8000 - 8);
	env_free(e);
}

/* Virtual-8086 mode: PUSHF/POPF need IOPL 3 (no VME). CS keeps the data type 3. */
static void v86_state(struct env *e, unsigned iopl)
{
	prot_state(e, 0);
	e->s.rflags = GH_RFLAGS_FIXED | GH_FL_VM | ((uint64_t)iopl << GH_FL_IOPL_SHIFT);
	ct_v86_seg(&e->s.seg[GH_CS], 0x1000, 3);
	ct_v86_seg(&e->s.seg[GH_SS], 0, 3);
	ct_v86_seg(&e->s.seg[GH_DS], 0x2000, 3);
	ct_v86_seg(&e->s.seg[GH_ES], 0x3000, 3);
	ct_v86_seg(&e->s.seg[GH_FS], 0, 3);
	ct_v86_seg(&e->s.seg[GH_GS], 0, 3);
	e->s.rip = 0x100;
	e->s.gpr[GH_RSP] = 0x7000;
}

static void test_v86_flags(void)
{
	struct env *e = env_new();

	for (unsigned op = 0; op < 2; op++) {
		v86_state(e, 0);
		uint8_t prog[] = {op ? 0x9d : 0x9c, 0xeb, 0xfe};

		load(e, 0x10100, prog, sizeof(prog));
		apply(e);
		run_fault(e, 10, GH_EXC_GP);
		/* to ring 0 on the TSS stack: error 0, EIP 0x100 */
		g_assert_cmphex(ct_get32(e->ram, 0x9000 - 40), ==, 0);
		g_assert_cmphex(ct_get32(e->ram, 0x9000 - 36), ==, 0x100);
	}

	/* IOPL 3: POPF works and cannot change IOPL or VM */
	v86_state(e, 3);
	ct_put16(e->ram, 0x7000, 0x0001);
	CODE_AT(e, 0x10100, 0x9d, 0x9c, 0xeb, 0xfe);
	apply(e);
	run_to(e, 10, 0x102);
	g_assert_cmphex(rflags(e), ==,
			GH_RFLAGS_FIXED | GH_FL_VM | GH_FL_CF | (3u << GH_FL_IOPL_SHIFT));
	g_assert_cmphex(ct_get16(e->ram, 0x7000), ==, 0x3003);
	env_free(e);
}

static void test_enter_leave(void)
{
	struct env *e = env_new();

	/* 32-bit, level 0: push ebp; ebp = esp; esp -= 16 */
	prot_state(e, 0);
	e->s.gpr[GH_RBP] = 0x1111;
	CODE_AT(e, CODE, 0xc8, 0x10, 0x00, 0x00, 0xeb, 0xfe);
	apply(e);
	run_to(e, 10, CODE + 4);
	g_assert_cmphex(gpr(e, GH_RBP), ==, 0x87fc);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x87fc - 16);
	g_assert_cmphex(ct_get32(e->ram, 0x87fc), ==, 0x1111);

	/* 32-bit, level 3: two frame pointers copied from [ebp-4], [ebp-8],
	 * then the new frame pointer; then LEAVE undoes it */
	prot_state(e, 0);
	e->s.gpr[GH_RBP] = 0x6000;
	ct_put32(e->ram, 0x6000 - 4, 0xaaaa);
	ct_put32(e->ram, 0x6000 - 8, 0xbbbb);
	CODE_AT(e, CODE, 0xc8, 0x08, 0x00, 0x03, 0xeb, 0x00, 0xc9, 0xeb, 0xfe);
	apply(e);
	run_until(e, CODE + 6);
	g_assert_cmphex(ct_get32(e->ram, 0x87fc), ==, 0x6000);
	g_assert_cmphex(ct_get32(e->ram, 0x87f8), ==, 0xaaaa);
	g_assert_cmphex(ct_get32(e->ram, 0x87f4), ==, 0xbbbb);
	g_assert_cmphex(ct_get32(e->ram, 0x87f0), ==, 0x87fc);
	g_assert_cmphex(gpr(e, GH_RBP), ==, 0x87fc);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x87f0 - 8);
	run_to(e, 10, CODE + 7);
	g_assert_cmphex(gpr(e, GH_RBP), ==, 0x6000);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8800);

	/* 16-bit real mode, level 2 */
	real_state(e);
	e->s.gpr[GH_RBP] = 0x7000;
	ct_put16(e->ram, 0x7000 - 2, 0xcccc);
	CODE_AT(e, 0x10100, 0xc8, 0x04, 0x00, 0x02, 0xeb, 0xfe);
	apply(e);
	run_to(e, 10, 0x104);
	g_assert_cmphex(ct_get16(e->ram, 0x7ffe), ==, 0x7000);
	g_assert_cmphex(ct_get16(e->ram, 0x7ffc), ==, 0xcccc);
	g_assert_cmphex(ct_get16(e->ram, 0x7ffa), ==, 0x7ffe);
	g_assert_cmphex(gpr(e, GH_RBP), ==, 0x7ffe);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x7ffa - 4);

	/* 64-bit, level 2; level 33 is level 1 (mod 32) */
	long_state(e, 0);
	e->s.gpr[GH_RBP] = 0x6000;
	ct_put64(e->ram, 0x6000 - 8, 0x123456789ULL);
	CODE_AT(e, CODE, 0xc8, 0x20, 0x00, 0x02, 0xeb, 0xfe);
	apply(e);
	run_to(e, 10, CODE + 4);
	g_assert_cmphex(ct_get64(e->ram, 0x87f8), ==, 0x6000);
	g_assert_cmphex(ct_get64(e->ram, 0x87f0), ==, 0x123456789ULL);
	g_assert_cmphex(ct_get64(e->ram, 0x87e8), ==, 0x87f8);
	g_assert_cmphex(gpr(e, GH_RBP), ==, 0x87f8);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x87e8 - 0x20);
	long_state(e, 0);
	e->s.gpr[GH_RBP] = 0x6000;
	CODE_AT(e, CODE, 0xc8, 0x00, 0x00, 33, 0xeb, 0xfe);
	apply(e);
	run_to(e, 10, CODE + 4);
	g_assert_cmphex(ct_get64(e->ram, 0x87f0), ==, 0x87f8);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x87f0);

	/* an ENTER whose frame lands on an unmapped page changes nothing */
	/* a fresh CPU: its TLB must not know the page from earlier runs */
	env_free(e);
	e = env_new();
	long_state(e, 0);
	ct_put64(e->ram, PT + 7 * 8, 0); /* 0x7000-0x7fff */
	e->s.gpr[GH_RSP] = 0x8010;
	e->s.gpr[GH_RBP] = 0x4444;
	CODE_AT(e, CODE, 0xc8, 0x40, 0x00, 0x00);
	pf_on_ist(e);
	apply(e);
	run_fault(e, 10, GH_EXC_PF);
	g_assert_cmphex(e->cpu->cr2, ==, 0x8010 - 8 - 0x40);
	g_assert_cmphex(ct_get64(e->ram, 0xb000 - 16), ==, 0x8010); /* RSP in the frame */
	g_assert_cmphex(gpr(e, GH_RBP), ==, 0x4444);
	env_free(e);
}

/* ---- interrupts ---------------------------------------------------------------- */

static void test_int_iret_real(void)
{
	struct env *e = env_new();

	/* int 0x21 -> handler (push 0x1234; pop bx; iret) -> back */
	real_state(e);
	e->s.rflags = GH_RFLAGS_FIXED | GH_FL_IF | GH_FL_CF;
	ct_put16(e->ram, 0x21 * 4, 0x0010);
	ct_put16(e->ram, 0x21 * 4 + 2, 0x0700); /* 0700:0010 = 0x7010 */
	CODE_AT(e, 0x7010, 0x68, 0x34, 0x12, 0x5b, 0xcf);
	CODE_AT(e, 0x10100, 0xcd, 0x21, 0xeb, 0xfe);
	apply(e);
	gh_cpu_run(e->cpu, 1);
	/* in the handler: IF cleared, the frame IP CS FLAGS */
	g_assert_cmphex(e->cpu->seg[GH_CS].selector, ==, 0x700);
	g_assert_cmphex(e->cpu->rip, ==, 0x10);
	g_assert_false(rflags(e) & GH_FL_IF);
	g_assert_cmphex(ct_get16(e->ram, 0x7ffa), ==, 0x102);
	g_assert_cmphex(ct_get16(e->ram, 0x7ffc), ==, 0x1000);
	g_assert_cmphex(ct_get16(e->ram, 0x7ffe), ==,
			GH_RFLAGS_FIXED | GH_FL_IF | GH_FL_CF);
	run_to(e, 20, 0x102);
	g_assert_cmphex(e->cpu->seg[GH_CS].selector, ==, 0x1000);
	g_assert_cmphex(gpr(e, GH_RBX), ==, 0x1234);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8000);
	g_assert_cmphex(rflags(e), ==, GH_RFLAGS_FIXED | GH_FL_IF | GH_FL_CF);

	/* the pushed FLAGS are the current ones, even those an instruction
	 * just changed: push 0x41; popf; int 0x21 */
	real_state(e);
	e->s.rflags = GH_RFLAGS_FIXED | GH_FL_IF | GH_FL_SF;
	ct_put16(e->ram, 0x21 * 4 + 2, 0x0700);
	ct_put16(e->ram, 0x21 * 4, 0x0010);
	CODE_AT(e, 0x10100, 0x6a, 0x41, 0x9d, 0xcd, 0x21, 0xeb, 0xfe);
	apply(e);
	run_to(e, 20, 0x105);
	g_assert_cmphex(ct_get16(e->ram, 0x7ffe), ==,
			GH_RFLAGS_FIXED | GH_FL_ZF | GH_FL_CF);
	g_assert_cmphex(rflags(e), ==, GH_RFLAGS_FIXED | GH_FL_ZF | GH_FL_CF);

	/* INT3 pushes the address after it; INTO only with OF; INT1 is #DB */
	real_state(e);
	CODE_AT(e, 0x10100, 0xcc);
	apply(e);
	run_fault(e, 10, GH_EXC_BP);
	g_assert_cmphex(ct_get16(e->ram, 0x7ffa), ==, 0x101);
	real_state(e);
	CODE_AT(e, 0x10100, 0xce, 0xeb, 0xfe);
	apply(e);
	run_to(e, 10, 0x101);
	real_state(e);
	e->s.rflags = GH_RFLAGS_FIXED | GH_FL_OF;
	apply(e);
	run_fault(e, 10, GH_EXC_OF);
	g_assert_cmphex(ct_get16(e->ram, 0x7ffa), ==, 0x101);
	real_state(e);
	CODE_AT(e, 0x10100, 0xf1);
	apply(e);
	run_fault(e, 10, GH_EXC_DB);
	g_assert_cmphex(ct_get16(e->ram, 0x7ffa), ==, 0x101);
	env_free(e);
}

/* NMI: taken with IF=0 and out of HLT, blocked until the handler's IRET. */
static void test_nmi(void)
{
	struct env *e = env_new();

	real_state(e);
	ct_put16(e->ram, GH_EXC_NMI * 4, 0x0010);
	ct_put16(e->ram, GH_EXC_NMI * 4 + 2, 0x0700);	/* 0700:0010 */
	CODE_AT(e, 0x7010, 0x90, 0x90, 0xcf);		/* nop; nop; iret */
	CODE_AT(e, 0x10100, 0xfa, 0xf4, 0xeb, 0xfe);	/* cli; hlt; jmp $ */
	apply(e);
	g_assert_cmpint(gh_cpu_run(e->cpu, 10), ==, GH_CPU_HLT);
	g_assert_cmphex(e->cpu->rip, ==, 0x102);
	gh_cpu_nmi(e->cpu);
	gh_cpu_run(e->cpu, 1);				/* delivered, first nop */
	g_assert_cmphex(e->cpu->seg[GH_CS].selector, ==, 0x700);
	g_assert_cmphex(e->cpu->rip, ==, 0x11);
	g_assert_cmphex(ct_get16(e->ram, 0x7ffa), ==, 0x102);	/* after HLT */
	g_assert_false(e->cpu->halted);
	gh_cpu_nmi(e->cpu);				/* blocked: stays pending */
	gh_cpu_run(e->cpu, 1);
	g_assert_cmphex(e->cpu->rip, ==, 0x12);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8000 - 6);
	gh_cpu_run(e->cpu, 1);				/* iret */
	g_assert_cmphex(e->cpu->seg[GH_CS].selector, ==, 0x1000);
	g_assert_cmphex(e->cpu->rip, ==, 0x102);
	gh_cpu_run(e->cpu, 1);				/* the pending one now */
	g_assert_cmphex(e->cpu->seg[GH_CS].selector, ==, 0x700);
	g_assert_cmphex(e->cpu->rip, ==, 0x11);
	env_free(e);
}

static void test_int_iret_prot(void)
{
	struct env *e = env_new();

	/* CPL 3 -> INT 0x30 through a DPL 3 trap gate -> CPL 0 handler on the
	 * TSS stack -> IRETD back to CPL 3 */
	prot_state(e, 3);
	e->s.rflags = GH_RFLAGS_FIXED | GH_FL_IF;
	ct_idt32_set(e->ram, 0x30, S_CODE0, 0x6000, 0xef);
	CODE_AT(e, 0x6000, 0x6a, 0x77, 0x5e, 0xcf); /* push 0x77; pop esi; iretd */
	CODE_AT(e, CODE, 0xcd, 0x30, 0xeb, 0xfe);
	apply(e);
	gh_cpu_run(e->cpu, 1);
	g_assert_cmpuint(e->cpu->cpl, ==, 0);
	g_assert_cmphex(e->cpu->rip, ==, 0x6000);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x9000 - 20);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 20), ==, CODE + 2);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 16), ==, S_CODE3);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 8), ==, 0x8000);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 4), ==, S_DATA3);
	run_to(e, 20, CODE + 2);
	g_assert_cmpuint(e->cpu->cpl, ==, 3);
	g_assert_cmphex(gpr(e, GH_RSI), ==, 0x77);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8000);
	g_assert_true(rflags(e) & GH_FL_IF);

	/* INT n through a DPL 0 gate from CPL 3: #GP(vector * 8 + 2) */
	prot_state(e, 3);
	ct_idt32_set(e->ram, 0x31, S_CODE0, 0x6000, 0x8e);
	CODE_AT(e, CODE, 0xcd, 0x31);
	apply(e);
	run_fault(e, 10, GH_EXC_GP);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 24), ==, 0x31 * 8 + 2);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 20), ==, CODE);

	/* 64-bit: INT3 and IRETQ */
	long_state(e, 0);
	e->s.rflags = GH_RFLAGS_FIXED | GH_FL_ZF;
	ct_idt64_set(e->ram, 3, S_CODE64, 0x6000, 0x8e, 0);
	CODE_AT(e, 0x6000, 0x48, 0xcf);
	CODE_AT(e, CODE, 0xcc, 0xeb, 0xfe);
	apply(e);
	run_to(e, 20, CODE + 1);
	g_assert_cmphex(ct_get64(e->ram, 0x8800 - 40), ==, CODE + 1);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8800);
	g_assert_true(rflags(e) & GH_FL_ZF);
	env_free(e);
}

/* ---- far transfers --------------------------------------------------------------- */

static void test_far(void)
{
	struct env *e = env_new();

	/* real mode: jmp far 0x2000:0x0010; call far 0x3000:0x0020; retf 2 */
	real_state(e);
	CODE_AT(e, 0x10100, 0xea, 0x10, 0x00, 0x00, 0x20);
	CODE_AT(e, 0x20010, 0x6a, 0x00, 0x9a, 0x20, 0x00, 0x00, 0x30, 0xeb, 0xfe);
	CODE_AT(e, 0x30020, 0xca, 0x02, 0x00);
	apply(e);
	gh_cpu_run(e->cpu, 1);
	g_assert_cmphex(e->cpu->seg[GH_CS].base, ==, 0x20000);
	g_assert_cmphex(e->cpu->rip, ==, 0x10);
	run_to(e, 20, 0x17);
	g_assert_cmphex(e->cpu->seg[GH_CS].selector, ==, 0x2000);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8000);
	g_assert_cmphex(ct_get16(e->ram, 0x7ffa), ==, 0x17);
	g_assert_cmphex(ct_get16(e->ram, 0x7ffc), ==, 0x2000);

	/* 32-bit: jmp far [mem] (m16:32) to the 16-bit code segment, and
	 * call far [mem] into 32-bit code, retf */
	prot_state(e, 0);
	ct_put32(e->ram, 0x20000, 0x4100);
	ct_put16(e->ram, 0x20004, S_CODE16);
	ct_put32(e->ram, 0x20010, 0x4200);
	ct_put16(e->ram, 0x20014, S_CODE0);
	CODE_AT(e, CODE, 0xff, 0x1d, 0x10, 0x00, 0x02, 0x00,	/* call far [0x20010] */
		0xff, 0x2d, 0x00, 0x00, 0x02, 0x00);		/* jmp far [0x20000] */
	CODE_AT(e, 0x4200, 0xcb);
	CODE_AT(e, 0x4100, 0xeb, 0xfe);
	apply(e);
	gh_cpu_run(e->cpu, 1);
	g_assert_cmphex(e->cpu->rip, ==, 0x4200);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 4), ==, S_CODE0);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 8), ==, CODE + 6);
	run_to(e, 20, 0x4100);
	g_assert_cmphex(e->cpu->seg[GH_CS].selector, ==, S_CODE16);
	g_assert_cmpuint(e->cpu->seg[GH_CS].db, ==, 0);
	g_assert_cmphex(gpr(e, GH_RSP), ==, 0x8800);

	/* jmp far to a data segment: #GP(sel) */
	prot_state(e, 0);
	CODE_AT(e, CODE, 0xea, 0x00, 0x10, 0x00, 0x00, S_DATA0, 0x00);
	apply(e);
	run_fault(e, 10, GH_EXC_GP);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 16), ==, S_DATA0);
	env_free(e);
}

/* ---- port I/O --------------------------------------------------------------------- */

static void test_io(void)
{
	struct env *e = env_new();

	real_state(e);
	e->s.gpr[GH_RAX] = 0xffffffff;
	e->s.gpr[GH_RDX] = 0x3f8;
	CODE_AT(e, 0x10100, 0xe4, 0x60,		/* in al, 0x60 */
		0xed,				/* in ax, dx */
		0x66, 0xe5, 0x71,		/* in eax, 0x71 */
		0xe6, 0x80,			/* out 0x80, al */
		0x66, 0xef,			/* out dx, eax */
		0xee,				/* out dx, al */
		0xeb, 0xfe);
	apply(e);
	run_to(e, 20, 0x10b);
	/* reads 0x44332211, 0x45342312, 0x46352413: AL, then AX, then EAX */
	g_assert_cmphex(gpr(e, GH_RAX), ==, 0x46352413);
	g_assert_cmpuint(e->nin, ==, 3);
	g_assert_cmphex(e->in_port[0], ==, 0x60);
	g_assert_cmphex(e->in_port[1], ==, 0x3f8);
	g_assert_cmphex(e->in_port[2], ==, 0x71);
	g_assert_cmpuint(e->nout, ==, 3);
	g_assert_cmphex(e->out[0].port, ==, 0x80);
	g_assert_cmphex(e->out[0].val, ==, 0x13);
	g_assert_cmpuint(e->out[0].size, ==, 1);
	g_assert_cmphex(e->out[1].port, ==, 0x3f8);
	g_assert_cmphex(e->out[1].val, ==, 0x46352413);
	g_assert_cmpuint(e->out[1].size, ==, 4);
	g_assert_cmpuint(e->out[2].size, ==, 1);

	/* 64-bit: REX.W does not make IN 8 bytes; EAX write zero-extends */
	long_state(e, 0);
	e->s.gpr[GH_RAX] = ~0ULL;
	e->nin = 0;
	CODE_AT(e, CODE, 0x48, 0xe5, 0x40, 0xeb, 0xfe);
	apply(e);
	run_to(e, 10, CODE + 3);
	g_assert_cmphex(gpr(e, GH_RAX), ==, 0x44332211);

	/* CPL 3, IOPL 0: the TSS bitmap allows 0x60-0x67 only */
	prot_state(e, 3);
	e->nout = 0;
	CODE_AT(e, CODE, 0xe6, 0x64, 0x66, 0xe7, 0x66, 0xe6, 0x68);
	apply(e);
	run_fault(e, 10, GH_EXC_GP);
	g_assert_cmpuint(e->nout, ==, 2);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 20), ==, CODE + 5);
	/* a word at 0x67 needs 0x68's bit too */
	prot_state(e, 3);
	e->nout = 0;
	CODE_AT(e, CODE, 0x66, 0xe7, 0x67);
	apply(e);
	run_fault(e, 10, GH_EXC_GP);
	g_assert_cmpuint(e->nout, ==, 0);
	env_free(e);
}

/*
 * String I/O at CPL 3 checks the TSS bitmap each iteration before its
 * memory operand: REP OUTSB to an allowed port runs all iterations, REP
 * INSB to a denied one faults #GP before any read or store.
 */
static void test_io_string_bitmap(void)
{
	struct env *e = env_new();

	prot_state(e, 3);
	for (unsigned k = 0; k < 3; k++)
		e->ram[0x20000 + k] = (uint8_t)(0xc0 + k);
	memset(e->ram + 0x30000, 0xee, 4);
	e->s.gpr[GH_RSI] = 0x20000;
	e->s.gpr[GH_RDI] = 0x30000;
	e->s.gpr[GH_RCX] = 3;
	e->s.gpr[GH_RDX] = 0x66;
	CODE_AT(e, CODE, 0xf3, 0x6e,		/* rep outsb */
		0xb9, 0x02, 0x00, 0x00, 0x00,	/* mov ecx, 2 */
		0xba, 0x68, 0x00, 0x00, 0x00,	/* mov edx, 0x68 */
		0xf3, 0x6c,			/* rep insb */
		0xeb, 0xfe);
	apply(e);
	run_fault(e, 20, GH_EXC_GP);
	g_assert_cmpuint(e->nout, ==, 3);
	for (unsigned k = 0; k < 3; k++) {
		g_assert_cmphex(e->out[k].port, ==, 0x66);
		g_assert_cmphex(e->out[k].val, ==, 0xc0 + k);
	}
	g_assert_cmpuint(e->nin, ==, 0);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 20), ==, CODE + 12);
	g_assert_cmphex(gpr(e, GH_RCX), ==, 2);
	g_assert_cmphex(gpr(e, GH_RDI), ==, 0x30000);
	g_assert_cmphex(ct_get32(e->ram, 0x30000), ==, 0xeeeeeeee);
	env_free(e);
}

/* ---- segment registers --------------------------------------------------------------- */

static void test_sreg(void)
{
	struct env *e = env_new();

	/* real mode: mov ds, ax; mov bx, ds; mov [0x10], es (16 bits) */
	real_state(e);
	e->s.gpr[GH_RAX] = 0x4321;
	e->s.gpr[GH_RBX] = 0xffffffff;
	ct_put32(e->ram, 0x43210 + 0x10, 0xaaaaaaaa);
	CODE_AT(e, 0x10100, 0x8e, 0xd8, 0x8c, 0xdb, 0x8c, 0x06, 0x10, 0x00,
		0x66, 0x8c, 0xc1,			/* mov ecx, es */
		0xeb, 0xfe);
	e->s.gpr[GH_RCX] = 0xffffffff;
	apply(e);
	run_to(e, 20, 0x10b);
	g_assert_cmphex(e->cpu->seg[GH_DS].base, ==, 0x43210);
	g_assert_cmphex(gpr(e, GH_RBX), ==, 0xffff4321);
	g_assert_cmphex(ct_get32(e->ram, 0x43220), ==, 0xaaaa3000);
	g_assert_cmphex(gpr(e, GH_RCX), ==, 0x3000);

	/* mov cs, ax and sreg 6 are #UD */
	real_state(e);
	CODE_AT(e, 0x10100, 0x8e, 0xc8);
	apply(e);
	run_fault(e, 10, GH_EXC_UD);
	real_state(e);
	CODE_AT(e, 0x10100, 0x8c, 0xf0);
	apply(e);
	run_fault(e, 10, GH_EXC_UD);

	/* LDS / LES / LFS / LGS / LSS in real mode */
	real_state(e);
	ct_put16(e->ram, 0x20000, 0x1111);
	ct_put16(e->ram, 0x20002, 0x5000);
	CODE_AT(e, 0x10100, 0xc4, 0x3e, 0x00, 0x00,	/* les di, [0] */
		0x0f, 0xb4, 0x36, 0x00, 0x00,		/* lfs si, [0] */
		0x0f, 0xb5, 0x1e, 0x00, 0x00,		/* lgs bx, [0] */
		0x0f, 0xb2, 0x26, 0x00, 0x00,		/* lss sp, [0] */
		0xc5, 0x0e, 0x00, 0x00,			/* lds cx, [0] */
		0xeb, 0xfe);
	apply(e);
	run_to(e, 20, 0x117);
	g_assert_cmphex(e->cpu->seg[GH_ES].base, ==, 0x50000);
	g_assert_cmphex(e->cpu->seg[GH_FS].base, ==, 0x50000);
	g_assert_cmphex(e->cpu->seg[GH_GS].base, ==, 0x50000);
	g_assert_cmphex(e->cpu->seg[GH_SS].base, ==, 0x50000);
	g_assert_cmphex(e->cpu->seg[GH_DS].base, ==, 0x50000);
	g_assert_cmphex(gpr(e, GH_RDI) & 0xffff, ==, 0x1111);
	g_assert_cmphex(gpr(e, GH_RSI) & 0xffff, ==, 0x1111);
	g_assert_cmphex(gpr(e, GH_RBX) & 0xffff, ==, 0x1111);
	g_assert_cmphex(gpr(e, GH_RSP) & 0xffff, ==, 0x1111);
	g_assert_cmphex(gpr(e, GH_RCX) & 0xffff, ==, 0x1111);

	/* 32-bit: lds with a bad selector faults and leaves the register */
	prot_state(e, 0);
	ct_put32(e->ram, 0x20000, 0x12345678);
	ct_put16(e->ram, 0x20004, S_TSS32);
	e->s.gpr[GH_RSI] = 0x99;
	CODE_AT(e, CODE, 0xc5, 0x35, 0x00, 0x00, 0x02, 0x00);
	apply(e);
	run_fault(e, 10, GH_EXC_GP);
	g_assert_cmphex(gpr(e, GH_RSI), ==, 0x99);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 16), ==, S_TSS32);

	/* 32-bit lfs: EAX gets the offset, FS the descriptor */
	prot_state(e, 0);
	ct_put32(e->ram, 0x20000, 0x12345678);
	ct_put16(e->ram, 0x20004, S_DATAB);
	CODE_AT(e, CODE, 0x0f, 0xb4, 0x05, 0x00, 0x00, 0x02, 0x00, 0xeb, 0xfe);
	apply(e);
	run_to(e, 10, CODE + 7);
	g_assert_cmphex(gpr(e, GH_RAX), ==, 0x12345678);
	g_assert_cmphex(e->cpu->seg[GH_FS].base, ==, 0x20000);
	env_free(e);
}

/* ---- string instructions ---------------------------------------------------------------- */

enum { OP_MOVS, OP_STOS, OP_LODS, OP_CMPS, OP_SCAS, NR_STR_OPS };

static const uint8_t str_opcode[NR_STR_OPS] = {0xa4, 0xaa, 0xac, 0xa6, 0xae};

enum { M_REAL, M_PROT, M_LONG };

struct sregs {
	uint64_t rsi, rdi, rcx, rax;
	bool zf, cf;
};

static uint64_t mask_of(unsigned size)
{
	return size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

static void set_sized(uint64_t *r, unsigned size, uint64_t v)
{
	if (size == 4)
		*r = (uint32_t)v;
	else if (size == 8)
		*r = v;
	else
		*r = (*r & ~mask_of(size)) | (v & mask_of(size));
}

/* The string instructions as the SDM's pseudo-code reads. */
static void str_model(uint8_t *ram, uint64_t sbase, uint64_t dbase, unsigned op,
		      unsigned size, bool df, unsigned rep, unsigned asz, struct sregs *r)
{
	uint64_t am = mask_of(asz), sm = mask_of(size);
	uint64_t n = rep ? r->rcx & am : 1;
	int64_t step = df ? -(int64_t)size : (int64_t)size;

	while (n) {
		uint64_t a = 0, b = 0;

		memcpy(&a, ram + sbase + (r->rsi & am), size);
		memcpy(&b, ram + dbase + (r->rdi & am), size);
		switch (op) {
		case OP_MOVS:
			memcpy(ram + dbase + (r->rdi & am), &a, size);
			break;
		case OP_STOS:
			memcpy(ram + dbase + (r->rdi & am), &r->rax, size);
			break;
		case OP_LODS:
			if (size == 1)
				r->rax = (r->rax & ~0xffULL) | a;
			else
				set_sized(&r->rax, size, a);
			break;
		case OP_CMPS:
			r->zf = a == b;
			r->cf = a < b;
			break;
		case OP_SCAS:
			r->zf = (r->rax & sm) == b;
			r->cf = (r->rax & sm) < b;
			break;
		}
		if (op == OP_MOVS || op == OP_LODS || op == OP_CMPS)
			set_sized(&r->rsi, asz, r->rsi + step);
		if (op != OP_LODS)
			set_sized(&r->rdi, asz, r->rdi + step);
		if (!rep)
			break;
		n--;
		set_sized(&r->rcx, asz, n);
		if ((op == OP_CMPS || op == OP_SCAS) &&
		    ((rep == 0xf3 && !r->zf) || (rep == 0xf2 && r->zf)))
			break;
	}
}

static void str_case(struct env *e, unsigned mode, unsigned op, unsigned size, bool df,
		     unsigned rep, unsigned asz)
{
	static uint8_t before[0x200], ref[0x200];
	uint64_t sbase, dbase, soff, doff, junk, end;
	struct sregs r, want;
	uint8_t code[16];
	unsigned n = 0, defsz = mode == M_REAL ? 2 : 4, defasz = mode == M_LONG ? 8 : defsz;
	uint64_t codeaddr = mode == M_REAL ? 0x10100 : CODE;
	uint64_t fl;

	if (mode == M_REAL)
		real_state(e);
	else if (mode == M_PROT)
		prot_state(e, 0);
	else
		long_state(e, 0);
	/* DS and ES at 0x20000 and 0x30000 (64-bit mode: bases 0, the
	 * offsets carry it); the source and destination offsets at 0x1080
	 * and 0x2080, the destination equal to the source in its first 3
	 * bytes, then different */
	if (mode == M_LONG) {
		sbase = dbase = 0;
		soff = 0x21080;
		doff = 0x32080;
	} else {
		sbase = 0x20000;
		dbase = 0x30000;
		soff = 0x1080;
		doff = 0x2080;
		e->s.seg[GH_DS].base = sbase;
		e->s.seg[GH_ES].base = dbase;
	}
	for (int k = -0x80; k < 0x80; k++) {
		e->ram[sbase + soff + k] = (uint8_t)(k * 7 + 1);
		e->ram[dbase + doff + k] = k >= 0 && k < 3 ? (uint8_t)(k * 7 + 1)
							   : (uint8_t)(k * 5 + 3);
	}
	/* junk above the address size, to see that it stays (16-bit) or is
	 * cleared (32-bit in 64-bit mode) */
	junk = asz == 2 ? 0xabcd0000ULL : asz == 4 && mode == M_LONG ? 0xabcd000000000000ULL : 0;
	r.rsi = junk | soff;
	r.rdi = junk | doff;
	r.rcx = junk | 5;
	r.rax = mode == M_LONG ? 0x8877665544332211ULL : 0x44332211;
	/* SCAS looks for the destination's second element */
	memcpy(&r.rax, e->ram + dbase + doff + (df ? -(int)size : (int)size), size);
	r.zf = r.cf = false;

	if (size == 2 && defsz != 2)
		code[n++] = 0x66;
	if (size == 4 && defsz == 2)
		code[n++] = 0x66;
	if (asz != defasz)
		code[n++] = 0x67;
	if (rep)
		code[n++] = rep;
	if (size == 8)
		code[n++] = 0x48;
	code[n++] = str_opcode[op] + (size > 1);
	code[n++] = 0xeb;
	code[n++] = 0xfe;
	load(e, codeaddr, code, n);
	end = (mode == M_REAL ? 0x100 : CODE) + n - 2;

	e->s.gpr[GH_RSI] = r.rsi;
	e->s.gpr[GH_RDI] = r.rdi;
	e->s.gpr[GH_RCX] = r.rcx;
	e->s.gpr[GH_RAX] = r.rax;
	e->s.rflags = GH_RFLAGS_FIXED | (df ? GH_FL_DF : 0);
	apply(e);

	memcpy(before, e->ram + dbase + doff - 0x100, sizeof(before));
	want = r;
	str_model(e->ram, sbase, dbase, op, size, df, rep, asz, &want);
	memcpy(ref, e->ram + dbase + doff - 0x100, sizeof(ref));
	memcpy(e->ram + dbase + doff - 0x100, before, sizeof(before));

	run_to(e, 50, end);
	if (memcmp(ref, e->ram + dbase + doff - 0x100, sizeof(ref)) || gpr(e, GH_RSI) != want.rsi ||
	    gpr(e, GH_RDI) != want.rdi || gpr(e, GH_RCX) != want.rcx ||
	    gpr(e, GH_RAX) != want.rax)
		g_test_message("mode %u op %u size %u df %d rep %x asz %u", mode, op, size, df,
			       rep, asz);
	g_assert_cmpmem(ref, sizeof(ref), e->ram + dbase + doff - 0x100, sizeof(ref));
	g_assert_cmphex(gpr(e, GH_RSI), ==, want.rsi);
	g_assert_cmphex(gpr(e, GH_RDI), ==, want.rdi);
	g_assert_cmphex(gpr(e, GH_RCX), ==, want.rcx);
	g_assert_cmphex(gpr(e, GH_RAX), ==, want.rax);
	fl = rflags(e);
	if (op == OP_CMPS || op == OP_SCAS) {
		g_assert_cmpint(!!(fl & GH_FL_ZF), ==, want.zf);
		g_assert_cmpint(!!(fl & GH_FL_CF), ==, want.cf);
	} else {
		g_assert_cmphex(fl & GH_ALU_FLAGS, ==, 0);
	}
}

static void test_string_matrix(void)
{
	static const unsigned reps[] = {0, 0xf3, 0xf2};
	struct env *e = env_new();
	unsigned cases = 0;

	for (unsigned mode = M_REAL; mode <= M_LONG; mode++) {
		for (unsigned op = 0; op < NR_STR_OPS; op++) {
			for (unsigned size = 1; size <= 8; size *= 2) {
				if (size == 8 && mode != M_LONG)
					continue;
				for (unsigned df = 0; df < 2; df++) {
					for (unsigned r = 0; r < 3; r++) {
						unsigned a1 = mode == M_LONG ? 8 : mode == M_PROT ? 4 : 2;
						unsigned a2 = mode == M_LONG ? 4 : mode == M_PROT ? 2 : 4;

						str_case(e, mode, op, size, df, reps[r], a1);
						str_case(e, mode, op, size, df, reps[r], a2);
						cases += 2;
					}
				}
			}
		}
	}
	g_assert_cmpuint(cases, ==, 2 * 3 * 2 * 5 * (3 + 3 + 4));
	env_free(e);
}

/* Hand-checked string cases. */
static void test_string_cases(void)
{
	struct env *e = env_new();

	/* REPE CMPSB over "abcX" vs "abcY": stops after the 4th, ZF=0, CX=6 */
	real_state(e);
	memcpy(e->ram + 0x20000, "abcXefgh", 8);
	memcpy(e->ram + 0x30000, "abcYefgh", 8);
	e->s.gpr[GH_RSI] = 0;
	e->s.gpr[GH_RDI] = 0;
	e->s.gpr[GH_RCX] = 10;
	CODE_AT(e, 0x10100, 0xf3, 0xa6, 0xeb, 0xfe);
	apply(e);
	run_to(e, 10, 0x102);
	g_assert_cmphex(gpr(e, GH_RCX), ==, 6);
	g_assert_cmphex(gpr(e, GH_RSI), ==, 4);
	g_assert_cmphex(gpr(e, GH_RDI), ==, 4);
	g_assert_false(rflags(e) & GH_FL_ZF);
	g_assert_true(rflags(e) & GH_FL_CF); /* 'X' < 'Y' */

	/* REPNE SCASB finds the NUL of a string */
	real_state(e);
	memcpy(e->ram + 0x30000 + 0x40, "hello", 6);
	e->s.gpr[GH_RDI] = 0x40;
	e->s.gpr[GH_RCX] = 0xffff;
	e->s.gpr[GH_RAX] = 0;
	CODE_AT(e, 0x10100, 0xf2, 0xae, 0xeb, 0xfe);
	apply(e);
	run_to(e, 10, 0x102);
	g_assert_cmphex(gpr(e, GH_RDI), ==, 0x46);
	g_assert_cmphex(gpr(e, GH_RCX), ==, 0xffff - 6);
	g_assert_true(rflags(e) & GH_FL_ZF);

	/* a segment override applies to the source (FS), ES stays the
	 * destination even with ES: on it */
	real_state(e);
	memcpy(e->ram + 0x40000 + 0x10, "FSFS", 4);
	memcpy(e->ram + 0x20000 + 0x10, "DSDS", 4);
	e->s.gpr[GH_RSI] = 0x10;
	e->s.gpr[GH_RDI] = 0x20;
	e->s.gpr[GH_RCX] = 4;
	CODE_AT(e, 0x10100, 0x64, 0xf3, 0xa4, 0xeb, 0xfe);
	apply(e);
	run_to(e, 10, 0x103);
	g_assert_cmpmem(e->ram + 0x30020, 4, "FSFS", 4);

	/* 16-bit addressing wraps SI/DI at 64K: MOVSW at SI=0xffff reads
	 * bytes 0xffff and 0x0000? no: a word at 0xffff crosses the limit:
	 * #GP(0) in real mode (SDM 20.1.7 "segment wraparound") */
	real_state(e);
	e->s.gpr[GH_RSI] = 0xffff;
	e->s.gpr[GH_RDI] = 0;
	CODE_AT(e, 0x10100, 0xa5);
	apply(e);
	run_fault(e, 10, GH_EXC_GP);
	/* ...while byte moves wrap the index: SI goes 0xffff -> 0x0000 */
	real_state(e);
	e->ram[0x2ffff] = 0x5a;
	e->ram[0x20000] = 0xa5;
	e->s.gpr[GH_RSI] = 0xffff;
	e->s.gpr[GH_RDI] = 0x100;
	e->s.gpr[GH_RCX] = 2;
	CODE_AT(e, 0x10100, 0xf3, 0xa4, 0xeb, 0xfe);
	apply(e);
	run_to(e, 10, 0x102);
	g_assert_cmphex(e->ram[0x30100], ==, 0x5a);
	g_assert_cmphex(e->ram[0x30101], ==, 0xa5);
	g_assert_cmphex(gpr(e, GH_RSI), ==, 1);

	/* REP with rCX = 0 does nothing */
	long_state(e, 0);
	e->s.gpr[GH_RCX] = 0;
	e->s.gpr[GH_RDI] = 0x20000;
	e->s.gpr[GH_RAX] = 0x77;
	e->ram[0x20000] = 0;
	CODE_AT(e, CODE, 0xf3, 0xaa, 0xeb, 0xfe);
	apply(e);
	run_to(e, 10, CODE + 2);
	g_assert_cmphex(e->ram[0x20000], ==, 0);
	g_assert_cmphex(gpr(e, GH_RDI), ==, 0x20000);

	/* INS / OUTS: REP OUTSW from DS:SI, REP INSB to ES:DI */
	real_state(e);
	ct_put16(e->ram, 0x20000, 0x1234);
	ct_put16(e->ram, 0x20002, 0x5678);
	e->s.gpr[GH_RSI] = 0;
	e->s.gpr[GH_RDI] = 0x10;
	e->s.gpr[GH_RCX] = 2;
	e->s.gpr[GH_RDX] = 0x1f0;
	/* rep outsw; push 3; pop cx; rep insb */
	CODE_AT(e, 0x10100, 0xf3, 0x6f, 0x6a, 0x03, 0x59, 0xf3, 0x6c, 0xeb, 0xfe);
	apply(e);
	run_to(e, 20, 0x107);
	g_assert_cmpuint(e->nout, ==, 2);
	g_assert_cmphex(e->out[0].val, ==, 0x1234);
	g_assert_cmphex(e->out[1].val, ==, 0x5678);
	g_assert_cmpuint(e->out[1].size, ==, 2);
	g_assert_cmphex(e->out[1].port, ==, 0x1f0);
	g_assert_cmpuint(e->nin, ==, 3);
	g_assert_cmphex(e->ram[0x30010], ==, 0x11);
	g_assert_cmphex(e->ram[0x30011], ==, 0x12);
	g_assert_cmphex(e->ram[0x30012], ==, 0x13);
	g_assert_cmphex(gpr(e, GH_RDI), ==, 0x13);
	g_assert_cmphex(gpr(e, GH_RSI), ==, 4);

	/* INS to an unmapped page faults before the port is read */
	/* a fresh CPU: its TLB must not know the page from earlier runs */
	env_free(e);
	e = env_new();
	long_state(e, 0);
	ct_put64(e->ram, PT + 0x20 * 8, 0);
	e->nin = 0;
	e->s.gpr[GH_RDI] = 0x20000;
	e->s.gpr[GH_RDX] = 0x60;
	CODE_AT(e, CODE, 0x6d);
	apply(e);
	run_fault(e, 10, GH_EXC_PF);
	g_assert_cmpuint(e->nin, ==, 0);
	env_free(e);
}

/*
 * REP MOVSQ whose destination runs into an unmapped page half-way: the #PF
 * handler (in the guest) maps it and returns, and the copy finishes. The
 * handler saves RCX/RSI/RDI as they were at the fault on its stack.
 */
static void test_rep_movs_pf(void)
{
	struct env *e = env_new();
	uint64_t frame = 0x9000; /* IST1 stack top */
	uint32_t pte_addr = PT + 0x150 * 8;

	long_state(e, 0);
	ct_put64(e->ram, TSS64 + 0x24, frame);
	ct_idt64_set(e->ram, GH_EXC_PF, S_CODE64, 0x6000, 0x8e, 0);
	ct_put64(e->ram, IDT_BASE + GH_EXC_PF * 16,
		 ct_get64(e->ram, IDT_BASE + GH_EXC_PF * 16) | (1ULL << 32));
	ct_put64(e->ram, PT + 0x150 * 8, 0); /* 0x150000 not present */
	for (unsigned k = 0; k < 0x2000; k++)
		e->ram[0x120000 + k] = (uint8_t)(k ^ (k >> 8));
	memset(e->ram + 0x14e000, 0xee, 0x4000);
	{
		uint8_t h[] = {
		    0x51, 0x56, 0x57, 0x50,			/* push rcx, rsi, rdi, rax */
		    0x68, 0, 0, 0, 0,				/* push pte_addr */
		    0x5f,					/* pop rdi */
		    0x68, 0x07, 0x00, 0x15, 0x00,		/* push 0x150007 */
		    0x58,					/* pop rax */
		    0x48, 0xab,					/* stosq */
		    0x58, 0x5f, 0x5e, 0x59,			/* pop rax, rdi, rsi, rcx */
		    0x41, 0x5b,					/* pop r11 (error code) */
		    0x48, 0xcf,					/* iretq */
		};
		memcpy(h + 5, &pte_addr, 4);
		load(e, 0x6000, h, sizeof(h));
	}
	CODE_AT(e, CODE, 0xf3, 0x48, 0xa5, 0xeb, 0xfe);
	e->s.gpr[GH_RSI] = 0x120000;
	e->s.gpr[GH_RDI] = 0x14f000;
	e->s.gpr[GH_RCX] = 0x400;
	apply(e);
	run_to(e, 100, CODE + 3);
	g_assert_cmphex(gpr(e, GH_RCX), ==, 0);
	g_assert_cmphex(gpr(e, GH_RSI), ==, 0x122000);
	g_assert_cmphex(gpr(e, GH_RDI), ==, 0x151000);
	g_assert_cmpmem(e->ram + 0x14f000, 0x2000, e->ram + 0x120000, 0x2000);
	g_assert_cmphex(e->ram[0x151000], ==, 0xee);
	g_assert_cmphex(e->ram[0x14efff], ==, 0xee);
	/* the fault: CR2, error code W (not present, supervisor) */
	g_assert_cmphex(e->cpu->cr2, ==, 0x150000);
	g_assert_cmphex(gpr(e, GH_R11), ==, GH_PFEC_W);
	/* the frame (RIP = the REP) and the registers at the fault */
	g_assert_cmphex(ct_get64(e->ram, frame - 40), ==, CODE);
	g_assert_cmphex(ct_get64(e->ram, frame - 48), ==, GH_PFEC_W);
	g_assert_cmphex(ct_get64(e->ram, frame - 56), ==, 0x200);		/* rcx */
	g_assert_cmphex(ct_get64(e->ram, frame - 64), ==, 0x121000);		/* rsi */
	g_assert_cmphex(ct_get64(e->ram, frame - 72), ==, 0x150000);		/* rdi */
	g_assert_true(ct_get64(e->ram, frame - 24) & GH_FL_RF);
	env_free(e);
}

/*
 * A long REP STOSB yields to the loop between batches: a budget of one
 * instruction stops it part-way with RIP still on it, an interrupt is
 * taken between iterations, and the store completes.
 */
static void test_rep_interrupted(void)
{
	struct env *e = env_new();
	uint64_t rcx;

	prot_state(e, 0);
	e->s.rflags = GH_RFLAGS_FIXED | GH_FL_IF;
	e->s.gpr[GH_RDI] = 0x100000;
	e->s.gpr[GH_RCX] = 100000;
	e->s.gpr[GH_RAX] = 0x5a;
	memset(e->ram + 0x100000, 0, 100001);
	ct_idt32_set(e->ram, 0x40, S_CODE0, 0x6000, 0x8e);
	CODE_AT(e, 0x6000, 0x6a, 0x01, 0x5b, 0xcf); /* push 1; pop ebx; iretd */
	CODE_AT(e, CODE, 0xf3, 0xaa, 0xeb, 0xfe);
	apply(e);
	gh_cpu_run(e->cpu, 1);
	rcx = gpr(e, GH_RCX);
	g_assert_cmpuint(rcx, <, 100000);
	g_assert_cmpuint(rcx, >, 0);
	g_assert_cmphex(e->cpu->rip, ==, CODE);
	g_assert_cmphex(gpr(e, GH_RDI), ==, 0x100000 + 100000 - rcx);
	g_assert_cmphex(e->ram[0x100000 + 100000 - rcx - 1], ==, 0x5a);
	g_assert_cmphex(e->ram[0x100000 + 100000 - rcx], ==, 0);

	/* an interrupt now: taken before the next iteration, returns to it */
	e->intr = true;
	e->intr_vector = 0x40;
	gh_cpu_intr_changed(e->cpu);
	gh_cpu_run(e->cpu, 1);
	g_assert_false(e->intr);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 12), ==, CODE); /* the frame's EIP */
	g_assert_cmphex(gpr(e, GH_RCX), ==, rcx);
	run_to(e, 1000, CODE + 2);
	g_assert_cmphex(gpr(e, GH_RBX), ==, 1);
	g_assert_cmphex(gpr(e, GH_RCX), ==, 0);
	g_assert_cmphex(gpr(e, GH_RDI), ==, 0x100000 + 100000);
	for (unsigned k = 0; k < 100000; k++)
		if (e->ram[0x100000 + k] != 0x5a)
			g_assert_cmphex(k, ==, ~0u);
	g_assert_cmphex(e->ram[0x100000 + 100000], ==, 0);

	/* a kick from elsewhere stops it between iterations too: the first
	 * OUT to port 0x99 kicks (as another thread would) */
	prot_state(e, 0);
	e->nout = 0;
	e->s.gpr[GH_RSI] = 0x100000;
	e->s.gpr[GH_RCX] = 1000;
	e->s.gpr[GH_RDX] = 0x99;
	CODE_AT(e, CODE, 0xf3, 0x6e, 0xeb, 0xfe);
	apply(e);
	g_assert_cmpint(gh_cpu_run(e->cpu, 0), ==, GH_CPU_KICKED);
	g_assert_cmpuint(e->nout, >, 0);
	g_assert_cmpuint(e->nout, <, 1000);
	g_assert_cmphex(e->cpu->rip, ==, CODE);
	g_assert_cmphex(gpr(e, GH_RCX), ==, 1000 - e->nout);
	g_assert_cmphex(gpr(e, GH_RSI), ==, 0x100000 + e->nout);
	run_to(e, 1000, CODE + 2);
	g_assert_cmpuint(e->nout, ==, 1000);
	g_assert_cmphex(gpr(e, GH_RCX), ==, 0);
	env_free(e);
}

/*
 * A REP MOVSB whose destination shares the page of its own code: the first
 * store drops the page's decoded blocks, the block being run among them,
 * and the remaining iterations still run from the decoded instruction.
 */
static void test_rep_movs_own_page(void)
{
	struct env *e = env_new();

	prot_state(e, 0);
	for (unsigned k = 0; k < 16; k++)
		e->ram[CODE + 0x700 + k] = (uint8_t)(0xa0 + k);
	CODE_AT(e, CODE, 0xf3, 0xa4, 0xeb, 0xfe); /* rep movsb; jmp $ */
	e->s.gpr[GH_RSI] = CODE + 0x700;
	e->s.gpr[GH_RDI] = CODE + 0x800;
	e->s.gpr[GH_RCX] = 16;
	apply(e);
	/* one run: the block is cached, its page protected, then written */
	gh_cpu_run(e->cpu, 1);
	run_to(e, 10, CODE + 2);
	g_assert_cmphex(gpr(e, GH_RCX), ==, 0);
	g_assert_cmphex(gpr(e, GH_RDI), ==, CODE + 0x810);
	g_assert_cmpmem(e->ram + CODE + 0x800, 16, e->ram + CODE + 0x700, 16);
	env_free(e);
}

/*
 * An instruction whose bytes run into a page that is not present: the
 * fetch faults with CR2 at that page and RIP at the instruction, every
 * time it is retried.
 */
static void test_fetch_fault_cross_page(void)
{
	struct env *e = env_new();

	long_state(e, 0);
	ct_put64(e->ram, PT + 0x150 * 8, 0); /* 0x150000 not present */
	CODE_AT(e, 0x14fffe, 0x48, 0xb8);    /* mov rax, imm64: 8 bytes missing */
	e->s.rip = 0x14fffe;
	for (unsigned k = 0; k < 3; k++) {
		apply(e);
		run_fault(e, 5, GH_EXC_PF);
		g_assert_cmphex(e->cpu->cr2, ==, 0x150000);
		g_assert_cmphex(ct_get64(e->ram, 0x8800 - 40), ==, 0x14fffe);
	}
	env_free(e);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cpu-exec-ctl/jcc", test_jcc);
	g_test_add_func("/cpu-exec-ctl/jmp-wrap16", test_jmp_wrap16);
	g_test_add_func("/cpu-exec-ctl/call-ret", test_call_ret);
	g_test_add_func("/cpu-exec-ctl/loop", test_loop);
	g_test_add_func("/cpu-exec-ctl/push-pop", test_push_pop);
	g_test_add_func("/cpu-exec-ctl/push-pop-sreg", test_push_pop_sreg);
	g_test_add_func("/cpu-exec-ctl/ss-shadow", test_ss_shadow);
	g_test_add_func("/cpu-exec-ctl/pusha-popa", test_pusha_popa);
	g_test_add_func("/cpu-exec-ctl/pushf-popf", test_pushf_popf);
	g_test_add_func("/cpu-exec-ctl/v86-flags", test_v86_flags);
	g_test_add_func("/cpu-exec-ctl/enter-leave", test_enter_leave);
	g_test_add_func("/cpu-exec-ctl/int-iret-real", test_int_iret_real);
	g_test_add_func("/cpu-exec-ctl/int-iret-prot", test_int_iret_prot);
	g_test_add_func("/cpu-exec-ctl/nmi", test_nmi);
	g_test_add_func("/cpu-exec-ctl/far", test_far);
	g_test_add_func("/cpu-exec-ctl/io", test_io);
	g_test_add_func("/cpu-exec-ctl/io-string-bitmap", test_io_string_bitmap);
	g_test_add_func("/cpu-exec-ctl/sreg", test_sreg);
	g_test_add_func("/cpu-exec-ctl/string-matrix", test_string_matrix);
	g_test_add_func("/cpu-exec-ctl/string-cases", test_string_cases);
	g_test_add_func("/cpu-exec-ctl/rep-movs-pf", test_rep_movs_pf);
	g_test_add_func("/cpu-exec-ctl/rep-interrupted", test_rep_interrupted);
	g_test_add_func("/cpu-exec-ctl/rep-movs-own-page", test_rep_movs_own_page);
	g_test_add_func("/cpu-exec-ctl/fetch-fault-cross-page", test_fetch_fault_cross_page);
	return g_test_run();
}
