/* The screen as files: what --screendump/--screen-text write when the VM
 * stops and what the monitor's screendump/screen-text write while it runs. */
#include "cli.h"

#include <errno.h>
#include <glib.h>

#include "gh/display.h"

int gh_screen_write_png(struct gh_display *d, const char *path,
			struct gh_error *err)
{
	struct gh_display_surface s;

	gh_display_refresh(d);
	gh_display_surface(d, &s);
	return gh_display_write_png(&s, path, err);
}

/* The visible text, CP437 as UTF-8, one line per row, trailing blanks
 * trimmed; written beside path and renamed over it. */
int gh_screen_write_text(struct gh_display *d, const char *path,
			 struct gh_error *err)
{
	struct gh_display_text t;
	GString *out;
	GError *gerr = NULL;
	char mode[64];
	int ret = 0;

	gh_display_refresh(d);
	if (gh_display_get_text(d, &t) < 0) {
		gh_display_describe(d, mode, sizeof(mode));
		return gh_error_set(err, -ENOTSUP, "the screen is not in a "
				    "text mode (%s)", mode);
	}
	out = g_string_new(NULL);
	for (unsigned r = 0; r < t.rows; r++) {
		const struct gh_display_cell *row = &t.cells[r * t.cols];
		unsigned n = t.cols;

		/* 0x00, space and 0xFF all draw blank in the VGA font */
		while (n && (row[n - 1].ch == 0 || row[n - 1].ch == ' ' ||
			     row[n - 1].ch == 0xff))
			n--;
		for (unsigned c = 0; c < n; c++)
			g_string_append(out, gh_display_cp437_utf8(row[c].ch));
		g_string_append_c(out, '\n');
	}
	gh_display_text_clear(&t);
	if (!g_file_set_contents(path, out->str, out->len, &gerr)) {
		ret = gh_error_set(err, -EIO, "%s", gerr->message);
		g_error_free(gerr);
	}
	g_string_free(out, TRUE);
	return ret;
}
