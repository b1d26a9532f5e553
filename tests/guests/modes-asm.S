/*
 * guest-modes' mode changes (Intel SDM vol. 3, 9.9 mode switching, 9.8.5
 * entering IA-32e mode, 9.8.5.4 leaving it): rm_trip goes 32-bit protected
 * -> 16-bit protected -> real -> 16-bit protected -> 32-bit protected;
 * long_trip goes 32-bit protected -> 64-bit -> compatibility -> (paging off)
 * 32-bit protected. Each mode prints a "mode:" line and leaves results.
 *
 * rm_blob is copied to linear 0x8000 and runs with CS base 0x8000 (selector
 * 0x18 in protected mode, segment 0x0800 in real mode) and DS base 0x8000
 * (0x38 / 0x0800), so addresses in it are written relative to rm_blob.
 */
#define OFF(x) x - rm_blob
#define MSR_EFER 0xc0000080

	.text
	.code32
	.globl rm_trip, long_trip
rm_trip:
	pushal
	movl %esp, saved_esp
	ljmp $0x18, $OFF(pm16_a)

pm32_back:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movl saved_esp, %esp
	popal
	ret

long_trip:
	pushal
	movl %esp, saved_esp
	movl %cr4, %eax
	orl $0x20, %eax			/* PAE */
	movl %eax, %cr4
	movl $lm_pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $0x100, %eax		/* LME */
	wrmsr
	movl %cr0, %eax
	orl $0x80000000, %eax
	movl %eax, %cr0
	ljmp $0x28, $lm64

	.code64
lm64:				/* an ELF32 object: absolute addresses only */
	movl %esp, %esp			/* RSP's upper half */
	movl $5, %eax
	.byte 0x48			/* REX.W here: the NOP stays a NOP */
	nop
	movl $res64_rex, %ebx
	movl %eax, (%rbx)
	movl $res64_cs, %ebx
	movw %cs, (%rbx)
	movl $MSR_EFER, %ecx
	rdmsr
	movl $res64_efer, %ebx
	movl %eax, (%rbx)
	movl $msg64, %esi
	call puts64
	pushq $0x08			/* a 32-bit segment: compatibility mode */
	movl $compat32, %eax
	pushq %rax
	lretq

puts64:
1:	lodsb
	testb %al, %al
	jz 3f
	movb %al, %ah
	movw $0x3fd, %dx
2:	inb %dx, %al
	testb $0x20, %al
	jz 2b
	movw $0x3f8, %dx
	movb %ah, %al
	outb %al, %dx
	jmp 1b
3:	ret

	.code32
compat32:
	movl $5, %eax
	.byte 0x48			/* DEC EAX outside 64-bit mode */
	nop
	movl %eax, res_compat_rex
	movw %cs, res_compat_cs
	movl $MSR_EFER, %ecx
	rdmsr
	movl %eax, res_compat_efer
	call compat_main
	/* leave IA-32e mode: paging off first, then LME, then PAE */
	movl %cr0, %eax
	andl $0x7fffffff, %eax
	movl %eax, %cr0
	movl $MSR_EFER, %ecx
	rdmsr
	andl $~0x100, %eax
	wrmsr
	movl %cr4, %eax
	andl $~0x20, %eax
	movl %eax, %cr4
	movl saved_esp, %esp
	popal
	ret

	.p2align 4
	.globl rm_blob, rm_blob_end
	.globl res_pm16_cr0, res_pm16_eax, res_real_cr0, res_real_eax, res_pm16b_cs
rm_blob:
	.code16
pm16_a:
	movw $0x38, %ax			/* base 0x8000, 64 KiB */
	movw %ax, %ds
	movw $0x20, %ax			/* base 0, 64 KiB */
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movw $0x7c00, %sp
	movw $OFF(msg_pm16), %si
	call puts16
	movl $-1, %eax
	.byte 0xb8, 0x34, 0x12		/* MOV AX, 0x1234 with a 16-bit default size */
	movl %eax, OFF(res_pm16_eax)
	movl %cr0, %eax
	movl %eax, OFF(res_pm16_cr0)
	andl $~1, %eax
	movl %eax, %cr0
	ljmp $0x0800, $OFF(real)

real:
	movw $0x0800, %ax
	movw %ax, %ds
	xorw %ax, %ax
	movw %ax, %ss
	movw %ax, %es
	movw $0x7c00, %sp
	movw $OFF(msg_real), %si
	call puts16
	movl $-1, %eax
	.byte 0xb8, 0x34, 0x12
	movl %eax, OFF(res_real_eax)
	movl %cr0, %eax
	movl %eax, OFF(res_real_cr0)
	orl $1, %eax
	movl %eax, %cr0
	ljmp $0x18, $OFF(pm16_b)

pm16_b:
	movw $0x38, %ax
	movw %ax, %ds
	movw $0x20, %ax
	movw %ax, %ss
	movw %cs, OFF(res_pm16b_cs)
	movw $OFF(msg_pm16b), %si
	call puts16
	.byte 0x66, 0xea		/* far JMP with a 32-bit offset */
	.long pm32_back
	.word 0x08

puts16:
1:	lodsb
	testb %al, %al
	jz 3f
	movb %al, %ah
	movw $0x3fd, %dx
2:	inb %dx, %al
	testb $0x20, %al
	jz 2b
	movw $0x3f8, %dx
	movb %ah, %al
	outb %al, %dx
	jmp 1b
3:	ret

msg_pm16:
	.asciz "mode: 16-bit protected mode (from 32-bit protected mode)\n"
msg_real:
	.asciz "mode: real mode\n"
msg_pm16b:
	.asciz "mode: 16-bit protected mode (from real mode)\n"
	.p2align 2
res_pm16_cr0:	.long 0
res_pm16_eax:	.long 0
res_real_cr0:	.long 0
res_real_eax:	.long 0
res_pm16b_cs:	.word 0
rm_blob_end:

	.section .rodata
msg64:
	.asciz "mode: 64-bit mode\n"

	.data
	.p2align 2
saved_esp:
	.long 0
	.globl res64_rex, res64_cs, res64_efer, res_compat_rex, res_compat_cs, res_compat_efer
res64_rex:	.long 0
res64_efer:	.long 0
res_compat_rex:	.long 0
res_compat_efer: .long 0
res64_cs:	.word 0
res_compat_cs:	.word 0
