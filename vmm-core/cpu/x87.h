/*
 * The x87 FPU's state helpers that other parts of the software CPU use
 * (exec-x87.c): reset values and the full tag word.
 */
#ifndef GH_CPU_X87_H
#define GH_CPU_X87_H

#include <stdint.h>

#include "cpu/cpu-internal.h"

/* Power-up and RESET state (SDM vol. 3A, table 9-1): FCW 0040H, FSW 0,
 * tag word 5555H (every register +0). INIT leaves the x87 alone. */
void gh_x87_reset(struct gh_x87 *x);

/* The full 16-bit tag word of FSTENV/FSAVE, derived from the registers'
 * contents and the abridged tags (SDM vol. 1, 8.1.7). */
uint16_t gh_x87_full_tags(const struct gh_x87 *x);

#endif
