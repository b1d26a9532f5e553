/*
 * Multiboot v1 entry of the 32-bit guests (Multiboot Specification 0.6.96,
 * 3.1.1 header, 3.2 machine state): loads our own GDT, a stack, and calls
 * guest_main(magic, mbi) in flat 32-bit protected mode.
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00000003	/* page-align modules, want memory info */

	.section .multiboot, "a"
	.p2align 2
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.globl _start
_start:
	cli
	cld
	movl $stack_top, %esp
	movl %eax, %esi
	movl %ebx, %edi
	lgdt gdt_ptr
	ljmp $0x08, $1f
1:	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	pushl %edi
	pushl %esi
	call guest_main
2:	cli
	hlt
	jmp 2b

	.section .rodata
	.p2align 3
	.globl gdt
gdt:
	.quad 0				/* 0x00 */
	.quad 0x00cf9a000000ffff	/* 0x08 code, flat 32-bit */
	.quad 0x00cf92000000ffff	/* 0x10 data, flat 32-bit */
	.quad 0x00009a008000ffff	/* 0x18 code, 16-bit, base 0x8000, 64 KiB */
	.quad 0x000092000000ffff	/* 0x20 data, 16-bit, base 0, 64 KiB */
gdt_end:
	.p2align 2
	.word 0
	.globl gdt_ptr
gdt_ptr:
	.word gdt_end - gdt - 1
	.long gdt

	.bss
	.p2align 4
	.space 16384
stack_top:
