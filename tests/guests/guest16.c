/*
 * guest16: a Multiboot kernel that drops from 32-bit protected mode to real
 * mode, prints through the UART with in/out, does 16-bit arithmetic and a
 * software interrupt through its own IVT entry, and comes back
 * (Intel SDM vol. 3, 9.9.2; vol. 2 for each instruction's results).
 * Exit: debug-exit 0x10 when every check passes, 0x11 otherwise.
 */
#include "lib/guest.h"

#define RM_BASE 0x8000u
#define RM_SEG 0x0800u

extern char rm_blob[], rm_blob_end[], rm_after_int[];
extern char res_cr0[], res_add[], res_add_flags[], res_mul_lo[], res_mul_hi[];
extern char res_div_q[], res_div_r[], res_idiv_q[], res_idiv_r[], res_add32[];
extern char res_alias[], res_int_count[], res_int_ip[], res_int_cs[];
extern char res_int_flags[], res_int_bx[], res_sp_before[], res_sp_after[];
void rm_run(void);
void guest_main(uint32_t magic, uint32_t mbi);

/* Where a result of the blob lives once the blob runs at RM_BASE. */
static uint16_t rm16(const char *sym)
{
	return *(volatile uint16_t *)(uintptr_t)(RM_BASE + (uint32_t)(sym - rm_blob));
}

static uint32_t rm32(const char *sym)
{
	return *(volatile uint32_t *)(uintptr_t)(RM_BASE + (uint32_t)(sym - rm_blob));
}

void guest_main(uint32_t magic, uint32_t mbi)
{
	uint32_t blob_size = (uint32_t)(rm_blob_end - rm_blob);
	volatile uint32_t canary = 0xc0ffee16;
	volatile uint16_t *target = (volatile uint16_t *)0x10234;
	uint16_t flags;

	uart_init(COM1);
	printf("guest16: real mode tests (mbi at 0x%x)\n", mbi);
	check_eq(magic, MULTIBOOT_BOOT_MAGIC, "multiboot magic in EAX");
	if (!check(blob_size < 0x7000, "real-mode code fits below 0xf000"))
		finish("guest16", 0x10, 0x11);

	memcpy((void *)(uintptr_t)RM_BASE, rm_blob, blob_size);
	*target = 0;
	rm_run();
	printf("guest16: back in 32-bit protected mode\n");

	check(canary == 0xc0ffee16 && (read_cr0() & 1),
	      "returned to protected mode with the stack intact");
	check_eq(rm32(res_cr0) & 1, 0, "CR0.PE clear in real mode");

	check_eq(rm16(res_add), 0, "16-bit add wraps to 0");
	flags = rm16(res_add_flags);
	check_eq(flags & 0x41, 0x41, "16-bit add sets CF and ZF");
	check_eq((uint32_t)rm16(res_mul_hi) << 16 | rm16(res_mul_lo), 0x06260060,
		 "16-bit mul gives DX:AX");
	check(rm16(res_div_q) == 482 && rm16(res_div_r) == 253,
	      "16-bit div gives quotient and remainder");
	check(rm16(res_idiv_q) == 0xffd6 && rm16(res_idiv_r) == 0xfffa,
	      "16-bit idiv truncates toward zero");
	check_eq(rm32(res_add32), 0x21111110, "32-bit operand prefix in real mode");

	check_eq(*target, 0xbeef, "real-mode write lands at segment * 16 + offset");
	check_eq(rm16(res_alias), 0xbeef, "two segment:offset aliases read the same byte");

	check_eq(rm16(res_int_count), 1, "INT 0x42 ran the handler from the IVT");
	check(rm16(res_int_ip) == (uint16_t)(rm_after_int - rm_blob) &&
	      rm16(res_int_cs) == RM_SEG, "INT pushed the return CS:IP");
	check_eq(rm16(res_int_flags) & 0x300, 0, "INT cleared IF and TF");
	check_eq(rm16(res_int_bx), 0x4242, "IRET returned with the handler's result");
	check_eq(rm16(res_sp_after), rm16(res_sp_before), "IRET restored SP");

	finish("guest16", 0x10, 0x11);
}
