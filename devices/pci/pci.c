/*
 * PCI bus 0 (PCI Local Bus Specification 3.0): configuration mechanism #1
 * (3.2.2.3.2), the type 0 header (6.1), BARs (6.2.5), the expansion ROM
 * BAR (6.2.5.2), the capability list (6.7) and MSI (6.8.1), and INTx pins
 * swizzled onto the ISA bridge's PIRQ lines (the PCI-to-PCI bridge
 * specification's table 9-1, which bus 0 of a PC follows as well).
 */
#include "gh/pci.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#include "gh/bus.h"
#include "gh/irq.h"
#include "gh/log.h"
#include "gh/vm.h"

#define CONF_ADDR_PORT	0xcf8
#define CONF_DATA_PORT	0xcfc
/* CONFADD: enable, bus, device, function, register; 30:24 and 1:0 are 0 */
#define CONF_ENABLE	(1u << 31)
#define CONF_MASK	0x80fffffcu

#define PCI_NUM_PIRQ	4

/* MSI capability registers (6.8.1) */
#define MSI_CTRL	2
#define MSI_ADDR	4
#define MSI_CTRL_ENABLE	(1u << 0)
#define MSI_CTRL_MMC_SHIFT 1	/* multiple message capable */
#define MSI_CTRL_MME_SHIFT 4	/* multiple message enable */
#define MSI_CTRL_64	(1u << 7)
#define MSI_CTRL_MASK	(1u << 8)	/* per-vector masking */

struct gh_pci_bus {
	struct gh_vm *vm;
	uint32_t conf_addr;
	unsigned mapped;
	struct gh_pci_func *funcs[GH_PCI_MAX_DEVFN];
	gh_pci_pirq_fn *pirq_fn;
	void *pirq_opaque;
	int pirq_level[PCI_NUM_PIRQ];
	struct gh_ratelimit rl;
};

static uint32_t get_le(const uint8_t *p, unsigned size)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static void put_le(uint8_t *p, unsigned size, uint32_t v)
{
	for (unsigned i = 0; i < size; i++)
		p[i] = v >> (8 * i);
}

static uint16_t cfg16(const struct gh_pci_func *f, unsigned off)
{
	return get_le(f->config + off, 2);
}

/* --- BAR mapping --------------------------------------------------------- */

static unsigned bar_reg(unsigned i)
{
	return i == GH_PCI_ROM_BAR ? GH_PCI_ROM_ADDRESS : GH_PCI_BAR0 + 4 * i;
}

/*
 * Where BAR i decodes now, or UNMAPPED: its space enabled in the command
 * register (and the ROM's own enable bit), and an address that is not 0
 * and fits its space (6.2.5.1: I/O in 64 KiB on a PC, MEM32 below 4 GiB).
 */
static uint64_t bar_address(const struct gh_pci_func *f, unsigned i)
{
	const struct gh_pci_bar *b = &f->bars[i];
	uint16_t cmd = cfg16(f, GH_PCI_COMMAND);
	uint32_t lo = get_le(f->config + bar_reg(i), 4);
	uint64_t addr, limit;

	if (!b->size)
		return GH_PCI_BAR_UNMAPPED;
	if (b->kind == GH_PCI_BAR_IO) {
		if (!(cmd & GH_PCI_CMD_IO))
			return GH_PCI_BAR_UNMAPPED;
		addr = lo & ~3u & ~(b->size - 1);
		limit = 0x10000;
	} else {
		if (!(cmd & GH_PCI_CMD_MEMORY))
			return GH_PCI_BAR_UNMAPPED;
		if (i == GH_PCI_ROM_BAR && !(lo & 1))
			return GH_PCI_BAR_UNMAPPED;
		addr = lo & ~0xfu;
		if (b->kind == GH_PCI_BAR_MEM64)
			addr |= (uint64_t)get_le(f->config + bar_reg(i) + 4, 4) << 32;
		addr &= ~(b->size - 1);
		/* 64-bit BARs: as far as the CPUs can address */
		limit = b->kind == GH_PCI_BAR_MEM64 ? 1ULL << 52 : 1ULL << 32;
	}
	if (!addr || addr > limit - b->size)
		return GH_PCI_BAR_UNMAPPED;
	return addr;
}

static uint64_t rom_read(void *opaque, uint64_t off, unsigned size)
{
	struct gh_pci_func *f = opaque;
	uint64_t v = 0;

	/* past the image the ROM chip's unused bytes read as zero */
	for (unsigned i = 0; i < size; i++)
		if (off + i < f->rom_len)
			v |= (uint64_t)f->rom[off + i] << (8 * i);
	return v;
}

static const struct gh_io_ops rom_ops = { .read = rom_read };

static struct gh_bus *bar_bus(struct gh_pci_func *f, unsigned i)
{
	struct gh_vm *vm = gh_pci_bus_vm(f->bus);

	return f->bars[i].kind == GH_PCI_BAR_IO ? gh_vm_pio(vm) : gh_vm_mmio(vm);
}

static void bar_unmap(struct gh_pci_func *f, unsigned i)
{
	struct gh_pci_bar *b = &f->bars[i];

	if (b->mapped == GH_PCI_BAR_UNMAPPED)
		return;
	if (b->ram_mapped)
		gh_vm_unmap_device_memory(gh_pci_bus_vm(f->bus), b->mapped,
					  b->size);
	gh_bus_unmap(bar_bus(f, i), b->mapped);
	b->mapped = GH_PCI_BAR_UNMAPPED;
	b->ram_mapped = false;
}

/* Moves BAR i to where its registers now say, or takes it off the bus. */
static void bar_update(struct gh_pci_func *f, unsigned i)
{
	struct gh_pci_bar *b = &f->bars[i];
	uint64_t addr = f->bus ? bar_address(f, i) : GH_PCI_BAR_UNMAPPED;
	int ret;

	if (addr == b->mapped)
		return;
	bar_unmap(f, i);
	if (addr == GH_PCI_BAR_UNMAPPED)
		return;
	ret = gh_bus_map(bar_bus(f, i), addr, b->size, b->ops, b->opaque,
			 b->name);
	if (ret < 0) {
		/* a guest that overlaps two BARs gets neither decoded twice:
		 * the later one stays off its bus until it moves */
		gh_log_guest(&f->bus->rl, "pci %02x.%x: BAR %u at 0x%" PRIx64
			     " overlaps another mapping: not decoded",
			     f->devfn >> 3, f->devfn & 7, i, addr);
		return;
	}
	b->mapped = addr;
	/*
	 * A BAR backed by memory is also mapped as memory, which the CPUs
	 * reach before the bus, so its accesses do not exit; where that
	 * fails (over RAM, or the backend is out of slots) the bus mapping
	 * serves them. Either way the bus knows the range is taken.
	 */
	if (b->ram && gh_vm_map_device_memory(gh_pci_bus_vm(f->bus), addr,
					      b->size, b->ram, b->name) == 0)
		b->ram_mapped = true;
}

static void bars_update(struct gh_pci_func *f)
{
	for (unsigned i = 0; i <= GH_PCI_ROM_BAR; i++)
		if (f->bars[i].size)
			bar_update(f, i);
}

/* --- INTx ---------------------------------------------------------------- */

unsigned gh_pci_swizzle(unsigned slot, unsigned pin)
{
	/* slot 1's INTA is PIRQA, slot 2's INTA PIRQB... (as QEMU's i440FX) */
	return (pin - 1 + slot + PCI_NUM_PIRQ - 1) % PCI_NUM_PIRQ;
}

static bool intx_asserted(const struct gh_pci_func *f)
{
	return f->intx && !(cfg16(f, GH_PCI_COMMAND) & GH_PCI_CMD_INTX_DISABLE);
}

static void pirq_update(struct gh_pci_bus *bus, unsigned pirq)
{
	int level = 0;

	for (unsigned d = 0; d < GH_PCI_MAX_DEVFN && !level; d++) {
		struct gh_pci_func *f = bus->funcs[d];
		unsigned pin;

		if (!f)
			continue;
		pin = f->config[GH_PCI_INTERRUPT_PIN];
		if (pin >= 1 && pin <= 4 && intx_asserted(f) &&
		    gh_pci_swizzle(d >> 3, pin) == pirq)
			level = 1;
	}
	if (level == bus->pirq_level[pirq])
		return;
	bus->pirq_level[pirq] = level;
	if (bus->pirq_fn)
		bus->pirq_fn(bus->pirq_opaque, pirq, level);
}

static void intx_update(struct gh_pci_func *f)
{
	unsigned pin = f->config[GH_PCI_INTERRUPT_PIN];

	/* the status bit shows the device's request even while disabled */
	if (f->intx)
		f->config[GH_PCI_STATUS] |= GH_PCI_STATUS_INTERRUPT;
	else
		f->config[GH_PCI_STATUS] &= ~GH_PCI_STATUS_INTERRUPT;
	if (f->bus && f->devfn >= 0 && pin >= 1 && pin <= 4)
		pirq_update(f->bus, gh_pci_swizzle(f->devfn >> 3, pin));
}

void gh_pci_set_irq(struct gh_pci_func *f, int level)
{
	f->intx = level != 0;
	intx_update(f);
}

void gh_pci_set_pirq_router(struct gh_pci_bus *bus, gh_pci_pirq_fn *fn,
			    void *opaque)
{
	bus->pirq_fn = fn;
	bus->pirq_opaque = fn ? opaque : NULL;
}

int gh_pci_pirq_level(struct gh_pci_bus *bus, unsigned pirq)
{
	return pirq < PCI_NUM_PIRQ ? bus->pirq_level[pirq] : 0;
}

/* --- MSI ----------------------------------------------------------------- */

static uint16_t msi_ctrl(const struct gh_pci_func *f)
{
	return cfg16(f, f->msi + MSI_CTRL);
}

/* Offsets of the data, mask and pending registers, by address size. */
static unsigned msi_data_off(const struct gh_pci_func *f)
{
	return f->msi + (msi_ctrl(f) & MSI_CTRL_64 ? 12 : 8);
}

static unsigned msi_mask_off(const struct gh_pci_func *f)
{
	return f->msi + (msi_ctrl(f) & MSI_CTRL_64 ? 16 : 12);
}

bool gh_pci_msi_enabled(const struct gh_pci_func *f)
{
	return f->msi && (msi_ctrl(f) & MSI_CTRL_ENABLE);
}

static unsigned msi_enabled_vectors(const struct gh_pci_func *f)
{
	unsigned mme = (msi_ctrl(f) >> MSI_CTRL_MME_SHIFT) & 7;
	unsigned mmc = (msi_ctrl(f) >> MSI_CTRL_MMC_SHIFT) & 7;

	/* more than the device is capable of is undefined: cap it (6.8.1.3) */
	return 1u << MIN(mme, mmc);
}

static void msi_send(struct gh_pci_func *f, unsigned vector)
{
	uint64_t addr = get_le(f->config + f->msi + MSI_ADDR, 4);
	uint32_t data = cfg16(f, msi_data_off(f));
	unsigned n = msi_enabled_vectors(f);

	if (msi_ctrl(f) & MSI_CTRL_64)
		addr |= (uint64_t)get_le(f->config + f->msi + 8, 4) << 32;
	/* the device puts the vector in the data's low bits (6.8.3.4) */
	data = (data & ~(n - 1)) | vector;
	if (gh_irq_msi(gh_vm_irq(gh_pci_bus_vm(f->bus)), addr, data) < 0)
		gh_log_guest(&f->bus->rl, "pci %02x.%x: MSI to 0x%" PRIx64
			     " is not an interrupt: dropped",
			     f->devfn >> 3, f->devfn & 7, addr);
}

static bool msi_masked(const struct gh_pci_func *f, unsigned vector)
{
	if (!(msi_ctrl(f) & MSI_CTRL_MASK))
		return false;
	return get_le(f->config + msi_mask_off(f), 4) & (1u << vector);
}

static void msi_set_pending(struct gh_pci_func *f)
{
	if (msi_ctrl(f) & MSI_CTRL_MASK)
		put_le(f->config + msi_mask_off(f) + 4, 4, f->msi_pending);
}

int gh_pci_msi_notify(struct gh_pci_func *f, unsigned vector)
{
	if (!f->bus || !gh_pci_msi_enabled(f) ||
	    vector >= msi_enabled_vectors(f) ||
	    !(cfg16(f, GH_PCI_COMMAND) & GH_PCI_CMD_MASTER))
		return -EINVAL;
	if (msi_masked(f, vector)) {
		f->msi_pending |= 1u << vector;
		msi_set_pending(f);
		return 0;
	}
	msi_send(f, vector);
	return 0;
}

/* Unmasking a vector with its pending bit set sends it (6.8.3.3). */
static void msi_unmasked(struct gh_pci_func *f)
{
	for (unsigned v = 0; v < 32; v++) {
		if (!(f->msi_pending & (1u << v)) || msi_masked(f, v))
			continue;
		f->msi_pending &= ~(1u << v);
		msi_set_pending(f);
		if (gh_pci_msi_enabled(f) && v < msi_enabled_vectors(f) &&
		    (cfg16(f, GH_PCI_COMMAND) & GH_PCI_CMD_MASTER))
			msi_send(f, v);
	}
}

int gh_pci_msi_init(struct gh_pci_func *f, unsigned off,
		    unsigned log2_vectors, bool addr64, bool maskable)
{
	unsigned len = 10 + (addr64 ? 4 : 0) + (maskable ? 10 : 0);
	uint16_t ctrl;
	int ret;

	if (log2_vectors > 5 || f->msi)
		return -EINVAL;
	len = (len + 3) & ~3u;
	ret = gh_pci_add_cap(f, off, GH_PCI_CAP_ID_MSI, len);
	if (ret < 0)
		return ret;
	ctrl = log2_vectors << MSI_CTRL_MMC_SHIFT |
	       (addr64 ? MSI_CTRL_64 : 0) | (maskable ? MSI_CTRL_MASK : 0);
	put_le(f->config + off + MSI_CTRL, 2, ctrl);
	f->msi = off;
	/* enable and multiple message enable; the address is dword aligned */
	gh_pci_set_wmask(f, off + MSI_CTRL, 2, MSI_CTRL_ENABLE | 7u << MSI_CTRL_MME_SHIFT);
	gh_pci_set_wmask(f, off + MSI_ADDR, 4, ~3u);
	if (addr64)
		gh_pci_set_wmask(f, off + 8, 4, ~0u);
	gh_pci_set_wmask(f, msi_data_off(f), 2, 0xffff);
	if (maskable)
		gh_pci_set_wmask(f, msi_mask_off(f), 4,
				 (uint32_t)((1ULL << (1u << log2_vectors)) - 1));
	return off;
}

/* --- configuration space ------------------------------------------------- */

void gh_pci_set_wmask(struct gh_pci_func *f, unsigned off, unsigned len,
		      uint32_t mask)
{
	if (off >= 256 || len > 4 || len > 256 - off)
		return;
	put_le(f->wmask + off, len, mask);
}

void gh_pci_func_init(struct gh_pci_func *f, uint16_t vendor, uint16_t device,
		      uint32_t class_code, uint8_t revision,
		      const struct gh_pci_func_ops *ops, void *opaque)
{
	memset(f, 0, sizeof(*f));
	f->devfn = -1;
	f->ops = ops;
	f->opaque = opaque;
	for (unsigned i = 0; i <= GH_PCI_ROM_BAR; i++)
		f->bars[i].mapped = GH_PCI_BAR_UNMAPPED;
	put_le(f->config + GH_PCI_VENDOR_ID, 2, vendor);
	put_le(f->config + GH_PCI_DEVICE_ID, 2, device);
	f->config[GH_PCI_REVISION] = revision;
	put_le(f->config + GH_PCI_CLASS_PROG, 3, class_code);
	gh_pci_set_wmask(f, GH_PCI_COMMAND, 2,
			 GH_PCI_CMD_IO | GH_PCI_CMD_MEMORY | GH_PCI_CMD_MASTER |
			 GH_PCI_CMD_SERR | GH_PCI_CMD_INTX_DISABLE);
	put_le(f->w1cmask + GH_PCI_STATUS, 2, GH_PCI_STATUS_W1C);
	f->wmask[GH_PCI_INTERRUPT_LINE] = 0xff;
}

void gh_pci_set_subsystem(struct gh_pci_func *f, uint16_t vendor, uint16_t id)
{
	put_le(f->config + GH_PCI_SUBSYS_VENDOR, 2, vendor);
	put_le(f->config + GH_PCI_SUBSYS_ID, 2, id);
}

void gh_pci_set_intx_pin(struct gh_pci_func *f, unsigned pin)
{
	f->config[GH_PCI_INTERRUPT_PIN] = pin <= 4 ? pin : 0;
}

int gh_pci_set_bar(struct gh_pci_func *f, unsigned i, enum gh_pci_bar_kind kind,
		   bool prefetch, uint64_t size, const struct gh_io_ops *ops,
		   void *opaque, const char *name)
{
	unsigned reg = GH_PCI_BAR0 + 4 * i;
	uint32_t flags;
	uint64_t mask;

	if (i >= GH_PCI_NUM_BARS || !ops || !size || (size & (size - 1)))
		return -EINVAL;
	switch (kind) {
	case GH_PCI_BAR_IO:
		if (size < 4 || size > 256 || prefetch)
			return -EINVAL;
		flags = 1;
		break;
	case GH_PCI_BAR_MEM32:
		if (size < 16 || size > (1ULL << 31))
			return -EINVAL;
		flags = prefetch ? 8 : 0;
		break;
	case GH_PCI_BAR_MEM64:
		if (size < 16 || i + 1 >= GH_PCI_NUM_BARS || f->bars[i + 1].size)
			return -EINVAL;
		flags = 4 | (prefetch ? 8 : 0);
		break;
	default:
		return -EINVAL;
	}
	if (f->bars[i].size || (i > 0 && f->bars[i - 1].kind == GH_PCI_BAR_MEM64))
		return -EINVAL;
	f->bars[i] = (struct gh_pci_bar){
		.kind = kind, .prefetch = prefetch, .size = size, .ops = ops,
		.opaque = opaque, .name = name, .mapped = GH_PCI_BAR_UNMAPPED };
	/* sizing: the address bits below the size read back 0 (6.2.5.1) */
	mask = ~(size - 1) & (kind == GH_PCI_BAR_IO ? ~3ULL : ~0xfULL);
	put_le(f->config + reg, 4, flags);
	gh_pci_set_wmask(f, reg, 4, (uint32_t)mask);
	if (kind == GH_PCI_BAR_MEM64)
		gh_pci_set_wmask(f, reg + 4, 4, mask >> 32);
	return 0;
}

/* A RAM BAR that could not be mapped as memory: accesses exit and land
 * here (the bus keeps off + size inside the BAR). */
static uint64_t ram_bar_read(void *opaque, uint64_t off, unsigned size)
{
	struct gh_pci_bar *b = opaque;
	uint64_t v = 0;

	memcpy(&v, (uint8_t *)b->ram + off, size);
	return v;
}

static void ram_bar_write(void *opaque, uint64_t off, uint64_t val,
			  unsigned size)
{
	struct gh_pci_bar *b = opaque;

	memcpy((uint8_t *)b->ram + off, &val, size);
}

static const struct gh_io_ops ram_bar_ops = {
	.read = ram_bar_read, .write = ram_bar_write,
};

int gh_pci_set_bar_ram(struct gh_pci_func *f, unsigned i, bool prefetch,
		       uint64_t size, void *hva, const char *name)
{
	int ret;

	if (!hva || i >= GH_PCI_NUM_BARS)
		return -EINVAL;
	ret = gh_pci_set_bar(f, i, GH_PCI_BAR_MEM32, prefetch, size,
			     &ram_bar_ops, &f->bars[i], name);
	if (ret < 0)
		return ret;
	f->bars[i].ram = hva;
	return 0;
}

int gh_pci_set_rom(struct gh_pci_func *f, const void *data, size_t len)
{
	uint64_t size = 2048;	/* the smallest ROM BAR, 6.2.5.2 */

	if (!data || !len || len > (16u << 20) || f->bars[GH_PCI_ROM_BAR].size)
		return -EINVAL;
	while (size < len)
		size <<= 1;
	f->rom = data;
	f->rom_len = len;
	f->bars[GH_PCI_ROM_BAR] = (struct gh_pci_bar){
		.kind = GH_PCI_BAR_MEM32, .size = size, .ops = &rom_ops,
		.opaque = f, .name = "pci-rom", .mapped = GH_PCI_BAR_UNMAPPED };
	/* address bits above the size, and the enable bit */
	gh_pci_set_wmask(f, GH_PCI_ROM_ADDRESS, 4, (uint32_t)~(size - 1) | 1);
	return 0;
}

int gh_pci_add_cap(struct gh_pci_func *f, unsigned off, uint8_t id,
		   unsigned len)
{
	if (off < 0x40 || off > 0xfc || (off & 3) || len < 2 ||
	    len > 256 - off)
		return -EINVAL;
	f->config[off] = id;
	f->config[off + 1] = 0;
	if (f->cap_last)
		f->config[f->cap_last + 1] = off;
	else
		f->config[GH_PCI_CAP_PTR] = off;
	f->cap_last = off;
	f->config[GH_PCI_STATUS] |= GH_PCI_STATUS_CAP_LIST;
	return off;
}

uint32_t gh_pci_config_read(struct gh_pci_func *f, unsigned off, unsigned size)
{
	if (off >= 256 || size > 256 - off)
		return UINT32_MAX;
	return get_le(f->config + off, size);
}

static bool overlaps(unsigned off, unsigned size, unsigned reg, unsigned len)
{
	return off < reg + len && reg < off + size;
}

void gh_pci_config_write(struct gh_pci_func *f, unsigned off, uint32_t val,
			 unsigned size)
{
	uint16_t old_cmd = cfg16(f, GH_PCI_COMMAND);
	uint32_t old_mask = 0;

	if (off >= 256 || size > 4 || size > 256 - off)
		return;
	if (f->msi && (msi_ctrl(f) & MSI_CTRL_MASK))
		old_mask = get_le(f->config + msi_mask_off(f), 4);
	for (unsigned i = 0; i < size; i++) {
		uint8_t v = val >> (8 * i);
		uint8_t *c = &f->config[off + i];

		*c = (*c & ~f->wmask[off + i]) | (v & f->wmask[off + i]);
		*c &= ~(v & f->w1cmask[off + i]);
	}
	if (overlaps(off, size, GH_PCI_BAR0, 4 * GH_PCI_NUM_BARS) ||
	    overlaps(off, size, GH_PCI_ROM_ADDRESS, 4) ||
	    (overlaps(off, size, GH_PCI_COMMAND, 2) &&
	     ((old_cmd ^ cfg16(f, GH_PCI_COMMAND)) &
	      (GH_PCI_CMD_IO | GH_PCI_CMD_MEMORY))))
		bars_update(f);
	if (overlaps(off, size, GH_PCI_COMMAND, 2) &&
	    ((old_cmd ^ cfg16(f, GH_PCI_COMMAND)) & GH_PCI_CMD_INTX_DISABLE))
		intx_update(f);
	if (f->msi && (msi_ctrl(f) & MSI_CTRL_MASK) &&
	    (old_mask & ~get_le(f->config + msi_mask_off(f), 4)))
		msi_unmasked(f);
	if (f->ops && f->ops->config_write)
		f->ops->config_write(f, off, val, size);
}

/* --- the bus and configuration mechanism #1 ------------------------------ */

struct gh_pci_func *gh_pci_find(struct gh_pci_bus *bus, unsigned devfn)
{
	return devfn < GH_PCI_MAX_DEVFN ? bus->funcs[devfn] : NULL;
}

/* The function and register CONFADD selects, or NULL (disabled, another
 * bus, or nothing there): then reads give all-ones and writes vanish. */
static struct gh_pci_func *selected(struct gh_pci_bus *bus, unsigned *reg)
{
	uint32_t a = bus->conf_addr;

	if (!(a & CONF_ENABLE) || ((a >> 16) & 0xff))
		return NULL;
	*reg = a & 0xfc;
	return bus->funcs[(a >> 8) & 0xff];
}

static uint64_t addr_read(void *opaque, uint64_t off, unsigned size)
{
	struct gh_pci_bus *bus = opaque;

	/* only dword accesses reach CONFADD (3.2.2.3.2) */
	return size == 4 ? bus->conf_addr : UINT64_MAX;
}

static void addr_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct gh_pci_bus *bus = opaque;

	if (size == 4)
		bus->conf_addr = val & CONF_MASK;
}

static const struct gh_io_ops addr_ops = {
	.read = addr_read, .write = addr_write, .wide = true,
};

static uint64_t data_read(void *opaque, uint64_t off, unsigned size)
{
	struct gh_pci_bus *bus = opaque;
	struct gh_pci_func *f;
	unsigned reg;

	f = selected(bus, &reg);
	if (!f)
		return UINT64_MAX;
	return gh_pci_config_read(f, reg + off, size);
}

static void data_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct gh_pci_bus *bus = opaque;
	struct gh_pci_func *f;
	unsigned reg;

	f = selected(bus, &reg);
	if (f)
		gh_pci_config_write(f, reg + off, val, size);
}

static const struct gh_io_ops data_ops = { .read = data_read, .write = data_write };

int gh_pci_bus_new(struct gh_vm *vm, struct gh_pci_bus **out,
		   struct gh_error *err)
{
	struct gh_pci_bus *bus = g_new0(struct gh_pci_bus, 1);
	struct gh_bus *pio = gh_vm_pio(vm);
	int ret;

	bus->vm = vm;
	ret = gh_bus_map(pio, CONF_ADDR_PORT, 1, &addr_ops, bus, "pci-conf-addr");
	if (ret < 0)
		goto err;
	bus->mapped++;
	ret = gh_bus_map(pio, CONF_DATA_PORT, 4, &data_ops, bus, "pci-conf-data");
	if (ret < 0)
		goto err;
	bus->mapped++;
	*out = bus;
	return 0;

err:
	gh_pci_bus_free(bus);
	return gh_error_set(err, ret, "pci: cannot claim ports 0xcf8 and 0xcfc");
}

void gh_pci_bus_free(struct gh_pci_bus *bus)
{
	if (!bus)
		return;
	for (unsigned d = 0; d < GH_PCI_MAX_DEVFN; d++)
		if (bus->funcs[d])
			gh_pci_unregister(bus->funcs[d]);
	if (bus->mapped > 1)
		gh_bus_unmap(gh_vm_pio(bus->vm), CONF_DATA_PORT);
	if (bus->mapped > 0)
		gh_bus_unmap(gh_vm_pio(bus->vm), CONF_ADDR_PORT);
	g_free(bus);
}

void gh_pci_bus_reset(struct gh_pci_bus *bus)
{
	bus->conf_addr = 0;
}

struct gh_vm *gh_pci_bus_vm(struct gh_pci_bus *bus)
{
	return bus->vm;
}

int gh_pci_register(struct gh_pci_bus *bus, struct gh_pci_func *f,
		    unsigned devfn)
{
	if (devfn >= GH_PCI_MAX_DEVFN || f->bus)
		return -EINVAL;
	if (bus->funcs[devfn])
		return -EBUSY;
	f->bus = bus;
	f->devfn = devfn;
	memcpy(f->reset_config, f->config, sizeof(f->config));
	bus->funcs[devfn] = f;
	gh_pci_func_reset(f);
	return 0;
}

void gh_pci_unregister(struct gh_pci_func *f)
{
	struct gh_pci_bus *bus = f->bus;

	if (!bus)
		return;
	gh_pci_set_irq(f, 0);
	for (unsigned i = 0; i <= GH_PCI_ROM_BAR; i++)
		bar_unmap(f, i);
	bus->funcs[f->devfn] = NULL;
	f->bus = NULL;
	f->devfn = -1;
}

void gh_pci_func_reset(struct gh_pci_func *f)
{
	if (!f->bus)
		return;
	memcpy(f->config, f->reset_config, sizeof(f->config));
	f->msi_pending = 0;
	f->intx = false;
	bars_update(f);
	intx_update(f);
}
