/*
 * Intel 8254 programmable interval timer at 0x40-0x43 (datasheet 231164:
 * modes 0-5, read-back command) and the PC/AT system control port B at 0x61
 * (channel 2 gate, speaker data, refresh toggle, channel 2 OUT).
 *
 * Nothing ticks per count: each channel remembers the CLK tick at which its
 * count was loaded, and its count and OUT are computed from the virtual
 * clock. CLK tick k happens at ceil(k * 1e9 / PIT_HZ) ns of virtual time.
 */
#include "gh/device.h"

#include <errno.h>

#include "gh/bus.h"
#include "gh/clock.h"
#include "gh/irq.h"
#include "gh/log.h"
#include "gh/vm.h"

#define PIT_HZ 1193182
#define PIT_BASE 0x40
#define PORT_B 0x61
#define REFRESH_NS 15085	/* half period of the DRAM refresh toggle */
#define NO_TICK INT64_MAX

#define PORT_B_GATE2 0x01
#define PORT_B_WRITABLE 0x0f
#define PORT_B_REFRESH 0x10
#define PORT_B_OUT2 0x20

enum chan_state {
	IDLE,		/* no count loaded, or waiting for a gate trigger */
	RUNNING,	/* counting from the count loaded at tick start */
	PAUSED,		/* modes 0 and 4 with the gate low: stopped at paused_d */
};

struct pit_channel {
	/* the control word */
	uint8_t cw_mode;	/* M2-M0 as written, for the status byte */
	uint8_t mode;		/* 0-5: modes 6 and 7 are 2 and 3 */
	uint8_t rw;		/* 1: LSB, 2: MSB, 3: LSB then MSB */
	bool bcd;
	bool gate;

	/* the count register */
	uint32_t cr;		/* 1..65536, or 1..10000 in BCD */
	bool cr_valid;		/* written since the control word */
	int64_t cr_load;	/* tick the CR reaches the counter: null count */

	/* the counting element */
	enum chan_state state;
	uint32_t n;		/* the count it counts from */
	int64_t start;		/* tick at which it holds n */
	int64_t paused_d;
	bool out_before;	/* OUT while IDLE and before start */
	uint16_t frozen;	/* what a read returns while IDLE or before start */
	/* modes 2 and 3: a new count takes over at the end of a cycle */
	bool reload;
	int64_t reload_at;
	int64_t reload_phase;
	uint32_t reload_n;

	/* the bus side */
	bool write_msb;
	uint8_t write_lsb;
	bool read_msb;
	bool count_latched;
	bool latch_msb;
	uint16_t latch;
	bool status_latched;
	uint8_t status;
};

struct gh_i8254 {
	struct gh_vm *vm;
	struct gh_clock *clock;
	struct gh_irq *irq;
	struct gh_timer *timer;
	uint16_t base;
	int gsi;		/* -1: channel 0 drives nothing */
	bool line;		/* what we last drove on gsi */
	int64_t line_tick;	/* the tick line was last brought up to date */
	unsigned mapped;
	struct pit_channel ch[3];
	uint8_t port_b;
	struct gh_ratelimit rl;
};

/* The last CLK tick at or before ns. */
static int64_t tick_at(uint64_t ns)
{
	return (int64_t)(((unsigned __int128)ns * PIT_HZ) / GH_NS_PER_SEC);
}

/* When tick k happens; rounded up so that tick_at(tick_ns(k)) == k. */
static uint64_t tick_ns(int64_t k)
{
	unsigned __int128 t = (unsigned __int128)k * GH_NS_PER_SEC;

	return (uint64_t)((t + PIT_HZ - 1) / PIT_HZ);
}

static int64_t now_tick(struct gh_i8254 *s)
{
	return tick_at(gh_clock_ns(s->clock));
}

/*
 * OUT, the counter and the next OUT change, as functions of d, the ticks
 * since the count n was loaded (d >= 0), per mode with the gate high.
 */
static bool out_at(unsigned mode, uint32_t n, int64_t d)
{
	switch (mode) {
	case 0:
	case 1:
		return d >= n;
	case 2:
		/* Count 1 is illegal; we give a rising edge every tick. */
		return n == 1 || d % n != n - 1;
	case 3:
		return d % n < (n + 1) / 2;
	default:
		return d != n;
	}
}

static uint32_t count_at(unsigned mode, uint32_t n, int64_t d, uint32_t modulus)
{
	int64_t v, p, hi;

	switch (mode) {
	case 2:
		v = n - d % n;
		break;
	case 3:
		/* Decrements by two; each half cycle starts again from n. */
		hi = (n + 1) / 2;
		p = d % n;
		v = n - 2 * (p < hi ? p : p - hi);
		break;
	default:
		v = ((int64_t)n - d) % modulus;
		if (v < 0)
			v += modulus;
		break;
	}
	return v % modulus;
}

/* The d after d at which OUT changes, or -1. */
static int64_t next_change_at(unsigned mode, uint32_t n, int64_t d)
{
	int64_t p, hi;

	switch (mode) {
	case 0:
	case 1:
		return d < n ? (int64_t)n : -1;
	case 2:
		if (n == 1)
			return d + 1;
		p = d % n;
		return p < n - 1 ? d + (n - 1 - p) : d + 1;
	case 3:
		if (n == 1)
			return -1;
		hi = (n + 1) / 2;
		p = d % n;
		return p < hi ? d + (hi - p) : d + (n - p);
	default:
		return d < n ? (int64_t)n : d == n ? (int64_t)n + 1 : -1;
	}
}

/* Whether OUT rises at some d in (da, db]. */
static bool rose_in(unsigned mode, uint32_t n, int64_t da, int64_t db)
{
	if (da < 0)
		da = 0;
	if (db <= da)
		return false;
	switch (mode) {
	case 0:
	case 1:
		return da < n && n <= db;
	case 2:
	case 3:
		if (n == 1)
			return mode == 2;
		return db / n > da / n;
	default:
		return da < n + 1 && n + 1 <= db;
	}
}

static uint32_t modulus(const struct pit_channel *c)
{
	return c->bcd ? 10000 : 65536;
}

static uint16_t to_bcd(uint32_t v)
{
	return (v / 1000 % 10) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 |
	       (v % 10);
}

/* Applies a mode 2/3 reload whose cycle boundary has passed by tick t. */
static void settle(struct pit_channel *c, int64_t t)
{
	if (c->state == RUNNING && c->reload && t >= c->reload_at) {
		c->start = c->reload_at - c->reload_phase;
		c->n = c->reload_n;
		c->reload = false;
	}
}

static bool chan_out(struct pit_channel *c, int64_t t)
{
	settle(c, t);
	switch (c->state) {
	case PAUSED:
		return out_at(c->mode, c->n, c->paused_d);
	case RUNNING:
		if (t >= c->start)
			return out_at(c->mode, c->n, t - c->start);
		/* fall through */
	default:
		return c->out_before;
	}
}

/* The counter as the bus reads it (BCD-encoded in BCD mode). */
static uint16_t chan_count(struct pit_channel *c, int64_t t)
{
	int64_t d;
	uint32_t v;

	settle(c, t);
	if (c->state == PAUSED)
		d = c->paused_d;
	else if (c->state == RUNNING && t >= c->start)
		d = t - c->start;
	else
		return c->frozen;
	v = count_at(c->mode, c->n, d, modulus(c));
	return c->bcd ? to_bcd(v) : v;
}

static bool chan_rose(const struct pit_channel *c, int64_t a, int64_t b)
{
	int64_t nstart;

	if (c->state != RUNNING)
		return false;
	if (c->reload && a < c->reload_at && c->reload_at <= b) {
		nstart = c->reload_at - c->reload_phase;
		return rose_in(c->mode, c->n, a - c->start,
			       c->reload_at - c->start) ||
		       rose_in(c->mode, c->reload_n, c->reload_at - nstart,
			       b - nstart);
	}
	return rose_in(c->mode, c->n, a - c->start, b - c->start);
}

/* The tick after t at which OUT may change, or -1. */
static int64_t chan_next_change(struct pit_channel *c, int64_t t)
{
	int64_t next;

	settle(c, t);
	if (c->state != RUNNING)
		return -1;
	if (t < c->start)
		return c->start;
	next = next_change_at(c->mode, c->n, t - c->start);
	if (next >= 0)
		next += c->start;
	if (c->reload && c->reload_at > t && (next < 0 || c->reload_at < next))
		next = c->reload_at;
	return next;
}

/*
 * Brings the IRQ line up to date with channel 0's OUT and arms the timer
 * for its next change. A timer that runs late coalesces the rising edges it
 * missed into one, so the PIC still sees an interrupt, but only one.
 */
static void update_irq(struct gh_i8254 *s)
{
	struct pit_channel *c = &s->ch[0];
	int64_t t = now_tick(s), next;
	bool rose, out;

	if (s->gsi < 0)
		return;
	rose = chan_rose(c, s->line_tick, t);
	out = chan_out(c, t);
	if (rose) {
		if (s->line)
			gh_irq_set(s->irq, s->gsi, 0);
		gh_irq_set(s->irq, s->gsi, 1);
		s->line = true;
	}
	if (out != s->line) {
		gh_irq_set(s->irq, s->gsi, out);
		s->line = out;
	}
	s->line_tick = t;
	next = chan_next_change(c, t);
	if (next >= 0)
		gh_timer_mod(s->timer, tick_ns(next));
	else
		gh_timer_del(s->timer);
}

static void pit_timer(void *opaque)
{
	update_irq(opaque);
}

/* Loads n into the counting element at the next CLK tick. */
static void start_counting(struct pit_channel *c, int64_t t, bool out_before)
{
	c->frozen = chan_count(c, t);
	c->out_before = out_before;
	c->n = c->cr;
	c->start = t + 1;
	c->cr_load = t + 1;
	c->reload = false;
	c->state = RUNNING;
}

static void stop_counting(struct pit_channel *c, int64_t t, bool out)
{
	c->frozen = chan_count(c, t);
	c->out_before = out;
	c->reload = false;
	c->state = IDLE;
}

static uint32_t decode_count(struct gh_i8254 *s, struct pit_channel *c,
			     uint16_t raw)
{
	uint32_t v = 0, digit;
	int i;

	if (!c->bcd)
		return raw ? raw : 65536;
	for (i = 3; i >= 0; i--) {
		digit = (raw >> (4 * i)) & 0xf;
		if (digit > 9) {
			gh_log_guest(&s->rl, "i8254: BCD count %#x has a digit "
				     "above 9; using 9", raw);
			digit = 9;
		}
		v = v * 10 + digit;
	}
	return v ? v : 10000;
}

/* A full count arrived in the count register (datasheet, "Mode Definitions"). */
static void load_count(struct gh_i8254 *s, struct pit_channel *c, uint16_t raw,
		       int64_t t)
{
	int64_t d, p, hi;

	c->cr = decode_count(s, c, raw);
	c->cr_valid = true;
	if (c->mode == 2 && c->cr == 1)
		gh_log_guest(&s->rl, "i8254: count 1 is illegal in mode %u",
			     c->mode);
	settle(c, t);
	switch (c->mode) {
	case 0:
	case 4:
		if (c->gate) {
			start_counting(c, t, c->mode == 0 ? false : chan_out(c, t));
		} else {
			c->n = c->cr;
			c->paused_d = 0;
			c->cr_load = t + 1;
			c->reload = false;
			c->state = PAUSED;
		}
		break;
	case 1:
	case 5:
		/* Loaded by the next gate trigger. */
		c->cr_load = NO_TICK;
		break;
	default:
		if (c->state == RUNNING && t >= c->start) {
			/* Counting goes on; the new count starts the next cycle
			 * (mode 3: the next half cycle). */
			d = t - c->start;
			p = d % c->n;
			hi = (c->n + 1) / 2;
			c->reload = true;
			c->reload_n = c->cr;
			if (c->mode == 3 && p < hi) {
				c->reload_at = t + (hi - p);
				c->reload_phase = (c->cr + 1) / 2;
			} else if (c->mode == 3) {
				c->reload_at = t + (c->n - p);
				c->reload_phase = 0;
			} else {
				c->reload_at = c->start + (d / c->n + 1) * c->n;
				c->reload_phase = 0;
			}
			c->cr_load = c->reload_at;
		} else if (c->gate) {
			start_counting(c, t, true);
		} else {
			c->cr_load = NO_TICK;
		}
		break;
	}
}

static void write_count(struct gh_i8254 *s, struct pit_channel *c, uint8_t val)
{
	int64_t t = now_tick(s);

	switch (c->rw) {
	case 1:
		load_count(s, c, val, t);
		break;
	case 2:
		load_count(s, c, val << 8, t);
		break;
	default:
		if (!c->write_msb) {
			c->write_lsb = val;
			c->write_msb = true;
			/* Mode 0: the first byte stops counting, OUT goes low. */
			if (c->mode == 0)
				stop_counting(c, t, false);
			break;
		}
		c->write_msb = false;
		load_count(s, c, c->write_lsb | val << 8, t);
		break;
	}
}

static uint8_t status_byte(struct pit_channel *c, int64_t t)
{
	return chan_out(c, t) << 7 | (t < c->cr_load) << 6 | c->rw << 4 |
	       c->cw_mode << 1 | c->bcd;
}

static void latch_count(struct pit_channel *c, int64_t t)
{
	/* Later latch commands are ignored until the latch is read. */
	if (c->count_latched)
		return;
	c->latch = chan_count(c, t);
	c->count_latched = true;
	c->latch_msb = false;
}

static void read_back(struct gh_i8254 *s, uint8_t val)
{
	int64_t t = now_tick(s);
	unsigned i;

	if (val & 0x01)
		gh_log_guest(&s->rl, "i8254: read-back %#x has reserved bit 0 set",
			     val);
	for (i = 0; i < 3; i++) {
		struct pit_channel *c = &s->ch[i];

		if (!(val & (2 << i)))
			continue;
		if (!(val & 0x20))
			latch_count(c, t);
		if (!(val & 0x10) && !c->status_latched) {
			c->status = status_byte(c, t);
			c->status_latched = true;
		}
	}
}

static void write_control(struct gh_i8254 *s, uint8_t val)
{
	struct pit_channel *c;
	unsigned sel = val >> 6, rw = (val >> 4) & 3;
	int64_t t = now_tick(s);

	if (sel == 3) {
		read_back(s, val);
		return;
	}
	c = &s->ch[sel];
	if (rw == 0) {
		latch_count(c, t);
		return;
	}
	stop_counting(c, t, false);
	c->cw_mode = (val >> 1) & 7;
	c->mode = c->cw_mode > 5 ? c->cw_mode - 4 : c->cw_mode;
	c->out_before = c->mode != 0;
	c->rw = rw;
	c->bcd = val & 1;
	c->cr_valid = false;
	c->cr_load = NO_TICK;
	c->write_msb = false;
	c->read_msb = false;
	c->count_latched = false;
	c->status_latched = false;
}

static uint8_t read_counter(struct gh_i8254 *s, struct pit_channel *c)
{
	uint16_t v;

	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	if (c->count_latched) {
		v = c->latch;
		if (c->rw == 3 && !c->latch_msb) {
			c->latch_msb = true;
			return v;
		}
		c->count_latched = false;
		c->latch_msb = false;
		return c->rw == 2 || c->rw == 3 ? v >> 8 : v;
	}
	v = chan_count(c, now_tick(s));
	switch (c->rw) {
	case 1:
		return v;
	case 2:
		return v >> 8;
	default:
		c->read_msb = !c->read_msb;
		return c->read_msb ? v : v >> 8;
	}
}

static uint64_t pit_read(void *opaque, uint64_t off, unsigned size)
{
	struct gh_i8254 *s = opaque;
	uint64_t val = 0;
	unsigned i;

	/*
	 * Reading channel 0 may apply its pending reload: settle its edges
	 * first. Other channels leave it alone, and Linux polls channel 2 in
	 * tight loops while calibrating, so they skip the re-arm.
	 */
	if (off == 0)
		update_irq(s);
	for (i = 0; i < size && off + i < 4; i++) {
		/* The control word register is write-only: the bus floats. */
		uint8_t b = off + i == 3 ? 0xff : read_counter(s, &s->ch[off + i]);

		val |= (uint64_t)b << (8 * i);
	}
	return val;
}

static void pit_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct gh_i8254 *s = opaque;
	unsigned i;

	for (i = 0; i < size && off + i < 4; i++) {
		uint8_t b = val >> (8 * i);

		/* Settle channel 0's past edges under the old programming. */
		update_irq(s);
		if (off + i == 3)
			write_control(s, b);
		else
			write_count(s, &s->ch[off + i], b);
		update_irq(s);
	}
}

static const struct gh_io_ops pit_ops = {
	.read = pit_read,
	.write = pit_write,
};

static void set_gate(struct pit_channel *c, bool gate, int64_t t)
{
	if (gate == c->gate)
		return;
	settle(c, t);
	c->gate = gate;
	switch (c->mode) {
	case 0:
	case 4:
		if (gate && c->state == PAUSED) {
			c->start = t - c->paused_d;
			c->state = RUNNING;
		} else if (!gate && c->state == RUNNING) {
			c->paused_d = t >= c->start ? t - c->start : 0;
			c->state = PAUSED;
		}
		break;
	case 1:
	case 5:
		/* A rising edge (re)triggers; mode 1's OUT stays low if it is. */
		if (gate && c->cr_valid)
			start_counting(c, t, chan_out(c, t));
		break;
	default:
		/* Gate low forces OUT high and stops; its rise reloads. */
		if (gate && c->cr_valid) {
			start_counting(c, t, true);
		} else if (!gate && c->state == RUNNING) {
			if (c->cr_load > t)
				c->cr_load = NO_TICK;
			stop_counting(c, t, true);
		}
		break;
	}
}

static uint64_t port_b_read(void *opaque, uint64_t off, unsigned size)
{
	struct gh_i8254 *s = opaque;
	uint64_t ns = gh_clock_ns(s->clock);
	uint8_t val = s->port_b & PORT_B_WRITABLE;

	(void)off;
	(void)size;
	if ((ns / REFRESH_NS) & 1)
		val |= PORT_B_REFRESH;
	if (chan_out(&s->ch[2], tick_at(ns)))
		val |= PORT_B_OUT2;
	return val;
}

static void port_b_write(void *opaque, uint64_t off, uint64_t val,
			 unsigned size)
{
	struct gh_i8254 *s = opaque;

	(void)off;
	(void)size;
	s->port_b = val & PORT_B_WRITABLE;
	set_gate(&s->ch[2], val & PORT_B_GATE2, now_tick(s));
}

static const struct gh_io_ops port_b_ops = {
	.read = port_b_read,
	.write = port_b_write,
};

static void unmap_all(struct gh_i8254 *s)
{
	if (s->mapped > 1)
		gh_bus_unmap(gh_vm_pio(s->vm), PORT_B);
	if (s->mapped > 0)
		gh_bus_unmap(gh_vm_pio(s->vm), s->base);
	s->mapped = 0;
}

static int i8254_realize(void *dev, struct gh_vm *vm,
			 const struct gh_device_cfg *cfg, struct gh_error *err)
{
	struct gh_i8254 *s = dev;
	struct gh_bus *pio = gh_vm_pio(vm);
	int ret;

	s->vm = vm;
	s->clock = gh_vm_clock(vm);
	s->irq = gh_vm_irq(vm);
	s->base = cfg->base ? cfg->base : PIT_BASE;
	s->gsi = cfg->irq >= 0 && cfg->irq < GH_IRQ_MAX_GSI ? cfg->irq : -1;

	ret = gh_bus_map(pio, s->base, 4, &pit_ops, s, "i8254");
	if (ret < 0)
		goto err;
	s->mapped++;
	ret = gh_bus_map(pio, PORT_B, 1, &port_b_ops, s, "port-b");
	if (ret < 0)
		goto err_unmap;
	s->mapped++;
	s->timer = gh_timer_new(s->clock, pit_timer, s);
	return 0;

err_unmap:
	unmap_all(s);
err:
	return gh_error_set(err, ret, "i8254: cannot claim ports %#x and %#x",
			    s->base, PORT_B);
}

static void i8254_unrealize(void *dev)
{
	struct gh_i8254 *s = dev;

	gh_timer_free(s->timer);
	s->timer = NULL;
	unmap_all(s);
}

static void i8254_reset(void *dev)
{
	struct gh_i8254 *s = dev;
	int64_t t = now_tick(s);
	unsigned i;

	/* As QEMU's PIT at power-on: mode 3 with count 65536 on every channel. */
	for (i = 0; i < 3; i++) {
		struct pit_channel *c = &s->ch[i];

		*c = (struct pit_channel){
			.cw_mode = 3, .mode = 3, .rw = 3,
			.gate = i != 2, .out_before = true,
			.cr = 65536, .cr_valid = true, .cr_load = NO_TICK,
			.n = 65536,
			.state = IDLE,
		};
		if (c->gate)
			start_counting(c, t, true);
	}
	s->port_b = 0;
	if (s->gsi >= 0 && s->line)
		gh_irq_set(s->irq, s->gsi, 0);
	s->line = false;
	s->line_tick = t;
	update_irq(s);
}

const struct gh_device_type gh_i8254_type = {
	.name = "i8254",
	.level = 1,
	.size = sizeof(struct gh_i8254),
	.realize = i8254_realize,
	.reset = i8254_reset,
	.unrealize = i8254_unrealize,
};
