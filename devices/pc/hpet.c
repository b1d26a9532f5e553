/*
 * High Precision Event Timer at 0xFED00000 (IA-PC HPET Specification 1.0a):
 * a 64-bit main counter at 100 MHz, three comparators with one-shot and
 * periodic modes (2.3.9), 32-bit mode, edge or level interrupts with the
 * level status register (2.3.6), routing through Tn_INT_ROUTE (2.3.8) or
 * LegacyReplacement (2.3.7: timer 0 on IRQ 0, timer 1 on IRQ 8, which
 * disconnects the PIT's and the RTC's own IRQ 0 and IRQ 8). No FSB
 * (MSI-style) delivery.
 *
 * Nothing ticks: the counter is computed from the virtual clock, and each
 * comparator arms one clock timer for the counter value of its next match.
 */
#include "gh/device.h"

#include <errno.h>
#include <glib.h>

#include "gh/bus.h"
#include "gh/clock.h"
#include "gh/irq.h"
#include "gh/log.h"
#include "gh/vm.h"
#include "gh/x86-acpi.h"

#define NTIMERS		3
#define NEVER		UINT64_MAX

/* register offsets (2.3.1) */
#define R_GCAP_ID	0x000
#define R_GEN_CONF	0x010
#define R_GINTR_STA	0x020
#define R_MAIN_CNT	0x0f0
#define R_TIMER		0x100	/* + 0x20 * n */
#define R_TN_CONF	0x00
#define R_TN_COMP	0x08
#define R_TN_FSB	0x10

#define ENABLE_CNF	(1ULL << 0)
#define LEG_RT_CNF	(1ULL << 1)

/* Tn_CONF_CAP (2.3.8) */
#define TN_INT_TYPE	(1ULL << 1)	/* level */
#define TN_INT_ENB	(1ULL << 2)
#define TN_TYPE		(1ULL << 3)	/* periodic */
#define TN_PER_INT_CAP	(1ULL << 4)
#define TN_SIZE_CAP	(1ULL << 5)	/* 64-bit */
#define TN_VAL_SET	(1ULL << 6)
#define TN_32MODE	(1ULL << 8)
#define TN_ROUTE_SHIFT	9
#define TN_ROUTE_MASK	(0x1fULL << TN_ROUTE_SHIFT)
#define TN_WRITABLE	(TN_INT_TYPE | TN_INT_ENB | TN_TYPE | TN_32MODE | \
			 TN_ROUTE_MASK)
#define TN_CAPS		(TN_PER_INT_CAP | TN_SIZE_CAP)
/*
 * I/O APIC pins 20-23, which no ISA device uses, as on ICH chipsets;
 * gh_irq lines of those numbers go to those pins.
 */
#define ROUTE_CAP	0x00f00000u

/* the HPET table's minimum clock ticks in periodic mode (acpi.c) */
#define MIN_PERIOD	GH_HPET_MIN_PERIOD

#define LEGACY_IRQ0	0
#define LEGACY_IRQ8	8

struct hpet_timer {
	uint64_t conf;		/* the writable bits; VAL_SET until used */
	uint64_t cmp;		/* the comparator: the next match */
	uint64_t period;	/* periodic mode: added to cmp at each match */
	uint64_t target;	/* main counter value of the next match, or NEVER */
	struct gh_timer *timer;
	struct gh_hpet *s;
};

struct gh_hpet {
	struct gh_vm *vm;
	struct gh_clock *clock;
	struct gh_irq *irq;
	uint64_t base;
	bool mapped;
	uint64_t conf;
	uint64_t isr;		/* level-triggered timers that matched */
	uint64_t count;		/* the counter at count_ns, or while halted */
	uint64_t count_ns;
	/* our own source on each line we may drive */
	int source[GH_IRQ_MAX_GSI];
	uint32_t driven;	/* lines we hold high */
	struct hpet_timer t[NTIMERS];
	struct gh_ratelimit rl;
};

static bool enabled(struct gh_hpet *s)
{
	return s->conf & ENABLE_CNF;
}

static uint64_t counter(struct gh_hpet *s)
{
	uint64_t now = gh_clock_ns(s->clock);

	if (!enabled(s))
		return s->count;
	return s->count + gh_ns_to_ticks(now - s->count_ns, GH_HPET_HZ);
}

/*
 * When the counter reaches c: rounded up, so counter() is c by then. A
 * time past the end of the clock's range saturates instead of wrapping to
 * a deadline in the past, which would fire the timer again and again.
 */
static uint64_t count_ns(struct gh_hpet *s, uint64_t c)
{
	unsigned __int128 ns = (unsigned __int128)(c - s->count) * GH_NS_PER_SEC;

	ns = (ns + GH_HPET_HZ - 1) / GH_HPET_HZ + s->count_ns;
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

static bool is32(const struct hpet_timer *t)
{
	return t->conf & TN_32MODE;
}

/* The line a timer drives, or -1 (2.3.7, 2.3.8). */
static int timer_line(struct gh_hpet *s, unsigned n)
{
	unsigned route = (s->t[n].conf & TN_ROUTE_MASK) >> TN_ROUTE_SHIFT;

	if (s->conf & LEG_RT_CNF) {
		if (n == 0)
			return LEGACY_IRQ0;
		if (n == 1)
			return LEGACY_IRQ8;
	}
	return ROUTE_CAP & (1u << route) ? (int)route : -1;
}

/* Level-triggered lines: high while a matched, enabled timer is on them. */
static void update_lines(struct gh_hpet *s)
{
	uint32_t want = 0, change;

	for (unsigned n = 0; n < NTIMERS; n++) {
		int line = timer_line(s, n);

		if (enabled(s) && (s->isr & (1u << n)) &&
		    (s->t[n].conf & TN_INT_ENB) && line >= 0)
			want |= 1u << line;
	}
	change = want ^ s->driven;
	for (unsigned line = 0; line < GH_IRQ_MAX_GSI; line++)
		if (change & (1u << line))
			gh_irq_set_source(s->irq, line, s->source[line],
					  !!(want & (1u << line)));
	s->driven = want;
}

/* A match: an edge, or the status bit and a level (2.3.6). */
static void fire(struct gh_hpet *s, unsigned n)
{
	struct hpet_timer *t = &s->t[n];
	int line = timer_line(s, n);

	if (t->conf & TN_INT_TYPE) {
		s->isr |= 1u << n;
		update_lines(s);
	} else if ((t->conf & TN_INT_ENB) && line >= 0 &&
		   !(s->driven & (1u << line))) {
		gh_irq_set_source(s->irq, line, s->source[line], 1);
		gh_irq_set_source(s->irq, line, s->source[line], 0);
	}
}

/*
 * The counter value of the next match after now: a 64-bit comparator
 * already passed never matches again (the counter does not wrap in any
 * VM's lifetime); a 32-bit one matches when the low half comes round.
 */
static uint64_t next_match(const struct hpet_timer *t, uint64_t now)
{
	uint64_t d;

	if (!is32(t))
		return t->cmp > now ? t->cmp : NEVER;
	d = (uint32_t)(t->cmp - now);
	return now + (d ? d : 1ULL << 32);
}

static void arm(struct gh_hpet *s, unsigned n)
{
	struct hpet_timer *t = &s->t[n];

	if (!enabled(s)) {
		t->target = NEVER;
		gh_timer_del(t->timer);
		return;
	}
	t->target = next_match(t, counter(s));
	if (t->target == NEVER)
		gh_timer_del(t->timer);
	else
		gh_timer_mod(t->timer, count_ns(s, t->target));
}

static void arm_all(struct gh_hpet *s)
{
	for (unsigned n = 0; n < NTIMERS; n++)
		arm(s, n);
}

/*
 * The clock timer of comparator n. A periodic comparator adds its period
 * for every match up to now; a late callback fires once for all of them.
 */
static void timer_cb(void *opaque)
{
	struct hpet_timer *t = opaque;
	struct gh_hpet *s = t->s;
	unsigned n = t - s->t;
	uint64_t now = counter(s);

	if (!enabled(s) || t->target == NEVER || now < t->target) {
		arm(s, n);
		return;
	}
	fire(s, n);
	if ((t->conf & TN_TYPE) && t->period) {
		/* the HPET table promises no period below MIN_PERIOD works;
		 * a shorter one would have the clock thread do nothing else */
		uint64_t step = MAX(t->period, MIN_PERIOD);
		uint64_t k = (now - t->target) / step + 1;

		t->cmp = t->target + k * step;
		if (is32(t))
			t->cmp = (uint32_t)t->cmp;
		t->target += k * step;
		gh_timer_mod(t->timer, count_ns(s, t->target));
		return;
	}
	/* one-shot, or periodic with no period: the next time round, if any */
	t->target = is32(t) ? t->target + (1ULL << 32) : NEVER;
	if (t->target == NEVER)
		gh_timer_del(t->timer);
	else
		gh_timer_mod(t->timer, count_ns(s, t->target));
}

static uint64_t timer_conf(const struct hpet_timer *t)
{
	return t->conf | TN_CAPS | (uint64_t)ROUTE_CAP << 32;
}

static uint64_t read_reg(struct gh_hpet *s, uint64_t reg)
{
	unsigned n;

	switch (reg) {
	case R_GCAP_ID:
		return GH_HPET_ID | (uint64_t)GH_HPET_PERIOD_FS << 32;
	case R_GEN_CONF:
		return s->conf;
	case R_GINTR_STA:
		return s->isr;
	case R_MAIN_CNT:
		return counter(s);
	}
	if (reg < R_TIMER || reg >= R_TIMER + 0x20 * NTIMERS)
		return 0;
	n = (reg - R_TIMER) / 0x20;
	switch ((reg - R_TIMER) % 0x20) {
	case R_TN_CONF:
		return timer_conf(&s->t[n]);
	case R_TN_COMP:
		return is32(&s->t[n]) ? (uint32_t)s->t[n].cmp : s->t[n].cmp;
	default:
		return 0;	/* FSB route: not supported */
	}
}

static void write_gen_conf(struct gh_hpet *s, uint64_t val)
{
	uint64_t old = s->conf, now = counter(s);

	s->conf = val & (ENABLE_CNF | LEG_RT_CNF);
	if ((old ^ s->conf) & ENABLE_CNF) {
		/* the counter halts at, or runs on from, its value now */
		s->count = now;
		s->count_ns = gh_clock_ns(s->clock);
	}
	if ((old ^ s->conf) & LEG_RT_CNF) {
		bool on = s->conf & LEG_RT_CNF;

		gh_irq_mute_source(s->irq, LEGACY_IRQ0, 0, on);
		gh_irq_mute_source(s->irq, LEGACY_IRQ8, 0, on);
	}
	update_lines(s);
	arm_all(s);
}

static void write_timer_conf(struct gh_hpet *s, unsigned n, uint64_t val)
{
	struct hpet_timer *t = &s->t[n];
	unsigned route = (val & TN_ROUTE_MASK) >> TN_ROUTE_SHIFT;

	if (!(ROUTE_CAP & (1u << route)) && (val & TN_INT_ENB))
		gh_log_guest(&s->rl, "hpet: timer %u routed to IRQ %u, which "
			     "it cannot reach", n, route);
	t->conf = (val & TN_WRITABLE) | (val & TN_VAL_SET);
	if (is32(t)) {
		t->cmp = (uint32_t)t->cmp;
		t->period = (uint32_t)t->period;
	}
	/* an edge timer has no status to keep (2.3.6) */
	if (!(t->conf & TN_INT_TYPE))
		s->isr &= ~(1u << n);
	update_lines(s);
	arm(s, n);
}

/*
 * A comparator write sets the period of a periodic timer, and the
 * comparator itself for a one-shot timer or after VAL_SET (2.3.9.2.2).
 */
static void write_comparator(struct gh_hpet *s, unsigned n, uint64_t val,
			     uint64_t mask)
{
	struct hpet_timer *t = &s->t[n];

	if (is32(t))
		mask &= 0xffffffffULL;
	if (!(t->conf & TN_TYPE) || (t->conf & TN_VAL_SET))
		t->cmp = (t->cmp & ~mask) | (val & mask);
	t->period = (t->period & ~mask) | (val & mask);
	t->conf &= ~TN_VAL_SET;
	arm(s, n);
}

static void write_reg(struct gh_hpet *s, uint64_t reg, uint64_t val,
		      uint64_t mask)
{
	uint64_t merged = (read_reg(s, reg) & ~mask) | (val & mask);
	unsigned n;

	switch (reg) {
	case R_GEN_CONF:
		write_gen_conf(s, merged);
		return;
	case R_GINTR_STA:
		/* write 1 to clear */
		s->isr &= ~(val & mask);
		update_lines(s);
		return;
	case R_MAIN_CNT:
		/* software halts the counter first (2.3.5); a write while it
		 * runs takes effect from now on */
		s->count = merged;
		s->count_ns = gh_clock_ns(s->clock);
		arm_all(s);
		return;
	}
	if (reg < R_TIMER || reg >= R_TIMER + 0x20 * NTIMERS)
		return;
	n = (reg - R_TIMER) / 0x20;
	switch ((reg - R_TIMER) % 0x20) {
	case R_TN_CONF:
		write_timer_conf(s, n, merged);
		break;
	case R_TN_COMP:
		write_comparator(s, n, val, mask);
		break;
	default:
		break;
	}
}

static uint64_t mask_of(unsigned size, unsigned shift)
{
	return (size == 8 ? ~0ULL : (1ULL << (8 * size)) - 1) << shift;
}

/* 32- and 64-bit accesses (2.3.1); a 32-bit one reads or writes a half. */
static uint64_t hpet_read(void *opaque, uint64_t off, unsigned size)
{
	struct gh_hpet *s = opaque;
	unsigned shift = (off & 7) * 8;

	return (read_reg(s, off & ~7ULL) & mask_of(size, shift)) >> shift;
}

static void hpet_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct gh_hpet *s = opaque;
	unsigned shift = (off & 7) * 8;

	if (size == 8 && shift)
		return;
	write_reg(s, off & ~7ULL, val << shift, mask_of(size, shift));
}

static const struct gh_io_ops hpet_ops = {
	.read = hpet_read,
	.write = hpet_write,
};

static void free_sources(struct gh_hpet *s)
{
	for (unsigned line = 0; line < GH_IRQ_MAX_GSI; line++)
		if (s->source[line] > 0)
			gh_irq_source_free(s->irq, line, s->source[line]);
}

static int hpet_realize(void *dev, struct gh_vm *vm,
			const struct gh_device_cfg *cfg, struct gh_error *err)
{
	struct gh_hpet *s = dev;
	uint32_t lines = ROUTE_CAP | 1u << LEGACY_IRQ0 | 1u << LEGACY_IRQ8;
	int ret;

	s->vm = vm;
	s->clock = gh_vm_clock(vm);
	s->irq = gh_vm_irq(vm);
	s->base = cfg->base ? cfg->base : GH_HPET_BASE;
	for (unsigned line = 0; line < GH_IRQ_MAX_GSI; line++) {
		if (!(lines & (1u << line)))
			continue;
		ret = gh_irq_source_new(s->irq, line);
		if (ret < 0) {
			free_sources(s);
			return gh_error_set(err, ret, "hpet: no source on GSI %u",
					    line);
		}
		s->source[line] = ret;
	}
	ret = gh_bus_map(gh_vm_mmio(vm), s->base, GH_HPET_SIZE, &hpet_ops, s,
			 "hpet");
	if (ret < 0) {
		free_sources(s);
		return gh_error_set(err, ret, "hpet: cannot claim MMIO at %#llx",
				    (unsigned long long)s->base);
	}
	s->mapped = true;
	for (unsigned n = 0; n < NTIMERS; n++) {
		s->t[n].s = s;
		s->t[n].timer = gh_timer_new(s->clock, timer_cb, &s->t[n]);
	}
	return 0;
}

static void hpet_unrealize(void *dev)
{
	struct gh_hpet *s = dev;

	for (unsigned n = 0; n < NTIMERS; n++) {
		gh_timer_free(s->t[n].timer);
		s->t[n].timer = NULL;
	}
	if (s->conf & LEG_RT_CNF) {
		gh_irq_mute_source(s->irq, LEGACY_IRQ0, 0, false);
		gh_irq_mute_source(s->irq, LEGACY_IRQ8, 0, false);
	}
	if (s->mapped)
		gh_bus_unmap(gh_vm_mmio(s->vm), s->base);
	free_sources(s);
}

/* Power-on: halted at 0, every timer one-shot, disabled, comparators all-ones. */
static void hpet_reset(void *dev)
{
	struct gh_hpet *s = dev;

	write_gen_conf(s, 0);
	s->count = 0;
	s->count_ns = gh_clock_ns(s->clock);
	s->isr = 0;
	for (unsigned n = 0; n < NTIMERS; n++) {
		s->t[n].conf = 0;
		s->t[n].cmp = ~0ULL;
		s->t[n].period = 0;
	}
	update_lines(s);
	arm_all(s);
}

const struct gh_device_type gh_hpet_type = {
	.name = "hpet",
	.level = 1,
	.size = sizeof(struct gh_hpet),
	.realize = hpet_realize,
	.reset = hpet_reset,
	.unrealize = hpet_unrealize,
};
