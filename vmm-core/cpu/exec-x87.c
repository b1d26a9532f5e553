/*
 * x87 FPU instructions (SDM vol. 1, chapter 8): to come. Until they are
 * bound the opcodes raise #UD, and CPUID advertises no FPU.
 */
#include "cpu/exec.h"

const struct gh_handler_bind gh_exec_x87_binds[] = {
	{ 0, NULL },
};
