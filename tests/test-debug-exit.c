/* Tests of the small debug ports: isa-debug-exit, POST (0x80) and debugcon. */
#include <string.h>

#include <glib.h>

#include "devtest.h"
#include "gh/chardev.h"

static struct gh_device *new_dev(const struct gh_device_type *type,
				 struct gh_vm *vm, uint64_t base)
{
	const struct gh_device_cfg cfg = { .base = base, .irq = -1 };

	return dt_dev_new(vm, type, &cfg);
}

static void test_exit_status(void)
{
	struct gh_vm *vm = dt_vm_new();
	struct gh_device *dev = new_dev(&gh_debug_exit_type, vm, 0);
	struct gh_bus *pio = gh_vm_pio(vm);

	g_assert_cmpstr(gh_bus_lookup(pio, 0xf4), ==, "debug-exit");
	g_assert_null(gh_bus_lookup(pio, 0xf5));
	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_NONE);
	/* reads have no effect and return 0, as in QEMU */
	g_assert_cmphex(gh_bus_read(pio, 0xf4, 1), ==, 0);
	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_NONE);
	gh_bus_write(pio, 0xf4, 0x05, 1);
	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_DEBUG_EXIT);
	g_assert_cmpint(gh_vm_stop_status(vm), ==, 11);
	g_assert_nonnull(strstr(gh_vm_stop_message(vm), "0x5"));
	/* the first stop request wins */
	gh_bus_write(pio, 0xf4, 0x20, 1);
	g_assert_cmpint(gh_vm_stop_status(vm), ==, 11);
	gh_device_free(dev);
	g_assert_null(gh_bus_lookup(pio, 0xf4));
	gh_vm_free(vm);
}

static void test_exit_wide(void)
{
	struct gh_vm *vm = dt_vm_new();
	struct gh_device *dev = new_dev(&gh_debug_exit_type, vm, 0);

	/* a one-byte port sees the low byte of a wider write */
	gh_bus_write(gh_vm_pio(vm), 0xf4, 0x1234, 2);
	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_DEBUG_EXIT);
	g_assert_cmpint(gh_vm_stop_status(vm), ==, (0x34 << 1) | 1);
	gh_device_free(dev);
	gh_vm_free(vm);
}

static void test_exit_base(void)
{
	struct gh_vm *vm = dt_vm_new();
	struct gh_device *dev = new_dev(&gh_debug_exit_type, vm, 0x501);
	struct gh_bus *pio = gh_vm_pio(vm);

	g_assert_null(gh_bus_lookup(pio, 0xf4));
	gh_bus_write(pio, 0xf4, 0x00, 1);
	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_NONE);
	gh_bus_write(pio, 0x501, 0x00, 1);
	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_DEBUG_EXIT);
	g_assert_cmpint(gh_vm_stop_status(vm), ==, 1);
	gh_device_free(dev);
	gh_vm_free(vm);
}

static void test_post(void)
{
	struct gh_vm *vm = dt_vm_new();
	struct gh_device *dev = new_dev(&gh_post_type, vm, 0);
	struct gh_bus *pio = gh_vm_pio(vm);

	g_assert_cmpstr(gh_bus_lookup(pio, 0x80), ==, "post");
	g_assert_null(gh_bus_lookup(pio, 0x81));
	g_assert_cmphex(gh_bus_read(pio, 0x80, 1), ==, 0x00);
	gh_bus_write(pio, 0x80, 0x12, 1);
	g_assert_cmphex(gh_bus_read(pio, 0x80, 1), ==, 0x12);
	gh_bus_write(pio, 0x80, 0xab, 1);
	g_assert_cmphex(gh_bus_read(pio, 0x80, 1), ==, 0xab);
	/* the latch survives a reset, as a POST card's display does */
	gh_device_reset(dev);
	g_assert_cmphex(gh_bus_read(pio, 0x80, 1), ==, 0xab);
	/* a 16-bit write latches its low byte; the high byte hits nothing */
	gh_bus_write(pio, 0x80, 0x55c3, 2);
	g_assert_cmphex(gh_bus_read(pio, 0x80, 1), ==, 0xc3);
	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_NONE);
	gh_device_free(dev);
	g_assert_null(gh_bus_lookup(pio, 0x80));
	gh_vm_free(vm);
}

static void count_post_logs(const gchar *domain, GLogLevelFlags level,
			    const gchar *msg, gpointer opaque)
{
	unsigned *n = opaque;

	(void)domain;
	(void)level;
	if (g_str_has_prefix(msg, "POST code "))
		(*n)++;
}

static void test_post_log(void)
{
	struct gh_vm *vm = dt_vm_new();
	struct gh_device *dev = new_dev(&gh_post_type, vm, 0);
	struct gh_bus *pio = gh_vm_pio(vm);
	unsigned n = 0, i;
	guint id = g_log_set_handler(G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
				     count_post_logs, &n);

	/* a change is logged, the same code again is not */
	gh_bus_write(pio, 0x80, 0x12, 1);
	g_assert_cmpuint(n, ==, 1);
	gh_bus_write(pio, 0x80, 0x12, 1);
	g_assert_cmpuint(n, ==, 1);
	/* an I/O-delay loop writing changing values logs a bounded amount */
	for (i = 0; i < 10000; i++)
		gh_bus_write(pio, 0x80, i, 1);
	g_assert_cmpuint(n, ==, 64);
	g_assert_cmphex(gh_bus_read(pio, 0x80, 1), ==, (10000 - 1) & 0xff);
	/* the next boot's codes are logged again */
	gh_device_reset(dev);
	gh_bus_write(pio, 0x80, 0x01, 1);
	g_assert_cmpuint(n, ==, 65);
	g_log_remove_handler(G_LOG_DOMAIN, id);
	gh_device_free(dev);
	gh_vm_free(vm);
}

static void test_debugcon(void)
{
	struct gh_vm *vm = dt_vm_new();
	struct gh_chardev *chr = gh_chardev_new_buffer();
	struct gh_device *dev;
	struct gh_bus *pio = gh_vm_pio(vm);
	char *out;
	size_t len;

	gh_vm_set_debugcon(vm, chr);
	dev = new_dev(&gh_debugcon_type, vm, 0);
	g_assert_cmpstr(gh_bus_lookup(pio, 0xe9), ==, "debugcon");
	g_assert_cmpstr(gh_bus_lookup(pio, 0x402), ==, "debugcon");
	gh_bus_write(pio, 0xe9, 'H', 1);
	gh_bus_write(pio, 0xe9, 'i', 1);
	gh_bus_write(pio, 0x402, '!', 1);
	gh_bus_write(pio, 0x402, 0x100 | '\n', 2);	/* only the low byte */
	gh_bus_write(pio, 0xe9, 0x00, 1);
	out = gh_chardev_buffer_take(chr, &len);
	g_assert_cmpuint(len, ==, 5);
	g_assert_cmpmem(out, len, "Hi!\n\0", 5);
	g_free(out);
	/* reads return the Bochs/QEMU readback value on both ports */
	g_assert_cmphex(gh_bus_read(pio, 0xe9, 1), ==, 0xe9);
	g_assert_cmphex(gh_bus_read(pio, 0x402, 1), ==, 0xe9);
	out = gh_chardev_buffer_take(chr, &len);
	g_assert_cmpuint(len, ==, 0);
	g_free(out);
	gh_device_free(dev);
	g_assert_null(gh_bus_lookup(pio, 0xe9));
	g_assert_null(gh_bus_lookup(pio, 0x402));
	gh_vm_set_debugcon(vm, NULL);
	gh_chardev_free(chr);
	gh_vm_free(vm);
}

static void test_debugcon_base(void)
{
	struct gh_vm *vm = dt_vm_new();
	struct gh_device *dev = new_dev(&gh_debugcon_type, vm, 0x500);
	struct gh_bus *pio = gh_vm_pio(vm);

	g_assert_cmpstr(gh_bus_lookup(pio, 0x500), ==, "debugcon");
	g_assert_null(gh_bus_lookup(pio, 0xe9));
	g_assert_null(gh_bus_lookup(pio, 0x402));
	/* with no backend the bytes are dropped */
	g_assert_null(gh_vm_debugcon(vm));
	gh_bus_write(pio, 0x500, 'x', 1);
	g_assert_cmphex(gh_bus_read(pio, 0x500, 1), ==, 0xe9);
	gh_device_free(dev);
	gh_vm_free(vm);
}

static void test_taken(void)
{
	struct gh_vm *vm = dt_vm_new();
	struct gh_device *a = new_dev(&gh_post_type, vm, 0x402);
	struct gh_device_cfg cfg = { .base = 0, .irq = -1 };
	struct gh_error err = { 0 };
	struct gh_device *b;

	/* debugcon cannot get 0x402, and gives back 0xe9 on the way out */
	g_assert_cmpint(gh_device_new(&gh_debugcon_type, vm, &cfg, &b, &err), <, 0);
	g_assert_cmpint(err.code, <, 0);
	g_assert_null(gh_bus_lookup(gh_vm_pio(vm), 0xe9));
	g_assert_cmpstr(gh_bus_lookup(gh_vm_pio(vm), 0x402), ==, "post");
	gh_device_free(a);
	gh_vm_free(vm);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/debug-exit/status", test_exit_status);
	g_test_add_func("/debug-exit/wide", test_exit_wide);
	g_test_add_func("/debug-exit/base", test_exit_base);
	g_test_add_func("/post/latch", test_post);
	g_test_add_func("/post/log", test_post_log);
	g_test_add_func("/debugcon/output", test_debugcon);
	g_test_add_func("/debugcon/base", test_debugcon_base);
	g_test_add_func("/debugcon/taken", test_taken);
	return g_test_run();
}
