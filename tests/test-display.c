/*
 * Tests of the display abstraction (vmm-core/display.c) with a fake device:
 * dirty tiles become rectangles that cover exactly the damaged tiles
 * without overlapping, or their bounding box when too many; listeners hear
 * of resizes and updates; the text query; the PNG writer's file.
 */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <png.h>
#include <string.h>

#include "gh/display.h"

struct fake {
	pthread_mutex_t lock;
	struct gh_display *d;
	unsigned w, h;
	/* damage the next refresh reports */
	struct gh_display_rect dmg[64];
	unsigned ndmg;
	bool text;
};

static void fake_refresh(void *opaque)
{
	struct fake *f = opaque;
	struct gh_display_surface s;

	gh_display_resize(f->d, f->w, f->h);
	gh_display_draw_surface(f->d, &s);
	for (unsigned i = 0; i < f->ndmg; i++) {
		struct gh_display_rect *r = &f->dmg[i];

		gh_display_damage(f->d, r->x, r->y, r->w, r->h);
	}
	f->ndmg = 0;
}

static int fake_text(void *opaque, struct gh_display_text *t)
{
	struct fake *f = opaque;

	if (!f->text)
		return -ENOTSUP;
	t->cols = 2;
	t->rows = 1;
	t->cells = g_new0(struct gh_display_cell, 2);
	t->cells[0].ch = 0xc9;
	t->cells[1].ch = 'A';
	return 0;
}

static void fake_describe(void *opaque, char *buf, unsigned len)
{
	struct fake *f = opaque;

	g_snprintf(buf, len, "fake %ux%u", f->w, f->h);
}

static const struct gh_display_ops fake_ops = {
	.refresh = fake_refresh, .get_text = fake_text,
	.describe = fake_describe,
};

static void fake_init(struct fake *f, unsigned w, unsigned h)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->w = w;
	f->h = h;
	f->d = gh_display_new("fake", &f->lock, &fake_ops, f);
}

static void fake_fini(struct fake *f)
{
	gh_display_free(f->d);
	pthread_mutex_destroy(&f->lock);
}

/* Marks the 16x16 tiles a rectangle touches in map (tw tiles across). */
static void mark(uint8_t *map, unsigned tw, const struct gh_display_rect *r,
		 unsigned w, unsigned h)
{
	unsigned x1 = MIN(r->x + r->w, w), y1 = MIN(r->y + r->h, h);

	if (!r->w || !r->h || r->x >= w || r->y >= h)
		return;
	for (unsigned ty = r->y / 16; ty <= (y1 - 1) / 16; ty++)
		for (unsigned tx = r->x / 16; tx <= (x1 - 1) / 16; tx++)
			map[ty * tw + tx]++;
}

static void test_dirty_rects(void)
{
	GRand *rnd = g_rand_new_with_seed(0x64697274);
	struct fake f;
	const unsigned w = 333, h = 250, tw = 21, th = 16;

	fake_init(&f, w, h);
	gh_display_refresh(f.d);
	{
		struct gh_display_rect r[4];

		/* the first frame: everything */
		g_assert_cmpuint(gh_display_take_dirty(f.d, r, 4), ==, 1);
		g_assert_cmpuint(r[0].w, ==, w);
		g_assert_cmpuint(r[0].h, ==, h);
	}
	for (unsigned round = 0; round < 300; round++) {
		uint8_t want[21 * 16] = { 0 }, got[21 * 16] = { 0 };
		struct gh_display_rect out[512];
		unsigned n;

		f.ndmg = g_rand_int_range(rnd, 0, 12);
		for (unsigned i = 0; i < f.ndmg; i++) {
			f.dmg[i].x = g_rand_int_range(rnd, 0, w + 20);
			f.dmg[i].y = g_rand_int_range(rnd, 0, h + 20);
			f.dmg[i].w = g_rand_int_range(rnd, 0, 120);
			f.dmg[i].h = g_rand_int_range(rnd, 0, 90);
			mark(want, tw, &f.dmg[i], w, h);
		}
		gh_display_refresh(f.d);
		n = gh_display_take_dirty(f.d, out, G_N_ELEMENTS(out));
		for (unsigned i = 0; i < n; i++) {
			/* inside the surface */
			g_assert_cmpuint(out[i].x + out[i].w, <=, w);
			g_assert_cmpuint(out[i].y + out[i].h, <=, h);
			mark(got, tw, &out[i], w, h);
		}
		/* every damaged tile exactly once, nothing else */
		for (unsigned t = 0; t < tw * th; t++)
			g_assert_cmpuint(got[t], ==, want[t] ? 1 : 0);
		/* and taken: nothing left */
		g_assert_cmpuint(gh_display_take_dirty(f.d, out, 4), ==, 0);
	}
	/* too many for the room given: one box around them all */
	f.ndmg = 2;
	f.dmg[0] = (struct gh_display_rect){ 20, 30, 1, 1 };
	f.dmg[1] = (struct gh_display_rect){ 200, 100, 1, 1 };
	gh_display_refresh(f.d);
	{
		struct gh_display_rect r[1];

		g_assert_cmpuint(gh_display_take_dirty(f.d, r, 1), ==, 1);
		g_assert_cmpuint(r[0].x, ==, 16);
		g_assert_cmpuint(r[0].y, ==, 16);
		g_assert_cmpuint(r[0].x + r[0].w, ==, 208);
		g_assert_cmpuint(r[0].y + r[0].h, ==, 112);
	}
	fake_fini(&f);
	g_rand_free(rnd);
}

struct listen {
	unsigned resizes, updates, w, h;
	uint64_t area;
};

static void on_resize(void *opaque, const struct gh_display_surface *s)
{
	struct listen *l = opaque;

	l->resizes++;
	l->w = s->width;
	l->h = s->height;
}

static void on_update(void *opaque, const struct gh_display_rect *r)
{
	struct listen *l = opaque;

	l->updates++;
	l->area += (uint64_t)r->w * r->h;
}

static const struct gh_display_listener_ops listen_ops = {
	.resize = on_resize, .update = on_update,
};

static void test_listeners(void)
{
	struct listen a = { 0 }, b = { 0 };
	struct gh_display_surface s;
	struct fake f;

	fake_init(&f, 100, 50);
	g_assert_cmpint(gh_display_add_listener(f.d, &listen_ops, &a), ==, 0);
	g_assert_cmpint(gh_display_add_listener(f.d, &listen_ops, &b), ==, 0);
	gh_display_refresh(f.d);
	g_assert_cmpuint(a.resizes, ==, 1);
	g_assert_cmpuint(a.w, ==, 100);
	g_assert_cmpuint(a.area, ==, 100 * 50);
	g_assert_cmpuint(b.area, ==, 100 * 50);
	gh_display_surface(f.d, &s);
	g_assert_cmpuint(s.stride, >=, 400);
	/* one pixel: one tile's update, no resize */
	f.ndmg = 1;
	f.dmg[0] = (struct gh_display_rect){ 40, 20, 1, 1 };
	gh_display_refresh(f.d);
	g_assert_cmpuint(a.resizes, ==, 1);
	g_assert_cmpuint(a.updates, ==, 2);
	g_assert_cmpuint(a.area, ==, 100 * 50 + 16 * 16);
	/* removed: hears nothing more */
	gh_display_remove_listener(f.d, &listen_ops, &b);
	f.w = 64;
	gh_display_refresh(f.d);
	g_assert_cmpuint(a.resizes, ==, 2);
	g_assert_cmpuint(a.w, ==, 64);
	g_assert_cmpuint(b.resizes, ==, 1);
	/* a resize to absurd sizes is clamped */
	f.w = 100000;
	f.h = 0;
	gh_display_refresh(f.d);
	g_assert_cmpuint(a.w, ==, GH_DISPLAY_MAX_DIM);
	g_assert_cmpuint(a.h, ==, 1);
	for (unsigned i = 1; i < GH_DISPLAY_MAX_LISTENERS; i++)
		g_assert_cmpint(gh_display_add_listener(f.d, &listen_ops, &b),
				==, 0);
	g_assert_cmpint(gh_display_add_listener(f.d, &listen_ops, &b), ==,
			-ENOSPC);
	fake_fini(&f);
}

static void test_text(void)
{
	struct gh_display_text t;
	struct fake f;
	char buf[32];

	fake_init(&f, 10, 10);
	g_assert_cmpint(gh_display_get_text(f.d, &t), ==, -ENOTSUP);
	gh_display_describe(f.d, buf, sizeof(buf));
	g_assert_cmpstr(buf, ==, "fake 10x10");
	f.text = true;
	g_assert_cmpint(gh_display_get_text(f.d, &t), ==, 0);
	g_assert_cmpuint(t.cols, ==, 2);
	g_assert_cmpstr(gh_display_cp437_utf8(t.cells[0].ch), ==, "\u2554");
	g_assert_cmpstr(gh_display_cp437_utf8(t.cells[1].ch), ==, "A");
	gh_display_text_clear(&t);
	g_assert_null(t.cells);
	/* the table: every entry one valid UTF-8 character */
	for (unsigned c = 0; c < 256; c++) {
		const char *u = gh_display_cp437_utf8(c);

		g_assert_true(g_utf8_validate(u, -1, NULL));
		g_assert_cmpint(g_utf8_strlen(u, -1), ==, 1);
	}
	g_assert_cmpstr(gh_display_cp437_utf8(0x00), ==, " ");
	g_assert_cmpstr(gh_display_cp437_utf8(0xdb), ==, "\u2588");
	g_assert_cmpstr(gh_display_cp437_utf8(0xe1), ==, "\u00df");
	fake_fini(&f);
}

static void test_png(void)
{
	char *dir = g_dir_make_tmp("gh-display-XXXXXX", NULL);
	char *path = g_build_filename(dir, "shot.png", NULL);
	char *bad = g_build_filename(dir, "nodir", "shot.png", NULL);
	struct gh_error err = { 0 };
	struct gh_display_surface s;
	png_image img;
	uint8_t *rgb;
	struct fake f;
	GDir *d;

	fake_init(&f, 37, 11);
	gh_display_refresh(f.d);
	gh_display_surface(f.d, &s);
	for (unsigned y = 0; y < s.height; y++)
		for (unsigned x = 0; x < s.width; x++)
			s.data[y * (s.stride / 4) + x] =
				(x * 7) << 16 | (y * 13) << 8 | (x ^ y);
	g_assert_cmpint(gh_display_write_png(&s, path, &err), ==, 0);

	/* libpng reads back the same pixels */
	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	g_assert_true(png_image_begin_read_from_file(&img, path));
	g_assert_cmpuint(img.width, ==, 37);
	g_assert_cmpuint(img.height, ==, 11);
	img.format = PNG_FORMAT_RGB;
	rgb = g_malloc(PNG_IMAGE_SIZE(img));
	g_assert_true(png_image_finish_read(&img, NULL, rgb, 0, NULL));
	for (unsigned y = 0; y < 11; y++)
		for (unsigned x = 0; x < 37; x++) {
			const uint8_t *p = rgb + (y * 37 + x) * 3;

			g_assert_cmphex(p[0], ==, (x * 7) & 0xff);
			g_assert_cmphex(p[1], ==, (y * 13) & 0xff);
			g_assert_cmphex(p[2], ==, x ^ y);
		}
	g_free(rgb);

	/* a directory that is not there: an error, no file anywhere */
	g_assert_cmpint(gh_display_write_png(&s, bad, &err), <, 0);
	g_assert_nonnull(strstr(err.msg, "nodir"));
	/* only the one file: no temporary left behind */
	d = g_dir_open(dir, 0, NULL);
	g_assert_cmpstr(g_dir_read_name(d), ==, "shot.png");
	g_assert_null(g_dir_read_name(d));
	g_dir_close(d);

	g_unlink(path);
	g_rmdir(dir);
	g_free(bad);
	g_free(path);
	g_free(dir);
	fake_fini(&f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/display/dirty-rects", test_dirty_rects);
	g_test_add_func("/display/listeners", test_listeners);
	g_test_add_func("/display/text", test_text);
	g_test_add_func("/display/png", test_png);
	return g_test_run();
}
