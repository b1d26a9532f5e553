/*
 * Address spaces for port I/O and MMIO. A device maps a range with an ops
 * table and an opaque pointer; its callbacks get the offset into the range,
 * never the absolute address. Overlapping ranges are refused.
 */
#ifndef GH_BUS_H
#define GH_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "gh/log.h"

struct gh_io_ops {
	/* size is 1, 2, 4 or 8; off + size never passes the end of the range */
	uint64_t (*read)(void *opaque, uint64_t off, unsigned size);
	void (*write)(void *opaque, uint64_t off, uint64_t val, unsigned size);
	/*
	 * Accesses of any size that start at the range's first address are
	 * the range's, even where they run past its end; off is then 0 and
	 * off + size may exceed the range. A register that decodes its base
	 * address by size does this: PCI's CONFADD at 0xCF8 takes dword
	 * accesses while a byte at 0xCF9 is the reset control register's.
	 */
	bool wide;
};

struct gh_bus;

struct gh_bus *gh_bus_new(const char *name);
void gh_bus_free(struct gh_bus *bus);

/* 0, -EINVAL for an empty or wrapping range, -EBUSY if it overlaps a mapping. */
__attribute__((warn_unused_result))
int gh_bus_map(struct gh_bus *bus, uint64_t base, uint64_t len,
	       const struct gh_io_ops *ops, void *opaque, const char *name);
/* Removes the mapping that starts at base; -ENOENT if there is none. */
int gh_bus_unmap(struct gh_bus *bus, uint64_t base);

/*
 * Dispatch. An access to nothing reads all-ones and drops writes (logged,
 * rate-limited). An access that crosses the end of a range is split into
 * byte accesses. The caller holds the VM's device lock.
 */
uint64_t gh_bus_read(struct gh_bus *bus, uint64_t addr, unsigned size);
void gh_bus_write(struct gh_bus *bus, uint64_t addr, uint64_t val, unsigned size);

/* Name of the mapping at addr, or NULL (for tests and diagnostics). */
const char *gh_bus_lookup(struct gh_bus *bus, uint64_t addr);

#endif
