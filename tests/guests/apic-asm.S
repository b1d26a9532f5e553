/*
 * The application processor's first code for guest-apic: the startup IPI
 * starts it in real mode at CS = vector << 8, IP 0 (Intel SDM vol. 3A,
 * 8.4.4.1 and 10.6.1). The BSP copies these bytes to AP_CODE. The AP counts
 * itself in (a second SIPI must not start it again), records its initial
 * APIC ID from CPUID leaf 1, raises the flag, and halts for good.
 */
#define AP_DATA 0x7800		/* the flag, the count, the APIC ID */

	.section .rodata
	.globl ap_tramp, ap_tramp_end
	.code16
ap_tramp:
	cli
	xorw %ax, %ax
	movw %ax, %ds
	lock incl AP_DATA + 4
	movl $1, %eax
	cpuid
	shrl $24, %ebx
	movl %ebx, AP_DATA + 8
	movl $0x41504f4b, AP_DATA	/* "KOPA": the AP is up */
1:	hlt
	jmp 1b
ap_tramp_end:
	.code64
