/*
 * Tests for the i8042 keyboard controller, PS/2 keyboard and mouse, and
 * port 0x92, driven through the ports as a guest drives them.
 */
#include <linux/input-event-codes.h>

#include <glib.h>

#include "devtest.h"
#include "gh/input.h"

#define DATA	0x60
#define CMD	0x64

#define ST_OBF	0x01
#define ST_SYS	0x04
#define ST_A2	0x08
#define ST_UNL	0x10
#define ST_AUXB	0x20

struct fix {
	struct gh_vm *vm;
	struct gh_device *dev;
	struct dt_edges edges;
};

static void fix_setup(struct fix *f, gconstpointer data)
{
	struct gh_device_cfg dcfg = { .base = 0, .irq = 1, .index = 0 };

	f->vm = dt_vm_new();
	dt_edges_attach(&f->edges, f->vm);
	f->dev = dt_dev_new(f->vm, &gh_i8042_type, &dcfg);
}

static void fix_teardown(struct fix *f, gconstpointer data)
{
	gh_device_free(f->dev);
	dt_edges_detach(&f->edges);
	gh_vm_free(f->vm);
}

static uint8_t status(struct fix *f)
{
	return dt_inb(f->vm, CMD);
}

/* Reads one byte that must be there, from the keyboard (aux false) or mouse. */
static uint8_t read_byte(struct fix *f, bool aux)
{
	uint8_t st = status(f);

	g_assert_cmphex(st & ST_OBF, ==, ST_OBF);
	g_assert_cmphex(st & ST_AUXB, ==, aux ? ST_AUXB : 0);
	return dt_inb(f->vm, DATA);
}

static void expect(struct fix *f, bool aux, const uint8_t *bytes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t v = read_byte(f, aux);

		if (v != bytes[i])
			g_error("byte %zu: got 0x%02x, expected 0x%02x", i, v,
				bytes[i]);
	}
	g_assert_cmphex(status(f) & ST_OBF, ==, 0);
}

#define EXPECT_KBD(f, ...)                                                     \
	do {                                                                   \
		static const uint8_t b_[] = { __VA_ARGS__ };                   \
		expect(f, false, b_, sizeof(b_));                              \
	} while (0)
#define EXPECT_AUX(f, ...)                                                     \
	do {                                                                   \
		static const uint8_t b_[] = { __VA_ARGS__ };                   \
		expect(f, true, b_, sizeof(b_));                               \
	} while (0)

static void expect_empty(struct fix *f)
{
	g_assert_cmphex(status(f) & ST_OBF, ==, 0);
}

static void command(struct fix *f, uint8_t c)
{
	dt_outb(f->vm, CMD, c);
}

static void write_cb(struct fix *f, uint8_t v)
{
	command(f, 0x60);
	dt_outb(f->vm, DATA, v);
}

static uint8_t read_cb(struct fix *f)
{
	command(f, 0x20);
	return read_byte(f, false);
}

static void mouse_cmd(struct fix *f, uint8_t v)
{
	command(f, 0xd4);
	dt_outb(f->vm, DATA, v);
}

static void key(struct fix *f, unsigned code, bool down)
{
	gh_input_key(gh_vm_input(f->vm), code, down);
}

static void tap(struct fix *f, unsigned code)
{
	key(f, code, true);
	key(f, code, false);
}

static void rel(struct fix *f, int dx, int dy, int dz, unsigned b)
{
	gh_input_rel(gh_vm_input(f->vm), dx, dy, dz, b);
}

/* ---- controller ---- */

static void test_power_on(struct fix *f, gconstpointer data)
{
	/* not locked, last write a command, no self-test yet */
	g_assert_cmphex(status(f), ==, ST_UNL | ST_A2);
	g_assert_cmphex(read_cb(f), ==, 0x03);
	g_assert_true(gh_vm_a20(f->vm));
	command(f, 0xd0);
	g_assert_cmphex(read_byte(f, false), ==, 0xcf);
	command(f, 0xc0);
	g_assert_cmphex(read_byte(f, false), ==, 0x80);
	command(f, 0xe0);
	g_assert_cmphex(read_byte(f, false), ==, 0x03);
	g_assert_cmpuint(gh_vm_reset_count(f->vm), ==, 0);
}

static void test_self_test(struct fix *f, gconstpointer data)
{
	command(f, 0xaa);
	g_assert_cmphex(status(f), ==, ST_OBF | ST_SYS | ST_UNL | ST_A2);
	g_assert_cmphex(dt_inb(f->vm, DATA), ==, 0x55);
	g_assert_cmphex(status(f) & ST_OBF, ==, 0);
	/* re-initialised: keyboard interface off, system flag set */
	g_assert_cmphex(read_cb(f), ==, 0x03 | 0x04 | 0x10);
	command(f, 0xa9);
	g_assert_cmphex(read_byte(f, false), ==, 0x00);
	command(f, 0xab);
	g_assert_cmphex(read_byte(f, false), ==, 0x00);
	expect_empty(f);
}

static void test_command_byte(struct fix *f, gconstpointer data)
{
	write_cb(f, 0x65);
	g_assert_cmphex(status(f) & ST_A2, ==, 0);
	g_assert_cmphex(status(f) & ST_SYS, ==, ST_SYS);
	g_assert_cmphex(read_cb(f), ==, 0x65);
	g_assert_cmphex(status(f) & ST_A2, ==, ST_A2);
	write_cb(f, 0x01);
	g_assert_cmphex(status(f) & ST_SYS, ==, 0);
	g_assert_cmphex(read_cb(f), ==, 0x01);

	/* the rest of the controller RAM */
	command(f, 0x61);
	dt_outb(f->vm, DATA, 0xab);
	command(f, 0x7f);
	dt_outb(f->vm, DATA, 0xcd);
	command(f, 0x21);
	g_assert_cmphex(read_byte(f, false), ==, 0xab);
	command(f, 0x3f);
	g_assert_cmphex(read_byte(f, false), ==, 0xcd);
	command(f, 0x22);
	g_assert_cmphex(read_byte(f, false), ==, 0x00);
	g_assert_cmphex(read_cb(f), ==, 0x01);

	/* clock bits as seen by the disable/enable commands */
	command(f, 0xad);
	command(f, 0xa7);
	g_assert_cmphex(read_cb(f), ==, 0x31);
	command(f, 0xe0);
	g_assert_cmphex(read_byte(f, false), ==, 0x00);
	command(f, 0xae);
	command(f, 0xa8);
	g_assert_cmphex(read_cb(f), ==, 0x01);
}

static void test_a20(struct fix *f, gconstpointer data)
{
	command(f, 0xd1);
	dt_outb(f->vm, DATA, 0xdd);
	g_assert_false(gh_vm_a20(f->vm));
	command(f, 0xd0);
	g_assert_cmphex(read_byte(f, false), ==, 0xcd);
	g_assert_cmphex(dt_inb(f->vm, 0x92), ==, 0x00);
	command(f, 0xd1);
	dt_outb(f->vm, DATA, 0xdf);
	g_assert_true(gh_vm_a20(f->vm));
	g_assert_cmphex(dt_inb(f->vm, 0x92), ==, 0x02);

	dt_outb(f->vm, 0x92, 0x00);
	g_assert_false(gh_vm_a20(f->vm));
	g_assert_cmphex(dt_inb(f->vm, 0x92), ==, 0x00);
	command(f, 0xd0);
	g_assert_cmphex(read_byte(f, false) & 0x02, ==, 0x00);
	dt_outb(f->vm, 0x92, 0x02);
	g_assert_true(gh_vm_a20(f->vm));
	g_assert_cmphex(dt_inb(f->vm, 0x92), ==, 0x02);
	g_assert_cmpuint(gh_vm_reset_count(f->vm), ==, 0);
}

static void test_reset(struct fix *f, gconstpointer data)
{
	command(f, 0xfe);
	g_assert_cmpuint(gh_vm_reset_count(f->vm), ==, 1);
	/* pulses that leave bit 0 alone do nothing */
	command(f, 0xff);
	command(f, 0xf1);
	command(f, 0xfd);
	g_assert_cmpuint(gh_vm_reset_count(f->vm), ==, 1);
	command(f, 0xf0);
	g_assert_cmpuint(gh_vm_reset_count(f->vm), ==, 2);

	/* port 0x92: bit 0 resets, reads back as 0, A20 follows bit 1 */
	dt_outb(f->vm, 0x92, 0x03);
	g_assert_cmpuint(gh_vm_reset_count(f->vm), ==, 3);
	g_assert_cmphex(dt_inb(f->vm, 0x92), ==, 0x02);

	/* output port bit 0 low holds the CPU in reset */
	command(f, 0xd1);
	dt_outb(f->vm, DATA, 0xde);
	g_assert_cmpuint(gh_vm_reset_count(f->vm), ==, 4);
	g_assert_true(gh_vm_a20(f->vm));
	command(f, 0xd1);
	dt_outb(f->vm, DATA, 0xdf);
	g_assert_cmpuint(gh_vm_reset_count(f->vm), ==, 4);
	expect_empty(f);
}

static void test_write_obuf(struct fix *f, gconstpointer data)
{
	command(f, 0xd2);
	dt_outb(f->vm, DATA, 0x42);
	g_assert_cmpint(gh_irq_level(gh_vm_irq(f->vm), 1), ==, 1);
	g_assert_cmpint(gh_irq_level(gh_vm_irq(f->vm), 12), ==, 0);
	g_assert_cmphex(read_byte(f, false), ==, 0x42);
	g_assert_cmpint(gh_irq_level(gh_vm_irq(f->vm), 1), ==, 0);

	command(f, 0xd3);
	dt_outb(f->vm, DATA, 0x43);
	g_assert_cmpint(gh_irq_level(gh_vm_irq(f->vm), 1), ==, 0);
	g_assert_cmpint(gh_irq_level(gh_vm_irq(f->vm), 12), ==, 1);
	g_assert_cmphex(read_byte(f, true), ==, 0x43);
	g_assert_cmpint(gh_irq_level(gh_vm_irq(f->vm), 12), ==, 0);

	/* D2 data is not translated */
	write_cb(f, 0x43);
	command(f, 0xd2);
	dt_outb(f->vm, DATA, 0x1c);
	g_assert_cmphex(read_byte(f, false), ==, 0x1c);
}

static void test_unknown_commands(struct fix *f, gconstpointer data)
{
	static const uint8_t bad[] = { 0x00, 0x05, 0x1f, 0x80, 0xa0, 0xb5, 0xc8,
				       0xe5, 0xef };

	for (size_t i = 0; i < sizeof(bad); i++) {
		command(f, bad[i]);
		expect_empty(f);
	}
	g_assert_cmphex(read_cb(f), ==, 0x03);
	g_assert_cmpuint(gh_vm_reset_count(f->vm), ==, 0);
	g_assert_true(gh_vm_a20(f->vm));

	/* a command cancels one that waits for its data byte */
	command(f, 0x60);
	command(f, 0x20);
	g_assert_cmphex(read_byte(f, false), ==, 0x03);
	/* and then a data byte goes to the keyboard: F2 is identify */
	dt_outb(f->vm, DATA, 0xf2);
	EXPECT_KBD(f, 0xfa, 0xab, 0x83);
	g_assert_cmphex(read_cb(f), ==, 0x03);

	/* reading an empty output buffer is harmless */
	(void)dt_inb(f->vm, DATA);
	expect_empty(f);
}

/* ---- keyboard ---- */

static void test_kbd_reset(struct fix *f, gconstpointer data)
{
	dt_outb(f->vm, DATA, 0xff);
	g_assert_cmphex(status(f) & ST_A2, ==, 0);
	EXPECT_KBD(f, 0xfa, 0xaa);
	dt_outb(f->vm, DATA, 0xee);
	EXPECT_KBD(f, 0xee);
	dt_outb(f->vm, DATA, 0xed);
	dt_outb(f->vm, DATA, 0x07);
	EXPECT_KBD(f, 0xfa, 0xfa);
	dt_outb(f->vm, DATA, 0xf3);
	dt_outb(f->vm, DATA, 0x20);
	EXPECT_KBD(f, 0xfa, 0xfa);
	/* resend: the last byte again */
	dt_outb(f->vm, DATA, 0xfe);
	EXPECT_KBD(f, 0xfa);
	/* garbage gets a resend request */
	dt_outb(f->vm, DATA, 0x01);
	EXPECT_KBD(f, 0xfe);
	dt_outb(f->vm, DATA, 0xfb);
	EXPECT_KBD(f, 0xfe);
	/* a command byte where an argument was expected is a command */
	dt_outb(f->vm, DATA, 0xed);
	dt_outb(f->vm, DATA, 0xf2);
	EXPECT_KBD(f, 0xfa, 0xfa, 0xab, 0x83);
}

static void test_kbd_identify(struct fix *f, gconstpointer data)
{
	dt_outb(f->vm, DATA, 0xf2);
	EXPECT_KBD(f, 0xfa, 0xab, 0x83);
	write_cb(f, 0x43);
	dt_outb(f->vm, DATA, 0xf2);
	EXPECT_KBD(f, 0xfa, 0xab, 0x41);
}

static void test_kbd_set2(struct fix *f, gconstpointer data)
{
	dt_outb(f->vm, DATA, 0xf0);
	dt_outb(f->vm, DATA, 0x00);
	EXPECT_KBD(f, 0xfa, 0xfa, 0x02);

	tap(f, KEY_A);
	EXPECT_KBD(f, 0x1c, 0xf0, 0x1c);
	tap(f, KEY_RIGHTCTRL);
	EXPECT_KBD(f, 0xe0, 0x14, 0xe0, 0xf0, 0x14);
	tap(f, KEY_UP);
	EXPECT_KBD(f, 0xe0, 0x75, 0xe0, 0xf0, 0x75);
	tap(f, KEY_LEFT);
	EXPECT_KBD(f, 0xe0, 0x6b, 0xe0, 0xf0, 0x6b);
	tap(f, KEY_F7);
	EXPECT_KBD(f, 0x83, 0xf0, 0x83);
	tap(f, KEY_KPENTER);
	EXPECT_KBD(f, 0xe0, 0x5a, 0xe0, 0xf0, 0x5a);
	tap(f, KEY_PAUSE);
	EXPECT_KBD(f, 0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77);
	tap(f, KEY_SYSRQ);
	EXPECT_KBD(f, 0xe0, 0x12, 0xe0, 0x7c, 0xe0, 0xf0, 0x7c, 0xe0, 0xf0,
		   0x12);
	tap(f, KEY_VOLUMEUP);
	EXPECT_KBD(f, 0xe0, 0x32, 0xe0, 0xf0, 0x32);
	/* unknown and out-of-range codes are dropped */
	tap(f, KEY_RESERVED);
	tap(f, KEY_MACRO);
	tap(f, 100000);
	expect_empty(f);
}

static void test_kbd_set1(struct fix *f, gconstpointer data)
{
	dt_outb(f->vm, DATA, 0xf0);
	dt_outb(f->vm, DATA, 0x01);
	EXPECT_KBD(f, 0xfa, 0xfa);
	dt_outb(f->vm, DATA, 0xf0);
	dt_outb(f->vm, DATA, 0x00);
	EXPECT_KBD(f, 0xfa, 0xfa, 0x01);

	tap(f, KEY_A);
	EXPECT_KBD(f, 0x1e, 0x9e);
	tap(f, KEY_ESC);
	EXPECT_KBD(f, 0x01, 0x81);
	tap(f, KEY_RIGHTCTRL);
	EXPECT_KBD(f, 0xe0, 0x1d, 0xe0, 0x9d);
	tap(f, KEY_UP);
	EXPECT_KBD(f, 0xe0, 0x48, 0xe0, 0xc8);
	tap(f, KEY_F7);
	EXPECT_KBD(f, 0x41, 0xc1);
	tap(f, KEY_LEFTMETA);
	EXPECT_KBD(f, 0xe0, 0x5b, 0xe0, 0xdb);
	tap(f, KEY_PAUSE);
	EXPECT_KBD(f, 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5);
	tap(f, KEY_SYSRQ);
	EXPECT_KBD(f, 0xe0, 0x2a, 0xe0, 0x37, 0xe0, 0xb7, 0xe0, 0xaa);

	/* set 3 is refused and the set is unchanged */
	dt_outb(f->vm, DATA, 0xf0);
	dt_outb(f->vm, DATA, 0x03);
	EXPECT_KBD(f, 0xfa, 0xfe);
	dt_outb(f->vm, DATA, 0xf0);
	dt_outb(f->vm, DATA, 0x7f);
	EXPECT_KBD(f, 0xfa, 0xfe);
	dt_outb(f->vm, DATA, 0xf0);
	dt_outb(f->vm, DATA, 0x00);
	EXPECT_KBD(f, 0xfa, 0xfa, 0x01);

	/* reset goes back to set 2 */
	dt_outb(f->vm, DATA, 0xff);
	EXPECT_KBD(f, 0xfa, 0xaa);
	tap(f, KEY_A);
	EXPECT_KBD(f, 0x1c, 0xf0, 0x1c);
}

static void test_kbd_translated(struct fix *f, gconstpointer data)
{
	write_cb(f, 0x43);
	tap(f, KEY_A);
	EXPECT_KBD(f, 0x1e, 0x9e);
	tap(f, KEY_RIGHTCTRL);
	EXPECT_KBD(f, 0xe0, 0x1d, 0xe0, 0x9d);
	tap(f, KEY_DOWN);
	EXPECT_KBD(f, 0xe0, 0x50, 0xe0, 0xd0);
	tap(f, KEY_PAUSE);
	EXPECT_KBD(f, 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5);
	tap(f, KEY_SYSRQ);
	EXPECT_KBD(f, 0xe0, 0x2a, 0xe0, 0x37, 0xe0, 0xb7, 0xe0, 0xaa);
	/* replies pass through the translation too */
	dt_outb(f->vm, DATA, 0xf0);
	dt_outb(f->vm, DATA, 0x00);
	EXPECT_KBD(f, 0xfa, 0xfa, 0x41);
	dt_outb(f->vm, DATA, 0xff);
	EXPECT_KBD(f, 0xfa, 0xaa);
}

static void test_kbd_irq(struct fix *f, gconstpointer data)
{
	struct gh_irq *irq = gh_vm_irq(f->vm);

	g_assert_cmpint(gh_irq_level(irq, 1), ==, 0);
	key(f, KEY_RIGHTCTRL, false);	/* E0 F0 14 */
	g_assert_cmpint(gh_irq_level(irq, 1), ==, 1);
	g_assert_cmpuint(f->edges.rises[1], ==, 1);
	g_assert_cmphex(dt_inb(f->vm, DATA), ==, 0xe0);
	/* the next byte is there at once, with a new edge */
	g_assert_cmpint(gh_irq_level(irq, 1), ==, 1);
	g_assert_cmpuint(f->edges.rises[1], ==, 2);
	g_assert_cmphex(dt_inb(f->vm, DATA), ==, 0xf0);
	g_assert_cmphex(dt_inb(f->vm, DATA), ==, 0x14);
	g_assert_cmpint(gh_irq_level(irq, 1), ==, 0);
	g_assert_cmpuint(f->edges.rises[1], ==, 3);
	g_assert_cmpint(gh_irq_level(irq, 12), ==, 0);

	/* with the keyboard interrupt disabled OBF is set, the line is not */
	write_cb(f, 0x02);
	tap(f, KEY_B);
	g_assert_cmphex(status(f) & ST_OBF, ==, ST_OBF);
	g_assert_cmpint(gh_irq_level(irq, 1), ==, 0);
	/* enabling it with the byte waiting raises the line */
	write_cb(f, 0x03);
	g_assert_cmpint(gh_irq_level(irq, 1), ==, 1);
	EXPECT_KBD(f, 0x32, 0xf0, 0x32);
	g_assert_cmpint(gh_irq_level(irq, 1), ==, 0);
}

static void test_kbd_clock_disabled(struct fix *f, gconstpointer data)
{
	command(f, 0xad);
	tap(f, KEY_A);
	expect_empty(f);
	g_assert_cmpint(gh_irq_level(gh_vm_irq(f->vm), 1), ==, 0);
	command(f, 0xae);
	EXPECT_KBD(f, 0x1c, 0xf0, 0x1c);

	/* the same through the command byte */
	write_cb(f, 0x13);
	tap(f, KEY_A);
	expect_empty(f);
	write_cb(f, 0x03);
	EXPECT_KBD(f, 0x1c, 0xf0, 0x1c);

	/* sending to the keyboard releases its clock */
	command(f, 0xad);
	dt_outb(f->vm, DATA, 0xee);
	EXPECT_KBD(f, 0xee);
	g_assert_cmphex(read_cb(f), ==, 0x03);
}

static void test_kbd_scanning(struct fix *f, gconstpointer data)
{
	dt_outb(f->vm, DATA, 0xf5);
	EXPECT_KBD(f, 0xfa);
	tap(f, KEY_A);
	expect_empty(f);
	dt_outb(f->vm, DATA, 0xf4);
	EXPECT_KBD(f, 0xfa);
	tap(f, KEY_A);
	EXPECT_KBD(f, 0x1c, 0xf0, 0x1c);
	/* F6: defaults (set 2) and scanning */
	dt_outb(f->vm, DATA, 0xf0);
	dt_outb(f->vm, DATA, 0x01);
	EXPECT_KBD(f, 0xfa, 0xfa);
	dt_outb(f->vm, DATA, 0xf6);
	EXPECT_KBD(f, 0xfa);
	tap(f, KEY_A);
	EXPECT_KBD(f, 0x1c, 0xf0, 0x1c);
}

static void test_kbd_overrun(struct fix *f, gconstpointer data)
{
	unsigned n = 0;

	for (int i = 0; i < 100; i++)
		key(f, KEY_A, true);
	while (status(f) & ST_OBF) {
		uint8_t v = dt_inb(f->vm, DATA);

		/* one byte in the controller, 64 in the keyboard, overrun */
		if (n < 65)
			g_assert_cmphex(v, ==, 0x1c);
		else
			g_assert_cmphex(v, ==, 0x00);
		n++;
	}
	g_assert_cmpuint(n, ==, 66);
	/* it recovers once read */
	tap(f, KEY_A);
	EXPECT_KBD(f, 0x1c, 0xf0, 0x1c);
}

/* ---- mouse ---- */

static void mouse_enable(struct fix *f)
{
	mouse_cmd(f, 0xf4);
	EXPECT_AUX(f, 0xfa);
}

static void test_mouse_reset(struct fix *f, gconstpointer data)
{
	mouse_cmd(f, 0xff);
	g_assert_cmpint(gh_irq_level(gh_vm_irq(f->vm), 12), ==, 1);
	EXPECT_AUX(f, 0xfa, 0xaa, 0x00);
	g_assert_cmpint(gh_irq_level(gh_vm_irq(f->vm), 12), ==, 0);
	mouse_cmd(f, 0xf2);
	EXPECT_AUX(f, 0xfa, 0x00);
	mouse_cmd(f, 0xe9);
	EXPECT_AUX(f, 0xfa, 0x00, 0x02, 100);
	mouse_cmd(f, 0xe8);
	mouse_cmd(f, 0x03);
	mouse_cmd(f, 0xe7);
	mouse_cmd(f, 0xf3);
	mouse_cmd(f, 40);
	mouse_cmd(f, 0xf4);
	EXPECT_AUX(f, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa);
	mouse_cmd(f, 0xe9);
	EXPECT_AUX(f, 0xfa, 0x30, 0x03, 40);
	/* bad arguments and commands */
	mouse_cmd(f, 0xe8);
	mouse_cmd(f, 0x04);
	mouse_cmd(f, 0xf3);
	mouse_cmd(f, 33);
	mouse_cmd(f, 0x01);
	EXPECT_AUX(f, 0xfa, 0xfe, 0xfa, 0xfe, 0xfe);
	mouse_cmd(f, 0xe9);
	EXPECT_AUX(f, 0xfa, 0x30, 0x03, 40);
	/* remote mode */
	mouse_cmd(f, 0xf0);
	mouse_cmd(f, 0xe9);
	EXPECT_AUX(f, 0xfa, 0xfa, 0x70, 0x03, 40);
	/* F6 restores defaults */
	mouse_cmd(f, 0xf6);
	mouse_cmd(f, 0xea);
	mouse_cmd(f, 0xe9);
	EXPECT_AUX(f, 0xfa, 0xfa, 0xfa, 0x00, 0x02, 100);
}

static void test_mouse_packets(struct fix *f, gconstpointer data)
{
	struct gh_irq *irq = gh_vm_irq(f->vm);

	/* not reporting yet: nothing */
	rel(f, 5, 5, 0, 0);
	expect_empty(f);
	mouse_enable(f);

	rel(f, 5, 3, 0, 0);	/* right and down: y is negative in PS/2 */
	g_assert_cmpint(gh_irq_level(irq, 12), ==, 1);
	g_assert_cmpint(gh_irq_level(irq, 1), ==, 0);
	EXPECT_AUX(f, 0x28, 0x05, 0xfd);
	g_assert_cmpint(gh_irq_level(irq, 12), ==, 0);
	rel(f, -2, -4, 0, GH_BTN_LEFT);
	EXPECT_AUX(f, 0x19, 0xfe, 0x04);
	/* a button change alone is a packet */
	rel(f, 0, 0, 0, GH_BTN_LEFT | GH_BTN_RIGHT | GH_BTN_MIDDLE);
	EXPECT_AUX(f, 0x0f, 0x00, 0x00);
	rel(f, 0, 0, 0, GH_BTN_LEFT | GH_BTN_RIGHT | GH_BTN_MIDDLE);
	expect_empty(f);
	rel(f, 0, 0, 0, 0);
	EXPECT_AUX(f, 0x08, 0x00, 0x00);
	/* no wheel without the IntelliMouse knock */
	rel(f, 0, 0, 3, 0);
	expect_empty(f);

	/* large motions are split */
	rel(f, 600, 0, 0, 0);
	EXPECT_AUX(f, 0x08, 0xff, 0x00, 0x08, 0xff, 0x00, 0x08, 0x5a, 0x00);
	rel(f, -300, 0, 0, 0);
	EXPECT_AUX(f, 0x18, 0x00, 0x00, 0x18, 0xd4, 0x00);
	rel(f, 0, -256, 0, 0);
	EXPECT_AUX(f, 0x08, 0x00, 0xff, 0x08, 0x00, 0x01);
	rel(f, 0, 256, 0, 0);
	EXPECT_AUX(f, 0x28, 0x00, 0x00);
	/* extreme values neither crash nor run forever */
	rel(f, G_MININT, G_MAXINT, G_MININT, 0);
	while (status(f) & ST_OBF)
		(void)dt_inb(f->vm, DATA);

	/* disabled reporting stops packets */
	mouse_cmd(f, 0xf5);
	EXPECT_AUX(f, 0xfa);
	rel(f, 1, 1, 0, 0);
	expect_empty(f);
}

static void test_mouse_remote(struct fix *f, gconstpointer data)
{
	mouse_cmd(f, 0xf0);
	EXPECT_AUX(f, 0xfa);
	rel(f, 3, 0, 0, 0);
	rel(f, 4, -1, 0, GH_BTN_RIGHT);
	expect_empty(f);
	mouse_cmd(f, 0xeb);
	EXPECT_AUX(f, 0xfa, 0x0a, 0x07, 0x01);
	mouse_cmd(f, 0xeb);
	EXPECT_AUX(f, 0xfa, 0x0a, 0x00, 0x00);
}

static void test_mouse_wrap(struct fix *f, gconstpointer data)
{
	mouse_cmd(f, 0xee);
	mouse_cmd(f, 0x12);
	mouse_cmd(f, 0xf4);	/* echoed, not obeyed */
	mouse_cmd(f, 0xec);
	EXPECT_AUX(f, 0xfa, 0x12, 0xf4, 0xfa);
	rel(f, 1, 0, 0, 0);
	expect_empty(f);
}

static void test_intellimouse(struct fix *f, gconstpointer data)
{
	static const uint8_t knock[] = { 200, 100, 80 };

	/* a wrong knock does nothing */
	mouse_cmd(f, 0xf3);
	mouse_cmd(f, 200);
	mouse_cmd(f, 0xf3);
	mouse_cmd(f, 80);
	mouse_cmd(f, 0xf2);
	EXPECT_AUX(f, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0x00);

	for (size_t i = 0; i < sizeof(knock); i++) {
		mouse_cmd(f, 0xf3);
		mouse_cmd(f, knock[i]);
		EXPECT_AUX(f, 0xfa, 0xfa);
	}
	mouse_cmd(f, 0xf2);
	EXPECT_AUX(f, 0xfa, 0x03);
	mouse_enable(f);

	rel(f, 0, 0, 1, 0);	/* wheel away from the user */
	EXPECT_AUX(f, 0x08, 0x00, 0x00, 0xff);
	rel(f, 1, 0, -2, 0);
	EXPECT_AUX(f, 0x08, 0x01, 0x00, 0x02);
	rel(f, 2, 1, 0, GH_BTN_MIDDLE);
	EXPECT_AUX(f, 0x2c, 0x02, 0xff, 0x00);
	/* the wheel is split at -8..7 */
	rel(f, 0, 0, -10, GH_BTN_MIDDLE);
	EXPECT_AUX(f, 0x0c, 0x00, 0x00, 0x07, 0x0c, 0x00, 0x00, 0x03);

	/* reset leaves wheel mode */
	mouse_cmd(f, 0xff);
	EXPECT_AUX(f, 0xfa, 0xaa, 0x00);
	mouse_cmd(f, 0xf2);
	EXPECT_AUX(f, 0xfa, 0x00);
}

static void test_mouse_queue_bound(struct fix *f, gconstpointer data)
{
	unsigned n = 0;

	mouse_enable(f);
	for (int i = 0; i < 200; i++)
		rel(f, 1, 0, 0, 0);
	while (status(f) & ST_OBF) {
		g_assert_cmphex(status(f) & ST_AUXB, ==, ST_AUXB);
		(void)dt_inb(f->vm, DATA);
		n++;
	}
	g_assert_cmpuint(n, ==, 240);
	g_assert_cmpuint(n % 3, ==, 0);
}

static void test_mouse_clock_disabled(struct fix *f, gconstpointer data)
{
	mouse_enable(f);
	command(f, 0xa7);
	rel(f, 1, 0, 0, 0);
	expect_empty(f);
	g_assert_cmpint(gh_irq_level(gh_vm_irq(f->vm), 12), ==, 0);
	command(f, 0xa8);
	EXPECT_AUX(f, 0x08, 0x01, 0x00);

	/* the mouse interrupt bit gates IRQ 12 only */
	write_cb(f, 0x01);
	rel(f, 1, 0, 0, 0);
	g_assert_cmphex(status(f) & (ST_OBF | ST_AUXB), ==, ST_OBF | ST_AUXB);
	g_assert_cmpint(gh_irq_level(gh_vm_irq(f->vm), 12), ==, 0);
	EXPECT_AUX(f, 0x08, 0x01, 0x00);
}

static void test_interleave(struct fix *f, gconstpointer data)
{
	struct gh_irq *irq = gh_vm_irq(f->vm);

	mouse_enable(f);
	rel(f, 1, 0, 0, 0);
	/* the first mouse byte is already in the output buffer */
	g_assert_cmphex(status(f) & ST_AUXB, ==, ST_AUXB);
	tap(f, KEY_A);
	g_assert_cmphex(read_byte(f, true), ==, 0x08);
	/* then keyboard data goes first */
	g_assert_cmpint(gh_irq_level(irq, 1), ==, 1);
	g_assert_cmpint(gh_irq_level(irq, 12), ==, 0);
	g_assert_cmphex(read_byte(f, false), ==, 0x1c);
	g_assert_cmphex(read_byte(f, false), ==, 0xf0);
	g_assert_cmphex(read_byte(f, false), ==, 0x1c);
	g_assert_cmpint(gh_irq_level(irq, 1), ==, 0);
	g_assert_cmpint(gh_irq_level(irq, 12), ==, 1);
	g_assert_cmphex(read_byte(f, true), ==, 0x01);
	g_assert_cmphex(read_byte(f, true), ==, 0x00);
	expect_empty(f);
	g_assert_cmpint(gh_irq_level(irq, 12), ==, 0);

	/* controller replies come before device data */
	tap(f, KEY_A);
	command(f, 0x20);
	g_assert_cmphex(read_byte(f, false), ==, 0x1c);
	g_assert_cmphex(read_byte(f, false), ==, 0x03);
	EXPECT_KBD(f, 0xf0, 0x1c);
}

static void test_device_reset(struct fix *f, gconstpointer data)
{
	write_cb(f, 0x47);
	command(f, 0xd1);
	dt_outb(f->vm, DATA, 0xdd);
	tap(f, KEY_A);
	mouse_cmd(f, 0xf4);
	g_assert_cmpint(gh_irq_level(gh_vm_irq(f->vm), 1), ==, 1);
	gh_device_reset(f->dev);
	g_assert_cmpint(gh_irq_level(gh_vm_irq(f->vm), 1), ==, 0);
	expect_empty(f);
	g_assert_true(gh_vm_a20(f->vm));
	g_assert_cmphex(read_cb(f), ==, 0x03);
	rel(f, 1, 1, 0, 0);	/* mouse reporting is off again */
	expect_empty(f);
}

/* Random bytes on every port: nothing breaks, and the device still works. */
static void test_garbage(struct fix *f, gconstpointer data)
{
	static const uint16_t ports[] = { DATA, CMD, 0x92 };
	uint32_t x = 12345;

	for (int i = 0; i < 20000; i++) {
		uint16_t port;
		uint8_t v;

		x = x * 1103515245 + 12345;
		port = ports[(x >> 16) % 3];
		v = (uint8_t)(x >> 24);
		if (x & 0x100)
			(void)dt_inb(f->vm, port);
		else
			dt_outb(f->vm, port, v);
		if ((i & 63) == 0)
			tap(f, KEY_A + (i & 7));
		if ((i & 127) == 0)
			rel(f, (int)(x % 600) - 300, 7, 1, x & 7);
	}
	gh_device_reset(f->dev);
	command(f, 0xaa);
	g_assert_cmphex(read_byte(f, false), ==, 0x55);
	dt_outb(f->vm, DATA, 0xff);
	EXPECT_KBD(f, 0xfa, 0xaa);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

#define ADD(name, fn) \
	g_test_add("/i8042/" name, struct fix, NULL, fix_setup, fn, fix_teardown)
	ADD("power-on", test_power_on);
	ADD("self-test", test_self_test);
	ADD("command-byte", test_command_byte);
	ADD("a20", test_a20);
	ADD("reset", test_reset);
	ADD("write-obuf", test_write_obuf);
	ADD("unknown-commands", test_unknown_commands);
	ADD("kbd/reset", test_kbd_reset);
	ADD("kbd/identify", test_kbd_identify);
	ADD("kbd/set2", test_kbd_set2);
	ADD("kbd/set1", test_kbd_set1);
	ADD("kbd/translated", test_kbd_translated);
	ADD("kbd/irq", test_kbd_irq);
	ADD("kbd/clock-disabled", test_kbd_clock_disabled);
	ADD("kbd/scanning", test_kbd_scanning);
	ADD("kbd/overrun", test_kbd_overrun);
	ADD("mouse/reset", test_mouse_reset);
	ADD("mouse/packets", test_mouse_packets);
	ADD("mouse/remote", test_mouse_remote);
	ADD("mouse/wrap", test_mouse_wrap);
	ADD("mouse/intellimouse", test_intellimouse);
	ADD("mouse/queue-bound", test_mouse_queue_bound);
	ADD("mouse/clock-disabled", test_mouse_clock_disabled);
	ADD("interleave", test_interleave);
	ADD("device-reset", test_device_reset);
	ADD("garbage", test_garbage);
#undef ADD
	return g_test_run();
}
