/*
 * The display abstraction (gh/display.h): a surface a device renders into,
 * dirty tracking in 16x16 tiles for the frontends, listeners, the text
 * query and the CP437 table.
 *
 * Dirt is found by the device, not here: it knows which guest bytes feed
 * which pixels (the VGA compares each scanline's source against a shadow
 * copy and reports only the spans that differ), so a frame costs work in
 * proportion to what changed, and frontends copy only the tiles named.
 */
#include "gh/display.h"

#include <errno.h>
#include <glib.h>
#include <limits.h>
#include <string.h>

#define TILE 16

struct listener {
	const struct gh_display_listener_ops *ops;
	void *opaque;
};

struct gh_display {
	char *name;
	pthread_mutex_t *lock;		/* the device's */
	const struct gh_display_ops *ops;
	void *opaque;
	/* one refresh at a time; guards everything below */
	pthread_mutex_t refresh_lock;

	struct gh_display_surface s;
	unsigned tw, th;		/* tiles across and down */
	uint8_t *fresh;			/* tiles dirtied by this refresh */
	uint8_t *pending;		/* tiles dirtied since the last take */
	bool resized;
	bool cursor_moved;
	int cursor_x, cursor_y;
	bool cursor_visible;

	struct listener listeners[GH_DISPLAY_MAX_LISTENERS];
	unsigned nlisteners;
};

static void alloc_surface(struct gh_display *d, unsigned w, unsigned h)
{
	g_free(d->s.data);
	g_free(d->fresh);
	g_free(d->pending);
	d->s.width = w;
	d->s.height = h;
	d->s.stride = w * 4;
	d->s.data = g_new0(uint32_t, (size_t)w * h);
	d->tw = (w + TILE - 1) / TILE;
	d->th = (h + TILE - 1) / TILE;
	d->fresh = g_malloc((size_t)d->tw * d->th);
	d->pending = g_malloc((size_t)d->tw * d->th);
	memset(d->fresh, 1, (size_t)d->tw * d->th);
	memset(d->pending, 1, (size_t)d->tw * d->th);
	d->resized = true;
}

struct gh_display *gh_display_new(const char *name, pthread_mutex_t *lock,
				  const struct gh_display_ops *ops,
				  void *opaque)
{
	struct gh_display *d = g_new0(struct gh_display, 1);

	d->name = g_strdup(name);
	d->lock = lock;
	d->ops = ops;
	d->opaque = opaque;
	pthread_mutex_init(&d->refresh_lock, NULL);
	alloc_surface(d, 640, 480);
	return d;
}

void gh_display_free(struct gh_display *d)
{
	if (!d)
		return;
	pthread_mutex_destroy(&d->refresh_lock);
	g_free(d->s.data);
	g_free(d->fresh);
	g_free(d->pending);
	g_free(d->name);
	g_free(d);
}

const char *gh_display_name(struct gh_display *d)
{
	return d->name;
}

void gh_display_resize(struct gh_display *d, unsigned w, unsigned h)
{
	w = CLAMP(w, 1, GH_DISPLAY_MAX_DIM);
	h = CLAMP(h, 1, GH_DISPLAY_MAX_DIM);
	if (w != d->s.width || h != d->s.height)
		alloc_surface(d, w, h);
}

void gh_display_damage(struct gh_display *d, unsigned x, unsigned y,
		       unsigned w, unsigned h)
{
	unsigned tx0, tx1, ty0, ty1;

	if (x >= d->s.width || y >= d->s.height || !w || !h)
		return;
	w = MIN(w, d->s.width - x);
	h = MIN(h, d->s.height - y);
	tx0 = x / TILE;
	tx1 = (x + w - 1) / TILE;
	ty0 = y / TILE;
	ty1 = (y + h - 1) / TILE;
	for (unsigned ty = ty0; ty <= ty1; ty++) {
		memset(d->fresh + (size_t)ty * d->tw + tx0, 1, tx1 - tx0 + 1);
		memset(d->pending + (size_t)ty * d->tw + tx0, 1, tx1 - tx0 + 1);
	}
}

void gh_display_set_cursor(struct gh_display *d, int x, int y, bool visible)
{
	d->cursor_x = x;
	d->cursor_y = y;
	d->cursor_visible = visible;
	d->cursor_moved = true;
}

/*
 * Rectangles covering the set tiles of map (runs along each tile row,
 * merged with an equal run of the row above), clipped to the surface; the
 * bounding box if more than max would be needed. Clears map.
 */
static unsigned tiles_to_rects(struct gh_display *d, uint8_t *map,
			       struct gh_display_rect *out, unsigned max)
{
	unsigned n = 0, bx0 = UINT_MAX, by0 = UINT_MAX, bx1 = 0, by1 = 0;
	bool overflow = false;
	/* rects that end on the previous tile row start at prev_first */
	unsigned prev_first = 0, row_first = 0;

	for (unsigned ty = 0; ty < d->th; ty++) {
		uint8_t *row = map + (size_t)ty * d->tw;

		prev_first = row_first;
		row_first = n;
		for (unsigned tx = 0; tx < d->tw;) {
			unsigned x0, x1, i;
			struct gh_display_rect r;

			if (!row[tx]) {
				tx++;
				continue;
			}
			x0 = tx;
			while (tx < d->tw && row[tx])
				tx++;
			x1 = tx;
			memset(row + x0, 0, x1 - x0);
			bx0 = MIN(bx0, x0);
			bx1 = MAX(bx1, x1);
			by0 = MIN(by0, ty);
			by1 = ty + 1;
			if (overflow)
				continue;
			r = (struct gh_display_rect){ x0 * TILE, ty * TILE,
						      (x1 - x0) * TILE, TILE };
			for (i = prev_first; i < row_first; i++)
				if (out[i].x == r.x && out[i].w == r.w &&
				    out[i].y + out[i].h == r.y)
					break;
			if (i < row_first) {
				/* move the grown rect into this row's list */
				struct gh_display_rect grown = out[i];

				grown.h += TILE;
				memmove(&out[i], &out[i + 1],
					(n - i - 1) * sizeof(out[0]));
				out[n - 1] = grown;
				row_first--;
				continue;
			}
			if (n == max) {
				overflow = true;
				continue;
			}
			out[n++] = r;
		}
	}
	if (overflow) {
		if (!max)
			return 0;
		out[0] = (struct gh_display_rect){ bx0 * TILE, by0 * TILE,
						   (bx1 - bx0) * TILE,
						   (by1 - by0) * TILE };
		n = 1;
	}
	for (unsigned i = 0; i < n; i++) {
		out[i].w = MIN(out[i].w, d->s.width - out[i].x);
		out[i].h = MIN(out[i].h, d->s.height - out[i].y);
	}
	return n;
}

#define NOTIFY_RECTS 64

void gh_display_refresh(struct gh_display *d)
{
	struct gh_display_rect rects[NOTIFY_RECTS];
	unsigned n, i;

	pthread_mutex_lock(&d->refresh_lock);
	pthread_mutex_lock(d->lock);
	d->ops->refresh(d->opaque);
	pthread_mutex_unlock(d->lock);

	if (d->resized) {
		d->resized = false;
		for (i = 0; i < d->nlisteners; i++)
			if (d->listeners[i].ops->resize)
				d->listeners[i].ops->resize(
					d->listeners[i].opaque, &d->s);
	}
	n = tiles_to_rects(d, d->fresh, rects, NOTIFY_RECTS);
	for (unsigned r = 0; r < n; r++)
		for (i = 0; i < d->nlisteners; i++)
			if (d->listeners[i].ops->update)
				d->listeners[i].ops->update(
					d->listeners[i].opaque, &rects[r]);
	if (d->cursor_moved) {
		d->cursor_moved = false;
		for (i = 0; i < d->nlisteners; i++)
			if (d->listeners[i].ops->cursor)
				d->listeners[i].ops->cursor(
					d->listeners[i].opaque, d->cursor_x,
					d->cursor_y, d->cursor_visible);
	}
	pthread_mutex_unlock(&d->refresh_lock);
}

void gh_display_surface(struct gh_display *d, struct gh_display_surface *s)
{
	pthread_mutex_lock(&d->refresh_lock);
	*s = d->s;
	pthread_mutex_unlock(&d->refresh_lock);
}

void gh_display_draw_surface(struct gh_display *d,
			     struct gh_display_surface *s)
{
	*s = d->s;
}

unsigned gh_display_take_dirty(struct gh_display *d,
			       struct gh_display_rect *out, unsigned max)
{
	unsigned n;

	pthread_mutex_lock(&d->refresh_lock);
	n = tiles_to_rects(d, d->pending, out, max);
	pthread_mutex_unlock(&d->refresh_lock);
	return n;
}

int gh_display_get_text(struct gh_display *d, struct gh_display_text *t)
{
	int ret = -ENOTSUP;

	memset(t, 0, sizeof(*t));
	pthread_mutex_lock(d->lock);
	if (d->ops->get_text)
		ret = d->ops->get_text(d->opaque, t);
	pthread_mutex_unlock(d->lock);
	return ret;
}

void gh_display_text_clear(struct gh_display_text *t)
{
	g_free(t->cells);
	memset(t, 0, sizeof(*t));
}

void gh_display_describe(struct gh_display *d, char *buf, unsigned len)
{
	if (!len)
		return;
	buf[0] = 0;
	pthread_mutex_lock(d->lock);
	if (d->ops->describe)
		d->ops->describe(d->opaque, buf, len);
	pthread_mutex_unlock(d->lock);
}

int gh_display_add_listener(struct gh_display *d,
			    const struct gh_display_listener_ops *ops,
			    void *opaque)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&d->refresh_lock);
	if (d->nlisteners < GH_DISPLAY_MAX_LISTENERS) {
		d->listeners[d->nlisteners++] = (struct listener){ ops, opaque };
		ret = 0;
	}
	pthread_mutex_unlock(&d->refresh_lock);
	return ret;
}

void gh_display_remove_listener(struct gh_display *d,
				const struct gh_display_listener_ops *ops,
				void *opaque)
{
	pthread_mutex_lock(&d->refresh_lock);
	for (unsigned i = 0; i < d->nlisteners; i++) {
		if (d->listeners[i].ops != ops ||
		    d->listeners[i].opaque != opaque)
			continue;
		memmove(&d->listeners[i], &d->listeners[i + 1],
			(d->nlisteners - i - 1) * sizeof(d->listeners[0]));
		d->nlisteners--;
		break;
	}
	pthread_mutex_unlock(&d->refresh_lock);
}

/* Code page 437 as the VGA's ROM font draws it (0x00 and 0xFF blank). */
static const char *const cp437[256] = {
	" ", "\xe2\x98\xba", "\xe2\x98\xbb", "\xe2\x99\xa5", "\xe2\x99\xa6", "\xe2\x99\xa3", "\xe2\x99\xa0", "\xe2\x80\xa2",
	"\xe2\x97\x98", "\xe2\x97\x8b", "\xe2\x97\x99", "\xe2\x99\x82", "\xe2\x99\x80", "\xe2\x99\xaa", "\xe2\x99\xab", "\xe2\x98\xbc",
	"\xe2\x96\xba", "\xe2\x97\x84", "\xe2\x86\x95", "\xe2\x80\xbc", "\xc2\xb6", "\xc2\xa7", "\xe2\x96\xac", "\xe2\x86\xa8",
	"\xe2\x86\x91", "\xe2\x86\x93", "\xe2\x86\x92", "\xe2\x86\x90", "\xe2\x88\x9f", "\xe2\x86\x94", "\xe2\x96\xb2", "\xe2\x96\xbc",
	" ", "!", "\x22", "#", "$", "%", "&", "'",
	"(", ")", "*", "+", ",", "-", ".", "/",
	"0", "1", "2", "3", "4", "5", "6", "7",
	"8", "9", ":", ";", "<", "=", ">", "\x3f",
	"@", "A", "B", "C", "D", "E", "F", "G",
	"H", "I", "J", "K", "L", "M", "N", "O",
	"P", "Q", "R", "S", "T", "U", "V", "W",
	"X", "Y", "Z", "[", "\x5c", "]", "^", "_",
	"`", "a", "b", "c", "d", "e", "f", "g",
	"h", "i", "j", "k", "l", "m", "n", "o",
	"p", "q", "r", "s", "t", "u", "v", "w",
	"x", "y", "z", "{", "|", "}", "~", "\xe2\x8c\x82",
	"\xc3\x87", "\xc3\xbc", "\xc3\xa9", "\xc3\xa2", "\xc3\xa4", "\xc3\xa0", "\xc3\xa5", "\xc3\xa7",
	"\xc3\xaa", "\xc3\xab", "\xc3\xa8", "\xc3\xaf", "\xc3\xae", "\xc3\xac", "\xc3\x84", "\xc3\x85",
	"\xc3\x89", "\xc3\xa6", "\xc3\x86", "\xc3\xb4", "\xc3\xb6", "\xc3\xb2", "\xc3\xbb", "\xc3\xb9",
	"\xc3\xbf", "\xc3\x96", "\xc3\x9c", "\xc2\xa2", "\xc2\xa3", "\xc2\xa5", "\xe2\x82\xa7", "\xc6\x92",
	"\xc3\xa1", "\xc3\xad", "\xc3\xb3", "\xc3\xba", "\xc3\xb1", "\xc3\x91", "\xc2\xaa", "\xc2\xba",
	"\xc2\xbf", "\xe2\x8c\x90", "\xc2\xac", "\xc2\xbd", "\xc2\xbc", "\xc2\xa1", "\xc2\xab", "\xc2\xbb",
	"\xe2\x96\x91", "\xe2\x96\x92", "\xe2\x96\x93", "\xe2\x94\x82", "\xe2\x94\xa4", "\xe2\x95\xa1", "\xe2\x95\xa2", "\xe2\x95\x96",
	"\xe2\x95\x95", "\xe2\x95\xa3", "\xe2\x95\x91", "\xe2\x95\x97", "\xe2\x95\x9d", "\xe2\x95\x9c", "\xe2\x95\x9b", "\xe2\x94\x90",
	"\xe2\x94\x94", "\xe2\x94\xb4", "\xe2\x94\xac", "\xe2\x94\x9c", "\xe2\x94\x80", "\xe2\x94\xbc", "\xe2\x95\x9e", "\xe2\x95\x9f",
	"\xe2\x95\x9a", "\xe2\x95\x94", "\xe2\x95\xa9", "\xe2\x95\xa6", "\xe2\x95\xa0", "\xe2\x95\x90", "\xe2\x95\xac", "\xe2\x95\xa7",
	"\xe2\x95\xa8", "\xe2\x95\xa4", "\xe2\x95\xa5", "\xe2\x95\x99", "\xe2\x95\x98", "\xe2\x95\x92", "\xe2\x95\x93", "\xe2\x95\xab",
	"\xe2\x95\xaa", "\xe2\x94\x98", "\xe2\x94\x8c", "\xe2\x96\x88", "\xe2\x96\x84", "\xe2\x96\x8c", "\xe2\x96\x90", "\xe2\x96\x80",
	"\xce\xb1", "\xc3\x9f", "\xce\x93", "\xcf\x80", "\xce\xa3", "\xcf\x83", "\xc2\xb5", "\xcf\x84",
	"\xce\xa6", "\xce\x98", "\xce\xa9", "\xce\xb4", "\xe2\x88\x9e", "\xcf\x86", "\xce\xb5", "\xe2\x88\xa9",
	"\xe2\x89\xa1", "\xc2\xb1", "\xe2\x89\xa5", "\xe2\x89\xa4", "\xe2\x8c\xa0", "\xe2\x8c\xa1", "\xc3\xb7", "\xe2\x89\x88",
	"\xc2\xb0", "\xe2\x88\x99", "\xc2\xb7", "\xe2\x88\x9a", "\xe2\x81\xbf", "\xc2\xb2", "\xe2\x96\xa0", "\xc2\xa0",
};

const char *gh_display_cp437_utf8(uint8_t ch)
{
	return cp437[ch];
}
