/* The surface as a PNG file (libpng), for screendumps and frontends. */
#include "gh/display.h"

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <unistd.h>

/* libpng reports errors by longjmp; the message is kept for the caller. */
static void png_error_fn(png_structp png, png_const_charp msg)
{
	char *buf = png_get_error_ptr(png);

	g_strlcpy(buf, msg, 128);
	png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg)
{
}

static int write_png(FILE *f, const struct gh_display_surface *s, char *msg)
{
	png_structp png;
	png_infop info;
	uint8_t *volatile row = NULL;
	volatile int ret = -EIO;

	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, msg, png_error_fn,
				      png_warning_fn);
	if (!png)
		return -ENOMEM;
	info = png_create_info_struct(png);
	if (!info) {
		png_destroy_write_struct(&png, NULL);
		return -ENOMEM;
	}
	if (setjmp(png_jmpbuf(png)))
		goto out;
	png_init_io(png, f);
	png_set_IHDR(png, info, s->width, s->height, 8, PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	row = g_malloc((size_t)s->width * 3);
	for (unsigned y = 0; y < s->height; y++) {
		const uint32_t *p = (const uint32_t *)((const uint8_t *)s->data +
						       (size_t)y * s->stride);

		for (unsigned x = 0; x < s->width; x++) {
			row[3 * x] = p[x] >> 16;
			row[3 * x + 1] = p[x] >> 8;
			row[3 * x + 2] = p[x];
		}
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	ret = 0;
out:
	g_free(row);
	png_destroy_write_struct(&png, &info);
	return ret;
}

int gh_display_write_png(const struct gh_display_surface *s, const char *path,
			 struct gh_error *err)
{
	char msg[128] = "";
	char *tmp = g_strdup_printf("%s.XXXXXX", path);
	FILE *f = NULL;
	int fd, ret;

	fd = g_mkstemp(tmp);
	if (fd < 0) {
		ret = -errno;
		gh_error_set(err, ret, "cannot create a file beside %s: %s",
			     path, g_strerror(errno));
		goto out;
	}
	f = fdopen(fd, "wb");
	if (!f) {
		ret = -errno;
		close(fd);
		gh_error_set(err, ret, "%s: %s", tmp, g_strerror(-ret));
		goto err_unlink;
	}
	ret = write_png(f, s, msg);
	if (ret < 0) {
		fclose(f);
		gh_error_set(err, ret, "cannot write PNG %s: %s", path,
			     msg[0] ? msg : g_strerror(-ret));
		goto err_unlink;
	}
	ret = fflush(f) || fsync(fileno(f)) < 0 ? -errno : 0;
	if (fclose(f) && !ret)
		ret = -errno;
	if (ret < 0) {
		gh_error_set(err, ret, "cannot write %s: %s", path,
			     g_strerror(-ret));
		goto err_unlink;
	}
	/* mkstemp makes it 0600; a screendump is an ordinary file */
	if (g_chmod(tmp, 0644) < 0 || g_rename(tmp, path) < 0) {
		ret = -errno;
		gh_error_set(err, ret, "cannot rename %s to %s: %s", tmp,
			     path, g_strerror(errno));
		goto err_unlink;
	}
	ret = 0;
	goto out;
err_unlink:
	g_unlink(tmp);
out:
	g_free(tmp);
	return ret;
}
