/*
 * A byte ring of fixed size that keeps the newest bytes: what a console
 * printed while nobody read it, replayed when someone attaches (as
 * xenconsoled's and virtlogd's buffers do). Not thread-safe: the owner locks.
 */
#ifndef GH_RING_H
#define GH_RING_H

#include <stddef.h>
#include <stdint.h>

struct gh_ring {
	uint8_t *buf;
	size_t size;
	size_t head;		/* index of the oldest byte */
	size_t len;
	uint64_t dropped;	/* oldest bytes pushed out so far */
};

void gh_ring_init(struct gh_ring *r, size_t size);
void gh_ring_destroy(struct gh_ring *r);

/* Appends len bytes; when full, the oldest bytes go. */
void gh_ring_push(struct gh_ring *r, const void *data, size_t len);
/* The oldest bytes that are contiguous in memory: their count, at *p. */
size_t gh_ring_peek(const struct gh_ring *r, const uint8_t **p);
/* Forgets the n oldest bytes (n <= len). */
void gh_ring_consume(struct gh_ring *r, size_t n);

static inline size_t gh_ring_len(const struct gh_ring *r)
{
	return r->len;
}

#endif
