/*
 * Port-I/O and MMIO address spaces: a sorted table of non-overlapping
 * ranges, looked up by binary search.
 */
#include "gh/bus.h"

#include <errno.h>

struct range {
	uint64_t base;
	uint64_t len;
	const struct gh_io_ops *ops;
	void *opaque;
	const char *name;
};

struct gh_bus {
	const char *name;
	GArray *ranges;		/* struct range, sorted by base */
	struct gh_ratelimit rl;
};

struct gh_bus *gh_bus_new(const char *name)
{
	struct gh_bus *bus = g_new0(struct gh_bus, 1);

	bus->name = name;
	bus->ranges = g_array_new(FALSE, FALSE, sizeof(struct range));
	return bus;
}

void gh_bus_free(struct gh_bus *bus)
{
	if (!bus)
		return;
	g_array_free(bus->ranges, TRUE);
	g_free(bus);
}

/* Index of the first range whose end lies above addr. */
static unsigned lower_bound(struct gh_bus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->ranges->len;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		struct range *r = &g_array_index(bus->ranges, struct range, mid);

		if (r->base + (r->len - 1) < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct range *find(struct gh_bus *bus, uint64_t addr)
{
	unsigned i = lower_bound(bus, addr);
	struct range *r;

	if (i == bus->ranges->len)
		return NULL;
	r = &g_array_index(bus->ranges, struct range, i);
	return addr >= r->base ? r : NULL;
}

int gh_bus_map(struct gh_bus *bus, uint64_t base, uint64_t len,
	       const struct gh_io_ops *ops, void *opaque, const char *name)
{
	struct range r = { base, len, ops, opaque, name };
	unsigned i;

	if (!len || base + (len - 1) < base || !ops)
		return -EINVAL;
	i = lower_bound(bus, base);
	if (i < bus->ranges->len) {
		struct range *next = &g_array_index(bus->ranges, struct range, i);

		if (next->base <= base + (len - 1))
			return -EBUSY;
	}
	g_array_insert_val(bus->ranges, i, r);
	return 0;
}

int gh_bus_unmap(struct gh_bus *bus, uint64_t base)
{
	unsigned i = lower_bound(bus, base);

	if (i == bus->ranges->len ||
	    g_array_index(bus->ranges, struct range, i).base != base)
		return -ENOENT;
	g_array_remove_index(bus->ranges, i);
	return 0;
}

const char *gh_bus_lookup(struct gh_bus *bus, uint64_t addr)
{
	struct range *r = find(bus, addr);

	return r ? r->name : NULL;
}

static bool fits(const struct range *r, uint64_t addr, unsigned size)
{
	if (r->ops->wide && addr == r->base)
		return true;
	return addr - r->base <= r->len - size && size <= r->len;
}

uint64_t gh_bus_read(struct gh_bus *bus, uint64_t addr, unsigned size)
{
	struct range *r = find(bus, addr);
	uint64_t val = 0;
	unsigned i;

	if (r && fits(r, addr, size)) {
		if (!r->ops->read)
			return size == 8 ? UINT64_MAX : (1ULL << (size * 8)) - 1;
		val = r->ops->read(r->opaque, addr - r->base, size);
		return size == 8 ? val : val & ((1ULL << (size * 8)) - 1);
	}
	if (!r && size == 1) {
		gh_log_guest(&bus->rl, "%s: read from unassigned 0x%" PRIx64,
			     bus->name, addr);
		return 0xff;
	}
	/* Unassigned or straddling: assemble from byte accesses. */
	for (i = 0; i < size; i++)
		val |= gh_bus_read(bus, addr + i, 1) << (i * 8);
	return val;
}

void gh_bus_write(struct gh_bus *bus, uint64_t addr, uint64_t val,
		  unsigned size)
{
	struct range *r = find(bus, addr);
	unsigned i;

	if (r && fits(r, addr, size)) {
		if (r->ops->write)
			r->ops->write(r->opaque, addr - r->base, val, size);
		return;
	}
	if (!r && size == 1) {
		gh_log_guest(&bus->rl,
			     "%s: write 0x%02" PRIx64 " to unassigned 0x%" PRIx64,
			     bus->name, val & 0xff, addr);
		return;
	}
	for (i = 0; i < size; i++)
		gh_bus_write(bus, addr + i, (val >> (i * 8)) & 0xff, 1);
}
