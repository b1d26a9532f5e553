/*
 * x87 FPU instructions (SDM vol. 1, chapter 8; vol. 2 for each instruction).
 *
 * The arithmetic is bit-exact with the host because the host computes it,
 * as VirtualBox's IEM does: each operation runs the host's own x87
 * instruction on the guest's operands, with the guest's control word
 * (precision and rounding control, masks) and condition codes loaded by
 * FLDENV, and FNSAVE then takes the results and the status word and leaves
 * the host FPU initialised. FNSAVE does not wait, so an exception the guest
 * has unmasked never traps on the host: its flag comes back in the status
 * word and this file applies the SDM's rules (vol. 1, 4.9.2 and 8.5): for
 * an unmasked IE, ZE or DE nothing is stored and the stack is not popped;
 * for an unmasked OE or UE the host has already produced the biased result,
 * which a register destination takes and a memory destination does not
 * (nor does it pop); PE never stops the store. ES and B are set, and the
 * next waiting instruction raises #MF when CR0.NE is set.
 *
 * TOP, the tags and the stack faults (SDM 8.5.1.1) are kept here in C.
 * cpu->x87.ftw is the abridged tag byte; the full tag word of FSTENV and
 * FSAVE is derived from the register contents (SDM 8.1.7).
 */
#include "cpu/exec.h"
#include "cpu/x87.h"

#define FSW_IE 0x0001u
#define FSW_DE 0x0002u
#define FSW_ZE 0x0004u
#define FSW_OE 0x0008u
#define FSW_UE 0x0010u
#define FSW_PE 0x0020u
#define FSW_EXC 0x003fu
#define FSW_SF 0x0040u
#define FSW_ES 0x0080u
#define FSW_C0 0x0100u
#define FSW_C1 0x0200u
#define FSW_C2 0x0400u
#define FSW_TOP 0x3800u
#define FSW_C3 0x4000u
#define FSW_B 0x8000u
#define FSW_CC (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)
#define FSW_TOP_SHIFT 11

/* FLDCW keeps the defined bits; bit 6 reads as 1 (observed, and FNINIT's 037FH) */
#define FCW_VALID 0x1f3fu
#define FCW_ONES 0x0040u
#define FCW_INIT 0x037fu

/* Where each register-form op keeps its operand: ModRM.rm, ST(i). */
#define STI(i) ((i)->rm & 7)

/* The QNaN floating-point indefinite (SDM vol. 1, table 4-3). */
static const struct gh_f80 indefinite = {0xc000000000000000ULL, 0xffff};

/* ---- the host FPU ------------------------------------------------------------ */

/*
 * One operation on the host: img is an FRSTOR image (32-bit format) with
 * the guest's FCW and condition codes, TOP 6 and the two operands in ST(0)
 * and ST(1) (R6, R7), every other register empty; mem is the memory
 * operand; save is FNSAVE's image after the instruction (FSW at 4, ST(0)
 * at 28). FCOMI's flags come back in cf/zf/pf. (Pushing the operands
 * with FLD instead would clear C1.)
 */
struct host {
	uint8_t img[108];
	uint8_t mem[16];
	uint8_t save[108];
	uint8_t cf, zf, pf;
};

typedef void kernel_fn(struct host *h);

/*
 * The host's FCW is saved and restored around the operation (the ABI has
 * it callee-saved); FNSAVE leaves the stack empty as the ABI wants it.
 * insn must be exactly one x87 instruction, then only non-x87 ones: any
 * waiting x87 instruction after it could trap on an unmasked exception.
 */
#define KERNEL(name, insn)                                                               \
	static void name(struct host *h)                                                 \
	{                                                                                \
		uint16_t cw = 0;                                                         \
		__asm__ volatile("fnstcw %[cw]\n\t"                                      \
				 "frstor %[img]\n\t" insn "\n\t"                          \
				 "fnsave %[save]\n\t"                                    \
				 "fldcw %[cw]"                                           \
				 : [cw] "+m"(cw), [save] "=m"(h->save), [mem] "+m"(h->mem), \
				   [cf] "=m"(h->cf), [zf] "=m"(h->zf), [pf] "=m"(h->pf)  \
				 : [img] "m"(h->img)                                     \
				 : "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)",    \
				   "st(6)", "st(7)", "cc");                              \
	}

/* Register forms as bytes (ST(0) = ST(0) op ST(1)): GNU as swaps the AT&T
 * names of FSUB/FSUBR and FDIV/FDIVR in some register forms. */
KERNEL(k_fadd, ".byte 0xd8, 0xc1")
KERNEL(k_fmul, ".byte 0xd8, 0xc9")
KERNEL(k_fcom, ".byte 0xd8, 0xd1")
KERNEL(k_fsub, ".byte 0xd8, 0xe1")
KERNEL(k_fsubr, ".byte 0xd8, 0xe9")
KERNEL(k_fdiv, ".byte 0xd8, 0xf1")
KERNEL(k_fdivr, ".byte 0xd8, 0xf9")
KERNEL(k_fucom, ".byte 0xdd, 0xe1")
KERNEL(k_fcomi, ".byte 0xdb, 0xf1\n\tsetc %[cf]\n\tsetz %[zf]\n\tsetp %[pf]")
KERNEL(k_fucomi, ".byte 0xdb, 0xe9\n\tsetc %[cf]\n\tsetz %[zf]\n\tsetp %[pf]")
KERNEL(k_ftst, ".byte 0xd9, 0xe4")
KERNEL(k_fxam, ".byte 0xd9, 0xe5")

#define MEM_KERNELS(sfx, op)                                                             \
	KERNEL(k_##op##_m32, #op "s %[mem]")                                             \
	KERNEL(k_##op##_m64, #op "l %[mem]")                                             \
	KERNEL(k_##op##_i16, "fi" #sfx "s %[mem]")                                       \
	KERNEL(k_##op##_i32, "fi" #sfx "l %[mem]")
MEM_KERNELS(add, fadd)
MEM_KERNELS(mul, fmul)
MEM_KERNELS(com, fcom)
MEM_KERNELS(sub, fsub)
MEM_KERNELS(subr, fsubr)
MEM_KERNELS(div, fdiv)
MEM_KERNELS(divr, fdivr)
#undef MEM_KERNELS

/* Loads: the value is pushed on the two operands, so it ends in ST(0). */
KERNEL(k_fld_m32, "flds %[mem]")
KERNEL(k_fld_m64, "fldl %[mem]")
KERNEL(k_fild_i16, "filds %[mem]")
KERNEL(k_fild_i32, "fildl %[mem]")
KERNEL(k_fild_i64, "fildll %[mem]")
KERNEL(k_fbld, "fbld %[mem]")
/* Stores of ST(0) (the popping forms pop the host's copy only). */
KERNEL(k_fst_m32, "fsts %[mem]")
KERNEL(k_fst_m64, "fstl %[mem]")
KERNEL(k_fist_i16, "fists %[mem]")
KERNEL(k_fist_i32, "fistl %[mem]")
KERNEL(k_fist_i64, "fistpll %[mem]")
KERNEL(k_fisttp_i16, "fisttps %[mem]")
KERNEL(k_fisttp_i32, "fisttpl %[mem]")
KERNEL(k_fisttp_i64, "fisttpll %[mem]")
KERNEL(k_fbstp, "fbstp %[mem]")

/* D9 E8-EE: the constants, rounded as RC says. */
KERNEL(k_fld1, ".byte 0xd9, 0xe8")
KERNEL(k_fldl2t, ".byte 0xd9, 0xe9")
KERNEL(k_fldl2e, ".byte 0xd9, 0xea")
KERNEL(k_fldpi, ".byte 0xd9, 0xeb")
KERNEL(k_fldlg2, ".byte 0xd9, 0xec")
KERNEL(k_fldln2, ".byte 0xd9, 0xed")
KERNEL(k_fldz, ".byte 0xd9, 0xee")

/* D9 F0-FF but FDECSTP/FINCSTP: on ST(0) and ST(1). */
KERNEL(k_f2xm1, ".byte 0xd9, 0xf0")
KERNEL(k_fyl2x, ".byte 0xd9, 0xf1")
KERNEL(k_fptan, ".byte 0xd9, 0xf2")
KERNEL(k_fpatan, ".byte 0xd9, 0xf3")
KERNEL(k_fxtract, ".byte 0xd9, 0xf4")
KERNEL(k_fprem1, ".byte 0xd9, 0xf5")
KERNEL(k_fprem, ".byte 0xd9, 0xf8")
KERNEL(k_fyl2xp1, ".byte 0xd9, 0xf9")
KERNEL(k_fsqrt, ".byte 0xd9, 0xfa")
KERNEL(k_fsincos, ".byte 0xd9, 0xfb")
KERNEL(k_frndint, ".byte 0xd9, 0xfc")
KERNEL(k_fscale, ".byte 0xd9, 0xfd")
KERNEL(k_fsin, ".byte 0xd9, 0xfe")
KERNEL(k_fcos, ".byte 0xd9, 0xff")

static void put80(uint8_t *p, const struct gh_f80 *v)
{
	memcpy(p, &v->mant, 8);
	memcpy(p + 8, &v->sexp, 2);
}

static void get80(const uint8_t *p, struct gh_f80 *v)
{
	memcpy(&v->mant, p, 8);
	memcpy(&v->sexp, p + 8, 2);
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* ---- stack and status --------------------------------------------------------- */

static unsigned top(const struct gh_cpu *cpu)
{
	return (cpu->x87.fsw >> FSW_TOP_SHIFT) & 7;
}

static void set_top(struct gh_cpu *cpu, unsigned t)
{
	cpu->x87.fsw = (cpu->x87.fsw & ~FSW_TOP) | ((t & 7) << FSW_TOP_SHIFT);
}

static unsigned phys(const struct gh_cpu *cpu, unsigned sti)
{
	return (top(cpu) + sti) & 7;
}

static bool empty(const struct gh_cpu *cpu, unsigned sti)
{
	return !(cpu->x87.ftw & (1u << phys(cpu, sti)));
}

static struct gh_f80 *st(struct gh_cpu *cpu, unsigned sti)
{
	return &cpu->x87.r[phys(cpu, sti)];
}

static void set_st(struct gh_cpu *cpu, unsigned sti, const struct gh_f80 *v)
{
	unsigned p = phys(cpu, sti);

	cpu->x87.r[p] = *v;
	cpu->x87.ftw |= 1u << p;
}

static void push(struct gh_cpu *cpu, const struct gh_f80 *v)
{
	set_top(cpu, top(cpu) - 1);
	set_st(cpu, 0, v);
}

/* Popping leaves the register's contents, as the hardware does. */
static void pop(struct gh_cpu *cpu)
{
	cpu->x87.ftw &= ~(1u << top(cpu));
	set_top(cpu, top(cpu) + 1);
}

/* ES and B summarise the flags the FCW leaves unmasked (SDM 8.1.3.2). */
static void update_es(struct gh_cpu *cpu)
{
	if (cpu->x87.fsw & ~cpu->x87.fcw & FSW_EXC) {
		cpu->x87.fsw |= FSW_ES | FSW_B;
	} else {
		cpu->x87.fsw &= ~(FSW_ES | FSW_B);
		cpu->x87.ferr = false;
	}
}

static void raise_exc(struct gh_cpu *cpu, unsigned exc)
{
	cpu->x87.fsw |= exc;
	update_es(cpu);
}

static bool unmasked(const struct gh_cpu *cpu, unsigned exc, unsigned which)
{
	return exc & which & ~cpu->x87.fcw;
}

/* The response to an unmasked exception that stops the store and the pop
 * (SDM vol. 1, 4.9.2; memory destinations also stop on OE/UE, 4.9.1.4-5). */
static bool stops(const struct gh_cpu *cpu, unsigned exc, bool to_memory)
{
	return unmasked(cpu, exc,
			FSW_IE | FSW_DE | FSW_ZE | (to_memory ? FSW_OE | FSW_UE : 0));
}

/*
 * Stack underflow (SDM vol. 1, 8.5.1.1): IE and SF with C1 = 0. Returns
 * true when IE is masked, and the caller gives the destination the
 * indefinite; unmasked, the instruction changes nothing else.
 */
static bool underflow(struct gh_cpu *cpu)
{
	cpu->x87.fsw &= ~FSW_C1;
	raise_exc(cpu, FSW_IE | FSW_SF);
	return cpu->x87.fcw & FSW_IE;
}

/*
 * A push needs ST(7) empty; a full one is a stack overflow: IE, SF and
 * C1 = 1, and (masked) the indefinite is pushed instead. Returns whether
 * the caller may push.
 */
static bool push_room(struct gh_cpu *cpu)
{
	if (empty(cpu, 7))
		return true;
	cpu->x87.fsw |= FSW_C1;
	raise_exc(cpu, FSW_IE | FSW_SF);
	if (cpu->x87.fcw & FSW_IE)
		push(cpu, &indefinite);
	return false;
}

/* ---- running host kernels ---------------------------------------------------- */

static void host_run(struct gh_cpu *cpu, struct host *h, kernel_fn *k,
		     const struct gh_f80 *a, const struct gh_f80 *b)
{
	static const struct gh_f80 zero;

	memset(h->img, 0, 28);
	put32(h->img, cpu->x87.fcw);
	put32(h->img + 4, (cpu->x87.fsw & FSW_CC) | 6u << FSW_TOP_SHIFT);
	put32(h->img + 8, 0x0fff); /* R6 and R7 in use */
	put80(h->img + 28, a ? a : &zero);
	put80(h->img + 38, b ? b : &zero);
	k(h);
}

/* ST(k) of the host after the operation. */
static void host_st(const struct host *h, unsigned k, struct gh_f80 *v)
{
	get80(h->save + 28 + 10 * k, v);
}

/* How the host's stack moved: -1 pushed, 0, +1 popped. */
static int host_delta(const struct host *h)
{
	return (int)((get16(h->save + 4) >> FSW_TOP_SHIFT) & 7) - 6;
}

/*
 * Takes the condition codes and the new exception flags from the host
 * (sticky flags are or'ed in) and returns the new flags.
 */
static unsigned host_status(struct gh_cpu *cpu, const struct host *h)
{
	uint16_t hsw = get16(h->save + 4);

	cpu->x87.fsw = (cpu->x87.fsw & ~FSW_CC) | (hsw & FSW_CC);
	raise_exc(cpu, hsw & FSW_EXC);
	return hsw & FSW_EXC;
}

/* ---- instruction set-up ---------------------------------------------------------- */

static void pending_mf(struct gh_cpu *cpu)
{
	if (cpu->cr0 & GH_CR0_NE)
		gh_cpu_raise_noerr(cpu, GH_EXC_MF);
	/*
	 * With CR0.NE clear the error goes out on FERR# (SDM vol. 3A, 2.5;
	 * vol. 1, D.2), which a PC turns into IRQ 13. The instruction does
	 * not freeze waiting for it, as with IGNNE# asserted: the interrupt
	 * is taken after it, at the next boundary the loop checks.
	 */
	if (!cpu->x87.ferr && cpu->bus.ferr) {
		cpu->x87.ferr = true;
		cpu->bus.ferr(cpu->bus.opaque);
		gh_exec_end_block(cpu);
	}
}

/*
 * What every x87 escape checks first: #NM when CR0.EM or CR0.TS is set
 * (SDM vol. 3A, table 2-2), then, for waiting instructions, a pending
 * unmasked exception (#MF, SDM vol. 1, 8.6).
 */
static void check(struct gh_cpu *cpu, bool waiting)
{
	if (cpu->cr0 & (GH_CR0_EM | GH_CR0_TS))
		gh_cpu_raise_noerr(cpu, GH_EXC_NM);
	if (waiting && (cpu->x87.fsw & FSW_ES))
		pending_mf(cpu);
}

/*
 * A non-control instruction records its opcode and address, and its memory
 * operand's, for exception handlers (SDM vol. 1, 8.1.8-8.1.9). Called once
 * nothing can fault any more.
 */
static void note(struct gh_cpu *cpu, const struct gh_x86_insn *i, bool mem, uint64_t ea)
{
	cpu->x87.fop = ((i->opcode & 7) << 8) | i->modrm;
	cpu->x87.fip = cpu->prev_rip;
	cpu->x87.fcs = cpu->seg[GH_CS].selector;
	if (mem) {
		cpu->x87.fdp = ea;
		cpu->x87.fds = cpu->seg[i->seg].selector;
	}
}

static uint64_t read_mem(struct gh_cpu *cpu, const struct gh_x86_insn *i, void *buf,
			 unsigned len)
{
	uint64_t ea = gh_exec_ea(cpu, i);

	gh_mem_read_buf(cpu, i->seg, ea, buf, len);
	return ea;
}

/* ---- arithmetic and comparisons --------------------------------------------------- */

/* ModRM.reg of D8/DC memory and D8 register forms. */
enum { OP_ADD, OP_MUL, OP_COM, OP_COMP, OP_SUB, OP_SUBR, OP_DIV, OP_DIVR };

/* Memory operand types, by escape: D8 m32fp, DC m64fp, DE m16int, DA m32int. */
enum { M_F32, M_F64, M_I16, M_I32 };

static kernel_fn *const mem_kernels[4][8] = {
    {k_fadd_m32, k_fmul_m32, k_fcom_m32, k_fcom_m32, k_fsub_m32, k_fsubr_m32,
     k_fdiv_m32, k_fdivr_m32},
    {k_fadd_m64, k_fmul_m64, k_fcom_m64, k_fcom_m64, k_fsub_m64, k_fsubr_m64,
     k_fdiv_m64, k_fdivr_m64},
    {k_fadd_i16, k_fmul_i16, k_fcom_i16, k_fcom_i16, k_fsub_i16, k_fsubr_i16,
     k_fdiv_i16, k_fdivr_i16},
    {k_fadd_i32, k_fmul_i32, k_fcom_i32, k_fcom_i32, k_fsub_i32, k_fsubr_i32,
     k_fdiv_i32, k_fdivr_i32},
};

static kernel_fn *const reg_kernels[8] = {
    k_fadd, k_fmul, k_fcom, k_fcom, k_fsub, k_fsubr, k_fdiv, k_fdivr,
};

/* A comparison with an empty operand: "unordered" (C3 C2 C0 = 111) even
 * when IE is unmasked (observed); masked, it pops as usual. */
static void com_underflow(struct gh_cpu *cpu, unsigned npop)
{
	bool masked = underflow(cpu);

	cpu->x87.fsw |= FSW_C0 | FSW_C2 | FSW_C3;
	while (masked && npop--)
		pop(cpu);
}

/* A comparison done on the host: condition codes, then pops unless an
 * unmasked IE or DE stopped it. */
static void com_finish(struct gh_cpu *cpu, const struct host *h, unsigned npop)
{
	unsigned exc = host_status(cpu, h);

	if (stops(cpu, exc, false))
		return;
	while (npop--)
		pop(cpu);
}

/*
 * ST(dst) = ST(dst) op src, where the host computed it from a = ST(dst)
 * and b in its ST(0), then pops if asked.
 */
static void arith_finish(struct gh_cpu *cpu, const struct host *h, unsigned dst, bool popit)
{
	unsigned exc = host_status(cpu, h);
	struct gh_f80 r;

	if (stops(cpu, exc, false))
		return;
	host_st(h, 0, &r);
	set_st(cpu, dst, &r);
	if (popit)
		pop(cpu);
}

static void arith_mem(struct gh_cpu *cpu, const struct gh_x86_insn *i, unsigned type)
{
	static const unsigned len[4] = {4, 8, 2, 4};
	unsigned op = i->reg & 7;
	struct host h;
	uint64_t ea;

	check(cpu, true);
	ea = read_mem(cpu, i, h.mem, len[type]);
	note(cpu, i, true, ea);
	if (op == OP_COM || op == OP_COMP) {
		if (empty(cpu, 0)) {
			com_underflow(cpu, op == OP_COMP);
			return;
		}
		host_run(cpu, &h, mem_kernels[type][op], st(cpu, 0), NULL);
		com_finish(cpu, &h, op == OP_COMP);
		return;
	}
	if (empty(cpu, 0)) {
		if (underflow(cpu))
			set_st(cpu, 0, &indefinite);
		return;
	}
	host_run(cpu, &h, mem_kernels[type][op], st(cpu, 0), NULL);
	arith_finish(cpu, &h, 0, false);
}

static void h_arith_m32(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	arith_mem(cpu, i, M_F32);
}

static void h_arith_m64(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	arith_mem(cpu, i, M_F64);
}

static void h_arith_i16(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	arith_mem(cpu, i, M_I16);
}

static void h_arith_i32(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	arith_mem(cpu, i, M_I32);
}

/*
 * The register forms: D8 (ST(0) = ST(0) op ST(i)), DC and DE (ST(i) =
 * ST(i) op ST(0), DE popping). In DC/DE the SUB/SUBR and DIV/DIVR rows
 * of ModRM.reg are swapped against D8 (SDM table A-10).
 */
static void arith_reg(struct gh_cpu *cpu, const struct gh_x86_insn *i, bool to_sti, bool popit)
{
	unsigned op = i->reg & 7;
	unsigned dst = to_sti ? STI(i) : 0, src = to_sti ? 0 : STI(i);
	struct host h;

	check(cpu, true);
	note(cpu, i, false, 0);
	if (to_sti && op >= OP_SUB)
		op ^= 1;
	if (empty(cpu, dst) || empty(cpu, src)) {
		if (!underflow(cpu))
			return;
		set_st(cpu, dst, &indefinite);
		if (popit)
			pop(cpu);
		return;
	}
	host_run(cpu, &h, reg_kernels[op], st(cpu, dst), st(cpu, src));
	arith_finish(cpu, &h, dst, popit);
}

static void h_arith_st0_sti(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	arith_reg(cpu, i, false, false);
}

static void h_arith_sti_st0(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	arith_reg(cpu, i, true, false);
}

static void h_arith_p(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	arith_reg(cpu, i, true, true);
}

/* FCOM/FCOMP/FUCOM/FUCOMP ST(i), FCOMPP, FUCOMPP: ST(0) against ST(sti). */
static void com_reg(struct gh_cpu *cpu, const struct gh_x86_insn *i, kernel_fn *k,
		    unsigned sti, unsigned npop)
{
	struct host h;

	check(cpu, true);
	note(cpu, i, false, 0);
	if (empty(cpu, 0) || empty(cpu, sti)) {
		com_underflow(cpu, npop);
		return;
	}
	host_run(cpu, &h, k, st(cpu, 0), st(cpu, sti));
	com_finish(cpu, &h, npop);
}

/* FCOM ST(i) and its alias FCOM2 (DC /2) */
static void h_fcom_sti(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	com_reg(cpu, i, k_fcom, STI(i), 0);
}

/* FCOMP ST(i) and its aliases FCOMP3 (DC /3) and FCOMP5 (DE /2) */
static void h_fcomp_sti(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	com_reg(cpu, i, k_fcom, STI(i), 1);
}

static void h_fucom(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	com_reg(cpu, i, k_fucom, STI(i), 0);
}

static void h_fucomp(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	com_reg(cpu, i, k_fucom, STI(i), 1);
}

static void h_fcompp(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	com_reg(cpu, i, k_fcom, 1, 2);
}

static void h_fucompp(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	com_reg(cpu, i, k_fucom, 1, 2);
}

/* FCOMI/FUCOMI(P): the result in ZF, PF, CF; OF, SF, AF cleared (SDM),
 * even when an unmasked exception stops the pop (observed). */
static void comi(struct gh_cpu *cpu, const struct gh_x86_insn *i, kernel_fn *k, bool popit)
{
	const uint64_t mask = GH_FL_ZF | GH_FL_PF | GH_FL_CF | GH_FL_OF | GH_FL_SF | GH_FL_AF;
	unsigned sti = STI(i);
	struct host h;
	unsigned exc;

	check(cpu, true);
	note(cpu, i, false, 0);
	if (empty(cpu, 0) || empty(cpu, sti)) {
		bool masked = underflow(cpu);

		gh_exec_set_rflags(cpu, GH_FL_ZF | GH_FL_PF | GH_FL_CF, mask);
		if (masked && popit)
			pop(cpu);
		return;
	}
	host_run(cpu, &h, k, st(cpu, 0), st(cpu, sti));
	exc = host_status(cpu, &h);
	gh_exec_set_rflags(cpu,
			   (h.zf ? GH_FL_ZF : 0) | (h.pf ? GH_FL_PF : 0) | (h.cf ? GH_FL_CF : 0),
			   mask);
	if (!stops(cpu, exc, false) && popit)
		pop(cpu);
}

static void h_fcomi(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	comi(cpu, i, k_fcomi, false);
}

static void h_fucomi(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	comi(cpu, i, k_fucomi, false);
}

static void h_fcomip(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	comi(cpu, i, k_fcomi, true);
}

static void h_fucomip(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	comi(cpu, i, k_fucomi, true);
}

static void h_ftst(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	struct host h;

	check(cpu, true);
	note(cpu, i, false, 0);
	if (empty(cpu, 0)) {
		com_underflow(cpu, 0);
		return;
	}
	host_run(cpu, &h, k_ftst, st(cpu, 0), NULL);
	com_finish(cpu, &h, 0);
}

/* FXAM never faults; an empty ST(0) is C3 C2 C0 = 101 with C1 its sign. */
static void h_fxam(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	struct host h;

	check(cpu, true);
	note(cpu, i, false, 0);
	if (empty(cpu, 0)) {
		cpu->x87.fsw &= ~FSW_CC;
		cpu->x87.fsw |= FSW_C3 | FSW_C0 | ((st(cpu, 0)->sexp & 0x8000) ? FSW_C1 : 0);
		return;
	}
	host_run(cpu, &h, k_fxam, st(cpu, 0), NULL);
	host_status(cpu, &h);
}

/* ---- loads and stores ----------------------------------------------------------------- */

/* A push of what kernel k loads from h->mem (conversions that can raise). */
static void load_conv(struct gh_cpu *cpu, struct host *h, kernel_fn *k)
{
	struct gh_f80 r;
	unsigned exc;

	if (!push_room(cpu))
		return;
	host_run(cpu, h, k, NULL, NULL);
	exc = host_status(cpu, h);
	/* a denormal source is still loaded when DE is unmasked (observed) */
	if (unmasked(cpu, exc, FSW_IE))
		return;
	host_st(h, 0, &r);
	push(cpu, &r);
}

static void load_mem(struct gh_cpu *cpu, const struct gh_x86_insn *i, kernel_fn *k,
		     unsigned len)
{
	struct host h;
	uint64_t ea;

	check(cpu, true);
	ea = read_mem(cpu, i, h.mem, len);
	note(cpu, i, true, ea);
	load_conv(cpu, &h, k);
}

static void h_fld_m32(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	load_mem(cpu, i, k_fld_m32, 4);
}

static void h_fld_m64(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	load_mem(cpu, i, k_fld_m64, 8);
}

static void h_fild_m16(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	load_mem(cpu, i, k_fild_i16, 2);
}

static void h_fild_m32(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	load_mem(cpu, i, k_fild_i32, 4);
}

static void h_fild_m64(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	load_mem(cpu, i, k_fild_i64, 8);
}

static void h_fbld(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	load_mem(cpu, i, k_fbld, 10);
}

/* FLD m80fp: no conversion, no exception but overflow. */
static void h_fld_m80(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint8_t buf[10];
	struct gh_f80 v;
	uint64_t ea;

	check(cpu, true);
	ea = read_mem(cpu, i, buf, 10);
	note(cpu, i, true, ea);
	get80(buf, &v);
	if (!push_room(cpu))
		return;
	cpu->x87.fsw &= ~FSW_C1;
	push(cpu, &v);
}

static void h_fld_sti(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	struct gh_f80 v;

	check(cpu, true);
	note(cpu, i, false, 0);
	if (empty(cpu, STI(i))) {
		/* underflow wins: no overflow check for the indefinite (observed) */
		if (underflow(cpu))
			push(cpu, &indefinite);
		return;
	}
	v = *st(cpu, STI(i));
	if (!push_room(cpu))
		return;
	cpu->x87.fsw &= ~FSW_C1;
	push(cpu, &v);
}

static void h_fldconst(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	static kernel_fn *const k[8] = {k_fld1,	  k_fldl2t, k_fldl2e, k_fldpi,
					k_fldlg2, k_fldln2, k_fldz,   NULL};
	struct host h;

	check(cpu, true);
	note(cpu, i, false, 0);
	load_conv(cpu, &h, k[i->rm & 7]);
}

/*
 * Stores of ST(0) to memory through kernel k (len bytes): an empty ST(0)
 * stores, masked, what the kernel makes of the indefinite (the format's
 * indefinite, IE for the integer formats). Unmasked IE, OE or UE store
 * nothing and do not pop (observed on the host, SDM 4.9.1.4-5).
 */
static void store_mem(struct gh_cpu *cpu, const struct gh_x86_insn *i, kernel_fn *k,
		      unsigned len, bool popit)
{
	uint64_t ea = gh_exec_ea(cpu, i);
	bool under, stop;
	struct host h;

	check(cpu, true);
	under = empty(cpu, 0);
	if (under && !(cpu->x87.fcw & FSW_IE)) {
		note(cpu, i, true, ea);
		underflow(cpu);
		return;
	}
	memset(h.mem, 0, sizeof(h.mem));
	host_run(cpu, &h, k, under ? &indefinite : st(cpu, 0), NULL);
	stop = stops(cpu, get16(h.save + 4), true);
	/* the store may fault: nothing is committed before it */
	if (!stop)
		gh_mem_write_buf(cpu, i->seg, ea, h.mem, len);
	note(cpu, i, true, ea);
	host_status(cpu, &h);
	if (under)
		underflow(cpu);
	if (!stop && popit)
		pop(cpu);
}

static void h_fst_m32(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	store_mem(cpu, i, k_fst_m32, 4, false);
}

static void h_fstp_m32(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	store_mem(cpu, i, k_fst_m32, 4, true);
}

static void h_fst_m64(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	store_mem(cpu, i, k_fst_m64, 8, false);
}

static void h_fstp_m64(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	store_mem(cpu, i, k_fst_m64, 8, true);
}

static void h_fist_m16(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	store_mem(cpu, i, k_fist_i16, 2, false);
}

static void h_fistp_m16(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	store_mem(cpu, i, k_fist_i16, 2, true);
}

static void h_fist_m32(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	store_mem(cpu, i, k_fist_i32, 4, false);
}

static void h_fistp_m32(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	store_mem(cpu, i, k_fist_i32, 4, true);
}

static void h_fistp_m64(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	store_mem(cpu, i, k_fist_i64, 8, true);
}

static void h_fisttp_m16(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	store_mem(cpu, i, k_fisttp_i16, 2, true);
}

static void h_fisttp_m32(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	store_mem(cpu, i, k_fisttp_i32, 4, true);
}

static void h_fisttp_m64(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	store_mem(cpu, i, k_fisttp_i64, 8, true);
}

static void h_fbstp(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	store_mem(cpu, i, k_fbstp, 10, true);
}

/* FSTP m80fp: a copy, no conversion. */
static void h_fstp_m80(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t ea = gh_exec_ea(cpu, i);
	uint8_t buf[10];

	check(cpu, true);
	if (empty(cpu, 0) && !(cpu->x87.fcw & FSW_IE)) {
		gh_mem_probe_write(cpu, i->seg, ea, 10);
		note(cpu, i, true, ea);
		underflow(cpu);
		return;
	}
	put80(buf, empty(cpu, 0) ? &indefinite : st(cpu, 0));
	gh_mem_write_buf(cpu, i->seg, ea, buf, 10);
	note(cpu, i, true, ea);
	if (empty(cpu, 0))
		underflow(cpu);
	else
		cpu->x87.fsw &= ~FSW_C1;
	pop(cpu);
}

/* FST/FSTP ST(i). */
static void st_sti(struct gh_cpu *cpu, const struct gh_x86_insn *i, bool popit)
{
	check(cpu, true);
	note(cpu, i, false, 0);
	if (empty(cpu, 0)) {
		if (!underflow(cpu))
			return;
		set_st(cpu, STI(i), &indefinite);
	} else {
		cpu->x87.fsw &= ~FSW_C1;
		set_st(cpu, STI(i), st(cpu, 0));
	}
	if (popit)
		pop(cpu);
}

static void h_fst_sti(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	st_sti(cpu, i, false);
}

/* FSTP ST(i) and its aliases FSTP8 (DF /2) and FSTP9 (DF /3) */
static void h_fstp_sti(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	st_sti(cpu, i, true);
}

/*
 * FSTP1 (D9 D8+i, binutils' FSTPNCE, "no check empty"): FSTP ST(i), except
 * that an empty ST(0) is no stack fault: no IE or SF, ST(i) left as it
 * is, C1 cleared and the stack popped (what Intel hosts do; test-cpu-x87
 * compares it with the host's).
 */
static void h_fstp1(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	if (!empty(cpu, 0)) {
		st_sti(cpu, i, true);
		return;
	}
	check(cpu, true);
	note(cpu, i, false, 0);
	cpu->x87.fsw &= ~FSW_C1;
	pop(cpu);
}

/* ---- register operations ------------------------------------------------------------ */

/* FXCH ST(i) and its aliases FXCH4 (DD /1) and FXCH7 (DF /1) */
static void h_fxch(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	unsigned sti = STI(i);
	struct gh_f80 a, b;

	check(cpu, true);
	note(cpu, i, false, 0);
	if (empty(cpu, 0) || empty(cpu, sti)) {
		if (!underflow(cpu))
			return;
		if (empty(cpu, 0))
			set_st(cpu, 0, &indefinite);
		if (empty(cpu, sti))
			set_st(cpu, sti, &indefinite);
	} else {
		cpu->x87.fsw &= ~FSW_C1;
	}
	a = *st(cpu, 0);
	b = *st(cpu, sti);
	set_st(cpu, 0, &b);
	set_st(cpu, sti, &a);
}

/* FCHS and FABS: the sign bit only, no exception but underflow. */
static void sign_op(struct gh_cpu *cpu, const struct gh_x86_insn *i, bool chs)
{
	struct gh_f80 v;

	check(cpu, true);
	note(cpu, i, false, 0);
	if (empty(cpu, 0)) {
		if (underflow(cpu))
			set_st(cpu, 0, &indefinite);
		return;
	}
	v = *st(cpu, 0);
	v.sexp = chs ? v.sexp ^ 0x8000 : v.sexp & 0x7fff;
	cpu->x87.fsw &= ~FSW_C1;
	set_st(cpu, 0, &v);
}

static void h_fchs(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	sign_op(cpu, i, true);
}

static void h_fabs(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	sign_op(cpu, i, false);
}

/* FCMOVcc (SDM): DA C0-DF B, E, BE, U; DB the negations. */
static void h_fcmov(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t fl = gh_exec_rflags(cpu);
	unsigned sti = STI(i);
	bool cond;

	check(cpu, true);
	note(cpu, i, false, 0);
	switch (i->reg & 3) {
	case 0:
		cond = fl & GH_FL_CF;
		break;
	case 1:
		cond = fl & GH_FL_ZF;
		break;
	case 2:
		cond = fl & (GH_FL_CF | GH_FL_ZF);
		break;
	default:
		cond = fl & GH_FL_PF;
		break;
	}
	if (i->opcode == 0xdb)
		cond = !cond;
	if (empty(cpu, 0) || empty(cpu, sti)) {
		if (underflow(cpu))
			set_st(cpu, 0, &indefinite);
		return;
	}
	/* C1 is left alone (observed) */
	if (cond)
		set_st(cpu, 0, st(cpu, sti));
}

static void h_ffree(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	check(cpu, true);
	note(cpu, i, false, 0);
	cpu->x87.fsw &= ~FSW_C1; /* observed */
	cpu->x87.ftw &= ~(1u << phys(cpu, STI(i)));
}

/* FFREEP ST(i) (DF C0+i, AMD APM vol. 5): FFREE, then a pop that never
 * underflows, whatever ST(0) held. */
static void h_ffreep(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	h_ffree(cpu, i);
	pop(cpu);
}

static void h_fnop(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	check(cpu, true);
	note(cpu, i, false, 0);
}

/* D9 F0-FF: the transcendental and other ST(0)/ST(1) operations. */
static void h_d9_fx(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	static kernel_fn *const k[16] = {
	    k_f2xm1, k_fyl2x,	k_fptan,   k_fpatan,  k_fxtract, k_fprem1, NULL,   NULL,
	    k_fprem, k_fyl2xp1, k_fsqrt,   k_fsincos, k_frndint, k_fscale, k_fsin, k_fcos,
	};
	/* operands: ST(0) only, or ST(0) and ST(1); stack motion: +1 pops, -1 pushes */
	static const uint8_t nops[16] = {1, 2, 1, 2, 1, 2, 0, 0, 2, 2, 1, 1, 1, 2, 1, 1};
	static const int8_t motion[16] = {0, 1, -1, 1, -1, 0, 0, 0, 0, 1, 0, -1, 0, 0, 0, 0};
	/* FPTAN, FPREM1, FPREM, FSINCOS, FSIN, FCOS */
	const unsigned c2_ops = 1u << 2 | 1u << 5 | 1u << 8 | 1u << 11 | 1u << 14 | 1u << 15;
	unsigned n = ((i->reg & 1) << 3) | (i->rm & 7);
	struct gh_f80 r;
	struct host h;
	unsigned exc;
	int d;

	check(cpu, true);
	note(cpu, i, false, 0);
	if (n == 6 || n == 7) {
		/* FDECSTP, FINCSTP: TOP moves, tags stay */
		cpu->x87.fsw &= ~FSW_C1;
		set_top(cpu, top(cpu) + (n == 6 ? -1 : 1));
		return;
	}
	if (empty(cpu, 0) || (nops[n] == 2 && empty(cpu, 1))) {
		/*
		 * As observed: the ops that report C2 (incomplete, out of
		 * range) clear it; masked, a second result is pushed without
		 * an overflow check.
		 */
		bool masked = underflow(cpu);

		if (c2_ops & (1u << n))
			cpu->x87.fsw &= ~FSW_C2;
		if (!masked)
			return;
		if (motion[n] == 1) {
			set_st(cpu, 1, &indefinite);
			pop(cpu);
		} else {
			set_st(cpu, 0, &indefinite);
			if (motion[n] == -1)
				push(cpu, &indefinite);
		}
		return;
	}
	if (motion[n] == -1 && !empty(cpu, 7)) {
		/* FPTAN, FXTRACT, FSINCOS need room for their second result */
		cpu->x87.fsw |= FSW_C1;
		if (c2_ops & (1u << n))
			cpu->x87.fsw &= ~FSW_C2;
		raise_exc(cpu, FSW_IE | FSW_SF);
		if (cpu->x87.fcw & FSW_IE) {
			set_st(cpu, 0, &indefinite);
			push(cpu, &indefinite);
		}
		return;
	}
	host_run(cpu, &h, k[n], st(cpu, 0), st(cpu, 1));
	exc = host_status(cpu, &h);
	if (stops(cpu, exc, false))
		return;
	/* FPTAN and FSINCOS leave ST(0) alone and push nothing when out of range */
	d = host_delta(&h);
	if (d == 1) {
		host_st(&h, 0, &r);
		set_st(cpu, 1, &r);
		pop(cpu);
	} else if (d == -1) {
		host_st(&h, 1, &r);
		set_st(cpu, 0, &r);
		host_st(&h, 0, &r);
		push(cpu, &r);
	} else {
		host_st(&h, 0, &r);
		set_st(cpu, 0, &r);
	}
}

/* ---- control ---------------------------------------------------------------------------- */

static void fninit(struct gh_cpu *cpu)
{
	cpu->x87.fcw = FCW_INIT;
	cpu->x87.fsw = 0;
	cpu->x87.ftw = 0;
	cpu->x87.fop = 0;
	cpu->x87.fip = 0;
	cpu->x87.fdp = 0;
	cpu->x87.fcs = 0;
	cpu->x87.fds = 0;
	cpu->x87.ferr = false;
}

static void h_fninit(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	(void)i;
	check(cpu, false);
	fninit(cpu);
}

static void h_fnclex(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	(void)i;
	check(cpu, false);
	cpu->x87.fsw &= ~(FSW_EXC | FSW_SF | FSW_ES | FSW_B);
	cpu->x87.ferr = false;
}

static void set_fcw(struct gh_cpu *cpu, uint16_t v)
{
	cpu->x87.fcw = (v & FCW_VALID) | FCW_ONES;
	update_es(cpu);
}

static void h_fldcw(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint8_t buf[2];

	check(cpu, true);
	read_mem(cpu, i, buf, 2);
	set_fcw(cpu, get16(buf));
}

static void h_fnstcw(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	check(cpu, false);
	gh_mem_write_seg(cpu, i->seg, gh_exec_ea(cpu, i), 2, cpu->x87.fcw);
}

static void h_fnstsw_m16(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	check(cpu, false);
	gh_mem_write_seg(cpu, i->seg, gh_exec_ea(cpu, i), 2, cpu->x87.fsw);
}

static void h_fnstsw_ax(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	(void)i;
	check(cpu, false);
	gh_reg_set(cpu, GH_RAX, 2, cpu->x87.fsw);
}

/* FWAIT: #NM only when CR0.MP and CR0.TS are both set (table 2-2). */
static void h_fwait(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	(void)i;
	if ((cpu->cr0 & (GH_CR0_MP | GH_CR0_TS)) == (GH_CR0_MP | GH_CR0_TS))
		gh_cpu_raise_noerr(cpu, GH_EXC_NM);
	if (cpu->x87.fsw & FSW_ES)
		pending_mf(cpu);
}

/* ---- environment and state images (SDM vol. 1, 8.1.10, figures 8-9 to 8-12) ---- */

/* The full tag word from the contents (SDM 8.1.7): 00 valid, 01 zero,
 * 10 special (NaN, infinity, denormal, unsupported), 11 empty. */
uint16_t gh_x87_full_tags(const struct gh_x87 *x)
{
	uint16_t tw = 0;

	for (unsigned p = 0; p < 8; p++) {
		const struct gh_f80 *r = &x->r[p];
		unsigned exp = r->sexp & 0x7fff, t;

		if (!(x->ftw & (1u << p)))
			t = 3;
		else if (exp == 0x7fff)
			t = 2;
		else if (exp == 0)
			t = r->mant ? 2 : 1;
		else
			t = (r->mant >> 63) ? 0 : 2;
		tw |= t << (2 * p);
	}
	return tw;
}

static bool real_format(const struct gh_cpu *cpu)
{
	return cpu->mode == GH_MODE_REAL || cpu->mode == GH_MODE_V86;
}

/* The 14- or 28-byte environment of FNSTENV/FNSAVE; returns its size. */
static unsigned env_store(struct gh_cpu *cpu, const struct gh_x86_insn *i, uint8_t *b)
{
	const struct gh_x87 *x = &cpu->x87;
	uint16_t ftw = gh_x87_full_tags(x);
	/* real and V86 mode store 20-bit linear pointers */
	uint32_t ip = (uint32_t)x->fip + ((uint32_t)x->fcs << 4);
	uint32_t dp = (uint32_t)x->fdp + ((uint32_t)x->fds << 4);

	if (i->opsize == 2) {
		put16(b, x->fcw);
		put16(b + 2, x->fsw);
		put16(b + 4, ftw);
		if (real_format(cpu)) {
			put16(b + 6, ip);
			put16(b + 8, ((ip >> 16) & 0xf) << 12 | (x->fop & 0x7ff));
			put16(b + 10, dp);
			put16(b + 12, ((dp >> 16) & 0xf) << 12);
		} else {
			put16(b + 6, x->fip);
			put16(b + 8, x->fcs);
			put16(b + 10, x->fdp);
			put16(b + 12, x->fds);
		}
		return 14;
	}
	/* the reserved upper halves read as ones on the hardware */
	put32(b, 0xffff0000u | x->fcw);
	put32(b + 4, 0xffff0000u | x->fsw);
	put32(b + 8, 0xffff0000u | ftw);
	if (real_format(cpu)) {
		put32(b + 12, 0xffff0000u | (ip & 0xffff));
		put32(b + 16, (ip >> 16) << 12 | (x->fop & 0x7ff));
		put32(b + 20, 0xffff0000u | (dp & 0xffff));
		put32(b + 24, (dp >> 16) << 12);
	} else {
		put32(b + 12, x->fip);
		put32(b + 16, (uint32_t)(x->fop & 0x7ff) << 16 | x->fcs);
		put32(b + 20, x->fdp);
		put32(b + 24, 0xffff0000u | x->fds);
	}
	return 28;
}

static void env_load(struct gh_cpu *cpu, const struct gh_x86_insn *i, const uint8_t *b)
{
	struct gh_x87 *x = &cpu->x87;
	uint16_t ftw;

	x->fsw = get16(b + (i->opsize == 2 ? 2 : 4));
	ftw = get16(b + (i->opsize == 2 ? 4 : 8));
	if (i->opsize == 2) {
		if (real_format(cpu)) {
			x->fip = get16(b + 6) | (uint32_t)(get16(b + 8) >> 12) << 16;
			x->fop = get16(b + 8) & 0x7ff;
			x->fdp = get16(b + 10) | (uint32_t)(get16(b + 12) >> 12) << 16;
			x->fcs = x->fds = 0;
		} else {
			x->fip = get16(b + 6);
			x->fcs = get16(b + 8);
			x->fdp = get16(b + 10);
			x->fds = get16(b + 12);
		}
	} else if (real_format(cpu)) {
		x->fip = get16(b + 12) | (get32(b + 16) >> 12 & 0xffff) << 16;
		x->fop = get32(b + 16) & 0x7ff;
		x->fdp = get16(b + 20) | (get32(b + 24) >> 12 & 0xffff) << 16;
		x->fcs = x->fds = 0;
	} else {
		x->fip = get32(b + 12);
		x->fcs = get16(b + 16);
		x->fop = get16(b + 18) & 0x7ff;
		x->fdp = get32(b + 20);
		x->fds = get16(b + 24);
	}
	x->ftw = 0;
	for (unsigned p = 0; p < 8; p++)
		if (((ftw >> (2 * p)) & 3) != 3)
			x->ftw |= 1u << p;
	/* last, since ES follows the flags and the masks */
	set_fcw(cpu, get16(b));
}

static void h_fnstenv(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t ea = gh_exec_ea(cpu, i);
	uint8_t b[28];
	unsigned n;

	check(cpu, false);
	n = env_store(cpu, i, b);
	gh_mem_write_buf(cpu, i->seg, ea, b, n);
	/* then every exception is masked (SDM FSTENV) */
	set_fcw(cpu, cpu->x87.fcw | FSW_EXC);
}

static void h_fldenv(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint8_t b[28];

	check(cpu, true);
	read_mem(cpu, i, b, i->opsize == 2 ? 14 : 28);
	env_load(cpu, i, b);
}

static void h_fnsave(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	uint64_t ea = gh_exec_ea(cpu, i);
	uint8_t b[108];
	unsigned n;

	check(cpu, false);
	n = env_store(cpu, i, b);
	for (unsigned k = 0; k < 8; k++)
		put80(b + n + 10 * k, st(cpu, k));
	gh_mem_write_buf(cpu, i->seg, ea, b, n + 80);
	fninit(cpu);
}

static void h_frstor(struct gh_cpu *cpu, const struct gh_x86_insn *i)
{
	unsigned n = i->opsize == 2 ? 14 : 28;
	uint8_t b[108];

	check(cpu, true);
	read_mem(cpu, i, b, n + 80);
	env_load(cpu, i, b);
	for (unsigned k = 0; k < 8; k++)
		get80(b + n + 10 * k, st(cpu, k));
}

/* Power-up and RESET values (SDM vol. 3A, table 9-1); INIT keeps the x87. */
void gh_x87_reset(struct gh_x87 *x)
{
	memset(x, 0, sizeof(*x));
	x->fcw = FCW_ONES;
	x->ftw = 0xff; /* tag word 5555H: every register holds +0 */
}

#define B(id, fn) {GH_X86_OP_##id, fn},

const struct gh_handler_bind gh_exec_x87_binds[] = {
	B(FWAIT, h_fwait)
	/* D8 */
	B(FADD_m32, h_arith_m32) B(FMUL_m32, h_arith_m32) B(FCOM_m32, h_arith_m32)
	B(FCOMP_m32, h_arith_m32) B(FSUB_m32, h_arith_m32) B(FSUBR_m32, h_arith_m32)
	B(FDIV_m32, h_arith_m32) B(FDIVR_m32, h_arith_m32)
	B(FADD_ST0_STi, h_arith_st0_sti) B(FMUL_ST0_STi, h_arith_st0_sti)
	B(FCOM_STi, h_fcom_sti) B(FCOMP_STi, h_fcomp_sti)
	B(FSUB_ST0_STi, h_arith_st0_sti) B(FSUBR_ST0_STi, h_arith_st0_sti)
	B(FDIV_ST0_STi, h_arith_st0_sti) B(FDIVR_ST0_STi, h_arith_st0_sti)
	/* D9 */
	B(FLD_m32, h_fld_m32) B(FST_m32, h_fst_m32) B(FSTP_m32, h_fstp_m32)
	B(FLDENV, h_fldenv) B(FLDCW, h_fldcw) B(FNSTENV, h_fnstenv) B(FNSTCW, h_fnstcw)
	B(FLD_STi, h_fld_sti) B(FXCH_STi, h_fxch) B(FSTP1, h_fstp1) B(FNOP, h_fnop)
	B(FCHS, h_fchs) B(FABS, h_fabs) B(FTST, h_ftst) B(FXAM, h_fxam)
	B(FLD1, h_fldconst) B(FLDL2T, h_fldconst) B(FLDL2E, h_fldconst)
	B(FLDPI, h_fldconst) B(FLDLG2, h_fldconst) B(FLDLN2, h_fldconst)
	B(FLDZ, h_fldconst)
	B(FPU_D9_F0, h_d9_fx) B(FPU_D9_F8, h_d9_fx)
	/* DA */
	B(FIADD_m32, h_arith_i32) B(FIMUL_m32, h_arith_i32) B(FICOM_m32, h_arith_i32)
	B(FICOMP_m32, h_arith_i32) B(FISUB_m32, h_arith_i32) B(FISUBR_m32, h_arith_i32)
	B(FIDIV_m32, h_arith_i32) B(FIDIVR_m32, h_arith_i32)
	B(FCMOVB, h_fcmov) B(FCMOVE, h_fcmov) B(FCMOVBE, h_fcmov) B(FCMOVU, h_fcmov)
	B(FUCOMPP, h_fucompp)
	/* DB */
	B(FILD_m32, h_fild_m32) B(FISTTP_m32, h_fisttp_m32) B(FIST_m32, h_fist_m32)
	B(FISTP_m32, h_fistp_m32) B(FLD_m80, h_fld_m80) B(FSTP_m80, h_fstp_m80)
	B(FCMOVNB, h_fcmov) B(FCMOVNE, h_fcmov) B(FCMOVNBE, h_fcmov) B(FCMOVNU, h_fcmov)
	B(FNCLEX, h_fnclex) B(FNINIT, h_fninit) B(FUCOMI, h_fucomi) B(FCOMI, h_fcomi)
	/* DC */
	B(FADD_m64, h_arith_m64) B(FMUL_m64, h_arith_m64) B(FCOM_m64, h_arith_m64)
	B(FCOMP_m64, h_arith_m64) B(FSUB_m64, h_arith_m64) B(FSUBR_m64, h_arith_m64)
	B(FDIV_m64, h_arith_m64) B(FDIVR_m64, h_arith_m64)
	B(FADD_STi_ST0, h_arith_sti_st0) B(FMUL_STi_ST0, h_arith_sti_st0)
	B(FSUBR_STi_ST0, h_arith_sti_st0) B(FSUB_STi_ST0, h_arith_sti_st0)
	B(FDIVR_STi_ST0, h_arith_sti_st0) B(FDIV_STi_ST0, h_arith_sti_st0)
	B(FCOM2, h_fcom_sti) B(FCOMP3, h_fcomp_sti)
	/* DD */
	B(FLD_m64, h_fld_m64) B(FISTTP_m64, h_fisttp_m64) B(FST_m64, h_fst_m64)
	B(FSTP_m64, h_fstp_m64) B(FRSTOR, h_frstor) B(FNSAVE, h_fnsave)
	B(FNSTSW_m16, h_fnstsw_m16)
	B(FFREE, h_ffree) B(FXCH4, h_fxch) B(FST_STi, h_fst_sti) B(FSTP_STi, h_fstp_sti)
	B(FUCOM, h_fucom) B(FUCOMP, h_fucomp)
	/* DE */
	B(FIADD_m16, h_arith_i16) B(FIMUL_m16, h_arith_i16) B(FICOM_m16, h_arith_i16)
	B(FICOMP_m16, h_arith_i16) B(FISUB_m16, h_arith_i16) B(FISUBR_m16, h_arith_i16)
	B(FIDIV_m16, h_arith_i16) B(FIDIVR_m16, h_arith_i16)
	B(FADDP, h_arith_p) B(FMULP, h_arith_p) B(FCOMP5, h_fcomp_sti) B(FCOMPP, h_fcompp)
	B(FSUBRP, h_arith_p) B(FSUBP, h_arith_p) B(FDIVRP, h_arith_p) B(FDIVP, h_arith_p)
	/* DF */
	B(FILD_m16, h_fild_m16) B(FISTTP_m16, h_fisttp_m16) B(FIST_m16, h_fist_m16)
	B(FISTP_m16, h_fistp_m16) B(FBLD, h_fbld) B(FILD_m64, h_fild_m64)
	B(FBSTP, h_fbstp) B(FISTP_m64, h_fistp_m64)
	B(FFREEP, h_ffreep) B(FXCH7, h_fxch) B(FSTP8, h_fstp_sti) B(FSTP9, h_fstp_sti)
	B(FNSTSW_AX, h_fnstsw_ax) B(FUCOMIP, h_fucomip) B(FCOMIP, h_fcomip)
	{0, NULL},
};
