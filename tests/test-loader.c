/*
 * Tests for the direct-boot loaders: Linux boot protocol (boot.rst) and
 * Multiboot v1, on images built here in memory.
 */
#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gh/memory.h"
#include "gh/x86-boot.h"

#define RAM_SIZE	(64ULL << 20)
#define KERNEL_ADDR	0x100000ULL

struct fixture {
	struct gh_memory *mem;
	void *ram;
};

static void fixture_init(struct fixture *fx, uint64_t size)
{
	fx->mem = gh_memory_new();
	fx->ram = g_malloc0(size);
	g_assert_cmpint(gh_memory_add(fx->mem, 0, size, fx->ram, GH_MEM_RAM, "ram"), ==, 0);
}

static void fixture_fini(struct fixture *fx)
{
	gh_memory_free(fx->mem);
	g_free(fx->ram);
}

static uint8_t rd8(struct gh_memory *mem, uint64_t gpa)
{
	uint8_t v;

	g_assert_cmpint(gh_mem_read(mem, gpa, &v, 1), ==, 0);
	return v;
}

static uint16_t rd16(struct gh_memory *mem, uint64_t gpa)
{
	return rd8(mem, gpa) | rd8(mem, gpa + 1) << 8;
}

static uint32_t rd32(struct gh_memory *mem, uint64_t gpa)
{
	return rd16(mem, gpa) | (uint32_t)rd16(mem, gpa + 2) << 16;
}

static uint64_t rd64(struct gh_memory *mem, uint64_t gpa)
{
	return rd32(mem, gpa) | (uint64_t)rd32(mem, gpa + 4) << 32;
}

static char *rdstr(struct gh_memory *mem, uint64_t gpa)
{
	GString *s = g_string_new(NULL);
	uint8_t c;

	while ((c = rd8(mem, gpa++)) != 0)
		g_string_append_c(s, c);
	return g_string_free(s, FALSE);
}

static void w16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void w32(uint8_t *p, uint32_t v)
{
	w16(p, v);
	w16(p + 2, v >> 16);
}

static void w64(uint8_t *p, uint64_t v)
{
	w32(p, v);
	w32(p + 4, v >> 32);
}

static uint8_t pattern(size_t i)
{
	return (i * 7 + 3) ^ (i >> 8);
}

static void assert_ram(struct gh_memory *mem, uint64_t gpa, const uint8_t *want,
		       size_t len)
{
	const uint8_t *p = gh_mem_map(mem, gpa, len);

	g_assert_nonnull(p);
	g_assert_cmpmem(p, len, want, len);
}

static void assert_zero(struct gh_memory *mem, uint64_t gpa, size_t len)
{
	const uint8_t *p = gh_mem_map(mem, gpa, len);

	g_assert_nonnull(p);
	for (size_t i = 0; i < len; i++)
		g_assert_cmpuint(p[i], ==, 0);
}

/* SDM vol. 3A, 3.4.5: the descriptors a flat 4 GiB code/data segment has. */
#define DESC_CODE32	0x00cf9b000000ffffULL
#define DESC_CODE64	0x00af9b000000ffffULL
#define DESC_DATA	0x00cf93000000ffffULL

/* ---- Linux ------------------------------------------------------------- */

struct bz {
	unsigned version;
	uint16_t xloadflags;
	uint8_t setup_sects;
	uint8_t loadflags;
	size_t kernel_len;	/* multiple of 16 */
	uint32_t init_size;
	uint32_t initrd_max;
	uint32_t cmdline_size;
	uint32_t align;
	uint64_t pref;
	bool relocatable;
};

static const struct bz bz_default = {
	.version = 0x20f,
	.xloadflags = 1,	/* XLF_KERNEL_64 */
	.setup_sects = 4,
	.loadflags = 1,		/* LOADED_HIGH */
	.kernel_len = 64 << 10,
	.init_size = 8 << 20,
	.initrd_max = 0x7fffffff,
	.cmdline_size = 2047,
	.align = 2 << 20,
	.pref = 16 << 20,
	.relocatable = true,
};

static size_t bz_setup_size(const struct bz *o)
{
	return ((o->setup_sects ? o->setup_sects : 4) + 1) * 512;
}

static uint8_t *make_bzimage(const struct bz *o, size_t *size)
{
	size_t setup = bz_setup_size(o);
	uint8_t *f;

	*size = setup + o->kernel_len;
	f = g_malloc0(*size);
	for (size_t i = 0; i < *size; i++)
		f[i] = pattern(i);
	/* the header area is what a real setup sector holds there */
	memset(f + 0x1f1, 0, 0x26c - 0x1f1);
	f[0x1f1] = o->setup_sects;
	w32(f + 0x1f4, o->kernel_len / 16);
	f[0x1fe] = 0x55;
	f[0x1ff] = 0xaa;
	f[0x200] = 0xeb;
	f[0x201] = 0x26c - 0x202;	/* header ends after kernel_info_offset */
	memcpy(f + 0x202, "HdrS", 4);
	w16(f + 0x206, o->version);
	f[0x210] = 0;
	f[0x211] = o->loadflags;
	w32(f + 0x214, 0x100000);
	w32(f + 0x22c, o->initrd_max);
	w32(f + 0x230, o->align);
	f[0x234] = o->relocatable;
	w16(f + 0x236, o->xloadflags);
	w32(f + 0x238, o->cmdline_size);
	w32(f + 0x23c, 0x5a5a);		/* hardware_subarch: the loader owns it */
	w64(f + 0x250, 0x123456);	/* setup_data: the loader owns it */
	w64(f + 0x258, o->pref);
	w32(f + 0x260, o->init_size);
	return f;
}

static int load(struct fixture *fx, const void *img, size_t size, const char *name,
		const char *cmdline, const struct gh_boot_module *mods, unsigned nmods,
		struct gh_cpu_state *cpu, struct gh_error *err)
{
	struct gh_boot_args args = {
		.kernel = img, .kernel_size = size, .kernel_name = name,
		.cmdline = cmdline, .modules = mods, .nmodules = nmods,
	};

	memset(err, 0, sizeof(*err));
	return gh_x86_load_kernel(fx->mem, &args, cpu, err);
}

/* Walks the guest's 4-level page tables as the MMU would. */
static uint64_t translate(struct gh_memory *mem, uint64_t cr3, uint64_t va)
{
	uint64_t e;

	e = rd64(mem, (cr3 & ~0xfffULL) + ((va >> 39) & 511) * 8);
	g_assert_true(e & 1);
	e = rd64(mem, (e & 0xffffffffff000ULL) + ((va >> 30) & 511) * 8);
	g_assert_true(e & 1);
	g_assert_false(e & 0x80);
	e = rd64(mem, (e & 0xffffffffff000ULL) + ((va >> 21) & 511) * 8);
	g_assert_true(e & 1);
	g_assert_true(e & 2);
	g_assert_true(e & 0x80);	/* 2 MiB page */
	return (e & 0xfffffffe00000ULL) | (va & 0x1fffff);
}

static void check_e820(struct gh_memory *mem, uint64_t bp)
{
	struct gh_e820_entry e[GH_E820_MAX];
	unsigned n = gh_memory_e820(mem, e, GH_E820_MAX);

	g_assert_cmpuint(n, >, 0);
	g_assert_cmpuint(rd8(mem, bp + 0x1e8), ==, n);
	for (unsigned i = 0; i < n; i++) {
		uint64_t p = bp + 0x2d0 + i * 20;

		g_assert_cmphex(rd64(mem, p), ==, e[i].addr);
		g_assert_cmphex(rd64(mem, p + 8), ==, e[i].size);
		g_assert_cmpuint(rd32(mem, p + 16), ==, e[i].type);
	}
}

static void test_linux_64(void)
{
	struct fixture fx;
	struct gh_cpu_state cpu;
	struct gh_error err;
	struct gh_boot_module initrd = { .name = "initrd.img" };
	size_t size, initrd_size = (1 << 20) + 123;
	uint8_t *img = make_bzimage(&bz_default, &size), *rd = g_malloc(initrd_size);
	uint64_t bp, ri, rs, cmd;
	char *s;

	for (size_t i = 0; i < initrd_size; i++)
		rd[i] = pattern(i * 3);
	initrd.data = rd;
	initrd.size = initrd_size;
	fixture_init(&fx, RAM_SIZE);
	g_assert_cmpint(gh_x86_kernel_format(img, size), ==, GH_KERNEL_LINUX);
	g_assert_cmpint(load(&fx, img, size, "vmlinuz", "console=ttyS0 quiet", &initrd, 1,
			     &cpu, &err), ==, 0);
	g_assert_cmpint(err.code, ==, 0);

	/* 64-bit entry (boot.rst, "64-bit Boot Protocol") */
	g_assert_cmphex(cpu.rip, ==, KERNEL_ADDR + 0x200);
	bp = cpu.gpr[GH_RSI];
	g_assert_cmphex(bp & 0xfff, ==, 0);
	g_assert_true(cpu.efer & GH_EFER_LMA);
	g_assert_true(cpu.efer & GH_EFER_LME);
	g_assert_true(cpu.cr0 & GH_CR0_PG);
	g_assert_true(cpu.cr0 & GH_CR0_PE);
	g_assert_true(cpu.cr4 & GH_CR4_PAE);
	g_assert_false(cpu.rflags & GH_RFLAGS_IF);
	g_assert_true(cpu.rflags & GH_RFLAGS_FIXED);
	g_assert_cmphex(cpu.seg[GH_CS].selector, ==, 0x10);
	g_assert_cmpuint(cpu.seg[GH_CS].l, ==, 1);
	g_assert_cmpuint(cpu.seg[GH_CS].db, ==, 0);
	g_assert_cmphex(cpu.seg[GH_DS].selector, ==, 0x18);
	g_assert_cmphex(cpu.seg[GH_ES].selector, ==, 0x18);
	g_assert_cmphex(cpu.seg[GH_SS].selector, ==, 0x18);
	g_assert_cmphex(cpu.seg[GH_DS].base, ==, 0);
	g_assert_cmphex(cpu.seg[GH_DS].limit, ==, 0xffffffff);
	g_assert_cmpuint(cpu.gdt.limit, >=, 0x1f);
	g_assert_cmphex(rd64(fx.mem, cpu.gdt.base + 0x10), ==, DESC_CODE64);
	g_assert_cmphex(rd64(fx.mem, cpu.gdt.base + 0x18), ==, DESC_DATA);

	/* identity map of the first 4 GiB, including everything the kernel needs */
	g_assert_cmphex(translate(fx.mem, cpu.cr3, 0x12345678), ==, 0x12345678);
	g_assert_cmphex(translate(fx.mem, cpu.cr3, 0), ==, 0);
	g_assert_cmphex(translate(fx.mem, cpu.cr3, bp), ==, bp);
	g_assert_cmphex(translate(fx.mem, cpu.cr3, cpu.rip), ==, cpu.rip);
	g_assert_cmphex(translate(fx.mem, cpu.cr3, 0xfffff123), ==, 0xfffff123);
	g_assert_cmphex(translate(fx.mem, cpu.cr3, 0xc0200000), ==, 0xc0200000);
	/* the tables do not lie on the loader's other data */
	g_assert_true((cpu.cr3 >= bp + 4096 || cpu.cr3 + 0x6000 <= bp));

	/* the kernel's protected-mode part at 1 MiB */
	assert_ram(fx.mem, KERNEL_ADDR, img + bz_setup_size(&bz_default),
		   bz_default.kernel_len);

	/* boot_params: the setup header copied, the loader's fields filled */
	g_assert_cmphex(rd16(fx.mem, bp + 0x1fe), ==, 0xaa55);
	g_assert_cmphex(rd32(fx.mem, bp + 0x202), ==, 0x53726448);
	g_assert_cmphex(rd16(fx.mem, bp + 0x206), ==, 0x20f);
	g_assert_cmphex(rd32(fx.mem, bp + 0x260), ==, bz_default.init_size);
	g_assert_cmphex(rd8(fx.mem, bp + 0x210), ==, 0xff);
	g_assert_cmphex(rd8(fx.mem, bp + 0x211), ==, 0x81);
	g_assert_cmphex(rd8(fx.mem, bp + 0x1ef), ==, 0);	/* sentinel */
	g_assert_cmphex(rd32(fx.mem, bp + 0x23c), ==, 0);
	g_assert_cmphex(rd64(fx.mem, bp + 0x250), ==, 0);
	/* nothing of the setup code's bytes outside the header leaks in */
	g_assert_cmphex(rd8(fx.mem, bp + 0x1f0), ==, 0);
	g_assert_cmphex(rd8(fx.mem, bp + 0x270), ==, 0);
	cmd = rd32(fx.mem, bp + 0x228);
	s = rdstr(fx.mem, cmd);
	g_assert_cmpstr(s, ==, "console=ttyS0 quiet");
	g_free(s);
	g_assert_true(cmd + 20 <= bp || cmd >= bp + 4096);

	ri = rd32(fx.mem, bp + 0x218);
	rs = rd32(fx.mem, bp + 0x21c);
	g_assert_cmpuint(rs, ==, initrd_size);
	g_assert_cmphex(ri & 0xfff, ==, 0);
	g_assert_cmphex(ri + rs, <=, RAM_SIZE);
	/* as high as possible: the last page boundary that fits */
	g_assert_cmphex(ri, ==, (RAM_SIZE - initrd_size) & ~0xfffULL);
	/* not on the decompression area: 16 MiB (pref_address) + init_size */
	g_assert_cmphex(ri, >=, (16 << 20) + bz_default.init_size);
	assert_ram(fx.mem, ri, rd, initrd_size);

	check_e820(fx.mem, bp);
	g_assert_cmpuint(rd8(fx.mem, bp + 0x0f), ==, 0);	/* orig_video_isVGA */
	g_assert_cmpuint(rd8(fx.mem, bp + 0x07), ==, 80);
	g_assert_cmpuint(rd8(fx.mem, bp + 0x0e), ==, 25);
	g_assert_cmpuint(rd32(fx.mem, bp + 0x1e0), ==, (RAM_SIZE - KERNEL_ADDR) >> 10);
	g_assert_cmpuint(rd16(fx.mem, bp + 0x02), ==, 0xfc00);

	fixture_fini(&fx);
	g_free(img);
	g_free(rd);
}

static void test_linux_32(void)
{
	struct fixture fx;
	struct gh_cpu_state cpu;
	struct gh_error err;
	struct bz o = bz_default;
	size_t size;
	uint8_t *img;
	uint64_t bp;
	char *s;

	o.version = 0x20a;
	o.xloadflags = 0;
	o.relocatable = false;
	o.pref = 0x100000;
	o.setup_sects = 0;	/* means 4 */
	img = make_bzimage(&o, &size);
	fixture_init(&fx, RAM_SIZE);
	g_assert_cmpint(load(&fx, img, size, "bzImage", NULL, NULL, 0, &cpu, &err), ==, 0);

	g_assert_cmphex(cpu.rip, ==, KERNEL_ADDR);
	bp = cpu.gpr[GH_RSI];
	g_assert_cmphex(bp, !=, 0);
	g_assert_cmphex(cpu.gpr[GH_RBP], ==, 0);
	g_assert_cmphex(cpu.gpr[GH_RDI], ==, 0);
	g_assert_cmphex(cpu.gpr[GH_RBX], ==, 0);
	g_assert_false(cpu.cr0 & GH_CR0_PG);
	g_assert_true(cpu.cr0 & GH_CR0_PE);
	g_assert_cmphex(cpu.efer, ==, 0);
	g_assert_false(cpu.rflags & GH_RFLAGS_IF);
	g_assert_cmphex(cpu.seg[GH_CS].selector, ==, 0x10);
	g_assert_cmpuint(cpu.seg[GH_CS].l, ==, 0);
	g_assert_cmpuint(cpu.seg[GH_CS].db, ==, 1);
	g_assert_cmphex(cpu.seg[GH_SS].selector, ==, 0x18);
	g_assert_cmphex(rd64(fx.mem, cpu.gdt.base + 0x10), ==, DESC_CODE32);
	g_assert_cmphex(rd64(fx.mem, cpu.gdt.base + 0x18), ==, DESC_DATA);

	assert_ram(fx.mem, KERNEL_ADDR, img + 5 * 512, o.kernel_len);
	g_assert_cmphex(rd16(fx.mem, bp + 0x206), ==, 0x20a);
	g_assert_cmphex(rd32(fx.mem, bp + 0x214), ==, KERNEL_ADDR);
	g_assert_cmphex(rd32(fx.mem, bp + 0x218), ==, 0);
	g_assert_cmphex(rd32(fx.mem, bp + 0x21c), ==, 0);
	s = rdstr(fx.mem, rd32(fx.mem, bp + 0x228));
	g_assert_cmpstr(s, ==, "");
	g_free(s);
	check_e820(fx.mem, bp);

	fixture_fini(&fx);
	g_free(img);
}

/* initrd_addr_max is honoured: the initrd ends at or below it. */
static void test_linux_initrd_limit(void)
{
	struct fixture fx;
	struct gh_cpu_state cpu;
	struct gh_error err;
	struct bz o = bz_default;
	size_t size, rsize = 300000;
	uint8_t *img, *rd = g_malloc0(rsize);
	struct gh_boot_module m = { .data = rd, .size = rsize, .name = "rd" };
	uint64_t bp, ri;

	o.initrd_max = 0x27fffff;
	img = make_bzimage(&o, &size);
	fixture_init(&fx, RAM_SIZE);
	g_assert_cmpint(load(&fx, img, size, "vmlinuz", "", &m, 1, &cpu, &err), ==, 0);
	bp = cpu.gpr[GH_RSI];
	ri = rd32(fx.mem, bp + 0x218);
	g_assert_cmphex(ri, ==, (0x2800000 - rsize) & ~0xfffULL);
	fixture_fini(&fx);

	/* a limit below the decompression area puts it between the kernels */
	o.initrd_max = 0x17fffff;	/* inside [16 MiB, 24 MiB) */
	g_free(img);
	img = make_bzimage(&o, &size);
	fixture_init(&fx, RAM_SIZE);
	g_assert_cmpint(load(&fx, img, size, "vmlinuz", "", &m, 1, &cpu, &err), ==, 0);
	ri = rd32(fx.mem, cpu.gpr[GH_RSI] + 0x218);
	g_assert_cmphex(ri, ==, ((16 << 20) - rsize) & ~0xfffULL);
	g_assert_cmphex(ri, >=, KERNEL_ADDR + o.kernel_len);
	fixture_fini(&fx);
	g_free(img);
	g_free(rd);
}

static void expect_error(struct fixture *fx, const uint8_t *img, size_t size,
			 const char *name, const char *cmdline,
			 const struct gh_boot_module *mods, unsigned nmods, int code,
			 const char *msg)
{
	struct gh_cpu_state cpu;
	struct gh_error err;

	g_assert_cmpint(load(fx, img, size, name, cmdline, mods, nmods, &cpu, &err), ==,
			code);
	g_assert_cmpint(err.code, ==, code);
	if (msg)
		g_assert_cmpstr(err.msg, ==, msg);
}

static void test_linux_truncated(void)
{
	struct fixture fx;
	size_t size;
	uint8_t *img = make_bzimage(&bz_default, &size);

	fixture_init(&fx, RAM_SIZE);
	/* every cut, each copied so ASan sees any read past the end */
	for (size_t cut = 0; cut < size; cut++) {
		uint8_t *copy = g_memdup2(img, cut);
		struct gh_cpu_state cpu;
		struct gh_error err;
		int ret = load(&fx, copy, cut, "vmlinuz", "", NULL, 0, &cpu, &err);

		if (ret >= 0 || err.code != ret || strncmp(err.msg, "vmlinuz", 7) != 0)
			g_error("cut at %zu: ret %d, \"%s\"", cut, ret, err.msg);
		g_free(copy);
	}
	expect_error(&fx, img, 0x400, "vmlinuz", "", NULL, 0, -EINVAL,
		     "vmlinuz: setup header claims 4 setup sectors but the file has only 1");
	expect_error(&fx, img, 5 * 512, "vmlinuz", "", NULL, 0, -EINVAL,
		     "vmlinuz: the file ends after the setup code, with no kernel");
	expect_error(&fx, img, size - 1, "vmlinuz", "", NULL, 0, -EINVAL,
		     "vmlinuz is truncated: the setup header says 65536 bytes of kernel "
		     "follow the setup code but only 65535 do");
	expect_error(&fx, img, 0x100, "vmlinuz", "", NULL, 0, -ENOEXEC,
		     "vmlinuz: not a Linux bzImage or Multiboot kernel");
	fixture_fini(&fx);
	g_free(img);
}

static void test_linux_corrupt(void)
{
	struct fixture fx;
	struct bz o;
	size_t size;
	uint8_t *img;
	char *longcmd;
	uint8_t rd[16] = { 1 };
	struct gh_boot_module mods[2] = {
		{ .data = rd, .size = sizeof(rd), .name = "a" },
		{ .data = rd, .size = sizeof(rd), .name = "b" },
	};
	struct gh_boot_module *huge;

	fixture_init(&fx, RAM_SIZE);

	o = bz_default;
	o.setup_sects = 200;
	o.kernel_len = 16;
	img = make_bzimage(&o, &size);
	expect_error(&fx, img, 5 * 512, "vmlinuz", "", NULL, 0, -EINVAL,
		     "vmlinuz: setup header claims 200 setup sectors but the file has "
		     "only 4");
	g_free(img);

	img = make_bzimage(&bz_default, &size);
	img[0x205] = 'X';
	expect_error(&fx, img, size, "vmlinuz", "", NULL, 0, -ENOEXEC,
		     "vmlinuz: not a Linux bzImage or Multiboot kernel");
	g_assert_cmpint(gh_x86_kernel_format(img, size), ==, GH_KERNEL_UNKNOWN);
	img[0x205] = 'S';
	img[0x1fe] = 0;
	expect_error(&fx, img, size, "vmlinuz", "", NULL, 0, -ENOEXEC,
		     "vmlinuz: not a Linux bzImage or Multiboot kernel");
	img[0x1fe] = 0x55;

	/* the header's length byte points past the file */
	expect_error(&fx, img, 0x250, "vmlinuz", "", NULL, 0, -EINVAL,
		     "vmlinuz: the setup header runs past the end of the file");

	/* syssize larger than the file */
	w32(img + 0x1f4, 0xffffffff);
	expect_error(&fx, img, size, "vmlinuz", "", NULL, 0, -EINVAL,
		     "vmlinuz is truncated: the setup header says 68719476720 bytes of "
		     "kernel follow the setup code but only 65536 do");
	w32(img + 0x1f4, bz_default.kernel_len / 16);

	/* zImage and old protocols */
	img[0x211] = 0;
	expect_error(&fx, img, size, "vmlinuz", "", NULL, 0, -ENOEXEC,
		     "vmlinuz: a zImage (loaded below 1 MiB); only bzImage kernels are "
		     "supported");
	img[0x211] = 1;
	w16(img + 0x206, 0x201);
	expect_error(&fx, img, size, "vmlinuz", "", NULL, 0, -ENOEXEC,
		     "vmlinuz: Linux boot protocol 2.01 is too old (2.02 or newer is "
		     "needed)");
	w16(img + 0x206, 0x20f);

	/* command line: 2047 bytes fit, 2048 do not */
	longcmd = g_strnfill(2048, 'x');
	expect_error(&fx, img, size, "vmlinuz", longcmd, NULL, 0, -EINVAL,
		     "vmlinuz: the command line is 2048 bytes long but the kernel "
		     "accepts at most 2047");
	longcmd[2047] = 0;
	expect_error(&fx, img, size, "vmlinuz", longcmd, NULL, 0, 0, NULL);
	g_free(longcmd);

	/* one initrd at most */
	expect_error(&fx, img, size, "vmlinuz", "", mods, 2, -EINVAL,
		     "vmlinuz: Linux takes one initrd but 2 were given");

	/* an initrd larger than the RAM left */
	huge = &mods[0];
	huge->name = "initrd.img";
	huge->size = 48 << 20;
	huge->data = g_malloc0(huge->size);
	expect_error(&fx, img, size, "vmlinuz", "", huge, 1, -ENOMEM,
		     "initrd.img does not fit below the kernel's initrd limit "
		     "(0x7fffffff) in 64 MiB of RAM");
	g_free((void *)huge->data);
	g_free(img);

	/* init_size beyond the RAM */
	o = bz_default;
	o.init_size = 60 << 20;
	img = make_bzimage(&o, &size);
	expect_error(&fx, img, size, "vmlinuz", "", NULL, 0, -ENOMEM,
		     "vmlinuz needs RAM up to 76 MiB to load and decompress but the VM "
		     "has 64 MiB");
	g_free(img);

	/* a non-relocatable kernel that wants to run over the loader's data */
	o = bz_default;
	o.relocatable = false;
	o.pref = 0x10000;
	img = make_bzimage(&o, &size);
	expect_error(&fx, img, size, "vmlinuz", "", NULL, 0, -EINVAL,
		     "vmlinuz: the kernel wants to run at 0x10000, below 1 MiB");
	g_free(img);

	fixture_fini(&fx);
}

/*
 * Overwrites 1 to max_bytes - 1 random bytes of img in [lo, hi) and loads it,
 * 3000 times from a fixed seed: always a clean result, never a crash, and
 * an error that names the file.
 */
static void fuzz_load(const uint8_t *img, size_t size, const char *name, guint32 seed,
		      unsigned max_bytes, gint32 lo, gint32 hi)
{
	struct fixture fx;
	GRand *r = g_rand_new_with_seed(seed);
	unsigned refused = 0;

	fixture_init(&fx, RAM_SIZE);
	for (unsigned iter = 0; iter < 3000; iter++) {
		uint8_t *copy = g_memdup2(img, size);
		struct gh_cpu_state cpu;
		struct gh_error err;
		unsigned nbytes = g_rand_int_range(r, 1, max_bytes);
		int ret;

		for (unsigned k = 0; k < nbytes; k++)
			copy[g_rand_int_range(r, lo, hi)] = g_rand_int(r);
		ret = load(&fx, copy, size, name, "x", NULL, 0, &cpu, &err);
		g_assert_cmpint(ret, ==, err.code);
		if (ret) {
			g_assert_true(g_str_has_prefix(err.msg, name));
			refused++;
		}
		g_free(copy);
	}
	/* both outcomes occur, or the fuzzing hits nothing the loader checks */
	g_assert_cmpuint(refused, >, 0);
	g_assert_cmpuint(refused, <, 3000);
	g_rand_free(r);
	fixture_fini(&fx);
}

/* Random setup headers. */
static void test_linux_fuzz(void)
{
	size_t size;
	uint8_t *img = make_bzimage(&bz_default, &size);

	fuzz_load(img, size, "vmlinuz", 1234, 8, 0x1f1, 0x26c);
	g_free(img);
}

/* ---- Multiboot --------------------------------------------------------- */

#define MB_MAGIC	0x1badb002u

static void mb_header(uint8_t *p, uint32_t flags)
{
	w32(p, MB_MAGIC);
	w32(p + 4, flags);
	w32(p + 8, -(MB_MAGIC + flags));
}

/*
 * An ELF32 kernel linked at 0xc0100000 and loaded at 1 MiB: text 0x2000
 * bytes at file offset 0x1000 (starting with the Multiboot header), data
 * 0x800 bytes at 0x3000 with 0x2800 bytes of bss. A PT_NOTE in between.
 */
#define ELF_SIZE	0x3800

static uint8_t *make_elf32(size_t *size)
{
	uint8_t *f = g_malloc0(ELF_SIZE);
	uint8_t *ph;

	for (size_t i = 0x1000; i < ELF_SIZE; i++)
		f[i] = pattern(i);
	memcpy(f, "\177ELF", 4);
	f[4] = 1;		/* ELFCLASS32 */
	f[5] = 1;		/* little endian */
	f[6] = 1;
	w16(f + 16, 2);		/* ET_EXEC */
	w16(f + 18, 3);		/* EM_386 */
	w32(f + 20, 1);
	w32(f + 24, 0xc0100010);
	w32(f + 28, 52);	/* e_phoff */
	w16(f + 40, 52);
	w16(f + 42, 32);
	w16(f + 44, 3);

	ph = f + 52;
	w32(ph, 1);
	w32(ph + 4, 0x1000);
	w32(ph + 8, 0xc0100000);
	w32(ph + 12, 0x100000);
	w32(ph + 16, 0x2000);
	w32(ph + 20, 0x2000);
	ph += 32;
	w32(ph, 4);		/* PT_NOTE: not loaded */
	w32(ph + 4, 0x1100);
	w32(ph + 12, 0x8000);
	w32(ph + 16, 0x10);
	w32(ph + 20, 0x10);
	ph += 32;
	w32(ph, 1);
	w32(ph + 4, 0x3000);
	w32(ph + 8, 0xc0104000);
	w32(ph + 12, 0x104000);
	w32(ph + 16, 0x800);
	w32(ph + 20, 0x3000);

	mb_header(f + 0x1000, 0x3);	/* page-align modules, memory info */
	*size = ELF_SIZE;
	return f;
}

static void check_mbi_mmap(struct gh_memory *mem, uint64_t mbi)
{
	struct gh_e820_entry e[GH_E820_MAX];
	unsigned n = gh_memory_e820(mem, e, GH_E820_MAX);
	uint64_t p = rd32(mem, mbi + 48);

	g_assert_cmpuint(rd32(mem, mbi + 44), ==, n * 24);
	for (unsigned i = 0; i < n; i++, p += 24) {
		g_assert_cmpuint(rd32(mem, p), ==, 20);
		g_assert_cmphex(rd64(mem, p + 4), ==, e[i].addr);
		g_assert_cmphex(rd64(mem, p + 12), ==, e[i].size);
		g_assert_cmpuint(rd32(mem, p + 20), ==, e[i].type);
	}
}

static uint32_t le32_at(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * Firmware-mediated boot's layout: the setup part with the header a loader
 * fills, the kernel after it, the initrd as high as the firmware's reserve
 * and the kernel's limit allow, above where the kernel decompresses.
 */
static void test_linux_fw_image(void)
{
	struct bz o = bz_default;
	size_t size, initrd_size = 3 * 4096 + 5;
	uint8_t *img = make_bzimage(&o, &size), *rd = g_malloc0(initrd_size);
	struct gh_boot_module mod = { .data = rd, .size = initrd_size,
				      .name = "rd" };
	struct gh_boot_args args = {
		.kernel = img, .kernel_size = size, .kernel_name = "bz",
		.cmdline = "console=ttyS0", .modules = &mod, .nmodules = 1,
	};
	struct gh_linux_fw_image im;
	struct gh_error err = { 0 };
	size_t setup = bz_setup_size(&o);

	g_assert_cmpint(gh_x86_linux_fw_image(&args, 256 << 20, &im, &err), ==, 0);
	g_assert_cmpuint(im.setup_size, ==, setup);
	g_assert_cmphex(im.setup_addr, ==, 0x10000);
	g_assert_cmphex(im.cmdline_addr, ==, 0x20000);
	g_assert_cmphex(im.kernel_addr, ==, 0x100000);
	g_assert_true(im.kernel == img + setup);
	g_assert_cmpuint(im.kernel_size, ==, size - setup);
	g_assert_cmpstr(im.cmdline, ==, "console=ttyS0");
	g_assert_cmpuint(im.cmdline_size, ==, strlen("console=ttyS0") + 1);
	/* the header: what a loader sets, the rest as in the file */
	g_assert_cmphex(im.setup[0x210], ==, 0xff);		/* type_of_loader */
	g_assert_cmphex(im.setup[0x211], ==, 0x81);		/* + CAN_USE_HEAP */
	g_assert_cmphex(im.setup[0x224] | im.setup[0x225] << 8, ==, 0xfe00);
	g_assert_cmphex(le32_at(im.setup + 0x228), ==, 0x20000);
	g_assert_cmphex(le32_at(im.setup + 0x218), ==, im.initrd_addr);
	g_assert_cmphex(le32_at(im.setup + 0x21c), ==, initrd_size);
	g_assert_cmphex(le32_at(im.setup + 0x23c), ==, 0);	/* hardware_subarch */
	g_assert_cmpmem(im.setup, 0x1f1, img, 0x1f1);
	g_assert_cmpmem(im.setup + 0x26c, setup - 0x26c, img + 0x26c, setup - 0x26c);
	/* the initrd: page-aligned, at the top below the firmware's 1 MiB */
	g_assert_true(im.initrd == rd);
	g_assert_cmpuint(im.initrd_size, ==, initrd_size);
	g_assert_cmphex(im.initrd_addr % 4096, ==, 0);
	g_assert_cmphex(im.initrd_addr + initrd_size, <=, (255u << 20));
	g_assert_cmphex(im.initrd_addr + initrd_size + 4096, >, (255u << 20));
	gh_x86_linux_fw_image_free(&im);
	g_assert_null(im.setup);

	/* the kernel's own limit wins when it is lower */
	o.initrd_max = (64 << 20) - 1;
	g_free(img);
	img = make_bzimage(&o, &size);
	args.kernel = img;
	g_assert_cmpint(gh_x86_linux_fw_image(&args, 256 << 20, &im, &err), ==, 0);
	g_assert_cmphex(im.initrd_addr + initrd_size, <=, 64u << 20);
	g_assert_cmphex(im.initrd_addr + initrd_size + 4096, >, 64u << 20);
	gh_x86_linux_fw_image_free(&im);

	/* too little RAM for the kernel's 24 MiB, then for the initrd above
	 * it; a Multiboot kernel is not for this path */
	g_assert_cmpint(gh_x86_linux_fw_image(&args, 16 << 20, &im, &err), ==,
			-ENOMEM);
	g_assert_nonnull(strstr(err.msg, "bz needs RAM"));
	g_assert_null(im.setup);
	o.initrd_max = (24 << 20) + 4096;
	g_free(img);
	img = make_bzimage(&o, &size);
	args.kernel = img;
	err = (struct gh_error){ 0 };
	g_assert_cmpint(gh_x86_linux_fw_image(&args, 256 << 20, &im, &err), ==,
			-ENOMEM);
	g_assert_nonnull(strstr(err.msg, "rd does not fit"));
	g_assert_null(im.setup);
	args.kernel = "\x02\xb0\xad\x1b";
	args.kernel_size = 4;
	g_assert_cmpint(gh_x86_linux_fw_image(&args, 256 << 20, &im, &err), ==,
			-ENOEXEC);
	g_free(img);
	g_free(rd);
}

/* vga= on the command line becomes the header's vid_mode, as a loader's */
static void test_linux_fw_vid_mode(void)
{
	static const struct {
		const char *cmdline;
		int mode;		/* -1: as in the file */
	} cases[] = {
		{ "console=ttyS0", -1 },
		{ "vga=0x318", 0x318 },
		{ "quiet vga=791 console=tty0", 791 },
		{ "vga=normal", 0xffff },
		{ "vga=ext quiet", 0xfffe },
		{ "vga=ask", 0xfffd },
		{ "vga=0x318 vga=0x317", 0x317 },
		{ "xvga=0x318", -1 },
		{ "vga=12junk", -1 },
		{ "vga=0x10000", -1 },
		{ "vga=", -1 },
	};
	struct bz o = bz_default;
	size_t size;
	uint8_t *img = make_bzimage(&o, &size);

	for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct gh_boot_args args = {
			.kernel = img, .kernel_size = size, .kernel_name = "bz",
			.cmdline = cases[i].cmdline,
		};
		struct gh_linux_fw_image im;
		struct gh_error err = { 0 };
		unsigned want = cases[i].mode < 0 ?
				(unsigned)(img[0x1fa] | img[0x1fb] << 8) :
				(unsigned)cases[i].mode;

		g_assert_cmpint(gh_x86_linux_fw_image(&args, 256 << 20, &im,
						      &err), ==, 0);
		g_assert_cmphex(im.setup[0x1fa] | im.setup[0x1fb] << 8, ==, want);
		gh_x86_linux_fw_image_free(&im);
	}
	g_free(img);
}

static void test_multiboot_elf(void)
{
	struct fixture fx;
	struct gh_cpu_state cpu;
	struct gh_error err;
	size_t size;
	uint8_t *img = make_elf32(&size);
	uint8_t m1[5000], m2[100];
	struct gh_boot_module mods[2] = {
		{ .data = m1, .size = sizeof(m1), .name = "mod1.bin", .cmdline = "mod1 arg" },
		{ .data = m2, .size = sizeof(m2), .name = "mod2.bin" },
	};
	uint64_t mbi, ml;
	char *s;

	for (size_t i = 0; i < sizeof(m1); i++)
		m1[i] = pattern(i + 1);
	for (size_t i = 0; i < sizeof(m2); i++)
		m2[i] = pattern(i + 2);
	fixture_init(&fx, RAM_SIZE);
	/* garbage where the bss goes and just past it */
	memset((uint8_t *)fx.ram + 0x104000, 0xaa, 0x4000);
	g_assert_cmpint(gh_x86_kernel_format(img, size), ==, GH_KERNEL_MULTIBOOT);
	/* without modules: nothing written past the end of the bss */
	g_assert_cmpint(load(&fx, img, size, "kernel.elf", NULL, NULL, 0, &cpu, &err),
			==, 0);
	assert_zero(fx.mem, 0x104800, 0x2800);
	g_assert_cmphex(rd8(fx.mem, 0x107000), ==, 0xaa);
	g_assert_cmpuint(rd32(fx.mem, cpu.gpr[GH_RBX] + 20), ==, 0);
	memset((uint8_t *)fx.ram + 0x104000, 0xaa, 0x4000);
	g_assert_cmpint(load(&fx, img, size, "kernel.elf", "console=ttyS0", mods, 2,
			     &cpu, &err), ==, 0);

	/* 3.2: machine state */
	g_assert_cmphex(cpu.gpr[GH_RAX], ==, 0x2badb002);
	g_assert_cmphex(cpu.rip, ==, 0x100010);	/* e_entry through p_paddr */
	g_assert_cmphex(cpu.rflags, ==, 2);
	g_assert_true(cpu.cr0 & GH_CR0_PE);
	g_assert_false(cpu.cr0 & GH_CR0_PG);
	g_assert_cmphex(cpu.efer, ==, 0);
	g_assert_cmphex(cpu.seg[GH_CS].selector, ==, 0x10);
	g_assert_cmphex(cpu.seg[GH_CS].limit, ==, 0xffffffff);
	g_assert_cmpuint(cpu.seg[GH_CS].db, ==, 1);
	g_assert_cmphex(cpu.seg[GH_DS].selector, ==, 0x18);
	g_assert_cmphex(cpu.seg[GH_SS].selector, ==, 0x18);
	g_assert_cmphex(rd64(fx.mem, cpu.gdt.base + 0x10), ==, DESC_CODE32);
	g_assert_cmphex(rd64(fx.mem, cpu.gdt.base + 0x18), ==, DESC_DATA);

	/* segments, bss zeroed, nothing written past memsz */
	assert_ram(fx.mem, 0x100000, img + 0x1000, 0x2000);
	assert_ram(fx.mem, 0x104000, img + 0x3000, 0x800);
	assert_zero(fx.mem, 0x104800, 0x2800);

	/* 3.3: boot information */
	mbi = cpu.gpr[GH_RBX];
	g_assert_cmphex(rd32(fx.mem, mbi), ==, (1 << 0) | (1 << 2) | (1 << 3) |
					       (1 << 6) | (1 << 9));
	g_assert_cmpuint(rd32(fx.mem, mbi + 4), ==, 639);
	g_assert_cmpuint(rd32(fx.mem, mbi + 8), ==, (RAM_SIZE - 0x100000) >> 10);
	s = rdstr(fx.mem, rd32(fx.mem, mbi + 16));
	g_assert_cmpstr(s, ==, "kernel.elf console=ttyS0");
	g_free(s);
	s = rdstr(fx.mem, rd32(fx.mem, mbi + 64));
	g_assert_cmpstr(s, ==, "Guesthouse");
	g_free(s);
	check_mbi_mmap(fx.mem, mbi);

	g_assert_cmpuint(rd32(fx.mem, mbi + 20), ==, 2);
	ml = rd32(fx.mem, mbi + 24);
	/* page-aligned, after the kernel's last byte (0x106fff) */
	g_assert_cmphex(rd32(fx.mem, ml), ==, 0x107000);
	g_assert_cmphex(rd32(fx.mem, ml + 4), ==, 0x107000 + sizeof(m1));
	g_assert_cmphex(rd32(fx.mem, ml + 16), ==, 0x109000);
	g_assert_cmphex(rd32(fx.mem, ml + 20), ==, 0x109000 + sizeof(m2));
	g_assert_cmphex(rd32(fx.mem, ml + 12), ==, 0);
	assert_ram(fx.mem, 0x107000, m1, sizeof(m1));
	assert_ram(fx.mem, 0x109000, m2, sizeof(m2));
	s = rdstr(fx.mem, rd32(fx.mem, ml + 8));
	g_assert_cmpstr(s, ==, "mod1 arg");
	g_free(s);
	s = rdstr(fx.mem, rd32(fx.mem, ml + 24));
	g_assert_cmpstr(s, ==, "mod2.bin");
	g_free(s);
	/* the structures do not overlap the kernel or the modules */
	g_assert_cmphex(mbi + 116, <=, 0x100000);

	fixture_fini(&fx);
	g_free(img);
}

static void test_multiboot_elf64(void)
{
	struct fixture fx;
	struct gh_cpu_state cpu;
	struct gh_error err;
	uint8_t *f = g_malloc0(0x2000);
	uint8_t *ph = f + 64;

	memcpy(f, "\177ELF", 4);
	f[4] = 2;
	f[5] = 1;
	w16(f + 16, 2);
	w16(f + 18, 62);
	w64(f + 24, 0x200004);
	w64(f + 32, 64);
	w16(f + 54, 56);
	w16(f + 56, 1);
	w32(ph, 1);
	w64(ph + 8, 0x1000);
	w64(ph + 16, 0x200000);
	w64(ph + 24, 0x200000);
	w64(ph + 32, 0x1000);
	w64(ph + 40, 0x1000);
	mb_header(f + 0x1000, 0);

	fixture_init(&fx, RAM_SIZE);
	g_assert_cmpint(load(&fx, f, 0x2000, "k64", NULL, NULL, 0, &cpu, &err), ==, 0);
	g_assert_cmphex(cpu.rip, ==, 0x200004);
	assert_ram(fx.mem, 0x200000, f + 0x1000, 0x1000);
	g_assert_cmpuint(rd32(fx.mem, cpu.gpr[GH_RBX] + 20), ==, 0);

	/* a program header beyond 4 GiB */
	w64(ph + 24, 0x100000000ULL);
	expect_error(&fx, f, 0x2000, "k64", NULL, NULL, 0, -EINVAL,
		     "k64: program header 0 loads above 4 GiB");
	fixture_fini(&fx);
	g_free(f);
}

/* A flat binary described by the a.out kludge (3.1.3). */
static uint8_t *make_aout(size_t *size, uint32_t load_end, uint32_t bss_end)
{
	uint8_t *f = g_malloc0(0x3000);

	for (size_t i = 0; i < 0x3000; i++)
		f[i] = pattern(i + 5);
	mb_header(f + 0x40, (1 << 16) | (1 << 1) | (1 << 2));
	w32(f + 0x4c, 0x200040);	/* header_addr */
	w32(f + 0x50, 0x200000);	/* load_addr */
	w32(f + 0x54, load_end);
	w32(f + 0x58, bss_end);
	w32(f + 0x5c, 0x200100);	/* entry_addr */
	*size = 0x3000;
	return f;
}

static void test_multiboot_aout(void)
{
	struct fixture fx;
	struct gh_cpu_state cpu;
	struct gh_error err;
	size_t size;
	uint8_t *img = make_aout(&size, 0x202000, 0x205000);
	uint8_t mod[10] = { 9, 8, 7 };
	struct gh_boot_module m = { .data = mod, .size = sizeof(mod), .name = "m" };
	uint64_t ml;

	fixture_init(&fx, RAM_SIZE);
	memset((uint8_t *)fx.ram + 0x200000, 0xaa, 0x8000);
	g_assert_cmpint(load(&fx, img, size, "flat.bin", "", &m, 1, &cpu, &err), ==, 0);
	g_assert_cmphex(cpu.rip, ==, 0x200100);
	g_assert_cmphex(cpu.gpr[GH_RAX], ==, 0x2badb002);
	assert_ram(fx.mem, 0x200000, img, 0x2000);
	assert_zero(fx.mem, 0x202000, 0x3000);
	/* the module goes right after the bss, not over it */
	ml = rd32(fx.mem, cpu.gpr[GH_RBX] + 24);
	g_assert_cmphex(rd32(fx.mem, ml), ==, 0x205000);
	assert_ram(fx.mem, 0x205000, mod, sizeof(mod));
	g_assert_cmphex(rd8(fx.mem, 0x205000 + sizeof(mod)), ==, 0xaa);
	fixture_fini(&fx);
	g_free(img);

	/* load_end_addr 0: the rest of the file; no bss */
	img = make_aout(&size, 0, 0);
	fixture_init(&fx, RAM_SIZE);
	g_assert_cmpint(load(&fx, img, size, "flat.bin", NULL, NULL, 0, &cpu, &err), ==, 0);
	assert_ram(fx.mem, 0x200000, img, 0x3000);
	ml = rd32(fx.mem, cpu.gpr[GH_RBX] + 16);
	{
		char *s = rdstr(fx.mem, ml);

		g_assert_cmpstr(s, ==, "flat.bin");
		g_free(s);
	}
	fixture_fini(&fx);
	g_free(img);
}

static void test_multiboot_aout_corrupt(void)
{
	struct fixture fx;
	size_t size;
	uint8_t *img;

	fixture_init(&fx, RAM_SIZE);

	img = make_aout(&size, 0x204000, 0);	/* 0x4000 bytes from a 0x3000 file */
	expect_error(&fx, img, size, "flat.bin", NULL, NULL, 0, -EINVAL,
		     "flat.bin: the Multiboot header asks to load 16384 bytes but the "
		     "file has only 12288 after offset 0x0");
	g_free(img);

	img = make_aout(&size, 0x202000, 0x201000);
	expect_error(&fx, img, size, "flat.bin", NULL, NULL, 0, -EINVAL,
		     "flat.bin: the Multiboot bss end 0x201000 is below the end of the "
		     "loaded image");
	g_free(img);

	img = make_aout(&size, 0x1ff000, 0);
	expect_error(&fx, img, size, "flat.bin", NULL, NULL, 0, -EINVAL,
		     "flat.bin: the Multiboot load end address 0x1ff000 is below the "
		     "load address 0x200000");
	g_free(img);

	/* header_addr - load_addr larger than the header's offset */
	img = make_aout(&size, 0, 0);
	w32(img + 0x50, 0x1ff000);
	expect_error(&fx, img, size, "flat.bin", NULL, NULL, 0, -EINVAL,
		     "flat.bin: the Multiboot load address 0x1ff000 does not match the "
		     "header's place in the file");
	w32(img + 0x50, 0x200000);
	w32(img + 0x5c, 0x300000);
	expect_error(&fx, img, size, "flat.bin", NULL, NULL, 0, -EINVAL,
		     "flat.bin: the entry point 0x300000 is outside the loaded kernel");
	w32(img + 0x5c, 0x200100);
	/* into the loader's own area below 640 KiB */
	w32(img + 0x4c, 0x9040);
	w32(img + 0x50, 0x9000);
	w32(img + 0x5c, 0x9100);
	expect_error(&fx, img, size, "flat.bin", NULL, NULL, 0, -EINVAL,
		     "flat.bin: the kernel loads at 0x9000-0xbfff, over the boot "
		     "information at 0x6000-0x8ffff");
	/* beyond the RAM */
	w32(img + 0x4c, 0x8000040);
	w32(img + 0x50, 0x8000000);
	w32(img + 0x5c, 0x8000100);
	expect_error(&fx, img, size, "flat.bin", NULL, NULL, 0, -ENOMEM,
		     "flat.bin: the kernel loads at 0x8000000-0x8002fff, outside the "
		     "VM's 64 MiB of RAM");
	/* wrapping past 4 GiB */
	w32(img + 0x4c, 0xfffff040);
	w32(img + 0x50, 0xfffff000);
	w32(img + 0x5c, 0xfffff100);
	expect_error(&fx, img, size, "flat.bin", NULL, NULL, 0, -EINVAL,
		     "flat.bin: the Multiboot header loads the kernel past 4 GiB");
	g_free(img);

	/* the address fields cut off by the end of the file */
	img = make_aout(&size, 0, 0);
	expect_error(&fx, img, 0x50, "flat.bin", NULL, NULL, 0, -EINVAL,
		     "flat.bin: the Multiboot header's address fields run past the end "
		     "of the file");
	g_free(img);
	fixture_fini(&fx);
}

static void test_multiboot_corrupt(void)
{
	struct fixture fx;
	size_t size;
	uint8_t *img;
	uint8_t *big;
	struct gh_boot_module m;

	fixture_init(&fx, RAM_SIZE);

	img = make_elf32(&size);
	w32(img + 28, 0x10000);
	expect_error(&fx, img, size, "kernel.elf", NULL, NULL, 0, -EINVAL,
		     "kernel.elf: the ELF program header table lies outside the file");
	w32(img + 28, 0xffffffff);
	expect_error(&fx, img, size, "kernel.elf", NULL, NULL, 0, -EINVAL,
		     "kernel.elf: the ELF program header table lies outside the file");
	w32(img + 28, 52);
	w16(img + 44, 0xffff);
	expect_error(&fx, img, size, "kernel.elf", NULL, NULL, 0, -EINVAL,
		     "kernel.elf: the ELF program header table lies outside the file");
	w16(img + 44, 3);
	w16(img + 42, 8);
	expect_error(&fx, img, size, "kernel.elf", NULL, NULL, 0, -EINVAL,
		     "kernel.elf: the ELF program header size 8 is too small");
	w16(img + 42, 32);
	g_free(img);

	/* p_offset + p_filesz past the end, including by wrapping */
	img = make_elf32(&size);
	w32(img + 52 + 64 + 16, 0x801);
	expect_error(&fx, img, size, "kernel.elf", NULL, NULL, 0, -EINVAL,
		     "kernel.elf: program header 2 lies outside the file");
	w32(img + 52 + 64 + 4, 0xffffff00);
	w32(img + 52 + 64 + 16, 0x200);
	expect_error(&fx, img, size, "kernel.elf", NULL, NULL, 0, -EINVAL,
		     "kernel.elf: program header 2 lies outside the file");
	g_free(img);

	img = make_elf32(&size);
	w32(img + 52 + 64 + 20, 0x100);		/* memsz < filesz */
	expect_error(&fx, img, size, "kernel.elf", NULL, NULL, 0, -EINVAL,
		     "kernel.elf: program header 2 has more bytes in the file than in "
		     "memory");
	w32(img + 52 + 64 + 20, 0x3000);
	w32(img + 52 + 64 + 12, 0x101000);	/* data over text */
	expect_error(&fx, img, size, "kernel.elf", NULL, NULL, 0, -EINVAL,
		     "kernel.elf: program headers 0 and 2 overlap in memory");
	w32(img + 52 + 64 + 12, 0xfffff000);	/* wraps past 4 GiB */
	expect_error(&fx, img, size, "kernel.elf", NULL, NULL, 0, -EINVAL,
		     "kernel.elf: program header 2 loads above 4 GiB");
	w32(img + 52 + 64 + 12, 0x104000);
	w32(img + 24, 0x500000);
	expect_error(&fx, img, size, "kernel.elf", NULL, NULL, 0, -EINVAL,
		     "kernel.elf: the entry point 0x500000 is outside the loaded kernel");
	w32(img + 24, 0xc0100010);

	/* bad checksum: no longer Multiboot, and the message says why */
	img[0x1008] ^= 1;
	g_assert_cmpint(gh_x86_kernel_format(img, size), ==, GH_KERNEL_UNKNOWN);
	expect_error(&fx, img, size, "kernel.elf", NULL, NULL, 0, -ENOEXEC,
		     "kernel.elf: not a Linux bzImage or Multiboot kernel (the Multiboot "
		     "header at offset 0x1000 has a bad checksum)");
	img[0x1008] ^= 1;

	/* a required feature we do not have */
	mb_header(img + 0x1000, 0x3 | (1 << 3));
	expect_error(&fx, img, size, "kernel.elf", NULL, NULL, 0, -ENOEXEC,
		     "kernel.elf: the Multiboot header requires features this loader "
		     "does not have (flags 0x0000000b)");
	/* optional bits (16-31 other than the a.out kludge) are fine */
	mb_header(img + 0x1000, 0x3 | (1 << 20));
	expect_error(&fx, img, size, "kernel.elf", NULL, NULL, 0, 0, NULL);
	mb_header(img + 0x1000, 0x3);

	/* not ELF and no a.out kludge */
	img[1] = 'X';
	expect_error(&fx, img, size, "kernel.elf", NULL, NULL, 0, -ENOEXEC,
		     "kernel.elf: a Multiboot kernel without load addresses in its "
		     "header must be ELF, and this file is not");
	img[1] = 'E';

	/* a module larger than the RAM after the kernel */
	big = g_malloc0(63 << 20);
	m = (struct gh_boot_module){ .data = big, .size = 63 << 20, .name = "big.img" };
	expect_error(&fx, img, size, "kernel.elf", NULL, &m, 1, -ENOMEM,
		     "big.img does not fit in 64 MiB of RAM after the kernel");
	g_free(big);

	/* every cut: the last segment's data ends the file */
	for (size_t cut = 0; cut < size; cut++) {
		uint8_t *copy = g_memdup2(img, cut);
		struct gh_cpu_state cpu;
		struct gh_error err;
		int ret = load(&fx, copy, cut, "kernel.elf", "", NULL, 0, &cpu, &err);

		if (ret >= 0 || err.code != ret || strncmp(err.msg, "kernel.elf", 10) != 0)
			g_error("cut at %zu: ret %d, \"%s\"", cut, ret, err.msg);
		g_free(copy);
	}
	g_free(img);
	fixture_fini(&fx);
}

static void test_multiboot_fuzz(void)
{
	size_t size;
	uint8_t *img = make_elf32(&size);

	/* the ELF header and the program headers */
	fuzz_load(img, size, "kernel.elf", 99, 6, 0, 52 + 96);
	g_free(img);
}

static void test_unknown(void)
{
	struct fixture fx;
	uint8_t junk[4096];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = pattern(i);
	fixture_init(&fx, RAM_SIZE);
	g_assert_cmpint(gh_x86_kernel_format(junk, sizeof(junk)), ==, GH_KERNEL_UNKNOWN);
	g_assert_cmpint(gh_x86_kernel_format(NULL, 0), ==, GH_KERNEL_UNKNOWN);
	expect_error(&fx, junk, sizeof(junk), "junk.bin", NULL, NULL, 0, -ENOEXEC,
		     "junk.bin: not a Linux bzImage or Multiboot kernel");
	expect_error(&fx, junk, 0, NULL, NULL, NULL, 0, -ENOEXEC,
		     "kernel: not a Linux bzImage or Multiboot kernel");
	/* and the loaders called directly on the wrong format */
	{
		struct gh_boot_args args = { .kernel = junk, .kernel_size = sizeof(junk),
					     .kernel_name = "junk.bin" };
		struct gh_cpu_state cpu;
		struct gh_error err = { 0 };

		g_assert_cmpint(gh_x86_load_linux(fx.mem, &args, &cpu, &err), ==,
				-ENOEXEC);
		g_assert_cmpstr(err.msg, ==, "junk.bin: not a Linux bzImage");
		memset(&err, 0, sizeof(err));
		g_assert_cmpint(gh_x86_load_multiboot(fx.mem, &args, &cpu, &err), ==,
				-ENOEXEC);
		g_assert_cmpstr(err.msg, ==,
				"junk.bin: no Multiboot header in the first 8 KiB");
	}
	fixture_fini(&fx);
}

/* ---- a real kernel, when one is around --------------------------------- */

static char *find_real_kernel(void)
{
	const char *srcdir = g_getenv("G_TEST_SRCDIR");
	char *path;
	GDir *dir;
	const char *ent;

	path = g_build_filename(srcdir ? srcdir : ".", "..", "fixtures", "linux",
				"vmlinuz", NULL);
	if (g_file_test(path, G_FILE_TEST_IS_REGULAR) && access(path, R_OK) == 0)
		return path;
	g_free(path);
	dir = g_dir_open("/boot", 0, NULL);
	if (!dir)
		return NULL;
	path = NULL;
	while (!path && (ent = g_dir_read_name(dir)))
		if (g_str_has_prefix(ent, "vmlinuz-")) {
			path = g_build_filename("/boot", ent, NULL);
			if (access(path, R_OK) != 0)
				g_clear_pointer(&path, g_free);
		}
	g_dir_close(dir);
	return path;
}

static void test_real_kernel(void)
{
	struct fixture fx;
	struct gh_cpu_state cpu;
	struct gh_error err;
	char *path = find_real_kernel();
	gchar *data;
	gsize size;
	uint8_t rd[4096] = { 0x30, 0x37, 0x30, 0x37 };
	struct gh_boot_module m = { .data = rd, .size = sizeof(rd), .name = "initrd" };
	uint64_t bp, ri;
	size_t setup;
	char *s;

	if (!path) {
		g_test_skip("no Linux kernel: neither fixtures/linux/vmlinuz (see the "
			    "fixture scripts) nor a readable /boot/vmlinuz-*");
		return;
	}
	g_test_message("loading %s", path);
	g_assert_true(g_file_get_contents(path, &data, &size, NULL));
	g_assert_cmpint(gh_x86_kernel_format(data, size), ==, GH_KERNEL_LINUX);
	fixture_init(&fx, 512ULL << 20);
	g_assert_cmpint(load(&fx, data, size, path, "console=ttyS0", &m, 1, &cpu, &err),
			==, 0);
	bp = cpu.gpr[GH_RSI];
	setup = ((uint8_t)data[0x1f1] ? (uint8_t)data[0x1f1] : 4) * 512 + 512;
	assert_ram(fx.mem, KERNEL_ADDR, (uint8_t *)data + setup, 4096);
	g_assert_cmphex(rd16(fx.mem, bp + 0x206), ==,
			(uint8_t)data[0x206] | (uint8_t)data[0x207] << 8);
	if ((uint8_t)data[0x236] & 1) {
		g_assert_cmphex(cpu.rip, ==, KERNEL_ADDR + 0x200);
		g_assert_true(cpu.efer & GH_EFER_LMA);
	} else {
		g_assert_cmphex(cpu.rip, ==, KERNEL_ADDR);
	}
	s = rdstr(fx.mem, rd32(fx.mem, bp + 0x228));
	g_assert_cmpstr(s, ==, "console=ttyS0");
	g_free(s);
	ri = rd32(fx.mem, bp + 0x218);
	g_assert_cmphex(ri & 0xfff, ==, 0);
	g_assert_cmphex(ri, >=, KERNEL_ADDR + size - setup);
	assert_ram(fx.mem, ri, rd, sizeof(rd));
	check_e820(fx.mem, bp);
	fixture_fini(&fx);
	g_free(data);
	g_free(path);
}

/*
 * With ncpus the loader leaves the ACPI and MP tables in the BIOS area
 * (test-acpi-tables checks their content) and Linux gets the RSDP's
 * address in boot_params.acpi_rsdp_addr (zero-page.rst, 0x070); without,
 * neither.
 */
static void test_acpi_hook(void)
{
	struct fixture fx;
	struct gh_cpu_state cpu;
	struct gh_error err;
	size_t size;
	uint8_t *img = make_bzimage(&bz_default, &size);
	struct gh_boot_args args = {
		.kernel = img, .kernel_size = size, .kernel_name = "bzImage",
	};
	uint8_t sig[8];

	for (unsigned ncpus = 0; ncpus <= 2; ncpus += 2) {
		fixture_init(&fx, RAM_SIZE);
		args.ncpus = ncpus;
		err = (struct gh_error){ 0 };
		g_assert_cmpint(gh_x86_load_linux(fx.mem, &args, &cpu, &err), ==, 0);
		g_assert_cmphex(rd64(fx.mem, cpu.gpr[GH_RSI] + 0x070), ==,
				ncpus ? 0xf0000 : 0);
		g_assert_cmpint(gh_mem_read(fx.mem, 0xf0000, sig, 8), ==, 0);
		g_assert_cmpint(!memcmp(sig, "RSD PTR ", 8), ==, ncpus != 0);
		fixture_fini(&fx);
	}
	/* ncpus out of range: an error, not a table with no CPU */
	fixture_init(&fx, RAM_SIZE);
	args.ncpus = 65;
	err = (struct gh_error){ 0 };
	g_assert_cmpint(gh_x86_load_linux(fx.mem, &args, &cpu, &err), ==, -EINVAL);
	fixture_fini(&fx);
	g_free(img);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/loader/linux/64", test_linux_64);
	g_test_add_func("/loader/linux/32", test_linux_32);
	g_test_add_func("/loader/linux/initrd-limit", test_linux_initrd_limit);
	g_test_add_func("/loader/linux/truncated", test_linux_truncated);
	g_test_add_func("/loader/linux/corrupt", test_linux_corrupt);
	g_test_add_func("/loader/linux/fuzz", test_linux_fuzz);
	g_test_add_func("/loader/linux/fw-image", test_linux_fw_image);
	g_test_add_func("/loader/linux/fw-vid-mode", test_linux_fw_vid_mode);
	g_test_add_func("/loader/linux/real-kernel", test_real_kernel);
	g_test_add_func("/loader/multiboot/elf", test_multiboot_elf);
	g_test_add_func("/loader/multiboot/elf64", test_multiboot_elf64);
	g_test_add_func("/loader/multiboot/aout", test_multiboot_aout);
	g_test_add_func("/loader/multiboot/aout-corrupt", test_multiboot_aout_corrupt);
	g_test_add_func("/loader/multiboot/corrupt", test_multiboot_corrupt);
	g_test_add_func("/loader/multiboot/fuzz", test_multiboot_fuzz);
	g_test_add_func("/loader/unknown", test_unknown);
	g_test_add_func("/loader/acpi-hook", test_acpi_hook);
	return g_test_run();
}
