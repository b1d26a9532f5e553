/*
 * The display abstraction: a console that a display device (the VGA now,
 * virtio-gpu or bochs-display later) renders its current mode into, as a
 * 32-bit XRGB8888 surface, with the rectangles that changed; frontends (the
 * VNC server, the GTK app, the CLI's screendump) read it without knowing the
 * device. A text mode also answers as cells (CP437 character + attribute)
 * with the cursor.
 *
 * Threads: the device's state is guarded by its lock (the VM's device lock),
 * which gh_display_refresh() and gh_display_get_text() take. The surface
 * changes only inside gh_display_refresh(); a frontend reads it on the
 * thread that refreshes (its main loop), or copies what the listeners'
 * update callbacks name.
 */
#ifndef GH_DISPLAY_H
#define GH_DISPLAY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "gh/error.h"

struct gh_display;

/* XRGB8888: 0x00RRGGBB in host order, stride in bytes */
struct gh_display_surface {
	uint32_t *data;
	unsigned width, height;
	unsigned stride;
};

struct gh_display_rect {
	unsigned x, y, w, h;
};

struct gh_display_cell {
	uint8_t ch;		/* code page 437 */
	uint8_t attr;		/* VGA attribute: fg bits 3:0, bg 7:4 */
};

/* The visible text of a text mode. */
struct gh_display_text {
	unsigned cols, rows;
	struct gh_display_cell *cells;	/* rows * cols, row by row; g_free */
	bool cursor_visible;		/* enabled (blinking aside) */
	unsigned cursor_col, cursor_row;
};

/* What the device provides; every callback runs with its lock held. */
struct gh_display_ops {
	/*
	 * Renders what changed since the last call into the surface (after
	 * gh_display_resize() when the mode's size changed), reporting the
	 * pixels it changed with gh_display_damage().
	 */
	void (*refresh)(void *opaque);
	/*
	 * The visible text: 0 with t filled (cells allocated), or -ENOTSUP
	 * in a graphics mode. Optional.
	 */
	int (*get_text)(void *opaque, struct gh_display_text *t);
	/* A short description of the mode: "text 80x25", "graphics
	 * 640x480x4 (planar)", "VBE 1024x768x32". */
	void (*describe)(void *opaque, char *buf, unsigned len);
};

/*
 * What a frontend hears; called by gh_display_refresh() on its thread
 * after the device rendered, without the device lock but with the
 * display's own (so a callback must not refresh, nor add or remove
 * listeners). A frontend removes its listener before the VM's board, and
 * with it the display, goes away.
 */
struct gh_display_listener_ops {
	/* the surface was reallocated with a new size (everything dirty) */
	void (*resize)(void *opaque, const struct gh_display_surface *s);
	/* pixels in r changed (r lies inside the surface) */
	void (*update)(void *opaque, const struct gh_display_rect *r);
	/* a pointer cursor moved or was hidden (devices with one) */
	void (*cursor)(void *opaque, int x, int y, bool visible);
};

/*
 * A console for a device whose state lock is lock (held around the ops);
 * name says which ("vga"). Surface 640x480, black, until the first refresh.
 */
struct gh_display *gh_display_new(const char *name, pthread_mutex_t *lock,
				  const struct gh_display_ops *ops,
				  void *opaque);
void gh_display_free(struct gh_display *d);
const char *gh_display_name(struct gh_display *d);

/* --- frontends ----------------------------------------------------------- */

/* Lets the device render what changed; tells the listeners. */
void gh_display_refresh(struct gh_display *d);
/* The surface as of the last refresh (valid until the next one). */
void gh_display_surface(struct gh_display *d, struct gh_display_surface *s);
/*
 * The dirty region accumulated since the last take, as at most max
 * rectangles (made of 16x16 tiles; coarser when more would be needed), and
 * clears it. Returns how many were written.
 */
unsigned gh_display_take_dirty(struct gh_display *d,
			       struct gh_display_rect *out, unsigned max);
/* 0 and t filled (free with gh_display_text_clear), or -ENOTSUP (a
 * graphics mode; gh_display_describe says which). */
int gh_display_get_text(struct gh_display *d, struct gh_display_text *t);
void gh_display_text_clear(struct gh_display_text *t);
void gh_display_describe(struct gh_display *d, char *buf, unsigned len);

/* 0, or -ENOSPC past GH_DISPLAY_MAX_LISTENERS. */
#define GH_DISPLAY_MAX_LISTENERS 8
__attribute__((warn_unused_result))
int gh_display_add_listener(struct gh_display *d,
			    const struct gh_display_listener_ops *ops,
			    void *opaque);
void gh_display_remove_listener(struct gh_display *d,
				const struct gh_display_listener_ops *ops,
				void *opaque);

/* The UTF-8 form of a code page 437 character (control codes shown as
 * the glyphs the VGA font draws for them). */
const char *gh_display_cp437_utf8(uint8_t ch);

/*
 * Writes s as an 8-bit RGB PNG at path: to a temporary file beside it,
 * renamed over path once complete, so a reader never sees half a file.
 */
__attribute__((warn_unused_result))
int gh_display_write_png(const struct gh_display_surface *s, const char *path,
			 struct gh_error *err);

/* --- devices, inside ops->refresh ---------------------------------------- */

/* The surface to draw into (after any gh_display_resize). */
void gh_display_draw_surface(struct gh_display *d,
			     struct gh_display_surface *s);

/* Reallocates the surface (w, h clamped to 1..GH_DISPLAY_MAX_DIM), cleared
 * to black and all dirty; nothing happens if the size is the same. */
#define GH_DISPLAY_MAX_DIM 8192
void gh_display_resize(struct gh_display *d, unsigned w, unsigned h);
/* Pixels in the rectangle changed (clipped to the surface). */
void gh_display_damage(struct gh_display *d, unsigned x, unsigned y,
		       unsigned w, unsigned h);
/* A pointer cursor moved (devices with a hardware cursor). */
void gh_display_set_cursor(struct gh_display *d, int x, int y, bool visible);

#endif
