/*
 * The firmware tables a direct-boot loader leaves for the kernel: ACPI
 * (RSDP, XSDT/RSDT, FADT, FACS, DSDT, MADT, HPET; ACPI 6.3) and the
 * Intel MultiProcessor table (MP spec 1.4), and the fixed addresses they
 * describe, which the devices that sit there use too.
 */
#ifndef GH_X86_ACPI_H
#define GH_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "gh/error.h"

struct gh_memory;

/* Interrupt controllers: LAPIC id = vCPU index, I/O APIC id = ncpus. */
#define GH_LAPIC_BASE		0xfee00000u
#define GH_IOAPIC_BASE		0xfec00000u
#define GH_IOAPIC_PINS		24

#define GH_HPET_BASE		0xfed00000u
#define GH_HPET_SIZE		0x400u
/*
 * GCAP_ID's low half (HPET 1.0a, 2.3.4), also the HPET table's event timer
 * block id: revision 1, 3 timers, 64-bit counter, LegacyReplacement
 * capable, vendor 0x8086. The counter runs at 100 MHz: a 10 ns period.
 */
#define GH_HPET_ID		0x8086a201u
#define GH_HPET_HZ		100000000ULL
#define GH_HPET_PERIOD_FS	10000000u
/* the shortest period a periodic comparator keeps (HPET table, 3.2.4) */
#define GH_HPET_MIN_PERIOD	128

/*
 * The PM1a register blocks and the PM timer (ACPI 6.3, 4.8.3), in I/O
 * space: where SeaBIOS puts the PIIX4's PM block (PMBA) on a QEMU PC, and
 * OVMF leaves it (it moves the block only when it finds it off), so the
 * FADT stays true after the firmware's set-up.
 */
#define GH_ACPI_PM_BASE		0x600
#define GH_ACPI_PM1A_EVT	(GH_ACPI_PM_BASE + 0)	/* status, enable: 2 + 2 */
#define GH_ACPI_PM1A_CNT	(GH_ACPI_PM_BASE + 4)	/* 2 bytes */
#define GH_ACPI_PM_TMR		(GH_ACPI_PM_BASE + 8)	/* 4 bytes */
#define GH_ACPI_PM_SIZE		12
#define GH_ACPI_SCI_IRQ		9
/* \_S5's SLP_TYP: what PM1a_CNT takes as "soft off" */
#define GH_ACPI_SLP_TYP_S5	5
/* FADT RESET_REG: the PC's reset control register (PIIX4/ICH "RST_CNT") */
#define GH_ACPI_RESET_PORT	0xcf9
#define GH_ACPI_RESET_VALUE	0x06

/*
 * The tables live in the BIOS area the e820 map reserves, where the RSDP
 * scan (ACPI 6.3, 5.2.5.1) and the MP floating pointer scan (MP 1.4, 4)
 * both look.
 */
#define GH_X86_TABLES_ADDR	0xf0000ULL
#define GH_X86_TABLES_SIZE	0x10000ULL

/*
 * Writes the ACPI and MP tables for ncpus vCPUs (1..GH_VM_MAX_CPUS) into
 * guest RAM at GH_X86_TABLES_ADDR; *rsdp gets the RSDP's address.
 * -EINVAL for a bad ncpus, -ENOMEM if the area is not RAM.
 */
__attribute__((warn_unused_result))
int gh_x86_build_tables(struct gh_memory *mem, unsigned ncpus, uint64_t *rsdp,
			struct gh_error *err);

/*
 * The same ACPI tables for firmware that places them itself through QEMU's
 * BIOS linker/loader (QEMU hw/acpi/bios-linker-loader.c, fw_cfg's
 * "etc/table-loader"): two blobs, the RSDP and the tables it leads to,
 * built as if the tables blob sat at address 0. Each pointer field (in
 * either blob, always pointing into the tables blob) then holds an offset
 * that the loader's ADD_POINTER turns into an address by adding the
 * tables blob's, and each checksum field is listed for its ADD_CHECKSUM.
 */
enum gh_acpi_blob {
	GH_ACPI_BLOB_RSDP,
	GH_ACPI_BLOB_TABLES,
	GH_ACPI_NBLOBS
};

struct gh_acpi_pointer {
	enum gh_acpi_blob blob;	/* where the pointer field is */
	uint32_t offset;
	uint8_t size;		/* 4 or 8 bytes, little-endian */
};

struct gh_acpi_checksum {
	enum gh_acpi_blob blob;
	uint32_t field;		/* the checksum byte */
	uint32_t start, length;	/* the bytes that must sum to 0 */
};

struct gh_acpi_blobs {
	uint8_t *data[GH_ACPI_NBLOBS];
	size_t size[GH_ACPI_NBLOBS];
	struct gh_acpi_pointer pointers[16];
	unsigned npointers;
	struct gh_acpi_checksum checksums[16];
	unsigned nchecksums;
};

/* -EINVAL for a bad ncpus; free with gh_x86_acpi_blobs_free. */
__attribute__((warn_unused_result))
int gh_x86_build_acpi_blobs(unsigned ncpus, struct gh_acpi_blobs *out,
			    struct gh_error *err);
void gh_x86_acpi_blobs_free(struct gh_acpi_blobs *blobs);

#endif
