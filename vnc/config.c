/* The VNC server's settings as a person gives them: address, password. */
#include "gh/vnc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int gh_vnc_parse_address(const char *spec, struct gh_vnc_config *c,
			 struct gh_error *err)
{
	const char *colon, *disp;
	char *host, *end;
	unsigned long n;

	if (!spec)
		goto bad;
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (!close || close[1] != ':' || close == spec + 1)
			goto bad;
		host = g_strndup(spec + 1, close - spec - 1);
		disp = close + 2;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || memchr(spec, ':', colon - spec))
			goto bad;	/* an IPv6 address needs its brackets */
		host = colon == spec ? g_strdup("127.0.0.1") :
				       g_strndup(spec, colon - spec);
		disp = colon + 1;
	}
	if (!strcmp(disp, "auto")) {
		c->display = GH_VNC_DISPLAY_AUTO;
	} else {
		errno = 0;
		n = g_ascii_isdigit(*disp) ? strtoul(disp, &end, 10) : 0;
		if (!g_ascii_isdigit(*disp) || errno || *end ||
		    n > 65535 - GH_VNC_PORT_BASE) {
			g_free(host);
			return gh_error_set(err, -EINVAL, "invalid VNC display "
					    "'%s' in '%s' (a number from 0 to "
					    "%d, or auto)", disp, spec,
					    65535 - GH_VNC_PORT_BASE);
		}
		c->display = (int)n;
	}
	g_free(c->host);
	c->host = host;
	return 0;
bad:
	return gh_error_set(err, -EINVAL, "invalid VNC address '%s' (use "
			    "[HOST]:DISPLAY or HOST:auto, e.g. :1, "
			    "0.0.0.0:1, [::1]:1)", spec ? spec : "");
}

int gh_vnc_read_password(const char *path, struct gh_vnc_config *c,
			 struct gh_error *err)
{
	GError *gerr = NULL;
	char *data, *nl;
	gsize len;
	size_t n;

	if (g_file_test(path, G_FILE_TEST_IS_DIR))
		return gh_error_set(err, -EISDIR, "cannot read the VNC password "
				    "file %s: it is a directory", path);
	if (!g_file_get_contents(path, &data, &len, &gerr)) {
		int code = gerr->code == G_FILE_ERROR_NOENT ? -ENOENT :
			   gerr->code == G_FILE_ERROR_ACCES ? -EACCES : -EIO;

		gh_error_set(err, code, "cannot read the VNC password file "
			     "%s: %s", path, code == -ENOENT ? "no such file" :
			     code == -EACCES ? "permission denied" :
			     gerr->message);
		g_error_free(gerr);
		return code;
	}
	nl = memchr(data, '\n', len);
	if (nl)
		*nl = '\0';
	n = strlen(data);
	if (n && data[n - 1] == '\r')
		data[--n] = '\0';
	if (!n || n > GH_VNC_MAX_PASSWORD) {
		int ret = n ? gh_error_set(err, -EINVAL, "the VNC password in %s "
					   "is %zu characters long: VNC "
					   "authentication uses at most %d",
					   path, n, GH_VNC_MAX_PASSWORD) :
			      gh_error_set(err, -EINVAL, "the VNC password file "
					   "%s is empty (the password is its "
					   "first line)", path);

		memset(data, 0, len);
		g_free(data);
		return ret;
	}
	g_free(c->password);
	c->password = g_strdup(data);
	memset(data, 0, len);
	g_free(data);
	return 0;
}

void gh_vnc_config_clear(struct gh_vnc_config *c)
{
	g_free(c->host);
	if (c->password)
		memset(c->password, 0, strlen(c->password));
	g_free(c->password);
	memset(c, 0, sizeof(*c));
}
