/*
 * Tests of PCI bus 0 (devices/pci/pci.c), the i440FX (i440fx.c) and the
 * PIIX3 (piix.c) as a guest drives them through 0xCF8/0xCFC: configuration
 * mechanism #1, BAR sizing and mapping, W1C and read-only bits, the
 * capability list, MSI, INTx through the PIRQ lines, the ELCR and PAM.
 */
#include <glib.h>
#include <string.h>

#include "devtest.h"
#include "gh/memory.h"
#include "gh/pci.h"

#define CONF_ADDR 0xcf8
#define CONF_DATA 0xcfc
#define TEST_DEVFN GH_PCI_DEVFN(3, 0)

/* A test function: I/O, MMIO32, MMIO64 BARs, a ROM, MSI, INTA. */
struct tdev {
	struct gh_pci_func f;
	uint8_t regs[4][256];
	unsigned writes;
	uint8_t rom[3000];
};

static uint64_t treg_read(struct tdev *d, unsigned bar, uint64_t off,
			  unsigned size)
{
	uint64_t v = 0;

	memcpy(&v, &d->regs[bar][off & 0xff], MIN(size, 256 - (off & 0xff)));
	return v;
}

#define BAR_OPS(n)							\
static uint64_t bar##n##_read(void *o, uint64_t off, unsigned size)	\
{									\
	return treg_read(o, n, off, size);				\
}									\
static void bar##n##_write(void *o, uint64_t off, uint64_t val,	\
			   unsigned size)				\
{									\
	struct tdev *d = o;						\
	d->writes++;							\
	if (off < 256 && size <= 256 - off)				\
		memcpy(&d->regs[n][off], &val, size);			\
}									\
static const struct gh_io_ops bar##n##_ops = {				\
	.read = bar##n##_read, .write = bar##n##_write,			\
};
BAR_OPS(0)
BAR_OPS(1)
BAR_OPS(2)

static void tdev_init(struct tdev *d)
{
	struct gh_pci_func *f = &d->f;

	memset(d, 0, sizeof(*d));
	for (unsigned b = 0; b < 3; b++)
		for (unsigned i = 0; i < 256; i++)
			d->regs[b][i] = b << 4 | (i & 0xf);
	for (unsigned i = 0; i < sizeof(d->rom); i++)
		d->rom[i] = i * 7;
	gh_pci_func_init(f, 0x1234, 0x5678, 0x020000, 0x42, NULL, d);
	gh_pci_set_subsystem(f, 0x1af4, 0x1100);
	gh_pci_set_intx_pin(f, 1);
	g_assert_cmpint(gh_pci_set_bar(f, 0, GH_PCI_BAR_IO, false, 32, &bar0_ops,
				       d, "t-io"), ==, 0);
	g_assert_cmpint(gh_pci_set_bar(f, 1, GH_PCI_BAR_MEM32, false, 0x1000,
				       &bar1_ops, d, "t-mem32"), ==, 0);
	g_assert_cmpint(gh_pci_set_bar(f, 2, GH_PCI_BAR_MEM64, true, 0x100000,
				       &bar2_ops, d, "t-mem64"), ==, 0);
	/* BAR 3 is BAR 2's upper half */
	g_assert_cmpint(gh_pci_set_bar(f, 3, GH_PCI_BAR_MEM32, false, 0x1000,
				       &bar1_ops, d, "x"), ==, -EINVAL);
	g_assert_cmpint(gh_pci_set_bar(f, 4, GH_PCI_BAR_IO, false, 3,
				       &bar1_ops, d, "x"), ==, -EINVAL);
	g_assert_cmpint(gh_pci_set_rom(f, d->rom, sizeof(d->rom)), ==, 0);
	g_assert_cmpint(gh_pci_add_cap(f, 0x40, 0x09, 4), ==, 0x40);
	g_assert_cmpint(gh_pci_msi_init(f, 0x50, 2, true, true), ==, 0x50);
}

struct fix {
	struct gh_vm *vm;
	struct gh_pci_bus *bus;
	struct gh_device *i440fx, *piix;
	struct dt_edges e;
	struct tdev t;
	unsigned nmsi;
	uint64_t msi_addr;
	uint32_t msi_data;
};

static void msi_hook(void *opaque, uint64_t addr, uint32_t data)
{
	struct fix *f = opaque;

	f->nmsi++;
	f->msi_addr = addr;
	f->msi_data = data;
}

static void setup_vm(struct fix *f, struct gh_vm *vm)
{
	struct gh_error err = { 0 };
	struct gh_device_cfg cfg = { .irq = -1 };

	memset(f, 0, sizeof(*f));
	f->vm = vm;
	dt_edges_attach(&f->e, f->vm);
	gh_irq_set_msi(gh_vm_irq(f->vm), msi_hook, f);
	g_assert_cmpint(gh_pci_bus_new(f->vm, &f->bus, &err), ==, 0);
	cfg.pci = f->bus;
	f->i440fx = dt_dev_new(f->vm, &gh_i440fx_type, &cfg);
	f->piix = dt_dev_new(f->vm, &gh_piix_type, &cfg);
	tdev_init(&f->t);
	g_assert_cmpint(gh_pci_register(f->bus, &f->t.f, TEST_DEVFN), ==, 0);
}

static void setup(struct fix *f)
{
	setup_vm(f, dt_vm_new());
}

static void teardown(struct fix *f)
{
	gh_pci_unregister(&f->t.f);
	gh_device_free(f->piix);
	gh_device_free(f->i440fx);
	gh_pci_bus_free(f->bus);
	dt_edges_detach(&f->e);
	gh_vm_free(f->vm);
}

static uint32_t addr(unsigned devfn, unsigned reg)
{
	return 0x80000000u | devfn << 8 | (reg & 0xfc);
}

static uint32_t cfg_read(struct fix *f, unsigned devfn, unsigned reg,
			 unsigned size)
{
	dt_outl(f->vm, CONF_ADDR, addr(devfn, reg));
	switch (size) {
	case 1: return dt_inb(f->vm, CONF_DATA + (reg & 3));
	case 2: return dt_inw(f->vm, CONF_DATA + (reg & 3));
	default: return dt_inl(f->vm, CONF_DATA);
	}
}

static void cfg_write(struct fix *f, unsigned devfn, unsigned reg,
		      uint32_t val, unsigned size)
{
	dt_outl(f->vm, CONF_ADDR, addr(devfn, reg));
	switch (size) {
	case 1: dt_outb(f->vm, CONF_DATA + (reg & 3), val); break;
	case 2: dt_outw(f->vm, CONF_DATA + (reg & 3), val); break;
	default: dt_outl(f->vm, CONF_DATA, val); break;
	}
}

static void test_mechanism(void)
{
	struct fix f;

	setup(&f);
	/* CONFADD: dword only; reserved bits 30:24 and 1:0 read 0 */
	dt_outl(f.vm, CONF_ADDR, 0xffffffff);
	g_assert_cmphex(dt_inl(f.vm, CONF_ADDR), ==, 0x80fffffc);
	dt_outb(f.vm, CONF_ADDR, 0x12);
	dt_outw(f.vm, CONF_ADDR + 2, 0x1234);
	g_assert_cmphex(dt_inl(f.vm, CONF_ADDR), ==, 0x80fffffc);
	g_assert_cmphex(dt_inb(f.vm, CONF_ADDR), ==, 0xff);
	/* 0xCF9 stays free for the reset register: a byte write there does
	 * not touch CONFADD */
	dt_outb(f.vm, 0xcf9, 0x00);
	g_assert_cmphex(dt_inl(f.vm, CONF_ADDR), ==, 0x80fffffc);

	/* the two bridges and the test function by bus/device/function */
	g_assert_cmphex(cfg_read(&f, 0, 0, 4), ==, 0x12378086);
	g_assert_cmphex(cfg_read(&f, GH_PCI_DEVFN(1, 0), 0, 4), ==, 0x70008086);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 0, 4), ==, 0x56781234);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 8, 4), ==, 0x02000042);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 0x2c, 4), ==, 0x11001af4);
	g_assert_cmphex(cfg_read(&f, GH_PCI_DEVFN(1, 0), 0x0e, 1), ==, 0x80);
	g_assert_cmphex(cfg_read(&f, GH_PCI_DEVFN(1, 0), 0x08, 4) >> 8, ==,
			0x060100);
	g_assert_cmphex(cfg_read(&f, 0, 0x08, 4), ==, 0x06000002);
	/* absent: another function, another device, another bus */
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN + 1, 0, 4), ==, 0xffffffff);
	g_assert_cmphex(cfg_read(&f, GH_PCI_DEVFN(31, 7), 0, 4), ==, 0xffffffff);
	dt_outl(f.vm, CONF_ADDR, 0x80010000u | TEST_DEVFN << 8);
	g_assert_cmphex(dt_inl(f.vm, CONF_DATA), ==, 0xffffffff);
	/* bit 31 clear: the data port is not a configuration access */
	dt_outl(f.vm, CONF_ADDR, TEST_DEVFN << 8);
	g_assert_cmphex(dt_inl(f.vm, CONF_DATA), ==, 0xffffffff);
	dt_outl(f.vm, CONF_DATA + 0, 0);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 0x3c, 1), ==, 0);

	/* bytes and words at any offset of the dword */
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 1, 1), ==, 0x12);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 2, 1), ==, 0x78);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 3, 1), ==, 0x56);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 2, 2), ==, 0x5678);
	dt_outl(f.vm, CONF_ADDR, addr(TEST_DEVFN, 0));
	g_assert_cmphex(dt_inw(f.vm, CONF_DATA + 1), ==, 0x7812);
	g_assert_cmphex(dt_inw(f.vm, CONF_DATA + 3), ==, 0xff56);
	/* the interrupt line is writable by byte at offset 0 of 0x3c */
	cfg_write(&f, TEST_DEVFN, 0x3c, 0x0b, 1);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 0x3c, 4), ==, 0x0000010b);
	/* writes to absent functions vanish; a reset clears CONFADD */
	cfg_write(&f, TEST_DEVFN + 1, 0x3c, 0x0b, 1);
	gh_pci_bus_reset(f.bus);
	g_assert_cmphex(dt_inl(f.vm, CONF_ADDR), ==, 0);
	teardown(&f);
}

/* Read-only fields stay; status error bits clear by writing 1. */
static void test_readonly_w1c(void)
{
	struct fix f;

	setup(&f);
	cfg_write(&f, TEST_DEVFN, 0, 0xffffffff, 4);
	cfg_write(&f, TEST_DEVFN, 8, 0xffffffff, 4);
	cfg_write(&f, TEST_DEVFN, 0x2c, 0, 4);
	cfg_write(&f, TEST_DEVFN, 0x3d, 4, 1);
	cfg_write(&f, TEST_DEVFN, 0x34, 0, 1);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 0, 4), ==, 0x56781234);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 8, 4), ==, 0x02000042);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 0x2c, 4), ==, 0x11001af4);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 0x3d, 1), ==, 1);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 0x34, 1), ==, 0x40);
	/* command: only the defined bits */
	cfg_write(&f, TEST_DEVFN, 4, 0xffff, 2);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 4, 2), ==, 0x0507);
	cfg_write(&f, TEST_DEVFN, 4, 0, 2);

	/* the device reports errors; the guest clears one of them */
	f.t.f.config[GH_PCI_STATUS + 1] |= 0xf9;
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 6, 2), ==, 0xf910);
	cfg_write(&f, TEST_DEVFN, 6, 0x8000, 2);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 6, 2), ==, 0x7910);
	/* writing 0s, or 1s to the read-only bits, changes nothing */
	cfg_write(&f, TEST_DEVFN, 6, 0x0010, 2);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 6, 2), ==, 0x7910);
	/* a dword write to command+status clears status bits too */
	cfg_write(&f, TEST_DEVFN, 4, 0x79000000, 4);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 6, 2), ==, 0x0010);
	/* the PIIX's command bits are hardwired on */
	cfg_write(&f, GH_PCI_DEVFN(1, 0), 4, 0, 2);
	g_assert_cmphex(cfg_read(&f, GH_PCI_DEVFN(1, 0), 4, 2), ==, 0x0007);
	teardown(&f);
}

static void size_bar(struct fix *f, unsigned reg, uint32_t want)
{
	uint32_t old = cfg_read(f, TEST_DEVFN, reg, 4);

	cfg_write(f, TEST_DEVFN, reg, 0xffffffff, 4);
	g_assert_cmphex(cfg_read(f, TEST_DEVFN, reg, 4), ==, want);
	cfg_write(f, TEST_DEVFN, reg, old, 4);
}

static void test_bar_sizing(void)
{
	struct fix f;

	setup(&f);
	size_bar(&f, 0x10, 0xffffffe1);			/* 32 bytes of I/O */
	size_bar(&f, 0x14, 0xfffff000);			/* 4 KiB, MEM32 */
	size_bar(&f, 0x18, 0xfff0000c);			/* 1 MiB, 64-bit, prefetch */
	size_bar(&f, 0x1c, 0xffffffff);			/* its upper half */
	size_bar(&f, 0x20, 0);				/* no BAR */
	size_bar(&f, 0x24, 0);
	size_bar(&f, 0x30, 0xfffff001);			/* ROM: 3000 -> 4 KiB */
	/* the bridges have no BARs */
	cfg_write(&f, 0, 0x10, 0xffffffff, 4);
	g_assert_cmphex(cfg_read(&f, 0, 0x10, 4), ==, 0);
	teardown(&f);
}

static void test_bar_mapping(void)
{
	struct fix f;
	struct gh_bus *mmio, *pio;

	setup(&f);
	mmio = gh_vm_mmio(f.vm);
	pio = gh_vm_pio(f.vm);
	cfg_write(&f, TEST_DEVFN, 0x10, 0xc000, 4);
	cfg_write(&f, TEST_DEVFN, 0x14, 0xfebf0000, 4);
	cfg_write(&f, TEST_DEVFN, 0x18, 0x00000000, 4);
	cfg_write(&f, TEST_DEVFN, 0x1c, 0x00000008, 4);	/* 32 GiB */
	cfg_write(&f, TEST_DEVFN, 0x30, 0xfeb00000, 4);	/* not enabled */
	/* nothing decodes before the command register says so */
	g_assert_null(gh_bus_lookup(pio, 0xc000));
	g_assert_null(gh_bus_lookup(mmio, 0xfebf0000));
	g_assert_null(gh_bus_lookup(mmio, 0x800000000ULL));
	cfg_write(&f, TEST_DEVFN, 4, GH_PCI_CMD_IO, 2);
	g_assert_cmpstr(gh_bus_lookup(pio, 0xc01f), ==, "t-io");
	g_assert_null(gh_bus_lookup(pio, 0xc020));
	g_assert_null(gh_bus_lookup(mmio, 0xfebf0000));
	g_assert_cmphex(dt_inb(f.vm, 0xc003), ==, 0x03);
	cfg_write(&f, TEST_DEVFN, 4, GH_PCI_CMD_IO | GH_PCI_CMD_MEMORY, 2);
	g_assert_cmpstr(gh_bus_lookup(mmio, 0xfebf0fff), ==, "t-mem32");
	g_assert_cmpstr(gh_bus_lookup(mmio, 0x8000fffffULL), ==, "t-mem64");
	g_assert_null(gh_bus_lookup(mmio, 0xfeb00000));
	/* the callbacks get the offset into the BAR */
	g_assert_cmphex(gh_bus_read(mmio, 0xfebf0004, 1), ==, 0x14);
	g_assert_cmphex(gh_bus_read(mmio, 0x800000005ULL, 1), ==, 0x25);

	/* the ROM appears with its enable bit, reads only */
	cfg_write(&f, TEST_DEVFN, 0x30, 0xfeb00001, 4);
	g_assert_cmpstr(gh_bus_lookup(mmio, 0xfeb00fff), ==, "pci-rom");
	g_assert_cmphex(gh_bus_read(mmio, 0xfeb00003, 1), ==, 21);
	g_assert_cmphex(gh_bus_read(mmio, 0xfeb00000 + 3000, 4), ==, 0);
	gh_bus_write(mmio, 0xfeb00003, 0, 1);
	g_assert_cmphex(gh_bus_read(mmio, 0xfeb00003, 1), ==, 21);
	cfg_write(&f, TEST_DEVFN, 0x30, 0xfeb00000, 4);
	g_assert_null(gh_bus_lookup(mmio, 0xfeb00000));

	/* moving a BAR unmaps the old range; a 64-bit BAR moves by halves */
	cfg_write(&f, TEST_DEVFN, 0x14, 0xfebe0000, 4);
	g_assert_null(gh_bus_lookup(mmio, 0xfebf0000));
	g_assert_cmpstr(gh_bus_lookup(mmio, 0xfebe0000), ==, "t-mem32");
	cfg_write(&f, TEST_DEVFN, 0x1c, 0, 4);
	cfg_write(&f, TEST_DEVFN, 0x18, 0xe0000000, 4);
	g_assert_null(gh_bus_lookup(mmio, 0x800000000ULL));
	g_assert_cmpstr(gh_bus_lookup(mmio, 0xe0080000), ==, "t-mem64");
	cfg_write(&f, TEST_DEVFN, 0x10, 0xd000, 4);
	g_assert_null(gh_bus_lookup(pio, 0xc000));
	g_assert_cmpstr(gh_bus_lookup(pio, 0xd000), ==, "t-io");
	/* sizing in place takes it off the bus, restoring puts it back */
	cfg_write(&f, TEST_DEVFN, 0x14, 0xffffffff, 4);
	g_assert_null(gh_bus_lookup(mmio, 0xfebe0000));
	cfg_write(&f, TEST_DEVFN, 0x14, 0xfebe0000, 4);
	g_assert_cmpstr(gh_bus_lookup(mmio, 0xfebe0000), ==, "t-mem32");
	/* an I/O BAR past 64 KiB decodes nowhere */
	cfg_write(&f, TEST_DEVFN, 0x10, 0x10000, 4);
	g_assert_null(gh_bus_lookup(pio, 0xd000));
	g_assert_null(gh_bus_lookup(pio, 0x0000));
	cfg_write(&f, TEST_DEVFN, 0x10, 0xd000, 4);
	/* clearing the enables unmaps everything */
	cfg_write(&f, TEST_DEVFN, 4, 0, 2);
	g_assert_null(gh_bus_lookup(pio, 0xd000));
	g_assert_null(gh_bus_lookup(mmio, 0xfebe0000));
	g_assert_null(gh_bus_lookup(mmio, 0xe0000000));
	/* a reset does too, and forgets the addresses */
	cfg_write(&f, TEST_DEVFN, 4, 3, 2);
	g_assert_nonnull(gh_bus_lookup(pio, 0xd000));
	gh_pci_func_reset(&f.t.f);
	g_assert_null(gh_bus_lookup(pio, 0xd000));
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 0x10, 4), ==, 1);
	teardown(&f);
}

static void test_cap_list(void)
{
	struct fix f;
	unsigned ptr, n = 0;
	uint8_t ids[8];

	setup(&f);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 6, 2) & GH_PCI_STATUS_CAP_LIST,
			!=, 0);
	for (ptr = cfg_read(&f, TEST_DEVFN, 0x34, 1); ptr && n < 8;
	     ptr = cfg_read(&f, TEST_DEVFN, ptr + 1, 1))
		ids[n++] = cfg_read(&f, TEST_DEVFN, ptr, 1);
	g_assert_cmpuint(n, ==, 2);
	g_assert_cmphex(ids[0], ==, 0x09);
	g_assert_cmphex(ids[1], ==, GH_PCI_CAP_ID_MSI);
	/* the list is read-only to the guest */
	cfg_write(&f, TEST_DEVFN, 0x40, 0, 2);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 0x40, 2), ==, 0x5009);
	/* the bridges have none */
	g_assert_cmphex(cfg_read(&f, 0, 6, 2) & GH_PCI_STATUS_CAP_LIST, ==, 0);
	g_assert_cmpint(gh_pci_add_cap(&f.t.f, 0x3c, 1, 4), ==, -EINVAL);
	g_assert_cmpint(gh_pci_add_cap(&f.t.f, 0x61, 1, 4), ==, -EINVAL);
	teardown(&f);
}

static void test_msi(void)
{
	struct fix f;

	setup(&f);
	/* control: 64-bit, maskable, 4 vectors capable, off */
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 0x52, 2), ==, 0x0184);
	/* not enabled: nothing */
	g_assert_cmpint(gh_pci_msi_notify(&f.t.f, 0), ==, -EINVAL);
	cfg_write(&f, TEST_DEVFN, 0x54, 0xfee01003, 4);	/* APIC 1; bits 1:0 RO */
	cfg_write(&f, TEST_DEVFN, 0x58, 0, 4);
	cfg_write(&f, TEST_DEVFN, 0x5c, 0x4060, 2);	/* vector 0x60, level */
	cfg_write(&f, TEST_DEVFN, 0x52, 0x0021, 2);	/* on, 4 vectors */
	g_assert_true(gh_pci_msi_enabled(&f.t.f));
	/* without bus mastering the device cannot write */
	g_assert_cmpint(gh_pci_msi_notify(&f.t.f, 0), ==, -EINVAL);
	g_assert_cmpuint(f.nmsi, ==, 0);
	cfg_write(&f, TEST_DEVFN, 4, GH_PCI_CMD_MASTER, 2);
	g_assert_cmpint(gh_pci_msi_notify(&f.t.f, 2), ==, 0);
	g_assert_cmpuint(f.nmsi, ==, 1);
	g_assert_cmphex(f.msi_addr, ==, 0xfee01000);
	g_assert_cmphex(f.msi_data, ==, 0x4062);
	/* beyond the enabled vectors */
	g_assert_cmpint(gh_pci_msi_notify(&f.t.f, 4), ==, -EINVAL);
	/* masked: pending, then sent on unmask */
	cfg_write(&f, TEST_DEVFN, 0x60, 0x2, 4);
	g_assert_cmpint(gh_pci_msi_notify(&f.t.f, 1), ==, 0);
	g_assert_cmpuint(f.nmsi, ==, 1);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 0x64, 4), ==, 0x2);
	cfg_write(&f, TEST_DEVFN, 0x64, 0, 4);		/* pending is RO */
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 0x64, 4), ==, 0x2);
	cfg_write(&f, TEST_DEVFN, 0x60, 0xffffffff, 4);	/* 4 mask bits */
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 0x60, 4), ==, 0xf);
	cfg_write(&f, TEST_DEVFN, 0x60, 0, 4);
	g_assert_cmpuint(f.nmsi, ==, 2);
	g_assert_cmphex(f.msi_data, ==, 0x4061);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 0x64, 4), ==, 0);
	/* an address outside the APIC window is dropped */
	cfg_write(&f, TEST_DEVFN, 0x54, 0x12345678, 4);
	g_assert_cmpint(gh_pci_msi_notify(&f.t.f, 0), ==, 0);
	g_assert_cmpuint(f.nmsi, ==, 2);
	teardown(&f);
}

static int gsi(struct fix *f, unsigned n)
{
	return gh_irq_level(gh_vm_irq(f->vm), n);
}

static void test_intx(void)
{
	struct fix f;
	struct tdev t2;

	setup(&f);
	g_assert_cmpuint(gh_pci_swizzle(1, 1), ==, 0);
	g_assert_cmpuint(gh_pci_swizzle(2, 1), ==, 1);
	g_assert_cmpuint(gh_pci_swizzle(0, 1), ==, 3);
	g_assert_cmpuint(gh_pci_swizzle(3, 2), ==, 3);
	/* PIRQs start disabled (0x80) */
	g_assert_cmphex(cfg_read(&f, GH_PCI_DEVFN(1, 0), 0x60, 4), ==,
			0x80808080);
	/* slot 3 INTA -> PIRQC; route it to IRQ 11 */
	gh_pci_set_irq(&f.t.f, 1);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 6, 2) &
			GH_PCI_STATUS_INTERRUPT, !=, 0);
	g_assert_cmpint(gh_pci_pirq_level(f.bus, 2), ==, 1);
	for (unsigned n = 0; n < 16; n++)
		g_assert_cmpint(gsi(&f, n), ==, 0);
	/* the board's PIRQC wire to I/O APIC pin 18 */
	g_assert_cmpint(gsi(&f, 18), ==, 1);
	g_assert_cmpint(f.e.level[18], ==, 1);
	cfg_write(&f, GH_PCI_DEVFN(1, 0), 0x62, 11, 1);
	g_assert_cmpint(gsi(&f, 11), ==, 1);
	/* the sinks (8259, I/O APIC pin 11) see the line */
	g_assert_cmpint(f.e.level[11], ==, 1);
	gh_pci_set_irq(&f.t.f, 0);
	g_assert_cmpint(gsi(&f, 11), ==, 0);
	g_assert_cmpint(gsi(&f, 18), ==, 0);
	/* INTx disable in the command register holds the pin low */
	gh_pci_set_irq(&f.t.f, 1);
	cfg_write(&f, TEST_DEVFN, 4, GH_PCI_CMD_INTX_DISABLE, 2);
	g_assert_cmpint(gsi(&f, 11), ==, 0);
	g_assert_cmphex(cfg_read(&f, TEST_DEVFN, 6, 2) &
			GH_PCI_STATUS_INTERRUPT, !=, 0);
	cfg_write(&f, TEST_DEVFN, 4, 0, 2);
	g_assert_cmpint(gsi(&f, 11), ==, 1);
	/* re-routing moves the level; disabling drops it */
	cfg_write(&f, GH_PCI_DEVFN(1, 0), 0x62, 10, 1);
	g_assert_cmpint(gsi(&f, 11), ==, 0);
	g_assert_cmpint(gsi(&f, 10), ==, 1);
	cfg_write(&f, GH_PCI_DEVFN(1, 0), 0x62, 0x8a, 1);
	g_assert_cmpint(gsi(&f, 10), ==, 0);
	/* reserved IRQ numbers (0-2, 8, 13) route nowhere */
	cfg_write(&f, GH_PCI_DEVFN(1, 0), 0x62, 8, 1);
	g_assert_cmpint(gsi(&f, 8), ==, 0);

	/* a second device on PIRQC (slot 4 INTD) shares IRQ 5 with it */
	cfg_write(&f, GH_PCI_DEVFN(1, 0), 0x62, 5, 1);
	tdev_init(&t2);
	gh_pci_set_intx_pin(&t2.f, 4);
	g_assert_cmpint(gh_pci_register(f.bus, &t2.f, GH_PCI_DEVFN(4, 2)), ==, 0);
	g_assert_cmpint(gh_pci_register(f.bus, &t2.f, GH_PCI_DEVFN(5, 0)), ==,
			-EINVAL);
	gh_pci_set_irq(&t2.f, 1);
	gh_pci_set_irq(&f.t.f, 0);
	g_assert_cmpint(gsi(&f, 5), ==, 1);
	gh_pci_set_irq(&t2.f, 0);
	g_assert_cmpint(gsi(&f, 5), ==, 0);
	/* an ISA device on the same IRQ keeps its own level */
	gh_irq_set(gh_vm_irq(f.vm), 5, 1);
	gh_pci_set_irq(&t2.f, 1);
	gh_pci_set_irq(&t2.f, 0);
	g_assert_cmpint(gsi(&f, 5), ==, 1);
	gh_irq_set(gh_vm_irq(f.vm), 5, 0);
	gh_pci_unregister(&t2.f);
	/* a PIIX reset disables the routes */
	gh_pci_set_irq(&f.t.f, 1);
	g_assert_cmpint(gsi(&f, 5), ==, 1);
	gh_device_reset(f.piix);
	g_assert_cmpint(gsi(&f, 5), ==, 0);
	g_assert_cmpint(gsi(&f, 18), ==, 1);
	teardown(&f);
}

/* The ELCR the PIIX3 defines, as the 8259 model implements it. */
static void test_elcr(void)
{
	struct gh_vm *vm = dt_vm_new();
	struct gh_device_cfg cfg = { .irq = -1 };
	struct gh_device *pic = dt_dev_new(vm, &gh_i8259_type, &cfg);

	g_assert_cmphex(dt_inb(vm, 0x4d0), ==, 0);
	g_assert_cmphex(dt_inb(vm, 0x4d1), ==, 0);
	/* IRQ 0-2, 8 and 13 cannot be level-triggered */
	dt_outb(vm, 0x4d0, 0xff);
	dt_outb(vm, 0x4d1, 0xff);
	g_assert_cmphex(dt_inb(vm, 0x4d0), ==, 0xf8);
	g_assert_cmphex(dt_inb(vm, 0x4d1), ==, 0xde);
	g_assert_cmphex(dt_inw(vm, 0x4d0), ==, 0xdef8);
	gh_device_free(pic);
	gh_vm_free(vm);
}

static struct gh_vm *firmware_vm(void)
{
	struct gh_vm_config cfg = {
		.ram_size = DT_RAM_SIZE, .manual_clock = true, .firmware = true,
	};
	struct gh_error err = { 0 };
	struct gh_vm *vm = NULL;

	g_assert_cmpint(gh_vm_new(&cfg, &vm, &err), ==, 0);
	return vm;
}

static uint8_t peek(struct gh_vm *vm, uint64_t gpa)
{
	uint8_t *p = gh_mem_map(gh_vm_memory(vm), gpa, 1);

	/* what a CPU reads: memory, else the MMIO bus */
	return p ? *p : (uint8_t)gh_bus_read(gh_vm_mmio(vm), gpa, 1);
}

/* What a CPU's write does: into writable memory, else to the MMIO bus. */
static void poke(struct gh_vm *vm, uint64_t gpa, uint8_t v)
{
	bool writable;
	uint8_t *page = gh_mem_map_page(gh_vm_memory(vm), gpa, &writable);

	if (page && writable)
		page[gpa & 0xfff] = v;
	else if (!page)
		gh_bus_write(gh_vm_mmio(vm), gpa, v, 1);
}

static void test_pam(void)
{
	static uint8_t rom[0x20000];
	struct gh_error err = { 0 };
	struct fix f;
	uint64_t seg = 0xe4000;		/* PAM5 bits 5:4 */

	setup_vm(&f, firmware_vm());
	memset(rom, 0xb1, sizeof(rom));
	g_assert_cmpint(gh_vm_set_window_rom(f.vm, 0xe0000, sizeof(rom), rom,
					     &err), ==, 0);
	/* power-on: reads and writes go to the PCI side (the BIOS alias) */
	g_assert_cmphex(cfg_read(&f, 0, 0x5c, 4), ==, 0);
	g_assert_cmphex(peek(f.vm, seg), ==, 0xb1);
	poke(f.vm, seg, 0x11);
	g_assert_cmphex(peek(f.vm, seg), ==, 0xb1);
	/* 0xC0000 has no ROM behind it: all-ones */
	g_assert_cmphex(peek(f.vm, 0xc0000), ==, 0xff);
	/* write enable only: reads still the ROM, writes reach DRAM */
	cfg_write(&f, 0, 0x5e, 0x20, 1);
	poke(f.vm, seg, 0x22);
	g_assert_cmphex(peek(f.vm, seg), ==, 0xb1);
	g_assert_cmphex(peek(f.vm, seg + 0x4000), ==, 0xb1);
	/* read and write: DRAM, with what was written */
	cfg_write(&f, 0, 0x5e, 0x30, 1);
	g_assert_cmphex(peek(f.vm, seg), ==, 0x22);
	poke(f.vm, seg, 0x33);
	g_assert_cmphex(peek(f.vm, seg), ==, 0x33);
	/* read only: DRAM reads, writes dropped */
	cfg_write(&f, 0, 0x5e, 0x10, 1);
	poke(f.vm, seg, 0x44);
	g_assert_cmphex(peek(f.vm, seg), ==, 0x33);
	/* the neighbours (PAM5 bits 1:0, PAM6) did not move */
	g_assert_cmphex(peek(f.vm, seg - 0x4000), ==, 0xb1);
	g_assert_cmphex(peek(f.vm, seg + 0x4000), ==, 0xb1);
	/* 0xF0000 is PAM0's high nibble; its low nibble is reserved */
	cfg_write(&f, 0, 0x58, 0xffffffff, 4);
	g_assert_cmphex(cfg_read(&f, 0, 0x59, 1), ==, 0x30);
	poke(f.vm, 0xf1234, 0x55);
	g_assert_cmphex(peek(f.vm, 0xf1234), ==, 0x55);
	/* windows never count as RAM */
	g_assert_cmpuint(gh_memory_ram_below_4g(gh_vm_memory(f.vm)), ==,
			 DT_RAM_SIZE - 0x60000);
	/* a reset puts everything back on the PCI side */
	gh_device_reset(f.i440fx);
	g_assert_cmphex(peek(f.vm, 0xf1234), ==, 0xb1);
	g_assert_cmphex(peek(f.vm, seg), ==, 0xb1);
	teardown(&f);
}

/* SMRAM: D_OPEN is kept in the register, never maps; D_LCK closes it. */
static void test_smram(void)
{
	struct fix f;

	setup(&f);
	g_assert_cmphex(cfg_read(&f, 0, 0x72, 1), ==, 0x02);
	cfg_write(&f, 0, 0x72, 0x4a, 1);
	g_assert_cmphex(cfg_read(&f, 0, 0x72, 1), ==, 0x4a);
	g_assert_null(gh_mem_map(gh_vm_memory(f.vm), 0xa0000, 1));
	cfg_write(&f, 0, 0x72, 0x5a, 1);
	g_assert_cmphex(cfg_read(&f, 0, 0x72, 1), ==, 0x1a);
	cfg_write(&f, 0, 0x72, 0x42, 1);
	g_assert_cmphex(cfg_read(&f, 0, 0x72, 1), ==, 0x1a);
	gh_device_reset(f.i440fx);
	g_assert_cmphex(cfg_read(&f, 0, 0x72, 1), ==, 0x02);
	/* direct boot: PAM changes nothing, RAM stays RAM */
	cfg_write(&f, 0, 0x59, 0, 1);
	g_assert_nonnull(gh_mem_map(gh_vm_memory(f.vm), 0xf0000, 1));
	teardown(&f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/pci/mechanism", test_mechanism);
	g_test_add_func("/pci/readonly-w1c", test_readonly_w1c);
	g_test_add_func("/pci/bar-sizing", test_bar_sizing);
	g_test_add_func("/pci/bar-mapping", test_bar_mapping);
	g_test_add_func("/pci/cap-list", test_cap_list);
	g_test_add_func("/pci/msi", test_msi);
	g_test_add_func("/pci/intx", test_intx);
	g_test_add_func("/pci/elcr", test_elcr);
	g_test_add_func("/pci/pam", test_pam);
	g_test_add_func("/pci/smram", test_smram);
	return g_test_run();
}
