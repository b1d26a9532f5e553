/*
 * Instruction handlers: control flow, the stack, string instructions, port I/O
 * and segment-register loads (Intel SDM vol. 2 instruction pages; vol. 1 7.3).
 */
#include "cpu/exec.h"

/*
 * Iterations a REP string instruction runs per execution before it hands
 * control back to the loop (RIP left on the instruction), so interrupts,
 * kicks and the instruction budget are seen between iterations as on real
 * CPUs. Pending work is polled every REP_POLL iterations.
 */
#define REP_BATCH 4096
#define REP_POLL 64

/* ---- helpers --------------------------------------------------------------- */

/* Writes the stack pointer: only the bits of the stack's width change. */
static inline void set_sp(struct gh_cpu *cpu, unsigned width, uint64_t sp)
{
	uint64_t m = gh_size_mask(width);

	cpu->gpr[GH_RSP] = (cpu->gpr[GH_RSP] & ~m) | (sp & m);
}

static inline uint64_t wrap_addr(const struct gh_x86_insn *i, uint64_t off)
{
	return off & gh_size_mask(i->addrsize);
}

static inline unsigned iopl(const struct gh_cpu *cpu)
{
	return (cpu->rflags & GH_FL_IOPL) >> GH_FL_IOPL_SHIFT;
}

/* Far pointers in memory (Mp): the offset, then the selector after it. */
static uint64_t read_mp(struct gh_cpu *cpu, const struct gh_x86_insn *i, uint16_t *sel)
{
	uint64_t ea = gh_exec_ea(cpu, i);
	uint64_t off = gh_mem_read_seg(cpu, i->seg, ea, i->opsize);

	*sel = gh_mem_read_seg(cpu, i->seg, wrap_addr(i, ea + i->opsize), 2);
	return off;
}

/* ---- branches ------------------------------------------------------------------ */

static void h_jcc(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	if (gh_flags_cond(&cpu->lf, i->opcode & 0xf))
		gh_exec_jump(cpu, cpu->rip + i->imm, i->opsize);
}

static void h_jmp_rel(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	gh_exec_jump(cpu, cpu->rip + i->imm, i->opsize);
}

static void h_jmp_ev(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	gh_exec_jump(cpu, gh_exec_read_E(cpu, i, i->opsize), i->opsize);
}

/*
 * CALL checks the target before it pushes; the jump moves only RIP, which a
 * fault of the push puts back to the instruction's start.
 */
static void h_call_rel(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t ret = cpu->rip;

	gh_exec_jump(cpu, ret + i->imm, i->opsize);
	gh_exec_push(cpu, ret, i->opsize);
}

static void h_call_ev(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t ret = cpu->rip;
	uint64_t target = gh_exec_read_E(cpu, i, i->opsize);

	gh_exec_jump(cpu, target, i->opsize);
	gh_exec_push(cpu, ret, i->opsize);
}

static void ret_near(struct gh_cpu *cpu, const struct gh_x86_insn *i, uint64_t imm)
{
	unsigned w = gh_exec_stack_size(cpu);
	uint64_t ip = gh_exec_peek(cpu, 0, i->opsize);

	gh_exec_jump(cpu, ip, i->opsize);
	set_sp(cpu, w, cpu->gpr[GH_RSP] + i->opsize + imm);
}

static void h_ret(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	ret_near(cpu, i, 0);
}

static void h_ret_iw(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	ret_near(cpu, i, (uint64_t)i->imm & 0xffff);
}

/*
 * Far transfers may switch tasks, which save and load the whole RFLAGS, so
 * the lazy flags go out to cpu->rflags around them.
 */
static void far_jmp(struct gh_cpu *cpu, uint16_t sel, uint64_t off, unsigned opsize)
{
	gh_exec_flags_out(cpu);
	gh_cpu_far_jmp(cpu, sel, off, opsize);
	gh_exec_flags_in(cpu);
	gh_exec_end_block(cpu);
}

static void far_call(struct gh_cpu *cpu, uint16_t sel, uint64_t off, unsigned opsize)
{
	gh_exec_flags_out(cpu);
	gh_cpu_far_call(cpu, sel, off, opsize);
	gh_exec_flags_in(cpu);
	gh_exec_end_block(cpu);
}

static void h_jmpf_ap(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	far_jmp(cpu, i->imm2, (uint64_t)i->imm & gh_size_mask(i->opsize), i->opsize);
}

static void h_callf_ap(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	far_call(cpu, i->imm2, (uint64_t)i->imm & gh_size_mask(i->opsize), i->opsize);
}

static void h_jmpf_mp(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint16_t sel;
	uint64_t off = read_mp(cpu, i, &sel);

	far_jmp(cpu, sel, off, i->opsize);
}

static void h_callf_mp(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint16_t sel;
	uint64_t off = read_mp(cpu, i, &sel);

	far_call(cpu, sel, off, i->opsize);
}

static void h_retf(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	gh_cpu_far_ret(cpu, i->opsize, 0);
	gh_exec_end_block(cpu);
}

static void h_retf_iw(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	gh_cpu_far_ret(cpu, i->opsize, i->imm & 0xffff);
	gh_exec_end_block(cpu);
}

/*
 * LOOPcc/JrCXZ count in rCX of the address size; the branch wraps to the
 * operand size. RCX is written after the jump so a #GP leaves it alone.
 */
static void h_loop(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t cnt = (gh_reg_get(cpu, GH_RCX, i->addrsize) - 1) &
		       gh_size_mask(i->addrsize);
	bool taken = cnt != 0;

	if (i->op == GH_X86_OP_LOOPE_Jb)
		taken = taken && gh_flags_zf(&cpu->lf);
	else if (i->op == GH_X86_OP_LOOPNE_Jb)
		taken = taken && !gh_flags_zf(&cpu->lf);
	if (taken)
		gh_exec_jump(cpu, cpu->rip + i->imm, i->opsize);
	gh_reg_set(cpu, GH_RCX, i->addrsize, cnt);
}

static void h_jrcxz(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	if (gh_reg_get(cpu, GH_RCX, i->addrsize) == 0)
		gh_exec_jump(cpu, cpu->rip + i->imm, i->opsize);
}

/* ---- stack --------------------------------------------------------------------- */

static void h_push_reg(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	gh_exec_push(cpu, cpu->gpr[i->rm], i->opsize);
}

/* POP rSP loads the popped value: the pop's own increment is lost. */
static void h_pop_reg(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t v = gh_exec_pop(cpu, i->opsize);

	gh_reg_set(cpu, i->rm, i->opsize, v);
}

static void h_push_imm(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	gh_exec_push(cpu, (uint64_t)i->imm, i->opsize);
}

static void h_push_ev(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	gh_exec_push(cpu, gh_exec_read_E(cpu, i, i->opsize), i->opsize);
}

/*
 * POP Ev: a memory destination addressed with rSP uses the value rSP has
 * after the pop (SDM POP). The address is computed with rSP moved, rSP put
 * back at once, and moved for good only after the write succeeded.
 */
static void h_pop_ev(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	unsigned w = gh_exec_stack_size(cpu);
	uint64_t v = gh_exec_peek(cpu, 0, i->opsize);
	uint64_t old = cpu->gpr[GH_RSP], ea;

	if (i->mod == 3) {
		set_sp(cpu, w, old + i->opsize);
		gh_reg_set(cpu, i->rm, i->opsize, v);
		return;
	}
	set_sp(cpu, w, old + i->opsize);
	ea = gh_exec_ea(cpu, i);
	cpu->gpr[GH_RSP] = old;
	gh_mem_write_seg(cpu, i->seg, ea, i->opsize, v);
	set_sp(cpu, w, old + i->opsize);
}

/*
 * PUSH Sreg with a 32- or 64-bit operand size moves rSP by the operand size
 * but writes only the 16-bit selector, leaving the rest of the slot as it
 * was: the SDM (PUSH) says recent Intel Core and Atom processors do this.
 */
static void push_sreg(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned sreg)
{
	unsigned w = gh_exec_stack_size(cpu);
	uint16_t sel = cpu->seg[sreg].selector;
	uint64_t sp;

	if (i->opsize == 2) {
		gh_exec_push(cpu, sel, 2);
		return;
	}
	sp = (cpu->gpr[GH_RSP] - i->opsize) & gh_size_mask(w);
	gh_mem_write_seg(cpu, GH_SS, sp, 2, sel);
	set_sp(cpu, w, sp);
}

/* POP Sreg: the selector is loaded (and checked) before rSP moves, by the
 * width of the stack as it was before a POP SS. */
static void pop_sreg(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned sreg)
{
	unsigned w = gh_exec_stack_size(cpu);
	uint16_t sel = gh_exec_peek(cpu, 0, i->opsize);

	gh_cpu_load_seg(cpu, sreg, sel);
	set_sp(cpu, w, cpu->gpr[GH_RSP] + i->opsize);
	if (sreg == GH_SS) {
		/* no interrupt or debug trap until the next instruction is done
		 * (SDM 6.8.3), so a POP SS; MOV ESP pair is atomic */
		cpu->interrupt_shadow = true;
		gh_exec_end_block(cpu);
	}
}

#define SREG_HANDLERS(name, sreg)                                                       \
	static void h_push_##name(struct gh_cpu *cpu, const struct gh_x86_insn *i)     \
	{                                                                              \
		push_sreg(cpu, i, sreg);                                               \
	}                                                                              \
	static void h_pop_##name(struct gh_cpu *cpu, const struct gh_x86_insn *i)      \
	{                                                                              \
		pop_sreg(cpu, i, sreg);                                                \
	}
SREG_HANDLERS(es, GH_ES)
SREG_HANDLERS(ss, GH_SS)
SREG_HANDLERS(ds, GH_DS)
SREG_HANDLERS(fs, GH_FS)
SREG_HANDLERS(gs, GH_GS)
#undef SREG_HANDLERS

static void h_push_cs(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	push_sreg(cpu, i, GH_CS);
}

/* PUSHA: all eight stores first (SP as it was before), then SP. */
static void h_pusha(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	unsigned w = gh_exec_stack_size(cpu), sz = i->opsize;
	uint64_t m = gh_size_mask(w), sp = cpu->gpr[GH_RSP];

	for (unsigned r = 0; r < 8; r++)
		gh_mem_write_seg(cpu, GH_SS, (sp - (r + 1) * sz) & m, sz, cpu->gpr[r]);
	set_sp(cpu, w, sp - 8 * sz);
}

/* POPA: DI SI BP (SP skipped) BX DX CX AX from the lowest address up. */
static void h_popa(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	unsigned w = gh_exec_stack_size(cpu), sz = i->opsize;
	uint64_t m = gh_size_mask(w), sp = cpu->gpr[GH_RSP];
	uint64_t v[8];

	for (unsigned r = 0; r < 8; r++)
		v[r] = gh_mem_read_seg(cpu, GH_SS, (sp + (7 - r) * sz) & m, sz);
	for (unsigned r = 0; r < 8; r++) {
		if (r != GH_RSP)
			gh_reg_set(cpu, r, sz, v[r]);
	}
	set_sp(cpu, w, sp + 8 * sz);
}

/*
 * PUSHF/POPF in virtual-8086 mode need IOPL 3 (CR4.VME, which would allow
 * the 16-bit forms, is not implemented: GH_CR4_VALID).
 */
static void h_pushf(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t f;

	if (cpu->mode == GH_MODE_V86 && iopl(cpu) < 3)
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	/* the image has VM and RF clear */
	f = gh_exec_rflags(cpu) & ~(uint64_t)(GH_FL_VM | GH_FL_RF);
	gh_exec_push(cpu, f, i->opsize);
}

/*
 * POPF (SDM vol. 2, POPF): the arithmetic flags, TF, DF and NT always;
 * IF only when CPL <= IOPL; IOPL only at CPL 0 (never in V86 mode); AC and
 * ID with a 32/64-bit operand; VM, VIF and VIP never; RF is cleared by the
 * 32/64-bit forms. Real mode counts as CPL 0, V86 mode as CPL 3.
 */
static void h_popf(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t v, mask;

	if (cpu->mode == GH_MODE_V86 && iopl(cpu) < 3)
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	v = gh_exec_pop(cpu, i->opsize);
	mask = GH_ALU_FLAGS | GH_FL_TF | GH_FL_DF | GH_FL_NT;
	if (cpu->cpl <= iopl(cpu))
		mask |= GH_FL_IF;
	if (cpu->cpl == 0 && cpu->mode != GH_MODE_V86)
		mask |= GH_FL_IOPL;
	if (i->opsize == 2) {
		mask &= 0xffff;
	} else {
		mask |= GH_FL_AC | GH_FL_ID | GH_FL_RF;
		v &= ~(uint64_t)GH_FL_RF;
	}
	gh_exec_set_rflags(cpu, v, mask);
	gh_exec_end_block(cpu);
}

/*
 * ENTER (SDM vol. 2, ENTER): rBP and the nesting copies are addressed with
 * the stack's width, pushed with the operand size. Everything is written
 * and the final stack pointer probed before rBP and rSP change.
 */
static void h_enter(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	unsigned w = gh_exec_stack_size(cpu), sz = i->opsize;
	unsigned level = i->imm2 & 31;
	uint64_t size = (uint64_t)i->imm & 0xffff;
	uint64_t m = gh_size_mask(w);
	uint64_t sp = cpu->gpr[GH_RSP], bp = cpu->gpr[GH_RBP], frame;

	sp = (sp - sz) & m;
	gh_mem_write_seg(cpu, GH_SS, sp, sz, bp);
	frame = sp;
	if (level > 0) {
		for (unsigned l = 1; l < level; l++) {
			uint64_t v;

			bp = (bp - sz) & m;
			v = gh_mem_read_seg(cpu, GH_SS, bp, sz);
			sp = (sp - sz) & m;
			gh_mem_write_seg(cpu, GH_SS, sp, sz, v);
		}
		sp = (sp - sz) & m;
		gh_mem_write_seg(cpu, GH_SS, sp, sz, frame);
	}
	sp = (sp - size) & m;
	/* the new stack top must be writable (#SS, #PF) before anything changes */
	gh_mem_probe_write(cpu, GH_SS, sp, sz);
	gh_reg_set(cpu, GH_RBP, sz, frame);
	set_sp(cpu, w, sp);
}

/* LEAVE: rSP := rBP (stack width), then pop rBP. */
static void h_leave(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	unsigned w = gh_exec_stack_size(cpu);
	uint64_t m = gh_size_mask(w);
	uint64_t bp = cpu->gpr[GH_RBP] & m;
	uint64_t v = gh_mem_read_seg(cpu, GH_SS, bp, i->opsize);

	set_sp(cpu, w, bp + i->opsize);
	gh_reg_set(cpu, GH_RBP, i->opsize, v);
}

/* ---- interrupts ------------------------------------------------------------------ */

/* Delivery pushes cpu->rip, already past the instruction (a trap). */
static void soft_int(struct gh_cpu *cpu, unsigned vector, enum gh_event_kind kind)
{
	gh_exec_flags_out(cpu);
	gh_cpu_deliver(cpu, vector, kind, false, 0);
	gh_exec_flags_in(cpu);
	gh_exec_end_block(cpu);
}

static void h_int(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	soft_int(cpu, i->imm & 0xff, GH_EVENT_SOFTWARE);
}

static void h_int3(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	(void)i;
	soft_int(cpu, GH_EXC_BP, GH_EVENT_SOFTWARE_EXC);
}

static void h_into(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	(void)i;
	if (gh_flags_of(&cpu->lf))
		soft_int(cpu, GH_EXC_OF, GH_EVENT_SOFTWARE_EXC);
}

static void h_int1(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	(void)i;
	soft_int(cpu, GH_EXC_DB, GH_EVENT_ICEBP);
}

static void h_iret(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	gh_exec_flags_out(cpu);
	/* IRET ends NMI blocking, even when it faults (SDM vol. 3A, 6.7.1) */
	cpu->nmi_blocked = false;
	gh_cpu_iret(cpu, i->opsize);
	gh_exec_flags_in(cpu);
	gh_exec_end_block(cpu);
}

/* ---- port I/O ---------------------------------------------------------------- */

/* The eAX forms move 2 or 4 bytes: REX.W does not make them 8. */
static inline unsigned io_size(const struct gh_x86_insn *i)
{
	return gh_opsize(i) > 4 ? 4 : gh_opsize(i);
}

static void set_acc(struct gh_cpu *cpu, unsigned size, uint64_t v)
{
	if (size == 1)
		cpu->gpr[GH_RAX] = (cpu->gpr[GH_RAX] & ~0xffULL) | (v & 0xff);
	else
		gh_reg_set(cpu, GH_RAX, size, v);
}

static void h_in_imm(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	unsigned size = io_size(i);

	set_acc(cpu, size, gh_exec_in(cpu, i->imm & 0xff, size));
}

static void h_in_dx(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	unsigned size = io_size(i);

	set_acc(cpu, size, gh_exec_in(cpu, cpu->gpr[GH_RDX] & 0xffff, size));
}

static void h_out_imm(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	unsigned size = io_size(i);

	gh_exec_out(cpu, i->imm & 0xff, size, cpu->gpr[GH_RAX] & gh_size_mask(size));
}

static void h_out_dx(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	unsigned size = io_size(i);

	gh_exec_out(cpu, cpu->gpr[GH_RDX] & 0xffff, size,
		    cpu->gpr[GH_RAX] & gh_size_mask(size));
}

/* ---- segment registers -------------------------------------------------------------- */

static void h_mov_ev_sw(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	unsigned sreg = i->reg & 7;
	uint16_t sel;

	if (sreg >= GH_NR_SEGS)
		gh_exec_ud(cpu);
	sel = cpu->seg[sreg].selector;
	/* a register takes the selector zero-extended to the operand size;
	 * memory always gets 16 bits */
	if (i->mod == 3)
		gh_reg_set(cpu, i->rm, i->opsize, sel);
	else
		gh_exec_write_E(cpu, i, 2, sel);
}

static void h_mov_sw_ew(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	unsigned sreg = i->reg & 7;
	uint16_t sel;

	if (sreg >= GH_NR_SEGS || sreg == GH_CS)
		gh_exec_ud(cpu);
	sel = gh_exec_read_E(cpu, i, 2);
	gh_cpu_load_seg(cpu, sreg, sel);
	if (sreg == GH_SS) {
		cpu->interrupt_shadow = true;
		gh_exec_end_block(cpu);
	}
}

/* LDS/LES/LFS/LGS/LSS: segment first (it may fault), then the register.
 * LSS sets no interrupt shadow: only MOV SS and POP SS do (SDM 6.8.3). */
static void load_far(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned sreg)
{
	uint16_t sel;
	uint64_t off = read_mp(cpu, i, &sel);

	gh_cpu_load_seg(cpu, sreg, sel);
	gh_reg_set(cpu, i->reg, i->opsize, off);
}

static void h_les(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	load_far(cpu, i, GH_ES);
}

static void h_lds(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	load_far(cpu, i, GH_DS);
}

static void h_lss(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	load_far(cpu, i, GH_SS);
}

static void h_lfs(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	load_far(cpu, i, GH_FS);
}

static void h_lgs(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	load_far(cpu, i, GH_GS);
}

/* ---- string instructions ------------------------------------------------------------- */

/*
 * A string instruction's state while it runs: index registers and count
 * as locals, written back to the registers after every completed
 * iteration, so a fault in iteration k leaves rSI, rDI and rCX exactly
 * after k-1 and the restarted instruction picks up there (SDM vol. 1,
 * 7.3.9.2). Sources use the instruction's segment (DS or an override),
 * destinations always ES.
 */
struct str {
	uint64_t si, di, cnt;
	uint64_t amask;
	int64_t step;
	unsigned asz;
	unsigned left; /* iterations before the instruction yields */
};

static inline __attribute__((always_inline)) void str_init(struct gh_cpu *cpu,
							   const struct gh_x86_insn *i,
							   struct str *s, unsigned size)
{
	s->asz = i->addrsize;
	s->amask = gh_size_mask(i->addrsize);
	s->si = cpu->gpr[GH_RSI];
	s->di = cpu->gpr[GH_RDI];
	s->cnt = cpu->gpr[GH_RCX] & s->amask;
	s->step = (cpu->rflags & GH_FL_DF) ? -(int64_t)size : (int64_t)size;
	/* single-stepping traps after each iteration (SDM 17.3.1.4) */
	s->left = (cpu->rflags & GH_FL_TF) ? 1 : REP_BATCH;
}

static inline bool is_rep(const struct gh_x86_insn *i)
{
	return i->prefix & (GH_X86_PFX_REP | GH_X86_PFX_REPNE);
}

/*
 * After a completed iteration of a REP form: true to go on. When the batch
 * is used up or another thread wants the CPU, RIP goes back to the
 * instruction and the loop takes over; it re-executes from rCX.
 */
static inline __attribute__((always_inline)) bool rep_next(struct gh_cpu *cpu,
							   struct str *s)
{
	if (s->cnt == 0)
		return false;
	if (--s->left == 0 ||
	    ((s->left % REP_POLL) == 0 && (__atomic_load_n(&cpu->kick, __ATOMIC_RELAXED) ||
					   __atomic_load_n(&cpu->intr_poke, __ATOMIC_RELAXED)))) {
		cpu->rip = cpu->prev_rip;
		gh_exec_end_block(cpu);
		return false;
	}
	return true;
}

static inline void str_commit_si(struct gh_cpu *cpu, struct str *s)
{
	gh_reg_set(cpu, GH_RSI, s->asz, s->si);
}

static inline void str_commit_di(struct gh_cpu *cpu, struct str *s)
{
	gh_reg_set(cpu, GH_RDI, s->asz, s->di);
}

static inline void str_commit_cnt(struct gh_cpu *cpu, struct str *s)
{
	gh_reg_set(cpu, GH_RCX, s->asz, s->cnt);
}

/*
 * The batch is used up part-way through a fast stretch: yield as rep_next()
 * does, to re-execute from the registers.
 */
static bool rep_fast_yield(struct gh_cpu *cpu, struct str *s)
{
	if (s->cnt && !s->left) {
		cpu->rip = cpu->prev_rip;
		gh_exec_end_block(cpu);
	}
	return false;
}

/*
 * REP STOS and REP MOVS going up, a page at a time: while every element of
 * the stretch lies in a page the TLB maps for fast access (64-bit mode, RAM,
 * no fault possible; MMIO, ROM and pages of decoded code have no fast write
 * entry), the iterations that fit in the page(s) run as one memset/memmove.
 * They return true to go on one iteration at a time (a slow page, an element
 * across a page end, DF=1, an overlap that must replicate), false when the
 * instruction is done or yields.
 */
static bool rep_fast_stos(struct gh_cpu *cpu, struct str *s, unsigned size, uint64_t v)
{
	while (s->step > 0 && s->cnt) {
		uint64_t off = s->di & s->amask;
		uint64_t n = MIN(MIN(s->cnt, (uint64_t)s->left), (0x1000 - (off & 0xfff)) / size);
		uint8_t *h;

		if (!n || !gh_mem_fast(cpu, GH_ES, off, size) ||
		    !(h = gh_tlb_lookup_write(cpu->tlb, off, cpu->data_mode)))
			return true;
		if (size == 1)
			memset(h, (int)v, n);
		else
			for (uint64_t k = 0; k < n; k++)
				gh_host_store(h + k * size, size, v);
		s->di += n * size;
		s->cnt -= n;
		s->left -= n;
		str_commit_di(cpu, s);
		str_commit_cnt(cpu, s);
		if (!s->left)
			return rep_fast_yield(cpu, s);
	}
	return s->cnt != 0;
}

static bool rep_fast_movs(struct gh_cpu *cpu, const struct gh_x86_insn *i, struct str *s,
			  unsigned size)
{
	while (s->step > 0 && s->cnt) {
		uint64_t so = s->si & s->amask, d = s->di & s->amask;
		uint64_t n = MIN(MIN(s->cnt, (uint64_t)s->left),
				 MIN((0x1000 - (so & 0xfff)) / size, (0x1000 - (d & 0xfff)) / size));
		uint8_t *hs, *hd;

		if (!n || !gh_mem_fast(cpu, i->seg, so, size) || !gh_mem_fast(cpu, GH_ES, d, size) ||
		    !(hs = gh_tlb_lookup_read(cpu->tlb, so, cpu->data_mode)) ||
		    !(hd = gh_tlb_lookup_write(cpu->tlb, d, cpu->data_mode)))
			return true;
		/* a destination just above the source copies what it wrote */
		if (hd > hs && hd < hs + n * size)
			return true;
		memmove(hd, hs, n * size);
		s->si += n * size;
		s->di += n * size;
		s->cnt -= n;
		s->left -= n;
		str_commit_si(cpu, s);
		str_commit_di(cpu, s);
		str_commit_cnt(cpu, s);
		if (!s->left)
			return rep_fast_yield(cpu, s);
	}
	return s->cnt != 0;
}

static inline __attribute__((always_inline)) void do_movs(struct gh_cpu *cpu,
							  const struct gh_x86_insn *i,
							  unsigned size)
{
	struct str s;
	uint64_t v;

	str_init(cpu, i, &s, size);
	if (!is_rep(i)) {
		v = gh_mem_read_seg(cpu, i->seg, s.si & s.amask, size);
		gh_mem_write_seg(cpu, GH_ES, s.di & s.amask, size, v);
		s.si += s.step;
		s.di += s.step;
		str_commit_si(cpu, &s);
		str_commit_di(cpu, &s);
		return;
	}
	if (s.cnt == 0 || !rep_fast_movs(cpu, i, &s, size))
		return;
	do {
		v = gh_mem_read_seg(cpu, i->seg, s.si & s.amask, size);
		gh_mem_write_seg(cpu, GH_ES, s.di & s.amask, size, v);
		s.si += s.step;
		s.di += s.step;
		s.cnt--;
		str_commit_si(cpu, &s);
		str_commit_di(cpu, &s);
		str_commit_cnt(cpu, &s);
	} while (rep_next(cpu, &s));
}

static inline __attribute__((always_inline)) void do_stos(struct gh_cpu *cpu,
							  const struct gh_x86_insn *i,
							  unsigned size)
{
	struct str s;
	uint64_t v = cpu->gpr[GH_RAX] & gh_size_mask(size);

	str_init(cpu, i, &s, size);
	if (!is_rep(i)) {
		gh_mem_write_seg(cpu, GH_ES, s.di & s.amask, size, v);
		s.di += s.step;
		str_commit_di(cpu, &s);
		return;
	}
	if (s.cnt == 0 || !rep_fast_stos(cpu, &s, size, v))
		return;
	do {
		gh_mem_write_seg(cpu, GH_ES, s.di & s.amask, size, v);
		s.di += s.step;
		s.cnt--;
		str_commit_di(cpu, &s);
		str_commit_cnt(cpu, &s);
	} while (rep_next(cpu, &s));
}

/* REP LODS is legal, if useless: every iteration loads the accumulator. */
static inline __attribute__((always_inline)) void do_lods(struct gh_cpu *cpu,
							  const struct gh_x86_insn *i,
							  unsigned size)
{
	struct str s;
	uint64_t v;

	str_init(cpu, i, &s, size);
	if (!is_rep(i)) {
		v = gh_mem_read_seg(cpu, i->seg, s.si & s.amask, size);
		set_acc(cpu, size, v);
		s.si += s.step;
		str_commit_si(cpu, &s);
		return;
	}
	if (s.cnt == 0)
		return;
	do {
		v = gh_mem_read_seg(cpu, i->seg, s.si & s.amask, size);
		set_acc(cpu, size, v);
		s.si += s.step;
		s.cnt--;
		str_commit_si(cpu, &s);
		str_commit_cnt(cpu, &s);
	} while (rep_next(cpu, &s));
}

/* REPE/REPNE for CMPS and SCAS: the last of F2/F3 decides. */
static inline bool rep_while_equal(const struct gh_x86_insn *i)
{
	if (i->last_pfx == 0xf3)
		return true;
	if (i->last_pfx == 0xf2)
		return false;
	return !(i->prefix & GH_X86_PFX_REPNE);
}

static inline __attribute__((always_inline)) void do_cmps(struct gh_cpu *cpu,
							  const struct gh_x86_insn *i,
							  unsigned size)
{
	struct str s;
	uint64_t a, b;
	bool repe;

	str_init(cpu, i, &s, size);
	if (!is_rep(i)) {
		a = gh_mem_read_seg(cpu, i->seg, s.si & s.amask, size);
		b = gh_mem_read_seg(cpu, GH_ES, s.di & s.amask, size);
		gh_alu_cmp(&cpu->lf, a, b, size * 8);
		s.si += s.step;
		s.di += s.step;
		str_commit_si(cpu, &s);
		str_commit_di(cpu, &s);
		return;
	}
	if (s.cnt == 0)
		return;
	repe = rep_while_equal(i);
	do {
		a = gh_mem_read_seg(cpu, i->seg, s.si & s.amask, size);
		b = gh_mem_read_seg(cpu, GH_ES, s.di & s.amask, size);
		gh_alu_cmp(&cpu->lf, a, b, size * 8);
		s.si += s.step;
		s.di += s.step;
		s.cnt--;
		str_commit_si(cpu, &s);
		str_commit_di(cpu, &s);
		str_commit_cnt(cpu, &s);
		if (gh_flags_zf(&cpu->lf) != repe)
			break;
	} while (rep_next(cpu, &s));
}

static inline __attribute__((always_inline)) void do_scas(struct gh_cpu *cpu,
							  const struct gh_x86_insn *i,
							  unsigned size)
{
	struct str s;
	uint64_t a = cpu->gpr[GH_RAX] & gh_size_mask(size), b;
	bool repe;

	str_init(cpu, i, &s, size);
	if (!is_rep(i)) {
		b = gh_mem_read_seg(cpu, GH_ES, s.di & s.amask, size);
		gh_alu_cmp(&cpu->lf, a, b, size * 8);
		s.di += s.step;
		str_commit_di(cpu, &s);
		return;
	}
	if (s.cnt == 0)
		return;
	repe = rep_while_equal(i);
	do {
		b = gh_mem_read_seg(cpu, GH_ES, s.di & s.amask, size);
		gh_alu_cmp(&cpu->lf, a, b, size * 8);
		s.di += s.step;
		s.cnt--;
		str_commit_di(cpu, &s);
		str_commit_cnt(cpu, &s);
		if (gh_flags_zf(&cpu->lf) != repe)
			break;
	} while (rep_next(cpu, &s));
}

/*
 * INS: the destination is checked (segment, paging) before the port is
 * read, so a fault does not lose a value read from a device.
 */
static inline __attribute__((always_inline)) void ins_one(struct gh_cpu *cpu,
							  struct str *s, unsigned size)
{
	uint16_t port = cpu->gpr[GH_RDX];
	uint64_t v;

	gh_exec_io_check(cpu, port, size);
	gh_mem_probe_write(cpu, GH_ES, s->di & s->amask, size);
	v = gh_exec_pio_in(cpu, port, size);
	gh_mem_write_seg(cpu, GH_ES, s->di & s->amask, size, v);
	s->di += s->step;
}

static inline __attribute__((always_inline)) void do_ins(struct gh_cpu *cpu,
							 const struct gh_x86_insn *i,
							 unsigned size)
{
	struct str s;

	str_init(cpu, i, &s, size);
	if (!is_rep(i)) {
		ins_one(cpu, &s, size);
		str_commit_di(cpu, &s);
		return;
	}
	if (s.cnt == 0)
		return;
	do {
		ins_one(cpu, &s, size);
		s.cnt--;
		str_commit_di(cpu, &s);
		str_commit_cnt(cpu, &s);
	} while (rep_next(cpu, &s));
}

static inline __attribute__((always_inline)) void outs_one(struct gh_cpu *cpu,
							   const struct gh_x86_insn *i,
							   struct str *s, unsigned size)
{
	uint16_t port = cpu->gpr[GH_RDX];
	uint64_t v;

	gh_exec_io_check(cpu, port, size);
	v = gh_mem_read_seg(cpu, i->seg, s->si & s->amask, size);
	gh_exec_pio_out(cpu, port, size, v);
	s->si += s->step;
}

static inline __attribute__((always_inline)) void do_outs(struct gh_cpu *cpu,
							  const struct gh_x86_insn *i,
							  unsigned size)
{
	struct str s;

	str_init(cpu, i, &s, size);
	if (!is_rep(i)) {
		outs_one(cpu, i, &s, size);
		str_commit_si(cpu, &s);
		return;
	}
	if (s.cnt == 0)
		return;
	do {
		outs_one(cpu, i, &s, size);
		s.cnt--;
		str_commit_si(cpu, &s);
		str_commit_cnt(cpu, &s);
	} while (rep_next(cpu, &s));
}

/* One handler per op; the size is a constant inside each specialisation. */
#define STR_HANDLERS(name)                                                              \
	static void h_##name##b(struct gh_cpu *cpu, const struct gh_x86_insn *i)      \
	{                                                                              \
		do_##name(cpu, i, 1);                                                  \
	}                                                                              \
	static void h_##name(struct gh_cpu *cpu, const struct gh_x86_insn *i)         \
	{                                                                              \
		switch (i->opsize) {                                                   \
		case 2:                                                                \
			do_##name(cpu, i, 2);                                          \
			break;                                                         \
		case 4:                                                                \
			do_##name(cpu, i, 4);                                          \
			break;                                                         \
		default:                                                               \
			do_##name(cpu, i, 8);                                          \
			break;                                                         \
		}                                                                      \
	}
STR_HANDLERS(movs)
STR_HANDLERS(stos)
STR_HANDLERS(lods)
STR_HANDLERS(cmps)
STR_HANDLERS(scas)
#undef STR_HANDLERS

static void h_insb(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	do_ins(cpu, i, 1);
}

static void h_ins(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	if (i->opsize == 2)
		do_ins(cpu, i, 2);
	else
		do_ins(cpu, i, 4);
}

static void h_outsb(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	do_outs(cpu, i, 1);
}

static void h_outs(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	if (i->opsize == 2)
		do_outs(cpu, i, 2);
	else
		do_outs(cpu, i, 4);
}

/* ---- the table ------------------------------------------------------------------------ */

#define JCC(cc) { GH_X86_OP_##cc##_Jb, h_jcc }, { GH_X86_OP_##cc##_Jz, h_jcc }

const struct gh_handler_bind gh_exec_ctl_binds[] = {
	JCC(JO), JCC(JNO), JCC(JB), JCC(JNB), JCC(JZ), JCC(JNZ), JCC(JBE), JCC(JNBE),
	JCC(JS), JCC(JNS), JCC(JP), JCC(JNP), JCC(JL), JCC(JNL), JCC(JLE), JCC(JNLE),
	{ GH_X86_OP_JMP_Jb, h_jmp_rel },
	{ GH_X86_OP_JMP_Jz, h_jmp_rel },
	{ GH_X86_OP_JMP_Ev, h_jmp_ev },
	{ GH_X86_OP_JMPF_Ap, h_jmpf_ap },
	{ GH_X86_OP_JMPF_Mp, h_jmpf_mp },
	{ GH_X86_OP_CALL_Jz, h_call_rel },
	{ GH_X86_OP_CALL_Ev, h_call_ev },
	{ GH_X86_OP_CALLF_Ap, h_callf_ap },
	{ GH_X86_OP_CALLF_Mp, h_callf_mp },
	{ GH_X86_OP_RET, h_ret },
	{ GH_X86_OP_RET_Iw, h_ret_iw },
	{ GH_X86_OP_RETF, h_retf },
	{ GH_X86_OP_RETF_Iw, h_retf_iw },
	{ GH_X86_OP_LOOP_Jb, h_loop },
	{ GH_X86_OP_LOOPE_Jb, h_loop },
	{ GH_X86_OP_LOOPNE_Jb, h_loop },
	{ GH_X86_OP_JrCXZ_Jb, h_jrcxz },

	{ GH_X86_OP_PUSH_Zv, h_push_reg },
	{ GH_X86_OP_POP_Zv, h_pop_reg },
	{ GH_X86_OP_PUSH_Iz, h_push_imm },
	{ GH_X86_OP_PUSH_Ib, h_push_imm },
	{ GH_X86_OP_PUSH_Ev, h_push_ev },
	{ GH_X86_OP_POP_Ev, h_pop_ev },
	{ GH_X86_OP_PUSH_ES, h_push_es },
	{ GH_X86_OP_POP_ES, h_pop_es },
	{ GH_X86_OP_PUSH_CS, h_push_cs },
	{ GH_X86_OP_PUSH_SS, h_push_ss },
	{ GH_X86_OP_POP_SS, h_pop_ss },
	{ GH_X86_OP_PUSH_DS, h_push_ds },
	{ GH_X86_OP_POP_DS, h_pop_ds },
	{ GH_X86_OP_PUSH_FS, h_push_fs },
	{ GH_X86_OP_POP_FS, h_pop_fs },
	{ GH_X86_OP_PUSH_GS, h_push_gs },
	{ GH_X86_OP_POP_GS, h_pop_gs },
	{ GH_X86_OP_PUSHA, h_pusha },
	{ GH_X86_OP_POPA, h_popa },
	{ GH_X86_OP_PUSHF, h_pushf },
	{ GH_X86_OP_POPF, h_popf },
	{ GH_X86_OP_ENTER_Iw_Ib, h_enter },
	{ GH_X86_OP_LEAVE, h_leave },

	{ GH_X86_OP_INT_Ib, h_int },
	{ GH_X86_OP_INT3, h_int3 },
	{ GH_X86_OP_INTO, h_into },
	{ GH_X86_OP_INT1, h_int1 },
	{ GH_X86_OP_IRET, h_iret },

	{ GH_X86_OP_MOVSB, h_movsb },
	{ GH_X86_OP_MOVS, h_movs },
	{ GH_X86_OP_CMPSB, h_cmpsb },
	{ GH_X86_OP_CMPS, h_cmps },
	{ GH_X86_OP_STOSB, h_stosb },
	{ GH_X86_OP_STOS, h_stos },
	{ GH_X86_OP_LODSB, h_lodsb },
	{ GH_X86_OP_LODS, h_lods },
	{ GH_X86_OP_SCASB, h_scasb },
	{ GH_X86_OP_SCAS, h_scas },
	{ GH_X86_OP_INSB, h_insb },
	{ GH_X86_OP_INS, h_ins },
	{ GH_X86_OP_OUTSB, h_outsb },
	{ GH_X86_OP_OUTS, h_outs },

	{ GH_X86_OP_IN_AL_Ib, h_in_imm },
	{ GH_X86_OP_IN_eAX_Ib, h_in_imm },
	{ GH_X86_OP_OUT_Ib_AL, h_out_imm },
	{ GH_X86_OP_OUT_Ib_eAX, h_out_imm },
	{ GH_X86_OP_IN_AL_DX, h_in_dx },
	{ GH_X86_OP_IN_eAX_DX, h_in_dx },
	{ GH_X86_OP_OUT_DX_AL, h_out_dx },
	{ GH_X86_OP_OUT_DX_eAX, h_out_dx },

	{ GH_X86_OP_MOV_Ev_Sw, h_mov_ev_sw },
	{ GH_X86_OP_MOV_Sw_Ew, h_mov_sw_ew },
	{ GH_X86_OP_LES_Gz_Mp, h_les },
	{ GH_X86_OP_LDS_Gz_Mp, h_lds },
	{ GH_X86_OP_LSS_Gv_Mp, h_lss },
	{ GH_X86_OP_LFS_Gv_Mp, h_lfs },
	{ GH_X86_OP_LGS_Gv_Mp, h_lgs },
	{ 0, NULL },
};

/* ---- fast forms (exec.h): 64-bit code, 64-bit operands ----------------------------------- */

/* A near transfer in 64-bit mode: #GP(0) for a non-canonical target. */
static inline void fast_jump(struct gh_cpu *cpu, uint64_t target)
{
	if (__builtin_expect(!gh_cpu_canonical(target), 0))
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	cpu->rip = target;
	cpu->end_block = true;
}

#define FAST_JCC(cc)                                                                     \
	static void h_fjcc_##cc(struct gh_cpu *cpu, const struct gh_x86_insn *i)          \
	{                                                                                \
		if (gh_flags_cond(&cpu->lf, cc))                                          \
			fast_jump(cpu, cpu->rip + i->imm);                               \
		GH_FAST_NEXT(cpu, i);                                                    \
	}
FAST_JCC(0) FAST_JCC(1) FAST_JCC(2) FAST_JCC(3) FAST_JCC(4) FAST_JCC(5) FAST_JCC(6)
FAST_JCC(7) FAST_JCC(8) FAST_JCC(9) FAST_JCC(10) FAST_JCC(11) FAST_JCC(12) FAST_JCC(13)
FAST_JCC(14) FAST_JCC(15)
#undef FAST_JCC

static gh_handler_fn *const fast_jcc[16] = {
	h_fjcc_0, h_fjcc_1, h_fjcc_2, h_fjcc_3, h_fjcc_4, h_fjcc_5, h_fjcc_6, h_fjcc_7,
	h_fjcc_8, h_fjcc_9, h_fjcc_10, h_fjcc_11, h_fjcc_12, h_fjcc_13, h_fjcc_14, h_fjcc_15,
};

static void h_fjmp(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	fast_jump(cpu, cpu->rip + i->imm);
	GH_FAST_NEXT(cpu, i);
}

/* The stack in 64-bit mode: SS has no base, RSP is 64 bits wide. */
static inline void fast_push(struct gh_cpu *cpu, uint64_t v)
{
	uint64_t sp = cpu->gpr[GH_RSP] - 8;

	gh_fast_write(cpu, GH_SS, sp, 8, v);
	cpu->gpr[GH_RSP] = sp;
}

static void h_fcall(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t ret = cpu->rip, target = ret + i->imm;

	if (__builtin_expect(!gh_cpu_canonical(target), 0))
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	fast_push(cpu, ret);
	cpu->rip = target;
	cpu->end_block = true;
	GH_FAST_NEXT(cpu, i);
}

static void h_fret(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t sp = cpu->gpr[GH_RSP];

	fast_jump(cpu, gh_fast_read(cpu, GH_SS, sp, 8));
	cpu->gpr[GH_RSP] = sp + 8;
	GH_FAST_NEXT(cpu, i);
}

static void h_fpush(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	fast_push(cpu, cpu->gpr[i->rm]);
	GH_FAST_NEXT(cpu, i);
}

/* POP rSP loads the popped value: the pop's own increment is lost. */
static void h_fpop(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t sp = cpu->gpr[GH_RSP];
	uint64_t v = gh_fast_read(cpu, GH_SS, sp, 8);

	cpu->gpr[GH_RSP] = sp + 8;
	cpu->gpr[i->rm] = v;
	GH_FAST_NEXT(cpu, i);
}

gh_handler_fn *gh_exec_ctl_fast(const struct gh_x86_insn *i)
{
	if (i->opsize != 8)
		return NULL;
	if (i->map == 0 && i->opcode >= 0x70 && i->opcode <= 0x7f)
		return fast_jcc[i->opcode & 0xf];
	if (i->map == 1 && i->opcode >= 0x80 && i->opcode <= 0x8f)
		return fast_jcc[i->opcode & 0xf];
	switch (i->op) {
	case GH_X86_OP_JMP_Jb:
	case GH_X86_OP_JMP_Jz:
		return h_fjmp;
	case GH_X86_OP_CALL_Jz:
		return h_fcall;
	case GH_X86_OP_RET:
		return h_fret;
	case GH_X86_OP_PUSH_Zv:
		return h_fpush;
	case GH_X86_OP_POP_Zv:
		return h_fpop;
	}
	return NULL;
}
