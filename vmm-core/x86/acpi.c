/*
 * ACPI tables for the direct-boot paths (ACPI 6.3: RSDP 5.2.5, XSDT 5.2.8,
 * FADT 5.2.9, FACS 5.2.10, DSDT 5.2.11.1, MADT 5.2.12, AML 20) and the HPET
 * table (IA-PC HPET 1.0a, 3.2.4). The DSDT is written by a small AML
 * emitter rather than as packed bytes, so its structure reads as ASL would.
 */
#include "gh/x86-acpi.h"

#include <errno.h>
#include <glib.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "boot-internal.h"
#include "gh/memory.h"
#include "gh/vm.h"

#define OEM_ID		"GHOUSE"	/* 6 bytes */
#define OEM_TABLE_ID	"GHPC    "	/* 8 bytes */
#define CREATOR_ID	"GHAM"
#define HDR_SIZE	36

/* Layout of the table area (offsets from GH_X86_TABLES_ADDR). */
#define RSDP_OFF	0x0000
#define RSDP_SIZE	36
#define FACS_OFF	0x1000	/* 64-byte aligned (5.2.10), after the MP table */
#define FACS_SIZE	64
#define TABLES_OFF	0x1040

#define FADT_SIZE	276	/* revision 6 */
#define HPET_SIZE	56

uint8_t gh_x86_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return (uint8_t)-sum;
}

/* ---- AML (ACPI 6.3, 20.2) ---- */

#define AML_ZERO	0x00
#define AML_ONE		0x01
#define AML_NAME	0x08
#define AML_BYTE	0x0a
#define AML_WORD	0x0b
#define AML_DWORD	0x0c
#define AML_STRING	0x0d
#define AML_QWORD	0x0e
#define AML_SCOPE	0x10
#define AML_BUFFER	0x11
#define AML_PACKAGE	0x12
#define AML_EXT		0x5b
#define AML_DEVICE	0x82	/* after AML_EXT */
#define AML_ROOT	0x5c
#define AML_DUAL_NAME	0x2e
#define AML_MULTI_NAME	0x2f

static void aml_byte(GByteArray *b, uint8_t v)
{
	g_byte_array_append(b, &v, 1);
}

/*
 * NameString (20.2.2) from "\\_SB_.HPET"-like paths: an optional root
 * prefix, then 4-character segments separated by dots (short ones padded
 * with '_').
 */
static void aml_namestring(GByteArray *b, const char *path)
{
	gchar **segs;
	guint n, i;

	if (*path == '\\') {
		aml_byte(b, AML_ROOT);
		path++;
	}
	segs = g_strsplit(path, ".", -1);
	n = g_strv_length(segs);
	if (n == 2) {
		aml_byte(b, AML_DUAL_NAME);
	} else if (n > 2) {
		aml_byte(b, AML_MULTI_NAME);
		aml_byte(b, n);
	}
	for (i = 0; i < n; i++) {
		char seg[4] = { '_', '_', '_', '_' };

		memcpy(seg, segs[i], MIN(strlen(segs[i]), 4));
		g_byte_array_append(b, (const guint8 *)seg, 4);
	}
	g_strfreev(segs);
}

/* ComputationalData (20.2.3): the shortest encoding of v. */
static void aml_int(GByteArray *b, uint64_t v)
{
	uint8_t le[8];
	unsigned n;

	if (v == 0) {
		aml_byte(b, AML_ZERO);
		return;
	}
	if (v == 1) {
		aml_byte(b, AML_ONE);
		return;
	}
	if (v <= 0xff) {
		aml_byte(b, AML_BYTE);
		n = 1;
	} else if (v <= 0xffff) {
		aml_byte(b, AML_WORD);
		n = 2;
	} else if (v <= 0xffffffff) {
		aml_byte(b, AML_DWORD);
		n = 4;
	} else {
		aml_byte(b, AML_QWORD);
		n = 8;
	}
	gh_x86_put64(le, v);
	g_byte_array_append(b, le, n);
}

/* Where a PkgLength goes: opened by aml_open, filled in by aml_close. */
static guint aml_open(GByteArray *b)
{
	return b->len;
}

/*
 * PkgLength (20.2.4) counts itself and what follows it up to the end of
 * the object: one byte up to 63, else 2-4 bytes with the low nibble first.
 */
static void aml_close(GByteArray *b, guint start)
{
	guint body = b->len - start, total;
	uint8_t enc[4];
	unsigned n;

	if (body + 1 <= 0x3f) {
		enc[0] = body + 1;
		n = 1;
	} else {
		for (n = 2; n < 4; n++)
			if (body + n < 1u << (4 + 8 * (n - 1)))
				break;
		total = body + n;
		enc[0] = (n - 1) << 6 | (total & 0xf);
		for (unsigned i = 1; i < n; i++)
			enc[i] = total >> (4 + 8 * (i - 1));
	}
	g_byte_array_set_size(b, b->len + n);
	memmove(b->data + start + n, b->data + start, body);
	memcpy(b->data + start, enc, n);
}

/* Name(path, ...): the value follows. */
static void aml_name(GByteArray *b, const char *path)
{
	aml_byte(b, AML_NAME);
	aml_namestring(b, path);
}

/* Package(n) { ... } up to aml_close. */
static guint aml_package(GByteArray *b, unsigned n)
{
	guint start;

	aml_byte(b, AML_PACKAGE);
	start = aml_open(b);
	aml_byte(b, n);
	return start;
}

/* Scope(path) { ... } and Device(name) { ... }, up to aml_close. */
static guint aml_named_block(GByteArray *b, bool ext, uint8_t op, const char *path)
{
	guint start;

	if (ext)
		aml_byte(b, AML_EXT);
	aml_byte(b, op);
	start = aml_open(b);
	aml_namestring(b, path);
	return start;
}

static guint aml_scope(GByteArray *b, const char *path)
{
	return aml_named_block(b, false, AML_SCOPE, path);
}

static guint aml_device(GByteArray *b, const char *name)
{
	return aml_named_block(b, true, AML_DEVICE, name);
}

/* EISAID("PNP0103") (19.6.35): a compressed vendor id and product number. */
static void aml_eisaid(GByteArray *b, const char *id)
{
	uint32_t v = (uint32_t)((id[0] - '@') & 0x1f) << 26 |
		     (uint32_t)((id[1] - '@') & 0x1f) << 21 |
		     (uint32_t)((id[2] - '@') & 0x1f) << 16 |
		     (uint32_t)strtoul(id + 3, NULL, 16);

	/* stored big-endian: the id reads in order in memory */
	aml_int(b, GUINT32_SWAP_LE_BE(v));
}

/* Buffer() holding a resource template: the descriptors and an End Tag. */
static void aml_resources(GByteArray *b, const uint8_t *res, size_t len)
{
	static const uint8_t end[2] = { 0x79, 0 };	/* checksum 0: "valid" */
	guint start;

	aml_byte(b, AML_BUFFER);
	start = aml_open(b);
	aml_int(b, len + sizeof(end));
	g_byte_array_append(b, res, len);
	g_byte_array_append(b, end, sizeof(end));
	aml_close(b, start);
}

/* Device(name) { _HID: EISAID(hid), _CRS: the resources res } */
static void aml_pnp_device(GByteArray *b, const char *name, const char *hid,
			   const uint8_t *res, size_t len)
{
	guint dev = aml_device(b, name);

	aml_name(b, "_HID");
	aml_eisaid(b, hid);
	aml_name(b, "_CRS");
	aml_resources(b, res, len);
	aml_close(b, dev);
}

/* A resource template of one Memory32Fixed (6.4.3.4). */
static void aml_mem32_fixed(GByteArray *b, uint32_t base, uint32_t len, bool rw)
{
	uint8_t res[12] = { 0x86, 9, 0, rw };

	gh_x86_put32(res + 4, base);
	gh_x86_put32(res + 8, len);
	aml_resources(b, res, sizeof(res));
}

/* Word/DWord Address Space Descriptors (6.4.3.5.3, 6.4.3.5.2) */
#define RES_MEMORY	0
#define RES_IO		1
#define RES_BUS		2
/* a producer (the bridge decodes it for its children), min/max fixed */
#define ADDR_FIXED	0x0c

static size_t res_word(uint8_t *p, uint8_t type, uint8_t tflags, uint16_t min,
		       uint16_t max)
{
	uint8_t d[16] = { 0x88, 13, 0, type, ADDR_FIXED, tflags };

	gh_x86_put16(d + 8, min);
	gh_x86_put16(d + 10, max);
	gh_x86_put16(d + 14, max - min + 1);
	memcpy(p, d, sizeof(d));
	return sizeof(d);
}

static size_t res_dword_mem(uint8_t *p, uint32_t min, uint32_t max)
{
	/* cacheable, read-write */
	uint8_t d[26] = { 0x87, 23, 0, RES_MEMORY, ADDR_FIXED, 0x03 };

	gh_x86_put32(d + 10, min);
	gh_x86_put32(d + 14, max);
	gh_x86_put32(d + 22, max - min + 1);
	memcpy(p, d, sizeof(d));
	return sizeof(d);
}

/*
 * The i8042's keyboard and mouse (PNP0303, PNP0F13) behind the PIIX3's ISA
 * bridge (00:01.0): SeaBIOS, having parsed this DSDT, sets up a PS/2
 * keyboard only if the DSDT has one, and an ACPI OS finds the controller
 * through them instead of probing its ports.
 */
static void aml_isa(GByteArray *b)
{
	static const uint8_t kbd[] = {
		0x47, 1, 0x60, 0, 0x60, 0, 1, 1,	/* IO(Decode16, 0x60) */
		0x47, 1, 0x64, 0, 0x64, 0, 1, 1,	/* IO(Decode16, 0x64) */
		0x22, 1 << 1, 0,			/* IRQNoFlags() {1} */
	};
	static const uint8_t mou[] = { 0x22, 0, 1 << (12 - 8) };	/* {12} */
	guint isa;

	isa = aml_device(b, "ISA");
	aml_name(b, "_ADR");
	aml_int(b, 0x00010000);		/* device 1, function 0 */
	aml_pnp_device(b, "KBD", "PNP0303", kbd, sizeof(kbd));
	aml_pnp_device(b, "MOU", "PNP0F13", mou, sizeof(mou));
	aml_close(b, isa);
}

/*
 * PCI bus 0's root bridge (the i440FX) and what it decodes for its
 * devices (PCI Firmware Specification 3.0, 4.1): bus numbers 0-255, the
 * configuration ports, the I/O ports around them, the VGA window and the
 * MMIO hole from 3 GiB to the I/O APIC.
 */
static void aml_pci_root(GByteArray *b)
{
	static const uint8_t conf_io[8] = { 0x47, 1, 0xf8, 0x0c, 0xf8, 0x0c, 1, 8 };
	uint8_t res[16 * 3 + 8 + 26 * 2];
	size_t n = 0;
	guint dev;

	n += res_word(res + n, RES_BUS, 0, 0, 0xff);
	memcpy(res + n, conf_io, sizeof(conf_io));
	n += sizeof(conf_io);
	/* I/O: the whole range (type-specific flags 3) */
	n += res_word(res + n, RES_IO, 3, 0x0000, 0x0cf7);
	n += res_word(res + n, RES_IO, 3, 0x0d00, 0xffff);
	n += res_dword_mem(res + n, 0xa0000, 0xbffff);
	n += res_dword_mem(res + n, GH_VM_LOWMEM_END, 0xfebfffff);
	g_assert(n == sizeof(res));

	dev = aml_device(b, "PCI0");
	aml_name(b, "_HID");
	aml_eisaid(b, "PNP0A03");
	aml_name(b, "_ADR");
	aml_int(b, 0);
	aml_name(b, "_UID");
	aml_int(b, 0);
	aml_name(b, "_CRS");
	aml_resources(b, res, n);
	aml_isa(b);
	aml_close(b, dev);
}

/*
 * The DSDT body: \_S5 for the soft-off PM1a_CNT accepts, the HPET as a
 * device so the OS knows its MMIO range is taken (HPET 1.0a, 3.2.5), and
 * PCI bus 0's root bridge, through which an ACPI OS finds the bus.
 */
static GByteArray *dsdt_aml(void)
{
	GByteArray *b = g_byte_array_new();
	guint pkg, scope, dev;

	aml_name(b, "\\_S5_");
	pkg = aml_package(b, 4);
	aml_int(b, GH_ACPI_SLP_TYP_S5);		/* PM1a_CNT.SLP_TYP */
	aml_int(b, GH_ACPI_SLP_TYP_S5);		/* PM1b_CNT.SLP_TYP (no PM1b) */
	aml_int(b, 0);
	aml_int(b, 0);
	aml_close(b, pkg);

	scope = aml_scope(b, "\\_SB_");
	dev = aml_device(b, "HPET");
	aml_name(b, "_HID");
	aml_eisaid(b, "PNP0103");
	aml_name(b, "_UID");
	aml_int(b, 0);
	aml_name(b, "_CRS");
	aml_mem32_fixed(b, GH_HPET_BASE, GH_HPET_SIZE, false);
	aml_close(b, dev);
	aml_pci_root(b);
	aml_close(b, scope);
	return b;
}

/* ---- tables ---- */

/*
 * Where the tables are built: buf, seen by the guest at base. For the
 * BIOS linker/loader (links non-NULL) base is 0, so every pointer holds an
 * offset into the tables blob, and each pointer and checksum is recorded
 * for the loader script that makes them real once the firmware has placed
 * the blob.
 */
struct area {
	uint8_t *buf;
	size_t next;		/* where the next table goes */
	size_t size;
	uint64_t base;
	struct gh_acpi_blobs *links;
};

static size_t place_aligned(struct area *a, size_t size, size_t align)
{
	size_t off = (a->next + align - 1) & ~(align - 1);

	a->next = off + size;
	g_assert(a->next <= a->size);
	return off;
}

static size_t place(struct area *a, size_t size)
{
	return place_aligned(a, size, 16);
}

static uint64_t gpa(const struct area *a, size_t off)
{
	return a->base + off;
}

/* A size-byte pointer at off in blob to off target of the tables. */
static void put_ptr(struct area *a, uint8_t *blob_base, enum gh_acpi_blob blob,
		    size_t off, unsigned size, size_t target)
{
	uint64_t v = gpa(a, target);
	struct gh_acpi_blobs *l = a->links;

	if (size == 8)
		gh_x86_put64(blob_base + off, v);
	else
		gh_x86_put32(blob_base + off, (uint32_t)v);
	if (!l)
		return;
	g_assert(l->npointers < G_N_ELEMENTS(l->pointers));
	l->pointers[l->npointers++] = (struct gh_acpi_pointer){
		.blob = blob, .offset = off, .size = size,
	};
}

static void add_checksum(struct area *a, enum gh_acpi_blob blob, size_t field,
			 size_t start, size_t len)
{
	struct gh_acpi_blobs *l = a->links;

	if (!l)
		return;
	g_assert(l->nchecksums < G_N_ELEMENTS(l->checksums));
	l->checksums[l->nchecksums++] = (struct gh_acpi_checksum){
		.blob = blob, .field = field, .start = start, .length = len,
	};
}

/* The common header (5.2.6); the checksum is set by finish(). */
static uint8_t *header(struct area *a, size_t off, const char *sig, uint32_t len,
		       uint8_t rev)
{
	uint8_t *h = a->buf + off;

	memcpy(h, sig, 4);
	gh_x86_put32(h + 4, len);
	h[8] = rev;
	memcpy(h + 10, OEM_ID, 6);
	memcpy(h + 16, OEM_TABLE_ID, 8);
	gh_x86_put32(h + 24, 1);
	memcpy(h + 28, CREATOR_ID, 4);
	gh_x86_put32(h + 32, 1);
	return h;
}

static void finish(struct area *a, uint8_t *h)
{
	size_t off = h - a->buf;

	h[9] = 0;
	h[9] = gh_x86_checksum(h, gh_x86_get32(h + 4));
	add_checksum(a, GH_ACPI_BLOB_TABLES, off + 9, off, gh_x86_get32(h + 4));
}

/* Generic Address Structure (5.2.3.2) */
static void gas(uint8_t *p, uint8_t space, uint8_t bits, uint8_t access,
		uint64_t addr)
{
	p[0] = space;
	p[1] = bits;
	p[2] = 0;
	p[3] = access;
	gh_x86_put64(p + 4, addr);
}

#define GAS_MEM		0
#define GAS_IO		1
#define ACCESS_BYTE	1
#define ACCESS_DWORD	3

static size_t build_dsdt(struct area *a)
{
	GByteArray *aml = dsdt_aml();
	size_t off = place(a, HDR_SIZE + aml->len);
	uint8_t *h = header(a, off, "DSDT", HDR_SIZE + aml->len, 2);

	memcpy(h + HDR_SIZE, aml->data, aml->len);
	finish(a, h);
	g_byte_array_free(aml, TRUE);
	return off;
}

/* FACS: nothing waits on the global lock or wakes from S4 here. */
static size_t build_facs(struct area *a)
{
	size_t off = place_aligned(a, FACS_SIZE, 64);	/* 5.2.10 */
	uint8_t *f = a->buf + off;

	memcpy(f, "FACS", 4);
	gh_x86_put32(f + 4, FACS_SIZE);
	f[32] = 2;		/* version */
	return off;
}

/* FADT flags (table 5-34) */
#define FADT_WBINVD		(1u << 0)
#define FADT_PROC_C1		(1u << 2)
#define FADT_SLP_BUTTON		(1u << 5)	/* no fixed sleep button */
#define FADT_FIX_RTC		(1u << 6)	/* no RTC wake status */
#define FADT_TMR_VAL_EXT	(1u << 8)	/* 32-bit PM timer */
#define FADT_RESET_REG_SUP	(1u << 10)
/* IAPC_BOOT_ARCH (table 5-35) */
#define BOOT_LEGACY_DEVICES	(1u << 0)
#define BOOT_8042		(1u << 1)

static size_t build_fadt(struct area *a, size_t facs, size_t dsdt)
{
	size_t off = place(a, FADT_SIZE);
	uint8_t *f = header(a, off, "FACP", FADT_SIZE, 6);

	put_ptr(a, a->buf, GH_ACPI_BLOB_TABLES, off + 36, 4, facs);
	put_ptr(a, a->buf, GH_ACPI_BLOB_TABLES, off + 40, 4, dsdt);
	gh_x86_put16(f + 46, GH_ACPI_SCI_IRQ);
	/*
	 * SMI_CMD 0: there is no SMM and the machine is always in ACPI mode
	 * (SCI_EN reads 1), which 4.8.2.1 allows for a system without legacy
	 * mode.
	 */
	gh_x86_put32(f + 48, 0);
	gh_x86_put32(f + 56, GH_ACPI_PM1A_EVT);
	gh_x86_put32(f + 64, GH_ACPI_PM1A_CNT);
	gh_x86_put32(f + 76, GH_ACPI_PM_TMR);
	f[88] = 4;		/* PM1_EVT_LEN */
	f[89] = 2;		/* PM1_CNT_LEN */
	f[91] = 4;		/* PM_TMR_LEN */
	/* no GPE blocks: lengths 0 */
	gh_x86_put16(f + 96, 101);	/* P_LVL2_LAT > 100: no C2 */
	gh_x86_put16(f + 98, 1001);	/* P_LVL3_LAT > 1000: no C3 */
	f[108] = 0x32;			/* CENTURY: the CMOS century byte */
	gh_x86_put16(f + 109, BOOT_LEGACY_DEVICES | BOOT_8042);
	gh_x86_put32(f + 112, FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON |
			      FADT_FIX_RTC | FADT_TMR_VAL_EXT |
			      FADT_RESET_REG_SUP);
	gas(f + 116, GAS_IO, 8, ACCESS_BYTE, GH_ACPI_RESET_PORT);
	f[128] = GH_ACPI_RESET_VALUE;
	f[131] = 0;		/* FADT minor version */
	put_ptr(a, a->buf, GH_ACPI_BLOB_TABLES, off + 132, 8, facs);
	put_ptr(a, a->buf, GH_ACPI_BLOB_TABLES, off + 140, 8, dsdt);
	gas(f + 148, GAS_IO, 32, 0, GH_ACPI_PM1A_EVT);
	gas(f + 172, GAS_IO, 16, 0, GH_ACPI_PM1A_CNT);
	gas(f + 208, GAS_IO, 32, ACCESS_DWORD, GH_ACPI_PM_TMR);
	memcpy(f + 268, "GHOUSE  ", 8);	/* hypervisor vendor identity */
	finish(a, f);
	return off;
}

/* MADT (5.2.12) entry types and flags */
#define MADT_LAPIC		0
#define MADT_IOAPIC		1
#define MADT_ISO		2
#define MADT_LAPIC_NMI		4
#define MADT_PCAT_COMPAT	(1u << 0)
#define MPS_HIGH_EDGE		0x0005	/* active high, edge (table 5-50) */
#define MPS_HIGH_LEVEL		0x000d	/* active high, level */

static size_t build_madt(struct area *a, unsigned ncpus)
{
	uint32_t len = HDR_SIZE + 8 + 8 * ncpus + 12 + 2 * 10 + 6;
	size_t off = place(a, len);
	uint8_t *m = header(a, off, "APIC", len, 5), *p = m + HDR_SIZE;
	static const struct {
		uint8_t irq, gsi;
		uint16_t flags;
	} isos[] = {
		/* the PIT's IRQ 0 is on I/O APIC pin 2, as on every PC */
		{ 0, 2, MPS_HIGH_EDGE },
		{ GH_ACPI_SCI_IRQ, GH_ACPI_SCI_IRQ, MPS_HIGH_LEVEL },
	};

	gh_x86_put32(p, GH_LAPIC_BASE);
	gh_x86_put32(p + 4, MADT_PCAT_COMPAT);
	p += 8;
	for (unsigned i = 0; i < ncpus; i++, p += 8) {
		p[0] = MADT_LAPIC;
		p[1] = 8;
		p[2] = i;		/* ACPI processor UID */
		p[3] = i;		/* APIC id */
		gh_x86_put32(p + 4, 1);	/* enabled */
	}
	p[0] = MADT_IOAPIC;
	p[1] = 12;
	p[2] = ncpus;
	gh_x86_put32(p + 4, GH_IOAPIC_BASE);
	gh_x86_put32(p + 8, 0);		/* GSI base */
	p += 12;
	for (unsigned i = 0; i < G_N_ELEMENTS(isos); i++, p += 10) {
		p[0] = MADT_ISO;
		p[1] = 10;
		p[2] = 0;		/* ISA */
		p[3] = isos[i].irq;
		gh_x86_put32(p + 4, isos[i].gsi);
		gh_x86_put16(p + 8, isos[i].flags);
	}
	/* NMI on LINT1 of every processor (UID 0xff), as the PC wires it */
	p[0] = MADT_LAPIC_NMI;
	p[1] = 6;
	p[2] = 0xff;
	gh_x86_put16(p + 3, 0);
	p[5] = 1;
	finish(a, m);
	return off;
}

/* HPET description table (HPET 1.0a, 3.2.4) */
static size_t build_hpet(struct area *a)
{
	size_t off = place(a, HPET_SIZE);
	uint8_t *h = header(a, off, "HPET", HPET_SIZE, 1);

	/* event timer block id: GCAP_ID's low half (hpet.c) */
	gh_x86_put32(h + 36, GH_HPET_ID);
	gas(h + 40, GAS_MEM, 64, 0, GH_HPET_BASE);
	h[52] = 0;			/* HPET number */
	gh_x86_put16(h + 53, GH_HPET_MIN_PERIOD);	/* in periodic mode */
	h[55] = 0;			/* no page protection */
	finish(a, h);
	return off;
}

static size_t build_sdt(struct area *a, const char *sig, const size_t *tables,
			unsigned n, unsigned entry)
{
	uint32_t len = HDR_SIZE + n * entry;
	size_t off = place(a, len);
	uint8_t *h = header(a, off, sig, len, 1);

	for (unsigned i = 0; i < n; i++)
		put_ptr(a, a->buf, GH_ACPI_BLOB_TABLES,
			off + HDR_SIZE + i * entry, entry, tables[i]);
	finish(a, h);
	return off;
}

/* The RSDP (5.2.5.3) at r, which is blob r_blob's start. */
static void build_rsdp(struct area *a, uint8_t *r, size_t rsdt, size_t xsdt)
{
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, OEM_ID, 6);
	r[15] = 2;
	put_ptr(a, r, GH_ACPI_BLOB_RSDP, 16, 4, rsdt);
	gh_x86_put32(r + 20, RSDP_SIZE);
	put_ptr(a, r, GH_ACPI_BLOB_RSDP, 24, 8, xsdt);
	/* the first 20 bytes sum to 0, and so do all 36 */
	r[8] = gh_x86_checksum(r, 20);
	r[32] = gh_x86_checksum(r, RSDP_SIZE);
	add_checksum(a, GH_ACPI_BLOB_RSDP, 8, 0, 20);
	add_checksum(a, GH_ACPI_BLOB_RSDP, 32, 0, RSDP_SIZE);
}

/* Everything the RSDP leads to, from a->next on; the RSDP goes to rsdp. */
static void build_acpi(struct area *a, uint8_t *rsdp, unsigned ncpus)
{
	size_t facs, dsdt, tables[3], rsdt, xsdt;

	facs = build_facs(a);
	dsdt = build_dsdt(a);
	tables[0] = build_fadt(a, facs, dsdt);
	tables[1] = build_madt(a, ncpus);
	tables[2] = build_hpet(a);
	rsdt = build_sdt(a, "RSDT", tables, G_N_ELEMENTS(tables), 4);
	xsdt = build_sdt(a, "XSDT", tables, G_N_ELEMENTS(tables), 8);
	build_rsdp(a, rsdp, rsdt, xsdt);
}

static int check_ncpus(unsigned ncpus, struct gh_error *err)
{
	if (ncpus == 0 || ncpus > GH_VM_MAX_CPUS)
		return gh_error_set(err, -EINVAL,
				    "cannot describe %u CPUs (1 to %u)", ncpus,
				    GH_VM_MAX_CPUS);
	return 0;
}

int gh_x86_build_tables(struct gh_memory *mem, unsigned ncpus, uint64_t *rsdp,
			struct gh_error *err)
{
	struct area a = {
		.next = FACS_OFF, .size = GH_X86_TABLES_SIZE,
		.base = GH_X86_TABLES_ADDR,
	};
	int ret = check_ncpus(ncpus, err);

	if (ret < 0)
		return ret;
	a.buf = g_malloc0(GH_X86_TABLES_SIZE);
	gh_x86_build_mptable(a.buf, GH_X86_TABLES_ADDR, ncpus);
	build_acpi(&a, a.buf + RSDP_OFF, ncpus);
	g_assert(FACS_OFF + FACS_SIZE == TABLES_OFF);
	ret = gh_x86_boot_write(mem, GH_X86_TABLES_ADDR, a.buf, a.next,
				"ACPI tables", err);
	g_free(a.buf);
	if (ret == 0)
		*rsdp = GH_X86_TABLES_ADDR + RSDP_OFF;
	return ret;
}

int gh_x86_build_acpi_blobs(unsigned ncpus, struct gh_acpi_blobs *out,
			    struct gh_error *err)
{
	struct area a = { .size = GH_X86_TABLES_SIZE, .links = out };
	int ret = check_ncpus(ncpus, err);

	if (ret < 0)
		return ret;
	memset(out, 0, sizeof(*out));
	a.buf = g_malloc0(a.size);
	out->data[GH_ACPI_BLOB_RSDP] = g_malloc0(RSDP_SIZE);
	out->size[GH_ACPI_BLOB_RSDP] = RSDP_SIZE;
	build_acpi(&a, out->data[GH_ACPI_BLOB_RSDP], ncpus);
	out->data[GH_ACPI_BLOB_TABLES] = g_realloc(a.buf, a.next);
	out->size[GH_ACPI_BLOB_TABLES] = a.next;
	return 0;
}

void gh_x86_acpi_blobs_free(struct gh_acpi_blobs *blobs)
{
	for (unsigned i = 0; i < GH_ACPI_NBLOBS; i++) {
		g_free(blobs->data[i]);
		blobs->data[i] = NULL;
		blobs->size[i] = 0;
	}
}
