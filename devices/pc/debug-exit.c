/*
 * isa-debug-exit: a port whose writes end the VM with status (value << 1) | 1,
 * as QEMU's device of that name does, so test guests can report a result.
 */
#include "gh/device.h"

#include <errno.h>
#include <inttypes.h>

#include "gh/bus.h"
#include "gh/vm.h"

struct debug_exit {
	struct gh_vm *vm;
	uint16_t base;
};

static uint64_t debug_exit_read(void *opaque, uint64_t off, unsigned size)
{
	return 0;	/* QEMU's readback */
}

static void debug_exit_write(void *opaque, uint64_t off, uint64_t val,
			     unsigned size)
{
	struct debug_exit *s = opaque;
	uint32_t v = val;

	/* The shifted status only means something as an 8-bit exit code. */
	gh_vm_request_stop(s->vm, GH_STOP_DEBUG_EXIT, (int)((v << 1) | 1),
			   "guest wrote 0x%" PRIx32 " to the debug-exit port", v);
}

static const struct gh_io_ops debug_exit_ops = {
	.read = debug_exit_read,
	.write = debug_exit_write,
};

static int debug_exit_realize(void *dev, struct gh_vm *vm,
			      const struct gh_device_cfg *cfg,
			      struct gh_error *err)
{
	struct debug_exit *s = dev;
	int ret;

	if (cfg->base > 0xffff)
		return gh_error_set(err, -EINVAL, "debug-exit: bad port 0x%" PRIx64,
				    cfg->base);
	s->vm = vm;
	s->base = cfg->base ? cfg->base : 0xf4;
	ret = gh_bus_map(gh_vm_pio(vm), s->base, 1, &debug_exit_ops, s,
			 "debug-exit");
	if (ret < 0)
		return gh_error_set(err, ret, "debug-exit: port 0x%x is taken",
				    s->base);
	return 0;
}

static void debug_exit_unrealize(void *dev)
{
	struct debug_exit *s = dev;

	gh_bus_unmap(gh_vm_pio(s->vm), s->base);
}

const struct gh_device_type gh_debug_exit_type = {
	.name = "debug-exit",
	.level = 1,
	.size = sizeof(struct debug_exit),
	.realize = debug_exit_realize,
	.unrealize = debug_exit_unrealize,
};
