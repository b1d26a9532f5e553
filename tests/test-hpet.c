/*
 * Tests of the HPET (devices/pc/hpet.c) through its MMIO registers as a
 * guest drives them, on the manual clock: the counter rate, halting and
 * writing it, one-shot and periodic comparators, 32-bit mode, edge and
 * level interrupts, routing, and LegacyReplacement taking IRQ 0 from the
 * PIT and IRQ 8 from the RTC.
 */
#include <glib.h>

#include "devtest.h"
#include "gh/x86-acpi.h"

#define US 1000ULL
#define MS 1000000ULL
#define SEC GH_NS_PER_SEC

#define GCAP 0x000
#define CONF 0x010
#define ISR 0x020
#define CNT 0x0f0
#define TCONF(n) (0x100 + 0x20 * (n))
#define TCMP(n) (0x108 + 0x20 * (n))
#define TFSB(n) (0x110 + 0x20 * (n))

#define ENABLE 1ULL
#define LEGACY 2ULL
#define T_LEVEL (1ULL << 1)
#define T_ENB (1ULL << 2)
#define T_PERIODIC (1ULL << 3)
#define T_VAL_SET (1ULL << 6)
#define T_32 (1ULL << 8)
#define ROUTE(n) ((uint64_t)(n) << 9)

struct fix {
	struct gh_vm *vm;
	struct gh_device *dev;
	struct dt_edges e;
};

static void setup(struct fix *f)
{
	struct gh_device_cfg cfg = { .irq = -1 };

	f->vm = dt_vm_new();
	dt_edges_attach(&f->e, f->vm);
	f->dev = dt_dev_new(f->vm, &gh_hpet_type, &cfg);
}

static void teardown(struct fix *f)
{
	gh_device_free(f->dev);
	dt_edges_detach(&f->e);
	gh_vm_free(f->vm);
}

static uint64_t rd(struct fix *f, uint64_t off)
{
	return gh_bus_read(gh_vm_mmio(f->vm), GH_HPET_BASE + off, 8);
}

static uint32_t rd32(struct fix *f, uint64_t off)
{
	return (uint32_t)gh_bus_read(gh_vm_mmio(f->vm), GH_HPET_BASE + off, 4);
}

static void wr(struct fix *f, uint64_t off, uint64_t val)
{
	gh_bus_write(gh_vm_mmio(f->vm), GH_HPET_BASE + off, val, 8);
}

static void wr32(struct fix *f, uint64_t off, uint32_t val)
{
	gh_bus_write(gh_vm_mmio(f->vm), GH_HPET_BASE + off, val, 4);
}

static uint64_t now(struct fix *f)
{
	return gh_clock_ns(gh_vm_clock(f->vm));
}

static void test_caps(void)
{
	struct fix f;

	setup(&f);
	g_assert_cmphex(rd(&f, GCAP), ==, 0x009896808086a201ULL);
	g_assert_cmphex(rd32(&f, GCAP + 4), ==, 10000000);	/* fs: 100 MHz */
	g_assert_cmphex(rd32(&f, GCAP), ==, GH_HPET_ID);
	for (unsigned n = 0; n < 3; n++) {
		/* periodic-capable, 64-bit, pins 20-23, no FSB; one-shot, off */
		g_assert_cmphex(rd(&f, TCONF(n)), ==, 0x00f0000000000030ULL);
		g_assert_cmphex(rd(&f, TCMP(n)), ==, ~0ULL);
		g_assert_cmphex(rd(&f, TFSB(n)), ==, 0);
	}
	/* capabilities and reserved bits do not change */
	wr(&f, GCAP, 0);
	wr(&f, TCONF(0), ~0ULL);
	g_assert_cmphex(rd(&f, GCAP), ==, 0x009896808086a201ULL);
	g_assert_cmphex(rd(&f, TCONF(0)), ==, 0x00f0000000003f7eULL);
	wr(&f, CONF, ~0ULL);
	g_assert_cmphex(rd(&f, CONF), ==, 3);
	/* past the third timer: nothing */
	g_assert_cmphex(rd(&f, TCONF(3)), ==, 0);
	g_assert_cmphex(rd(&f, 0x3f8), ==, 0);
	teardown(&f);
}

static void test_counter(void)
{
	struct fix f;

	setup(&f);
	/* halted at power-on */
	dt_advance(f.vm, MS);
	g_assert_cmphex(rd(&f, CNT), ==, 0);
	wr(&f, CONF, ENABLE);
	dt_advance(f.vm, SEC);
	g_assert_cmphex(rd(&f, CNT), ==, 100000000);
	dt_advance(f.vm, 15);
	g_assert_cmphex(rd(&f, CNT), ==, 100000001);	/* 10 ns a tick */
	/* halting keeps the value; writes while halted set it */
	wr(&f, CONF, 0);
	dt_advance(f.vm, SEC);
	g_assert_cmphex(rd(&f, CNT), ==, 100000001);
	wr(&f, CNT, 0xfffffff0ULL);
	g_assert_cmphex(rd(&f, CNT), ==, 0xfffffff0ULL);
	/* 32-bit halves */
	wr32(&f, CNT + 4, 0x12);
	g_assert_cmphex(rd(&f, CNT), ==, 0x12fffffff0ULL);
	wr32(&f, CNT, 0x34);
	g_assert_cmphex(rd32(&f, CNT), ==, 0x34);
	g_assert_cmphex(rd32(&f, CNT + 4), ==, 0x12);
	/* running on from there, across the low half's wrap */
	wr(&f, CNT, 0xffffff00ULL);
	wr(&f, CONF, ENABLE);
	dt_advance(f.vm, 0x200 * 10);
	g_assert_cmphex(rd(&f, CNT), ==, 0x100000100ULL);
	teardown(&f);
}

static void test_one_shot(void)
{
	struct fix f;
	uint64_t t0;

	setup(&f);
	wr(&f, CONF, ENABLE);
	dt_advance(f.vm, US);
	t0 = now(&f);
	/* 1000 ticks from now: 10 us */
	wr(&f, TCMP(0), rd(&f, CNT) + 1000);
	wr(&f, TCONF(0), T_ENB | ROUTE(20));
	dt_advance(f.vm, 10 * US - 1);
	g_assert_cmpuint(f.e.rises[20], ==, 0);
	dt_advance(f.vm, 1);
	g_assert_cmpuint(f.e.rises[20], ==, 1);
	g_assert_cmpuint(f.e.last_rise_ns[20], ==, t0 + 10 * US);
	g_assert_cmpint(f.e.level[20], ==, 0);		/* an edge */
	g_assert_cmphex(rd(&f, ISR), ==, 0);		/* edge: no status */
	/* a 64-bit comparator passed never matches again */
	dt_advance(f.vm, 100 * SEC);
	g_assert_cmpuint(f.e.rises[20], ==, 1);
	/* nor does one written in the past */
	wr(&f, TCMP(0), rd(&f, CNT) - 5);
	dt_advance(f.vm, SEC);
	g_assert_cmpuint(f.e.rises[20], ==, 1);
	/* with INT_ENB clear it matches but says nothing */
	wr(&f, TCONF(0), ROUTE(20));
	wr(&f, TCMP(0), rd(&f, CNT) + 10);
	dt_advance(f.vm, MS);
	g_assert_cmpuint(f.e.rises[20], ==, 1);
	teardown(&f);
}

static void test_periodic(void)
{
	struct fix f;
	uint64_t t0;

	setup(&f);
	wr(&f, TCONF(1), T_ENB | T_PERIODIC | T_VAL_SET | ROUTE(22));
	/* VAL_SET: this write sets the comparator, and the period */
	wr(&f, TCMP(1), 1000);
	g_assert_cmphex(rd(&f, TCONF(1)) & T_VAL_SET, ==, 0);
	/* without it, a write sets the period only: 10 us */
	wr(&f, TCMP(1), 1000);
	g_assert_cmphex(rd(&f, TCMP(1)), ==, 1000);
	t0 = now(&f);
	wr(&f, CONF, ENABLE);
	dt_advance(f.vm, 10 * US);
	g_assert_cmpuint(f.e.rises[22], ==, 1);
	g_assert_cmpuint(f.e.last_rise_ns[22], ==, t0 + 10 * US);
	/* the comparator reads as the next match */
	g_assert_cmphex(rd(&f, TCMP(1)), ==, 2000);
	/* one step at a time: one edge per period */
	for (unsigned i = 0; i < 99; i++)
		dt_advance(f.vm, 10 * US);
	g_assert_cmpuint(f.e.rises[22], ==, 100);
	g_assert_cmpuint(f.e.last_rise_ns[22], ==, t0 + MS);
	g_assert_cmphex(rd(&f, TCMP(1)), ==, 101000);
	/* a new period takes over after the next match */
	wr(&f, TCMP(1), 500);
	dt_advance(f.vm, 10 * US);
	g_assert_cmpuint(f.e.rises[22], ==, 101);
	dt_advance(f.vm, 5 * US);
	g_assert_cmpuint(f.e.rises[22], ==, 102);
	g_assert_cmpuint(f.e.last_rise_ns[22], ==, t0 + MS + 15 * US);
	/* halting stops it; it goes on from where it was */
	wr(&f, CONF, 0);
	dt_advance(f.vm, MS);
	g_assert_cmpuint(f.e.rises[22], ==, 102);
	wr(&f, CONF, ENABLE);
	dt_advance(f.vm, 5 * US);
	g_assert_cmpuint(f.e.rises[22], ==, 103);
	teardown(&f);
}

/* Linux's clockevent: 32-bit mode, the comparator's low half only. */
static void test_32bit(void)
{
	struct fix f;

	setup(&f);
	wr(&f, CNT, 0x5ffffff00ULL);
	wr(&f, TCONF(2), T_ENB | T_32 | ROUTE(23));
	g_assert_cmphex(rd(&f, TCMP(2)), ==, 0xffffffff);	/* upper half gone */
	wr32(&f, TCMP(2), 0x100);
	wr32(&f, TCMP(2) + 4, 0xdead);				/* ignored */
	g_assert_cmphex(rd(&f, TCMP(2)), ==, 0x100);
	wr(&f, CONF, ENABLE);
	/* the low half wraps and matches after 0x200 ticks */
	dt_advance(f.vm, 0x200 * 10 - 1);
	g_assert_cmpuint(f.e.rises[23], ==, 0);
	dt_advance(f.vm, 1);
	g_assert_cmpuint(f.e.rises[23], ==, 1);
	/* and again each time it comes round: 2^32 ticks */
	dt_advance(f.vm, (1ULL << 32) * 10 - 1);
	g_assert_cmpuint(f.e.rises[23], ==, 1);
	dt_advance(f.vm, 1);
	g_assert_cmpuint(f.e.rises[23], ==, 2);

	/* 32-bit periodic, period crossing the wrap */
	wr(&f, CONF, 0);
	wr(&f, CNT, 0xfffffc00ULL);
	wr(&f, TCONF(2), T_ENB | T_32 | T_PERIODIC | T_VAL_SET | ROUTE(23));
	wr32(&f, TCMP(2), 0xfffffe00);
	wr32(&f, TCMP(2), 0x400);
	f.e.rises[23] = 0;
	wr(&f, CONF, ENABLE);
	dt_advance(f.vm, 0x200 * 10);
	g_assert_cmpuint(f.e.rises[23], ==, 1);
	g_assert_cmphex(rd(&f, TCMP(2)), ==, 0x200);
	dt_advance(f.vm, 0x400 * 10);
	g_assert_cmpuint(f.e.rises[23], ==, 2);
	g_assert_cmphex(rd(&f, TCMP(2)), ==, 0x600);
	teardown(&f);
}

static void test_level(void)
{
	struct fix f;

	setup(&f);
	wr(&f, CONF, ENABLE);
	wr(&f, TCONF(0), T_LEVEL | ROUTE(21));
	wr(&f, TCMP(0), rd(&f, CNT) + 100);
	dt_advance(f.vm, US);
	/* matched with INT_ENB clear: status, no interrupt (2.3.8) */
	g_assert_cmphex(rd(&f, ISR), ==, 1);
	g_assert_cmpint(f.e.level[21], ==, 0);
	/* enabling it raises the level; it stays up */
	wr(&f, TCONF(0), T_LEVEL | T_ENB | ROUTE(21));
	g_assert_cmpint(f.e.level[21], ==, 1);
	dt_advance(f.vm, MS);
	g_assert_cmpint(f.e.level[21], ==, 1);
	/* writing 0s clears nothing, a 1 clears it (32-bit access too) */
	wr(&f, ISR, 0);
	g_assert_cmpint(f.e.level[21], ==, 1);
	wr32(&f, ISR, 1);
	g_assert_cmphex(rd(&f, ISR), ==, 0);
	g_assert_cmpint(f.e.level[21], ==, 0);
	/* disabling the HPET drops the line, the status stays */
	wr(&f, TCMP(0), rd(&f, CNT) + 100);
	dt_advance(f.vm, US);
	g_assert_cmpint(f.e.level[21], ==, 1);
	wr(&f, CONF, 0);
	g_assert_cmpint(f.e.level[21], ==, 0);
	g_assert_cmphex(rd(&f, ISR), ==, 1);
	wr(&f, CONF, ENABLE);
	g_assert_cmpint(f.e.level[21], ==, 1);
	/* a route the timer cannot take drives nothing */
	wr(&f, TCONF(0), T_LEVEL | T_ENB | ROUTE(5));
	g_assert_cmpint(f.e.level[21], ==, 0);
	g_assert_cmpint(f.e.level[5], ==, 0);
	/* back to edge: the status goes */
	wr(&f, TCONF(0), T_ENB | ROUTE(21));
	g_assert_cmphex(rd(&f, ISR), ==, 0);
	teardown(&f);
}

/*
 * LegacyReplacement: timer 0 on IRQ 0 and timer 1 on IRQ 8, while the
 * PIT's own IRQ 0 (a real i8254 in mode 2 here) and the RTC's IRQ 8 no
 * longer reach the interrupt controllers.
 */
static void test_legacy(void)
{
	struct fix f;
	struct gh_device_cfg pit_cfg = { .irq = 0 };
	struct gh_device *pit;
	struct gh_irq *irq;

	setup(&f);
	irq = gh_vm_irq(f.vm);
	pit = dt_dev_new(f.vm, &gh_i8254_type, &pit_cfg);
	dt_outb(f.vm, 0x43, 0x34);
	dt_outb(f.vm, 0x40, 1193 & 0xff);	/* a millisecond */
	dt_outb(f.vm, 0x40, 1193 >> 8);
	dt_advance(f.vm, 10 * MS);
	g_assert_cmpuint(f.e.rises[0], >=, 9);
	gh_irq_set(irq, 8, 1);			/* the RTC holding IRQ 8 */
	g_assert_cmpint(f.e.level[8], ==, 1);

	wr(&f, CONF, LEGACY);
	g_assert_cmpint(f.e.level[8], ==, 0);
	f.e.rises[0] = 0;
	dt_advance(f.vm, 10 * MS);
	g_assert_cmpuint(f.e.rises[0], ==, 0);

	/* the HPET's timers take the lines, whatever their route says */
	wr(&f, TCONF(0), T_ENB | T_PERIODIC | T_VAL_SET | ROUTE(20));
	wr(&f, TCMP(0), 100000);		/* 1 ms */
	wr(&f, TCMP(0), 100000);
	wr(&f, TCONF(1), T_ENB | ROUTE(21));
	wr(&f, TCMP(1), 50000);			/* 0.5 ms, once */
	wr(&f, CONF, LEGACY | ENABLE);
	dt_advance(f.vm, 10 * MS);
	g_assert_cmpuint(f.e.rises[0], ==, 10);
	g_assert_cmpuint(f.e.rises[8], ==, 1 + 1);
	g_assert_cmpuint(f.e.rises[20], ==, 0);
	g_assert_cmpuint(f.e.rises[21], ==, 0);
	g_assert_cmpint(f.e.level[8], ==, 0);

	/* leaving it gives IRQ 0 and 8 back to the PIT and RTC */
	wr(&f, CONF, ENABLE);
	g_assert_cmpint(f.e.level[8], ==, 1);
	f.e.rises[0] = 0;
	f.e.rises[20] = 0;
	dt_advance(f.vm, 10 * MS);
	g_assert_cmpuint(f.e.rises[0], >=, 9);	/* PIT */
	g_assert_cmpuint(f.e.rises[20], ==, 10);	/* timer 0's own route */
	/* a reset leaves LegacyReplacement too */
	wr(&f, CONF, LEGACY | ENABLE);
	g_assert_cmpint(f.e.level[8], ==, 0);
	gh_device_reset(f.dev);
	g_assert_cmpint(f.e.level[8], ==, 1);
	g_assert_cmphex(rd(&f, CONF), ==, 0);
	gh_device_free(pit);
	teardown(&f);
}

/*
 * Comparators at the far end of the counter's range: the deadline is past
 * the end of virtual time and must not wrap into the present (a timer that
 * fires at once, forever).
 */
static void test_far(void)
{
	struct fix f;

	setup(&f);
	/* near the power-on comparator (all-ones), one-shot */
	wr(&f, TCONF(0), T_ENB | ROUTE(20));
	wr(&f, TCMP(0), ~0ULL - 500);
	/* periodic with a period of 2^63 */
	wr(&f, TCONF(1), T_ENB | T_PERIODIC | T_VAL_SET | ROUTE(21));
	wr(&f, TCMP(1), 1000);
	wr(&f, TCMP(1), 1ULL << 63);
	wr(&f, CONF, ENABLE);
	dt_advance(f.vm, SEC);
	g_assert_cmpuint(f.e.rises[20], ==, 0);
	g_assert_cmpuint(f.e.rises[21], ==, 1);
	dt_advance(f.vm, 1000 * SEC);
	g_assert_cmpuint(f.e.rises[21], ==, 1);
	g_assert_cmphex(rd(&f, TCMP(1)), ==, 1000 + (1ULL << 63));
	/* a period below the table's minimum runs at the minimum */
	wr(&f, CONF, 0);
	wr(&f, CNT, 0);
	wr(&f, TCONF(1), T_ENB | T_PERIODIC | T_VAL_SET | ROUTE(21));
	wr(&f, TCMP(1), 1);
	wr(&f, TCMP(1), 1);
	f.e.rises[21] = 0;
	wr(&f, CONF, ENABLE);
	dt_advance(f.vm, 128 * 10 * 100);
	g_assert_cmpuint(f.e.rises[21], ==, 100);
	wr(&f, TCONF(1), 0);
	/* a counter written near the top */
	wr(&f, CONF, 0);
	wr(&f, CNT, ~0ULL - 1000);
	wr(&f, CONF, ENABLE);
	dt_advance(f.vm, SEC);
	g_assert_cmpuint(f.e.rises[20], ==, 1);
	teardown(&f);
}

/* A guest hammering every offset with every size: no crash, sane reads. */
static void test_storm(void)
{
	static const unsigned sizes[] = { 1, 2, 4, 8 };
	GRand *r = g_rand_new_with_seed(0x48504554);
	struct fix f;

	setup(&f);
	for (unsigned i = 0; i < 100000; i++) {
		uint64_t off = g_rand_int_range(r, 0, GH_HPET_SIZE);
		unsigned size = sizes[g_rand_int_range(r, 0, 4)];
		uint64_t v = (uint64_t)g_rand_int(r) << 32 | g_rand_int(r);

		off &= ~(uint64_t)(size - 1);
		switch (g_rand_int_range(r, 0, 3)) {
		case 0:
			gh_bus_write(gh_vm_mmio(f.vm), GH_HPET_BASE + off, v,
				     size);
			break;
		case 1:
			v = gh_bus_read(gh_vm_mmio(f.vm), GH_HPET_BASE + off,
					size);
			if (size < 8)
				g_assert_cmphex(v >> (8 * size), ==, 0);
			break;
		default:
			dt_advance(f.vm, g_rand_int_range(r, 0, 100000));
			break;
		}
	}
	g_assert_cmphex(rd(&f, GCAP), ==, 0x009896808086a201ULL);
	g_rand_free(r);
	teardown(&f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/hpet/caps", test_caps);
	g_test_add_func("/hpet/counter", test_counter);
	g_test_add_func("/hpet/one-shot", test_one_shot);
	g_test_add_func("/hpet/periodic", test_periodic);
	g_test_add_func("/hpet/32bit", test_32bit);
	g_test_add_func("/hpet/level", test_level);
	g_test_add_func("/hpet/legacy", test_legacy);
	g_test_add_func("/hpet/far", test_far);
	g_test_add_func("/hpet/storm", test_storm);
	return g_test_run();
}
