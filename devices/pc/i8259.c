/*
 * The PC's two Intel 8259A interrupt controllers: master at 0x20, slave at
 * 0xa0 on master IR2, plus the PIIX ELCR at 0x4d0 (8259A datasheet, Intel
 * 231468; PIIX3 datasheet, ELCR1/ELCR2).
 */
#include "gh/device.h"

#include <errno.h>

#include "gh/bus.h"
#include "gh/irq.h"
#include "gh/log.h"
#include "gh/vm.h"

#define MASTER_BASE 0x20
#define SLAVE_BASE 0xa0
#define ELCR_BASE 0x4d0
#define CASCADE_IRQ 2

/* PIIX: IRQ 0, 1, 2, 8 and 13 are always edge-triggered. */
#define MASTER_ELCR_MASK 0xf8
#define SLAVE_ELCR_MASK 0xde

#define ICW1_IC4 0x01
#define ICW1_SNGL 0x02
#define ICW1_LTIM 0x08
#define ICW1_INIT 0x10
#define OCW3_SEL 0x08
#define ICW4_AEOI 0x02
#define ICW4_SFNM 0x10

struct gh_i8259_chip {
	uint8_t irr;
	uint8_t isr;
	uint8_t imr;
	uint8_t lines;		/* input levels as last driven */
	uint8_t elcr;
	uint8_t elcr_mask;
	uint8_t vector_base;	/* ICW2 */
	uint8_t top;		/* the IR that has the highest priority */
	uint8_t icw3;
	uint8_t icw4;
	uint8_t init_step;	/* 0: operating, else the ICW expected next */
	bool icw4_needed;
	bool single;
	bool ltim;
	bool rotate_aeoi;
	bool special_mask;
	bool poll;
	bool read_isr;
};

struct gh_i8259 {
	struct gh_vm *vm;
	struct gh_irq *irq;
	struct gh_i8259_chip master;
	struct gh_i8259_chip slave;
	bool intr;
	unsigned mapped;	/* how many of the three ranges are mapped */
	bool sink_added;
	struct gh_ratelimit rl;
};

static uint8_t level_lines(const struct gh_i8259_chip *c)
{
	return c->ltim ? 0xff : c->elcr;
}

/* Level-triggered requests follow their line; edge requests are latched. */
static void refresh_level(struct gh_i8259_chip *c)
{
	uint8_t lvl = level_lines(c);

	c->irr = (c->irr & ~lvl) | (c->lines & lvl);
}

static void set_input(struct gh_i8259_chip *c, unsigned irq, bool level)
{
	uint8_t bit = 1 << irq;

	/*
	 * The real chip forgets an edge request whose line drops before INTA;
	 * we keep it latched, since devices model short pulses with
	 * gh_irq_pulse() long before any INTA could run.
	 */
	if (level && !(c->lines & bit))
		c->irr |= bit;
	if (level)
		c->lines |= bit;
	else
		c->lines &= ~bit;
	refresh_level(c);
}

static unsigned prio(const struct gh_i8259_chip *c, unsigned irq)
{
	return (irq - c->top) & 7;
}

/* The IR in bits with the highest priority, or -1. */
static int highest(const struct gh_i8259_chip *c, uint8_t bits)
{
	unsigned i;

	for (i = 0; i < 8; i++) {
		unsigned irq = (c->top + i) & 7;

		if (bits & (1 << irq))
			return irq;
	}
	return -1;
}

/* The request the chip would present on INT now, or -1. */
static int chip_pending(const struct gh_i8259_chip *c, bool master)
{
	uint8_t req = c->irr & ~c->imr;
	int irq, cur;

	if (c->special_mask)
		/* 8259A "special mask mode": only levels in service are held. */
		return highest(c, req & ~c->isr);
	irq = highest(c, req);
	if (irq < 0)
		return -1;
	cur = highest(c, c->isr);
	if (cur < 0 || prio(c, irq) < prio(c, cur))
		return irq;
	/*
	 * Special fully nested mode: the slave may interrupt again while
	 * its cascade line is in service, for a higher slave priority.
	 */
	if (master && c->icw4 & ICW4_SFNM && irq == CASCADE_IRQ &&
	    cur == CASCADE_IRQ)
		return irq;
	return -1;
}

static void intack(struct gh_i8259_chip *c, unsigned irq)
{
	uint8_t bit = 1 << irq;

	if (!(level_lines(c) & bit))
		c->irr &= ~bit;
	if (c->icw4 & ICW4_AEOI) {
		if (c->rotate_aeoi)
			c->top = (irq + 1) & 7;
	} else {
		c->isr |= bit;
	}
}

static bool cascaded(const struct gh_i8259 *s)
{
	return !s->master.single;
}

static void update(struct gh_i8259 *s)
{
	bool out;

	if (cascaded(s))
		set_input(&s->master, CASCADE_IRQ,
			  chip_pending(&s->slave, false) >= 0);
	out = chip_pending(&s->master, true) >= 0;
	if (out || out != s->intr)
		gh_irq_intr_changed(s->irq);
	s->intr = out;
}

static bool intc_pending(void *opaque)
{
	struct gh_i8259 *s = opaque;

	return chip_pending(&s->master, true) >= 0;
}

static int intc_ack(void *opaque)
{
	struct gh_i8259 *s = opaque;
	int irq = chip_pending(&s->master, true);
	int vector, sirq;

	if (irq < 0) {
		/* The request went away between INTR and INTA. */
		vector = s->master.vector_base | 7;
	} else if (irq == CASCADE_IRQ && cascaded(s)) {
		intack(&s->master, irq);
		sirq = chip_pending(&s->slave, false);
		if (sirq < 0) {
			vector = s->slave.vector_base | 7;
		} else {
			intack(&s->slave, sirq);
			vector = s->slave.vector_base | sirq;
		}
		/*
		 * The slave's INT is sensed afresh after each INTA, so a
		 * request still pending there (AEOI, special mask mode)
		 * makes a new edge on IR2 instead of getting lost.
		 */
		set_input(&s->master, CASCADE_IRQ, false);
	} else {
		intack(&s->master, irq);
		vector = s->master.vector_base | irq;
	}
	update(s);
	return vector;
}

static const struct gh_intc_ops intc_ops = {
	.pending = intc_pending,
	.ack = intc_ack,
};

static void chip_init_reset(struct gh_i8259_chip *c)
{
	c->irr = 0;
	c->isr = 0;
	c->imr = 0;
	c->top = 0;
	c->special_mask = false;
	c->read_isr = false;
	c->poll = false;
	c->rotate_aeoi = false;
	refresh_level(c);
}

static void write_icw1(struct gh_i8259 *s, struct gh_i8259_chip *c, uint8_t val)
{
	if (!(val & ICW1_IC4))
		gh_log_guest(&s->rl, "i8259: ICW1 %#x without ICW4 (8080 mode) "
			     "is not supported; using x86 mode", val);
	c->icw4_needed = val & ICW1_IC4;
	c->single = val & ICW1_SNGL;
	c->ltim = val & ICW1_LTIM;
	if (!c->icw4_needed)
		c->icw4 = 0;
	chip_init_reset(c);
	c->init_step = 2;
}

static void write_ocw2(struct gh_i8259_chip *c, uint8_t val)
{
	unsigned level = val & 7;
	int irq;

	switch (val >> 5) {
	case 0:		/* rotate in AEOI mode: clear */
		c->rotate_aeoi = false;
		break;
	case 4:		/* rotate in AEOI mode: set */
		c->rotate_aeoi = true;
		break;
	case 1:		/* non-specific EOI */
	case 5:		/* rotate on non-specific EOI */
		irq = highest(c, c->isr);
		if (irq < 0)
			break;
		c->isr &= ~(1 << irq);
		if (val >> 5 == 5)
			c->top = (irq + 1) & 7;
		break;
	case 3:		/* specific EOI */
		c->isr &= ~(1 << level);
		break;
	case 7:		/* rotate on specific EOI */
		c->isr &= ~(1 << level);
		c->top = (level + 1) & 7;
		break;
	case 6:		/* set priority: level becomes the lowest */
		c->top = (level + 1) & 7;
		break;
	case 2:		/* no operation */
		break;
	}
}

static void write_ocw3(struct gh_i8259 *s, struct gh_i8259_chip *c, uint8_t val)
{
	if (val & 0x80)
		gh_log_guest(&s->rl, "i8259: OCW3 %#x has reserved bit 7 set",
			     val);
	if (val & 0x04)
		c->poll = true;
	if (val & 0x02)
		c->read_isr = val & 0x01;
	if (val & 0x40)
		c->special_mask = val & 0x20;
}

static void write_data(struct gh_i8259 *s, struct gh_i8259_chip *c, uint8_t val)
{
	switch (c->init_step) {
	case 2:
		c->vector_base = val & 0xf8;
		if (!c->single)
			c->init_step = 3;
		else
			c->init_step = c->icw4_needed ? 4 : 0;
		break;
	case 3:
		c->icw3 = val;
		c->init_step = c->icw4_needed ? 4 : 0;
		break;
	case 4:
		if (!(val & 0x01))
			gh_log_guest(&s->rl, "i8259: ICW4 %#x selects 8080 mode; "
				     "using x86 mode", val);
		c->icw4 = val;
		c->init_step = 0;
		break;
	default:
		c->imr = val;
		break;
	}
}

static void chip_write(struct gh_i8259 *s, struct gh_i8259_chip *c,
		       unsigned off, uint8_t val)
{
	if (off == 1)
		write_data(s, c, val);
	else if (val & ICW1_INIT)
		write_icw1(s, c, val);
	else if (val & OCW3_SEL)
		write_ocw3(s, c, val);
	else
		write_ocw2(c, val);
	update(s);
}

static uint8_t poll_read(struct gh_i8259 *s, struct gh_i8259_chip *c)
{
	int irq = chip_pending(c, c == &s->master);

	c->poll = false;
	if (irq < 0)
		return 0;
	intack(c, irq);
	update(s);
	return 0x80 | irq;
}

static uint8_t chip_read(struct gh_i8259 *s, struct gh_i8259_chip *c,
			 unsigned off)
{
	/* A poll command turns the next read, at either address, into INTA. */
	if (c->poll)
		return poll_read(s, c);
	if (off == 1)
		return c->imr;
	return c->read_isr ? c->isr : c->irr;
}

static uint64_t bytewise_read(struct gh_i8259 *s, struct gh_i8259_chip *c,
			      uint64_t off, unsigned size)
{
	uint64_t val = 0;
	unsigned i;

	for (i = 0; i < size && off + i < 2; i++)
		val |= (uint64_t)chip_read(s, c, off + i) << (8 * i);
	return val;
}

static uint64_t master_read(void *opaque, uint64_t off, unsigned size)
{
	struct gh_i8259 *s = opaque;

	return bytewise_read(s, &s->master, off, size);
}

static uint64_t slave_read(void *opaque, uint64_t off, unsigned size)
{
	struct gh_i8259 *s = opaque;

	return bytewise_read(s, &s->slave, off, size);
}

static void master_write(void *opaque, uint64_t off, uint64_t val,
			 unsigned size)
{
	struct gh_i8259 *s = opaque;
	unsigned i;

	for (i = 0; i < size && off + i < 2; i++)
		chip_write(s, &s->master, off + i, val >> (8 * i));
}

static void slave_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct gh_i8259 *s = opaque;
	unsigned i;

	for (i = 0; i < size && off + i < 2; i++)
		chip_write(s, &s->slave, off + i, val >> (8 * i));
}

static const struct gh_io_ops master_ops = {
	.read = master_read,
	.write = master_write,
};

static const struct gh_io_ops slave_ops = {
	.read = slave_read,
	.write = slave_write,
};

static uint64_t elcr_read(void *opaque, uint64_t off, unsigned size)
{
	struct gh_i8259 *s = opaque;
	uint64_t val = 0;
	unsigned i;

	for (i = 0; i < size && off + i < 2; i++)
		val |= (uint64_t)(off + i ? s->slave.elcr : s->master.elcr)
		       << (8 * i);
	return val;
}

static void elcr_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct gh_i8259 *s = opaque;
	unsigned i;

	for (i = 0; i < size && off + i < 2; i++) {
		struct gh_i8259_chip *c = off + i ? &s->slave : &s->master;
		uint8_t was_level = level_lines(c);

		c->elcr = (val >> (8 * i)) & c->elcr_mask;
		/* A line turned edge-triggered has not seen an edge yet. */
		c->irr &= ~(was_level & ~level_lines(c));
		refresh_level(c);
	}
	update(s);
}

static const struct gh_io_ops elcr_ops = {
	.read = elcr_read,
	.write = elcr_write,
};

static void pic_sink(void *opaque, unsigned gsi, int level)
{
	struct gh_i8259 *s = opaque;

	/*
	 * Master IR2 is wired to the slave, not to the ISA bus (ISA IRQ 2
	 * appears as IRQ 9 on an AT), so GSI 2 is not ours; nor is anything
	 * above 15.
	 */
	if (gsi > 15 || gsi == CASCADE_IRQ)
		return;
	set_input(gsi < 8 ? &s->master : &s->slave, gsi & 7, level);
	update(s);
}

static const uint16_t range_bases[] = { MASTER_BASE, SLAVE_BASE, ELCR_BASE };

static void unmap_all(struct gh_i8259 *s)
{
	while (s->mapped)
		gh_bus_unmap(gh_vm_pio(s->vm), range_bases[--s->mapped]);
}

static void i8259_unrealize(void *dev)
{
	struct gh_i8259 *s = dev;

	gh_irq_set_intc(s->irq, NULL, NULL);
	if (s->sink_added)
		gh_irq_remove_sink(s->irq, pic_sink, s);
	s->sink_added = false;
	unmap_all(s);
}

static int i8259_realize(void *dev, struct gh_vm *vm,
			 const struct gh_device_cfg *cfg, struct gh_error *err)
{
	static const struct gh_io_ops *const ops[] = {
		&master_ops, &slave_ops, &elcr_ops
	};
	static const char *const names[] = {
		"i8259-master", "i8259-slave", "elcr"
	};
	struct gh_i8259 *s = dev;
	int ret;

	(void)cfg;
	s->vm = vm;
	s->irq = gh_vm_irq(vm);
	s->master.elcr_mask = MASTER_ELCR_MASK;
	s->slave.elcr_mask = SLAVE_ELCR_MASK;

	for (s->mapped = 0; s->mapped < G_N_ELEMENTS(range_bases); s->mapped++) {
		ret = gh_bus_map(gh_vm_pio(vm), range_bases[s->mapped], 2,
				 ops[s->mapped], s, names[s->mapped]);
		if (ret < 0)
			goto err_unmap;
	}
	ret = gh_irq_add_sink(s->irq, pic_sink, s);
	if (ret < 0)
		goto err_unmap;
	s->sink_added = true;
	gh_irq_set_intc(s->irq, &intc_ops, s);
	return 0;

err_unmap:
	unmap_all(s);
	return gh_error_set(err, ret, "i8259: cannot claim its ports or IRQ lines");
}

static void chip_power_on(struct gh_i8259_chip *c)
{
	uint8_t lines = c->lines, mask = c->elcr_mask;

	/* The input wires keep whatever level their devices drive. */
	*c = (struct gh_i8259_chip){ .lines = lines, .elcr_mask = mask };
}

static void i8259_reset(void *dev)
{
	struct gh_i8259 *s = dev;

	chip_power_on(&s->master);
	chip_power_on(&s->slave);
	update(s);
}

const struct gh_device_type gh_i8259_type = {
	.name = "i8259",
	.level = 0,
	.size = sizeof(struct gh_i8259),
	.realize = i8259_realize,
	.reset = i8259_reset,
	.unrealize = i8259_unrealize,
};
