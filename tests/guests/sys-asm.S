/* Kernel entry points for guest-sys (Intel SDM vol. 2, SYSCALL/SYSRET and
 * SYSENTER/SYSEXIT): record what the CPU loaded, then return to ring 3. */
	.text
#ifdef __x86_64__
	.code64
	.globl syscall_entry
syscall_entry:				/* CPL 0, still on the user's stack */
	movq %rcx, sc_rcx(%rip)
	movq %r11, sc_r11(%rip)
	movw %cs, sc_cs(%rip)
	movw %ss, sc_ss(%rip)
	movq %rsp, sc_rsp(%rip)
	pushfq
	popq sc_rflags(%rip)
	incl sc_count(%rip)
	sysretq
#else
	.code32
	.globl sysenter_entry
sysenter_entry:				/* CPL 0 on SYSENTER_ESP */
	movl %esp, se_esp
	movw %cs, se_cs
	movw %ss, se_ss
	pushfl
	popl se_eflags
	incl se_count
	sysexit				/* to EDX with ESP = ECX */
#endif
