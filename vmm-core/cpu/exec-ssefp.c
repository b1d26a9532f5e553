/*
 * SSE floating-point instructions, those that round or raise SIMD
 * floating-point exceptions under MXCSR (SDM vol. 1, 10.4 and 11.4), and
 * the SSE4.2 string and CRC32 instructions: to come. Unbound ops raise #UD.
 */
#include "cpu/exec.h"

const struct gh_handler_bind gh_exec_ssefp_binds[] = {
	{ 0, NULL },
};
