/*
 * QEMU's extended key events (vnc/xtkey.c, gh_vnc_keys_code): an XT code
 * must name the key whose make code the guest reads from an 8042 with
 * translation on, the way PC BIOSes and Linux set it up. The XT table is
 * checked against devices/pc/i8042.c's scancode set 2 and translation,
 * both ways: every XT code we map, and every key the 8042 knows.
 */
#include <glib.h>
#include <linux/input-event-codes.h>

#include "devtest.h"
#include "gh/input.h"
#include "gh/vnc-keymap.h"
#include "gh/vnc-xtkey.h"

#define DATA	0x60
#define CMD	0x64
#define ST_OBF	0x01

/* The bytes the guest reads for a key's make, translated to set 1. */
static unsigned make_bytes(struct gh_vm *vm, unsigned code, uint8_t *out,
			   unsigned max)
{
	unsigned n = 0;

	gh_input_key(gh_vm_input(vm), code, true);
	while ((dt_inb(vm, CMD) & ST_OBF) && n < max)
		out[n++] = dt_inb(vm, DATA);
	gh_input_key(gh_vm_input(vm), code, false);
	while (dt_inb(vm, CMD) & ST_OBF)
		dt_inb(vm, DATA);
	return n;
}

static struct gh_vm *kbd_vm(struct gh_device **dev)
{
	struct gh_device_cfg cfg = { .base = 0, .irq = 1, .index = 0 };
	struct gh_vm *vm = dt_vm_new();

	*dev = dt_dev_new(vm, &gh_i8042_type, &cfg);
	/* command byte: keyboard interrupt, system flag, translation */
	dt_outb(vm, CMD, 0x60);
	dt_outb(vm, DATA, 0x45);
	return vm;
}

static void test_table_vs_i8042(void)
{
	struct gh_device *dev;
	struct gh_vm *vm = kbd_vm(&dev);
	unsigned mapped = 0, known = 0;
	uint8_t b[8];

	/* every XT code we map gives that make code in the guest */
	for (uint32_t xt = 0; xt < 0x100; xt++) {
		unsigned code = gh_vnc_xt_to_evdev(xt), n;

		if (!code)
			continue;
		mapped++;
		n = make_bytes(vm, code, b, sizeof(b));
		if (code == KEY_PAUSE || code == KEY_SYSRQ) {
			/* their own sequences (8042 test), not one make */
			g_assert_cmpuint(n, >, 2);
			continue;
		}
		if (xt & 0x80) {
			g_assert_cmpuint(n, ==, 2);
			g_assert_cmphex(b[0], ==, 0xe0);
			g_assert_cmphex(b[1] | 0x80, ==, xt);
		} else {
			g_assert_cmpuint(n, ==, 1);
			g_assert_cmphex(b[0], ==, xt);
		}
	}
	/* every key whose make is one code, or E0 and one, has its XT code */
	for (unsigned code = 1; code < 256; code++) {
		unsigned n = make_bytes(vm, code, b, sizeof(b));
		uint32_t xt;

		if (n == 1 && b[0] < 0x80)
			xt = b[0];
		else if (n == 2 && b[0] == 0xe0 && b[1] < 0x80)
			xt = 0x80 | b[1];
		else
			continue;
		known++;
		if (gh_vnc_xt_to_evdev(xt) != code)
			g_error("key %u: make code %s%02x, XT 0x%02x maps to %u",
				code, xt & 0x80 ? "e0 " : "", xt & 0x7f, xt,
				gh_vnc_xt_to_evdev(xt));
	}
	g_test_message("%u XT codes mapped, %u keys checked", mapped, known);
	g_assert_cmpuint(mapped, >=, 83 + 40);
	g_assert_cmpuint(known, >=, 83 + 40);
	gh_device_free(dev);
	gh_vm_free(vm);
}

static void test_out_of_range(void)
{
	g_assert_cmpuint(gh_vnc_xt_to_evdev(0), ==, 0);
	g_assert_cmpuint(gh_vnc_xt_to_evdev(0x80), ==, 0);
	g_assert_cmpuint(gh_vnc_xt_to_evdev(0x100), ==, 0);
	g_assert_cmpuint(gh_vnc_xt_to_evdev(0xe048), ==, 0);
	g_assert_cmpuint(gh_vnc_xt_to_evdev(0xffffffffu), ==, 0);
	g_assert_cmpuint(gh_vnc_xt_to_evdev(0xc6), ==, KEY_PAUSE);
}

static void record(void *opaque, unsigned code, bool down)
{
	GString *s = opaque;

	g_string_append_printf(s, "%s%c%u", s->len ? "," : "",
			       down ? '+' : '-', code);
}

/* A code event goes as it is: no Shift or AltGr around it, repeats as
 * makes, stray releases dropped, held keys released at the end. */
static void test_code_events(void)
{
	GString *s = g_string_new(NULL);
	struct gh_vnc_keys k;

	gh_vnc_keys_init(&k, gh_keymap_find("de"), record, s);
	gh_vnc_keys_code(&k, KEY_Z, true);
	gh_vnc_keys_code(&k, KEY_Z, true);
	gh_vnc_keys_code(&k, KEY_Z, false);
	gh_vnc_keys_code(&k, KEY_Z, false);
	gh_vnc_keys_code(&k, KEY_RIGHTALT, true);
	gh_vnc_keys_code(&k, KEY_Q, true);
	gh_vnc_keys_code(&k, 300, true);
	gh_vnc_keys_release_all(&k);
	g_assert_cmpstr(s->str, ==, "+44,+44,-44,+100,+16,-16,-100");
	g_string_free(s, TRUE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/vnc-xtkey/table-vs-i8042", test_table_vs_i8042);
	g_test_add_func("/vnc-xtkey/out-of-range", test_out_of_range);
	g_test_add_func("/vnc-xtkey/code-events", test_code_events);
	return g_test_run();
}
