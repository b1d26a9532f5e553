/*
 * The software CPU's state and the internal interface between its parts:
 * cpu.c (lifecycle, state, the run loop), cpu-mem.c (linear and physical
 * memory access), seg.c (descriptors, segment loads, far JMP/CALL/RET),
 * except.c (exception and interrupt delivery, IRET), task.c (task switches)
 * and the instruction handlers.
 *
 * Faults are raised with gh_cpu_raise(), which longjmps back to the run
 * loop; handlers hold no heap memory or locks across a guest memory access.
 */
#ifndef GH_CPU_INTERNAL_H
#define GH_CPU_INTERNAL_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpu/alu.h"
#include "cpu/cpu.h"
#include "gh/cpu-state.h"
#include "gh/log.h"

/* Exception vectors (SDM vol. 3A, table 6-1). */
enum {
	GH_EXC_DE = 0,
	GH_EXC_DB = 1,
	GH_EXC_NMI = 2,
	GH_EXC_BP = 3,
	GH_EXC_OF = 4,
	GH_EXC_BR = 5,
	GH_EXC_UD = 6,
	GH_EXC_NM = 7,
	GH_EXC_DF = 8,
	GH_EXC_TS = 10,
	GH_EXC_NP = 11,
	GH_EXC_SS = 12,
	GH_EXC_GP = 13,
	GH_EXC_PF = 14,
	GH_EXC_MF = 16,
	GH_EXC_AC = 17,
	GH_EXC_MC = 18,
	GH_EXC_XM = 19,
};

/* RFLAGS bits beyond the arithmetic ones. */
#define GH_FL_CF (1u << 0)
#define GH_FL_PF (1u << 2)
#define GH_FL_AF (1u << 4)
#define GH_FL_ZF (1u << 6)
#define GH_FL_SF (1u << 7)
#define GH_FL_TF (1u << 8)
#define GH_FL_IF (1u << 9)
#define GH_FL_DF (1u << 10)
#define GH_FL_OF (1u << 11)
#define GH_FL_IOPL (3u << 12)
#define GH_FL_NT (1u << 14)
#define GH_FL_RF (1u << 16)
#define GH_FL_VM (1u << 17)
#define GH_FL_AC (1u << 18)
#define GH_FL_VIF (1u << 19)
#define GH_FL_VIP (1u << 20)
#define GH_FL_ID (1u << 21)
#define GH_FL_IOPL_SHIFT 12

/* Control register bits beyond those of cpu-state.h (SDM vol. 3A, 2.5). */
#define GH_CR0_EM (1ULL << 2)
#define GH_CR0_TS (1ULL << 3)
#define GH_CR0_AM (1ULL << 18)
#define GH_CR0_NW (1ULL << 29)
#define GH_CR0_CD (1ULL << 30)
#define GH_CR0_VALID                                                                     \
	(GH_CR0_PE | GH_CR0_MP | GH_CR0_EM | GH_CR0_TS | GH_CR0_ET | GH_CR0_NE |         \
	 GH_CR0_WP | GH_CR0_AM | GH_CR0_NW | GH_CR0_CD | GH_CR0_PG)
#define GH_CR4_VME (1ULL << 0)
#define GH_CR4_PVI (1ULL << 1)
#define GH_CR4_TSD (1ULL << 2)
#define GH_CR4_DE (1ULL << 3)
#define GH_CR4_PSE (1ULL << 4)
#define GH_CR4_MCE (1ULL << 6)
#define GH_CR4_PGE (1ULL << 7)
#define GH_CR4_PCE (1ULL << 8)
#define GH_CR4_OSFXSR (1ULL << 9)
#define GH_CR4_OSXMMEXCPT (1ULL << 10)
/*
 * The CR4 bits this CPU implements; CPUID must advertise exactly these
 * (OSXSAVE's XSAVE bit waits until the x87 and SSE work is complete).
 * VME/PVI wait for the virtual-interrupt flag and the redirection bitmap.
 */
#define GH_CR4_VALID                                                                     \
	(GH_CR4_TSD | GH_CR4_DE | GH_CR4_PSE | GH_CR4_PAE | GH_CR4_MCE | GH_CR4_PGE |    \
	 GH_CR4_PCE | GH_CR4_OSFXSR | GH_CR4_OSXMMEXCPT | GH_CR4_OSXSAVE)
#define GH_EFER_SCE (1ULL << 0)
#define GH_EFER_NXE (1ULL << 11)
#define GH_EFER_VALID (GH_EFER_SCE | GH_EFER_LME | GH_EFER_LMA | GH_EFER_NXE)

/* DR6 bits a debug trap reports (SDM vol. 3A, 17.2.3). */
#define GH_DR6_BS (1u << 14)
#define GH_DR6_BT (1u << 15)

/* Operating modes, recomputed whenever CR0.PE, EFER.LMA, RFLAGS.VM or CS change. */
enum gh_cpu_mode {
	GH_MODE_REAL,
	GH_MODE_V86,
	GH_MODE_PROT,	/* 16- or 32-bit protected mode */
	GH_MODE_COMPAT, /* long mode, 16/32-bit code segment */
	GH_MODE_LONG,	/* 64-bit mode */
};

/* How an event reaches delivery: the error-code EXT bit and gate checks. */
enum gh_event_kind {
	GH_EVENT_EXCEPTION,    /* a fault or trap raised by the CPU */
	GH_EVENT_EXTERNAL,     /* INTR or NMI */
	GH_EVENT_SOFTWARE,     /* INT n: gate DPL checked; #GP(0) in V86 mode
				* with IOPL < 3 */
	GH_EVENT_ICEBP,	       /* INT1 (F1): no DPL check */
	GH_EVENT_SOFTWARE_EXC, /* INT3, INTO: gate DPL checked, but not
				* IOPL-sensitive in V86 mode (SDM 20.3.3) */
};

/* Why a task switch happens (SDM vol. 3A, 7.3, table 7-2). */
enum gh_task_reason {
	GH_TASK_JMP,
	GH_TASK_CALL,
	GH_TASK_IRET,
	GH_TASK_INT, /* an interrupt or exception through a task gate */
};

/*
 * An x87 register: the 80-bit extended-precision format (SDM vol. 1,
 * 4.2.2), a 64-bit significand with its explicit integer bit and a sign
 * plus 15-bit exponent. MMX register i is the significand of physical
 * register i (SDM vol. 1, 9.5).
 */
struct gh_f80 {
	uint64_t mant;
	uint16_t sexp; /* bit 15: sign, bits 14-0: biased exponent */
};

/* The x87 FPU (SDM vol. 1, 8.1): registers in physical order R0-R7. */
struct gh_x87 {
	struct gh_f80 r[8];
	uint16_t fcw;
	uint16_t fsw;	/* TOP in bits 13-11 */
	uint8_t ftw;	/* abridged (FXSAVE) form: bit i = Ri is not empty;
			 * FSTENV/FSAVE derive the full tags from the contents */
	uint16_t fop;	/* last non-control instruction's opcode, 11 bits */
	uint64_t fip, fdp;	/* last instruction and operand pointers */
	uint16_t fcs, fds;
	bool ferr;	/* FERR# active (CR0.NE = 0 reporting) until ES clears */
};

/* An XMM register (SDM vol. 1, 10.2.2). */
union gh_xmm {
	uint8_t b[16];
	uint16_t w[8];
	uint32_t d[4];
	uint64_t q[2];
} __attribute__((aligned(16)));

/* Machine-check banks the CPU reports in IA32_MCG_CAP. */
#define GH_CPU_MCE_BANKS 10

struct gh_cpu {
	/*
	 * xreg is gpr plus a slot that is always 0: the fast forms (exec.h)
	 * index it with a missing base or index register.
	 */
	union {
		uint64_t gpr[GH_NR_GPRS];
		uint64_t xreg[GH_NR_GPRS + 1];
	};
	uint64_t rip;
	/*
	 * The RIP a fault pushes: the start of the current instruction. The
	 * run loop sets it before each instruction; event delivery and task
	 * switches move it to the new context. Handlers must not commit RSP
	 * (or any register) before their last access that can fault: a fault
	 * restarts the instruction from prev_rip with no other undo.
	 */
	uint64_t prev_rip;
	uint64_t rflags;
	struct gh_segment seg[GH_NR_SEGS];
	struct gh_segment ldtr;
	struct gh_segment tr;
	struct gh_dtable gdtr;
	struct gh_dtable idtr;
	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t pdpte[4]; /* PAE paging: loaded with CR3 (SDM 4.4.1) */
	uint64_t efer;
	uint64_t dr[8];
	uint64_t apic_base;
	uint64_t msr_star, msr_lstar, msr_cstar, msr_sfmask;
	uint64_t msr_kernel_gs_base, msr_tsc_aux, msr_pat;
	uint64_t msr_sysenter_cs, msr_sysenter_esp, msr_sysenter_eip;
	uint64_t msr_misc_enable;
	/* MTRRs (SDM 11.11), stored only: no memory types are modelled */
	uint64_t mtrr_def_type;
	uint64_t mtrr_fixed[11]; /* 0x250, 0x258-0x259, 0x268-0x26f */
	uint64_t mtrr_var[16];   /* PHYSBASE0, PHYSMASK0, ... (0x200-0x20f) */
	int64_t tsc_offset; /* TSC = now_ns + offset: a 1 GHz TSC */
	/* machine-check banks (SDM vol. 3B, 16.3): stored; no error is ever
	 * logged, so STATUS/ADDR/MISC read 0 */
	uint64_t mcg_status, mcg_ctl;
	uint64_t mc_ctl[GH_CPU_MCE_BANKS];

	/* x87, MMX and SSE (exec-x87.c, exec-sse.c) */
	struct gh_x87 x87;
	union gh_xmm xmm[16];
	uint32_t mxcsr;
	uint64_t xcr0;	/* XSETBV: x87 (bit 0) always set */

	enum gh_cpu_mode mode;
	unsigned cpl;
	/*
	 * What makes the run loop look between blocks, in one word it tests
	 * at once (attn): kick, intr_poke and code_inval are set by other
	 * threads, nmi_pending by any thread, the rest by this CPU.
	 */
	union {
		struct {
			bool halted;
			bool interrupt_shadow; /* after STI or MOV/POP SS */
			bool nmi_pending;
			bool shutdown;		/* triple fault */
			uint8_t kick;		/* leave the run loop */
			uint8_t intr_poke;	/* the INTR pin changed */
			uint8_t code_inval;	/* blocks to drop are queued */
		};
		uint64_t attn;
	};
	bool nmi_blocked;		/* from NMI delivery until the next IRET */

	/* the exception being raised (gh_cpu_raise) and delivery nesting */
	jmp_buf *jmp;
	struct {
		unsigned vector;
		bool has_error;
		uint32_t error;
		enum gh_event_kind kind;
	} exc;
	int delivering; /* vector being delivered, or -1 */
	enum gh_event_kind delivering_kind;
	/*
	 * The EXT bit (SDM vol. 3A, 6.13) of selector error codes raised now:
	 * 1 while delivering an event the program did not ask for (an
	 * exception, INTR, NMI, INT1), 0 otherwise.
	 */
	uint32_t err_ext;
	/* DR6 bits of a #DB trap due before the next instruction (the T bit
	 * of a new task's TSS); the run loop delivers it */
	uint32_t pending_dbg;

	/* the interpreter (exec.c, exec.h) */
	struct gh_lazy_flags lf;	/* arithmetic flags while executing */
	union {
		struct {
			bool end_block;	/* re-check before the next instruction */
			bool no_chain;	/* fast forms return after themselves */
		};
		uint16_t chain_stop;	/* either: a fast form does not go on */
	};
	const struct gh_exec_entry *cur;	/* the entry being run */
	void *jit_link;			/* the translated exit just taken (jit.h) */
	bool intr_line;			/* the INTR pin as last sampled */
	unsigned data_mode;		/* GH_TLB_* of operand accesses: CPL, SMAP/AC */
	struct gh_tlb *tlb;
	struct gh_exec_cache *cache;	/* decoded blocks */

	struct gh_cpu_bus bus;
	unsigned index;
	uint64_t retired;
	struct gh_ratelimit rl;
};

/* A descriptor as it lies in the GDT/LDT/IDT, little-endian. */
struct gh_descriptor {
	uint64_t raw[2]; /* 16 bytes for long-mode system descriptors */
};

/* The interpreter's part of the CPU (exec.c). */
/* map NULL: a map of the CPU's own. -ENOSPC if map has no room left. */
int gh_exec_init(struct gh_cpu *cpu, struct gh_code_map *map);
void gh_exec_fini(struct gh_cpu *cpu);
/* Mode, CPL or RFLAGS.AC changed: recompute what accesses depend on. */
void gh_exec_mode_changed(struct gh_cpu *cpu);
/* Whether the guest-physical page holds decoded code (writes must
 * invalidate it first). */
bool gh_exec_is_code_page(struct gh_cpu *cpu, uint64_t gpa_page);
/* The CPU wrote guest-physical [gpa, gpa+len), which may hold decoded code:
 * every CPU drops its blocks there (this one after the current instruction). */
void gh_exec_code_written(struct gh_cpu *cpu, uint64_t gpa, uint64_t len);
struct gh_mmu_ctx;
/* The paging context of the CPU's current state, at privilege cpl. */
void gh_cpu_mmu_ctx(struct gh_cpu *cpu, struct gh_mmu_ctx *ctx, unsigned cpl);

/* Raising faults: never returns. */
__attribute__((noreturn)) void gh_cpu_raise(struct gh_cpu *cpu, unsigned vector,
					    uint32_t error);
__attribute__((noreturn)) void gh_cpu_raise_noerr(struct gh_cpu *cpu, unsigned vector);
/* #PF: loads CR2 with the faulting linear address first (SDM 4.7). */
__attribute__((noreturn)) void gh_cpu_raise_pf(struct gh_cpu *cpu, uint64_t lin,
					       uint32_t error);
/* A fault whose error code names a selector: index, TI and EXT. */
__attribute__((noreturn)) void gh_cpu_raise_sel(struct gh_cpu *cpu, unsigned vector,
						uint16_t sel);

/* Delivers an event through the IVT/IDT (except.c); may raise. */
void gh_cpu_deliver(struct gh_cpu *cpu, unsigned vector, enum gh_event_kind kind,
		    bool has_error, uint32_t error);
/*
 * Handles the exception recorded in cpu->exc (the run loop calls it after
 * catching gh_cpu_raise's longjmp), applying the double-fault rules when it
 * arrived while another event was being delivered. Sets cpu->shutdown on a
 * triple fault. Never longjmps out: it catches faults of its own delivery.
 */
void gh_cpu_handle_exception(struct gh_cpu *cpu);
/* IRET/IRETD/IRETQ with operand size 2, 4 or 8 (except.c); may raise. */
void gh_cpu_iret(struct gh_cpu *cpu, unsigned opsize);

/* Far transfers (seg.c), operand size 2, 4 or 8; rip is already past the
 * instruction. They may raise; state changes only once nothing can fault. */
void gh_cpu_far_jmp(struct gh_cpu *cpu, uint16_t sel, uint64_t off, unsigned opsize);
void gh_cpu_far_call(struct gh_cpu *cpu, uint16_t sel, uint64_t off, unsigned opsize);
void gh_cpu_far_ret(struct gh_cpu *cpu, unsigned opsize, uint16_t imm);

/*
 * Switches to the task whose TSS descriptor (already read, from the GDT)
 * is tss (task.c, SDM vol. 3A, 7.3). For GH_TASK_INT an error code is
 * pushed on the new task's stack when has_error. Faults found after the
 * old state is saved are raised in the context of the new task.
 */
void gh_cpu_task_switch(struct gh_cpu *cpu, uint16_t sel, const struct gh_descriptor *tss,
			enum gh_task_reason reason, bool has_error, uint32_t error);

/* Mode and privilege from CR0, EFER, RFLAGS and CS (cpu.c). */
void gh_cpu_update_mode(struct gh_cpu *cpu);

/*
 * Memory as the CPU's own structures see it (cpu-mem.c): descriptor tables,
 * the TSS and interrupt stacks are "system" accesses, made with supervisor
 * rights whatever the CPL. They raise #PF/#GP through gh_cpu_raise.
 */
void gh_cpu_read_sys(struct gh_cpu *cpu, uint64_t lin, void *buf, unsigned len);
void gh_cpu_write_sys(struct gh_cpu *cpu, uint64_t lin, const void *buf, unsigned len);
/* Stack pushes at the given privilege (CPL or the target of a gate). */
void gh_cpu_write_stack(struct gh_cpu *cpu, uint64_t lin, const void *buf, unsigned len,
			unsigned pl);
void gh_cpu_read_stack(struct gh_cpu *cpu, uint64_t lin, void *buf, unsigned len,
		       unsigned pl);
/* CR3 was loaded (task switch, state load): the PAE PDPTEs are re-read and
 * the TLB's non-global entries go. */
void gh_cpu_mem_cr3_loaded(struct gh_cpu *cpu);
/* Guest-physical access through the bus: RAM/ROM pages or MMIO. */
void gh_cpu_read_phys(struct gh_cpu *cpu, uint64_t gpa, void *buf, unsigned len);
void gh_cpu_write_phys(struct gh_cpu *cpu, uint64_t gpa, const void *buf, unsigned len);

/*
 * A stack as pushes and pops see it: SS's base and limit, and the width of
 * the stack pointer (2: SP, 4: ESP, 8: RSP in 64-bit mode, where the limit
 * is not checked but the address must be canonical). A limit violation
 * raises #SS(err): 0 on the current stack, the new SS selector (with EXT)
 * on a stack being switched to.
 */
struct gh_stack {
	uint64_t base;
	uint64_t sp; /* the whole register, upper bits kept */
	uint32_t limit;
	uint8_t width;
	bool expand_down;
	unsigned pl;
	uint32_t err;
};
/* The stack that SS (or seg) and sp describe. */
void gh_cpu_stack_init(struct gh_cpu *cpu, struct gh_stack *st,
		       const struct gh_segment *ss, uint64_t sp, unsigned pl,
		       uint32_t err);
void gh_cpu_stack_push(struct gh_cpu *cpu, struct gh_stack *st, uint64_t val,
		       unsigned size);
uint64_t gh_cpu_stack_pop(struct gh_cpu *cpu, struct gh_stack *st, unsigned size);
/* Reads size bytes at sp + off without popping (parameter copies). */
uint64_t gh_cpu_stack_peek(struct gh_cpu *cpu, const struct gh_stack *st, uint64_t off,
			   unsigned size);
/* Adds n to the stack pointer within its width (RET imm16). */
void gh_cpu_stack_adjust(struct gh_stack *st, uint64_t n);
/* The stack pointer register after pushes/pops: only width bytes change. */
static inline uint64_t gh_cpu_stack_rsp(const struct gh_stack *st)
{
	return st->sp;
}

static inline bool gh_cpu_canonical(uint64_t lin)
{
	return (uint64_t)((int64_t)(lin << 16) >> 16) == lin;
}

/* Descriptors (seg.c). */
/* Reads the descriptor of sel from the GDT/LDT; raises err_vector(sel)
 * if it lies outside the table. */
void gh_cpu_read_descriptor(struct gh_cpu *cpu, uint16_t sel, bool wide,
			    unsigned err_vector, struct gh_descriptor *d);
void gh_cpu_write_descriptor_hi(struct gh_cpu *cpu, uint16_t sel, uint32_t hi);
void gh_cpu_parse_descriptor(const struct gh_descriptor *d, uint16_t sel,
			     struct gh_segment *seg);
/* Loads a data/stack segment register with the checks of MOV/POP Sreg. */
void gh_cpu_load_seg(struct gh_cpu *cpu, unsigned sreg, uint16_t sel);
/* Real/V86 mode: base = sel << 4, attributes kept or reset per mode. */
void gh_cpu_load_seg_real(struct gh_cpu *cpu, unsigned sreg, uint16_t sel);
/* Loads CS from a code descriptor already checked by the caller. */
void gh_cpu_set_cs(struct gh_cpu *cpu, const struct gh_segment *cs, unsigned cpl);
/* Sets the accessed bit of a code/data descriptor just loaded into seg. */
void gh_cpu_set_accessed(struct gh_cpu *cpu, struct gh_descriptor *d,
			 struct gh_segment *seg);
/* The checks RET and IRET make on the CS they pop (#GP(sel), #NP(sel)). */
void gh_cpu_check_ret_cs(struct gh_cpu *cpu, uint16_t sel, struct gh_segment *cs);
/* The checks RET and IRET make on the SS they pop for a return to
 * privilege rpl (to64: into 64-bit code, where a null SS may be allowed). */
void gh_cpu_check_ret_ss(struct gh_cpu *cpu, uint16_t sel, unsigned rpl, bool to64,
			 struct gh_segment *ss);
/* A new instruction pointer must lie in CS (or be canonical in 64-bit
 * code): #GP(0) otherwise. */
void gh_cpu_check_ip(struct gh_cpu *cpu, const struct gh_segment *cs, uint64_t ip);
/* The SS a 64-bit stack switch loads: null, with RPL = the new CPL. */
void gh_cpu_null_ss(struct gh_segment *ss, unsigned cpl);
/* Data segments a return to outer privilege makes null (SDM IRET/RET). */
void gh_cpu_invalidate_segs_for_cpl(struct gh_cpu *cpu);
/* The stack pointer field for privilege level pl in the current TSS
 * (SDM 7.2.1, 7.7); raises #TS(TR) if the TSS is too short for it. In a
 * 64-bit TSS, ist selects IST1-7 instead. */
void gh_cpu_tss_stack(struct gh_cpu *cpu, unsigned pl, unsigned ist, uint16_t *ss,
		      uint64_t *sp);
/*
 * The SS:ESP of a 16/32-bit TSS for a switch to inner privilege dpl, with
 * the #TS/#SS checks of that SS (SDM vol. 2, CALL and INT n). d is the SS
 * descriptor, for the accessed bit once the switch can no longer fault.
 */
void gh_cpu_tss_ss(struct gh_cpu *cpu, unsigned dpl, struct gh_descriptor *d,
		   struct gh_segment *ss, uint64_t *sp);

/* Descriptor field helpers on raw[0]. */
static inline unsigned gh_desc_type(const struct gh_descriptor *d)
{
	return (d->raw[0] >> 40) & 0xf;
}

static inline bool gh_desc_s(const struct gh_descriptor *d)
{
	return (d->raw[0] >> 44) & 1;
}

static inline unsigned gh_desc_dpl(const struct gh_descriptor *d)
{
	return (d->raw[0] >> 45) & 3;
}

static inline bool gh_desc_present(const struct gh_descriptor *d)
{
	return (d->raw[0] >> 47) & 1;
}

static inline bool gh_seg_is_code(const struct gh_segment *s)
{
	return s->s && (s->type & 8);
}

static inline bool gh_seg_conforming(const struct gh_segment *s)
{
	return gh_seg_is_code(s) && (s->type & 4);
}

static inline bool gh_seg_writable_data(const struct gh_segment *s)
{
	return s->s && !(s->type & 8) && (s->type & 2);
}

static inline bool gh_sel_null(uint16_t sel)
{
	return (sel & ~3) == 0;
}

static inline bool gh_cpu_long_mode(const struct gh_cpu *cpu)
{
	return cpu->efer & GH_EFER_LMA;
}

#endif
