/*
 * The virtual clock: nanoseconds since the VM was created, stopped while the
 * VM is paused. Timers fire on the clock's own thread with the VM's device
 * lock held. A manual clock (for tests and deterministic runs) only moves
 * when gh_clock_advance() is called, which fires due timers in order on the
 * calling thread.
 */
#ifndef GH_CLOCK_H
#define GH_CLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define GH_NS_PER_SEC 1000000000ULL

struct gh_clock;
struct gh_timer;

typedef void gh_timer_fn(void *opaque);

/* lock is the device lock taken around timer callbacks (NULL: none). */
struct gh_clock *gh_clock_new(pthread_mutex_t *lock);
struct gh_clock *gh_clock_new_manual(void);
void gh_clock_free(struct gh_clock *clock);

uint64_t gh_clock_ns(struct gh_clock *clock);

void gh_clock_pause(struct gh_clock *clock);
void gh_clock_resume(struct gh_clock *clock);

/* Manual clocks only: move time forward by ns, firing due timers in order. */
void gh_clock_advance(struct gh_clock *clock, uint64_t ns);

struct gh_timer *gh_timer_new(struct gh_clock *clock, gh_timer_fn *fn,
			      void *opaque);
/* Frees the timer; it must not be running on another thread. */
void gh_timer_free(struct gh_timer *timer);
/* (Re)arms the timer to fire once at absolute virtual time expire_ns. */
void gh_timer_mod(struct gh_timer *timer, uint64_t expire_ns);
void gh_timer_del(struct gh_timer *timer);
bool gh_timer_pending(struct gh_timer *timer);

/* Scales a count of ticks at freq Hz to ns without overflow, and back. */
uint64_t gh_ticks_to_ns(uint64_t ticks, uint64_t freq);
uint64_t gh_ns_to_ticks(uint64_t ns, uint64_t freq);

#endif
