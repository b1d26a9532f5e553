/*
 * The bundled demo guest: a 64-bit Multiboot kernel that prints what it sees
 * of the machine (CPUID, the Multiboot memory map and command line, the
 * MC146818 RTC, the i8042, the COM ports, the 8254 PIT), then halts.
 * With "gh.test=1" on the command line it leaves through debug-exit instead
 * (0x30 when everything it probed answered as a PC should, 0x31 otherwise),
 * so tests need not wait for a timeout.
 */
#include "lib/guest.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define I8042_DATA 0x60
#define I8042_STATUS 0x64
#define PIT_CH0 0x40
#define PIT_CMD 0x43

void guest_main(uint32_t magic, uint32_t mbi_addr);

static void show_cpu(void)
{
	uint32_t r[4], brand[13], vendor[4];
	unsigned i;

	cpuid(0, 0, r);
	vendor[0] = r[1];
	vendor[1] = r[3];
	vendor[2] = r[2];
	vendor[3] = 0;
	printf("CPU vendor:   %s (max leaf 0x%x)\n", (const char *)vendor, r[0]);
	cpuid(1, 0, r);
	printf("CPU model:    family %u, model %u, stepping %u\n",
	       ((r[0] >> 8) & 0xf) + ((r[0] >> 20) & 0xff),
	       ((r[0] >> 4) & 0xf) | ((r[0] >> 12) & 0xf0), r[0] & 0xf);
	cpuid(0x80000000, 0, r);
	if (r[0] >= 0x80000004) {
		const char *s;

		for (i = 0; i < 3; i++)
			cpuid(0x80000002 + i, 0, brand + 4 * i);
		brand[12] = 0;
		for (s = (const char *)brand; *s == ' '; s++)
			;
		printf("CPU brand:    %s\n", *s ? s : "(empty)");
	} else {
		printf("CPU brand:    (no brand string)\n");
	}
}

static const char *mmap_type(uint32_t t)
{
	switch (t) {
	case 1: return "available";
	case 2: return "reserved";
	case 3: return "ACPI reclaimable";
	case 4: return "ACPI NVS";
	case 5: return "bad";
	}
	return "unknown";
}

static bool show_multiboot(uint32_t magic, const struct multiboot_info *mbi)
{
	uint64_t total = 0;
	bool ok = true;

	if (magic != MULTIBOOT_BOOT_MAGIC) {
		printf("FAIL: multiboot magic 0x%x\n", magic);
		return false;
	}
	if (mbi->flags & (1u << 9))
		printf("Boot loader:  %s\n", (const char *)(uintptr_t)mbi->boot_loader_name);
	if (mbi->flags & 1)
		printf("Memory:       %u KiB low, %u KiB above 1 MiB\n", mbi->mem_lower,
		       mbi->mem_upper);
	if (mbi->flags & (1u << 6)) {
		uintptr_t p = mbi->mmap_addr, end = p + mbi->mmap_length;
		unsigned n = 0;

		printf("Memory map:\n");
		while (p + sizeof(struct multiboot_mmap) <= end && n < 64) {
			const struct multiboot_mmap *e = (const void *)p;

			printf("  %016llx-%016llx %s\n", (unsigned long long)e->addr,
			       (unsigned long long)(e->addr + e->len - 1), mmap_type(e->type));
			if (e->type == 1)
				total += e->len;
			p += e->size + 4;
			n++;
		}
		printf("Total RAM:    %llu MiB (%llu KiB)\n",
		       (unsigned long long)(total >> 20), (unsigned long long)(total >> 10));
		ok = total > 0;
	} else {
		printf("Memory map:   not given by the boot loader\n");
		ok = false;
	}
	printf("Command line: \"%s\"\n", mbi->flags & (1u << 2) ?
	       (const char *)(uintptr_t)mbi->cmdline : "");
	return ok;
}

static uint8_t cmos_read(uint8_t reg)
{
	outb(CMOS_INDEX, reg);
	return inb(CMOS_DATA);
}

static unsigned from_bcd(uint8_t v, bool bcd)
{
	return bcd ? (v >> 4) * 10u + (v & 0x0fu) : v;
}

static bool show_rtc(void)
{
	static const uint8_t regs[7] = { 0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32 };
	uint8_t t[7], u[7], b = cmos_read(0x0b), hour;
	bool bcd = !(b & 0x04), pm;
	unsigned tries, spins, i;

	for (tries = 0; tries < 10; tries++) {
		for (spins = 0; spins < 1000000 && (cmos_read(0x0a) & 0x80); spins++)
			;
		for (i = 0; i < 7; i++)
			t[i] = cmos_read(regs[i]);
		for (spins = 0; spins < 1000000 && (cmos_read(0x0a) & 0x80); spins++)
			;
		for (i = 0; i < 7; i++)
			u[i] = cmos_read(regs[i]);
		if (!memcmp(t, u, sizeof(t)))
			break;
	}
	if (tries == 10) {
		printf("RTC:          time keeps changing while read\n");
		return false;
	}
	hour = t[2];
	pm = !(b & 0x02) && (hour & 0x80);
	hour &= 0x7f;
	printf("RTC:          %02u%02u-%02u-%02u %02u:%02u:%02u%s (%s, %s)\n",
	       t[6] ? from_bcd(t[6], bcd) : 20, from_bcd(t[5], bcd), from_bcd(t[4], bcd),
	       from_bcd(t[3], bcd), from_bcd(hour, bcd), from_bcd(t[1], bcd),
	       from_bcd(t[0], bcd), b & 0x02 ? "" : pm ? " PM" : " AM",
	       bcd ? "BCD" : "binary", b & 0x02 ? "24-hour" : "12-hour");
	return true;
}

/* i8042 self-test: command 0xAA answers 0x55 (IBM PC/AT Technical Reference). */
static bool show_ps2(void)
{
	unsigned spins;
	uint8_t v;

	for (spins = 0; spins < 64 && (inb(I8042_STATUS) & 0x01); spins++)
		inb(I8042_DATA);
	for (spins = 0; spins < 100000 && (inb(I8042_STATUS) & 0x02); spins++)
		;
	outb(I8042_STATUS, 0xaa);
	for (spins = 0; spins < 100000 && !(inb(I8042_STATUS) & 0x01); spins++)
		;
	if (spins == 100000) {
		printf("PS/2:         no controller (no answer to self-test)\n");
		return false;
	}
	v = inb(I8042_DATA);
	printf("PS/2:         controller self-test %s (0x%02x)\n",
	       v == 0x55 ? "passed" : "FAILED", v);
	return v == 0x55;
}

/* A 16550 keeps what is written to its scratch register; nothing there reads 0xff. */
static bool show_com(void)
{
	static const uint16_t ports[4] = { 0x3f8, 0x2f8, 0x3e8, 0x2e8 };
	bool com1 = false;
	unsigned i;

	for (i = 0; i < 4; i++) {
		uint16_t scr = ports[i] + 7;
		bool present;

		outb(scr, 0x5a);
		present = inb(scr) == 0x5a;
		outb(scr, 0xa5);
		present = present && inb(scr) == 0xa5;
		printf("COM%u (0x%03x): %s\n", i + 1, ports[i], present ? "present" : "absent");
		if (i == 0)
			com1 = present;
	}
	return com1;
}

static uint16_t pit_latch(void)
{
	uint8_t lo, hi;

	outb(PIT_CMD, 0x00);		/* latch channel 0 */
	lo = inb(PIT_CH0);
	hi = inb(PIT_CH0);
	return (uint16_t)(hi << 8 | lo);
}

static bool show_pit(void)
{
	uint16_t first, now = 0;
	unsigned i;

	outb(PIT_CMD, 0x34);		/* channel 0, lo/hi, mode 2 */
	outb(PIT_CH0, 0);		/* divisor 65536: 18.2 Hz */
	outb(PIT_CH0, 0);
	first = pit_latch();
	for (i = 0; i < 10000; i++) {
		now = pit_latch();
		if (now != first)
			break;
	}
	if (i == 10000) {
		printf("PIT:          channel 0 is not counting (stuck at 0x%04x)\n", first);
		return false;
	}
	printf("PIT:          channel 0 counting (0x%04x -> 0x%04x)\n", first, now);
	return true;
}

void guest_main(uint32_t magic, uint32_t mbi_addr)
{
	const struct multiboot_info *mbi = (const void *)(uintptr_t)mbi_addr;
	bool test, ok = true;

	uart_init(COM1);
	idt_init(0x08);
	printf("\nGuesthouse test guest\n=====================\n");
	show_cpu();
	ok &= show_multiboot(magic, mbi);
	ok &= show_rtc();
	ok &= show_ps2();
	ok &= show_com();
	ok &= show_pit();
	test = magic == MULTIBOOT_BOOT_MAGIC && (mbi->flags & (1u << 2)) &&
	       strstr((const char *)(uintptr_t)mbi->cmdline, "gh.test=1");
	if (test) {
		printf("info: %s\n", ok ? "SUCCESS" : "FAILURE");
		debug_exit(ok ? 0x30 : 0x31);
	}
	printf("\nThat is all. Press Ctrl-A x to quit.\n");
	halt_forever();
}
