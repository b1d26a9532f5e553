/*
 * guest-string: string instructions in 64-bit mode (Intel SDM vol. 2, MOVS,
 * STOS, CMPS, SCAS, INS, OUTS and the REP prefixes; vol. 1, 19.5.1 and
 * vol. 3, 18.5 for the I/O permission bitmap): every form with DF=0 and
 * DF=1, REPE/REPNE termination, RCX=0; a REP MOVS that runs into a
 * not-present page (written, and read with DF=1) whose #PF handler maps the
 * page and returns, after which the instruction resumes and completes; a long
 * REP STOSB interrupted by the PIT at 10 kHz; REP INSB/OUTSB on the UART
 * scratch register; IN/OUT/OUTS at CPL 3 with IOPL 0 through the TSS bitmap.
 * Exit: debug-exit 0x62 when every check passes, 0x63 otherwise.
 */
#include "lib/guest.h"

#define SCRATCH		(COM1 + 7)
#define PIC1_CMD	0x20
#define PIC1_DATA	0x21
#define PIC2_CMD	0xa0
#define PIC2_DATA	0xa1
#define PIT_CH0		0x40
#define PIT_CMD		0x43
#define WIN_VA		0x40000000ul	/* 16 4 KiB pages, see map_window() */
#define FILL_SIZE	(1u << 20)

void guest_main(uint32_t magic, uint32_t mbi);
extern uint64_t pdpt[];

static uint64_t win_pd[512] __attribute__((aligned(4096)));
static uint64_t win_pt[512] __attribute__((aligned(4096)));
static uint8_t frames[4][4096] __attribute__((aligned(4096)));
static uint8_t big[FILL_SIZE] __attribute__((aligned(4096)));
static uint8_t src[0x1000], dst[0x1000];

/* what the #PF handler saw */
static struct {
	unsigned count;
	unsigned long cr2, error, ip, rcx, rsi, rdi;
	int map[16];		/* frame for a not-present window page, -1: none */
} pf;

static volatile unsigned ticks, ticks_mid, ticks_in_stos;
static volatile unsigned long stos_ip;

static bool hook(struct trap_frame *f)
{
	if (f->vector == 14) {
		unsigned long cr2 = read_cr2();
		unsigned page = (unsigned)((cr2 - WIN_VA) >> 12);

		if (cr2 < WIN_VA || page >= 16 || pf.map[page] < 0)
			return false;
		pf.count++;
		pf.cr2 = cr2;
		pf.error = f->error;
		pf.ip = f->ip;
		pf.rcx = f->rcx;
		pf.rsi = f->rsi;
		pf.rdi = f->rdi;
		win_pt[page] = (uintptr_t)frames[pf.map[page]] | 3;
		pf.map[page] = -1;
		__asm__ volatile("invlpg (%0)" : : "r"(cr2) : "memory");
		return true;			/* IRET to the faulting instruction */
	}
	if (f->vector == 0x20) {
		ticks++;
		if (f->ip == stos_ip) {
			ticks_in_stos++;
			if (f->rcx > 0 && f->rcx < FILL_SIZE)
				ticks_mid++;
		}
		outb(PIC1_CMD, 0x20);
		return true;
	}
	return false;
}

static void map_window(void)
{
	unsigned i;

	memset(win_pd, 0, sizeof(win_pd));
	memset(win_pt, 0, sizeof(win_pt));
	win_pd[0] = (uintptr_t)win_pt | 7;
	pdpt[1] = (uintptr_t)win_pd | 7;
	for (i = 0; i < 16; i++)
		pf.map[i] = -1;
	__asm__ volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" : : : "rax", "memory");
}

struct regs {
	unsigned long rcx, rsi, rdi, flags;
};

/* one string instruction with DF clear (UP) or set (DOWN); RAX from rax */
#define STRING_UP(r, insn)						\
	__asm__ volatile(insn "\n\tpushfq\n\tpopq %3"			\
			 : "+c"((r)->rcx), "+S"((r)->rsi), "+D"((r)->rdi), "=r"((r)->flags) \
			 : "a"(rax) : "memory", "cc")
#define STRING_DOWN(r, insn)						\
	__asm__ volatile("std\n\t" insn "\n\tpushfq\n\tpopq %3\n\tcld"	\
			 : "+c"((r)->rcx), "+S"((r)->rsi), "+D"((r)->rdi), "=r"((r)->flags) \
			 : "a"(rax) : "memory", "cc")

static void test_basic(void)
{
	static uint8_t a[128], b[128];
	static uint32_t d[16];
	static uint64_t q[8];
	struct regs r;
	unsigned long rax = 0;
	unsigned i;
	bool ok;

	for (i = 0; i < 128; i++)
		a[i] = (uint8_t)(i * 7 + 1);
	memset(b, 0, sizeof(b));
	r = (struct regs){ 100, (uintptr_t)a, (uintptr_t)b, 0 };
	STRING_UP(&r, "rep movsb");
	check(!memcmp(a, b, 100) && b[100] == 0 && r.rcx == 0 && r.rsi == (uintptr_t)a + 100 &&
	      r.rdi == (uintptr_t)b + 100, "REP MOVSB, DF=0: bytes, RCX, RSI, RDI");

	for (i = 0; i < 128; i++)
		b[i] = (uint8_t)i;
	r = (struct regs){ 50, (uintptr_t)b + 49, (uintptr_t)b + 59, 0 };
	STRING_DOWN(&r, "rep movsb");
	for (i = 0, ok = true; i < 60; i++)
		ok = ok && b[i] == (i < 10 ? i : i - 10);
	check(ok && r.rcx == 0 && r.rsi == (uintptr_t)b - 1 && r.rdi == (uintptr_t)b + 9,
	      "REP MOVSB, DF=1: overlapping move downward, pointers decrement");

	for (i = 0; i < 16; i++)
		d[i] = 0x1000 + i;
	r = (struct regs){ 8, (uintptr_t)&d[7], (uintptr_t)&d[15], 0 };
	STRING_DOWN(&r, "rep movsl");
	for (i = 0, ok = true; i < 8; i++)
		ok = ok && d[8 + i] == 0x1000 + i;
	check(ok && r.rsi == (uintptr_t)d - 4 && r.rdi == (uintptr_t)&d[7],
	      "REP MOVSD, DF=1: dwords, pointers step by 4");

	rax = 0xdeadbeef;
	memset(d, 0, sizeof(d));
	r = (struct regs){ 15, 0, (uintptr_t)d, 0 };
	STRING_UP(&r, "rep stosl");
	check(d[0] == 0xdeadbeef && d[14] == 0xdeadbeef && d[15] == 0 && r.rcx == 0 &&
	      r.rdi == (uintptr_t)&d[15], "REP STOSD, DF=0");
	rax = 0x0123456789abcdef;
	memset(q, 0, sizeof(q));
	r = (struct regs){ 4, 0, (uintptr_t)&q[7], 0 };
	STRING_DOWN(&r, "rep stosq");
	check(q[3] == 0 && q[4] == rax && q[7] == rax && r.rdi == (uintptr_t)&q[3],
	      "REP STOSQ, DF=1");
	rax = 0x5a;
	r = (struct regs){ 64, 0, (uintptr_t)b, 0 };
	STRING_UP(&r, "rep stosb");
	check(b[0] == 0x5a && b[63] == 0x5a && b[64] != 0x5a, "REP STOSB, DF=0");

	for (i = 0; i < 64; i++)
		a[i] = b[i] = (uint8_t)(i + 3);
	b[37] = 0;
	r = (struct regs){ 64, (uintptr_t)a, (uintptr_t)b, 0 };
	STRING_UP(&r, "repe cmpsb");
	check(r.rcx == 64 - 38 && r.rsi == (uintptr_t)a + 38 && r.rdi == (uintptr_t)b + 38 &&
	      !(r.flags & 0x40), "REPE CMPSB stops after the first difference, ZF clear");
	b[37] = a[37];
	r = (struct regs){ 64, (uintptr_t)a, (uintptr_t)b, 0 };
	STRING_UP(&r, "repe cmpsb");
	check(r.rcx == 0 && (r.flags & 0x40), "REPE CMPSB over equal buffers: RCX 0, ZF set");
	r = (struct regs){ 64, (uintptr_t)a + 63, (uintptr_t)b + 63, 0 };
	b[20] = 0;
	STRING_DOWN(&r, "repe cmpsb");
	check(r.rcx == 20 && r.rsi == (uintptr_t)a + 19 && !(r.flags & 0x40),
	      "REPE CMPSB, DF=1: stops at the difference from the top");

	memset(a, 'a', 100);
	a[50] = 'X';
	rax = 'X';
	r = (struct regs){ 100, 0, (uintptr_t)a, 0 };
	STRING_UP(&r, "repne scasb");
	check(r.rcx == 49 && r.rdi == (uintptr_t)a + 51 && (r.flags & 0x40),
	      "REPNE SCASB finds the byte: RCX, RDI past it, ZF set");
	rax = 'Y';
	r = (struct regs){ 100, 0, (uintptr_t)a, 0 };
	STRING_UP(&r, "repne scasb");
	check(r.rcx == 0 && r.rdi == (uintptr_t)a + 100 && !(r.flags & 0x40),
	      "REPNE SCASB without a match: RCX 0, ZF clear");
	memset(a, 'a', 64);
	a[10] = 'b';
	rax = 'a';
	r = (struct regs){ 64, 0, (uintptr_t)a + 63, 0 };
	STRING_DOWN(&r, "repe scasb");
	check(r.rcx == 10 && r.rdi == (uintptr_t)a + 9 && !(r.flags & 0x40),
	      "REPE SCASB, DF=1: stops at the first other byte");

	/* RCX = 0: nothing happens, flags unchanged (ZF left set by the CMP) */
	b[0] = 0x77;
	__asm__ volatile("cmp %%eax, %%eax" : : : "cc");
	r = (struct regs){ 0, (uintptr_t)a, (uintptr_t)b, 0 };
	__asm__ volatile("cmp %%ecx, %%ecx\n\t"
			 "repne cmpsb\n\t"
			 "pushfq\n\tpopq %3"
			 : "+c"(r.rcx), "+S"(r.rsi), "+D"(r.rdi), "=r"(r.flags) : : "memory", "cc");
	check(r.rcx == 0 && r.rsi == (uintptr_t)a && r.rdi == (uintptr_t)b && (r.flags & 0x40) &&
	      b[0] == 0x77, "REPNE CMPSB with RCX 0: no iteration, flags unchanged");
	(void)rax;
}

static void test_pf_restart(void)
{
	struct regs r;
	unsigned long rax = 0, at;
	unsigned i;
	bool ok;

	map_window();
	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i ^ (i >> 8) ^ 0x5c);
	memset(frames, 0, sizeof(frames));
	win_pt[0] = (uintptr_t)frames[0] | 3;
	pf.map[1] = 1;				/* page 1 appears on the fault */
	memset(&pf.count, 0, sizeof(pf.count));
	r = (struct regs){ 0x1000, (uintptr_t)src, WIN_VA + 0x800, 0 };
	STRING_UP(&r, "rep movsb");
	printf("  #PF at RCX 0x%lx RSI 0x%lx RDI 0x%lx\n", pf.rcx, pf.rsi, pf.rdi);
	check(pf.count == 1 && pf.cr2 == WIN_VA + 0x1000 && pf.error == 2,
	      "REP MOVSB into a not-present page: #PF, CR2 at the page, error 0x2");
	at = pf.rdi - (WIN_VA + 0x800);
	check(pf.rcx + at == 0x1000 && pf.rsi == (uintptr_t)src + at &&
	      pf.rdi <= WIN_VA + 0x1000 && pf.rdi >= WIN_VA + 0x1000 - 64,
	      "at the #PF: RCX, RSI, RDI consistent and at the faulting element");
	check(r.rcx == 0 && r.rsi == (uintptr_t)src + 0x1000 && r.rdi == WIN_VA + 0x1800,
	      "after the handler maps the page: REP MOVSB resumes and completes");
	check(!memcmp(frames[0] + 0x800, src, 0x800) && !memcmp(frames[1], src + 0x800, 0x800),
	      "all bytes copied, on both sides of the page boundary");

	/* the source side, downward: dwords from page 3 into the missing page 2 */
	memset(dst, 0, sizeof(dst));
	memcpy(frames[2] + 0xc00, src, 0x400);
	memcpy(frames[3], src + 0x400, 0x400);
	win_pt[3] = (uintptr_t)frames[3] | 3;
	pf.map[2] = 2;
	pf.count = 0;
	r = (struct regs){ 0x200, WIN_VA + 0x33fc, (uintptr_t)dst + 0x7fc, 0 };
	STRING_DOWN(&r, "rep movsl");
	printf("  #PF at RCX 0x%lx RSI 0x%lx RDI 0x%lx\n", pf.rcx, pf.rsi, pf.rdi);
	check(pf.count == 1 && pf.cr2 == WIN_VA + 0x2ffc && pf.error == 0,
	      "REP MOVSD, DF=1, reading into a not-present page: #PF, CR2, error 0x0");
	at = WIN_VA + 0x33fc - pf.rsi;
	check(pf.rcx * 4 + at == 0x800 && pf.rdi == (uintptr_t)dst + 0x7fc - at &&
	      pf.rsi >= WIN_VA + 0x2ffc && pf.rsi <= WIN_VA + 0x2ffc + 64,
	      "at the #PF: RCX, RSI, RDI consistent (DF=1)");
	for (i = 0, ok = true; i < 0x800; i++)
		ok = ok && dst[i] == src[i];
	check(ok && r.rcx == 0 && r.rsi == WIN_VA + 0x2bfc && r.rdi == (uintptr_t)dst - 4,
	      "REP MOVSD, DF=1 resumes after the #PF and completes");
	(void)rax;
}

static void test_interrupted(void)
{
	unsigned attempt, i, bad = 0, done_ok = 0;
	unsigned long rcx, rdi;
	uint64_t pat;

	outb(PIC1_CMD, 0x11);
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, 0x20);
	outb(PIC2_DATA, 0x28);
	outb(PIC1_DATA, 0x04);
	outb(PIC2_DATA, 0x02);
	outb(PIC1_DATA, 0x01);
	outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, 0xfe);			/* IRQ0 only */
	outb(PIC2_DATA, 0xff);
	outb(PIT_CMD, 0x34);
	outb(PIT_CH0, 119);			/* 1193182 / 119: 10 kHz */
	outb(PIT_CH0, 0);

	for (attempt = 0; attempt < 5 && !ticks_mid; attempt++) {
		uint8_t v = (uint8_t)(0x11 * (attempt + 1));

		__asm__ volatile("lea 1f(%%rip), %%rdx\n\t"
				 "mov %%rdx, stos_ip(%%rip)\n\t"
				 "sti\n\t"
				 "nop\n"		/* past STI's interrupt shadow */
				 "1:\trep stosb\n\t"
				 "cli"
				 : "=c"(rcx), "=D"(rdi)
				 : "0"((unsigned long)FILL_SIZE), "1"(big), "a"(v)
				 : "rdx", "memory");
		pat = 0x0101010101010101ull * v;
		for (i = 0; i < FILL_SIZE / 8; i++)
			bad += ((volatile uint64_t *)big)[i] != pat;
		done_ok += rcx == 0 && rdi == (uintptr_t)big + FILL_SIZE;
	}
	outb(PIC1_DATA, 0xff);
	printf("  %u attempts, %u ticks, %u while at the REP STOSB, %u with 0 < RCX < count\n",
	       attempt, ticks, ticks_in_stos, ticks_mid);
	check(ticks > 0, "PIT interrupts at 10 kHz arrive");
	check(ticks_mid > 0, "a timer interrupt arrived in the middle of a 1 MiB REP STOSB");
	check(bad == 0 && done_ok == attempt,
	      "every interrupted REP STOSB completed: RCX 0, RDI at the end, every byte");
}

static void test_io(void)
{
	static const uint8_t msg[4] = { 'A', 'B', 'C', 'D' };
	uint8_t in[4] = { 0, 0, 0, 0 };
	struct regs r;
	unsigned long rax = 0;

	r.rcx = 4;
	r.rsi = (uintptr_t)msg;
	__asm__ volatile("rep outsb" : "+c"(r.rcx), "+S"(r.rsi) : "d"(SCRATCH) : "memory");
	check(inb(SCRATCH) == 'D' && r.rcx == 0 && r.rsi == (uintptr_t)msg + 4,
	      "REP OUTSB to the scratch register: the last byte stays, RSI advanced");
	r.rcx = 3;
	r.rdi = (uintptr_t)in;
	__asm__ volatile("rep insb" : "+c"(r.rcx), "+D"(r.rdi) : "d"(SCRATCH) : "memory");
	check(in[0] == 'D' && in[1] == 'D' && in[2] == 'D' && in[3] == 0 &&
	      r.rdi == (uintptr_t)in + 3, "REP INSB from the scratch register");
	r.rcx = 4;
	r.rsi = (uintptr_t)msg + 3;
	__asm__ volatile("std\n\trep outsb\n\tcld"
			 : "+c"(r.rcx), "+S"(r.rsi) : "d"(SCRATCH) : "memory");
	check(inb(SCRATCH) == 'A' && r.rsi == (uintptr_t)msg - 1,
	      "REP OUTSB, DF=1: bytes go out from the top down");
	(void)rax;
}

static struct {
	uint8_t in;
	unsigned count[3];
	unsigned long vector[3], error[3];
} u;

#define USER_FAULT(i, insn, ...)					\
	do {								\
		trap_expect.count = 0;					\
		__asm__ volatile("movq $1f, trap_expect\n\t" insn "\n1:"	\
				 : : __VA_ARGS__ : "memory");		\
		u.count[i] = trap_expect.count;				\
		u.vector[i] = trap_expect.vector;			\
		u.error[i] = trap_expect.error;				\
	} while (0)

static unsigned long u_io(unsigned long arg)
{
	(void)arg;
	outb(SCRATCH, 0x3c);
	u.in = inb(SCRATCH);
	USER_FAULT(0, "inb %%dx, %%al", "d"(COM1 + 6));
	USER_FAULT(1, "inw %%dx, %%ax", "d"(SCRATCH));
	USER_FAULT(2, "outsb", "d"(SCRATCH), "S"(&u.in));
	return 0;
}

static void test_iopb(void)
{
	ring_tss.iopb[SCRATCH / 8] &= (uint8_t)~(1u << (SCRATCH % 8));
	memset(&u, 0, sizeof(u));
	user_run(u_io, 0);
	check_eq(u.in, 0x3c, "CPL 3, IOPL 0: OUT and IN on a port the TSS bitmap allows");
	check(u.count[0] == 1 && u.vector[0] == 13 && u.error[0] == 0,
	      "CPL 3, IOPL 0: #GP(0) for IN on a port the bitmap denies");
	check(u.count[1] == 1 && u.vector[1] == 13 && u.error[1] == 0,
	      "CPL 3: #GP(0) for a 2-byte IN whose second port is denied");
	check(u.count[2] == 0 && inb(SCRATCH) == 0x3c, "CPL 3: OUTSB to the allowed port");
	ring_tss.iopb[SCRATCH / 8] |= (uint8_t)(1u << (SCRATCH % 8));
}

void guest_main(uint32_t magic, uint32_t mbi)
{
	uart_init(COM1);
	guest_flags(mbi);
	printf("guest-string: string instructions\n");
	check_eq(magic, MULTIBOOT_BOOT_MAGIC, "multiboot magic in EAX");
	idt_init(SEL_KCODE);
	ring_init();
	trap_hook = hook;
	test_basic();
	test_pf_restart();
	test_io();
	test_iopb();
	test_interrupted();
	finish("guest-string", 0x62, 0x63);
}
