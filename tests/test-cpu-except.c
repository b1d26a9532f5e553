/*
 * Tests for the software CPU's state, segmentation, exception/interrupt
 * delivery, IRET, far transfers and task switches (vmm-core/cpu/), with the
 * GDT, IDT, TSS and IVT built in a fake RAM and every pushed frame checked
 * byte for byte against the Intel SDM vol. 3A, chapters 5-7.
 */
#include "cpu/cpu-internal.h"
#include "cpu/mmu.h"
#include "cputest.h"

#include <errno.h>
#include <glib.h>
#include <setjmp.h>
#include <string.h>

#define RAM_SIZE (2u << 20)

#define GDT_BASE CT_GDT_BASE
#define IDT_BASE CT_IDT_BASE
#define TSS1 0x3000
#define TSS2 0x3100
#define TSS16 0x3200
#define TSS3 0x3300

/* GDT selectors */
#define S_CODE0 0x08
#define S_DATA0 0x10
#define S_CODE3 0x1b
#define S_DATA3 0x23
#define S_TSS1 0x28
#define S_CODE16 0x30
#define S_DATA16 0x38
#define S_TSS2 0x40
#define S_CGATE 0x48
#define S_CODE64 0x50
#define S_CONF0 0x58
#define S_DATANP 0x60
#define S_TSS16 0x68
#define S_TSS3 0x70
#define S_XONLY 0x78
#define S_CODENP 0x90
#define S_FRESH 0x98 /* data, accessed bit clear */
#define S_TSS64 0x80 /* 16 bytes: 0x80 and 0x88 */
#define S_CODE64_3 0xa3
#define S_CGATE64 0xb0 /* 16 bytes: 0xb0 and 0xb8 */
#define TSS_LONG 0x3400
#define PML4 0x10000

struct env {
	uint8_t *ram;
	struct gh_cpu *cpu;
	struct gh_cpu_state s;
};

static uint8_t *fake_page(void *opaque, uint64_t gpa, bool *writable)
{
	struct env *e = opaque;

	*writable = true;
	return ct_ram_page(e->ram, RAM_SIZE, gpa);
}

static uint8_t gdt_access(struct env *e, uint16_t sel)
{
	return e->ram[GDT_BASE + (sel & ~7u) + 5];
}

static void idt_set(struct env *e, unsigned vec, uint64_t d)
{
	ct_put64(e->ram, IDT_BASE + vec * 8, d);
}

static void build_tables(struct env *e)
{
	memset(e->ram, 0, RAM_SIZE);
	ct_gdt_set(e->ram, S_CODE0, ct_seg_desc(0, 0xfffff, 0x9b, 0xc));
	ct_gdt_set(e->ram, S_DATA0, ct_seg_desc(0, 0xfffff, 0x93, 0xc));
	ct_gdt_set(e->ram, S_CODE3, ct_seg_desc(0, 0xfffff, 0xfb, 0xc));
	ct_gdt_set(e->ram, S_DATA3, ct_seg_desc(0, 0xfffff, 0xf3, 0xc));
	ct_gdt_set(e->ram, S_TSS1, ct_seg_desc(TSS1, 0x67, 0x8b, 0));
	ct_gdt_set(e->ram, S_CODE16, ct_seg_desc(0, 0xffff, 0x9b, 0));
	ct_gdt_set(e->ram, S_DATA16, ct_seg_desc(0, 0xffff, 0x93, 0));
	ct_gdt_set(e->ram, S_TSS2, ct_seg_desc(TSS2, 0x67, 0x89, 0));
	ct_gdt_set(e->ram, S_CGATE, ct_gate_desc(S_CODE0, 0x6000, 0xec, 2));
	ct_gdt_set(e->ram, S_CODE64, ct_seg_desc(0, 0xfffff, 0x9b, 0xa));
	ct_gdt_set(e->ram, S_CONF0, ct_seg_desc(0, 0xfffff, 0x9f, 0xc));
	ct_gdt_set(e->ram, S_DATANP, ct_seg_desc(0, 0xfffff, 0x13, 0xc));
	ct_gdt_set(e->ram, S_TSS16, ct_seg_desc(TSS16, 0x2b, 0x81, 0));
	ct_gdt_set(e->ram, S_TSS3, ct_seg_desc(TSS3, 0x67, 0x89, 0));
	ct_gdt_set(e->ram, S_XONLY, ct_seg_desc(0, 0xfffff, 0x99, 0xc));
	ct_gdt_set(e->ram, S_CODENP, ct_seg_desc(0, 0xfffff, 0x1b, 0xc));
	ct_gdt_set(e->ram, S_FRESH, ct_seg_desc(0, 0xfffff, 0x92, 0xc));
	/* the running task's ring-0 stack */
	ct_put32(e->ram, TSS1 + 4, 0x9000);
	ct_put16(e->ram, TSS1 + 8, S_DATA0);
}

/* Protected mode at CPL 0 or 3, flat 32-bit segments, TR = TSS1. */
static void prot_state(struct env *e, unsigned cpl)
{
	struct gh_cpu_state *s = &e->s;

	ct_flat_state(e->ram, s, cpl ? S_CODE3 : S_CODE0, cpl ? S_DATA3 : S_DATA0, S_TSS1,
		      false);
	s->rip = 0x4000;
	s->rflags = 0x202;
	s->gpr[GH_RSP] = cpl ? 0x8000 : 0x8800;
	s->gdt.limit = 0xff;
	s->idt.base = IDT_BASE;
	s->idt.limit = 0x7ff;
}

static void env_apply(struct env *e)
{
	ct_apply(e->cpu, &e->s);
}

static struct env *env_new(void)
{
	struct env *e = g_new0(struct env, 1);
	struct gh_cpu_bus bus = {
	    .opaque = e,
	    .page = fake_page,
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

/*
 * Runs stmt as the run loop will: under a setjmp that catches gh_cpu_raise.
 * Evaluates to 0 if it completed, 1 if it raised (the fault in cpu->exc).
 */
#define TRY(cpu, stmt)                                                                   \
	({                                                                               \
		jmp_buf jb_;                                                             \
		volatile int r_ = 1;                                                     \
		(cpu)->jmp = &jb_;                                                       \
		if (setjmp(jb_) == 0) {                                                  \
			stmt;                                                            \
			r_ = 0;                                                          \
		}                                                                        \
		(cpu)->jmp = NULL;                                                       \
		r_;                                                                      \
	})

/* As the run loop: a fault is handed to gh_cpu_handle_exception. */
#define RUN(cpu, stmt)                                                                   \
	do {                                                                             \
		jmp_buf jb_;                                                             \
		(cpu)->jmp = &jb_;                                                       \
		if (setjmp(jb_) == 0) {                                                  \
			stmt;                                                            \
		} else {                                                                 \
			gh_cpu_handle_exception(cpu);                                    \
		}                                                                        \
		(cpu)->jmp = NULL;                                                       \
	} while (0)

static void assert_fault(struct gh_cpu *cpu, int raised, unsigned vector, uint32_t error)
{
	g_assert_cmpint(raised, ==, 1);
	g_assert_cmpuint(cpu->exc.vector, ==, vector);
	g_assert_true(cpu->exc.has_error);
	g_assert_cmphex(cpu->exc.error, ==, error);
}

static void assert_seg_eq(const struct gh_segment *a, const struct gh_segment *b)
{
	g_assert_cmphex(a->selector, ==, b->selector);
	g_assert_cmphex(a->base, ==, b->base);
	g_assert_cmphex(a->limit, ==, b->limit);
	g_assert_cmpuint(a->type, ==, b->type);
	g_assert_cmpuint(a->s, ==, b->s);
	g_assert_cmpuint(a->dpl, ==, b->dpl);
	g_assert_cmpuint(a->present, ==, b->present);
	g_assert_cmpuint(a->l, ==, b->l);
	g_assert_cmpuint(a->db, ==, b->db);
	g_assert_cmpuint(a->g, ==, b->g);
	g_assert_cmpuint(a->unusable, ==, b->unusable);
}

static void assert_state_eq(const struct gh_cpu_state *a, const struct gh_cpu_state *b)
{
	for (unsigned i = 0; i < GH_NR_GPRS; i++)
		g_assert_cmphex(a->gpr[i], ==, b->gpr[i]);
	g_assert_cmphex(a->rip, ==, b->rip);
	g_assert_cmphex(a->rflags, ==, b->rflags);
	for (unsigned i = 0; i < GH_NR_SEGS; i++)
		assert_seg_eq(&a->seg[i], &b->seg[i]);
	assert_seg_eq(&a->tr, &b->tr);
	g_assert_cmphex(a->cr0, ==, b->cr0);
	g_assert_cmphex(a->cr3, ==, b->cr3);
	g_assert_cmphex(a->efer, ==, b->efer);
}

static void get_state(struct env *e, struct gh_cpu_state *s)
{
	gh_cpu_get_state(e->cpu, s);
}

/* ---- state ---- */

static void test_state(void)
{
	struct env *e = env_new();
	struct gh_cpu_state s, t;

	/* the reset state: real mode at F000:FFF0 */
	get_state(e, &s);
	g_assert_cmphex(s.rip, ==, 0xfff0);
	g_assert_cmphex(s.seg[GH_CS].base, ==, 0xffff0000);
	g_assert_cmpint(e->cpu->mode, ==, GH_MODE_REAL);
	g_assert_cmpuint(e->cpu->cpl, ==, 0);

	/* each inconsistent state is refused and changes nothing */
	prot_state(e, 0);
	s = e->s;
#define REFUSED(field, val)                                                              \
	do {                                                                             \
		t = s;                                                                   \
		t.field = (val);                                                         \
		g_assert_cmpint(gh_cpu_set_state(e->cpu, &t), ==, -EINVAL);              \
	} while (0)
	REFUSED(cr0, s.cr0 | (1ULL << 32));
	REFUSED(cr0, s.cr0 | (1ULL << 6));
	REFUSED(cr0, GH_CR0_PG | GH_CR0_ET); /* PG without PE */
	REFUSED(cr0, s.cr0 | GH_CR0_NW);     /* NW without CD */
	REFUSED(cr4, 1ULL << 12);	     /* LA57 */
	REFUSED(cr4, 1ULL << 0);	     /* VME: not implemented */
	REFUSED(cr4, 1ULL << 15);	     /* reserved */
	REFUSED(efer, 1ULL << 1);
	REFUSED(efer, GH_EFER_LMA | GH_EFER_LME); /* LMA without paging */
	REFUSED(rflags, 0x202 | (1ULL << 22));
	REFUSED(rflags, 0x202 | (1ULL << 3));
	REFUSED(cr3, 1ULL << 32); /* outside long mode */
	REFUSED(gdt.base, 1ULL << 32);
	t = s;
	t.cr0 |= GH_CR0_PG;
	t.efer = GH_EFER_LME; /* LME+PG but no LMA */
	g_assert_cmpint(gh_cpu_set_state(e->cpu, &t), ==, -EINVAL);
	t.efer |= GH_EFER_LMA; /* LMA without PAE */
	g_assert_cmpint(gh_cpu_set_state(e->cpu, &t), ==, -EINVAL);
	t.cr4 = GH_CR4_PAE;
	t.seg[GH_CS].l = 1;
	t.seg[GH_CS].db = 1; /* L and D both set */
	g_assert_cmpint(gh_cpu_set_state(e->cpu, &t), ==, -EINVAL);
	t = s;
	t.cr0 = GH_CR0_ET;
	t.rflags |= GH_FL_VM; /* V86 in real mode */
	g_assert_cmpint(gh_cpu_set_state(e->cpu, &t), ==, -EINVAL);
	t = s;
	t.nmsrs = 1;
	t.msrs[0].index = 0x12345678; /* unknown MSR */
	g_assert_cmpint(gh_cpu_set_state(e->cpu, &t), ==, -EINVAL);
#undef REFUSED
	get_state(e, &t);
	g_assert_cmphex(t.rip, ==, 0xfff0); /* untouched */

	/* a valid state reads back as written, MSRs included */
	s.nmsrs = 2;
	s.msrs[0].index = GH_MSR_LSTAR;
	s.msrs[0].value = 0xffffffff81000000ULL;
	s.msrs[1].index = GH_MSR_IA32_SYSENTER_CS;
	s.msrs[1].value = 0x10;
	g_assert_cmpint(gh_cpu_set_state(e->cpu, &s), ==, 0);
	g_assert_cmpint(e->cpu->mode, ==, GH_MODE_PROT);
	get_state(e, &t);
	assert_state_eq(&s, &t);
	g_assert_cmphex(e->cpu->msr_lstar, ==, 0xffffffff81000000ULL);
	g_assert_cmphex(e->cpu->msr_sysenter_cs, ==, 0x10);

	/* CPL follows SS.DPL; V86 is CPL 3 */
	prot_state(e, 3);
	env_apply(e);
	g_assert_cmpuint(e->cpu->cpl, ==, 3);
	e->s.rflags |= GH_FL_VM;
	env_apply(e);
	g_assert_cmpint(e->cpu->mode, ==, GH_MODE_V86);
	g_assert_cmpuint(e->cpu->cpl, ==, 3);

	/* the run loop reports a kick, and a halt with IF=0, retiring nothing */
	gh_cpu_kick(e->cpu);
	g_assert_cmpint(gh_cpu_run(e->cpu, 10), ==, GH_CPU_KICKED);
	e->cpu->halted = true;
	e->cpu->rflags &= ~(uint64_t)GH_FL_IF;
	g_assert_cmpint(gh_cpu_run(e->cpu, 10), ==, GH_CPU_HLT);
	g_assert_cmpuint(gh_cpu_retired(e->cpu), ==, 0);
	env_free(e);
}

/* ---- segment loads ---- */

static void test_load_seg(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	prot_state(e, 3);
	env_apply(e);
	/* DPL 0 data from CPL 3 */
	assert_fault(cpu, TRY(cpu, gh_cpu_load_seg(cpu, GH_DS, S_DATA0)), GH_EXC_GP,
		     S_DATA0);
	/* RPL 3 does not help either */
	assert_fault(cpu, TRY(cpu, gh_cpu_load_seg(cpu, GH_DS, S_DATA0 | 3)), GH_EXC_GP,
		     S_DATA0);
	/* conforming readable code is exempt from the privilege check */
	g_assert_cmpint(TRY(cpu, gh_cpu_load_seg(cpu, GH_ES, S_CONF0 | 3)), ==, 0);
	g_assert_cmphex(cpu->seg[GH_ES].selector, ==, S_CONF0 | 3);
	/* a null selector loads an unusable segment */
	g_assert_cmpint(TRY(cpu, gh_cpu_load_seg(cpu, GH_FS, 0)), ==, 0);
	g_assert_true(cpu->seg[GH_FS].unusable);
	/* SS: RPL and DPL must equal CPL; null is #GP(0) */
	assert_fault(cpu, TRY(cpu, gh_cpu_load_seg(cpu, GH_SS, S_DATA3 & ~3)), GH_EXC_GP,
		     S_DATA3 & ~3);
	assert_fault(cpu, TRY(cpu, gh_cpu_load_seg(cpu, GH_SS, 0)), GH_EXC_GP, 0);
	/* an LDT selector with no LDT */
	assert_fault(cpu, TRY(cpu, gh_cpu_load_seg(cpu, GH_DS, 0x0c | 3)), GH_EXC_GP,
		     0x0c);
	/* beyond the GDT limit */
	assert_fault(cpu, TRY(cpu, gh_cpu_load_seg(cpu, GH_DS, 0x103)), GH_EXC_GP, 0x100);
	g_assert_cmphex(cpu->seg[GH_DS].selector, ==, S_DATA3); /* unchanged */

	prot_state(e, 0);
	env_apply(e);
	assert_fault(cpu, TRY(cpu, gh_cpu_load_seg(cpu, GH_DS, S_DATANP)), GH_EXC_NP,
		     S_DATANP);
	assert_fault(cpu, TRY(cpu, gh_cpu_load_seg(cpu, GH_SS, S_DATANP)), GH_EXC_SS,
		     S_DATANP);
	assert_fault(cpu, TRY(cpu, gh_cpu_load_seg(cpu, GH_SS, S_CODE0)), GH_EXC_GP,
		     S_CODE0);
	assert_fault(cpu, TRY(cpu, gh_cpu_load_seg(cpu, GH_DS, S_XONLY)), GH_EXC_GP,
		     S_XONLY);
	assert_fault(cpu, TRY(cpu, gh_cpu_load_seg(cpu, GH_DS, S_TSS1)), GH_EXC_GP,
		     S_TSS1);
	/* a good load sets the accessed bit in the GDT */
	g_assert_cmphex(gdt_access(e, S_FRESH), ==, 0x92);
	g_assert_cmpint(TRY(cpu, gh_cpu_load_seg(cpu, GH_DS, S_FRESH)), ==, 0);
	g_assert_cmphex(gdt_access(e, S_FRESH), ==, 0x93);
	g_assert_cmpuint(cpu->seg[GH_DS].type, ==, 3);
	g_assert_cmphex(cpu->seg[GH_DS].limit, ==, 0xffffffff);
	g_assert_cmpint(TRY(cpu, gh_cpu_load_seg(cpu, GH_SS, S_DATA16)), ==, 0);
	g_assert_cmphex(cpu->seg[GH_SS].limit, ==, 0xffff);
	g_assert_cmpuint(cpu->seg[GH_SS].db, ==, 0);

	/* real mode: base = selector << 4, limit kept */
	gh_cpu_state_reset(&e->s, true);
	env_apply(e);
	g_assert_cmpint(TRY(cpu, gh_cpu_load_seg(cpu, GH_DS, 0x1234)), ==, 0);
	g_assert_cmphex(cpu->seg[GH_DS].base, ==, 0x12340);
	g_assert_cmphex(cpu->seg[GH_DS].limit, ==, 0xffff);
	env_free(e);
}

/* ---- real mode ---- */

static void real_state(struct env *e)
{
	gh_cpu_state_reset(&e->s, true);
	ct_real_seg(&e->s, GH_CS, 0x1000);
	ct_real_seg(&e->s, GH_SS, 0x2000);
	e->s.gpr[GH_RSP] = 0x100;
	e->s.rip = 0x52;
	e->s.rflags = 0x2 | GH_FL_IF | GH_FL_TF | GH_FL_CF;
	e->s.idt.limit = 0x3ff;
	ct_put16(e->ram, 0x21 * 4, 0x5678);
	ct_put16(e->ram, 0x21 * 4 + 2, 0x1234);
}

static void test_real_int(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	struct gh_cpu_state after;

	real_state(e);
	env_apply(e);
	g_assert_cmpint(TRY(cpu, gh_cpu_deliver(cpu, 0x21, GH_EVENT_SOFTWARE, false, 0)),
			==, 0);
	/* FLAGS, CS, IP pushed as words at SS:SP */
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0xfa);
	g_assert_cmphex(ct_get16(e->ram, 0x200fa), ==, 0x52);
	g_assert_cmphex(ct_get16(e->ram, 0x200fc), ==, 0x1000);
	g_assert_cmphex(ct_get16(e->ram, 0x200fe), ==,
			0x2 | GH_FL_IF | GH_FL_TF | GH_FL_CF);
	g_assert_cmphex(cpu->seg[GH_CS].selector, ==, 0x1234);
	g_assert_cmphex(cpu->seg[GH_CS].base, ==, 0x12340);
	g_assert_cmphex(cpu->rip, ==, 0x5678);
	g_assert_cmphex(cpu->rflags, ==, 0x2 | GH_FL_CF); /* IF, TF cleared */

	/* IRET returns to exactly the state before */
	g_assert_cmpint(TRY(cpu, gh_cpu_iret(cpu, 2)), ==, 0);
	get_state(e, &after);
	assert_state_eq(&e->s, &after);

	/* SP wraps within 16 bits: SP = 0 pushes at 0xfffe.. */
	e->s.gpr[GH_RSP] = 0xabcd0000;
	env_apply(e);
	g_assert_cmpint(TRY(cpu, gh_cpu_deliver(cpu, 0x21, GH_EVENT_EXTERNAL, false, 0)),
			==, 0);
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0xabcdfffa);
	g_assert_cmphex(ct_get16(e->ram, 0x2fffa), ==, 0x52);

	/* a push beyond the SS limit is #SS */
	e->s.gpr[GH_RSP] = 0x100;
	e->s.seg[GH_SS].limit = 0xf0;
	env_apply(e);
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x21, GH_EVENT_EXTERNAL, false, 0)),
		     GH_EXC_SS, 0);

	/* far CALL and RET in real mode */
	e->s.seg[GH_SS].limit = 0xffff;
	env_apply(e);
	g_assert_cmpint(TRY(cpu, gh_cpu_far_call(cpu, 0x3000, 0x44, 2)), ==, 0);
	g_assert_cmphex(cpu->seg[GH_CS].base, ==, 0x30000);
	g_assert_cmphex(cpu->rip, ==, 0x44);
	g_assert_cmphex(ct_get16(e->ram, 0x200fc), ==, 0x52);
	g_assert_cmphex(ct_get16(e->ram, 0x200fe), ==, 0x1000);
	g_assert_cmpint(TRY(cpu, gh_cpu_far_ret(cpu, 2, 4)), ==, 0);
	g_assert_cmphex(cpu->seg[GH_CS].selector, ==, 0x1000);
	g_assert_cmphex(cpu->rip, ==, 0x52);
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0x104);
	env_free(e);
}

/* SDM 20.1.4: beyond the IVT limit is #GP, then #DF, then shutdown. */
static void test_real_ivt_limit(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	real_state(e);
	e->s.idt.limit = 0x27; /* vectors 0-9 */
	ct_put16(e->ram, 8 * 4, 0x0800);
	ct_put16(e->ram, 8 * 4 + 2, 0x0f00);
	env_apply(e);
	cpu->prev_rip = 0x50; /* INT 30h at 1000:0050 */
	RUN(cpu, gh_cpu_deliver(cpu, 0x30, GH_EVENT_SOFTWARE, false, 0));
	g_assert_false(cpu->shutdown);
	g_assert_cmphex(cpu->seg[GH_CS].selector, ==, 0x0f00);
	g_assert_cmphex(cpu->rip, ==, 0x0800);
	/* the #DF frame names the INT instruction; real mode has no error code */
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0xfa);
	g_assert_cmphex(ct_get16(e->ram, 0x200fa), ==, 0x50);
	g_assert_cmphex(ct_get16(e->ram, 0x200fc), ==, 0x1000);
	g_assert_cmpint(cpu->delivering, ==, -1);

	e->s.idt.limit = 0x1f; /* not even #DF */
	env_apply(e);
	cpu->prev_rip = 0x50;
	RUN(cpu, gh_cpu_deliver(cpu, 0x30, GH_EVENT_SOFTWARE, false, 0));
	g_assert_true(cpu->shutdown);
	g_assert_cmpint(gh_cpu_run(cpu, 0), ==, GH_CPU_SHUTDOWN);
	env_free(e);
}

/* ---- protected mode ---- */

static void test_prot_same_priv(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	struct gh_cpu_state after;

	prot_state(e, 0);
	idt_set(e, 0x40, ct_gate_desc(S_CODE0, 0x5000, 0x8e, 0)); /* interrupt gate */
	idt_set(e, 0x41, ct_gate_desc(S_CODE0, 0x5100, 0x8f, 0));	/* trap gate */
	idt_set(e, 0x44, ct_gate_desc(S_CODE16, 0x1234, 0x86, 0)); /* 16-bit gate */
	idt_set(e, GH_EXC_GP, ct_gate_desc(S_CODE0, 0x5200, 0x8e, 0));
	e->s.rflags = 0x202 | GH_FL_TF | GH_FL_NT;
	env_apply(e);

	g_assert_cmpint(TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
			==, 0);
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0x8800 - 12);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 12), ==, 0x4000);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 8), ==, S_CODE0);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 4), ==, 0x202 | GH_FL_TF | GH_FL_NT);
	g_assert_cmphex(cpu->rip, ==, 0x5000);
	g_assert_cmphex(cpu->rflags, ==, 0x2); /* IF, TF, NT cleared */
	g_assert_cmpuint(cpu->cpl, ==, 0);
	g_assert_cmphex(cpu->prev_rip, ==, 0x5000);
	/* and back */
	g_assert_cmpint(TRY(cpu, gh_cpu_iret(cpu, 4)), ==, 0);
	get_state(e, &after);
	assert_state_eq(&e->s, &after);

	/* a trap gate leaves IF alone */
	g_assert_cmpint(TRY(cpu, gh_cpu_deliver(cpu, 0x41, GH_EVENT_EXTERNAL, false, 0)),
			==, 0);
	g_assert_cmphex(cpu->rflags, ==, 0x202);
	g_assert_cmphex(cpu->rip, ==, 0x5100);

	/* an exception with an error code: pushed last */
	env_apply(e);
	g_assert_cmpint(
	    TRY(cpu, gh_cpu_deliver(cpu, GH_EXC_GP, GH_EVENT_EXCEPTION, true, 0x1234)),
	    ==, 0);
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0x8800 - 16);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 16), ==, 0x1234);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 12), ==, 0x4000);

	/* a 16-bit gate pushes words and lands in 16-bit code */
	env_apply(e);
	g_assert_cmpint(TRY(cpu, gh_cpu_deliver(cpu, 0x44, GH_EVENT_EXTERNAL, false, 0)),
			==, 0);
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0x8800 - 6);
	g_assert_cmphex(ct_get16(e->ram, 0x8800 - 6), ==, 0x4000);
	g_assert_cmphex(ct_get16(e->ram, 0x8800 - 4), ==, S_CODE0);
	g_assert_cmphex(ct_get16(e->ram, 0x8800 - 2), ==, 0x202 | GH_FL_TF | GH_FL_NT);
	g_assert_cmphex(cpu->seg[GH_CS].selector, ==, S_CODE16);
	g_assert_cmpuint(cpu->seg[GH_CS].db, ==, 0);
	g_assert_cmphex(cpu->rip, ==, 0x1234);
	/* IRET (16-bit) back */
	g_assert_cmpint(TRY(cpu, gh_cpu_iret(cpu, 2)), ==, 0);
	get_state(e, &after);
	assert_state_eq(&e->s, &after);
	env_free(e);
}

static void test_prot_inner_priv(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	struct gh_cpu_state after;

	prot_state(e, 3);
	idt_set(e, 0x40, ct_gate_desc(S_CODE0, 0x5000, 0x8e, 0));
	env_apply(e);
	g_assert_cmpint(TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
			==, 0);
	/* SS:ESP from TSS1's ring-0 fields; the old SS:ESP on the new stack */
	g_assert_cmphex(cpu->seg[GH_SS].selector, ==, S_DATA0);
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0x9000 - 20);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 20), ==, 0x4000);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 16), ==, S_CODE3);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 12), ==, 0x202);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 8), ==, 0x8000);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 4), ==, S_DATA3);
	g_assert_cmphex(cpu->seg[GH_CS].selector, ==, S_CODE0);
	g_assert_cmpuint(cpu->cpl, ==, 0);
	/* IRET to CPL 3 restores everything */
	g_assert_cmpint(TRY(cpu, gh_cpu_iret(cpu, 4)), ==, 0);
	get_state(e, &after);
	assert_state_eq(&e->s, &after);
	g_assert_cmpuint(cpu->cpl, ==, 3);

	/* a ring-0 DS is made null by the return to ring 3 */
	g_assert_cmpint(TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
			==, 0);
	g_assert_cmpint(TRY(cpu, gh_cpu_load_seg(cpu, GH_DS, S_DATA0)), ==, 0);
	g_assert_cmpint(TRY(cpu, gh_cpu_iret(cpu, 4)), ==, 0);
	g_assert_cmphex(cpu->seg[GH_DS].selector, ==, 0);
	g_assert_true(cpu->seg[GH_DS].unusable);
	g_assert_cmphex(cpu->seg[GH_ES].selector, ==, S_DATA3);
	g_assert_false(cpu->seg[GH_ES].unusable);

	/* INT n checks the gate DPL: #GP(vector * 8 + 2), no EXT */
	env_apply(e);
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_SOFTWARE, false, 0)),
		     GH_EXC_GP, 0x40 * 8 + 2);
	/* INT1 (ICEBP) does not */
	g_assert_cmpint(TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_ICEBP, false, 0)), ==,
			0);
	env_apply(e);
	idt_set(e, 0x42, ct_gate_desc(S_CODE0, 0x5000, 0xee, 0)); /* DPL 3 */
	g_assert_cmpint(TRY(cpu, gh_cpu_deliver(cpu, 0x42, GH_EVENT_SOFTWARE, false, 0)),
			==, 0);
	g_assert_cmpuint(cpu->cpl, ==, 0);
	/* a conforming target keeps CPL 3 and the stack */
	env_apply(e);
	idt_set(e, 0x43, ct_gate_desc(S_CONF0, 0x5300, 0xee, 0));
	g_assert_cmpint(TRY(cpu, gh_cpu_deliver(cpu, 0x43, GH_EVENT_SOFTWARE, false, 0)),
			==, 0);
	g_assert_cmpuint(cpu->cpl, ==, 3);
	g_assert_cmphex(cpu->seg[GH_CS].selector, ==, S_CONF0 | 3);
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0x8000 - 12);
	env_free(e);
}

/* The failures of gate delivery and their error codes (SDM 6.13). */
static void test_gate_faults(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	struct gh_cpu_state after;

	prot_state(e, 3);
	env_apply(e);
	/* not present: #NP(vector * 8 + 2 + EXT) */
	idt_set(e, 0x40, ct_gate_desc(S_CODE0, 0x5000, 0x0e, 0));
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
		     GH_EXC_NP, 0x40 * 8 + 3);
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXCEPTION, false, 0)),
		     GH_EXC_NP, 0x40 * 8 + 3);
	/* beyond the IDT limit */
	e->s.idt.limit = 0x40 * 8 + 6;
	env_apply(e);
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
		     GH_EXC_GP, 0x40 * 8 + 3);
	e->s.idt.limit = 0x7ff;
	env_apply(e);
	/* not a gate type: a call gate in the IDT */
	idt_set(e, 0x40, ct_gate_desc(S_CODE0, 0x5000, 0x8c, 0));
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
		     GH_EXC_GP, 0x40 * 8 + 3);
	/* gate to a data segment: #GP(selector + EXT) */
	idt_set(e, 0x40, ct_gate_desc(S_DATA0, 0x5000, 0x8e, 0));
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
		     GH_EXC_GP, S_DATA0 | 1);
	/* null target selector: #GP(EXT) */
	idt_set(e, 0x40, ct_gate_desc(0, 0x5000, 0x8e, 0));
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
		     GH_EXC_GP, 1);
	/* target not present: #NP(selector + EXT) */
	idt_set(e, 0x40, ct_gate_desc(S_CODENP, 0x5000, 0x8e, 0));
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
		     GH_EXC_NP, S_CODENP | 1);
	/* offset beyond the target's limit */
	idt_set(e, 0x40, ct_gate_desc(S_CODE16, 0x10000, 0x8e, 0));
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
		     GH_EXC_GP, 1);
	/* the TSS's SS0 has RPL 3: #TS(SS + EXT) */
	idt_set(e, 0x40, ct_gate_desc(S_CODE0, 0x5000, 0x8e, 0));
	ct_put16(e->ram, TSS1 + 8, S_DATA0 | 3);
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
		     GH_EXC_TS, S_DATA0 | 1);
	/* SS0 null: #TS(EXT) */
	ct_put16(e->ram, TSS1 + 8, 0);
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
		     GH_EXC_TS, 1);
	/* SS0 not present: #SS(SS + EXT) */
	ct_put16(e->ram, TSS1 + 8, S_DATANP);
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
		     GH_EXC_SS, S_DATANP | 1);
	/* the TSS too short for ESP0/SS0: #TS(TR + EXT) */
	ct_put16(e->ram, TSS1 + 8, S_DATA0);
	e->s.tr.limit = 8;
	env_apply(e);
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
		     GH_EXC_TS, S_TSS1 | 1);
	/* none of these changed the state, and a software INT has no EXT */
	get_state(e, &after);
	assert_state_eq(&e->s, &after);
	g_assert_cmpint(cpu->delivering, ==, 0x40); /* the loop resets it */
	env_free(e);
}

static void test_double_fault(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	prot_state(e, 0);
	idt_set(e, GH_EXC_GP, ct_gate_desc(S_CODE0, 0x5d00, 0x0e, 0)); /* not present */
	idt_set(e, GH_EXC_NP, ct_gate_desc(S_CODE0, 0x5b00, 0x8e, 0));
	idt_set(e, GH_EXC_DF, ct_gate_desc(S_CODE0, 0x5800, 0x8e, 0));
	idt_set(e, GH_EXC_PF, ct_gate_desc(S_CODE0, 0x5e00, 0x0e, 0)); /* not present */
	idt_set(e, GH_EXC_DB, ct_gate_desc(S_CODE0, 0x5100, 0x0e, 0)); /* not present */
	idt_set(e, 0x40, ct_gate_desc(S_CODE0, 0x5000, 0x0e, 0));      /* not present */
	env_apply(e);

	/* #GP, then #NP delivering it: contributory twice, #DF(0) */
	cpu->rip = 0x4003; /* the instruction at 0x4000 faults */
	RUN(cpu, gh_cpu_raise(cpu, GH_EXC_GP, 0x1234));
	g_assert_false(cpu->shutdown);
	g_assert_cmphex(cpu->rip, ==, 0x5800);
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0x8800 - 16);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 16), ==, 0);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 12), ==, 0x4000);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 8), ==, S_CODE0);
	/* a fault's saved RFLAGS has RF set */
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 4), ==, 0x202 | GH_FL_RF);
	g_assert_cmpint(cpu->delivering, ==, -1);
	g_assert_cmpuint(cpu->err_ext, ==, 0);

	/* #PF, then #NP: #DF; CR2 holds the address */
	env_apply(e);
	RUN(cpu, gh_cpu_raise_pf(cpu, 0xdeadb000, 2));
	g_assert_cmphex(cpu->rip, ==, 0x5800);
	g_assert_cmphex(cpu->cr2, ==, 0xdeadb000);

	/* #DB (benign), then #NP: delivered one after the other */
	env_apply(e);
	RUN(cpu, gh_cpu_raise_noerr(cpu, GH_EXC_DB));
	g_assert_cmphex(cpu->rip, ==, 0x5b00);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 16), ==, GH_EXC_DB * 8 + 3);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 4), ==, 0x202 | GH_FL_RF);
	/* #DB itself does not set RF in its frame */
	idt_set(e, GH_EXC_DB, ct_gate_desc(S_CODE0, 0x5100, 0x8e, 0));
	env_apply(e);
	RUN(cpu, gh_cpu_raise_noerr(cpu, GH_EXC_DB));
	g_assert_cmphex(cpu->rip, ==, 0x5100);
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0x8800 - 12);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 4), ==, 0x202);

	/* INT 40h with its gate not present: #NP without EXT, not a #DF */
	env_apply(e);
	cpu->prev_rip = 0x4000;
	cpu->rip = 0x4002;
	RUN(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_SOFTWARE, false, 0));
	g_assert_cmphex(cpu->rip, ==, 0x5b00);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 16), ==, 0x40 * 8 + 2);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 12), ==, 0x4000);

	/* an external interrupt's #NP carries EXT and is not a #DF either */
	env_apply(e);
	RUN(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0));
	g_assert_cmphex(cpu->rip, ==, 0x5b00);
	g_assert_cmphex(ct_get32(e->ram, 0x8800 - 16), ==, 0x40 * 8 + 3);

	/* and with the #DF gate missing too: triple fault */
	idt_set(e, GH_EXC_DF, ct_gate_desc(S_CODE0, 0x5800, 0x0e, 0));
	env_apply(e);
	RUN(cpu, gh_cpu_raise(cpu, GH_EXC_GP, 0));
	g_assert_true(cpu->shutdown);
	g_assert_cmpint(gh_cpu_run(cpu, 0), ==, GH_CPU_SHUTDOWN);
	/* set_state brings the CPU back */
	env_apply(e);
	g_assert_false(cpu->shutdown);
	env_free(e);
}

/* ---- virtual-8086 mode ---- */

static void v86_state(struct env *e, unsigned iopl)
{
	prot_state(e, 0);
	e->s.rflags = 0x2 | GH_FL_VM | GH_FL_IF | ((uint64_t)iopl << GH_FL_IOPL_SHIFT);
	e->s.rip = 0x123;
	e->s.gpr[GH_RSP] = 0xfe;
	ct_v86_seg(&e->s.seg[GH_CS], 0x1000, 0xb);
	ct_v86_seg(&e->s.seg[GH_SS], 0x2000, 3);
	ct_v86_seg(&e->s.seg[GH_DS], 0x3000, 3);
	ct_v86_seg(&e->s.seg[GH_ES], 0x4000, 3);
	ct_v86_seg(&e->s.seg[GH_FS], 0x5000, 3);
	ct_v86_seg(&e->s.seg[GH_GS], 0x6000, 3);
}

static void test_v86(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	struct gh_cpu_state after;
	static const uint32_t frame[] = {
	    0x123,  0x1000, 0x2 | GH_FL_VM | GH_FL_IF, 0xfe, 0x2000, 0x4000, 0x3000,
	    0x5000, 0x6000,
	};

	v86_state(e, 0);
	idt_set(e, 0x40, ct_gate_desc(S_CODE0, 0x5000, 0x8e, 0));
	env_apply(e);
	g_assert_cmpint(cpu->mode, ==, GH_MODE_V86);
	g_assert_cmpint(TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
			==, 0);
	/* EIP CS EFLAGS ESP SS ES DS FS GS, from the lowest address up */
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0x9000 - 36);
	for (unsigned i = 0; i < G_N_ELEMENTS(frame); i++)
		g_assert_cmphex(ct_get32(e->ram, 0x9000 - 36 + 4 * i), ==, frame[i]);
	g_assert_cmpint(cpu->mode, ==, GH_MODE_PROT);
	g_assert_cmpuint(cpu->cpl, ==, 0);
	g_assert_cmphex(cpu->rflags, ==, 0x2);
	for (unsigned i = 0; i < GH_NR_SEGS; i++) {
		if (i == GH_CS || i == GH_SS)
			continue;
		g_assert_cmphex(cpu->seg[i].selector, ==, 0);
		g_assert_true(cpu->seg[i].unusable);
	}
	/* IRETD at CPL 0 with VM in the image returns to V86 as it was */
	g_assert_cmpint(TRY(cpu, gh_cpu_iret(cpu, 4)), ==, 0);
	g_assert_cmpint(cpu->mode, ==, GH_MODE_V86);
	get_state(e, &after);
	assert_state_eq(&e->s, &after);

	/* INT n with IOPL < 3: #GP(0) */
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_SOFTWARE, false, 0)),
		     GH_EXC_GP, 0);
	/* INT3 is not IOPL-sensitive: through a DPL 3 gate to ring 0 */
	idt_set(e, GH_EXC_BP, ct_gate_desc(S_CODE0, 0x5300, 0xee, 0));
	g_assert_cmpint(
	    TRY(cpu, gh_cpu_deliver(cpu, GH_EXC_BP, GH_EVENT_SOFTWARE_EXC, false, 0)), ==,
	    0);
	g_assert_cmphex(cpu->rip, ==, 0x5300);
	env_apply(e);
	/* IRET with IOPL < 3: #GP(0) */
	assert_fault(cpu, TRY(cpu, gh_cpu_iret(cpu, 2)), GH_EXC_GP, 0);
	/* a handler not at ring 0: #GP(selector + EXT) */
	idt_set(e, 0x41, ct_gate_desc(S_CONF0, 0x5000, 0x8e, 0));
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x41, GH_EVENT_EXTERNAL, false, 0)),
		     GH_EXC_GP, S_CONF0 | 1);

	/* IOPL 3: INT n goes through the IDT; IRET stays in V86 mode */
	v86_state(e, 3);
	idt_set(e, 0x42, ct_gate_desc(S_CODE0, 0x5000, 0xee, 0));
	env_apply(e);
	g_assert_cmpint(TRY(cpu, gh_cpu_deliver(cpu, 0x42, GH_EVENT_SOFTWARE, false, 0)),
			==, 0);
	g_assert_cmphex(cpu->rip, ==, 0x5000);
	env_apply(e);
	ct_put16(e->ram, 0x20000 + 0xfe - 6, 0x77);
	ct_put16(e->ram, 0x20000 + 0xfe - 4, 0x1100);
	ct_put16(e->ram, 0x20000 + 0xfe - 2, 0x0cd5); /* tries IOPL 0 */
	cpu->gpr[GH_RSP] = 0xfe - 6;
	g_assert_cmpint(TRY(cpu, gh_cpu_iret(cpu, 2)), ==, 0);
	g_assert_cmphex(cpu->rip, ==, 0x77);
	g_assert_cmphex(cpu->seg[GH_CS].base, ==, 0x11000);
	g_assert_cmphex(cpu->rflags, ==, 0x0cd7 | GH_FL_VM | (3u << GH_FL_IOPL_SHIFT));
	env_free(e);
}

static void test_iret_faults(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	prot_state(e, 0);
	env_apply(e);
#define FRAME(ip, cs, fl)                                                                \
	do {                                                                             \
		ct_put32(e->ram, 0x8800, ip);                                            \
		ct_put32(e->ram, 0x8804, cs);                                            \
		ct_put32(e->ram, 0x8808, fl);                                            \
		cpu->gpr[GH_RSP] = 0x8800;                                               \
	} while (0)
	FRAME(0x100, 0, 0x2);
	assert_fault(cpu, TRY(cpu, gh_cpu_iret(cpu, 4)), GH_EXC_GP, 0);
	FRAME(0x100, S_DATA0, 0x2);
	assert_fault(cpu, TRY(cpu, gh_cpu_iret(cpu, 4)), GH_EXC_GP, S_DATA0);
	FRAME(0x100, S_CODENP, 0x2);
	assert_fault(cpu, TRY(cpu, gh_cpu_iret(cpu, 4)), GH_EXC_NP, S_CODENP);
	FRAME(0x10000, S_CODE16, 0x2);
	assert_fault(cpu, TRY(cpu, gh_cpu_iret(cpu, 4)), GH_EXC_GP, 0);
	/* to ring 3 with a ring-0 SS */
	FRAME(0x100, S_CODE3, 0x2);
	ct_put32(e->ram, 0x880c, 0x7000);
	ct_put32(e->ram, 0x8810, S_DATA0);
	assert_fault(cpu, TRY(cpu, gh_cpu_iret(cpu, 4)), GH_EXC_GP, S_DATA0);
	g_assert_cmpuint(cpu->cpl, ==, 0);
	g_assert_cmphex(cpu->rip, ==, 0x4000);

	/* at CPL 0 an IRET may set IOPL and IF; at CPL 3 it may not */
	FRAME(0x100, S_CODE0, 0x2 | GH_FL_IOPL | GH_FL_IF | GH_FL_VIF | GH_FL_AC);
	g_assert_cmpint(TRY(cpu, gh_cpu_iret(cpu, 4)), ==, 0);
	g_assert_cmphex(cpu->rflags, ==,
			0x2 | GH_FL_IOPL | GH_FL_IF | GH_FL_VIF | GH_FL_AC);
	prot_state(e, 3);
	e->s.rflags = 0x2;
	env_apply(e);
	ct_put32(e->ram, 0x7000, 0x100);
	ct_put32(e->ram, 0x7004, S_CODE3);
	ct_put32(e->ram, 0x7008, 0x2 | GH_FL_IOPL | GH_FL_IF | GH_FL_CF | GH_FL_VM);
	cpu->gpr[GH_RSP] = 0x7000;
	g_assert_cmpint(TRY(cpu, gh_cpu_iret(cpu, 4)), ==, 0);
	g_assert_cmphex(cpu->rflags, ==, 0x2 | GH_FL_CF);
	g_assert_cmpint(cpu->mode, ==, GH_MODE_PROT);
	/* CS with RPL below CPL */
	ct_put32(e->ram, 0x7004, S_CODE0);
	cpu->gpr[GH_RSP] = 0x7000;
	assert_fault(cpu, TRY(cpu, gh_cpu_iret(cpu, 4)), GH_EXC_GP, S_CODE0);
	/* a frame beyond the stack limit: #SS(0) */
	e->s.seg[GH_SS].limit = 0x7007;
	e->s.gpr[GH_RSP] = 0x7000;
	env_apply(e);
	assert_fault(cpu, TRY(cpu, gh_cpu_iret(cpu, 4)), GH_EXC_SS, 0);
#undef FRAME
	env_free(e);
}

/* ---- far transfers ---- */

static void test_far_jmp(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	prot_state(e, 3);
	env_apply(e);
	assert_fault(cpu, TRY(cpu, gh_cpu_far_jmp(cpu, S_CODE0, 0x100, 4)), GH_EXC_GP,
		     S_CODE0);
	assert_fault(cpu, TRY(cpu, gh_cpu_far_jmp(cpu, S_DATA3, 0x100, 4)), GH_EXC_GP,
		     S_DATA3 & ~3);
	assert_fault(cpu, TRY(cpu, gh_cpu_far_jmp(cpu, 0, 0x100, 4)), GH_EXC_GP, 0);
	/* conforming: CPL stays 3 and becomes the RPL */
	g_assert_cmpint(TRY(cpu, gh_cpu_far_jmp(cpu, S_CONF0, 0x100, 4)), ==, 0);
	g_assert_cmphex(cpu->seg[GH_CS].selector, ==, S_CONF0 | 3);
	g_assert_cmpuint(cpu->cpl, ==, 3);
	g_assert_cmphex(cpu->rip, ==, 0x100);

	prot_state(e, 0);
	env_apply(e);
	assert_fault(cpu, TRY(cpu, gh_cpu_far_jmp(cpu, S_CODENP, 0x100, 4)), GH_EXC_NP,
		     S_CODENP);
	assert_fault(cpu, TRY(cpu, gh_cpu_far_jmp(cpu, S_CODE16, 0x10000, 4)), GH_EXC_GP,
		     0);
	/* a 16-bit operand truncates the offset */
	g_assert_cmpint(TRY(cpu, gh_cpu_far_jmp(cpu, S_CODE16, 0x12345, 2)), ==, 0);
	g_assert_cmphex(cpu->rip, ==, 0x2345);
	g_assert_cmpuint(cpu->seg[GH_CS].db, ==, 0);
	/* a 64-bit code segment outside long mode is just a code segment; a
	 * call gate in legacy mode to a DPL 0 target is a plain jump */
	env_apply(e);
	g_assert_cmpint(TRY(cpu, gh_cpu_far_jmp(cpu, S_CGATE, 0, 4)), ==, 0);
	g_assert_cmphex(cpu->rip, ==, 0x6000);
	g_assert_cmphex(cpu->seg[GH_CS].selector, ==, S_CODE0);
	/* JMP through a gate to more privileged code: #GP(target) */
	prot_state(e, 3);
	env_apply(e);
	assert_fault(cpu, TRY(cpu, gh_cpu_far_jmp(cpu, S_CGATE | 3, 0, 4)), GH_EXC_GP,
		     S_CODE0);
	env_free(e);
}

static void test_call_gate(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	struct gh_cpu_state after;

	prot_state(e, 3);
	e->s.gpr[GH_RSP] = 0x7ff8;
	e->s.rip = 0x4007; /* past the CALL */
	env_apply(e);
	ct_put32(e->ram, 0x7ff8, 0xaaaa0001);
	ct_put32(e->ram, 0x7ffc, 0xbbbb0002);
	g_assert_cmpint(TRY(cpu, gh_cpu_far_call(cpu, S_CGATE | 3, 0, 4)), ==, 0);
	g_assert_cmpuint(cpu->cpl, ==, 0);
	g_assert_cmphex(cpu->seg[GH_CS].selector, ==, S_CODE0);
	g_assert_cmphex(cpu->seg[GH_SS].selector, ==, S_DATA0);
	g_assert_cmphex(cpu->rip, ==, 0x6000);
	/* SS, ESP, both parameters in order, CS, EIP */
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0x9000 - 24);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 24), ==, 0x4007);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 20), ==, S_CODE3);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 16), ==, 0xaaaa0001);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 12), ==, 0xbbbb0002);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 8), ==, 0x7ff8);
	g_assert_cmphex(ct_get32(e->ram, 0x9000 - 4), ==, S_DATA3);

	/* RET 8 to ring 3 drops the parameters on both stacks */
	g_assert_cmpint(TRY(cpu, gh_cpu_far_ret(cpu, 4, 8)), ==, 0);
	e->s.gpr[GH_RSP] = 0x8000;
	get_state(e, &after);
	assert_state_eq(&e->s, &after);

	/* a ring-0 DS does not survive the return */
	g_assert_cmpint(TRY(cpu, gh_cpu_far_call(cpu, S_CGATE | 3, 0, 4)), ==, 0);
	g_assert_cmpint(TRY(cpu, gh_cpu_load_seg(cpu, GH_DS, S_DATA0)), ==, 0);
	g_assert_cmpint(TRY(cpu, gh_cpu_far_ret(cpu, 4, 8)), ==, 0);
	g_assert_true(cpu->seg[GH_DS].unusable);

	/* gate DPL below CPL, or RPL above it */
	ct_gdt_set(e->ram, S_CGATE, ct_gate_desc(S_CODE0, 0x6000, 0x8c, 2));
	env_apply(e);
	assert_fault(cpu, TRY(cpu, gh_cpu_far_call(cpu, S_CGATE | 3, 0, 4)), GH_EXC_GP,
		     S_CGATE);
	/* gate not present */
	ct_gdt_set(e->ram, S_CGATE, ct_gate_desc(S_CODE0, 0x6000, 0x6c, 2));
	assert_fault(cpu, TRY(cpu, gh_cpu_far_call(cpu, S_CGATE | 3, 0, 4)), GH_EXC_NP,
		     S_CGATE);
	/* a bad ring-0 stack in the TSS: #TS(SS) */
	ct_gdt_set(e->ram, S_CGATE, ct_gate_desc(S_CODE0, 0x6000, 0xec, 2));
	ct_put16(e->ram, TSS1 + 8, S_DATA3);
	assert_fault(cpu, TRY(cpu, gh_cpu_far_call(cpu, S_CGATE | 3, 0, 4)), GH_EXC_TS,
		     S_DATA3 & ~3);
	get_state(e, &after);
	assert_state_eq(&e->s, &after);

	/* a RET to an outer ring whose SS is wrong: #GP(SS) */
	ct_put16(e->ram, TSS1 + 8, S_DATA0);
	g_assert_cmpint(TRY(cpu, gh_cpu_far_call(cpu, S_CGATE | 3, 0, 4)), ==, 0);
	ct_put32(e->ram, 0x9000 - 4, S_DATA0);
	assert_fault(cpu, TRY(cpu, gh_cpu_far_ret(cpu, 4, 8)), GH_EXC_GP, S_DATA0);
	g_assert_cmpuint(cpu->cpl, ==, 0);
	env_free(e);
}

/* ---- task switches ---- */

static void tss32_task(struct env *e, uint64_t base, uint32_t eip, uint16_t cs,
		       uint16_t ds, uint32_t esp)
{
	ct_put32(e->ram, base + 0x20, eip);
	ct_put32(e->ram, base + 0x24, 0x2);
	for (unsigned i = 0; i < 8; i++)
		ct_put32(e->ram, base + 0x28 + 4 * i, 0x11111111u * (i + 1));
	ct_put32(e->ram, base + 0x38, esp);
	for (unsigned i = 0; i < 6; i++)
		ct_put16(e->ram, base + 0x48 + 4 * i, i == 1 ? cs : ds);
	ct_put16(e->ram, base + 0x60, 0);
}

static void test_task_switch(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	struct gh_cpu_state after;
	uint32_t saved_flags;

	prot_state(e, 0);
	for (unsigned i = 0; i < 8; i++)
		e->s.gpr[i] = 0xa0 + i;
	e->s.gpr[GH_RSP] = 0x8800;
	e->s.rip = 0x4007;
	tss32_task(e, TSS2, 0x7000, S_CODE0, S_DATA0, 0xa000);
	ct_put32(e->ram, TSS2 + 0x1c, 0x5000); /* CR3 */
	env_apply(e);

	/* CALL: nested task, back link, NT, both busy */
	g_assert_cmpint(TRY(cpu, gh_cpu_far_call(cpu, S_TSS2, 0, 4)), ==, 0);
	g_assert_cmphex(cpu->tr.selector, ==, S_TSS2);
	g_assert_cmpuint(cpu->tr.type, ==, 0xb);
	g_assert_cmphex(gdt_access(e, S_TSS2), ==, 0x8b);
	g_assert_cmphex(gdt_access(e, S_TSS1), ==, 0x8b);
	g_assert_cmphex(ct_get16(e->ram, TSS2), ==, S_TSS1);
	g_assert_cmphex(cpu->rip, ==, 0x7000);
	g_assert_cmphex(cpu->rflags, ==, 0x2 | GH_FL_NT);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0x11111111);
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0xa000);
	g_assert_cmphex(cpu->gpr[GH_RDI], ==, 0x88888888);
	g_assert_cmphex(cpu->cr3, ==, 0x5000);
	g_assert_true(cpu->cr0 & GH_CR0_TS);
	g_assert_cmphex(cpu->seg[GH_CS].selector, ==, S_CODE0);
	g_assert_cmphex(cpu->seg[GH_SS].selector, ==, S_DATA0);
	g_assert_false(cpu->seg[GH_DS].unusable);
	g_assert_true(cpu->ldtr.unusable);
	g_assert_cmphex(cpu->prev_rip, ==, 0x7000);
	/* the old task's registers went to its TSS */
	g_assert_cmphex(ct_get32(e->ram, TSS1 + 0x20), ==, 0x4007);
	g_assert_cmphex(ct_get32(e->ram, TSS1 + 0x24), ==, 0x202);
	for (unsigned i = 0; i < 8; i++)
		g_assert_cmphex(ct_get32(e->ram, TSS1 + 0x28 + 4 * i), ==,
				i == GH_RSP ? 0x8800 : 0xa0 + i);
	g_assert_cmphex(ct_get16(e->ram, TSS1 + 0x48), ==, S_DATA0); /* ES */
	g_assert_cmphex(ct_get16(e->ram, TSS1 + 0x4c), ==, S_CODE0); /* CS */

	/* IRET with NT: back through the link; the callee becomes free */
	cpu->gpr[GH_RAX] = 0xdead;
	cpu->rip = 0x7010;
	g_assert_cmpint(TRY(cpu, gh_cpu_iret(cpu, 4)), ==, 0);
	g_assert_cmphex(gdt_access(e, S_TSS2), ==, 0x89);
	g_assert_cmphex(ct_get32(e->ram, TSS2 + 0x28), ==, 0xdead);
	g_assert_cmphex(ct_get32(e->ram, TSS2 + 0x20), ==, 0x7010);
	saved_flags = ct_get32(e->ram, TSS2 + 0x24);
	g_assert_cmphex(saved_flags, ==, 0x2); /* NT cleared in the image */
	get_state(e, &after);
	g_assert_true(after.cr0 & GH_CR0_TS);
	after.cr0 &= ~GH_CR0_TS;
	after.cr3 = 0;
	assert_state_eq(&e->s, &after);

	/* JMP: no link, no NT, the old task is no longer busy */
	ct_put16(e->ram, TSS2, 0xffff);
	env_apply(e);
	g_assert_cmpint(TRY(cpu, gh_cpu_far_jmp(cpu, S_TSS2, 0, 4)), ==, 0);
	g_assert_cmphex(gdt_access(e, S_TSS1), ==, 0x89);
	g_assert_cmphex(gdt_access(e, S_TSS2), ==, 0x8b);
	g_assert_cmphex(ct_get16(e->ram, TSS2), ==, 0xffff);
	g_assert_cmphex(cpu->rflags, ==, 0x2);
	/* a busy TSS cannot be jumped to */
	ct_gdt_set(e->ram, S_TSS1, ct_seg_desc(TSS1, 0x67, 0x8b, 0));
	env_apply(e);
	assert_fault(cpu, TRY(cpu, gh_cpu_far_jmp(cpu, S_TSS1, 0, 4)), GH_EXC_GP, S_TSS1);
	/* nor one whose limit is too small: #TS */
	ct_gdt_set(e->ram, S_TSS2, ct_seg_desc(TSS2, 0x60, 0x89, 0));
	assert_fault(cpu, TRY(cpu, gh_cpu_far_jmp(cpu, S_TSS2, 0, 4)), GH_EXC_TS, S_TSS2);
	ct_gdt_set(e->ram, S_TSS2, ct_seg_desc(TSS2, 0x67, 0x89, 0));

	/* a bad CS in the new task faults after the switch, in the new task */
	ct_put16(e->ram, TSS2 + 0x4c, S_DATA0);
	assert_fault(cpu, TRY(cpu, gh_cpu_far_jmp(cpu, S_TSS2, 0, 4)), GH_EXC_TS,
		     S_DATA0);
	g_assert_cmphex(cpu->tr.selector, ==, S_TSS2);
	g_assert_cmphex(cpu->prev_rip, ==, 0x7010); /* saved by the IRET above */
	g_assert_cmphex(cpu->seg[GH_CS].selector, ==, S_DATA0);
	env_free(e);
}

static void test_task_16(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	prot_state(e, 0);
	e->s.gpr[GH_RAX] = 0x12345678;
	env_apply(e);
	ct_put16(e->ram, TSS16 + 0x0e, 0x1234); /* IP */
	ct_put16(e->ram, TSS16 + 0x10, 0x0002 | GH_FL_CF);
	ct_put16(e->ram, TSS16 + 0x12, 0xaaaa);	  /* AX */
	ct_put16(e->ram, TSS16 + 0x1a, 0x0ffe);	  /* SP */
	ct_put16(e->ram, TSS16 + 0x22, S_DATA16); /* ES */
	ct_put16(e->ram, TSS16 + 0x24, S_CODE16); /* CS */
	ct_put16(e->ram, TSS16 + 0x26, S_DATA16); /* SS */
	ct_put16(e->ram, TSS16 + 0x28, S_DATA16); /* DS */
	g_assert_cmpint(TRY(cpu, gh_cpu_far_call(cpu, S_TSS16, 0, 4)), ==, 0);
	g_assert_cmphex(cpu->rip, ==, 0x1234);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0x1234aaaa);
	g_assert_cmphex(cpu->gpr[GH_RSP] & 0xffff, ==, 0x0ffe);
	g_assert_cmphex(cpu->rflags, ==, 0x2 | GH_FL_CF | GH_FL_NT);
	g_assert_cmphex(cpu->seg[GH_CS].selector, ==, S_CODE16);
	g_assert_cmpuint(cpu->tr.type, ==, 3); /* busy 16-bit TSS */
	g_assert_cmphex(ct_get16(e->ram, TSS16), ==, S_TSS1);
	g_assert_true(cpu->seg[GH_FS].unusable);
	/* and back through the 16-bit link */
	cpu->gpr[GH_RAX] = 0x1234bbbb;
	g_assert_cmpint(TRY(cpu, gh_cpu_iret(cpu, 2)), ==, 0);
	g_assert_cmphex(cpu->tr.selector, ==, S_TSS1);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0x12345678);
	g_assert_cmphex(ct_get16(e->ram, TSS16 + 0x12), ==, 0xbbbb);
	g_assert_cmphex(gdt_access(e, S_TSS16), ==, 0x81);
	env_free(e);
}

/* A #DF through a task gate: the classic double-fault handler. */
static void test_task_gate(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	prot_state(e, 0);
	idt_set(e, GH_EXC_GP, ct_gate_desc(S_CODE0, 0x5d00, 0x0e, 0)); /* not present */
	idt_set(e, GH_EXC_NP, ct_gate_desc(S_CODE0, 0x5b00, 0x0e, 0)); /* not present */
	idt_set(e, GH_EXC_DF, ct_gate_desc(S_TSS3, 0, 0x85, 0));
	tss32_task(e, TSS3, 0x7100, S_CODE0, S_DATA0, 0xa800);
	e->ram[TSS3 + 0x64] = 1; /* T */
	env_apply(e);
	RUN(cpu, gh_cpu_raise(cpu, GH_EXC_GP, 0));
	g_assert_false(cpu->shutdown);
	g_assert_cmphex(cpu->tr.selector, ==, S_TSS3);
	g_assert_cmphex(cpu->rip, ==, 0x7100);
	g_assert_cmphex(cpu->rflags, ==, 0x2 | GH_FL_NT);
	g_assert_cmphex(ct_get16(e->ram, TSS3), ==, S_TSS1);
	/* the error code (0) on the new task's stack */
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0xa800 - 4);
	g_assert_cmphex(ct_get32(e->ram, 0xa800 - 4), ==, 0);
	g_assert_cmphex(cpu->pending_dbg, ==, GH_DR6_BT);
	/* the faulting task's EIP is the faulting instruction */
	g_assert_cmphex(ct_get32(e->ram, TSS1 + 0x20), ==, 0x4000);

	/* a task gate whose TSS is busy: #GP(TSS + EXT) while delivering
	 * #DF, so a triple fault */
	env_apply(e);
	ct_gdt_set(e->ram, S_TSS3, ct_seg_desc(TSS3, 0x67, 0x8b, 0));
	RUN(cpu, gh_cpu_raise(cpu, GH_EXC_GP, 0));
	g_assert_true(cpu->shutdown);
	env_free(e);
}

/* ---- long mode ---- */

/* 64-bit mode at CPL 0 or 3: the low 2 MiB identity-mapped with a 2M page. */
static void long_state(struct env *e, unsigned cpl)
{
	struct gh_cpu_state *s = &e->s;

	/* 2 MiB page at 0, P RW US PS */
	ct_put64(e->ram, ct_map_low(e->ram, PML4, 7), 0x87);
	ct_gdt_set(e->ram, S_CODE64_3, ct_seg_desc(0, 0xfffff, 0xfb, 0xa));
	ct_gdt_set(e->ram, S_TSS64, ct_seg_desc(TSS_LONG, 0x67, 0x8b, 0));
	ct_put64(e->ram, GDT_BASE + S_TSS64 + 8, 0);
	ct_put64(e->ram, TSS_LONG + 4, 0x9008);	   /* RSP0, not 16-byte aligned */
	ct_put64(e->ram, TSS_LONG + 0x24, 0xb008); /* IST1 */
	prot_state(e, cpl);
	ct_long_mode(s, PML4);
	ct_seg_from_gdt(e->ram, cpl ? S_CODE64_3 : S_CODE64, &s->seg[GH_CS]);
	ct_seg_from_gdt(e->ram, S_TSS64, &s->tr);
	s->idt.limit = 0xfff;
	s->gpr[GH_RSP] = cpl ? 0x8008 : 0x8808;
}

static void test_long_deliver(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	struct gh_cpu_state after;
	uint64_t f;

	long_state(e, 3);
	ct_idt64_set(e->ram, 0x40, S_CODE64, 0xffff800000005000ULL, 0x8e, 0);
	env_apply(e);
	g_assert_cmpint(cpu->mode, ==, GH_MODE_LONG);
	g_assert_cmpint(TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
			==, 0);
	/* RSP0 aligned down to 16; SS:RSP always pushed; SS null, RPL 0 */
	f = 0x9000 - 40;
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, f);
	g_assert_cmphex(ct_get64(e->ram, f), ==, 0x4000);
	g_assert_cmphex(ct_get64(e->ram, f + 8), ==, S_CODE64_3);
	g_assert_cmphex(ct_get64(e->ram, f + 16), ==, 0x202);
	g_assert_cmphex(ct_get64(e->ram, f + 24), ==, 0x8008);
	g_assert_cmphex(ct_get64(e->ram, f + 32), ==, S_DATA3);
	g_assert_cmphex(cpu->rip, ==, 0xffff800000005000ULL);
	g_assert_cmphex(cpu->seg[GH_SS].selector, ==, 0);
	g_assert_true(cpu->seg[GH_SS].unusable);
	g_assert_cmpuint(cpu->cpl, ==, 0);
	/* IRETQ back to ring 3 */
	g_assert_cmpint(TRY(cpu, gh_cpu_iret(cpu, 8)), ==, 0);
	get_state(e, &after);
	assert_state_eq(&e->s, &after);

	/* IST1 is used even without a privilege change; error code last */
	long_state(e, 0);
	ct_idt64_set(e->ram, GH_EXC_GP, S_CODE64, 0x5200, 0x8e, 1);
	env_apply(e);
	g_assert_cmpint(
	    TRY(cpu, gh_cpu_deliver(cpu, GH_EXC_GP, GH_EVENT_EXCEPTION, true, 0x18)), ==,
	    0);
	f = 0xb000 - 48;
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, f);
	g_assert_cmphex(ct_get64(e->ram, f), ==, 0x18);
	g_assert_cmphex(ct_get64(e->ram, f + 8), ==, 0x4000);
	g_assert_cmphex(ct_get64(e->ram, f + 32), ==, 0x8808);
	g_assert_cmphex(ct_get64(e->ram, f + 40), ==, S_DATA0);
	g_assert_cmphex(cpu->seg[GH_SS].selector, ==, S_DATA0); /* unchanged */
	/* the error code slot is skipped by the handler; IRETQ back */
	cpu->gpr[GH_RSP] += 8;
	g_assert_cmpint(TRY(cpu, gh_cpu_iret(cpu, 8)), ==, 0);
	get_state(e, &after);
	assert_state_eq(&e->s, &after);

	/* same privilege without IST: the current stack, aligned */
	ct_idt64_set(e->ram, 0x41, S_CODE64, 0x5100, 0x8f, 0);
	g_assert_cmpint(TRY(cpu, gh_cpu_deliver(cpu, 0x41, GH_EVENT_EXTERNAL, false, 0)),
			==, 0);
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0x8800 - 40);
	g_assert_cmphex(cpu->rflags, ==, 0x202); /* trap gate */
	env_free(e);
}

static void test_long_faults(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	long_state(e, 3);
	env_apply(e);
	/* a 32-bit gate in long mode */
	ct_put64(e->ram, IDT_BASE + 0x40 * 16, ct_gate_desc(S_CODE64, 0x5000, 0x8e, 0));
	ct_put64(e->ram, IDT_BASE + 0x40 * 16 + 8, 0);
	ct_idt64_set(e->ram, 0x40, S_CODE64, 0x5000, 0x86, 0); /* 16-bit type */
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
		     GH_EXC_GP, 0x40 * 8 + 3);
	/* a gate to 32-bit code */
	ct_idt64_set(e->ram, 0x40, S_CODE0, 0x5000, 0x8e, 0);
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
		     GH_EXC_GP, S_CODE0 | 1);
	/* a non-canonical handler */
	ct_idt64_set(e->ram, 0x40, S_CODE64, 0x0000800000000000ULL, 0x8e, 0);
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
		     GH_EXC_GP, 1);
	/* INT n through a DPL 0 gate from ring 3 */
	ct_idt64_set(e->ram, 0x40, S_CODE64, 0x5000, 0x8e, 0);
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_SOFTWARE, false, 0)),
		     GH_EXC_GP, 0x40 * 8 + 2);
	/* beyond the IDT limit */
	e->s.idt.limit = 0x40 * 16 + 14;
	env_apply(e);
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
		     GH_EXC_GP, 0x40 * 8 + 3);
	/* an IDT in unmapped memory: #PF with CR2, supervisor read */
	e->s.idt.base = 0x400000;
	e->s.idt.limit = 0xfff;
	env_apply(e);
	assert_fault(cpu,
		     TRY(cpu, gh_cpu_deliver(cpu, 0x40, GH_EVENT_EXTERNAL, false, 0)),
		     GH_EXC_PF, 0);
	g_assert_cmphex(cpu->cr2, ==, 0x400000 + 0x40 * 16);
	/* a ring-3 page fault on a push is a user write */
	long_state(e, 3);
	e->s.gpr[GH_RSP] = 0x200008;
	env_apply(e);
	assert_fault(cpu, TRY(cpu, gh_cpu_far_call(cpu, S_CODE64_3, 0x100, 8)), GH_EXC_PF,
		     GH_PFEC_W | GH_PFEC_U);
	g_assert_cmphex(cpu->cr2, ==, 0x200000);
	/* IRET with NT set: #GP(0) in long mode */
	e->s.rflags |= GH_FL_NT;
	env_apply(e);
	assert_fault(cpu, TRY(cpu, gh_cpu_iret(cpu, 8)), GH_EXC_GP, 0);
	env_free(e);
}

static void test_long_iretq(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

#define FRAME64(ip, cs, fl, sp, ss)                                                      \
	do {                                                                             \
		ct_put64(e->ram, 0x8000, ip);                                            \
		ct_put64(e->ram, 0x8008, cs);                                            \
		ct_put64(e->ram, 0x8010, fl);                                            \
		ct_put64(e->ram, 0x8018, sp);                                            \
		ct_put64(e->ram, 0x8020, ss);                                            \
		cpu->gpr[GH_RSP] = 0x8000;                                               \
	} while (0)
	long_state(e, 0);
	env_apply(e);
	/* to compatibility mode at ring 3 */
	FRAME64(0x1234, S_CODE3, 0x202, 0x7000, S_DATA3);
	g_assert_cmpint(TRY(cpu, gh_cpu_iret(cpu, 8)), ==, 0);
	g_assert_cmpint(cpu->mode, ==, GH_MODE_COMPAT);
	g_assert_cmpuint(cpu->cpl, ==, 3);
	g_assert_cmphex(cpu->rip, ==, 0x1234);
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0x7000);
	g_assert_true(cpu->seg[GH_DS].unusable); /* ring-0 DS dropped */
	/* a null SS is fine for a return to ring 0 in 64-bit mode */
	env_apply(e);
	FRAME64(0x1234, S_CODE64, 0x2, 0x7000, 0);
	g_assert_cmpint(TRY(cpu, gh_cpu_iret(cpu, 8)), ==, 0);
	g_assert_cmpint(cpu->mode, ==, GH_MODE_LONG);
	g_assert_true(cpu->seg[GH_SS].unusable);
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0x7000);
	/* ... but not for ring 3, nor for compatibility mode */
	env_apply(e);
	FRAME64(0x1234, S_CODE64_3, 0x2, 0x7000, 3);
	assert_fault(cpu, TRY(cpu, gh_cpu_iret(cpu, 8)), GH_EXC_GP, 0);
	FRAME64(0x1234, S_CODE0, 0x2, 0x7000, 0);
	assert_fault(cpu, TRY(cpu, gh_cpu_iret(cpu, 8)), GH_EXC_GP, 0);
	/* non-canonical RIP */
	FRAME64(0x0000800000000000ULL, S_CODE64, 0x2, 0x7000, S_DATA0);
	assert_fault(cpu, TRY(cpu, gh_cpu_iret(cpu, 8)), GH_EXC_GP, 0);
	/* VM in the image */
	FRAME64(0x1234, S_CODE64, 0x2 | GH_FL_VM, 0x7000, S_DATA0);
	assert_fault(cpu, TRY(cpu, gh_cpu_iret(cpu, 8)), GH_EXC_GP, 0);
	g_assert_cmpint(cpu->mode, ==, GH_MODE_LONG);
#undef FRAME64
	env_free(e);
}

static void test_long_call_gate(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	struct gh_cpu_state after;

	long_state(e, 3);
	e->s.rip = 0x4007;
	ct_gdt_set(e->ram, S_CGATE64, ct_gate_desc(S_CODE64, 0x6000, 0xec, 0));
	ct_put64(e->ram, GDT_BASE + S_CGATE64 + 8, 0xffff8000); /* offset 63:32 */
	env_apply(e);
	g_assert_cmpint(TRY(cpu, gh_cpu_far_call(cpu, S_CGATE64 | 3, 0, 4)), ==, 0);
	g_assert_cmphex(cpu->rip, ==, 0xffff800000006000ULL);
	g_assert_cmpuint(cpu->cpl, ==, 0);
	g_assert_true(cpu->seg[GH_SS].unusable);
	/* SS, RSP, CS, RIP as quadwords on RSP0 (not aligned for gates) */
	g_assert_cmphex(cpu->gpr[GH_RSP], ==, 0x9008 - 32);
	g_assert_cmphex(ct_get64(e->ram, 0x9008 - 32), ==, 0x4007);
	g_assert_cmphex(ct_get64(e->ram, 0x9008 - 24), ==, S_CODE64_3);
	g_assert_cmphex(ct_get64(e->ram, 0x9008 - 16), ==, 0x8008);
	g_assert_cmphex(ct_get64(e->ram, 0x9008 - 8), ==, S_DATA3);
	/* RETF (REX.W) back to ring 3 */
	g_assert_cmpint(TRY(cpu, gh_cpu_far_ret(cpu, 8, 0)), ==, 0);
	get_state(e, &after);
	assert_state_eq(&e->s, &after);
	/* the upper half's type must be 0 */
	ct_put64(e->ram, GDT_BASE + S_CGATE64 + 8, 0xffff8000 | (0xcULL << 40));
	assert_fault(cpu, TRY(cpu, gh_cpu_far_call(cpu, S_CGATE64 | 3, 0, 4)), GH_EXC_GP,
		     S_CGATE64);
	/* no task switches in long mode */
	assert_fault(cpu, TRY(cpu, gh_cpu_far_jmp(cpu, S_TSS2, 0, 4)), GH_EXC_GP, S_TSS2);
	env_free(e);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cpu-except/state", test_state);
	g_test_add_func("/cpu-except/load-seg", test_load_seg);
	g_test_add_func("/cpu-except/real-int", test_real_int);
	g_test_add_func("/cpu-except/real-ivt-limit", test_real_ivt_limit);
	g_test_add_func("/cpu-except/prot-same-priv", test_prot_same_priv);
	g_test_add_func("/cpu-except/prot-inner-priv", test_prot_inner_priv);
	g_test_add_func("/cpu-except/gate-faults", test_gate_faults);
	g_test_add_func("/cpu-except/double-fault", test_double_fault);
	g_test_add_func("/cpu-except/v86", test_v86);
	g_test_add_func("/cpu-except/iret-faults", test_iret_faults);
	g_test_add_func("/cpu-except/far-jmp", test_far_jmp);
	g_test_add_func("/cpu-except/call-gate", test_call_gate);
	g_test_add_func("/cpu-except/task-switch", test_task_switch);
	g_test_add_func("/cpu-except/task-16", test_task_16);
	g_test_add_func("/cpu-except/task-gate", test_task_gate);
	g_test_add_func("/cpu-except/long-deliver", test_long_deliver);
	g_test_add_func("/cpu-except/long-faults", test_long_faults);
	g_test_add_func("/cpu-except/long-iretq", test_long_iretq);
	g_test_add_func("/cpu-except/long-call-gate", test_long_call_gate);
	return g_test_run();
}
