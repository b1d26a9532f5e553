/*
 * Tests for the virtual clock (gh/clock.h): manual clocks and timer order,
 * periodic re-arming, a real clock's thread and lock, pause, tick scaling.
 */
#include "gh/clock.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#define MS 1000000ULL

/* A timer callback that records when and in which order it ran. */
struct rec {
	struct gh_clock *clock;
	struct gh_timer *timer;
	GArray *log;		/* shared: uint64_t (id << 48 | time) */
	unsigned id;
	unsigned fires;
	uint64_t period;	/* re-arm every period ns when non-zero */
	unsigned max_fires;	/* stop re-arming after this many (0: never stop) */
	struct gh_timer *victim;	/* deleted from the callback when set */
	struct gh_timer *arm;		/* armed at now + arm_delta when set */
	uint64_t arm_delta;
};

static void rec_fn(void *opaque)
{
	struct rec *r = opaque;
	uint64_t now = gh_clock_ns(r->clock);
	uint64_t e = (uint64_t)r->id << 48 | now;

	g_assert_false(gh_timer_pending(r->timer));
	g_array_append_val(r->log, e);
	r->fires++;
	if (r->period && (!r->max_fires || r->fires < r->max_fires))
		gh_timer_mod(r->timer, now + r->period);
	if (r->victim)
		gh_timer_del(r->victim);
	if (r->arm)
		gh_timer_mod(r->arm, now + r->arm_delta);
}

static void rec_init(struct rec *r, struct gh_clock *c, GArray *log, unsigned id)
{
	*r = (struct rec){ .clock = c, .log = log, .id = id };
	r->timer = gh_timer_new(c, rec_fn, r);
}

static void check_log(GArray *log, unsigned i, unsigned id, uint64_t ns)
{
	uint64_t e;

	g_assert_cmpuint(i, <, log->len);
	e = g_array_index(log, uint64_t, i);
	g_assert_cmpuint(e >> 48, ==, id);
	g_assert_cmpuint(e & ((1ULL << 48) - 1), ==, ns);
}

static void test_manual_order(void)
{
	struct gh_clock *c = gh_clock_new_manual();
	GArray *log = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	struct rec a, b, d;

	g_assert_cmpuint(gh_clock_ns(c), ==, 0);
	rec_init(&a, c, log, 1);
	rec_init(&b, c, log, 2);
	rec_init(&d, c, log, 3);
	g_assert_false(gh_timer_pending(a.timer));
	gh_timer_mod(a.timer, 300);
	gh_timer_mod(b.timer, 100);
	gh_timer_mod(d.timer, 200);
	g_assert_true(gh_timer_pending(a.timer));

	/* Stop short of the second deadline. */
	gh_clock_advance(c, 150);
	g_assert_cmpuint(gh_clock_ns(c), ==, 150);
	g_assert_cmpuint(log->len, ==, 1);
	check_log(log, 0, 2, 100);
	g_assert_false(gh_timer_pending(b.timer));
	g_assert_true(gh_timer_pending(d.timer));

	/* Landing exactly on a deadline fires it. */
	gh_clock_advance(c, 50);
	g_assert_cmpuint(log->len, ==, 2);
	check_log(log, 1, 3, 200);

	gh_clock_advance(c, 1000);
	g_assert_cmpuint(gh_clock_ns(c), ==, 1200);
	g_assert_cmpuint(log->len, ==, 3);
	check_log(log, 2, 1, 300);
	g_assert_false(gh_timer_pending(a.timer));

	/* Nothing armed: time still moves. */
	gh_clock_advance(c, 5);
	g_assert_cmpuint(gh_clock_ns(c), ==, 1205);
	g_assert_cmpuint(log->len, ==, 3);

	gh_timer_free(a.timer);
	gh_timer_free(b.timer);
	gh_timer_free(d.timer);
	g_array_free(log, TRUE);
	gh_clock_free(c);
}

/* All due timers fire in deadline order in one advance, whatever the arm order. */
static void test_manual_many(void)
{
	enum { N = 50 };
	struct gh_clock *c = gh_clock_new_manual();
	GArray *log = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	struct rec *r = g_new(struct rec, N);
	unsigned i;

	for (i = 0; i < N; i++) {
		rec_init(&r[i], c, log, i);
		/* A permutation of deadlines 1000..50000: i*37 mod 50 */
		gh_timer_mod(r[i].timer, 1000 * (1 + (i * 37) % N));
	}
	gh_clock_advance(c, 1000 * N);
	g_assert_cmpuint(log->len, ==, N);
	for (i = 0; i < N; i++) {
		uint64_t e = g_array_index(log, uint64_t, i);

		g_assert_cmpuint(e & 0xffffffff, ==, 1000 * (i + 1));
		g_assert_cmpuint((e >> 48) * 37 % N, ==, i);
	}
	for (i = 0; i < N; i++)
		gh_timer_free(r[i].timer);
	g_free(r);
	g_array_free(log, TRUE);
	gh_clock_free(c);
}

static void test_periodic(void)
{
	struct gh_clock *c = gh_clock_new_manual();
	GArray *log = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	struct rec p, q;
	unsigned i;

	rec_init(&p, c, log, 1);
	p.period = 100;
	gh_timer_mod(p.timer, 100);
	gh_clock_advance(c, 1000);
	g_assert_cmpuint(p.fires, ==, 10);
	for (i = 0; i < 10; i++)
		check_log(log, i, 1, 100 * (i + 1));
	g_assert_true(gh_timer_pending(p.timer));
	gh_clock_advance(c, 99);
	g_assert_cmpuint(p.fires, ==, 10);
	gh_clock_advance(c, 1);
	g_assert_cmpuint(p.fires, ==, 11);

	/* Two periodic timers interleave by deadline. */
	g_array_set_size(log, 0);
	rec_init(&q, c, log, 2);
	q.period = 250;
	q.max_fires = 2;
	gh_timer_mod(q.timer, 1375);
	gh_clock_advance(c, 1000);		/* to 2100 */
	g_assert_cmpuint(log->len, ==, 12);
	check_log(log, 0, 1, 1200);
	check_log(log, 1, 1, 1300);
	check_log(log, 2, 2, 1375);
	check_log(log, 3, 1, 1400);
	check_log(log, 4, 1, 1500);
	check_log(log, 5, 1, 1600);
	check_log(log, 6, 2, 1625);
	check_log(log, 7, 1, 1700);
	check_log(log, 11, 1, 2100);
	g_assert_cmpuint(q.fires, ==, 2);
	g_assert_false(gh_timer_pending(q.timer));

	gh_timer_del(p.timer);
	g_assert_false(gh_timer_pending(p.timer));
	gh_clock_advance(c, 10000);
	g_assert_cmpuint(p.fires, ==, 21);
	gh_timer_free(p.timer);
	gh_timer_free(q.timer);
	g_array_free(log, TRUE);
	gh_clock_free(c);
}

static void test_del(void)
{
	struct gh_clock *c = gh_clock_new_manual();
	GArray *log = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	struct rec a, b, d;

	rec_init(&a, c, log, 1);
	rec_init(&b, c, log, 2);
	rec_init(&d, c, log, 3);

	/* Deleting an idle timer is harmless. */
	gh_timer_del(a.timer);
	g_assert_false(gh_timer_pending(a.timer));

	gh_timer_mod(a.timer, 50);
	gh_timer_del(a.timer);
	g_assert_false(gh_timer_pending(a.timer));
	/* Re-arming moves the deadline rather than adding a second one. */
	gh_timer_mod(b.timer, 10);
	gh_timer_mod(b.timer, 70);
	/* A callback deletes a timer due later in the same advance... */
	gh_timer_mod(d.timer, 60);
	d.victim = b.timer;
	d.arm = a.timer;
	d.arm_delta = 5;
	/* ...and re-arms another one inside the same advance. */
	gh_clock_advance(c, 100);
	g_assert_cmpuint(log->len, ==, 2);
	check_log(log, 0, 3, 60);
	check_log(log, 1, 1, 65);
	g_assert_cmpuint(a.fires, ==, 1);
	g_assert_cmpuint(b.fires, ==, 0);
	g_assert_false(gh_timer_pending(b.timer));

	/* A freed armed timer never fires. */
	gh_timer_mod(a.timer, 200);
	gh_timer_free(a.timer);
	gh_clock_advance(c, 200);
	g_assert_cmpuint(log->len, ==, 2);
	gh_timer_free(b.timer);
	gh_timer_free(d.timer);
	g_array_free(log, TRUE);
	gh_clock_free(c);
}

/* A deadline already in the past fires at once, and time never goes back. */
static void test_past_deadline(void)
{
	struct gh_clock *c = gh_clock_new_manual();
	GArray *log = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	struct rec a;

	rec_init(&a, c, log, 1);
	gh_clock_advance(c, 1000);
	gh_timer_mod(a.timer, 400);
	gh_clock_advance(c, 0);
	g_assert_cmpuint(log->len, ==, 1);
	check_log(log, 0, 1, 1000);
	g_assert_cmpuint(gh_clock_ns(c), ==, 1000);
	gh_timer_free(a.timer);
	g_array_free(log, TRUE);
	gh_clock_free(c);
}

/* Manual clocks ignore pause and resume: only advance moves them. */
static void test_manual_pause(void)
{
	struct gh_clock *c = gh_clock_new_manual();

	gh_clock_advance(c, 10);
	gh_clock_pause(c);
	g_usleep(2000);
	g_assert_cmpuint(gh_clock_ns(c), ==, 10);
	gh_clock_resume(c);
	g_assert_cmpuint(gh_clock_ns(c), ==, 10);
	gh_clock_advance(c, 5);
	g_assert_cmpuint(gh_clock_ns(c), ==, 15);
	gh_clock_free(c);
}

/* Real clocks. */
struct rt {
	pthread_mutex_t lock;
	struct gh_clock *clock;
	struct gh_timer *timer;
	pthread_t main;
	int fired;		/* atomic */
	int trylock;
	bool other_thread;
	uint64_t ns;
};

static void rt_fn(void *opaque)
{
	struct rt *r = opaque;

	/* Default mutexes do not recurse: EBUSY here means someone holds it. */
	r->trylock = pthread_mutex_trylock(&r->lock);
	if (r->trylock == 0)
		pthread_mutex_unlock(&r->lock);
	r->other_thread = !pthread_equal(pthread_self(), r->main);
	r->ns = gh_clock_ns(r->clock);
	g_atomic_int_inc(&r->fired);
}

static bool wait_fired(struct rt *r, int n, unsigned timeout_ms)
{
	gint64 end = g_get_monotonic_time() + timeout_ms * 1000;

	while (g_atomic_int_get(&r->fired) < n) {
		if (g_get_monotonic_time() > end)
			return false;
		g_usleep(500);
	}
	return true;
}

static void rt_init(struct rt *r, bool with_lock)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->main = pthread_self();
	r->clock = gh_clock_new(with_lock ? &r->lock : NULL);
	r->timer = gh_timer_new(r->clock, rt_fn, r);
}

static void rt_fini(struct rt *r)
{
	gh_timer_free(r->timer);
	gh_clock_free(r->clock);
	pthread_mutex_destroy(&r->lock);
}

static void test_real_fire(void)
{
	struct rt r;
	uint64_t t0, t1, deadline;
	gint64 w0;

	rt_init(&r, true);
	t0 = gh_clock_ns(r.clock);
	g_usleep(5000);
	/* w0 before t1: a preemption between the two then cannot shorten the wait. */
	w0 = g_get_monotonic_time();
	t1 = gh_clock_ns(r.clock);
	g_assert_cmpuint(t1 - t0, >=, 5 * MS);

	deadline = t1 + 20 * MS;
	gh_timer_mod(r.timer, deadline);
	g_assert_true(wait_fired(&r, 1, 5000));
	g_assert_cmpint(g_get_monotonic_time() - w0, >=, 19000);
	g_assert_cmpint(r.trylock, ==, EBUSY);
	g_assert_true(r.other_thread);
	g_assert_cmpuint(r.ns, >=, deadline);
	g_assert_false(gh_timer_pending(r.timer));
	/* Once only. */
	g_usleep(30000);
	g_assert_cmpint(g_atomic_int_get(&r.fired), ==, 1);
	/* The lock is free again after the callback. */
	g_assert_cmpint(pthread_mutex_trylock(&r.lock), ==, 0);
	pthread_mutex_unlock(&r.lock);
	rt_fini(&r);
}

/*
 * A deadline at the end of time neither fires nor keeps the clock thread
 * busy; moving it to a near deadline then fires it once.
 */
static void test_real_far_deadline(void)
{
	struct rt r;
	struct timespec c0, c1;

	rt_init(&r, true);
	gh_timer_mod(r.timer, UINT64_MAX - 1);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	g_usleep(100000);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	g_assert_cmpint(g_atomic_int_get(&r.fired), ==, 0);
	/* a spinning thread would burn ~100 ms of CPU here; allow 50 */
	g_assert_cmpint((c1.tv_sec - c0.tv_sec) * 1000000000LL + c1.tv_nsec - c0.tv_nsec,
			<, 50 * (int64_t)MS);
	gh_timer_mod(r.timer, gh_clock_ns(r.clock) + 2 * MS);
	g_assert_true(wait_fired(&r, 1, 5000));
	rt_fini(&r);
}

/* While the device lock is held elsewhere, a due timer waits for it. */
static void test_real_waits_for_lock(void)
{
	struct rt r;

	rt_init(&r, true);
	pthread_mutex_lock(&r.lock);
	gh_timer_mod(r.timer, gh_clock_ns(r.clock) + 2 * MS);
	g_usleep(50000);
	g_assert_cmpint(g_atomic_int_get(&r.fired), ==, 0);
	pthread_mutex_unlock(&r.lock);
	g_assert_true(wait_fired(&r, 1, 5000));
	g_assert_cmpint(r.trylock, ==, EBUSY);
	rt_fini(&r);
}

/*
 * A device holding the lock reprograms a timer that is already due and
 * waiting for that lock: the old deadline must not fire.
 */
static void test_real_moved_while_waiting(void)
{
	struct rt r;
	uint64_t later;

	rt_init(&r, true);
	pthread_mutex_lock(&r.lock);
	gh_timer_mod(r.timer, gh_clock_ns(r.clock) + 1 * MS);
	g_usleep(20000);
	later = gh_clock_ns(r.clock) + 80 * MS;
	gh_timer_mod(r.timer, later);
	pthread_mutex_unlock(&r.lock);
	/* Timing-independent: when it fires, it is not early. */
	g_assert_true(wait_fired(&r, 1, 5000));
	g_assert_cmpuint(r.ns, >=, later);

	/* The same with the timer deleted: it never fires. */
	pthread_mutex_lock(&r.lock);
	gh_timer_mod(r.timer, gh_clock_ns(r.clock) + 1 * MS);
	g_usleep(20000);
	gh_timer_del(r.timer);
	pthread_mutex_unlock(&r.lock);
	g_usleep(30000);
	g_assert_cmpint(g_atomic_int_get(&r.fired), ==, 1);
	rt_fini(&r);
}

/*
 * A timer deleted or moved later before its deadline does not fire early.
 * Without a lock to hold the clock off, the test checks only the runs where
 * it really got in before the deadline.
 */
static void test_real_del_and_move(void)
{
	struct rt r;
	uint64_t now, done;

	rt_init(&r, false);
	now = gh_clock_ns(r.clock);
	gh_timer_mod(r.timer, now + 20 * MS);
	gh_timer_del(r.timer);
	done = gh_clock_ns(r.clock);
	g_usleep(50000);
	if (done < now + 20 * MS)
		g_assert_cmpint(g_atomic_int_get(&r.fired), ==, 0);
	g_assert_false(gh_timer_pending(r.timer));

	g_atomic_int_set(&r.fired, 0);
	now = gh_clock_ns(r.clock);
	gh_timer_mod(r.timer, now + 20 * MS);
	gh_timer_mod(r.timer, now + 60 * MS);
	done = gh_clock_ns(r.clock);
	g_assert_true(wait_fired(&r, 1, 5000));
	if (done < now + 20 * MS)
		g_assert_cmpuint(r.ns, >=, now + 60 * MS);
	/* No lock given: nobody holds ours. */
	g_assert_cmpint(r.trylock, ==, 0);
	rt_fini(&r);
}

static void test_real_pause(void)
{
	struct rt r;
	uint64_t t0, a, b, c;

	rt_init(&r, true);
	t0 = gh_clock_ns(r.clock);
	gh_clock_pause(r.clock);
	a = gh_clock_ns(r.clock);
	gh_timer_mod(r.timer, a + 10 * MS);
	g_usleep(200000);
	b = gh_clock_ns(r.clock);
	g_assert_cmpuint(a, ==, b);
	g_assert_cmpint(g_atomic_int_get(&r.fired), ==, 0);
	/* Pausing twice is the same as once. */
	gh_clock_pause(r.clock);
	gh_clock_resume(r.clock);
	c = gh_clock_ns(r.clock);
	g_assert_cmpuint(c, >=, b);
	/* 200 ms of wall time passed, but the clock moved by far less. */
	g_assert_cmpuint(c - t0, <, 100 * MS);
	g_assert_true(wait_fired(&r, 1, 5000));
	g_assert_cmpuint(r.ns, >=, a + 10 * MS);
	/* Resuming a running clock is harmless. */
	gh_clock_resume(r.clock);
	g_usleep(10000);
	g_assert_cmpuint(gh_clock_ns(r.clock) - r.ns, >=, 10 * MS);
	rt_fini(&r);
}

static void test_ticks(void)
{
	/* The 8254's input clock and the ACPI PM timer's. */
	g_assert_cmpuint(gh_ticks_to_ns(1193182, 1193182), ==, GH_NS_PER_SEC);
	g_assert_cmpuint(gh_ns_to_ticks(GH_NS_PER_SEC, 1193182), ==, 1193182);
	g_assert_cmpuint(gh_ticks_to_ns(3579545ULL * 7, 3579545), ==, 7 * GH_NS_PER_SEC);
	g_assert_cmpuint(gh_ns_to_ticks(7 * GH_NS_PER_SEC, 3579545), ==, 3579545ULL * 7);
	g_assert_cmpuint(gh_ticks_to_ns(0, 32768), ==, 0);
	g_assert_cmpuint(gh_ticks_to_ns(32768, 32768), ==, GH_NS_PER_SEC);
	g_assert_cmpuint(gh_ticks_to_ns(1, 1000), ==, 1000000);
	g_assert_cmpuint(gh_ns_to_ticks(1000000, 1000), ==, 1);
	g_assert_cmpuint(gh_ticks_to_ns(12345, GH_NS_PER_SEC), ==, 12345);

	/* Inexact results are within one unit of the true value. */
	g_assert_cmpuint(gh_ticks_to_ns(1, 1193182), >=, 838);	/* 838.095 */
	g_assert_cmpuint(gh_ticks_to_ns(1, 1193182), <=, 839);
	g_assert_cmpuint(gh_ns_to_ticks(1000, 1193182), >=, 1);	/* 1.193 */
	g_assert_cmpuint(gh_ns_to_ticks(1000, 1193182), <=, 2);

	/*
	 * Products that overflow 64 bits: 2^62 ticks of a 4 GHz clock, and a
	 * century of the ACPI PM timer.
	 */
	g_assert_cmpuint(gh_ticks_to_ns(1ULL << 62, 4000000000ULL), ==, 1ULL << 60);
	g_assert_cmpuint(gh_ns_to_ticks(1ULL << 60, 4000000000ULL), ==, 1ULL << 62);
	g_assert_cmpuint(gh_ticks_to_ns(3579545ULL * 3600 * 24 * 36525, 3579545), ==,
			 3600ULL * 24 * 36525 * GH_NS_PER_SEC);
	g_assert_cmpuint(gh_ns_to_ticks(3600ULL * 24 * 36525 * GH_NS_PER_SEC, 3579545), ==,
			 3579545ULL * 3600 * 24 * 36525);
	g_assert_cmpuint(gh_ticks_to_ns(UINT64_MAX, GH_NS_PER_SEC), ==, UINT64_MAX);
	g_assert_cmpuint(gh_ns_to_ticks(UINT64_MAX, GH_NS_PER_SEC), ==, UINT64_MAX);
	g_assert_cmpuint(gh_ns_to_ticks(UINT64_MAX - UINT64_MAX % GH_NS_PER_SEC, 1), ==,
			 UINT64_MAX / GH_NS_PER_SEC);
	g_assert_cmpuint(gh_ticks_to_ns(UINT64_MAX / 2 - 1, 2 * GH_NS_PER_SEC), ==,
			 UINT64_MAX / 4);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/clock/manual/order", test_manual_order);
	g_test_add_func("/clock/manual/many", test_manual_many);
	g_test_add_func("/clock/manual/periodic", test_periodic);
	g_test_add_func("/clock/manual/del", test_del);
	g_test_add_func("/clock/manual/past-deadline", test_past_deadline);
	g_test_add_func("/clock/manual/pause", test_manual_pause);
	g_test_add_func("/clock/real/fire", test_real_fire);
	g_test_add_func("/clock/real/waits-for-lock", test_real_waits_for_lock);
	g_test_add_func("/clock/real/far-deadline", test_real_far_deadline);
	g_test_add_func("/clock/real/moved-while-waiting", test_real_moved_while_waiting);
	g_test_add_func("/clock/real/del-and-move", test_real_del_and_move);
	g_test_add_func("/clock/real/pause", test_real_pause);
	g_test_add_func("/clock/ticks", test_ticks);
	return g_test_run();
}
