/*
 * Tests for the system instruction handlers of the software CPU
 * (vmm-core/cpu/exec-sys.c, cpuid.c): each program runs through gh_cpu_run
 * in a fake RAM whose IDT sends every vector to its own HLT, so a fault is
 * seen as the guest sees it (vector, error code, faulting RIP) and checked
 * against the Intel SDM vol. 2 pseudo-code and vol. 3A chapters 2, 4, 5, 17.
 */
#include "cpu/cpuid.h"
#include "cpu/exec.h"
#include "cputest.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#define RAM_SIZE (4u << 20)

#define IVT 0x0000
#define GDT CT_GDT_BASE
#define IDT CT_IDT_BASE
#define TSS32 0x3000
#define TSS64 0x3100
#define LDT_AT 0x3800
#define STUBS 0x5000 /* vector v: HLT at STUBS + 4 v */
#define STACK0 0x8000
#define STACK3 0x9000
#define CODE 0x10000
#define DATA 0x20000
#define PML4 0x30000
#define PAE_PDPT 0x34000
#define PAE_PD 0x35000

/* GDT selectors */
#define S_CODE32 0x08
#define S_DATA 0x10
#define S_CODE32_3 0x1b
#define S_DATA_3 0x23
#define S_CODE64_3 0x2b
#define S_CODE64 0x30
#define S_TSS32 0x38
#define S_TSS64 0x40 /* 16 bytes */
#define S_LDT 0x50
#define S_LDT64 0x58 /* 16 bytes */
#define S_TSS32_BUSY 0x68
#define S_CODE16 0x70
#define S_XONLY 0x78
#define S_CONF 0x80
#define S_CGATE 0x88
#define S_DATA_NP 0x90
#define S_TSS16 0x98
#define S_DATA_RO 0xa0
#define S_TSS_NP 0xa8
#define S_EMPTY 0xb0
#define GDT_LIMIT 0xbf

#define DR6_BD_TEST 0x2000u

struct env {
	uint8_t *ram;
	struct gh_cpu *cpu;
	struct gh_cpu_state s;
	uint64_t now;
	bool intr;
	bool lm; /* the state built is IA-32e (64-bit IDT) */
	/* the fake local APIC behind the msr and cr8 hooks */
	uint64_t apic_base, deadline, deadline_tsc, tpr;
	unsigned apic_calls;
};

struct trap {
	int vec; /* -1: the program's own HLT */
	uint64_t err;
	uint64_t rip; /* the pushed RIP, or where the HLT is */
};

/* ---- the fake machine ---- */

static uint8_t *fake_page(void *opaque, uint64_t gpa, bool *writable)
{
	struct env *e = opaque;

	*writable = true;
	return ct_ram_page(e->ram, RAM_SIZE, gpa);
}

static bool fake_intr_pending(void *opaque)
{
	return ((struct env *)opaque)->intr;
}

static int fake_intr_ack(void *opaque)
{
	struct env *e = opaque;

	e->intr = false;
	return 0x40;
}

static uint64_t fake_now(void *opaque)
{
	return ((struct env *)opaque)->now;
}

static int fake_apic_msr(void *opaque, uint32_t index, bool write, uint64_t *val,
			 uint64_t tsc)
{
	struct env *e = opaque;
	uint64_t *slot;

	if (index == GH_MSR_IA32_APIC_BASE)
		slot = &e->apic_base;
	else if (index == GH_MSR_IA32_TSC_DEADLINE)
		slot = &e->deadline;
	else if (index == 0x830)
		return -EINVAL; /* an x2APIC register: #GP */
	else
		return -ENOENT;
	e->apic_calls++;
	if (write) {
		*slot = *val;
		e->deadline_tsc = tsc;
	} else {
		*val = *slot;
	}
	return 0;
}

static int fake_apic_cr8(void *opaque, bool write, uint64_t *val)
{
	struct env *e = opaque;

	e->apic_calls++;
	if (write)
		e->tpr = *val;
	else
		*val = e->tpr;
	return 0;
}

static void build_tables(struct env *e)
{
	memset(e->ram, 0, RAM_SIZE);
	ct_gdt_set(e->ram, S_CODE32, ct_seg_desc(0, 0xfffff, 0x9b, 0xc));
	ct_gdt_set(e->ram, S_DATA, ct_seg_desc(0, 0xfffff, 0x93, 0xc));
	ct_gdt_set(e->ram, S_CODE32_3, ct_seg_desc(0, 0xfffff, 0xfb, 0xc));
	ct_gdt_set(e->ram, S_DATA_3, ct_seg_desc(0, 0xfffff, 0xf3, 0xc));
	ct_gdt_set(e->ram, S_CODE64_3, ct_seg_desc(0, 0xfffff, 0xfb, 0xa));
	ct_gdt_set(e->ram, S_CODE64, ct_seg_desc(0, 0xfffff, 0x9b, 0xa));
	ct_gdt_set(e->ram, S_TSS32, ct_seg_desc(TSS32, 0x67, 0x89, 0));
	ct_gdt_set(e->ram, S_TSS64, ct_seg_desc(TSS64, 0x67, 0x89, 0));
	ct_put64(e->ram, GDT + S_TSS64 + 8, 0);
	ct_gdt_set(e->ram, S_LDT, ct_seg_desc(LDT_AT, 0x1f, 0x82, 0));
	ct_gdt_set(e->ram, S_LDT64, ct_seg_desc(LDT_AT, 0x1f, 0x82, 0));
	ct_put64(e->ram, GDT + S_LDT64 + 8, 0);
	ct_gdt_set(e->ram, S_TSS32_BUSY, ct_seg_desc(TSS32, 0x67, 0x8b, 0));
	ct_gdt_set(e->ram, S_CODE16, ct_seg_desc(0, 0xffff, 0x9b, 0));
	ct_gdt_set(e->ram, S_XONLY, ct_seg_desc(0, 0xfffff, 0x99, 0xc));
	ct_gdt_set(e->ram, S_CONF, ct_seg_desc(0, 0xfffff, 0x9f, 0xc));
	ct_gdt_set(e->ram, S_CGATE, ct_gate_desc(S_CODE32, CODE, 0xec, 0));
	ct_gdt_set(e->ram, S_DATA_NP, ct_seg_desc(0, 0xfffff, 0x13, 0xc));
	ct_gdt_set(e->ram, S_TSS16, ct_seg_desc(TSS32, 0x2b, 0x81, 0));
	ct_gdt_set(e->ram, S_DATA_RO, ct_seg_desc(0x1234, 0x0ffff, 0xf1, 0x0));
	ct_gdt_set(e->ram, S_TSS_NP, ct_seg_desc(TSS32, 0x67, 0x09, 0));
	/* an LDT with one DPL 3 data segment at index 1 */
	ct_put64(e->ram, LDT_AT + 8, ct_seg_desc(0, 0xfffff, 0xf3, 0xc));
	ct_put32(e->ram, TSS32 + 4, STACK0);
	ct_put16(e->ram, TSS32 + 8, S_DATA);
	ct_put64(e->ram, TSS64 + 4, STACK0);
	for (unsigned v = 0; v < 256; v++)
		e->ram[STUBS + 4 * v] = 0xf4;
}

static bool has_error(int vec)
{
	return vec == 8 || (vec >= 10 && vec <= 14) || vec == 17;
}

/* 32-bit interrupt gates to the stubs; vector 0x80 is reachable from CPL 3. */
static void idt32(struct env *e)
{
	for (unsigned v = 0; v < 256; v++)
		ct_idt32_set(e->ram, v, S_CODE32, STUBS + 4 * v, v == 0x80 ? 0xee : 0x8e);
	e->s.idt.base = IDT;
	e->s.idt.limit = 0x7ff;
}

static void idt64(struct env *e)
{
	for (unsigned v = 0; v < 256; v++)
		ct_idt64_set(e->ram, v, S_CODE64, STUBS + 4 * v, v == 0x80 ? 0xee : 0x8e,
			     0);
	e->s.idt.base = IDT;
	e->s.idt.limit = 0xfff;
}

static void identity_map(struct env *e)
{
	uint64_t pd = ct_map_low(e->ram, PML4, 7);

	ct_put64(e->ram, pd, 0x87);		     /* 0-2 MiB */
	ct_put64(e->ram, pd + 8, (2u << 20) | 0x87); /* 2-4 MiB */
}

/* Protected mode, flat 32-bit segments, CPL 0 or 3, no paging. */
static void state32(struct env *e, unsigned cpl)
{
	struct gh_cpu_state *s = &e->s;

	ct_flat_state(e->ram, s, cpl ? S_CODE32_3 : S_CODE32, cpl ? S_DATA_3 : S_DATA,
		      S_TSS32, true);
	s->rip = CODE;
	s->rflags = 0x2;
	s->gpr[GH_RSP] = cpl ? STACK3 : STACK0;
	s->tr.type = 0xb;
	s->gdt.limit = GDT_LIMIT;
	e->lm = false;
	idt32(e);
}

/* 64-bit mode, identity-mapped 4 MiB with 2 MiB pages. */
static void state64(struct env *e, unsigned cpl)
{
	struct gh_cpu_state *s = &e->s;

	state32(e, cpl);
	identity_map(e);
	ct_long_mode(s, PML4);
	ct_seg_from_gdt16(e->ram, cpl ? S_CODE64_3 : S_CODE64, &s->seg[GH_CS]);
	ct_seg_from_gdt16(e->ram, S_TSS64, &s->tr);
	s->tr.type = 0xb;
	e->lm = true;
	idt64(e);
}

/* Real mode, CS:IP = 1000:0000 (CODE), the IVT pointing at the stubs. */
static void state_real(struct env *e)
{
	struct gh_cpu_state *s = &e->s;

	gh_cpu_state_reset(s, true);
	ct_real_seg(s, GH_CS, CODE >> 4);
	s->rip = 0;
	s->gpr[GH_RSP] = STACK0;
	s->rflags = 0x2;
	for (unsigned v = 0; v < 256; v++)
		ct_put32(e->ram, IVT + 4 * v, STUBS + 4 * v);
	e->lm = false;
}

static struct env *env_new(void)
{
	struct env *e = g_new0(struct env, 1);
	struct gh_cpu_bus bus = {
	    .opaque = e,
	    .page = fake_page,
	    .intr_pending = fake_intr_pending,
	    .intr_ack = fake_intr_ack,
	    .now_ns = fake_now,
	};

	e->cpu = ct_cpu_new(bus, &e->ram, RAM_SIZE);
	e->now = 1000000;
	build_tables(e);
	return e;
}

static void env_free(struct env *e)
{
	ct_cpu_free(e->cpu, e->ram);
	g_free(e);
}

/* Loads the state; the code written since is decoded afresh. */
static void apply(struct env *e)
{
	ct_apply(e->cpu, &e->s);
	gh_cpu_invalidate_code(e->cpu, CODE, 0x1000);
}

/* Places code at CODE (followed by a HLT) and loads the state. */
static void load(struct env *e, const void *code, size_t len)
{
	memcpy(e->ram + CODE, code, len);
	e->ram[CODE + len] = 0xf4;
	apply(e);
}

#define LOAD(e, ...)                                                                     \
	do {                                                                             \
		static const uint8_t code_[] = {__VA_ARGS__};                            \
		load(e, code_, sizeof(code_));                                           \
	} while (0)

/* Runs until a HLT: the program's own (vec -1) or a vector's stub. */
static struct trap run(struct env *e)
{
	struct gh_cpu *cpu = e->cpu;
	struct trap t = {-1, 0, 0};
	uint64_t lin, sp;
	unsigned w;

	g_assert_cmpint(gh_cpu_run(cpu, 10000), ==, GH_CPU_HLT);
	lin = cpu->seg[GH_CS].base + cpu->rip - 1;
	if (lin < STUBS || lin >= STUBS + 4 * 256) {
		t.rip = lin;
		return t;
	}
	t.vec = (int)((lin - STUBS) / 4);
	w = e->lm ? 8 : (cpu->mode == GH_MODE_REAL ? 2 : 4);
	sp = cpu->seg[GH_SS].base + (w == 8 ? cpu->gpr[GH_RSP] : (uint32_t)cpu->gpr[GH_RSP]);
	if (has_error(t.vec) && w != 2) {
		t.err = w == 8 ? ct_get64(e->ram, sp) : ct_get32(e->ram, sp);
		sp += w;
	}
	if (w == 8)
		t.rip = ct_get64(e->ram, sp);
	else
		t.rip = w == 4 ? ct_get32(e->ram, sp) : ct_get16(e->ram, sp);
	return t;
}

/* The program ran to its final HLT at CODE + len. */
static void expect_done(struct env *e, uint64_t hlt_at)
{
	struct trap t = run(e);

	if (t.vec >= 0)
		g_error("unexpected vector %d error 0x%" G_GINT64_MODIFIER "x at 0x%" G_GINT64_MODIFIER "x",
			t.vec, t.err, t.rip);
	g_assert_cmphex(t.rip, ==, hlt_at);
}

static void expect_fault(struct env *e, int vec, uint64_t err, uint64_t rip)
{
	struct trap t = run(e);

	g_assert_cmpint(t.vec, ==, vec);
	g_assert_cmphex(t.err, ==, err);
	g_assert_cmphex(t.rip, ==, rip);
}

static uint64_t rflags(struct env *e)
{
	return gh_exec_rflags(e->cpu);
}

/* ---- CPUID ---- */

static void cpuid_of(struct env *e, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	gh_cpuid(e->cpu, leaf, sub, r);
}

static void test_cpuid(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	uint32_t r[4];
	char s[49];

	/* through the instruction: leaf 0 in 64-bit mode, upper halves zeroed */
	state64(e, 3);
	e->s.gpr[GH_RAX] = 0xffffffff00000000ULL;
	e->s.gpr[GH_RBX] = ~0ULL;
	e->s.gpr[GH_RCX] = 0x5;
	e->s.gpr[GH_RDX] = ~0ULL;
	LOAD(e, 0x0f, 0xa2, 0xcd, 0x80);
	expect_fault(e, 0x80, 0, CODE + 4);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, GH_CPUID_MAX_BASIC);
	memcpy(s, &cpu->gpr[GH_RBX], 4);
	memcpy(s + 4, &cpu->gpr[GH_RDX], 4);
	memcpy(s + 8, &cpu->gpr[GH_RCX], 4);
	s[12] = 0;
	g_assert_cmpstr(s, ==, "GenuineIntel");
	g_assert_cmphex(cpu->gpr[GH_RBX] >> 32, ==, 0);

	/* leaf 1: the exact feature words */
	cpuid_of(e, 1, 0, r);
	g_assert_cmphex(r[0], ==, 0x000106ca);
	g_assert_cmphex(r[1], ==, 0x00010800);
	/* SSE3, SSSE3, CX16, SSE4.1, SSE4.2, MOVBE, POPCNT, XSAVE, hypervisor;
	 * no APIC hooks here, so no TSC-deadline; OSXSAVE only with CR4.OSXSAVE */
	g_assert_cmphex(r[2], ==, (1u << 0) | (1u << 9) | (1u << 13) | (1u << 19) | (1u << 20) |
					  (1u << 22) | (1u << 23) | (1u << 26) | (1u << 31));
	/* FPU, the integer set, MCA, MMX, FXSR, SSE, SSE2; no APIC (no hooks) */
	g_assert_cmphex(r[3], ==,
			(1u << 0) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) |
			    (1u << 7) | (1u << 8) | (1u << 11) | (1u << 12) | (1u << 13) |
			    (1u << 14) | (1u << 15) | (1u << 16) | (1u << 17) | (1u << 19) |
			    (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26));
	/* no HTT; no x2APIC, AVX, RDRAND */
	g_assert_cmphex(r[3] & (1u << 28), ==, 0);
	g_assert_cmphex(r[2] & ((1u << 21) | (1u << 27) | (1u << 28) | (1u << 30)), ==, 0);
	/* leaf 7: nothing (no SMEP, SMAP, FSGSBASE, BMI1, ERMS) */
	cpuid_of(e, 7, 0, r);
	g_assert_true(!r[0] && !r[1] && !r[2] && !r[3]);
	cpuid_of(e, 0x16, 0, r);
	g_assert_cmpuint(r[0], ==, 1000);

	cpuid_of(e, 0x80000000, 0, r);
	g_assert_cmphex(r[0], ==, 0x80000008);
	cpuid_of(e, 0x80000001, 0, r);
	g_assert_cmphex(r[2], ==, (1u << 0) | (1u << 5));
	g_assert_cmphex(r[3], ==, (1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29));
	for (unsigned k = 0; k < 3; k++) {
		cpuid_of(e, 0x80000002 + k, 0, r);
		memcpy(s + 16 * k, r, 16);
	}
	s[48] = 0;
	g_assert_cmpstr(s, ==, "Guesthouse Virtual CPU");
	cpuid_of(e, 0x80000007, 0, r);
	g_assert_cmphex(r[3], ==, 1u << 8);
	cpuid_of(e, 0x80000008, 0, r);
	g_assert_cmphex(r[0], ==, 0x3028);
	/* Intel: a leaf past the maximum answers as the highest basic leaf */
	cpuid_of(e, 0x17, 0, r);
	g_assert_cmpuint(r[0], ==, 1000);
	cpuid_of(e, 0x80000009, 0, r);
	g_assert_cmpuint(r[0], ==, 1000);
	cpuid_of(e, 0x40000000, 0, r);
	g_assert_cmphex(r[0], ==, 0x40000000);
	memcpy(s, &r[1], 12);
	s[12] = 0;
	g_assert_cmpstr(s, ==, "GuesthouseVM");
	cpuid_of(e, 0x40000100, 0, r);
	g_assert_true(!r[0] && !r[1] && !r[2] && !r[3]);
	/* MISC_ENABLE.LIMIT_CPUID_MAXVAL */
	cpu->msr_misc_enable |= GH_MISC_ENABLE_LIMIT_CPUID;
	cpuid_of(e, 0, 0, r);
	g_assert_cmpuint(r[0], ==, 2);
	cpuid_of(e, 7, 0, r);
	g_assert_cmpuint(r[0], ==, 1); /* leaf 2's answer */
	env_free(e);
}

static bool bound_in(const struct gh_handler_bind *t, unsigned op)
{
	for (; t->fn; t++)
		if (t->op == op)
			return true;
	return false;
}

static unsigned bound_count(unsigned op)
{
	return bound_in(gh_exec_alu_binds, op) + bound_in(gh_exec_ctl_binds, op) +
	       bound_in(gh_exec_sys_binds, op) + bound_in(gh_exec_x87_binds, op) +
	       bound_in(gh_exec_sse_binds, op) + bound_in(gh_exec_ssefp_binds, op);
}

/*
 * Every advertised feature bit has a row naming its ops, every such op is
 * bound to a handler, and no bit is set that has no row.
 */
static void test_cpuid_implemented(void)
{
	static const uint32_t leaves[] = {1, 7, 0x80000001, 0x80000007};
	struct env *e = env_new();
	GString *missing = g_string_new(NULL);

	/* as the soft backend connects it: APIC and TSC-deadline need the hook */
	e->cpu->bus.msr = fake_apic_msr;
	e->cpu->bus.cr8 = fake_apic_cr8;

	for (unsigned k = 0; k < gh_cpuid_nfeatures; k++) {
		const struct gh_cpuid_feature *f = &gh_cpuid_features[k];

		for (unsigned j = 0; j < G_N_ELEMENTS(f->ops) && f->ops[j]; j++)
			if (bound_count(f->ops[j]) != 1)
				g_string_append_printf(missing, " %s:%s", f->name,
						       gh_x86_op_name(f->ops[j]));
	}
	if (missing->len)
		g_test_message("advertised but not bound (once):%s", missing->str);
	g_assert_cmpuint(missing->len, ==, 0);
	g_string_free(missing, true);

	for (unsigned k = 0; k < G_N_ELEMENTS(leaves); k++) {
		uint32_t r[4], want[4] = {0, 0, 0, 0};

		cpuid_of(e, leaves[k], 0, r);
		for (unsigned j = 0; j < gh_cpuid_nfeatures; j++)
			if (gh_cpuid_features[j].leaf == leaves[k])
				want[gh_cpuid_features[j].reg] |= 1u << gh_cpuid_features[j].bit;
		if (leaves[k] == 1) {
			r[0] = r[1] = 0; /* signature and APIC ID, not features */
		}
		for (unsigned j = 0; j < 4; j++)
			g_assert_cmphex(r[j], ==, want[j]);
	}
	/* CR4 bits that exist have their CPUID bits (DE, PSE, PAE, MCE, PGE, TSD);
	 * OSXSAVE exists ahead of the XSAVE bit, which comes with SSE */
	g_assert_cmphex(GH_CR4_VALID & (GH_CR4_VME | GH_CR4_PVI | GH_CR4_FSGSBASE | GH_CR4_PCIDE |
					GH_CR4_SMEP | GH_CR4_SMAP),
			==, 0);
	g_assert_cmphex(GH_CR4_VALID & GH_CR4_OSXSAVE, ==, GH_CR4_OSXSAVE);
	env_free(e);
}

/* The x87 ops are all bound in exec-x87.c; MMX and SSE ops, if at all,
 * once and in their own tables (exec-sse.c, exec-ssefp.c). */
static void test_fpu_classes(void)
{
	for (unsigned op = 1; op < GH_X86_NR_OPS; op++) {
		uint32_t f = gh_x86_op_flags(op);

		if (f & GH_X86_F_X87) {
			if (!bound_in(gh_exec_x87_binds, op) || bound_count(op) != 1)
				g_error("x87 op %s not bound to exec-x87", gh_x86_op_name(op));
		} else if (f & (GH_X86_F_MMX | GH_X86_F_SSE)) {
			unsigned own = bound_in(gh_exec_sse_binds, op) +
				       bound_in(gh_exec_ssefp_binds, op);

			if (bound_count(op) != own || own > 1)
				g_error("%s is bound outside exec-sse/exec-ssefp or twice",
					gh_x86_op_name(op));
		}
	}
}

/* ---- TSC ---- */

static void test_tsc(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	state64(e, 0);
	e->s.gpr[GH_RAX] = ~0ULL;
	e->s.gpr[GH_RDX] = ~0ULL;
	e->now = 0x123456789abULL;
	LOAD(e, 0x0f, 0x31);
	cpu->tsc_offset = 5;
	expect_done(e, CODE + 2);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0x456789b0);
	g_assert_cmphex(cpu->gpr[GH_RDX], ==, 0x123);

	/* WRMSR TSC: the counter continues from the value written */
	state64(e, 0);
	e->s.gpr[GH_RCX] = GH_MSR_IA32_TSC;
	e->s.gpr[GH_RAX] = 0x1000;
	e->s.gpr[GH_RDX] = 0x7;
	LOAD(e, 0x0f, 0x30);
	expect_done(e, CODE + 2);
	g_assert_cmphex(gh_exec_tsc(cpu), ==, 0x700001000ULL);
	e->now += 50;
	g_assert_cmphex(gh_exec_tsc(cpu), ==, 0x700001032ULL);

	/* RDTSCP: TSC_AUX in ECX */
	state64(e, 3);
	e->s.gpr[GH_RCX] = ~0ULL;
	LOAD(e, 0x0f, 0x01, 0xf9, 0xcd, 0x80);
	cpu->msr_tsc_aux = 0xabcd;
	expect_fault(e, 0x80, 0, CODE + 5);
	g_assert_cmphex(cpu->gpr[GH_RCX], ==, 0xabcd);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, (uint32_t)gh_exec_tsc(cpu));

	/* CR4.TSD: #GP(0) at CPL 3 for both, allowed at CPL 0 */
	state64(e, 3);
	e->s.cr4 |= GH_CR4_TSD;
	LOAD(e, 0x0f, 0x31);
	expect_fault(e, 13, 0, CODE);
	state64(e, 3);
	e->s.cr4 |= GH_CR4_TSD;
	LOAD(e, 0x0f, 0x01, 0xf9);
	expect_fault(e, 13, 0, CODE);
	state64(e, 0);
	e->s.cr4 |= GH_CR4_TSD;
	LOAD(e, 0x0f, 0x31);
	expect_done(e, CODE + 2);
	/* RDPMC: no counters */
	state64(e, 0);
	LOAD(e, 0x0f, 0x33);
	expect_fault(e, 13, 0, CODE);
	env_free(e);
}

/* ---- MSRs ---- */

/* WRMSR index, value at CPL 0 in 64-bit mode: true if it did not fault. */
static bool wrmsr(struct env *e, uint32_t index, uint64_t v)
{
	struct trap t;

	state64(e, 0);
	e->s.gpr[GH_RCX] = index;
	e->s.gpr[GH_RAX] = (uint32_t)v;
	e->s.gpr[GH_RDX] = v >> 32;
	LOAD(e, 0x0f, 0x30);
	t = run(e);
	if (t.vec < 0)
		return true;
	g_assert_cmpint(t.vec, ==, 13);
	g_assert_cmphex(t.err, ==, 0);
	g_assert_cmphex(t.rip, ==, CODE);
	return false;
}

/* RDMSR in the CPU's current state (what the last program left). */
static bool rdmsr(struct env *e, uint32_t index, uint64_t *v)
{
	struct gh_cpu *cpu = e->cpu;
	static const uint8_t code[] = {0x0f, 0x32, 0xf4};
	struct trap t;

	g_assert_cmpuint(cpu->cpl, ==, 0);
	memcpy(e->ram + CODE, code, sizeof(code));
	gh_cpu_invalidate_code(cpu, CODE, sizeof(code));
	cpu->rip = CODE;
	cpu->halted = false;
	cpu->gpr[GH_RCX] = index;
	cpu->gpr[GH_RAX] = ~0ULL;
	cpu->gpr[GH_RDX] = ~0ULL;
	t = run(e);
	if (t.vec >= 0) {
		g_assert_cmpint(t.vec, ==, 13);
		g_assert_cmphex(t.err, ==, 0);
		return false;
	}
	g_assert_cmphex(e->cpu->gpr[GH_RAX] >> 32, ==, 0);
	g_assert_cmphex(e->cpu->gpr[GH_RDX] >> 32, ==, 0);
	*v = (e->cpu->gpr[GH_RDX] << 32) | e->cpu->gpr[GH_RAX];
	return true;
}

static void msr_rw(struct env *e, uint32_t index, uint64_t v, uint64_t expect)
{
	uint64_t r;

	g_assert_true(wrmsr(e, index, v));
	g_assert_true(rdmsr(e, index, &r));
	g_assert_cmphex(r, ==, expect);
}

static void test_msr(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	struct gh_cpu_state st;
	uint64_t v;
	static const uint32_t plain[] = {
	    GH_MSR_STAR, GH_MSR_LSTAR, GH_MSR_CSTAR, GH_MSR_KERNEL_GS_BASE,
	    GH_MSR_IA32_SYSENTER_ESP, GH_MSR_IA32_SYSENTER_EIP, GH_MSR_IA32_MISC_ENABLE,
	};

	for (unsigned k = 0; k < G_N_ELEMENTS(plain); k++)
		msr_rw(e, plain[k], 0xffff800012345678ULL, 0xffff800012345678ULL);
	/* canonical checks */
	g_assert_false(wrmsr(e, GH_MSR_LSTAR, 0x0000800000000000ULL));
	g_assert_false(wrmsr(e, GH_MSR_CSTAR, 0x0001000000000000ULL));
	g_assert_false(wrmsr(e, GH_MSR_FS_BASE, 0x8000000000000000ULL));
	g_assert_false(wrmsr(e, GH_MSR_GS_BASE, 0x0000800000000000ULL));
	g_assert_false(wrmsr(e, GH_MSR_KERNEL_GS_BASE, 0x0000800000000000ULL));
	g_assert_false(wrmsr(e, GH_MSR_IA32_SYSENTER_EIP, 0x0000800000000000ULL));
	/* FS/GS base MSRs are the segment bases */
	g_assert_true(wrmsr(e, GH_MSR_FS_BASE, 0x7000));
	g_assert_cmphex(cpu->seg[GH_FS].base, ==, 0x7000);
	g_assert_true(wrmsr(e, GH_MSR_GS_BASE, 0xffffffff80000000ULL));
	g_assert_cmphex(cpu->seg[GH_GS].base, ==, 0xffffffff80000000ULL);
	/* SFMASK is 32 bits, SYSENTER_CS too; TSC_AUX's upper half is reserved */
	msr_rw(e, GH_MSR_SFMASK, 0xffffffff00047700ULL, 0x47700);
	msr_rw(e, GH_MSR_IA32_SYSENTER_CS, 0x1234567800000010ULL, 0x10);
	msr_rw(e, GH_MSR_TSC_AUX, 0x89abcdef, 0x89abcdef);
	g_assert_false(wrmsr(e, GH_MSR_TSC_AUX, 1ULL << 32));

	/* PAT: types 2 and 3 and bits 7:3 of an entry are reserved */
	msr_rw(e, GH_MSR_IA32_PAT, 0x0007010600070406ULL, 0x0007010600070406ULL);
	g_assert_false(wrmsr(e, GH_MSR_IA32_PAT, 0x0007040600070402ULL));
	g_assert_false(wrmsr(e, GH_MSR_IA32_PAT, 0x0307040600070406ULL));
	g_assert_false(wrmsr(e, GH_MSR_IA32_PAT, 0x0807040600070406ULL));
	g_assert_cmphex(cpu->msr_pat, ==, 0x0007010600070406ULL);

	/* machine-check banks (SDM 16.3): MCG_CAP read-only, no error logged */
	g_assert_true(rdmsr(e, 0x179, &v));
	g_assert_cmphex(v & 0xff, ==, GH_CPU_MCE_BANKS);
	g_assert_true(v & (1u << 8)); /* MCG_CTL_P */
	g_assert_false(wrmsr(e, 0x179, v));
	msr_rw(e, 0x17b, ~0ULL, ~0ULL);
	msr_rw(e, 0x17b, 0, 0);
	g_assert_false(wrmsr(e, 0x17b, 1));
	msr_rw(e, 0x17a, 0, 0);
	g_assert_false(wrmsr(e, 0x17a, 4));
	for (unsigned b = 0; b < GH_CPU_MCE_BANKS; b++) {
		msr_rw(e, 0x400 + 4 * b, ~0ULL, ~0ULL);
		msr_rw(e, 0x401 + 4 * b, 0, 0);
		g_assert_false(wrmsr(e, 0x401 + 4 * b, 1ULL << 63));
		g_assert_true(rdmsr(e, 0x402 + 4 * b, &v));
		g_assert_cmphex(v, ==, 0);
		g_assert_true(rdmsr(e, 0x403 + 4 * b, &v));
		g_assert_cmphex(v, ==, 0);
	}
	g_assert_false(rdmsr(e, 0x400 + 4 * GH_CPU_MCE_BANKS, &v)); /* no such bank */

	/* MTRRs */
	g_assert_true(rdmsr(e, 0xfe, &v));
	g_assert_cmphex(v, ==, 0x508);
	g_assert_false(wrmsr(e, 0xfe, 0x508));
	msr_rw(e, 0x2ff, 0xc06, 0xc06);
	g_assert_false(wrmsr(e, 0x2ff, 0x1006));
	g_assert_false(wrmsr(e, 0x2ff, 0xc07)); /* UC- is not an MTRR type */
	g_assert_false(wrmsr(e, 0x2ff, 0xc02));
	msr_rw(e, 0x250, 0x0606060606060606ULL, 0x0606060606060606ULL);
	msr_rw(e, 0x259, 0x0001040506000104ULL, 0x0001040506000104ULL);
	msr_rw(e, 0x26f, 0x0505050505050505ULL, 0x0505050505050505ULL);
	g_assert_false(wrmsr(e, 0x268, 0x0606060606060603ULL));
	msr_rw(e, 0x200, 0xfe0000006ULL, 0xfe0000006ULL);
	msr_rw(e, 0x201, 0xff0000800ULL, 0xff0000800ULL);
	msr_rw(e, 0x20f, 0xfffffff800ULL, 0xfffffff800ULL);
	g_assert_false(wrmsr(e, 0x200, 0x106));			 /* bits 11:8 */
	g_assert_false(wrmsr(e, 0x200, 0x10000000006ULL));	 /* past MAXPHYADDR */
	g_assert_false(wrmsr(e, 0x200, 0x7));			 /* UC- */
	g_assert_false(wrmsr(e, 0x201, 0x801));			 /* bits 10:0 */
	g_assert_false(wrmsr(e, 0x201, 0x10000000800ULL));
	g_assert_false(wrmsr(e, 0x210, 0));			 /* past the 8 pairs */
	g_assert_false(wrmsr(e, 0x251, 0));			 /* not a fixed MTRR */
	/* the MTRRs travel in the state */
	gh_cpu_get_state(cpu, &st);
	{
		bool seen[3] = {false, false, false};

		for (unsigned k = 0; k < st.nmsrs; k++) {
			if (st.msrs[k].index == 0x2ff) {
				g_assert_cmphex(st.msrs[k].value, ==, 0xc06);
				seen[0] = true;
			} else if (st.msrs[k].index == 0x26f) {
				g_assert_cmphex(st.msrs[k].value, ==, 0x0505050505050505ULL);
				st.msrs[k].value = 0x0404040404040404ULL;
				seen[1] = true;
			} else if (st.msrs[k].index == 0x20f) {
				g_assert_cmphex(st.msrs[k].value, ==, 0xfffffff800ULL);
				seen[2] = true;
			}
		}
		g_assert_true(seen[0] && seen[1] && seen[2]);
		g_assert_cmpint(gh_cpu_set_state(cpu, &st), ==, 0);
		g_assert_cmphex(cpu->mtrr_fixed[10], ==, 0x0404040404040404ULL);
	}

	/* APIC base: reserved bits */
	msr_rw(e, GH_MSR_IA32_APIC_BASE, 0xfee00900, 0xfee00900);
	g_assert_false(wrmsr(e, GH_MSR_IA32_APIC_BASE, 0xfee00c00)); /* x2APIC */
	g_assert_false(wrmsr(e, GH_MSR_IA32_APIC_BASE, 0xfee00901));
	g_assert_false(wrmsr(e, GH_MSR_IA32_APIC_BASE, 0x10000000900ULL));

	/* unknown MSRs, and any MSR above CPL 0 */
	g_assert_false(wrmsr(e, 0x9999, 0));
	state64(e, 0);
	apply(e);
	g_assert_false(rdmsr(e, 0x9999, &v));
	g_assert_false(rdmsr(e, 0xc0000104, &v));
	g_assert_true(rdmsr(e, 0x8b, &v)); /* the microcode revision: 0 */
	g_assert_cmphex(v, ==, 0);
	state64(e, 3);
	e->s.gpr[GH_RCX] = GH_MSR_STAR;
	LOAD(e, 0x0f, 0x32);
	expect_fault(e, 13, 0, CODE);
	state64(e, 3);
	e->s.gpr[GH_RCX] = GH_MSR_STAR;
	LOAD(e, 0x0f, 0x30);
	expect_fault(e, 13, 0, CODE);
	env_free(e);
}

static void test_efer(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	uint64_t v;

	/* in long mode: SCE and NXE may change, LME not, LMA is read-only */
	g_assert_true(wrmsr(e, GH_MSR_EFER, GH_EFER_LME | GH_EFER_SCE | GH_EFER_NXE));
	g_assert_cmphex(cpu->efer, ==, GH_EFER_LME | GH_EFER_LMA | GH_EFER_SCE | GH_EFER_NXE);
	g_assert_true(rdmsr(e, GH_MSR_EFER, &v));
	g_assert_cmphex(v, ==, GH_EFER_LME | GH_EFER_LMA | GH_EFER_SCE | GH_EFER_NXE);
	g_assert_false(wrmsr(e, GH_MSR_EFER, GH_EFER_LMA));		   /* LME with PG */
	g_assert_false(wrmsr(e, GH_MSR_EFER, GH_EFER_LME | (1ULL << 1))); /* reserved */
	g_assert_false(wrmsr(e, GH_MSR_EFER, GH_EFER_LME | (1ULL << 12)));
	g_assert_cmphex(cpu->efer, ==, GH_EFER_LME | GH_EFER_LMA);

	/* without paging LME may be set; LMA stays clear until CR0.PG */
	state32(e, 0);
	e->s.gpr[GH_RCX] = GH_MSR_EFER;
	e->s.gpr[GH_RAX] = GH_EFER_LME | GH_EFER_LMA;
	e->s.gpr[GH_RDX] = 0;
	LOAD(e, 0x0f, 0x30);
	expect_done(e, CODE + 2);
	g_assert_cmphex(cpu->efer, ==, GH_EFER_LME);
	g_assert_cmpint(cpu->mode, ==, GH_MODE_PROT);

	/* NXE takes effect: an instruction fetch from an XD page faults */
	state64(e, 0);
	ct_put64(e->ram, PML4 + 0x2008, (2u << 20) | 0x87 | GH_PTE_XD);
	e->s.efer |= GH_EFER_NXE;
	e->s.rip = 0x200000;
	apply(e);
	expect_fault(e, 14, GH_PFEC_P | GH_PFEC_I, 0x200000);
	g_assert_cmphex(cpu->cr2, ==, 0x200000);
	env_free(e);
}

/* ---- control registers ---- */

static void mov_cr(struct env *e, unsigned cr, uint64_t v)
{
	/* MOV CRn, RAX (REX.R for CR8) */
	if (cr == 8) {
		static const uint8_t c8[] = {0x44, 0x0f, 0x22, 0xc0};

		load(e, c8, sizeof(c8));
	} else {
		uint8_t c[3] = {0x0f, 0x22, (uint8_t)(0xc0 | (cr << 3))};

		load(e, c, sizeof(c));
	}
	e->cpu->gpr[GH_RAX] = v;
}

/*
 * The local APIC's MSRs and CR8 go to the bus hooks when the backend has an
 * APIC (accel/soft.c); without hooks CPUID hides the APIC and TSC-deadline.
 */
static void test_apic_hooks(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	uint32_t r[4];
	uint64_t v, bsp;

	cpuid_of(e, 1, 0, r);
	g_assert_cmphex(r[3] & (1u << 9), ==, 0);
	g_assert_cmphex(r[2] & (1u << 24), ==, 0);
	g_assert_false(wrmsr(e, GH_MSR_IA32_TSC_DEADLINE, 1));
	g_assert_false(rdmsr(e, GH_MSR_IA32_TSC_DEADLINE, &v));

	cpu->bus.msr = fake_apic_msr;
	cpu->bus.cr8 = fake_apic_cr8;
	cpuid_of(e, 1, 0, r);
	g_assert_cmphex(r[3] & (1u << 9), ==, 1u << 9);
	g_assert_cmphex(r[2] & (1u << 24), ==, 1u << 24);

	/* APIC_BASE: the CPU checks reserved bits and keeps BSP read-only */
	state64(e, 0);
	apply(e);
	bsp = cpu->apic_base & 0x100;
	g_assert_true(wrmsr(e, GH_MSR_IA32_APIC_BASE, 0xfed00800 | (bsp ^ 0x100)));
	g_assert_cmphex(e->apic_base, ==, 0xfed00800 | bsp);
	e->apic_base = 0xfee00900;
	g_assert_true(rdmsr(e, GH_MSR_IA32_APIC_BASE, &v));
	g_assert_cmphex(v, ==, 0xfee00900);
	e->apic_calls = 0;
	g_assert_false(wrmsr(e, GH_MSR_IA32_APIC_BASE, 0xfee00c00));
	g_assert_cmpuint(e->apic_calls, ==, 0);

	/* TSC_DEADLINE: the hook sees the TSC of the moment */
	e->now = 5000000;
	g_assert_true(wrmsr(e, GH_MSR_IA32_TSC_DEADLINE, 0x123456789ULL));
	g_assert_cmphex(e->deadline, ==, 0x123456789ULL);
	g_assert_cmphex(e->deadline_tsc, ==, 5000000 + (uint64_t)cpu->tsc_offset);
	g_assert_true(rdmsr(e, GH_MSR_IA32_TSC_DEADLINE, &v));
	g_assert_cmphex(v, ==, 0x123456789ULL);
	/* the hook's #GP; an MSR it does not own stays the CPU's */
	g_assert_false(wrmsr(e, 0x830, 0));
	g_assert_false(rdmsr(e, 0x830, &v));
	msr_rw(e, GH_MSR_LSTAR, 0xffff800000001000ULL, 0xffff800000001000ULL);

	/* CR8 is the APIC's TPR class */
	state64(e, 0);
	mov_cr(e, 8, 0xa);
	expect_done(e, CODE + 4);
	g_assert_cmphex(e->tpr, ==, 0xa);
	state64(e, 0);
	LOAD(e, 0x44, 0x0f, 0x20, 0xc0); /* MOV RAX, CR8 */
	e->tpr = 0x6;
	expect_done(e, CODE + 4);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0x6);
	env_free(e);
}

static void test_cr_basic(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	/* MOV from CR0/CR3/CR4 in 64-bit mode */
	state64(e, 0);
	e->s.cr0 |= GH_CR0_WP | GH_CR0_MP;
	e->s.cr2 = 0xfffff00012345678ULL;
	LOAD(e, 0x0f, 0x20, 0xc0, 0x0f, 0x20, 0xd1, 0x0f, 0x20, 0xda, 0x0f, 0x20, 0xe3,
	     0x44, 0x0f, 0x20, 0xc5);
	cpu->cr8 = 9;
	expect_done(e, CODE + 16);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, GH_CR0_PE | GH_CR0_ET | GH_CR0_PG | GH_CR0_WP |
						  GH_CR0_MP);
	g_assert_cmphex(cpu->gpr[GH_RCX], ==, 0xfffff00012345678ULL);
	g_assert_cmphex(cpu->gpr[GH_RDX], ==, PML4);
	g_assert_cmphex(cpu->gpr[GH_RBX], ==, GH_CR4_PAE);
	g_assert_cmphex(cpu->gpr[GH_RBP], ==, 9);

	/* CR2 and CR8 */
	state64(e, 0);
	mov_cr(e, 2, 0xdeadbeefcafeULL);
	expect_done(e, CODE + 3);
	g_assert_cmphex(cpu->cr2, ==, 0xdeadbeefcafeULL);
	state64(e, 0);
	mov_cr(e, 8, 0xf);
	expect_done(e, CODE + 4);
	g_assert_cmphex(cpu->cr8, ==, 0xf);
	state64(e, 0);
	mov_cr(e, 8, 0x10);
	expect_fault(e, 13, 0, CODE);

	/* CR1, CR5-7, CR9+ are #UD; so is LOCK MOV CR0 (no AMD CR8 alias) */
	state64(e, 0);
	mov_cr(e, 1, 0);
	expect_fault(e, 6, 0, CODE);
	state64(e, 0);
	LOAD(e, 0x0f, 0x20, 0xf8);
	expect_fault(e, 6, 0, CODE);
	state64(e, 0);
	LOAD(e, 0x44, 0x0f, 0x22, 0xc8);
	expect_fault(e, 6, 0, CODE);
	state32(e, 0);
	LOAD(e, 0xf0, 0x0f, 0x22, 0xc0);
	expect_fault(e, 6, 0, CODE);

	/* CPL 3: #GP(0) */
	state64(e, 3);
	LOAD(e, 0x0f, 0x20, 0xc0);
	expect_fault(e, 13, 0, CODE);
	state64(e, 3);
	mov_cr(e, 8, 0);
	expect_fault(e, 13, 0, CODE);

	/* 32-bit: the low half of EAX only, reserved low CR0 bits ignored, ET forced */
	state32(e, 0);
	mov_cr(e, 0, GH_CR0_PE | GH_CR0_TS | (1ULL << 6));
	expect_done(e, CODE + 3);
	g_assert_cmphex(cpu->cr0, ==, GH_CR0_PE | GH_CR0_TS | GH_CR0_ET);
	/* 64-bit: CR0 bits 63:32 are #GP */
	state64(e, 0);
	mov_cr(e, 0, (1ULL << 32) | GH_CR0_PE | GH_CR0_PG);
	expect_fault(e, 13, 0, CODE);
	/* PG without PE; NW without CD */
	state32(e, 0);
	mov_cr(e, 0, GH_CR0_PG);
	expect_fault(e, 13, 0, CODE);
	state32(e, 0);
	mov_cr(e, 0, GH_CR0_PE | GH_CR0_NW);
	expect_fault(e, 13, 0, CODE);
	g_assert_cmphex(cpu->cr0, ==, GH_CR0_PE | GH_CR0_ET);
	state32(e, 0);
	mov_cr(e, 0, GH_CR0_PE | GH_CR0_NW | GH_CR0_CD);
	expect_done(e, CODE + 3);

	/* CR4: reserved bits (VME, PCIDE, SMEP, bit 32) */
	state64(e, 0);
	mov_cr(e, 4, GH_CR4_PAE | GH_CR4_VME);
	expect_fault(e, 13, 0, CODE);
	state64(e, 0);
	mov_cr(e, 4, GH_CR4_PAE | GH_CR4_PCIDE);
	expect_fault(e, 13, 0, CODE);
	state64(e, 0);
	mov_cr(e, 4, GH_CR4_PAE | GH_CR4_SMEP);
	expect_fault(e, 13, 0, CODE);
	state64(e, 0);
	mov_cr(e, 4, GH_CR4_PAE | (1ULL << 32));
	expect_fault(e, 13, 0, CODE);
	/* clearing PAE in long mode */
	state64(e, 0);
	mov_cr(e, 4, GH_CR4_PGE);
	expect_fault(e, 13, 0, CODE);
	state64(e, 0);
	mov_cr(e, 4, GH_CR4_PAE | GH_CR4_PGE | GH_CR4_DE | GH_CR4_TSD);
	expect_done(e, CODE + 3);
	g_assert_cmphex(cpu->cr4, ==, GH_CR4_PAE | GH_CR4_PGE | GH_CR4_DE | GH_CR4_TSD);
	/* clearing PG in 64-bit mode */
	state64(e, 0);
	mov_cr(e, 0, GH_CR0_PE);
	expect_fault(e, 13, 0, CODE);

	/* CR3: bits above MAXPHYADDR, and bit 63 without PCIDE */
	state64(e, 0);
	mov_cr(e, 3, PML4 | (1ULL << 40));
	expect_fault(e, 13, 0, CODE);
	state64(e, 0);
	mov_cr(e, 3, PML4 | (1ULL << 63));
	expect_fault(e, 13, 0, CODE);
	env_free(e);
}

/* CR3 writes drop non-global translations: a remapped page is seen. */
static void test_cr3_flush(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	state64(e, 0);
	/* a second hierarchy whose 2-4 MiB page maps to 0 */
	ct_put64(e->ram, PML4 + 0x4000, (PML4 + 0x5000) | 7);
	ct_put64(e->ram, PML4 + 0x5000, (PML4 + 0x6000) | 7);
	ct_put64(e->ram, PML4 + 0x6000, 0x87);
	ct_put64(e->ram, PML4 + 0x6008, 0x87);
	ct_put64(e->ram, DATA, 0x1111);
	ct_put64(e->ram, (2u << 20) + DATA, 0x2222);
	e->s.gpr[GH_RBX] = (2u << 20) + DATA;
	e->s.gpr[GH_RCX] = PML4 + 0x4000;
	/* mov rax,[rbx]; mov cr3,rcx; mov rdx,[rbx] */
	LOAD(e, 0x48, 0x8b, 0x03, 0x0f, 0x22, 0xd9, 0x48, 0x8b, 0x13);
	expect_done(e, CODE + 9);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0x2222);
	g_assert_cmphex(cpu->gpr[GH_RDX], ==, 0x1111);
	g_assert_cmphex(cpu->cr3, ==, PML4 + 0x4000);
	env_free(e);
}

/* Legacy PAE paging: PDPTEs are checked when loaded (SDM 4.4.1). */
static void test_pae_pdptes(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	ct_put64(e->ram, PAE_PDPT, PAE_PD | 1);
	ct_put64(e->ram, PAE_PD, 0x83); /* 2 MiB page at 0 */
	ct_put64(e->ram, PAE_PD + 8, (2u << 20) | 0x83);

	/* enable PAE paging: CR3, CR4.PAE, CR0.PG */
	state32(e, 0);
	e->s.gpr[GH_RCX] = PAE_PDPT;
	e->s.gpr[GH_RDX] = GH_CR4_PAE;
	e->s.gpr[GH_RBX] = GH_CR0_PE | GH_CR0_PG | GH_CR0_ET;
	LOAD(e, 0x0f, 0x22, 0xd9, 0x0f, 0x22, 0xe2, 0x0f, 0x22, 0xc3);
	expect_done(e, CODE + 9);
	g_assert_cmphex(cpu->cr0, ==, GH_CR0_PE | GH_CR0_PG | GH_CR0_ET);
	g_assert_cmphex(cpu->pdpte[0], ==, PAE_PD | 1);

	/* a reserved bit in a present PDPTE: enabling paging faults, nothing changes */
	ct_put64(e->ram, PAE_PDPT + 8, PAE_PD | 1 | 2); /* RW is reserved in a PDPTE */
	state32(e, 0);
	e->s.cr3 = PAE_PDPT;
	e->s.cr4 = GH_CR4_PAE;
	mov_cr(e, 0, GH_CR0_PE | GH_CR0_PG);
	expect_fault(e, 13, 0, CODE);
	g_assert_cmphex(cpu->cr0 & GH_CR0_PG, ==, 0);
	/* and so does loading CR3 with such a table under PAE paging */
	ct_put64(e->ram, PAE_PDPT + 0x40, PAE_PD | 1);
	ct_put64(e->ram, PAE_PDPT + 0x48, PAE_PD | 1 | (1ULL << 5));
	ct_put64(e->ram, PAE_PDPT + 8, 0);
	state32(e, 0);
	e->s.cr3 = PAE_PDPT;
	e->s.cr4 = GH_CR4_PAE;
	e->s.cr0 |= GH_CR0_PG;
	mov_cr(e, 3, PAE_PDPT + 0x40);
	expect_fault(e, 13, 0, CODE);
	g_assert_cmphex(cpu->cr3, ==, PAE_PDPT);
	/* without the bad bit it loads */
	ct_put64(e->ram, PAE_PDPT + 0x48, 0);
	state32(e, 0);
	e->s.cr3 = PAE_PDPT;
	e->s.cr4 = GH_CR4_PAE;
	e->s.cr0 |= GH_CR0_PG;
	mov_cr(e, 3, PAE_PDPT + 0x40);
	expect_done(e, CODE + 3);
	g_assert_cmphex(cpu->cr3, ==, PAE_PDPT + 0x40);
	env_free(e);
}

/*
 * From 32-bit protected mode into long mode (SDM 9.8.5): CR3, CR4.PAE,
 * EFER.LME, CR0.PG, then a far jump to a 64-bit code segment.
 */
static void test_enter_long_mode(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	identity_map(e);
	state32(e, 0);
	idt64(e); /* the IDT the 64-bit code will use */
	e->s.gpr[GH_RSI] = PML4;
	e->s.gpr[GH_RDI] = GH_CR4_PAE;
	e->s.gpr[GH_RCX] = GH_MSR_EFER;
	e->s.gpr[GH_RAX] = GH_EFER_LME;
	e->s.gpr[GH_RDX] = 0;
	e->s.gpr[GH_RBX] = GH_CR0_PE | GH_CR0_PG | GH_CR0_ET;
	/* mov cr3,esi; mov cr4,edi; wrmsr; mov cr0,ebx; jmp 0x30:CODE+0x40 */
	LOAD(e, 0x0f, 0x22, 0xde, 0x0f, 0x22, 0xe7, 0x0f, 0x30, 0x0f, 0x22, 0xc3, 0xea,
	     (CODE + 0x40) & 0xff, ((CODE + 0x40) >> 8) & 0xff, (CODE + 0x40) >> 16, 0, 0x30,
	     0x00);
	/* in 64-bit code: mov rax, imm64 needs 64-bit mode; then hlt */
	{
		static const uint8_t c64[] = {0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 0xf4};

		memcpy(e->ram + CODE + 0x40, c64, sizeof(c64));
	}
	e->lm = true;
	expect_done(e, CODE + 0x40 + 10);
	g_assert_cmphex(cpu->efer, ==, GH_EFER_LME | GH_EFER_LMA);
	g_assert_cmpint(cpu->mode, ==, GH_MODE_LONG);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0x0807060504030201ULL);

	/* PG with LME but PAE clear: #GP, still in protected mode */
	state32(e, 0);
	e->s.efer = GH_EFER_LME;
	e->s.cr3 = PML4;
	mov_cr(e, 0, GH_CR0_PE | GH_CR0_PG);
	expect_fault(e, 13, 0, CODE);
	g_assert_cmphex(cpu->efer, ==, GH_EFER_LME);
	g_assert_cmpint(cpu->mode, ==, GH_MODE_PROT);

	/* leaving long mode from compatibility mode: LMA clears */
	state64(e, 0);
	ct_seg_from_gdt16(e->ram, S_CODE32, &e->s.seg[GH_CS]);
	mov_cr(e, 0, GH_CR0_PE | GH_CR0_ET);
	g_assert_cmpint(cpu->mode, ==, GH_MODE_COMPAT);
	expect_done(e, CODE + 3);
	g_assert_cmphex(cpu->efer, ==, GH_EFER_LME);
	g_assert_cmpint(cpu->mode, ==, GH_MODE_PROT);
	env_free(e);
}

static void test_lmsw_smsw_clts(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	/* real mode: LMSW sets PE (and MP, EM, TS), SMSW reads it back */
	state_real(e);
	e->s.cr0 = GH_CR0_ET;
	e->s.gpr[GH_RAX] = 0xfff3;
	e->s.gpr[GH_RCX] = 0x12345678;
	/* lmsw ax; smsw ecx (66 prefix for the 32-bit register form) */
	LOAD(e, 0x0f, 0x01, 0xf0, 0x66, 0x0f, 0x01, 0xe1);
	expect_done(e, CODE + 7);
	g_assert_cmphex(cpu->cr0, ==, GH_CR0_ET | GH_CR0_PE | GH_CR0_MP);
	g_assert_cmpint(cpu->mode, ==, GH_MODE_PROT);
	g_assert_cmphex(cpu->gpr[GH_RCX], ==, GH_CR0_ET | GH_CR0_PE | GH_CR0_MP);

	/* LMSW cannot clear PE; 16-bit SMSW to memory */
	state32(e, 0);
	e->s.cr0 |= GH_CR0_TS | GH_CR0_WP;
	e->s.gpr[GH_RAX] = 0x0004;
	e->s.gpr[GH_RBX] = DATA;
	ct_put32(e->ram, DATA, 0xaaaaaaaa);
	LOAD(e, 0x0f, 0x01, 0xf0, 0x0f, 0x01, 0x23);
	expect_done(e, CODE + 6);
	g_assert_cmphex(cpu->cr0, ==, GH_CR0_PE | GH_CR0_EM | GH_CR0_ET | GH_CR0_WP);
	g_assert_cmphex(ct_get32(e->ram, DATA), ==, 0xaaaa0000 | (uint16_t)cpu->cr0);

	/* CLTS */
	state32(e, 0);
	e->s.cr0 |= GH_CR0_TS;
	LOAD(e, 0x0f, 0x06);
	expect_done(e, CODE + 2);
	g_assert_cmphex(cpu->cr0, ==, GH_CR0_PE | GH_CR0_ET);
	/* CPL 3: LMSW and CLTS #GP, SMSW allowed (no UMIP) */
	state32(e, 3);
	LOAD(e, 0x0f, 0x06);
	expect_fault(e, 13, 0, CODE);
	state32(e, 3);
	LOAD(e, 0x0f, 0x01, 0xf0);
	expect_fault(e, 13, 0, CODE);
	state32(e, 3);
	LOAD(e, 0x0f, 0x01, 0xe0, 0xcd, 0x80);
	expect_fault(e, 0x80, 0, CODE + 5);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, GH_CR0_PE | GH_CR0_ET);
	env_free(e);
}

/* ---- debug registers ---- */

static void test_dr(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	/* DR0-3 round trip, DR6/DR7 fixed bits */
	state64(e, 0);
	e->s.gpr[GH_RAX] = 0xffff800000001000ULL;
	e->s.gpr[GH_RCX] = 0;
	/* mov dr3,rax; mov dr7,rcx; mov dr6,rcx; mov rdx,dr3; mov rbx,dr7; mov rsi,dr6 */
	LOAD(e, 0x0f, 0x23, 0xd8, 0x0f, 0x23, 0xf9, 0x0f, 0x23, 0xf1, 0x0f, 0x21, 0xda,
	     0x0f, 0x21, 0xfb, 0x0f, 0x21, 0xf6);
	expect_done(e, CODE + 18);
	g_assert_cmphex(cpu->gpr[GH_RDX], ==, 0xffff800000001000ULL);
	g_assert_cmphex(cpu->gpr[GH_RBX], ==, 0x400);
	g_assert_cmphex(cpu->gpr[GH_RSI], ==, 0xffff0ff0);
	/* writable bits only */
	state64(e, 0);
	e->s.gpr[GH_RAX] = 0xffffdfff; /* all but GD */
	LOAD(e, 0x0f, 0x23, 0xf0, 0x0f, 0x23, 0xf8, 0x0f, 0x21, 0xfb, 0x0f, 0x21, 0xf2);
	expect_done(e, CODE + 12);
	g_assert_cmphex(cpu->gpr[GH_RBX], ==, 0xffff07ff);
	g_assert_cmphex(cpu->gpr[GH_RDX], ==, 0xffffcfff);
	/* DR4/DR5 alias DR6/DR7 with CR4.DE clear, #UD with it set */
	state64(e, 0);
	e->s.dr[7] = 0x401;
	LOAD(e, 0x0f, 0x21, 0xe8);
	expect_done(e, CODE + 3);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0x401);
	state64(e, 0);
	e->s.cr4 |= GH_CR4_DE;
	LOAD(e, 0x0f, 0x21, 0xe0);
	expect_fault(e, 6, 0, CODE);
	state64(e, 0);
	e->s.cr4 |= GH_CR4_DE;
	LOAD(e, 0x0f, 0x23, 0xe8);
	expect_fault(e, 6, 0, CODE);
	/* 64-bit: DR6/DR7 bits 63:32 are #GP; DR8 is #UD */
	state64(e, 0);
	e->s.gpr[GH_RAX] = 1ULL << 32;
	LOAD(e, 0x0f, 0x23, 0xf8);
	expect_fault(e, 13, 0, CODE);
	state64(e, 0);
	e->s.gpr[GH_RAX] = 1ULL << 32;
	LOAD(e, 0x0f, 0x23, 0xf0);
	expect_fault(e, 13, 0, CODE);
	state64(e, 0);
	LOAD(e, 0x44, 0x0f, 0x21, 0xc0);
	expect_fault(e, 6, 0, CODE);
	/* CPL 3 */
	state64(e, 3);
	LOAD(e, 0x0f, 0x21, 0xc0);
	expect_fault(e, 13, 0, CODE);
	/* GD: #DB fault before the access, BD set, GD cleared for the handler */
	state64(e, 0);
	e->s.dr[7] = 0x2400;
	e->s.dr[6] = 0xffff0ff0;
	e->s.gpr[GH_RAX] = 0x1234;
	LOAD(e, 0x0f, 0x23, 0xc0);
	expect_fault(e, 1, 0, CODE);
	g_assert_cmphex(cpu->dr[0], ==, 0);
	g_assert_cmphex(cpu->dr[6] & DR6_BD_TEST, ==, DR6_BD_TEST);
	g_assert_cmphex(cpu->dr[7], ==, 0x400);
	/* real mode: allowed, 32-bit */
	state_real(e);
	e->s.gpr[GH_RAX] = 0xffffffff12345678ULL;
	LOAD(e, 0x0f, 0x23, 0xc8, 0x0f, 0x21, 0xca);
	expect_done(e, CODE + 6);
	g_assert_cmphex(cpu->dr[1], ==, 0x12345678);
	g_assert_cmphex(cpu->gpr[GH_RDX], ==, 0x12345678);
	env_free(e);
}

/* ---- descriptor tables ---- */

static void test_dtables(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	/* 64-bit: LGDT/LIDT take 10 bytes, SGDT/SIDT store 10 */
	state64(e, 0);
	ct_put16(e->ram, DATA, GDT_LIMIT);
	ct_put64(e->ram, DATA + 2, GDT);
	ct_put16(e->ram, DATA + 16, 0x0fff);
	ct_put64(e->ram, DATA + 18, IDT);
	memset(e->ram + DATA + 32, 0xcc, 32);
	e->s.gdt.base = 0;
	e->s.gdt.limit = 0;
	e->s.gpr[GH_RAX] = DATA;
	e->s.gpr[GH_RCX] = DATA + 16;
	e->s.gpr[GH_RDX] = DATA + 32;
	/* lgdt [rax]; lidt [rcx]; sgdt [rdx]; sidt [rdx+16] */
	LOAD(e, 0x0f, 0x01, 0x10, 0x0f, 0x01, 0x19, 0x0f, 0x01, 0x02, 0x0f, 0x01, 0x4a, 0x10);
	expect_done(e, CODE + 13);
	g_assert_cmphex(cpu->gdtr.base, ==, GDT);
	g_assert_cmphex(cpu->gdtr.limit, ==, GDT_LIMIT);
	g_assert_cmphex(ct_get16(e->ram, DATA + 32), ==, GDT_LIMIT);
	g_assert_cmphex(ct_get64(e->ram, DATA + 34), ==, GDT);
	g_assert_cmphex(ct_get16(e->ram, DATA + 48), ==, 0xfff);
	g_assert_cmphex(ct_get64(e->ram, DATA + 50), ==, IDT);
	g_assert_cmphex(e->ram[DATA + 58], ==, 0xcc);
	/* a non-canonical base */
	state64(e, 0);
	ct_put64(e->ram, DATA + 2, 0x0000800000000000ULL);
	e->s.gpr[GH_RAX] = DATA;
	LOAD(e, 0x0f, 0x01, 0x10);
	expect_fault(e, 13, 0, CODE);
	g_assert_cmphex(cpu->gdtr.base, ==, GDT);

	/* 32-bit with a 16-bit operand size: a 24-bit base */
	state32(e, 0);
	ct_put16(e->ram, DATA, 0x1234);
	ct_put32(e->ram, DATA + 2, 0xff0a0000);
	memset(e->ram + DATA + 32, 0xcc, 16);
	e->s.gpr[GH_RAX] = DATA;
	e->s.gpr[GH_RDX] = DATA + 32;
	/* o16 lidt [eax]; sidt [edx] */
	LOAD(e, 0x66, 0x0f, 0x01, 0x18, 0x0f, 0x01, 0x0a);
	expect_done(e, CODE + 7);
	g_assert_cmphex(cpu->idtr.base, ==, 0x0a0000);
	g_assert_cmphex(cpu->idtr.limit, ==, 0x1234);
	g_assert_cmphex(ct_get16(e->ram, DATA + 32), ==, 0x1234);
	g_assert_cmphex(ct_get32(e->ram, DATA + 34), ==, 0x0a0000);
	g_assert_cmphex(e->ram[DATA + 38], ==, 0xcc);
	/* LGDT at CPL 3: #GP; SGDT at CPL 3 works (no UMIP); register form #UD */
	state32(e, 3);
	e->s.gpr[GH_RAX] = DATA;
	LOAD(e, 0x0f, 0x01, 0x10);
	expect_fault(e, 13, 0, CODE);
	state32(e, 3);
	e->s.gpr[GH_RAX] = DATA;
	LOAD(e, 0x0f, 0x01, 0x00, 0xcd, 0x80);
	expect_fault(e, 0x80, 0, CODE + 5);
	g_assert_cmphex(ct_get32(e->ram, DATA + 2), ==, GDT);
	/* real mode: LIDT works at "CPL 0" */
	state_real(e);
	ct_put16(e->ram, DATA, 0x3ff);
	ct_put32(e->ram, DATA + 2, 0);
	e->s.seg[GH_DS].base = DATA;
	e->s.seg[GH_DS].selector = DATA >> 4;
	e->s.gpr[GH_RBX] = 0;
	LOAD(e, 0x66, 0x0f, 0x01, 0x1f);
	expect_done(e, CODE + 4);
	g_assert_cmphex(cpu->idtr.limit, ==, 0x3ff);
	env_free(e);
}

static void test_ldt_tr(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	/* LLDT, then a load through the LDT; SLDT/STR read back */
	state32(e, 0);
	e->s.gpr[GH_RAX] = S_LDT;
	e->s.gpr[GH_RCX] = 0x0f;	/* LDT index 1, RPL 3 */
	e->s.gpr[GH_RDX] = 0xffffffff;
	e->s.gpr[GH_RBX] = 0xffffffff;
	/* lldt ax; sldt edx; str bx (o16) */
	LOAD(e, 0x0f, 0x00, 0xd0, 0x0f, 0x00, 0xc2, 0x66, 0x0f, 0x00, 0xcb);
	expect_done(e, CODE + 10);
	g_assert_cmphex(cpu->ldtr.selector, ==, S_LDT);
	g_assert_cmphex(cpu->ldtr.base, ==, LDT_AT);
	g_assert_cmphex(cpu->ldtr.limit, ==, 0x1f);
	g_assert_cmpuint(cpu->ldtr.unusable, ==, 0);
	g_assert_cmphex(cpu->gpr[GH_RDX], ==, S_LDT);
	g_assert_cmphex(cpu->gpr[GH_RBX], ==, 0xffff0000 | S_TSS32);
	/* LLDT of a null selector: unusable, no fault */
	state32(e, 0);
	e->s.gpr[GH_RAX] = 3;
	LOAD(e, 0x0f, 0x00, 0xd0);
	expect_done(e, CODE + 3);
	g_assert_cmpuint(cpu->ldtr.unusable, ==, 1);
	/* not an LDT, TI set, not present, past the limit */
	state32(e, 0);
	e->s.gpr[GH_RAX] = S_DATA;
	LOAD(e, 0x0f, 0x00, 0xd0);
	expect_fault(e, 13, S_DATA, CODE);
	state32(e, 0);
	e->s.gpr[GH_RAX] = S_LDT | 4;
	LOAD(e, 0x0f, 0x00, 0xd0);
	expect_fault(e, 13, S_LDT | 4, CODE);
	ct_gdt_set(e->ram, S_EMPTY, ct_seg_desc(LDT_AT, 0x1f, 0x02, 0));
	state32(e, 0);
	e->s.gpr[GH_RAX] = S_EMPTY;
	LOAD(e, 0x0f, 0x00, 0xd0);
	expect_fault(e, 11, S_EMPTY, CODE);
	ct_gdt_set(e->ram, S_EMPTY, 0);
	state32(e, 0);
	e->s.gpr[GH_RAX] = 0x100;
	LOAD(e, 0x0f, 0x00, 0xd0);
	expect_fault(e, 13, 0x100, CODE);
	/* CPL 3: #GP(0); real mode: #UD */
	state32(e, 3);
	e->s.gpr[GH_RAX] = S_LDT;
	LOAD(e, 0x0f, 0x00, 0xd0);
	expect_fault(e, 13, 0, CODE);
	state_real(e);
	LOAD(e, 0x0f, 0x00, 0xd0);
	expect_fault(e, 6, 0, 0);
	state_real(e);
	LOAD(e, 0x0f, 0x00, 0xc8);
	expect_fault(e, 6, 0, 0);

	/* LTR: marks the TSS busy in the GDT and in TR */
	state32(e, 0);
	e->s.gpr[GH_RAX] = S_TSS32;
	LOAD(e, 0x0f, 0x00, 0xd8);
	expect_done(e, CODE + 3);
	g_assert_cmphex(cpu->tr.selector, ==, S_TSS32);
	g_assert_cmpuint(cpu->tr.type, ==, 0xb);
	g_assert_cmphex(cpu->tr.base, ==, TSS32);
	g_assert_cmphex((ct_gdt_get(e->ram, S_TSS32) >> 40) & 0xff, ==, 0x8b);
	/* now busy: #GP(sel); a null selector #GP(0); not a TSS; not present */
	state32(e, 0);
	e->s.gpr[GH_RAX] = S_TSS32;
	LOAD(e, 0x0f, 0x00, 0xd8);
	expect_fault(e, 13, S_TSS32, CODE);
	state32(e, 0);
	e->s.gpr[GH_RAX] = 0;
	LOAD(e, 0x0f, 0x00, 0xd8);
	expect_fault(e, 13, 0, CODE);
	state32(e, 0);
	e->s.gpr[GH_RAX] = S_LDT;
	LOAD(e, 0x0f, 0x00, 0xd8);
	expect_fault(e, 13, S_LDT, CODE);
	state32(e, 0);
	e->s.gpr[GH_RAX] = S_TSS_NP;
	LOAD(e, 0x0f, 0x00, 0xd8);
	expect_fault(e, 11, S_TSS_NP, CODE);
	/* a 16-bit TSS loads in legacy mode */
	state32(e, 0);
	e->s.gpr[GH_RAX] = S_TSS16;
	LOAD(e, 0x0f, 0x00, 0xd8);
	expect_done(e, CODE + 3);
	g_assert_cmpuint(cpu->tr.type, ==, 3);

	/* long mode: 16-byte descriptors; a 16-bit TSS is refused */
	state64(e, 0);
	ct_gdt_set(e->ram, S_TSS64, ct_seg_desc(0x3100, 0x67, 0x89, 0));
	ct_put64(e->ram, GDT + S_TSS64 + 8, 0x8000);	/* base 0x0000800000003100 */
	e->s.gpr[GH_RAX] = S_TSS64;
	LOAD(e, 0x0f, 0x00, 0xd8);
	expect_fault(e, 13, S_TSS64, CODE);	/* non-canonical base */
	g_assert_cmphex((ct_gdt_get(e->ram, S_TSS64) >> 40) & 0xff, ==, 0x89);
	ct_put64(e->ram, GDT + S_TSS64 + 8, 0xffffffff);
	ct_gdt_set(e->ram, S_TSS64, ct_seg_desc(0x80003100, 0x67, 0x89, 0));
	state64(e, 0);
	e->s.gpr[GH_RAX] = S_TSS64;
	LOAD(e, 0x0f, 0x00, 0xd8);
	expect_done(e, CODE + 3);
	g_assert_cmphex(cpu->tr.base, ==, 0xffffffff80003100ULL);
	g_assert_cmpuint(cpu->tr.type, ==, 0xb);
	ct_put64(e->ram, GDT + S_TSS64 + 8, 0);
	ct_gdt_set(e->ram, S_TSS64, ct_seg_desc(TSS64, 0x67, 0x89, 0));
	/* upper type field must be zero */
	ct_put64(e->ram, GDT + S_TSS64 + 8, 1ULL << 40);
	state64(e, 0);
	e->s.gpr[GH_RAX] = S_TSS64;
	LOAD(e, 0x0f, 0x00, 0xd8);
	expect_fault(e, 13, S_TSS64, CODE);
	ct_put64(e->ram, GDT + S_TSS64 + 8, 0);
	/* an available 16-bit TSS (with a clean upper half) is no TSS here */
	ct_gdt_set(e->ram, S_EMPTY, ct_seg_desc(TSS32, 0x2b, 0x81, 0));
	state64(e, 0);
	e->s.gpr[GH_RAX] = S_EMPTY;
	LOAD(e, 0x0f, 0x00, 0xd8);
	expect_fault(e, 13, S_EMPTY, CODE);
	ct_gdt_set(e->ram, S_EMPTY, 0);
	/* a 16-byte descriptor must fit under the limit */
	state64(e, 0);
	e->s.gdt.limit = S_LDT64 + 8;
	e->s.gpr[GH_RAX] = S_LDT64;
	LOAD(e, 0x0f, 0x00, 0xd0);
	expect_fault(e, 13, S_LDT64, CODE);
	state64(e, 0);
	e->s.gpr[GH_RAX] = S_LDT64;
	LOAD(e, 0x0f, 0x00, 0xd0);
	expect_done(e, CODE + 3);
	g_assert_cmphex(cpu->ldtr.base, ==, LDT_AT);
	env_free(e);
}

/* ---- LAR, LSL, VERR, VERW, ARPL ---- */

/* Runs "op eax, ecx" (LAR 02 / LSL 03) on sel; returns ZF, *out = RAX. */
static bool lar_lsl(struct env *e, unsigned cpl, bool lm, uint8_t opc, uint16_t sel,
		    uint64_t *out)
{
	if (lm)
		state64(e, cpl);
	else
		state32(e, cpl);
	e->s.gpr[GH_RAX] = 0xdeadbeefdeadbeefULL;
	e->s.gpr[GH_RCX] = sel;
	{
		uint8_t c[5] = {0x0f, opc, 0xc1, 0xcd, 0x80};

		load(e, c, sizeof(c));
	}
	expect_fault(e, 0x80, 0, CODE + 5);
	*out = e->cpu->gpr[GH_RAX];
	return rflags(e) & GH_FL_ZF;
}

static void test_lar_lsl(void)
{
	struct env *e = env_new();
	uint64_t v;

	g_assert_true(lar_lsl(e, 0, false, 0x02, S_DATA, &v));
	g_assert_cmphex(v, ==, 0x00cf9300);
	g_assert_true(lar_lsl(e, 0, true, 0x02, S_CODE64, &v));
	g_assert_cmphex(v, ==, 0x00af9b00);
	g_assert_true(lar_lsl(e, 0, false, 0x02, S_TSS32_BUSY, &v));
	g_assert_cmphex(v, ==, 0x00008b00);
	g_assert_true(lar_lsl(e, 0, false, 0x02, S_CGATE, &v)); /* gates: LAR yes */
	g_assert_false(lar_lsl(e, 0, false, 0x03, S_CGATE, &v)); /* LSL no */
	g_assert_cmphex(v, ==, 0xdeadbeefdeadbeefULL);
	g_assert_true(lar_lsl(e, 0, false, 0x02, S_TSS16, &v));
	/* long mode: a 16-bit TSS and a 32-bit call gate's type mean nothing... */
	g_assert_false(lar_lsl(e, 0, true, 0x02, S_TSS16, &v));
	/* ...but 0xc is the 64-bit call gate, 9 the 64-bit TSS */
	g_assert_true(lar_lsl(e, 0, true, 0x02, S_CGATE, &v));
	g_assert_true(lar_lsl(e, 0, true, 0x03, S_TSS64, &v));
	g_assert_cmphex(v, ==, 0x67);
	/* LSL: the limit scaled by G, zero-extended into RAX */
	g_assert_true(lar_lsl(e, 0, true, 0x03, S_DATA, &v));
	g_assert_cmphex(v, ==, 0xffffffff);
	g_assert_true(lar_lsl(e, 3, false, 0x03, S_DATA_RO | 3, &v));
	g_assert_cmphex(v, ==, 0xffff);
	/* null, past the limit, empty slot */
	g_assert_false(lar_lsl(e, 0, false, 0x02, 0, &v));
	g_assert_false(lar_lsl(e, 0, false, 0x02, GDT_LIMIT + 1, &v));
	g_assert_false(lar_lsl(e, 0, false, 0x03, S_EMPTY, &v));
	g_assert_cmphex(v, ==, 0xdeadbeefdeadbeefULL);
	/* privilege: RPL 3 or CPL 3 against DPL 0; conforming code passes */
	g_assert_false(lar_lsl(e, 0, false, 0x02, S_DATA | 3, &v));
	g_assert_false(lar_lsl(e, 3, false, 0x02, S_DATA, &v));
	g_assert_true(lar_lsl(e, 3, false, 0x02, S_DATA_3, &v));
	g_assert_true(lar_lsl(e, 3, false, 0x02, S_CONF | 3, &v));
	g_assert_false(lar_lsl(e, 3, false, 0x02, S_TSS32_BUSY, &v));
	/* through the LDT */
	state32(e, 0);
	e->s.gpr[GH_RCX] = 0x0f;
	e->s.gpr[GH_RAX] = S_LDT;
	/* lldt ax; lar ax, cx (o16) */
	LOAD(e, 0x0f, 0x00, 0xd0, 0x66, 0x0f, 0x02, 0xc1);
	expect_done(e, CODE + 7);
	g_assert_cmphex(e->cpu->gpr[GH_RAX], ==, 0xf300);
	g_assert_true(rflags(e) & GH_FL_ZF);

	/* 16-bit operand size: only AX changes (FF00 mask) */
	state32(e, 0);
	e->s.gpr[GH_RAX] = 0x12345678;
	e->s.gpr[GH_RCX] = S_DATA;
	LOAD(e, 0x66, 0x0f, 0x02, 0xc1);
	expect_done(e, CODE + 4);
	g_assert_cmphex(e->cpu->gpr[GH_RAX], ==, 0x12349300);
	/* real mode: #UD */
	state_real(e);
	LOAD(e, 0x0f, 0x02, 0xc1);
	expect_fault(e, 6, 0, 0);
	env_free(e);
}

static bool verx(struct env *e, unsigned cpl, bool write, uint16_t sel)
{
	state32(e, cpl);
	e->s.gpr[GH_RAX] = sel;
	{
		uint8_t c[5] = {0x0f, 0x00, write ? 0xe8 : 0xe0, 0xcd, 0x80};

		load(e, c, sizeof(c));
	}
	expect_fault(e, 0x80, 0, CODE + 5);
	return rflags(e) & GH_FL_ZF;
}

static void test_verr_verw_arpl(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	g_assert_true(verx(e, 0, false, S_CODE32));
	g_assert_false(verx(e, 0, true, S_CODE32));
	g_assert_true(verx(e, 0, false, S_DATA));
	g_assert_true(verx(e, 0, true, S_DATA));
	g_assert_false(verx(e, 0, false, S_XONLY));
	g_assert_false(verx(e, 0, false, 0));
	g_assert_false(verx(e, 0, true, 0));
	g_assert_false(verx(e, 0, false, S_TSS32));
	g_assert_false(verx(e, 0, false, GDT_LIMIT + 1));
	g_assert_true(verx(e, 3, true, S_DATA_3));
	g_assert_false(verx(e, 3, false, S_DATA));
	g_assert_true(verx(e, 3, false, S_CONF));
	g_assert_false(verx(e, 3, true, S_DATA_RO | 3)); /* read-only */
	g_assert_true(verx(e, 3, false, S_DATA_RO | 3));
	g_assert_true(verx(e, 0, false, S_DATA_NP));	 /* P is not checked */
	/* the other flags stay */
	state32(e, 0);
	e->s.rflags = 0x2 | GH_FL_CF | GH_FL_SF;
	e->s.gpr[GH_RAX] = S_DATA;
	LOAD(e, 0x0f, 0x00, 0xe0);
	expect_done(e, CODE + 3);
	g_assert_cmphex(rflags(e) & 0xfff, ==, 0x2 | GH_FL_CF | GH_FL_SF | GH_FL_ZF);

	/* ARPL: raises RPL, ZF says whether it did */
	state32(e, 3);
	e->s.gpr[GH_RAX] = 0xffff0010;
	e->s.gpr[GH_RCX] = 0x0003;
	LOAD(e, 0x63, 0xc8, 0xcd, 0x80);
	expect_fault(e, 0x80, 0, CODE + 4);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0xffff0013);
	g_assert_true(rflags(e) & GH_FL_ZF);
	state32(e, 3);
	e->s.gpr[GH_RBX] = DATA;
	e->s.gpr[GH_RCX] = 0x0001;
	ct_put16(e->ram, DATA, 0x0012);
	LOAD(e, 0x63, 0x0b, 0xcd, 0x80);
	expect_fault(e, 0x80, 0, CODE + 4);
	g_assert_cmphex(ct_get16(e->ram, DATA), ==, 0x0012);
	g_assert_false(rflags(e) & GH_FL_ZF);
	state_real(e);
	LOAD(e, 0x63, 0xc8);
	expect_fault(e, 6, 0, 0);
	/* in 64-bit mode 63 is MOVSXD, not ours */
	env_free(e);
}

/* ---- SYSCALL/SYSRET, SYSENTER/SYSEXIT, SWAPGS ---- */

static void test_syscall(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	struct gh_cpu_state st;

	/* CPL 3 -> SYSCALL -> handler (SYSRETQ) -> CPL 3 */
	state64(e, 3);
	e->s.efer |= GH_EFER_SCE;
	e->s.rflags = 0x2 | GH_FL_IF | GH_FL_DF | GH_FL_CF;
	e->s.gpr[GH_RSP] = STACK3;
	memcpy(e->ram + CODE, (const uint8_t[]){0x0f, 0x05, 0xcd, 0x80}, 4);
	/* the handler: HLT first (to look), then SYSRETQ */
	memcpy(e->ram + CODE + 0x100, (const uint8_t[]){0xf4, 0x48, 0x0f, 0x07}, 4);
	apply(e);
	cpu->msr_star = (0x18ULL << 48) | ((uint64_t)S_CODE64 << 32);
	cpu->msr_lstar = CODE + 0x100;
	cpu->msr_sfmask = GH_FL_IF | GH_FL_DF | GH_FL_TF | GH_FL_AC;
	expect_done(e, CODE + 0x100);
	gh_cpu_get_state(cpu, &st);
	g_assert_cmphex(st.gpr[GH_RCX], ==, CODE + 2);
	g_assert_cmphex(st.gpr[GH_R11], ==, 0x2 | GH_FL_IF | GH_FL_DF | GH_FL_CF);
	g_assert_cmphex(st.rflags, ==, 0x2 | GH_FL_CF);
	g_assert_cmphex(st.seg[GH_CS].selector, ==, S_CODE64);
	g_assert_cmphex(st.seg[GH_SS].selector, ==, S_CODE64 + 8);
	g_assert_cmpuint(st.seg[GH_CS].l, ==, 1);
	g_assert_cmpuint(st.seg[GH_SS].dpl, ==, 0);
	g_assert_cmpuint(cpu->cpl, ==, 0);
	g_assert_cmphex(st.gpr[GH_RSP], ==, STACK3);
	/* SYSRETQ */
	cpu->halted = false;
	expect_fault(e, 0x80, 0, CODE + 4);
	/* the 0x80 frame holds the user context: CS and SS with RPL 3,
	 * RFLAGS from R11, the stack kept */
	g_assert_cmphex(ct_get64(e->ram, cpu->gpr[GH_RSP] + 32), ==, 0x23);
	g_assert_cmphex(ct_get64(e->ram, cpu->gpr[GH_RSP] + 8), ==, 0x2b);
	g_assert_cmphex(ct_get64(e->ram, cpu->gpr[GH_RSP] + 16), ==,
			0x2 | GH_FL_IF | GH_FL_DF | GH_FL_CF);
	g_assert_cmphex(ct_get64(e->ram, cpu->gpr[GH_RSP] + 24), ==, STACK3);

	/* SYSRET to compatibility mode: CS = STAR[63:48], EIP = ECX */
	state64(e, 0);
	e->s.efer |= GH_EFER_SCE;
	e->s.gpr[GH_RCX] = 0xffffffff00000000ULL | (CODE + 0x200);
	e->s.gpr[GH_R11] = 0x2 | GH_FL_VM | GH_FL_RF | GH_FL_ZF;
	memcpy(e->ram + CODE + 0x200, (const uint8_t[]){0xcd, 0x80}, 2);
	LOAD(e, 0x0f, 0x07);
	cpu->msr_star = 0x18ULL << 48;
	expect_fault(e, 0x80, 0, CODE + 0x202);
	/* the frame of INT 0x80 from compatibility mode: CS, RFLAGS from R11 */
	g_assert_cmphex(ct_get64(e->ram, cpu->gpr[GH_RSP] + 8), ==, 0x1b);
	g_assert_cmphex(ct_get64(e->ram, cpu->gpr[GH_RSP] + 16), ==, 0x2 | GH_FL_ZF);
	env_free(e);
}

static void test_syscall_faults(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	/* SCE clear: #UD */
	state64(e, 3);
	LOAD(e, 0x0f, 0x05);
	expect_fault(e, 6, 0, CODE);
	/* outside 64-bit mode: #UD (Intel) */
	state32(e, 0);
	e->s.efer = GH_EFER_SCE;
	LOAD(e, 0x0f, 0x05);
	expect_fault(e, 6, 0, CODE);
	/* SYSRET at CPL 3: #GP(0) */
	state64(e, 3);
	e->s.efer |= GH_EFER_SCE;
	LOAD(e, 0x48, 0x0f, 0x07);
	expect_fault(e, 13, 0, CODE);
	/* SYSRETQ to a non-canonical RCX: #GP(0) taken at CPL 0 */
	state64(e, 0);
	e->s.efer |= GH_EFER_SCE;
	e->s.gpr[GH_RCX] = 0x0000800000000000ULL;
	LOAD(e, 0x48, 0x0f, 0x07);
	cpu->msr_star = 0x18ULL << 48;
	expect_fault(e, 13, 0, CODE);
	g_assert_cmpuint(ct_get64(e->ram, cpu->gpr[GH_RSP] + 16), ==, S_CODE64);
	/* SWAPGS: exchanges, #GP at CPL 3, #UD outside 64-bit mode */
	state64(e, 0);
	LOAD(e, 0x0f, 0x01, 0xf8);
	cpu->seg[GH_GS].base = 0x1111;
	cpu->msr_kernel_gs_base = 0x2222;
	expect_done(e, CODE + 3);
	g_assert_cmphex(cpu->seg[GH_GS].base, ==, 0x2222);
	g_assert_cmphex(cpu->msr_kernel_gs_base, ==, 0x1111);
	state64(e, 3);
	LOAD(e, 0x0f, 0x01, 0xf8);
	expect_fault(e, 13, 0, CODE);
	state32(e, 0);
	LOAD(e, 0x0f, 0x01, 0xf8);
	expect_fault(e, 6, 0, CODE);
	env_free(e);
}

static void test_sysenter(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	struct gh_cpu_state st;

	/* 32-bit round trip from CPL 3 */
	state32(e, 3);
	e->s.rflags = 0x2 | GH_FL_IF;
	e->s.gpr[GH_RCX] = STACK3 - 0x10;
	e->s.gpr[GH_RDX] = CODE + 0x10;
	memcpy(e->ram + CODE, (const uint8_t[]){0x0f, 0x34}, 2);
	memcpy(e->ram + CODE + 0x10, (const uint8_t[]){0xcd, 0x80}, 2);
	memcpy(e->ram + CODE + 0x100, (const uint8_t[]){0xf4, 0x0f, 0x35}, 3);
	apply(e);
	cpu->msr_sysenter_cs = S_CODE32;
	cpu->msr_sysenter_esp = 0xffffffff00007000ULL;
	cpu->msr_sysenter_eip = 0xffffffff00000000ULL | (CODE + 0x100);
	expect_done(e, CODE + 0x100);
	gh_cpu_get_state(cpu, &st);
	g_assert_cmphex(st.seg[GH_CS].selector, ==, S_CODE32);
	g_assert_cmphex(st.seg[GH_SS].selector, ==, S_DATA);
	g_assert_cmpuint(st.seg[GH_CS].db, ==, 1);
	g_assert_cmpuint(cpu->cpl, ==, 0);
	g_assert_cmphex(st.gpr[GH_RSP], ==, 0x7000);
	g_assert_cmphex(st.rflags & GH_FL_IF, ==, 0);
	cpu->halted = false;
	expect_fault(e, 0x80, 0, CODE + 0x12);
	gh_cpu_get_state(cpu, &st);
	g_assert_cmphex(ct_get32(e->ram, cpu->gpr[GH_RSP] + 4), ==, S_CODE32_3);
	g_assert_cmphex(ct_get32(e->ram, cpu->gpr[GH_RSP] + 12), ==, STACK3 - 0x10);
	g_assert_cmphex(ct_get32(e->ram, cpu->gpr[GH_RSP] + 16), ==, S_DATA_3);

	/* 64-bit: SYSENTER into 64-bit code, SYSEXIT with REX.W back */
	state64(e, 3);
	e->s.gpr[GH_RCX] = STACK3;
	e->s.gpr[GH_RDX] = CODE + 0x10;
	memcpy(e->ram + CODE, (const uint8_t[]){0x0f, 0x34}, 2);
	memcpy(e->ram + CODE + 0x10, (const uint8_t[]){0xcd, 0x80}, 2);
	memcpy(e->ram + CODE + 0x100, (const uint8_t[]){0xf4, 0x48, 0x0f, 0x35}, 4);
	apply(e);
	cpu->msr_sysenter_cs = S_CODE32;
	cpu->msr_sysenter_esp = 0xffff800000007000ULL;
	cpu->msr_sysenter_eip = CODE + 0x100;
	expect_done(e, CODE + 0x100);
	g_assert_cmpint(cpu->mode, ==, GH_MODE_LONG);
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0xffff800000007000ULL);
	cpu->gpr[GH_RSP] = STACK0;
	cpu->halted = false;
	expect_fault(e, 0x80, 0, CODE + 0x12);
	g_assert_cmphex(ct_get64(e->ram, cpu->gpr[GH_RSP] + 8), ==, (S_CODE32 + 32) | 3);
	g_assert_cmphex(ct_get64(e->ram, cpu->gpr[GH_RSP] + 32), ==, (S_CODE32 + 40) | 3);

	/* faults: SYSENTER_CS = 0; real mode; SYSEXIT at CPL 3; non-canonical RDX */
	state32(e, 3);
	LOAD(e, 0x0f, 0x34);
	cpu->msr_sysenter_cs = 3;
	expect_fault(e, 13, 0, CODE);
	state_real(e);
	LOAD(e, 0x0f, 0x34);
	cpu->msr_sysenter_cs = S_CODE32;
	expect_fault(e, 13, 0, 0);
	state32(e, 3);
	LOAD(e, 0x0f, 0x35);
	cpu->msr_sysenter_cs = S_CODE32;
	expect_fault(e, 13, 0, CODE);
	state64(e, 0);
	e->s.gpr[GH_RDX] = 0x0000800000000000ULL;
	LOAD(e, 0x48, 0x0f, 0x35);
	cpu->msr_sysenter_cs = S_CODE32;
	expect_fault(e, 13, 0, CODE);
	g_assert_cmpuint(cpu->cpl, ==, 0);
	env_free(e);
}

/* ---- HLT, CLI, STI ---- */

static void test_cli_sti(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	/* HLT: halted with RIP past it; CPL 3: #GP */
	state32(e, 0);
	LOAD(e, 0xf3, 0x90);
	expect_done(e, CODE + 2);
	g_assert_true(cpu->halted);
	state32(e, 3);
	LOAD(e, 0xf4);
	expect_fault(e, 13, 0, CODE);

	/* STI: the interrupt waits one instruction (PAUSE here) */
	state32(e, 0);
	LOAD(e, 0xfb, 0xf3, 0x90, 0xf3, 0x90);
	e->intr = true;
	gh_cpu_intr_changed(cpu);
	expect_fault(e, 0x40, 0, CODE + 3);
	/* with IF already set there is no shadow */
	state32(e, 0);
	e->s.rflags |= GH_FL_IF;
	LOAD(e, 0xfb);
	g_assert_cmpint(gh_cpu_run(cpu, 1), ==, GH_CPU_BUDGET);
	g_assert_false(cpu->interrupt_shadow);
	state32(e, 0);
	LOAD(e, 0xfb);
	g_assert_cmpint(gh_cpu_run(cpu, 1), ==, GH_CPU_BUDGET);
	g_assert_true(cpu->interrupt_shadow);
	g_assert_true(rflags(e) & GH_FL_IF);

	/* CLI at CPL 3: IOPL 3 allows it, IOPL 0 is #GP */
	state32(e, 3);
	e->s.rflags = 0x2 | GH_FL_IF | GH_FL_IOPL;
	LOAD(e, 0xfa, 0xcd, 0x80);
	expect_fault(e, 0x80, 0, CODE + 3);
	g_assert_cmphex(ct_get32(e->ram, cpu->gpr[GH_RSP] + 8) & GH_FL_IF, ==, 0);
	state32(e, 3);
	e->s.rflags = 0x2 | GH_FL_IF;
	LOAD(e, 0xfa);
	expect_fault(e, 13, 0, CODE);
	state32(e, 3);
	e->s.rflags = 0x2 | (1u << GH_FL_IOPL_SHIFT);
	LOAD(e, 0xfb);
	expect_fault(e, 13, 0, CODE);
	/* real mode ignores IOPL */
	state_real(e);
	e->s.rflags = 0x2 | GH_FL_IF;
	LOAD(e, 0xfa);
	expect_done(e, CODE + 1);
	g_assert_false(rflags(e) & GH_FL_IF);

	/* V86 mode: IOPL 3 allows CLI, IOPL < 3 is #GP(0) without VME */
	state32(e, 0);
	e->s.rflags = 0x2 | GH_FL_VM | GH_FL_IF;
	for (unsigned k = 0; k < GH_NR_SEGS; k++) {
		e->s.seg[k].selector = CODE >> 4;
		e->s.seg[k].base = CODE;
		e->s.seg[k].limit = 0xffff;
		e->s.seg[k].dpl = 3;
		e->s.seg[k].db = 0;
		e->s.seg[k].g = 0;
	}
	ct_real_seg(&e->s, GH_SS, 0);
	e->s.rip = 0;
	e->s.gpr[GH_RSP] = STACK3;
	LOAD(e, 0xfa);
	expect_fault(e, 13, 0, 0);
	env_free(e);
}

/* ---- caches, fences, INVLPG ---- */

static void test_misc(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	/* fences, PAUSE, CLFLUSH, WBINVD, INVD at CPL 0 */
	state64(e, 0);
	e->s.gpr[GH_RAX] = DATA;
	LOAD(e, 0x0f, 0xae, 0xe8, 0x0f, 0xae, 0xf0, 0x0f, 0xae, 0xf8, 0xf3, 0x90, 0x0f, 0xae,
	     0x38, 0x0f, 0x09, 0x0f, 0x08, 0xf3, 0x0f, 0x09);
	expect_done(e, CODE + 21);
	/* WBINVD/INVD at CPL 3 */
	state64(e, 3);
	LOAD(e, 0x0f, 0x09);
	expect_fault(e, 13, 0, CODE);
	state64(e, 3);
	LOAD(e, 0x0f, 0x08);
	expect_fault(e, 13, 0, CODE);
	/* CLFLUSH faults as a read: unmapped page -> #PF, non-canonical -> #GP */
	state64(e, 3);
	e->s.gpr[GH_RAX] = 0x400000;
	LOAD(e, 0x0f, 0xae, 0x38);
	expect_fault(e, 14, GH_PFEC_U, CODE);
	g_assert_cmphex(cpu->cr2, ==, 0x400000);
	state64(e, 3);
	e->s.gpr[GH_RAX] = 0x0000800000000000ULL;
	LOAD(e, 0x0f, 0xae, 0x38);
	expect_fault(e, 13, 0, CODE);
	/* CLFLUSH of a read-only (user) page at CPL 3 is fine */
	state64(e, 3);
	ct_put64(e->ram, PML4 + 0x2008, (2u << 20) | 0x85);
	e->s.gpr[GH_RAX] = 0x200000;
	LOAD(e, 0x0f, 0xae, 0x38, 0xcd, 0x80);
	expect_fault(e, 0x80, 0, CODE + 5);
	ct_put64(e->ram, PML4 + 0x2008, (2u << 20) | 0x87);
	/* 32-bit: beyond a segment limit */
	state32(e, 0);
	ct_seg_from_gdt16(e->ram, S_DATA_RO, &e->s.seg[GH_DS]);
	e->s.gpr[GH_RAX] = 0x10000;
	LOAD(e, 0x0f, 0xae, 0x38);
	expect_fault(e, 13, 0, CODE);

	/* INVLPG: a changed PTE is seen after it, not before */
	state64(e, 0);
	ct_put64(e->ram, DATA, 0x1111);
	ct_put64(e->ram, (2u << 20) + DATA, 0x2222);
	e->s.gpr[GH_RBX] = (2u << 20) + DATA;
	/* mov rax,[rbx]; hlt; (later) invlpg [rbx]; mov rdx,[rbx] */
	LOAD(e, 0x48, 0x8b, 0x03, 0xf4, 0x48, 0x8b, 0x0b, 0x0f, 0x01, 0x3b, 0x48, 0x8b, 0x13);
	expect_done(e, CODE + 3);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0x2222);
	ct_put64(e->ram, PML4 + 0x2008, 0x87); /* 2-4 MiB now maps 0-2 MiB */
	cpu->halted = false;
	expect_done(e, CODE + 13);
	g_assert_cmphex(cpu->gpr[GH_RCX], ==, 0x2222); /* stale: the TLB may keep it */
	g_assert_cmphex(cpu->gpr[GH_RDX], ==, 0x1111);
	state64(e, 3);
	LOAD(e, 0x0f, 0x01, 0x38);
	expect_fault(e, 13, 0, CODE);

	/* UD0, UD1, UD2, RDRAND, RDSEED, CLAC, and an SSE op with CR4.OSFXSR
	 * clear: #UD */
	{
		static const uint8_t uds[][4] = {
		    {0x0f, 0xff, 0xc0}, {0x0f, 0xb9, 0xc0}, {0x0f, 0x0b}, {0x0f, 0xc7, 0xf0},
		    {0x0f, 0xc7, 0xf8}, {0x0f, 0x01, 0xca}, {0x0f, 0x28, 0xc1},
		};

		for (unsigned k = 0; k < G_N_ELEMENTS(uds); k++) {
			state64(e, 0);
			load(e, uds[k], 4);
			expect_fault(e, 6, 0, CODE);
		}
	}
	env_free(e);
}

/* ---- the x87 escapes and CR0.EM/TS/MP (exec-x87.c has the rest) ---- */

static void test_x87(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	/* EM=TS=0: the FNINIT/FNSTSW/FNSTCW probe finds an FPU */
	state32(e, 0);
	ct_put16(e->ram, DATA, 0x5a5a);
	ct_put16(e->ram, DATA + 2, 0x5a5a);
	e->s.gpr[GH_RAX] = DATA;
	/* fninit; fnstsw [eax]; fnstcw [eax+2]; fld1; fwait */
	LOAD(e, 0xdb, 0xe3, 0xdd, 0x38, 0xd9, 0x78, 0x02, 0xd9, 0xe8, 0x9b);
	expect_done(e, CODE + 10);
	g_assert_cmphex(ct_get16(e->ram, DATA), ==, 0);
	g_assert_cmphex(ct_get16(e->ram, DATA + 2), ==, 0x037f);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, DATA);
	/* EM: #NM for an escape, not for WAIT */
	state32(e, 0);
	e->s.cr0 |= GH_CR0_EM;
	LOAD(e, 0x9b, 0xd9, 0xe8);
	expect_fault(e, 7, 0, CODE + 1);
	/* TS: #NM for an escape; WAIT only with MP */
	state64(e, 0);
	e->s.cr0 |= GH_CR0_TS;
	LOAD(e, 0x9b, 0xdf, 0xe0);
	expect_fault(e, 7, 0, CODE + 1);
	state64(e, 0);
	e->s.cr0 |= GH_CR0_TS | GH_CR0_MP;
	LOAD(e, 0x9b);
	expect_fault(e, 7, 0, CODE);
	/* a memory escape with EM faults before touching memory */
	state32(e, 0);
	e->s.cr0 |= GH_CR0_EM;
	e->s.gpr[GH_RAX] = 0x7ffffff0;
	LOAD(e, 0xdd, 0x38);
	expect_fault(e, 7, 0, CODE);
	env_free(e);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cpu-exec-sys/cpuid", test_cpuid);
	g_test_add_func("/cpu-exec-sys/cpuid-implemented", test_cpuid_implemented);
	g_test_add_func("/cpu-exec-sys/fpu-classes", test_fpu_classes);
	g_test_add_func("/cpu-exec-sys/tsc", test_tsc);
	g_test_add_func("/cpu-exec-sys/msr", test_msr);
	g_test_add_func("/cpu-exec-sys/apic-hooks", test_apic_hooks);
	g_test_add_func("/cpu-exec-sys/efer", test_efer);
	g_test_add_func("/cpu-exec-sys/cr", test_cr_basic);
	g_test_add_func("/cpu-exec-sys/cr3-flush", test_cr3_flush);
	g_test_add_func("/cpu-exec-sys/pae-pdptes", test_pae_pdptes);
	g_test_add_func("/cpu-exec-sys/enter-long-mode", test_enter_long_mode);
	g_test_add_func("/cpu-exec-sys/lmsw-smsw-clts", test_lmsw_smsw_clts);
	g_test_add_func("/cpu-exec-sys/dr", test_dr);
	g_test_add_func("/cpu-exec-sys/dtables", test_dtables);
	g_test_add_func("/cpu-exec-sys/ldt-tr", test_ldt_tr);
	g_test_add_func("/cpu-exec-sys/lar-lsl", test_lar_lsl);
	g_test_add_func("/cpu-exec-sys/verr-verw-arpl", test_verr_verw_arpl);
	g_test_add_func("/cpu-exec-sys/syscall", test_syscall);
	g_test_add_func("/cpu-exec-sys/syscall-faults", test_syscall_faults);
	g_test_add_func("/cpu-exec-sys/sysenter", test_sysenter);
	g_test_add_func("/cpu-exec-sys/cli-sti", test_cli_sti);
	g_test_add_func("/cpu-exec-sys/misc", test_misc);
	g_test_add_func("/cpu-exec-sys/x87", test_x87);
	return g_test_run();
}
