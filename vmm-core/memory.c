/* Guest-physical memory map: RAM/ROM regions with checked translation. */
#include "gh/memory.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

struct gh_memory {
	unsigned n;
	struct gh_mem_region r[GH_MEM_MAX_REGIONS];	/* sorted by gpa */
	gh_mem_write_notify_fn *notify;
	void *notify_opaque;
	unsigned generation;
	/*
	 * Odd while the table changes. vCPUs look regions up without the
	 * device lock; a lookup that saw the count move (or odd) retries, so
	 * a region added or removed at run time (a BAR backed by device
	 * memory moving) is never seen half-written.
	 */
	unsigned seq;
};

static void seq_begin(struct gh_memory *mem)
{
	__atomic_store_n(&mem->seq, mem->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void seq_end(struct gh_memory *mem)
{
	__atomic_store_n(&mem->seq, mem->seq + 1, __ATOMIC_RELEASE);
}

struct gh_memory *gh_memory_new(void)
{
	return g_new0(struct gh_memory, 1);
}

void gh_memory_free(struct gh_memory *mem)
{
	g_free(mem);
}

static int add(struct gh_memory *mem, uint64_t gpa, uint64_t size, void *hva,
	       enum gh_mem_kind kind, const char *name, bool window, bool device)
{
	unsigned i;

	if (!size || gpa + size < gpa)
		return -EINVAL;
	if (mem->n == GH_MEM_MAX_REGIONS)
		return -ENOSPC;
	for (i = 0; i < mem->n; i++) {
		const struct gh_mem_region *o = &mem->r[i];

		if (gpa < o->gpa + o->size && o->gpa < gpa + size)
			return -EEXIST;
	}
	seq_begin(mem);
	for (i = mem->n; i > 0 && mem->r[i - 1].gpa > gpa; i--)
		mem->r[i] = mem->r[i - 1];
	mem->r[i] = (struct gh_mem_region){ gpa, size, hva, kind, name, window,
					    device };
	mem->n++;
	seq_end(mem);
	return 0;
}

int gh_memory_add(struct gh_memory *mem, uint64_t gpa, uint64_t size, void *hva,
		  enum gh_mem_kind kind, const char *name)
{
	if (!hva || kind == GH_MEM_OFF)
		return -EINVAL;
	return add(mem, gpa, size, hva, kind, name, false, false);
}

int gh_memory_add_device(struct gh_memory *mem, uint64_t gpa, uint64_t size,
			 void *hva, const char *name)
{
	int ret;

	if (!hva)
		return -EINVAL;
	ret = add(mem, gpa, size, hva, GH_MEM_RAM, name, false, true);
	if (!ret)
		__atomic_add_fetch(&mem->generation, 1, __ATOMIC_RELEASE);
	return ret;
}

int gh_memory_remove_device(struct gh_memory *mem, uint64_t gpa)
{
	for (unsigned i = 0; i < mem->n; i++) {
		if (mem->r[i].gpa != gpa || !mem->r[i].device)
			continue;
		seq_begin(mem);
		memmove(&mem->r[i], &mem->r[i + 1],
			(mem->n - i - 1) * sizeof(mem->r[0]));
		mem->n--;
		seq_end(mem);
		__atomic_add_fetch(&mem->generation, 1, __ATOMIC_RELEASE);
		return 0;
	}
	return -ENOENT;
}

int gh_memory_add_window(struct gh_memory *mem, uint64_t gpa, uint64_t size,
			 const char *name)
{
	return add(mem, gpa, size, NULL, GH_MEM_OFF, name, true, false);
}

int gh_memory_set_window(struct gh_memory *mem, uint64_t gpa, void *hva,
			 enum gh_mem_kind kind)
{
	for (unsigned i = 0; i < mem->n; i++) {
		struct gh_mem_region *r = &mem->r[i];

		if (r->gpa != gpa || !r->window)
			continue;
		if (kind != GH_MEM_OFF && !hva)
			return -EINVAL;
		seq_begin(mem);
		r->hva = kind == GH_MEM_OFF ? NULL : hva;
		r->kind = kind;
		seq_end(mem);
		__atomic_add_fetch(&mem->generation, 1, __ATOMIC_RELEASE);
		return 0;
	}
	return -ENOENT;
}

unsigned gh_memory_generation(const struct gh_memory *mem)
{
	return __atomic_load_n(&mem->generation, __ATOMIC_ACQUIRE);
}

unsigned gh_memory_count(const struct gh_memory *mem)
{
	return mem->n;
}

const struct gh_mem_region *gh_memory_region(const struct gh_memory *mem,
					     unsigned i)
{
	return i < mem->n ? &mem->r[i] : NULL;
}

static const struct gh_mem_region *find_unlocked(const struct gh_memory *mem,
						 uint64_t gpa)
{
	unsigned lo = 0, hi = mem->n;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		const struct gh_mem_region *r = &mem->r[mid];

		if (gpa < r->gpa)
			hi = mid;
		else if (gpa - r->gpa >= r->size)
			lo = mid + 1;
		else
			return r->kind == GH_MEM_OFF ? NULL : r;
	}
	return NULL;
}

/* A copy of the backed region holding gpa, consistent against writers. */
static bool find(const struct gh_memory *mem, uint64_t gpa,
		 struct gh_mem_region *out)
{
	for (;;) {
		unsigned seq = __atomic_load_n(&mem->seq, __ATOMIC_ACQUIRE);
		const struct gh_mem_region *r;
		bool found = false;

		if (seq & 1)
			continue;
		r = find_unlocked(mem, gpa);
		if (r) {
			*out = *r;
			found = true;
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&mem->seq, __ATOMIC_RELAXED) == seq)
			return found;
	}
}

void *gh_mem_map(struct gh_memory *mem, uint64_t gpa, uint64_t len)
{
	struct gh_mem_region r;
	uint64_t off;

	if (!find(mem, gpa, &r))
		return NULL;
	off = gpa - r.gpa;
	if (len > r.size - off)
		return NULL;
	return (uint8_t *)r.hva + off;
}

void *gh_mem_map_page(struct gh_memory *mem, uint64_t gpa, bool *writable)
{
	struct gh_mem_region r;
	uint64_t page = gpa & ~0xfffULL;

	if (!find(mem, page, &r) || r.size - (page - r.gpa) < 0x1000) {
		*writable = false;
		return NULL;
	}
	*writable = r.kind == GH_MEM_RAM;
	return (uint8_t *)r.hva + (page - r.gpa);
}

bool gh_mem_is_ram(struct gh_memory *mem, uint64_t gpa)
{
	struct gh_mem_region r;

	return find(mem, gpa, &r);
}

/* Copies across adjacent regions; fails on the first byte with no backing. */
static int copy(struct gh_memory *mem, uint64_t gpa, void *buf, size_t len,
		bool write)
{
	uint8_t *p = buf;
	uint64_t a, left;

	if (gpa + len < gpa)
		return -EFAULT;
	/* Check the whole range first: a failed write changes nothing. */
	for (a = gpa, left = len; left;) {
		struct gh_mem_region r;
		uint64_t n;

		if (!find(mem, a, &r) || (write && r.kind == GH_MEM_ROM))
			return -EFAULT;
		n = MIN(left, r.size - (a - r.gpa));
		a += n;
		left -= n;
	}
	while (len) {
		struct gh_mem_region r;
		uint64_t off, n;

		/* the map moved under us since the check: fail as the guest
		 * would see the region gone */
		if (!find(mem, gpa, &r) || (write && r.kind == GH_MEM_ROM))
			return -EFAULT;
		off = gpa - r.gpa;
		n = MIN((uint64_t)len, r.size - off);
		if (write)
			memcpy((uint8_t *)r.hva + off, p, n);
		else
			memcpy(p, (uint8_t *)r.hva + off, n);
		p += n;
		gpa += n;
		len -= n;
	}
	return 0;
}

int gh_mem_read(struct gh_memory *mem, uint64_t gpa, void *buf, size_t len)
{
	return copy(mem, gpa, buf, len, false);
}

int gh_mem_write(struct gh_memory *mem, uint64_t gpa, const void *buf,
		 size_t len)
{
	int ret = copy(mem, gpa, (void *)buf, len, true);

	if (!ret && len)
		gh_mem_dma_written(mem, gpa, len);
	return ret;
}

void gh_mem_dma_written(struct gh_memory *mem, uint64_t gpa, uint64_t len)
{
	if (mem->notify && len && gpa + len - 1 >= gpa)
		mem->notify(mem->notify_opaque, gpa, len);
}

void gh_memory_set_write_notify(struct gh_memory *mem, gh_mem_write_notify_fn *fn,
				void *opaque)
{
	mem->notify = fn;
	mem->notify_opaque = opaque;
}

static uint64_t ram_in(const struct gh_memory *mem, uint64_t lo, uint64_t hi)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < mem->n; i++) {
		const struct gh_mem_region *r = &mem->r[i];
		uint64_t s = MAX(r->gpa, lo), e = MIN(r->gpa + r->size, hi);

		if (r->kind == GH_MEM_RAM && !r->window && !r->device && s < e)
			sum += e - s;
	}
	return sum;
}

uint64_t gh_memory_ram_below_4g(const struct gh_memory *mem)
{
	return ram_in(mem, 0, 1ULL << 32);
}

uint64_t gh_memory_ram_above_4g(const struct gh_memory *mem)
{
	return ram_in(mem, 1ULL << 32, UINT64_MAX);
}

static unsigned e820_add(struct gh_e820_entry *out, unsigned n, unsigned max,
			 uint64_t addr, uint64_t size, uint32_t type)
{
	if (!size)
		return n;
	if (n && out[n - 1].type == type &&
	    out[n - 1].addr + out[n - 1].size == addr) {
		out[n - 1].size += size;
		return n;
	}
	if (n < max)
		out[n++] = (struct gh_e820_entry){ addr, size, type };
	return n;
}

/*
 * RAM is usable except the EBDA's last KiB below 640 KiB and the BIOS area
 * 0xF0000-0xFFFFF; 0xA0000-0xEFFFF holds VGA and option ROMs, never RAM.
 */
#define EBDA_START 0x9fc00ULL
#define BIOS_START 0xf0000ULL
#define ONE_MB 0x100000ULL

unsigned gh_memory_e820(const struct gh_memory *mem, struct gh_e820_entry *out,
			unsigned max)
{
	unsigned i, n = 0;

	for (i = 0; i < mem->n; i++) {
		const struct gh_mem_region *r = &mem->r[i];
		uint64_t s = r->gpa, e = r->gpa + r->size;

		if (r->kind != GH_MEM_RAM || r->window || r->device)
			continue;
		if (s < EBDA_START) {
			n = e820_add(out, n, max, s, MIN(e, EBDA_START) - s,
				     GH_E820_RAM);
			s = MIN(e, EBDA_START);
		}
		if (s < ONE_MB && s < e) {
			uint64_t re = MIN(e, ONE_MB);

			if (s < 0xa0000)
				n = e820_add(out, n, max, s,
					     MIN(re, 0xa0000ULL) - s,
					     GH_E820_RESERVED);
			if (re > BIOS_START)
				n = e820_add(out, n, max,
					     MAX(s, BIOS_START),
					     re - MAX(s, BIOS_START),
					     GH_E820_RESERVED);
			s = re;
		}
		if (s < e)
			n = e820_add(out, n, max, s, e - s, GH_E820_RAM);
	}
	return n;
}
