/*
 * A parallel NOR flash chip with the Intel/Sharp command set and CFI
 * (QEMU's pflash_cfi01, which OVMF's variable driver programs): the UEFI
 * variable store of a VM booted with OVMF.
 */
#ifndef GH_PFLASH_H
#define GH_PFLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gh/error.h"

struct gh_vm;
struct gh_pflash;

/* OVMF's flash block: what one erase clears. */
#define GH_PFLASH_BLOCK	0x1000u

/*
 * A chip of size bytes (whole blocks) at gpa on vm, holding data (kept by
 * the caller, size bytes, e.g. a MAP_SHARED mapping of a file, which then
 * is the store). Reads in array mode come straight from data; programs and
 * erases change data and are synced with msync when data is a file
 * mapping (sync_file). Back in array mode after a VM reset.
 */
__attribute__((warn_unused_result))
int gh_pflash_new(struct gh_vm *vm, uint64_t gpa, void *data, size_t size,
		  bool sync_file, struct gh_pflash **out, struct gh_error *err);
void gh_pflash_free(struct gh_pflash *pf);

#endif
