/*
 * Code that guest-smc rewrites while it runs (Intel SDM vol. 3, 8.1.3
 * "Handling Self- and Cross-Modifying Code": a store to code followed by a
 * jump executes the new code; 11.6: P6 and later also notice a store to an
 * instruction already prefetched, so no jump is needed). Every function
 * returns EAX from a "movl $imm32, %eax" (b8 imm32) whose immediate is
 * rewritten.
 */
	.code64
	.text
	.globl smc_next, smc_jmp, smc_two_ahead, smc_loop

	/* stores EDI into the very next instruction, no jump */
smc_next:
	movl %edi, 1f+1(%rip)
1:	movl $0x11111111, %eax
	ret

	/* store, jump, execute: the SDM's guaranteed sequence */
smc_jmp:
	movl %edi, 1f+1(%rip)
	jmp 1f
1:	movl $0x11111111, %eax
	ret

	/* the rewritten instruction is two instructions after the store */
smc_two_ahead:
	movl %edi, 1f+1(%rip)
	xorl %ecx, %ecx
	incl %ecx
1:	movl $0x11111111, %eax
	ret

	/* EDI iterations, each storing i into a later instruction of the loop */
smc_loop:
	xorl %edx, %edx
	xorl %ecx, %ecx
1:	movl %ecx, 2f+1(%rip)
2:	movl $0, %eax
	addl %eax, %edx
	incl %ecx
	cmpl %edi, %ecx
	jb 1b
	movl %edx, %eax
	ret

	/* three pages: instructions that straddle page boundaries */
	.section .text.smc, "ax"
	.p2align 12
	.globl smc_page0, smc_cross_nj, smc_cross, smc_far, smc_far_imm, smc_op
	.globl smc_slot, smc_tmpl_a, smc_tmpl_b, smc_tmpl_end
smc_page0:
	.org smc_page0 + 4096 - 9, 0xcc
	/* store, then at once the instruction that spans pages 0 and 1 */
smc_cross_nj:
	movl %edi, 1f+1(%rip)		/* 6 bytes */
	nop
1:	movl $0x11111111, %eax		/* b8 at 4094: the immediate crosses */
	ret

	/* page 1: modified from C (a call is the jump) */
smc_far:
	movl $0x22222222, %eax
	ret
smc_far_imm = smc_far + 1
smc_op:
	movl %edi, %eax
	incl %eax			/* ff c0; made decl (ff c8) */
	ret
smc_slot:
	movl $0x33333333, %eax
	ret
	.skip 10, 0xcc
smc_tmpl_a:
	movl $0xaaaa, %eax
	ret
smc_tmpl_b:
	movl $0xbbbb, %eax
	ret
smc_tmpl_end:

	.org smc_page0 + 8192 - 10, 0xcc
	/* store, jump to the instruction that spans pages 1 and 2 */
smc_cross:
	movl %edi, 1f+1(%rip)		/* 6 bytes */
	jmp 1f				/* 2 bytes */
1:	movl $0x11111111, %eax		/* b8 at 8190 */
	ret
	.p2align 12, 0xcc
