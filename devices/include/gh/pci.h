/*
 * PCI bus 0 of the PC (PCI Local Bus Specification 3.0): configuration
 * mechanism #1 at 0xCF8/0xCFC, functions with a 256-byte configuration
 * space, BARs mapped onto the VM's port-I/O and MMIO buses while the command
 * register enables them, an expansion-ROM BAR, capabilities with MSI, and
 * INTx pins swizzled onto the ISA bridge's PIRQ lines.
 *
 * A device embeds a struct gh_pci_func in its state, fills it with
 * gh_pci_func_init() and the helpers below, and plugs it in with
 * gh_pci_register(). Everything runs with the VM's device lock held.
 */
#ifndef GH_PCI_H
#define GH_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gh/error.h"

struct gh_bus;
struct gh_io_ops;
struct gh_pci_bus;
struct gh_vm;

/* Configuration-space header (type 0), PCI 3.0 section 6.1 */
#define GH_PCI_VENDOR_ID	0x00
#define GH_PCI_DEVICE_ID	0x02
#define GH_PCI_COMMAND		0x04
#define GH_PCI_STATUS		0x06
#define GH_PCI_REVISION		0x08
#define GH_PCI_CLASS_PROG	0x09
#define GH_PCI_CLASS_DEVICE	0x0a	/* sub-class, base class */
#define GH_PCI_HEADER_TYPE	0x0e
#define GH_PCI_BAR0		0x10
#define GH_PCI_SUBSYS_VENDOR	0x2c
#define GH_PCI_SUBSYS_ID	0x2e
#define GH_PCI_ROM_ADDRESS	0x30
#define GH_PCI_CAP_PTR		0x34
#define GH_PCI_INTERRUPT_LINE	0x3c
#define GH_PCI_INTERRUPT_PIN	0x3d

#define GH_PCI_CMD_IO		(1u << 0)
#define GH_PCI_CMD_MEMORY	(1u << 1)
#define GH_PCI_CMD_MASTER	(1u << 2)
#define GH_PCI_CMD_SERR		(1u << 8)
#define GH_PCI_CMD_INTX_DISABLE	(1u << 10)

#define GH_PCI_STATUS_INTERRUPT	(1u << 3)
#define GH_PCI_STATUS_CAP_LIST	(1u << 4)
/* the error bits software clears by writing 1 (6.2.3) */
#define GH_PCI_STATUS_W1C	0xf900u

#define GH_PCI_HEADER_MULTI_FUNCTION 0x80

#define GH_PCI_CAP_ID_MSI	0x05

#define GH_PCI_NUM_BARS		6
#define GH_PCI_ROM_BAR		GH_PCI_NUM_BARS	/* index of the ROM BAR */

/* BAR kinds (6.2.5.1) */
enum gh_pci_bar_kind {
	GH_PCI_BAR_NONE,
	GH_PCI_BAR_IO,
	GH_PCI_BAR_MEM32,
	GH_PCI_BAR_MEM64,	/* takes this BAR and the next */
};

#define GH_PCI_DEVFN(slot, fn)	(((slot) << 3) | (fn))
#define GH_PCI_MAX_DEVFN	256

/* An unmapped BAR */
#define GH_PCI_BAR_UNMAPPED	UINT64_MAX

struct gh_pci_bar {
	enum gh_pci_bar_kind kind;
	bool prefetch;
	uint64_t size;		/* a power of two; 0: no BAR */
	const struct gh_io_ops *ops;
	void *opaque;
	const char *name;
	uint64_t mapped;	/* where it is on its bus, or UNMAPPED */
	/* memory BARs backed by host memory (gh_pci_set_bar_ram): mapped
	 * as device memory, accesses never exit */
	void *ram;
	bool ram_mapped;	/* as device memory, not on the MMIO bus */
};

struct gh_pci_func;

struct gh_pci_func_ops {
	/*
	 * Optional: after the standard handling of a config write of size
	 * bytes at off (aligned inside a dword), for registers of the
	 * device's own; the new bytes are already in config[].
	 */
	void (*config_write)(struct gh_pci_func *f, unsigned off, uint32_t val,
			     unsigned size);
};

struct gh_pci_func {
	struct gh_pci_bus *bus;
	int devfn;			/* -1 until registered */
	const struct gh_pci_func_ops *ops;
	void *opaque;			/* the device's state */
	uint8_t config[256];
	uint8_t wmask[256];		/* bits software may write */
	uint8_t w1cmask[256];		/* bits a 1 clears */
	uint8_t reset_config[256];	/* config[] at power-on */
	struct gh_pci_bar bars[GH_PCI_NUM_BARS + 1];	/* + the ROM BAR */
	const uint8_t *rom;
	size_t rom_len;
	uint8_t cap_last;		/* offset of the last capability, 0: none */
	uint8_t msi;			/* offset of the MSI capability, 0: none */
	uint32_t msi_pending;
	bool intx;			/* the device drives its pin */
};

/*
 * The bus and its configuration mechanism: claims 0xCF8 (a dword
 * register, gh_io_ops.wide) and 0xCFC-0xCFF on vm's port bus, leaving
 * 0xCF9 to the reset control register.
 */
__attribute__((warn_unused_result))
int gh_pci_bus_new(struct gh_vm *vm, struct gh_pci_bus **out,
		   struct gh_error *err);
void gh_pci_bus_free(struct gh_pci_bus *bus);
/* CONFADD to 0 (the functions reset with their devices). */
void gh_pci_bus_reset(struct gh_pci_bus *bus);
struct gh_vm *gh_pci_bus_vm(struct gh_pci_bus *bus);

/* The function at devfn, or NULL. */
struct gh_pci_func *gh_pci_find(struct gh_pci_bus *bus, unsigned devfn);

/*
 * The ISA bridge's PIRQ inputs: fn(opaque, pirq, level) whenever the OR
 * of the INTx pins swizzled onto PIRQ pirq (0-3: A-D) changes.
 */
typedef void gh_pci_pirq_fn(void *opaque, unsigned pirq, int level);
void gh_pci_set_pirq_router(struct gh_pci_bus *bus, gh_pci_pirq_fn *fn,
			    void *opaque);
/* Current level of PIRQ pirq: the OR of the pins on it. */
int gh_pci_pirq_level(struct gh_pci_bus *bus, unsigned pirq);
/* The standard swizzle on bus 0: INTA-D (pin 1-4) of slot -> PIRQ 0-3. */
unsigned gh_pci_swizzle(unsigned slot, unsigned pin);

/*
 * Function set-up: IDs, class (base, sub, prog-if), revision; header type
 * 0, everything read-only but the command register's I/O, memory,
 * bus-master, SERR and INTx-disable bits, the W1C status bits and the
 * interrupt line. ops may be NULL.
 */
void gh_pci_func_init(struct gh_pci_func *f, uint16_t vendor, uint16_t device,
		      uint32_t class_code, uint8_t revision,
		      const struct gh_pci_func_ops *ops, void *opaque);
void gh_pci_set_subsystem(struct gh_pci_func *f, uint16_t vendor, uint16_t id);
/* Interrupt pin 1-4 (INTA-D), 0: none. */
void gh_pci_set_intx_pin(struct gh_pci_func *f, unsigned pin);
/* Makes len bytes at off writable with mask (len <= 4, little-endian). */
void gh_pci_set_wmask(struct gh_pci_func *f, unsigned off, unsigned len,
		      uint32_t mask);

/*
 * BAR i: size a power of two (I/O: 4 to 256 bytes; memory: at least 16),
 * accesses through ops with the offset into the BAR. A MEM64 BAR also
 * takes BAR i + 1. -EINVAL for a bad index, size or kind.
 */
__attribute__((warn_unused_result))
int gh_pci_set_bar(struct gh_pci_func *f, unsigned i, enum gh_pci_bar_kind kind,
		   bool prefetch, uint64_t size, const struct gh_io_ops *ops,
		   void *opaque, const char *name);
/*
 * A 32-bit memory BAR backed by size bytes at hva (kept by the caller,
 * page-aligned): the guest reaches it as memory where the BAR decodes,
 * without an exit per access; it moves with the BAR. -EINVAL as above.
 */
__attribute__((warn_unused_result))
int gh_pci_set_bar_ram(struct gh_pci_func *f, unsigned i, bool prefetch,
		       uint64_t size, void *hva, const char *name);
/* The expansion ROM: len bytes (kept by the caller), read-only, mapped
 * while the ROM BAR's enable bit and the memory space bit are set. */
__attribute__((warn_unused_result))
int gh_pci_set_rom(struct gh_pci_func *f, const void *data, size_t len);

/*
 * Adds a capability of len bytes at off (0x40-0xFF, dword-aligned) to the
 * list and sets the status register's capabilities bit; returns off or
 * -EINVAL. The ID and next pointer are read-only.
 */
__attribute__((warn_unused_result))
int gh_pci_add_cap(struct gh_pci_func *f, unsigned off, uint8_t id,
		   unsigned len);

/*
 * An MSI capability (PCI 3.0, 6.8.1) at off for 2^log2_vectors vectors
 * (at most 32), with a 64-bit address if addr64 and per-vector mask and
 * pending bits if maskable.
 */
__attribute__((warn_unused_result))
int gh_pci_msi_init(struct gh_pci_func *f, unsigned off,
		    unsigned log2_vectors, bool addr64, bool maskable);
/* Whether the guest turned MSI on (the device then does not use INTx). */
bool gh_pci_msi_enabled(const struct gh_pci_func *f);
/*
 * Signals vector (< the vectors the guest enabled): a memory write to the
 * MSI address, through the VM's MSI hook; held as pending while masked.
 * Nothing happens without MSI enabled and bus mastering. 0, or -EINVAL
 * when nothing was sent.
 */
int gh_pci_msi_notify(struct gh_pci_func *f, unsigned vector);

/* The function drives its INTx pin; gated by the command register's
 * INTx-disable bit, reflected in the status register's interrupt bit. */
void gh_pci_set_irq(struct gh_pci_func *f, int level);

/* Plugs f in at devfn; -EBUSY if taken, -EINVAL if out of range. */
__attribute__((warn_unused_result))
int gh_pci_register(struct gh_pci_bus *bus, struct gh_pci_func *f,
		    unsigned devfn);
/* Unplugs f and unmaps its BARs. */
void gh_pci_unregister(struct gh_pci_func *f);
/* Power-on state: config[] as set up, BARs unmapped, MSI and INTx off. */
void gh_pci_func_reset(struct gh_pci_func *f);

/* Configuration accesses as the mechanism does them (tests, MMCONFIG
 * later): off + size within 256 and inside one dword. */
uint32_t gh_pci_config_read(struct gh_pci_func *f, unsigned off, unsigned size);
void gh_pci_config_write(struct gh_pci_func *f, unsigned off, uint32_t val,
			 unsigned size);

#endif
