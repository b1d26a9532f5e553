/* Tests for the 8254 PIT and port 0x61 on a manual clock, driven through their ports. */
#include "devtest.h"

#include <glib.h>

#define PIT_HZ 1193182

struct fx {
	struct gh_vm *vm;
	struct gh_device *dev;
	struct gh_bus *pio;
	struct gh_clock *clock;
	struct dt_edges edges;	/* GSI 0 is channel 0's OUT */
};

static void fx_setup(struct fx *f, gconstpointer data)
{
	(void)data;
	f->vm = dt_vm_new();
	f->pio = gh_vm_pio(f->vm);
	f->clock = gh_vm_clock(f->vm);
	dt_edges_attach(&f->edges, f->vm);
	f->dev = dt_dev_new(f->vm, &gh_i8254_type,
			    &(struct gh_device_cfg){ .irq = 0 });
}

static void fx_teardown(struct fx *f, gconstpointer data)
{
	(void)data;
	gh_device_free(f->dev);
	gh_vm_free(f->vm);
}

/* CLK tick k happens at k / 1193182 s, rounded up to a whole ns. */
static uint64_t tick_ns(uint64_t k)
{
	return (uint64_t)(((unsigned __int128)k * GH_NS_PER_SEC + PIT_HZ - 1) /
			  PIT_HZ);
}

static uint64_t now_tick(struct fx *f)
{
	return (uint64_t)(((unsigned __int128)gh_clock_ns(f->clock) * PIT_HZ) /
			  GH_NS_PER_SEC);
}

static void advance_ns(struct fx *f, uint64_t ns)
{
	dt_advance(f->vm, ns);
}

static void advance_to_tick(struct fx *f, uint64_t k)
{
	uint64_t now = gh_clock_ns(f->clock), at = tick_ns(k);

	g_assert_cmpuint(at, >=, now);
	gh_clock_advance(f->clock, at - now);
	g_assert_cmpuint(now_tick(f), ==, k);
}

static void advance_ticks(struct fx *f, uint64_t n)
{
	advance_to_tick(f, now_tick(f) + n);
}

/* Programs a channel with a lo/hi count; returns the tick the count loads at. */
static uint64_t program(struct fx *f, unsigned ch, unsigned mode, bool bcd,
			uint16_t count)
{
	dt_outb(f->vm, 0x43, ch << 6 | 0x30 | mode << 1 | bcd);
	dt_outb(f->vm, 0x40 + ch, count & 0xff);
	dt_outb(f->vm, 0x40 + ch, count >> 8);
	return now_tick(f) + 1;
}

static uint16_t latch_read(struct fx *f, unsigned ch)
{
	uint16_t lo;

	dt_outb(f->vm, 0x43, ch << 6);
	lo = dt_inb(f->vm, 0x40 + ch);
	return lo | dt_inb(f->vm, 0x40 + ch) << 8;
}

static uint8_t status(struct fx *f, unsigned ch)
{
	dt_outb(f->vm, 0x43, 0xe0 | 2 << ch);
	return dt_inb(f->vm, 0x40 + ch);
}

#define ST_OUT 0x80
#define ST_NULL 0x40

static bool out2(struct fx *f)
{
	return dt_inb(f->vm, 0x61) & 0x20;
}

static void test_power_on(struct fx *f, gconstpointer data)
{
	unsigned ch;

	(void)data;
	/* Every channel in mode 3, lo/hi, binary, as QEMU starts them. */
	for (ch = 0; ch < 3; ch++)
		g_assert_cmpuint(status(f, ch) & 0x3f, ==, 0x36);
	g_assert_true(status(f, 0) & ST_OUT);
	/* Channel 2's gate is low, so it is not counting; OUT is high. */
	g_assert_cmpuint(dt_inb(f->vm, 0x61) & 0x01, ==, 0);
	g_assert_true(out2(f));
	g_assert_true(status(f, 2) & ST_NULL);
	/* Channel 0 runs at 18.2 Hz: rises at 1 + 65536k. */
	f->edges.rises[0] = 0;
	advance_ns(f, GH_NS_PER_SEC);
	g_assert_cmpuint(f->edges.rises[0], ==, (PIT_HZ - 1) / 65536);
	/* Channel 1 counts too. */
	g_assert_cmpuint(latch_read(f, 1), ==,
			 65536 - 2 * ((now_tick(f) - 1) % 65536 % 32768));
}

static void test_mode2_rate(struct fx *f, gconstpointer data)
{
	uint64_t start;
	unsigned k;

	(void)data;
	advance_ns(f, 12345);
	start = program(f, 0, 2, false, 1193);
	f->edges.rises[0] = 0;
	/* OUT is low for the tick before each reload, high otherwise. */
	for (k = 1; k <= 5; k++) {
		advance_to_tick(f, start + k * 1193 - 2);
		g_assert_cmpint(f->edges.level[0], ==, 1);
		advance_ticks(f, 1);
		g_assert_cmpint(f->edges.level[0], ==, 0);
		advance_ticks(f, 1);
		g_assert_cmpint(f->edges.level[0], ==, 1);
		g_assert_cmpuint(f->edges.rises[0], ==, k);
		g_assert_cmpuint(f->edges.last_rise_ns[0], ==, tick_ns(start + k * 1193));
	}
	/* A second, exactly: no drift. */
	f->edges.rises[0] = 0;
	advance_to_tick(f, start + 5 * 1193 + PIT_HZ);
	g_assert_cmpuint(f->edges.rises[0], ==, PIT_HZ / 1193);
	g_assert_cmpuint(f->edges.last_rise_ns[0], ==,
			 tick_ns(start + (5 + PIT_HZ / 1193) * 1193));
	/* Count 0 is 65536. */
	start = program(f, 0, 2, false, 0);
	f->edges.rises[0] = 0;
	advance_to_tick(f, start + 10 * 65536);
	g_assert_cmpuint(f->edges.rises[0], ==, 10);
	/* Mode 6 is mode 2 (the status keeps the bits as written). */
	dt_outb(f->vm, 0x43, 0x3c);
	dt_outb(f->vm, 0x40, 100);
	dt_outb(f->vm, 0x40, 0);
	start = now_tick(f) + 1;
	g_assert_cmpuint(status(f, 0) & 0x0e, ==, 0x0c);
	f->edges.rises[0] = 0;
	advance_to_tick(f, start + 1000);
	g_assert_cmpuint(f->edges.rises[0], ==, 10);
	/* Count 1 is illegal in mode 2; we give a rise every tick. */
	start = program(f, 0, 2, false, 1);
	f->edges.rises[0] = 0;
	advance_to_tick(f, start + 500);
	g_assert_cmpuint(f->edges.rises[0], ==, 500);
}

static void test_mode2_latch(struct fx *f, gconstpointer data)
{
	uint64_t start, d;
	uint16_t a, b;

	(void)data;
	start = program(f, 0, 2, false, 1000);
	advance_to_tick(f, start + 123);
	g_assert_cmpuint(latch_read(f, 0), ==, 1000 - 123);
	advance_to_tick(f, start + 998);
	g_assert_cmpuint(latch_read(f, 0), ==, 2);
	advance_ticks(f, 1);
	g_assert_cmpuint(latch_read(f, 0), ==, 1);
	advance_ticks(f, 1);
	g_assert_cmpuint(latch_read(f, 0), ==, 1000);	/* reloaded */
	/* Decreasing between reloads, across many periods. */
	for (d = 0; d < 50; d++) {
		advance_ns(f, 7919);
		a = latch_read(f, 0);
		g_assert_cmpuint(a, ==, 1000 - (now_tick(f) - start) % 1000);
	}
	/* A latch holds its value; a second latch before reading is ignored. */
	dt_outb(f->vm, 0x43, 0x00);
	a = 1000 - (now_tick(f) - start) % 1000;
	advance_ticks(f, 10);
	dt_outb(f->vm, 0x43, 0x00);
	b = dt_inb(f->vm, 0x40);
	b |= dt_inb(f->vm, 0x40) << 8;
	g_assert_cmpuint(b, ==, a);
	/* Once read, the counter is live again. */
	b = dt_inb(f->vm, 0x40);
	b |= dt_inb(f->vm, 0x40) << 8;
	g_assert_cmpuint(b, ==, 1000 - (now_tick(f) - start) % 1000);
}

static void test_mode0(struct fx *f, gconstpointer data)
{
	uint64_t start;

	(void)data;
	dt_outb(f->vm, 0x43, 0x30);
	/* The control word sets OUT low. */
	g_assert_cmpint(f->edges.level[0], ==, 0);
	g_assert_false(status(f, 0) & ST_OUT);
	dt_outb(f->vm, 0x40, 100);
	dt_outb(f->vm, 0x40, 0);
	start = now_tick(f) + 1;
	f->edges.rises[0] = 0;
	advance_to_tick(f, start + 99);
	g_assert_cmpint(f->edges.level[0], ==, 0);
	g_assert_cmpuint(latch_read(f, 0), ==, 1);
	advance_ticks(f, 1);
	g_assert_cmpint(f->edges.level[0], ==, 1);
	g_assert_cmpuint(f->edges.rises[0], ==, 1);
	g_assert_cmpuint(latch_read(f, 0), ==, 0);
	/* It goes on counting down through 0xffff, but OUT stays high. */
	advance_ticks(f, 1);
	g_assert_cmpuint(latch_read(f, 0), ==, 0xffff);
	advance_ns(f, GH_NS_PER_SEC);
	g_assert_cmpuint(f->edges.rises[0], ==, 1);
	g_assert_cmpint(f->edges.level[0], ==, 1);

	/* Count 0: 65536 ticks to terminal count. */
	start = program(f, 0, 0, false, 0);
	g_assert_cmpint(f->edges.level[0], ==, 0);
	advance_to_tick(f, start);
	g_assert_cmpuint(latch_read(f, 0), ==, 0);
	advance_ticks(f, 1);
	g_assert_cmpuint(latch_read(f, 0), ==, 0xffff);
	advance_to_tick(f, start + 65535);
	g_assert_cmpint(f->edges.level[0], ==, 0);
	advance_ticks(f, 1);
	g_assert_cmpint(f->edges.level[0], ==, 1);

	/* Mode 0 rewritten mid-count: the first byte drops OUT and stops. */
	start = program(f, 0, 0, false, 1000);
	advance_to_tick(f, start + 500);
	dt_outb(f->vm, 0x40, 0x20);
	advance_ticks(f, 3000);
	g_assert_cmpint(f->edges.level[0], ==, 0);
	g_assert_cmpuint(latch_read(f, 0), ==, 500);
	dt_outb(f->vm, 0x40, 0x00);
	start = now_tick(f) + 1;
	advance_to_tick(f, start + 0x1f);
	g_assert_cmpint(f->edges.level[0], ==, 0);
	advance_ticks(f, 1);
	g_assert_cmpint(f->edges.level[0], ==, 1);
}

static void test_mode3(struct fx *f, gconstpointer data)
{
	static const bool even[10] = { 1, 1, 1, 1, 1, 0, 0, 0, 0, 0 };
	static const bool odd[7] = { 1, 1, 1, 1, 0, 0, 0 };
	uint64_t start;
	unsigned i;

	(void)data;
	/* Channel 1, count 10: five ticks high, five low. */
	start = program(f, 1, 3, false, 10);
	advance_to_tick(f, start);
	for (i = 0; i < 30; i++) {
		g_assert_cmpint(!!(status(f, 1) & ST_OUT), ==, even[i % 10]);
		advance_ticks(f, 1);
	}
	/* Odd counts: high one tick longer than low. */
	start = program(f, 1, 3, false, 7);
	advance_to_tick(f, start);
	for (i = 0; i < 21; i++) {
		g_assert_cmpint(!!(status(f, 1) & ST_OUT), ==, odd[i % 7]);
		advance_ticks(f, 1);
	}
	/* The counter steps by two. */
	start = program(f, 1, 3, false, 10);
	advance_to_tick(f, start + 2);
	g_assert_cmpuint(latch_read(f, 1), ==, 6);
	advance_to_tick(f, start + 6);
	g_assert_cmpuint(latch_read(f, 1), ==, 8);
	/* On channel 0, one rising edge per period. */
	start = program(f, 0, 3, false, 11932);
	f->edges.rises[0] = 0;
	advance_to_tick(f, start + 100 * 11932);
	g_assert_cmpuint(f->edges.rises[0], ==, 100);
	g_assert_cmpint(f->edges.level[0], ==, 1);
	advance_ticks(f, 5966);
	g_assert_cmpint(f->edges.level[0], ==, 0);
	/* Mode 7 is mode 3. */
	dt_outb(f->vm, 0x43, 0x7e);
	dt_outb(f->vm, 0x41, 4);
	dt_outb(f->vm, 0x41, 0);
	start = now_tick(f) + 1;
	advance_to_tick(f, start + 2);
	g_assert_cmpuint(status(f, 1), ==, 0x3e);
	advance_ticks(f, 2);
	g_assert_cmpuint(status(f, 1), ==, 0x80 | 0x3e);
}

static void test_mode4(struct fx *f, gconstpointer data)
{
	uint64_t start;

	(void)data;
	start = program(f, 0, 4, false, 10);
	f->edges.rises[0] = 0;
	g_assert_cmpint(f->edges.level[0], ==, 1);
	advance_to_tick(f, start + 9);
	g_assert_cmpint(f->edges.level[0], ==, 1);
	advance_ticks(f, 1);
	g_assert_cmpint(f->edges.level[0], ==, 0);	/* one tick low at count 0 */
	advance_ticks(f, 1);
	g_assert_cmpint(f->edges.level[0], ==, 1);
	advance_ns(f, GH_NS_PER_SEC);
	g_assert_cmpuint(f->edges.rises[0], ==, 1);
}

static void test_readback(struct fx *f, gconstpointer data)
{
	uint64_t start;
	uint8_t st;
	uint16_t v;

	(void)data;
	dt_outb(f->vm, 0x43, 0x34);
	/* After a control word, null count until a count is loaded. */
	st = status(f, 0);
	g_assert_cmpuint(st, ==, 0x80 | ST_NULL | 0x34);
	dt_outb(f->vm, 0x40, 0x00);
	dt_outb(f->vm, 0x40, 0x10);
	start = now_tick(f) + 1;
	g_assert_true(status(f, 0) & ST_NULL);
	advance_to_tick(f, start);
	g_assert_cmpuint(status(f, 0), ==, 0x80 | 0x34);

	/* Count and status together: status first, then LSB, MSB. */
	advance_to_tick(f, start + 0x234);
	dt_outb(f->vm, 0x43, 0xc2);
	advance_ticks(f, 5);
	g_assert_cmpuint(dt_inb(f->vm, 0x40), ==, 0x80 | 0x34);
	g_assert_cmpuint(dt_inb(f->vm, 0x40), ==, 0xcc);
	g_assert_cmpuint(dt_inb(f->vm, 0x40), ==, 0x0d);
	/* Several channels at once; count only. */
	program(f, 2, 0, false, 0x4321);
	dt_outb(f->vm, 0x61, 0x00);
	dt_outb(f->vm, 0x43, 0xda);	/* count of 0 and 2 */
	advance_ticks(f, 3);
	v = dt_inb(f->vm, 0x42);
	v |= dt_inb(f->vm, 0x42) << 8;
	g_assert_cmpuint(v, ==, 0x4321);	/* gate low: not counting */
	v = dt_inb(f->vm, 0x40);
	v |= dt_inb(f->vm, 0x40) << 8;
	g_assert_cmpuint(v, ==, 0x1000 - 0x239);
	/* A second status latch before reading keeps the first. */
	dt_outb(f->vm, 0x43, 0xe2);
	dt_outb(f->vm, 0x40, 0x00);	/* a new count: null count from now on */
	dt_outb(f->vm, 0x40, 0x20);
	dt_outb(f->vm, 0x43, 0xe2);
	g_assert_cmpuint(dt_inb(f->vm, 0x40), ==, 0x80 | 0x34);
	g_assert_cmpuint(status(f, 0), ==, 0x80 | ST_NULL | 0x34);
	/* A control word drops latches not yet read. */
	dt_outb(f->vm, 0x43, 0xc2);
	start = program(f, 0, 2, false, 0x0100);
	advance_to_tick(f, start + 1);
	g_assert_cmpuint(dt_inb(f->vm, 0x40), ==, 0xff);
	g_assert_cmpuint(dt_inb(f->vm, 0x40), ==, 0x00);
	/* Select no channel: nothing latched. */
	program(f, 0, 2, false, 500);
	dt_outb(f->vm, 0x43, 0xc0);
	advance_ticks(f, 100);
	v = dt_inb(f->vm, 0x40);
	v |= dt_inb(f->vm, 0x40) << 8;
	g_assert_cmpuint(v, ==, 500 - 99);
}

static void test_access_modes(struct fx *f, gconstpointer data)
{
	uint64_t start;

	(void)data;
	/* LSB only. */
	dt_outb(f->vm, 0x43, 0x14);
	dt_outb(f->vm, 0x40, 0x80);
	start = now_tick(f) + 1;
	advance_to_tick(f, start + 0x10);
	g_assert_cmpuint(dt_inb(f->vm, 0x40), ==, 0x70);
	g_assert_cmpuint(dt_inb(f->vm, 0x40), ==, 0x70);
	g_assert_cmpuint(status(f, 0) & 0x30, ==, 0x10);
	/* MSB only. */
	dt_outb(f->vm, 0x43, 0x24);
	dt_outb(f->vm, 0x40, 0x12);
	start = now_tick(f) + 1;
	advance_to_tick(f, start + 0x100);
	g_assert_cmpuint(dt_inb(f->vm, 0x40), ==, 0x11);
	dt_outb(f->vm, 0x43, 0x00);
	g_assert_cmpuint(dt_inb(f->vm, 0x40), ==, 0x11);
	/* LSB then MSB, with reads alternating the same way. */
	start = program(f, 0, 2, false, 0x5678);
	advance_to_tick(f, start);
	g_assert_cmpuint(dt_inb(f->vm, 0x40), ==, 0x78);
	g_assert_cmpuint(dt_inb(f->vm, 0x40), ==, 0x56);
	g_assert_cmpuint(dt_inb(f->vm, 0x40), ==, 0x78);
	g_assert_cmpuint(dt_inb(f->vm, 0x40), ==, 0x56);
	/* A control word resets the byte order of writes. */
	dt_outb(f->vm, 0x43, 0x34);
	dt_outb(f->vm, 0x40, 0xaa);
	dt_outb(f->vm, 0x43, 0x34);
	dt_outb(f->vm, 0x40, 0x34);
	dt_outb(f->vm, 0x40, 0x12);
	start = now_tick(f) + 1;
	advance_to_tick(f, start);
	g_assert_cmpuint(latch_read(f, 0), ==, 0x1234);
	/* Reading the control port gives nothing. */
	g_assert_cmpuint(dt_inb(f->vm, 0x43), ==, 0xff);
	/* A word read of 0x40 is two byte cycles: 0x40, then 0x41. */
	dt_outb(f->vm, 0x43, 0x50);	/* channel 1: LSB only, mode 0 */
	dt_outb(f->vm, 0x41, 0x44);
	advance_ticks(f, 1);
	dt_outb(f->vm, 0x43, 0x00);
	g_assert_cmpuint(gh_bus_read(f->pio, 0x40, 2), ==, 0x4433);
	g_assert_cmpuint(dt_inb(f->vm, 0x40), ==, 0x12);
}

static void test_bcd(struct fx *f, gconstpointer data)
{
	uint64_t start;

	(void)data;
	start = program(f, 0, 0, true, 0x1234);
	g_assert_cmpuint(status(f, 0) & 1, ==, 1);
	advance_to_tick(f, start + 35);
	g_assert_cmpuint(latch_read(f, 0), ==, 0x1199);
	advance_to_tick(f, start + 1233);
	g_assert_cmpuint(latch_read(f, 0), ==, 0x0001);
	g_assert_cmpint(f->edges.level[0], ==, 0);
	advance_ticks(f, 1);
	g_assert_cmpint(f->edges.level[0], ==, 1);
	g_assert_cmpuint(latch_read(f, 0), ==, 0x0000);
	advance_ticks(f, 1);
	g_assert_cmpuint(latch_read(f, 0), ==, 0x9999);	/* wraps in decimal */
	/* BCD count 0 is 10000. */
	start = program(f, 0, 2, true, 0);
	advance_to_tick(f, start + 1);
	g_assert_cmpuint(latch_read(f, 0), ==, 0x9999);
	f->edges.rises[0] = 0;
	advance_to_tick(f, start + 30000);
	g_assert_cmpuint(f->edges.rises[0], ==, 3);
	/* Digits above 9 are taken as 9. */
	start = program(f, 0, 0, true, 0x00fa);
	advance_to_tick(f, start);
	g_assert_cmpuint(latch_read(f, 0), ==, 0x0099);
}

static void test_gate(struct fx *f, gconstpointer data)
{
	uint64_t start;

	(void)data;
	/* Mode 0 counts only while the gate is high. */
	program(f, 2, 0, false, 50);
	advance_ticks(f, 100);
	g_assert_cmpuint(latch_read(f, 2), ==, 50);
	g_assert_false(out2(f));
	dt_outb(f->vm, 0x61, 0x01);
	start = now_tick(f);
	advance_to_tick(f, start + 20);
	g_assert_cmpuint(latch_read(f, 2), ==, 30);
	dt_outb(f->vm, 0x61, 0x00);
	advance_ticks(f, 1000);
	g_assert_cmpuint(latch_read(f, 2), ==, 30);
	g_assert_false(out2(f));
	dt_outb(f->vm, 0x61, 0x01);
	start = now_tick(f);
	advance_to_tick(f, start + 29);
	g_assert_false(out2(f));
	advance_ticks(f, 1);
	g_assert_true(out2(f));

	/* Mode 1: a gate rise starts a one-shot, and restarts it. */
	dt_outb(f->vm, 0x61, 0x00);
	program(f, 2, 1, false, 20);
	g_assert_true(out2(f));
	advance_ticks(f, 100);
	g_assert_true(out2(f));
	g_assert_true(status(f, 2) & ST_NULL);
	dt_outb(f->vm, 0x61, 0x01);
	start = now_tick(f) + 1;
	advance_to_tick(f, start);
	g_assert_false(out2(f));
	g_assert_false(status(f, 2) & ST_NULL);
	advance_to_tick(f, start + 15);
	dt_outb(f->vm, 0x61, 0x00);
	dt_outb(f->vm, 0x61, 0x01);		/* retrigger */
	start = now_tick(f) + 1;
	advance_to_tick(f, start + 19);
	g_assert_false(out2(f));
	advance_ticks(f, 1);
	g_assert_true(out2(f));

	/* Mode 2: gate low forces OUT high and stops; a rise reloads. */
	dt_outb(f->vm, 0x61, 0x01);
	start = program(f, 2, 2, false, 10);
	advance_to_tick(f, start + 9);
	g_assert_false(out2(f));
	dt_outb(f->vm, 0x61, 0x00);
	g_assert_true(out2(f));
	g_assert_cmpuint(latch_read(f, 2), ==, 1);
	advance_ticks(f, 50);
	g_assert_cmpuint(latch_read(f, 2), ==, 1);
	dt_outb(f->vm, 0x61, 0x01);
	start = now_tick(f) + 1;
	advance_to_tick(f, start + 3);
	g_assert_cmpuint(latch_read(f, 2), ==, 7);

	/* Mode 5: a strobe N ticks after the trigger. */
	dt_outb(f->vm, 0x61, 0x00);
	program(f, 2, 5, false, 8);
	dt_outb(f->vm, 0x61, 0x01);
	start = now_tick(f) + 1;
	advance_to_tick(f, start + 7);
	g_assert_true(out2(f));
	advance_ticks(f, 1);
	g_assert_false(out2(f));
	advance_ticks(f, 1);
	g_assert_true(out2(f));
}

static void test_port_b(struct fx *f, gconstpointer data)
{
	uint8_t v;

	(void)data;
	/* Bits 0-3 are stored; 4 and 5 are status, 6 and 7 read 0. */
	dt_outb(f->vm, 0x61, 0xff);
	v = dt_inb(f->vm, 0x61);
	g_assert_cmpuint(v & 0xcf, ==, 0x0f);
	dt_outb(f->vm, 0x61, 0x0a);
	g_assert_cmpuint(dt_inb(f->vm, 0x61) & 0xcf, ==, 0x0a);
	/* Speaker tone: channel 2 in mode 3 with the gate high. */
	dt_outb(f->vm, 0x61, 0x03);
	program(f, 2, 3, false, 4);
	advance_ticks(f, 1);
	g_assert_true(out2(f));
	advance_ticks(f, 2);
	g_assert_false(out2(f));
	advance_ticks(f, 2);
	g_assert_true(out2(f));
	dt_outb(f->vm, 0x61, 0x02);
	advance_ticks(f, 2);
	g_assert_true(out2(f));
	advance_ticks(f, 2);
	g_assert_true(out2(f));		/* gate low: stays high */
}

static void test_refresh(struct fx *f, gconstpointer data)
{
	uint64_t now;
	unsigned flips = 0, i;
	bool prev, cur;

	(void)data;
	now = gh_clock_ns(f->clock);
	g_assert_cmpuint(now, ==, 0);
	g_assert_cmpuint(dt_inb(f->vm, 0x61) & 0x10, ==, 0);
	advance_ns(f, 15084);
	g_assert_cmpuint(dt_inb(f->vm, 0x61) & 0x10, ==, 0);
	advance_ns(f, 1);
	g_assert_cmpuint(dt_inb(f->vm, 0x61) & 0x10, ==, 0x10);
	advance_ns(f, 15085);
	g_assert_cmpuint(dt_inb(f->vm, 0x61) & 0x10, ==, 0);
	/* A BIOS delay loop: one flip per 15.085 us. */
	prev = dt_inb(f->vm, 0x61) & 0x10;
	for (i = 0; i < 1000; i++) {
		advance_ns(f, 1000);
		cur = dt_inb(f->vm, 0x61) & 0x10;
		flips += cur != prev;
		prev = cur;
	}
	g_assert_cmpuint(flips, ==, (30170 + 1000000) / 15085 - 2);
}

static void test_reprogram(struct fx *f, gconstpointer data)
{
	uint64_t start, b;

	(void)data;
	/* Mode 2: a new count finishes the current period first. */
	start = program(f, 0, 2, false, 1000);
	advance_to_tick(f, start + 300);
	dt_outb(f->vm, 0x40, 500 & 0xff);
	dt_outb(f->vm, 0x40, 500 >> 8);
	g_assert_true(status(f, 0) & ST_NULL);
	f->edges.rises[0] = 0;
	advance_to_tick(f, start + 999);
	g_assert_true(status(f, 0) & ST_NULL);
	g_assert_cmpuint(latch_read(f, 0), ==, 1);
	advance_ticks(f, 1);
	g_assert_cmpuint(f->edges.rises[0], ==, 1);
	g_assert_false(status(f, 0) & ST_NULL);
	g_assert_cmpuint(latch_read(f, 0), ==, 500);
	b = start + 1000;
	advance_to_tick(f, b + 10 * 500);
	g_assert_cmpuint(f->edges.rises[0], ==, 11);
	g_assert_cmpuint(f->edges.last_rise_ns[0], ==, tick_ns(b + 10 * 500));

	/* Mode 3: the new count starts at the end of the half cycle. */
	start = program(f, 0, 3, false, 100);
	advance_to_tick(f, start + 20);
	dt_outb(f->vm, 0x40, 40);
	dt_outb(f->vm, 0x40, 0);
	advance_to_tick(f, start + 49);
	g_assert_cmpint(f->edges.level[0], ==, 1);
	advance_ticks(f, 1);		/* the old half cycle ends at 50 */
	g_assert_cmpint(f->edges.level[0], ==, 0);
	f->edges.rises[0] = 0;
	advance_to_tick(f, start + 50 + 19);
	g_assert_cmpint(f->edges.level[0], ==, 0);
	advance_ticks(f, 1);		/* the new low half is 20 */
	g_assert_cmpint(f->edges.level[0], ==, 1);
	g_assert_cmpuint(f->edges.rises[0], ==, 1);
	advance_to_tick(f, start + 70 + 10 * 40);
	g_assert_cmpuint(f->edges.rises[0], ==, 11);

	/* A control word restarts at once. */
	start = program(f, 0, 2, false, 1000);
	advance_to_tick(f, start + 600);
	start = program(f, 0, 2, false, 100);
	f->edges.rises[0] = 0;
	advance_to_tick(f, start + 99);
	g_assert_cmpuint(f->edges.rises[0], ==, 0);
	advance_ticks(f, 1);
	g_assert_cmpuint(f->edges.rises[0], ==, 1);
	/* And switching to mode 0 silences it. */
	program(f, 0, 0, false, 0xffff);
	advance_ns(f, 10000000);
	g_assert_cmpuint(f->edges.rises[0], ==, 1);
	g_assert_cmpint(f->edges.level[0], ==, 0);
}

static void test_garbage(struct fx *f, gconstpointer data)
{
	static const uint16_t ports[] = { 0x40, 0x41, 0x42, 0x43, 0x61 };
	GRand *r = g_rand_new_with_seed(8254);
	uint64_t start;
	unsigned i;

	(void)data;
	for (i = 0; i < 20000; i++) {
		uint16_t port = ports[g_rand_int_range(r, 0, 5)];

		if (g_rand_boolean(r))
			dt_outb(f->vm, port, g_rand_int_range(r, 0, 256));
		else
			(void)dt_inb(f->vm, port);
		if (i % 16 == 0)
			advance_ns(f, g_rand_int_range(r, 0, 200000));
	}
	g_rand_free(r);
	/* Read-back with reserved bit 0 set is logged and still works. */
	dt_outb(f->vm, 0x43, 0xe3);
	(void)dt_inb(f->vm, 0x40);
	/* Whatever happened, programming afresh works. */
	start = program(f, 0, 2, false, 100);
	f->edges.rises[0] = 0;
	advance_to_tick(f, start + 1000);
	g_assert_cmpuint(f->edges.rises[0], ==, 10);
	g_assert_cmpuint(latch_read(f, 0), ==, 100);
}

static void test_reset(struct fx *f, gconstpointer data)
{
	(void)data;
	program(f, 0, 0, false, 0xffff);
	dt_outb(f->vm, 0x61, 0x0f);
	gh_device_reset(f->dev);
	g_assert_cmpuint(dt_inb(f->vm, 0x61) & 0x0f, ==, 0);
	g_assert_cmpuint(status(f, 0) & 0x3f, ==, 0x36);
	g_assert_cmpint(f->edges.level[0], ==, 1);
	f->edges.rises[0] = 0;
	advance_ticks(f, 65536 + 1);
	g_assert_cmpuint(f->edges.rises[0], ==, 1);
}

static void test_unrealize(void)
{
	struct gh_vm *vm = dt_vm_new();
	struct gh_device *dev =
		dt_dev_new(vm, &gh_i8254_type, &(struct gh_device_cfg){ .irq = -1 });

	/* With no IRQ, channel 0 drives nothing. */
	dt_advance(vm, GH_NS_PER_SEC);
	g_assert_cmpint(gh_irq_level(gh_vm_irq(vm), 0), ==, 0);
	gh_device_free(dev);
	g_assert_null(gh_bus_lookup(gh_vm_pio(vm), 0x40));
	g_assert_null(gh_bus_lookup(gh_vm_pio(vm), 0x61));
	dt_advance(vm, GH_NS_PER_SEC);
	gh_vm_free(vm);
}

/*
 * On the real clock timers run late; missed periods are coalesced, so the
 * line never rises more often than OUT does, and a tiny period does not
 * starve the rest of the VM.
 */
static void test_real_clock(void)
{
	struct gh_vm_config cfg = {
		.ram_size = 16 << 20, .ncpus = 0, .accel = NULL,
	};
	struct gh_device_cfg dcfg = { .irq = 0 };
	struct gh_error err = { 0 };
	struct fx f = { 0 };
	uint64_t start, end, max;
	pthread_mutex_t *lock;
	unsigned n;

	g_assert_cmpint(gh_vm_new(&cfg, &f.vm, &err), ==, 0);
	f.pio = gh_vm_pio(f.vm);
	f.clock = gh_vm_clock(f.vm);
	lock = gh_vm_lock(f.vm);
	pthread_mutex_lock(lock);
	dt_edges_attach(&f.edges, f.vm);
	f.dev = dt_dev_new(f.vm, &gh_i8254_type, &dcfg);
	pthread_mutex_unlock(lock);
	gh_clock_resume(f.clock);

	for (n = 1; n <= 1193; n += 1192) {
		pthread_mutex_lock(lock);
		start = program(&f, 0, 2, false, n);
		f.edges.rises[0] = 0;
		pthread_mutex_unlock(lock);
		g_usleep(100000);
		pthread_mutex_lock(lock);
		end = now_tick(&f);
		max = end > start ? (end - start) / n : 0;
		g_assert_cmpuint(f.edges.rises[0], >=, 1);
		g_assert_cmpuint(f.edges.rises[0], <=, max);
		pthread_mutex_unlock(lock);
	}
	pthread_mutex_lock(lock);
	gh_device_free(f.dev);
	pthread_mutex_unlock(lock);
	gh_vm_free(f.vm);
}

#define ADD(name, fn)                                                          \
	g_test_add("/i8254/" name, struct fx, NULL, fx_setup, fn, fx_teardown)

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	ADD("power-on", test_power_on);
	ADD("mode2-rate", test_mode2_rate);
	ADD("mode2-latch", test_mode2_latch);
	ADD("mode0", test_mode0);
	ADD("mode3", test_mode3);
	ADD("mode4", test_mode4);
	ADD("readback", test_readback);
	ADD("access-modes", test_access_modes);
	ADD("bcd", test_bcd);
	ADD("gate", test_gate);
	ADD("port-b", test_port_b);
	ADD("refresh", test_refresh);
	ADD("reprogram", test_reprogram);
	ADD("garbage", test_garbage);
	ADD("reset", test_reset);
	g_test_add_func("/i8254/unrealize", test_unrealize);
	g_test_add_func("/i8254/real-clock", test_real_clock);
	return g_test_run();
}
