/* CPL3 entry and exit for 64-bit guests (Intel SDM vol. 3, 5.8.5 and 6.14):
 * IRETQ or far RET to ring 3, and back through a DPL 3 interrupt gate. */
#define USER_EXIT_VEC 0x2f
	.code64
	.text

	/* unsigned long user_run(fn, arg) */
	.globl user_run, user_run_retf, user_exit_stub, user_exit_tramp
user_run:
	call user_enter_prep
	pushfq
	andq $~0x7100, (%rsp)		/* TF, IOPL, NT */
	pushq $0x2b
	pushq %rax
	iretq

user_run_retf:
	call user_enter_prep
	pushq $0x2b
	pushq %rax
	lretq

	/* saves the caller's registers, leaves fn in RAX, arg in RDI, SS:RSP pushed */
user_enter_prep:
	popq %rdx
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, user_saved_sp(%rip)
	movq %rdi, %rax
	movq %rsi, %rdi
	leaq user_stack_top(%rip), %rbx
	leaq user_exit_tramp(%rip), %rcx
	movq %rcx, -8(%rbx)
	subq $8, %rbx
	pushq $0x23
	pushq %rbx
	jmp *%rdx

user_exit_tramp:
	int $USER_EXIT_VEC

user_exit_stub:
	movw $0x10, %cx
	movw %cx, %ds
	movw %cx, %es
	movw %cx, %ss
	movq user_saved_sp(%rip), %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret

	.data
	.p2align 3
user_saved_sp:
	.quad 0

	.bss
	.p2align 4
	.space 8192
	.globl ring0_stack_top
ring0_stack_top:
	.space 16384
	.globl user_stack_top
user_stack_top:
