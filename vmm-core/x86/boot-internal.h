/*
 * What the direct-boot loaders (linux.c, multiboot.c) share: little-endian
 * accessors, the e820 checks, guest writes and the flat protected-mode entry.
 */
#ifndef GH_X86_BOOT_INTERNAL_H
#define GH_X86_BOOT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gh/x86-boot.h"

struct gh_e820_entry;

/*
 * Both loaders keep the same small area below 640 KiB:
 *   0x06000  GDT: null, null, code 0x10, data 0x18
 *   0x06020  ..0x07000 stack
 */
#define GH_X86_GDT_ADDR		0x6000ULL
#define GH_X86_GDT_SIZE		32
#define GH_X86_STACK_TOP	0x7000ULL
#define GH_X86_BOOT_CS		0x10	/* Linux's __BOOT_CS */
#define GH_X86_BOOT_DS		0x18	/* Linux's __BOOT_DS */

#define GH_X86_PAGE_SIZE	4096ULL
#define GH_X86_FOUR_GIB		0x100000000ULL

/* Multiboot v1, 3.1.1: the header magic and the window it is searched in */
#define GH_X86_MB_MAGIC		0x1badb002u
#define GH_X86_MB_SEARCH	8192

uint16_t gh_x86_get16(const uint8_t *p);
uint32_t gh_x86_get32(const uint8_t *p);
uint64_t gh_x86_get64(const uint8_t *p);
void gh_x86_put16(uint8_t *p, uint16_t v);
void gh_x86_put32(uint8_t *p, uint32_t v);
void gh_x86_put64(uint8_t *p, uint64_t v);
/* One e820 entry as the BIOS returns it: base, length, type in 20 bytes. */
void gh_x86_put_e820(uint8_t *p, const struct gh_e820_entry *e);

/* boot.rst: the boot sector signature and "HdrS" at 0x202. */
bool gh_x86_is_bzimage(const uint8_t *p, size_t size);

/*
 * Offset of the first Multiboot magic in the search window, or -1. With
 * valid_only, a magic whose checksum does not add up is skipped.
 */
long gh_x86_find_multiboot(const uint8_t *p, size_t size, bool valid_only);

/* True if [addr, addr + len) is wholly covered by e820 RAM ranges. */
bool gh_x86_e820_covers(const struct gh_e820_entry *e, unsigned n, uint64_t addr,
			uint64_t len);
/* Bytes of contiguous e820 RAM from start on. */
uint64_t gh_x86_e820_ram_from(const struct gh_e820_entry *e, unsigned n,
			      uint64_t start);
/* All guest RAM in MiB, for messages. */
unsigned long long gh_x86_ram_mib(const struct gh_memory *mem);

/* Copies buf to guest RAM at gpa; an error names the file and the range. */
__attribute__((warn_unused_result))
int gh_x86_boot_write(struct gh_memory *mem, uint64_t gpa, const void *buf,
		      size_t len, const char *name, struct gh_error *err);

/*
 * Resets *cpu to flat protected mode as both protocols enter it: CS and DS
 * (and ES, SS, FS, GS) 4 GiB segments from gdt, which is filled in to be
 * written at GH_X86_GDT_ADDR; interrupts off, no IDT, ESP at
 * GH_X86_STACK_TOP. A long_mode CS is 64-bit; paging is the caller's.
 */
void gh_x86_boot_flat_state(struct gh_cpu_state *cpu, uint8_t gdt[GH_X86_GDT_SIZE],
			    bool long_mode);

/* The byte that makes len bytes sum to 0 (ACPI and MP table checksums). */
uint8_t gh_x86_checksum(const uint8_t *p, size_t len);

/*
 * The MP floating pointer and configuration table (acpi.c's table area
 * layout: at offset GH_X86_MP_OFF of area, which sits at area_gpa).
 */
#define GH_X86_MP_OFF		0x40
#define GH_X86_MP_END		0x1000
void gh_x86_build_mptable(uint8_t *area, uint64_t area_gpa, unsigned ncpus);

#endif
