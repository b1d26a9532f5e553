/* Device instances: a descriptor, a zeroed state struct, realize/reset/free. */
#include "gh/device.h"

#include <glib.h>

int gh_device_new(const struct gh_device_type *type, struct gh_vm *vm,
		  const struct gh_device_cfg *cfg, struct gh_device **out,
		  struct gh_error *err)
{
	struct gh_device *dev = g_new0(struct gh_device, 1);
	int ret;

	dev->type = type;
	dev->vm = vm;
	dev->state = g_malloc0(type->size);
	ret = type->realize(dev->state, vm, cfg, err);
	if (ret < 0) {
		gh_error_set(err, ret, "%s: cannot create device", type->name);
		g_free(dev->state);
		g_free(dev);
		return ret;
	}
	if (type->reset)
		type->reset(dev->state);
	*out = dev;
	return 0;
}

void gh_device_reset(struct gh_device *dev)
{
	if (dev->type->reset)
		dev->type->reset(dev->state);
}

void gh_device_free(struct gh_device *dev)
{
	if (!dev)
		return;
	if (dev->type->unrealize)
		dev->type->unrealize(dev->state);
	g_free(dev->state);
	g_free(dev);
}
