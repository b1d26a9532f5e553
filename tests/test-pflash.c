/*
 * Tests of the flash chip (devices/pc/pflash.c) driven as OVMF's
 * QemuFlashFvbServicesRuntimeDxe drives it: detection (Clear Status, then
 * Read Status reads 0), byte programs and block erases that land in a
 * file-backed store, the identifier and CFI modes, errors for unknown
 * commands and a bad erase confirm, and array mode as ROM.
 */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devtest.h"
#include "gh/memory.h"
#include "gh/pflash.h"

#define BASE	0xffe00000ULL
#define SIZE	0x20000u

struct fx {
	struct gh_vm *vm;
	struct gh_pflash *pf;
	char *path;
	int fd;
	uint8_t *data;
};

static void fx_setup(struct fx *f, gconstpointer unused)
{
	struct gh_error err = { 0 };
	uint8_t *init = g_malloc(SIZE);

	(void)unused;
	for (unsigned i = 0; i < SIZE; i++)
		init[i] = i * 13 + 5;
	f->fd = g_file_open_tmp("gh-pflash-XXXXXX", &f->path, NULL);
	g_assert_cmpint(f->fd, >=, 0);
	g_assert_cmpint(write(f->fd, init, SIZE), ==, SIZE);
	g_free(init);
	f->data = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
	g_assert_true(f->data != MAP_FAILED);
	f->vm = dt_vm_new();
	g_assert_cmpint(gh_pflash_new(f->vm, BASE, f->data, SIZE, true, &f->pf,
				      &err), ==, 0);
}

static void fx_teardown(struct fx *f, gconstpointer unused)
{
	(void)unused;
	gh_pflash_free(f->pf);
	gh_vm_free(f->vm);
	munmap(f->data, SIZE);
	close(f->fd);
	g_unlink(f->path);
	g_free(f->path);
}

static void wr(struct fx *f, uint32_t off, uint64_t v, unsigned size)
{
	gh_bus_write(gh_vm_mmio(f->vm), BASE + off, v, size);
}

static uint64_t rd(struct fx *f, uint32_t off, unsigned size)
{
	return gh_bus_read(gh_vm_mmio(f->vm), BASE + off, size);
}

/* What a guest read sees in array mode: memory, not the MMIO bus. */
static bool mem_rd(struct fx *f, uint32_t off, uint8_t *v)
{
	return gh_mem_read(gh_vm_memory(f->vm), BASE + off, v, 1) == 0;
}

static uint8_t file_byte(struct fx *f, uint32_t off)
{
	uint8_t b = 0;

	g_assert_cmpint(pread(f->fd, &b, 1, off), ==, 1);
	return b;
}

/* OVMF's QemuFlashDetected(): a flash chip, not ROM and not RAM. */
static void test_detect(struct fx *f, gconstpointer unused)
{
	uint8_t orig, v;

	(void)unused;
	g_assert_true(mem_rd(f, 0x10, &orig));
	wr(f, 0x10, 0x50, 1);			/* Clear Status */
	g_assert_true(mem_rd(f, 0x10, &v));	/* still the array */
	g_assert_cmphex(v, ==, orig);
	wr(f, 0x10, 0x70, 1);			/* Read Status */
	g_assert_false(mem_rd(f, 0x10, &v));	/* off ROM: reads trap */
	g_assert_cmphex(rd(f, 0x10, 1), ==, 0x00);
	wr(f, 0x10, 0xff, 1);			/* Read Array */
	g_assert_true(mem_rd(f, 0x10, &v));
	g_assert_cmphex(v, ==, orig);
	g_assert_cmphex(f->data[0x10], ==, orig);	/* nothing written */
}

static void test_program_erase(struct fx *f, gconstpointer unused)
{
	uint8_t v;

	(void)unused;
	wr(f, 0x1234, 0x10, 1);			/* program a byte */
	wr(f, 0x1234, 0xa5, 1);
	g_assert_cmphex(rd(f, 0x1234, 1), ==, 0x80);	/* status: ready */
	g_assert_cmphex(rd(f, 0x1234, 4), ==, 0x80808080);
	wr(f, 0, 0xff, 1);
	g_assert_true(mem_rd(f, 0x1234, &v));
	g_assert_cmphex(v, ==, 0xa5);
	g_assert_cmphex(file_byte(f, 0x1234), ==, 0xa5);
	/* the 0x40 alias, a 16-bit program */
	wr(f, 0x2000, 0x40, 1);
	wr(f, 0x2000, 0xbeef, 2);
	wr(f, 0, 0xff, 1);
	g_assert_cmphex(f->data[0x2000], ==, 0xef);
	g_assert_cmphex(file_byte(f, 0x2001), ==, 0xbe);

	/* block erase: the 4 KiB block around the address, nothing else */
	wr(f, 0x1234, 0x20, 1);
	wr(f, 0x1234, 0xd0, 1);
	g_assert_cmphex(rd(f, 0, 1), ==, 0x80);
	wr(f, 0, 0xff, 1);
	for (unsigned i = 0x1000; i < 0x2000; i++)
		g_assert_cmphex(f->data[i], ==, 0xff);
	g_assert_cmphex(f->data[0xfff], ==, (uint8_t)(0xfff * 13 + 5));
	g_assert_cmphex(f->data[0x2000], ==, 0xef);
	g_assert_cmphex(file_byte(f, 0x1fff), ==, 0xff);
	/* the last block */
	wr(f, SIZE - 1, 0x20, 1);
	wr(f, SIZE - 1, 0xd0, 1);
	wr(f, 0, 0xff, 1);
	g_assert_cmphex(f->data[SIZE - 4096], ==, 0xff);
	g_assert_cmphex(f->data[SIZE - 4097], ==, (uint8_t)((SIZE - 4097) * 13 + 5));
}

static void test_errors(struct fx *f, gconstpointer unused)
{
	uint8_t before = f->data[0x3000];

	(void)unused;
	/* an erase without its confirm erases nothing: sequence error */
	wr(f, 0x3000, 0x20, 1);
	wr(f, 0x3000, 0x55, 1);
	g_assert_cmphex(rd(f, 0, 1), ==, 0xb0);
	g_assert_cmphex(f->data[0x3000], ==, before);
	wr(f, 0, 0x50, 1);				/* clears the bits */
	wr(f, 0, 0x70, 1);
	g_assert_cmphex(rd(f, 0, 1), ==, 0x00);
	/* write-to-buffer is not there: an error, nothing changes */
	wr(f, 0x3000, 0xe8, 1);
	g_assert_cmphex(rd(f, 0x3000, 1) & 0x30, ==, 0x30);
	wr(f, 0x3000, 0x99, 1);		/* an unknown byte, as a command */
	wr(f, 0, 0xff, 1);
	g_assert_cmphex(f->data[0x3000], ==, before);
	/* lock commands complete (no block is locked) */
	wr(f, 0x3000, 0x60, 1);
	wr(f, 0x3000, 0xd0, 1);
	g_assert_cmphex(rd(f, 0, 1) & 0x80, ==, 0x80);
	wr(f, 0, 0xff, 1);
	g_assert_cmphex(f->data[0x3000], ==, before);
}

static void test_id_cfi(struct fx *f, gconstpointer unused)
{
	(void)unused;
	wr(f, 0, 0x90, 1);
	g_assert_cmphex(rd(f, 0, 1), ==, 0x89);
	g_assert_cmphex(rd(f, 1, 1), ==, 0x18);
	g_assert_cmphex(rd(f, 2, 1), ==, 0x00);		/* unlocked */
	wr(f, 0, 0x98, 1);
	g_assert_cmphex(rd(f, 0x10, 1), ==, 'Q');
	g_assert_cmphex(rd(f, 0x11, 1), ==, 'R');
	g_assert_cmphex(rd(f, 0x12, 1), ==, 'Y');
	g_assert_cmphex(rd(f, 0x27, 1), ==, 17);	/* 2^17 bytes */
	g_assert_cmphex(rd(f, 0x2c, 1), ==, 1);		/* one region */
	g_assert_cmphex(rd(f, 0x2d, 2), ==, SIZE / 4096 - 1);
	g_assert_cmphex(rd(f, 0x2f, 2), ==, 4096 / 256);
	wr(f, 0, 0xff, 1);
	g_assert_cmphex(rd(f, 0x10, 1), ==, f->data[0x10]);
}

static void test_bad_size(void)
{
	struct gh_vm *vm = dt_vm_new();
	struct gh_error err = { 0 };
	struct gh_pflash *pf = NULL;
	static uint8_t buf[3 * 4096];

	g_assert_cmpint(gh_pflash_new(vm, BASE, buf, sizeof(buf), false, &pf,
				      &err), ==, -EINVAL);
	g_assert_null(pf);
	g_assert_nonnull(strstr(err.msg, "power of two"));
	gh_vm_free(vm);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) \
	g_test_add("/pflash/" name, struct fx, NULL, fx_setup, fn, fx_teardown)
	ADD("detect", test_detect);
	ADD("program-erase", test_program_erase);
	ADD("errors", test_errors);
	ADD("id-cfi", test_id_cfi);
	g_test_add_func("/pflash/bad-size", test_bad_size);
	return g_test_run();
}
