/* Handlers for guest-priv: a call-gate target, an interrupt-gate target and a
 * conforming-segment target that record the stack and registers they find
 * (Intel SDM vol. 3, 5.8.5-5.8.6 call gates, 6.12.1 and 6.14 interrupts). */
	.text
	.globl gate_target, int_target, conf_target
#ifdef __x86_64__
	.code64
	/* 64-bit call gate: RIP, CS, RSP, SS on the RSP0 stack */
gate_target:
	movq %rsp, gate_sp(%rip)
	movw %ss, gate_ss(%rip)
	movw %cs, gate_cs(%rip)
	pushq %rax
	movq 8(%rsp), %rax
	movq %rax, gate_frame(%rip)
	movq 16(%rsp), %rax
	movq %rax, gate_frame+8(%rip)
	movq 24(%rsp), %rax
	movq %rax, gate_frame+16(%rip)
	movq 32(%rsp), %rax
	movq %rax, gate_frame+24(%rip)
	popq %rax
	lretq

	/* RIP, CS, RFLAGS, RSP, SS */
int_target:
	movq %rsp, int_sp(%rip)
	movw %ss, int_ss(%rip)
	pushq %rax
	movq 8(%rsp), %rax
	movq %rax, int_frame(%rip)
	movq 16(%rsp), %rax
	movq %rax, int_frame+8(%rip)
	movq 24(%rsp), %rax
	movq %rax, int_frame+16(%rip)
	movq 32(%rsp), %rax
	movq %rax, int_frame+24(%rip)
	movq 40(%rsp), %rax
	movq %rax, int_frame+32(%rip)
	popq %rax
	iretq

	/* reached by a 32-bit far call (m16:32): 32-bit far return */
conf_target:
	movw %cs, conf_cs(%rip)
	lretl
#else
	.code32
	/* 32-bit call gate with 2 parameters: EIP, CS, p1, p2, ESP, SS */
gate_target:
	movl %esp, gate_sp
	movw %ss, gate_ss
	movw %cs, gate_cs
	pushl %eax
	movl 4(%esp), %eax
	movl %eax, gate_frame
	movl 8(%esp), %eax
	movl %eax, gate_frame+4
	movl 12(%esp), %eax
	movl %eax, gate_frame+8
	movl 16(%esp), %eax
	movl %eax, gate_frame+12
	movl 20(%esp), %eax
	movl %eax, gate_frame+16
	movl 24(%esp), %eax
	movl %eax, gate_frame+20
	popl %eax
	lretl $8

	/* EIP, CS, EFLAGS, ESP, SS */
int_target:
	movl %esp, int_sp
	movw %ss, int_ss
	pushl %eax
	movl 4(%esp), %eax
	movl %eax, int_frame
	movl 8(%esp), %eax
	movl %eax, int_frame+4
	movl 12(%esp), %eax
	movl %eax, int_frame+8
	movl 16(%esp), %eax
	movl %eax, int_frame+12
	movl 20(%esp), %eax
	movl %eax, int_frame+16
	popl %eax
	iretl

conf_target:
	movw %cs, conf_cs
	lretl
#endif
