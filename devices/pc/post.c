/*
 * The POST diagnostic port (0x80): firmware writes progress codes here for a
 * POST card to show; we keep the last one (across resets, as the card's
 * latch does) and log the first changes of each boot.
 */
#include "gh/device.h"

#include <errno.h>
#include <inttypes.h>

#include "gh/bus.h"
#include "gh/vm.h"

/*
 * Linux writes this port for every I/O delay, thousands of times a boot:
 * logging each write would format a message per exit and let a guest flood
 * a verbose log. Firmware's progress codes are the first few changes.
 */
#define POST_LOG_MAX 64

struct post {
	struct gh_vm *vm;
	uint16_t base;
	uint8_t code;
	unsigned logged;	/* changes logged since the last reset */
};

static uint64_t post_read(void *opaque, uint64_t off, unsigned size)
{
	struct post *s = opaque;

	/* size is always 1: the bus splits wider accesses */
	return s->code;
}

static void post_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct post *s = opaque;
	uint8_t code = val;

	if (code != s->code && s->logged < POST_LOG_MAX) {
		s->logged++;
		g_debug("POST code 0x%02x", code);
	}
	s->code = code;
}

static const struct gh_io_ops post_ops = {
	.read = post_read,
	.write = post_write,
};

static int post_realize(void *dev, struct gh_vm *vm,
			const struct gh_device_cfg *cfg, struct gh_error *err)
{
	struct post *s = dev;
	int ret;

	if (cfg->base > 0xffff)
		return gh_error_set(err, -EINVAL, "post: bad port 0x%" PRIx64,
				    cfg->base);
	s->vm = vm;
	s->base = cfg->base ? cfg->base : 0x80;
	ret = gh_bus_map(gh_vm_pio(vm), s->base, 1, &post_ops, s, "post");
	if (ret < 0)
		return gh_error_set(err, ret, "post: port 0x%x is taken", s->base);
	return 0;
}

static void post_reset(void *dev)
{
	struct post *s = dev;

	s->logged = 0;
}

static void post_unrealize(void *dev)
{
	struct post *s = dev;

	gh_bus_unmap(gh_vm_pio(s->vm), s->base);
}

const struct gh_device_type gh_post_type = {
	.name = "post",
	.level = 1,
	.size = sizeof(struct post),
	.realize = post_realize,
	.reset = post_reset,
	.unrealize = post_unrealize,
};
