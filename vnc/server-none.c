/* gh/vnc.h when built without libvncserver (meson -Dvnc=disabled). */
#include "gh/vnc.h"

#include <errno.h>

int gh_vnc_new(const struct gh_vnc_config *c, struct gh_display *d,
	       struct gh_input *in, GMainContext *ctx, struct gh_vnc **out,
	       struct gh_error *err)
{
	return gh_error_set(err, -ENOTSUP, "this guesthouse was built "
			    "without VNC (libvncserver)");
}

void gh_vnc_free(struct gh_vnc *v)
{
}

const char *gh_vnc_address(struct gh_vnc *v)
{
	return "";
}

int gh_vnc_display_number(struct gh_vnc *v)
{
	return -1;
}

unsigned gh_vnc_describe_clients(struct gh_vnc *v, GString *out)
{
	return 0;
}
