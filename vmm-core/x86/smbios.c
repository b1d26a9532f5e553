/*
 * SMBIOS 2.8 structures (DMTF DSP0134 2.8.0, section numbers below) for
 * the firmware to install: only what a PC must describe, each structure
 * at the length its 2.8 definition gives, handles numbered by type as in
 * QEMU (type << 8 | instance).
 */
#include "gh/x86-smbios.h"

#include <glib.h>
#include <string.h>

#include "boot-internal.h"
#include "gh/vm.h"

#define VENDOR		"Guesthouse"
#define PRODUCT		"Guesthouse PC (i440FX + PIIX3)"
#define VERSION		"0.1"
#define BIOS_DATE	"01/01/2026"

struct smbios_build {
	GByteArray *b;
	size_t cur;		/* the structure being built */
	unsigned nstrings;
	unsigned count;
	unsigned max_size;
};

static uint8_t *field(struct smbios_build *s, size_t off)
{
	return s->b->data + s->cur + off;
}

/* A structure's formatted area (6.1.2), zeroed, strings to follow. */
static void begin(struct smbios_build *s, uint8_t type, uint8_t len,
		  uint16_t handle)
{
	s->cur = s->b->len;
	g_byte_array_set_size(s->b, s->cur + len);
	memset(field(s, 0), 0, len);
	*field(s, 0) = type;
	*field(s, 1) = len;
	gh_x86_put16(field(s, 2), handle);
	s->nstrings = 0;
}

/* Appends a string and stores its number (1-based) in the byte at off. */
static void string(struct smbios_build *s, size_t off, const char *str)
{
	g_byte_array_append(s->b, (const guint8 *)str, strlen(str) + 1);
	*field(s, off) = ++s->nstrings;
}

/* The string set ends with a second NUL; no strings: two NULs (6.1.3). */
static void end(struct smbios_build *s)
{
	static const uint8_t nul[2];

	g_byte_array_append(s->b, nul, s->nstrings ? 1 : 2);
	s->count++;
	s->max_size = MAX(s->max_size, s->b->len - s->cur);
}

/* BIOS Information (7.1) */
static void type0(struct smbios_build *s)
{
	begin(s, 0, 0x18, 0x0000);
	string(s, 4, VENDOR);
	string(s, 5, VERSION);
	gh_x86_put16(field(s, 6), 0xe800);	/* runtime segment, as SeaBIOS */
	string(s, 8, BIOS_DATE);
	*field(s, 9) = 0;			/* 64 KiB ROM */
	/* bit 3: BIOS characteristics not supported */
	gh_x86_put64(field(s, 0x0a), 1u << 3);
	/* extension byte 2: targeted content distribution, virtual machine */
	*field(s, 0x13) = 1u << 2 | 1u << 4;
	*field(s, 0x16) = 0xff;			/* no embedded controller */
	*field(s, 0x17) = 0xff;
	end(s);
}

/* System Information (7.2); the UUID is all zeros: "not present" (7.2.1) */
static void type1(struct smbios_build *s)
{
	begin(s, 1, 0x1b, 0x0100);
	string(s, 4, VENDOR);
	string(s, 5, PRODUCT);
	string(s, 6, VERSION);
	*field(s, 0x18) = 6;			/* woken by the power switch */
	end(s);
}

/* System Enclosure (7.4) */
static void type3(struct smbios_build *s)
{
	begin(s, 3, 0x16, 0x0300);
	string(s, 4, VENDOR);
	*field(s, 5) = 1;			/* type: other */
	*field(s, 9) = 3;			/* boot-up state: safe */
	*field(s, 0x0a) = 3;			/* power supply: safe */
	*field(s, 0x0b) = 3;			/* thermal: safe */
	*field(s, 0x0c) = 2;			/* security: unknown */
	end(s);
}

/* Processor Information (7.5), one socket per vCPU */
static void type4(struct smbios_build *s, unsigned cpu)
{
	char *socket = g_strdup_printf("CPU %u", cpu);

	begin(s, 4, 0x2a, 0x0400 + cpu);
	string(s, 4, socket);
	*field(s, 5) = 3;			/* central processor */
	*field(s, 6) = 0xfe;			/* family: see family 2 */
	string(s, 7, VENDOR);
	string(s, 0x10, "virtual x86-64 CPU");
	gh_x86_put16(field(s, 0x14), 2000);	/* max speed, MHz */
	gh_x86_put16(field(s, 0x16), 2000);	/* current speed */
	*field(s, 0x18) = 0x41;			/* populated, enabled */
	*field(s, 0x19) = 1;			/* upgrade: other */
	gh_x86_put16(field(s, 0x1a), 0xffff);	/* no cache structures */
	gh_x86_put16(field(s, 0x1c), 0xffff);
	gh_x86_put16(field(s, 0x1e), 0xffff);
	*field(s, 0x23) = 1;			/* cores */
	*field(s, 0x24) = 1;			/* enabled cores */
	*field(s, 0x25) = 1;			/* threads */
	gh_x86_put16(field(s, 0x26), 1u << 2);	/* 64-bit capable */
	gh_x86_put16(field(s, 0x28), 1);	/* family 2: other */
	end(s);
	g_free(socket);
}

/* Physical Memory Array (7.17) with one device */
static void type16(struct smbios_build *s, uint64_t ram_size)
{
	uint64_t kib = ram_size >> 10;

	begin(s, 16, 0x17, 0x1000);
	*field(s, 4) = 3;			/* location: system board */
	*field(s, 5) = 3;			/* use: system memory */
	*field(s, 6) = 3;			/* error correction: none */
	if (kib < 0x80000000u) {
		gh_x86_put32(field(s, 7), (uint32_t)kib);
	} else {
		gh_x86_put32(field(s, 7), 0x80000000u);
		gh_x86_put64(field(s, 0x0f), ram_size);
	}
	gh_x86_put16(field(s, 0x0b), 0xfffe);	/* no error information */
	gh_x86_put16(field(s, 0x0d), 1);
	end(s);
}

/* Memory Device (7.18): all of RAM as one DIMM */
static void type17(struct smbios_build *s, uint64_t ram_size)
{
	uint64_t mib = ram_size >> 20;

	begin(s, 17, 0x28, 0x1100);
	gh_x86_put16(field(s, 4), 0x1000);	/* its array */
	gh_x86_put16(field(s, 6), 0xfffe);
	gh_x86_put16(field(s, 8), 0xffff);	/* widths unknown */
	gh_x86_put16(field(s, 0x0a), 0xffff);
	if (mib < 0x7fff) {
		gh_x86_put16(field(s, 0x0c), (uint16_t)mib);
	} else {
		/* 7.18.5: the size is in the extended field */
		gh_x86_put16(field(s, 0x0c), 0x7fff);
		gh_x86_put32(field(s, 0x1c), (uint32_t)mib);
	}
	*field(s, 0x0e) = 9;			/* form factor: DIMM */
	string(s, 0x10, "DIMM 0");
	*field(s, 0x12) = 7;			/* type: RAM */
	gh_x86_put16(field(s, 0x13), 1u << 1);	/* detail: other */
	string(s, 0x17, VENDOR);
	end(s);
}

/* Memory Array Mapped Address (7.20): addresses in KiB, end inclusive */
static void type19(struct smbios_build *s, unsigned i, uint64_t start,
		   uint64_t size)
{
	begin(s, 19, 0x1f, 0x1300 + i);
	gh_x86_put32(field(s, 4), (uint32_t)(start >> 10));
	gh_x86_put32(field(s, 8), (uint32_t)((start + size - 1) >> 10));
	gh_x86_put16(field(s, 0x0c), 0x1000);
	*field(s, 0x0e) = 1;			/* partition width */
	end(s);
}

/* System Boot Information (7.43): no errors */
static void type32(struct smbios_build *s)
{
	begin(s, 32, 0x0b, 0x2000);
	end(s);
}

/* End-of-Table (7.45) */
static void type127(struct smbios_build *s)
{
	begin(s, 127, 4, 0x7f00);
	end(s);
}

/* The 32-bit entry point (5.2.1); the firmware sets the table address. */
static void anchor(const struct smbios_build *s, uint8_t *a)
{
	memset(a, 0, GH_SMBIOS_ANCHOR_SIZE);
	memcpy(a, "_SM_", 4);
	a[5] = GH_SMBIOS_ANCHOR_SIZE;
	a[6] = 2;				/* version 2.8 */
	a[7] = 8;
	gh_x86_put16(a + 8, s->max_size);
	memcpy(a + 0x10, "_DMI_", 5);
	gh_x86_put16(a + 0x16, s->b->len);
	gh_x86_put16(a + 0x1c, s->count);
	a[0x1e] = 0x28;				/* BCD revision */
	a[0x15] = gh_x86_checksum(a + 0x10, GH_SMBIOS_ANCHOR_SIZE - 0x10);
	a[4] = gh_x86_checksum(a, GH_SMBIOS_ANCHOR_SIZE);
}

void gh_x86_build_smbios(uint64_t ram_size, unsigned ncpus,
			 struct gh_smbios *out)
{
	struct smbios_build s = { .b = g_byte_array_new() };
	uint64_t low = MIN(ram_size, GH_VM_LOWMEM_END);

	type0(&s);
	type1(&s);
	type3(&s);
	for (unsigned i = 0; i < ncpus; i++)
		type4(&s, i);
	type16(&s, ram_size);
	type17(&s, ram_size);
	/* the RAM layout of gh_vm_new: low RAM, the rest from 4 GiB on */
	type19(&s, 0, 0, low);
	if (ram_size > low)
		type19(&s, 1, GH_X86_FOUR_GIB, ram_size - low);
	type32(&s);
	type127(&s);
	anchor(&s, out->anchor);
	out->size = s.b->len;
	out->tables = g_byte_array_free(s.b, FALSE);
}

void gh_x86_smbios_free(struct gh_smbios *smbios)
{
	g_free(smbios->tables);
	smbios->tables = NULL;
	smbios->size = 0;
}
