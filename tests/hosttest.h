/*
 * Running instruction bytes natively on the x86-64 host, for differential
 * tests of the software CPU: the registers go in and come out through
 * struct nregs and faults come back as exception vectors (signals).
 * cputest.h has the fixed-seed generator and the fixed-address window.
 */
#ifndef GH_TESTS_HOSTTEST_H
#define GH_TESTS_HOSTTEST_H

#include <glib.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>

#include "cpu/cpu-internal.h"

struct nregs {
	uint64_t g[16];
	uint64_t fl;
};

/*
 * hx_native_exec(regs, code): loads every GPR but RSP and RFLAGS from regs,
 * calls code (the instruction followed by RET) and stores them back.
 */
void hx_native_exec(struct nregs *r, const void *code) __attribute__((visibility("hidden")));
__asm__(".text\n"
	".globl hx_native_exec\n"
	".hidden hx_native_exec\n"
	".type hx_native_exec, @function\n"
	"hx_native_exec:\n"
	"	push %rbx\n	push %rbp\n	push %r12\n	push %r13\n	push %r14\n	push %r15\n"
	"	push %rdi\n	push %rsi\n"
	"	pushq 128(%rdi)\n	popfq\n"
	"	mov 0(%rdi), %rax\n	mov 8(%rdi), %rcx\n	mov 16(%rdi), %rdx\n"
	"	mov 24(%rdi), %rbx\n	mov 40(%rdi), %rbp\n	mov 48(%rdi), %rsi\n"
	"	mov 64(%rdi), %r8\n	mov 72(%rdi), %r9\n	mov 80(%rdi), %r10\n"
	"	mov 88(%rdi), %r11\n	mov 96(%rdi), %r12\n	mov 104(%rdi), %r13\n"
	"	mov 112(%rdi), %r14\n	mov 120(%rdi), %r15\n	mov 56(%rdi), %rdi\n"
	"	call *(%rsp)\n"
	"	push %rdi\n	mov 16(%rsp), %rdi\n"
	"	mov %rax, 0(%rdi)\n	mov %rcx, 8(%rdi)\n	mov %rdx, 16(%rdi)\n"
	"	mov %rbx, 24(%rdi)\n	mov %rbp, 40(%rdi)\n	mov %rsi, 48(%rdi)\n"
	"	mov %r8, 64(%rdi)\n	mov %r9, 72(%rdi)\n	mov %r10, 80(%rdi)\n"
	"	mov %r11, 88(%rdi)\n	mov %r12, 96(%rdi)\n	mov %r13, 104(%rdi)\n"
	"	mov %r14, 112(%rdi)\n	mov %r15, 120(%rdi)\n	popq 56(%rdi)\n"
	"	pushfq\n	popq 128(%rdi)\n	cld\n"
	"	add $16, %rsp\n"
	"	pop %r15\n	pop %r14\n	pop %r13\n	pop %r12\n	pop %rbp\n	pop %rbx\n"
	"	ret\n"
	".size hx_native_exec, .-hx_native_exec\n");

/* A signal handler can only reach its jump target through a static. */
static sigjmp_buf *volatile native_jb;

static inline void on_signal(int sig)
{
	if (!native_jb) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	siglongjmp(*native_jb, sig);
}

/* Runs the code natively; returns the exception vector it raised, or -1. */
static inline int native_run(struct nregs *r, const void *code)
{
	sigjmp_buf jb;
	volatile int sig;

	sig = sigsetjmp(jb, 0);
	if (sig == 0) {
		native_jb = &jb;
		hx_native_exec(r, code);
	}
	native_jb = NULL;
	__asm__ volatile("cld");
	switch (sig) {
	case 0:
		return -1;
	case SIGFPE:
		return GH_EXC_DE;
	case SIGILL:
		return GH_EXC_UD;
	default:
		return GH_EXC_GP;
	}
}

/* Sends the faults native code can raise to native_run() (old: to restore). */
static inline void native_signals(struct sigaction old[4], bool install)
{
	static const int sigs[4] = {SIGFPE, SIGSEGV, SIGILL, SIGBUS};
	struct sigaction sa = {0};

	sa.sa_handler = on_signal;
	sa.sa_flags = SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (unsigned k = 0; k < 4; k++)
		if (install)
			sigaction(sigs[k], &sa, &old[k]);
		else
			sigaction(sigs[k], &old[k], NULL);
}

#endif
