/*
 * MC146818A real-time clock and CMOS RAM (Motorola datasheet; registers A-D as
 * in the DS12887's "Register A".."Register D"), with the PC's CMOS layout.
 */
#include "gh/device.h"

#include <errno.h>
#include <inttypes.h>

#include "gh/bus.h"
#include "gh/clock.h"
#include "gh/irq.h"
#include "gh/log.h"
#include "gh/memory.h"
#include "gh/vm.h"

#define NS ((int64_t)GH_NS_PER_SEC)
#define TICK_HZ 32768		/* the divider's time base */
#define NEVER INT64_MAX

enum {
	REG_SEC = 0x00, REG_SEC_ALARM = 0x01, REG_MIN = 0x02,
	REG_MIN_ALARM = 0x03, REG_HOUR = 0x04, REG_HOUR_ALARM = 0x05,
	REG_WDAY = 0x06, REG_MDAY = 0x07, REG_MONTH = 0x08, REG_YEAR = 0x09,
	REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d,
	REG_CENTURY = 0x32,
};

#define A_UIP 0x80
#define A_DV_MASK 0x70
#define A_DV_NORMAL 0x20	/* 010: 32.768 kHz, running */
#define A_DV_RESET 0x60		/* 11x: oscillator on, chain held in reset */
#define A_RS_MASK 0x0f

#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_SQWE 0x08
#define B_DM 0x04		/* 1: binary, 0: BCD */
#define B_24H 0x02

#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10

#define D_VRT 0x80

/* UIP rises this many time-base ticks (244 us) before each update. */
#define UIP_TICKS 8

struct mc146818 {
	struct gh_vm *vm;
	struct gh_clock *clock;
	struct gh_irq *irq;
	struct gh_timer *timer;
	uint16_t base;
	int gsi;
	int line;
	uint8_t index;
	bool nmi_masked;	/* port 0x70 bit 7: the chipset's NMI gate */
	/*
	 * CMOS bytes. The time registers are authoritative only while SET is
	 * held; otherwise they are refreshed from the clock on every read.
	 * Register A keeps DV and RS here, UIP is computed.
	 */
	uint8_t cmos[128];
	/*
	 * Guest time in seconds since 1970 (of the guest's calendar). While
	 * the divider runs, origin is a virtual-clock instant on a boundary
	 * of the divider's second and sec the time at that instant; updates
	 * (when SET is clear) happen every NS after origin. While the divider
	 * is stopped, phase is how far into its second it stopped.
	 */
	int64_t sec;
	int64_t origin;
	int64_t phase;
	/* Register C accounts for every event up to this instant. */
	int64_t synced;
	struct gh_ratelimit rl;
};

static int64_t now(struct mc146818 *s)
{
	return (int64_t)gh_clock_ns(s->clock);
}

static bool divider_running(struct mc146818 *s)
{
	return (s->cmos[REG_A] & A_DV_MASK) == A_DV_NORMAL;
}

static bool updating(struct mc146818 *s)
{
	return divider_running(s) && !(s->cmos[REG_B] & B_SET);
}

/* Time-base ticks in d >= 0 ns, rounded down. */
static int64_t ns_to_ticks(int64_t d)
{
	return d / NS * TICK_HZ + d % NS * TICK_HZ / NS;
}

/* The first instant (ns after the origin) at which tick k has been reached. */
static int64_t ticks_to_ns_ceil(int64_t k)
{
	return k / TICK_HZ * NS + (k % TICK_HZ * NS + TICK_HZ - 1) / TICK_HZ;
}

/* Periodic interrupt period in ticks; rates 1 and 2 repeat 8 and 9. */
static int64_t period_ticks(struct mc146818 *s)
{
	unsigned rs = s->cmos[REG_A] & A_RS_MASK;

	if (!rs)
		return 0;
	if (rs <= 2)
		rs += 7;
	return (int64_t)1 << (rs - 1);
}

static int64_t current_sec(struct mc146818 *s, int64_t t)
{
	if (!updating(s))
		return s->sec;
	return s->sec + (t - s->origin) / NS;
}

/*
 * Before the registers change: fold elapsed whole seconds into sec, so the
 * state reads the same under either the old or the new register values.
 */
static void freeze(struct mc146818 *s, int64_t t)
{
	int64_t k;

	if (!divider_running(s))
		return;
	k = (t - s->origin) / NS;
	if (!(s->cmos[REG_B] & B_SET))
		s->sec += k;
	s->origin += k * NS;
	s->phase = t - s->origin;
}

static void thaw(struct mc146818 *s, int64_t t)
{
	if (divider_running(s))
		s->origin = t - s->phase;
}

/* --- calendar ----------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (d may overflow). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	if (m <= 2)
		y--;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

/* --- register encoding -------------------------------------------------- */

static bool binary_mode(struct mc146818 *s)
{
	return s->cmos[REG_B] & B_DM;
}

static uint8_t enc(struct mc146818 *s, unsigned v)
{
	return binary_mode(s) ? v : (v / 10) << 4 | v % 10;
}

/* Strict decoding, for alarm comparisons: false for a non-BCD byte. */
static bool dec(struct mc146818 *s, uint8_t b, unsigned *v)
{
	if (binary_mode(s)) {
		*v = b;
		return true;
	}
	if ((b >> 4) > 9 || (b & 15) > 9)
		return false;
	*v = (b >> 4) * 10 + (b & 15);
	return true;
}

static uint8_t enc_hour(struct mc146818 *s, unsigned h)
{
	if (s->cmos[REG_B] & B_24H)
		return enc(s, h);
	return enc(s, h % 12 ? h % 12 : 12) | (h >= 12 ? 0x80 : 0);
}

static bool dec_hour(struct mc146818 *s, uint8_t b, unsigned *h)
{
	if (s->cmos[REG_B] & B_24H)
		return dec(s, b, h) && *h < 24;
	if (!dec(s, b & 0x7f, h) || *h < 1 || *h > 12)
		return false;
	*h = *h % 12 + (b & 0x80 ? 12 : 0);
	return true;
}

static void store_time(struct mc146818 *s, int64_t t)
{
	int64_t days = floor_div(t, 86400), tod = t - days * 86400, y;
	unsigned m, d;

	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999)
		y = 2000;	/* only reachable from host clocks gone mad */
	s->cmos[REG_SEC] = enc(s, tod % 60);
	s->cmos[REG_MIN] = enc(s, tod / 60 % 60);
	s->cmos[REG_HOUR] = enc_hour(s, tod / 3600);
	/* 1970-01-01 was a Thursday; the chip counts Sunday as 1. */
	s->cmos[REG_WDAY] = enc(s, (unsigned)((days % 7 + 11) % 7) + 1);
	s->cmos[REG_MDAY] = enc(s, d);
	s->cmos[REG_MONTH] = enc(s, m);
	s->cmos[REG_YEAR] = enc(s, y % 100);
	s->cmos[REG_CENTURY] = enc(s, y / 100);
}

/*
 * Reads back what the guest wrote. The chip would count on from garbage in
 * its own way; we clamp each field into range, and the day of the week is
 * always derived from the date.
 */
static unsigned field(struct mc146818 *s, unsigned reg, uint8_t b, unsigned lo,
		      unsigned hi)
{
	unsigned v = binary_mode(s) ? b : (b >> 4) * 10 + (b & 15);

	if (v < lo || v > hi) {
		gh_log_guest(&s->rl, "mc146818: time register 0x%02x holds "
			     "0x%02x, out of range", reg, s->cmos[reg]);
		v = v < lo ? lo : hi;
	}
	return v;
}

static int64_t load_time(struct mc146818 *s)
{
	const uint8_t *c = s->cmos;
	unsigned sec = field(s, REG_SEC, c[REG_SEC], 0, 59);
	unsigned min = field(s, REG_MIN, c[REG_MIN], 0, 59);
	unsigned day = field(s, REG_MDAY, c[REG_MDAY], 1, 31);
	unsigned mon = field(s, REG_MONTH, c[REG_MONTH], 1, 12);
	int64_t year = field(s, REG_CENTURY, c[REG_CENTURY], 0, 99) * 100 +
		       field(s, REG_YEAR, c[REG_YEAR], 0, 99);
	unsigned hour;

	if (c[REG_B] & B_24H)
		hour = field(s, REG_HOUR, c[REG_HOUR], 0, 23);
	else
		hour = field(s, REG_HOUR, c[REG_HOUR] & 0x7f, 1, 12) % 12 +
		       (c[REG_HOUR] & 0x80 ? 12 : 0);
	return days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
}

/* --- events ------------------------------------------------------------- */

#define ALARM_ANY (-1)
#define ALARM_NONE (-2)

/* An alarm byte as a value, ALARM_ANY for 11xxxxxx, ALARM_NONE if invalid. */
static int alarm_field(struct mc146818 *s, unsigned reg, unsigned limit)
{
	uint8_t b = s->cmos[reg];
	unsigned v;
	bool ok;

	if ((b & 0xc0) == 0xc0)
		return ALARM_ANY;
	if (reg == REG_HOUR_ALARM)
		ok = dec_hour(s, b, &v);
	else
		ok = dec(s, b, &v) && v < limit;
	return ok ? (int)v : ALARM_NONE;
}

static bool alarm_match(int want, unsigned v)
{
	return want == ALARM_ANY || want == (int)v;
}

/* The first second after cur whose time of day matches the alarm, or NEVER. */
static int64_t next_alarm(struct mc146818 *s, int64_t cur)
{
	int as = alarm_field(s, REG_SEC_ALARM, 60);
	int am = alarm_field(s, REG_MIN_ALARM, 60);
	int ah = alarm_field(s, REG_HOUR_ALARM, 24);
	int64_t day = floor_div(cur, 86400), tod = cur - day * 86400;
	unsigned d, h, m, sec, h0 = tod / 3600, m0 = tod / 60 % 60, s0 = tod % 60;

	if (as == ALARM_NONE || am == ALARM_NONE || ah == ALARM_NONE)
		return NEVER;
	/* Each loop skips non-matching values at once, so this stays short. */
	for (d = 0; d < 2; d++) {
		for (h = d ? 0 : h0; h < 24; h++) {
			bool same_h = !d && h == h0;

			if (!alarm_match(ah, h))
				continue;
			for (m = same_h ? m0 : 0; m < 60; m++) {
				bool same_m = same_h && m == m0;

				if (!alarm_match(am, m))
					continue;
				for (sec = same_m ? s0 + 1 : 0; sec < 60; sec++)
					if (alarm_match(as, sec))
						return (day + d) * 86400 + h * 3600 +
						       m * 60 + sec;
			}
		}
	}
	return NEVER;
}

static void update_irq(struct mc146818 *s)
{
	uint8_t c = s->cmos[REG_C] & (C_PF | C_AF | C_UF);
	int level;

	if (c & s->cmos[REG_B] & (B_PIE | B_AIE | B_UIE))
		c |= C_IRQF;
	s->cmos[REG_C] = c;
	level = !!(c & C_IRQF);
	if (level != s->line && s->gsi >= 0)
		gh_irq_set(s->irq, s->gsi, level);
	s->line = level;
}

/*
 * Sets the flags of every update and periodic tick in (synced, t]. Flags
 * are computed here, when read, rather than by ticking a timer; the timer
 * only runs to raise an enabled interrupt on time.
 */
static void catch_up(struct mc146818 *s, int64_t t)
{
	if (divider_running(s) && t > s->synced) {
		int64_t a = s->synced - s->origin, b = t - s->origin;
		int64_t p = period_ticks(s);

		if (a < 0)
			a = 0;
		if (!(s->cmos[REG_B] & B_SET) && b / NS > a / NS) {
			s->cmos[REG_C] |= C_UF;
			if (next_alarm(s, s->sec + a / NS) <= s->sec + b / NS)
				s->cmos[REG_C] |= C_AF;
		}
		if (p && ns_to_ticks(b) / p > ns_to_ticks(a) / p)
			s->cmos[REG_C] |= C_PF;
	}
	if (t > s->synced)
		s->synced = t;
	update_irq(s);
}

/* Arms the timer for the next enabled event, if the line is not up already. */
static void rearm(struct mc146818 *s, int64_t t)
{
	uint8_t en = s->cmos[REG_B];
	int64_t next = NEVER, d = t - s->origin, p = period_ticks(s);

	if (!divider_running(s) || (s->cmos[REG_C] & C_IRQF)) {
		gh_timer_del(s->timer);
		return;
	}
	if ((en & B_PIE) && p)
		next = s->origin + ticks_to_ns_ceil((ns_to_ticks(d) / p + 1) * p);
	if (!(en & B_SET)) {
		int64_t upd = s->origin + (d / NS + 1) * NS;

		if ((en & B_UIE) && upd < next)
			next = upd;
		if (en & B_AIE) {
			int64_t cur = current_sec(s, t), al = next_alarm(s, cur);

			if (al != NEVER && upd + (al - cur - 1) * NS < next)
				next = upd + (al - cur - 1) * NS;
		}
	}
	if (next == NEVER)
		gh_timer_del(s->timer);
	else
		gh_timer_mod(s->timer, next);
}

static void timer_fire(void *opaque)
{
	struct mc146818 *s = opaque;
	int64_t t = now(s);

	catch_up(s, t);
	rearm(s, t);
}

/* --- guest interface ---------------------------------------------------- */

static bool is_time_reg(unsigned idx)
{
	switch (idx) {
	case REG_SEC: case REG_MIN: case REG_HOUR: case REG_WDAY:
	case REG_MDAY: case REG_MONTH: case REG_YEAR: case REG_CENTURY:
		return true;
	}
	return false;
}

static uint8_t read_data(struct mc146818 *s, unsigned idx)
{
	int64_t t = now(s);
	uint8_t v;

	if (is_time_reg(idx)) {
		if (!(s->cmos[REG_B] & B_SET))
			store_time(s, current_sec(s, t));
		return s->cmos[idx];
	}
	switch (idx) {
	case REG_A:
		v = s->cmos[REG_A] & ~A_UIP;
		if (updating(s) &&
		    ns_to_ticks((t - s->origin) % NS) >= TICK_HZ - UIP_TICKS)
			v |= A_UIP;
		return v;
	case REG_C:
		catch_up(s, t);
		v = s->cmos[REG_C];
		s->cmos[REG_C] = 0;
		update_irq(s);
		rearm(s, t);
		return v;
	case REG_D:
		return D_VRT;
	}
	return s->cmos[idx];
}

static void write_data(struct mc146818 *s, unsigned idx, uint8_t v)
{
	int64_t t = now(s);
	uint8_t old_b = s->cmos[REG_B];

	if (is_time_reg(idx) && (old_b & B_SET)) {
		s->cmos[idx] = v;
		return;
	}
	switch (idx) {
	case REG_SEC: case REG_MIN: case REG_HOUR: case REG_WDAY:
	case REG_MDAY: case REG_MONTH: case REG_YEAR: case REG_CENTURY:
		/* Setting one field while running keeps the others and the phase. */
		catch_up(s, t);
		freeze(s, t);
		store_time(s, s->sec);
		s->cmos[idx] = v;
		s->sec = load_time(s);
		thaw(s, t);
		break;
	case REG_SEC_ALARM: case REG_MIN_ALARM: case REG_HOUR_ALARM:
		catch_up(s, t);
		s->cmos[idx] = v;
		break;
	case REG_A:
		catch_up(s, t);
		freeze(s, t);
		s->cmos[REG_A] = v & ~A_UIP;
		/* Released from reset, the chain starts half a second in. */
		if ((v & A_DV_RESET) == A_DV_RESET)
			s->phase = NS / 2;
		thaw(s, t);
		break;
	case REG_B:
		catch_up(s, t);
		freeze(s, t);
		if (v & B_SET)
			v &= ~B_UIE;
		s->cmos[REG_B] = v;
		if ((v & B_SET) && !(old_b & B_SET))
			store_time(s, s->sec);
		else if (!(v & B_SET) && (old_b & B_SET))
			s->sec = load_time(s);
		thaw(s, t);
		break;
	case REG_C:
	case REG_D:
		gh_log_guest(&s->rl, "mc146818: write 0x%02x to read-only register %c",
			     v, 'A' + idx - REG_A);
		return;
	default:
		s->cmos[idx] = v;
		return;
	}
	update_irq(s);
	rearm(s, t);
}

static uint64_t rtc_read(void *opaque, uint64_t off, unsigned size)
{
	struct mc146818 *s = opaque;
	uint64_t val = 0;
	unsigned i;

	for (i = 0; i < size; i++) {
		/* The index register is write-only; the bus floats. */
		uint8_t b = off + i == 0 ? 0xff : read_data(s, s->index);

		val |= (uint64_t)b << (8 * i);
	}
	return val;
}

static void rtc_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct mc146818 *s = opaque;
	unsigned i;

	for (i = 0; i < size; i++) {
		uint8_t b = val >> (8 * i);

		if (off + i == 0) {
			s->index = b & 0x7f;
			s->nmi_masked = b & 0x80;
		} else {
			write_data(s, s->index, b);
		}
	}
}

static const struct gh_io_ops rtc_ops = {
	.read = rtc_read,
	.write = rtc_write,
};

/* --- firmware bytes ----------------------------------------------------- */

static void put16(struct mc146818 *s, unsigned idx, uint64_t v)
{
	if (v > 0xffff)
		v = 0xffff;
	s->cmos[idx] = v;
	s->cmos[idx + 1] = v >> 8;
}

/* Boot device nibbles as SeaBIOS reads them (QEMU's encoding). */
static void set_boot_order(struct mc146818 *s, const char *order)
{
	uint8_t dev[3] = { 0 };
	unsigned n = 0;

	for (; order && *order && n < 3; order++) {
		switch (*order) {
		case 'a': dev[n++] = 1; break;
		case 'c': dev[n++] = 2; break;
		case 'd': dev[n++] = 3; break;
		case 'n': dev[n++] = 4; break;
		default:
			g_debug("mc146818: boot device '%c' has no CMOS code", *order);
		}
	}
	s->cmos[0x3d] = dev[1] << 4 | dev[0];
	/* bit 0 clear: the BIOS checks the floppy boot signature */
	s->cmos[0x38] = dev[2] << 4;
}

/*
 * Where RAM below 4 GiB ends: firmware takes these CMOS sizes as the top of
 * memory, so holes below it (the VGA window) must not be subtracted.
 */
static uint64_t low_ram_end(struct gh_memory *mem)
{
	uint64_t end = 0;
	unsigned i;

	for (i = 0; i < gh_memory_count(mem); i++) {
		const struct gh_mem_region *r = gh_memory_region(mem, i);

		if (r->kind == GH_MEM_RAM && r->gpa < (1ULL << 32) &&
		    r->gpa + r->size > end)
			end = MIN(r->gpa + r->size, 1ULL << 32);
	}
	return end;
}

static void fill_cmos(struct mc146818 *s)
{
	struct gh_memory *mem = gh_vm_memory(s->vm);
	uint64_t below = low_ram_end(mem);
	uint64_t above = gh_memory_ram_above_4g(mem);
	unsigned ncpus = gh_vm_ncpus(s->vm), sum = 0, i;
	uint64_t ext = below > (1 << 20) ? (below - (1 << 20)) >> 10 : 0;
	uint64_t high = below > (16 << 20) ? (below - (16 << 20)) >> 16 : 0;
	uint64_t base_kib = MIN(below >> 10, 640);

	s->cmos[0x0f] = 0;		/* shutdown status: normal POST */
	s->cmos[0x10] = 0;		/* no floppy drives */
	/* equipment: VGA (bits 5-4 = 0), FPU, PS/2 mouse, as QEMU sets it */
	s->cmos[0x14] = 0x06;
	put16(s, 0x15, base_kib);
	put16(s, 0x17, ext);
	put16(s, 0x30, ext);
	put16(s, 0x34, high);
	above >>= 16;
	if (above > 0xffffff)
		above = 0xffffff;
	s->cmos[0x5b] = above;
	s->cmos[0x5c] = above >> 8;
	s->cmos[0x5d] = above >> 16;
	s->cmos[0x5f] = ncpus ? ncpus - 1 : 0;
	set_boot_order(s, gh_vm_boot_order(s->vm));
	for (i = 0x10; i <= 0x2d; i++)
		sum += s->cmos[i];
	s->cmos[0x2e] = sum >> 8;
	s->cmos[0x2f] = sum;
}

/* --- lifecycle ---------------------------------------------------------- */

static int mc146818_realize(void *dev, struct gh_vm *vm,
			    const struct gh_device_cfg *cfg, struct gh_error *err)
{
	struct mc146818 *s = dev;
	int64_t real_us = g_get_real_time(), t;
	int ret;

	s->vm = vm;
	s->clock = gh_vm_clock(vm);
	s->irq = gh_vm_irq(vm);
	s->base = cfg->base ? cfg->base : 0x70;
	s->gsi = cfg->irq;
	if (cfg->base > 0xfffe || s->gsi >= GH_IRQ_MAX_GSI)
		return gh_error_set(err, -EINVAL, "mc146818: bad port 0x%" PRIx64
				    " or IRQ %d", cfg->base, cfg->irq);
	if (s->gsi < 0)
		s->gsi = -1;

	s->cmos[REG_A] = A_DV_NORMAL | 6;	/* what every BIOS programs */
	s->cmos[REG_B] = B_24H;
	t = now(s);
	s->sec = floor_div(real_us, 1000000);
	s->phase = (real_us - s->sec * 1000000) * 1000;
	s->origin = t - s->phase;
	s->synced = t;
	store_time(s, s->sec);
	fill_cmos(s);

	s->timer = gh_timer_new(s->clock, timer_fire, s);
	ret = gh_bus_map(gh_vm_pio(vm), s->base, 2, &rtc_ops, s, "mc146818");
	if (ret < 0) {
		gh_timer_free(s->timer);
		s->timer = NULL;
		return gh_error_set(err, ret, "mc146818: ports 0x%x-0x%x are taken",
				    s->base, s->base + 1);
	}
	return 0;
}

/* RESET clears the interrupt enables and flags; time and RAM survive. */
static void mc146818_reset(void *dev)
{
	struct mc146818 *s = dev;
	int64_t t = now(s);

	catch_up(s, t);
	s->cmos[REG_B] &= ~(B_PIE | B_AIE | B_UIE | B_SQWE);
	s->cmos[REG_C] = 0;
	update_irq(s);
	rearm(s, t);
}

static void mc146818_unrealize(void *dev)
{
	struct mc146818 *s = dev;

	gh_bus_unmap(gh_vm_pio(s->vm), s->base);
	gh_timer_free(s->timer);
	if (s->line && s->gsi >= 0)
		gh_irq_set(s->irq, s->gsi, 0);
}

const struct gh_device_type gh_mc146818_type = {
	.name = "mc146818",
	.level = 1,
	.size = sizeof(struct mc146818),
	.realize = mc146818_realize,
	.reset = mc146818_reset,
	.unrealize = mc146818_unrealize,
};
