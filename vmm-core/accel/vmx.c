/*
 * The backend for Guesthouse's own VMX kernel module (kernel-driver/).
 * The module is not written yet; the probe tells whether it is loaded.
 */
#include "accel/accel.h"

#include <errno.h>
#include <unistd.h>

#define GHVMX_DEVICE "/dev/ghvmx"

static int vmx_probe(struct gh_error *err)
{
	if (access(GHVMX_DEVICE, F_OK) < 0)
		return gh_error_set(err, -ENODEV,
				    "the vmx backend is not available: "
				    GHVMX_DEVICE " does not exist (the "
				    "guesthouse_vmx module is not loaded)");
	return gh_error_set(err, -ENOSYS,
			    "the vmx backend is not available: user-space "
			    "support for " GHVMX_DEVICE " is not written yet");
}

const struct gh_accel_ops gh_accel_vmx = {
	.name = "vmx",
	.probe = vmx_probe,
};
