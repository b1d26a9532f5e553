/* Trap entry stubs for 32-bit protected mode: vectors 0-47, each pushing a
 * dummy error code where the CPU pushes none (Intel SDM vol. 3, table 6-1). */
	.code32
	.text

	.macro stub n
	.p2align 4
stub\n:
	.if (\n == 8) || (\n >= 10 && \n <= 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
	.else
	pushl $0
	.endif
	pushl $\n
	jmp trap_common
	.endm

	.altmacro
	.set i, 0
	.rept 48
	stub %i
	.set i, i + 1
	.endr

trap_common:
	pushal
	cld
	pushl %esp
	call trap_dispatch
	addl $4, %esp
	popal
	addl $8, %esp
	cmpb $0, trap_return_lret
	jne 1f
	iretl
	/*
	 * The same return without IRET, for the nested KVM of our CI machines
	 * whose instruction emulator cannot do a protected-mode IRET: EFLAGS
	 * first, then a far return that drops the saved EFLAGS.
	 */
1:	pushl 8(%esp)
	popfl
	lret $4

	.data
	.globl trap_return_lret
trap_return_lret:
	.byte 0
	.text

	.macro stubaddr n
	.long stub\n
	.endm

	.section .rodata
	.p2align 2
	.globl trap_stubs
trap_stubs:
	.set i, 0
	.rept 48
	stubaddr %i
	.set i, i + 1
	.endr
