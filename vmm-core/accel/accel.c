/* The table of execution backends and the choice among them. */
#include "accel/accel.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gh/accel-select.h"

static const struct gh_accel_ops *const backends[] = {
	&gh_accel_kvm,
	&gh_accel_vmx,
	&gh_accel_soft,
};

const struct gh_accel_ops *gh_accel_find(const char *name)
{
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(backends); i++)
		if (!strcmp(backends[i]->name, name))
			return backends[i];
	return NULL;
}

static int choose_auto(struct gh_accel_choice *out, struct gh_error *err)
{
	struct gh_error kerr = { 0 }, verr = { 0 }, serr = { 0 };
	double mips = 0;
	bool kvm_ok = !gh_accel_kvm.probe(&kerr);

	if (kvm_ok && gh_kvm_measure_mips(&mips, &kerr) < 0)
		kvm_ok = false;
	if (kvm_ok && mips >= GH_KVM_FAST_MIPS) {
		out->name = "kvm";
		snprintf(out->why, sizeof(out->why),
			 "kvm runs guest supervisor code at hardware speed "
			 "(%.0f MIPS measured)", mips);
		return 0;
	}
	if (!gh_accel_vmx.probe(&verr)) {
		out->name = "vmx";
		snprintf(out->why, sizeof(out->why), "%s%s",
			 kvm_ok ? "kvm is slow here; " : "",
			 "the guesthouse_vmx module is loaded");
		return 0;
	}
	if (!gh_accel_soft.probe(&serr)) {
		out->name = "soft";
		snprintf(out->why, sizeof(out->why),
			 kvm_ok ? "kvm is too slow for guest kernels here: it "
				  "runs supervisor code at %.1f MIPS; using the "
				  "software CPU"
				: "no hardware virtualization is usable; using "
				  "the software CPU", mips);
		return 0;
	}
	if (kvm_ok) {
		out->name = "kvm";
		snprintf(out->why, sizeof(out->why),
			 "kvm is slow here: guest supervisor code runs at "
			 "%.1f MIPS (emulated, not hardware speed)", mips);
		return 0;
	}
	return gh_error_set(err, -ENODEV, "no accelerator can run here: %s; "
			    "%s; %s", kerr.msg, verr.msg, serr.msg);
}

int gh_accel_choose(const char *requested, struct gh_accel_choice *out,
		    struct gh_error *err)
{
	const struct gh_accel_ops *ops;
	struct gh_error why = { 0 };

	memset(out, 0, sizeof(*out));
	if (!strcmp(requested, "auto"))
		return choose_auto(out, err);
	ops = gh_accel_find(requested);
	if (!ops)
		return gh_error_set(err, -EINVAL,
				    "unknown accelerator '%s' (choose auto, "
				    "kvm, soft or vmx)", requested);
	if (ops->probe(&why) < 0)
		return gh_error_set(err, -ENODEV, "%s", why.msg);
	out->name = ops->name;
	snprintf(out->why, sizeof(out->why), "%s was requested", ops->name);
	return 0;
}

void gh_accel_describe(GString *out)
{
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(backends); i++) {
		struct gh_error why = { 0 };
		double mips;

		if (backends[i]->probe(&why) < 0) {
			g_string_append_printf(out, "%s: unavailable: %s\n",
					       backends[i]->name, why.msg);
			continue;
		}
		if (backends[i] != &gh_accel_kvm) {
			g_string_append_printf(out, "%s: available%s%s\n",
					       backends[i]->name,
					       backends[i]->note ? ", " : "",
					       backends[i]->note ? backends[i]->note : "");
			continue;
		}
		if (gh_kvm_measure_mips(&mips, &why) < 0)
			g_string_append_printf(out, "kvm: unavailable: %s\n",
					       why.msg);
		else
			g_string_append_printf(out,
				"kvm: available, %s: guest supervisor code "
				"at %.1f MIPS\n",
				mips >= GH_KVM_FAST_MIPS ? "fast" : "slow",
				mips);
	}
}
