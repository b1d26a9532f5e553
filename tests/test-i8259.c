/* Tests for the 8259A pair and the ELCR, driven through their ports as a guest does. */
#include "devtest.h"

#include <glib.h>

#define MBASE 0x08
#define SBASE 0x70

struct fx {
	struct gh_vm *vm;
	struct gh_device *dev;
	struct gh_bus *pio;
	struct gh_irq *irq;
};

static void fx_setup(struct fx *f, gconstpointer data)
{
	(void)data;
	f->vm = dt_vm_new();
	f->dev = dt_dev_new(f->vm, &gh_i8259_type,
			    &(struct gh_device_cfg){ .irq = -1 });
	f->pio = gh_vm_pio(f->vm);
	f->irq = gh_vm_irq(f->vm);
}

static void fx_teardown(struct fx *f, gconstpointer data)
{
	(void)data;
	gh_device_free(f->dev);
	gh_vm_free(f->vm);
}

static void set_line(struct fx *f, unsigned gsi, int level)
{
	gh_irq_set(f->irq, gsi, level);
}

static bool pending(struct fx *f)
{
	return gh_irq_intr_pending(f->irq);
}

static int ack(struct fx *f)
{
	return gh_irq_intr_ack(f->irq);
}

/* The sequence SeaBIOS and Linux use, with a choice of ICW4. */
static void init_pics(struct fx *f, uint8_t micw4, uint8_t sicw4)
{
	dt_outb(f->vm, 0x20, 0x11);
	dt_outb(f->vm, 0x21, MBASE);
	dt_outb(f->vm, 0x21, 0x04);
	dt_outb(f->vm, 0x21, micw4);
	dt_outb(f->vm, 0xa0, 0x11);
	dt_outb(f->vm, 0xa1, SBASE);
	dt_outb(f->vm, 0xa1, 0x02);
	dt_outb(f->vm, 0xa1, sicw4);
}

static uint8_t read_isr(struct fx *f, uint16_t port)
{
	uint8_t v;

	dt_outb(f->vm, port, 0x0b);
	v = dt_inb(f->vm, port);
	dt_outb(f->vm, port, 0x0a);
	return v;
}

static uint8_t read_irr(struct fx *f, uint16_t port)
{
	dt_outb(f->vm, port, 0x0a);
	return dt_inb(f->vm, port);
}

static void eoi(struct fx *f, uint16_t port)
{
	dt_outb(f->vm, port, 0x20);
}

static void test_power_on(struct fx *f, gconstpointer data)
{
	(void)data;
	/* Masks clear, vector base 0, IRR selected for reads. */
	g_assert_cmpuint(dt_inb(f->vm, 0x21), ==, 0);
	g_assert_cmpuint(dt_inb(f->vm, 0xa1), ==, 0);
	g_assert_cmpuint(dt_inb(f->vm, 0x20), ==, 0);
	g_assert_cmpuint(dt_inb(f->vm, 0x4d0), ==, 0);
	g_assert_cmpuint(dt_inb(f->vm, 0x4d1), ==, 0);
	g_assert_false(pending(f));
	set_line(f, 3, 1);
	g_assert_true(pending(f));
	g_assert_cmpuint(dt_inb(f->vm, 0x20), ==, 0x08);
	g_assert_cmpint(ack(f), ==, 3);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0x08);
	g_assert_cmpuint(dt_inb(f->vm, 0x20), ==, 0);
}

static void test_init(struct fx *f, gconstpointer data)
{
	(void)data;
	dt_outb(f->vm, 0x21, 0xff);
	dt_outb(f->vm, 0xa1, 0xff);
	init_pics(f, 0x01, 0x01);
	/* ICW1 clears the masks. */
	g_assert_cmpuint(dt_inb(f->vm, 0x21), ==, 0);
	g_assert_cmpuint(dt_inb(f->vm, 0xa1), ==, 0);
	set_line(f, 1, 1);
	g_assert_cmpint(ack(f), ==, MBASE + 1);
	eoi(f, 0x20);
	set_line(f, 14, 1);
	g_assert_cmpint(ack(f), ==, SBASE + 6);
	eoi(f, 0xa0);
	eoi(f, 0x20);
	g_assert_false(pending(f));

	/* ICW2's low three bits are not part of the base. */
	dt_outb(f->vm, 0x20, 0x11);
	dt_outb(f->vm, 0x21, 0x27);
	dt_outb(f->vm, 0x21, 0x04);
	dt_outb(f->vm, 0x21, 0x01);
	set_line(f, 1, 0);
	set_line(f, 1, 1);
	g_assert_cmpint(ack(f), ==, 0x21);
	eoi(f, 0x20);

	/* Single mode skips ICW3: the write after ICW4 is the mask. */
	dt_outb(f->vm, 0x20, 0x13);
	dt_outb(f->vm, 0x21, 0x40);
	dt_outb(f->vm, 0x21, 0x01);
	dt_outb(f->vm, 0x21, 0x5a);
	g_assert_cmpuint(dt_inb(f->vm, 0x21), ==, 0x5a);
	/* Without IC4 there is no ICW4: ICW2, ICW3, then the mask. */
	dt_outb(f->vm, 0x20, 0x10);
	g_assert_cmpuint(dt_inb(f->vm, 0x21), ==, 0);
	dt_outb(f->vm, 0x21, 0x48);
	dt_outb(f->vm, 0x21, 0x04);
	dt_outb(f->vm, 0x21, 0xa5);
	g_assert_cmpuint(dt_inb(f->vm, 0x21), ==, 0xa5);
	/* Single and no IC4: only ICW2. */
	dt_outb(f->vm, 0x20, 0x12);
	dt_outb(f->vm, 0x21, 0x50);
	dt_outb(f->vm, 0x21, 0x3c);
	g_assert_cmpuint(dt_inb(f->vm, 0x21), ==, 0x3c);
	dt_outb(f->vm, 0x21, 0xf7);
	set_line(f, 3, 1);
	g_assert_cmpint(ack(f), ==, 0x53);
}

static void test_priority(struct fx *f, gconstpointer data)
{
	(void)data;
	init_pics(f, 0x01, 0x01);
	set_line(f, 5, 1);
	set_line(f, 3, 1);
	g_assert_cmpuint(read_irr(f, 0x20), ==, 0x28);
	g_assert_cmpint(ack(f), ==, MBASE + 3);
	/* 5 waits while the higher-priority 3 is in service. */
	g_assert_false(pending(f));
	/* A higher priority nests. */
	set_line(f, 1, 1);
	g_assert_true(pending(f));
	g_assert_cmpint(ack(f), ==, MBASE + 1);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0x0a);
	eoi(f, 0x20);		/* non-specific: the highest, IR1 */
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0x08);
	g_assert_false(pending(f));
	eoi(f, 0x20);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0);
	g_assert_cmpint(ack(f), ==, MBASE + 5);
	eoi(f, 0x20);
	g_assert_false(pending(f));
	/* IRQ 0 beats the whole slave (on IR2), which beats IRQ 3. */
	set_line(f, 3, 0);
	set_line(f, 3, 1);
	set_line(f, 8, 1);
	set_line(f, 0, 1);
	g_assert_cmpint(ack(f), ==, MBASE + 0);
	eoi(f, 0x20);
	g_assert_cmpint(ack(f), ==, SBASE + 0);
	eoi(f, 0xa0);
	eoi(f, 0x20);
	g_assert_cmpint(ack(f), ==, MBASE + 3);
}

static void test_cascade(struct fx *f, gconstpointer data)
{
	(void)data;
	init_pics(f, 0x01, 0x01);
	set_line(f, 10, 1);
	g_assert_true(pending(f));
	g_assert_cmpuint(read_irr(f, 0xa0), ==, 0x04);
	g_assert_cmpuint(read_irr(f, 0x20), ==, 0x04);
	g_assert_cmpint(ack(f), ==, SBASE + 2);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0x04);
	g_assert_cmpuint(read_isr(f, 0xa0), ==, 0x04);
	g_assert_cmpuint(read_irr(f, 0xa0), ==, 0);
	g_assert_cmpuint(read_irr(f, 0x20), ==, 0);
	/* Another slave request waits for both EOIs. */
	set_line(f, 12, 1);
	g_assert_false(pending(f));
	eoi(f, 0xa0);
	g_assert_false(pending(f));
	eoi(f, 0x20);
	g_assert_true(pending(f));
	g_assert_cmpint(ack(f), ==, SBASE + 4);
	/* GSI 2 is the cascade, not a device line; GSIs above 15 are not ours. */
	eoi(f, 0xa0);
	eoi(f, 0x20);
	set_line(f, 2, 1);
	set_line(f, 16, 1);
	set_line(f, 23, 1);
	g_assert_false(pending(f));
	g_assert_cmpuint(read_irr(f, 0x20), ==, 0);
}

static void test_masks(struct fx *f, gconstpointer data)
{
	(void)data;
	init_pics(f, 0x01, 0x01);
	dt_outb(f->vm, 0x21, 0x08);
	set_line(f, 3, 1);
	g_assert_false(pending(f));
	/* Masked requests are still recorded in IRR. */
	g_assert_cmpuint(read_irr(f, 0x20), ==, 0x08);
	dt_outb(f->vm, 0x21, 0x00);
	g_assert_true(pending(f));
	g_assert_cmpint(ack(f), ==, MBASE + 3);
	eoi(f, 0x20);

	/* Masking IR2 on the master holds back the whole slave. */
	dt_outb(f->vm, 0x21, 0x04);
	set_line(f, 9, 1);
	g_assert_false(pending(f));
	g_assert_cmpuint(read_irr(f, 0xa0), ==, 0x02);
	dt_outb(f->vm, 0x21, 0x00);
	g_assert_cmpint(ack(f), ==, SBASE + 1);
	eoi(f, 0xa0);
	eoi(f, 0x20);
	/* And a slave mask holds back its own line only. */
	dt_outb(f->vm, 0xa1, 0x10);
	set_line(f, 12, 1);
	g_assert_false(pending(f));
	set_line(f, 11, 1);
	g_assert_cmpint(ack(f), ==, SBASE + 3);
	g_assert_cmpuint(dt_inb(f->vm, 0xa1), ==, 0x10);
}

static void test_specific_eoi(struct fx *f, gconstpointer data)
{
	(void)data;
	init_pics(f, 0x01, 0x01);
	set_line(f, 5, 1);
	g_assert_cmpint(ack(f), ==, MBASE + 5);
	set_line(f, 1, 1);
	g_assert_cmpint(ack(f), ==, MBASE + 1);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0x22);
	dt_outb(f->vm, 0x20, 0x65);	/* specific EOI for IR5 */
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0x02);
	dt_outb(f->vm, 0x20, 0x63);	/* EOI for a level not in service: no effect */
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0x02);
	dt_outb(f->vm, 0x20, 0x40);	/* OCW2 no-op */
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0x02);
	dt_outb(f->vm, 0x20, 0x61);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0);
	/* A non-specific EOI with nothing in service changes nothing. */
	eoi(f, 0x20);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0);
	g_assert_false(pending(f));
}

static void raise_edge(struct fx *f, unsigned gsi)
{
	gh_irq_pulse(f->irq, gsi);
}

static void test_rotation(struct fx *f, gconstpointer data)
{
	(void)data;
	init_pics(f, 0x01, 0x01);
	dt_outb(f->vm, 0x21, 0x04);	/* keep the cascade out of this */
	raise_edge(f, 3);
	raise_edge(f, 5);
	g_assert_cmpint(ack(f), ==, MBASE + 3);
	/* rotate on non-specific EOI: 3 becomes lowest */
	dt_outb(f->vm, 0x20, 0xa0);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0);
	raise_edge(f, 3);
	raise_edge(f, 1);
	/* Priority is now 4 5 6 7 0 1 2 3. */
	g_assert_cmpint(ack(f), ==, MBASE + 5);
	dt_outb(f->vm, 0x20, 0xa0);	/* 5 lowest: 6 7 0 1 2 3 4 5 */
	g_assert_cmpint(ack(f), ==, MBASE + 1);
	dt_outb(f->vm, 0x20, 0x20);
	g_assert_cmpint(ack(f), ==, MBASE + 3);
	/* Rotate on specific EOI for 3: 4 5 6 7 0 1 2 3. */
	dt_outb(f->vm, 0x20, 0xe3);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0);
	raise_edge(f, 7);
	raise_edge(f, 4);
	g_assert_cmpint(ack(f), ==, MBASE + 4);
	dt_outb(f->vm, 0x20, 0x64);
	/* Set priority: 6 lowest, so 7 is highest, ahead of 0. */
	dt_outb(f->vm, 0x20, 0xc6);
	raise_edge(f, 0);
	g_assert_cmpint(ack(f), ==, MBASE + 7);
	/* With 7 (highest) in service, 0 must wait. */
	g_assert_false(pending(f));
	dt_outb(f->vm, 0x20, 0x20);
	g_assert_cmpint(ack(f), ==, MBASE + 0);
	/* ICW1 restores IR0 as the highest priority. */
	dt_outb(f->vm, 0x20, 0xc6);
	init_pics(f, 0x01, 0x01);
	raise_edge(f, 7);
	raise_edge(f, 0);
	g_assert_cmpint(ack(f), ==, MBASE + 0);
}

static void test_aeoi(struct fx *f, gconstpointer data)
{
	(void)data;
	init_pics(f, 0x03, 0x03);
	raise_edge(f, 4);
	g_assert_cmpint(ack(f), ==, MBASE + 4);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0);
	/* No EOI needed: lower priorities get through at once. */
	raise_edge(f, 6);
	g_assert_cmpint(ack(f), ==, MBASE + 6);
	/* Through the cascade, neither chip keeps anything in service. */
	raise_edge(f, 13);
	g_assert_cmpint(ack(f), ==, SBASE + 5);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0);
	g_assert_cmpuint(read_isr(f, 0xa0), ==, 0);
	/* Two slave requests at once: the second still arrives. */
	raise_edge(f, 9);
	raise_edge(f, 11);
	g_assert_cmpint(ack(f), ==, SBASE + 1);
	g_assert_true(pending(f));
	g_assert_cmpint(ack(f), ==, SBASE + 3);
	g_assert_false(pending(f));

	/* Rotate in AEOI mode: each acked IR becomes the lowest. */
	dt_outb(f->vm, 0x21, 0x04);
	dt_outb(f->vm, 0x20, 0x80);
	raise_edge(f, 1);
	raise_edge(f, 3);
	g_assert_cmpint(ack(f), ==, MBASE + 1);
	raise_edge(f, 1);
	g_assert_cmpint(ack(f), ==, MBASE + 3);
	g_assert_cmpint(ack(f), ==, MBASE + 1);
	/* Clearing it stops rotating: priority stays 2 3 ... 1. */
	dt_outb(f->vm, 0x20, 0x00);
	raise_edge(f, 0);
	raise_edge(f, 3);
	g_assert_cmpint(ack(f), ==, MBASE + 3);
	raise_edge(f, 3);
	g_assert_cmpint(ack(f), ==, MBASE + 3);
	g_assert_cmpint(ack(f), ==, MBASE + 0);
}

static void test_level_edge(struct fx *f, gconstpointer data)
{
	(void)data;
	init_pics(f, 0x01, 0x01);
	/* IRQ 0, 1, 2, 8 and 13 cannot be level-triggered on PIIX. */
	dt_outb(f->vm, 0x4d0, 0xff);
	dt_outb(f->vm, 0x4d1, 0xff);
	g_assert_cmpuint(dt_inb(f->vm, 0x4d0), ==, 0xf8);
	g_assert_cmpuint(dt_inb(f->vm, 0x4d1), ==, 0xde);
	gh_bus_write(f->pio, 0x4d0, 0x0020, 2);
	g_assert_cmpuint(gh_bus_read(f->pio, 0x4d0, 2), ==, 0x0020);

	/* Level IRQ 5: re-asserts after EOI while the line stays high. */
	set_line(f, 5, 1);
	g_assert_cmpint(ack(f), ==, MBASE + 5);
	g_assert_cmpuint(read_irr(f, 0x20), ==, 0x20);
	g_assert_false(pending(f));
	eoi(f, 0x20);
	g_assert_true(pending(f));
	g_assert_cmpint(ack(f), ==, MBASE + 5);
	set_line(f, 5, 0);
	g_assert_cmpuint(read_irr(f, 0x20), ==, 0);
	eoi(f, 0x20);
	g_assert_false(pending(f));

	/* Edge IRQ 3: one interrupt per rising edge however long it stays high. */
	set_line(f, 3, 1);
	g_assert_cmpint(ack(f), ==, MBASE + 3);
	eoi(f, 0x20);
	g_assert_false(pending(f));
	set_line(f, 3, 1);
	g_assert_false(pending(f));
	set_line(f, 3, 0);
	set_line(f, 3, 1);
	g_assert_cmpint(ack(f), ==, MBASE + 3);
	eoi(f, 0x20);

	/* ELCR changes take effect on lines already high. */
	set_line(f, 6, 1);
	g_assert_cmpint(ack(f), ==, MBASE + 6);
	eoi(f, 0x20);
	g_assert_false(pending(f));
	dt_outb(f->vm, 0x4d0, 0x40);
	g_assert_cmpint(ack(f), ==, MBASE + 6);
	eoi(f, 0x20);
	dt_outb(f->vm, 0x4d0, 0x00);
	set_line(f, 6, 0);

	/* ICW1's LTIM makes every input of that chip level-triggered. */
	dt_outb(f->vm, 0xa0, 0x19);
	dt_outb(f->vm, 0xa1, SBASE);
	dt_outb(f->vm, 0xa1, 0x02);
	dt_outb(f->vm, 0xa1, 0x01);
	set_line(f, 8, 1);
	g_assert_cmpint(ack(f), ==, SBASE + 0);
	eoi(f, 0xa0);
	eoi(f, 0x20);
	g_assert_cmpint(ack(f), ==, SBASE + 0);
	set_line(f, 8, 0);
	eoi(f, 0xa0);
	eoi(f, 0x20);
	g_assert_false(pending(f));
}

static void test_spurious(struct fx *f, gconstpointer data)
{
	(void)data;
	init_pics(f, 0x01, 0x01);
	dt_outb(f->vm, 0x4d0, 0x20);
	dt_outb(f->vm, 0x4d1, 0x04);

	/* A level request that goes away before INTA. */
	set_line(f, 5, 1);
	g_assert_true(pending(f));
	set_line(f, 5, 0);
	g_assert_false(pending(f));
	g_assert_cmpint(ack(f), ==, MBASE + 7);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0);

	/* A request masked between INTR and INTA. */
	set_line(f, 3, 1);
	g_assert_true(pending(f));
	dt_outb(f->vm, 0x21, 0x08);
	g_assert_cmpint(ack(f), ==, MBASE + 7);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0);
	dt_outb(f->vm, 0x21, 0x00);
	g_assert_cmpint(ack(f), ==, MBASE + 3);
	eoi(f, 0x20);

	/*
	 * A slave request that goes away once the master latched IR2: the
	 * slave answers with its IR7 vector, the master's IR2 goes in service.
	 */
	set_line(f, 10, 1);
	set_line(f, 10, 0);
	g_assert_true(pending(f));
	g_assert_cmpint(ack(f), ==, SBASE + 7);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0x04);
	g_assert_cmpuint(read_isr(f, 0xa0), ==, 0);
	eoi(f, 0x20);
	g_assert_false(pending(f));

	/* Nothing at all. */
	g_assert_cmpint(ack(f), ==, MBASE + 7);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0);
}

static void test_poll(struct fx *f, gconstpointer data)
{
	(void)data;
	init_pics(f, 0x01, 0x01);
	dt_outb(f->vm, 0x20, 0x0c);
	g_assert_cmpuint(dt_inb(f->vm, 0x20), ==, 0x00);	/* nothing pending */
	set_line(f, 4, 1);
	set_line(f, 6, 1);
	dt_outb(f->vm, 0x20, 0x0c);
	g_assert_cmpuint(dt_inb(f->vm, 0x20), ==, 0x84);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0x10);
	g_assert_cmpuint(read_irr(f, 0x20), ==, 0x40);
	/* The poll was consumed: the next read is the IRR again. */
	g_assert_cmpuint(dt_inb(f->vm, 0x20), ==, 0x40);
	eoi(f, 0x20);
	/* A poll command applies to a read of the odd port too. */
	dt_outb(f->vm, 0x20, 0x0c);
	g_assert_cmpuint(dt_inb(f->vm, 0x21), ==, 0x86);
	g_assert_cmpuint(dt_inb(f->vm, 0x21), ==, 0x00);	/* back to the IMR */
	eoi(f, 0x20);
	/* Polling the slave. */
	set_line(f, 15, 1);
	dt_outb(f->vm, 0xa0, 0x0c);
	g_assert_cmpuint(dt_inb(f->vm, 0xa0), ==, 0x87);
	g_assert_cmpuint(read_isr(f, 0xa0), ==, 0x80);
}

static void test_read_select(struct fx *f, gconstpointer data)
{
	(void)data;
	init_pics(f, 0x01, 0x01);
	set_line(f, 1, 1);
	set_line(f, 7, 1);
	g_assert_cmpint(ack(f), ==, MBASE + 1);
	/* IRR by default after ICW1. */
	g_assert_cmpuint(dt_inb(f->vm, 0x20), ==, 0x80);
	dt_outb(f->vm, 0x20, 0x0b);
	g_assert_cmpuint(dt_inb(f->vm, 0x20), ==, 0x02);
	g_assert_cmpuint(dt_inb(f->vm, 0x20), ==, 0x02);	/* the choice sticks */
	/* OCW3 with RR clear changes nothing. */
	dt_outb(f->vm, 0x20, 0x08);
	g_assert_cmpuint(dt_inb(f->vm, 0x20), ==, 0x02);
	dt_outb(f->vm, 0x20, 0x0a);
	g_assert_cmpuint(dt_inb(f->vm, 0x20), ==, 0x80);
	/* ICW1 puts it back on the IRR. */
	dt_outb(f->vm, 0x20, 0x0b);
	init_pics(f, 0x01, 0x01);
	set_line(f, 7, 0);
	set_line(f, 7, 1);
	g_assert_cmpuint(dt_inb(f->vm, 0x20), ==, 0x80);
}

static void test_sfnm(struct fx *f, gconstpointer data)
{
	bool sfnm = GPOINTER_TO_INT(data);

	init_pics(f, sfnm ? 0x11 : 0x01, 0x01);
	set_line(f, 12, 1);
	g_assert_cmpint(ack(f), ==, SBASE + 4);
	/* A higher-priority slave request while IR2 is in service... */
	set_line(f, 9, 1);
	g_assert_cmpint(pending(f), ==, sfnm);
	if (sfnm) {
		g_assert_cmpint(ack(f), ==, SBASE + 1);
		g_assert_cmpuint(read_isr(f, 0xa0), ==, 0x12);
	}
	/* ...but a lower master IR stays blocked either way. */
	dt_outb(f->vm, 0x21, 0x00);
	set_line(f, 4, 1);
	if (sfnm) {
		g_assert_false(pending(f));
	} else {
		g_assert_false(pending(f));
		eoi(f, 0xa0);
		eoi(f, 0x20);
		g_assert_cmpint(ack(f), ==, SBASE + 1);
	}
}

static void test_special_mask(struct fx *f, gconstpointer data)
{
	(void)data;
	init_pics(f, 0x01, 0x01);
	set_line(f, 3, 1);
	g_assert_cmpint(ack(f), ==, MBASE + 3);
	set_line(f, 5, 1);
	g_assert_false(pending(f));
	/* The handler masks its own level and enters special mask mode. */
	dt_outb(f->vm, 0x21, 0x08);
	dt_outb(f->vm, 0x20, 0x68);
	g_assert_true(pending(f));
	g_assert_cmpint(ack(f), ==, MBASE + 5);
	/* A level in service and not masked still holds itself back. */
	set_line(f, 5, 0);
	set_line(f, 5, 1);
	g_assert_false(pending(f));
	dt_outb(f->vm, 0x20, 0x65);
	g_assert_true(pending(f));
	g_assert_cmpint(ack(f), ==, MBASE + 5);
	dt_outb(f->vm, 0x20, 0x65);
	/* Leaving it restores the priority structure. */
	set_line(f, 6, 1);
	dt_outb(f->vm, 0x20, 0x48);
	g_assert_false(pending(f));
	dt_outb(f->vm, 0x20, 0x68);
	g_assert_true(pending(f));
	/* OCW3 with ESMM clear leaves the mode alone. */
	dt_outb(f->vm, 0x20, 0x28);
	g_assert_true(pending(f));
}

static void test_bytewise(struct fx *f, gconstpointer data)
{
	(void)data;
	init_pics(f, 0x01, 0x01);
	set_line(f, 1, 1);
	g_assert_cmpint(ack(f), ==, MBASE + 1);
	/* A word access is two byte cycles: 0x20 then 0x21. */
	gh_bus_write(f->pio, 0x20, 0xa50b, 2);
	g_assert_cmpuint(gh_bus_read(f->pio, 0x20, 2), ==, 0xa502);
	gh_bus_write(f->pio, 0x4d0, 0xffff, 2);
	g_assert_cmpuint(gh_bus_read(f->pio, 0x4d0, 2), ==, 0xdef8);
}

static void test_garbage(struct fx *f, gconstpointer data)
{
	static const uint16_t ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1 };
	GRand *r = g_rand_new_with_seed(8259);
	unsigned i;

	(void)data;
	for (i = 0; i < 20000; i++) {
		uint16_t port = ports[g_rand_int_range(r, 0, 6)];

		if (g_rand_boolean(r))
			dt_outb(f->vm, port, g_rand_int_range(r, 0, 256));
		else
			(void)dt_inb(f->vm, port);
		if (i % 7 == 0)
			set_line(f, g_rand_int_range(r, 0, 24),
				 g_rand_boolean(r));
		if (i % 5 == 0 && pending(f)) {
			int v = ack(f);

			g_assert_cmpint(v, >=, 0);
			g_assert_cmpint(v, <, 256);
		}
	}
	g_rand_free(r);
	/* Whatever happened, a fresh init gives a working controller. */
	for (i = 0; i < 16; i++)
		set_line(f, i, 0);
	dt_outb(f->vm, 0x4d0, 0);
	dt_outb(f->vm, 0x4d1, 0);
	init_pics(f, 0x01, 0x01);
	dt_outb(f->vm, 0x20, 0xc7);	/* undo any rotation */
	g_assert_false(pending(f));
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0);
	set_line(f, 7, 1);
	set_line(f, 11, 1);
	g_assert_cmpint(ack(f), ==, SBASE + 3);
	eoi(f, 0xa0);
	eoi(f, 0x20);
	g_assert_cmpint(ack(f), ==, MBASE + 7);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0x80);	/* real, not spurious */
	/* OCW3 with reserved bit 7 set is logged, not fatal. */
	dt_outb(f->vm, 0x20, 0x8b);
	g_assert_cmpuint(dt_inb(f->vm, 0x20), ==, 0x80);
}

static void test_reset(struct fx *f, gconstpointer data)
{
	(void)data;
	init_pics(f, 0x03, 0x01);
	dt_outb(f->vm, 0x21, 0xf0);
	dt_outb(f->vm, 0x4d0, 0x20);
	set_line(f, 1, 1);
	g_assert_cmpint(ack(f), ==, MBASE + 1);
	gh_device_reset(f->dev);
	g_assert_cmpuint(dt_inb(f->vm, 0x21), ==, 0);
	g_assert_cmpuint(dt_inb(f->vm, 0x4d0), ==, 0);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0);
	g_assert_false(pending(f));
	/* Vector base 0 until the BIOS programs one; no AEOI. */
	set_line(f, 4, 1);
	g_assert_cmpint(ack(f), ==, 4);
	g_assert_cmpuint(read_isr(f, 0x20), ==, 0x10);
}

static void test_unrealize(void)
{
	const struct gh_device_cfg dcfg = { .irq = -1 };
	struct gh_vm *vm = dt_vm_new();
	struct gh_device *dev;

	gh_irq_set(gh_vm_irq(vm), 6, 1);
	dev = dt_dev_new(vm, &gh_i8259_type, &dcfg);
	/*
	 * Power-on clears the edge latches, but the PIC knows the line is
	 * high: made level-triggered, it requests at once.
	 */
	g_assert_false(gh_irq_intr_pending(gh_vm_irq(vm)));
	gh_bus_write(gh_vm_pio(vm), 0x4d0, 0x40, 1);
	g_assert_true(gh_irq_intr_pending(gh_vm_irq(vm)));
	g_assert_cmpint(gh_irq_intr_ack(gh_vm_irq(vm)), ==, 6);
	gh_device_free(dev);
	g_assert_false(gh_irq_intr_pending(gh_vm_irq(vm)));
	g_assert_cmpint(gh_irq_intr_ack(gh_vm_irq(vm)), ==, -1);
	gh_irq_set(gh_vm_irq(vm), 3, 1);
	g_assert_null(gh_bus_lookup(gh_vm_pio(vm), 0x20));
	g_assert_null(gh_bus_lookup(gh_vm_pio(vm), 0x4d0));
	/* The ports can be claimed again. */
	dev = dt_dev_new(vm, &gh_i8259_type, &dcfg);
	gh_device_free(dev);
	gh_vm_free(vm);
}

#define ADD(name, fn, data)                                                    \
	g_test_add("/i8259/" name, struct fx, data, fx_setup, fn, fx_teardown)

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	ADD("power-on", test_power_on, NULL);
	ADD("init", test_init, NULL);
	ADD("priority", test_priority, NULL);
	ADD("cascade", test_cascade, NULL);
	ADD("masks", test_masks, NULL);
	ADD("specific-eoi", test_specific_eoi, NULL);
	ADD("rotation", test_rotation, NULL);
	ADD("aeoi", test_aeoi, NULL);
	ADD("level-edge", test_level_edge, NULL);
	ADD("spurious", test_spurious, NULL);
	ADD("poll", test_poll, NULL);
	ADD("read-select", test_read_select, NULL);
	ADD("sfnm", test_sfnm, GINT_TO_POINTER(1));
	ADD("fully-nested", test_sfnm, GINT_TO_POINTER(0));
	ADD("special-mask", test_special_mask, NULL);
	ADD("bytewise", test_bytewise, NULL);
	ADD("garbage", test_garbage, NULL);
	ADD("reset", test_reset, NULL);
	g_test_add_func("/i8259/unrealize", test_unrealize);
	return g_test_run();
}
