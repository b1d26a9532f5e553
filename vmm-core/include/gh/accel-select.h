/* Choosing an execution backend: by name, or "auto" with a stated reason. */
#ifndef GH_ACCEL_SELECT_H
#define GH_ACCEL_SELECT_H

#include <glib.h>

#include "gh/error.h"

/* Guest supervisor code below this speed means KVM is emulating it. */
#define GH_KVM_FAST_MIPS 100.0

struct gh_accel_choice {
	const char *name;	/* the backend to use */
	char why[256];		/* one sentence: why this one */
};

/*
 * requested: "auto", "kvm", "soft" or "vmx". A named backend that cannot run
 * here is refused with its reason in err (-ENODEV); an unknown name gives
 * -EINVAL.
 */
int gh_accel_choose(const char *requested, struct gh_accel_choice *out,
		    struct gh_error *err);

/* One line per backend: whether it can run here and, for KVM, its speed. */
void gh_accel_describe(GString *out);

/*
 * Runs a short CPL0 loop under KVM and reports guest instructions per
 * second, in millions.
 */
int gh_kvm_measure_mips(double *mips, struct gh_error *err);

#endif
