/*
 * Exceptions and interrupts: raising faults, the double-fault rules (SDM
 * vol. 3A, 6.15, table 6-5), delivery through the real-mode IVT and the
 * protected/long-mode IDT (6.10-6.14, 20.1.4, vol. 2 INT n pseudo-code) and
 * IRET/IRETD/IRETQ (vol. 2 IRET pseudo-code).
 */
#include "cpu/cpu-internal.h"

#include <string.h>

/* Flags an IRET may not change from V86 mode or at CPL > 0 (SDM vol. 2). */
#define FL_ARITH (GH_FL_CF | GH_FL_PF | GH_FL_AF | GH_FL_ZF | GH_FL_SF | GH_FL_OF)

void gh_cpu_raise(struct gh_cpu *cpu, unsigned vector, uint32_t error)
{
	cpu->exc.vector = vector;
	cpu->exc.has_error = true;
	cpu->exc.error = error;
	cpu->exc.kind = GH_EVENT_EXCEPTION;
	g_assert(cpu->jmp); /* every caller runs under the run loop's setjmp */
	longjmp(*cpu->jmp, 1);
}

void gh_cpu_raise_noerr(struct gh_cpu *cpu, unsigned vector)
{
	cpu->exc.vector = vector;
	cpu->exc.has_error = false;
	cpu->exc.error = 0;
	cpu->exc.kind = GH_EVENT_EXCEPTION;
	g_assert(cpu->jmp);
	longjmp(*cpu->jmp, 1);
}

void gh_cpu_raise_pf(struct gh_cpu *cpu, uint64_t lin, uint32_t error)
{
	cpu->cr2 = lin;
	gh_cpu_raise(cpu, GH_EXC_PF, error);
}

void gh_cpu_raise_sel(struct gh_cpu *cpu, unsigned vector, uint16_t sel)
{
	gh_cpu_raise(cpu, vector, (sel & 0xfffcu) | cpu->err_ext);
}

/* The classes of SDM table 6-4, which decide table 6-5's outcome. */
enum exc_class { EXC_BENIGN, EXC_CONTRIBUTORY, EXC_PAGE_FAULT };

static enum exc_class exc_class(unsigned vector)
{
	switch (vector) {
	case GH_EXC_DE:
	case GH_EXC_TS:
	case GH_EXC_NP:
	case GH_EXC_SS:
	case GH_EXC_GP:
		return EXC_CONTRIBUTORY;
	case GH_EXC_PF:
		return EXC_PAGE_FAULT;
	default:
		return EXC_BENIGN;
	}
}

/* True if "second", raised while delivering "first", makes a #DF. */
static bool makes_double_fault(unsigned first, unsigned second)
{
	enum exc_class a = exc_class(first), b = exc_class(second);

	if (a == EXC_CONTRIBUTORY)
		return b == EXC_CONTRIBUTORY;
	if (a == EXC_PAGE_FAULT)
		return b != EXC_BENIGN;
	return false;
}

void gh_cpu_handle_exception(struct gh_cpu *cpu)
{
	jmp_buf jb;
	jmp_buf *outer = cpu->jmp;

	cpu->jmp = &jb;
	/*
	 * A fault of the delivery below comes back here with cpu->exc the new
	 * exception and cpu->delivering the event it interrupted; everything
	 * the loop needs is re-read from cpu, never from locals.
	 */
	setjmp(jb);
	if (cpu->delivering >= 0 && cpu->delivering_kind == GH_EVENT_EXCEPTION) {
		unsigned first = cpu->delivering;

		if (first == GH_EXC_DF) {
			/* a fault while starting the #DF handler: shutdown */
			cpu->shutdown = true;
			cpu->delivering = -1;
			cpu->err_ext = 0;
			cpu->jmp = outer;
			return;
		}
		if (makes_double_fault(first, cpu->exc.vector)) {
			cpu->exc.vector = GH_EXC_DF;
			cpu->exc.has_error = true;
			cpu->exc.error = 0;
		}
	}
	/* a fault restarts its instruction: RIP goes back to its start, and
	 * the pushed RFLAGS gets RF so an instruction breakpoint does not
	 * fire again on the restart (SDM 17.3.1.1) */
	cpu->rip = cpu->prev_rip;
	if (cpu->exc.vector != GH_EXC_DB)
		cpu->rflags |= GH_FL_RF;
	cpu->halted = false;
	gh_cpu_deliver(cpu, cpu->exc.vector, GH_EVENT_EXCEPTION, cpu->exc.has_error,
		       cpu->exc.error);
	cpu->jmp = outer;
}

/* Real-address mode: the IVT at IDTR.base, 4-byte entries (SDM 20.1.4). */
static void deliver_real(struct gh_cpu *cpu, unsigned vector)
{
	struct gh_stack st;
	uint16_t ent[2];

	if (vector * 4 + 3 > cpu->idtr.limit)
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	gh_cpu_read_sys(cpu, cpu->idtr.base + vector * 4, ent, 4);
	gh_cpu_stack_init(cpu, &st, &cpu->seg[GH_SS], cpu->gpr[GH_RSP], 0, 0);
	gh_cpu_stack_push(cpu, &st, cpu->rflags & 0xffff, 2);
	gh_cpu_stack_push(cpu, &st, cpu->seg[GH_CS].selector, 2);
	gh_cpu_stack_push(cpu, &st, cpu->rip & 0xffff, 2);
	cpu->gpr[GH_RSP] = st.sp;
	cpu->rflags &= ~(uint64_t)(GH_FL_IF | GH_FL_TF | GH_FL_AC | GH_FL_RF);
	gh_cpu_load_seg_real(cpu, GH_CS, ent[1]);
	cpu->rip = ent[0];
}

/* The gate's target code segment (SDM vol. 2, INT n: "PROTECTED-MODE"). */
static void gate_target(struct gh_cpu *cpu, uint16_t sel, bool want64,
			struct gh_descriptor *d, struct gh_segment *cs)
{
	if (gh_sel_null(sel))
		gh_cpu_raise(cpu, GH_EXC_GP, cpu->err_ext);
	gh_cpu_read_descriptor(cpu, sel, false, GH_EXC_GP, d);
	gh_cpu_parse_descriptor(d, sel, cs);
	if (!gh_seg_is_code(cs) || cs->dpl > cpu->cpl)
		gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
	if (want64 && !(cs->l && !cs->db))
		gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
	if (!cs->present)
		gh_cpu_raise_sel(cpu, GH_EXC_NP, sel);
}

/* The gate's offset must lie in the target: #GP(EXT) (SDM vol. 2, INT n). */
static void gate_check_ip(struct gh_cpu *cpu, const struct gh_segment *cs, uint64_t ip)
{
	if (gh_cpu_long_mode(cpu) && cs->l ? !gh_cpu_canonical(ip) : ip > cs->limit)
		gh_cpu_raise(cpu, GH_EXC_GP, cpu->err_ext);
}

/* The flags every gate clears; an interrupt gate clears IF too. */
static void gate_flags(struct gh_cpu *cpu, bool trap)
{
	cpu->rflags &= ~(uint64_t)(GH_FL_TF | GH_FL_NT | GH_FL_RF | GH_FL_VM);
	if (!trap)
		cpu->rflags &= ~(uint64_t)GH_FL_IF;
}

/*
 * What both IDT formats check after the gate's type (SDM 6.12.1.1): INT n,
 * INT3 and INTO need gate DPL >= CPL, then the gate must be present.
 */
static void gate_check_access(struct gh_cpu *cpu, const struct gh_descriptor *g,
			      enum gh_event_kind kind, uint32_t idt_err)
{
	if ((kind == GH_EVENT_SOFTWARE || kind == GH_EVENT_SOFTWARE_EXC) &&
	    gh_desc_dpl(g) < cpu->cpl)
		gh_cpu_raise(cpu, GH_EXC_GP, idt_err);
	if (!gh_desc_present(g))
		gh_cpu_raise(cpu, GH_EXC_NP, idt_err);
}

/* Protected mode and V86: 16/32-bit interrupt, trap and task gates. */
static void deliver_prot(struct gh_cpu *cpu, unsigned vector, enum gh_event_kind kind,
			 bool has_error, uint32_t error)
{
	uint32_t idt_err = vector * 8 + 2 + cpu->err_ext;
	struct gh_descriptor g, cd, sd;
	struct gh_segment cs, ss;
	struct gh_stack st;
	uint64_t off, flags = cpu->rflags;
	unsigned type, gsize;
	bool v86 = cpu->mode == GH_MODE_V86;
	uint16_t sel;

	/* INT n in V86 mode goes to the monitor unless IOPL is 3 (SDM 20.3) */
	if (kind == GH_EVENT_SOFTWARE && v86 &&
	    ((cpu->rflags & GH_FL_IOPL) >> GH_FL_IOPL_SHIFT) < 3)
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	if (vector * 8 + 7 > cpu->idtr.limit)
		gh_cpu_raise(cpu, GH_EXC_GP, idt_err);
	gh_cpu_read_sys(cpu, cpu->idtr.base + vector * 8, &g.raw[0], 8);
	g.raw[1] = 0;
	type = gh_desc_type(&g);
	if (gh_desc_s(&g) ||
	    (type != 5 && type != 6 && type != 7 && type != 0xe && type != 0xf))
		gh_cpu_raise(cpu, GH_EXC_GP, idt_err);
	gate_check_access(cpu, &g, kind, idt_err);

	sel = (g.raw[0] >> 16) & 0xffff;
	if (type == 5) {
		struct gh_descriptor td;

		if (sel & 4)
			gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
		gh_cpu_read_descriptor(cpu, sel, false, GH_EXC_GP, &td);
		if (gh_desc_s(&td) || (gh_desc_type(&td) & 7) != 1)
			gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
		if (!gh_desc_present(&td))
			gh_cpu_raise_sel(cpu, GH_EXC_NP, sel);
		gh_cpu_task_switch(cpu, sel, &td, GH_TASK_INT, has_error, error);
		return;
	}

	gsize = (type & 8) ? 4 : 2;
	off = g.raw[0] & 0xffff;
	if (gsize == 4)
		off |= (g.raw[0] >> 32) & 0xffff0000;
	gate_target(cpu, sel, false, &cd, &cs);

	if (!gh_seg_conforming(&cs) && cs.dpl < cpu->cpl) {
		uint64_t sp;
		unsigned dpl = cs.dpl;

		/* from V86 mode only ring 0 can take the interrupt */
		if (v86 && dpl != 0)
			gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
		gh_cpu_tss_ss(cpu, dpl, &sd, &ss, &sp);
		gh_cpu_stack_init(cpu, &st, &ss, sp, dpl,
				  (ss.selector & 0xfffc) | cpu->err_ext);
		gate_check_ip(cpu, &cs, off);
		if (v86) {
			gh_cpu_stack_push(cpu, &st, cpu->seg[GH_GS].selector, gsize);
			gh_cpu_stack_push(cpu, &st, cpu->seg[GH_FS].selector, gsize);
			gh_cpu_stack_push(cpu, &st, cpu->seg[GH_DS].selector, gsize);
			gh_cpu_stack_push(cpu, &st, cpu->seg[GH_ES].selector, gsize);
		}
		gh_cpu_stack_push(cpu, &st, cpu->seg[GH_SS].selector, gsize);
		gh_cpu_stack_push(cpu, &st, cpu->gpr[GH_RSP], gsize);
		gh_cpu_stack_push(cpu, &st, flags, gsize);
		gh_cpu_stack_push(cpu, &st, cpu->seg[GH_CS].selector, gsize);
		gh_cpu_stack_push(cpu, &st, cpu->rip, gsize);
		if (has_error)
			gh_cpu_stack_push(cpu, &st, error, gsize);

		gh_cpu_set_accessed(cpu, &sd, &ss);
		gh_cpu_set_accessed(cpu, &cd, &cs);
		if (v86) {
			static const unsigned sregs[] = {GH_GS, GH_FS, GH_DS, GH_ES};

			for (unsigned i = 0; i < G_N_ELEMENTS(sregs); i++) {
				memset(&cpu->seg[sregs[i]], 0, sizeof(cpu->seg[0]));
				cpu->seg[sregs[i]].unusable = 1;
			}
		}
		cpu->seg[GH_SS] = ss;
		cpu->gpr[GH_RSP] = st.sp;
		gate_flags(cpu, type & 1);
		gh_cpu_set_cs(cpu, &cs, dpl);
		cpu->rip = off;
		return;
	}

	if (v86)
		gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
	/* same privilege: a conforming segment keeps the CPL */
	gh_cpu_stack_init(cpu, &st, &cpu->seg[GH_SS], cpu->gpr[GH_RSP], cpu->cpl,
			  cpu->err_ext);
	gate_check_ip(cpu, &cs, off);
	gh_cpu_stack_push(cpu, &st, flags, gsize);
	gh_cpu_stack_push(cpu, &st, cpu->seg[GH_CS].selector, gsize);
	gh_cpu_stack_push(cpu, &st, cpu->rip, gsize);
	if (has_error)
		gh_cpu_stack_push(cpu, &st, error, gsize);
	gh_cpu_set_accessed(cpu, &cd, &cs);
	cpu->gpr[GH_RSP] = st.sp;
	gate_flags(cpu, type & 1);
	gh_cpu_set_cs(cpu, &cs, cpu->cpl);
	cpu->rip = off;
}

/* IA-32e mode: 16-byte 64-bit gates, IST, aligned 64-bit frames (SDM 6.14). */
static void deliver_long(struct gh_cpu *cpu, unsigned vector, enum gh_event_kind kind,
			 bool has_error, uint32_t error)
{
	uint32_t idt_err = vector * 8 + 2 + cpu->err_ext;	/* the index is the vector (SDM 6.13) */
	struct gh_descriptor g, cd;
	struct gh_segment cs, ss;
	struct gh_stack st;
	uint64_t off, sp, flags = cpu->rflags;
	unsigned type, ist, new_cpl;
	uint16_t sel, ss_sel;

	if (vector * 16 + 15 > cpu->idtr.limit)
		gh_cpu_raise(cpu, GH_EXC_GP, idt_err);
	gh_cpu_read_sys(cpu, cpu->idtr.base + vector * 16, g.raw, 16);
	type = gh_desc_type(&g);
	if (gh_desc_s(&g) || (type != 0xe && type != 0xf) || ((g.raw[1] >> 40) & 0x1f))
		gh_cpu_raise(cpu, GH_EXC_GP, idt_err);
	gate_check_access(cpu, &g, kind, idt_err);

	sel = (g.raw[0] >> 16) & 0xffff;
	off = (g.raw[0] & 0xffff) | ((g.raw[0] >> 32) & 0xffff0000) |
	      ((g.raw[1] & 0xffffffff) << 32);
	ist = (g.raw[0] >> 32) & 7;
	gate_target(cpu, sel, true, &cd, &cs);
	gate_check_ip(cpu, &cs, off);

	if (!gh_seg_conforming(&cs) && cs.dpl < cpu->cpl) {
		new_cpl = cs.dpl;
		gh_cpu_tss_stack(cpu, new_cpl, ist, &ss_sel, &sp);
		gh_cpu_null_ss(&ss, new_cpl);
	} else {
		new_cpl = cpu->cpl;
		sp = cpu->gpr[GH_RSP];
		if (ist)
			gh_cpu_tss_stack(cpu, new_cpl, ist, &ss_sel, &sp);
		ss = cpu->seg[GH_SS];
	}
	if (!gh_cpu_canonical(sp))
		gh_cpu_raise(cpu, GH_EXC_SS, cpu->err_ext);
	/* the frame is 8-byte pushes on a 16-byte aligned 64-bit stack */
	st = (struct gh_stack){
	    .sp = sp & ~0xfULL,
	    .width = 8,
	    .limit = 0xffffffff,
	    .pl = new_cpl,
	    .err = cpu->err_ext,
	};
	gh_cpu_stack_push(cpu, &st, cpu->seg[GH_SS].selector, 8);
	gh_cpu_stack_push(cpu, &st, cpu->gpr[GH_RSP], 8);
	gh_cpu_stack_push(cpu, &st, flags, 8);
	gh_cpu_stack_push(cpu, &st, cpu->seg[GH_CS].selector, 8);
	gh_cpu_stack_push(cpu, &st, cpu->rip, 8);
	if (has_error)
		gh_cpu_stack_push(cpu, &st, error, 8);

	gh_cpu_set_accessed(cpu, &cd, &cs);
	cpu->seg[GH_SS] = ss;
	cpu->gpr[GH_RSP] = st.sp;
	gate_flags(cpu, type & 1);
	gh_cpu_set_cs(cpu, &cs, new_cpl);
	cpu->rip = off;
}

void gh_cpu_deliver(struct gh_cpu *cpu, unsigned vector, enum gh_event_kind kind,
		    bool has_error, uint32_t error)
{
	cpu->delivering = vector;
	cpu->delivering_kind = kind;
	cpu->err_ext = kind == GH_EVENT_SOFTWARE || kind == GH_EVENT_SOFTWARE_EXC ? 0 : 1;

	switch (cpu->mode) {
	case GH_MODE_REAL:
		deliver_real(cpu, vector);
		break;
	case GH_MODE_LONG:
	case GH_MODE_COMPAT:
		deliver_long(cpu, vector, kind, has_error, error);
		break;
	case GH_MODE_PROT:
	case GH_MODE_V86:
		deliver_prot(cpu, vector, kind, has_error, error);
		break;
	}
	cpu->delivering = -1;
	cpu->err_ext = 0;
	/* an exception raised from now on belongs to the handler's first
	 * instruction */
	cpu->prev_rip = cpu->rip;
}

/*
 * The RFLAGS an IRET loads (SDM vol. 2, IRET): IOPL only at CPL 0, IF only
 * at CPL <= IOPL, VIF/VIP only at CPL 0; VM never through this path; a
 * 16-bit IRET changes only the low 16 bits.
 */
static uint64_t iret_flags(const struct gh_cpu *cpu, uint64_t old, uint64_t popped,
			   unsigned opsize)
{
	uint64_t keep = GH_FL_VM;
	unsigned iopl = (old & GH_FL_IOPL) >> GH_FL_IOPL_SHIFT;
	uint64_t f;

	if (cpu->cpl > 0)
		keep |= GH_FL_IOPL | GH_FL_VIF | GH_FL_VIP;
	if (cpu->cpl > iopl)
		keep |= GH_FL_IF;
	if (opsize == 2)
		keep |= ~0xffffULL;
	f = (popped & ~keep) | (old & keep);
	f &= GH_FL_CF | GH_FL_PF | GH_FL_AF | GH_FL_ZF | GH_FL_SF | GH_FL_TF | GH_FL_IF |
	     GH_FL_DF | GH_FL_OF | GH_FL_IOPL | GH_FL_NT | GH_FL_RF | GH_FL_VM |
	     GH_FL_AC | GH_FL_VIF | GH_FL_VIP | GH_FL_ID;
	return f | GH_RFLAGS_FIXED;
}

static void iret_real_v86(struct gh_cpu *cpu, unsigned opsize)
{
	struct gh_stack st;
	uint64_t ip, fl, keep;
	uint16_t sel;

	if (cpu->mode == GH_MODE_V86 &&
	    ((cpu->rflags & GH_FL_IOPL) >> GH_FL_IOPL_SHIFT) < 3)
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	gh_cpu_stack_init(cpu, &st, &cpu->seg[GH_SS], cpu->gpr[GH_RSP], cpu->cpl, 0);
	ip = gh_cpu_stack_pop(cpu, &st, opsize);
	sel = gh_cpu_stack_pop(cpu, &st, opsize);
	fl = gh_cpu_stack_pop(cpu, &st, opsize);
	if (ip > cpu->seg[GH_CS].limit)
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	/* VM, VIF and VIP survive; in V86 mode IOPL too */
	keep = GH_FL_VM | GH_FL_VIF | GH_FL_VIP;
	if (cpu->mode == GH_MODE_V86)
		keep |= GH_FL_IOPL;
	if (opsize == 2)
		keep |= ~0xffffULL;
	fl = (fl & ~keep) | (cpu->rflags & keep);
	fl &= ~(uint64_t)((1u << 3) | (1u << 5) | (1u << 15)) & 0x3fffff;
	cpu->gpr[GH_RSP] = st.sp;
	gh_cpu_load_seg_real(cpu, GH_CS, sel);
	cpu->rip = ip;
	cpu->rflags = fl | GH_RFLAGS_FIXED;
	/* the interpreter keeps arithmetic flags lazily: load them there too */
	gh_flags_set(&cpu->lf, cpu->rflags, GH_ALU_FLAGS);
}

/* IRET from CPL 0 to virtual-8086 mode (SDM vol. 2, IRET: RETURN-TO-V86). */
static void iret_to_v86(struct gh_cpu *cpu, struct gh_stack *st, uint64_t ip,
			uint16_t csel, uint64_t fl)
{
	static const unsigned sregs[] = {GH_ES, GH_DS, GH_FS, GH_GS};
	uint16_t sel[4];
	uint64_t sp;
	uint16_t ss;

	sp = gh_cpu_stack_pop(cpu, st, 4);
	ss = gh_cpu_stack_pop(cpu, st, 4);
	for (unsigned i = 0; i < 4; i++)
		sel[i] = gh_cpu_stack_pop(cpu, st, 4);
	if ((ip & 0xffff) != ip)
		gh_cpu_raise(cpu, GH_EXC_GP, 0);

	cpu->rflags = (fl & 0x3f7fd5) | GH_RFLAGS_FIXED;
	/* the interpreter keeps arithmetic flags lazily: load them there too */
	gh_flags_set(&cpu->lf, cpu->rflags, GH_ALU_FLAGS);
	cpu->cpl = 3;
	gh_cpu_update_mode(cpu);
	gh_cpu_load_seg_real(cpu, GH_CS, csel);
	gh_cpu_load_seg_real(cpu, GH_SS, ss);
	for (unsigned i = 0; i < 4; i++)
		gh_cpu_load_seg_real(cpu, sregs[i], sel[i]);
	cpu->gpr[GH_RSP] = (uint32_t)sp;
	cpu->rip = ip;
}

void gh_cpu_iret(struct gh_cpu *cpu, unsigned opsize)
{
	struct gh_stack st;
	struct gh_segment cs, ss;
	uint64_t ip, fl, sp = 0;
	uint16_t csel, ssel = 0;
	unsigned rpl, old_cpl = cpu->cpl;
	bool lm = gh_cpu_long_mode(cpu), to64, pop_ss;

	if (cpu->mode == GH_MODE_REAL || cpu->mode == GH_MODE_V86) {
		iret_real_v86(cpu, opsize);
		return;
	}
	if (cpu->rflags & GH_FL_NT) {
		struct gh_descriptor d;
		uint16_t link;

		/* IA-32e mode has no task switches (SDM 7.7) */
		if (lm)
			gh_cpu_raise(cpu, GH_EXC_GP, 0);
		gh_cpu_read_sys(cpu, cpu->tr.base, &link, 2);
		if (link & 4)
			gh_cpu_raise_sel(cpu, GH_EXC_TS, link);
		gh_cpu_read_descriptor(cpu, link, false, GH_EXC_TS, &d);
		/* the task returned to must be busy (it called us) */
		if (gh_desc_s(&d) || (gh_desc_type(&d) & 7) != 3)
			gh_cpu_raise_sel(cpu, GH_EXC_TS, link);
		if (!gh_desc_present(&d))
			gh_cpu_raise_sel(cpu, GH_EXC_NP, link);
		gh_cpu_task_switch(cpu, link, &d, GH_TASK_IRET, false, 0);
		return;
	}

	gh_cpu_stack_init(cpu, &st, &cpu->seg[GH_SS], cpu->gpr[GH_RSP], cpu->cpl, 0);
	ip = gh_cpu_stack_pop(cpu, &st, opsize);
	csel = gh_cpu_stack_pop(cpu, &st, opsize);
	fl = gh_cpu_stack_pop(cpu, &st, opsize);
	if (opsize == 2)
		fl = (cpu->rflags & ~0xffffULL) | (fl & 0xffff);

	if ((fl & GH_FL_VM) && opsize == 4 && !lm && cpu->cpl == 0) {
		iret_to_v86(cpu, &st, ip, csel, fl);
		return;
	}
	if ((fl & GH_FL_VM) && lm)
		gh_cpu_raise(cpu, GH_EXC_GP, 0);

	gh_cpu_check_ret_cs(cpu, csel, &cs);
	rpl = csel & 3;
	to64 = lm && cs.l;
	/* 64-bit mode always pops SS:RSP; elsewhere only on a CPL change */
	pop_ss = cpu->mode == GH_MODE_LONG || rpl != cpu->cpl;
	if (pop_ss) {
		sp = gh_cpu_stack_pop(cpu, &st, opsize);
		ssel = gh_cpu_stack_pop(cpu, &st, opsize);
		gh_cpu_check_ret_ss(cpu, ssel, rpl, to64, &ss);
	}
	if (!to64 && opsize == 2)
		ip &= 0xffff;
	gh_cpu_check_ip(cpu, &cs, ip);

	fl = iret_flags(cpu, cpu->rflags, fl, opsize) & ~(uint64_t)GH_FL_VM;
	cpu->rflags = fl;
	/* the interpreter keeps arithmetic flags lazily: load them there too */
	gh_flags_set(&cpu->lf, cpu->rflags, GH_ALU_FLAGS);
	if (pop_ss) {
		struct gh_stack nst;

		gh_cpu_set_cs(cpu, &cs, rpl);
		cpu->seg[GH_SS] = ss;
		gh_cpu_stack_init(cpu, &nst, &ss, cpu->gpr[GH_RSP], rpl, 0);
		cpu->gpr[GH_RSP] = nst.width == 8 ? sp
				   : nst.width == 4
				       ? (uint32_t)sp
				       : (cpu->gpr[GH_RSP] & ~0xffffULL) | (sp & 0xffff);
		if (rpl > old_cpl)
			gh_cpu_invalidate_segs_for_cpl(cpu);
	} else {
		cpu->gpr[GH_RSP] = st.sp;
		gh_cpu_set_cs(cpu, &cs, rpl);
	}
	cpu->rip = ip;
}
