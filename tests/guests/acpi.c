/*
 * guest-acpi: what a kernel's ACPI code does first, against our tables and
 * devices (ACPI 6.3 chapters 4 and 5, MP 1.4, IA-PC HPET 1.0a): finds the
 * RSDP by the BIOS-area scan, walks the root table checking every
 * checksum, reads the FADT, DSDT (\_S5), MADT and HPET tables and the MP
 * table, measures the PM timer against the PIT and the HPET counter
 * against the PM timer, then powers the machine off through PM1a_CNT with
 * \_S5's SLP_TYP, so the VMM exits 0. It parses rather than assumes, so the
 * same guest passes under QEMU with SeaBIOS's tables.
 * Exit: ACPI S5 poweroff when every check passes, debug-exit 0x71 otherwise.
 */
#include "lib/guest.h"

#define FAIL_CODE	0x71
#define PIT_HZ		1193182u
#define PIT_FS		838095345ull	/* femtoseconds per PIT tick */
#define PM_FS		279365115ull	/* per PM timer tick (3.579545 MHz) */
#define SLP_EN		(1u << 13)
#define SCI_EN		1u

void guest_main(uint32_t magic, uint32_t mbi);

static const uint8_t *phys(uint32_t a)
{
	/* hide the constant address from GCC's object-size checks */
	__asm__("" : "+r"(a));
	return (const uint8_t *)(uintptr_t)a;
}

static uint32_t r32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t r16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint8_t sum(const uint8_t *p, uint32_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

static inline void mmio_write32(uint32_t a, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)a = v;
}

static inline uint32_t mmio_read32(uint32_t a)
{
	return *(volatile uint32_t *)(uintptr_t)a;
}

static __attribute__((noreturn)) void fail_out(const char *why)
{
	printf("FAIL: %s\n", why);
	finish("guest-acpi", FAIL_CODE, FAIL_CODE);
}

/* 5.2.5.1: the first KiB of the EBDA, then 0xE0000-0xFFFFF, 16-byte steps */
static const uint8_t *find_rsdp(void)
{
	uint32_t ebda = (uint32_t)r16(phys(0x40e)) << 4;
	uint32_t a;

	if (ebda >= 0x80000 && ebda < 0xa0000)
		for (a = ebda; a < ebda + 1024; a += 16)
			if (!memcmp(phys(a), "RSD PTR ", 8) && !sum(phys(a), 20))
				return phys(a);
	for (a = 0xe0000; a < 0x100000; a += 16)
		if (!memcmp(phys(a), "RSD PTR ", 8) && !sum(phys(a), 20))
			return phys(a);
	return NULL;
}

static bool table_ok(const uint8_t *t)
{
	uint32_t len = r32(t + 4);

	return len >= 36 && len < (1u << 20) && sum(t, len) == 0;
}

static const uint8_t *tables[32];
static unsigned ntables;

/* The root table's entries: 8 bytes in an XSDT, 4 in an RSDT. */
static bool walk_root(const uint8_t *rsdp)
{
	const uint8_t *root;
	unsigned entry;

	if (rsdp[15] >= 2 && r32(rsdp + 24) && !r32(rsdp + 28)) {
		if (!check(sum(rsdp, r32(rsdp + 20)) == 0,
			   "RSDP: v2 with a valid extended checksum, or v0"))
			return false;
		root = phys(r32(rsdp + 24));
		entry = 8;
		if (memcmp(root, "XSDT", 4))
			return false;
	} else {
		printf("note: RSDP revision %u: using the RSDT\n", rsdp[15]);
		check(true, "RSDP: v2 with a valid extended checksum, or v0");
		root = phys(r32(rsdp + 16));
		entry = 4;
		if (memcmp(root, "RSDT", 4))
			return false;
	}
	if (!check(table_ok(root), "root table (XSDT, or RSDT before v2) checksum"))
		return false;
	ntables = (r32(root + 4) - 36) / entry;
	if (ntables > 32)
		ntables = 32;
	for (unsigned i = 0; i < ntables; i++) {
		const uint8_t *p = root + 36 + i * entry;

		/* below 4 GiB: a 32-bit guest without paging sees only that */
		if (entry == 8 && r32(p + 4))
			return false;
		tables[i] = phys(r32(p));
	}
	return true;
}

static const uint8_t *find(const char *sig)
{
	for (unsigned i = 0; i < ntables; i++)
		if (!memcmp(tables[i], sig, 4))
			return tables[i];
	return NULL;
}

/* Name(\_S5_, Package() { SLP_TYPa, ... }) in AML (20.2.5.1, 20.2.5.4) */
static int s5_slp_typ(const uint8_t *dsdt)
{
	uint32_t len = r32(dsdt + 4);

	for (uint32_t i = 38; i + 12 < len; i++) {
		const uint8_t *p = dsdt + i;
		unsigned extra;

		if (memcmp(p, "_S5_", 4) ||
		    !(p[-1] == 0x08 || (p[-1] == '\\' && p[-2] == 0x08)))
			continue;
		if (p[4] != 0x12)	/* PackageOp */
			continue;
		extra = p[5] >> 6;	/* PkgLength's extra bytes */
		p += 5 + 1 + extra + 1;	/* past PkgLength and NumElements */
		switch (p[0]) {
		case 0x00:
			return 0;
		case 0x01:
			return 1;
		case 0x0a:
			return p[1] & 7;
		default:
			return -1;
		}
	}
	return -1;
}

static void check_madt(const uint8_t *m)
{
	unsigned lapics = 0, ioapics = 0;
	bool irq0 = false;
	const uint8_t *p = m + 44, *end = m + r32(m + 4);

	for (; p + 2 <= end && p[1] >= 2; p += p[1]) {
		if (p[0] == 0 && (r32(p + 4) & 1))
			lapics++;
		else if (p[0] == 1)
			ioapics++;
		else if (p[0] == 2 && p[3] == 0 && r32(p + 4) == 2)
			irq0 = true;
	}
	check(p == end, "MADT entries fill the table exactly");
	check_eq(lapics, 1, "MADT: one enabled local APIC for the one CPU");
	check_eq(ioapics, 1, "MADT: one I/O APIC");
	check(irq0, "MADT: ISA IRQ 0 overridden to GSI 2");
	check_eq(r32(m + 36), 0xfee00000, "MADT: local APIC at 0xFEE00000");
}

static bool find_mp(void)
{
	for (uint32_t a = 0xf0000; a < 0x100000; a += 16) {
		const uint8_t *f = phys(a), *c;

		if (memcmp(f, "_MP_", 4) || sum(f, 16))
			continue;
		c = phys(r32(f + 4));
		return !memcmp(c, "PCMP", 4) && !sum(c, r16(c + 4));
	}
	return false;
}

/*
 * |a - b| within 5% of b, in femtoseconds; no 64-bit division here. The
 * clocks of one VM agree exactly; the margin is for a reference run whose
 * clocks follow a busy host's.
 */
static bool close(uint64_t a, uint64_t b)
{
	uint64_t d = a > b ? a - b : b - a;

	return d * 20 <= b;
}

static uint32_t pm_tmr, pm_mask;

static uint32_t pm_read(void)
{
	return inl(pm_tmr) & pm_mask;
}

static uint32_t pm_since(uint32_t p0)
{
	return (pm_read() - p0) & pm_mask;
}

/* Channel 2's count, latched (8254 counter latch command). */
static uint16_t pit2_read(void)
{
	uint8_t lo;

	outb(0x43, 0x80);
	lo = inb(0x42);
	return lo | inb(0x42) << 8;
}

/*
 * PIT channel 2 counts down from 0xffff (mode 0, 55 ms to run out) while
 * the PM timer runs for 20 ms; each clock is read right after the other at
 * both ends, so the time a read takes cancels out (as Linux calibrates).
 * Three tries: the reference run's host may stall a vCPU between two reads.
 */
static void check_pm_vs_pit(void)
{
	bool ok = false;

	outb(0x61, (inb(0x61) & ~0x02) | 0x01);
	for (unsigned attempt = 0; attempt < 3 && !ok; attempt++) {
		uint32_t p0, p1;
		uint16_t c0, c1;
		unsigned long spins = 0;

		outb(0x43, 0xb0);
		outb(0x42, 0xff);
		outb(0x42, 0xff);
		/* the count reaches the counter on the next PIT clock (838 ns):
		 * until then a read returns the old one */
		p0 = pm_read();
		while (pm_since(p0) < 4 && ++spins < 100000000ul)
			;
		c0 = pit2_read();
		p0 = pm_read();
		while (pm_since(p0) < 71591 && ++spins < 100000000ul)
			;
		c1 = pit2_read();
		p1 = (pm_read() - p0) & pm_mask;
		printf("PIT: %u ticks, PM timer: %u ticks\n", c0 - c1, p1);
		ok = c1 < c0 && close((uint64_t)p1 * PM_FS,
				      (uint64_t)(c0 - c1) * PIT_FS);
	}
	check(ok, "PM timer runs at 3.579545 MHz against the PIT (5%)");
}

static void check_hpet_vs_pm(const uint8_t *hpet_table)
{
	uint32_t base = r32(hpet_table + 44), period;
	bool ok = false;

	if (hpet_table[40] != 0 || r32(hpet_table + 48)) {
		check(false, "HPET registers in memory below 4 GiB");
		return;
	}
	check_eq(mmio_read32(base) & 0xffff00ff, r32(hpet_table + 36) & 0xffff00ff,
		 "HPET capabilities match the HPET table's block id");
	period = mmio_read32(base + 4);
	check(period > 0 && period <= 100000000u, "HPET period is valid");
	mmio_write32(base + 0x10, mmio_read32(base + 0x10) | 1);
	for (unsigned attempt = 0; attempt < 3 && !ok; attempt++) {
		uint32_t h0, h1, p0, p1;
		unsigned long spins = 0;

		h0 = mmio_read32(base + 0xf0);
		p0 = pm_read();
		while (pm_since(p0) < 71591 && ++spins < 100000000ul)
			;
		h1 = mmio_read32(base + 0xf0);
		p1 = (pm_read() - p0) & pm_mask;
		printf("HPET: %u ticks of %u fs, PM timer: %u ticks\n", h1 - h0,
		       period, p1);
		ok = close((uint64_t)(h1 - h0) * period, (uint64_t)p1 * PM_FS);
	}
	mmio_write32(base + 0x10, mmio_read32(base + 0x10) & ~1u);
	check(ok, "HPET counter rate matches its period against the PM timer (5%)");
}

void guest_main(uint32_t magic, uint32_t mbi)
{
	const uint8_t *rsdp, *fadt, *dsdt, *madt, *hpet;
	uint32_t pm1a_cnt, smi_cmd;
	bool all = true;
	int slp_typ;

	uart_init(COM1);
	guest_flags(mbi);
	printf("guest-acpi: ACPI and MP tables, PM timer, HPET, S5 poweroff\n");
	check_eq(magic, 0x2badb002, "multiboot magic in EAX");

	rsdp = find_rsdp();
	if (!check(rsdp != NULL, "RSDP found by the BIOS-area scan"))
		fail_out("no RSDP");
	if (!walk_root(rsdp))
		fail_out("no usable root table");
	for (unsigned i = 0; i < ntables; i++)
		all &= table_ok(tables[i]);
	check(ntables > 0 && all, "every table the root lists has a valid checksum");

	fadt = find("FACP");
	if (!check(fadt != NULL, "FADT listed"))
		fail_out("no FADT");
	dsdt = phys(r32(fadt + 40));
	check(!memcmp(dsdt, "DSDT", 4) && table_ok(dsdt), "DSDT checksum");
	check_eq(r16(fadt + 46), 9, "FADT: SCI on IRQ 9");
	pm1a_cnt = r32(fadt + 64);
	pm_tmr = r32(fadt + 76);
	check(pm1a_cnt && pm_tmr && fadt[89] >= 2 && fadt[91] == 4,
	      "FADT: PM1a control block and PM timer");
	pm_mask = (r32(fadt + 112) & (1u << 8)) ? 0xffffffffu : 0xffffffu;
	slp_typ = s5_slp_typ(dsdt);
	check(slp_typ >= 0, "DSDT: \\_S5 package with a SLP_TYP");

	madt = find("APIC");
	if (check(madt != NULL, "MADT listed"))
		check_madt(madt);
	check(find_mp(), "MP floating pointer and configuration table checksums");

	/* 4.8.2.1: OSPM takes the machine into ACPI mode if it is not there */
	smi_cmd = r32(fadt + 48);
	if (!(inw(pm1a_cnt) & SCI_EN) && smi_cmd && fadt[52])
		outb(smi_cmd, fadt[52]);
	for (unsigned long i = 0; i < 10000000ul && !(inw(pm1a_cnt) & SCI_EN); i++)
		;
	check(inw(pm1a_cnt) & SCI_EN, "in ACPI mode: PM1a_CNT.SCI_EN set");

	check_pm_vs_pit();
	hpet = find("HPET");
	if (check(hpet != NULL, "HPET table listed"))
		check_hpet_vs_pm(hpet);

	if (checks_failed || slp_typ < 0)
		finish("guest-acpi", FAIL_CODE, FAIL_CODE);
	printf("guest-acpi: %u checks passed, 0 failed: SUCCESS\n", checks_passed);
	printf("powering off through PM1a_CNT (S5, SLP_TYP %d)\n", slp_typ);
	outw(pm1a_cnt, (uint16_t)(slp_typ << 10) | SLP_EN);
	for (unsigned long i = 0; i < 100000000ul; i++)
		__asm__ volatile("pause");
	fail_out("still running after the S5 request");
}
