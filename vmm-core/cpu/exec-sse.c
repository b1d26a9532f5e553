/*
 * MMX and SSE instructions (SDM vol. 1, chapters 9-12): to come. Until
 * they are bound the opcodes raise #UD, and CPUID advertises none of them.
 */
#include "cpu/exec.h"
#include "cpu/sse.h"

void gh_mmx_unusable(struct gh_cpu *cpu)
{
	if (cpu->cr0 & GH_CR0_EM)
		gh_exec_ud(cpu);
	if (cpu->cr0 & GH_CR0_TS)
		gh_cpu_raise_noerr(cpu, GH_EXC_NM);
	if (cpu->cr0 & GH_CR0_NE)
		gh_cpu_raise_noerr(cpu, GH_EXC_MF);
}

const struct gh_handler_bind gh_exec_sse_binds[] = {
	{ 0, NULL },
};
