/*
 * QEMU's firmware configuration device at ports 0x510-0x51b, as QEMU's
 * docs/specs/fw_cfg.rst defines it: a 16-bit selector, an 8-bit data port
 * that walks the selected item, and the DMA interface. It carries what
 * SeaBIOS reads on a QEMU PC: RAM size, CPU counts, the e820 map, boot
 * menu settings, the SMBIOS tables and the ACPI tables with the BIOS
 * linker/loader script that installs them (QEMU hw/acpi/bios-linker-loader.c).
 * Every item is read-only: writes are ignored, as QEMU does for those.
 */
#include "gh/fw-cfg.h"

#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "gh/board.h"
#include "gh/bus.h"
#include "gh/device.h"
#include "gh/log.h"
#include "gh/memory.h"
#include "gh/vm.h"
#include "gh/board.h"
#include "gh/x86-acpi.h"
#include "gh/x86-boot.h"
#include "gh/x86-smbios.h"

#define FW_CFG_MAX_ITEMS	64
#define DMA_REG_SIZE		8
#define INVALID			(-1)

/* What SeaBIOS waits at its boot menu prompt, in ms (its own default). */
#define BOOT_MENU_WAIT_MS	2500

#define FILE_RSDP		"etc/acpi/rsdp"
#define FILE_TABLES		"etc/acpi/tables"
#define FILE_LOADER		"etc/table-loader"

struct fw_cfg_item {
	uint16_t key;
	char name[GH_FW_CFG_FILE_NAME];	/* "" for the numbered items */
	const uint8_t *data;
	uint8_t *owned;			/* data when the item owns it */
	uint32_t len;
};

struct fw_cfg {
	struct gh_vm *vm;
	struct fw_cfg_item items[FW_CFG_MAX_ITEMS];
	unsigned n;
	struct gh_linux_fw_image kernel;	/* firmware-mediated boot */
	int cur;			/* the selected item, or INVALID */
	uint32_t offset;		/* the next byte of it */
	uint64_t dma_addr;		/* the high half, once written */
	bool mapped_ctl, mapped_dma;
};

static struct fw_cfg_item *item_by_key(struct fw_cfg *s, uint16_t key)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->items[i].key == key)
			return &s->items[i];
	return NULL;
}

/*
 * Replaces an item with the same key. The item takes owned (g_malloc'd,
 * may be NULL) and shows data, which is owned or outlives the device.
 */
static int set_item(struct fw_cfg *s, uint16_t key, const char *name,
		    const void *data, uint8_t *owned, size_t len)
{
	struct fw_cfg_item *it = item_by_key(s, key);

	if (len > UINT32_MAX || (!it && s->n == FW_CFG_MAX_ITEMS)) {
		g_free(owned);
		return -ENOSPC;
	}
	if (!it)
		it = &s->items[s->n++];
	else
		g_free(it->owned);
	it->key = key;
	g_strlcpy(it->name, name ? name : "", sizeof(it->name));
	it->data = data;
	it->owned = owned;
	it->len = len;
	return 0;
}

/* Takes data (g_malloc'd). */
static int add_item(struct fw_cfg *s, uint16_t key, const char *name,
		    uint8_t *data, size_t len)
{
	return set_item(s, key, name, data, data, len);
}

static int add_bytes(struct fw_cfg *s, uint16_t key, const void *data,
		     size_t len)
{
	return add_item(s, key, NULL, g_memdup2(data, len), len);
}

/* Numbers in the numbered items are little-endian (fw_cfg.rst). */
static int add_le(struct fw_cfg *s, uint16_t key, uint64_t v, unsigned size)
{
	uint8_t le[8];

	for (unsigned i = 0; i < size; i++)
		le[i] = v >> (8 * i);
	return add_bytes(s, key, le, size);
}

static int cmp_names(const void *a, const void *b)
{
	const struct fw_cfg_item *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/*
 * The files get keys from GH_FW_CFG_FILE_FIRST on in name order, and the
 * directory (be32 count, then be32 size, be16 select, be16 reserved and
 * the NUL-padded name per file) lists them in that order, as QEMU sorts it.
 */
static int build_directory(struct fw_cfg *s)
{
	struct fw_cfg_item *files[FW_CFG_MAX_ITEMS];
	unsigned nfiles = 0;
	uint8_t *dir;
	size_t len;

	for (unsigned i = 0; i < s->n; i++)
		if (s->items[i].name[0])
			files[nfiles++] = &s->items[i];
	qsort(files, nfiles, sizeof(files[0]), cmp_names);
	len = 4 + (size_t)nfiles * GH_FW_CFG_FILE_ENTRY;
	dir = g_malloc0(len);
	dir[0] = nfiles >> 24;
	dir[1] = nfiles >> 16;
	dir[2] = nfiles >> 8;
	dir[3] = nfiles;
	for (unsigned i = 0; i < nfiles; i++) {
		uint8_t *e = dir + 4 + i * GH_FW_CFG_FILE_ENTRY;
		uint16_t key = GH_FW_CFG_FILE_FIRST + i;

		files[i]->key = key;
		e[0] = files[i]->len >> 24;
		e[1] = files[i]->len >> 16;
		e[2] = files[i]->len >> 8;
		e[3] = files[i]->len;
		e[4] = key >> 8;
		e[5] = key;
		memcpy(e + 8, files[i]->name, strlen(files[i]->name));
	}
	return add_item(s, GH_FW_CFG_FILE_DIR, NULL, dir, len);
}

/* Files get their real keys from build_directory. */
static int add_file(struct fw_cfg *s, const char *name, uint8_t *data,
		    size_t len)
{
	if (s->n == FW_CFG_MAX_ITEMS) {
		g_free(data);
		return -ENOSPC;
	}
	/* a placeholder key no numbered item uses */
	return add_item(s, GH_FW_CFG_ARCH_LOCAL | (GH_FW_CFG_ENTRY_MASK - s->n),
			name, data, len);
}

/* ---- the BIOS linker/loader script ---- */

static uint8_t *loader_entry(GByteArray *script, uint32_t command)
{
	guint at = script->len;
	uint8_t *e;

	g_byte_array_set_size(script, at + GH_FW_CFG_LOADER_ENTRY);
	e = script->data + at;
	memset(e, 0, GH_FW_CFG_LOADER_ENTRY);
	e[0] = command;
	return e;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static const char *const blob_file[GH_ACPI_NBLOBS] = {
	[GH_ACPI_BLOB_RSDP] = FILE_RSDP,
	[GH_ACPI_BLOB_TABLES] = FILE_TABLES,
};

/*
 * ALLOCATE both blobs (the RSDP in the F segment, where an OS scans for
 * it: ACPI 6.3, 5.2.5.1), ADD_POINTER for every pointer into the tables,
 * then ADD_CHECKSUM for every checksum, after the pointers they cover.
 * Command layouts as bios-linker-loader.c's BiosLinkerLoaderEntry: a u32
 * command, then 56-byte file names and little-endian fields.
 */
static GByteArray *loader_script(const struct gh_acpi_blobs *acpi)
{
	GByteArray *script = g_byte_array_new();
	uint8_t *e;

	e = loader_entry(script, GH_FW_CFG_LOADER_ALLOCATE);
	strcpy((char *)e + 4, FILE_TABLES);
	put_le32(e + 60, 64);			/* FACS: 64-byte aligned */
	e[64] = GH_FW_CFG_LOADER_ZONE_HIGH;
	e = loader_entry(script, GH_FW_CFG_LOADER_ALLOCATE);
	strcpy((char *)e + 4, FILE_RSDP);
	put_le32(e + 60, 16);			/* 5.2.5.1 */
	e[64] = GH_FW_CFG_LOADER_ZONE_FSEG;
	for (unsigned i = 0; i < acpi->npointers; i++) {
		const struct gh_acpi_pointer *p = &acpi->pointers[i];

		e = loader_entry(script, GH_FW_CFG_LOADER_ADD_POINTER);
		strcpy((char *)e + 4, blob_file[p->blob]);
		strcpy((char *)e + 60, FILE_TABLES);
		put_le32(e + 116, p->offset);
		e[120] = p->size;
	}
	for (unsigned i = 0; i < acpi->nchecksums; i++) {
		const struct gh_acpi_checksum *c = &acpi->checksums[i];

		e = loader_entry(script, GH_FW_CFG_LOADER_ADD_CHECKSUM);
		strcpy((char *)e + 4, blob_file[c->blob]);
		put_le32(e + 60, c->field);
		put_le32(e + 64, c->start);
		put_le32(e + 68, c->length);
	}
	return script;
}

static int add_acpi(struct fw_cfg *s, unsigned ncpus, struct gh_error *err)
{
	struct gh_acpi_blobs acpi;
	GByteArray *script;
	int ret = gh_x86_build_acpi_blobs(ncpus, &acpi, err);

	if (ret < 0)
		return ret;
	script = loader_script(&acpi);
	/*
	 * The checksum fields start at 0: OVMF stores the checksum of the
	 * whole range, field included (SeaBIOS subtracts the range's sum,
	 * which works either way), as QEMU's blobs have them.
	 */
	for (unsigned i = 0; i < acpi.nchecksums; i++)
		acpi.data[acpi.checksums[i].blob][acpi.checksums[i].field] = 0;
	ret = add_file(s, FILE_RSDP, acpi.data[GH_ACPI_BLOB_RSDP],
		       acpi.size[GH_ACPI_BLOB_RSDP]);
	acpi.data[GH_ACPI_BLOB_RSDP] = NULL;
	if (!ret)
		ret = add_file(s, FILE_TABLES, acpi.data[GH_ACPI_BLOB_TABLES],
			       acpi.size[GH_ACPI_BLOB_TABLES]);
	acpi.data[GH_ACPI_BLOB_TABLES] = NULL;
	if (!ret)
		ret = add_file(s, FILE_LOADER, script->data, script->len);
	else
		g_free(script->data);
	g_byte_array_free(script, FALSE);
	return ret;
}

/* "etc/e820": the VM's map as the direct-boot loaders give it, 20 bytes
 * an entry (le64 address, le64 length, le32 type). */
static int add_e820(struct fw_cfg *s)
{
	struct gh_e820_entry map[GH_E820_MAX];
	unsigned n = gh_memory_e820(gh_vm_memory(s->vm), map, GH_E820_MAX);
	uint8_t *buf = g_malloc0((size_t)n * 20 + 1);

	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = buf + i * 20;

		put_le32(p, (uint32_t)map[i].addr);
		put_le32(p + 4, map[i].addr >> 32);
		put_le32(p + 8, (uint32_t)map[i].size);
		put_le32(p + 12, map[i].size >> 32);
		put_le32(p + 16, map[i].type);
	}
	return add_file(s, "etc/e820", buf, (size_t)n * 20);
}

static int add_smbios(struct fw_cfg *s, unsigned ncpus)
{
	struct gh_smbios smbios;
	int ret;

	gh_x86_build_smbios(gh_vm_ram_size(s->vm), ncpus, &smbios);
	ret = add_file(s, "etc/smbios/smbios-anchor",
		       g_memdup2(smbios.anchor, sizeof(smbios.anchor)),
		       sizeof(smbios.anchor));
	if (!ret)
		ret = add_file(s, "etc/smbios/smbios-tables", smbios.tables,
			       smbios.size);
	else
		g_free(smbios.tables);
	return ret;
}

/* RAM below 4 GiB: where the e820 map's RAM under 4 GiB ends. */
static uint64_t ram_below_4g(struct fw_cfg *s)
{
	struct gh_e820_entry map[GH_E820_MAX];
	unsigned n = gh_memory_e820(gh_vm_memory(s->vm), map, GH_E820_MAX);
	uint64_t top = 0;

	for (unsigned i = 0; i < n; i++)
		if (map[i].type == GH_E820_RAM && map[i].addr < (1ULL << 32))
			top = MAX(top, MIN(map[i].addr + map[i].size, 1ULL << 32));
	return top;
}

/*
 * Firmware-mediated Linux boot (fw_cfg.rst's kernel items): the setup
 * code, the kernel, the initrd and the command line with the addresses
 * they load at, and our option ROM that loads them, first in the boot
 * order. SeaBIOS runs the ROM; OVMF reads the items itself.
 */
static int add_kernel(struct fw_cfg *s, const struct gh_board_config *b,
		      struct gh_error *err)
{
	struct gh_linux_fw_image *k = &s->kernel;
	struct gh_boot_module initrd = {
		.data = b->initrd, .size = b->initrd_size, .name = b->initrd_name,
	};
	struct gh_boot_args args = {
		.kernel = b->kernel,
		.kernel_size = b->kernel_size,
		.kernel_name = b->kernel_name,
		.cmdline = b->cmdline,
		.modules = &initrd,
		.nmodules = b->initrd ? 1 : 0,
	};
	size_t rom_len = (gh_linuxboot_rom_size + 511) & ~(size_t)511;
	uint8_t *rom, sum = 0;
	int ret;

	ret = gh_x86_linux_fw_image(&args, ram_below_4g(s), k, err);
	if (ret == -ENOEXEC)
		return gh_error_set(err, ret, "%s is not a Linux bzImage: with "
				    "firmware only Linux kernels boot directly "
				    "(Multiboot kernels boot without --firmware)",
				    b->kernel_name ? b->kernel_name : "the kernel");
	if (ret < 0)
		return ret;
	ret |= add_le(s, GH_FW_CFG_SETUP_ADDR, k->setup_addr, 4);
	ret |= add_le(s, GH_FW_CFG_SETUP_SIZE, k->setup_size, 4);
	ret |= set_item(s, GH_FW_CFG_SETUP_DATA, NULL, k->setup, NULL,
			k->setup_size);
	ret |= add_le(s, GH_FW_CFG_KERNEL_ADDR, k->kernel_addr, 4);
	ret |= add_le(s, GH_FW_CFG_KERNEL_SIZE, k->kernel_size, 4);
	ret |= set_item(s, GH_FW_CFG_KERNEL_DATA, NULL, k->kernel, NULL,
			k->kernel_size);
	ret |= add_le(s, GH_FW_CFG_INITRD_ADDR, k->initrd_addr, 4);
	ret |= add_le(s, GH_FW_CFG_INITRD_SIZE, k->initrd_size, 4);
	ret |= set_item(s, GH_FW_CFG_INITRD_DATA, NULL, k->initrd, NULL,
			k->initrd_size);
	ret |= add_le(s, GH_FW_CFG_CMDLINE_ADDR, k->cmdline_addr, 4);
	ret |= add_le(s, GH_FW_CFG_CMDLINE_SIZE, k->cmdline_size, 4);
	ret |= set_item(s, GH_FW_CFG_CMDLINE_DATA, NULL, k->cmdline, NULL,
			k->cmdline_size);
	/* the older single item with the command line's address */
	ret |= add_le(s, GH_FW_CFG_KERNEL_CMDLINE, k->cmdline_addr, 4);

	/* the ROM in whole 512-byte blocks, with its size and checksum */
	rom = g_malloc0(rom_len);
	memcpy(rom, gh_linuxboot_rom, gh_linuxboot_rom_size);
	rom[2] = rom_len / 512;
	for (size_t i = 0; i < rom_len; i++)
		sum += rom[i];
	rom[rom_len - 1] = -sum;
	ret |= add_file(s, "genroms/linuxboot.bin", rom, rom_len);
	if (ret)
		return gh_error_set(err, -ENOSPC, "fw_cfg: too many items");
	return 0;
}

/*
 * "bootorder": the OpenFirmware paths of the boot devices, one a line: the
 * kernel's option ROM when there is one (SeaBIOS names it /rom@FILE), then
 * in the order --boot gives (c: the disks, d: the CD-ROM drives; default
 * cd) the drives the board has. SeaBIOS matches its drives against them
 * (its src/boot.c, build_ata_path: the PIIX IDE function at 00:01.1, the
 * channel, the unit) and tries the devices not listed after these.
 */
static int add_bootorder(struct fw_cfg *s, const struct gh_board_config *bc)
{
	const char *order = bc && bc->boot_order ? bc->boot_order : "cd";
	GString *str = g_string_new(NULL);
	size_t len;

	if (bc && bc->kernel)
		g_string_append(str, "/rom@genroms/linuxboot.bin\n");
	for (; bc && *order; order++) {
		enum gh_drive_media want = *order == 'c' ? GH_DRIVE_DISK :
					   *order == 'd' ? GH_DRIVE_CDROM :
							   GH_DRIVE_NONE;

		for (unsigned i = 0; want && i < GH_BOARD_IDE_SLOTS; i++)
			if (bc->ide[i].media == want)
				g_string_append_printf(str, "/pci@i0cf8/ide@1,1/"
						       "drive@%u/disk@%u\n",
						       i / 2, i % 2);
	}
	len = str->len;
	return add_file(s, "bootorder", (uint8_t *)g_string_free(str, FALSE),
			len);
}

static int add_items(struct fw_cfg *s, unsigned ncpus,
		     const struct gh_board_config *board, struct gh_error *err)
{
	static const uint8_t uuid[16];
	uint8_t *numa;
	int ret = 0;

	ret |= add_bytes(s, GH_FW_CFG_SIGNATURE, "QEMU", 4);
	ret |= add_le(s, GH_FW_CFG_ID, GH_FW_CFG_VERSION | GH_FW_CFG_VERSION_DMA, 4);
	ret |= add_bytes(s, GH_FW_CFG_UUID, uuid, sizeof(uuid));
	ret |= add_le(s, GH_FW_CFG_RAM_SIZE, gh_vm_ram_size(s->vm), 8);
	ret |= add_le(s, GH_FW_CFG_NOGRAPHIC, 0, 2);
	ret |= add_le(s, GH_FW_CFG_NB_CPUS, ncpus, 2);
	ret |= add_le(s, GH_FW_CFG_MAX_CPUS, ncpus, 2);
	/* SeaBIOS shows its boot menu prompt and waits for ESC, as with
	 * QEMU's -boot menu=on, only when asked: QEMU's default is off */
	ret |= add_le(s, GH_FW_CFG_BOOT_MENU, board && board->boot_menu, 2);
	/* the PIT's IRQ 0 is on I/O APIC pin 2, as the MADT says */
	ret |= add_le(s, GH_FW_CFG_IRQ0_OVERRIDE, 1, 4);
	/* no NUMA nodes: a zero count, then a zero node per CPU (QEMU's
	 * layout: count, one u64 per CPU, one u64 per node) */
	numa = g_malloc0(8 * (1 + (size_t)ncpus));
	ret |= add_item(s, GH_FW_CFG_NUMA, NULL, numa, 8 * (1 + (size_t)ncpus));
	if (ret)
		return gh_error_set(err, -ENOSPC, "fw_cfg: too many items");

	ret |= add_bootorder(s, board);
	ret |= add_file(s, "etc/boot-menu-wait",
			g_memdup2(&(uint16_t){ GUINT16_TO_LE(BOOT_MENU_WAIT_MS) }, 2), 2);
	ret |= add_e820(s);
	ret |= add_smbios(s, ncpus);
	if (ret)
		return gh_error_set(err, -ENOSPC, "fw_cfg: too many items");
	ret = add_acpi(s, ncpus, err);
	if (ret < 0)
		return ret;
	if (board && board->kernel && (ret = add_kernel(s, board, err)) < 0)
		return ret;
	if (build_directory(s) < 0)
		return gh_error_set(err, -ENOSPC, "fw_cfg: too many items");
	return 0;
}

/* ---- the guest's side ---- */

static void select_key(struct fw_cfg *s, uint16_t key)
{
	struct fw_cfg_item *it = item_by_key(s, key);

	/* the write channel (0x4000) selects no readable item here */
	s->cur = it ? (int)(it - s->items) : INVALID;
	s->offset = 0;
}

static struct fw_cfg_item *current(struct fw_cfg *s)
{
	return s->cur == INVALID ? NULL : &s->items[s->cur];
}

/* One byte of the selected item; past its end, or with none, 0. */
static uint8_t data_byte(struct fw_cfg *s)
{
	struct fw_cfg_item *it = current(s);

	if (!it || s->offset >= it->len)
		return 0;
	return it->data[s->offset++];
}

/*
 * 0x510 takes the selector as a word; a byte read at 0x510 or 0x511 is
 * data (QEMU's combined port); byte writes (old data writes) are ignored.
 */
static uint64_t ctl_read(void *opaque, uint64_t off, unsigned size)
{
	struct fw_cfg *s = opaque;

	if (size != 1)
		return ~0ULL;
	return data_byte(s);
}

static void ctl_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct fw_cfg *s = opaque;

	if (size == 2 && off == 0)
		select_key(s, val);
}

static const struct gh_io_ops ctl_ops = {
	.read = ctl_read,
	.write = ctl_write,
};

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* Writes the access's control word back; nothing if it is not in RAM. */
static void dma_done(struct fw_cfg *s, uint64_t addr, uint32_t control)
{
	uint8_t be[4] = { control >> 24, control >> 16, control >> 8, control };

	gh_mem_write(gh_vm_memory(s->vm), addr, be, sizeof(be));
}

/* Zeroes guest RAM for a read past the item's end; -EFAULT outside RAM. */
static int dma_zero(struct gh_memory *mem, uint64_t gpa, uint64_t len)
{
	static const uint8_t zero[4096];

	while (len) {
		size_t n = MIN(len, sizeof(zero));

		if (gh_mem_write(mem, gpa, zero, n) < 0)
			return -EFAULT;
		gpa += n;
		len -= n;
	}
	return 0;
}

/*
 * One DMA access (fw_cfg.rst, "DMA interface"): the 16-byte FWCfgDmaAccess
 * at addr says what (select, then read, write or skip), how much and
 * where. The transfer runs at once and ends with the control word cleared,
 * or holding the error bit when the item refuses the access (a write: no
 * item is writable) or the buffer is not wholly in guest RAM. Reading past
 * the item's end reads zeros.
 */
static void dma_transfer(struct fw_cfg *s, uint64_t addr)
{
	struct gh_memory *mem = gh_vm_memory(s->vm);
	uint8_t acc[GH_FW_CFG_DMA_ACCESS_SIZE];
	uint32_t control, len, chunk;
	uint64_t buf;
	bool read, write;

	if (gh_mem_read(mem, addr, acc, sizeof(acc)) < 0) {
		dma_done(s, addr, GH_FW_CFG_DMA_ERROR);
		return;
	}
	control = get_be32(acc);
	len = get_be32(acc + 4);
	buf = (uint64_t)get_be32(acc + 8) << 32 | get_be32(acc + 12);

	if (control & GH_FW_CFG_DMA_SELECT)
		select_key(s, control >> 16);
	read = control & GH_FW_CFG_DMA_READ;
	write = !read && (control & GH_FW_CFG_DMA_WRITE);
	if (!read && !write && !(control & GH_FW_CFG_DMA_SKIP))
		len = 0;
	control = 0;
	while (len && !(control & GH_FW_CFG_DMA_ERROR)) {
		struct fw_cfg_item *it = current(s);

		if (write) {
			control |= GH_FW_CFG_DMA_ERROR;
			break;
		}
		if (!it || s->offset >= it->len) {
			chunk = len;
			if (read && dma_zero(mem, buf, chunk) < 0)
				control |= GH_FW_CFG_DMA_ERROR;
		} else {
			chunk = MIN(len, it->len - s->offset);
			if (read && gh_mem_write(mem, buf, it->data + s->offset,
						 chunk) < 0)
				control |= GH_FW_CFG_DMA_ERROR;
			else
				s->offset += chunk;
		}
		buf += chunk;
		len -= chunk;
	}
	dma_done(s, addr, control);
}

/* Reads give the signature "QEMU CFG" byte by byte in port order. */
static uint64_t dma_read(void *opaque, uint64_t off, unsigned size)
{
	static const char sig[DMA_REG_SIZE] = GH_FW_CFG_DMA_SIGNATURE;
	uint64_t v = 0;

	for (unsigned i = 0; i < size && off + i < DMA_REG_SIZE; i++)
		v |= (uint64_t)(uint8_t)sig[off + i] << (8 * i);
	return v;
}

/*
 * The address register is big-endian: a guest writes the two halves as
 * dwords in big-endian byte order, the high one (at 0x514) first; the low
 * one (at 0x518) starts the transfer. Other widths are ignored, as QEMU.
 */
static void dma_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct fw_cfg *s = opaque;
	uint32_t half = GUINT32_SWAP_LE_BE((uint32_t)val);
	uint64_t addr;

	if (size != 4)
		return;
	if (off == 0) {
		s->dma_addr = (uint64_t)half << 32;
	} else if (off == 4) {
		addr = s->dma_addr | half;
		s->dma_addr = 0;
		dma_transfer(s, addr);
	}
}

static const struct gh_io_ops dma_ops = {
	.read = dma_read,
	.write = dma_write,
};

static void fw_cfg_reset(void *dev)
{
	struct fw_cfg *s = dev;

	s->cur = INVALID;
	s->offset = 0;
	s->dma_addr = 0;
}

static void fw_cfg_unrealize(void *dev)
{
	struct fw_cfg *s = dev;

	if (s->mapped_dma)
		gh_bus_unmap(gh_vm_pio(s->vm), GH_FW_CFG_PORT_DMA);
	if (s->mapped_ctl)
		gh_bus_unmap(gh_vm_pio(s->vm), GH_FW_CFG_PORT_SEL);
	while (s->n)
		g_free(s->items[--s->n].owned);
	gh_x86_linux_fw_image_free(&s->kernel);
}

static int fw_cfg_realize(void *dev, struct gh_vm *vm,
			  const struct gh_device_cfg *cfg, struct gh_error *err)
{
	struct fw_cfg *s = dev;
	/* a VM without CPUs (device tests) is described with one */
	unsigned ncpus = cfg->ncpus ? cfg->ncpus : MAX(gh_vm_ncpus(vm), 1u);
	int ret;

	s->vm = vm;
	ret = add_items(s, ncpus, cfg->board, err);
	if (ret < 0)
		goto err;
	ret = gh_bus_map(gh_vm_pio(vm), GH_FW_CFG_PORT_SEL, 2, &ctl_ops, s,
			 "fw_cfg");
	if (ret < 0) {
		gh_error_set(err, ret, "fw_cfg: ports 0x510-0x511 are taken");
		goto err;
	}
	s->mapped_ctl = true;
	ret = gh_bus_map(gh_vm_pio(vm), GH_FW_CFG_PORT_DMA, DMA_REG_SIZE,
			 &dma_ops, s, "fw_cfg-dma");
	if (ret < 0) {
		gh_error_set(err, ret, "fw_cfg: ports 0x514-0x51b are taken");
		goto err;
	}
	s->mapped_dma = true;
	fw_cfg_reset(s);
	return 0;

err:
	fw_cfg_unrealize(s);
	return ret;
}

const struct gh_device_type gh_fw_cfg_type = {
	.name = "fw_cfg",
	.level = 1,
	.size = sizeof(struct fw_cfg),
	.realize = fw_cfg_realize,
	.reset = fw_cfg_reset,
	.unrealize = fw_cfg_unrealize,
};
