/*
 * SMBIOS tables (DMTF DSP0134 2.8.0) that firmware installs for the guest:
 * the structure table and a 32-bit entry point whose table address the
 * firmware fills in once it has placed the table (QEMU's fw_cfg files
 * "etc/smbios/smbios-tables" and "etc/smbios/smbios-anchor").
 */
#ifndef GH_X86_SMBIOS_H
#define GH_X86_SMBIOS_H

#include <stddef.h>
#include <stdint.h>

/* The 2.1 (32-bit) entry point structure (5.2.1): "_SM_", 31 bytes. */
#define GH_SMBIOS_ANCHOR_SIZE	31

struct gh_smbios {
	uint8_t *tables;	/* the structures, type 127 last */
	size_t size;
	uint8_t anchor[GH_SMBIOS_ANCHOR_SIZE];
};

/*
 * Types 0, 1, 3, 4 (one per CPU), 16, 17, 19 (one per RAM range below and
 * above 4 GiB), 32 and 127 for a VM of ram_size bytes and ncpus CPUs.
 */
void gh_x86_build_smbios(uint64_t ram_size, unsigned ncpus,
			 struct gh_smbios *out);
void gh_x86_smbios_free(struct gh_smbios *smbios);

#endif
