/* Tests for input routing (vmm-core/input.c): who gets which event. */
#include <errno.h>
#include <pthread.h>

#include <glib.h>

#include "gh/input.h"

struct rec {
	pthread_mutex_t *lock;	/* must be held during every call */
	unsigned keys, rels, abss;
	unsigned last_code;
	bool last_down;
	int dx, dy, dz;
	unsigned x, y, buttons;
	bool unlocked_call;
};

static void check_lock(struct rec *r)
{
	if (r->lock && pthread_mutex_trylock(r->lock) == 0) {
		r->unlocked_call = true;
		pthread_mutex_unlock(r->lock);
	}
}

static void on_key(void *opaque, unsigned code, bool down)
{
	struct rec *r = opaque;

	check_lock(r);
	r->keys++;
	r->last_code = code;
	r->last_down = down;
}

static void on_rel(void *opaque, int dx, int dy, int dz, unsigned buttons)
{
	struct rec *r = opaque;

	check_lock(r);
	r->rels++;
	r->dx = dx;
	r->dy = dy;
	r->dz = dz;
	r->buttons = buttons;
}

static void on_abs(void *opaque, unsigned x, unsigned y, int dz,
		   unsigned buttons)
{
	struct rec *r = opaque;

	check_lock(r);
	r->abss++;
	r->x = x;
	r->y = y;
	r->dz = dz;
	r->buttons = buttons;
}

static const struct gh_input_handler ps2 = {
	.name = "ps2", .key = on_key, .rel = on_rel,
};
static const struct gh_input_handler tablet = {
	.name = "tablet", .abs = on_abs,
};
static const struct gh_input_handler full = {
	.name = "full", .key = on_key, .rel = on_rel, .abs = on_abs,
};

static void test_no_handler(void)
{
	struct gh_input *in = gh_input_new(NULL);
	struct rec a = { 0 };

	/* nobody listens: dropped */
	gh_input_key(in, 30, true);
	gh_input_rel(in, 1, 2, 3, 0);
	gh_input_abs(in, 1, 2, 0, 0);

	g_assert_cmpint(gh_input_add_handler(in, &ps2, &a), ==, 0);
	gh_input_abs(in, 1, 2, 0, 0);	/* ps2 has no abs callback */
	g_assert_cmpuint(a.abss, ==, 0);
	g_assert_cmpuint(a.keys, ==, 0);
	g_assert_cmpuint(a.rels, ==, 0);
	gh_input_remove_handler(in, &ps2, &a);
	gh_input_key(in, 30, true);
	g_assert_cmpuint(a.keys, ==, 0);
	gh_input_free(in);
	gh_input_free(NULL);
}

static void test_routing(void)
{
	struct gh_input *in = gh_input_new(NULL);
	struct rec a = { 0 }, b = { 0 }, c = { 0 };

	g_assert_cmpint(gh_input_add_handler(in, &ps2, &a), ==, 0);
	gh_input_key(in, 30, true);
	gh_input_rel(in, 4, -5, 1, 3);
	g_assert_cmpuint(a.keys, ==, 1);
	g_assert_cmpuint(a.last_code, ==, 30);
	g_assert_true(a.last_down);
	g_assert_cmpuint(a.rels, ==, 1);
	g_assert_cmpint(a.dx, ==, 4);
	g_assert_cmpint(a.dy, ==, -5);
	g_assert_cmpint(a.dz, ==, 1);
	g_assert_cmpuint(a.buttons, ==, 3);

	/* a tablet added later takes abs events, keys stay with ps2 */
	g_assert_cmpint(gh_input_add_handler(in, &tablet, &b), ==, 0);
	gh_input_abs(in, 0x7fff, 0x1234, -1, 1);
	gh_input_key(in, 31, false);
	g_assert_cmpuint(b.abss, ==, 1);
	g_assert_cmpuint(b.x, ==, 0x7fff);
	g_assert_cmpuint(b.y, ==, 0x1234);
	g_assert_cmpint(b.dz, ==, -1);
	g_assert_cmpuint(b.keys, ==, 0);
	g_assert_cmpuint(a.keys, ==, 2);
	g_assert_cmpuint(a.last_code, ==, 31);
	g_assert_false(a.last_down);

	/* the newest handler with a callback wins */
	g_assert_cmpint(gh_input_add_handler(in, &full, &c), ==, 0);
	gh_input_key(in, 32, true);
	gh_input_rel(in, 1, 1, 0, 0);
	gh_input_abs(in, 5, 6, 0, 0);
	g_assert_cmpuint(c.keys, ==, 1);
	g_assert_cmpuint(c.rels, ==, 1);
	g_assert_cmpuint(c.abss, ==, 1);
	g_assert_cmpuint(a.keys, ==, 2);
	g_assert_cmpuint(a.rels, ==, 1);
	g_assert_cmpuint(b.abss, ==, 1);

	/* removing it gives the events back, each to its own handler */
	gh_input_remove_handler(in, &full, &c);
	gh_input_key(in, 33, true);
	gh_input_abs(in, 7, 8, 0, 0);
	g_assert_cmpuint(c.keys, ==, 1);
	g_assert_cmpuint(a.keys, ==, 3);
	g_assert_cmpuint(b.abss, ==, 2);

	/* removing an older one leaves the newer in charge */
	gh_input_remove_handler(in, &ps2, &a);
	gh_input_key(in, 34, true);
	g_assert_cmpuint(a.keys, ==, 3);
	gh_input_abs(in, 9, 9, 0, 0);
	g_assert_cmpuint(b.abss, ==, 3);

	gh_input_free(in);
}

static void test_same_type_two_instances(void)
{
	struct gh_input *in = gh_input_new(NULL);
	struct rec a = { 0 }, b = { 0 };

	g_assert_cmpint(gh_input_add_handler(in, &ps2, &a), ==, 0);
	g_assert_cmpint(gh_input_add_handler(in, &ps2, &b), ==, 0);
	gh_input_key(in, 1, true);
	g_assert_cmpuint(b.keys, ==, 1);
	g_assert_cmpuint(a.keys, ==, 0);
	gh_input_remove_handler(in, &ps2, &b);
	gh_input_key(in, 1, true);
	g_assert_cmpuint(a.keys, ==, 1);
	gh_input_free(in);
}

static void test_errors(void)
{
	struct gh_input *in = gh_input_new(NULL);
	struct rec a = { 0 };

	g_assert_cmpint(gh_input_add_handler(in, NULL, &a), ==, -EINVAL);
	g_assert_cmpint(gh_input_add_handler(in, &ps2, &a), ==, 0);
	g_assert_cmpint(gh_input_add_handler(in, &ps2, &a), ==, -EEXIST);
	/* removing what is not there changes nothing */
	gh_input_remove_handler(in, &tablet, &a);
	gh_input_remove_handler(in, &ps2, NULL);
	gh_input_key(in, 2, true);
	g_assert_cmpuint(a.keys, ==, 1);
	/* one removal removes the one registration */
	gh_input_remove_handler(in, &ps2, &a);
	gh_input_key(in, 2, true);
	g_assert_cmpuint(a.keys, ==, 1);
	gh_input_free(in);
}

static void test_lock_held(void)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct gh_input *in = gh_input_new(&lock);
	struct rec a = { .lock = &lock }, b = { .lock = &lock };

	g_assert_cmpint(gh_input_add_handler(in, &ps2, &a), ==, 0);
	g_assert_cmpint(gh_input_add_handler(in, &tablet, &b), ==, 0);
	gh_input_key(in, 30, true);
	gh_input_rel(in, 1, 1, 0, 0);
	gh_input_abs(in, 1, 1, 0, 0);
	g_assert_cmpuint(a.keys, ==, 1);
	g_assert_cmpuint(a.rels, ==, 1);
	g_assert_cmpuint(b.abss, ==, 1);
	g_assert_false(a.unlocked_call);
	g_assert_false(b.unlocked_call);
	/* and released afterwards */
	g_assert_cmpint(pthread_mutex_trylock(&lock), ==, 0);
	pthread_mutex_unlock(&lock);
	gh_input_free(in);
}

struct flood {
	struct gh_input *in;
	unsigned n;
};

static void *post_keys(void *opaque)
{
	struct flood *fl = opaque;

	for (unsigned i = 0; i < fl->n; i++)
		gh_input_key(fl->in, i & 0xff, i & 1);
	return NULL;
}

/* Events from several threads are serialised by the device lock. */
static void test_threads(void)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct gh_input *in = gh_input_new(&lock);
	struct rec a = { .lock = &lock };
	struct flood fl = { .in = in, .n = 20000 };
	pthread_t t[3];

	g_assert_cmpint(gh_input_add_handler(in, &ps2, &a), ==, 0);
	for (int i = 0; i < 3; i++)
		g_assert_cmpint(pthread_create(&t[i], NULL, post_keys, &fl), ==, 0);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	g_assert_cmpuint(a.keys, ==, 3 * fl.n);
	g_assert_false(a.unlocked_call);
	gh_input_free(in);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/input/no-handler", test_no_handler);
	g_test_add_func("/input/routing", test_routing);
	g_test_add_func("/input/two-instances", test_same_type_two_instances);
	g_test_add_func("/input/errors", test_errors);
	g_test_add_func("/input/lock-held", test_lock_held);
	g_test_add_func("/input/threads", test_threads);
	return g_test_run();
}
