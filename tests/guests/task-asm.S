/* The other tasks of guest-task (Intel SDM vol. 3, 7.3 task switching,
 * 7.4 task linking, 6.15 interrupt 8 #DF). */
#define MAIN_TSS 0x30
	.code32
	.text
	.globl task_b_entry, df_entry

	/* records what it starts with, then goes back by JMP or by IRET (NT) */
task_b_entry:
1:	movl %eax, b_seen_eax
	movl %ebx, b_seen_ebx
	pushfl
	popl b_seen_eflags
	strw b_seen_tr
	movl ring_gdt + MAIN_TSS + 4, %eax
	movl %eax, b_seen_main_desc
	movl ring_gdt + 0x40 + 4, %eax
	movl %eax, b_seen_b_desc
	incl b_runs
	cmpl $0, task_b_by_call
	jne 2f
	ljmp $MAIN_TSS, $0
	.globl task_b_after_jmp
task_b_after_jmp:
	jmp 1b
2:	iretl
	movl $0xbadb0b0b, %eax
	jmp 1b

	/* #DF through a task gate: error code on our stack, back by IRET */
df_entry:
1:	popl df_error
	movl %esp, df_esp
	pushfl
	popl df_eflags
	strw df_tr
	call df_task_body
	iretl
	jmp 1b

