/*
 * The Bochs/QEMU debug console: bytes written to port 0xe9 (Bochs, SeaBIOS)
 * or 0x402 (OVMF) go to a character backend; reads return 0xe9 so a guest
 * can detect the port, as in QEMU's isa-debugcon.
 */
#include "gh/device.h"

#include <errno.h>
#include <inttypes.h>

#include "gh/bus.h"
#include "gh/chardev.h"
#include "gh/vm.h"

#define DEBUGCON_READBACK 0xe9

struct debugcon {
	struct gh_vm *vm;
	uint16_t port[2];
	unsigned nports;
};

static uint64_t debugcon_read(void *opaque, uint64_t off, unsigned size)
{
	/* size is always 1: the bus splits wider accesses */
	return DEBUGCON_READBACK;
}

static void debugcon_write(void *opaque, uint64_t off, uint64_t val,
			   unsigned size)
{
	struct debugcon *s = opaque;
	struct gh_chardev *chr = gh_vm_debugcon(s->vm);
	uint8_t byte = val;

	/* One character per access, whatever its width, as in QEMU. */
	if (chr)
		gh_chardev_write(chr, &byte, 1);
}

static const struct gh_io_ops debugcon_ops = {
	.read = debugcon_read,
	.write = debugcon_write,
};

static void debugcon_unrealize(void *dev)
{
	struct debugcon *s = dev;

	while (s->nports)
		gh_bus_unmap(gh_vm_pio(s->vm), s->port[--s->nports]);
}

static int debugcon_realize(void *dev, struct gh_vm *vm,
			    const struct gh_device_cfg *cfg, struct gh_error *err)
{
	struct debugcon *s = dev;
	uint16_t ports[2] = { 0xe9, 0x402 };
	unsigned n = 2, i;
	int ret;

	if (cfg->base > 0xffff)
		return gh_error_set(err, -EINVAL, "debugcon: bad port 0x%" PRIx64,
				    cfg->base);
	s->vm = vm;
	if (cfg->base) {
		ports[0] = cfg->base;
		n = 1;
	}
	for (i = 0; i < n; i++) {
		ret = gh_bus_map(gh_vm_pio(vm), ports[i], 1, &debugcon_ops, s,
				 "debugcon");
		if (ret < 0) {
			debugcon_unrealize(s);
			return gh_error_set(err, ret, "debugcon: port 0x%x is taken",
					    ports[i]);
		}
		s->port[s->nports++] = ports[i];
	}
	return 0;
}

const struct gh_device_type gh_debugcon_type = {
	.name = "debugcon",
	.level = 1,
	.size = sizeof(struct debugcon),
	.realize = debugcon_realize,
	.unrealize = debugcon_unrealize,
};
