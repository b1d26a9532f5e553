/*
 * Tests for the local APICs (devices/pc/lapic.c), driven as each CPU sees
 * them: its register page, its MSRs and CR8, INTR and INTA, on a manual
 * clock; INIT, SIPI and NMI are caught by the VM's signal hook.
 */
#include "devtest.h"

#include <errno.h>
#include <glib.h>

#include "gh/apic.h"

#define NCPUS 4

#define ID 0x020
#define VER 0x030
#define TPR 0x080
#define APR 0x090
#define PPR 0x0a0
#define EOI 0x0b0
#define LDR 0x0d0
#define DFR 0x0e0
#define SVR 0x0f0
#define ISR 0x100
#define TMR 0x180
#define IRR 0x200
#define ESR 0x280
#define ICR_LO 0x300
#define ICR_HI 0x310
#define LVT_TIMER 0x320
#define LVT_LINT0 0x350
#define LVT_LINT1 0x360
#define LVT_ERROR 0x370
#define TIMER_INIT 0x380
#define TIMER_CUR 0x390
#define TIMER_DCR 0x3e0

#define MSR_APIC_BASE 0x1b
#define MSR_TSC_DEADLINE 0x6e0

struct signal {
	unsigned cpu;
	int kind;
	uint8_t vector;
};

struct fx {
	struct gh_vm *vm;
	struct gh_device *lapic;
	struct gh_device *pic;
	struct signal sig[16];
	unsigned nsig;
};

static void on_signal(void *opaque, unsigned cpu, int kind, uint8_t vector)
{
	struct fx *f = opaque;

	g_assert_cmpuint(f->nsig, <, G_N_ELEMENTS(f->sig));
	f->sig[f->nsig++] = (struct signal){ cpu, kind, vector };
}

static void fx_setup(struct fx *f, gconstpointer data)
{
	(void)data;
	f->vm = dt_vm_new();
	f->pic = dt_dev_new(f->vm, &gh_i8259_type,
			    &(struct gh_device_cfg){ .irq = -1 });
	f->lapic = dt_dev_new(f->vm, &gh_lapic_type,
			      &(struct gh_device_cfg){ .irq = -1, .ncpus = NCPUS });
	gh_vm_set_cpu_signal_hook(f->vm, on_signal, f);
}

static void fx_teardown(struct fx *f, gconstpointer data)
{
	(void)data;
	gh_device_free(f->lapic);
	gh_device_free(f->pic);
	gh_vm_free(f->vm);
}

static uint32_t rd(struct fx *f, unsigned cpu, unsigned reg)
{
	return (uint32_t)gh_vm_cpu_mmio_read(f->vm, cpu, GH_LAPIC_BASE + reg, 4);
}

static void wr(struct fx *f, unsigned cpu, unsigned reg, uint32_t v)
{
	gh_vm_cpu_mmio_write(f->vm, cpu, GH_LAPIC_BASE + reg, v, 4);
}

static bool bit256(struct fx *f, unsigned cpu, unsigned base, unsigned v)
{
	return rd(f, cpu, base + (v / 32) * 0x10) & (1u << (v % 32));
}

static bool irr(struct fx *f, unsigned cpu, unsigned v)
{
	return bit256(f, cpu, IRR, v);
}

static bool isr(struct fx *f, unsigned cpu, unsigned v)
{
	return bit256(f, cpu, ISR, v);
}

static bool pending(struct fx *f, unsigned cpu)
{
	return gh_vm_cpu_intr_pending(f->vm, cpu);
}

static int ack(struct fx *f, unsigned cpu)
{
	return gh_vm_cpu_intr_ack(f->vm, cpu);
}

static uint64_t rdmsr(struct fx *f, unsigned cpu, uint32_t index)
{
	uint64_t v = 0;

	g_assert_cmpint(gh_vm_cpu_msr(f->vm, cpu, index, false, &v, 0), ==, 0);
	return v;
}

static int wrmsr(struct fx *f, unsigned cpu, uint32_t index, uint64_t v,
		 uint64_t tsc)
{
	return gh_vm_cpu_msr(f->vm, cpu, index, true, &v, tsc);
}

static void enable_all(struct fx *f)
{
	for (unsigned i = 0; i < NCPUS; i++)
		wr(f, i, SVR, 0x1ff);
}

/* Acks the highest request, checks its vector, and EOIs it. */
static void take(struct fx *f, unsigned cpu, int vector)
{
	g_assert_true(pending(f, cpu));
	g_assert_cmpint(ack(f, cpu), ==, vector);
	wr(f, cpu, EOI, 0);
}

static void send(struct fx *f, unsigned cpu, uint8_t dest, uint32_t lo)
{
	wr(f, cpu, ICR_HI, (uint32_t)dest << 24);
	wr(f, cpu, ICR_LO, lo);
}

static void test_reset(struct fx *f, gconstpointer data)
{
	(void)data;
	for (unsigned i = 0; i < NCPUS; i++) {
		g_assert_cmphex(rd(f, i, ID), ==, i << 24);
		g_assert_cmphex(rd(f, i, VER), ==, 0x00050014);
		g_assert_cmphex(rd(f, i, SVR), ==, 0xff);
		g_assert_cmphex(rd(f, i, DFR), ==, 0xffffffff);
		g_assert_cmphex(rd(f, i, LDR), ==, 0);
		g_assert_cmphex(rd(f, i, TPR), ==, 0);
		g_assert_cmphex(rd(f, i, LVT_TIMER), ==, 0x10000);
		g_assert_cmphex(rd(f, i, LVT_LINT1), ==, 0x10000);
		g_assert_cmphex(rd(f, i, LVT_ERROR), ==, 0x10000);
		/* the boot CPU's LINT0 is the 8259's virtual wire */
		g_assert_cmphex(rd(f, i, LVT_LINT0), ==, i ? 0x10000 : 0x700);
		g_assert_cmphex(rdmsr(f, i, MSR_APIC_BASE), ==,
				0xfee00800 | (i ? 0 : 0x100));
		g_assert_false(pending(f, i));
	}
	/* narrow reads get their bytes; the rest of 16 bytes reads 0 */
	g_assert_cmphex(gh_vm_cpu_mmio_read(f->vm, 0, GH_LAPIC_BASE + VER + 2, 1),
			==, 0x05);
	g_assert_cmphex(gh_vm_cpu_mmio_read(f->vm, 0, GH_LAPIC_BASE + VER + 4, 4),
			==, 0);
	/* x2APIC MSRs do not exist (not advertised) */
	g_assert_cmpint(gh_vm_cpu_msr(f->vm, 0, 0x802, false, &(uint64_t){ 0 }, 0),
			==, -ENOENT);
}

/* One-shot: counts down at bus/divide, fires once at zero. */
static void test_timer_oneshot(struct fx *f, gconstpointer data)
{
	(void)data;
	enable_all(f);
	wr(f, 0, TIMER_DCR, 0xb);	/* divide by 1 */
	wr(f, 0, LVT_TIMER, 0x40);
	wr(f, 0, TIMER_INIT, 1000);
	g_assert_cmpuint(rd(f, 0, TIMER_INIT), ==, 1000);
	g_assert_cmpuint(rd(f, 0, TIMER_CUR), ==, 1000);
	dt_advance(f->vm, 250);
	g_assert_cmpuint(rd(f, 0, TIMER_CUR), ==, 750);
	dt_advance(f->vm, 749);
	g_assert_cmpuint(rd(f, 0, TIMER_CUR), ==, 1);
	g_assert_false(pending(f, 0));
	dt_advance(f->vm, 1);
	g_assert_cmpuint(rd(f, 0, TIMER_CUR), ==, 0);
	g_assert_true(irr(f, 0, 0x40));
	g_assert_false(bit256(f, 0, TMR, 0x40));
	take(f, 0, 0x40);
	dt_advance(f->vm, 10000);
	g_assert_false(pending(f, 0));
	g_assert_cmpuint(rd(f, 0, TIMER_CUR), ==, 0);
	/* the other CPUs' timers did not move */
	g_assert_false(pending(f, 1));
	/* writing 0 stops a running count */
	wr(f, 0, TIMER_INIT, 500);
	wr(f, 0, TIMER_INIT, 0);
	dt_advance(f->vm, 1000);
	g_assert_false(pending(f, 0));
}

/* Every divide configuration (figure 10-10): DCR bits 3, 1:0. */
static void test_timer_divide(struct fx *f, gconstpointer data)
{
	static const struct { uint32_t dcr; unsigned div; } cfgs[] = {
		{ 0x0, 2 }, { 0x1, 4 }, { 0x2, 8 }, { 0x3, 16 },
		{ 0x8, 32 }, { 0x9, 64 }, { 0xa, 128 }, { 0xb, 1 },
	};

	(void)data;
	enable_all(f);
	wr(f, 1, LVT_TIMER, 0x41);
	for (unsigned k = 0; k < G_N_ELEMENTS(cfgs); k++) {
		unsigned d = cfgs[k].div;

		wr(f, 1, TIMER_DCR, cfgs[k].dcr);
		g_assert_cmphex(rd(f, 1, TIMER_DCR), ==, cfgs[k].dcr);
		wr(f, 1, TIMER_INIT, 100);
		dt_advance(f->vm, 10 * d);
		g_assert_cmpuint(rd(f, 1, TIMER_CUR), ==, 90);
		dt_advance(f->vm, 90 * d - 1);
		g_assert_cmpuint(rd(f, 1, TIMER_CUR), ==, 1);
		g_assert_false(pending(f, 1));
		dt_advance(f->vm, 1);
		take(f, 1, 0x41);
	}
	/* a new divider applies to the rest of a running count */
	wr(f, 1, TIMER_DCR, 0xb);
	wr(f, 1, TIMER_INIT, 1000);
	dt_advance(f->vm, 400);
	wr(f, 1, TIMER_DCR, 0x0);	/* /2: 600 counts left take 1200 ns */
	g_assert_cmpuint(rd(f, 1, TIMER_CUR), ==, 600);
	dt_advance(f->vm, 1199);
	g_assert_false(pending(f, 1));
	dt_advance(f->vm, 1);
	take(f, 1, 0x41);
}

static void test_timer_periodic(struct fx *f, gconstpointer data)
{
	(void)data;
	enable_all(f);
	wr(f, 0, TIMER_DCR, 0x1);	/* /4 */
	wr(f, 0, LVT_TIMER, 0x20000 | 0x50);
	wr(f, 0, TIMER_INIT, 500);	/* 2000 ns */
	for (unsigned k = 0; k < 3; k++) {
		dt_advance(f->vm, 1000);
		g_assert_cmpuint(rd(f, 0, TIMER_CUR), ==, 250);
		g_assert_false(pending(f, 0));
		dt_advance(f->vm, 1000);
		/* reloaded at zero */
		g_assert_cmpuint(rd(f, 0, TIMER_CUR), ==, 500);
		take(f, 0, 0x50);
	}
	/* masked: it counts on, but interrupts nothing */
	wr(f, 0, LVT_TIMER, 0x30000 | 0x50);
	dt_advance(f->vm, 4500);
	g_assert_false(pending(f, 0));
	g_assert_cmpuint(rd(f, 0, TIMER_CUR), ==, 375);
	/* unmasked again: the next zero interrupts */
	wr(f, 0, LVT_TIMER, 0x20000 | 0x50);
	dt_advance(f->vm, 1500);
	take(f, 0, 0x50);
	/* one-shot from now on: this period is the last */
	wr(f, 0, LVT_TIMER, 0x50);
	dt_advance(f->vm, 2000);
	take(f, 0, 0x50);
	dt_advance(f->vm, 10000);
	g_assert_false(pending(f, 0));
}

/* TSC-deadline mode: the deadline is in TSC units (1 GHz, as the bus). */
static void test_timer_deadline(struct fx *f, gconstpointer data)
{
	(void)data;
	enable_all(f);
	/* outside the mode the MSR reads 0 and ignores writes */
	g_assert_cmpint(wrmsr(f, 0, MSR_TSC_DEADLINE, 5000, 1000), ==, 0);
	g_assert_cmphex(rdmsr(f, 0, MSR_TSC_DEADLINE), ==, 0);
	dt_advance(f->vm, 10000);
	g_assert_false(pending(f, 0));

	wr(f, 0, LVT_TIMER, 0x40000 | 0x60);
	/* the initial count is ignored in this mode */
	wr(f, 0, TIMER_INIT, 10);
	g_assert_cmpuint(rd(f, 0, TIMER_INIT), ==, 0);
	g_assert_cmpint(wrmsr(f, 0, MSR_TSC_DEADLINE, 1500, 1000), ==, 0);
	g_assert_cmphex(rdmsr(f, 0, MSR_TSC_DEADLINE), ==, 1500);
	dt_advance(f->vm, 499);
	g_assert_false(pending(f, 0));
	dt_advance(f->vm, 1);
	g_assert_cmphex(rdmsr(f, 0, MSR_TSC_DEADLINE), ==, 0);
	take(f, 0, 0x60);
	/* a deadline already past fires at once; 0 disarms */
	g_assert_cmpint(wrmsr(f, 0, MSR_TSC_DEADLINE, 100, 1000), ==, 0);
	dt_advance(f->vm, 0);
	take(f, 0, 0x60);
	g_assert_cmpint(wrmsr(f, 0, MSR_TSC_DEADLINE, 3000, 1000), ==, 0);
	g_assert_cmpint(wrmsr(f, 0, MSR_TSC_DEADLINE, 0, 1000), ==, 0);
	dt_advance(f->vm, 5000);
	g_assert_false(pending(f, 0));
	/* leaving the mode disarms an armed deadline */
	g_assert_cmpint(wrmsr(f, 0, MSR_TSC_DEADLINE, 3000, 1000), ==, 0);
	wr(f, 0, LVT_TIMER, 0x60);
	dt_advance(f->vm, 5000);
	g_assert_false(pending(f, 0));
}

/* Fixed IPIs: physical and logical destinations, every shorthand. */
static void test_ipi_fixed(struct fx *f, gconstpointer data)
{
	(void)data;
	enable_all(f);
	/* physical to CPU 2, edge: TMR clear; the ICR reads back idle */
	send(f, 0, 2, 0x4031);
	g_assert_true(irr(f, 2, 0x31));
	g_assert_false(bit256(f, 2, TMR, 0x31));
	g_assert_cmphex(rd(f, 0, ICR_LO), ==, 0x4031);
	g_assert_cmphex(rd(f, 0, ICR_HI), ==, 2u << 24);
	for (unsigned i = 0; i < NCPUS; i++)
		g_assert_cmpint(pending(f, i), ==, i == 2);
	take(f, 2, 0x31);
	/* physical broadcast 0xff */
	send(f, 1, 0xff, 0x32);
	for (unsigned i = 0; i < NCPUS; i++)
		take(f, i, 0x32);
	/* shorthand self */
	send(f, 3, 0, (1u << 18) | 0x33);
	for (unsigned i = 0; i < NCPUS; i++)
		g_assert_cmpint(pending(f, i), ==, i == 3);
	take(f, 3, 0x33);
	/* all including self */
	send(f, 3, 0, (2u << 18) | 0x34);
	for (unsigned i = 0; i < NCPUS; i++)
		take(f, i, 0x34);
	/* all excluding self */
	send(f, 3, 0, (3u << 18) | 0x35);
	for (unsigned i = 0; i < NCPUS; i++)
		g_assert_cmpint(pending(f, i), ==, i != 3);
	for (unsigned i = 0; i < 3; i++)
		take(f, i, 0x35);

	/* logical, flat model: LDR bits are a mask */
	for (unsigned i = 0; i < NCPUS; i++)
		wr(f, i, LDR, (1u << i) << 24);
	send(f, 0, 0x0a, (1u << 11) | 0x36);	/* CPUs 1 and 3 */
	for (unsigned i = 0; i < NCPUS; i++)
		g_assert_cmpint(pending(f, i), ==, i == 1 || i == 3);
	take(f, 1, 0x36);
	take(f, 3, 0x36);
	/* logical, cluster model: cluster in 7:4, members in 3:0 */
	for (unsigned i = 0; i < NCPUS; i++) {
		wr(f, i, DFR, 0x0fffffff);
		g_assert_cmphex(rd(f, i, DFR), ==, 0x0fffffff);
		wr(f, i, LDR, ((i / 2) << 28 | (1u << (i % 2)) << 24));
	}
	send(f, 0, 0x13, (1u << 11) | 0x37);	/* cluster 1, both members */
	for (unsigned i = 0; i < NCPUS; i++)
		g_assert_cmpint(pending(f, i), ==, i >= 2);
	take(f, 2, 0x37);
	take(f, 3, 0x37);
	send(f, 0, 0x02, (1u << 11) | 0x38);	/* cluster 0, member 1 */
	for (unsigned i = 0; i < NCPUS; i++)
		g_assert_cmpint(pending(f, i), ==, i == 1);
	take(f, 1, 0x38);
	/* no match, no delivery; a globally disabled APIC takes nothing */
	send(f, 0, 7, 0x39);
	g_assert_cmpint(wrmsr(f, 1, MSR_APIC_BASE, 0xfee00000, 0), ==, 0);
	send(f, 0, 0xff, 0x3a);
	g_assert_false(pending(f, 1));
	g_assert_false(irr(f, 0, 0x39));
	take(f, 0, 0x3a);
}

/* Lowest priority goes to the lowest arbitration priority (TPR here). */
static void test_ipi_lowest(struct fx *f, gconstpointer data)
{
	(void)data;
	enable_all(f);
	for (unsigned i = 0; i < NCPUS; i++) {
		wr(f, i, LDR, 0xff000000);
		wr(f, i, TPR, 0x40);
	}
	wr(f, 2, TPR, 0x10);
	g_assert_cmphex(rd(f, 2, APR), ==, 0x10);
	send(f, 0, 0xff, (1u << 11) | 0x100 | 0x51);
	for (unsigned i = 0; i < NCPUS; i++)
		g_assert_cmpint(irr(f, i, 0x51), ==, i == 2);
	/* pending 0x51 raises CPU 2's APR above the others' */
	g_assert_cmphex(rd(f, 2, APR), ==, 0x50);
	send(f, 0, 0xff, (1u << 11) | 0x100 | 0x52);
	g_assert_true(irr(f, 0, 0x52));
}

/* NMI, INIT, SIPI; INIT level de-assert does nothing; SMI is ignored. */
static void test_ipi_signals(struct fx *f, gconstpointer data)
{
	(void)data;
	enable_all(f);
	wr(f, 1, TPR, 0x20);
	wr(f, 1, LDR, 0x5 << 24);
	send(f, 0, 1, 0x400);			/* NMI */
	send(f, 0, 0, (3u << 18) | 0x4500);	/* INIT, all but self */
	send(f, 0, 0, (3u << 18) | 0x8500);	/* INIT de-assert */
	send(f, 0, 3, 0x4608);			/* SIPI 0x08 to CPU 3 */
	send(f, 0, 3, 0x200);			/* SMI */
	g_assert_cmpuint(f->nsig, ==, 1 + 3 + 1);
	g_assert_cmpuint(f->sig[0].cpu, ==, 1);
	g_assert_cmpint(f->sig[0].kind, ==, GH_CPU_SIGNAL_NMI);
	for (unsigned k = 0; k < 3; k++) {
		g_assert_cmpuint(f->sig[1 + k].cpu, ==, 1 + k);
		g_assert_cmpint(f->sig[1 + k].kind, ==, GH_CPU_SIGNAL_INIT);
	}
	g_assert_cmpint(f->sig[4].kind, ==, GH_CPU_SIGNAL_SIPI);
	g_assert_cmpuint(f->sig[4].cpu, ==, 3);
	g_assert_cmpuint(f->sig[4].vector, ==, 0x08);
	/* INIT put the APIC back in its reset state, but for its ID */
	g_assert_cmphex(rd(f, 1, TPR), ==, 0);
	g_assert_cmphex(rd(f, 1, LDR), ==, 0);
	g_assert_cmphex(rd(f, 1, SVR), ==, 0xff);
	g_assert_cmphex(rd(f, 1, ID), ==, 1u << 24);
	g_assert_cmphex(rd(f, 0, SVR), ==, 0x1ff);
}

/* EOI retires the highest in-service vector; nesting by priority class. */
static void test_eoi_nested(struct fx *f, gconstpointer data)
{
	(void)data;
	enable_all(f);
	send(f, 0, 0, (1u << 18) | 0x50);
	g_assert_cmpint(ack(f, 0), ==, 0x50);
	g_assert_true(isr(f, 0, 0x50));
	g_assert_cmphex(rd(f, 0, PPR), ==, 0x50);
	/* same class: held until the EOI */
	send(f, 0, 0, (1u << 18) | 0x58);
	g_assert_false(pending(f, 0));
	/* higher class nests */
	send(f, 0, 0, (1u << 18) | 0x80);
	g_assert_true(pending(f, 0));
	g_assert_cmpint(ack(f, 0), ==, 0x80);
	g_assert_cmphex(rd(f, 0, PPR), ==, 0x80);
	g_assert_false(pending(f, 0));
	wr(f, 0, EOI, 0);
	g_assert_false(isr(f, 0, 0x80));
	g_assert_true(isr(f, 0, 0x50));
	g_assert_false(pending(f, 0));
	wr(f, 0, EOI, 0);
	g_assert_false(isr(f, 0, 0x50));
	take(f, 0, 0x58);
	g_assert_cmphex(rd(f, 0, PPR), ==, 0);
	/* an EOI with nothing in service is harmless */
	wr(f, 0, EOI, 0);
}

/* TPR and CR8 mask classes at or below theirs. */
static void test_tpr(struct fx *f, gconstpointer data)
{
	uint64_t v;

	(void)data;
	enable_all(f);
	wr(f, 0, TPR, 0x5f);
	g_assert_cmphex(rd(f, 0, PPR), ==, 0x5f);
	send(f, 0, 0, (1u << 18) | 0x45);
	send(f, 0, 0, (1u << 18) | 0x55);
	g_assert_false(pending(f, 0));
	g_assert_cmpint(gh_vm_cpu_cr8(f->vm, 0, false, &v), ==, 0);
	g_assert_cmpuint(v, ==, 5);
	/* CR8 writes TPR[7:4] and clears TPR[3:0] */
	v = 4;
	g_assert_cmpint(gh_vm_cpu_cr8(f->vm, 0, true, &v), ==, 0);
	g_assert_cmphex(rd(f, 0, TPR), ==, 0x40);
	g_assert_true(pending(f, 0));
	g_assert_cmpint(ack(f, 0), ==, 0x55);
	wr(f, 0, EOI, 0);
	g_assert_false(pending(f, 0));	/* 0x45 is class 4 */
	wr(f, 0, TPR, 0);
	take(f, 0, 0x45);
}

/* A request masked between INTR and INTA gives the spurious vector;
 * software disable masks the LVT and holds INTR low. */
static void test_spurious(struct fx *f, gconstpointer data)
{
	(void)data;
	wr(f, 0, SVR, 0x1ef);
	send(f, 0, 0, (1u << 18) | 0x61);
	g_assert_true(pending(f, 0));
	wr(f, 0, TPR, 0xf0);
	g_assert_cmpint(ack(f, 0), ==, 0xef);
	g_assert_false(isr(f, 0, 0x61));
	g_assert_true(irr(f, 0, 0x61));
	wr(f, 0, TPR, 0);
	/* software disabled: the request is held, not signalled */
	wr(f, 0, LVT_TIMER, 0x70);
	wr(f, 0, SVR, 0x0ef);
	g_assert_false(pending(f, 0));
	g_assert_cmphex(rd(f, 0, LVT_TIMER), ==, 0x10070);
	wr(f, 0, LVT_TIMER, 0x70);
	g_assert_cmphex(rd(f, 0, LVT_TIMER), ==, 0x10070);
	wr(f, 0, SVR, 0x1ef);
	take(f, 0, 0x61);
}

/* ESR: errors latch into the readable register on the next write. */
static void test_esr(struct fx *f, gconstpointer data)
{
	(void)data;
	enable_all(f);
	wr(f, 0, LVT_ERROR, 0x7e);
	send(f, 0, 1, 0x05);		/* fixed, vector 5: send illegal */
	g_assert_false(irr(f, 1, 0x05));
	g_assert_cmphex(rd(f, 0, ESR), ==, 0);
	wr(f, 0, ESR, 0);
	g_assert_cmphex(rd(f, 0, ESR), ==, 0x20);
	take(f, 0, 0x7e);
	wr(f, 0, ESR, 0);
	g_assert_cmphex(rd(f, 0, ESR), ==, 0);
	/* a message with a vector below 16: receive illegal at the target */
	g_assert_cmpint(gh_irq_msi(gh_vm_irq(f->vm), 0xfee01000, 0x0a), ==, 0);
	wr(f, 1, ESR, 0);
	g_assert_cmphex(rd(f, 1, ESR), ==, 0x40);
	/* an unimplemented register (the CMCI LVT, max LVT is 5) */
	rd(f, 2, 0x2f0);
	wr(f, 2, ESR, 0);
	g_assert_cmphex(rd(f, 2, ESR), ==, 0x80);
	g_assert_false(pending(f, 1));
	g_assert_false(pending(f, 2));
}

/* The 8259 reaches CPU 0 through LINT0 (ExtINT) or a disabled APIC. */
static void test_extint(struct fx *f, gconstpointer data)
{
	static const uint8_t init[][2] = {
		{ 0x20, 0x11 }, { 0x21, 0x08 }, { 0x21, 0x04 }, { 0x21, 0x01 },
		{ 0xa0, 0x11 }, { 0xa1, 0x70 }, { 0xa1, 0x02 }, { 0xa1, 0x01 },
		{ 0x21, 0x00 }, { 0xa1, 0x00 },
	};

	(void)data;
	for (unsigned k = 0; k < G_N_ELEMENTS(init); k++)
		dt_outb(f->vm, init[k][0], init[k][1]);
	gh_irq_set(gh_vm_irq(f->vm), 1, 1);
	g_assert_true(pending(f, 0));
	g_assert_false(pending(f, 1));
	/* LINT0 masked: the PIC is cut off */
	wr(f, 0, SVR, 0x1ff);
	wr(f, 0, LVT_LINT0, 0x10700);
	g_assert_false(pending(f, 0));
	/* globally disabled: straight to the CPU */
	g_assert_cmpint(wrmsr(f, 0, MSR_APIC_BASE, 0xfee00100, 0), ==, 0);
	g_assert_true(pending(f, 0));
	g_assert_cmpint(ack(f, 0), ==, 0x09);
	/* its register page is gone from this CPU's view */
	g_assert_cmphex(rd(f, 0, VER), ==, 0);
	/* re-enabled: in its reset state, LINT0 masked */
	g_assert_cmpint(wrmsr(f, 0, MSR_APIC_BASE, 0xfee00900, 0), ==, 0);
	g_assert_cmphex(rd(f, 0, LVT_LINT0), ==, 0x10000);
	g_assert_cmphex(rd(f, 0, SVR), ==, 0xff);
	dt_outb(f->vm, 0x20, 0x20);
	gh_irq_set(gh_vm_irq(f->vm), 1, 0);
	gh_irq_set(gh_vm_irq(f->vm), 1, 1);
	g_assert_false(pending(f, 0));
	wr(f, 0, SVR, 0x1ff);
	wr(f, 0, LVT_LINT0, 0x700);
	g_assert_true(pending(f, 0));
	g_assert_cmpint(ack(f, 0), ==, 0x09);
	/* an ExtINT message sends another CPU to the PIC for its vector */
	dt_outb(f->vm, 0x20, 0x20);
	gh_irq_set(gh_vm_irq(f->vm), 1, 0);
	gh_irq_set(gh_vm_irq(f->vm), 3, 1);
	g_assert_cmpint(gh_irq_msi(gh_vm_irq(f->vm), 0xfee02000, 0x700), ==, 0);
	wr(f, 2, SVR, 0x1ff);
	g_assert_true(pending(f, 2));
	g_assert_cmpint(ack(f, 2), ==, 0x0b);
}

/* IA32_APIC_BASE moves the page; reserved bits #GP; BSP is read-only. */
static void test_apic_base(struct fx *f, gconstpointer data)
{
	(void)data;
	g_assert_cmpint(wrmsr(f, 1, MSR_APIC_BASE, 0xfed00800, 0), ==, 0);
	g_assert_cmphex(rdmsr(f, 1, MSR_APIC_BASE), ==, 0xfed00800);
	g_assert_cmphex(gh_vm_cpu_mmio_read(f->vm, 1, 0xfed00000 + ID, 4), ==,
			1u << 24);
	/* at the old address CPU 1 now reaches the MSI window (reads 0) */
	g_assert_cmphex(rd(f, 1, VER), ==, 0);
	g_assert_cmphex(rd(f, 0, VER), ==, 0x00050014);
	g_assert_cmpint(wrmsr(f, 1, MSR_APIC_BASE, 0xfed00d00, 0), ==, -EINVAL);
	g_assert_cmpint(wrmsr(f, 1, MSR_APIC_BASE, 0xfed00801, 0), ==, -EINVAL);
	g_assert_cmpint(wrmsr(f, 0, MSR_APIC_BASE, 0xfee00800, 0), ==, 0);
	g_assert_cmphex(rdmsr(f, 0, MSR_APIC_BASE), ==, 0xfee00900);
	/* the ID register is writable in xAPIC mode */
	wr(f, 3, ID, 0x09000000);
	g_assert_cmphex(rd(f, 3, ID), ==, 0x09000000);
	wr(f, 3, SVR, 0x1ff);
	send(f, 0, 9, 0x44);
	take(f, 3, 0x44);
	/* a VM reset brings everything back */
	gh_device_reset(f->lapic);
	g_assert_cmphex(rdmsr(f, 1, MSR_APIC_BASE), ==, 0xfee00800);
	g_assert_cmphex(rd(f, 3, ID), ==, 3u << 24);
}

/* MSI: address and data format (10.11), from the API and as a DMA write. */
static void test_msi(struct fx *f, gconstpointer data)
{
	struct gh_irq *irq = gh_vm_irq(f->vm);

	(void)data;
	enable_all(f);
	g_assert_cmpint(gh_irq_msi(irq, 0xfee01000, 0x61), ==, 0);
	take(f, 1, 0x61);
	/* level trigger sets TMR; logical destination mode (address bit 2) */
	wr(f, 3, LDR, 0x80000000);
	g_assert_cmpint(gh_irq_msi(irq, 0xfee80004, 0xc062), ==, 0);
	g_assert_true(bit256(f, 3, TMR, 0x62));
	take(f, 3, 0x62);
	/* outside 0xFEExxxxx: dropped */
	g_assert_cmpint(gh_irq_msi(irq, 0xfed01000, 0x63), ==, -EINVAL);
	g_assert_false(pending(f, 1));
	/* a DMA master's write into the window */
	gh_bus_write(gh_vm_mmio(f->vm), 0xfee02000, 0x64, 4);
	take(f, 2, 0x64);
	/* NMI by message */
	g_assert_cmpint(gh_irq_msi(irq, 0xfee00000, 0x400), ==, 0);
	g_assert_cmpuint(f->nsig, ==, 1);
	g_assert_cmpint(f->sig[0].kind, ==, GH_CPU_SIGNAL_NMI);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define T(name, fn) g_test_add("/lapic/" name, struct fx, NULL, fx_setup, fn, fx_teardown)
	T("reset", test_reset);
	T("timer-oneshot", test_timer_oneshot);
	T("timer-divide", test_timer_divide);
	T("timer-periodic", test_timer_periodic);
	T("timer-deadline", test_timer_deadline);
	T("ipi-fixed", test_ipi_fixed);
	T("ipi-lowest", test_ipi_lowest);
	T("ipi-signals", test_ipi_signals);
	T("eoi-nested", test_eoi_nested);
	T("tpr", test_tpr);
	T("spurious", test_spurious);
	T("esr", test_esr);
	T("extint", test_extint);
	T("apic-base", test_apic_base);
	T("msi", test_msi);
#undef T
	return g_test_run();
}
