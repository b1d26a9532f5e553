/*
 * The local APICs of every CPU, in xAPIC mode (Intel SDM vol. 3A, ch. 10),
 * and the MSI window they receive messages through (10.11). One device
 * holds all of them: IPIs, the I/O APIC's messages and MSIs are routed
 * among them here, with the device lock held.
 *
 * Each CPU sees its own APIC's register page at its IA32_APIC_BASE (the
 * vCPU hands its accesses here before the MMIO bus: gh_vm_set_cpu_intc).
 * The 8259's INTR reaches CPU 0 through LINT0 in ExtINT mode (virtual wire,
 * set at reset as a BIOS would, so guests that never touch the APIC keep
 * their PIC), or straight to the CPU while the APIC is globally disabled.
 *
 * The timer counts a 1 GHz bus clock through its divider; nothing ticks:
 * the current count is computed from the virtual clock.
 */
#include "gh/device.h"

#include <errno.h>
#include <string.h>

#include "gh/apic.h"
#include "gh/bus.h"
#include "gh/clock.h"
#include "gh/irq.h"
#include "gh/log.h"
#include "gh/vm.h"

#define APIC_BASE_BSP (1ULL << 8)
#define APIC_BASE_EXTD (1ULL << 10)
#define APIC_BASE_EN (1ULL << 11)
/* bits 7:0, 9 and 10 (x2APIC is not offered) and those above 40 bits */
#define APIC_BASE_RESERVED (0xffULL | (1ULL << 9) | APIC_BASE_EXTD | \
			    ~((1ULL << 40) - 1))

/* Register offsets (table 10-1). */
#define REG_ID 0x020
#define REG_VERSION 0x030
#define REG_TPR 0x080
#define REG_APR 0x090
#define REG_PPR 0x0a0
#define REG_EOI 0x0b0
#define REG_RRD 0x0c0
#define REG_LDR 0x0d0
#define REG_DFR 0x0e0
#define REG_SVR 0x0f0
#define REG_ISR 0x100
#define REG_TMR 0x180
#define REG_IRR 0x200
#define REG_ESR 0x280
#define REG_ICR_LO 0x300
#define REG_ICR_HI 0x310
#define REG_LVT 0x320		/* six entries, 0x10 apart */
#define REG_TIMER_INIT 0x380
#define REG_TIMER_CUR 0x390
#define REG_TIMER_DCR 0x3e0

/* version 0x14 (integrated APIC), max LVT entry 5: timer ... error */
#define VERSION_VALUE 0x00050014u

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR,
       NLVT };

#define LVT_MASKED (1u << 16)
#define LVT_LEVEL (1u << 15)
#define LVT_DM(v) (((v) >> 8) & 7)
#define LVT_TIMER_MODE(v) (((v) >> 17) & 3)
#define TIMER_ONESHOT 0
#define TIMER_PERIODIC 1
#define TIMER_DEADLINE 2

/* writable bits of each LVT entry (figure 10-8) */
static const uint32_t lvt_writable[NLVT] = {
	[LVT_TIMER] = 0x700ff,
	[LVT_THERMAL] = 0x107ff,
	[LVT_PERF] = 0x107ff,
	[LVT_LINT0] = 0x1a7ff,
	[LVT_LINT1] = 0x1a7ff,
	[LVT_ERROR] = 0x100ff,
};

#define SVR_ENABLE (1u << 8)
#define SVR_WRITABLE 0x3ffu	/* vector, enable, focus check */

/* ICR (figure 10-12) */
#define ICR_WRITABLE 0x000ccfffu
#define ICR_LOGICAL (1u << 11)
#define ICR_ASSERT (1u << 14)
#define ICR_LEVEL (1u << 15)
#define ICR_SHORTHAND(v) (((v) >> 18) & 3)

/* delivery modes */
enum { DM_FIXED, DM_LOWEST, DM_SMI, DM_RESERVED, DM_NMI, DM_INIT, DM_SIPI,
       DM_EXTINT };

/* ESR bits (figure 10-9) */
#define ESR_SEND_ILLEGAL (1u << 5)
#define ESR_RECV_ILLEGAL (1u << 6)
#define ESR_ILLEGAL_REG (1u << 7)

/* a periodic timer interrupts at most every microsecond of virtual time */
#define MIN_PERIOD_NS 1000

struct gh_lapic_set;

struct lapic {
	struct gh_lapic_set *set;
	unsigned index;
	uint64_t apic_base;
	uint8_t id;
	uint8_t tpr;
	uint32_t ldr, dfr, svr;
	uint32_t isr[8], tmr[8], irr[8];
	uint32_t esr, esr_pending;	/* read value; errors since last write */
	uint32_t icr_lo, icr_hi;
	uint32_t lvt[NLVT];
	uint32_t dcr;
	/* timer: count seg_count at seg_start, then initial per period */
	uint32_t initial;
	uint32_t seg_count;
	uint64_t seg_start;
	uint64_t next_expiry;
	bool running;
	uint64_t tsc_deadline;
	struct gh_timer *timer;
	bool extint;			/* an ExtINT message is waiting for INTA */
	bool intr;			/* INTR as last told to the CPU */
	struct gh_ratelimit rl;
};

struct gh_lapic_set {
	struct gh_vm *vm;
	struct gh_irq *irq;
	struct gh_clock *clock;
	unsigned n;
	bool msi_mapped;
	struct lapic cpu[GH_VM_MAX_CPUS];
};

static int fls256(const uint32_t *bits)
{
	int i;

	for (i = 7; i >= 0; i--)
		if (bits[i])
			return i * 32 + 31 - __builtin_clz(bits[i]);
	return -1;
}

static bool test_bit(const uint32_t *bits, unsigned v)
{
	return bits[v / 32] & (1u << (v % 32));
}

static void set_bit(uint32_t *bits, unsigned v, bool on)
{
	if (on)
		bits[v / 32] |= 1u << (v % 32);
	else
		bits[v / 32] &= ~(1u << (v % 32));
}

static bool hw_enabled(const struct lapic *l)
{
	return l->apic_base & APIC_BASE_EN;
}

static bool sw_enabled(const struct lapic *l)
{
	return hw_enabled(l) && (l->svr & SVR_ENABLE);
}

/* 10.8.3.1: the processor priority. */
static uint8_t ppr(const struct lapic *l)
{
	int isrv = fls256(l->isr);

	if (isrv < 0 || (l->tpr >> 4) >= (isrv >> 4))
		return l->tpr;
	return isrv & 0xf0;
}

/* 10.6.2.4: the arbitration priority, for lowest-priority delivery. */
static uint8_t apr(const struct lapic *l)
{
	int isrv = fls256(l->isr), irrv = fls256(l->irr);
	int v = isrv > irrv ? isrv : irrv;

	if (v < 0 || (l->tpr >> 4) >= (v >> 4))
		return l->tpr;
	return v & 0xf0;
}

/* The highest requested vector if its class is above the PPR's, or -1. */
static int deliverable(const struct lapic *l)
{
	int irrv;

	if (!sw_enabled(l))
		return -1;
	irrv = fls256(l->irr);
	if (irrv < 0 || (irrv & 0xf0) <= (ppr(l) & 0xf0))
		return -1;
	return irrv;
}

/* The 8259's INTR reaches this CPU: virtual wire through LINT0 or a
 * disabled APIC on the boot CPU, or an ExtINT message. */
static bool pic_routed(const struct lapic *l)
{
	if (l->extint)
		return true;
	if (l->index != 0)
		return false;
	return !hw_enabled(l) ||
	       (l->lvt[LVT_LINT0] & (LVT_MASKED | 0x700)) == 0x700;
}

static bool lapic_pending(void *opaque)
{
	struct lapic *l = opaque;

	if (deliverable(l) >= 0)
		return true;
	return pic_routed(l) && gh_irq_intr_pending(l->set->irq);
}

/*
 * Tells the CPU when its INTR may have risen or fallen: a CPU that kept
 * sampling a stale request after a TPR raise would take spurious vectors.
 */
static void update(struct lapic *l)
{
	bool p = lapic_pending(l);

	if (p || l->intr)
		gh_vm_cpu_intr_changed(l->set->vm, l->index);
	l->intr = p;
}

static void set_error(struct lapic *l, uint32_t bits);

/* 10.8.1: a fixed interrupt arrives; vectors 0-15 are refused. */
static void accept(struct lapic *l, uint8_t vector, bool level)
{
	if (vector < 16) {
		set_error(l, ESR_RECV_ILLEGAL);
		return;
	}
	set_bit(l->irr, vector, true);
	set_bit(l->tmr, vector, level);
	update(l);
}

/* An LVT entry fires: fixed mode with its vector, or NMI (LINT pins). */
static void local_deliver(struct lapic *l, unsigned lvt)
{
	uint32_t v = l->lvt[lvt];

	if (v & LVT_MASKED)
		return;
	switch (LVT_DM(v)) {
	case DM_NMI:
		if (lvt != LVT_TIMER && lvt != LVT_ERROR) {
			gh_vm_cpu_nmi(l->set->vm, l->index);
			return;
		}
		break;
	case DM_EXTINT:
		return;		/* LINT0's virtual wire: see pic_routed */
	default:
		break;
	}
	if (lvt == LVT_ERROR && (v & 0xff) < 16)
		return;		/* no error interrupt for the error itself */
	accept(l, v & 0xff, (lvt == LVT_LINT0 || lvt == LVT_LINT1) &&
			    (v & LVT_LEVEL));
}

static void set_error(struct lapic *l, uint32_t bits)
{
	bool fresh = (l->esr_pending & bits) != bits;

	l->esr_pending |= bits;
	if (fresh)
		local_deliver(l, LVT_ERROR);
}

/* ---- the timer (10.5.4) ------------------------------------------------ */

static uint64_t now(struct lapic *l)
{
	return gh_clock_ns(l->set->clock);
}

/* ns per count: divide value 0-7 from DCR bits 3, 1:0 (figure 10-10) */
static uint64_t tick_ns(const struct lapic *l)
{
	unsigned v = ((l->dcr >> 1) & 4) | (l->dcr & 3);

	return (1ULL << ((v + 1) & 7)) * (GH_NS_PER_SEC / GH_LAPIC_BUS_HZ);
}

static unsigned timer_mode(const struct lapic *l)
{
	return LVT_TIMER_MODE(l->lvt[LVT_TIMER]);
}

static uint32_t current_count(struct lapic *l)
{
	uint64_t elapsed, t;

	if (timer_mode(l) == TIMER_DEADLINE || !l->initial)
		return 0;
	elapsed = (now(l) - l->seg_start) / tick_ns(l);
	if (elapsed < l->seg_count)
		return l->seg_count - (uint32_t)elapsed;
	if (timer_mode(l) != TIMER_PERIODIC)
		return 0;
	t = elapsed - l->seg_count;
	return l->initial - (uint32_t)(t % l->initial);
}

static void arm(struct lapic *l, uint64_t at)
{
	l->next_expiry = at;
	l->running = true;
	gh_timer_mod(l->timer, at);
}

static void disarm(struct lapic *l)
{
	l->running = false;
	gh_timer_del(l->timer);
}

/* Counts from count now, with the current divider. */
static void start_count(struct lapic *l, uint32_t count)
{
	l->seg_start = now(l);
	l->seg_count = count;
	if (count)
		arm(l, l->seg_start + count * tick_ns(l));
	else
		disarm(l);
}

static void timer_fire(void *opaque)
{
	struct lapic *l = opaque;
	uint64_t t = now(l), interval;

	if (!l->running)
		return;
	l->running = false;
	if (timer_mode(l) == TIMER_DEADLINE) {
		l->tsc_deadline = 0;
		local_deliver(l, LVT_TIMER);
		return;
	}
	local_deliver(l, LVT_TIMER);
	if (timer_mode(l) != TIMER_PERIODIC || !l->initial)
		return;
	/* the next period, skipping those a late callback missed */
	interval = l->initial * tick_ns(l);
	l->next_expiry += interval;
	if (l->next_expiry <= t)
		l->next_expiry += ((t - l->next_expiry) / interval + 1) * interval;
	l->running = true;
	gh_timer_mod(l->timer, MAX(l->next_expiry, t + MIN_PERIOD_NS));
}

static void write_lvt_timer(struct lapic *l, uint32_t v)
{
	unsigned old = timer_mode(l);

	l->lvt[LVT_TIMER] = v;
	/* entering or leaving TSC-deadline mode disarms the timer (10.5.4.1) */
	if ((old == TIMER_DEADLINE) != (timer_mode(l) == TIMER_DEADLINE)) {
		l->initial = 0;
		l->seg_count = 0;
		l->tsc_deadline = 0;
		disarm(l);
	}
}

static void write_dcr(struct lapic *l, uint32_t v)
{
	uint32_t cur = current_count(l);

	l->dcr = v & 0xb;
	/* a running count goes on from where it is at the new rate */
	if (timer_mode(l) != TIMER_DEADLINE && l->running && cur)
		start_count(l, cur);
}

static int deadline_msr(struct lapic *l, bool write, uint64_t *val,
			uint64_t tsc)
{
	if (!write) {
		*val = timer_mode(l) == TIMER_DEADLINE ? l->tsc_deadline : 0;
		return 0;
	}
	/* ignored outside TSC-deadline mode */
	if (timer_mode(l) != TIMER_DEADLINE)
		return 0;
	l->tsc_deadline = *val;
	if (!*val) {
		disarm(l);
		return 0;
	}
	/* the TSC and the bus both tick at 1 GHz: one count per ns */
	arm(l, now(l) + (*val > tsc ? *val - tsc : 0));
	return 0;
}

/* ---- reset, INIT, enable ----------------------------------------------- */

/* 10.4.7.1 and 10.4.7.3: everything but the APIC ID and IA32_APIC_BASE. */
static void init_regs(struct lapic *l)
{
	unsigned i;

	l->tpr = 0;
	l->ldr = 0;
	l->dfr = 0xffffffffu;
	l->svr = 0xff;
	memset(l->isr, 0, sizeof(l->isr));
	memset(l->tmr, 0, sizeof(l->tmr));
	memset(l->irr, 0, sizeof(l->irr));
	l->esr = l->esr_pending = 0;
	l->icr_lo = l->icr_hi = 0;
	for (i = 0; i < NLVT; i++)
		l->lvt[i] = LVT_MASKED;
	l->dcr = 0;
	l->initial = l->seg_count = 0;
	l->tsc_deadline = 0;
	l->extint = false;
	disarm(l);
}

static void power_on(struct lapic *l)
{
	l->id = l->index;
	l->apic_base = GH_LAPIC_BASE | APIC_BASE_EN |
		       (l->index == 0 ? APIC_BASE_BSP : 0);
	init_regs(l);
	/* the boot CPU's LINT0 as a BIOS leaves it: ExtINT, the 8259 wired
	 * through (QEMU does the same) */
	if (l->index == 0)
		l->lvt[LVT_LINT0] = DM_EXTINT << 8;
}

static int write_apic_base(struct lapic *l, uint64_t v)
{
	if (v & APIC_BASE_RESERVED)
		return -EINVAL;
	/* the BSP flag is read-only */
	v = (v & ~APIC_BASE_BSP) | (l->apic_base & APIC_BASE_BSP);
	/* a globally disabled APIC comes back in its reset state (10.4.3) */
	if (hw_enabled(l) && !(v & APIC_BASE_EN))
		init_regs(l);
	l->apic_base = v;
	gh_vm_cpu_intr_changed(l->set->vm, l->index);
	return 0;
}

/* ---- message routing (10.6) -------------------------------------------- */

static bool match_logical(const struct lapic *l, uint8_t dest)
{
	uint8_t id = l->ldr >> 24;

	if (dest == 0xff)
		return true;
	if ((l->dfr >> 28) == 0xf)	/* flat: one bit per APIC */
		return id & dest;
	/* cluster: cluster number in bits 7:4, members in 3:0 */
	return (id >> 4) == (dest >> 4) && (id & dest & 0xf);
}

/* The globally enabled APICs a destination names; shorthand > 0 instead
 * picks self (1), all (2) or all but self (3) relative to from. */
static uint64_t destinations(struct gh_lapic_set *s, uint8_t dest, bool logical,
			     unsigned shorthand, unsigned from)
{
	uint64_t mask = 0;
	unsigned i;

	for (i = 0; i < s->n; i++) {
		const struct lapic *l = &s->cpu[i];
		bool hit;

		if (!hw_enabled(l))
			continue;
		switch (shorthand) {
		case 1:
			hit = i == from;
			break;
		case 2:
			hit = true;
			break;
		case 3:
			hit = i != from;
			break;
		default:
			hit = logical ? match_logical(l, dest)
				      : (dest == 0xff || l->id == dest);
			break;
		}
		if (hit)
			mask |= 1ULL << i;
	}
	return mask;
}

/* Lowest priority (10.6.2.4): the lowest arbitration priority, then the
 * lowest APIC index. */
static uint64_t lowest_of(struct gh_lapic_set *s, uint64_t mask)
{
	unsigned i, best = s->n;

	for (i = 0; i < s->n; i++)
		if ((mask & (1ULL << i)) &&
		    (best == s->n || apr(&s->cpu[i]) < apr(&s->cpu[best])))
			best = i;
	return best < s->n ? 1ULL << best : 0;
}

static void deliver(struct gh_lapic_set *s, uint64_t mask, unsigned dm,
		    uint8_t vector, bool level)
{
	unsigned i;

	if (dm == DM_LOWEST)
		mask = lowest_of(s, mask);
	for (i = 0; i < s->n; i++) {
		struct lapic *l = &s->cpu[i];

		if (!(mask & (1ULL << i)))
			continue;
		switch (dm) {
		case DM_FIXED:
		case DM_LOWEST:
			accept(l, vector, level);
			break;
		case DM_NMI:
			gh_vm_cpu_nmi(s->vm, i);
			break;
		case DM_INIT:
			init_regs(l);
			gh_vm_cpu_init(s->vm, i);
			break;
		case DM_SIPI:
			gh_vm_cpu_startup(s->vm, i, vector);
			break;
		case DM_EXTINT:
			l->extint = true;
			update(l);
			break;
		default:
			break;	/* SMI: no SMM; reserved */
		}
	}
}

/* A write of the ICR's low half sends the IPI (10.6.1). */
static void send_ipi(struct lapic *l)
{
	struct gh_lapic_set *s = l->set;
	uint32_t v = l->icr_lo;
	unsigned dm = LVT_DM(v);
	uint8_t vector = v & 0xff;

	/* INIT level de-assert only resynchronises arbitration IDs */
	if (dm == DM_INIT && !(v & ICR_ASSERT) && (v & ICR_LEVEL))
		return;
	if ((dm == DM_FIXED || dm == DM_LOWEST) && vector < 16) {
		set_error(l, ESR_SEND_ILLEGAL);
		return;
	}
	deliver(s, destinations(s, l->icr_hi >> 24, v & ICR_LOGICAL,
				ICR_SHORTHAND(v), l->index),
		dm, vector, v & ICR_LEVEL);
}

/* An MSI (or an I/O APIC message): address and data as in 10.11.1-2. */
static void msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct gh_lapic_set *s = opaque;
	unsigned dm = (data >> 8) & 7;

	deliver(s, destinations(s, (addr >> 12) & 0xff, addr & 4, 0, 0), dm,
		data & 0xff, data & (1u << 15));
}

/* ---- registers --------------------------------------------------------- */

static void eoi(struct lapic *l)
{
	int v = fls256(l->isr);

	if (v < 0)
		return;
	set_bit(l->isr, v, false);
	/* a level-triggered vector's EOI goes on to the I/O APIC (10.8.5) */
	if (test_bit(l->tmr, v))
		gh_irq_eoi(l->set->irq, v);
	update(l);
}

static bool reg_read(struct lapic *l, unsigned reg, uint32_t *v)
{
	switch (reg) {
	case REG_ID:
		*v = (uint32_t)l->id << 24;
		return true;
	case REG_VERSION:
		*v = VERSION_VALUE;
		return true;
	case REG_TPR:
		*v = l->tpr;
		return true;
	case REG_APR:
		*v = apr(l);
		return true;
	case REG_PPR:
		*v = ppr(l);
		return true;
	case REG_EOI:
	case REG_RRD:
		*v = 0;
		return true;
	case REG_LDR:
		*v = l->ldr;
		return true;
	case REG_DFR:
		*v = l->dfr;
		return true;
	case REG_SVR:
		*v = l->svr;
		return true;
	case REG_ESR:
		*v = l->esr;
		return true;
	case REG_ICR_LO:
		*v = l->icr_lo;	/* delivery status: always idle */
		return true;
	case REG_ICR_HI:
		*v = l->icr_hi;
		return true;
	case REG_TIMER_INIT:
		*v = timer_mode(l) == TIMER_DEADLINE ? 0 : l->initial;
		return true;
	case REG_TIMER_CUR:
		*v = current_count(l);
		return true;
	case REG_TIMER_DCR:
		*v = l->dcr;
		return true;
	}
	if (reg >= REG_ISR && reg < REG_ISR + 0x80) {
		*v = l->isr[(reg - REG_ISR) >> 4];
		return true;
	}
	if (reg >= REG_TMR && reg < REG_TMR + 0x80) {
		*v = l->tmr[(reg - REG_TMR) >> 4];
		return true;
	}
	if (reg >= REG_IRR && reg < REG_IRR + 0x80) {
		*v = l->irr[(reg - REG_IRR) >> 4];
		return true;
	}
	if (reg >= REG_LVT && reg < REG_LVT + NLVT * 0x10) {
		*v = l->lvt[(reg - REG_LVT) >> 4];
		return true;
	}
	return false;
}

static bool reg_write(struct lapic *l, unsigned reg, uint32_t v)
{
	unsigned i;

	switch (reg) {
	case REG_ID:
		l->id = v >> 24;
		return true;
	case REG_TPR:
		l->tpr = v & 0xff;
		update(l);
		return true;
	case REG_EOI:
		eoi(l);
		return true;
	case REG_LDR:
		l->ldr = v & 0xff000000u;
		return true;
	case REG_DFR:
		l->dfr = v | 0x0fffffffu;
		return true;
	case REG_SVR:
		l->svr = v & SVR_WRITABLE;
		/* software disable masks every LVT entry (10.4.7.2) */
		if (!(l->svr & SVR_ENABLE))
			for (i = 0; i < NLVT; i++)
				l->lvt[i] |= LVT_MASKED;
		update(l);
		return true;
	case REG_ESR:
		/* a write latches the errors seen since the last one (10.5.3) */
		l->esr = l->esr_pending;
		l->esr_pending = 0;
		return true;
	case REG_ICR_LO:
		l->icr_lo = v & ICR_WRITABLE;
		send_ipi(l);
		return true;
	case REG_ICR_HI:
		l->icr_hi = v & 0xff000000u;
		return true;
	case REG_TIMER_INIT:
		if (timer_mode(l) == TIMER_DEADLINE)
			return true;
		l->initial = v;
		start_count(l, v);
		return true;
	case REG_TIMER_DCR:
		write_dcr(l, v);
		return true;
	case REG_VERSION:
	case REG_APR:
	case REG_PPR:
	case REG_RRD:
	case REG_TIMER_CUR:
		return true;	/* read-only */
	}
	if (reg >= REG_ISR && reg < REG_IRR + 0x80)
		return true;	/* ISR, TMR, IRR: read-only */
	if (reg >= REG_LVT && reg < REG_LVT + NLVT * 0x10) {
		i = (reg - REG_LVT) >> 4;
		v &= lvt_writable[i];
		if (!(l->svr & SVR_ENABLE))
			v |= LVT_MASKED;
		if (i == LVT_TIMER)
			write_lvt_timer(l, v);
		else
			l->lvt[i] = v;
		update(l);
		return true;
	}
	return false;
}

/*
 * An access by this CPU. Registers are 32 bits at 16-byte boundaries; a
 * narrower read gets its bytes, the rest of each 16 bytes reads 0, and
 * writes other than 32 bits at a register's start are dropped (10.4.1).
 */
static bool lapic_mmio(void *opaque, uint64_t gpa, bool write, uint64_t *val,
		       unsigned size)
{
	struct lapic *l = opaque;
	unsigned off = gpa & 0xfff, reg = off & 0xff0, sub = off & 0xf;
	uint32_t v = 0;
	bool ok;

	if (!hw_enabled(l) || (gpa & ~0xfffULL) != (l->apic_base & ~0xfffULL))
		return false;
	if (!write) {
		ok = reg_read(l, reg, &v);
		*val = sub < 4 ? (uint64_t)(v >> (sub * 8)) : 0;
		if (size < 8)
			*val &= (1ULL << (size * 8)) - 1;
	} else if (sub || size < 4) {
		gh_log_guest(&l->rl, "lapic %u: %u-byte write at offset 0x%x "
			     "ignored", l->index, size, off);
		return true;
	} else {
		ok = reg_write(l, reg, (uint32_t)*val);
	}
	if (!ok)
		set_error(l, ESR_ILLEGAL_REG);
	return true;
}

/* INTA: the APIC's highest deliverable vector moves to the ISR; else the
 * 8259's, if it is wired here; else the spurious vector (10.9). */
static int lapic_ack(void *opaque)
{
	struct lapic *l = opaque;
	int v = deliverable(l);

	if (v >= 0) {
		set_bit(l->irr, v, false);
		set_bit(l->isr, v, true);
		update(l);
		return v;
	}
	if (pic_routed(l) && gh_irq_intr_pending(l->set->irq)) {
		l->extint = false;
		return gh_irq_intr_ack(l->set->irq);
	}
	return sw_enabled(l) ? (int)(l->svr & 0xff) : -1;
}

static int lapic_msr(void *opaque, uint32_t index, bool write, uint64_t *val,
		     uint64_t tsc)
{
	struct lapic *l = opaque;

	switch (index) {
	case 0x1b:	/* IA32_APIC_BASE */
		if (!write) {
			*val = l->apic_base;
			return 0;
		}
		return write_apic_base(l, *val);
	case 0x6e0:	/* IA32_TSC_DEADLINE */
		return deadline_msr(l, write, val, tsc);
	default:
		return -ENOENT;	/* x2APIC registers: not offered, #GP */
	}
}

static uint8_t lapic_get_cr8(void *opaque)
{
	struct lapic *l = opaque;

	return l->tpr >> 4;
}

/* CR8 writes TPR[7:4] and clears TPR[3:0] (10.8.6.1). */
static void lapic_set_cr8(void *opaque, uint8_t cr8)
{
	struct lapic *l = opaque;

	l->tpr = (cr8 & 0xf) << 4;
	update(l);
}

static const struct gh_cpu_intc_ops lapic_intc_ops = {
	.pending = lapic_pending,
	.ack = lapic_ack,
	.mmio = lapic_mmio,
	.msr = lapic_msr,
	.get_cr8 = lapic_get_cr8,
	.set_cr8 = lapic_set_cr8,
};

/* The MSI window as a DMA master writes it: 32-bit data at the address. */
static uint64_t msi_read(void *opaque, uint64_t off, unsigned size)
{
	return 0;
}

static void msi_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct gh_lapic_set *s = opaque;

	if (size == 4 && !(off & 3))
		msi(s, GH_MSI_BASE + off, (uint32_t)val);
}

static const struct gh_io_ops msi_ops = {
	.read = msi_read,
	.write = msi_write,
};

static void lapic_unrealize(void *dev)
{
	struct gh_lapic_set *s = dev;
	unsigned i;

	gh_irq_set_msi(s->irq, NULL, NULL);
	if (s->msi_mapped)
		gh_bus_unmap(gh_vm_mmio(s->vm), GH_MSI_BASE);
	s->msi_mapped = false;
	for (i = 0; i < s->n; i++) {
		gh_vm_set_cpu_intc(s->vm, i, NULL, NULL);
		gh_timer_free(s->cpu[i].timer);
		s->cpu[i].timer = NULL;
	}
	s->n = 0;
}

static int lapic_realize(void *dev, struct gh_vm *vm,
			 const struct gh_device_cfg *cfg, struct gh_error *err)
{
	struct gh_lapic_set *s = dev;
	unsigned n = cfg->ncpus ? cfg->ncpus : MAX(gh_vm_ncpus(vm), 1u), i;
	int ret;

	if (n < 1 || n > GH_VM_MAX_CPUS)
		return gh_error_set(err, -EINVAL, "lapic: %u CPUs", n);
	s->vm = vm;
	s->irq = gh_vm_irq(vm);
	s->clock = gh_vm_clock(vm);
	ret = gh_bus_map(gh_vm_mmio(vm), GH_MSI_BASE, GH_MSI_SIZE, &msi_ops, s,
			 "msi");
	if (ret < 0)
		return gh_error_set(err, ret, "lapic: cannot map the MSI "
				    "window at 0x%llx", GH_MSI_BASE);
	s->msi_mapped = true;
	gh_irq_set_msi(s->irq, msi, s);
	for (i = 0; i < n; i++) {
		struct lapic *l = &s->cpu[i];

		l->set = s;
		l->index = i;
		l->timer = gh_timer_new(s->clock, timer_fire, l);
		s->n = i + 1;
		power_on(l);
		gh_vm_set_cpu_intc(vm, i, &lapic_intc_ops, l);
	}
	return 0;
}

static void lapic_reset(void *dev)
{
	struct gh_lapic_set *s = dev;
	unsigned i;

	for (i = 0; i < s->n; i++) {
		power_on(&s->cpu[i]);
		gh_vm_cpu_intr_changed(s->vm, i);
	}
}

const struct gh_device_type gh_lapic_type = {
	.name = "lapic",
	.level = 0,
	.size = sizeof(struct gh_lapic_set),
	.realize = lapic_realize,
	.reset = lapic_reset,
	.unrealize = lapic_unrealize,
};
