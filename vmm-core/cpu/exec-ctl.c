/* Instruction handlers: being written (software CPU, part 1). */
#include "cpu/exec.h"

const struct gh_handler_bind gh_exec_ctl_binds[] = {
	{ 0, NULL },
};
