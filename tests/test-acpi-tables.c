/*
 * Tests of the ACPI and MP tables the direct-boot loaders write: found the
 * way a kernel finds them (the RSDP and MP scans of the BIOS area), every
 * checksum and length, the FADT, MADT and HPET fields the devices depend
 * on, and, where Debian's acpica-tools is installed, iasl's disassembly.
 */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "bytes.h"
#include "gh/memory.h"
#include "gh/x86-acpi.h"

#define RAM_SIZE (16u << 20)

struct fix {
	struct gh_memory *mem;
	uint8_t *ram;
};

static void setup(struct fix *f, unsigned ncpus)
{
	struct gh_error err = { 0 };
	uint64_t rsdp = 0;

	f->mem = gh_memory_new();
	f->ram = g_malloc0(RAM_SIZE);
	g_assert_cmpint(gh_memory_add(f->mem, 0, RAM_SIZE, f->ram, GH_MEM_RAM,
				      "ram"), ==, 0);
	g_assert_cmpint(gh_x86_build_tables(f->mem, ncpus, &rsdp, &err), ==, 0);
	g_assert_cmphex(rsdp, >=, 0xe0000);
	g_assert_cmphex(rsdp, <, 0x100000);
	g_assert_cmphex(rsdp % 16, ==, 0);
}

static void teardown(struct fix *f)
{
	gh_memory_free(f->mem);
	g_free(f->ram);
}

/* ACPI 6.3, 5.2.5.1: on 16-byte boundaries of 0xE0000-0xFFFFF. */
static const uint8_t *find_rsdp(struct fix *f)
{
	for (uint32_t a = 0xe0000; a < 0x100000; a += 16)
		if (!memcmp(f->ram + a, "RSD PTR ", 8) && !sum8(f->ram + a, 20))
			return f->ram + a;
	return NULL;
}

/* A table by address: its header checked, or the test fails. */
static const uint8_t *table(struct fix *f, uint64_t addr, const char *sig)
{
	const uint8_t *t;
	uint32_t len;

	g_assert_cmphex(addr, <, RAM_SIZE - 36);
	t = f->ram + addr;
	g_assert_cmpmem(t, 4, sig, 4);
	len = le32(t + 4);
	g_assert_cmpuint(len, >=, 36);
	g_assert_cmphex(addr + len, <=, 0x100000);
	g_assert_cmpuint(sum8(t, len), ==, 0);
	g_assert_cmpmem(t + 10, 6, "GHOUSE", 6);
	return t;
}

/* The table with signature sig that the XSDT lists (and the RSDT too). */
static const uint8_t *find_table(struct fix *f, const char *sig)
{
	const uint8_t *rsdp = find_rsdp(f), *xsdt, *rsdt, *found = NULL;
	unsigned n;

	g_assert_nonnull(rsdp);
	xsdt = table(f, le64(rsdp + 24), "XSDT");
	rsdt = table(f, le32(rsdp + 16), "RSDT");
	n = (le32(xsdt + 4) - 36) / 8;
	g_assert_cmpuint(le32(xsdt + 4), ==, 36 + 8 * n);
	g_assert_cmpuint(le32(rsdt + 4), ==, 36 + 4 * n);
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = le64(xsdt + 36 + 8 * i);

		g_assert_cmphex(le32(rsdt + 36 + 4 * i), ==, a);
		if (!memcmp(f->ram + a, sig, 4)) {
			g_assert_null(found);
			found = table(f, a, sig);
		}
	}
	return found;
}

static void test_rsdp(void)
{
	struct fix f;
	const uint8_t *r;

	setup(&f, 1);
	r = find_rsdp(&f);
	g_assert_nonnull(r);
	g_assert_cmpuint(r[15], ==, 2);
	g_assert_cmpuint(le32(r + 20), ==, 36);
	g_assert_cmpuint(sum8(r, 36), ==, 0);
	g_assert_cmpmem(r + 9, 6, "GHOUSE", 6);
	/* all the tables the kernel needs, and nothing twice */
	g_assert_nonnull(find_table(&f, "FACP"));
	g_assert_nonnull(find_table(&f, "APIC"));
	g_assert_nonnull(find_table(&f, "HPET"));
	g_assert_null(find_table(&f, "SSDT"));
	teardown(&f);
}

static void check_gas(const uint8_t *g, uint8_t space, uint8_t bits, uint64_t addr)
{
	g_assert_cmpuint(g[0], ==, space);
	g_assert_cmpuint(g[1], ==, bits);
	g_assert_cmpuint(g[2], ==, 0);
	g_assert_cmphex(le64(g + 4), ==, addr);
}

static void test_fadt(void)
{
	struct fix f;
	const uint8_t *fadt, *facs, *dsdt;
	uint32_t flags;

	setup(&f, 1);
	fadt = find_table(&f, "FACP");
	g_assert_cmpuint(le32(fadt + 4), ==, 276);
	g_assert_cmpuint(fadt[8], ==, 6);
	g_assert_cmphex(le64(fadt + 132), ==, le32(fadt + 36));
	g_assert_cmphex(le64(fadt + 140), ==, le32(fadt + 40));
	facs = f.ram + le32(fadt + 36);
	g_assert_cmphex(le32(fadt + 36) % 64, ==, 0);
	g_assert_cmpmem(facs, 4, "FACS", 4);
	g_assert_cmpuint(le32(facs + 4), >=, 64);
	dsdt = table(&f, le32(fadt + 40), "DSDT");
	g_assert_cmpuint(dsdt[8], ==, 2);

	g_assert_cmpuint(le16(fadt + 46), ==, 9);		/* SCI_INT */
	g_assert_cmphex(le32(fadt + 56), ==, GH_ACPI_PM1A_EVT);
	g_assert_cmphex(le32(fadt + 64), ==, GH_ACPI_PM1A_CNT);
	g_assert_cmphex(le32(fadt + 76), ==, GH_ACPI_PM_TMR);
	g_assert_cmpuint(fadt[88], ==, 4);
	g_assert_cmpuint(fadt[89], ==, 2);
	g_assert_cmpuint(fadt[91], ==, 4);
	g_assert_cmpuint(fadt[92], ==, 0);			/* no GPE0 */
	flags = le32(fadt + 112);
	g_assert_true(flags & (1u << 8));			/* TMR_VAL_EXT */
	g_assert_true(flags & (1u << 10));			/* RESET_REG_SUP */
	g_assert_false(flags & (1u << 20));			/* not HW_REDUCED */
	g_assert_false(flags & (1u << 4));			/* fixed power button */
	check_gas(fadt + 116, 1, 8, GH_ACPI_RESET_PORT);
	g_assert_cmphex(fadt[128], ==, GH_ACPI_RESET_VALUE);
	check_gas(fadt + 148, 1, 32, GH_ACPI_PM1A_EVT);
	check_gas(fadt + 172, 1, 16, GH_ACPI_PM1A_CNT);
	check_gas(fadt + 208, 1, 32, GH_ACPI_PM_TMR);
	check_gas(fadt + 160, 0, 0, 0);				/* no PM1b */
	teardown(&f);
}

/* \_S5 as AML: Name(\_S5_, Package(4) { 5, 5, 0, 0 }) (20.2.5.1, 20.2.5.4) */
static void test_dsdt_s5(void)
{
	struct fix f;
	const uint8_t *fadt, *dsdt, *p;
	static const uint8_t s5[] = {
		0x08, 0x5c, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
		0x0a, GH_ACPI_SLP_TYP_S5, 0x0a, GH_ACPI_SLP_TYP_S5, 0x00, 0x00,
	};
	uint32_t len;

	setup(&f, 1);
	fadt = find_table(&f, "FACP");
	dsdt = table(&f, le32(fadt + 40), "DSDT");
	len = le32(dsdt + 4);
	p = memmem(dsdt + 36, len - 36, s5, sizeof(s5));
	g_assert_nonnull(p);
	/* the HPET device's _HID, EISAID("PNP0103") */
	p = memmem(dsdt + 36, len - 36, "_HID\x0c\x41\xd0\x01\x03", 9);
	g_assert_nonnull(p);
	/* the i8042's keyboard and mouse, PNP0303 and PNP0F13, which
	 * SeaBIOS looks for before it sets up a PS/2 keyboard */
	p = memmem(dsdt + 36, len - 36, "_HID\x0c\x41\xd0\x03\x03", 9);
	g_assert_nonnull(p);
	p = memmem(dsdt + 36, len - 36, "_HID\x0c\x41\xd0\x0f\x13", 9);
	g_assert_nonnull(p);
	teardown(&f);
}

/*
 * The linker/loader blobs are the same tables: placed where the direct-boot
 * loader puts them (the RSDP at the area's start, the tables blob from the
 * FACS on) and linked by their pointer and checksum lists, they come out
 * byte for byte as the direct-boot tables, so no pointer is left unlisted.
 */
static void test_blobs(void)
{
	const uint32_t rsdp_gpa = GH_X86_TABLES_ADDR, tables_gpa = 0xf1000;
	struct gh_acpi_blobs b;
	struct gh_error err = { 0 };
	uint8_t *rsdp, *tables;
	struct fix f;

	g_assert_cmpint(gh_x86_build_acpi_blobs(0, &b, &err), ==, -EINVAL);
	for (unsigned ncpus = 1; ncpus <= 8; ncpus *= 8) {
		setup(&f, ncpus);
		g_assert_cmpint(gh_x86_build_acpi_blobs(ncpus, &b, &err), ==, 0);
		rsdp = b.data[GH_ACPI_BLOB_RSDP];
		tables = b.data[GH_ACPI_BLOB_TABLES];
		g_assert_cmpuint(b.size[GH_ACPI_BLOB_RSDP], ==, 36);
		for (unsigned i = 0; i < b.npointers; i++) {
			uint8_t *p = b.data[b.pointers[i].blob] + b.pointers[i].offset;

			g_assert_cmpuint(b.pointers[i].offset + b.pointers[i].size,
					 <=, b.size[b.pointers[i].blob]);
			if (b.pointers[i].size == 8) {
				g_assert_cmpuint(le64(p), <, b.size[GH_ACPI_BLOB_TABLES]);
				put_le64(p, le64(p) + tables_gpa);
			} else {
				g_assert_cmpuint(b.pointers[i].size, ==, 4);
				g_assert_cmpuint(le32(p), <, b.size[GH_ACPI_BLOB_TABLES]);
				put_le32(p, le32(p) + tables_gpa);
			}
		}
		for (unsigned i = 0; i < b.nchecksums; i++) {
			const struct gh_acpi_checksum *c = &b.checksums[i];
			uint8_t *d = b.data[c->blob];

			g_assert_cmpuint(c->start + c->length, <=, b.size[c->blob]);
			d[c->field] -= sum8(d + c->start, c->length);
		}
		g_assert_cmpmem(rsdp, 36, f.ram + rsdp_gpa, 36);
		g_assert_cmpmem(tables, b.size[GH_ACPI_BLOB_TABLES],
				f.ram + tables_gpa, b.size[GH_ACPI_BLOB_TABLES]);
		gh_x86_acpi_blobs_free(&b);
		teardown(&f);
	}
}

static void check_madt(unsigned ncpus)
{
	struct fix f;
	const uint8_t *m, *p, *end;
	unsigned lapics = 0, ioapics = 0, nmis = 0;
	bool irq0 = false, sci = false;

	setup(&f, ncpus);
	m = find_table(&f, "APIC");
	g_assert_cmphex(le32(m + 36), ==, GH_LAPIC_BASE);
	g_assert_cmphex(le32(m + 40) & 1, ==, 1);	/* PCAT_COMPAT: 8259s */
	end = m + le32(m + 4);
	for (p = m + 44; p < end; p += p[1]) {
		g_assert_cmpuint(p[1], >=, 2);
		g_assert_true(p + p[1] <= end);
		switch (p[0]) {
		case 0:
			g_assert_cmpuint(p[1], ==, 8);
			g_assert_cmpuint(p[3], ==, lapics);	/* APIC id */
			g_assert_cmpuint(p[2], ==, lapics);	/* UID */
			g_assert_cmphex(le32(p + 4), ==, 1);
			lapics++;
			break;
		case 1:
			g_assert_cmpuint(p[1], ==, 12);
			g_assert_cmpuint(p[2], ==, ncpus);
			g_assert_cmphex(le32(p + 4), ==, GH_IOAPIC_BASE);
			g_assert_cmpuint(le32(p + 8), ==, 0);
			ioapics++;
			break;
		case 2:
			g_assert_cmpuint(p[1], ==, 10);
			g_assert_cmpuint(p[2], ==, 0);
			if (p[3] == 0) {
				g_assert_cmpuint(le32(p + 4), ==, 2);
				g_assert_cmphex(le16(p + 8), ==, 0x5);
				irq0 = true;
			} else {
				g_assert_cmpuint(p[3], ==, 9);
				g_assert_cmpuint(le32(p + 4), ==, 9);
				g_assert_cmphex(le16(p + 8), ==, 0xd);
				sci = true;
			}
			break;
		case 4:
			g_assert_cmpuint(p[1], ==, 6);
			g_assert_cmpuint(p[2], ==, 0xff);
			g_assert_cmpuint(p[5], ==, 1);		/* LINT1 */
			nmis++;
			break;
		default:
			g_assert_not_reached();
		}
	}
	g_assert_true(p == end);
	g_assert_cmpuint(lapics, ==, ncpus);
	g_assert_cmpuint(ioapics, ==, 1);
	g_assert_cmpuint(nmis, ==, 1);
	g_assert_true(irq0);
	g_assert_true(sci);
	teardown(&f);
}

static void test_madt(void)
{
	check_madt(1);
	check_madt(2);
	check_madt(7);
	check_madt(64);
}

static void test_hpet(void)
{
	struct fix f;
	const uint8_t *h;

	setup(&f, 2);
	h = find_table(&f, "HPET");
	g_assert_cmpuint(le32(h + 4), ==, 56);
	g_assert_cmphex(le32(h + 36), ==, GH_HPET_ID);
	g_assert_cmphex(le32(h + 36) >> 16, ==, 0x8086);
	g_assert_cmpuint((le32(h + 36) >> 8 & 0x1f) + 1, ==, 3);
	check_gas(h + 40, 0, 64, GH_HPET_BASE);
	teardown(&f);
}

static void check_mp(unsigned ncpus)
{
	struct fix f;
	const uint8_t *mpf = NULL, *mpc, *p, *end;
	unsigned n, cpus = 0, buses = 0, ioapics = 0, intin[24] = { 0 };
	unsigned lints = 0, extint = 0;

	setup(&f, ncpus);
	/* MP 1.4, 4: the BIOS ROM area is one of the places searched */
	for (uint32_t a = 0xf0000; a < 0x100000 && !mpf; a += 16)
		if (!memcmp(f.ram + a, "_MP_", 4))
			mpf = f.ram + a;
	g_assert_nonnull(mpf);
	g_assert_cmpuint(mpf[8], ==, 1);
	g_assert_cmpuint(mpf[9], ==, 4);
	g_assert_cmpuint(sum8(mpf, 16), ==, 0);
	g_assert_cmpuint(mpf[11], ==, 0);		/* a table, not a default */
	mpc = f.ram + le32(mpf + 4);
	g_assert_cmpmem(mpc, 4, "PCMP", 4);
	g_assert_cmpuint(sum8(mpc, le16(mpc + 4)), ==, 0);
	g_assert_cmphex(le32(mpc + 36), ==, GH_LAPIC_BASE);
	n = le16(mpc + 34);
	end = mpc + le16(mpc + 4);
	p = mpc + 44;
	for (unsigned i = 0; i < n; i++) {
		g_assert_true(p < end);
		switch (p[0]) {
		case 0:
			g_assert_cmpuint(p[1], ==, cpus);
			g_assert_cmpuint(p[3] & 1, ==, 1);
			g_assert_cmpuint(!!(p[3] & 2), ==, cpus == 0);
			cpus++;
			p += 20;
			continue;
		case 1:
			g_assert_cmpmem(p + 2, 6, "ISA   ", 6);
			buses++;
			break;
		case 2:
			g_assert_cmpuint(p[1], ==, ncpus);
			g_assert_cmphex(le32(p + 4), ==, GH_IOAPIC_BASE);
			ioapics++;
			break;
		case 3:
			g_assert_cmpuint(p[6], ==, ncpus);
			g_assert_cmpuint(p[7], <, 24);
			if (p[1] == 3) {
				extint++;
				break;
			}
			g_assert_cmpuint(p[1], ==, 0);
			intin[p[7]]++;
			/* IRQ 0 on pin 2, the others on their own */
			g_assert_cmpuint(p[7], ==, p[5] == 0 ? 2 : p[5]);
			break;
		case 4:
			g_assert_cmpuint(p[6], ==, 0xff);
			lints++;
			break;
		default:
			g_assert_not_reached();
		}
		p += 8;
	}
	g_assert_true(p == end);
	g_assert_cmpuint(cpus, ==, ncpus);
	g_assert_cmpuint(buses, ==, 1);
	g_assert_cmpuint(ioapics, ==, 1);
	g_assert_cmpuint(extint, ==, 1);
	g_assert_cmpuint(lints, ==, 2);
	for (unsigned i = 0; i < 16; i++)
		g_assert_cmpuint(intin[i], ==, i == 0 ? 0 : 1);
	teardown(&f);
}

static void test_mptable(void)
{
	check_mp(1);
	check_mp(4);
	check_mp(64);
}

static void test_bad(void)
{
	struct gh_memory *mem = gh_memory_new();
	uint8_t *ram = g_malloc0(0xa0000);
	struct gh_error err = { 0 };
	uint64_t rsdp = 0;

	g_assert_cmpint(gh_x86_build_tables(mem, 1, &rsdp, &err), ==, -ENOMEM);
	g_assert_cmpint(gh_memory_add(mem, 0, 0xa0000, ram, GH_MEM_RAM, "low"), ==, 0);
	/* RAM below 640 KiB only: the BIOS area is not there */
	err = (struct gh_error){ 0 };
	g_assert_cmpint(gh_x86_build_tables(mem, 1, &rsdp, &err), ==, -ENOMEM);
	g_assert_cmpstr(err.msg, !=, "");
	err = (struct gh_error){ 0 };
	g_assert_cmpint(gh_x86_build_tables(mem, 0, &rsdp, &err), ==, -EINVAL);
	err = (struct gh_error){ 0 };
	g_assert_cmpint(gh_x86_build_tables(mem, 65, &rsdp, &err), ==, -EINVAL);
	g_assert_cmpuint(rsdp, ==, 0);
	gh_memory_free(mem);
	g_free(ram);
}

/* The tables the ACPICA tools read, as files: the DSDT through the FADT. */
static const char *const tool_sigs[] = { "FACP", "DSDT", "APIC", "HPET" };

static char *write_table(struct fix *f, const char *dir, const char *sig)
{
	char *path = g_strdup_printf("%s/%s.dat", dir, sig);
	const uint8_t *t;

	if (!strcmp(sig, "DSDT"))
		t = table(f, le32(find_table(f, "FACP") + 40), "DSDT");
	else
		t = find_table(f, sig);
	g_assert_true(g_file_set_contents(path, (const char *)t, le32(t + 4), NULL));
	return path;
}

/* Every table through iasl's disassembler: no errors, no checksum warnings. */
static void test_iasl(void)
{
	char *iasl = g_find_program_in_path("iasl");
	g_autofree char *dir = NULL;
	struct fix f;

	if (!iasl) {
		g_test_skip("iasl is not installed (Debian: acpica-tools)");
		return;
	}
	dir = g_dir_make_tmp("gh-acpi-XXXXXX", NULL);
	g_assert_nonnull(dir);
	setup(&f, 4);
	for (unsigned i = 0; i < G_N_ELEMENTS(tool_sigs); i++) {
		g_autofree char *dat = write_table(&f, dir, tool_sigs[i]);
		g_autofree char *dsl = g_strdup_printf("%s/%s.dsl", dir, tool_sigs[i]);
		g_autofree char *out = NULL, *errs = NULL, *text = NULL;
		char *argv[] = { iasl, "-d", dat, NULL };
		int status = -1;

		g_assert_true(g_spawn_sync(dir, argv, NULL, G_SPAWN_DEFAULT, NULL,
					   NULL, &out, &errs, &status, NULL));
		g_test_message("iasl -d %s: %s%s", tool_sigs[i], out, errs);
		g_assert_cmpint(status, ==, 0);
		g_assert_true(g_file_get_contents(dsl, &text, NULL, NULL));
		g_assert_null(strstr(text, "**** "));	/* iasl's error marks */
		g_assert_null(strstr(text, "Incorrect checksum"));
		g_assert_null(strstr(text, "Invalid"));
		if (!strcmp(tool_sigs[i], "DSDT")) {
			g_assert_nonnull(strstr(text, "Name (\\_S5, Package (0x04)"));
			g_assert_nonnull(strstr(text, "Device (HPET)"));
			g_assert_nonnull(strstr(text, "Memory32Fixed (ReadOnly"));
			/* PCI bus 0's root bridge and its windows */
			g_assert_nonnull(strstr(text, "Device (PCI0)"));
			g_assert_nonnull(strstr(text, "EisaId (\"PNP0A03\")"));
			g_assert_nonnull(strstr(text, "WordBusNumber (ResourceProducer"));
			g_assert_nonnull(strstr(text, "WordIO (ResourceProducer"));
			g_assert_nonnull(strstr(text, "DWordMemory (ResourceProducer"));
			g_assert_nonnull(strstr(text, "0xFEBFFFFF"));
		}
		g_unlink(dsl);
		g_unlink(dat);
	}
	g_rmdir(dir);
	teardown(&f);
	g_free(iasl);
}

/*
 * ACPICA's own interpreter loads the tables as a kernel's ACPI core would
 * and evaluates \_S5: no warnings, and the SLP_TYP acpi-pm takes.
 */
static void test_acpiexec(void)
{
	char *acpiexec = g_find_program_in_path("acpiexec");
	g_autofree char *dir = NULL, *out = NULL, *errs = NULL, *want = NULL;
	char *argv[3 + G_N_ELEMENTS(tool_sigs) + 1] = { acpiexec, "-b", "evaluate \\_S5" };
	int status = -1;
	struct fix f;

	if (!acpiexec) {
		g_test_skip("acpiexec is not installed (Debian: acpica-tools)");
		return;
	}
	dir = g_dir_make_tmp("gh-acpi-XXXXXX", NULL);
	g_assert_nonnull(dir);
	setup(&f, 2);
	for (unsigned i = 0; i < G_N_ELEMENTS(tool_sigs); i++)
		argv[3 + i] = write_table(&f, dir, tool_sigs[i]);
	g_assert_true(g_spawn_sync(dir, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
				   &out, &errs, &status, NULL));
	g_test_message("acpiexec: %s%s", out, errs);
	g_assert_cmpint(status, ==, 0);
	g_assert_null(strstr(out, "Warning"));
	g_assert_null(strstr(out, "Error"));
	g_assert_nonnull(strstr(out, "[Package] Contains 4 Elements"));
	want = g_strdup_printf("[Integer] = %016X", GH_ACPI_SLP_TYP_S5);
	g_assert_nonnull(strstr(out, want));
	for (unsigned i = 0; i < G_N_ELEMENTS(tool_sigs); i++) {
		g_unlink(argv[3 + i]);
		g_free(argv[3 + i]);
	}
	g_rmdir(dir);
	teardown(&f);
	g_free(acpiexec);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/acpi-tables/rsdp", test_rsdp);
	g_test_add_func("/acpi-tables/fadt", test_fadt);
	g_test_add_func("/acpi-tables/dsdt-s5", test_dsdt_s5);
	g_test_add_func("/acpi-tables/blobs", test_blobs);
	g_test_add_func("/acpi-tables/madt", test_madt);
	g_test_add_func("/acpi-tables/hpet", test_hpet);
	g_test_add_func("/acpi-tables/mptable", test_mptable);
	g_test_add_func("/acpi-tables/bad", test_bad);
	g_test_add_func("/acpi-tables/iasl", test_iasl);
	g_test_add_func("/acpi-tables/acpiexec", test_acpiexec);
	return g_test_run();
}
