/*
 * Input routing from frontends (VNC, GTK, tests) to guest input devices.
 * Keys are Linux evdev codes (linux/input-event-codes.h), so every frontend
 * converts to one neutral code and every device converts from it.
 */
#ifndef GH_INPUT_H
#define GH_INPUT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct gh_input;

enum {
	GH_BTN_LEFT = 1 << 0,
	GH_BTN_RIGHT = 1 << 1,
	GH_BTN_MIDDLE = 1 << 2,
};

struct gh_input_handler {
	const char *name;
	void (*key)(void *opaque, unsigned code, bool down);
	/* relative motion; dz > 0 is the wheel turned away from the user */
	void (*rel)(void *opaque, int dx, int dy, int dz, unsigned buttons);
	/* absolute position scaled to 0..0x7fff on both axes */
	void (*abs)(void *opaque, unsigned x, unsigned y, int dz, unsigned buttons);
};

/* lock: the device lock taken around handler calls (NULL: none). */
struct gh_input *gh_input_new(pthread_mutex_t *lock);
void gh_input_free(struct gh_input *in);

/* The most recently added handler with a given callback receives events. */
__attribute__((warn_unused_result))
int gh_input_add_handler(struct gh_input *in,
			 const struct gh_input_handler *h, void *opaque);
void gh_input_remove_handler(struct gh_input *in,
			     const struct gh_input_handler *h, void *opaque);

void gh_input_key(struct gh_input *in, unsigned code, bool down);
void gh_input_rel(struct gh_input *in, int dx, int dy, int dz, unsigned buttons);
void gh_input_abs(struct gh_input *in, unsigned x, unsigned y, int dz,
		  unsigned buttons);
/* Whether an absolute pointer (a tablet: USB, virtio-input) takes
 * gh_input_abs(); frontends send relative motion otherwise. */
bool gh_input_has_abs(struct gh_input *in);

#endif
