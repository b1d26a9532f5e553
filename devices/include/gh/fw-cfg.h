/*
 * QEMU's firmware configuration device (fw_cfg), as QEMU's
 * docs/specs/fw_cfg.rst defines it and SeaBIOS and OVMF use it: numbered
 * items and named files read through a selector and a data port, or by
 * DMA. The constants here are the guest-visible interface.
 */
#ifndef GH_FW_CFG_H
#define GH_FW_CFG_H

/* I/O ports (fw_cfg.rst, "Selector/Data/DMA Register") */
#define GH_FW_CFG_PORT_SEL	0x510	/* 16-bit selector, write only */
#define GH_FW_CFG_PORT_DATA	0x511	/* 8-bit data */
#define GH_FW_CFG_PORT_DMA	0x514	/* 64-bit big-endian address */
#define GH_FW_CFG_DMA_SIGNATURE	"QEMU CFG"	/* read back from 0x514 */

/* Selector keys ("Selector Register", "Legacy Item Selectors") */
enum {
	GH_FW_CFG_SIGNATURE	= 0x0000,	/* "QEMU" */
	GH_FW_CFG_ID		= 0x0001,	/* features, u32 */
	GH_FW_CFG_UUID		= 0x0002,
	GH_FW_CFG_RAM_SIZE	= 0x0003,	/* u64 */
	GH_FW_CFG_NOGRAPHIC	= 0x0004,
	GH_FW_CFG_NB_CPUS	= 0x0005,	/* u16 */
	/* the kernel for firmware-mediated boot: addresses and sizes u32 */
	GH_FW_CFG_KERNEL_ADDR	= 0x0007,
	GH_FW_CFG_KERNEL_SIZE	= 0x0008,
	GH_FW_CFG_KERNEL_CMDLINE = 0x0009,	/* the command line's address */
	GH_FW_CFG_INITRD_ADDR	= 0x000a,
	GH_FW_CFG_INITRD_SIZE	= 0x000b,
	GH_FW_CFG_NUMA		= 0x000d,
	GH_FW_CFG_BOOT_MENU	= 0x000e,	/* u16 */
	GH_FW_CFG_MAX_CPUS	= 0x000f,	/* u16 */
	GH_FW_CFG_KERNEL_DATA	= 0x0011,	/* the protected-mode part */
	GH_FW_CFG_INITRD_DATA	= 0x0012,
	GH_FW_CFG_CMDLINE_ADDR	= 0x0013,
	GH_FW_CFG_CMDLINE_SIZE	= 0x0014,	/* with the NUL */
	GH_FW_CFG_CMDLINE_DATA	= 0x0015,
	GH_FW_CFG_SETUP_ADDR	= 0x0016,	/* the real-mode part */
	GH_FW_CFG_SETUP_SIZE	= 0x0017,
	GH_FW_CFG_SETUP_DATA	= 0x0018,
	GH_FW_CFG_FILE_DIR	= 0x0019,
	GH_FW_CFG_FILE_FIRST	= 0x0020,
	GH_FW_CFG_WRITE_CHANNEL	= 0x4000,
	GH_FW_CFG_ARCH_LOCAL	= 0x8000,
	/* x86's arch-local items */
	GH_FW_CFG_IRQ0_OVERRIDE	= 0x8002,	/* u32 */
};
/* What the key's low bits select; the two top bits are flags. */
#define GH_FW_CFG_ENTRY_MASK	0x3fff

/* GH_FW_CFG_ID bits */
#define GH_FW_CFG_VERSION	(1u << 0)	/* the port interface */
#define GH_FW_CFG_VERSION_DMA	(1u << 1)

/*
 * The DMA access structure (FWCfgDmaAccess), all big-endian: control,
 * length, address; 16 bytes at the address written to the DMA register.
 */
#define GH_FW_CFG_DMA_ERROR	(1u << 0)
#define GH_FW_CFG_DMA_READ	(1u << 1)
#define GH_FW_CFG_DMA_SKIP	(1u << 2)
#define GH_FW_CFG_DMA_SELECT	(1u << 3)
#define GH_FW_CFG_DMA_WRITE	(1u << 4)
#define GH_FW_CFG_DMA_ACCESS_SIZE	16

/* One file directory entry (FWCfgFile): be32 size, be16 select, name. */
#define GH_FW_CFG_FILE_NAME	56
#define GH_FW_CFG_FILE_ENTRY	64

/*
 * The BIOS linker/loader script ("etc/table-loader", QEMU's
 * hw/acpi/bios-linker-loader.c): 128-byte little-endian commands.
 */
#define GH_FW_CFG_LOADER_ENTRY		128
enum {
	GH_FW_CFG_LOADER_ALLOCATE	= 1,	/* file, align, zone */
	GH_FW_CFG_LOADER_ADD_POINTER	= 2,	/* dest, src, offset, size */
	GH_FW_CFG_LOADER_ADD_CHECKSUM	= 3,	/* file, offset, start, length */
};
enum {
	GH_FW_CFG_LOADER_ZONE_HIGH	= 1,
	GH_FW_CFG_LOADER_ZONE_FSEG	= 2,
};

#endif
