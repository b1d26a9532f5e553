/* CPL3 entry and exit for 32-bit guests (Intel SDM vol. 3, 5.8.5 and 6.12.1):
 * IRET or far RET to ring 3, and back through a DPL 3 interrupt gate. */
#define USER_EXIT_VEC 0x2f
	.code32
	.text

	/* unsigned long user_run(fn, arg) */
	.globl user_run, user_run_retf, user_exit_stub, user_exit_tramp
user_run:
	call user_enter_prep
	pushfl
	andl $~0x7100, (%esp)		/* TF, IOPL, NT */
	pushl $0x1b
	pushl %eax
	movw $0x23, %cx
	movw %cx, %ds
	movw %cx, %es
	movw %cx, %fs
	movw %cx, %gs
	iretl

user_run_retf:
	call user_enter_prep
	pushl $0x1b
	pushl %eax
	movw $0x23, %cx
	movw %cx, %ds
	movw %cx, %es
	movw %cx, %fs
	movw %cx, %gs
	lretl

	/* saves the caller's registers, leaves fn in EAX and SS:ESP pushed */
user_enter_prep:
	popl %edx			/* our return address */
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl %esp, user_saved_sp
	movl 20(%esp), %eax		/* fn */
	movl 24(%esp), %ecx		/* arg */
	movl $user_stack_top, %ebx
	movl %ecx, -4(%ebx)
	movl $user_exit_tramp, -8(%ebx)
	subl $8, %ebx
	pushl $0x23
	pushl %ebx
	jmp *%edx

user_exit_tramp:
	int $USER_EXIT_VEC

user_exit_stub:
	movw $0x10, %cx
	movw %cx, %ds
	movw %cx, %es
	movw %cx, %fs
	movw %cx, %gs
	movw %cx, %ss
	movl user_saved_sp, %esp
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

	.data
	.p2align 2
user_saved_sp:
	.long 0

	.bss
	.p2align 4
	.space 8192
	.globl ring0_stack_top
ring0_stack_top:
	.space 16384
	.globl user_stack_top
user_stack_top:
