/*
 * guest-apic: the local APIC as a guest drives it (Intel SDM vol. 3A,
 * ch. 10): IA32_APIC_BASE and the register page at 0xFEE00000, the version
 * register, the timer one-shot (it counts down, fires once) and periodic,
 * TSC-deadline mode where CPUID offers it, a self IPI by shorthand and by
 * physical destination, TPR and CR8 holding a class back, EOI clearing the
 * ISR, and with two CPUs the AP started by INIT-SIPI-SIPI, reporting its
 * APIC ID once. The 8259 is masked throughout.
 * Exit: debug-exit 0x70 when every check passes, 0x71 otherwise.
 */
#include "lib/guest.h"

#define APIC		0xfee00000ul
#define APIC_ID		0x020
#define APIC_VER	0x030
#define APIC_TPR	0x080
#define APIC_EOI	0x0b0
#define APIC_SVR	0x0f0
#define APIC_ISR	0x100
#define APIC_ESR	0x280
#define APIC_ICR_LO	0x300
#define APIC_ICR_HI	0x310
#define APIC_LVT_TIMER	0x320
#define APIC_INIT	0x380
#define APIC_CUR	0x390
#define APIC_DCR	0x3e0

/* below TRAP_VECTORS, whose stubs the library's IDT has */
#define VEC_TIMER	0x28
#define VEC_IPI		0x29
#define VEC_SPURIOUS	0x2e

#define AP_CODE		0x7000	/* SIPI vector 7 */
#define AP_DATA		0x7800
#define AP_MAGIC	0x41504f4bu

void guest_main(uint32_t magic, uint32_t mbi);
extern uint64_t pdpt[];
extern const uint8_t ap_tramp[], ap_tramp_end[];

static uint64_t apic_pd[512] __attribute__((aligned(4096)));
static volatile unsigned timer_ticks, ipis, spurious, others;

static uint32_t rd(unsigned reg)
{
	return *(volatile uint32_t *)(APIC + reg);
}

static void wr(unsigned reg, uint32_t v)
{
	*(volatile uint32_t *)(APIC + reg) = v;
}

static bool hook(struct trap_frame *f)
{
	switch (f->vector) {
	case VEC_TIMER:
		timer_ticks++;
		break;
	case VEC_IPI:
		ipis++;
		break;
	case VEC_SPURIOUS:
		spurious++;
		return true;	/* no EOI for the spurious vector (10.9) */
	default:
		others++;
		return false;
	}
	wr(APIC_EOI, 0);
	return true;
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* Sleeps with interrupts on until *counter reaches n or tries run out. */
static void wait_for(volatile unsigned *counter, unsigned n)
{
	for (unsigned tries = 0; *counter < n && tries < 100000; tries++)
		__asm__ volatile("sti; hlt; cli");
}

/* About us microseconds, by the timer's count (masked, one-shot). */
static void delay_us(unsigned us)
{
	wr(APIC_DCR, 0xb);
	wr(APIC_LVT_TIMER, 0x10000 | VEC_TIMER);
	wr(APIC_INIT, us * 1000u);
	while (rd(APIC_CUR))
		__asm__ volatile("pause");
}

/* The APIC page above the identity-mapped first GiB: 2 MiB, uncached. */
static void map_apic(void)
{
	apic_pd[(APIC >> 21) & 511] = (APIC & ~0x1ffffful) | 0x9b;
	pdpt[3] = (uintptr_t)apic_pd | 3;
	__asm__ volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" : : : "rax", "memory");
}

static void test_timer(void)
{
	uint32_t c1, c2;
	unsigned k;

	/* one-shot, masked: the count goes down and stops at 0 */
	wr(APIC_DCR, 0xb);
	wr(APIC_LVT_TIMER, 0x10000 | VEC_TIMER);
	wr(APIC_INIT, 100000000);
	c1 = rd(APIC_CUR);
	for (k = 0; k < 1000; k++)
		__asm__ volatile("pause");
	c2 = rd(APIC_CUR);
	if (!check(c1 <= 100000000 && c2 < c1, "timer: the current count goes down"))
		printf("    counts %u then %u\n", c1, c2);
	check_eq(rd(APIC_INIT), 100000000, "timer: the initial count reads back");
	wr(APIC_INIT, 0);
	check_eq(rd(APIC_CUR), 0, "timer: writing 0 stops it");

	/* one-shot: one interrupt */
	timer_ticks = 0;
	wr(APIC_LVT_TIMER, VEC_TIMER);
	wr(APIC_INIT, 1000000);	/* about 1 ms */
	wait_for(&timer_ticks, 1);
	check_eq(timer_ticks, 1, "timer one-shot: interrupt at its vector");
	check_eq(rd(APIC_CUR), 0, "timer one-shot: count 0 after it fired");
	delay_us(3000);
	check_eq(timer_ticks, 1, "timer one-shot: fires only once");

	/* periodic, divide by 16 */
	timer_ticks = 0;
	wr(APIC_DCR, 0x3);
	wr(APIC_LVT_TIMER, 0x20000 | VEC_TIMER);
	wr(APIC_INIT, 20000);	/* about 320 us */
	wait_for(&timer_ticks, 5);
	wr(APIC_LVT_TIMER, 0x10000 | VEC_TIMER);
	wr(APIC_INIT, 0);
	check(timer_ticks >= 5, "timer periodic: five interrupts");
	check(rd(APIC_ISR + 0x10) == 0, "timer: EOI cleared the ISR");
}

static void test_deadline(void)
{
	uint32_t r[4];

	cpuid(1, 0, r);
	if (!(r[2] & (1u << 24))) {
		printf("SKIP: timer TSC-deadline: interrupt at the deadline (not offered)\n");
		return;
	}
	timer_ticks = 0;
	wr(APIC_LVT_TIMER, 0x40000 | VEC_TIMER);
	wrmsr(0x6e0, rdtsc() + 1000000);
	wait_for(&timer_ticks, 1);
	check(timer_ticks == 1 && rdmsr(0x6e0) == 0,
	      "timer TSC-deadline: interrupt at the deadline");
	wr(APIC_LVT_TIMER, 0x10000 | VEC_TIMER);
}

static void test_ipi(void)
{
	unsigned long cr8;

	ipis = 0;
	wr(APIC_ICR_HI, 0);
	wr(APIC_ICR_LO, (1u << 18) | VEC_IPI);	/* self */
	wait_for(&ipis, 1);
	check_eq(ipis, 1, "self IPI by shorthand");
	check_eq(rd(APIC_ICR_LO) & (1u << 12), 0, "ICR delivery status idle");
	wr(APIC_ICR_HI, rd(APIC_ID) & 0xff000000u);
	wr(APIC_ICR_LO, 0x4000 | VEC_IPI);	/* physical, our own ID */
	wait_for(&ipis, 2);
	check_eq(ipis, 2, "IPI to our own APIC ID");

	/* TPR class 2 holds vector 0x29 back until lowered */
	wr(APIC_TPR, 0x20);
	wr(APIC_ICR_LO, (1u << 18) | VEC_IPI);
	__asm__ volatile("sti; nop; nop; nop; cli");
	check_eq(ipis, 2, "TPR holds back a vector of its class");
	wr(APIC_TPR, 0);
	__asm__ volatile("sti; nop; cli");
	check_eq(ipis, 3, "lowering the TPR lets it in");

	/* CR8 is TPR[7:4] */
	cr8 = 2;
	__asm__ volatile("mov %0, %%cr8" : : "r"(cr8));
	check_eq(rd(APIC_TPR), 0x20, "MOV to CR8 sets TPR[7:4]");
	wr(APIC_ICR_LO, (1u << 18) | VEC_IPI);
	__asm__ volatile("sti; nop; cli");
	check_eq(ipis, 3, "CR8 holds back a lower class");
	cr8 = 0;
	__asm__ volatile("mov %0, %%cr8" : : "r"(cr8));
	__asm__ volatile("sti; nop; cli");
	check_eq(ipis, 4, "CR8 lowered: delivered");
	__asm__ volatile("mov %%cr8, %0" : "=r"(cr8));
	check_eq(cr8, 0, "MOV from CR8");
}

static void test_ap(void)
{
	volatile uint32_t *d = (volatile uint32_t *)AP_DATA;
	unsigned k;

	memcpy((void *)AP_CODE, ap_tramp, ap_tramp_end - ap_tramp);
	d[0] = d[1] = 0;
	d[2] = 0xffffffff;
	wr(APIC_ICR_HI, 1u << 24);
	wr(APIC_ICR_LO, 0x4500);		/* INIT, assert */
	wr(APIC_ICR_LO, 0x8500);		/* INIT, de-assert */
	delay_us(10000);
	for (k = 0; k < 2; k++) {
		wr(APIC_ICR_LO, 0x4600 | (AP_CODE >> 12));	/* SIPI */
		delay_us(200);
	}
	for (k = 0; k < 100000 && d[0] != AP_MAGIC; k++)
		delay_us(100);
	check(d[0] == AP_MAGIC, "INIT-SIPI-SIPI starts the AP");
	check_eq(d[2], 1, "the AP reports APIC ID 1");
	delay_us(10000);
	check_eq(d[1], 1, "the second SIPI does not restart a running AP");
}

void guest_main(uint32_t magic, uint32_t mbi)
{
	uint32_t r[4];
	uint64_t base;

	uart_init(COM1);
	guest_flags(mbi);
	printf("guest-apic: the local APIC\n");
	check_eq(magic, MULTIBOOT_BOOT_MAGIC, "multiboot magic in EAX");
	idt_init(0x08);
	trap_hook = hook;
	outb(0x21, 0xff);
	outb(0xa1, 0xff);

	cpuid(1, 0, r);
	check(r[3] & (1u << 9), "CPUID reports an APIC");
	check_eq(r[1] >> 24, 0, "CPUID initial APIC ID 0 on the BSP");
	base = rdmsr(0x1b);
	check_eq(base & ~0xffful, APIC, "IA32_APIC_BASE at 0xFEE00000");
	check_eq(base & 0x900, 0x900, "IA32_APIC_BASE: enabled, BSP");
	map_apic();
	check_eq(rd(APIC_ID) >> 24, 0, "APIC ID register 0");
	check_eq(rd(APIC_VER) & 0xff, 0x14, "version 0x14");
	check(((rd(APIC_VER) >> 16) & 0xff) >= 5, "at least six LVT entries");
	wr(APIC_SVR, 0x100 | VEC_SPURIOUS);
	check_eq(rd(APIC_SVR) & 0x1ff, 0x100 | VEC_SPURIOUS, "SVR: enabled");
	wr(APIC_ESR, 0);

	test_timer();
	test_deadline();
	test_ipi();
	test_ap();
	wr(APIC_ESR, 0);
	check_eq(rd(APIC_ESR), 0, "no APIC errors");
	check_eq(spurious + others, 0, "no spurious or stray interrupts");
	finish("guest-apic", 0x70, 0x71);
}
