/*
 * guest-pci: PCI bus 0 as firmware and kernels probe it through
 * configuration mechanism #1 (PCI 3.0, 3.2.2.3.2): CONFADD at 0xCF8 (dword
 * only, bit 31 enable) and CONFDATA at 0xCFC-0xCFF. Enumerates every
 * device and function, sizes every BAR the way a kernel does (decode off,
 * all-ones, read back, restore) and prints what it found; checks the
 * answers real chipsets give: absent functions and a disabled mechanism
 * read all-ones, byte and word reads at any offset, read-only IDs, W1C
 * status, the i440FX and PIIX3 IDs, PIRQRC and the ELCR. It asserts only
 * what holds on QEMU's pc machine (with SeaBIOS having run) as well.
 * Exit: debug-exit 0x72 when every check passes, 0x73 otherwise.
 */
#include "lib/guest.h"

#define OK_CODE		0x72
#define FAIL_CODE	0x73
#define CONF_ADDR	0xcf8
#define CONF_DATA	0xcfc
#define I440FX		GH_DEVFN(0, 0)
#define PIIX		GH_DEVFN(1, 0)
#define GH_DEVFN(d, f)	((d) << 3 | (f))

void guest_main(uint32_t magic, uint32_t mbi);

static uint32_t conf_addr(unsigned bus, unsigned devfn, unsigned reg)
{
	return 0x80000000u | bus << 16 | devfn << 8 | (reg & 0xfc);
}

static uint32_t cfg_read32(unsigned devfn, unsigned reg)
{
	outl(CONF_ADDR, conf_addr(0, devfn, reg));
	return inl(CONF_DATA);
}

static uint16_t cfg_read16(unsigned devfn, unsigned reg)
{
	outl(CONF_ADDR, conf_addr(0, devfn, reg));
	return inw(CONF_DATA + (reg & 2));
}

static uint8_t cfg_read8(unsigned devfn, unsigned reg)
{
	outl(CONF_ADDR, conf_addr(0, devfn, reg));
	return inb(CONF_DATA + (reg & 3));
}

static void cfg_write32(unsigned devfn, unsigned reg, uint32_t v)
{
	outl(CONF_ADDR, conf_addr(0, devfn, reg));
	outl(CONF_DATA, v);
}

static void cfg_write16(unsigned devfn, unsigned reg, uint16_t v)
{
	outl(CONF_ADDR, conf_addr(0, devfn, reg));
	outw(CONF_DATA + (reg & 2), v);
}

static void cfg_write8(unsigned devfn, unsigned reg, uint8_t v)
{
	outl(CONF_ADDR, conf_addr(0, devfn, reg));
	outb(CONF_DATA + (reg & 3), v);
}

static void print_size(uint64_t size)
{
	if (size >= (1u << 20))
		printf("%u MiB", (unsigned)(size >> 20));
	else if (size >= 1024)
		printf("%u KiB", (unsigned)(size >> 10));
	else
		printf("%u bytes", (unsigned)size);
}

/*
 * Sizes BAR i (6.2.5.1) with decoding off, restores it; false if the
 * answer is not a power of two or the BAR does not come back. *next is
 * the BAR after it (a 64-bit BAR takes two).
 */
static bool size_bar(unsigned devfn, unsigned i, unsigned *next)
{
	unsigned reg = 0x10 + 4 * i;
	uint16_t cmd = cfg_read16(devfn, 4);
	uint32_t old = cfg_read32(devfn, reg), old_hi = 0, lo, hi = 0;
	uint64_t mask, size;
	bool io = old & 1, is64 = !io && (old & 6) == 4, ok;

	*next = i + (is64 ? 2 : 1);
	cfg_write16(devfn, 4, cmd & ~3u);
	cfg_write32(devfn, reg, 0xffffffff);
	lo = cfg_read32(devfn, reg);
	if (is64) {
		old_hi = cfg_read32(devfn, reg + 4);
		cfg_write32(devfn, reg + 4, 0xffffffff);
		hi = cfg_read32(devfn, reg + 4);
		cfg_write32(devfn, reg + 4, old_hi);
	}
	cfg_write32(devfn, reg, old);
	cfg_write16(devfn, 4, cmd);
	if (!lo && !hi)
		return true;		/* not implemented */
	/* an I/O BAR may decode only 16 bits (the upper half reads 0) */
	mask = io ? (lo & ~3u) | 0xffff0000u : (uint64_t)hi << 32 | (lo & ~0xfu);
	if (!is64)
		mask |= 0xffffffff00000000ull;
	size = ~mask + 1;
	printf("  %02x.%u BAR%u: %s%s%s, ", devfn >> 3, devfn & 7, i,
	       io ? "I/O" : "memory", is64 ? " 64-bit" : "",
	       !io && (old & 8) ? " prefetchable" : "");
	print_size(size);
	printf("\n");
	ok = size && !(size & (size - 1));
	ok = ok && cfg_read32(devfn, reg) == old &&
	     (!is64 || cfg_read32(devfn, reg + 4) == old_hi);
	return ok;
}

/* Every function on bus 0, its IDs and its BARs. */
static void enumerate(void)
{
	unsigned found = 0;
	bool bars_ok = true;

	for (unsigned dev = 0; dev < 32; dev++) {
		for (unsigned fn = 0; fn < 8; fn++) {
			unsigned devfn = GH_DEVFN(dev, fn);
			uint32_t id = cfg_read32(devfn, 0);
			uint32_t class = cfg_read32(devfn, 8);
			uint8_t hdr;

			if ((id & 0xffff) == 0xffff) {
				if (fn == 0)
					break;
				continue;
			}
			hdr = cfg_read8(devfn, 0x0e);
			found++;
			printf("found %02x.%u %04x:%04x class %06x header %02x\n",
			       dev, fn, (unsigned)(id & 0xffff),
			       (unsigned)(id >> 16), (unsigned)(class >> 8), hdr);
			for (unsigned i = 0; (hdr & 0x7f) == 0 && i < 6;)
				bars_ok &= size_bar(devfn, i, &i);
			if (fn == 0 && !(hdr & 0x80))
				break;
		}
	}
	check(found >= 2, "enumerated bus 0: two functions or more");
	check(bars_ok, "every BAR sizes to a power of two and is restored");
}

void guest_main(uint32_t magic, uint32_t mbi)
{
	uint32_t v;
	uint16_t sts;
	uint8_t pirq, elcr0, elcr1;

	uart_init(COM1);
	guest_flags(mbi);
	printf("guest-pci: configuration mechanism #1, enumeration, BAR sizing\n");
	check_eq(magic, 0x2badb002, "multiboot magic in EAX");

	/* CONFADD: a dword register; bits 1:0 read 0 (QEMU keeps them) */
	outl(CONF_ADDR, 0x80000000u | 0x13);
	v = inl(CONF_ADDR);
	check_sdm(v == 0x80000010u, "CONFADD reads back, bits 1:0 as 0");
	outb(CONF_ADDR, 0x55);
	check_eq(inl(CONF_ADDR), v, "a byte write does not reach CONFADD");

	check_eq(cfg_read32(I440FX, 0), 0x12378086, "00:00.0 is the i440FX (8086:1237)");
	check_eq(cfg_read32(I440FX, 8) >> 8, 0x060000, "00:00.0 is a host bridge (06.00.00)");
	check_eq(cfg_read32(PIIX, 0), 0x70008086, "00:01.0 is the PIIX3 (8086:7000)");
	check_eq(cfg_read32(PIIX, 8) >> 8, 0x060100, "00:01.0 is an ISA bridge (06.01.00)");
	check(cfg_read8(PIIX, 0x0e) & 0x80, "00:01.0 is a multi-function device");

	/* byte and word accesses at every offset of the dword */
	v = cfg_read32(I440FX, 0);
	check(cfg_read8(I440FX, 1) == ((v >> 8) & 0xff) &&
	      cfg_read8(I440FX, 2) == ((v >> 16) & 0xff) &&
	      cfg_read8(I440FX, 3) == v >> 24 &&
	      cfg_read16(I440FX, 2) == v >> 16,
	      "byte and word reads at offsets 1-3 match the dword");
	/* inside the dword, as the chipset's byte enables allow (QEMU
	 * refuses unaligned accesses to its data port) */
	outl(CONF_ADDR, conf_addr(0, I440FX, 0));
	check_sdm(inw(CONF_DATA + 1) == ((v >> 8) & 0xffff), "a word read at offset 1");

	check_eq(cfg_read32(GH_DEVFN(31, 0), 0), 0xffffffff,
		 "an absent device reads all-ones");
	outl(CONF_ADDR, conf_addr(1, 0, 0));
	check_eq(inl(CONF_DATA), 0xffffffff, "bus 1 (no bridges) reads all-ones");
	outl(CONF_ADDR, I440FX << 8);
	check_eq(inl(CONF_DATA), 0xffffffff,
		 "with bit 31 clear CONFDATA is not a configuration read");

	/* read-only and write-1-to-clear fields */
	cfg_write32(I440FX, 0, 0);
	check_eq(cfg_read32(I440FX, 0), 0x12378086, "vendor and device IDs are read-only");
	sts = cfg_read16(I440FX, 6);
	cfg_write16(I440FX, 6, 0xffff);
	check_eq(cfg_read16(I440FX, 6), sts & ~0xf900u,
		 "writing ones to status clears only its error bits");
	cfg_write32(I440FX, 0x10, 0xffffffff);
	check_eq(cfg_read32(I440FX, 0x10), 0, "00:00.0 has no BAR0 (reads 0 after ones)");

	/* PIRQRC[A] (0x60): IRQ number and disable bit */
	pirq = cfg_read8(PIIX, 0x60);
	cfg_write8(PIIX, 0x60, 0x0b);
	check_eq(cfg_read8(PIIX, 0x60), 0x0b, "PIIX3 PIRQRC[A] takes IRQ 11");
	cfg_write8(PIIX, 0x60, 0x80);
	check_eq(cfg_read8(PIIX, 0x60), 0x80, "PIIX3 PIRQRC[A] disables");
	cfg_write8(PIIX, 0x60, pirq);

	/* ELCR: IRQ 0-2, 8 and 13 are always edge */
	elcr0 = inb(0x4d0);
	elcr1 = inb(0x4d1);
	outb(0x4d0, 0xff);
	outb(0x4d1, 0xff);
	check_eq(inb(0x4d0) | inb(0x4d1) << 8, 0xdef8, "ELCR: IRQ 0-2, 8, 13 stay edge");
	outb(0x4d0, elcr0);
	outb(0x4d1, elcr1);

	enumerate();
	finish("guest-pci", OK_CODE, FAIL_CODE);
}
