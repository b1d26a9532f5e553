/*
 * The I/O APIC (Intel 82093AA datasheet 290566, version 0x11): 24 pins fed
 * by the GSI lines, a redirection entry per pin, and messages to the local
 * APICs sent as MSIs (gh_irq_msi). Level-triggered pins hold remote IRR
 * from delivery until a local APIC broadcasts the vector's EOI, and fire
 * again then if the line is still asserted.
 *
 * The GSI lines carry logical levels (1: the device requests service), so
 * the polarity bit is kept for the guest to read back but never inverts
 * them. ISA IRQ 0 arrives on pin 2, as the MADT's override says (apic.h).
 */
#include "gh/device.h"

#include <errno.h>

#include "gh/apic.h"
#include "gh/bus.h"
#include "gh/irq.h"
#include "gh/vm.h"

#define REG_SEL 0x00
#define REG_WIN 0x10

#define IDX_ID 0x00
#define IDX_VERSION 0x01
#define IDX_ARB 0x02
#define IDX_REDIR 0x10

/* version 0x11, maximum redirection entry 23 */
#define VERSION_VALUE (0x11u | ((GH_IOAPIC_PINS - 1u) << 16))

#define RE_DM(e) (((e) >> 8) & 7)
#define RE_LOGICAL (1ULL << 11)
#define RE_REMOTE_IRR (1ULL << 14)
#define RE_LEVEL (1ULL << 15)
#define RE_MASKED (1ULL << 16)
/* vector, delivery mode, destination mode, polarity, trigger, mask */
#define RE_WRITABLE_LO 0x1afffULL
#define RE_WRITABLE_HI 0xff00000000000000ULL

struct gh_ioapic {
	struct gh_vm *vm;
	struct gh_irq *irq;
	uint64_t base;
	uint8_t sel;
	uint8_t id;
	uint32_t level;			/* pins asserted */
	uint64_t redir[GH_IOAPIC_PINS];
	bool mapped, sink, eoi;
};

static void send(struct gh_ioapic *s, unsigned pin)
{
	uint64_t e = s->redir[pin];
	uint64_t addr = GH_MSI_BASE | ((e >> 56) << 12) |
			(e & RE_LOGICAL ? 4 : 0);
	uint32_t data = (e & 0x7ff) | (1u << 14) | (e & RE_LEVEL ? 1u << 15 : 0);

	if (e & RE_LEVEL)
		s->redir[pin] |= RE_REMOTE_IRR;
	gh_irq_msi(s->irq, addr, data);
}

/* A level-triggered pin fires while asserted and not awaiting its EOI. */
static void check_level(struct gh_ioapic *s, unsigned pin)
{
	uint64_t e = s->redir[pin];

	if ((e & RE_LEVEL) && !(e & (RE_MASKED | RE_REMOTE_IRR)) &&
	    (s->level & (1u << pin)))
		send(s, pin);
}

static void ioapic_sink(void *opaque, unsigned gsi, int level)
{
	struct gh_ioapic *s = opaque;
	unsigned pin = gsi == 0 ? 2 : gsi;
	bool old;

	if (pin >= GH_IOAPIC_PINS)
		return;
	old = s->level & (1u << pin);
	if (level)
		s->level |= 1u << pin;
	else
		s->level &= ~(1u << pin);
	if (s->redir[pin] & RE_LEVEL)
		check_level(s, pin);
	else if (level && !old && !(s->redir[pin] & RE_MASKED))
		send(s, pin);	/* an edge while masked is lost */
}

static void ioapic_eoi(void *opaque, uint8_t vector)
{
	struct gh_ioapic *s = opaque;
	unsigned pin;

	for (pin = 0; pin < GH_IOAPIC_PINS; pin++) {
		if ((s->redir[pin] & 0xff) != vector ||
		    !(s->redir[pin] & RE_REMOTE_IRR))
			continue;
		s->redir[pin] &= ~RE_REMOTE_IRR;
		check_level(s, pin);
	}
}

static uint32_t win_read(struct gh_ioapic *s)
{
	unsigned idx = s->sel, pin;

	switch (idx) {
	case IDX_ID:
	case IDX_ARB:
		return (uint32_t)s->id << 24;
	case IDX_VERSION:
		return VERSION_VALUE;
	}
	if (idx < IDX_REDIR || idx >= IDX_REDIR + 2 * GH_IOAPIC_PINS)
		return 0;
	pin = (idx - IDX_REDIR) / 2;
	return (uint32_t)(s->redir[pin] >> (idx & 1 ? 32 : 0));
}

static void win_write(struct gh_ioapic *s, uint32_t v)
{
	unsigned idx = s->sel, pin;
	uint64_t e;

	if (idx == IDX_ID) {
		s->id = (v >> 24) & 0xf;
		return;
	}
	if (idx < IDX_REDIR || idx >= IDX_REDIR + 2 * GH_IOAPIC_PINS)
		return;	/* version, arbitration: read-only */
	pin = (idx - IDX_REDIR) / 2;
	e = s->redir[pin];
	if (idx & 1)
		e = (e & ~RE_WRITABLE_HI) | (((uint64_t)v << 32) & RE_WRITABLE_HI);
	else
		e = (e & ~RE_WRITABLE_LO) | (v & RE_WRITABLE_LO);
	/* remote IRR means nothing to an edge-triggered pin */
	if (!(e & RE_LEVEL))
		e &= ~RE_REMOTE_IRR;
	s->redir[pin] = e;
	/* unmasking a level pin that is still asserted delivers it */
	check_level(s, pin);
}

static uint64_t ioapic_read(void *opaque, uint64_t off, unsigned size)
{
	struct gh_ioapic *s = opaque;

	if (off == REG_SEL)
		return s->sel;
	if (off >= REG_WIN && off < REG_WIN + 4)
		return win_read(s) >> ((off - REG_WIN) * 8);
	return 0;
}

static void ioapic_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct gh_ioapic *s = opaque;

	if (off == REG_SEL)
		s->sel = (uint8_t)val;
	else if (off == REG_WIN && size >= 4)
		win_write(s, (uint32_t)val);
}

static const struct gh_io_ops ioapic_ops = {
	.read = ioapic_read,
	.write = ioapic_write,
};

static void ioapic_reset(void *dev)
{
	struct gh_ioapic *s = dev;
	unsigned pin;

	s->sel = 0;
	s->id = gh_vm_ncpus(s->vm) & 0xf;
	for (pin = 0; pin < GH_IOAPIC_PINS; pin++)
		s->redir[pin] = RE_MASKED;
}

static void ioapic_unrealize(void *dev)
{
	struct gh_ioapic *s = dev;

	if (s->eoi)
		gh_irq_set_eoi(s->irq, NULL, NULL);
	if (s->sink)
		gh_irq_remove_sink(s->irq, ioapic_sink, s);
	if (s->mapped)
		gh_bus_unmap(gh_vm_mmio(s->vm), s->base);
	s->eoi = s->sink = s->mapped = false;
}

static int ioapic_realize(void *dev, struct gh_vm *vm,
			  const struct gh_device_cfg *cfg, struct gh_error *err)
{
	struct gh_ioapic *s = dev;
	uint64_t base = cfg->base ? cfg->base : GH_IOAPIC_BASE;
	int ret;

	s->vm = vm;
	s->base = base;
	s->irq = gh_vm_irq(vm);
	ioapic_reset(s);
	ret = gh_bus_map(gh_vm_mmio(vm), base, GH_IOAPIC_SIZE, &ioapic_ops, s,
			 "ioapic");
	if (ret < 0)
		return gh_error_set(err, ret, "ioapic: cannot map 0x%llx",
				    (unsigned long long)base);
	s->mapped = true;
	ret = gh_irq_add_sink(s->irq, ioapic_sink, s);
	if (ret < 0) {
		ioapic_unrealize(s);
		return gh_error_set(err, ret, "ioapic: no room for an IRQ sink");
	}
	s->sink = true;
	gh_irq_set_eoi(s->irq, ioapic_eoi, s);
	s->eoi = true;
	return 0;
}

const struct gh_device_type gh_ioapic_type = {
	.name = "ioapic",
	.level = 0,
	.size = sizeof(struct gh_ioapic),
	.realize = ioapic_realize,
	.reset = ioapic_reset,
	.unrealize = ioapic_unrealize,
};
