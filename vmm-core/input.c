/*
 * Input routing: frontends post evdev key codes and pointer events, and the
 * most recently added handler that can take an event gets it (gh/input.h).
 */
#include "gh/input.h"

#include <errno.h>
#include <stddef.h>

#include <glib.h>

enum input_kind { INPUT_KEY, INPUT_REL, INPUT_ABS };

struct input_entry {
	const struct gh_input_handler *h;
	void *opaque;
};

struct gh_input {
	pthread_mutex_t *lock;		/* device lock, around handler calls */
	/*
	 * The list has its own lock: handlers are added from realize (which
	 * may hold the device lock or not) and events arrive from frontend
	 * threads, so the device lock cannot be assumed either way.
	 */
	pthread_mutex_t list_lock;
	GArray *entries;		/* struct input_entry, oldest first */
};

struct gh_input *gh_input_new(pthread_mutex_t *lock)
{
	struct gh_input *in = g_new0(struct gh_input, 1);

	in->lock = lock;
	pthread_mutex_init(&in->list_lock, NULL);
	in->entries = g_array_new(FALSE, TRUE, sizeof(struct input_entry));
	return in;
}

void gh_input_free(struct gh_input *in)
{
	if (!in)
		return;
	g_array_free(in->entries, TRUE);
	pthread_mutex_destroy(&in->list_lock);
	g_free(in);
}

static int find_entry(struct gh_input *in, const struct gh_input_handler *h,
		      void *opaque)
{
	for (guint i = 0; i < in->entries->len; i++) {
		struct input_entry *e =
			&g_array_index(in->entries, struct input_entry, i);

		if (e->h == h && e->opaque == opaque)
			return (int)i;
	}
	return -1;
}

int gh_input_add_handler(struct gh_input *in,
			 const struct gh_input_handler *h, void *opaque)
{
	struct input_entry e = { .h = h, .opaque = opaque };
	int ret = 0;

	if (!in || !h)
		return -EINVAL;
	pthread_mutex_lock(&in->list_lock);
	if (find_entry(in, h, opaque) >= 0)
		ret = -EEXIST;
	else
		g_array_append_val(in->entries, e);
	pthread_mutex_unlock(&in->list_lock);
	return ret;
}

void gh_input_remove_handler(struct gh_input *in,
			     const struct gh_input_handler *h, void *opaque)
{
	int i;

	if (!in || !h)
		return;
	pthread_mutex_lock(&in->list_lock);
	i = find_entry(in, h, opaque);
	if (i >= 0)
		g_array_remove_index(in->entries, (guint)i);
	pthread_mutex_unlock(&in->list_lock);
}

static bool has_callback(const struct gh_input_handler *h, enum input_kind kind)
{
	switch (kind) {
	case INPUT_KEY:
		return h->key != NULL;
	case INPUT_REL:
		return h->rel != NULL;
	case INPUT_ABS:
		return h->abs != NULL;
	}
	return false;
}

/*
 * The newest handler with a callback for kind. Called with the device lock
 * held, so the handler cannot be unrealized before the caller uses it.
 */
static const struct gh_input_handler *pick(struct gh_input *in,
					   enum input_kind kind, void **opaque)
{
	const struct gh_input_handler *found = NULL;

	pthread_mutex_lock(&in->list_lock);
	for (guint i = in->entries->len; i-- > 0;) {
		struct input_entry *e =
			&g_array_index(in->entries, struct input_entry, i);

		if (has_callback(e->h, kind)) {
			found = e->h;
			*opaque = e->opaque;
			break;
		}
	}
	pthread_mutex_unlock(&in->list_lock);
	return found;
}

static void lock_devices(struct gh_input *in)
{
	if (in->lock)
		pthread_mutex_lock(in->lock);
}

static void unlock_devices(struct gh_input *in)
{
	if (in->lock)
		pthread_mutex_unlock(in->lock);
}

void gh_input_key(struct gh_input *in, unsigned code, bool down)
{
	const struct gh_input_handler *h;
	void *opaque = NULL;

	if (!in)
		return;
	lock_devices(in);
	h = pick(in, INPUT_KEY, &opaque);
	if (h)
		h->key(opaque, code, down);
	unlock_devices(in);
}

void gh_input_rel(struct gh_input *in, int dx, int dy, int dz, unsigned buttons)
{
	const struct gh_input_handler *h;
	void *opaque = NULL;

	if (!in)
		return;
	lock_devices(in);
	h = pick(in, INPUT_REL, &opaque);
	if (h)
		h->rel(opaque, dx, dy, dz, buttons);
	unlock_devices(in);
}

void gh_input_abs(struct gh_input *in, unsigned x, unsigned y, int dz,
		  unsigned buttons)
{
	const struct gh_input_handler *h;
	void *opaque = NULL;

	if (!in)
		return;
	lock_devices(in);
	h = pick(in, INPUT_ABS, &opaque);
	if (h)
		h->abs(opaque, x, y, dz, buttons);
	unlock_devices(in);
}

bool gh_input_has_abs(struct gh_input *in)
{
	void *opaque;

	return in && pick(in, INPUT_ABS, &opaque) != NULL;
}
