/* Tests of the MC146818 RTC/CMOS, driven through ports 0x70/0x71 as a guest does. */
#include <glib.h>

#include "devtest.h"

#define MS 1000000ULL
#define US 1000ULL
#define SEC GH_NS_PER_SEC

struct fix {
	struct gh_vm *vm;
	struct gh_device *dev;
	struct gh_bus *pio;
	struct gh_clock *clock;
	struct gh_irq *irq;
};

static void setup_ram(struct fix *f, uint64_t ram, const char *boot)
{
	struct gh_device_cfg dcfg = { .base = 0, .irq = 8 };

	f->vm = dt_vm_new_ram(ram);
	if (boot)
		gh_vm_set_boot_order(f->vm, boot);
	f->dev = dt_dev_new(f->vm, &gh_mc146818_type, &dcfg);
	f->pio = gh_vm_pio(f->vm);
	f->clock = gh_vm_clock(f->vm);
	f->irq = gh_vm_irq(f->vm);
}

static void setup(struct fix *f)
{
	setup_ram(f, 16 << 20, NULL);
}

static void teardown(struct fix *f)
{
	gh_device_free(f->dev);
	gh_vm_free(f->vm);
}

static uint8_t rd(struct fix *f, uint8_t idx)
{
	dt_outb(f->vm, 0x70, idx);
	return dt_inb(f->vm, 0x71);
}

static void wr(struct fix *f, uint8_t idx, uint8_t val)
{
	dt_outb(f->vm, 0x70, idx);
	dt_outb(f->vm, 0x71, val);
}

static void advance(struct fix *f, uint64_t ns)
{
	dt_advance(f->vm, ns);
}

static int irq8(struct fix *f)
{
	return gh_irq_level(f->irq, 8);
}

struct tm_regs {
	uint8_t sec, min, hour, wday, mday, mon, year, century;
};

/*
 * Sets the time in SET mode with register B = mode, then releases the
 * divider from reset, so the first update comes exactly 500 ms from now
 * (datasheet: "the first update cycle begins one-half second later").
 */
static void set_time(struct fix *f, uint8_t mode, const struct tm_regs *t,
		     unsigned rate)
{
	wr(f, 0x0a, 0x60 | rate);
	wr(f, 0x0b, 0x80 | mode);
	wr(f, 0x00, t->sec);
	wr(f, 0x02, t->min);
	wr(f, 0x04, t->hour);
	wr(f, 0x06, t->wday);
	wr(f, 0x07, t->mday);
	wr(f, 0x08, t->mon);
	wr(f, 0x09, t->year);
	wr(f, 0x32, t->century);
	wr(f, 0x0b, mode);
	wr(f, 0x0a, 0x20 | rate);
}

static void get_time(struct fix *f, struct tm_regs *t)
{
	t->sec = rd(f, 0x00);
	t->min = rd(f, 0x02);
	t->hour = rd(f, 0x04);
	t->wday = rd(f, 0x06);
	t->mday = rd(f, 0x07);
	t->mon = rd(f, 0x08);
	t->year = rd(f, 0x09);
	t->century = rd(f, 0x32);
}

static void assert_time(struct fix *f, const struct tm_regs *want)
{
	struct tm_regs t;

	get_time(f, &t);
	g_assert_cmphex(t.sec, ==, want->sec);
	g_assert_cmphex(t.min, ==, want->min);
	g_assert_cmphex(t.hour, ==, want->hour);
	g_assert_cmphex(t.wday, ==, want->wday);
	g_assert_cmphex(t.mday, ==, want->mday);
	g_assert_cmphex(t.mon, ==, want->mon);
	g_assert_cmphex(t.year, ==, want->year);
	g_assert_cmphex(t.century, ==, want->century);
}

static unsigned bcd(uint8_t b)
{
	return (b >> 4) * 10 + (b & 15);
}

/* The time in BCD 24-hour mode as a GDateTime, computed independently. */
static GDateTime *time_of(struct fix *f)
{
	struct tm_regs t;

	get_time(f, &t);
	return g_date_time_new_utc(bcd(t.century) * 100 + bcd(t.year), bcd(t.mon),
				   bcd(t.mday), bcd(t.hour), bcd(t.min), bcd(t.sec));
}

static const struct tm_regs leap_eve = {	/* Thu 2024-02-29 23:59:58 */
	.sec = 0x58, .min = 0x59, .hour = 0x23, .wday = 0x05,
	.mday = 0x29, .mon = 0x02, .year = 0x24, .century = 0x20,
};

static void test_power_on(void)
{
	struct fix f;
	GDateTime *dt, *host;
	GTimeSpan diff;

	setup(&f);
	g_assert_cmphex(rd(&f, 0x0a) & 0x7f, ==, 0x26);
	g_assert_cmphex(rd(&f, 0x0b), ==, 0x02);
	g_assert_cmphex(rd(&f, 0x0c), ==, 0x00);
	g_assert_cmphex(rd(&f, 0x0d), ==, 0x80);
	/* the time starts from the host's */
	dt = time_of(&f);
	g_assert_nonnull(dt);
	host = g_date_time_new_now_utc();
	diff = g_date_time_difference(host, dt);
	g_assert_cmpint(diff, >=, 0);
	g_assert_cmpint(diff, <, 3 * G_TIME_SPAN_SECOND);
	g_date_time_unref(dt);
	g_date_time_unref(host);
	g_assert_cmpint(irq8(&f), ==, 0);
	teardown(&f);
}

static void test_bcd_binary(void)
{
	struct fix f;
	struct tm_regs bin = {
		.sec = 58, .min = 59, .hour = 23, .wday = 5,
		.mday = 29, .mon = 2, .year = 24, .century = 20,
	};
	struct tm_regs march = {	/* Fri 2024-03-01 00:00:00, binary */
		.sec = 0, .min = 0, .hour = 0, .wday = 6,
		.mday = 1, .mon = 3, .year = 24, .century = 20,
	};

	setup(&f);
	set_time(&f, 0x02, &leap_eve, 6);
	assert_time(&f, &leap_eve);
	/* DM = 1: the same time reads in binary */
	wr(&f, 0x0b, 0x06);
	assert_time(&f, &bin);
	advance(&f, 1500 * MS);
	assert_time(&f, &march);
	/* a write while running sets that field, in the current format */
	wr(&f, 0x00, 30);
	g_assert_cmphex(rd(&f, 0x00), ==, 30);
	g_assert_cmphex(rd(&f, 0x02), ==, 0);
	wr(&f, 0x0b, 0x02);
	g_assert_cmphex(rd(&f, 0x00), ==, 0x30);
	g_assert_cmphex(rd(&f, 0x08), ==, 0x03);
	/* 2099-12-31 23:59:59 rolls into the next century */
	wr(&f, 0x0b, 0x82);
	wr(&f, 0x00, 0x59);
	wr(&f, 0x02, 0x59);
	wr(&f, 0x04, 0x23);
	wr(&f, 0x07, 0x31);
	wr(&f, 0x08, 0x12);
	wr(&f, 0x09, 0x99);
	wr(&f, 0x32, 0x20);
	wr(&f, 0x0b, 0x02);
	advance(&f, SEC);
	g_assert_cmphex(rd(&f, 0x09), ==, 0x00);
	g_assert_cmphex(rd(&f, 0x32), ==, 0x21);
	g_assert_cmphex(rd(&f, 0x08), ==, 0x01);
	g_assert_cmphex(rd(&f, 0x07), ==, 0x01);
	g_assert_cmphex(rd(&f, 0x06), ==, 0x06);	/* a Friday */
	teardown(&f);
}

static void test_garbage_time(void)
{
	struct fix f;

	setup(&f);
	set_time(&f, 0x02, &leap_eve, 6);
	/* non-BCD values are clamped into range, never crash */
	wr(&f, 0x0b, 0x82);
	wr(&f, 0x08, 0x1f);
	wr(&f, 0x00, 0xff);
	wr(&f, 0x04, 0x3a);
	g_assert_cmphex(rd(&f, 0x08), ==, 0x1f);	/* SET: reads what was written */
	wr(&f, 0x0b, 0x02);
	g_assert_cmphex(rd(&f, 0x08), ==, 0x12);
	g_assert_cmphex(rd(&f, 0x00), ==, 0x59);
	g_assert_cmphex(rd(&f, 0x04), ==, 0x23);
	/* day 31 of a 30-day month carries over */
	wr(&f, 0x0b, 0x82);
	wr(&f, 0x07, 0x31);
	wr(&f, 0x08, 0x04);
	wr(&f, 0x0b, 0x02);
	g_assert_cmphex(rd(&f, 0x07), ==, 0x01);
	g_assert_cmphex(rd(&f, 0x08), ==, 0x05);
	teardown(&f);
}

static void test_12h(void)
{
	struct fix f;
	struct tm_regs t = leap_eve;

	setup(&f);
	t.sec = 0x59;
	set_time(&f, 0x02, &t, 6);
	/* 24/12 = 0: hours 1-12, bit 7 = PM */
	wr(&f, 0x0b, 0x00);
	g_assert_cmphex(rd(&f, 0x04), ==, 0x91);
	advance(&f, 500 * MS);
	g_assert_cmphex(rd(&f, 0x04), ==, 0x12);	/* midnight is 12 AM */
	advance(&f, 12 * 3600 * SEC);
	g_assert_cmphex(rd(&f, 0x04), ==, 0x92);	/* noon is 12 PM */
	advance(&f, 3600 * SEC);
	g_assert_cmphex(rd(&f, 0x04), ==, 0x81);
	advance(&f, 10 * 3600 * SEC);
	g_assert_cmphex(rd(&f, 0x04), ==, 0x91);
	wr(&f, 0x0b, 0x04);				/* binary, 12 h */
	g_assert_cmphex(rd(&f, 0x04), ==, 0x8b);
	/* writing 12 AM in 12 h mode is hour 0 in 24 h mode */
	wr(&f, 0x0b, 0x00);
	wr(&f, 0x04, 0x12);
	wr(&f, 0x0b, 0x02);
	g_assert_cmphex(rd(&f, 0x04), ==, 0x00);
	wr(&f, 0x0b, 0x80);
	wr(&f, 0x04, 0x92);
	wr(&f, 0x0b, 0x00);
	wr(&f, 0x0b, 0x02);
	g_assert_cmphex(rd(&f, 0x04), ==, 0x12);
	teardown(&f);
}

static void test_advance(void)
{
	struct fix f;
	GDateTime *a, *b;

	setup(&f);
	set_time(&f, 0x02, &leap_eve, 6);
	a = time_of(&f);
	advance(&f, 100 * SEC);
	b = time_of(&f);
	g_assert_cmpint(g_date_time_difference(b, a), ==, 100 * G_TIME_SPAN_SECOND);
	g_date_time_unref(b);
	/* 1 day 1 h 2 min 5 s later, via the calendar */
	advance(&f, (90000 + 125 - 100) * SEC);
	b = time_of(&f);
	g_assert_cmpint(g_date_time_difference(b, a), ==,
			(90000 + 125) * G_TIME_SPAN_SECOND);
	g_assert_cmpint(g_date_time_get_month(b), ==, 3);
	g_assert_cmpint(g_date_time_get_day_of_month(b), ==, 2);
	g_assert_cmphex(rd(&f, 0x06), ==, 0x07);	/* Saturday */
	g_date_time_unref(a);
	g_date_time_unref(b);
	teardown(&f);
}

static void test_set_freezes(void)
{
	struct fix f;
	struct tm_regs t = leap_eve;

	setup(&f);
	set_time(&f, 0x02, &leap_eve, 0);
	advance(&f, 500 * MS);			/* 23:59:59 */
	wr(&f, 0x0b, 0x82);
	rd(&f, 0x0c);
	advance(&f, 5 * SEC);
	g_assert_cmphex(rd(&f, 0x00), ==, 0x59);
	g_assert_cmphex(rd(&f, 0x02), ==, 0x59);
	/* no update cycles while SET: no UF, no UIP */
	g_assert_cmphex(rd(&f, 0x0c), ==, 0x00);
	advance(&f, SEC - 100 * US);
	g_assert_cmphex(rd(&f, 0x0a) & 0x80, ==, 0);
	wr(&f, 0x00, 0x10);
	g_assert_cmphex(rd(&f, 0x00), ==, 0x10);
	wr(&f, 0x0b, 0x02);
	t.sec = 0x10;
	t.min = 0x59;
	assert_time(&f, &t);
	/* the divider kept its phase: the next update is 100 us away */
	advance(&f, 99 * US);
	g_assert_cmphex(rd(&f, 0x00), ==, 0x10);
	advance(&f, 1 * US);
	g_assert_cmphex(rd(&f, 0x00), ==, 0x11);
	teardown(&f);
}

static void test_uip(void)
{
	struct fix f;

	setup(&f);
	set_time(&f, 0x02, &leap_eve, 6);
	advance(&f, 250 * MS);
	g_assert_cmphex(rd(&f, 0x0a), ==, 0x26);
	/* UIP rises 8 ticks of 32.768 kHz (244.140625 us) before the update */
	advance(&f, 249755859);
	g_assert_cmphex(rd(&f, 0x0a), ==, 0x26);
	advance(&f, 1);
	g_assert_cmphex(rd(&f, 0x0a), ==, 0xa6);
	advance(&f, 244139);
	g_assert_cmphex(rd(&f, 0x0a), ==, 0xa6);
	g_assert_cmphex(rd(&f, 0x00), ==, 0x58);
	advance(&f, 1);
	g_assert_cmphex(rd(&f, 0x0a), ==, 0x26);
	g_assert_cmphex(rd(&f, 0x00), ==, 0x59);
	/* and again one second later */
	advance(&f, SEC - 244141);
	g_assert_cmphex(rd(&f, 0x0a), ==, 0x26);
	advance(&f, 1);
	g_assert_cmphex(rd(&f, 0x0a), ==, 0xa6);
	/* UIP is read-only */
	wr(&f, 0x0a, 0xa6);
	advance(&f, 244140);
	g_assert_cmphex(rd(&f, 0x0a), ==, 0x26);
	teardown(&f);
}

static void test_divider(void)
{
	struct fix f;

	setup(&f);
	set_time(&f, 0x02, &leap_eve, 6);
	advance(&f, 250 * MS);
	/* DV = 000: oscillator off, time stands still and no UIP */
	wr(&f, 0x0a, 0x06);
	rd(&f, 0x0c);
	advance(&f, 10 * SEC - 100 * US);
	g_assert_cmphex(rd(&f, 0x00), ==, 0x58);
	g_assert_cmphex(rd(&f, 0x0a), ==, 0x06);
	g_assert_cmphex(rd(&f, 0x0c), ==, 0x00);	/* no PF either */
	/* back on: it resumes 250 ms into its second */
	wr(&f, 0x0a, 0x26);
	advance(&f, 250 * MS - 1);
	g_assert_cmphex(rd(&f, 0x00), ==, 0x58);
	advance(&f, 1);
	g_assert_cmphex(rd(&f, 0x00), ==, 0x59);
	/* DV = 11x holds the chain in reset; release restarts at half a second */
	advance(&f, 100 * MS);
	wr(&f, 0x0a, 0x76);
	advance(&f, 3 * SEC);
	g_assert_cmphex(rd(&f, 0x00), ==, 0x59);
	wr(&f, 0x0a, 0x26);
	advance(&f, 500 * MS - 1);
	g_assert_cmphex(rd(&f, 0x00), ==, 0x59);
	advance(&f, 1);
	g_assert_cmphex(rd(&f, 0x00), ==, 0x00);
	teardown(&f);
}

/*
 * Counts interrupts over one virtual second, acknowledging each by reading C
 * (UF and AF may show too: updates set them even without UIE and AIE).
 */
static unsigned count_irqs(struct fix *f, uint8_t want_c)
{
	unsigned n = 0, i;

	for (i = 0; i < 20000; i++) {
		advance(f, 50 * US);
		if (irq8(f)) {
			n++;
			g_assert_cmphex(rd(f, 0x0c) & ~0x30, ==, want_c);
			g_assert_cmpint(irq8(f), ==, 0);
		}
	}
	return n;
}

static void test_periodic(void)
{
	struct fix f;

	setup(&f);
	set_time(&f, 0x02, &leap_eve, 6);
	advance(&f, 123 * US);
	wr(&f, 0x0b, 0x42);
	rd(&f, 0x0c);
	g_assert_cmpint(irq8(&f), ==, 0);
	g_assert_cmpuint(count_irqs(&f, 0xc0), ==, 1024);
	/* without a read of C the line stays up and C reads once */
	advance(&f, 5 * MS);
	g_assert_cmpint(irq8(&f), ==, 1);
	advance(&f, 5 * MS);
	g_assert_cmphex(rd(&f, 0x0c), ==, 0xc0);
	g_assert_cmpint(irq8(&f), ==, 0);
	g_assert_cmphex(rd(&f, 0x0c), ==, 0x00);
	/* rates 1 and 2 are 256 and 128 Hz, like 8 and 9 */
	wr(&f, 0x0a, 0x21);
	rd(&f, 0x0c);
	g_assert_cmpuint(count_irqs(&f, 0xc0), ==, 256);
	wr(&f, 0x0a, 0x22);
	rd(&f, 0x0c);
	g_assert_cmpuint(count_irqs(&f, 0xc0), ==, 128);
	wr(&f, 0x0a, 0x23);
	rd(&f, 0x0c);
	g_assert_cmpuint(count_irqs(&f, 0xc0), ==, 8192);
	wr(&f, 0x0a, 0x2f);
	rd(&f, 0x0c);
	g_assert_cmpuint(count_irqs(&f, 0xc0), ==, 2);
	/* rate 0: no periodic interrupt at all */
	wr(&f, 0x0a, 0x20);
	rd(&f, 0x0c);
	g_assert_cmpuint(count_irqs(&f, 0xc0), ==, 0);
	/* PIE off: PF is still set, but no IRQF and no interrupt */
	wr(&f, 0x0a, 0x26);
	wr(&f, 0x0b, 0x02);
	rd(&f, 0x0c);
	advance(&f, 2 * MS);
	g_assert_cmpint(irq8(&f), ==, 0);
	g_assert_cmphex(rd(&f, 0x0c), ==, 0x40);
	/* setting PIE while PF is set interrupts at once */
	advance(&f, 2 * MS);
	wr(&f, 0x0b, 0x42);
	g_assert_cmpint(irq8(&f), ==, 1);
	g_assert_cmphex(rd(&f, 0x0c), ==, 0xc0);
	teardown(&f);
}

static void test_alarm(void)
{
	struct fix f;
	unsigned i;

	setup(&f);
	set_time(&f, 0x02, &leap_eve, 0);	/* 23:59:58 */
	/* alarm at hh:mm:05 of every minute of every hour */
	wr(&f, 0x01, 0x05);
	wr(&f, 0x03, 0xc0);
	wr(&f, 0x05, 0xff);
	wr(&f, 0x0b, 0x22);
	rd(&f, 0x0c);
	advance(&f, 500 * MS + 5 * SEC);	/* 00:00:04 */
	g_assert_cmpint(irq8(&f), ==, 0);
	advance(&f, SEC - 1);
	g_assert_cmpint(irq8(&f), ==, 0);
	advance(&f, 1);				/* 00:00:05 */
	g_assert_cmpint(irq8(&f), ==, 1);
	g_assert_cmphex(rd(&f, 0x0c), ==, 0xb0);	/* IRQF, AF, UF */
	for (i = 1; i <= 3; i++) {
		advance(&f, 60 * SEC - 1);
		g_assert_cmpint(irq8(&f), ==, 0);
		advance(&f, 1);
		g_assert_cmpint(irq8(&f), ==, 1);
		g_assert_cmphex(rd(&f, 0x02), ==, i);
		g_assert_cmphex(rd(&f, 0x0c), ==, 0xb0);
	}
	/* 01:30:00 only: the next one is 1 h 26 min 55 s after 00:03:05 */
	wr(&f, 0x01, 0x00);
	wr(&f, 0x03, 0x30);
	wr(&f, 0x05, 0x01);
	advance(&f, (3600 + 26 * 60 + 55) * SEC - 1);
	g_assert_cmpint(irq8(&f), ==, 0);
	g_assert_cmphex(rd(&f, 0x0c), ==, 0x10);
	advance(&f, 1);
	g_assert_cmpint(irq8(&f), ==, 1);
	g_assert_cmphex(rd(&f, 0x04), ==, 0x01);
	g_assert_cmphex(rd(&f, 0x02), ==, 0x30);
	g_assert_cmphex(rd(&f, 0x0c), ==, 0xb0);
	/* ... and a day later again */
	advance(&f, 86400 * SEC);
	g_assert_cmphex(rd(&f, 0x0c), ==, 0xb0);
	/* every second: all three don't care */
	wr(&f, 0x01, 0xc0);
	wr(&f, 0x03, 0xc0);
	wr(&f, 0x05, 0xc0);
	advance(&f, SEC);
	g_assert_cmphex(rd(&f, 0x0c), ==, 0xb0);
	/* a non-BCD alarm never matches */
	wr(&f, 0x01, 0x5a);
	rd(&f, 0x0c);
	advance(&f, 120 * SEC);
	g_assert_cmpint(irq8(&f), ==, 0);
	g_assert_cmphex(rd(&f, 0x0c), ==, 0x10);
	/* AF without AIE: the flag, no interrupt */
	wr(&f, 0x01, 0xc0);
	wr(&f, 0x0b, 0x02);
	advance(&f, SEC);
	g_assert_cmpint(irq8(&f), ==, 0);
	g_assert_cmphex(rd(&f, 0x0c), ==, 0x30);
	/* in binary 12-hour mode an alarm at 1 PM is 0x81 */
	wr(&f, 0x0b, 0x84);
	wr(&f, 0x00, 59);
	wr(&f, 0x02, 59);
	wr(&f, 0x04, 0x80 | 12);		/* 12:59:59 PM */
	wr(&f, 0x01, 0);
	wr(&f, 0x03, 0);
	wr(&f, 0x05, 0x81);
	wr(&f, 0x0b, 0x24);
	rd(&f, 0x0c);
	advance(&f, SEC);
	g_assert_cmpint(irq8(&f), ==, 1);
	g_assert_cmphex(rd(&f, 0x04), ==, 0x81);
	teardown(&f);
}

static void test_update_irq(void)
{
	struct fix f;

	setup(&f);
	set_time(&f, 0x02, &leap_eve, 0);
	wr(&f, 0x05, 0x12);	/* keep the alarm (00:00:00 at power-on) away */
	wr(&f, 0x0b, 0x12);
	g_assert_cmphex(rd(&f, 0x0b), ==, 0x12);
	advance(&f, 500 * MS - 1);
	g_assert_cmpint(irq8(&f), ==, 0);
	advance(&f, 1);
	g_assert_cmpint(irq8(&f), ==, 1);
	g_assert_cmphex(rd(&f, 0x0c), ==, 0x90);
	g_assert_cmpint(irq8(&f), ==, 0);
	g_assert_cmphex(rd(&f, 0x0c), ==, 0x00);
	advance(&f, SEC);
	g_assert_cmpint(irq8(&f), ==, 1);
	/* reading C late still reports the one flag, and lowers the line */
	advance(&f, 10 * SEC);
	g_assert_cmphex(rd(&f, 0x0c), ==, 0x90);
	g_assert_cmpint(irq8(&f), ==, 0);
	/* SET clears UIE */
	wr(&f, 0x0b, 0x92);
	g_assert_cmphex(rd(&f, 0x0b), ==, 0x82);
	teardown(&f);
}

static void test_reg_d(void)
{
	struct fix f;

	setup(&f);
	g_assert_cmphex(rd(&f, 0x0d), ==, 0x80);
	wr(&f, 0x0d, 0x00);
	g_assert_cmphex(rd(&f, 0x0d), ==, 0x80);
	/* C is read-only too */
	wr(&f, 0x0c, 0xff);
	g_assert_cmphex(rd(&f, 0x0c), ==, 0x00);
	g_assert_cmpint(irq8(&f), ==, 0);
	teardown(&f);
}

static void test_index(void)
{
	struct fix f;

	setup(&f);
	/* bit 7 of the index is the NMI mask, not part of the address */
	gh_bus_write(f.pio, 0x70, 0x8d, 1);
	g_assert_cmphex(gh_bus_read(f.pio, 0x71, 1), ==, 0x80);
	gh_bus_write(f.pio, 0x70, 0xff, 1);
	gh_bus_write(f.pio, 0x71, 0x5a, 1);
	g_assert_cmphex(rd(&f, 0x7f), ==, 0x5a);
	g_assert_cmphex(gh_bus_read(f.pio, 0x70, 1), ==, 0xff);
	/* a 16-bit write sets the index, then the data */
	gh_bus_write(f.pio, 0x70, 0x3340, 2);
	g_assert_cmphex(rd(&f, 0x40), ==, 0x33);
	g_assert_cmphex(gh_bus_read(f.pio, 0x70, 2), ==, 0x33ff);
	/* every plain CMOS byte holds what is written */
	for (unsigned i = 0x40; i < 0x80; i++)
		wr(&f, i, i ^ 0xa5);
	for (unsigned i = 0x40; i < 0x80; i++)
		g_assert_cmphex(rd(&f, i), ==, i ^ 0xa5);
	teardown(&f);
}

static void test_reset(void)
{
	struct fix f;

	setup(&f);
	set_time(&f, 0x02, &leap_eve, 6);
	wr(&f, 0x40, 0x77);
	wr(&f, 0x0b, 0x7a);	/* PIE AIE UIE SQWE, 24 h */
	advance(&f, 2 * SEC);
	g_assert_cmpint(irq8(&f), ==, 1);
	gh_device_reset(f.dev);
	g_assert_cmpint(irq8(&f), ==, 0);
	g_assert_cmphex(rd(&f, 0x0b), ==, 0x02);
	g_assert_cmphex(rd(&f, 0x0c), ==, 0x00);
	g_assert_cmphex(rd(&f, 0x40), ==, 0x77);
	g_assert_cmphex(rd(&f, 0x00), ==, 0x00);	/* 00:00:00 on March 1st */
	g_assert_cmphex(rd(&f, 0x08), ==, 0x03);
	advance(&f, 3 * SEC);
	g_assert_cmpint(irq8(&f), ==, 0);
	teardown(&f);
}

static unsigned checksum(struct fix *f)
{
	unsigned sum = 0;

	for (unsigned i = 0x10; i <= 0x2d; i++)
		sum += rd(f, i);
	return sum;
}

static void test_cmos_16m(void)
{
	struct fix f;

	setup_ram(&f, 16 << 20, "cdn");
	g_assert_cmphex(rd(&f, 0x0f), ==, 0x00);
	g_assert_cmphex(rd(&f, 0x10), ==, 0x00);
	g_assert_cmphex(rd(&f, 0x14), ==, 0x06);
	g_assert_cmphex(rd(&f, 0x15), ==, 0x80);	/* 640 KiB */
	g_assert_cmphex(rd(&f, 0x16), ==, 0x02);
	g_assert_cmphex(rd(&f, 0x17), ==, 0x00);	/* 15 MiB = 15360 KiB */
	g_assert_cmphex(rd(&f, 0x18), ==, 0x3c);
	g_assert_cmphex(rd(&f, 0x30), ==, 0x00);
	g_assert_cmphex(rd(&f, 0x31), ==, 0x3c);
	g_assert_cmphex(rd(&f, 0x34), ==, 0x00);
	g_assert_cmphex(rd(&f, 0x35), ==, 0x00);
	g_assert_cmphex(rd(&f, 0x5b), ==, 0x00);
	g_assert_cmphex(rd(&f, 0x5c), ==, 0x00);
	g_assert_cmphex(rd(&f, 0x5d), ==, 0x00);
	g_assert_cmphex(rd(&f, 0x5f), ==, 0x00);
	g_assert_cmphex(rd(&f, 0x3d), ==, 0x32);	/* disk, then CD-ROM */
	g_assert_cmphex(rd(&f, 0x38), ==, 0x40);	/* then network */
	g_assert_cmphex(checksum(&f), ==, 0xc4);
	g_assert_cmphex(rd(&f, 0x2e), ==, 0x00);
	g_assert_cmphex(rd(&f, 0x2f), ==, 0xc4);
	teardown(&f);
}

static void test_cmos_big(void)
{
	struct fix f;
	unsigned sum;

	/* 3.5 GiB: 3 GiB below the PCI hole, 512 MiB above 4 GiB */
	setup_ram(&f, 3584ULL << 20, "dax");
	g_assert_cmphex(rd(&f, 0x17), ==, 0xff);	/* capped */
	g_assert_cmphex(rd(&f, 0x18), ==, 0xff);
	g_assert_cmphex(rd(&f, 0x30), ==, 0xff);
	g_assert_cmphex(rd(&f, 0x31), ==, 0xff);
	g_assert_cmphex(rd(&f, 0x34), ==, 0x00);	/* (3 GiB - 16 MiB) / 64 KiB */
	g_assert_cmphex(rd(&f, 0x35), ==, 0xbf);
	g_assert_cmphex(rd(&f, 0x5b), ==, 0x00);	/* 512 MiB / 64 KiB */
	g_assert_cmphex(rd(&f, 0x5c), ==, 0x20);
	g_assert_cmphex(rd(&f, 0x5d), ==, 0x00);
	/* unknown boot letters are skipped: CD-ROM, floppy */
	g_assert_cmphex(rd(&f, 0x3d), ==, 0x13);
	g_assert_cmphex(rd(&f, 0x38), ==, 0x00);
	sum = checksum(&f);
	g_assert_cmphex(sum, ==, 0x06 + 0x80 + 0x02 + 0xff + 0xff);
	g_assert_cmphex(rd(&f, 0x2e), ==, sum >> 8);
	g_assert_cmphex(rd(&f, 0x2f), ==, sum & 0xff);
	teardown(&f);
}

static void test_bad_cfg(void)
{
	struct gh_device_cfg dcfg = { .base = 0, .irq = 8 };
	struct gh_vm *vm = dt_vm_new();
	struct gh_device *a = dt_dev_new(vm, &gh_mc146818_type, &dcfg), *b;
	struct gh_error err = { 0 };

	/* the ports are taken */
	g_assert_cmpint(gh_device_new(&gh_mc146818_type, vm, &dcfg, &b, &err), <, 0);
	g_assert_cmpint(err.code, <, 0);
	gh_device_free(a);
	g_assert_null(gh_bus_lookup(gh_vm_pio(vm), 0x70));
	gh_vm_free(vm);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/mc146818/power-on", test_power_on);
	g_test_add_func("/mc146818/bcd-binary", test_bcd_binary);
	g_test_add_func("/mc146818/garbage-time", test_garbage_time);
	g_test_add_func("/mc146818/12h", test_12h);
	g_test_add_func("/mc146818/advance", test_advance);
	g_test_add_func("/mc146818/set-freezes", test_set_freezes);
	g_test_add_func("/mc146818/uip", test_uip);
	g_test_add_func("/mc146818/divider", test_divider);
	g_test_add_func("/mc146818/periodic", test_periodic);
	g_test_add_func("/mc146818/alarm", test_alarm);
	g_test_add_func("/mc146818/update-irq", test_update_irq);
	g_test_add_func("/mc146818/reg-d", test_reg_d);
	g_test_add_func("/mc146818/index", test_index);
	g_test_add_func("/mc146818/reset", test_reset);
	g_test_add_func("/mc146818/cmos-16m", test_cmos_16m);
	g_test_add_func("/mc146818/cmos-big", test_cmos_big);
	g_test_add_func("/mc146818/bad-cfg", test_bad_cfg);
	return g_test_run();
}
