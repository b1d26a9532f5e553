/*
 * The virtual clock and its timers. Real clocks follow CLOCK_MONOTONIC
 * minus the time spent paused and fire timers on a thread of their own;
 * manual clocks move only when told to (tests, deterministic runs).
 *
 * Lock order: the device lock, then clock->tlock.
 */
#include "gh/clock.h"

#include <glib.h>
#include <time.h>

struct gh_timer {
	struct gh_clock *clock;
	gh_timer_fn *fn;
	void *opaque;
	uint64_t expire;
	bool armed;
};

struct gh_clock {
	bool manual;
	pthread_mutex_t *lock;		/* device lock around callbacks */
	pthread_mutex_t tlock;		/* timer list and pause state */
	pthread_cond_t cond;
	pthread_t thread;
	bool quit;
	GPtrArray *timers;
	uint64_t manual_now;
	uint64_t start;			/* host monotonic ns at creation */
	uint64_t paused_total;
	uint64_t paused_at;
	bool paused;
};

static uint64_t host_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * GH_NS_PER_SEC + ts.tv_nsec;
}

static uint64_t now_locked(struct gh_clock *c)
{
	if (c->manual)
		return c->manual_now;
	return (c->paused ? c->paused_at : host_ns()) - c->start -
	       c->paused_total;
}

uint64_t gh_clock_ns(struct gh_clock *c)
{
	uint64_t now;

	if (c->manual)
		return c->manual_now;
	pthread_mutex_lock(&c->tlock);
	now = now_locked(c);
	pthread_mutex_unlock(&c->tlock);
	return now;
}

static struct gh_timer *earliest(struct gh_clock *c)
{
	struct gh_timer *best = NULL;
	unsigned i;

	for (i = 0; i < c->timers->len; i++) {
		struct gh_timer *t = g_ptr_array_index(c->timers, i);

		if (t->armed && (!best || t->expire < best->expire))
			best = t;
	}
	return best;
}

static void *timer_thread(void *opaque)
{
	struct gh_clock *c = opaque;

	pthread_mutex_lock(&c->tlock);
	while (!c->quit) {
		struct gh_timer *t = c->paused ? NULL : earliest(c);
		uint64_t now = now_locked(c);

		if (!t) {
			pthread_cond_wait(&c->cond, &c->tlock);
			continue;
		}
		if (t->expire > now) {
			uint64_t base = c->start + c->paused_total;
			/* a deadline past the end of time waits a year at most */
			uint64_t when = t->expire > UINT64_MAX / 2 - base ?
						base + 365ULL * 86400 * GH_NS_PER_SEC :
						base + t->expire;
			struct timespec ts = {
				.tv_sec = when / GH_NS_PER_SEC,
				.tv_nsec = when % GH_NS_PER_SEC,
			};

			pthread_cond_timedwait(&c->cond, &c->tlock, &ts);
			continue;
		}
		/* Take the device lock first, then re-check: the timer may
		 * have been moved while neither lock was held. */
		pthread_mutex_unlock(&c->tlock);
		if (c->lock)
			pthread_mutex_lock(c->lock);
		pthread_mutex_lock(&c->tlock);
		t = c->paused ? NULL : earliest(c);
		if (t && t->expire <= now_locked(c)) {
			t->armed = false;
			pthread_mutex_unlock(&c->tlock);
			t->fn(t->opaque);
			pthread_mutex_lock(&c->tlock);
		}
		if (c->lock) {
			pthread_mutex_unlock(&c->tlock);
			pthread_mutex_unlock(c->lock);
			pthread_mutex_lock(&c->tlock);
		}
	}
	pthread_mutex_unlock(&c->tlock);
	return NULL;
}

static struct gh_clock *clock_new(bool manual, pthread_mutex_t *lock)
{
	struct gh_clock *c = g_new0(struct gh_clock, 1);
	pthread_condattr_t attr;

	c->manual = manual;
	c->lock = lock;
	c->timers = g_ptr_array_new();
	c->start = host_ns();
	pthread_mutex_init(&c->tlock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (!manual && pthread_create(&c->thread, NULL, timer_thread, c)) {
		g_warning("cannot start the timer thread");
		c->manual = true;
	}
	return c;
}

struct gh_clock *gh_clock_new(pthread_mutex_t *lock)
{
	return clock_new(false, lock);
}

struct gh_clock *gh_clock_new_manual(void)
{
	return clock_new(true, NULL);
}

void gh_clock_free(struct gh_clock *c)
{
	if (!c)
		return;
	if (!c->manual) {
		pthread_mutex_lock(&c->tlock);
		c->quit = true;
		pthread_cond_signal(&c->cond);
		pthread_mutex_unlock(&c->tlock);
		pthread_join(c->thread, NULL);
	}
	g_ptr_array_free(c->timers, TRUE);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->tlock);
	g_free(c);
}

void gh_clock_pause(struct gh_clock *c)
{
	pthread_mutex_lock(&c->tlock);
	if (!c->paused && !c->manual) {
		c->paused_at = host_ns();
		c->paused = true;
	}
	pthread_mutex_unlock(&c->tlock);
}

void gh_clock_resume(struct gh_clock *c)
{
	pthread_mutex_lock(&c->tlock);
	if (c->paused) {
		c->paused_total += host_ns() - c->paused_at;
		c->paused = false;
		pthread_cond_signal(&c->cond);
	}
	pthread_mutex_unlock(&c->tlock);
}

void gh_clock_advance(struct gh_clock *c, uint64_t ns)
{
	uint64_t target = c->manual_now + ns;
	struct gh_timer *t;

	g_return_if_fail(c->manual);
	while ((t = earliest(c)) && t->expire <= target) {
		if (t->expire > c->manual_now)
			c->manual_now = t->expire;
		t->armed = false;
		t->fn(t->opaque);
	}
	c->manual_now = target;
}

struct gh_timer *gh_timer_new(struct gh_clock *c, gh_timer_fn *fn, void *opaque)
{
	struct gh_timer *t = g_new0(struct gh_timer, 1);

	t->clock = c;
	t->fn = fn;
	t->opaque = opaque;
	pthread_mutex_lock(&c->tlock);
	g_ptr_array_add(c->timers, t);
	pthread_mutex_unlock(&c->tlock);
	return t;
}

void gh_timer_free(struct gh_timer *t)
{
	struct gh_clock *c;

	if (!t)
		return;
	c = t->clock;
	pthread_mutex_lock(&c->tlock);
	g_ptr_array_remove(c->timers, t);
	pthread_mutex_unlock(&c->tlock);
	g_free(t);
}

void gh_timer_mod(struct gh_timer *t, uint64_t expire_ns)
{
	struct gh_clock *c = t->clock;

	pthread_mutex_lock(&c->tlock);
	/* re-arming at the same time changes nothing the thread waits for */
	if (t->armed && t->expire == expire_ns) {
		pthread_mutex_unlock(&c->tlock);
		return;
	}
	t->expire = expire_ns;
	t->armed = true;
	if (!c->manual && earliest(c) == t)
		pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->tlock);
}

void gh_timer_del(struct gh_timer *t)
{
	pthread_mutex_lock(&t->clock->tlock);
	t->armed = false;
	pthread_mutex_unlock(&t->clock->tlock);
}

bool gh_timer_pending(struct gh_timer *t)
{
	return t->armed;
}

uint64_t gh_ticks_to_ns(uint64_t ticks, uint64_t freq)
{
	return (uint64_t)(((unsigned __int128)ticks * GH_NS_PER_SEC) / freq);
}

uint64_t gh_ns_to_ticks(uint64_t ns, uint64_t freq)
{
	return (uint64_t)(((unsigned __int128)ns * freq) / GH_NS_PER_SEC);
}
