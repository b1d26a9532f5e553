/* Tests of the IRQ 13 latch of FERR# (devices/pc/fpu-error.c). */
#include <glib.h>

#include "devtest.h"
#include "gh/irq.h"

static void test_clear(void)
{
	struct gh_vm *vm = dt_vm_new();
	const struct gh_device_cfg cfg = {.base = 0, .irq = 13};
	struct gh_device *dev = dt_dev_new(vm, &gh_fpu_error_type, &cfg);
	struct gh_irq *irq = gh_vm_irq(vm);

	g_assert_cmpstr(gh_bus_lookup(gh_vm_pio(vm), 0xf0), ==, "fpu-error");
	g_assert_null(gh_bus_lookup(gh_vm_pio(vm), 0xf1));
	/* the soft backend raises the line on FERR# */
	pthread_mutex_lock(gh_vm_lock(vm));
	gh_irq_set(irq, 13, 1);
	pthread_mutex_unlock(gh_vm_lock(vm));
	g_assert_cmpint(gh_irq_level(irq, 13), ==, 1);
	/* reads change nothing; any write clears it */
	g_assert_cmphex(dt_inb(vm, 0xf0), ==, 0xff);
	g_assert_cmpint(gh_irq_level(irq, 13), ==, 1);
	dt_outb(vm, 0xf0, 0);
	g_assert_cmpint(gh_irq_level(irq, 13), ==, 0);
	/* so does a reset */
	pthread_mutex_lock(gh_vm_lock(vm));
	gh_irq_set(irq, 13, 1);
	gh_device_reset(dev);
	pthread_mutex_unlock(gh_vm_lock(vm));
	g_assert_cmpint(gh_irq_level(irq, 13), ==, 0);
	gh_device_free(dev);
	g_assert_null(gh_bus_lookup(gh_vm_pio(vm), 0xf0));
	gh_vm_free(vm);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fpu-error/clear", test_clear);
	return g_test_run();
}
