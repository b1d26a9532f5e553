/*
 * Tests of the fw_cfg device (devices/pc/fw_cfg.c) driven as SeaBIOS drives
 * it: the selector and data ports, the DMA interface with good and bad
 * access structures, the file directory, every item's content, and the
 * BIOS linker/loader script run the way SeaBIOS's romfile_loader runs it.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "bytes.h"
#include "devtest.h"
#include "gh/board.h"
#include "gh/fw-cfg.h"
#include "gh/memory.h"

#define NCPUS	2
#define ACC	0x1000ULL	/* where the tests put FWCfgDmaAccess */
#define BUF	0x2000ULL	/* and the DMA buffer */

struct fx {
	struct gh_vm *vm;
	struct gh_device *dev;
	struct gh_memory *mem;
};

static void fx_setup(struct fx *f, gconstpointer data)
{
	struct gh_device_cfg cfg = { .irq = -1, .ncpus = NCPUS };

	(void)data;
	f->vm = dt_vm_new();
	f->mem = gh_vm_memory(f->vm);
	f->dev = dt_dev_new(f->vm, &gh_fw_cfg_type, &cfg);
}

static void fx_teardown(struct fx *f, gconstpointer data)
{
	(void)data;
	gh_device_free(f->dev);
	gh_vm_free(f->vm);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void select_key(struct fx *f, uint16_t key)
{
	dt_outw(f->vm, GH_FW_CFG_PORT_SEL, key);
}

static void read_data(struct fx *f, void *buf, size_t len)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = dt_inb(f->vm, GH_FW_CFG_PORT_DATA);
}

static uint8_t *read_item(struct fx *f, uint16_t key, size_t len)
{
	uint8_t *buf = g_malloc(len + 1);

	select_key(f, key);
	read_data(f, buf, len);
	return buf;
}

struct dir_entry {
	uint32_t size;
	uint16_t key;
	char name[GH_FW_CFG_FILE_NAME + 1];
};

static unsigned read_dir(struct fx *f, struct dir_entry *out, unsigned max)
{
	uint8_t cnt[4], e[GH_FW_CFG_FILE_ENTRY];
	unsigned n;

	select_key(f, GH_FW_CFG_FILE_DIR);
	read_data(f, cnt, 4);
	n = be32(cnt);
	g_assert_cmpuint(n, <=, max);
	for (unsigned i = 0; i < n; i++) {
		read_data(f, e, sizeof(e));
		out[i].size = be32(e);
		out[i].key = e[4] << 8 | e[5];
		g_assert_cmpuint(e[6] | e[7], ==, 0);	/* reserved */
		memcpy(out[i].name, e + 8, GH_FW_CFG_FILE_NAME);
		out[i].name[GH_FW_CFG_FILE_NAME] = 0;
		/* NUL-terminated within its 56 bytes */
		g_assert_cmpuint(strlen(out[i].name), <, GH_FW_CFG_FILE_NAME);
	}
	return n;
}

/* A file's bytes by name (NULL if absent), *len its directory size. */
static uint8_t *read_file(struct fx *f, const char *name, size_t *len)
{
	struct dir_entry dir[32];
	unsigned n = read_dir(f, dir, G_N_ELEMENTS(dir));

	for (unsigned i = 0; i < n; i++)
		if (!strcmp(dir[i].name, name)) {
			*len = dir[i].size;
			return read_item(f, dir[i].key, dir[i].size);
		}
	return NULL;
}

/* ---- the port interface ---- */

static void test_signature(struct fx *f, gconstpointer data)
{
	uint8_t *sig, *id;

	(void)data;
	sig = read_item(f, GH_FW_CFG_SIGNATURE, 4);
	g_assert_cmpmem(sig, 4, "QEMU", 4);
	id = read_item(f, GH_FW_CFG_ID, 4);
	g_assert_cmphex(le32(id), ==, GH_FW_CFG_VERSION | GH_FW_CFG_VERSION_DMA);
	/* the DMA register reads back "QEMU CFG", byte by byte and wide */
	for (unsigned i = 0; i < 8; i++)
		g_assert_cmphex(dt_inb(f->vm, GH_FW_CFG_PORT_DMA + i), ==,
				(uint8_t)GH_FW_CFG_DMA_SIGNATURE[i]);
	g_assert_cmphex(dt_inl(f->vm, GH_FW_CFG_PORT_DMA), ==, 0x554d4551);
	g_assert_cmphex(dt_inl(f->vm, GH_FW_CFG_PORT_DMA + 4), ==, 0x47464320);
	g_free(sig);
	g_free(id);
}

static void test_selector(struct fx *f, gconstpointer data)
{
	uint8_t b[8];

	(void)data;
	/* reads advance through the item, then give 0 past its end */
	select_key(f, GH_FW_CFG_SIGNATURE);
	read_data(f, b, 2);
	g_assert_cmpmem(b, 2, "QE", 2);
	read_data(f, b, 6);
	g_assert_cmpmem(b, 6, "MU\0\0\0\0", 6);
	/* selecting again starts over; so does selecting another item */
	select_key(f, GH_FW_CFG_SIGNATURE);
	g_assert_cmpuint(dt_inb(f->vm, GH_FW_CFG_PORT_DATA), ==, 'Q');
	select_key(f, GH_FW_CFG_ID);
	select_key(f, GH_FW_CFG_SIGNATURE);
	g_assert_cmpuint(dt_inb(f->vm, GH_FW_CFG_PORT_DATA), ==, 'Q');
	/* a byte read at the selector port is a data read too (QEMU) */
	g_assert_cmpuint(dt_inb(f->vm, GH_FW_CFG_PORT_SEL), ==, 'E');
	/* data writes are ignored: the item and the position stay */
	dt_outb(f->vm, GH_FW_CFG_PORT_DATA, 'X');
	g_assert_cmpuint(dt_inb(f->vm, GH_FW_CFG_PORT_DATA), ==, 'M');
	select_key(f, GH_FW_CFG_SIGNATURE);
	g_assert_cmpuint(dt_inb(f->vm, GH_FW_CFG_PORT_DATA), ==, 'Q');
	/* unknown keys, the write channel and arch keys without items read 0 */
	for (unsigned k = 0; k < 3; k++) {
		static const uint16_t keys[] = { 0x0123, 0x4000, 0x8003 };

		select_key(f, keys[k]);
		read_data(f, b, 4);
		g_assert_cmpmem(b, 4, "\0\0\0\0", 4);
	}
	/* a reset deselects */
	select_key(f, GH_FW_CFG_SIGNATURE);
	gh_device_reset(f->dev);
	g_assert_cmpuint(dt_inb(f->vm, GH_FW_CFG_PORT_DATA), ==, 0);
}

/* ---- the items ---- */

static void test_directory(struct fx *f, gconstpointer data)
{
	static const char *const want[] = {
		"bootorder", "etc/acpi/rsdp", "etc/acpi/tables",
		"etc/boot-menu-wait", "etc/e820", "etc/smbios/smbios-anchor",
		"etc/smbios/smbios-tables", "etc/table-loader",
	};
	struct dir_entry dir[32];
	unsigned n;

	(void)data;
	n = read_dir(f, dir, G_N_ELEMENTS(dir));
	g_assert_cmpuint(n, ==, G_N_ELEMENTS(want));
	for (unsigned i = 0; i < n; i++) {
		uint8_t *content;

		g_assert_cmpstr(dir[i].name, ==, want[i]);
		if (i)
			g_assert_cmpint(strcmp(dir[i - 1].name, dir[i].name), <, 0);
		g_assert_cmphex(dir[i].key, >=, GH_FW_CFG_FILE_FIRST);
		for (unsigned j = 0; j < i; j++)
			g_assert_cmphex(dir[i].key, !=, dir[j].key);
		/* the size is the item's: data up to it, zeros after */
		content = read_item(f, dir[i].key, dir[i].size);
		g_assert_cmpuint(dt_inb(f->vm, GH_FW_CFG_PORT_DATA), ==, 0);
		g_free(content);
	}
}

static void test_numbers(struct fx *f, gconstpointer data)
{
	uint8_t *p;
	size_t len;

	(void)data;
	p = read_item(f, GH_FW_CFG_RAM_SIZE, 8);
	g_assert_cmphex(le64(p), ==, gh_vm_ram_size(f->vm));
	g_free(p);
	p = read_item(f, GH_FW_CFG_NB_CPUS, 2);
	g_assert_cmpuint(le16(p), ==, NCPUS);
	g_free(p);
	p = read_item(f, GH_FW_CFG_MAX_CPUS, 2);
	g_assert_cmpuint(le16(p), ==, NCPUS);
	g_free(p);
	/* no boot menu unless asked for (test_kernel asks), as QEMU */
	p = read_item(f, GH_FW_CFG_BOOT_MENU, 2);
	g_assert_cmpuint(le16(p), ==, 0);
	g_free(p);
	p = read_item(f, GH_FW_CFG_IRQ0_OVERRIDE, 4);
	g_assert_cmpuint(le32(p), ==, 1);
	g_free(p);
	/* no NUMA nodes: a zero count and a zero node per CPU, then 0s */
	p = read_item(f, GH_FW_CFG_NUMA, 8 * (1 + NCPUS) + 8);
	for (unsigned i = 0; i < 8 * (2 + NCPUS); i++)
		g_assert_cmpuint(p[i], ==, 0);
	g_free(p);

	p = read_file(f, "etc/boot-menu-wait", &len);
	g_assert_nonnull(p);
	g_assert_cmpuint(len, ==, 2);
	g_assert_cmpuint(le16(p), ==, 2500);
	g_free(p);
	p = read_file(f, "bootorder", &len);
	g_assert_nonnull(p);
	g_assert_cmpuint(len, ==, 0);
	g_free(p);
}

static void test_e820(struct fx *f, gconstpointer data)
{
	struct gh_e820_entry map[GH_E820_MAX];
	unsigned n = gh_memory_e820(f->mem, map, GH_E820_MAX);
	size_t len;
	uint8_t *p = read_file(f, "etc/e820", &len);

	(void)data;
	g_assert_nonnull(p);
	g_assert_cmpuint(n, >=, 2);
	g_assert_cmpuint(len, ==, n * 20);
	for (unsigned i = 0; i < n; i++) {
		g_assert_cmphex(le64(p + i * 20), ==, map[i].addr);
		g_assert_cmphex(le64(p + i * 20 + 8), ==, map[i].size);
		g_assert_cmpuint(le32(p + i * 20 + 16), ==, map[i].type);
	}
	g_free(p);
}

static void test_smbios(struct fx *f, gconstpointer data)
{
	static const uint8_t lengths[128] = {
		[0] = 0x18, [1] = 0x1b, [3] = 0x16, [4] = 0x2a, [16] = 0x17,
		[17] = 0x28, [19] = 0x1f, [32] = 0x0b, [127] = 4,
	};
	unsigned count[128] = { 0 }, n = 0, max = 0;
	size_t alen, tlen, off = 0;
	uint8_t *a = read_file(f, "etc/smbios/smbios-anchor", &alen);
	uint8_t *t = read_file(f, "etc/smbios/smbios-tables", &tlen);

	(void)data;
	g_assert_nonnull(a);
	g_assert_nonnull(t);
	/* the 2.1 entry point (DSP0134 5.2.1) */
	g_assert_cmpuint(alen, ==, 31);
	g_assert_cmpmem(a, 4, "_SM_", 4);
	g_assert_cmpuint(a[5], ==, 31);
	g_assert_cmpuint(a[6], ==, 2);
	g_assert_cmpuint(a[7], ==, 8);
	g_assert_cmpmem(a + 0x10, 5, "_DMI_", 5);
	g_assert_cmpuint(sum8(a, 31), ==, 0);
	g_assert_cmpuint(sum8(a + 0x10, 15), ==, 0);
	g_assert_cmpuint(le16(a + 0x16), ==, tlen);

	/* each structure: its 2.8 length, strings, a double NUL */
	while (off < tlen) {
		const uint8_t *s = t + off;
		size_t end;

		g_assert_cmpuint(off + 4, <=, tlen);
		g_assert_cmpuint(s[0], <, 128);
		g_assert_cmpuint(lengths[s[0]], !=, 0);
		g_assert_cmpuint(s[1], ==, lengths[s[0]]);
		end = off + s[1];
		while (end + 1 < tlen && (t[end] || t[end + 1]))
			end++;
		g_assert_cmpuint(end + 2, <=, tlen);
		end += 2;
		count[s[0]]++;
		n++;
		max = MAX(max, end - off);
		off = end;
		if (s[0] == 127)
			break;
	}
	g_assert_cmpuint(off, ==, tlen);	/* 127 is the last */
	g_assert_cmpuint(n, ==, le16(a + 0x1c));
	g_assert_cmpuint(max, ==, le16(a + 8));
	for (unsigned i = 0; i < 128; i++)
		if (lengths[i])
			g_assert_cmpuint(count[i], ==, i == 4 ? NCPUS : 1);
	g_free(a);
	g_free(t);
}

/*
 * Debian's dmidecode reads the tables as a dump file (the entry point with
 * its table address set to where the table follows it, as firmware sets it)
 * and must decode every structure without a complaint.
 */
static void test_smbios_dmidecode(struct fx *f, gconstpointer data)
{
	char *prog = g_find_program_in_path("dmidecode");
	size_t alen, tlen;
	uint8_t *a, *t, *dump;
	char *dir, *path, *out = NULL, *errs = NULL, *want;
	GError *error = NULL;
	int status;

	(void)data;
	if (!prog && g_file_test("/usr/sbin/dmidecode", G_FILE_TEST_IS_EXECUTABLE))
		prog = g_strdup("/usr/sbin/dmidecode");
	if (!prog) {
		g_test_skip("dmidecode is not installed (Debian package dmidecode)");
		return;
	}
	a = read_file(f, "etc/smbios/smbios-anchor", &alen);
	t = read_file(f, "etc/smbios/smbios-tables", &tlen);
	dump = g_malloc0(32 + tlen);
	memcpy(dump, a, alen);
	/* the table's address, and the intermediate checksum that covers it
	 * (the whole entry point's sum is then unchanged) */
	dump[0x18] = 32;
	dump[0x15] -= 32;
	memcpy(dump + 32, t, tlen);
	dir = g_dir_make_tmp("test-fw-cfg-XXXXXX", &error);
	g_assert_no_error(error);
	path = g_build_filename(dir, "smbios.bin", NULL);
	g_assert_true(g_file_set_contents(path, (const char *)dump, 32 + tlen,
					  &error));
	{
		char *argv[] = { prog, "--from-dump", path, NULL };

		g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL,
					   NULL, &out, &errs, &status, &error));
	}
	g_assert_no_error(error);
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	g_assert_cmpstr(errs, ==, "");
	g_assert_nonnull(strstr(out, "SMBIOS 2.8 present."));
	want = g_strdup_printf("%u structures occupying %zu bytes.",
			       le16(a + 0x1c), tlen);
	g_assert_nonnull(strstr(out, want));
	g_assert_nonnull(strstr(out, "\tSize: 16 MB\n"));
	g_assert_nonnull(strstr(out, "\tRange Size: 16 MB\n"));
	g_assert_nonnull(strstr(out, "\tSocket Designation: CPU 1\n"));
	g_assert_nonnull(strstr(out, "End Of Table"));
	g_assert_null(strstr(out, "<OUT OF SPEC>"));
	g_assert_null(strstr(out, "Invalid"));
	g_remove(path);
	g_rmdir(dir);
	g_free(want);
	g_free(out);
	g_free(errs);
	g_free(path);
	g_free(dir);
	g_free(dump);
	g_free(a);
	g_free(t);
	g_free(prog);
}

/* ---- DMA ---- */

static void put_access(struct fx *f, uint64_t at, uint32_t control,
		       uint32_t len, uint64_t addr)
{
	uint8_t acc[16];

	put_be32(acc, control);
	put_be32(acc + 4, len);
	put_be32(acc + 8, addr >> 32);
	put_be32(acc + 12, (uint32_t)addr);
	g_assert_cmpint(gh_mem_write(f->mem, at, acc, sizeof(acc)), ==, 0);
}

/* Starts the access at 'at' as SeaBIOS does: the low half only. */
static void dma_go(struct fx *f, uint64_t at)
{
	if (at >> 32)
		dt_outl(f->vm, GH_FW_CFG_PORT_DMA,
			GUINT32_SWAP_LE_BE((uint32_t)(at >> 32)));
	dt_outl(f->vm, GH_FW_CFG_PORT_DMA + 4, GUINT32_SWAP_LE_BE((uint32_t)at));
}

static uint32_t control_at(struct fx *f, uint64_t at)
{
	uint8_t c[4];

	g_assert_cmpint(gh_mem_read(f->mem, at, c, 4), ==, 0);
	return be32(c);
}

static void fill(struct fx *f, uint64_t at, uint8_t v, size_t len)
{
	uint8_t *b = g_malloc(len);

	memset(b, v, len);
	g_assert_cmpint(gh_mem_write(f->mem, at, b, len), ==, 0);
	g_free(b);
}

static void test_dma_read(struct fx *f, gconstpointer data)
{
	uint8_t b[16];

	(void)data;
	/* select + read */
	fill(f, BUF, 0xaa, sizeof(b));
	put_access(f, ACC, GH_FW_CFG_SIGNATURE << 16 | GH_FW_CFG_DMA_SELECT |
		   GH_FW_CFG_DMA_READ, 4, BUF);
	dma_go(f, ACC);
	g_assert_cmphex(control_at(f, ACC), ==, 0);
	g_assert_cmpint(gh_mem_read(f->mem, BUF, b, sizeof(b)), ==, 0);
	g_assert_cmpmem(b, 5, "QEMU\xaa", 5);

	/* read continues where the port or DMA left off, zeros past the end */
	select_key(f, GH_FW_CFG_SIGNATURE);
	g_assert_cmpuint(dt_inb(f->vm, GH_FW_CFG_PORT_DATA), ==, 'Q');
	fill(f, BUF, 0xaa, sizeof(b));
	put_access(f, ACC, GH_FW_CFG_DMA_READ, 6, BUF);
	dma_go(f, ACC);
	g_assert_cmphex(control_at(f, ACC), ==, 0);
	g_assert_cmpint(gh_mem_read(f->mem, BUF, b, sizeof(b)), ==, 0);
	g_assert_cmpmem(b, 7, "EMU\0\0\0\xaa", 7);

	/* skip, then read */
	put_access(f, ACC, GH_FW_CFG_SIGNATURE << 16 | GH_FW_CFG_DMA_SELECT |
		   GH_FW_CFG_DMA_SKIP, 2, 0);
	dma_go(f, ACC);
	g_assert_cmphex(control_at(f, ACC), ==, 0);
	fill(f, BUF, 0xaa, sizeof(b));
	put_access(f, ACC, GH_FW_CFG_DMA_READ, 2, BUF);
	dma_go(f, ACC);
	g_assert_cmpint(gh_mem_read(f->mem, BUF, b, sizeof(b)), ==, 0);
	g_assert_cmpmem(b, 3, "MU\xaa", 3);

	/* select alone: the port reads from the start */
	put_access(f, ACC, GH_FW_CFG_ID << 16 | GH_FW_CFG_DMA_SELECT, 4, BUF);
	dma_go(f, ACC);
	g_assert_cmphex(control_at(f, ACC), ==, 0);
	g_assert_cmpuint(dt_inb(f->vm, GH_FW_CFG_PORT_DATA), ==, 3);
}

static void test_dma_write_refused(struct fx *f, gconstpointer data)
{
	uint8_t b[4];

	(void)data;
	g_assert_cmpint(gh_mem_write(f->mem, BUF, "ABCD", 4), ==, 0);
	put_access(f, ACC, GH_FW_CFG_SIGNATURE << 16 | GH_FW_CFG_DMA_SELECT |
		   GH_FW_CFG_DMA_WRITE, 4, BUF);
	dma_go(f, ACC);
	g_assert_cmphex(control_at(f, ACC), ==, GH_FW_CFG_DMA_ERROR);
	g_assert_cmpint(gh_mem_read(f->mem, BUF, b, 4), ==, 0);
	g_assert_cmpmem(b, 4, "ABCD", 4);
	select_key(f, GH_FW_CFG_SIGNATURE);
	read_data(f, b, 4);
	g_assert_cmpmem(b, 4, "QEMU", 4);
}

static void test_dma_outside_ram(struct fx *f, gconstpointer data)
{
	const uint64_t end = DT_RAM_SIZE;
	uint8_t b[16];

	(void)data;
	/* a buffer crossing the end of RAM: error, its RAM part untouched */
	fill(f, end - 2, 0xaa, 2);
	put_access(f, ACC, GH_FW_CFG_SIGNATURE << 16 | GH_FW_CFG_DMA_SELECT |
		   GH_FW_CFG_DMA_READ, 4, end - 2);
	dma_go(f, ACC);
	g_assert_cmphex(control_at(f, ACC), ==, GH_FW_CFG_DMA_ERROR);
	g_assert_cmpint(gh_mem_read(f->mem, end - 2, b, 2), ==, 0);
	g_assert_cmpmem(b, 2, "\xaa\xaa", 2);

	/* wholly outside, and past an item's end (the zero fill) */
	put_access(f, ACC, GH_FW_CFG_DMA_READ, 4, 0xf0000000ULL);
	dma_go(f, ACC);
	g_assert_cmphex(control_at(f, ACC), ==, GH_FW_CFG_DMA_ERROR);
	put_access(f, ACC, GH_FW_CFG_SIGNATURE << 16 | GH_FW_CFG_DMA_SELECT |
		   GH_FW_CFG_DMA_READ, 0x10000, end - 0x8000);
	fill(f, end - 0x8000, 0xaa, 0x8000);
	dma_go(f, ACC);
	g_assert_cmphex(control_at(f, ACC), ==, GH_FW_CFG_DMA_ERROR);

	/* a length that wraps the address space */
	put_access(f, ACC, GH_FW_CFG_DMA_SKIP, 0xffffffff, 0);
	dma_go(f, ACC);
	g_assert_cmphex(control_at(f, ACC), ==, 0);
	put_access(f, ACC, GH_FW_CFG_DMA_READ, 0x100, ~0ULL - 0x10);
	dma_go(f, ACC);
	g_assert_cmphex(control_at(f, ACC), ==, GH_FW_CFG_DMA_ERROR);

	/* an access structure crossing the end: only its control word,
	 * which is in RAM, gets the error bit */
	fill(f, end - 8, 0x55, 8);
	dma_go(f, end - 8);
	g_assert_cmphex(control_at(f, end - 8), ==, GH_FW_CFG_DMA_ERROR);
	g_assert_cmpint(gh_mem_read(f->mem, end - 4, b, 4), ==, 0);
	g_assert_cmpmem(b, 4, "\x55\x55\x55\x55", 4);

	/* one wholly outside RAM, above 4 GiB: nothing happens; the high
	 * half does not outlive its transfer */
	fill(f, 0, 0x55, 16);
	dma_go(f, 1ULL << 32);
	g_assert_cmpint(gh_mem_read(f->mem, 0, b, 16), ==, 0);
	for (unsigned i = 0; i < 16; i++)
		g_assert_cmphex(b[i], ==, 0x55);
	put_access(f, ACC, GH_FW_CFG_ID << 16 | GH_FW_CFG_DMA_SELECT |
		   GH_FW_CFG_DMA_READ, 4, BUF);
	dma_go(f, ACC);
	g_assert_cmphex(control_at(f, ACC), ==, 0);
	g_assert_cmpint(gh_mem_read(f->mem, BUF, b, 4), ==, 0);
	g_assert_cmphex(le32(b), ==, 3);
}

/* ---- the linker/loader script ---- */

struct lfile {
	char name[GH_FW_CFG_FILE_NAME];
	uint8_t *data;
	size_t size;
	uint32_t addr;		/* where the "firmware" put it */
	uint8_t zone;
};

static struct lfile *lfind(struct lfile *files, unsigned n, const uint8_t *name)
{
	g_assert_cmpuint(name[GH_FW_CFG_FILE_NAME - 1], ==, 0);
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(files[i].name, (const char *)name))
			return &files[i];
	g_error("the script names %s, which it did not allocate", name);
	return NULL;
}

struct lcksum {
	const struct lfile *file;
	uint32_t field, start, length;
};

/* The table at p (in one of files) has its own ADD_CHECKSUM command. */
static void assert_checksummed(const struct lfile *files, unsigned nfiles,
			       const struct lcksum *cks, unsigned ncks,
			       const uint8_t *p, uint32_t field, uint32_t len)
{
	for (unsigned i = 0; i < nfiles; i++) {
		uint32_t off;

		if (p < files[i].data || p >= files[i].data + files[i].size)
			continue;
		off = p - files[i].data;
		for (unsigned j = 0; j < ncks; j++)
			if (cks[j].file == &files[i] && cks[j].start == off &&
			    cks[j].field == off + field && cks[j].length == len)
				return;
	}
	g_error("no checksum command for %.4s", (const char *)p);
}

static const uint8_t *at_addr(struct lfile *files, unsigned n, uint64_t addr,
			      size_t len)
{
	for (unsigned i = 0; i < n; i++)
		if (addr >= files[i].addr &&
		    addr - files[i].addr + len <= files[i].size)
			return files[i].data + (addr - files[i].addr);
	g_error("0x%llx+%zu is in no file", (unsigned long long)addr, len);
	return NULL;
}

static void test_table_loader(struct fx *f, gconstpointer data)
{
	struct lfile files[4];
	struct lcksum cks[32];
	unsigned nfiles = 0, nptr = 0, ncks = 0;
	size_t len;
	uint8_t *script = read_file(f, "etc/table-loader", &len);
	const uint8_t *rsdp = NULL, *xsdt, *fadt;
	uint32_t next_addr = 0x7fe0000;

	(void)data;
	g_assert_nonnull(script);
	g_assert_cmpuint(len % GH_FW_CFG_LOADER_ENTRY, ==, 0);
	for (size_t off = 0; off < len; off += GH_FW_CFG_LOADER_ENTRY) {
		const uint8_t *e = script + off;
		struct lfile *d, *s;
		uint32_t o, start, n;
		uint64_t ptr = 0;

		switch (le32(e)) {
		case GH_FW_CFG_LOADER_ALLOCATE:
			g_assert_cmpuint(nfiles, <, G_N_ELEMENTS(files));
			d = &files[nfiles++];
			g_assert_cmpuint(e[4 + GH_FW_CFG_FILE_NAME - 1], ==, 0);
			strcpy(d->name, (const char *)e + 4);
			d->data = read_file(f, d->name, &d->size);
			g_assert_nonnull(d->data);
			g_assert_cmpuint(d->size, >, 0);
			/* a power of two */
			g_assert_cmpuint(le32(e + 60) & (le32(e + 60) - 1), ==, 0);
			d->zone = e[64];
			g_assert_true(d->zone == GH_FW_CFG_LOADER_ZONE_HIGH ||
				      d->zone == GH_FW_CFG_LOADER_ZONE_FSEG);
			next_addr = (next_addr + le32(e + 60) - 1) &
				    ~(le32(e + 60) - 1);
			d->addr = d->zone == GH_FW_CFG_LOADER_ZONE_FSEG ?
				  0xf5a00 : next_addr;
			next_addr += d->size;
			break;
		case GH_FW_CFG_LOADER_ADD_POINTER:
			d = lfind(files, nfiles, e + 4);
			s = lfind(files, nfiles, e + 60);
			o = le32(e + 116);
			g_assert_true(e[120] == 4 || e[120] == 8);
			g_assert_cmpuint((uint64_t)o + e[120], <=, d->size);
			memcpy(&ptr, d->data + o, e[120]);
			ptr = GUINT64_FROM_LE(ptr);
			/* it points inside the source file */
			g_assert_cmpuint(ptr, <, s->size);
			ptr = GUINT64_TO_LE(ptr + s->addr);
			memcpy(d->data + o, &ptr, e[120]);
			nptr++;
			break;
		case GH_FW_CFG_LOADER_ADD_CHECKSUM:
			d = lfind(files, nfiles, e + 4);
			o = le32(e + 60);
			start = le32(e + 64);
			n = le32(e + 68);
			g_assert_cmpuint(o, <, d->size);
			g_assert_cmpuint((uint64_t)start + n, <=, d->size);
			g_assert_cmpuint(o, >=, start);
			g_assert_cmpuint(o, <, start + n);
			/* OVMF stores the sum of the range, field included,
			 * so the field must start at 0 (SeaBIOS subtracts) */
			g_assert_cmphex(d->data[o], ==, 0);
			d->data[o] = -sum8(d->data + start, n);
			g_assert_cmpuint(ncks, <, G_N_ELEMENTS(cks));
			cks[ncks++] = (struct lcksum){ d, o, start, n };
			break;
		default:
			g_error("unknown loader command %u", le32(e));
		}
	}
	g_assert_cmpuint(nfiles, ==, 2);
	g_assert_cmpuint(nptr, >=, 6);
	g_assert_cmpuint(ncks, >=, 6);

	/* what an OS finds after linking: every checksum comes out 0 */
	for (unsigned i = 0; i < nfiles; i++)
		if (files[i].zone == GH_FW_CFG_LOADER_ZONE_FSEG)
			rsdp = files[i].data;
	g_assert_nonnull(rsdp);
	g_assert_cmpmem(rsdp, 8, "RSD PTR ", 8);
	g_assert_cmpuint(sum8(rsdp, 20), ==, 0);
	g_assert_cmpuint(sum8(rsdp, 36), ==, 0);
	assert_checksummed(files, nfiles, cks, ncks, rsdp, 8, 20);
	assert_checksummed(files, nfiles, cks, ncks, rsdp, 32, 36);
	xsdt = at_addr(files, nfiles, le64(rsdp + 24), 36);
	g_assert_cmpmem(xsdt, 4, "XSDT", 4);
	g_assert_cmpuint(sum8(at_addr(files, nfiles, le32(rsdp + 16), 36),
			      le32(at_addr(files, nfiles, le32(rsdp + 16), 36) + 4)),
			 ==, 0);
	g_assert_cmpuint(sum8(xsdt, le32(xsdt + 4)), ==, 0);
	assert_checksummed(files, nfiles, cks, ncks, xsdt, 9, le32(xsdt + 4));
	fadt = NULL;
	for (unsigned i = 36; i < le32(xsdt + 4); i += 8) {
		const uint8_t *t = at_addr(files, nfiles, le64(xsdt + i), 36);

		at_addr(files, nfiles, le64(xsdt + i), le32(t + 4));
		g_assert_cmpuint(sum8(t, le32(t + 4)), ==, 0);
		assert_checksummed(files, nfiles, cks, ncks, t, 9, le32(t + 4));
		if (!memcmp(t, "FACP", 4))
			fadt = t;
	}
	g_assert_nonnull(fadt);
	{
		const uint8_t *dsdt = at_addr(files, nfiles, le64(fadt + 140), 36);
		const uint8_t *facs = at_addr(files, nfiles, le64(fadt + 132), 64);

		g_assert_cmpmem(dsdt, 4, "DSDT", 4);
		g_assert_cmpuint(sum8(dsdt, le32(dsdt + 4)), ==, 0);
		assert_checksummed(files, nfiles, cks, ncks, dsdt, 9,
				   le32(dsdt + 4));
		g_assert_cmphex(le32(fadt + 40), ==, le64(fadt + 140));
		g_assert_cmpmem(facs, 4, "FACS", 4);
		g_assert_cmphex(le64(fadt + 132) % 64, ==, 0);
		g_assert_cmphex(le32(fadt + 36), ==, le64(fadt + 132));
	}
	for (unsigned i = 0; i < nfiles; i++)
		g_free(files[i].data);
	g_free(script);
}

/* A minimal bzImage (boot protocol 2.15): 4 setup sectors, then 8 KiB. */
static uint8_t *tiny_bzimage(size_t *size)
{
	uint8_t *k = g_malloc0(5 * 512 + 8192);

	for (size_t i = 0; i < 5 * 512 + 8192; i++)
		k[i] = i * 7 + 3;
	memset(k + 0x1f1, 0, 0x26c - 0x1f1);
	k[0x1f1] = 4;				/* setup_sects */
	put_le32(k + 0x1f4, 8192 / 16);		/* syssize */
	k[0x1fe] = 0x55;
	k[0x1ff] = 0xaa;
	k[0x200] = 0xeb;
	k[0x201] = 0x26c - 0x202;
	memcpy(k + 0x202, "HdrS", 4);
	k[0x206] = 0x0f;
	k[0x207] = 0x02;
	k[0x211] = 0x01;			/* LOADED_HIGH */
	put_le32(k + 0x22c, 0x7fffffff);	/* initrd_addr_max */
	put_le32(k + 0x238, 255);		/* cmdline_size */
	put_le32(k + 0x258, 0x100000);		/* pref_address */
	put_le32(k + 0x260, 1 << 20);		/* init_size */
	*size = 5 * 512 + 8192;
	return k;
}

/*
 * With a kernel on the board: the kernel items for firmware-mediated boot
 * (what SeaBIOS's ROM and OVMF read), our option ROM as a valid ROM image,
 * first in the boot order; and the boot menu when asked for.
 */
static void test_kernel(void)
{
	struct gh_board_config board = { .boot_menu = true };
	struct gh_device_cfg cfg = { .irq = -1, .ncpus = 1, .board = &board };
	static const uint8_t initrd[] = "initrd bytes";
	struct fx fx, *f = &fx;
	size_t klen, len;
	uint8_t *k = tiny_bzimage(&klen), *p;
	uint8_t sum = 0;

	board.kernel = k;
	board.kernel_size = klen;
	board.initrd = initrd;
	board.initrd_size = sizeof(initrd);
	board.cmdline = "console=ttyS0";
	f->vm = dt_vm_new();
	f->mem = gh_vm_memory(f->vm);
	f->dev = dt_dev_new(f->vm, &gh_fw_cfg_type, &cfg);

	p = read_item(f, GH_FW_CFG_BOOT_MENU, 2);
	g_assert_cmpuint(le16(p), ==, 1);
	g_free(p);
	p = read_item(f, GH_FW_CFG_SETUP_SIZE, 4);
	g_assert_cmpuint(le32(p), ==, 5 * 512);
	g_free(p);
	p = read_item(f, GH_FW_CFG_SETUP_DATA, 5 * 512);
	g_assert_cmpmem(p, 0x1f1, k, 0x1f1);
	g_assert_cmphex(le32(p + 0x228), ==, 0x20000);	/* cmd_line_ptr */
	g_assert_cmphex(le32(p + 0x21c), ==, sizeof(initrd));
	g_free(p);
	p = read_item(f, GH_FW_CFG_KERNEL_SIZE, 4);
	g_assert_cmpuint(le32(p), ==, 8192);
	g_free(p);
	p = read_item(f, GH_FW_CFG_KERNEL_DATA, 8192);
	g_assert_cmpmem(p, 8192, k + 5 * 512, 8192);
	g_free(p);
	p = read_item(f, GH_FW_CFG_KERNEL_ADDR, 4);
	g_assert_cmphex(le32(p), ==, 0x100000);
	g_free(p);
	p = read_item(f, GH_FW_CFG_INITRD_DATA, sizeof(initrd));
	g_assert_cmpmem(p, sizeof(initrd), initrd, sizeof(initrd));
	g_free(p);
	p = read_item(f, GH_FW_CFG_CMDLINE_SIZE, 4);
	g_assert_cmpuint(le32(p), ==, strlen("console=ttyS0") + 1);
	g_free(p);
	p = read_item(f, GH_FW_CFG_CMDLINE_DATA, strlen("console=ttyS0") + 1);
	g_assert_cmpstr((char *)p, ==, "console=ttyS0");
	g_free(p);

	p = read_file(f, "genroms/linuxboot.bin", &len);
	g_assert_nonnull(p);
	g_assert_cmpuint(len % 512, ==, 0);
	g_assert_cmphex(p[0], ==, 0x55);
	g_assert_cmphex(p[1], ==, 0xaa);
	g_assert_cmpuint(p[2] * 512u, ==, len);
	for (size_t i = 0; i < len; i++)
		sum += p[i];
	g_assert_cmphex(sum, ==, 0);
	/* a PnP header with a boot entry vector, where SeaBIOS looks */
	g_assert_cmpmem(p + (p[0x1a] | p[0x1b] << 8), 4, "$PnP", 4);
	g_assert_cmphex(le16(p + (p[0x1a] | p[0x1b] << 8) + 0x1a), !=, 0);
	g_free(p);
	p = read_file(f, "bootorder", &len);
	g_assert_cmpmem(p, len, "/rom@genroms/linuxboot.bin\n",
			strlen("/rom@genroms/linuxboot.bin\n"));
	g_free(p);
	fx_teardown(f, NULL);
	g_free(k);
}

/* The bootorder file for a board's drives, as SeaBIOS's paths. */
static char *bootorder_for(const struct gh_board_config *bc)
{
	struct gh_device_cfg cfg = { .irq = -1, .ncpus = 1, .board = bc };
	struct fx f = { .vm = dt_vm_new() };
	uint8_t *p;
	size_t len;
	char *s;

	f.dev = dt_dev_new(f.vm, &gh_fw_cfg_type, &cfg);
	p = read_file(&f, "bootorder", &len);
	g_assert_nonnull(p);
	s = g_strndup((char *)p, len);
	g_free(p);
	gh_device_free(f.dev);
	gh_vm_free(f.vm);
	return s;
}

static void test_bootorder(struct fx *f, gconstpointer data)
{
	struct gh_board_config bc = { 0 };
	char *s;

	(void)f;
	(void)data;
	/* no drives: an empty list, which SeaBIOS reads as none */
	s = bootorder_for(&bc);
	g_assert_cmpstr(s, ==, "");
	g_free(s);
	/* disks in slots 0 and 3, the CD-ROM drive in slot 2 */
	bc.ide[0] = (struct gh_drive_config){ GH_DRIVE_DISK, "a.img", false };
	bc.ide[2] = (struct gh_drive_config){ GH_DRIVE_CDROM, NULL, true };
	bc.ide[3] = (struct gh_drive_config){ GH_DRIVE_DISK, "b.img", false };
	/* default: the disks, then the CD */
	s = bootorder_for(&bc);
	g_assert_cmpstr(s, ==, "/pci@i0cf8/ide@1,1/drive@0/disk@0\n"
			"/pci@i0cf8/ide@1,1/drive@1/disk@1\n"
			"/pci@i0cf8/ide@1,1/drive@1/disk@0\n");
	g_free(s);
	bc.boot_order = "dc";
	s = bootorder_for(&bc);
	g_assert_cmpstr(s, ==, "/pci@i0cf8/ide@1,1/drive@1/disk@0\n"
			"/pci@i0cf8/ide@1,1/drive@0/disk@0\n"
			"/pci@i0cf8/ide@1,1/drive@1/disk@1\n");
	g_free(s);
	/* what is not there is not listed: no network device yet */
	bc.boot_order = "nd";
	s = bootorder_for(&bc);
	g_assert_cmpstr(s, ==, "/pci@i0cf8/ide@1,1/drive@1/disk@0\n");
	g_free(s);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) \
	g_test_add("/fw-cfg/" name, struct fx, NULL, fx_setup, fn, fx_teardown)
	ADD("signature", test_signature);
	g_test_add_func("/fw-cfg/kernel", test_kernel);
	ADD("selector", test_selector);
	ADD("directory", test_directory);
	ADD("numbers", test_numbers);
	ADD("e820", test_e820);
	ADD("smbios", test_smbios);
	ADD("smbios-dmidecode", test_smbios_dmidecode);
	ADD("dma-read", test_dma_read);
	ADD("dma-write-refused", test_dma_write_refused);
	ADD("dma-outside-ram", test_dma_outside_ram);
	ADD("table-loader", test_table_loader);
	ADD("bootorder", test_bootorder);
	return g_test_run();
}
