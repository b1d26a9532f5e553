/*
 * guest16's trip to real mode (Intel SDM vol. 3, 9.9.2 "Switching Back to
 * Real-Address Mode"): from flat 32-bit protected mode through a 16-bit code
 * segment, clear CR0.PE, run checks in real mode, and come back.
 *
 * rm_blob is copied to linear 0x8000 and runs at CS = DS = 0x0800, so every
 * address inside it is written relative to rm_blob. Results are left in the
 * blob for the C side to check.
 */
#define RM_SEG 0x0800
#define OFF(x) x - rm_blob
#define TEST_VEC 0x42

	.text
	.code32
	.globl rm_run
rm_run:
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl %esp, saved_esp
	ljmp $0x18, $OFF(rm_pm16)

pm_back:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movl saved_esp, %esp
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

	.p2align 4
	.globl rm_blob
rm_blob:
	.code16
rm_pm16:
	/* 16-bit protected mode: real-mode-like limits in every segment cache */
	movw $0x20, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movl %cr0, %eax
	andl $~1, %eax
	movl %eax, %cr0
	ljmp $RM_SEG, $OFF(rm_real)

rm_real:
	movw $RM_SEG, %ax
	movw %ax, %ds
	xorw %ax, %ax
	movw %ax, %ss
	movw $0x7c00, %sp
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	cld
	lidt OFF(rm_idtr)
	movl %cr0, %eax
	movl %eax, OFF(res_cr0)

	movw $OFF(msg_hello), %si
	call rm_puts

	/* 16-bit arithmetic */
	movw $0xffff, %ax
	addw $1, %ax
	pushfw
	popw %bx
	movw %ax, OFF(res_add)
	movw %bx, OFF(res_add_flags)

	movw $0x1234, %ax
	movw $0x5678, %cx
	mulw %cx
	movw %ax, OFF(res_mul_lo)
	movw %dx, OFF(res_mul_hi)

	movw $0x0007, %dx
	movw $0x5bcd, %ax
	movw $1000, %cx
	divw %cx
	movw %ax, OFF(res_div_q)
	movw %dx, OFF(res_div_r)

	movw $-300, %ax
	cwd
	movw $7, %cx
	idivw %cx
	movw %ax, OFF(res_idiv_q)
	movw %dx, OFF(res_idiv_r)

	/* an operand-size prefix in real mode */
	movl $0x12345678, %eax
	addl $0x0edcba98, %eax
	movl %eax, OFF(res_add32)

	/* segment:offset addressing: 0x1000:0x0234 and 0x1023:0x0004 are 0x10234 */
	movw $0x1000, %ax
	movw %ax, %es
	movw $0xbeef, %es:0x0234
	movw $0x1023, %ax
	movw %ax, %fs
	movw %fs:0x0004, %ax
	movw %ax, OFF(res_alias)

	/* a software interrupt through a handler we put in the IVT */
	xorw %ax, %ax
	movw %ax, %es
	movw $OFF(rm_int_handler), %es:(TEST_VEC * 4)
	movw $RM_SEG, %es:(TEST_VEC * 4 + 2)
	xorw %bx, %bx
	movw %sp, OFF(res_sp_before)
	int $TEST_VEC
rm_after_int:
	movw %bx, OFF(res_int_bx)
	movw %sp, OFF(res_sp_after)

	movw $OFF(msg_bye), %si
	call rm_puts

	/* back to protected mode; GDTR survived real mode */
	cli
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x08, $pm_back

rm_int_handler:
	incw OFF(res_int_count)
	movw %sp, %bp
	movw 0(%bp), %ax
	movw %ax, OFF(res_int_ip)
	movw 2(%bp), %ax
	movw %ax, OFF(res_int_cs)
	pushfw
	popw %ax
	movw %ax, OFF(res_int_flags)
	movw $0x4242, %bx
	iret

/* DS:SI: NUL-terminated string to COM1 */
rm_puts:
	lodsb
	testb %al, %al
	jz 2f
	cmpb $10, %al
	jne 1f
	movb $13, %al
	call rm_putc
	movb $10, %al
1:	call rm_putc
	jmp rm_puts
2:	ret

/* AL to COM1 once LSR.THRE is set, or after 65535 polls */
rm_putc:
	pushw %dx
	pushw %cx
	pushw %ax
	movw $0xffff, %cx
	movw $0x3fd, %dx
3:	inb %dx, %al
	testb $0x20, %al
	loopz 3b
	popw %ax
	movw $0x3f8, %dx
	outb %al, %dx
	popw %cx
	popw %dx
	ret

msg_hello:
	.asciz "real mode: hello from 16-bit code through the UART\n"
msg_bye:
	.asciz "real mode: returning to protected mode\n"

	.p2align 2
rm_idtr:
	.word 0x3ff
	.long 0

	.p2align 2
	.globl res_cr0, res_add, res_add_flags, res_mul_lo, res_mul_hi
	.globl res_div_q, res_div_r, res_idiv_q, res_idiv_r, res_add32
	.globl res_alias, res_int_count, res_int_ip, res_int_cs, res_int_flags
	.globl res_int_bx, res_sp_before, res_sp_after, rm_after_int
res_cr0:	.long 0xffffffff
res_add32:	.long 0
res_add:	.word 0
res_add_flags:	.word 0
res_mul_lo:	.word 0
res_mul_hi:	.word 0
res_div_q:	.word 0
res_div_r:	.word 0
res_idiv_q:	.word 0
res_idiv_r:	.word 0
res_alias:	.word 0
res_int_count:	.word 0
res_int_ip:	.word 0
res_int_cs:	.word 0
res_int_flags:	.word 0
res_int_bx:	.word 0
res_sp_before:	.word 0
res_sp_after:	.word 0
	.globl rm_blob_end
rm_blob_end:

	.code32
	.bss
	.p2align 2
saved_esp:
	.long 0
