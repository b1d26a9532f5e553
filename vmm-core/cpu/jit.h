/*
 * The software CPU's translator: hot blocks of 64-bit code become host
 * code (x86-64), run in place of the interpreter's handler loop.
 *
 * A translated block keeps the guest's registers in struct gh_cpu and its
 * arithmetic flags in cpu->lf, as the interpreter does, so the two can
 * hand over at any instruction boundary. The common instructions (moves,
 * ALU, INC/DEC, shifts, IMUL, MOVZX/MOVSX, LEA, SETcc/CMOVcc, Jcc, JMP,
 * CALL, RET, PUSH/POP) are re-executed by the host's own instructions on
 * copies of the guest's operands, and their flags reach cpu->lf only when
 * something can observe them; everything else calls the interpreter's
 * handler for that one instruction. A memory operand is one TLB probe
 * inline; anything the probe does not take (a miss, MMIO, a page-crossing
 * access, a page of decoded code) runs the whole instruction through the
 * interpreter, which raises whatever fault it has, and leaves the block.
 */
#ifndef GH_CPU_JIT_H
#define GH_CPU_JIT_H

#include <stdint.h>

#include "cpu/exec.h"

struct gh_jit;

/*
 * Translated code: runs the block from its first instruction with RIP at
 * its start, and on into blocks its exits are linked to, adding what
 * retires to cpu->retired; returns with cpu->rip at the next instruction.
 * When the last exit taken can be linked, cpu->jit_link names it, for
 * gh_jit_link() with the block the loop finds next. need_r is
 * GH_TLB_R(cpu->data_mode), need_x the TLB bits of an instruction fetch
 * at the CPL. The caller sets cpu->no_chain around it
 * (handlers it calls must return after one instruction). Faults unwind
 * through gh_cpu_raise() as in handlers.
 */
typedef void gh_jit_fn(struct gh_cpu *cpu, uint64_t need_r, uint64_t need_x);

/* Links the exit cpu->jit_link named to the translated code to of the
 * block whose first byte is at host, found at linear address lin. */
void gh_jit_link(void *link, gh_jit_fn *to, uintptr_t host, uint64_t lin);
/* The block of translation fn was dropped: no link enters it again. */
void gh_jit_drop(gh_jit_fn *fn);

/*
 * A code buffer for one CPU; NULL if the host refuses executable memory.
 * budget_end is the run loop's (exec.c): where chained blocks find the
 * instruction budget.
 */
struct gh_jit *gh_jit_new(const uint64_t *budget_end);
void gh_jit_free(struct gh_jit *j);

/*
 * Translates the n entries of a block of 64-bit code (their handlers
 * bound, x_* fields filled). NULL when the buffer is full: the caller
 * forgets every translation it holds, calls gh_jit_reset() and may retry.
 */
gh_jit_fn *gh_jit_translate(struct gh_jit *j, const struct gh_exec_entry *e, unsigned n);
void gh_jit_reset(struct gh_jit *j);

#endif
