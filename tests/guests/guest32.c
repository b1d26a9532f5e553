/*
 * guest32: 32-bit protected mode on our own GDT and IDT (Intel SDM vol. 3,
 * chapters 3-6): exceptions with their vectors and error codes; paging in
 * both 32-bit formats (4.3 with 4 KiB and 4 MiB pages, 4.4 PAE with 4 KiB
 * and 2 MiB pages), accessed/dirty bits, #PF with CR2 and error code,
 * INVLPG; the 8259A PIC remapped to 0x20/0x28, with the 8254 PIT in mode 2
 * at 1000 Hz and the MC146818 RTC's periodic interrupt as each other's
 * watchdog; the RTC's time read with the update-in-progress protocol.
 * Exit: debug-exit 0x20 when every check passes, 0x21 otherwise.
 */
#include "lib/guest.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1
#define PIC_EOI 0x20
#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define PIT_HZ 1193182u
#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71

#define PTE_P 0x001
#define PTE_W 0x002
#define PTE_A 0x020
#define PTE_D 0x040
#define PDE_PS 0x080

#define TEST_VA 0x40000000u	/* page table pt_test */
#define BIG_VA 0x80000000u	/* one large page onto physical 0 */

void guest_main(uint32_t magic, uint32_t mbi);

extern const uint64_t gdt[];

static uint32_t pgdir[1024] __attribute__((aligned(4096)));
static uint32_t pt_low[1024] __attribute__((aligned(4096)));
static uint32_t pt_test[1024] __attribute__((aligned(4096)));
static uint32_t page_a[1024] __attribute__((aligned(4096)));
static uint32_t page_b[1024] __attribute__((aligned(4096)));

static volatile unsigned pit_ticks, rtc_ticks, other_irqs;
static volatile uint8_t isr_in_handler = 0xff, isr_after_eoi = 0xff;

static uint8_t cmos_read(uint8_t reg)
{
	outb(CMOS_INDEX, reg);
	return inb(CMOS_DATA);
}

static void cmos_write(uint8_t reg, uint8_t v)
{
	outb(CMOS_INDEX, reg);
	outb(CMOS_DATA, v);
}

static void test_gdt(void)
{
	struct {
		uint16_t limit;
		uint32_t base;
	} __attribute__((packed)) g;
	uint16_t es;
	unsigned long ip;

	__asm__ volatile("sgdt %0" : "=m"(g));
	check(g.limit == 5 * 8 - 1 && g.base == (uint32_t)(uintptr_t)gdt,
	      "SGDT returns our GDT");

	/* a selector past the GDT limit: #GP with the selector as error code */
	trap_expect.count = 0;
	__asm__ volatile("movl $1f, trap_expect\n\t"
			 "movl $2f, %0\n\t"
			 "movw $0x48, %%ax\n"
			 "2:\tmovw %%ax, %%es\n"
			 "1:\tmovw %%es, %1"
			 : "=m"(ip), "=r"(es) : : "eax", "memory");
	check(trap_expect.count == 1 && trap_expect.vector == 13 &&
	      trap_expect.error == 0x48 && trap_expect.ip == ip,
	      "#GP with the selector as error code for a selector past the GDT limit");
	check_eq(es, 0x10, "faulting segment load left ES unchanged");
}

/*
 * "gh.kvm-quirks=1": the nested KVM of our CI machines emulates guest
 * supervisor code with KVM's instruction emulator, which cannot do INT n,
 * INT3 or IRET in protected mode (it stops the VM), and it refuses to turn
 * paging on outside long mode (#GP on the write to CR0). The runner asks
 * for this there; everywhere else the guest uses and checks all of it.
 */
static bool kvm_quirks;

static void test_exceptions(void)
{
	unsigned long ip, resume;
	uint32_t eax = 0;

	trap_expect.count = 0;
	__asm__ volatile("movl $1f, trap_expect\n\t"
			 "movl $2f, %0\n\t"
			 "movl $1, %%eax\n\t"
			 "xorl %%edx, %%edx\n\t"
			 "xorl %%ecx, %%ecx\n"
			 "2:\tdivl %%ecx\n"
			 "1:"
			 : "=m"(ip) : : "eax", "ecx", "edx", "memory");
	check(trap_expect.count == 1 && trap_expect.vector == 0 &&
	      trap_expect.error == 0 && trap_expect.ip == ip,
	      "#DE at the DIV by zero");

	trap_expect.count = 0;
	__asm__ volatile("movl $1f, trap_expect\n\t"
			 "movl $2f, %0\n"
			 "2:\tud2\n"
			 "1:"
			 : "=m"(ip) : : "memory");
	check(trap_expect.count == 1 && trap_expect.vector == 6 && trap_expect.ip == ip,
	      "#UD at UD2");

	if (kvm_quirks) {
		printf("SKIP: INT3 checks (gh.kvm-quirks=1)\n");
		return;
	}

	/* a trap: the saved EIP is the next instruction */
	trap_expect.count = 0;
	__asm__ volatile("movl $1f, trap_expect\n\t"
			 "movl $1f, %0\n\t"
			 "int3\n"
			 "1:"
			 : "=m"(resume) : : "memory");
	check(trap_expect.count == 1 && trap_expect.vector == 3 && trap_expect.ip == resume,
	      "#BP from INT3 saves the next EIP");

	/* no fault: the stub must preserve every register across IRET */
	trap_expect.count = 0;
	__asm__ volatile("movl $1f, trap_expect\n\t"
			 "movl $0x5a5a1234, %%eax\n\t"
			 "int3\n"
			 "1:"
			 : "=a"(eax) : : "memory");
	check_eq(eax, 0x5a5a1234, "registers preserved across an exception");
}

static void fault_at(volatile uint32_t *p, bool write, unsigned long *ip)
{
	trap_expect.count = 0;
	if (write)
		__asm__ volatile("movl $1f, trap_expect\n\t"
				 "movl $2f, %0\n"
				 "2:\tmovl $7, (%1)\n"
				 "1:"
				 : "=m"(*ip) : "r"(p) : "memory");
	else
		__asm__ volatile("movl $1f, trap_expect\n\t"
				 "movl $2f, %0\n"
				 "2:\tmovl (%1), %%eax\n"
				 "1:"
				 : "=m"(*ip) : "r"(p) : "eax", "memory");
}

static bool pf_is(uint32_t cr2, uint32_t err, unsigned long ip)
{
	if (trap_expect.count == 1 && trap_expect.vector == 14 && trap_expect.cr2 == cr2 &&
	    trap_expect.error == err && trap_expect.ip == ip)
		return true;
	printf("  #PF: count %u vector %lu cr2 0x%lx error 0x%lx ip 0x%lx (want cr2 0x%x "
	       "error 0x%x ip 0x%lx)\n", trap_expect.count, trap_expect.vector,
	       trap_expect.cr2, trap_expect.error, trap_expect.ip, cr2, err, ip);
	return false;
}

/*
 * Both paging formats (SDM vol. 3, 4.3 and 4.4): 4-byte entries, or 8-byte
 * ones with PAE. The same page-sized arrays serve both.
 */
struct paging {
	bool pae;
	const char *name;
};

static uint64_t pdpt[4] __attribute__((aligned(32)));
static uint32_t pd_test[1024] __attribute__((aligned(4096)));
static uint32_t pd_big[1024] __attribute__((aligned(4096)));

static void set_entry(const struct paging *pg, void *table, unsigned i, uint32_t v)
{
	if (pg->pae)
		((volatile uint64_t *)table)[i] = v;
	else
		((volatile uint32_t *)table)[i] = v;
}

static uint32_t get_entry(const struct paging *pg, const void *table, unsigned i)
{
	return pg->pae ? (uint32_t)((const volatile uint64_t *)table)[i]
		       : ((const volatile uint32_t *)table)[i];
}

/* The page directory, and the index in it, that maps va. */
static void *pde_table(const struct paging *pg, uint32_t va, unsigned *i)
{
	if (!pg->pae) {
		*i = va >> 22;
		return pgdir;
	}
	*i = (va >> 21) & 511;
	switch (va >> 30) {
	case 0:
		return pgdir;
	case 1:
		return pd_test;
	default:
		return pd_big;
	}
}

static void build_tables(const struct paging *pg)
{
	unsigned i, n = pg->pae ? 512 : 1024, slot;
	void *pd;

	memset(pgdir, 0, sizeof(pgdir));
	memset(pt_low, 0, sizeof(pt_low));
	memset(pt_test, 0, sizeof(pt_test));
	memset(pd_test, 0, sizeof(pd_test));
	memset(pd_big, 0, sizeof(pd_big));
	for (i = 0; i < n; i++)
		set_entry(pg, pt_low, i, i << 12 | PTE_P | PTE_W);
	if (pg->pae) {
		/* PDPTEs have no R/W or U/S bit: those are reserved there */
		pdpt[0] = (uint32_t)(uintptr_t)pgdir | PTE_P;
		pdpt[1] = (uint32_t)(uintptr_t)pd_test | PTE_P;
		pdpt[2] = (uint32_t)(uintptr_t)pd_big | PTE_P;
		pdpt[3] = 0;
	}
	set_entry(pg, pgdir, 0, (uint32_t)(uintptr_t)pt_low | PTE_P | PTE_W);
	pd = pde_table(pg, TEST_VA, &slot);
	set_entry(pg, pd, slot, (uint32_t)(uintptr_t)pt_test | PTE_P | PTE_W);
	pd = pde_table(pg, BIG_VA, &slot);
	set_entry(pg, pd, slot, 0 | PDE_PS | PTE_P | PTE_W);
	set_entry(pg, pt_test, 0, (uint32_t)(uintptr_t)page_a | PTE_P | PTE_W);
	set_entry(pg, pt_test, 1, (uint32_t)(uintptr_t)page_b | PTE_P);	/* read-only */
	set_entry(pg, pt_test, 2, 0);					/* not present */
}

static void paging_off(void)
{
	__asm__ volatile("mov %%cr0, %%eax\n\t"
			 "andl $0x7fffffff, %%eax\n\t"
			 "mov %%eax, %%cr0\n\t"
			 "jmp 1f\n"
			 "1:\tmov %%cr4, %%eax\n\t"
			 "andl $~0x30, %%eax\n\t"		/* PSE, PAE */
			 "mov %%eax, %%cr4"
			 : : : "eax", "memory");
}

/* Turns paging on; false if the CPU refused with #GP. */
static bool paging_on(const struct paging *pg)
{
	uint32_t cr3 = pg->pae ? (uint32_t)(uintptr_t)pdpt : (uint32_t)(uintptr_t)pgdir;
	uint32_t cr4 = (uint32_t)read_cr4() | (pg->pae ? 0x20 : 0x10);	/* PAE or PSE */

	trap_expect.count = 0;
	__asm__ volatile("mov %0, %%cr3\n\t"
			 "mov %1, %%cr4\n\t"
			 "movl $1f, trap_expect\n\t"
			 "mov %%cr0, %%eax\n\t"
			 "orl $0x80010000, %%eax\n\t"	/* PG, WP */
			 "mov %%eax, %%cr0\n\t"
			 "jmp 1f\n"
			 "1:\tmovl $0, trap_expect"
			 : : "r"(cr3), "r"(cr4) : "eax", "memory");
	return trap_expect.count == 0;
}

/* "<format>: <what>", valid until the next call */
static const char *named(const struct paging *pg, const char *what)
{
	static char buf[128];
	size_t n = strlen(pg->name), w = strlen(what);

	if (n + 2 + w >= sizeof(buf))
		return what;
	memcpy(buf, pg->name, n);
	buf[n++] = ':';
	buf[n++] = ' ';
	memcpy(buf + n, what, w + 1);
	return buf;
}

static void test_paging(const struct paging *pg)
{
	volatile uint32_t *va = (volatile uint32_t *)TEST_VA;
	uint32_t cr3 = pg->pae ? (uint32_t)(uintptr_t)pdpt : (uint32_t)(uintptr_t)pgdir;
	unsigned long ip;
	unsigned slot = 0;
	void *pde = pde_table(pg, TEST_VA, &slot);

	page_a[0] = 0;
	page_b[0] = 0;
	page_b[2] = 0xb0b0b0b0;
	build_tables(pg);
	if (!paging_on(pg)) {
		paging_off();
		if (kvm_quirks) {
			printf("SKIP: %s: this KVM refuses CR0.PG outside long mode (#GP)\n",
			       pg->name);
			return;
		}
		printf("FAIL: %s: #GP when turning paging on (error 0x%lx)\n", pg->name,
		       trap_expect.error);
		checks_failed++;
		return;
	}
	check((read_cr0() & 0x80010001) == 0x80010001 && read_cr3() == cr3,
	      named(pg, "paging on (CR0.PG, CR0.WP, CR3)"));

	va[0] = 0x12345678;
	check_eq(page_a[0], 0x12345678, named(pg, "write through a 4 KiB page reaches its frame"));
	check_eq(get_entry(pg, pt_test, 0) & (PTE_A | PTE_D), PTE_A | PTE_D,
		 named(pg, "PTE accessed and dirty set"));
	check_eq(get_entry(pg, pde, slot) & PTE_A, PTE_A, named(pg, "PDE accessed set"));
	check_eq(va[1024 + 2], 0xb0b0b0b0, named(pg, "read through a read-only page"));
	check_eq(get_entry(pg, pt_test, 1) & (PTE_A | PTE_D), PTE_A,
		 named(pg, "read sets accessed, not dirty"));
	check_eq(*(volatile uint32_t *)(BIG_VA + (uintptr_t)page_a), 0x12345678,
		 named(pg, pg->pae ? "read through a 2 MiB page" : "read through a 4 MiB page"));

	fault_at(va + 2048, true, &ip);
	check(pf_is(TEST_VA + 8192, 0x2, ip),
	      named(pg, "#PF write to a not-present page: CR2, error 0x2"));
	fault_at(va + 2048 + 1, false, &ip);
	check(pf_is(TEST_VA + 8196, 0x0, ip),
	      named(pg, "#PF read of a not-present page: CR2, error 0x0"));
	fault_at(va + 1024 + 2, true, &ip);
	check(pf_is(TEST_VA + 4104, 0x3, ip),
	      named(pg, "#PF write to a read-only page with CR0.WP: CR2, error 0x3"));
	check_eq(page_b[2], 0xb0b0b0b0, named(pg, "the faulting write did not happen"));

	/* remap, and INVLPG must drop the old translation */
	page_b[0] = 0xbbbbbbbb;
	set_entry(pg, pt_test, 0, (uint32_t)(uintptr_t)page_b | PTE_P | PTE_W);
	__asm__ volatile("invlpg (%0)" : : "r"(TEST_VA) : "memory");
	check_eq(va[0], 0xbbbbbbbb, named(pg, "INVLPG after remapping a page"));

	paging_off();
	check(!(read_cr0() & 0x80000000), named(pg, "paging off again"));
}

static bool irq_hook(struct trap_frame *f)
{
	switch (f->vector) {
	case 0x20:
		if (pit_ticks++ == 0) {
			outb(PIC1_CMD, 0x0b);		/* OCW3: read ISR */
			isr_in_handler = inb(PIC1_CMD);
			outb(PIC1_CMD, PIC_EOI);
			isr_after_eoi = inb(PIC1_CMD);
			outb(PIC1_CMD, 0x0a);		/* back to IRR */
			return true;
		}
		outb(PIC1_CMD, PIC_EOI);
		return true;
	case 0x28:
		rtc_ticks++;
		cmos_read(0x0c);			/* acknowledges the RTC */
		outb(PIC2_CMD, PIC_EOI);
		outb(PIC1_CMD, PIC_EOI);
		return true;
	case 0x27:
	case 0x2f:
		other_irqs++;				/* spurious: no EOI */
		return true;
	}
	if (f->vector > 0x20 && f->vector < 0x30) {
		other_irqs++;
		if (f->vector >= 0x28)
			outb(PIC2_CMD, PIC_EOI);
		outb(PIC1_CMD, PIC_EOI);
		return true;
	}
	return false;
}

static void pic_init(void)
{
	outb(PIC1_CMD, 0x11);		/* ICW1: edge, cascade, ICW4 follows */
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, 0x20);		/* ICW2: vector base */
	outb(PIC2_DATA, 0x28);
	outb(PIC1_DATA, 0x04);		/* ICW3: slave on IRQ2 */
	outb(PIC2_DATA, 0x02);
	outb(PIC1_DATA, 0x01);		/* ICW4: 8086 mode */
	outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
}

/* HLT until cond() or the bound; interrupts on only while waiting. */
static void wait_irqs(bool (*done)(void), unsigned max_halts)
{
	unsigned i;

	for (i = 0; i < max_halts && !done(); i++)
		__asm__ volatile("sti; hlt; cli" : : : "memory");
}

#define WANT_PIT_TICKS 10
#define WATCHDOG_RTC_TICKS 3

static bool pit_done(void)
{
	return pit_ticks >= WANT_PIT_TICKS || rtc_ticks >= WATCHDOG_RTC_TICKS;
}

static bool rtc_done(void)
{
	return rtc_ticks >= 2 || pit_ticks >= 1500;
}

static void test_timers(void)
{
	uint16_t div = (PIT_HZ + 500) / 1000;
	uint8_t a, b;

	trap_hook = irq_hook;
	pic_init();
	outb(PIC1_DATA, 0xfa);		/* IRQ0 and the cascade */
	outb(PIC2_DATA, 0xfe);		/* IRQ8 */
	check(inb(PIC1_DATA) == 0xfa && inb(PIC2_DATA) == 0xfe, "PIC IMR reads back");

	/* the RTC's periodic interrupt at 2 Hz watches the PIT */
	a = cmos_read(0x0a);
	cmos_write(0x0a, (a & 0xf0) | 0x0f);
	b = cmos_read(0x0b);
	cmos_write(0x0b, b | 0x40);
	cmos_read(0x0c);

	outb(PIT_CMD, 0x34);		/* channel 0, lo/hi, mode 2, binary */
	outb(PIT_CH0, div & 0xff);
	outb(PIT_CH0, div >> 8);

	wait_irqs(pit_done, 100000);
	printf("  PIT ticks %u, RTC ticks %u, other IRQs %u\n", pit_ticks, rtc_ticks,
	       other_irqs);
	check(pit_ticks >= WANT_PIT_TICKS, "PIT IRQ0 at vector 0x20 (10 ticks at 1000 Hz)");
	check(isr_in_handler != 0xff && (isr_in_handler & 1),
	      "PIC ISR bit 0 set while IRQ0 is serviced");
	check(isr_after_eoi != 0xff && !(isr_after_eoi & 1), "EOI clears PIC ISR bit 0");

	/* now the other way round: 1024 Hz RTC, the PIT as watchdog */
	cmos_write(0x0a, (a & 0xf0) | 0x06);
	cmos_read(0x0c);
	rtc_ticks = 0;
	pit_ticks = 1;
	wait_irqs(rtc_done, 100000);
	printf("  RTC ticks %u, PIT ticks %u\n", rtc_ticks, pit_ticks);
	check(rtc_ticks >= 2, "RTC periodic interrupt through the slave PIC at vector 0x28");

	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
	cmos_write(0x0b, b & ~0x40);
	cmos_write(0x0a, a);
	cmos_read(0x0c);
	check_eq(other_irqs, 0, "no other or spurious interrupts");
}

static bool bcd_ok(uint8_t v, uint8_t max)
{
	return (v & 0x0f) <= 9 && (v >> 4) <= 9 && ((v >> 4) * 10 + (v & 0x0f)) <= max;
}

static unsigned bin(uint8_t v, bool bcd)
{
	return bcd ? (v >> 4) * 10u + (v & 0x0fu) : v;
}

static void test_rtc(void)
{
	static const uint8_t regs[6] = { 0x00, 0x02, 0x04, 0x07, 0x08, 0x09 };
	uint8_t t[6], u[6], b, hour;
	unsigned spins, tries, i;
	bool bcd, valid;

	check(cmos_read(0x0d) & 0x80, "RTC register D: valid RAM and time (VRT)");
	b = cmos_read(0x0b);
	check(!(b & 0x80), "RTC is updating (register B SET clear)");
	bcd = !(b & 0x04);

	/* read twice between updates until both reads agree */
	for (tries = 0; tries < 10; tries++) {
		for (spins = 0; spins < 1000000 && (cmos_read(0x0a) & 0x80); spins++)
			;
		for (i = 0; i < 6; i++)
			t[i] = cmos_read(regs[i]);
		for (spins = 0; spins < 1000000 && (cmos_read(0x0a) & 0x80); spins++)
			;
		for (i = 0; i < 6; i++)
			u[i] = cmos_read(regs[i]);
		if (!memcmp(t, u, sizeof(t)))
			break;
	}
	check(tries < 10, "RTC read stable across the update-in-progress protocol");

	hour = t[2];
	if (!(b & 0x02))			/* 12-hour mode: bit 7 is PM */
		hour &= 0x7f;
	if (bcd)
		valid = bcd_ok(t[0], 59) && bcd_ok(t[1], 59) && bcd_ok(hour, 23) &&
			bcd_ok(t[3], 31) && bcd_ok(t[4], 12) && bcd_ok(t[5], 99);
	else
		valid = t[0] <= 59 && t[1] <= 59 && hour <= 23 && t[3] <= 31 &&
			t[4] <= 12 && t[5] <= 99;
	valid = valid && bin(t[3], bcd) >= 1 && bin(t[4], bcd) >= 1;
	printf("  RTC: register B 0x%02x (%s, %s), 20%02u-%02u-%02u %02u:%02u:%02u\n", b,
	       bcd ? "BCD" : "binary", b & 0x02 ? "24h" : "12h", bin(t[5], bcd),
	       bin(t[4], bcd), bin(t[3], bcd), bin(hour, bcd), bin(t[1], bcd),
	       bin(t[0], bcd));
	check(valid, bcd ? "RTC date and time are valid BCD in range"
			 : "RTC date and time are in range");
}

void guest_main(uint32_t magic, uint32_t mbi)
{
	static const struct paging legacy = { false, "32-bit paging" };
	static const struct paging pae = { true, "PAE paging" };
	const struct multiboot_info *mbi_p = (const void *)(uintptr_t)mbi;
	uint32_t feat[4];

	uart_init(COM1);
	printf("guest32: 32-bit protected mode tests (mbi at 0x%x)\n", mbi);
	check_eq(magic, MULTIBOOT_BOOT_MAGIC, "multiboot magic in EAX");
	idt_init(0x08);
	kvm_quirks = mbi && (mbi_p->flags & 4) &&
		     strstr((const char *)(uintptr_t)mbi_p->cmdline, "gh.kvm-quirks=1");
	if (kvm_quirks) {
		trap_return_lret = 1;
		printf("guest32: gh.kvm-quirks=1: no INT3, traps return with POPF+LRET\n");
	}
	test_gdt();
	test_exceptions();
	cpuid(1, 0, feat);
	check((feat[3] & 0x48) == 0x48, "CPUID reports PSE and PAE");
	test_paging(&legacy);
	test_paging(&pae);
	test_timers();
	test_rtc();
	finish("guest32", 0x20, 0x21);
}
