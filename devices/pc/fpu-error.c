/*
 * The PC/AT's coprocessor-error logic (SDM vol. 1, D.2.1): with CR0.NE
 * clear, an unmasked x87 exception drives FERR#, which the board latches
 * onto IRQ 13 (the soft backend sets the line, accel/soft.c). The error
 * handler's write to port 0xF0 clears the latch (and on real boards
 * asserts IGNNE#, which lets the next x87 instruction run; our CPU never
 * freezes on a pending error, so IGNNE# has nothing left to do).
 */
#include "gh/device.h"

#include <errno.h>
#include <inttypes.h>

#include "gh/bus.h"
#include "gh/irq.h"
#include "gh/vm.h"

#define FPU_ERROR_PORT 0xf0
#define FPU_ERROR_GSI 13

struct fpu_error {
	struct gh_vm *vm;
	uint16_t base;
	unsigned gsi;
};

static uint64_t fpu_error_read(void *opaque, uint64_t off, unsigned size)
{
	/* write-only: reads float high */
	return 0xff;
}

static void fpu_error_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct fpu_error *s = opaque;

	gh_irq_set(gh_vm_irq(s->vm), s->gsi, 0);
}

static const struct gh_io_ops fpu_error_ops = {
	.read = fpu_error_read,
	.write = fpu_error_write,
};

static int fpu_error_realize(void *dev, struct gh_vm *vm, const struct gh_device_cfg *cfg,
			     struct gh_error *err)
{
	struct fpu_error *s = dev;
	int ret;

	if (cfg->base > 0xffff)
		return gh_error_set(err, -EINVAL, "fpu-error: bad port 0x%" PRIx64, cfg->base);
	s->vm = vm;
	s->base = cfg->base ? cfg->base : FPU_ERROR_PORT;
	s->gsi = cfg->irq >= 0 ? (unsigned)cfg->irq : FPU_ERROR_GSI;
	ret = gh_bus_map(gh_vm_pio(vm), s->base, 1, &fpu_error_ops, s, "fpu-error");
	if (ret < 0)
		return gh_error_set(err, ret, "fpu-error: port 0x%x is taken", s->base);
	return 0;
}

static void fpu_error_reset(void *dev)
{
	struct fpu_error *s = dev;

	gh_irq_set(gh_vm_irq(s->vm), s->gsi, 0);
}

static void fpu_error_unrealize(void *dev)
{
	struct fpu_error *s = dev;

	gh_bus_unmap(gh_vm_pio(s->vm), s->base);
}

const struct gh_device_type gh_fpu_error_type = {
	.name = "fpu-error",
	.level = 1,
	.size = sizeof(struct fpu_error),
	.realize = fpu_error_realize,
	.reset = fpu_error_reset,
	.unrealize = fpu_error_unrealize,
};
