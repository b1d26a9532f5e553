/*
 * Tests for the guest-physical memory map (gh/memory.h): region table rules,
 * bounds-checked translation and copies, RAM totals and the PC e820 map.
 */
#include "gh/memory.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#define KiB 1024ULL
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

static void test_add(void)
{
	struct gh_memory *mem = gh_memory_new();
	uint8_t a[0x1000], b[0x2000];
	const struct gh_mem_region *r;

	g_assert_cmpuint(gh_memory_count(mem), ==, 0);
	g_assert_null(gh_memory_region(mem, 0));
	/* Added out of order; read back in address order. */
	g_assert_cmpint(gh_memory_add(mem, 0x10000, sizeof(b), b, GH_MEM_ROM, "rom"), ==, 0);
	g_assert_cmpint(gh_memory_add(mem, 0x1000, sizeof(a), a, GH_MEM_RAM, "ram"), ==, 0);
	g_assert_cmpuint(gh_memory_count(mem), ==, 2);

	r = gh_memory_region(mem, 0);
	g_assert_nonnull(r);
	g_assert_cmphex(r->gpa, ==, 0x1000);
	g_assert_cmphex(r->size, ==, sizeof(a));
	g_assert_true(r->hva == a);
	g_assert_cmpint(r->kind, ==, GH_MEM_RAM);
	g_assert_cmpstr(r->name, ==, "ram");
	r = gh_memory_region(mem, 1);
	g_assert_nonnull(r);
	g_assert_cmphex(r->gpa, ==, 0x10000);
	g_assert_true(r->hva == b);
	g_assert_cmpint(r->kind, ==, GH_MEM_ROM);
	g_assert_null(gh_memory_region(mem, 2));
	g_assert_null(gh_memory_region(mem, 1000));
	gh_memory_free(mem);
}

static void test_overlap(void)
{
	struct gh_memory *mem = gh_memory_new();
	uint8_t buf[1];
	void *h = buf;		/* never dereferenced */

	g_assert_cmpint(gh_memory_add(mem, 0x10000, 0x10000, h, GH_MEM_RAM, "a"), ==, 0);
	/* Same, inside, enclosing, crossing either end by one byte. */
	g_assert_cmpint(gh_memory_add(mem, 0x10000, 0x10000, h, GH_MEM_RAM, "x"), ==, -EEXIST);
	g_assert_cmpint(gh_memory_add(mem, 0x14000, 0x1000, h, GH_MEM_RAM, "x"), ==, -EEXIST);
	g_assert_cmpint(gh_memory_add(mem, 0, 0x100000, h, GH_MEM_RAM, "x"), ==, -EEXIST);
	g_assert_cmpint(gh_memory_add(mem, 0xf000, 0x1001, h, GH_MEM_ROM, "x"), ==, -EEXIST);
	g_assert_cmpint(gh_memory_add(mem, 0x1ffff, 0x1000, h, GH_MEM_ROM, "x"), ==, -EEXIST);
	g_assert_cmpuint(gh_memory_count(mem), ==, 1);
	/* Touching either end is fine. */
	g_assert_cmpint(gh_memory_add(mem, 0xf000, 0x1000, h, GH_MEM_RAM, "lo"), ==, 0);
	g_assert_cmpint(gh_memory_add(mem, 0x20000, 0x1000, h, GH_MEM_RAM, "hi"), ==, 0);
	g_assert_cmpuint(gh_memory_count(mem), ==, 3);
	gh_memory_free(mem);
}

static void test_invalid(void)
{
	struct gh_memory *mem = gh_memory_new();
	uint8_t buf[1];
	void *h = buf;

	g_assert_cmpint(gh_memory_add(mem, 0x1000, 0, h, GH_MEM_RAM, "empty"), ==, -EINVAL);
	g_assert_cmpint(gh_memory_add(mem, UINT64_MAX - 0xfff, 0x2000, h, GH_MEM_RAM, "wrap"),
			==, -EINVAL);
	g_assert_cmpint(gh_memory_add(mem, 1, UINT64_MAX, h, GH_MEM_RAM, "wrap"), ==, -EINVAL);
	g_assert_cmpuint(gh_memory_count(mem), ==, 0);
	gh_memory_free(mem);
}

static void test_full(void)
{
	struct gh_memory *mem = gh_memory_new();
	uint8_t buf[1];
	unsigned i;

	for (i = 0; i < GH_MEM_MAX_REGIONS; i++)
		g_assert_cmpint(gh_memory_add(mem, i * 0x10000ULL, 0x1000, buf,
					      GH_MEM_RAM, "r"), ==, 0);
	g_assert_cmpuint(gh_memory_count(mem), ==, GH_MEM_MAX_REGIONS);
	g_assert_cmpint(gh_memory_add(mem, 1ULL << 40, 0x1000, buf, GH_MEM_RAM, "r"),
			==, -ENOSPC);
	g_assert_cmpuint(gh_memory_count(mem), ==, GH_MEM_MAX_REGIONS);
	gh_memory_free(mem);
}

/* Two adjacent RAM regions, a hole, then a ROM: the fixture for translation. */
struct fix {
	struct gh_memory *mem;
	uint8_t ram0[0x1000];	/* [0x1000, 0x2000) */
	uint8_t ram1[0x1000];	/* [0x2000, 0x3000) */
	uint8_t rom[0x1000];	/* [0x8000, 0x9000) */
};

static void fix_init(struct fix *f)
{
	unsigned i;

	f->mem = gh_memory_new();
	for (i = 0; i < 0x1000; i++) {
		f->ram0[i] = i & 0xff;
		f->ram1[i] = (i & 0xff) ^ 0x55;
		f->rom[i] = (i & 0xff) ^ 0xaa;
	}
	g_assert_cmpint(gh_memory_add(f->mem, 0x2000, 0x1000, f->ram1, GH_MEM_RAM, "r1"), ==, 0);
	g_assert_cmpint(gh_memory_add(f->mem, 0x8000, 0x1000, f->rom, GH_MEM_ROM, "rom"), ==, 0);
	g_assert_cmpint(gh_memory_add(f->mem, 0x1000, 0x1000, f->ram0, GH_MEM_RAM, "r0"), ==, 0);
}

static void test_map(void)
{
	struct fix *f = g_new0(struct fix, 1);

	fix_init(f);
	g_assert_true(gh_mem_map(f->mem, 0x1000, 0x1000) == f->ram0);
	g_assert_true(gh_mem_map(f->mem, 0x1ffc, 4) == f->ram0 + 0xffc);
	g_assert_true(gh_mem_map(f->mem, 0x2000, 1) == f->ram1);
	g_assert_true(gh_mem_map(f->mem, 0x2fff, 1) == f->ram1 + 0xfff);
	g_assert_true(gh_mem_map(f->mem, 0x8800, 0x800) == f->rom + 0x800);
	/* Crossing into the adjacent region: not wholly in one region. */
	g_assert_null(gh_mem_map(f->mem, 0x1ffd, 4));
	g_assert_null(gh_mem_map(f->mem, 0x1000, 0x1001));
	/* Crossing a region end into a hole. */
	g_assert_null(gh_mem_map(f->mem, 0x2fff, 2));
	g_assert_null(gh_mem_map(f->mem, 0x8fff, 2));
	/* Starting in a hole. */
	g_assert_null(gh_mem_map(f->mem, 0, 1));
	g_assert_null(gh_mem_map(f->mem, 0xfff, 2));
	g_assert_null(gh_mem_map(f->mem, 0x7fff, 2));
	g_assert_null(gh_mem_map(f->mem, 0x3000, 1));
	g_assert_null(gh_mem_map(f->mem, 0x9000, 1));
	/* Lengths that would wrap gpa + len. */
	g_assert_null(gh_mem_map(f->mem, 0x1000, UINT64_MAX));
	g_assert_null(gh_mem_map(f->mem, 0x1800, UINT64_MAX - 0x7ff));
	g_assert_null(gh_mem_map(f->mem, UINT64_MAX, 1));
	g_assert_null(gh_mem_map(f->mem, UINT64_MAX - 3, 8));

	g_assert_true(gh_mem_is_ram(f->mem, 0x1000));
	g_assert_true(gh_mem_is_ram(f->mem, 0x2fff));
	g_assert_true(gh_mem_is_ram(f->mem, 0x8000));
	g_assert_false(gh_mem_is_ram(f->mem, 0xfff));
	g_assert_false(gh_mem_is_ram(f->mem, 0x3000));
	g_assert_false(gh_mem_is_ram(f->mem, 0x9000));
	g_assert_false(gh_mem_is_ram(f->mem, UINT64_MAX));
	gh_memory_free(f->mem);
	g_free(f);
}

static void test_copy(void)
{
	struct fix *f = g_new0(struct fix, 1);
	uint8_t buf[0x20], w[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	unsigned i;

	fix_init(f);
	/* A read spanning the two adjacent regions. */
	g_assert_cmpint(gh_mem_read(f->mem, 0x1ff0, buf, sizeof(buf)), ==, 0);
	for (i = 0; i < 0x10; i++) {
		g_assert_cmphex(buf[i], ==, (0xf0 + i) & 0xff);
		g_assert_cmphex(buf[0x10 + i], ==, i ^ 0x55);
	}
	/* A write spanning them lands in both backings. */
	g_assert_cmpint(gh_mem_write(f->mem, 0x1ffc, w, sizeof(w)), ==, 0);
	g_assert_cmpmem(f->ram0 + 0xffc, 4, w, 4);
	g_assert_cmpmem(f->ram1, 4, w + 4, 4);
	/* ROM reads fine. */
	g_assert_cmpint(gh_mem_read(f->mem, 0x8010, buf, 4), ==, 0);
	g_assert_cmphex(buf[0], ==, 0x10 ^ 0xaa);
	g_assert_cmphex(buf[3], ==, 0x13 ^ 0xaa);
	/* Zero-length copies touch nothing and succeed. */
	g_assert_cmpint(gh_mem_read(f->mem, 0x1000, buf, 0), ==, 0);
	g_assert_cmpint(gh_mem_write(f->mem, 0x1000, w, 0), ==, 0);
	gh_memory_free(f->mem);
	g_free(f);
}

static void test_fault(void)
{
	struct fix *f = g_new0(struct fix, 1);
	uint8_t buf[16], w[4] = { 0xde, 0xad, 0xbe, 0xef };
	uint8_t rom_before[0x1000];

	fix_init(f);
	memcpy(rom_before, f->rom, sizeof(rom_before));
	/* Holes: before, between, after, and a range crossing a region's end. */
	g_assert_cmpint(gh_mem_read(f->mem, 0, buf, 1), ==, -EFAULT);
	g_assert_cmpint(gh_mem_read(f->mem, 0xffc, buf, 8), ==, -EFAULT);
	g_assert_cmpint(gh_mem_read(f->mem, 0x2ffc, buf, 8), ==, -EFAULT);
	g_assert_cmpint(gh_mem_read(f->mem, 0x5000, buf, 4), ==, -EFAULT);
	g_assert_cmpint(gh_mem_read(f->mem, 0x8ffc, buf, 8), ==, -EFAULT);
	g_assert_cmpint(gh_mem_write(f->mem, 0x3000, w, 4), ==, -EFAULT);
	g_assert_cmpint(gh_mem_write(f->mem, 0xfff, w, 4), ==, -EFAULT);
	/* ROM refuses writes and stays unchanged. */
	g_assert_cmpint(gh_mem_write(f->mem, 0x8000, w, 4), ==, -EFAULT);
	g_assert_cmpint(gh_mem_write(f->mem, 0x8fff, w, 1), ==, -EFAULT);
	g_assert_cmpmem(f->rom, sizeof(f->rom), rom_before, sizeof(rom_before));
	/* gpa + len past the top of the address space. */
	g_assert_cmpint(gh_mem_read(f->mem, UINT64_MAX - 1, buf, 4), ==, -EFAULT);
	g_assert_cmpint(gh_mem_write(f->mem, UINT64_MAX, w, 2), ==, -EFAULT);
	gh_memory_free(f->mem);
	g_free(f);
}

/* Overflow near the top with a region that really sits there. */
static void test_top(void)
{
	struct gh_memory *mem = gh_memory_new();
	uint8_t *top = g_malloc0(0x1000);
	uint8_t buf[8];
	uint64_t base = UINT64_MAX - 0x1fff;	/* [base, base + 0x1000) */

	g_assert_cmpint(gh_memory_add(mem, base, 0x1000, top, GH_MEM_RAM, "top"), ==, 0);
	top[0xfff] = 0x5a;
	g_assert_true(gh_mem_map(mem, base + 0xfff, 1) == top + 0xfff);
	g_assert_null(gh_mem_map(mem, base + 0xfff, 2));
	g_assert_null(gh_mem_map(mem, base + 8, UINT64_MAX - 4));
	g_assert_cmpint(gh_mem_read(mem, base + 0xfff, buf, 1), ==, 0);
	g_assert_cmphex(buf[0], ==, 0x5a);
	g_assert_cmpint(gh_mem_read(mem, base + 0xffc, buf, 8), ==, -EFAULT);
	g_assert_cmpint(gh_mem_read(mem, UINT64_MAX - 2, buf, 8), ==, -EFAULT);
	gh_memory_free(mem);
	g_free(top);
}

/* The VM's RAM layout for a given size (see vm.c and gh/vm.h). */
static void add_pc_ram(struct gh_memory *mem, uint64_t ram, void *hva)
{
	uint64_t low = MIN(ram, 3 * GiB);

	g_assert_cmpint(gh_memory_add(mem, 0, 0xa0000, hva, GH_MEM_RAM, "ram-low"), ==, 0);
	g_assert_cmpint(gh_memory_add(mem, 0xc0000, low - 0xc0000, hva, GH_MEM_RAM, "ram"),
			==, 0);
	if (ram > low)
		g_assert_cmpint(gh_memory_add(mem, 4 * GiB, ram - low, hva, GH_MEM_RAM,
					      "ram-high"), ==, 0);
}

static void check_e820(uint64_t ram)
{
	struct gh_memory *mem = gh_memory_new();
	struct gh_e820_entry e[GH_E820_MAX];
	uint64_t lowend = MIN(ram, 3 * GiB);
	uint8_t dummy[1];
	unsigned n, want = ram > 3 * GiB ? 5 : 4;

	add_pc_ram(mem, ram, dummy);
	n = gh_memory_e820(mem, e, G_N_ELEMENTS(e));
	g_assert_cmpuint(n, ==, want);
	g_assert_cmphex(e[0].addr, ==, 0);
	g_assert_cmphex(e[0].size, ==, 0x9fc00);
	g_assert_cmpuint(e[0].type, ==, GH_E820_RAM);
	g_assert_cmphex(e[1].addr, ==, 0x9fc00);
	g_assert_cmphex(e[1].size, ==, 0x400);
	g_assert_cmpuint(e[1].type, ==, GH_E820_RESERVED);
	g_assert_cmphex(e[2].addr, ==, 0xf0000);
	g_assert_cmphex(e[2].size, ==, 0x10000);
	g_assert_cmpuint(e[2].type, ==, GH_E820_RESERVED);
	g_assert_cmphex(e[3].addr, ==, 0x100000);
	g_assert_cmphex(e[3].size, ==, lowend - 0x100000);
	g_assert_cmpuint(e[3].type, ==, GH_E820_RAM);
	if (want == 5) {
		g_assert_cmphex(e[4].addr, ==, 4 * GiB);
		g_assert_cmphex(e[4].size, ==, ram - 3 * GiB);
		g_assert_cmpuint(e[4].type, ==, GH_E820_RAM);
	}
	g_assert_cmphex(gh_memory_ram_below_4g(mem), ==, lowend - 0x20000);
	g_assert_cmphex(gh_memory_ram_above_4g(mem), ==, ram - lowend);
	gh_memory_free(mem);
}

static void test_e820_sizes(void)
{
	static const uint64_t sizes[] = {
		2 * MiB, 16 * MiB, 128 * MiB + 4 * KiB, 1 * GiB,
		3 * GiB - 4 * KiB, 3 * GiB, 3 * GiB + 4 * KiB, 3 * GiB + 512 * MiB,
		4 * GiB, 8 * GiB, 64 * GiB,
	};
	unsigned i;

	for (i = 0; i < G_N_ELEMENTS(sizes); i++) {
		g_test_message("RAM size 0x%" G_GINT64_MODIFIER "x", sizes[i]);
		check_e820(sizes[i]);
	}
}

/* RAM that ends at or inside the BIOS area has no usable RAM above 1 MiB. */
static void test_e820_tiny(void)
{
	struct gh_memory *mem = gh_memory_new();
	struct gh_e820_entry e[GH_E820_MAX];
	uint8_t dummy[1];
	unsigned n;

	g_assert_cmpint(gh_memory_add(mem, 0, 0xa0000, dummy, GH_MEM_RAM, "low"), ==, 0);
	g_assert_cmpint(gh_memory_add(mem, 0xc0000, 0x38000, dummy, GH_MEM_RAM, "ram"), ==, 0);
	n = gh_memory_e820(mem, e, G_N_ELEMENTS(e));
	g_assert_cmpuint(n, ==, 3);
	g_assert_cmphex(e[2].addr, ==, 0xf0000);
	g_assert_cmphex(e[2].size, ==, 0x8000);
	g_assert_cmpuint(e[2].type, ==, GH_E820_RESERVED);
	gh_memory_free(mem);
}

/* ROM is not RAM: absent from the e820 map and from the totals. */
static void test_e820_rom(void)
{
	struct gh_memory *mem = gh_memory_new();
	struct gh_e820_entry e[GH_E820_MAX];
	uint8_t dummy[1];
	unsigned n;

	add_pc_ram(mem, 16 * MiB, dummy);
	g_assert_cmpint(gh_memory_add(mem, 0xfffc0000, 0x40000, dummy, GH_MEM_ROM, "bios"),
			==, 0);
	g_assert_cmpint(gh_memory_add(mem, 0xa0000, 0x20000, dummy, GH_MEM_ROM, "vga"), ==, 0);
	n = gh_memory_e820(mem, e, G_N_ELEMENTS(e));
	g_assert_cmpuint(n, ==, 4);
	g_assert_cmphex(e[3].addr + e[3].size, ==, 16 * MiB);
	g_assert_cmphex(gh_memory_ram_below_4g(mem), ==, 16 * MiB - 0x20000);
	g_assert_cmphex(gh_memory_ram_above_4g(mem), ==, 0);
	gh_memory_free(mem);
}

/* A short output array is filled and never overrun. */
static void test_e820_max(void)
{
	struct gh_memory *mem = gh_memory_new();
	struct gh_e820_entry e[4];
	uint8_t dummy[1];
	unsigned n;

	add_pc_ram(mem, 8 * GiB, dummy);
	memset(e, 0xa5, sizeof(e));
	n = gh_memory_e820(mem, e, 2);
	g_assert_cmpuint(n, ==, 2);
	g_assert_cmphex(e[0].size, ==, 0x9fc00);
	g_assert_cmphex(e[1].addr, ==, 0x9fc00);
	g_assert_cmphex(e[2].addr, ==, 0xa5a5a5a5a5a5a5a5ULL);
	g_assert_cmphex(e[3].addr, ==, 0xa5a5a5a5a5a5a5a5ULL);
	g_assert_cmpuint(gh_memory_e820(mem, e, 0), ==, 0);
	g_assert_cmphex(e[0].size, ==, 0x9fc00);
	gh_memory_free(mem);
}

/*
 * Windows (the chipset's shadow segments): off until switched, then RAM or
 * ROM with whatever host memory backs them; never counted as RAM.
 */
static void test_window(void)
{
	struct gh_memory *mem = gh_memory_new();
	static uint8_t low[0xa0000], shadow[0x4000], rom[0x4000];
	struct gh_e820_entry e[8];
	unsigned gen = gh_memory_generation(mem);
	bool writable;

	g_assert_cmpint(gh_memory_add(mem, 0, sizeof(low), low, GH_MEM_RAM, "low"), ==, 0);
	g_assert_cmpint(gh_memory_add_window(mem, 0xc0000, 0x4000, "w"), ==, 0);
	/* windows take their range like any region */
	g_assert_cmpint(gh_memory_add_window(mem, 0xc2000, 0x4000, "w"), ==, -EEXIST);
	g_assert_cmpint(gh_memory_add(mem, 0xc0000, sizeof(rom), rom, GH_MEM_ROM, "r"),
			==, -EEXIST);
	g_assert_cmpint(gh_memory_add(mem, 0xd0000, sizeof(rom), rom, GH_MEM_OFF, "r"),
			==, -EINVAL);
	/* off: nothing translates, accesses are the MMIO bus's */
	g_assert_null(gh_mem_map(mem, 0xc0000, 1));
	g_assert_false(gh_mem_is_ram(mem, 0xc1000));
	g_assert_cmpint(gh_mem_read(mem, 0xc0000, e, 1), ==, -EFAULT);
	/* only a window that starts there switches */
	g_assert_cmpint(gh_memory_set_window(mem, 0xc1000, shadow, GH_MEM_RAM), ==, -ENOENT);
	g_assert_cmpint(gh_memory_set_window(mem, 0, shadow, GH_MEM_RAM), ==, -ENOENT);
	g_assert_cmpint(gh_memory_set_window(mem, 0xc0000, NULL, GH_MEM_RAM), ==, -EINVAL);
	g_assert_cmpuint(gh_memory_generation(mem), ==, gen);

	rom[5] = 0x5a;
	g_assert_cmpint(gh_memory_set_window(mem, 0xc0000, rom, GH_MEM_ROM), ==, 0);
	g_assert_cmpuint(gh_memory_generation(mem), !=, gen);
	gen = gh_memory_generation(mem);
	g_assert_true(gh_mem_map_page(mem, 0xc0005, &writable) == rom);
	g_assert_false(writable);
	g_assert_cmpint(gh_mem_write(mem, 0xc0005, low, 1), ==, -EFAULT);

	g_assert_cmpint(gh_memory_set_window(mem, 0xc0000, shadow, GH_MEM_RAM), ==, 0);
	g_assert_true(gh_mem_map_page(mem, 0xc3fff, &writable) == shadow + 0x3000);
	g_assert_true(writable);
	g_assert_cmpint(gh_mem_write(mem, 0xc0005, rom + 5, 1), ==, 0);
	g_assert_cmphex(shadow[5], ==, 0x5a);
	/* RAM in a window is not RAM the OS may use */
	g_assert_cmpuint(gh_memory_ram_below_4g(mem), ==, sizeof(low));
	g_assert_cmpuint(gh_memory_e820(mem, e, 8), ==, 2);
	g_assert_cmphex(e[1].addr + e[1].size, ==, 0xa0000);

	g_assert_cmpint(gh_memory_set_window(mem, 0xc0000, shadow, GH_MEM_OFF), ==, 0);
	g_assert_cmpuint(gh_memory_generation(mem), !=, gen);
	g_assert_null(gh_mem_map(mem, 0xc0000, 1));
	gh_memory_free(mem);
}

/* Device memory (a RAM-backed BAR) comes and goes at run time. */
static void test_device(void)
{
	struct gh_memory *mem = gh_memory_new();
	static uint8_t ram[0x10000], fb[0x4000];
	struct gh_e820_entry e[8];
	unsigned gen, n;
	bool w;

	g_assert_cmpint(gh_memory_add(mem, 0, sizeof(ram), ram, GH_MEM_RAM,
				      "ram"), ==, 0);
	gen = gh_memory_generation(mem);
	g_assert_cmpint(gh_memory_add_device(mem, 0x100000, sizeof(fb), fb,
					     "fb"), ==, 0);
	g_assert_cmpuint(gh_memory_generation(mem), !=, gen);
	g_assert_true(gh_mem_map_page(mem, 0x101000, &w) == fb + 0x1000);
	g_assert_true(w);
	/* never RAM to the firmware */
	g_assert_cmphex(gh_memory_ram_below_4g(mem), ==, sizeof(ram));
	n = gh_memory_e820(mem, e, G_N_ELEMENTS(e));
	for (unsigned i = 0; i < n; i++)
		g_assert_cmphex(e[i].addr + e[i].size, <=, sizeof(ram));
	/* overlaps are refused; only device memory is removed */
	g_assert_cmpint(gh_memory_add_device(mem, 0x8000, sizeof(fb), fb,
					     "fb2"), ==, -EEXIST);
	g_assert_cmpint(gh_memory_add_device(mem, 0x200000, sizeof(fb), NULL,
					     "fb2"), ==, -EINVAL);
	g_assert_cmpint(gh_memory_remove_device(mem, 0), ==, -ENOENT);
	g_assert_cmpint(gh_memory_remove_device(mem, 0x101000), ==, -ENOENT);
	gen = gh_memory_generation(mem);
	g_assert_cmpint(gh_memory_remove_device(mem, 0x100000), ==, 0);
	g_assert_cmpuint(gh_memory_generation(mem), !=, gen);
	g_assert_false(gh_mem_is_ram(mem, 0x100000));
	g_assert_true(gh_mem_is_ram(mem, 0));
	g_assert_cmpuint(gh_memory_count(mem), ==, 1);
	gh_memory_free(mem);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/memory/add", test_add);
	g_test_add_func("/memory/overlap", test_overlap);
	g_test_add_func("/memory/invalid", test_invalid);
	g_test_add_func("/memory/full", test_full);
	g_test_add_func("/memory/map", test_map);
	g_test_add_func("/memory/copy", test_copy);
	g_test_add_func("/memory/fault", test_fault);
	g_test_add_func("/memory/top", test_top);
	g_test_add_func("/memory/e820/sizes", test_e820_sizes);
	g_test_add_func("/memory/e820/tiny", test_e820_tiny);
	g_test_add_func("/memory/e820/rom", test_e820_rom);
	g_test_add_func("/memory/e820/max", test_e820_max);
	g_test_add_func("/memory/window", test_window);
	g_test_add_func("/memory/device", test_device);
	return g_test_run();
}
