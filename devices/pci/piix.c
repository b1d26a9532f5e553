/*
 * The ISA bridge: Intel 82371SB PIIX3 function 0 at 00:01.0 (datasheet
 * 290550, 2.2): PIRQRC[A:D] (0x60-0x63) steer PCI's four PIRQ lines to
 * ISA IRQs, which reach the 8259 pair and the I/O APIC pin of the same
 * number, as on QEMU's i440FX PC (hw/isa/piix.c routes PIRQs to ISA IRQs
 * only). The four lines are also wired to I/O APIC pins 16-19, as boards
 * with an I/O APIC wire PCI INTA-D; those pins stay masked unless an OS
 * is told to use them. The ELCR at 0x4D0/0x4D1 belongs to the 8259 model
 * (devices/pc/i8259.c); the reset control register at 0xCF9 to acpi-pm.
 */
#include "gh/device.h"

#include <errno.h>

#include "gh/irq.h"
#include "gh/pci.h"
#include "gh/vm.h"

#define PIIX_DEVFN	GH_PCI_DEVFN(1, 0)
#define PIRQRC		0x60
#define NPIRQ		4
#define PIRQ_DISABLE	0x80
#define PIRQ_APIC_GSI	16	/* PIRQA-D on I/O APIC pins 16-19 */

struct pirq {
	int gsi;		/* the ISA IRQ it is steered to, -1: none */
	int source;		/* our source on that line */
	int apic_source;	/* our source on pin 16 + n */
};

struct gh_piix {
	struct gh_pci_func pci;
	struct gh_vm *vm;
	struct gh_irq *irq;
	struct pirq pirq[NPIRQ];
};

/*
 * IRQs a PIRQ may be steered to: 3-7, 9-12, 14, 15; 0-2, 8 and 13 are
 * reserved values (PIRQRC, 2.2.11) and leave the line unrouted.
 */
static int route_gsi(uint8_t v)
{
	unsigned irq = v & 0xf;

	if (v & PIRQ_DISABLE)
		return -1;
	return (0xdef8u >> irq) & 1 ? (int)irq : -1;
}

static void pirq_set(void *opaque, unsigned n, int level)
{
	struct gh_piix *s = opaque;
	struct pirq *p = &s->pirq[n];

	if (n >= NPIRQ)
		return;
	if (p->gsi >= 0)
		gh_irq_set_source(s->irq, p->gsi, p->source, level);
	if (p->apic_source > 0)
		gh_irq_set_source(s->irq, PIRQ_APIC_GSI + n, p->apic_source,
				  level);
}

/* Moves PIRQ n's source to the IRQ its PIRQRC names now. */
static void route(struct gh_piix *s, unsigned n)
{
	struct pirq *p = &s->pirq[n];
	int gsi = route_gsi(s->pci.config[PIRQRC + n]);
	int ret;

	if (gsi == p->gsi)
		return;
	if (p->gsi >= 0)
		gh_irq_source_free(s->irq, p->gsi, p->source);
	p->gsi = -1;
	if (gsi < 0)
		return;
	ret = gh_irq_source_new(s->irq, gsi);
	if (ret < 0)
		return;		/* 31 sharers already: unrouted */
	p->gsi = gsi;
	p->source = ret;
	gh_irq_set_source(s->irq, gsi, ret, gh_pci_pirq_level(s->pci.bus, n));
}

static void config_write(struct gh_pci_func *f, unsigned off, uint32_t val,
			 unsigned size)
{
	struct gh_piix *s = f->opaque;

	for (unsigned n = 0; n < NPIRQ; n++)
		if (off <= PIRQRC + n && PIRQRC + n < off + size)
			route(s, n);
}

static const struct gh_pci_func_ops piix_ops = { .config_write = config_write };

static void release(struct gh_piix *s)
{
	for (unsigned n = 0; n < NPIRQ; n++) {
		struct pirq *p = &s->pirq[n];

		if (p->gsi >= 0)
			gh_irq_source_free(s->irq, p->gsi, p->source);
		if (p->apic_source > 0)
			gh_irq_source_free(s->irq, PIRQ_APIC_GSI + n,
					   p->apic_source);
		p->gsi = -1;
		p->apic_source = 0;
	}
}

static int piix_realize(void *dev, struct gh_vm *vm,
			const struct gh_device_cfg *cfg, struct gh_error *err)
{
	struct gh_piix *s = dev;
	struct gh_pci_func *f = &s->pci;
	int ret;

	if (!cfg->pci)
		return gh_error_set(err, -ENODEV, "piix: no PCI bus");
	s->vm = vm;
	s->irq = gh_vm_irq(vm);
	for (unsigned n = 0; n < NPIRQ; n++) {
		s->pirq[n].gsi = -1;
		ret = gh_irq_source_new(s->irq, PIRQ_APIC_GSI + n);
		if (ret < 0) {
			release(s);
			return gh_error_set(err, ret, "piix: cannot use GSI %u",
					    PIRQ_APIC_GSI + n);
		}
		s->pirq[n].apic_source = ret;
	}
	/* ISA bridge 06.01.00; a multi-function device (IDE is 01.1) */
	gh_pci_func_init(f, 0x8086, 0x7000, 0x060100, 0x00, &piix_ops, s);
	f->config[GH_PCI_HEADER_TYPE] = GH_PCI_HEADER_MULTI_FUNCTION;
	/* I/O, memory and bus master are hardwired on (2.2.3) */
	f->config[GH_PCI_COMMAND] = GH_PCI_CMD_IO | GH_PCI_CMD_MEMORY |
				    GH_PCI_CMD_MASTER;
	gh_pci_set_wmask(f, GH_PCI_COMMAND, 2, 0);
	f->config[GH_PCI_STATUS + 1] = 0x02;	/* DEVSEL medium */
	f->wmask[GH_PCI_INTERRUPT_LINE] = 0;
	/* power-on values of the registers the firmware touches (2.2) */
	f->config[0x4c] = 0x4d;			/* ISA I/O recovery timer */
	f->config[0x4e] = 0x03;			/* X-bus chip select */
	f->config[0x69] = 0x02;			/* top of memory */
	f->config[0x70] = 0x80;			/* motherboard IRQ 0: off */
	f->config[0x76] = 0x0c;			/* motherboard DMA */
	f->config[0x77] = 0x0c;
	f->config[0x78] = 0x02;			/* PCSC */
	f->config[0xa0] = 0x08;			/* SMI control */
	f->config[0xa8] = 0x0f;			/* SEE */
	for (unsigned off = 0x4c; off < 0x100; off++)
		if (off < PIRQRC || off >= PIRQRC + NPIRQ)
			f->wmask[off] = 0xff;
	for (unsigned n = 0; n < NPIRQ; n++) {
		f->config[PIRQRC + n] = PIRQ_DISABLE;
		f->wmask[PIRQRC + n] = PIRQ_DISABLE | 0x0f;
	}
	ret = gh_pci_register(cfg->pci, f, PIIX_DEVFN);
	if (ret < 0) {
		release(s);
		return gh_error_set(err, ret, "piix: 00:01.0 is taken");
	}
	gh_pci_set_pirq_router(cfg->pci, pirq_set, s);
	for (unsigned n = 0; n < NPIRQ; n++)
		pirq_set(s, n, gh_pci_pirq_level(cfg->pci, n));
	return 0;
}

static void piix_reset(void *dev)
{
	struct gh_piix *s = dev;

	gh_pci_func_reset(&s->pci);
	for (unsigned n = 0; n < NPIRQ; n++)
		route(s, n);
}

static void piix_unrealize(void *dev)
{
	struct gh_piix *s = dev;

	gh_pci_set_pirq_router(s->pci.bus, NULL, NULL);
	gh_pci_unregister(&s->pci);
	release(s);
}

const struct gh_device_type gh_piix_type = {
	.name = "piix",
	.level = 1,
	.size = sizeof(struct gh_piix),
	.realize = piix_realize,
	.reset = piix_reset,
	.unrealize = piix_unrealize,
};
