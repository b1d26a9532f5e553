/*
 * Tests for GSI routing (gh/irq.h): levels fanned out to sinks, late sinks,
 * pulses, bad GSIs, and the CPU-side controller's INTR/INTA hooks.
 */
#include "gh/irq.h"

#include <errno.h>
#include <glib.h>

struct event {
	unsigned gsi;
	int level;
};

struct sink {
	GArray *ev;		/* struct event */
};

static void sink_fn(void *opaque, unsigned gsi, int level)
{
	struct sink *s = opaque;
	struct event e = { gsi, level };

	g_array_append_val(s->ev, e);
}

static void sink_init(struct sink *s)
{
	s->ev = g_array_new(FALSE, FALSE, sizeof(struct event));
}

static void sink_fini(struct sink *s)
{
	g_array_free(s->ev, TRUE);
}

static void check_ev(struct sink *s, unsigned i, unsigned gsi, int level)
{
	struct event *e;

	g_assert_cmpuint(i, <, s->ev->len);
	e = &g_array_index(s->ev, struct event, i);
	g_assert_cmpuint(e->gsi, ==, gsi);
	g_assert_cmpint(e->level, ==, level);
}

static void test_levels(void)
{
	struct gh_irq *irq = gh_irq_new(NULL, NULL);
	struct sink a, b;
	unsigned gsi;

	sink_init(&a);
	sink_init(&b);
	g_assert_cmpint(gh_irq_add_sink(irq, sink_fn, &a), ==, 0);
	g_assert_cmpint(gh_irq_add_sink(irq, sink_fn, &b), ==, 0);
	for (gsi = 0; gsi < GH_IRQ_MAX_GSI; gsi++)
		g_assert_cmpint(gh_irq_level(irq, gsi), ==, 0);
	/* Adding sinks with every line low reports nothing. */
	g_assert_cmpuint(a.ev->len, ==, 0);

	gh_irq_set(irq, 4, 1);
	g_assert_cmpint(gh_irq_level(irq, 4), ==, 1);
	g_assert_cmpint(gh_irq_level(irq, 3), ==, 0);
	g_assert_cmpint(gh_irq_level(irq, 5), ==, 0);
	/* Any non-zero level is "high". */
	gh_irq_set(irq, 23, 0x100);
	g_assert_cmpint(gh_irq_level(irq, 23), ==, 1);
	gh_irq_set(irq, 4, 0);
	g_assert_cmpint(gh_irq_level(irq, 4), ==, 0);
	g_assert_cmpint(gh_irq_level(irq, 23), ==, 1);

	g_assert_cmpuint(a.ev->len, ==, 3);
	check_ev(&a, 0, 4, 1);
	check_ev(&a, 1, 23, 1);
	check_ev(&a, 2, 4, 0);
	g_assert_cmpuint(b.ev->len, ==, 3);
	check_ev(&b, 0, 4, 1);
	check_ev(&b, 1, 23, 1);
	check_ev(&b, 2, 4, 0);
	sink_fini(&a);
	sink_fini(&b);
	gh_irq_free(irq);
}

/* A controller added after devices raised lines sees those lines high. */
static void test_late_sink(void)
{
	struct gh_irq *irq = gh_irq_new(NULL, NULL);
	struct sink s;

	sink_init(&s);
	gh_irq_set(irq, 2, 1);
	gh_irq_set(irq, 7, 1);
	gh_irq_set(irq, 9, 1);
	gh_irq_set(irq, 9, 0);
	g_assert_cmpint(gh_irq_add_sink(irq, sink_fn, &s), ==, 0);
	g_assert_cmpuint(s.ev->len, ==, 2);
	check_ev(&s, 0, 2, 1);
	check_ev(&s, 1, 7, 1);
	sink_fini(&s);
	gh_irq_free(irq);
}

static void test_remove(void)
{
	struct gh_irq *irq = gh_irq_new(NULL, NULL);
	struct sink a, b;

	sink_init(&a);
	sink_init(&b);
	g_assert_cmpint(gh_irq_add_sink(irq, sink_fn, &a), ==, 0);
	g_assert_cmpint(gh_irq_add_sink(irq, sink_fn, &b), ==, 0);
	/* Same function, other opaque: only the exact pair goes. */
	gh_irq_remove_sink(irq, sink_fn, &a);
	gh_irq_set(irq, 1, 1);
	g_assert_cmpuint(a.ev->len, ==, 0);
	g_assert_cmpuint(b.ev->len, ==, 1);
	/* Removing something never added is harmless. */
	gh_irq_remove_sink(irq, sink_fn, &a);
	gh_irq_remove_sink(irq, sink_fn, NULL);
	gh_irq_set(irq, 1, 0);
	g_assert_cmpuint(b.ev->len, ==, 2);
	gh_irq_remove_sink(irq, sink_fn, &b);
	gh_irq_set(irq, 1, 1);
	g_assert_cmpuint(b.ev->len, ==, 2);
	/* The line itself is still tracked. */
	g_assert_cmpint(gh_irq_level(irq, 1), ==, 1);
	sink_fini(&a);
	sink_fini(&b);
	gh_irq_free(irq);
}

/* The table of sinks is finite; a refused sink is never called. */
static void test_many_sinks(void)
{
	struct gh_irq *irq = gh_irq_new(NULL, NULL);
	struct sink s[64];
	unsigned i, n = 0;
	int ret = 0;

	for (i = 0; i < G_N_ELEMENTS(s); i++)
		sink_init(&s[i]);
	for (i = 0; i < G_N_ELEMENTS(s); i++) {
		ret = gh_irq_add_sink(irq, sink_fn, &s[i]);
		if (ret < 0)
			break;
		n++;
	}
	/* At least the two 8259s and an I/O APIC. */
	g_assert_cmpuint(n, >=, 3);
	if (n < G_N_ELEMENTS(s))
		g_assert_cmpint(ret, ==, -ENOSPC);
	gh_irq_set(irq, 0, 1);
	for (i = 0; i < G_N_ELEMENTS(s); i++)
		g_assert_cmpuint(s[i].ev->len, ==, i < n ? 1 : 0);
	for (i = 0; i < G_N_ELEMENTS(s); i++)
		sink_fini(&s[i]);
	gh_irq_free(irq);
}

static void test_pulse(void)
{
	struct gh_irq *irq = gh_irq_new(NULL, NULL);
	struct sink s;

	sink_init(&s);
	g_assert_cmpint(gh_irq_add_sink(irq, sink_fn, &s), ==, 0);
	gh_irq_pulse(irq, 8);
	g_assert_cmpint(gh_irq_level(irq, 8), ==, 0);
	g_assert_cmpuint(s.ev->len, ==, 2);
	check_ev(&s, 0, 8, 1);
	check_ev(&s, 1, 8, 0);
	sink_fini(&s);
	gh_irq_free(irq);
}

/* Bad GSIs from a buggy device model are dropped, not routed or stored. */
static void test_out_of_range(void)
{
	struct gh_irq *irq = gh_irq_new(NULL, NULL);
	struct sink s;
	unsigned gsi;

	sink_init(&s);
	g_assert_cmpint(gh_irq_add_sink(irq, sink_fn, &s), ==, 0);
	gh_irq_set(irq, GH_IRQ_MAX_GSI, 1);
	gh_irq_set(irq, 1000, 1);
	gh_irq_set(irq, ~0u, 1);
	gh_irq_pulse(irq, GH_IRQ_MAX_GSI);
	g_assert_cmpuint(s.ev->len, ==, 0);
	g_assert_cmpint(gh_irq_level(irq, GH_IRQ_MAX_GSI), ==, 0);
	g_assert_cmpint(gh_irq_level(irq, ~0u), ==, 0);
	for (gsi = 0; gsi < GH_IRQ_MAX_GSI; gsi++)
		g_assert_cmpint(gh_irq_level(irq, gsi), ==, 0);
	sink_fini(&s);
	gh_irq_free(irq);
}

/* A fake CPU-side controller. */
struct intc {
	bool pending;
	int vector;
	unsigned acks;
};

static bool intc_pending(void *opaque)
{
	return ((struct intc *)opaque)->pending;
}

static int intc_ack(void *opaque)
{
	struct intc *c = opaque;

	c->acks++;
	c->pending = false;
	return c->vector;
}

static const struct gh_intc_ops intc_ops = { .pending = intc_pending, .ack = intc_ack };

static void notify(void *opaque)
{
	(*(unsigned *)opaque)++;
}

static void test_intc(void)
{
	unsigned notified = 0;
	struct gh_irq *irq = gh_irq_new(notify, &notified);
	struct intc c = { .pending = true, .vector = 0x20 };

	/* No controller: nothing pending, INTA answers -1. */
	g_assert_false(gh_irq_intr_pending(irq));
	g_assert_cmpint(gh_irq_intr_ack(irq), ==, -1);

	gh_irq_set_intc(irq, &intc_ops, &c);
	/* Connecting may change INTR: the vCPU must look again. */
	g_assert_cmpuint(notified, >=, 1);
	notified = 0;
	g_assert_true(gh_irq_intr_pending(irq));
	g_assert_cmpint(gh_irq_intr_ack(irq), ==, 0x20);
	g_assert_cmpuint(c.acks, ==, 1);
	g_assert_false(gh_irq_intr_pending(irq));

	gh_irq_intr_changed(irq);
	g_assert_cmpuint(notified, ==, 1);
	gh_irq_intr_changed(irq);
	g_assert_cmpuint(notified, ==, 2);

	c.vector = 0x75;
	c.pending = true;
	g_assert_true(gh_irq_intr_pending(irq));
	g_assert_cmpint(gh_irq_intr_ack(irq), ==, 0x75);
	gh_irq_free(irq);
}

/* Without a notifier, a controller announcing a change is harmless. */
static void test_intc_no_notify(void)
{
	struct gh_irq *irq = gh_irq_new(NULL, NULL);
	struct intc c = { .pending = false, .vector = 8 };

	gh_irq_set_intc(irq, &intc_ops, &c);
	gh_irq_intr_changed(irq);
	g_assert_false(gh_irq_intr_pending(irq));
	g_assert_cmpint(gh_irq_intr_ack(irq), ==, 8);
	gh_irq_free(irq);
}

/* A shared line is the OR of its sources; freeing a source lowers it. */
static void test_shared_sources(void)
{
	struct gh_irq *irq = gh_irq_new(NULL, NULL);
	struct sink s;
	int a, b, i, n = 0;

	sink_init(&s);
	g_assert_cmpint(gh_irq_add_sink(irq, sink_fn, &s), ==, 0);
	a = gh_irq_source_new(irq, 4);
	b = gh_irq_source_new(irq, 4);
	g_assert_cmpint(a, >, 0);
	g_assert_cmpint(b, >, 0);
	g_assert_cmpint(a, !=, b);
	gh_irq_set_source(irq, 4, a, 1);
	gh_irq_set_source(irq, 4, b, 0);	/* b idle: must not hide a */
	g_assert_cmpint(gh_irq_level(irq, 4), ==, 1);
	check_ev(&s, s.ev->len - 1, 4, 1);
	gh_irq_set_source(irq, 4, b, 1);
	gh_irq_set_source(irq, 4, a, 0);
	g_assert_cmpint(gh_irq_level(irq, 4), ==, 1);
	gh_irq_source_free(irq, 4, b);		/* releasing lowers it */
	g_assert_cmpint(gh_irq_level(irq, 4), ==, 0);
	check_ev(&s, s.ev->len - 1, 4, 0);
	/* gh_irq_set is source 0 and ORs with the others too */
	gh_irq_set(irq, 4, 1);
	gh_irq_set_source(irq, 4, a, 0);
	g_assert_cmpint(gh_irq_level(irq, 4), ==, 1);
	gh_irq_set(irq, 4, 0);
	g_assert_cmpint(gh_irq_level(irq, 4), ==, 0);
	/* ids run out; bad GSIs and ids are refused or ignored */
	for (i = 0; i < GH_IRQ_MAX_SOURCES; i++)
		if (gh_irq_source_new(irq, 5) > 0)
			n++;
	g_assert_cmpint(n, ==, GH_IRQ_MAX_SOURCES - 1);
	g_assert_cmpint(gh_irq_source_new(irq, 5), ==, -ENOSPC);
	g_assert_cmpint(gh_irq_source_new(irq, GH_IRQ_MAX_GSI), ==, -EINVAL);
	gh_irq_set_source(irq, 6, GH_IRQ_MAX_SOURCES, 1);
	gh_irq_set_source(irq, 6, -1, 1);
	g_assert_cmpint(gh_irq_level(irq, 6), ==, 0);
	gh_irq_source_free(irq, 4, a);
	sink_fini(&s);
	gh_irq_free(irq);
}

/* A muted source is disconnected from its line; another source is not. */
static void test_mute(void)
{
	struct gh_irq *irq = gh_irq_new(NULL, NULL);
	struct sink a;
	int id;

	sink_init(&a);
	g_assert_cmpint(gh_irq_add_sink(irq, sink_fn, &a), ==, 0);
	id = gh_irq_source_new(irq, 0);
	g_assert_cmpint(id, >, 0);

	gh_irq_set(irq, 0, 1);
	check_ev(&a, 0, 0, 1);
	gh_irq_mute_source(irq, 0, 0, true);
	check_ev(&a, 1, 0, 0);
	g_assert_cmpint(gh_irq_level(irq, 0), ==, 0);
	/* muting again, or a muted source toggling, reaches no sink as high */
	gh_irq_mute_source(irq, 0, 0, true);
	g_assert_cmpuint(a.ev->len, ==, 2);
	gh_irq_set(irq, 0, 0);
	gh_irq_set(irq, 0, 1);
	for (guint i = 2; i < a.ev->len; i++)
		check_ev(&a, i, 0, 0);
	/* the other source still drives the line */
	gh_irq_set_source(irq, 0, id, 1);
	check_ev(&a, a.ev->len - 1, 0, 1);
	g_assert_cmpint(gh_irq_level(irq, 0), ==, 1);
	gh_irq_set_source(irq, 0, id, 0);
	g_assert_cmpint(gh_irq_level(irq, 0), ==, 0);
	/* unmuting shows the level the source kept driving */
	gh_irq_mute_source(irq, 0, 0, false);
	check_ev(&a, a.ev->len - 1, 0, 1);
	g_assert_cmpint(gh_irq_level(irq, 0), ==, 1);
	/* out of range: ignored */
	gh_irq_mute_source(irq, GH_IRQ_MAX_GSI, 0, true);
	gh_irq_mute_source(irq, 0, GH_IRQ_MAX_SOURCES, true);
	g_assert_cmpint(gh_irq_level(irq, 0), ==, 1);
	sink_fini(&a);
	gh_irq_free(irq);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/irq/levels", test_levels);
	g_test_add_func("/irq/late-sink", test_late_sink);
	g_test_add_func("/irq/remove", test_remove);
	g_test_add_func("/irq/many-sinks", test_many_sinks);
	g_test_add_func("/irq/pulse", test_pulse);
	g_test_add_func("/irq/out-of-range", test_out_of_range);
	g_test_add_func("/irq/intc", test_intc);
	g_test_add_func("/irq/intc-no-notify", test_intc_no_notify);
	g_test_add_func("/irq/shared-sources", test_shared_sources);
	g_test_add_func("/irq/mute", test_mute);
	return g_test_run();
}
