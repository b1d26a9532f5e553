/*
 * Tests of the data-movement and arithmetic handlers (vmm-core/cpu/exec-alu.c).
 * Every 64-bit instruction form runs natively on the x86-64 host and in the
 * interpreter from the same random registers, flags and memory, and every
 * register, the memory and the flags must agree (faults included); the
 * legacy-only forms (INC/DEC 40-4F, BCD, SALC, 82) and 16/32-bit operand
 * forms are checked by hand against the Intel SDM.
 */
#include "cpu/cpu-internal.h"
#include "cpu/exec.h"
#include "cputest.h"
#include "hosttest.h"

#include <glib.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define RAM_SIZE (4u << 20)
#define IDT_BASE CT_IDT_BASE
#define TSS_BASE 0x3000
#define PML4 0x10000
#define STACK_TOP 0x80000
#define HBASE 0x100000		/* vector v's handler: a NOP ending page v */
#define RO_PAGE 0x200000	/* a read-only 2 MiB page (64-bit env) */
#define LCODE_END 0x6000	/* legacy tests: code ends at this page boundary */

/* The native window: code page, a page holding RET, then the data buffer. */
#define WIN_SIZE 0x4000
#define BUF_OFF 0x2000
#define BUF_SIZE 0x2000
#define MARGIN 0x240

#define ARITH (GH_ALU_FLAGS)

struct env {
	uint8_t *ram;
	uint8_t *win;		/* native window (fixed address) */
	uint64_t va;		/* its address, also its guest address */
	uint8_t icode[0x1000];	/* guest copy of the code page */
	uint8_t ibuf[BUF_SIZE];	/* guest copy of the buffer */
	struct gh_cpu *cpu;
	struct gh_cpu_state s;
};

static uint8_t *fake_page(void *opaque, uint64_t gpa, bool *writable)
{
	struct env *e = opaque;

	*writable = true;
	if (gpa < RAM_SIZE)
		return e->ram + (gpa & ~0xfffULL);
	if (e->va && gpa >= e->va && gpa < e->va + 0x1000)
		return e->icode;
	if (e->va && gpa >= e->va + BUF_OFF && gpa < e->va + BUF_OFF + BUF_SIZE)
		return e->ibuf + ((gpa - e->va - BUF_OFF) & ~0xfffULL);
	return NULL;
}

static struct env *env_new(void)
{
	struct env *e = g_new0(struct env, 1);
	struct gh_cpu_bus bus = {
	    .opaque = e,
	    .page = fake_page,
	};

	e->cpu = ct_cpu_new(bus, &e->ram, RAM_SIZE);
	/* GDT: 0x08 64-bit code, 0x10 data, 0x18 32-bit code, 0x20 TSS */
	ct_gdt_set(e->ram, 0x08, ct_seg_desc(0, 0xfffff, 0x9b, 0xa));
	ct_gdt_set(e->ram, 0x10, ct_seg_desc(0, 0xfffff, 0x93, 0xc));
	ct_gdt_set(e->ram, 0x18, ct_seg_desc(0, 0xfffff, 0x9b, 0xc));
	ct_gdt_set(e->ram, 0x20, ct_seg_desc(TSS_BASE, 0x67, 0x8b, 0));
	/* every handler is a NOP that ends its page, so a run stops after it */
	for (unsigned v = 0; v < 32; v++)
		e->ram[HBASE + v * 0x1000 + 0xfff] = 0x90;
	return e;
}

static void env_free(struct env *e)
{
	ct_cpu_free(e->cpu, e->ram);
	if (e->win)
		munmap(e->win, WIN_SIZE);
	g_free(e);
}

static void env_apply(struct env *e)
{
	ct_apply(e->cpu, &e->s);
}

/* 64-bit mode at CPL 0; 0-1 GiB identity-mapped with 2 MiB pages, RO_PAGE
 * read-only (CR0.WP makes that hold at CPL 0). */
static void long_state(struct env *e)
{
	struct gh_cpu_state *s = &e->s;
	uint64_t pd = ct_map_low(e->ram, PML4, 3);

	for (uint64_t k = 0; k < 512; k++)
		ct_put64(e->ram, pd + k * 8, (k << 21) | 0x83);
	ct_put64(e->ram, pd + (RO_PAGE >> 21) * 8, RO_PAGE | 0x81);
	for (unsigned v = 0; v < 32; v++)
		ct_idt64_set(e->ram, v, 0x08, HBASE + v * 0x1000 + 0xfff, 0x8e, 0);
	ct_long_state(e->ram, s, PML4, 0x27, STACK_TOP, 0x5000);
	s->cr0 |= GH_CR0_WP;
	env_apply(e);
}

/* 32-bit flat protected mode at CPL 0, no paging. */
static void prot32_state(struct env *e)
{
	struct gh_cpu_state *s = &e->s;

	for (unsigned v = 0; v < 32; v++)
		ct_idt32_set(e->ram, v, 0x18, HBASE + v * 0x1000 + 0xfff, 0x8e);
	ct_flat_state(e->ram, s, 0x18, 0x10, 0x20, false);
	s->tr.type = 0xb;
	s->gdt.limit = 0x27;
	s->idt.base = IDT_BASE;
	s->idt.limit = 32 * 8 - 1;
	s->rflags = 2;
	s->gpr[GH_RSP] = STACK_TOP;
	env_apply(e);
}

/* Real mode with CS base 0, DS at 0x2000 and SS at 0x3000. */
static void real_state(struct env *e)
{
	struct gh_cpu_state *s = &e->s;

	gh_cpu_state_reset(s, true);
	ct_real_seg(s, GH_CS, 0);
	ct_real_seg(s, GH_DS, 0x200);
	ct_real_seg(s, GH_SS, 0x300);
	s->rflags = 2;
	s->gpr[GH_RSP] = 0x1000;
	env_apply(e);
}

/* ---- native execution ------------------------------------------------------ */

static bool map_window(struct env *e)
{
	e->win = ct_map_window(WIN_SIZE, &e->va);
	if (!e->win)
		return false;
	e->win[0x1000] = 0xc3; /* RET after the instruction */
	return true;
}

/* ---- random operands ---------------------------------------------------------- */

/* A value whose low n bytes are often an edge case, with junk above. */
static uint64_t operand(struct ct_rng *g, unsigned n)
{
	uint64_t m = n == 8 ? ~0ULL : (1ULL << (n * 8)) - 1, sign = 1ULL << (n * 8 - 1);
	uint64_t junk = ct_rnd(g) & ~m, v;

	switch (ct_rndn(g, 10)) {
	case 0:
		v = ct_rndn(g, 4);
		break;
	case 1:
		v = m - ct_rndn(g, 3);
		break;
	case 2:
		v = sign + ct_rndn(g, 3) - 1;
		break;
	case 3:
		v = ct_rnd(g) & 0xff;
		break;
	default:
		return ct_rnd(g);
	}
	return junk | (v & m);
}

/* ---- instruction forms ------------------------------------------------------------ */

enum {
	F_BYTE = 1 << 0,	/* byte operands (REX optional: AH..BH without it) */
	F_PLUSR = 1 << 1,	/* register in the opcode's low bits */
	F_MEM = 1 << 2,		/* ModRM must name memory */
	F_REG = 1 << 3,		/* ModRM must name a register */
	F_I8 = 1 << 4,
	F_IZ = 1 << 5,
	F_IV = 1 << 6,		/* B8+r: an immediate of the operand size */
	F_MOFFS = 1 << 7,
	F_LK = 1 << 8,	/* LOCK allowed with memory */
	F_S2 = 1 << 9,
	F_S4 = 1 << 10,
	F_S8 = 1 << 11,
	F_SHIFT = 1 << 12,	/* CL / imm8 is a count */
	F_DIV = 1 << 13,	/* dividends that mostly fit */
	F_BITS = 1 << 14,	/* register bit offset into memory: keep it near */
	F_CMPX = 1 << 15,	/* accumulator often equal to the destination */
	F_CX816 = 1 << 16,	/* rDX:rAX often equal to memory */
	F_XLAT = 1 << 17,
	F_DF = 1 << 18,		/* DF random and compared */
	F_NATNP = 1 << 19,	/* native bytes without the mandatory prefix */
	F_A16 = 1 << 20,	/* memory mostly 16-byte aligned */
	F_SCAN = 1 << 21,	/* source often 0 */
};
#define F_SALL (F_S2 | F_S4 | F_S8)
#define NOMODRM (-2)
#define GREG (-1)

struct form {
	uint8_t map;	/* 0 one-byte, 1 0F, 2 0F 38 */
	uint8_t opc;
	uint8_t pfx;	/* mandatory prefix or 0 */
	int8_t ext;	/* ModRM.reg for /digit forms, GREG or NOMODRM */
	uint32_t f;
};

struct insn_bytes {
	uint8_t b[16];
	unsigned len;
	uint8_t nb[16];	/* the native encoding (F_NATNP) */
	unsigned nlen;
};

static const uint8_t implicit_regs[] = {GH_RAX, GH_RCX, GH_RDX, GH_RSP};

static bool is_implicit(unsigned r)
{
	for (unsigned k = 0; k < sizeof(implicit_regs); k++)
		if (implicit_regs[k] == r)
			return true;
	return false;
}

/* A base or index register: never RSP nor the implicit rAX, rCX, rDX, nor
 * one in the avoid mask. */
static unsigned addr_reg(struct ct_rng *g, unsigned avoid)
{
	unsigned r;

	do
		r = ct_rndn(g, 16);
	while (is_implicit(r) || (avoid >> r & 1));
	return r;
}

/* An operand register: not RSP (nor SPL); 0-7 without REX for byte forms. */
static unsigned op_reg(struct ct_rng *g, bool byte_norex)
{
	unsigned r;

	if (byte_norex)
		return ct_rndn(g, 8);
	do
		r = ct_rndn(g, 16);
	while (r == GH_RSP);
	return r;
}

struct gen {
	struct nregs r;
	uint8_t buf[BUF_SIZE];
	uint64_t target;	/* address of the memory operand, or 0 */
	struct insn_bytes ib;
	unsigned size;
	bool mem;
};

static void emit(struct insn_bytes *ib, uint8_t b)
{
	ib->b[ib->len++] = b;
}

static void emit_n(struct insn_bytes *ib, uint64_t v, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		emit(ib, (uint8_t)(v >> (8 * k)));
}

/* Builds one random case of form f: bytes, registers, flags and memory. */
static void gen_case(struct env *e, struct ct_rng *g, const struct form *f, struct gen *c)
{
	struct insn_bytes *ib = &c->ib;
	const bool byte = f->f & F_BYTE;
	unsigned sizes[3], nsizes = 0, n;
	bool rex_byte = false, a32 = false;
	unsigned rex = 0, reg = 0, rm = 0, base = 0, index = 0, scale = 1;
	int addr_mode = -1;
	int64_t disp = 0;
	uint64_t t = 0, buf_va = e->va + BUF_OFF;
	unsigned imm_n = 0, disp_n = 0;

	memset(c, 0, sizeof(*c));
	for (unsigned k = 0; k < BUF_SIZE; k += 8) {
		uint64_t v = ct_rnd(g);

		memcpy(c->buf + k, &v, 8);
	}
	for (unsigned k = 0; k < 16; k++)
		c->r.g[k] = operand(g, 8);
	c->r.fl = 2 | (ct_rnd(g) & ARITH);
	if (f->f & F_DF)
		c->r.fl |= ct_rnd(g) & GH_FL_DF;

	if (byte) {
		n = 1;
		rex_byte = ct_rndn(g, 2);
	} else {
		if (f->f & F_S2)
			sizes[nsizes++] = 2;
		if (f->f & F_S4)
			sizes[nsizes++] = 4;
		if (f->f & F_S8)
			sizes[nsizes++] = 8;
		n = sizes[ct_rndn(g, nsizes)];
	}
	c->size = n;

	/* operands */
	if (f->ext != NOMODRM || (f->f & F_PLUSR)) {
		reg = f->ext >= 0 ? (unsigned)f->ext : op_reg(g, byte && !rex_byte);
		if (f->ext >= 0 && ct_rndn(g, 2) && !(byte && !rex_byte))
			reg |= 8;	/* REX.R is ignored for /digit */
	}
	if (f->f & F_PLUSR) {
		rm = op_reg(g, byte && !rex_byte);
	} else if (f->ext != NOMODRM) {
		c->mem = (f->f & F_MEM) || (!(f->f & F_REG) && ct_rndn(g, 2));
		if (!c->mem)
			rm = op_reg(g, byte && !rex_byte);
	}
	if (c->mem || (f->f & (F_MOFFS | F_XLAT))) {
		a32 = ct_rndn(g, 6) == 0;
		t = MARGIN + ct_rndn(g, BUF_SIZE - 2 * MARGIN);
		if ((f->f & F_A16) && ct_rndn(g, 8))
			t &= ~15ULL;
		c->target = buf_va + t;
	}
	if (c->mem) {
		addr_mode = ct_rndn(g, 7);
		unsigned avoid = (f->f & F_BITS) ? 1u << reg : 0;

		/* a REX for the address would turn AH..BH into SPL..DIL */
		if (byte && !rex_byte)
			avoid |= 0xff00;

		base = addr_reg(g, avoid);
		index = addr_reg(g, avoid | 1u << base);
		scale = 1u << ct_rndn(g, 4);
		switch (addr_mode) {
		case 0: /* [base] */
			if ((base & 7) == 5)
				addr_mode = 1;
			break;
		case 1: /* [base + disp8] */
		case 3: /* [base + index * scale + disp8] */
			disp = (int8_t)ct_rnd(g);
			break;
		default: /* disp32 forms */
			disp = (int32_t)(ct_rndn(g, 0x2000) - 0x1000);
			break;
		}
		if (addr_mode == 1)
			disp = (int8_t)ct_rnd(g);
	}
	if (byte && !rex_byte && (reg >= 8 || rm >= 8))
		rex_byte = true;

	/* prefixes */
	if (a32)
		emit(ib, 0x67);
	if (n == 2)
		emit(ib, 0x66);
	if (c->mem && (f->f & F_LK) && ct_rndn(g, 4) == 0)
		emit(ib, 0xf0);
	if (f->pfx)
		emit(ib, f->pfx);
	rex = (n == 8 ? 8 : 0) | (reg & 8 ? 4 : 0);
	if (f->f & F_PLUSR)
		rex |= rm & 8 ? 1 : 0;
	else if (!c->mem)
		rex |= rm & 8 ? 1 : 0;
	else if (addr_mode == 0 || addr_mode == 1 || addr_mode == 2 || addr_mode == 3)
		rex |= (base & 8 ? 1 : 0) | (addr_mode == 3 && (index & 8) ? 2 : 0);
	else if (addr_mode == 6)
		rex |= index & 8 ? 2 : 0;
	if (rex || rex_byte)
		emit(ib, 0x40 | rex);
	if (f->map >= 1)
		emit(ib, 0x0f);
	if (f->map == 2)
		emit(ib, 0x38);
	emit(ib, f->f & F_PLUSR ? f->opc + (rm & 7) : f->opc);

	/* ModRM, SIB, displacement */
	if (f->ext != NOMODRM) {
		if (!c->mem) {
			emit(ib, 0xc0 | (reg & 7) << 3 | (rm & 7));
		} else {
			unsigned r3 = (reg & 7) << 3;
			unsigned ss = scale == 1 ? 0 : scale == 2 ? 1 : scale == 4 ? 2 : 3;

			switch (addr_mode) {
			case 0:
			case 1:
			case 2: {
				unsigned mod = addr_mode;

				emit(ib, mod << 6 | r3 | ((base & 7) == 4 ? 4 : base & 7));
				if ((base & 7) == 4)
					emit(ib, 0x24);
				disp_n = mod == 1 ? 1 : mod == 2 ? 4 : 0;
				break;
			}
			case 3:
				emit(ib, 1 << 6 | r3 | 4);
				emit(ib, ss << 6 | (index & 7) << 3 | (base & 7));
				disp_n = 1;
				break;
			case 4: /* [rip + disp32] */
				emit(ib, r3 | 5);
				disp_n = 4;
				break;
			case 5: /* [disp32] through a SIB without base or index */
				emit(ib, r3 | 4);
				emit(ib, 0x25);
				disp_n = 4;
				break;
			default: /* [index * scale + disp32] */
				emit(ib, r3 | 4);
				emit(ib, ss << 6 | (index & 7) << 3 | 5);
				disp_n = 4;
				break;
			}
			emit_n(ib, (uint64_t)disp, disp_n);
		}
	}

	/* immediates */
	if (f->f & F_I8)
		imm_n = 1;
	else if (f->f & F_IZ)
		imm_n = n == 2 ? 2 : 4;
	else if (f->f & F_IV)
		imm_n = n;
	if (f->f & F_MOFFS) {
		emit_n(ib, c->target, a32 ? 4 : 8);
	} else if (imm_n) {
		uint64_t imm = operand(g, imm_n);

		if ((f->f & F_SHIFT) && ct_rndn(g, 2))
			imm = ct_rndn(g, 2 * n * 8 + 2);
		emit_n(ib, imm, imm_n);
	}

	/* now that the length is known: the address registers or displacement */
	if (c->mem) {
		uint64_t idx_val = ct_rndn(g, 16), junk = a32 ? ct_rnd(g) << 32 : 0;
		uint64_t next = e->va + 0x1000, want = c->target;
		unsigned at = ib->len - imm_n - disp_n;

		switch (addr_mode) {
		case 0:
		case 1:
		case 2:
			c->r.g[base] = (want - (uint64_t)disp) | junk;
			if (a32)
				c->r.g[base] = ((want - (uint64_t)disp) & 0xffffffff) | junk;
			break;
		case 3:
			c->r.g[index] = idx_val | (a32 ? ct_rnd(g) << 32 : 0);
			c->r.g[base] = ((want - (uint64_t)disp - idx_val * scale) &
					(a32 ? 0xffffffff : ~0ULL)) | junk;
			break;
		case 4:
			disp = (int64_t)(want - next);
			break;
		case 5:
			disp = (int64_t)want;
			break;
		default:
			c->r.g[index] = ((want - (uint64_t)disp) / scale) | (a32 ? junk : 0);
			disp = (int64_t)(want - ((want - (uint64_t)disp) / scale) * scale);
			break;
		}
		for (unsigned k = 0; k < disp_n; k++)
			ib->b[at + k] = (uint8_t)((uint64_t)disp >> (8 * k));
	}
	if (f->f & F_XLAT)
		c->r.g[GH_RBX] = (a32 ? ct_rnd(g) << 32 : 0) | (c->target - (c->r.g[GH_RAX] & 0xff));

	/* operands that need a shape */
	if (f->f & F_SHIFT)
		c->r.g[GH_RCX] = (c->r.g[GH_RCX] & ~0xffULL) |
				 (ct_rndn(g, 2) ? ct_rndn(g, 2 * n * 8 + 2) : (ct_rnd(g) & 0xff));
	if (f->f & F_DIV) {
		unsigned bits = n * 8;
		uint64_t m = n == 8 ? ~0ULL : (1ULL << bits) - 1, lo = c->r.g[GH_RAX];
		uint64_t hi = ct_rndn(g, 3) == 0 ? ct_rnd(g) : (ct_rndn(g, 2) && ((lo >> (bits - 1)) & 1) ? m : 0);

		if (n == 1)
			c->r.g[GH_RAX] = (lo & ~0xff00ULL) | (hi & 0xff) << 8;
		else
			c->r.g[GH_RDX] = hi;
	}
	if ((f->f & F_BITS) && c->mem) {
		int64_t off = (int64_t)ct_rndn(g, 2 * (MARGIN - 16) * 8) - (MARGIN - 16) * 8;

		c->r.g[reg] = (c->r.g[reg] & ~(n == 8 ? ~0ULL : (1ULL << (n * 8)) - 1)) |
			      ((uint64_t)off & (n == 8 ? ~0ULL : (1ULL << (n * 8)) - 1));
	}
	if (c->mem && ct_rndn(g, 2)) {
		uint64_t v = operand(g, 8);

		memcpy(c->buf + t, &v, 8);
	}
	if ((f->f & F_CMPX) && ct_rndn(g, 2)) {
		uint64_t d = 0;

		if (c->mem)
			memcpy(&d, c->buf + t, 8);
		else if (byte && !rex_byte && rm >= 4)
			d = c->r.g[rm - 4] >> 8;
		else
			d = c->r.g[rm];
		if (n == 1)
			c->r.g[GH_RAX] = (c->r.g[GH_RAX] & ~0xffULL) | (d & 0xff);
		else
			c->r.g[GH_RAX] = d;
	}
	if ((f->f & F_CX816) && ct_rndn(g, 2)) {
		uint64_t m0, m1;

		memcpy(&m0, c->buf + t, 8);
		memcpy(&m1, c->buf + t + 8, 8);
		if (n == 8) {
			c->r.g[GH_RAX] = m0;
			c->r.g[GH_RDX] = m1;
		} else {
			c->r.g[GH_RAX] = (c->r.g[GH_RAX] & ~0xffffffffULL) | (uint32_t)m0;
			c->r.g[GH_RDX] = (c->r.g[GH_RDX] & ~0xffffffffULL) | (m0 >> 32);
		}
	}
	if ((f->f & F_SCAN) && ct_rndn(g, 6) == 0) {
		if (c->mem)
			memset(c->buf + t, 0, 8);
		else
			c->r.g[rm] &= ~(n == 8 ? ~0ULL : (1ULL << (n * 8)) - 1);
	}

	/* TZCNT without BMI1 is BSF: the host runs the BSF encoding */
	memcpy(ib->nb, ib->b, ib->len);
	ib->nlen = ib->len;
	if (f->f & F_NATNP) {
		unsigned k;

		for (k = 0; k < ib->len && ib->b[k] != f->pfx; k++)
			;
		memmove(ib->nb + k, ib->nb + k + 1, ib->len - k - 1);
		ib->nlen--;
	}
}

/* ---- running one case both ways ------------------------------------------------------ */

struct outcome {
	struct nregs r;
	uint8_t buf[BUF_SIZE];
	int vector;	/* -1: completed */
};

static void run_native(struct env *e, const struct gen *c, struct outcome *o)
{
	uint8_t *code = e->win + 0x1000 - c->ib.nlen;

	memcpy(code, c->ib.nb, c->ib.nlen);
	memcpy(e->win + BUF_OFF, c->buf, BUF_SIZE);
	o->r = c->r;
	o->vector = native_run(&o->r, code);
	if (o->vector >= 0)
		o->r = c->r;
	memcpy(o->buf, e->win + BUF_OFF, BUF_SIZE);
}

/* Runs the bytes at the end of the code page: the block ends there, so one
 * instruction (or one exception and its one-NOP handler) runs. */
static void run_interp(struct env *e, const struct gen *c, struct outcome *o)
{
	struct gh_cpu *cpu = e->cpu;
	uint64_t start = e->va + 0x1000 - c->ib.len;
	enum gh_cpu_stop stop;

	memset(e->icode, 0xcc, sizeof(e->icode));
	memcpy(e->icode + 0x1000 - c->ib.len, c->ib.b, c->ib.len);
	gh_cpu_invalidate_code(cpu, e->va, 0x1000);
	memcpy(e->ibuf, c->buf, BUF_SIZE);
	memcpy(cpu->gpr, c->r.g, sizeof(cpu->gpr));
	cpu->gpr[GH_RSP] = STACK_TOP;
	cpu->rip = start;
	cpu->rflags = (c->r.fl & ~(uint64_t)ARITH) | 2;
	gh_flags_set(&cpu->lf, c->r.fl, ARITH);

	stop = gh_cpu_run(cpu, 1);
	g_assert_cmpint(stop, ==, GH_CPU_BUDGET);
	memcpy(o->r.g, cpu->gpr, sizeof(o->r.g));
	o->r.fl = gh_exec_rflags(cpu);
	memcpy(o->buf, e->ibuf, BUF_SIZE);
	if (cpu->rip == e->va + 0x1000) {
		o->vector = -1;
	} else if (cpu->rip > HBASE && cpu->rip <= HBASE + 32 * 0x1000 &&
		   !(cpu->rip & 0xfff)) {
		o->vector = (int)((cpu->rip - HBASE) >> 12) - 1;
	} else {
		o->vector = -2;
	}
}

static void dump_regs(const char *what, const struct nregs *r)
{
	static const char *const names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp",
					      "rsi", "rdi", "r8",  "r9",  "r10", "r11",
					      "r12", "r13", "r14", "r15"};

	fprintf(stderr, "  %s:", what);
	for (unsigned k = 0; k < 16; k++)
		fprintf(stderr, "%s %s=%016" G_GINT64_MODIFIER "x", k % 4 ? "" : "\n   ",
			names[k], r->g[k]);
	fprintf(stderr, "\n   rflags=%04" G_GINT64_MODIFIER "x\n", r->fl);
}

/* Compares everything; on a mismatch prints the case and returns false. */
static bool compare(const struct gen *c, const struct outcome *n, const struct outcome *v,
		    uint64_t fmask, uint64_t seed, unsigned idx)
{
	bool ok = n->vector == v->vector;
	int diff_at = -1;

	for (unsigned k = 0; k < 16 && ok; k++)
		if (k != GH_RSP && n->r.g[k] != v->r.g[k])
			ok = false;
	if (ok && ((n->r.fl ^ v->r.fl) & fmask))
		ok = false;
	if (ok && memcmp(n->buf, v->buf, BUF_SIZE)) {
		for (unsigned k = 0; k < BUF_SIZE; k++)
			if (n->buf[k] != v->buf[k]) {
				diff_at = (int)k;
				break;
			}
		ok = false;
	}
	if (ok)
		return true;

	struct gh_x86_insn insn = {0};

	gh_x86_decode(c->ib.b, c->ib.len, 64, &insn);
	fprintf(stderr, "MISMATCH seed %#" G_GINT64_MODIFIER "x case %u: %s size %u bytes",
		seed, idx, gh_x86_op_name(insn.op), c->size);
	for (unsigned k = 0; k < c->ib.len; k++)
		fprintf(stderr, " %02x", c->ib.b[k]);
	fprintf(stderr, "\n  vector native %d interp %d, memory operand at %#" G_GINT64_MODIFIER
		"x, flags compared %#" G_GINT64_MODIFIER "x\n",
		n->vector, v->vector, c->target, fmask);
	dump_regs("initial", &c->r);
	dump_regs("native", &n->r);
	dump_regs("interp", &v->r);
	if (diff_at >= 0)
		fprintf(stderr, "  memory differs at +%#x: native %02x interp %02x (was %02x)\n",
			diff_at, n->buf[diff_at], v->buf[diff_at], c->buf[diff_at]);
	return false;
}

/* ---- the form table --------------------------------------------------------------------- */

static void add(GArray *a, unsigned map, unsigned opc, unsigned pfx, int ext, uint32_t f)
{
	struct form fm = {(uint8_t)map, (uint8_t)opc, (uint8_t)pfx, (int8_t)ext, f};

	g_array_append_val(a, fm);
}

static GArray *build_forms(void)
{
	GArray *a = g_array_new(false, false, sizeof(struct form));
	const uint32_t B = F_BYTE, V = F_SALL;

	for (unsigned k = 0; k < 8; k++) {
		unsigned base = k * 8;
		uint32_t lk = k == 7 ? 0 : F_LK;

		add(a, 0, base + 0, 0, GREG, B | lk);
		add(a, 0, base + 1, 0, GREG, V | lk);
		add(a, 0, base + 2, 0, GREG, B);
		add(a, 0, base + 3, 0, GREG, V);
		add(a, 0, base + 4, 0, NOMODRM, B | F_I8);
		add(a, 0, base + 5, 0, NOMODRM, V | F_IZ);
		add(a, 0, 0x80, 0, (int)k, B | F_I8 | lk);
		add(a, 0, 0x81, 0, (int)k, V | F_IZ | lk);
		add(a, 0, 0x83, 0, (int)k, V | F_I8 | lk);
	}
	/* TEST */
	add(a, 0, 0x84, 0, GREG, B);
	add(a, 0, 0x85, 0, GREG, V);
	add(a, 0, 0xa8, 0, NOMODRM, B | F_I8);
	add(a, 0, 0xa9, 0, NOMODRM, V | F_IZ);
	add(a, 0, 0xf6, 0, 0, B | F_I8);
	add(a, 0, 0xf6, 0, 1, B | F_I8);
	add(a, 0, 0xf7, 0, 0, V | F_IZ);
	add(a, 0, 0xf7, 0, 1, V | F_IZ);
	/* INC DEC NOT NEG */
	for (int r = 0; r < 2; r++) {
		add(a, 0, 0xfe, 0, r, B | F_LK);
		add(a, 0, 0xff, 0, r, V | F_LK);
	}
	for (int r = 2; r < 4; r++) {
		add(a, 0, 0xf6, 0, r, B | F_LK);
		add(a, 0, 0xf7, 0, r, V | F_LK);
	}
	/* MUL IMUL DIV IDIV */
	for (int r = 4; r < 8; r++) {
		add(a, 0, 0xf6, 0, r, B | (r >= 6 ? F_DIV : 0));
		add(a, 0, 0xf7, 0, r, V | (r >= 6 ? F_DIV : 0));
	}
	add(a, 1, 0xaf, 0, GREG, V);
	add(a, 0, 0x69, 0, GREG, V | F_IZ);
	add(a, 0, 0x6b, 0, GREG, V | F_I8);
	/* shifts and rotates, /6 included */
	for (int r = 0; r < 8; r++) {
		add(a, 0, 0xc0, 0, r, B | F_I8 | F_SHIFT);
		add(a, 0, 0xc1, 0, r, V | F_I8 | F_SHIFT);
		add(a, 0, 0xd0, 0, r, B);
		add(a, 0, 0xd1, 0, r, V);
		add(a, 0, 0xd2, 0, r, B | F_SHIFT);
		add(a, 0, 0xd3, 0, r, V | F_SHIFT);
	}
	add(a, 1, 0xa4, 0, GREG, V | F_I8 | F_SHIFT);
	add(a, 1, 0xa5, 0, GREG, V | F_SHIFT);
	add(a, 1, 0xac, 0, GREG, V | F_I8 | F_SHIFT);
	add(a, 1, 0xad, 0, GREG, V | F_SHIFT);
	/* MOV */
	add(a, 0, 0x88, 0, GREG, B);
	add(a, 0, 0x89, 0, GREG, V);
	add(a, 0, 0x8a, 0, GREG, B);
	add(a, 0, 0x8b, 0, GREG, V);
	add(a, 0, 0xc6, 0, 0, B | F_I8);
	add(a, 0, 0xc7, 0, 0, V | F_IZ);
	add(a, 0, 0xb0, 0, NOMODRM, B | F_PLUSR | F_I8);
	add(a, 0, 0xb8, 0, NOMODRM, V | F_PLUSR | F_IV);
	add(a, 0, 0xa0, 0, NOMODRM, B | F_MOFFS);
	add(a, 0, 0xa1, 0, NOMODRM, V | F_MOFFS);
	add(a, 0, 0xa2, 0, NOMODRM, B | F_MOFFS);
	add(a, 0, 0xa3, 0, NOMODRM, V | F_MOFFS);
	add(a, 1, 0xb6, 0, GREG, V);
	add(a, 1, 0xb7, 0, GREG, V);
	add(a, 1, 0xbe, 0, GREG, V);
	add(a, 1, 0xbf, 0, GREG, V);
	add(a, 0, 0x63, 0, GREG, V);
	add(a, 0, 0x8d, 0, GREG, V | F_MEM);
	/* XCHG, NOPs */
	add(a, 0, 0x86, 0, GREG, B | F_LK);
	add(a, 0, 0x87, 0, GREG, V | F_LK);
	add(a, 0, 0x90, 0, NOMODRM, V | F_PLUSR);
	add(a, 1, 0x1f, 0, 0, V);
	for (unsigned o = 0x19; o <= 0x1e; o++)
		add(a, 1, o, 0, GREG, V);
	for (int r = 0; r < 8; r++) {
		add(a, 1, 0x18, 0, r, V);
		add(a, 1, 0x0d, 0, r, V);
	}
	/* bit tests and scans */
	add(a, 1, 0xa3, 0, GREG, V | F_BITS);
	add(a, 1, 0xab, 0, GREG, V | F_BITS | F_LK);
	add(a, 1, 0xb3, 0, GREG, V | F_BITS | F_LK);
	add(a, 1, 0xbb, 0, GREG, V | F_BITS | F_LK);
	for (int r = 4; r < 8; r++)
		add(a, 1, 0xba, 0, r, V | F_I8 | (r > 4 ? F_LK : 0));
	add(a, 1, 0xbc, 0, GREG, V | F_SCAN);
	add(a, 1, 0xbd, 0, GREG, V | F_SCAN);
	add(a, 1, 0xbc, 0xf3, GREG, V | F_SCAN | F_NATNP);
	add(a, 1, 0xbd, 0xf3, GREG, V | F_SCAN);
	add(a, 1, 0xb8, 0xf3, GREG, V | F_SCAN);
	add(a, 1, 0xc8, 0, NOMODRM, V | F_PLUSR);
	add(a, 2, 0xf0, 0, GREG, V | F_MEM);
	add(a, 2, 0xf1, 0, GREG, V | F_MEM);
	/* CMOVcc, SETcc */
	for (unsigned cc = 0; cc < 16; cc++) {
		add(a, 1, 0x40 + cc, 0, GREG, V);
		add(a, 1, 0x90 + cc, 0, 0, B);
	}
	/* exchange-and-operate */
	add(a, 1, 0xc0, 0, GREG, B | F_LK);
	add(a, 1, 0xc1, 0, GREG, V | F_LK);
	add(a, 1, 0xb0, 0, GREG, B | F_LK | F_CMPX);
	add(a, 1, 0xb1, 0, GREG, V | F_LK | F_CMPX);
	add(a, 1, 0xc7, 0, 1, F_S4 | F_MEM | F_LK | F_CX816);
	add(a, 1, 0xc7, 0, 1, F_S8 | F_MEM | F_LK | F_CX816 | F_A16);
	/* accumulator and flags */
	add(a, 0, 0x98, 0, NOMODRM, V);
	add(a, 0, 0x99, 0, NOMODRM, V);
	add(a, 0, 0x9e, 0, NOMODRM, F_S4);
	add(a, 0, 0x9f, 0, NOMODRM, F_S4);
	add(a, 0, 0xf5, 0, NOMODRM, F_S4);
	add(a, 0, 0xf8, 0, NOMODRM, F_S4);
	add(a, 0, 0xf9, 0, NOMODRM, F_S4);
	add(a, 0, 0xfc, 0, NOMODRM, F_S4 | F_DF);
	add(a, 0, 0xfd, 0, NOMODRM, F_S4 | F_DF);
	add(a, 0, 0xd7, 0, NOMODRM, F_S4 | F_XLAT);
	return a;
}

/* Ops that are invalid in 64-bit mode: the legacy tests below run them. */
static const uint16_t legacy_ops[] = {
	GH_X86_OP_INC_Zv, GH_X86_OP_DEC_Zv, GH_X86_OP_DAA, GH_X86_OP_DAS,
	GH_X86_OP_AAA, GH_X86_OP_AAS, GH_X86_OP_AAM_Ib, GH_X86_OP_AAD_Ib,
	GH_X86_OP_SALC, GH_X86_OP_ADD_Eb_Ib_82, GH_X86_OP_OR_Eb_Ib_82,
	GH_X86_OP_ADC_Eb_Ib_82, GH_X86_OP_SBB_Eb_Ib_82, GH_X86_OP_AND_Eb_Ib_82,
	GH_X86_OP_SUB_Eb_Ib_82, GH_X86_OP_XOR_Eb_Ib_82, GH_X86_OP_CMP_Eb_Ib_82,
};

/* Ops with one operand size only, or whose size is not an operand's. */
static bool fixed_size(unsigned op)
{
	switch (op) {
	case GH_X86_OP_CMPXCHG8B_Mq:
	case GH_X86_OP_CMPXCHG16B_Mdq:
	case GH_X86_OP_LAHF:
	case GH_X86_OP_SAHF:
	case GH_X86_OP_CMC:
	case GH_X86_OP_CLC:
	case GH_X86_OP_STC:
	case GH_X86_OP_CLD:
	case GH_X86_OP_STD:
	case GH_X86_OP_XLAT:
	case GH_X86_OP_PREFETCHNTA:
	case GH_X86_OP_PREFETCHT0:
	case GH_X86_OP_PREFETCHT1:
	case GH_X86_OP_PREFETCHT2:
		return true;
	}
	return false;
}

/* Ops whose rows only take memory (the decoder picks another op for mod=3). */
static bool mem_only(unsigned op)
{
	switch (op) {
	case GH_X86_OP_CMPXCHG8B_Mq:
	case GH_X86_OP_CMPXCHG16B_Mdq:
	case GH_X86_OP_MOVBE_Gv_Mv:
	case GH_X86_OP_MOVBE_Mv_Gv:
	case GH_X86_OP_PREFETCHNTA:
	case GH_X86_OP_PREFETCHT0:
	case GH_X86_OP_PREFETCHT1:
	case GH_X86_OP_PREFETCHT2:
		return true;
	}
	return false;
}

#define COV_REG 0x01
#define COV_MEM 0x02
#define COV_S(n) ((n) << 2) /* 1, 2, 4, 8 -> bits 2, 3, 4, 5 */

static unsigned cases_per_form(void)
{
	return g_test_slow() ? 20000 : 2000;
}

static void test_differential(void)
{
	struct env *e = env_new();
	GArray *forms = build_forms();
	uint8_t *cov = g_new0(uint8_t, GH_X86_NR_OPS);
	struct sigaction sa = {0}, old[4];
	static const int sigs[4] = {SIGFPE, SIGSEGV, SIGILL, SIGBUS};
	struct gen *c = g_new0(struct gen, 1);
	struct outcome *on = g_new0(struct outcome, 1), *oi = g_new0(struct outcome, 1);
	unsigned failures = 0;

	if (!map_window(e)) {
		g_test_skip("no fixed low address for the native window");
		goto out;
	}
	long_state(e);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (unsigned k = 0; k < 4; k++)
		sigaction(sigs[k], &sa, &old[k]);

	for (unsigned fi = 0; fi < forms->len && failures < 40; fi++) {
		const struct form *f = &g_array_index(forms, struct form, fi);
		uint64_t seed = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)fi << 32) ^ f->opc;
		struct ct_rng g = {seed};
		uint64_t fmask = ARITH | ((f->f & F_DF) ? GH_FL_DF : 0);

		for (unsigned idx = 0; idx < cases_per_form(); idx++) {
			struct gh_x86_insn insn;

			gen_case(e, &g, f, c);
			g_assert_cmpint(gh_x86_decode(c->ib.b, c->ib.len, 64, &insn), ==, 0);
			g_assert_cmpuint(insn.len, ==, c->ib.len);
			cov[insn.op] |= (c->mem ? COV_MEM : COV_REG) | COV_S(c->size);
			run_native(e, c, on);
			run_interp(e, c, oi);
			if (!compare(c, on, oi, fmask, seed, idx)) {
				g_test_fail();
				failures++;
				break;
			}
		}
	}
	for (unsigned k = 0; k < 4; k++)
		sigaction(sigs[k], &old[k], NULL);

	/* every bound op ran, in register and memory forms and every size */
	for (const struct gh_handler_bind *b = gh_exec_alu_binds; b->fn; b++) {
		uint32_t fl = gh_x86_op_flags(b->op);
		bool legacy = false;

		for (unsigned k = 0; k < G_N_ELEMENTS(legacy_ops); k++)
			legacy |= legacy_ops[k] == b->op;
		if (legacy) {
			g_assert_true(fl & GH_X86_F_I64);
			continue;
		}
		if (!cov[b->op])
			fprintf(stderr, "not covered: %s\n", gh_x86_op_name(b->op));
		g_assert_cmpuint(cov[b->op], !=, 0);
		if ((fl & GH_X86_F_MODRM) && !(fl & (GH_X86_F_MEM | GH_X86_F_REGO)) &&
		    !mem_only(b->op)) {
			if ((cov[b->op] & 3) != 3)
				fprintf(stderr, "reg/mem not both covered: %s\n",
					gh_x86_op_name(b->op));
			g_assert_cmphex(cov[b->op] & 3, ==, 3);
		}
		if ((fl & GH_X86_F_BYTE) || fixed_size(b->op))
			continue;
		if ((cov[b->op] & COV_S(14)) != COV_S(14))
			fprintf(stderr, "sizes not all covered: %s\n", gh_x86_op_name(b->op));
		g_assert_cmphex(cov[b->op] & COV_S(14), ==, COV_S(14));
	}
out:
	g_free(c);
	g_free(on);
	g_free(oi);
	g_free(cov);
	g_array_free(forms, true);
	env_free(e);
}

/* ---- faults leave no trace ------------------------------------------------------------------ */

/*
 * Each read-modify-write form on a read-only page: #PF with a write error
 * code and CR2, and registers, flags and memory as before the instruction.
 */
static void test_rmw_fault(void)
{
	static const struct {
		uint8_t b[8];
		unsigned len;
	} cases[] = {
		{{0x01, 0x0b}, 2},		/* add [rbx], ecx */
		{{0x11, 0x0b}, 2},		/* adc [rbx], ecx */
		{{0x19, 0x0b}, 2},		/* sbb [rbx], ecx */
		{{0x80, 0x03, 0x7f}, 3},	/* add byte [rbx], 0x7f */
		{{0x87, 0x0b}, 2},		/* xchg [rbx], ecx */
		{{0x0f, 0xc1, 0x0b}, 3},	/* xadd [rbx], ecx */
		{{0x0f, 0xb1, 0x0b}, 3},	/* cmpxchg [rbx], ecx */
		{{0xd3, 0x23}, 2},		/* shl dword [rbx], cl */
		{{0x0f, 0xa5, 0x0b}, 3},	/* shld [rbx], ecx, cl */
		{{0x0f, 0xbb, 0x0b}, 3},	/* btc [rbx], ecx */
		{{0x0f, 0xba, 0x2b, 0x05}, 4},	/* bts dword [rbx], 5 */
		{{0xff, 0x03}, 2},		/* inc dword [rbx] */
		{{0xf7, 0x1b}, 2},		/* neg dword [rbx] */
		{{0xf7, 0x13}, 2},		/* not dword [rbx] */
		{{0x0f, 0xc7, 0x0b}, 3},	/* cmpxchg8b [rbx] */
		{{0x48, 0x0f, 0xc7, 0x0b}, 4},	/* cmpxchg16b [rbx] */
		{{0x0f, 0x38, 0xf1, 0x0b}, 4},	/* movbe [rbx], ecx */
		{{0x0f, 0x94, 0x03}, 3},	/* setz [rbx] */
		{{0x89, 0x0b}, 2},		/* mov [rbx], ecx */
	};
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	struct ct_rng g = {0x51ed270b27a3ULL};

	long_state(e);
	for (unsigned k = 0; k < G_N_ELEMENTS(cases); k++) {
		for (unsigned rep = 0; rep < 8; rep++) {
			uint64_t gpr[16], fl = 2 | (ct_rnd(&g) & ARITH), start;
			uint8_t before[32];

			for (unsigned r = 0; r < 16; r++)
				gpr[r] = ct_rnd(&g);
			gpr[GH_RBX] = RO_PAGE + 0x100;
			gpr[GH_RCX] = 1 + rep; /* a real shift; a bit offset inside */
			gpr[GH_RSP] = STACK_TOP;
			for (unsigned j = 0; j < 32; j++)
				e->ram[RO_PAGE + 0x100 + j] = (uint8_t)ct_rnd(&g);
			if (rep & 1) {	/* the comparisons succeed */
				memcpy(&gpr[GH_RAX], e->ram + RO_PAGE + 0x100, 8);
				memcpy(&gpr[GH_RDX], e->ram + RO_PAGE + 0x108, 8);
				if (cases[k].b[1] == 0xc7 && cases[k].b[0] == 0x0f)
					gpr[GH_RDX] = gpr[GH_RAX] >> 32;
			}
			memcpy(before, e->ram + RO_PAGE + 0x100, 32);
			start = LCODE_END - cases[k].len;
			memcpy(e->ram + start, cases[k].b, cases[k].len);
			gh_cpu_invalidate_code(cpu, start, cases[k].len);
			memcpy(cpu->gpr, gpr, sizeof(gpr));
			cpu->rip = start;
			cpu->rflags = 2;
			cpu->cr2 = 0;
			gh_flags_set(&cpu->lf, fl, ARITH);
			g_assert_cmpint(gh_cpu_run(cpu, 1), ==, GH_CPU_BUDGET);

			/* the #PF handler ran; its frame holds the state of before */
			g_assert_cmphex(cpu->rip, ==, HBASE + 15 * 0x1000);
			g_assert_cmphex(cpu->cr2, ==, RO_PAGE + 0x100);
			g_assert_cmphex(ct_get64(e->ram, STACK_TOP - 48), ==,
					GH_PFEC_P | GH_PFEC_W);
			g_assert_cmphex(ct_get64(e->ram, STACK_TOP - 40), ==, start);
			g_assert_cmphex(ct_get64(e->ram, STACK_TOP - 24) & (ARITH | 2),
					==, fl);
			g_assert_cmphex(gh_exec_rflags(cpu) & ARITH, ==, fl & ARITH);
			for (unsigned r = 0; r < 16; r++)
				if (r != GH_RSP)
					g_assert_cmphex(cpu->gpr[r], ==, gpr[r]);
			g_assert_cmpmem(e->ram + RO_PAGE + 0x100, 32, before, 32);
		}
	}
	env_free(e);
}

/* CMPXCHG16B: #GP(0) for a misaligned operand, before anything is read. */
static void test_cmpxchg16b_align(void)
{
	static const uint8_t code[] = {0x48, 0x0f, 0xc7, 0x0b}; /* cmpxchg16b [rbx] */
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	uint64_t start = LCODE_END - sizeof(code);

	long_state(e);
	memcpy(e->ram + start, code, sizeof(code));
	for (unsigned mis = 0; mis < 16; mis++) {
		memset(e->ram + 0x40000, 0x5a, 64);
		gh_cpu_invalidate_code(cpu, start, sizeof(code));
		cpu->gpr[GH_RBX] = 0x40000 + mis;
		cpu->gpr[GH_RAX] = 0x5a5a5a5a5a5a5a5aULL;
		cpu->gpr[GH_RDX] = 0x5a5a5a5a5a5a5a5aULL;
		cpu->gpr[GH_RCX] = 1;
		cpu->gpr[GH_RSP] = STACK_TOP;
		cpu->rip = start;
		gh_flags_set(&cpu->lf, 0, ARITH);
		g_assert_cmpint(gh_cpu_run(cpu, 1), ==, GH_CPU_BUDGET);
		if (mis) {
			g_assert_cmphex(cpu->rip, ==, HBASE + 14 * 0x1000);
			g_assert_cmphex(ct_get64(e->ram, STACK_TOP - 48), ==, 0);
			g_assert_cmphex(e->ram[0x40000 + mis], ==, 0x5a);
		} else {
			/* equal: RCX:RBX stored, ZF set */
			g_assert_cmphex(cpu->rip, ==, LCODE_END);
			g_assert_cmphex(ct_get64(e->ram, 0x40000), ==, 0x40000);
			g_assert_cmphex(ct_get64(e->ram, 0x40008), ==, 1);
			g_assert_true(gh_flags_zf(&cpu->lf));
		}
	}
	env_free(e);
}

/* ---- legacy modes, checked by hand ---------------------------------------------------------- */

/* Runs code that ends at LCODE_END. */
static void run_legacy(struct env *e, const uint8_t *code, size_t len)
{
	struct gh_cpu *cpu = e->cpu;
	uint64_t start = LCODE_END - len;

	ct_load(cpu, e->ram, start, code, len);
	cpu->rip = start;
	/* one instruction at a time (the budget is exact) until the code ends
	 * or a fault takes RIP elsewhere */
	for (unsigned n = 0; n < 64 && cpu->rip >= start && cpu->rip < LCODE_END; n++)
		g_assert_cmpint(gh_cpu_run(cpu, 1), ==, GH_CPU_BUDGET);
}

static uint64_t flags(struct env *e)
{
	return gh_exec_rflags(e->cpu) & ARITH;
}

#define CF GH_ALU_CF
#define PF GH_ALU_PF
#define AF GH_ALU_AF
#define ZF GH_ALU_ZF
#define SF GH_ALU_SF
#define OF GH_ALU_OF
#define RUN(e, ...)                                                                      \
	do {                                                                             \
		static const uint8_t code_[] = {__VA_ARGS__};                            \
		run_legacy(e, code_, sizeof(code_));                                     \
	} while (0)

static void test_prot32(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	prot32_state(e);

	/* INC/DEC 40-4F keep CF; 66 gives the 16-bit form */
	cpu->gpr[GH_RCX] = 0x1234ffff;
	RUN(e, 0xb8, 0xff, 0xff, 0xff, 0x7f, /* mov eax, 0x7fffffff */
	    0xf9,			     /* stc */
	    0x40,			     /* inc eax */
	    0x66, 0x41);		     /* inc cx */
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0x80000000);
	g_assert_cmphex(cpu->gpr[GH_RCX], ==, 0x12340000);
	g_assert_cmphex(flags(e), ==, CF | ZF | AF | PF);
	RUN(e, 0x31, 0xd2,	/* xor edx, edx */
	    0x4a);		/* dec edx */
	g_assert_cmphex(cpu->gpr[GH_RDX], ==, 0xffffffff);
	g_assert_cmphex(flags(e), ==, SF | AF | PF);
	cpu->gpr[GH_RDI] = 0x80000000;
	RUN(e, 0x4f); /* dec edi */
	g_assert_cmphex(cpu->gpr[GH_RDI], ==, 0x7fffffff);
	g_assert_cmphex(flags(e), ==, OF | AF | PF);

	/* DAA: 79 + 35 = 114 (SDM DAA example) */
	RUN(e, 0xb0, 0x79, 0x04, 0x35, 0x27); /* mov al,79h; add al,35h; daa */
	g_assert_cmphex(cpu->gpr[GH_RAX] & 0xff, ==, 0x14);
	g_assert_cmphex(flags(e) & (CF | AF | ZF | SF), ==, CF | AF);
	/* DAS: 35 - 47 = -12 -> 88 with a borrow */
	RUN(e, 0xb0, 0x35, 0x2c, 0x47, 0x2f); /* mov al,35h; sub al,47h; das */
	g_assert_cmphex(cpu->gpr[GH_RAX] & 0xff, ==, 0x88);
	g_assert_cmphex(flags(e) & (CF | AF | ZF | SF), ==, CF | AF | SF);
	/* DAA of 99 + 1: 00 and a carry */
	RUN(e, 0xb0, 0x99, 0x04, 0x01, 0x27);
	g_assert_cmphex(cpu->gpr[GH_RAX] & 0xff, ==, 0x00);
	g_assert_cmphex(flags(e) & (CF | ZF), ==, CF | ZF);
	/* AAA: 9 + 8 = 17 unpacked */
	RUN(e, 0x66, 0xb8, 0x09, 0x00, 0x04, 0x08, 0x37); /* mov ax,9; add al,8; aaa */
	g_assert_cmphex(cpu->gpr[GH_RAX] & 0xffff, ==, 0x0107);
	g_assert_cmphex(flags(e) & (CF | AF), ==, CF | AF);
	/* AAA with nothing to adjust clears CF and AF and the high nibble */
	RUN(e, 0x66, 0xb8, 0x35, 0x02, 0x04, 0x00, 0x37); /* mov ax,0235h; add al,0; aaa */
	g_assert_cmphex(cpu->gpr[GH_RAX] & 0xffff, ==, 0x0205);
	g_assert_cmphex(flags(e) & (CF | AF), ==, 0);
	/* AAS: 12 - 5 = 7 unpacked, a borrow from AH */
	RUN(e, 0x66, 0xb8, 0x02, 0x01, 0x2c, 0x05, 0x3f); /* mov ax,0102h; sub al,5; aas */
	g_assert_cmphex(cpu->gpr[GH_RAX] & 0xffff, ==, 0x0007);
	g_assert_cmphex(flags(e) & (CF | AF), ==, CF | AF);
	/* AAM: 79 = 7 * 10 + 9 */
	RUN(e, 0xb0, 0x4f, 0xd4, 0x0a);
	g_assert_cmphex(cpu->gpr[GH_RAX] & 0xffff, ==, 0x0709);
	g_assert_cmphex(flags(e) & (ZF | SF | PF), ==, PF);
	/* AAM 16 splits nibbles */
	RUN(e, 0xb0, 0xa7, 0xd4, 0x10);
	g_assert_cmphex(cpu->gpr[GH_RAX] & 0xffff, ==, 0x0a07);
	/* AAD: 7 * 10 + 9 = 79, AH cleared; AAD 16: 2 * 16 + 3 */
	RUN(e, 0x66, 0xb8, 0x09, 0x07, 0xd5, 0x0a);
	g_assert_cmphex(cpu->gpr[GH_RAX] & 0xffff, ==, 0x004f);
	g_assert_cmphex(flags(e) & (ZF | SF), ==, 0);
	RUN(e, 0x66, 0xb8, 0x03, 0x02, 0xd5, 0x10);
	g_assert_cmphex(cpu->gpr[GH_RAX] & 0xffff, ==, 0x0023);
	/* AAD giving 0 sets ZF */
	RUN(e, 0x66, 0xb8, 0x00, 0x00, 0xd5, 0x0a);
	g_assert_cmphex(flags(e) & ZF, ==, ZF);

	/* AAM 0: #DE, AX unchanged */
	cpu->gpr[GH_RSP] = STACK_TOP;
	cpu->gpr[GH_RAX] = 0x1234;
	RUN(e, 0xd4, 0x00);
	g_assert_cmphex(cpu->rip, ==, HBASE + 1 * 0x1000);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0x1234);
	g_assert_cmphex(ct_get64(e->ram, STACK_TOP - 12) & 0xffffffff, ==, LCODE_END - 2);
	/* DIV by 0 in 32-bit mode */
	cpu->gpr[GH_RSP] = STACK_TOP;
	cpu->gpr[GH_RCX] = 0;
	RUN(e, 0xf7, 0xf1); /* div ecx */
	g_assert_cmphex(cpu->rip, ==, HBASE + 1 * 0x1000);

	/* SALC: AL = CF ? FF : 00, flags kept */
	RUN(e, 0xf9, 0xd6); /* stc; salc */
	g_assert_cmphex(cpu->gpr[GH_RAX] & 0xff, ==, 0xff);
	g_assert_cmphex(flags(e) & CF, ==, CF);
	RUN(e, 0xf8, 0xd6); /* clc; salc */
	g_assert_cmphex(cpu->gpr[GH_RAX] & 0xff, ==, 0x00);

	/* 82 is 80 outside 64-bit mode */
	cpu->gpr[GH_RAX] = 0x12345678;
	RUN(e, 0x82, 0xc0, 0x90); /* add al, 90h */
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0x12345608);
	g_assert_cmphex(flags(e), ==, CF);
	cpu->gpr[GH_RBX] = 0x40000;
	e->ram[0x40000] = 0x10;
	RUN(e, 0x82, 0x2b, 0x11);	/* sub byte [ebx], 11h */
	g_assert_cmphex(e->ram[0x40000], ==, 0xff);
	g_assert_cmphex(flags(e), ==, CF | SF | AF | PF);
	RUN(e, 0x82, 0x3b, 0xff);	/* cmp byte [ebx], 0ffh */
	g_assert_cmphex(flags(e), ==, ZF | PF);
	static const uint8_t ops82[] = {0x08, 0x10, 0x18, 0x20, 0x30}; /* or adc sbb and xor */
	static const uint8_t want82[] = {0xff, 0x00, 0xef, 0x0f, 0xf0};
	for (unsigned k = 0; k < 5; k++) {
		uint8_t code[] = {0xf9, 0x82, (uint8_t)(0x03 | ops82[k]), 0x0f}; /* stc; op [ebx],0fh */

		e->ram[0x40000] = k == 1 ? 0xf0 : 0xff;
		run_legacy(e, code, sizeof(code));
		g_assert_cmphex(e->ram[0x40000], ==, want82[k]);
	}

	/* 16-bit operands in 32-bit code; moffs with 32-bit addresses */
	cpu->gpr[GH_RAX] = 0xaaaa8001;
	cpu->gpr[GH_RDX] = 0xbbbbbbbb;
	RUN(e, 0x66, 0x99); /* cwd */
	g_assert_cmphex(cpu->gpr[GH_RDX], ==, 0xbbbbffff);
	RUN(e, 0x66, 0xa3, 0x00, 0x01, 0x04, 0x00); /* mov [40100h], ax */
	g_assert_cmphex(e->ram[0x40100] | e->ram[0x40101] << 8, ==, 0x8001);
	RUN(e, 0x98); /* cwde */
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0xffff8001);
	cpu->gpr[GH_RBX] = 0x40200;
	e->ram[0x40205] = 0x77;
	cpu->gpr[GH_RAX] = 0x11111105;
	RUN(e, 0xd7); /* xlat */
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0x11111177);
	cpu->gpr[GH_RBX] = 0x10;
	cpu->gpr[GH_RSI] = 0x20;
	RUN(e, 0x67, 0x66, 0x8d, 0x40, 0xff); /* lea ax, [bx+si-1] */
	g_assert_cmphex(cpu->gpr[GH_RAX] & 0xffff, ==, 0x2f);
	/* BSWAP, XCHG, MOVZX in 32-bit code */
	cpu->gpr[GH_RCX] = 0x11223344;
	RUN(e, 0x0f, 0xc9, 0x91, 0x0f, 0xb6, 0xdc); /* bswap ecx; xchg eax, ecx; movzx ebx, ah */
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0x44332211);
	g_assert_cmphex(cpu->gpr[GH_RBX], ==, 0x22);
	env_free(e);
}

static void test_real16(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;

	real_state(e);

	/* moffs16 through DS */
	RUN(e, 0xb8, 0x34, 0x12, 0xa3, 0x10, 0x00); /* mov ax, 1234h; mov [10h], ax */
	g_assert_cmphex(e->ram[0x2010] | e->ram[0x2011] << 8, ==, 0x1234);
	/* [bx+si+disp8] through DS, [bp+disp8] through SS */
	cpu->gpr[GH_RBX] = 0x20;
	cpu->gpr[GH_RSI] = 0x10;
	cpu->gpr[GH_RBP] = 0x40;
	e->ram[0x2032] = 0x01;
	e->ram[0x2033] = 0x00;
	e->ram[0x3042] = 0x55;
	RUN(e, 0x01, 0x40, 0x02,	/* add [bx+si+2], ax */
	    0x8a, 0x56, 0x02);		/* mov dl, [bp+2] */
	g_assert_cmphex(e->ram[0x2032] | e->ram[0x2033] << 8, ==, 0x1235);
	g_assert_cmphex(cpu->gpr[GH_RDX] & 0xff, ==, 0x55);
	/* MUL r16: DX:AX */
	cpu->gpr[GH_RBX] = 0x100;
	RUN(e, 0xb8, 0x34, 0x12, 0xf7, 0xe3); /* mov ax, 1234h; mul bx */
	g_assert_cmphex(cpu->gpr[GH_RAX] & 0xffff, ==, 0x3400);
	g_assert_cmphex(cpu->gpr[GH_RDX] & 0xffff, ==, 0x0012);
	g_assert_cmphex(flags(e) & (CF | OF), ==, CF | OF);
	/* 66: 32-bit operands in 16-bit code */
	RUN(e, 0x66, 0xb8, 0x78, 0x56, 0x34, 0x12,	/* mov eax, 12345678h */
	    0x66, 0xc1, 0xc0, 0x08);			/* rol eax, 8 */
	g_assert_cmphex(cpu->gpr[GH_RAX] & 0xffffffff, ==, 0x34567812);
	/* XLAT and LEA wrap at 64 KiB */
	cpu->gpr[GH_RBX] = 0xffff;
	cpu->gpr[GH_RAX] = 0x0002;
	e->ram[0x2001] = 0x9c;
	RUN(e, 0xd7);
	g_assert_cmphex(cpu->gpr[GH_RAX] & 0xff, ==, 0x9c);
	cpu->gpr[GH_RSI] = 0x10;
	RUN(e, 0x8d, 0x40, 0x05); /* lea ax, [bx+si+5] */
	g_assert_cmphex(cpu->gpr[GH_RAX] & 0xffff, ==, 0x0014);
	/* BT with a negative register offset: the word below [bx] */
	cpu->gpr[GH_RBX] = 0x100;
	e->ram[0x20ff] = 0x80;
	e->ram[0x20fe] = 0x00;
	RUN(e, 0xb8, 0xff, 0xff, 0x0f, 0xa3, 0x07); /* mov ax, -1; bt [bx], ax */
	g_assert_cmphex(flags(e) & CF, ==, CF);
	RUN(e, 0xb8, 0xf0, 0xff, 0x0f, 0xab, 0x07); /* mov ax, -16; bts [bx], ax */
	g_assert_cmphex(flags(e) & CF, ==, 0);
	g_assert_cmphex(e->ram[0x20fe], ==, 0x01);
	/* CBW, CWD, XCHG, CMPXCHG in 16 bits */
	cpu->gpr[GH_RAX] = 0x12340080;
	cpu->gpr[GH_RDX] = 0x5678aaaa;
	RUN(e, 0x98, 0x99); /* cbw; cwd */
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0x1234ff80);
	g_assert_cmphex(cpu->gpr[GH_RDX], ==, 0x5678ffff);
	cpu->gpr[GH_RCX] = 0xabcd0001;
	RUN(e, 0x91); /* xchg ax, cx */
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0x12340001);
	g_assert_cmphex(cpu->gpr[GH_RCX], ==, 0xabcdff80);
	/* DIV r8: AX / CL */
	cpu->gpr[GH_RAX] = 0x0107;
	cpu->gpr[GH_RCX] = 0x10;
	RUN(e, 0xf6, 0xf1); /* div cl */
	g_assert_cmphex(cpu->gpr[GH_RAX] & 0xffff, ==, 0x0710);
	/* IDIV overflow (-32768 / -1): #DE through the IVT, AX kept */
	ct_put64(e->ram, 0, 0x07000fffULL);
	e->ram[0x7fff] = 0x90;
	cpu->gpr[GH_RAX] = 0x8000;
	cpu->gpr[GH_RCX] = 0xff;
	RUN(e, 0xf6, 0xf9); /* idiv cl */
	g_assert_cmphex(cpu->seg[GH_CS].selector, ==, 0x0700);
	g_assert_cmphex(cpu->rip, ==, 0x1000);
	g_assert_cmphex(cpu->gpr[GH_RAX], ==, 0x8000);
	env_free(e);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cpu-exec-alu/differential", test_differential);
	g_test_add_func("/cpu-exec-alu/rmw-fault", test_rmw_fault);
	g_test_add_func("/cpu-exec-alu/cmpxchg16b-align", test_cmpxchg16b_align);
	g_test_add_func("/cpu-exec-alu/prot32", test_prot32);
	g_test_add_func("/cpu-exec-alu/real16", test_real16);
	return g_test_run();
}
