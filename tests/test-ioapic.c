/*
 * Tests for the I/O APIC (devices/pc/ioapic.c): its registers through
 * IOREGSEL/IOWIN, edge and level pins, remote IRR and the EOI broadcast,
 * with the local APICs of two CPUs as the receivers.
 */
#include "devtest.h"

#include <glib.h>

#include "gh/apic.h"

#define NCPUS 2

#define EOI 0x0b0
#define SVR 0x0f0
#define LDR 0x0d0
#define IRR 0x200
#define TMR 0x180

struct fx {
	struct gh_vm *vm;
	struct gh_device *lapic;
	struct gh_device *ioapic;
	struct gh_irq *irq;
};

static uint32_t lrd(struct fx *f, unsigned cpu, unsigned reg)
{
	return (uint32_t)gh_vm_cpu_mmio_read(f->vm, cpu, GH_LAPIC_BASE + reg, 4);
}

static void lwr(struct fx *f, unsigned cpu, unsigned reg, uint32_t v)
{
	gh_vm_cpu_mmio_write(f->vm, cpu, GH_LAPIC_BASE + reg, v, 4);
}

static void fx_setup(struct fx *f, gconstpointer data)
{
	(void)data;
	f->vm = dt_vm_new();
	f->irq = gh_vm_irq(f->vm);
	f->lapic = dt_dev_new(f->vm, &gh_lapic_type,
			      &(struct gh_device_cfg){ .irq = -1, .ncpus = NCPUS });
	f->ioapic = dt_dev_new(f->vm, &gh_ioapic_type,
			       &(struct gh_device_cfg){ .irq = -1 });
	for (unsigned i = 0; i < NCPUS; i++)
		lwr(f, i, SVR, 0x1ff);
}

static void fx_teardown(struct fx *f, gconstpointer data)
{
	(void)data;
	gh_device_free(f->ioapic);
	gh_device_free(f->lapic);
	gh_vm_free(f->vm);
}

static uint32_t io_rd(struct fx *f, uint8_t idx)
{
	gh_bus_write(gh_vm_mmio(f->vm), GH_IOAPIC_BASE, idx, 4);
	return (uint32_t)gh_bus_read(gh_vm_mmio(f->vm), GH_IOAPIC_BASE + 0x10, 4);
}

static void io_wr(struct fx *f, uint8_t idx, uint32_t v)
{
	gh_bus_write(gh_vm_mmio(f->vm), GH_IOAPIC_BASE, idx, 4);
	gh_bus_write(gh_vm_mmio(f->vm), GH_IOAPIC_BASE + 0x10, v, 4);
}

static void route(struct fx *f, unsigned pin, uint32_t lo, uint8_t dest)
{
	io_wr(f, 0x11 + 2 * pin, (uint32_t)dest << 24);
	io_wr(f, 0x10 + 2 * pin, lo);
}

static uint32_t entry_lo(struct fx *f, unsigned pin)
{
	return io_rd(f, 0x10 + 2 * pin);
}

static bool irr(struct fx *f, unsigned cpu, unsigned v)
{
	return lrd(f, cpu, IRR + (v / 32) * 0x10) & (1u << (v % 32));
}

/* INTA and EOI of the expected vector at cpu. */
static void take(struct fx *f, unsigned cpu, int vector)
{
	g_assert_true(gh_vm_cpu_intr_pending(f->vm, cpu));
	g_assert_cmpint(gh_vm_cpu_intr_ack(f->vm, cpu), ==, vector);
	lwr(f, cpu, EOI, 0);
}

static bool pending(struct fx *f, unsigned cpu)
{
	return gh_vm_cpu_intr_pending(f->vm, cpu);
}

static void test_regs(struct fx *f, gconstpointer data)
{
	(void)data;
	g_assert_cmphex(io_rd(f, 1), ==, 0x00170011);
	/* ID: bits 27:24 */
	io_wr(f, 0, 0xff000000);
	g_assert_cmphex(io_rd(f, 0), ==, 0x0f000000);
	g_assert_cmphex(io_rd(f, 2), ==, 0x0f000000);
	io_wr(f, 1, 0);
	g_assert_cmphex(io_rd(f, 1), ==, 0x00170011);
	/* IOREGSEL reads back */
	gh_bus_write(gh_vm_mmio(f->vm), GH_IOAPIC_BASE, 0x23, 4);
	g_assert_cmphex(gh_bus_read(gh_vm_mmio(f->vm), GH_IOAPIC_BASE, 4), ==,
			0x23);
	for (unsigned pin = 0; pin < GH_IOAPIC_PINS; pin++) {
		g_assert_cmphex(entry_lo(f, pin), ==, 0x10000);
		g_assert_cmphex(io_rd(f, 0x11 + 2 * pin), ==, 0);
	}
	/* writable bits only: delivery status and remote IRR are read-only */
	io_wr(f, 0x10 + 2 * 5, 0xffffffff);
	g_assert_cmphex(entry_lo(f, 5), ==, 0x1afff);
	io_wr(f, 0x11 + 2 * 5, 0xffffffff);
	g_assert_cmphex(io_rd(f, 0x11 + 2 * 5), ==, 0xff000000);
	/* past the last entry: nothing */
	g_assert_cmphex(io_rd(f, 0x10 + 2 * GH_IOAPIC_PINS), ==, 0);
	gh_device_reset(f->ioapic);
	g_assert_cmphex(entry_lo(f, 5), ==, 0x10000);
}

static void test_edge(struct fx *f, gconstpointer data)
{
	(void)data;
	route(f, 4, 0x34, 1);
	gh_irq_set(f->irq, 4, 1);
	g_assert_true(irr(f, 1, 0x34));
	g_assert_false(pending(f, 0));
	/* no new edge while high */
	take(f, 1, 0x34);
	gh_irq_set(f->irq, 4, 1);
	g_assert_false(pending(f, 1));
	gh_irq_set(f->irq, 4, 0);
	gh_irq_pulse(f->irq, 4);
	take(f, 1, 0x34);
	/* edge-triggered entries never hold remote IRR */
	g_assert_cmphex(entry_lo(f, 4) & 0x4000, ==, 0);
	/* an edge while masked is lost */
	route(f, 4, 0x10034, 1);
	gh_irq_pulse(f->irq, 4);
	route(f, 4, 0x34, 1);
	g_assert_false(pending(f, 1));
	/* ISA IRQ 0 arrives on pin 2 */
	route(f, 2, 0x30, 0);
	gh_irq_pulse(f->irq, 0);
	take(f, 0, 0x30);
	/* logical destination */
	lwr(f, 1, LDR, 0x02000000);
	route(f, 6, 0x800 | 0x36, 0x02);
	gh_irq_pulse(f->irq, 6);
	g_assert_false(pending(f, 0));
	take(f, 1, 0x36);
	/* NMI delivery mode */
	route(f, 7, 0x400, 0);
	gh_irq_pulse(f->irq, 7);
	g_assert_false(pending(f, 0));
}

/* Level: remote IRR until EOI; still asserted at EOI fires again. */
static void test_level(struct fx *f, gconstpointer data)
{
	(void)data;
	route(f, 9, 0x8000 | 0x39, 0);
	gh_irq_set(f->irq, 9, 1);
	g_assert_true(irr(f, 0, 0x39));
	g_assert_true(lrd(f, 0, TMR + 0x10) & (1u << (0x39 - 32)));
	g_assert_cmphex(entry_lo(f, 9) & 0x4000, ==, 0x4000);
	g_assert_cmpint(gh_vm_cpu_intr_ack(f->vm, 0), ==, 0x39);
	/* while in service nothing more is sent */
	gh_irq_set(f->irq, 9, 0);
	gh_irq_set(f->irq, 9, 1);
	g_assert_false(irr(f, 0, 0x39));
	/* the EOI while still asserted: re-asserted at once */
	lwr(f, 0, EOI, 0);
	g_assert_true(irr(f, 0, 0x39));
	g_assert_cmphex(entry_lo(f, 9) & 0x4000, ==, 0x4000);
	g_assert_cmpint(gh_vm_cpu_intr_ack(f->vm, 0), ==, 0x39);
	/* the device lowers its line before the EOI: done */
	gh_irq_set(f->irq, 9, 0);
	lwr(f, 0, EOI, 0);
	g_assert_cmphex(entry_lo(f, 9) & 0x4000, ==, 0);
	g_assert_false(pending(f, 0));

	/* masked while asserted: nothing, until unmasked */
	route(f, 10, 0x18000 | 0x3a, 1);
	gh_irq_set(f->irq, 10, 1);
	g_assert_false(pending(f, 1));
	route(f, 10, 0x8000 | 0x3a, 1);
	g_assert_true(irr(f, 1, 0x3a));
	gh_irq_set(f->irq, 10, 0);
	take(f, 1, 0x3a);
	g_assert_cmphex(entry_lo(f, 10) & 0x4000, ==, 0);
	/* an edge-triggered vector's EOI leaves other pins' remote IRR alone */
	route(f, 11, 0x8000 | 0x3b, 0);
	route(f, 12, 0x3c, 0);
	gh_irq_set(f->irq, 11, 1);
	gh_irq_pulse(f->irq, 12);
	g_assert_cmpint(gh_vm_cpu_intr_ack(f->vm, 0), ==, 0x3c);
	lwr(f, 0, EOI, 0);
	g_assert_cmphex(entry_lo(f, 11) & 0x4000, ==, 0x4000);
	g_assert_cmpint(gh_vm_cpu_intr_ack(f->vm, 0), ==, 0x3b);
	gh_irq_set(f->irq, 11, 0);
	lwr(f, 0, EOI, 0);
	g_assert_cmphex(entry_lo(f, 11) & 0x4000, ==, 0);
	/* switching a pin to edge clears a stuck remote IRR */
	route(f, 13, 0x8000 | 0x3d, 0);
	gh_irq_set(f->irq, 13, 1);
	g_assert_cmphex(entry_lo(f, 13) & 0x4000, ==, 0x4000);
	route(f, 13, 0x3d, 0);
	g_assert_cmphex(entry_lo(f, 13) & 0x4000, ==, 0);
}

/* Lowest priority from the I/O APIC: the CPU with the lower TPR. */
static void test_lowest(struct fx *f, gconstpointer data)
{
	(void)data;
	lwr(f, 0, LDR, 0x01000000);
	lwr(f, 1, LDR, 0x02000000);
	lwr(f, 0, 0x080, 0x30);
	route(f, 14, 0x900 | 0x3e, 0x03);
	gh_irq_pulse(f->irq, 14);
	g_assert_false(pending(f, 0));
	take(f, 1, 0x3e);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define T(name, fn) g_test_add("/ioapic/" name, struct fx, NULL, fx_setup, fn, fx_teardown)
	T("regs", test_regs);
	T("edge", test_edge);
	T("level", test_level);
	T("lowest", test_lowest);
#undef T
	return g_test_run();
}
