/*
 * MMX and SSE instructions (SDM vol. 1, chapters 9-12): to come. Until
 * they are bound the opcodes raise #UD, and CPUID advertises none of them.
 */
#include "cpu/exec.h"

const struct gh_handler_bind gh_exec_sse_binds[] = {
	{ 0, NULL },
};
