/*
 * Tests for the PIIX3 IDE controller, driven through its ports as a guest
 * does: the PCI function, resets and signatures, IDENTIFY, PIO and DMA
 * transfers (LBA28, LBA48, CHS, multiple), bus-master PRD tables good and
 * bad, the ATAPI packet commands and their sense data, media changes, and
 * a storm of random register accesses.
 */
#include "gh/ide.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "devtest.h"
#include "gh/board.h"
#include "gh/memory.h"
#include "gh/pci.h"

#define P0	0x1f0		/* primary command block */
#define C0	0x3f6		/* primary control */
#define P1	0x170
#define C1	0x376
#define BM	0xc000		/* where the tests put BAR4 */

#define DISK_SECTORS	8192	/* 4 MiB */
/* the big disk: past LBA28's reach, sparse */
#define BIG_SECTORS	((1ULL << 28) + 64)
#define CD_SECTORS	100

#define ST_BSY	0x80
#define ST_DRDY	0x40
#define ST_DSC	0x10
#define ST_DRQ	0x08
#define ST_ERR	0x01

struct fx {
	struct gh_vm *vm;
	struct gh_pci_bus *pci;
	struct gh_device *dev;
	struct gh_ide *ide;
	struct dt_edges edges;
	struct gh_board_config bc;
	char *dir, *disk, *big, *iso, *iso2;
};

static uint8_t disk_byte(uint64_t sector, unsigned i)
{
	return (sector * 31 + i * 7 + (sector >> 8)) & 0xff;
}

static uint8_t cd_byte(uint64_t lba, unsigned i)
{
	return (lba * 13 + i * 5 + 1) & 0xff;
}

static char *make_file(struct fx *f, const char *name, uint64_t sectors,
		       unsigned ssize, uint8_t (*pat)(uint64_t, unsigned),
		       uint64_t first, uint64_t count)
{
	char *p = g_build_filename(f->dir, name, NULL);
	int fd = open(p, O_CREAT | O_RDWR | O_TRUNC, 0600);
	uint8_t buf[2048];

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(ftruncate(fd, sectors * ssize), ==, 0);
	for (uint64_t s = first; s < first + count; s++) {
		for (unsigned i = 0; i < ssize; i++)
			buf[i] = pat(s, i);
		g_assert_cmpint(pwrite(fd, buf, ssize, s * ssize), ==, ssize);
	}
	close(fd);
	return p;
}

static void pci_setup(struct fx *f)
{
	struct gh_pci_func *fn = gh_pci_find(f->pci, GH_PCI_DEVFN(1, 1));

	g_assert_nonnull(fn);
	gh_pci_config_write(fn, GH_PCI_BAR0 + 16, BM, 4);
	gh_pci_config_write(fn, GH_PCI_COMMAND,
			    GH_PCI_CMD_IO | GH_PCI_CMD_MASTER, 2);
}

/*
 * Primary: a 4 MiB disk (master) and a CD-ROM drive with a 100-sector
 * disc (slave); secondary: the big sparse disk (master) only, or nothing
 * when bare.
 */
static void fx_setup_with(struct fx *f, bool bare)
{
	struct gh_error err = { 0 };
	struct gh_device_cfg cfg = { .irq = -1 };

	f->dir = g_dir_make_tmp("gh-ide-XXXXXX", NULL);
	f->disk = make_file(f, "disk.img", DISK_SECTORS, 512, disk_byte, 0,
			    DISK_SECTORS);
	f->big = make_file(f, "big.img", BIG_SECTORS, 512, disk_byte,
			   BIG_SECTORS - 40, 40);
	f->iso = make_file(f, "cd.iso", CD_SECTORS, 2048, cd_byte, 0,
			   CD_SECTORS);
	f->iso2 = make_file(f, "cd2.iso", 2 * CD_SECTORS, 2048, cd_byte, 0, 1);
	f->bc.ide[0] = (struct gh_drive_config){ GH_DRIVE_DISK, f->disk, false };
	f->bc.ide[1] = (struct gh_drive_config){ GH_DRIVE_CDROM, f->iso, true };
	if (!bare)
		f->bc.ide[2] = (struct gh_drive_config){ GH_DRIVE_DISK, f->big, false };
	f->vm = dt_vm_new();
	dt_edges_attach(&f->edges, f->vm);
	g_assert_cmpint(gh_pci_bus_new(f->vm, &f->pci, &err), ==, 0);
	cfg.pci = f->pci;
	cfg.board = &f->bc;
	f->dev = dt_dev_new(f->vm, &gh_ide_type, &cfg);
	f->ide = f->dev->state;
	pci_setup(f);
}

static void fx_setup(struct fx *f, gconstpointer data)
{
	fx_setup_with(f, false);
}

static void fx_teardown(struct fx *f, gconstpointer data)
{
	gh_device_free(f->dev);
	gh_pci_bus_free(f->pci);
	dt_edges_detach(&f->edges);
	gh_vm_free(f->vm);
	g_unlink(f->disk);
	g_unlink(f->big);
	g_unlink(f->iso);
	g_unlink(f->iso2);
	g_rmdir(f->dir);
	g_free(f->disk);
	g_free(f->big);
	g_free(f->iso);
	g_free(f->iso2);
	g_free(f->dir);
}

/* --- helpers -------------------------------------------------------------- */

static unsigned irqs(struct fx *f, uint16_t base)
{
	return f->edges.rises[base == P0 ? 14 : 15];
}

static void select_dev(struct fx *f, uint16_t base, unsigned dev)
{
	dt_outb(f->vm, base + 6, 0xa0 | dev << 4 | 0x40);
}

/* LBA28 task file, then the command */
static void cmd28(struct fx *f, uint16_t base, unsigned dev, uint8_t cmd,
		  uint32_t lba, uint8_t count)
{
	dt_outb(f->vm, base + 2, count);
	dt_outb(f->vm, base + 3, lba);
	dt_outb(f->vm, base + 4, lba >> 8);
	dt_outb(f->vm, base + 5, lba >> 16);
	dt_outb(f->vm, base + 6, 0xe0 | dev << 4 | ((lba >> 24) & 0xf));
	dt_outb(f->vm, base + 7, cmd);
}

static void cmd48(struct fx *f, uint16_t base, unsigned dev, uint8_t cmd,
		  uint64_t lba, uint16_t count)
{
	dt_outb(f->vm, base + 2, count >> 8);
	dt_outb(f->vm, base + 3, lba >> 24);
	dt_outb(f->vm, base + 4, lba >> 32);
	dt_outb(f->vm, base + 5, lba >> 40);
	dt_outb(f->vm, base + 2, count);
	dt_outb(f->vm, base + 3, lba);
	dt_outb(f->vm, base + 4, lba >> 8);
	dt_outb(f->vm, base + 5, lba >> 16);
	dt_outb(f->vm, base + 6, 0x40 | dev << 4);
	dt_outb(f->vm, base + 7, cmd);
}

static void read_data(struct fx *f, uint16_t base, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i += 2) {
		uint16_t w = dt_inw(f->vm, base);

		buf[i] = w;
		buf[i + 1] = w >> 8;
	}
}

static void write_data(struct fx *f, uint16_t base, const uint8_t *buf,
		       size_t len)
{
	for (size_t i = 0; i < len; i += 2)
		dt_outw(f->vm, base, buf[i] | buf[i + 1] << 8);
}

static void check_disk(uint8_t *buf, uint64_t sector, unsigned n)
{
	for (unsigned s = 0; s < n; s++)
		for (unsigned i = 0; i < 512; i++)
			if (buf[s * 512 + i] != disk_byte(sector + s, i))
				g_error("sector %" G_GUINT64_FORMAT " byte %u: "
					"0x%02x, want 0x%02x", sector + s, i,
					buf[s * 512 + i],
					disk_byte(sector + s, i));
}

static void read_file_at(const char *path, uint64_t off, void *buf,
			 size_t len)
{
	int fd = open(path, O_RDONLY);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(pread(fd, buf, len, off), ==, (ssize_t)len);
	close(fd);
}

static void identify(struct fx *f, uint16_t base, unsigned dev, uint8_t cmd,
		     uint16_t *id)
{
	uint8_t buf[512];

	select_dev(f, base, dev);
	dt_outb(f->vm, base + 7, cmd);
	g_assert_cmphex(dt_inb(f->vm, base + 7), ==, ST_DRDY | ST_DSC | ST_DRQ);
	read_data(f, base, buf, 512);
	g_assert_cmphex(dt_inb(f->vm, base + 7), ==, ST_DRDY | ST_DSC);
	for (unsigned i = 0; i < 256; i++)
		id[i] = buf[2 * i] | buf[2 * i + 1] << 8;
}

static char *id_string(const uint16_t *id, unsigned word, unsigned n)
{
	char *s = g_malloc0(2 * n + 1);

	for (unsigned i = 0; i < n; i++) {
		s[2 * i] = id[word + i] >> 8;
		s[2 * i + 1] = id[word + i];
	}
	return g_strchomp(s);
}

/* --- PCI and resets ------------------------------------------------------- */

static void test_pci(struct fx *f, gconstpointer data)
{
	struct gh_pci_func *fn = gh_pci_find(f->pci, GH_PCI_DEVFN(1, 1));

	g_assert_cmphex(gh_pci_config_read(fn, 0, 4), ==, 0x70108086);
	g_assert_cmphex(gh_pci_config_read(fn, 8, 4) >> 8, ==, 0x010180);
	g_assert_cmphex(gh_pci_config_read(fn, GH_PCI_INTERRUPT_PIN, 1), ==, 0);
	/* BAR4: 16 bytes of I/O */
	gh_pci_config_write(fn, GH_PCI_BAR0 + 16, 0xffffffff, 4);
	g_assert_cmphex(gh_pci_config_read(fn, GH_PCI_BAR0 + 16, 4), ==,
			0xfffffff1);
	gh_pci_config_write(fn, GH_PCI_BAR0 + 16, BM, 4);
	g_assert_cmpstr(gh_bus_lookup(gh_vm_pio(f->vm), BM + 15), ==,
			"piix-ide-bm");
	/* the timing registers read back what is written */
	g_assert_cmphex(gh_pci_config_read(fn, 0x40, 4), ==, 0x80008000);
	gh_pci_config_write(fn, 0x40, 0xa307e301, 4);
	gh_pci_config_write(fn, 0x44, 0x5a, 1);
	g_assert_cmphex(gh_pci_config_read(fn, 0x40, 4), ==, 0xa307e301);
	g_assert_cmphex(gh_pci_config_read(fn, 0x44, 1), ==, 0x5a);
	/* the bus master registers: PRD pointer dword-aligned, W1C bits */
	dt_outl(f->vm, BM + 4, 0x12345677);
	g_assert_cmphex(dt_inl(f->vm, BM + 4), ==, 0x12345674);
	dt_outb(f->vm, BM + 2, 0x60);
	g_assert_cmphex(dt_inb(f->vm, BM + 2), ==, 0x60);
	dt_outb(f->vm, BM + 10, 0x20);
	g_assert_cmphex(dt_inb(f->vm, BM + 10), ==, 0x20);
	g_assert_cmphex(dt_inb(f->vm, BM + 2), ==, 0x60);
}

static void check_signature(struct fx *f, uint16_t base, unsigned dev,
			    bool atapi)
{
	select_dev(f, base, dev);
	g_assert_cmphex(dt_inb(f->vm, base + 2), ==, 1);
	g_assert_cmphex(dt_inb(f->vm, base + 3), ==, 1);
	g_assert_cmphex(dt_inb(f->vm, base + 4), ==, atapi ? 0x14 : 0);
	g_assert_cmphex(dt_inb(f->vm, base + 5), ==, atapi ? 0xeb : 0);
	g_assert_cmphex(dt_inb(f->vm, base + 1), ==, 1);
	g_assert_cmphex(dt_inb(f->vm, base + 7), ==,
			atapi ? 0 : ST_DRDY | ST_DSC);
}

static void test_srst(struct fx *f, gconstpointer data)
{
	/* scribble on the task file, then reset */
	cmd28(f, P0, 0, 0x20, 5, 3);
	dt_outb(f->vm, C0, 0x04);
	g_assert_cmphex(dt_inb(f->vm, C0), ==, ST_BSY);
	/* commands are ignored during reset */
	dt_outb(f->vm, P0 + 7, 0xec);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_BSY);
	dt_outb(f->vm, C0, 0x00);
	/* the reset selects the master */
	g_assert_cmphex(dt_inb(f->vm, P0 + 6) & 0x10, ==, 0);
	check_signature(f, P0, 0, false);
	check_signature(f, P0, 1, true);
	/* the secondary's absent slave: the master answers with zeros */
	dt_outb(f->vm, C1, 0x04);
	dt_outb(f->vm, C1, 0x00);
	check_signature(f, P1, 0, false);
	select_dev(f, P1, 1);
	g_assert_cmphex(dt_inb(f->vm, P1 + 7), ==, 0);
	g_assert_cmphex(dt_inb(f->vm, C1), ==, 0);
	/* a command to it is ignored */
	dt_outb(f->vm, P1 + 7, 0xec);
	g_assert_cmphex(dt_inb(f->vm, P1 + 7), ==, 0);
	g_assert_cmpuint(irqs(f, P1), ==, 0);
	/* EXECUTE DEVICE DIAGNOSTIC puts the signatures back too */
	cmd28(f, P0, 0, 0x90, 0x123456, 9);
	check_signature(f, P0, 1, true);
	check_signature(f, P0, 0, false);
	/* DEVICE RESET is the packet device's */
	select_dev(f, P0, 1);
	dt_outb(f->vm, P0 + 4, 0x55);
	dt_outb(f->vm, P0 + 7, 0x08);
	check_signature(f, P0, 1, true);
}

static void test_no_drives(struct fx *f, gconstpointer data)
{
	/* a channel with no drives reads zeros (not BSY), writes change
	 * nothing */
	dt_outb(f->vm, P1 + 2, 0x55);
	g_assert_cmphex(dt_inb(f->vm, P1 + 2), ==, 0);
	g_assert_cmphex(dt_inb(f->vm, P1 + 7), ==, 0);
	g_assert_cmphex(dt_inb(f->vm, C1), ==, 0);
	dt_outb(f->vm, P1 + 7, 0xec);
	g_assert_cmphex(dt_inw(f->vm, P1), ==, 0xffff);
	g_assert_cmpuint(irqs(f, P1), ==, 0);
}

/* --- IDENTIFY ------------------------------------------------------------- */

static void check_checksum(const uint16_t *id)
{
	uint8_t sum = 0;

	for (unsigned i = 0; i < 256; i++)
		sum += (id[i] & 0xff) + (id[i] >> 8);
	g_assert_cmphex(id[255] & 0xff, ==, 0xa5);
	g_assert_cmpuint(sum, ==, 0);
}

static void test_identify(struct fx *f, gconstpointer data)
{
	uint16_t id[256];
	char *s;

	identify(f, P0, 0, 0xec, id);
	g_assert_cmphex(id[0], ==, 0x0040);
	s = id_string(id, 27, 20);
	g_assert_cmpstr(s, ==, "Guesthouse HARDDISK");
	g_free(s);
	s = id_string(id, 10, 10);
	g_assert_cmpstr(s, ==, "GH0000000000000001");
	g_free(s);
	/* 8192 sectors: 8 cylinders of 16 heads and 63 sectors */
	g_assert_cmpuint(id[1], ==, 8);
	g_assert_cmpuint(id[3], ==, 16);
	g_assert_cmpuint(id[6], ==, 63);
	g_assert_cmpuint(id[60] | id[61] << 16, ==, DISK_SECTORS);
	g_assert_cmpuint(id[100] | id[101] << 16, ==, DISK_SECTORS);
	g_assert_cmphex(id[47], ==, 0x8010);
	g_assert_true(id[49] & (1 << 9));		/* LBA */
	g_assert_true(id[49] & (1 << 8));		/* DMA */
	g_assert_true(id[83] & (1 << 10));		/* LBA48 */
	g_assert_cmphex(id[63], ==, 0x0407);		/* MWDMA2 selected */
	check_checksum(id);
	g_assert_cmpuint(irqs(f, P0), ==, 1);

	/* the big disk: LBA28's capacity saturates, LBA48's is all */
	identify(f, P1, 0, 0xec, id);
	g_assert_cmpuint(id[60] | id[61] << 16, ==, 0x0fffffff);
	g_assert_cmpuint(id[100] | (uint64_t)id[101] << 16 |
			 (uint64_t)id[102] << 32, ==, BIG_SECTORS);
	g_assert_cmpuint(id[1], ==, 16383);
	check_checksum(id);

	/* the CD-ROM drive answers IDENTIFY DEVICE with abort + signature */
	select_dev(f, P0, 1);
	dt_outb(f->vm, P0 + 4, 0);
	dt_outb(f->vm, P0 + 7, 0xec);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC | ST_ERR);
	g_assert_cmphex(dt_inb(f->vm, P0 + 1), ==, 0x04);
	g_assert_cmphex(dt_inb(f->vm, P0 + 4), ==, 0x14);
	g_assert_cmphex(dt_inb(f->vm, P0 + 5), ==, 0xeb);
	identify(f, P0, 1, 0xa1, id);
	g_assert_cmphex(id[0], ==, 0x85c0);
	s = id_string(id, 27, 20);
	g_assert_cmpstr(s, ==, "Guesthouse DVD-ROM");
	g_free(s);
	check_checksum(id);
	/* and a disk does not know IDENTIFY PACKET DEVICE */
	select_dev(f, P0, 0);
	dt_outb(f->vm, P0 + 7, 0xa1);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC | ST_ERR);

	/* SET FEATURES: UDMA 2 selected, a bad mode refused */
	dt_outb(f->vm, P0 + 1, 0x03);
	dt_outb(f->vm, P0 + 2, 0x42);
	dt_outb(f->vm, P0 + 7, 0xef);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC);
	identify(f, P0, 0, 0xec, id);
	g_assert_cmphex(id[88], ==, 0x043f);
	g_assert_cmphex(id[63], ==, 0x0007);
	dt_outb(f->vm, P0 + 1, 0x03);
	dt_outb(f->vm, P0 + 2, 0x47);
	dt_outb(f->vm, P0 + 7, 0xef);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC | ST_ERR);
}

/* --- PIO ------------------------------------------------------------------ */

static void test_pio(struct fx *f, gconstpointer data)
{
	uint8_t buf[16 * 512], pat[3 * 512], back[3 * 512];
	unsigned before;

	/* READ SECTORS: an interrupt per sector, none after the last */
	before = irqs(f, P0);
	cmd28(f, P0, 0, 0x20, 100, 3);
	for (unsigned s = 0; s < 3; s++) {
		g_assert_cmpuint(irqs(f, P0), ==, before + s + 1);
		g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==,
				ST_DRDY | ST_DSC | ST_DRQ);
		read_data(f, P0, buf + s * 512, 512);
	}
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC);
	check_disk(buf, 100, 3);
	g_assert_cmpuint(irqs(f, P0), ==, before + 3);

	/* a count of 0 is 256 sectors; the last sector of the disk */
	cmd28(f, P0, 0, 0x20, DISK_SECTORS - 256, 0);
	for (unsigned s = 0; s < 256; s++) {
		g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==,
				ST_DRDY | ST_DSC | ST_DRQ);
		read_data(f, P0, buf, 512);
	}
	check_disk(buf, DISK_SECTORS - 1, 1);
	/* past the end: IDNF */
	cmd28(f, P0, 0, 0x20, DISK_SECTORS - 1, 2);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC | ST_ERR);
	g_assert_cmphex(dt_inb(f->vm, P0 + 1), ==, 0x10);

	/* 32-bit data accesses read the same bytes */
	cmd28(f, P0, 0, 0x20, 7, 1);
	for (unsigned i = 0; i < 512; i += 4) {
		uint32_t v = dt_inl(f->vm, P0);

		memcpy(buf + i, &v, 4);
	}
	check_disk(buf, 7, 1);

	/* WRITE SECTORS: DRQ at once without an interrupt, one per sector */
	for (unsigned i = 0; i < sizeof(pat); i++)
		pat[i] = i * 3 + 1;
	before = irqs(f, P0);
	cmd28(f, P0, 0, 0x30, 200, 3);
	for (unsigned s = 0; s < 3; s++) {
		g_assert_cmpuint(irqs(f, P0), ==, before + s);
		g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==,
				ST_DRDY | ST_DSC | ST_DRQ);
		write_data(f, P0, pat + s * 512, 512);
	}
	g_assert_cmpuint(irqs(f, P0), ==, before + 3);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC);
	read_file_at(f->disk, 200 * 512, back, sizeof(back));
	g_assert_cmpmem(back, sizeof(back), pat, sizeof(pat));

	/* READ MULTIPLE needs SET MULTIPLE MODE; 3 is not a power of two */
	cmd28(f, P0, 0, 0xc4, 0, 1);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC | ST_ERR);
	cmd28(f, P0, 0, 0xc6, 0, 3);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC | ST_ERR);
	cmd28(f, P0, 0, 0xc6, 0, 8);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC);
	/* 20 sectors: blocks of 8, 8, 4 */
	before = irqs(f, P0);
	cmd28(f, P0, 0, 0xc4, 1000, 20);
	for (unsigned b = 0; b < 3; b++) {
		unsigned n = b < 2 ? 8 : 4;

		g_assert_cmpuint(irqs(f, P0), ==, before + b + 1);
		g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==,
				ST_DRDY | ST_DSC | ST_DRQ);
		read_data(f, P0, buf, n * 512);
		check_disk(buf, 1000 + 8 * b, n);
	}
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC);

	/* WRITE MULTIPLE: one block of 3 */
	cmd28(f, P0, 0, 0xc5, 300, 3);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC | ST_DRQ);
	write_data(f, P0, pat, sizeof(pat));
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC);
	read_file_at(f->disk, 300 * 512, back, sizeof(back));
	g_assert_cmpmem(back, sizeof(back), pat, sizeof(pat));

	/* nIEN: the command runs, INTRQ stays low */
	dt_outb(f->vm, C0, 0x02);
	before = irqs(f, P0);
	cmd28(f, P0, 0, 0xe7, 0, 0);		/* FLUSH CACHE */
	g_assert_cmphex(dt_inb(f->vm, C0), ==, ST_DRDY | ST_DSC);
	g_assert_cmpuint(irqs(f, P0), ==, before);
	dt_outb(f->vm, C0, 0x00);

	/* READ VERIFY, CHECK POWER MODE, IDLE, an unknown command */
	cmd28(f, P0, 0, 0x40, 10, 5);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC);
	cmd28(f, P0, 0, 0xe5, 0, 0);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC);
	g_assert_cmphex(dt_inb(f->vm, P0 + 2), ==, 0xff);
	cmd28(f, P0, 0, 0xe1, 0, 0);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC);
	cmd28(f, P0, 0, 0xb0, 0, 0);		/* SMART */
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC | ST_ERR);
	g_assert_cmphex(dt_inb(f->vm, P0 + 1), ==, 0x04);
}

static void test_lba48(struct fx *f, gconstpointer data)
{
	uint8_t buf[512], pat[512], back[512];
	uint64_t lba = BIG_SECTORS - 20;

	/* the HOB half reads back with HOB set in device control */
	cmd48(f, P1, 0, 0x24, lba, 2);
	g_assert_cmphex(dt_inb(f->vm, P1 + 3), ==, lba & 0xff);
	dt_outb(f->vm, C1, 0x80);
	g_assert_cmphex(dt_inb(f->vm, P1 + 3), ==, (lba >> 24) & 0xff);
	g_assert_cmphex(dt_inb(f->vm, P1 + 2), ==, 0);
	dt_outb(f->vm, C1, 0x00);
	for (unsigned s = 0; s < 2; s++) {
		g_assert_cmphex(dt_inb(f->vm, P1 + 7), ==,
				ST_DRDY | ST_DSC | ST_DRQ);
		read_data(f, P1, buf, 512);
		check_disk(buf, lba + s, 1);
	}
	/* WRITE SECTORS EXT at the very last sector */
	memset(pat, 0xc3, sizeof(pat));
	cmd48(f, P1, 0, 0x34, BIG_SECTORS - 1, 1);
	write_data(f, P1, pat, 512);
	g_assert_cmphex(dt_inb(f->vm, P1 + 7), ==, ST_DRDY | ST_DSC);
	read_file_at(f->big, (BIG_SECTORS - 1) * 512, back, 512);
	g_assert_cmpmem(back, 512, pat, 512);
	/* one past: IDNF; LBA28 cannot reach it at all */
	cmd48(f, P1, 0, 0x24, BIG_SECTORS - 1, 2);
	g_assert_cmphex(dt_inb(f->vm, P1 + 7), ==, ST_DRDY | ST_DSC | ST_ERR);
	g_assert_cmphex(dt_inb(f->vm, P1 + 1), ==, 0x10);
	/* READ MULTIPLE EXT */
	cmd28(f, P1, 0, 0xc6, 0, 2);
	cmd48(f, P1, 0, 0x29, lba, 4);
	for (unsigned b = 0; b < 2; b++) {
		uint8_t two[1024];

		g_assert_cmphex(dt_inb(f->vm, P1 + 7), ==,
				ST_DRDY | ST_DSC | ST_DRQ);
		read_data(f, P1, two, sizeof(two));
		check_disk(two, lba + 2 * b, 2);
	}
	g_assert_cmphex(dt_inb(f->vm, P1 + 7), ==, ST_DRDY | ST_DSC);
}

/* READ SECTORS of one sector at C/H/S on the primary master: its status */
static uint8_t chs_read(struct fx *f, unsigned cyl, unsigned head,
			unsigned sect, uint8_t *buf)
{
	uint8_t st;

	dt_outb(f->vm, P0 + 2, 1);
	dt_outb(f->vm, P0 + 3, sect);
	dt_outb(f->vm, P0 + 4, cyl);
	dt_outb(f->vm, P0 + 5, cyl >> 8);
	dt_outb(f->vm, P0 + 6, 0xa0 | head);
	dt_outb(f->vm, P0 + 7, 0x20);
	st = dt_inb(f->vm, P0 + 7);
	if (st & ST_DRQ)
		read_data(f, P0, buf, 512);
	return st;
}

static void test_chs(struct fx *f, gconstpointer data)
{
	uint8_t buf[512];
	uint16_t id[256];

	/* C/H/S 2/3/4 in the default 16x63 translation */
	g_assert_cmphex(chs_read(f, 2, 3, 4, buf), ==, ST_DRDY | ST_DSC | ST_DRQ);
	check_disk(buf, (2 * 16 + 3) * 63 + 3, 1);
	/* INITIALIZE DEVICE PARAMETERS: 4 heads of 17 sectors */
	dt_outb(f->vm, P0 + 2, 17);
	dt_outb(f->vm, P0 + 6, 0xa0 | 3);
	dt_outb(f->vm, P0 + 7, 0x91);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC);
	identify(f, P0, 0, 0xec, id);
	g_assert_cmpuint(id[54], ==, DISK_SECTORS / (4 * 17));
	g_assert_cmpuint(id[55], ==, 4);
	g_assert_cmpuint(id[56], ==, 17);
	g_assert_cmphex(chs_read(f, 2, 3, 4, buf), ==, ST_DRDY | ST_DSC | ST_DRQ);
	check_disk(buf, (2 * 4 + 3) * 17 + 3, 1);
	/* sector 0, a head or a sector past the translation do not exist */
	g_assert_cmphex(chs_read(f, 0, 0, 0, buf), ==, ST_DRDY | ST_DSC | ST_ERR);
	g_assert_cmphex(dt_inb(f->vm, P0 + 1), ==, 0x10);
	g_assert_cmphex(chs_read(f, 0, 4, 1, buf), ==, ST_DRDY | ST_DSC | ST_ERR);
	g_assert_cmphex(dt_inb(f->vm, P0 + 1), ==, 0x10);
	g_assert_cmphex(chs_read(f, 0, 0, 18, buf), ==, ST_DRDY | ST_DSC | ST_ERR);
	g_assert_cmphex(chs_read(f, 0, 3, 17, buf), ==, ST_DRDY | ST_DSC | ST_DRQ);
	check_disk(buf, 3 * 17 + 16, 1);
}

/* --- bus master DMA ------------------------------------------------------- */

#define PRD_TABLE	0x10000
#define DMA_BUF		0x20000

static void prd(struct fx *f, unsigned i, uint32_t addr, uint32_t count,
		bool eot)
{
	uint8_t e[8] = {
		addr, addr >> 8, addr >> 16, addr >> 24, count, count >> 8, 0,
		eot ? 0x80 : 0,
	};

	g_assert_cmpint(gh_mem_write(gh_vm_memory(f->vm), PRD_TABLE + 8 * i,
				     e, 8), ==, 0);
}

static void bm_start(struct fx *f, uint16_t bm, bool to_mem, uint32_t table)
{
	dt_outb(f->vm, bm, 0);
	dt_outb(f->vm, bm + 2, 0x06);		/* clear error, interrupt */
	dt_outl(f->vm, bm + 4, table);
	dt_outb(f->vm, bm, to_mem ? 0x08 : 0x00);
	dt_outb(f->vm, bm, to_mem ? 0x09 : 0x01);
}

static void test_dma(struct fx *f, gconstpointer data)
{
	struct gh_memory *mem = gh_vm_memory(f->vm);
	uint8_t buf[8 * 512], back[8 * 512];
	unsigned before;

	/* READ DMA of 8 sectors through three entries (1 KiB, 2 KiB with
	 * an odd split, the rest) */
	prd(f, 0, DMA_BUF, 1024, false);
	prd(f, 1, DMA_BUF + 0x1000, 2048, false);
	prd(f, 2, DMA_BUF + 0x3000, 1024, true);
	before = irqs(f, P0);
	bm_start(f, BM, true, PRD_TABLE);
	/* the engine waits for the command */
	g_assert_cmphex(dt_inb(f->vm, BM + 2), ==, 0x01);
	cmd28(f, P0, 0, 0xc8, 500, 8);
	g_assert_cmpuint(irqs(f, P0), ==, before + 1);
	/* done, table used up exactly: interrupt, not active */
	g_assert_cmphex(dt_inb(f->vm, BM + 2), ==, 0x04);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC);
	g_assert_cmpint(gh_mem_read(mem, DMA_BUF, buf, 1024), ==, 0);
	g_assert_cmpint(gh_mem_read(mem, DMA_BUF + 0x1000, buf + 1024, 2048), ==, 0);
	g_assert_cmpint(gh_mem_read(mem, DMA_BUF + 0x3000, buf + 3072, 1024), ==, 0);
	check_disk(buf, 500, 8);
	dt_outb(f->vm, BM, 0);

	/* WRITE DMA (LBA48), command first and engine second; a table
	 * longer than the transfer leaves the engine active */
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = i * 11 + 5;
	g_assert_cmpint(gh_mem_write(mem, DMA_BUF, buf, sizeof(buf)), ==, 0);
	prd(f, 0, DMA_BUF, 4096, false);
	prd(f, 1, DMA_BUF + 4096, 0, true);	/* 64 KiB */
	cmd48(f, P0, 0, 0x35, 600, 8);
	g_assert_cmphex(dt_inb(f->vm, C0), ==, ST_DRDY | ST_DSC | ST_DRQ);
	bm_start(f, BM, false, PRD_TABLE);
	g_assert_cmphex(dt_inb(f->vm, BM + 2), ==, 0x05);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC);
	read_file_at(f->disk, 600 * 512, back, sizeof(back));
	g_assert_cmpmem(back, sizeof(back), buf, sizeof(buf));
	dt_outb(f->vm, BM, 0);
	g_assert_cmphex(dt_inb(f->vm, BM + 2), ==, 0x04);

	/* a large read through 64 KiB entries: 300 sectors */
	prd(f, 0, 0x100000, 0, false);
	prd(f, 1, 0x110000, 0, false);
	prd(f, 2, 0x120000, 300 * 512 - 0x20000, true);
	bm_start(f, BM, true, PRD_TABLE);
	cmd48(f, P0, 0, 0x25, 3000, 300);
	g_assert_cmphex(dt_inb(f->vm, BM + 2), ==, 0x04);
	for (unsigned s = 0; s < 300; s += 37) {
		g_assert_cmpint(gh_mem_read(mem, 0x100000 + s * 512, buf, 512),
				==, 0);
		check_disk(buf, 3000 + s, 1);
	}
}

static void expect_bus_error(struct fx *f)
{
	/* error and interrupt, engine stopped; the drive aborted */
	g_assert_cmphex(dt_inb(f->vm, BM + 2), ==, 0x06);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC | ST_ERR);
	g_assert_cmphex(dt_inb(f->vm, P0 + 1), ==, 0x04);
	dt_outb(f->vm, BM, 0);
}

static void test_dma_bad(struct fx *f, gconstpointer data)
{
	uint64_t ram = gh_vm_ram_size(f->vm);

	/* an entry outside RAM */
	prd(f, 0, ram - 512, 1024, true);
	bm_start(f, BM, true, PRD_TABLE);
	cmd28(f, P0, 0, 0xc8, 0, 2);
	expect_bus_error(f);
	/* ...for a write too */
	prd(f, 0, 0xfffff000, 512, true);
	bm_start(f, BM, false, PRD_TABLE);
	cmd28(f, P0, 0, 0xca, 0, 1);
	expect_bus_error(f);
	/* a table shorter than the transfer */
	prd(f, 0, DMA_BUF, 512, true);
	bm_start(f, BM, true, PRD_TABLE);
	cmd28(f, P0, 0, 0xc8, 0, 2);
	expect_bus_error(f);
	/* a table outside RAM */
	bm_start(f, BM, true, (uint32_t)ram + 0x1000);
	cmd28(f, P0, 0, 0xc8, 0, 1);
	expect_bus_error(f);
	/* no EOT: the walk stops at the table's 64 KiB boundary */
	for (unsigned i = 0; i < 8192; i++)
		prd(f, i, DMA_BUF, 2, false);
	bm_start(f, BM, true, PRD_TABLE);
	cmd48(f, P0, 0, 0x25, 0, 64);
	expect_bus_error(f);
	/* the drive still works afterwards */
	prd(f, 0, DMA_BUF, 512, true);
	bm_start(f, BM, true, PRD_TABLE);
	cmd28(f, P0, 0, 0xc8, 0, 1);
	g_assert_cmphex(dt_inb(f->vm, BM + 2), ==, 0x04);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC);
}

/* --- ATAPI ---------------------------------------------------------------- */

struct atapi_result {
	uint8_t status, error, ireason;
	size_t len;
	unsigned chunks;
};

/* Sends a packet to the primary slave and moves its data-in by PIO with
 * byte count limit (0: the largest). */
static struct atapi_result packet(struct fx *f, const uint8_t *cdb,
				  uint16_t limit, uint8_t *out, size_t max)
{
	struct atapi_result r = { 0 };
	uint8_t st;

	select_dev(f, P0, 1);
	dt_outb(f->vm, P0 + 1, 0);
	dt_outb(f->vm, P0 + 4, limit);
	dt_outb(f->vm, P0 + 5, limit >> 8);
	dt_outb(f->vm, P0 + 7, 0xa0);
	g_assert_cmphex(dt_inb(f->vm, C0), ==, ST_DRDY | ST_DSC | ST_DRQ);
	g_assert_cmphex(dt_inb(f->vm, P0 + 2), ==, 0x01);	/* C/D */
	write_data(f, P0, cdb, 12);
	while ((st = dt_inb(f->vm, P0 + 7)) & ST_DRQ) {
		size_t n = dt_inb(f->vm, P0 + 4) | dt_inb(f->vm, P0 + 5) << 8;

		g_assert_cmphex(dt_inb(f->vm, P0 + 2), ==, 0x02);	/* I/O */
		g_assert_cmpuint(n, >, 0);
		if (limit)
			g_assert_cmpuint(n, <=, limit);
		g_assert_cmpuint(r.len + n, <=, max);
		read_data(f, P0, out + r.len, n);
		r.len += n;
		r.chunks++;
	}
	r.status = st;
	r.error = dt_inb(f->vm, P0 + 1);
	r.ireason = dt_inb(f->vm, P0 + 2);
	g_assert_cmphex(r.ireason, ==, 0x03);
	return r;
}

static void expect_sense(struct fx *f, uint8_t key, uint8_t asc, uint8_t ascq)
{
	uint8_t cdb[12] = { 0x03, 0, 0, 0, 18 }, s[18];
	struct atapi_result r = packet(f, cdb, 0, s, sizeof(s));

	g_assert_cmphex(r.status, ==, ST_DRDY | ST_DSC);
	g_assert_cmpuint(r.len, ==, 18);
	g_assert_cmphex(s[0], ==, 0x70);
	g_assert_cmphex(s[2], ==, key);
	g_assert_cmphex(s[12], ==, asc);
	g_assert_cmphex(s[13], ==, ascq);
}

/* A command that must fail with this sense. */
static void expect_check(struct fx *f, const uint8_t *cdb, uint8_t key,
			 uint8_t asc, uint8_t ascq)
{
	uint8_t buf[64];
	struct atapi_result r = packet(f, cdb, 0, buf, sizeof(buf));

	g_assert_cmphex(r.status, ==, ST_DRDY | ST_DSC | ST_ERR);
	g_assert_cmphex(r.error >> 4, ==, key);
	g_assert_cmpuint(r.len, ==, 0);
	expect_sense(f, key, asc, ascq);
}

static void expect_ok(struct fx *f, const uint8_t *cdb)
{
	uint8_t buf[64];
	struct atapi_result r = packet(f, cdb, 0, buf, sizeof(buf));

	g_assert_cmphex(r.status, ==, ST_DRDY | ST_DSC);
}

static void check_cd(const uint8_t *buf, uint32_t lba, unsigned n)
{
	for (unsigned s = 0; s < n; s++)
		for (unsigned i = 0; i < 2048; i++)
			if (buf[s * 2048 + i] != cd_byte(lba + s, i))
				g_error("CD sector %u byte %u differs", lba + s, i);
}

static void test_atapi(struct fx *f, gconstpointer data)
{
	static const uint8_t tur[12] = { 0x00 };
	uint8_t cdb[12], *buf = g_malloc(16 * 2048);
	struct atapi_result r;

	expect_ok(f, tur);
	/* INQUIRY */
	memset(cdb, 0, 12);
	cdb[0] = 0x12;
	cdb[4] = 96;
	r = packet(f, cdb, 0, buf, 96);
	g_assert_cmpuint(r.len, ==, 36);
	g_assert_cmphex(buf[0], ==, 0x05);
	g_assert_cmphex(buf[1], ==, 0x80);
	g_assert_cmpmem(buf + 16, 10, "Guesthouse", 10);
	/* the allocation length cuts the reply */
	cdb[4] = 5;
	r = packet(f, cdb, 0, buf, 96);
	g_assert_cmpuint(r.len, ==, 5);
	/* READ CAPACITY */
	memset(cdb, 0, 12);
	cdb[0] = 0x25;
	r = packet(f, cdb, 0, buf, 8);
	g_assert_cmpuint(r.len, ==, 8);
	g_assert_cmphex(buf[3], ==, CD_SECTORS - 1);
	g_assert_cmphex(buf[6] << 8 | buf[7], ==, 2048);
	/* READ(10) of 5 sectors with a 2048-byte limit: 5 DRQ chunks */
	memset(cdb, 0, 12);
	cdb[0] = 0x28;
	cdb[5] = 10;
	cdb[8] = 5;
	r = packet(f, cdb, 2048, buf, 16 * 2048);
	g_assert_cmphex(r.status, ==, ST_DRDY | ST_DSC);
	g_assert_cmpuint(r.len, ==, 5 * 2048);
	g_assert_cmpuint(r.chunks, ==, 5);
	check_cd(buf, 10, 5);
	/* an odd limit rounds down to even, a zero one means the largest */
	r = packet(f, cdb, 1001, buf, 16 * 2048);
	g_assert_cmpuint(r.len, ==, 5 * 2048);
	check_cd(buf, 10, 5);
	r = packet(f, cdb, 0, buf, 16 * 2048);
	g_assert_cmpuint(r.chunks, ==, 1);
	/* READ(12) at the end, and past it */
	memset(cdb, 0, 12);
	cdb[0] = 0xa8;
	cdb[5] = CD_SECTORS - 2;
	cdb[9] = 2;
	r = packet(f, cdb, 0, buf, 16 * 2048);
	g_assert_cmpuint(r.len, ==, 2 * 2048);
	check_cd(buf, CD_SECTORS - 2, 2);
	cdb[9] = 3;
	expect_check(f, cdb, 0x5, 0x21, 0);
	/* an unknown opcode, and MODE SENSE(6) which ATAPI has not */
	memset(cdb, 0, 12);
	cdb[0] = 0xff;
	expect_check(f, cdb, 0x5, 0x20, 0);
	cdb[0] = 0x1a;
	expect_check(f, cdb, 0x5, 0x20, 0);
	/* REQUEST SENSE reported it once */
	expect_sense(f, 0, 0, 0);
	/* SET CD SPEED, SEEK */
	memset(cdb, 0, 12);
	cdb[0] = 0xbb;
	expect_ok(f, cdb);
	g_free(buf);
}

static void test_atapi_info(struct fx *f, gconstpointer data)
{
	uint8_t cdb[12], buf[256];
	struct atapi_result r;

	/* READ TOC format 0: the data track and the lead-out */
	memset(cdb, 0, 12);
	cdb[0] = 0x43;
	cdb[8] = 255;
	r = packet(f, cdb, 0, buf, sizeof(buf));
	g_assert_cmpuint(r.len, ==, 20);
	g_assert_cmpuint(buf[0] << 8 | buf[1], ==, 18);
	g_assert_cmpuint(buf[2], ==, 1);
	g_assert_cmpuint(buf[3], ==, 1);
	g_assert_cmphex(buf[5], ==, 0x14);
	g_assert_cmpuint(buf[6], ==, 1);
	g_assert_cmpuint(buf[8] | buf[9] | buf[10] | buf[11], ==, 0);
	g_assert_cmpuint(buf[14], ==, 0xaa);
	g_assert_cmpuint(buf[18] << 8 | buf[19], ==, CD_SECTORS);
	/* in MSF: 00:02:00 and, for 100 + 150 sectors, 00:03:25 */
	cdb[1] = 0x02;
	r = packet(f, cdb, 0, buf, sizeof(buf));
	g_assert_cmpmem(buf + 8, 4, ((uint8_t[]){ 0, 0, 2, 0 }), 4);
	g_assert_cmpmem(buf + 16, 4, ((uint8_t[]){ 0, 0, 3, 25 }), 4);
	/* from the lead-out only; from track 2 is an error */
	cdb[1] = 0;
	cdb[6] = 0xaa;
	r = packet(f, cdb, 0, buf, sizeof(buf));
	g_assert_cmpuint(r.len, ==, 12);
	g_assert_cmpuint(buf[6], ==, 0xaa);
	cdb[6] = 2;
	expect_check(f, cdb, 0x5, 0x24, 0);
	/* format 1: sessions */
	cdb[6] = 0;
	cdb[2] = 1;
	r = packet(f, cdb, 0, buf, sizeof(buf));
	g_assert_cmpuint(r.len, ==, 12);
	g_assert_cmpuint(buf[1], ==, 10);
	g_assert_cmpuint(buf[6], ==, 1);
	/* the old place of the format, in the control byte */
	cdb[2] = 0;
	cdb[9] = 0x40;
	r = packet(f, cdb, 0, buf, sizeof(buf));
	g_assert_cmpuint(r.len, ==, 12);
	cdb[9] = 0;
	cdb[2] = 5;
	expect_check(f, cdb, 0x5, 0x24, 0);

	/* GET CONFIGURATION: current profile CD-ROM, three features */
	memset(cdb, 0, 12);
	cdb[0] = 0x46;
	cdb[8] = 255;
	r = packet(f, cdb, 0, buf, sizeof(buf));
	g_assert_cmpuint(r.len, ==, 8 + 12 + 12 + 8);
	g_assert_cmpuint(buf[3], ==, r.len - 4);
	g_assert_cmphex(buf[6] << 8 | buf[7], ==, 0x0008);
	g_assert_cmphex(buf[9], ==, 0x00);
	g_assert_cmphex(buf[21], ==, 0x01);
	g_assert_cmphex(buf[33], ==, 0x03);
	/* RT 2: just the core feature */
	cdb[1] = 2;
	cdb[3] = 1;
	r = packet(f, cdb, 0, buf, sizeof(buf));
	g_assert_cmpuint(r.len, ==, 8 + 12);
	g_assert_cmphex(buf[9], ==, 0x01);

	/* MODE SENSE(10): the capabilities page, all pages, saved values */
	memset(cdb, 0, 12);
	cdb[0] = 0x5a;
	cdb[2] = 0x2a;
	cdb[8] = 255;
	r = packet(f, cdb, 0, buf, sizeof(buf));
	g_assert_cmpuint(r.len, ==, 8 + 22);
	g_assert_cmphex(buf[8], ==, 0x2a);
	g_assert_cmphex(buf[8 + 6], ==, 0x29);	/* tray, eject, lock */
	cdb[2] = 0x3f;
	r = packet(f, cdb, 0, buf, sizeof(buf));
	g_assert_cmpuint(r.len, ==, 8 + 12 + 22);
	g_assert_cmpuint(buf[0] << 8 | buf[1], ==, r.len - 2);
	g_assert_cmphex(buf[8], ==, 0x01);
	cdb[2] = 0xc1;
	expect_check(f, cdb, 0x5, 0x39, 0);
	cdb[2] = 0x05;
	expect_check(f, cdb, 0x5, 0x24, 0);

	/* GET EVENT STATUS NOTIFICATION: polled only; media present */
	memset(cdb, 0, 12);
	cdb[0] = 0x4a;
	cdb[4] = 0x10;
	cdb[8] = 8;
	expect_check(f, cdb, 0x5, 0x24, 0);
	cdb[1] = 1;
	r = packet(f, cdb, 0, buf, sizeof(buf));
	g_assert_cmpuint(r.len, ==, 8);
	g_assert_cmphex(buf[2], ==, 0x04);
	g_assert_cmphex(buf[4], ==, 0);
	g_assert_cmphex(buf[5], ==, 0x02);
	/* no class asked for: "no event available" */
	cdb[4] = 0;
	r = packet(f, cdb, 0, buf, sizeof(buf));
	g_assert_cmpuint(r.len, ==, 4);
	g_assert_cmphex(buf[2], ==, 0x80);

	/* MECHANISM STATUS */
	memset(cdb, 0, 12);
	cdb[0] = 0xbd;
	cdb[9] = 8;
	r = packet(f, cdb, 0, buf, sizeof(buf));
	g_assert_cmpuint(r.len, ==, 8);
	g_assert_cmphex(buf[1], ==, 0);

	/* READ DISC INFORMATION: one complete session, finalized; the
	 * allocation length cuts it; other data types are refused */
	memset(cdb, 0, 12);
	cdb[0] = 0x51;
	cdb[8] = 255;
	r = packet(f, cdb, 0, buf, sizeof(buf));
	g_assert_cmpuint(r.len, ==, 34);
	g_assert_cmpuint(buf[0] << 8 | buf[1], ==, 32);
	g_assert_cmphex(buf[2], ==, 0x0e);
	g_assert_cmpmem(buf + 3, 4, ((uint8_t[]){ 1, 1, 1, 1 }), 4);
	g_assert_cmphex(buf[16] & buf[23], ==, 0xff);
	cdb[8] = 8;
	r = packet(f, cdb, 0, buf, sizeof(buf));
	g_assert_cmpuint(r.len, ==, 8);
	cdb[1] = 1;
	expect_check(f, cdb, 0x5, 0x24, 0);
}

/* READ CD: user data as READ(10) gives it, or none; raw fields, other
 * sector types and ranges past the disc are refused. */
static void test_atapi_read_cd(struct fx *f, gconstpointer data)
{
	uint8_t cdb[12], rd10[12] = { 0x28 };
	uint8_t *buf = g_malloc(3 * 2048), *ref = g_malloc(3 * 2048);
	struct atapi_result r;

	rd10[5] = 5;
	rd10[8] = 3;
	r = packet(f, rd10, 0, ref, 3 * 2048);
	g_assert_cmpuint(r.len, ==, 3 * 2048);
	memset(cdb, 0, 12);
	cdb[0] = 0xbe;
	cdb[5] = 5;
	cdb[8] = 3;
	cdb[9] = 0x10;			/* user data */
	r = packet(f, cdb, 0, buf, 3 * 2048);
	g_assert_cmpuint(r.len, ==, 3 * 2048);
	g_assert_cmpmem(buf, 3 * 2048, ref, 3 * 2048);
	cdb[1] = 2 << 2;		/* mode 1 asked for: the same */
	r = packet(f, cdb, 0, buf, 3 * 2048);
	g_assert_cmpuint(r.len, ==, 3 * 2048);
	cdb[9] = 0;			/* no field: nothing moves */
	r = packet(f, cdb, 0, buf, 3 * 2048);
	g_assert_cmpuint(r.len, ==, 0);
	g_assert_cmphex(r.status & ST_ERR, ==, 0);
	cdb[9] = 0x10;
	cdb[1] = 1 << 2;		/* CD-DA: not this track's mode */
	expect_check(f, cdb, 0x5, 0x64, 0);
	cdb[1] = 0;
	cdb[9] = 0xf8;			/* sync, headers, user data, EDC/ECC */
	expect_check(f, cdb, 0x5, 0x24, 0);
	cdb[9] = 0x10;
	cdb[10] = 1;			/* raw subchannel */
	expect_check(f, cdb, 0x5, 0x24, 0);
	cdb[10] = 0;
	cdb[5] = CD_SECTORS - 1;	/* two sectors past the end */
	expect_check(f, cdb, 0x5, 0x21, 0);
	g_free(buf);
	g_free(ref);
}

static void test_atapi_dma(struct fx *f, gconstpointer data)
{
	struct gh_memory *mem = gh_vm_memory(f->vm);
	uint8_t cdb[12] = { 0x28, 0, 0, 0, 0, 20, 0, 0, 3 };
	uint8_t *buf = g_malloc(3 * 2048);

	prd(f, 0, DMA_BUF, 2048, false);
	prd(f, 1, DMA_BUF + 0x4000, 4096, true);
	bm_start(f, BM, true, PRD_TABLE);
	select_dev(f, P0, 1);
	dt_outb(f->vm, P0 + 1, 0x01);		/* DMA */
	dt_outb(f->vm, P0 + 7, 0xa0);
	write_data(f, P0, cdb, 12);
	g_assert_cmphex(dt_inb(f->vm, BM + 2), ==, 0x04);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC);
	g_assert_cmphex(dt_inb(f->vm, P0 + 2), ==, 0x03);
	g_assert_cmpint(gh_mem_read(mem, DMA_BUF, buf, 2048), ==, 0);
	g_assert_cmpint(gh_mem_read(mem, DMA_BUF + 0x4000, buf + 2048, 4096),
			==, 0);
	check_cd(buf, 20, 3);
	dt_outb(f->vm, BM, 0);

	/* a reply (INQUIRY) by DMA; a short table fails it */
	memset(cdb, 0, 12);
	cdb[0] = 0x12;
	cdb[4] = 36;
	prd(f, 0, DMA_BUF, 16, true);
	bm_start(f, BM, true, PRD_TABLE);
	dt_outb(f->vm, P0 + 1, 0x01);
	dt_outb(f->vm, P0 + 7, 0xa0);
	write_data(f, P0, cdb, 12);
	g_assert_cmphex(dt_inb(f->vm, BM + 2), ==, 0x06);
	g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==, ST_DRDY | ST_DSC | ST_ERR);
	g_assert_cmphex(dt_inb(f->vm, P0 + 1) >> 4, ==, 0xb);
	g_free(buf);
}

static void test_media_change(struct fx *f, gconstpointer data)
{
	static const uint8_t tur[12] = { 0x00 };
	static const uint8_t gesn[12] = { 0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8 };
	uint8_t cdb[12], buf[64];
	struct gh_board_drive_info info;
	struct gh_error err = { 0 };
	struct atapi_result r;

	g_assert_true(gh_ide_media_present(f->ide, 1));
	/* only CD-ROM drives change discs */
	g_assert_cmpint(gh_ide_change_media(f->ide, 0, f->iso2, false, &err),
			==, -ENODEV);
	/* eject from the host: NOT READY, medium not present */
	g_assert_cmpint(gh_ide_change_media(f->ide, 1, NULL, false, NULL), ==, 0);
	g_assert_false(gh_ide_media_present(f->ide, 1));
	expect_check(f, tur, 0x2, 0x3a, 0x01);
	r = packet(f, gesn, 0, buf, sizeof(buf));
	g_assert_cmphex(buf[4], ==, 3);		/* media removal */
	g_assert_cmphex(buf[5], ==, 0);
	/* a missing file changes nothing */
	memset(&err, 0, sizeof(err));
	g_assert_cmpint(gh_ide_change_media(f->ide, 1, "/nonexistent.iso",
					    false, &err), ==, -ENOENT);
	g_assert_nonnull(strstr(err.msg, "/nonexistent.iso"));
	/* a new disc: UNIT ATTENTION once, then ready with the new size */
	g_assert_cmpint(gh_ide_change_media(f->ide, 1, f->iso2, false, NULL),
			==, 0);
	r = packet(f, gesn, 0, buf, sizeof(buf));
	g_assert_cmphex(buf[4], ==, 2);		/* new media */
	g_assert_cmphex(buf[5], ==, 2);
	r = packet(f, gesn, 0, buf, sizeof(buf));
	g_assert_cmphex(buf[4], ==, 0);
	expect_check(f, tur, 0x6, 0x28, 0);
	expect_ok(f, tur);
	memset(cdb, 0, 12);
	cdb[0] = 0x25;
	r = packet(f, cdb, 0, buf, 8);
	g_assert_cmphex(buf[3], ==, 2 * CD_SECTORS - 1);
	g_assert_cmpuint(r.len, ==, 8);

	/* the guest locks the tray: host ejects are refused, and the guest
	 * hears an eject request; its own eject is refused too */
	memset(cdb, 0, 12);
	cdb[0] = 0x1e;
	cdb[4] = 1;
	expect_ok(f, cdb);
	g_assert_true(gh_ide_tray_locked(f->ide, 1));
	memset(&err, 0, sizeof(err));
	g_assert_cmpint(gh_ide_change_media(f->ide, 1, NULL, false, &err),
			==, -EBUSY);
	g_assert_nonnull(strstr(err.msg, "locked"));
	/* a change takes the disc out first: refused the same way */
	g_assert_cmpint(gh_ide_change_media(f->ide, 1, f->iso2, false, NULL),
			==, -EBUSY);
	gh_ide_drive_info(f->ide, 1, &info);
	g_assert_cmpint(info.media, ==, GH_DRIVE_CDROM);
	g_assert_true(info.locked && info.read_only && !info.tray_open);
	g_assert_cmpstr(info.path, ==, f->iso2);
	g_free(info.path);
	gh_ide_drive_info(f->ide, 0, &info);
	g_assert_cmpint(info.media, ==, GH_DRIVE_DISK);
	g_assert_false(info.locked);
	g_free(info.path);
	gh_ide_drive_info(f->ide, 3, &info);
	g_assert_cmpint(info.media, ==, GH_DRIVE_NONE);
	g_assert_null(info.path);
	r = packet(f, gesn, 0, buf, sizeof(buf));
	g_assert_cmphex(buf[4], ==, 1);		/* eject request */
	memset(cdb, 0, 12);
	cdb[0] = 0x1b;
	cdb[4] = 0x02;
	expect_check(f, cdb, 0x5, 0x53, 0x02);
	/* unlocked, the guest opens the tray and closes it again */
	memset(cdb, 0, 12);
	cdb[0] = 0x1e;
	expect_ok(f, cdb);
	cdb[0] = 0x1b;
	cdb[4] = 0x02;
	expect_ok(f, cdb);
	expect_check(f, tur, 0x2, 0x3a, 0x02);
	memset(cdb, 0, 12);
	cdb[0] = 0xbd;
	cdb[9] = 8;
	r = packet(f, cdb, 0, buf, sizeof(buf));
	g_assert_cmphex(buf[1], ==, 0x10);
	memset(cdb, 0, 12);
	cdb[0] = 0x1b;
	cdb[4] = 0x03;
	expect_ok(f, cdb);
	expect_check(f, tur, 0x6, 0x28, 0);
	expect_ok(f, tur);
	/* a forced eject of a locked tray */
	memset(cdb, 0, 12);
	cdb[0] = 0x1e;
	cdb[4] = 1;
	expect_ok(f, cdb);
	g_assert_cmpint(gh_ide_change_media(f->ide, 1, NULL, true, NULL), ==, 0);
	expect_check(f, tur, 0x2, 0x3a, 0x01);
}

/* --- a storm -------------------------------------------------------------- */

/* Random accesses to every register of both channels and the bus master,
 * with DMA tables of random entries: nothing may crash or leak (ASan). */
static void test_storm(struct fx *f, gconstpointer data)
{
	static const uint16_t ports[] = {
		P0, P0 + 1, P0 + 2, P0 + 3, P0 + 4, P0 + 5, P0 + 6, P0 + 7, C0,
		P1, P1 + 1, P1 + 2, P1 + 3, P1 + 4, P1 + 5, P1 + 6, P1 + 7, C1,
		BM, BM + 1, BM + 2, BM + 3, BM + 4, BM + 5, BM + 6, BM + 7,
		BM + 8, BM + 10, BM + 12, BM + 15,
	};
	static const uint8_t cmds[] = {
		0x20, 0x24, 0x29, 0x30, 0x34, 0x39, 0xc4, 0xc5, 0xc6, 0xc8,
		0xca, 0x25, 0x35, 0xec, 0xa1, 0xa0, 0xef, 0x91, 0x90, 0x08,
		0xe7, 0x40, 0xe5, 0x00, 0xff,
	};
	static const uint8_t ops[] = {
		0x00, 0x03, 0x12, 0x1b, 0x1e, 0x25, 0x28, 0xa8, 0x43, 0x46,
		0x4a, 0x5a, 0xbb, 0xbd, 0x2b, 0x77,
	};
	GRand *rng = g_rand_new_with_seed(0x1de5);
	uint64_t ram = gh_vm_ram_size(f->vm);

	/* ATAPI DMA needs a disc to read; keep the tray unlocked */
	for (unsigned i = 0; i < 200000; i++) {
		unsigned what = g_rand_int_range(rng, 0, 100);
		uint16_t port = ports[g_rand_int_range(rng, 0, G_N_ELEMENTS(ports))];
		uint32_t v = g_rand_int(rng);

		if (what < 30) {
			gh_bus_read(gh_vm_pio(f->vm), port, 1 << g_rand_int_range(rng, 0, 3));
		} else if (what < 40) {
			uint16_t base = g_rand_boolean(rng) ? P0 : P1;

			dt_outb(f->vm, base + 7,
				cmds[g_rand_int_range(rng, 0, G_N_ELEMENTS(cmds))]);
		} else if (what < 50) {
			uint16_t base = g_rand_boolean(rng) ? P0 : P1;

			/* a packet: an opcode and random bytes */
			dt_outw(f->vm, base, ops[g_rand_int_range(rng, 0,
				G_N_ELEMENTS(ops))] | (v & 0xff00));
			for (unsigned k = 0; k < 5; k++)
				dt_outw(f->vm, base, g_rand_int(rng));
		} else if (what < 55) {
			/* a PRD entry somewhere near or past RAM */
			uint32_t addr = g_rand_boolean(rng) ?
				(uint32_t)g_rand_int_range(rng, 0, ram) :
				g_rand_int(rng);

			prd(f, g_rand_int_range(rng, 0, 4), addr,
			    g_rand_int_range(rng, 0, 0x10000),
			    g_rand_boolean(rng));
		} else if (what < 58) {
			dt_outl(f->vm, BM + (g_rand_boolean(rng) ? 4 : 12),
				g_rand_boolean(rng) ? PRD_TABLE : v);
		} else if (what < 60) {
			/* small counts keep the storm quick */
			uint16_t base = g_rand_boolean(rng) ? P0 : P1;

			dt_outb(f->vm, base + 2, v & 7);
		} else if (what < 62) {
			dt_outb(f->vm, port == C0 || port == C1 ? port : C0, v & 0x86);
		} else if (what == 62) {
			g_assert_cmpint(gh_ide_change_media(f->ide, 1,
				g_rand_boolean(rng) ? f->iso : NULL, true, NULL),
				==, 0);
		} else {
			gh_bus_write(gh_vm_pio(f->vm), port, v,
				     1 << g_rand_int_range(rng, 0, 3));
		}
	}
	g_rand_free(rng);
	/* and the disk still reads what the storm left in the image */
	dt_outb(f->vm, C0, 0x04);
	dt_outb(f->vm, C0, 0x00);
	dt_outb(f->vm, BM, 0);
	{
		uint8_t buf[512], want[512];

		cmd28(f, P0, 0, 0x20, 42, 1);
		g_assert_cmphex(dt_inb(f->vm, P0 + 7), ==,
				ST_DRDY | ST_DSC | ST_DRQ);
		read_data(f, P0, buf, 512);
		read_file_at(f->disk, 42 * 512, want, 512);
		g_assert_cmpmem(buf, 512, want, 512);
	}
}

/* The board opens the images: bad ones fail realize with the file named. */
static void test_bad_images(struct fx *f, gconstpointer data)
{
	struct gh_board_config bc = { 0 };
	struct gh_device_cfg cfg = { .irq = -1, .pci = f->pci, .board = &bc };
	struct gh_error err = { 0 };
	struct gh_device *dev = NULL;

	/* the disk is already open (locked) by the fixture's controller */
	bc.ide[0] = (struct gh_drive_config){ GH_DRIVE_DISK, f->disk, false };
	g_assert_cmpint(gh_device_new(&gh_ide_type, f->vm, &cfg, &dev, &err),
			==, -EBUSY);
	g_assert_nonnull(strstr(err.msg, "in use"));
	g_assert_nonnull(strstr(err.msg, f->disk));
	/* ...and with the ports taken a second controller fails cleanly */
	memset(&err, 0, sizeof(err));
	bc.ide[0] = (struct gh_drive_config){ GH_DRIVE_CDROM, NULL, true };
	g_assert_cmpint(gh_device_new(&gh_ide_type, f->vm, &cfg, &dev, &err),
			<, 0);
	g_assert_null(dev);
}

static void fx_setup_bare(struct fx *f, gconstpointer data)
{
	fx_setup_with(f, true);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add(name, struct fx, NULL, fx_setup, fn, \
				 fx_teardown)
	ADD("/ide/pci", test_pci);
	ADD("/ide/srst", test_srst);
	g_test_add("/ide/no-drives", struct fx, NULL, fx_setup_bare,
		   test_no_drives, fx_teardown);
	ADD("/ide/identify", test_identify);
	ADD("/ide/pio", test_pio);
	ADD("/ide/lba48", test_lba48);
	ADD("/ide/chs", test_chs);
	ADD("/ide/dma", test_dma);
	ADD("/ide/dma-bad", test_dma_bad);
	ADD("/ide/atapi", test_atapi);
	ADD("/ide/atapi-info", test_atapi_info);
	ADD("/ide/atapi-read-cd", test_atapi_read_cd);
	ADD("/ide/atapi-dma", test_atapi_dma);
	ADD("/ide/media-change", test_media_change);
	ADD("/ide/storm", test_storm);
	ADD("/ide/bad-images", test_bad_images);
	return g_test_run();
}
