/*
 * Device type descriptors. A device is a const descriptor plus one state
 * struct that holds all of its state (so snapshots can serialise it later).
 * devices/board.c lists the PC's devices in one table; they are realized in
 * increasing level order and unrealized in reverse.
 *
 * Every device entry point (bus callbacks, timers, chardev and input
 * callbacks, reset) runs with the VM's device lock held.
 */
#ifndef GH_DEVICE_H
#define GH_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "gh/error.h"

struct gh_board_config;
struct gh_pci_bus;
struct gh_vm;

struct gh_device_cfg {
	uint64_t base;		/* first port or MMIO address, 0: the default */
	int irq;		/* GSI, -1: none, 0 may be a real IRQ 0 */
	unsigned index;		/* instance number (COM1 = 0) */
	/* local APICs: how many, 0 for one per vCPU of the VM (device tests
	 * give a count for their CPU-less VM) */
	unsigned ncpus;
	/* PCI functions: the bus they plug into (the board's) */
	struct gh_pci_bus *pci;
	/* what the user chose for this PC (drives, display, boot); never NULL
	 * on a board, NULL for devices tests create alone */
	const struct gh_board_config *board;
};

struct gh_device_type {
	const char *name;
	unsigned level;		/* interrupt controllers 0, the rest 1 */
	size_t size;		/* instance size, zeroed before realize */
	/* Maps regions, connects lines, allocates timers; 0 or -errno. */
	int (*realize)(void *dev, struct gh_vm *vm,
		       const struct gh_device_cfg *cfg, struct gh_error *err);
	/* Puts the device in its power-on state (also called after realize). */
	void (*reset)(void *dev);
	/* Undoes realize (unmaps, frees timers); NULL if nothing to undo. */
	void (*unrealize)(void *dev);
};

struct gh_device {
	const struct gh_device_type *type;
	struct gh_vm *vm;
	void *state;
};

__attribute__((warn_unused_result))
int gh_device_new(const struct gh_device_type *type, struct gh_vm *vm,
		  const struct gh_device_cfg *cfg, struct gh_device **out,
		  struct gh_error *err);
void gh_device_reset(struct gh_device *dev);
void gh_device_free(struct gh_device *dev);

/* The PC's legacy devices (devices/pc/). */
extern const struct gh_device_type gh_i8259_type;	/* master + slave PIC */
extern const struct gh_device_type gh_i8254_type;	/* PIT + port 0x61 */
extern const struct gh_device_type gh_mc146818_type;	/* RTC/CMOS */
extern const struct gh_device_type gh_ns16550_type;	/* UART */
extern const struct gh_device_type gh_i8042_type;	/* KBC, A20, port 0x92 */
extern const struct gh_device_type gh_debug_exit_type;	/* isa-debug-exit */
extern const struct gh_device_type gh_post_type;	/* port 0x80 */
extern const struct gh_device_type gh_debugcon_type;	/* ports 0xe9, 0x402 */
extern const struct gh_device_type gh_acpi_pm_type;	/* PM1a, PM timer, 0xcf9 */
extern const struct gh_device_type gh_hpet_type;	/* HPET at 0xfed00000 */
extern const struct gh_device_type gh_lapic_type;	/* every CPU's local APIC, MSI */
extern const struct gh_device_type gh_ioapic_type;	/* 82093AA I/O APIC */
extern const struct gh_device_type gh_fpu_error_type;	/* IRQ 13 latch, port 0xf0 */
extern const struct gh_device_type gh_fw_cfg_type;	/* QEMU fw_cfg, 0x510-0x51b */

/* PCI (devices/pci/): functions on cfg->pci */
extern const struct gh_device_type gh_i440fx_type;	/* host bridge, PAM, 00:00.0 */
extern const struct gh_device_type gh_piix_type;	/* ISA bridge, PIRQs, 00:01.0 */
extern const struct gh_device_type gh_ide_type;	/* PIIX3 IDE, 00:01.1 */

/* Display (devices/display/) */
extern const struct gh_device_type gh_vga_type;	/* std VGA + VBE, 00:02.0 */

#endif
