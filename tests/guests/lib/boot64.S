/*
 * Multiboot v1 entry of the 64-bit guests (Multiboot Specification 0.6.96;
 * Intel SDM vol. 3, 9.8.5 "Initializing IA-32e Mode"): 4-level paging with
 * 2 MiB pages identity-mapping the first GiB, also visible at
 * 0xffff800000000000, then EFER.LME, CR4.PAE, CR0.PG and a far jump to a
 * 64-bit code segment; calls guest_main(magic, mbi).
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00000003	/* page-align modules, want memory info */
#define MSR_EFER 0xc0000080

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
	movl %eax, boot_magic
	movl %ebx, boot_mbi

	/* PD: 512 x 2 MiB, present + writable + PS */
	movl $pd, %edi
	movl $0x83, %eax
	movl $512, %ecx
1:	movl %eax, (%edi)
	movl $0, 4(%edi)
	addl $0x200000, %eax
	addl $8, %edi
	loop 1b
	movl $pd + 3, pdpt
	movl $pdpt + 3, pml4
	movl $pdpt + 3, pml4 + 256 * 8	/* 0xffff800000000000 */

	lgdt gdt64_ptr
	movl %cr4, %eax
	orl $0x20, %eax			/* PAE */
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $0x100, %eax		/* LME */
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax		/* PG, PE */
	movl %eax, %cr0
	ljmp $0x08, $long_entry

	.code64
long_entry:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movq $stack_top, %rsp
	movl boot_magic, %edi
	movl boot_mbi, %esi
	call guest_main
2:	cli
	hlt
	jmp 2b

	.section .rodata
	.p2align 3
	.globl gdt64
gdt64:
	.quad 0				/* 0x00 */
	.quad 0x00af9a000000ffff	/* 0x08 code, 64-bit */
	.quad 0x00cf92000000ffff	/* 0x10 data */
gdt64_end:
	.p2align 2
	.word 0
gdt64_ptr:
	.word gdt64_end - gdt64 - 1
	.long gdt64

	.data
	.p2align 2
boot_magic:
	.long 0
boot_mbi:
	.long 0

	.bss
	.p2align 12
	.globl pml4, pdpt, pd
pml4:
	.space 4096
pdpt:
	.space 4096
pd:
	.space 4096
	.p2align 4
	.space 16384
stack_top:
