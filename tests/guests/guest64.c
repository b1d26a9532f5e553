/*
 * guest64: long mode (Intel SDM vol. 3, chapter 9.8 and 4.5): checks that
 * IA-32e mode is really on, 64-bit arithmetic (vol. 2: MUL, DIV, IMUL,
 * shifts, BSWAP), RIP-relative addressing, the 4-level page walk through a
 * second PML4 slot, and 64-bit exceptions through a 64-bit IDT.
 * Exit: debug-exit 0x40 when every check passes, 0x41 otherwise.
 */
#include "lib/guest.h"

#define MSR_EFER 0xc0000080
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)
#define HIGH_ALIAS 0xffff800000000000ul

void guest_main(uint32_t magic, uint32_t mbi);

static volatile uint64_t rip_data = 0x1122334455667788ull;

static void test_mode(void)
{
	uint64_t efer = rdmsr(MSR_EFER);
	uint32_t r[4];
	uint16_t cs;

	check_eq(efer & (EFER_LME | EFER_LMA), EFER_LME | EFER_LMA, "EFER.LME and EFER.LMA set");
	check((read_cr0() & 0x80000001) == 0x80000001 && (read_cr4() & 0x20),
	      "CR0.PG, CR0.PE and CR4.PAE set");
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	check_eq(cs, 0x08, "running on the 64-bit code segment");

	cpuid(0x80000000, 0, r);
	if (check(r[0] >= 0x80000001, "CPUID has extended leaf 0x80000001")) {
		cpuid(0x80000001, 0, r);
		check(r[3] & (1u << 29), "CPUID reports long mode (LM)");
	}
}

static void test_arith(void)
{
	uint64_t a = ~0ull, lo, hi, q, r;
	int64_t s;

	__asm__ volatile("mulq %3" : "=a"(lo), "=d"(hi) : "a"(a), "r"(a));
	check(hi == 0xfffffffffffffffeull && lo == 1, "64x64 MUL gives a 128-bit RDX:RAX");

	__asm__ volatile("divq %4"
			 : "=a"(q), "=d"(r)
			 : "a"(0xfedcba9876543210ull), "d"(0x0123456789abcdefull),
			   "r"(0xfedcba9876543211ull));
	check(q == 0x0124924924924924ull && r == 0x7d11b781de844eacull,
	      "128/64 DIV gives quotient and remainder");

	__asm__ volatile("divq %4" : "=a"(q), "=d"(r) : "a"(~0ull), "d"(0ull), "r"(3ull));
	check(q == 0x5555555555555555ull && r == 0, "DIV of 2^64-1 by 3");

	s = -0x123456789ll;
	__asm__ volatile("imulq $0x1000, %0, %0" : "+r"(s));
	check_eq((uint64_t)s, 0xffffedcba9877000ull, "signed 64-bit IMUL");

	__asm__ volatile("movabsq $0x123456789abcdef0, %0" : "=r"(a));
	check_eq(a, 0x123456789abcdef0ull, "MOVABS 64-bit immediate");
	__asm__ volatile("bswapq %0" : "+r"(a));
	check_eq(a, 0xf0debc9a78563412ull, "BSWAP of a 64-bit register");

	a = 1;
	__asm__ volatile("shlq $63, %0" : "+r"(a));
	s = (int64_t)a;
	__asm__ volatile("sarq $62, %0" : "+r"(s));
	check(a == 0x8000000000000000ull && (uint64_t)s == ~1ull, "64-bit SHL and SAR");
	a = 0x8000000000000001ull;
	__asm__ volatile("rolq $4, %0" : "+r"(a));
	check_eq(a, 0x18, "64-bit ROL");

	/* 32-bit ops zero the upper half of the destination */
	a = ~0ull;
	__asm__ volatile("movl $5, %k0" : "+r"(a));
	check_eq(a, 5, "32-bit MOV zero-extends into 64 bits");

	/* R8-R15 */
	__asm__ volatile("movq $0x0f0f, %%r15\n\t"
			 "addq %%r15, %%r15\n\t"
			 "movq %%r15, %0" : "=r"(a) : : "r15");
	check_eq(a, 0x1e1e, "REX registers R8-R15");
}

static void test_addressing(void)
{
	uint64_t lea, abs, val;
	uint64_t *low = (uint64_t *)&rip_data;

	__asm__ volatile("leaq rip_data(%%rip), %0\n\t"
			 "movq $rip_data, %1\n\t"
			 "movq rip_data(%%rip), %2"
			 : "=r"(lea), "=r"(abs), "=r"(val));
	check(lea == abs && val == 0x1122334455667788ull,
	      "RIP-relative LEA and load find the data");

	val = *(volatile uint64_t *)(HIGH_ALIAS + (uintptr_t)low);
	check_eq(val, 0x1122334455667788ull, "read through the PML4 slot 256 alias");
	*(volatile uint64_t *)(HIGH_ALIAS + (uintptr_t)low) = 0x8877665544332211ull;
	check_eq(*(volatile uint64_t *)low, 0x8877665544332211ull,
		 "write through the alias reaches the same frame");

	__asm__ volatile("movq %%rsp, %%rax\n\t"
			 "pushq $-2\n\t"
			 "subq %%rsp, %%rax\n\t"
			 "popq %1\n\t"
			 "movq %%rax, %0"
			 : "=r"(lea), "=r"(val) : : "rax", "memory");
	check(lea == 8 && val == ~1ull, "PUSH/POP move RSP by 8");
}

static void test_exceptions(void)
{
	unsigned long ip;

	idt_init(0x08);

	trap_expect.count = 0;
	__asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
			 "movq %%rax, trap_expect(%%rip)\n\t"
			 "leaq 2f(%%rip), %%rax\n\t"
			 "movq %%rax, %0\n"
			 "2:\tud2\n"
			 "1:"
			 : "=m"(ip) : : "rax", "memory");
	check(trap_expect.count == 1 && trap_expect.vector == 6 && trap_expect.ip == ip,
	      "#UD in 64-bit mode through a 64-bit IDT");

	/* quotient too big for 64 bits */
	trap_expect.count = 0;
	__asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
			 "movq %%rax, trap_expect(%%rip)\n\t"
			 "leaq 2f(%%rip), %%rax\n\t"
			 "movq %%rax, %0\n\t"
			 "movq $1, %%rdx\n\t"
			 "movq $1, %%rcx\n"
			 "2:\tdivq %%rcx\n"
			 "1:"
			 : "=m"(ip) : : "rax", "rcx", "rdx", "memory");
	check(trap_expect.count == 1 && trap_expect.vector == 0 && trap_expect.ip == ip,
	      "#DE on DIV overflow");

	/* non-canonical address: #GP(0) */
	trap_expect.count = 0;
	__asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
			 "movq %%rax, trap_expect(%%rip)\n\t"
			 "leaq 2f(%%rip), %%rax\n\t"
			 "movq %%rax, %0\n\t"
			 "movabsq $0x0000800000000000, %%rcx\n"
			 "2:\tmovq (%%rcx), %%rax\n"
			 "1:"
			 : "=m"(ip) : : "rax", "rcx", "memory");
	check(trap_expect.count == 1 && trap_expect.vector == 13 &&
	      trap_expect.error == 0 && trap_expect.ip == ip,
	      "#GP(0) on a non-canonical address");

	/* beyond the mapped first GiB: #PF, not present, read */
	trap_expect.count = 0;
	__asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
			 "movq %%rax, trap_expect(%%rip)\n\t"
			 "leaq 2f(%%rip), %%rax\n\t"
			 "movq %%rax, %0\n\t"
			 "movq $0x40001000, %%rcx\n"
			 "2:\tmovq (%%rcx), %%rax\n"
			 "1:"
			 : "=m"(ip) : : "rax", "rcx", "memory");
	check(trap_expect.count == 1 && trap_expect.vector == 14 &&
	      trap_expect.error == 0 && trap_expect.cr2 == 0x40001000 && trap_expect.ip == ip,
	      "#PF with CR2 and error code 0 on an unmapped address");
	if (trap_expect.vector == 14 && trap_expect.cr2 != 0x40001000)
		printf("  #PF CR2 0x%lx error 0x%lx\n", trap_expect.cr2, trap_expect.error);
}

void guest_main(uint32_t magic, uint32_t mbi)
{
	uart_init(COM1);
	printf("guest64: long mode tests (mbi at 0x%x)\n", mbi);
	check_eq(magic, MULTIBOOT_BOOT_MAGIC, "multiboot magic in EAX");
	test_mode();
	test_arith();
	test_addressing();
	test_exceptions();
	finish("guest64", 0x40, 0x41);
}
