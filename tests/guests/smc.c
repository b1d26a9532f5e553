/*
 * guest-smc: self-modifying code in 64-bit mode (Intel SDM vol. 3, 8.1.3 and
 * 11.6): the immediate of the next instruction rewritten with and without a
 * jump, two instructions ahead, in a hot loop, across a page boundary; code
 * in another page rewritten through its identity address and through a
 * second linear alias of the same physical page (the high half), an opcode
 * changed, and a function replaced by REP MOVSB. Each function is run many
 * times first, so any cache of decoded code holds the old bytes.
 * Checks that need no jump after the store rely on 11.6 (P6 and later).
 * Exit: debug-exit 0x5e when every check passes, 0x5f otherwise.
 */
#include "lib/guest.h"

#define HIGH_ALIAS 0xffff800000000000ul

void guest_main(uint32_t magic, uint32_t mbi);

unsigned smc_next(unsigned v);
unsigned smc_jmp(unsigned v);
unsigned smc_two_ahead(unsigned v);
unsigned smc_loop(unsigned n);
unsigned smc_cross_nj(unsigned v);
unsigned smc_cross(unsigned v);
unsigned smc_far(void);
unsigned smc_op(unsigned v);
unsigned smc_slot(void);
extern char smc_far_imm[], smc_tmpl_a[], smc_tmpl_b[], smc_tmpl_end[], smc_page0[];

static bool rewrites(unsigned (*fn)(unsigned))
{
	unsigned i, bad = 0;

	/* each call writes a new value and must execute it, so none can be stale */
	for (i = 1; i <= 200; i++)
		bad += fn(0x1000 + i) != 0x1000 + i;
	if (bad)
		printf("  %u of 200 calls ran the old instruction\n", bad);
	return bad == 0;
}

static void copy_code(void *dst, const void *src, size_t n)
{
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

void guest_main(uint32_t magic, uint32_t mbi)
{
	unsigned i, v;
	size_t len;

	uart_init(COM1);
	guest_flags(mbi);
	printf("guest-smc: self-modifying code\n");
	check_eq(magic, MULTIBOOT_BOOT_MAGIC, "multiboot magic in EAX");
	idt_init(0x08);

	check(rewrites(smc_jmp), "store to the next instruction, then a jump: new code runs");
	check(rewrites(smc_next), "store to the next instruction, no jump: new code runs (11.6)");
	check(rewrites(smc_two_ahead),
	      "store two instructions ahead, no jump: new code runs (11.6)");
	check(smc_loop(1000) == 999 * 1000 / 2,
	      "a loop rewriting its own next instruction 1000 times (11.6)");
	check(rewrites(smc_cross), "store, jump, to an instruction that spans two pages");
	check(rewrites(smc_cross_nj),
	      "store, no jump, to an instruction that spans two pages (11.6)");

	for (i = 0, v = 0; i < 100; i++)
		v |= smc_far() ^ 0x22222222;
	check_eq(v, 0, "code in another page runs (warmed up)");
	*(volatile uint32_t *)smc_far_imm = 0x44444444;
	check_eq(smc_far(), 0x44444444, "store to code in another page, then a call");
	*(volatile uint32_t *)(HIGH_ALIAS + (uintptr_t)smc_far_imm) = 0x55555555;
	check_eq(smc_far(), 0x55555555,
		 "store through another linear alias of the page, then a call");

	for (i = 0, v = 0; i < 100; i++)
		v |= smc_op(i) ^ (i + 1);
	check_eq(v, 0, "INC runs (warmed up)");
	((volatile uint8_t *)smc_op)[3] = 0xc8;
	check_eq(smc_op(5), 4, "opcode rewritten from INC to DEC");

	for (i = 0, v = 0; i < 100; i++)
		v |= smc_slot() ^ 0x33333333;
	len = (size_t)(smc_tmpl_b - smc_tmpl_a);
	copy_code((void *)smc_slot, smc_tmpl_a, len);
	check_eq(smc_slot(), 0xaaaa, "function replaced by REP MOVSB");
	copy_code((void *)(HIGH_ALIAS + (uintptr_t)smc_slot), smc_tmpl_b,
		  (size_t)(smc_tmpl_end - smc_tmpl_b));
	check_eq(smc_slot(), 0xbbbb, "function replaced again by REP MOVSB through the alias");
	check(((uintptr_t)smc_cross & 0xfff) > 0xff0 && ((uintptr_t)smc_cross_nj & 0xfff) > 0xff0,
	      "the page-crossing functions sit at page ends");
	(void)smc_page0;
	finish("guest-smc", 0x5e, 0x5f);
}
