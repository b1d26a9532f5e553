/*
 * The software x86 CPU backend. The interpreter (vmm-core/cpu/) is the
 * next piece of work; until it exists this backend says so when probed.
 */
#include "accel/accel.h"

#include <errno.h>

static int soft_probe(struct gh_error *err)
{
	return gh_error_set(err, -ENOSYS,
			    "the soft backend is not available: the software "
			    "CPU is not implemented yet");
}

const struct gh_accel_ops gh_accel_soft = {
	.name = "soft",
	.probe = soft_probe,
};
