/* Trap entry stubs for 64-bit mode: vectors 0-47, each pushing a dummy error
 * code where the CPU pushes none (Intel SDM vol. 3, table 6-1). */
	.code64
	.text

	.macro stub n
	.p2align 4
stub\n:
	.if (\n == 8) || (\n >= 10 && \n <= 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
	.else
	pushq $0
	.endif
	pushq $\n
	jmp trap_common
	.endm

	.altmacro
	.set i, 0
	.rept 48
	stub %i
	.set i, i + 1
	.endr

trap_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	cld
	movq %rsp, %rdi
	call trap_dispatch
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp
	iretq

	.macro stubaddr n
	.quad stub\n
	.endm

	.section .rodata
	.p2align 3
	.globl trap_stubs
trap_stubs:
	.set i, 0
	.rept 48
	stubaddr %i
	.set i, i + 1
	.endr
