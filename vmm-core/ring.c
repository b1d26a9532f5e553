/* The byte ring that keeps the newest bytes (gh/ring.h). */
#include "gh/ring.h"

#include <glib.h>
#include <string.h>

void gh_ring_init(struct gh_ring *r, size_t size)
{
	*r = (struct gh_ring){ .buf = g_malloc(size), .size = size };
}

void gh_ring_destroy(struct gh_ring *r)
{
	g_free(r->buf);
	*r = (struct gh_ring){ 0 };
}

void gh_ring_push(struct gh_ring *r, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t tail, chunk;

	if (!r->size)
		return;
	if (len >= r->size) {
		/* only the last size bytes survive */
		r->dropped += r->len + len - r->size;
		p += len - r->size;
		len = r->size;
		r->head = 0;
		r->len = 0;
	} else if (r->len + len > r->size) {
		size_t drop = r->len + len - r->size;

		gh_ring_consume(r, drop);
		r->dropped += drop;
	}
	while (len) {
		tail = (r->head + r->len) % r->size;
		chunk = MIN(len, r->size - tail);
		memcpy(r->buf + tail, p, chunk);
		r->len += chunk;
		p += chunk;
		len -= chunk;
	}
}

size_t gh_ring_peek(const struct gh_ring *r, const uint8_t **p)
{
	*p = r->buf + r->head;
	return MIN(r->len, r->size - r->head);
}

void gh_ring_consume(struct gh_ring *r, size_t n)
{
	n = MIN(n, r->len);
	r->len -= n;
	r->head = r->len ? (r->head + n) % r->size : 0;
}
