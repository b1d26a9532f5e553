/*
 * Shared set-up for the device tests: a VM with no CPUs on a manual clock,
 * a device on it, port I/O as the guest does it, and an edge counter on the
 * GSI lines. Header-only so each test program stays one file plus this.
 */
#ifndef GH_TESTS_DEVTEST_H
#define GH_TESTS_DEVTEST_H

#include <stdint.h>

#include <glib.h>

#include "gh/bus.h"
#include "gh/clock.h"
#include "gh/device.h"
#include "gh/irq.h"
#include "gh/vm.h"

#define DT_RAM_SIZE (16ULL << 20)

/* A CPU-less VM with ram bytes of RAM whose clock moves only by dt_advance. */
static inline struct gh_vm *dt_vm_new_ram(uint64_t ram)
{
	struct gh_vm_config cfg = {
		.ram_size = ram, .ncpus = 0, .accel = NULL, .manual_clock = true,
	};
	struct gh_error err = { 0 };
	struct gh_vm *vm = NULL;

	g_assert_cmpint(gh_vm_new(&cfg, &vm, &err), ==, 0);
	return vm;
}

static inline struct gh_vm *dt_vm_new(void)
{
	return dt_vm_new_ram(DT_RAM_SIZE);
}

/* Creates and realizes a device that must realize. */
static inline struct gh_device *dt_dev_new(struct gh_vm *vm,
					   const struct gh_device_type *type,
					   const struct gh_device_cfg *cfg)
{
	struct gh_error err = { 0 };
	struct gh_device *dev = NULL;

	g_assert_cmpint(gh_device_new(type, vm, cfg, &dev, &err), ==, 0);
	return dev;
}

static inline uint8_t dt_inb(struct gh_vm *vm, uint16_t port)
{
	return (uint8_t)gh_bus_read(gh_vm_pio(vm), port, 1);
}

static inline uint16_t dt_inw(struct gh_vm *vm, uint16_t port)
{
	return (uint16_t)gh_bus_read(gh_vm_pio(vm), port, 2);
}

static inline uint32_t dt_inl(struct gh_vm *vm, uint16_t port)
{
	return (uint32_t)gh_bus_read(gh_vm_pio(vm), port, 4);
}

static inline void dt_outb(struct gh_vm *vm, uint16_t port, uint8_t val)
{
	gh_bus_write(gh_vm_pio(vm), port, val, 1);
}

static inline void dt_outw(struct gh_vm *vm, uint16_t port, uint16_t val)
{
	gh_bus_write(gh_vm_pio(vm), port, val, 2);
}

static inline void dt_outl(struct gh_vm *vm, uint16_t port, uint32_t val)
{
	gh_bus_write(gh_vm_pio(vm), port, val, 4);
}

static inline void dt_advance(struct gh_vm *vm, uint64_t ns)
{
	gh_clock_advance(gh_vm_clock(vm), ns);
}

/* Every GSI as an IRQ sink sees it: level, 0 -> 1 edges, time of the last. */
struct dt_edges {
	struct gh_vm *vm;
	int level[GH_IRQ_MAX_GSI];
	unsigned rises[GH_IRQ_MAX_GSI];
	uint64_t last_rise_ns[GH_IRQ_MAX_GSI];
};

static inline void dt_edges_sink(void *opaque, unsigned gsi, int level)
{
	struct dt_edges *e = opaque;

	if (gsi >= GH_IRQ_MAX_GSI)
		return;
	if (level && !e->level[gsi]) {
		e->rises[gsi]++;
		e->last_rise_ns[gsi] = gh_clock_ns(gh_vm_clock(e->vm));
	}
	e->level[gsi] = level;
}

/* Attach before creating the device, so its first edge is seen. */
static inline void dt_edges_attach(struct dt_edges *e, struct gh_vm *vm)
{
	*e = (struct dt_edges){ .vm = vm };
	g_assert_cmpint(gh_irq_add_sink(gh_vm_irq(vm), dt_edges_sink, e), ==, 0);
}

static inline void dt_edges_detach(struct dt_edges *e)
{
	gh_irq_remove_sink(gh_vm_irq(e->vm), dt_edges_sink, e);
}

#endif
