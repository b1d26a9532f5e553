/*
 * The option ROM that boots a Linux kernel through fw_cfg: SeaBIOS finds
 * it as fw_cfg's "genroms/linuxboot.bin", runs its (empty) init, and lists
 * its boot entry vector (BEV, from the PnP header) as a boot device; the
 * bootorder file puts it first. Booted, it loads the setup code, the
 * kernel, the command line and the initrd with fw_cfg DMA to the addresses
 * fw_cfg gives (the VMM chose them and filled the setup header), and enters
 * the real-mode kernel as boot.rst's "Running the Kernel" says.
 *
 * Built as 16-bit code at offset 0; the VMM pads it to whole 512-byte
 * blocks, sets the size byte and the checksum when it adds the file.
 */
	.code16
	.text

#define FW_CFG_SEL	0x510
#define FW_CFG_DATA	0x511
#define FW_CFG_DMA_HI	0x514
#define FW_CFG_DMA_LO	0x518

#define KERNEL_ADDR	0x07
#define KERNEL_SIZE	0x08
#define INITRD_ADDR	0x0a
#define INITRD_SIZE	0x0b
#define KERNEL_DATA	0x11
#define INITRD_DATA	0x12
#define CMDLINE_ADDR	0x13
#define CMDLINE_SIZE	0x14
#define CMDLINE_DATA	0x15
#define SETUP_ADDR	0x16
#define SETUP_SIZE	0x17
#define SETUP_DATA	0x18

/* FWCfgDmaAccess control bits */
#define DMA_ERROR	0x01
#define DMA_READ	0x02
#define DMA_SELECT	0x08

	.globl	_start
_start:
	.byte	0x55, 0xaa	/* option ROM signature */
	.byte	0		/* size in 512-byte blocks: the VMM sets it */
	jmp	init		/* offset 3: the init entry (far call) */
	.org	0x18
	.word	0		/* no PCI data structure */
	.word	pnp		/* the PnP expansion header */

	.balign	16
pnp:
	.ascii	"$PnP"
	.byte	1		/* structure revision */
	.byte	2		/* length in 16-byte units */
	.word	0		/* no next header */
	.byte	0		/* reserved */
	.byte	0		/* checksum (SeaBIOS does not check it) */
	.long	0		/* device id */
	.word	manufacturer
	.word	product
	.byte	0, 0, 0		/* device type: none in particular */
	.byte	0x04		/* device indicators: IPL device */
	.word	0		/* no boot connection vector */
	.word	0		/* no disconnect vector */
	.word	boot		/* the bootstrap entry vector */
	.word	0		/* reserved */
	.word	0		/* no static resource information */

manufacturer:
	.asciz	"Guesthouse"
product:
	.asciz	"Linux (fw_cfg)"

init:
	lret

/* %eax = the 32-bit little-endian item %bx (port interface); clobbers
 * %cx and %dx */
read32:
	movw	$FW_CFG_SEL, %dx
	movw	%bx, %ax
	outw	%ax, %dx
	movw	$FW_CFG_DATA, %dx
	xorl	%eax, %eax
	movw	$4, %cx
1:	inb	%dx, %al	/* least significant byte first */
	rorl	$8, %eax
	loop	1b
	ret

/*
 * DMA item %bx (%ecx bytes) to guest-physical %edi. The access structure
 * (be32 control, be32 length, be64 address) goes on the stack; the device
 * clears control when done, or leaves DMA_ERROR in it. Clobbers %eax,
 * %ecx, %edx.
 */
dma_item:
	jecxz	3f
	pushw	%bp
	/* pushed from the end: the address's low half is its last dword */
	movl	%edi, %eax
	bswapl	%eax
	pushl	%eax		/* address, low half */
	pushl	$0		/* address, high half */
	bswapl	%ecx
	pushl	%ecx		/* length */
	movzwl	%bx, %eax
	shll	$16, %eax
	orl	$(DMA_SELECT | DMA_READ), %eax
	bswapl	%eax
	pushl	%eax		/* control */
	movw	%sp, %bp
	/* the structure's physical address: ss * 16 + sp */
	movzwl	%sp, %ecx
	movw	%ss, %ax
	movzwl	%ax, %eax
	shll	$4, %eax
	addl	%eax, %ecx
	bswapl	%ecx
	xorl	%eax, %eax
	movw	$FW_CFG_DMA_HI, %dx
	outl	%eax, %dx	/* the high half: 0 */
	movl	%ecx, %eax
	movw	$FW_CFG_DMA_LO, %dx
	outl	%eax, %dx	/* the low half starts the transfer */
2:	movl	(%bp), %eax	/* control, big-endian */
	bswapl	%eax
	testl	$~DMA_ERROR, %eax
	jnz	2b
	testl	$DMA_ERROR, %eax
	jnz	fail
	addw	$16, %sp
	popw	%bp
3:	ret

/* Says why on the screen and gives the boot back to the BIOS (int 18h:
 * the next boot device). */
fail:
	movw	%cs, %ax
	movw	%ax, %ds
	movw	$failed, %si
1:	lodsb
	testb	%al, %al
	jz	2f
	movb	$0x0e, %ah
	movw	$0x0007, %bx
	int	$0x10
	jmp	1b
2:	int	$0x18
	hlt
	jmp	2b
failed:
	.asciz	"Guesthouse Linux boot ROM: fw_cfg DMA failed\r\n"

boot:
	cli
	cld
	/* the setup code, the kernel, the command line, the initrd */
	movw	$SETUP_ADDR, %bx
	call	read32
	movl	%eax, %esi		/* kept: the real-mode segment */
	movl	%eax, %edi
	movw	$SETUP_SIZE, %bx
	call	read32
	movl	%eax, %ecx
	movw	$SETUP_DATA, %bx
	call	dma_item

	movw	$KERNEL_ADDR, %bx
	call	read32
	movl	%eax, %edi
	movw	$KERNEL_SIZE, %bx
	call	read32
	movl	%eax, %ecx
	movw	$KERNEL_DATA, %bx
	call	dma_item

	movw	$CMDLINE_ADDR, %bx
	call	read32
	movl	%eax, %ebp		/* kept: the stack's top */
	movl	%eax, %edi
	movw	$CMDLINE_SIZE, %bx
	call	read32
	movl	%eax, %ecx
	movw	$CMDLINE_DATA, %bx
	call	dma_item

	movw	$INITRD_ADDR, %bx
	call	read32
	movl	%eax, %edi
	movw	$INITRD_SIZE, %bx
	call	read32
	movl	%eax, %ecx
	movw	$INITRD_DATA, %bx
	call	dma_item

	/* ds = es = fs = gs = ss = the setup's segment, the stack just below
	 * the command line, and a far jump 0x200 bytes in (boot.rst) */
	subl	%esi, %ebp
	shrl	$4, %esi
	movw	%si, %ds
	movw	%si, %es
	movw	%si, %fs
	movw	%si, %gs
	movw	%si, %ss
	movw	%bp, %sp
	addw	$0x20, %si
	pushw	%si
	pushw	$0
	lret
