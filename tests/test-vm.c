/*
 * Tests for the VM object without CPUs (gh/vm.h): accessors, stop requests,
 * reset counting, RAM size checks and the PC RAM layout around the PCI hole.
 */
#include "gh/vm.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "gh/bus.h"
#include "gh/chardev.h"
#include "gh/clock.h"
#include "gh/memory.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static struct gh_vm *new_vm(uint64_t ram)
{
	struct gh_vm_config cfg = {
		.ram_size = ram, .ncpus = 0, .accel = NULL, .manual_clock = true,
	};
	struct gh_error err = { 0 };
	struct gh_vm *vm = NULL;

	g_assert_cmpint(gh_vm_new(&cfg, &vm, &err), ==, 0);
	g_assert_cmpint(err.code, ==, 0);
	g_assert_nonnull(vm);
	return vm;
}

static void test_accessors(void)
{
	struct gh_vm_config cfg = {
		.ram_size = 16 * MiB, .ncpus = 4, .accel = NULL, .manual_clock = true,
	};
	struct gh_error err = { 0 };
	struct gh_chardev *c0 = gh_chardev_new_buffer(), *c3 = gh_chardev_new_buffer();
	struct gh_vm *vm = NULL;
	unsigned i;

	g_assert_cmpint(gh_vm_new(&cfg, &vm, &err), ==, 0);
	g_assert_nonnull(gh_vm_memory(vm));
	g_assert_nonnull(gh_vm_pio(vm));
	g_assert_nonnull(gh_vm_mmio(vm));
	g_assert_true((void *)gh_vm_pio(vm) != (void *)gh_vm_mmio(vm));
	g_assert_nonnull(gh_vm_irq(vm));
	g_assert_nonnull(gh_vm_clock(vm));
	g_assert_nonnull(gh_vm_input(vm));
	g_assert_nonnull(gh_vm_lock(vm));
	g_assert_nonnull(gh_vm_main_context(vm));
	g_assert_nonnull(gh_vm_accel_name(vm));
	/* No accelerator means no CPUs, whatever ncpus said. */
	g_assert_cmpuint(gh_vm_ncpus(vm), ==, 0);
	g_assert_cmpuint(gh_vm_ram_size(vm), ==, 16 * MiB);
	g_assert_cmpuint(gh_clock_ns(gh_vm_clock(vm)), ==, 0);

	for (i = 0; i < GH_VM_MAX_SERIAL; i++)
		g_assert_null(gh_vm_serial(vm, i));
	gh_vm_set_serial(vm, 0, c0);
	gh_vm_set_serial(vm, 3, c3);
	gh_vm_set_serial(vm, GH_VM_MAX_SERIAL, c0);	/* ignored */
	g_assert_true(gh_vm_serial(vm, 0) == c0);
	g_assert_null(gh_vm_serial(vm, 1));
	g_assert_true(gh_vm_serial(vm, 3) == c3);
	g_assert_null(gh_vm_serial(vm, GH_VM_MAX_SERIAL));
	g_assert_null(gh_vm_serial(vm, ~0u));
	g_assert_null(gh_vm_debugcon(vm));
	gh_vm_set_debugcon(vm, c3);
	g_assert_true(gh_vm_debugcon(vm) == c3);

	gh_vm_set_boot_order(vm, "dc");
	g_assert_cmpstr(gh_vm_boot_order(vm), ==, "dc");
	gh_vm_set_boot_order(vm, "n");
	g_assert_cmpstr(gh_vm_boot_order(vm), ==, "n");

	gh_vm_set_a20(vm, false);
	g_assert_false(gh_vm_a20(vm));
	gh_vm_set_a20(vm, true);
	g_assert_true(gh_vm_a20(vm));

	/* There are no CPUs to read. */
	{
		struct gh_cpu_state s;

		g_assert_cmpint(gh_vm_get_cpu_state(vm, 0, &s), <, 0);
	}
	gh_vm_free(vm);
	gh_chardev_free(c0);
	gh_chardev_free(c3);
}

/* Without an accelerator there is nothing to start. */
static void test_start_without_cpus(void)
{
	struct gh_vm *vm = new_vm(16 * MiB);
	struct gh_error err = { 0 };
	int ret;

	ret = gh_vm_start(vm, &err);
	g_assert_cmpint(ret, <, 0);
	g_assert_cmpint(err.code, ==, ret);
	g_assert_cmpstr(err.msg, !=, "");

	g_assert_false(gh_vm_paused(vm));
	gh_vm_pause(vm);
	g_assert_true(gh_vm_paused(vm));
	gh_vm_pause(vm);
	g_assert_true(gh_vm_paused(vm));
	gh_vm_resume(vm);
	g_assert_false(gh_vm_paused(vm));
	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_NONE);
	gh_vm_free(vm);
}

static void test_stop_first_wins(void)
{
	struct gh_vm *vm = new_vm(16 * MiB);

	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_NONE);
	gh_vm_request_stop(vm, GH_STOP_DEBUG_EXIT, 33, "the guest wrote 0x%02x to port 0x%x",
			   0x10, 0xf4);
	gh_vm_request_stop(vm, GH_STOP_SIGNAL, 15, "signal %d", 15);
	gh_vm_request_stop(vm, GH_STOP_ERROR, -5, "late");
	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_DEBUG_EXIT);
	g_assert_cmpint(gh_vm_stop_status(vm), ==, 33);
	g_assert_cmpstr(gh_vm_stop_message(vm), ==, "the guest wrote 0x10 to port 0xf4");
	/* The main loop returns at once for a VM that already stopped. */
	g_assert_cmpint(gh_vm_run_main_loop(vm), ==, GH_STOP_DEBUG_EXIT);
	g_assert_cmpint(gh_vm_stop_status(vm), ==, 33);
	gh_vm_free(vm);
}

struct stopper {
	struct gh_vm *vm;
	unsigned delay_ms;
};

static gpointer stopper_thread(gpointer opaque)
{
	struct stopper *s = opaque;

	g_usleep(s->delay_ms * 1000);
	gh_vm_request_stop(s->vm, GH_STOP_POWEROFF, 0, "powered off after %u ms",
			   s->delay_ms);
	return NULL;
}

/* A stop from another thread ends a running main loop. */
static void test_stop_from_thread(void)
{
	struct stopper s = { new_vm(16 * MiB), 30 };
	gint64 t0 = g_get_monotonic_time();
	GThread *th = g_thread_new("stopper", stopper_thread, &s);

	g_assert_cmpint(gh_vm_run_main_loop(s.vm), ==, GH_STOP_POWEROFF);
	g_assert_cmpint(g_get_monotonic_time() - t0, >=, 25000);
	g_thread_join(th);
	g_assert_cmpstr(gh_vm_stop_message(s.vm), ==, "powered off after 30 ms");
	g_assert_cmpint(gh_vm_stop_status(s.vm), ==, 0);
	gh_vm_free(s.vm);
}

/* A long message is cut, not overflowed. */
static void test_stop_long_message(void)
{
	struct gh_vm *vm = new_vm(16 * MiB);
	char *msg = g_strnfill(2000, 'm');

	gh_vm_request_stop(vm, GH_STOP_ERROR, 1, "%s", msg);
	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_ERROR);
	g_assert_cmpuint(strlen(gh_vm_stop_message(vm)), >, 0);
	g_assert_cmpuint(strlen(gh_vm_stop_message(vm)), <, 2000);
	g_assert_true(g_str_has_prefix(msg, gh_vm_stop_message(vm)));
	g_free(msg);
	gh_vm_free(vm);
}

static void test_stop_names(void)
{
	static const enum gh_stop_reason all[] = {
		GH_STOP_NONE, GH_STOP_POWEROFF, GH_STOP_RESET, GH_STOP_TRIPLE_FAULT,
		GH_STOP_DEBUG_EXIT, GH_STOP_SIGNAL, GH_STOP_TIMEOUT, GH_STOP_ERROR,
	};
	unsigned i, j;

	for (i = 0; i < G_N_ELEMENTS(all); i++) {
		const char *n = gh_stop_reason_name(all[i]);

		g_assert_nonnull(n);
		g_assert_cmpuint(strlen(n), >, 0);
		for (j = 0; j < i; j++)
			g_assert_cmpstr(n, !=, gh_stop_reason_name(all[j]));
	}
	g_assert_cmpstr(gh_stop_reason_name(GH_STOP_POWEROFF), ==, "poweroff");
	g_assert_cmpstr(gh_stop_reason_name(GH_STOP_TRIPLE_FAULT), ==, "triple-fault");
	g_assert_cmpstr(gh_stop_reason_name(GH_STOP_DEBUG_EXIT), ==, "debug-exit");
	g_assert_cmpstr(gh_stop_reason_name(GH_STOP_TIMEOUT), ==, "timeout");
	/* Garbage gets a string, not a crash. */
	g_assert_nonnull(gh_stop_reason_name((enum gh_stop_reason)1000));
	g_assert_nonnull(gh_stop_reason_name((enum gh_stop_reason)-1));
}

static void test_reset_count(void)
{
	struct gh_vm *vm = new_vm(16 * MiB);

	g_assert_cmpuint(gh_vm_reset_count(vm), ==, 0);
	gh_vm_request_reset(vm);
	gh_vm_request_reset(vm);
	gh_vm_request_reset(vm);
	g_assert_cmpuint(gh_vm_reset_count(vm), ==, 3);
	/* A reset request is not a stop. */
	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_NONE);
	gh_vm_free(vm);
}

/* Port I/O through the VM takes the device lock around the device. */
struct lockdev {
	pthread_mutex_t *lock;
	int trylock;
	uint64_t last_off, last_val;
};

static uint64_t lockdev_read(void *opaque, uint64_t off, unsigned size)
{
	struct lockdev *d = opaque;

	d->trylock = pthread_mutex_trylock(d->lock);
	if (d->trylock == 0)
		pthread_mutex_unlock(d->lock);
	d->last_off = off;
	(void)size;
	return 0x40 + off;
}

static void lockdev_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct lockdev *d = opaque;

	(void)size;
	d->trylock = pthread_mutex_trylock(d->lock);
	if (d->trylock == 0)
		pthread_mutex_unlock(d->lock);
	d->last_off = off;
	d->last_val = val;
}

static const struct gh_io_ops lockdev_ops = { .read = lockdev_read, .write = lockdev_write };

static void test_pio(void)
{
	struct gh_vm *vm = new_vm(16 * MiB);
	struct lockdev d = { .lock = gh_vm_lock(vm), .trylock = -1 };

	g_assert_cmpint(gh_bus_map(gh_vm_pio(vm), 0x510, 2, &lockdev_ops, &d, "fwcfg"), ==, 0);
	g_assert_cmphex(gh_vm_pio_read(vm, 0x511, 1), ==, 0x41);
	g_assert_cmpint(d.trylock, ==, EBUSY);
	g_assert_cmpuint(d.last_off, ==, 1);
	d.trylock = -1;
	gh_vm_pio_write(vm, 0x510, 0x1234, 2);
	g_assert_cmpint(d.trylock, ==, EBUSY);
	g_assert_cmpuint(d.last_off, ==, 0);
	g_assert_cmphex(d.last_val, ==, 0x1234);
	g_assert_cmphex(gh_vm_pio_read(vm, 0x512, 2), ==, 0xffff);
	/* The lock is released afterwards. */
	g_assert_cmpint(pthread_mutex_trylock(gh_vm_lock(vm)), ==, 0);
	pthread_mutex_unlock(gh_vm_lock(vm));
	/* The MMIO bus is a different space. */
	g_assert_null(gh_bus_lookup(gh_vm_mmio(vm), 0x510));
	gh_vm_free(vm);
}

static void check_new_fails(uint64_t ram, int code)
{
	struct gh_vm_config cfg = { .ram_size = ram, .manual_clock = true };
	struct gh_error err = { 0 };
	struct gh_vm *vm = NULL;
	int ret;

	g_test_message("RAM size 0x%" G_GINT64_MODIFIER "x", ram);
	ret = gh_vm_new(&cfg, &vm, &err);
	g_assert_cmpint(ret, ==, code);
	g_assert_cmpint(err.code, ==, code);
	g_assert_cmpstr(err.msg, !=, "");
	g_assert_null(vm);
}

static uint64_t host_ram(void)
{
	return (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void test_ram_size_errors(void)
{
	struct gh_vm *vm;

	check_new_fails(0, -EINVAL);
	check_new_fails(1 * MiB, -EINVAL);
	check_new_fails(GH_VM_MIN_RAM - 4096, -EINVAL);
	check_new_fails(16 * MiB + 512, -EINVAL);
	check_new_fails(16 * MiB + 1, -EINVAL);
	check_new_fails(16 * MiB - 2048, -EINVAL);
	check_new_fails((host_ram() & ~0xfffULL) + 1 * GiB, -ENOMEM);
	check_new_fails(UINT64_MAX & ~0xfffULL, -ENOMEM);
	/* The smallest size works. */
	vm = new_vm(GH_VM_MIN_RAM);
	g_assert_cmpuint(gh_vm_ram_size(vm), ==, GH_VM_MIN_RAM);
	gh_vm_free(vm);
}

static void test_bad_accel(void)
{
	struct gh_vm_config cfg = {
		.ram_size = 16 * MiB, .ncpus = 1, .accel = "no-such-accel",
		.manual_clock = true,
	};
	struct gh_error err = { 0 };
	struct gh_vm *vm = NULL;

	g_assert_cmpint(gh_vm_new(&cfg, &vm, &err), <, 0);
	g_assert_cmpint(err.code, <, 0);
	g_assert_nonnull(strstr(err.msg, "no-such-accel"));
	g_assert_null(vm);

	/* CPU counts are checked before any backend is touched. */
	memset(&err, 0, sizeof(err));
	cfg.accel = "kvm";
	cfg.ncpus = 0;
	g_assert_cmpint(gh_vm_new(&cfg, &vm, &err), ==, -EINVAL);
	g_assert_null(vm);
	memset(&err, 0, sizeof(err));
	cfg.ncpus = GH_VM_MAX_CPUS + 1;
	g_assert_cmpint(gh_vm_new(&cfg, &vm, &err), ==, -EINVAL);
	g_assert_null(vm);
}

/* Reads back a pattern written at gpa, through both copy and map. */
static void check_rw(struct gh_memory *mem, uint64_t gpa)
{
	uint32_t v = (uint32_t)(gpa >> 12) ^ 0x5a5aa5a5, r = 0;
	uint32_t *p;

	g_assert_cmpint(gh_mem_write(mem, gpa, &v, sizeof(v)), ==, 0);
	g_assert_cmpint(gh_mem_read(mem, gpa, &r, sizeof(r)), ==, 0);
	g_assert_cmphex(r, ==, v);
	p = gh_mem_map(mem, gpa, sizeof(v));
	g_assert_nonnull(p);
	g_assert_cmphex(*p, ==, v);
}

static void check_region(struct gh_memory *mem, unsigned i, uint64_t gpa, uint64_t size)
{
	const struct gh_mem_region *r = gh_memory_region(mem, i);

	g_assert_nonnull(r);
	g_assert_cmphex(r->gpa, ==, gpa);
	g_assert_cmphex(r->size, ==, size);
	g_assert_cmpint(r->kind, ==, GH_MEM_RAM);
	g_assert_nonnull(r->hva);
}

static void test_layout_small(void)
{
	struct gh_vm *vm = new_vm(16 * MiB);
	struct gh_memory *mem = gh_vm_memory(vm);
	struct gh_e820_entry e[GH_E820_MAX];
	uint8_t b;

	g_assert_cmpuint(gh_memory_count(mem), ==, 2);
	check_region(mem, 0, 0, 0xa0000);
	check_region(mem, 1, 0xc0000, 16 * MiB - 0xc0000);
	g_assert_cmphex(gh_memory_ram_below_4g(mem), ==, 16 * MiB - 0x20000);
	g_assert_cmphex(gh_memory_ram_above_4g(mem), ==, 0);

	check_rw(mem, 0);
	check_rw(mem, 0x9fffc);
	check_rw(mem, 0xc0000);
	check_rw(mem, 16 * MiB - 4);
	/* The VGA window and everything past the end of RAM are not RAM. */
	g_assert_false(gh_mem_is_ram(mem, 0xa0000));
	g_assert_false(gh_mem_is_ram(mem, 0xbffff));
	g_assert_false(gh_mem_is_ram(mem, 16 * MiB));
	g_assert_cmpint(gh_mem_read(mem, 0xb8000, &b, 1), ==, -EFAULT);
	g_assert_cmpint(gh_mem_read(mem, 16 * MiB, &b, 1), ==, -EFAULT);
	g_assert_null(gh_mem_map(mem, 16 * MiB - 2, 4));

	g_assert_cmpuint(gh_memory_e820(mem, e, G_N_ELEMENTS(e)), ==, 4);
	g_assert_cmphex(e[0].addr, ==, 0);
	g_assert_cmphex(e[0].size, ==, 0x9fc00);
	g_assert_cmpuint(e[0].type, ==, GH_E820_RAM);
	g_assert_cmphex(e[1].addr, ==, 0x9fc00);
	g_assert_cmpuint(e[1].type, ==, GH_E820_RESERVED);
	g_assert_cmphex(e[2].addr, ==, 0xf0000);
	g_assert_cmphex(e[2].size, ==, 0x10000);
	g_assert_cmpuint(e[2].type, ==, GH_E820_RESERVED);
	g_assert_cmphex(e[3].addr, ==, 0x100000);
	g_assert_cmphex(e[3].size, ==, 15 * MiB);
	g_assert_cmpuint(e[3].type, ==, GH_E820_RAM);
	gh_vm_free(vm);
}

static void test_layout_3g(void)
{
	struct gh_vm *vm;
	struct gh_memory *mem;

	if (host_ram() <= 3 * GiB) {
		g_test_skip("the host has no more than 3 GiB of RAM");
		return;
	}
	vm = new_vm(3 * GiB);
	mem = gh_vm_memory(vm);
	g_assert_cmpuint(gh_memory_count(mem), ==, 2);
	check_region(mem, 1, 0xc0000, 3 * GiB - 0xc0000);
	g_assert_cmphex(gh_memory_ram_above_4g(mem), ==, 0);
	check_rw(mem, 3 * GiB - 4);
	g_assert_false(gh_mem_is_ram(mem, 3 * GiB));
	g_assert_false(gh_mem_is_ram(mem, 4 * GiB));
	gh_vm_free(vm);
}

/* RAM beyond 3 GiB moves above 4 GiB, leaving the PCI hole empty. */
static void test_layout_split(void)
{
	const uint64_t ram = 3 * GiB + 512 * MiB;
	struct gh_e820_entry e[GH_E820_MAX];
	struct gh_memory *mem;
	struct gh_vm *vm;
	uint8_t b;

	if (host_ram() <= ram) {
		g_test_skip("the host has too little RAM");
		return;
	}
	vm = new_vm(ram);
	mem = gh_vm_memory(vm);
	g_assert_cmpuint(gh_memory_count(mem), ==, 3);
	check_region(mem, 0, 0, 0xa0000);
	check_region(mem, 1, 0xc0000, GH_VM_LOWMEM_END - 0xc0000);
	check_region(mem, 2, 4 * GiB, 512 * MiB);
	g_assert_cmphex(gh_memory_ram_below_4g(mem), ==, GH_VM_LOWMEM_END - 0x20000);
	g_assert_cmphex(gh_memory_ram_above_4g(mem), ==, 512 * MiB);

	check_rw(mem, GH_VM_LOWMEM_END - 4);
	check_rw(mem, 4 * GiB);
	check_rw(mem, 4 * GiB + 512 * MiB - 4);
	/* The low and high parts are distinct memory. */
	check_rw(mem, 0x100000);
	check_rw(mem, 4 * GiB + 0x100000);
	{
		uint32_t lo, hi;

		g_assert_cmpint(gh_mem_read(mem, 0x100000, &lo, 4), ==, 0);
		g_assert_cmpint(gh_mem_read(mem, 4 * GiB + 0x100000, &hi, 4), ==, 0);
		g_assert_cmphex(lo, !=, hi);
	}
	g_assert_false(gh_mem_is_ram(mem, GH_VM_LOWMEM_END));
	g_assert_false(gh_mem_is_ram(mem, 4 * GiB - 1));
	g_assert_false(gh_mem_is_ram(mem, 4 * GiB + 512 * MiB));
	g_assert_cmpint(gh_mem_read(mem, GH_VM_LOWMEM_END - 1, &b, 2), ==, -EFAULT);
	g_assert_null(gh_mem_map(mem, 4 * GiB - 2, 4));

	g_assert_cmpuint(gh_memory_e820(mem, e, G_N_ELEMENTS(e)), ==, 5);
	g_assert_cmphex(e[3].addr, ==, 0x100000);
	g_assert_cmphex(e[3].size, ==, GH_VM_LOWMEM_END - 0x100000);
	g_assert_cmpuint(e[3].type, ==, GH_E820_RAM);
	g_assert_cmphex(e[4].addr, ==, 4 * GiB);
	g_assert_cmphex(e[4].size, ==, 512 * MiB);
	g_assert_cmpuint(e[4].type, ==, GH_E820_RAM);
	gh_vm_free(vm);
}

/* Firmware ROMs go in holes; anything overlapping RAM is refused. */
static void test_add_memory(void)
{
	struct gh_vm *vm = new_vm(16 * MiB);
	struct gh_memory *mem = gh_vm_memory(vm);
	uint8_t *bios = g_malloc(0x40000), *vga = g_malloc0(0x1000), b = 0;
	struct gh_error err = { 0 };
	unsigned n;

	memset(bios, 0xea, 0x40000);
	n = gh_memory_count(mem);
	g_assert_cmpint(gh_vm_add_memory(vm, 0xfffc0000, 0x40000, bios, true, "bios", &err),
			==, 0);
	g_assert_cmpint(err.code, ==, 0);
	g_assert_cmpint(gh_vm_add_memory(vm, 0xa0000, 0x1000, vga, false, "vga", &err), ==, 0);
	g_assert_cmpuint(gh_memory_count(mem), ==, n + 2);

	/* The ROM reads but does not write. */
	g_assert_cmpint(gh_mem_read(mem, 0xfffffff0, &b, 1), ==, 0);
	g_assert_cmphex(b, ==, 0xea);
	b = 0;
	g_assert_cmpint(gh_mem_write(mem, 0xfffffff0, &b, 1), ==, -EFAULT);
	g_assert_cmphex(bios[0x3fff0], ==, 0xea);
	check_rw(mem, 0xa0000);
	g_assert_cmphex(gh_memory_ram_below_4g(mem), ==, 16 * MiB - 0x20000 + 0x1000);

	/* Overlapping RAM: the low part, the 0xC0000 part, its end, the ROM. */
	g_assert_cmpint(gh_vm_add_memory(vm, 0x9f000, 0x2000, vga, false, "x", &err),
			==, -EEXIST);
	g_assert_cmpint(err.code, ==, -EEXIST);
	g_assert_cmpstr(err.msg, !=, "");
	memset(&err, 0, sizeof(err));
	g_assert_cmpint(gh_vm_add_memory(vm, 0xf0000, 0x10000, bios, true, "x", &err),
			==, -EEXIST);
	g_assert_cmpint(err.code, ==, -EEXIST);
	memset(&err, 0, sizeof(err));
	g_assert_cmpint(gh_vm_add_memory(vm, 16 * MiB - 0x1000, 0x2000, vga, false, "x",
					 &err), ==, -EEXIST);
	memset(&err, 0, sizeof(err));
	g_assert_cmpint(gh_vm_add_memory(vm, 0xffff0000, 0x1000, vga, true, "x", &err),
			==, -EEXIST);
	memset(&err, 0, sizeof(err));
	g_assert_cmpint(gh_vm_add_memory(vm, 0x1000, 0, vga, true, "x", &err), <, 0);
	g_assert_cmpuint(gh_memory_count(mem), ==, n + 2);
	/* Right after RAM is free. */
	memset(&err, 0, sizeof(err));
	g_assert_cmpint(gh_vm_add_memory(vm, 16 * MiB, 0x1000, vga, true, "x", &err), ==, 0);
	gh_vm_free(vm);
	g_free(bios);
	g_free(vga);
}

/*
 * The A20 gate closed by another thread reaches every soft vCPU: an AP
 * that keeps reading 0x100500 (FFFF:0510) in real mode, with the page in
 * its TLB, must come to see the alias at 0x500.
 */
static void test_a20_every_cpu(void)
{
	static const uint8_t ap[] = {
		0xb8, 0xff, 0xff,		/* mov ax, 0xffff */
		0x8e, 0xd8,			/* mov ds, ax */
		0x31, 0xdb,			/* xor bx, bx */
		0x8e, 0xc3,			/* mov es, bx */
		0xa0, 0x10, 0x05,		/* 1: mov al, [0x510] */
		0x26, 0xa2, 0x00, 0x06,		/* mov es:[0x600], al */
		0xeb, 0xf7,			/* jmp 1b */
	};
	struct gh_vm_config cfg = {
		.ram_size = 2 * MiB, .ncpus = 2, .accel = "soft", .manual_clock = true,
	};
	struct gh_error err = { 0 };
	struct gh_cpu_state s;
	struct gh_vm *vm = NULL;
	volatile uint8_t *seen;
	uint8_t *low, *high;
	bool w;
	int k;

	g_assert_cmpint(gh_vm_new(&cfg, &vm, &err), ==, 0);
	low = gh_mem_map_page(gh_vm_memory(vm), 0, &w);
	high = gh_mem_map_page(gh_vm_memory(vm), 0x100000, &w);
	g_assert_nonnull(low);
	g_assert_nonnull(high);
	memcpy(gh_mem_map_page(gh_vm_memory(vm), 0x7000, &w), ap, sizeof(ap));
	low[0x500] = 0x11;
	high[0x500] = 0x22;
	seen = &low[0x600];
	/* the BSP only sleeps */
	gh_cpu_state_reset(&s, true);
	s.halted = true;
	gh_vm_set_boot_state(vm, &s);
	g_assert_cmpint(gh_vm_start(vm, &err), ==, 0);
	/* a SIPI reaches the AP only once it waits for one: repeat it */
	for (k = 0; k < 2000 && *seen != 0x22; k++) {
		gh_vm_cpu_startup(vm, 1, 0x07);
		g_usleep(5000);
	}
	g_assert_cmphex(*seen, ==, 0x22);
	gh_vm_set_a20(vm, false);
	for (k = 0; k < 2000 && *seen != 0x11; k++)
		g_usleep(5000);
	g_assert_cmphex(*seen, ==, 0x11);
	gh_vm_free(vm);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/vm/accessors", test_accessors);
	g_test_add_func("/vm/start-without-cpus", test_start_without_cpus);
	g_test_add_func("/vm/stop/first-wins", test_stop_first_wins);
	g_test_add_func("/vm/stop/from-thread", test_stop_from_thread);
	g_test_add_func("/vm/stop/long-message", test_stop_long_message);
	g_test_add_func("/vm/stop/names", test_stop_names);
	g_test_add_func("/vm/reset-count", test_reset_count);
	g_test_add_func("/vm/pio", test_pio);
	g_test_add_func("/vm/ram-size-errors", test_ram_size_errors);
	g_test_add_func("/vm/bad-accel", test_bad_accel);
	g_test_add_func("/vm/layout/small", test_layout_small);
	g_test_add_func("/vm/layout/3g", test_layout_3g);
	g_test_add_func("/vm/layout/split", test_layout_split);
	g_test_add_func("/vm/add-memory", test_add_memory);
	g_test_add_func("/vm/a20-every-cpu", test_a20_every_cpu);
	return g_test_run();
}
