/*
 * Guest-physical memory: RAM and ROM regions backed by host memory.
 * Every translation checks bounds; a range that is not wholly inside one
 * region does not translate.
 */
#ifndef GH_MEMORY_H
#define GH_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gh_memory;

enum gh_mem_kind {
	GH_MEM_RAM,
	GH_MEM_ROM,		/* guest reads only; guest writes are dropped */
	GH_MEM_OFF,		/* a window backed by nothing for now: accesses
				 * go to the MMIO bus */
};

struct gh_mem_region {
	uint64_t gpa;
	uint64_t size;
	void *hva;
	enum gh_mem_kind kind;
	const char *name;
	/* a window whose backing the chipset switches (gh_memory_set_window);
	 * never counted as RAM in the totals or the e820 map */
	bool window;
	/* device memory (a PCI BAR backed by host memory, the VGA's
	 * framebuffer): mapped and moved at run time, never counted as RAM */
	bool device;
};

#define GH_MEM_MAX_REGIONS 32

/* e820 types (ACPI spec, table 15-312) */
enum { GH_E820_RAM = 1, GH_E820_RESERVED = 2, GH_E820_ACPI = 3, GH_E820_NVS = 4 };

struct gh_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

#define GH_E820_MAX 32

struct gh_memory *gh_memory_new(void);
void gh_memory_free(struct gh_memory *mem);

/* Adds a region; -EEXIST if it overlaps one, -ENOSPC if the table is full. */
__attribute__((warn_unused_result))
int gh_memory_add(struct gh_memory *mem, uint64_t gpa, uint64_t size, void *hva,
		  enum gh_mem_kind kind, const char *name);

/*
 * A window: a range whose backing switches at run time between RAM, ROM
 * and nothing (the i440FX's PAM segments over 0xC0000-0xFFFFF). It starts
 * off (GH_MEM_OFF). -EEXIST, -ENOSPC, -EINVAL as gh_memory_add.
 */
__attribute__((warn_unused_result))
int gh_memory_add_window(struct gh_memory *mem, uint64_t gpa, uint64_t size,
			 const char *name);
/*
 * Backs the window that starts at gpa with hva as RAM or ROM, or with
 * nothing (GH_MEM_OFF, hva ignored); -ENOENT if no window starts there,
 * -EINVAL for a NULL hva. Whoever switches it tells the execution backend
 * (gh_vm_set_window does); the generation counter moves on.
 */
int gh_memory_set_window(struct gh_memory *mem, uint64_t gpa, void *hva,
			 enum gh_mem_kind kind);
/* Moves on whenever a window switches (CPUs caching translations of
 * guest-physical pages refill them). */
unsigned gh_memory_generation(const struct gh_memory *mem);

/*
 * Device memory that moves while the VM runs (a BAR backed by host
 * memory): writable by guests, never in the RAM totals or the e820 map.
 * Adding and removing move the generation on; CPUs looking regions up on
 * other threads never see the table half-changed. -EEXIST/-ENOSPC/-EINVAL
 * as gh_memory_add; remove: -ENOENT if no device memory starts at gpa.
 */
__attribute__((warn_unused_result))
int gh_memory_add_device(struct gh_memory *mem, uint64_t gpa, uint64_t size,
			 void *hva, const char *name);
int gh_memory_remove_device(struct gh_memory *mem, uint64_t gpa);

unsigned gh_memory_count(const struct gh_memory *mem);
const struct gh_mem_region *gh_memory_region(const struct gh_memory *mem,
					     unsigned i);

/* Host pointer for [gpa, gpa+len) if it lies wholly in one RAM or ROM region. */
void *gh_mem_map(struct gh_memory *mem, uint64_t gpa, uint64_t len);

/* The 4 KiB page holding gpa, and whether guests may write it (not ROM). */
void *gh_mem_map_page(struct gh_memory *mem, uint64_t gpa, bool *writable);

/* Copies; -EFAULT if any byte is outside RAM/ROM. gh_mem_write refuses ROM. */
int gh_mem_read(struct gh_memory *mem, uint64_t gpa, void *buf, size_t len);
/* Devices (DMA) and loaders write guest RAM with it; the write notifier
 * hears of it. */
int gh_mem_write(struct gh_memory *mem, uint64_t gpa, const void *buf, size_t len);

/*
 * A device that wrote guest RAM through a gh_mem_map() pointer reports the
 * range here, so that CPUs holding decoded code from it drop that code.
 * Any thread; ranges outside RAM are ignored.
 */
void gh_mem_dma_written(struct gh_memory *mem, uint64_t gpa, uint64_t len);

/*
 * Who hears of writes by gh_mem_write() and gh_mem_dma_written(): the
 * execution backend (the VM sets it). fn NULL: nobody. Set it before any
 * thread writes guest memory.
 */
typedef void gh_mem_write_notify_fn(void *opaque, uint64_t gpa, uint64_t len);
void gh_memory_set_write_notify(struct gh_memory *mem, gh_mem_write_notify_fn *fn,
				void *opaque);

/* True if gpa is backed by RAM or ROM (not MMIO). */
bool gh_mem_is_ram(struct gh_memory *mem, uint64_t gpa);

/*
 * Total RAM below 4 GiB and above it, for the CMOS and firmware tables.
 */
uint64_t gh_memory_ram_below_4g(const struct gh_memory *mem);
uint64_t gh_memory_ram_above_4g(const struct gh_memory *mem);

/* The PC's e820 map: RAM regions with the legacy BIOS areas reserved. */
unsigned gh_memory_e820(const struct gh_memory *mem, struct gh_e820_entry *out,
			unsigned max);

#endif
