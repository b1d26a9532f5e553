/*
 * Tests of the x87 FPU (vmm-core/cpu/exec-x87.c). Every D8-DF form the
 * decoder knows, the register-form aliases the SDM leaves out (FSTP1/8/9,
 * FCOM2, FCOMP3/5, FXCH4/7, FFREEP) included, runs natively on the host
 * and in the interpreter from the same random x87 state (NaNs quiet and signalling, infinities, zeros, denormals,
 * pseudo-denormals, unnormals, values at rounding boundaries, every
 * rounding and precision control, masked and unmasked exceptions, empty
 * and full stacks), memory operand and flags; the control word, status
 * word, tags, registers, memory and flags must agree bit for bit. Hand
 * tests cover #NM, #MF, stack faults and the save/restore formats of the
 * modes the host cannot run here (real mode, 16-bit).
 */
#include "cpu/cpu-internal.h"
#include "cpu/exec.h"
#include "cpu/x87.h"
#include "cputest.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define RAM_SIZE (4u << 20)
#define PML4 0x10000
#define TSS_BASE 0x3000
#define STACK_TOP 0x80000
#define HBASE 0x100000 /* vector v's handler: HLT at HBASE + v * 16 */
#define CODE 0x6000    /* hand tests: code here */
#define DATA 0x9000    /* the memory operand */
#define ICODE_END 0x6000 /* differential: the instruction ends here */

#define ARITH_FLAGS (GH_FL_CF | GH_FL_PF | GH_FL_AF | GH_FL_ZF | GH_FL_SF | GH_FL_OF)
#define MEM_SIZE 112

struct env {
	uint8_t *ram;
	struct gh_cpu *cpu;
	struct gh_cpu_state s;
	unsigned ferr; /* FERR# assertions seen */
};

static uint8_t *page_cb(void *opaque, uint64_t gpa, bool *writable)
{
	struct env *e = opaque;

	*writable = true;
	return ct_ram_page(e->ram, RAM_SIZE, gpa);
}

static void ferr_cb(void *opaque)
{
	struct env *e = opaque;

	e->ferr++;
}

static struct env *env_new(void)
{
	struct env *e = g_new0(struct env, 1);
	struct gh_cpu_bus bus = {.opaque = e, .page = page_cb, .ferr = ferr_cb};

	e->cpu = ct_cpu_new(bus, &e->ram, RAM_SIZE);
	/* GDT: 0x08 64-bit code, 0x10 data, 0x18 32-bit code, 0x20 TSS, 0x28 16-bit code */
	ct_gdt_set(e->ram, 0x08, ct_seg_desc(0, 0xfffff, 0x9b, 0xa));
	ct_gdt_set(e->ram, 0x10, ct_seg_desc(0, 0xfffff, 0x93, 0xc));
	ct_gdt_set(e->ram, 0x18, ct_seg_desc(0, 0xfffff, 0x9b, 0xc));
	ct_gdt_set(e->ram, 0x20, ct_seg_desc(TSS_BASE, 0x67, 0x8b, 0));
	ct_gdt_set(e->ram, 0x28, ct_seg_desc(0, 0xffff, 0x9b, 0x0));
	for (unsigned v = 0; v < 32; v++)
		e->ram[HBASE + v * 16] = 0xf4;
	return e;
}

static void env_free(struct env *e)
{
	ct_cpu_free(e->cpu, e->ram);
	g_free(e);
}

/* 64-bit mode at CPL 0, 0-1 GiB identity-mapped with 2 MiB pages. */
static void long_state(struct env *e)
{
	struct gh_cpu_state *s = &e->s;
	uint64_t pd = ct_map_low(e->ram, PML4, 3);

	for (uint64_t k = 0; k < 512; k++)
		ct_put64(e->ram, pd + k * 8, (k << 21) | 0x83);
	for (unsigned v = 0; v < 32; v++)
		ct_idt64_set(e->ram, v, 0x08, HBASE + v * 16, 0x8e, 0);
	ct_long_state(e->ram, s, PML4, 0x2f, STACK_TOP, CODE);
	s->cr0 |= GH_CR0_NE | GH_CR0_MP;
}

/* 32-bit (or with code16 16-bit) flat protected mode, no paging. */
static void prot_state(struct env *e, bool code16)
{
	struct gh_cpu_state *s = &e->s;

	for (unsigned v = 0; v < 32; v++)
		ct_idt32_set(e->ram, v, code16 ? 0x28 : 0x18, HBASE + v * 16, 0x8e);
	ct_flat_state(e->ram, s, code16 ? 0x28 : 0x18, 0x10, 0x20, false);
	s->tr.type = 0xb;
	s->gdt.limit = 0x2f;
	s->idt.base = CT_IDT_BASE;
	s->idt.limit = 32 * 8 - 1;
	s->rflags = 2;
	s->gpr[GH_RSP] = STACK_TOP;
	s->rip = CODE;
	s->cr0 |= GH_CR0_NE | GH_CR0_MP;
}

/* Real mode: CS 0 and DS 0x800 (DATA is DS:0x1000), the IVT at 0. */
static void real_state(struct env *e)
{
	struct gh_cpu_state *s = &e->s;

	for (unsigned v = 0; v < 32; v++)
		ct_put32(e->ram, v * 4, (uint32_t)(HBASE >> 4) << 16 | v * 16);
	gh_cpu_state_reset(s, true);
	ct_real_seg(s, GH_CS, 0);
	ct_real_seg(s, GH_DS, 0x800);
	ct_real_seg(s, GH_SS, 0x7000);
	s->rflags = 2;
	s->gpr[GH_RSP] = 0xff00;
	s->rip = CODE;
	s->cr0 |= GH_CR0_NE | GH_CR0_MP;
}

static void apply(struct env *e)
{
	ct_apply(e->cpu, &e->s);
}

/* Runs from CODE to a HLT: returns the vector whose stub halted, or -1
 * for the program's own HLT; *rip is where it stopped (the faulting
 * instruction for a fault, read from the stack frame). */
static int run_to_hlt(struct env *e, const uint8_t *code, size_t n, uint64_t *rip)
{
	struct gh_cpu *cpu = e->cpu;
	uint64_t at;

	ct_load(cpu, e->ram, CODE, code, n);
	g_assert_cmpint(gh_cpu_run(cpu, 1000), ==, GH_CPU_HLT);
	at = cpu->rip - 1 + cpu->seg[GH_CS].base;
	if (at >= HBASE && at < HBASE + 32 * 16) {
		uint64_t sp = cpu->seg[GH_SS].base + (cpu->gpr[GH_RSP] & 0xffffffffULL);

		if (cpu->mode == GH_MODE_REAL)
			*rip = ct_get16(e->ram, sp);
		else if (cpu->mode == GH_MODE_LONG)
			*rip = ct_get64(e->ram, sp);
		else
			*rip = ct_get32(e->ram, sp);
		return (int)((at - HBASE) / 16);
	}
	*rip = cpu->rip - 1;
	return -1;
}

#define RUN(e, rip, ...)                                                                 \
	({                                                                               \
		static const uint8_t code_[] = {__VA_ARGS__};                            \
		run_to_hlt(e, code_, sizeof(code_), rip);                                \
	})

/* ---- random operands --------------------------------------------------------------- */

#define J (1ULL << 63)

/* An 80-bit value of a random class. */
static void rnd_f80(struct ct_rng *g, struct gh_f80 *v)
{
	static const int near_limits[] = {127, 128, -126, -127, -149, -150, 1023, 1024,
					  -1022, -1023, -1074, -1075, 63, 64, 31, 32, 15, 16};
	uint64_t m = ct_rnd(g);
	unsigned sign = (ct_rnd(g) & 1) << 15, e;

	switch (ct_rndn(g, 18)) {
	case 0:
		m = 0;
		e = 0;
		break;
	case 1:
		m = (m & ~J) >> ct_rndn(g, 63);
		m = m ? m : 1;
		e = 0;
		break;
	case 2:
		m |= J;
		e = 0;
		break;
	case 3:
		m = J;
		e = 0x7fff;
		break;
	case 4:
		m = ct_rndn(g, 4) ? m | (3ULL << 62) : 3ULL << 62;
		e = 0x7fff;
		break;
	case 5:
		m = (m & ~(1ULL << 62)) | J;
		if (!(m << 2))
			m |= 1;
		e = 0x7fff;
		break;
	case 6:
		m &= ~J;
		e = 1 + ct_rndn(g, 0x7ffe);
		break;
	case 7:
		m &= ~J;
		e = 0x7fff;
		break;
	case 8: {
		/* small integers and halves: rounding to integer */
		long double x = (long double)((int)ct_rndn(g, 4001) - 2000) / (1 + ct_rndn(g, 4));

		uint16_t se;

		memcpy(&m, &x, 8);
		memcpy(&se, (uint8_t *)&x + 8, 2);
		e = se & 0x7fff;
		sign = se & 0x8000;
		break;
	}
	case 9: {
		/* ties and near-ties for the 24-, 53- and 64-bit roundings */
		static const unsigned bits[] = {11, 40};
		unsigned b = bits[ct_rndn(g, 2)];
		uint64_t half = 1ULL << (b - 1);

		m = (m & ~((1ULL << b) - 1)) | J;
		m |= half + (uint64_t)((int)ct_rndn(g, 3) - 1);
		e = 0x3fff + (int)ct_rndn(g, 80) - 40;
		break;
	}
	case 10:
		m |= J;
		e = 0x3fff + near_limits[ct_rndn(g, G_N_ELEMENTS(near_limits))] +
		    (int)ct_rndn(g, 3) - 1;
		break;
	case 11:
	case 12:
		m |= J;
		e = 0x3fff + (int)ct_rndn(g, 80) - 40;
		break;
	case 13:
		m |= J;
		e = ct_rndn(g, 2) ? 1 + ct_rndn(g, 3) : 0x7ffe - ct_rndn(g, 3);
		break;
	default:
		m |= J;
		e = 1 + ct_rndn(g, 0x7ffe);
		break;
	}
	v->mant = m;
	v->sexp = (uint16_t)(sign | (e & 0x7fff));
}

/* A 32- or 64-bit float of a random class (bits). */
static uint64_t rnd_float(struct ct_rng *g, unsigned bits)
{
	unsigned mb = bits == 32 ? 23 : 52, eb = bits == 32 ? 8 : 11;
	uint64_t emax = (1ULL << eb) - 1, m = ct_rnd(g) & ((1ULL << mb) - 1);
	uint64_t sign = (ct_rnd(g) & 1) << (bits - 1), e;

	switch (ct_rndn(g, 8)) {
	case 0:
		m = 0;
		e = 0;
		break;
	case 1:
		e = 0;
		m = m ? m : 1;
		break;
	case 2:
		e = emax;
		m = 0;
		break;
	case 3:
		e = emax;
		m |= 1ULL << (mb - 1);
		break;
	case 4:
		e = emax;
		m &= ~(1ULL << (mb - 1));
		m = m ? m : 1;
		break;
	case 5:
		e = (emax >> 1) + ct_rndn(g, 64) - 32;
		break;
	default:
		e = 1 + ct_rndn(g, (unsigned)emax - 1);
		break;
	}
	return sign | e << mb | m;
}

static uint64_t rnd_int(struct ct_rng *g)
{
	static const uint64_t special[] = {0, 1, ~0ULL, 0x8000, 0x7fff, 0x80000000ULL,
					   0x7fffffffULL, 0x8000000000000000ULL,
					   0x7fffffffffffffffULL};

	if (ct_rndn(g, 4) == 0)
		return special[ct_rndn(g, G_N_ELEMENTS(special))];
	return ct_rnd(g) >> ct_rndn(g, 64);
}

/* ---- native execution ------------------------------------------------------------------- */

/*
 * The state both sides start from and end in: an FNSAVE image (32-bit
 * format: FCW at 0, FSW at 4, tags at 8, ST(0)-ST(7) from 28), RFLAGS and
 * RAX.
 */
struct nstate {
	uint8_t img[108];
	uint32_t pad;
	uint64_t fl_in;
	uint64_t fl_out;
	uint64_t rax;
};

/* hx_x87_exec(s, code, mem): FRSTOR s->img, RFLAGS, RBX = mem, EAX = 0,
 * calls code (the instruction, then RET), stores RFLAGS, RAX, FNSAVE. */
void hx_x87_exec(struct nstate *s, const void *code, void *mem)
	__attribute__((visibility("hidden")));
__asm__(".text\n"
	".globl hx_x87_exec\n"
	".hidden hx_x87_exec\n"
	".type hx_x87_exec, @function\n"
	"hx_x87_exec:\n"
	"	push %rbx\n	push %rbp\n	push %rdi\n"
	"	mov %rdx, %rbx\n"
	"	frstor (%rdi)\n"
	"	xor %eax, %eax\n"
	"	pushq 112(%rdi)\n	popfq\n"
	"	call *%rsi\n"
	"	mov (%rsp), %rdi\n"
	"	pushfq\n	popq 120(%rdi)\n"
	"	mov %rax, 128(%rdi)\n"
	"	fnsave (%rdi)\n"
	"	cld\n"
	"	pop %rdi\n	pop %rbp\n	pop %rbx\n"
	"	ret\n"
	".size hx_x87_exec, .-hx_x87_exec\n");

/* ---- the differential test ----------------------------------------------------------------- */

struct form {
	uint8_t pfx;   /* 0 or 0x66 */
	uint8_t opc;   /* D8-DF */
	uint8_t modrm; /* mod 00 rm 011 ([rbx]) or mod 11 */
};

struct dcase {
	uint8_t code[4];
	unsigned len;
	struct nstate s;
	uint8_t mem[MEM_SIZE];
};

/* The ops whose memory operand is an environment or state image: their
 * FIP/FOP/FDP fields (bytes 12-27, or 6-13) differ by design. */
static bool env_op(unsigned op)
{
	return op == GH_X86_OP_FNSTENV || op == GH_X86_OP_FNSAVE || op == GH_X86_OP_FLDENV ||
	       op == GH_X86_OP_FRSTOR;
}

static void gen_mem(struct ct_rng *g, unsigned op, uint8_t *mem)
{
	struct gh_f80 v;

	for (unsigned k = 0; k < MEM_SIZE; k += 8)
		ct_put64(mem, k, ct_rnd(g));
	switch (op) {
	case GH_X86_OP_FADD_m32: case GH_X86_OP_FMUL_m32: case GH_X86_OP_FCOM_m32:
	case GH_X86_OP_FCOMP_m32: case GH_X86_OP_FSUB_m32: case GH_X86_OP_FSUBR_m32:
	case GH_X86_OP_FDIV_m32: case GH_X86_OP_FDIVR_m32: case GH_X86_OP_FLD_m32:
		ct_put32(mem, 0, (uint32_t)rnd_float(g, 32));
		break;
	case GH_X86_OP_FADD_m64: case GH_X86_OP_FMUL_m64: case GH_X86_OP_FCOM_m64:
	case GH_X86_OP_FCOMP_m64: case GH_X86_OP_FSUB_m64: case GH_X86_OP_FSUBR_m64:
	case GH_X86_OP_FDIV_m64: case GH_X86_OP_FDIVR_m64: case GH_X86_OP_FLD_m64:
		ct_put64(mem, 0, rnd_float(g, 64));
		break;
	case GH_X86_OP_FLD_m80:
		rnd_f80(g, &v);
		ct_put64(mem, 0, v.mant);
		ct_put16(mem, 8, v.sexp);
		break;
	case GH_X86_OP_FBLD:
		for (unsigned k = 0; k < 9; k++)
			mem[k] = ct_rndn(g, 8) ? (uint8_t)(ct_rndn(g, 10) << 4 | ct_rndn(g, 10))
					       : (uint8_t)ct_rnd(g);
		mem[9] = ct_rndn(g, 2) ? 0x80 : (ct_rndn(g, 8) ? 0 : (uint8_t)ct_rnd(g));
		break;
	case GH_X86_OP_FLDCW:
		if (ct_rndn(g, 2))
			ct_put16(mem, 0, 0x1f7f & ~(uint16_t)ct_rnd(g));
		break;
	default:
		/* integer operands and everything else */
		ct_put64(mem, 0, rnd_int(g));
		break;
	}
	if (op == GH_X86_OP_FLDENV || op == GH_X86_OP_FRSTOR) {
		/* a sane image most of the time: masked flags, some registers */
		if (ct_rndn(g, 4)) {
			uint16_t fcw = 0x37f & ~(uint16_t)(ct_rndn(g, 4) ? 0 : ct_rnd(g) & 0x3f);

			ct_put16(mem, 0, (uint16_t)(fcw | (ct_rnd(g) & 0xf00)));
		}
		for (unsigned k = 0; k < 8; k++) {
			rnd_f80(g, &v);
			ct_put64(mem, 28 + 10 * k, v.mant);
			ct_put16(mem, 28 + 10 * k + 8, v.sexp);
		}
	}
}

static void gen_state(struct ct_rng *g, struct nstate *s)
{
	unsigned pc = ct_rndn(g, 4), rc = ct_rndn(g, 4);
	unsigned masks = ct_rndn(g, 3) ? 0x3f : ct_rnd(g) & 0x3f;
	uint16_t fcw = (uint16_t)(masks | 0x40 | pc << 8 | rc << 10 | (ct_rnd(g) & 0x1000));
	uint16_t fsw = (uint16_t)((ct_rnd(g) & 0x4700) | (ct_rndn(g, 8) << 11) |
				  (ct_rnd(g) & masks & 0x3f) | (ct_rnd(g) & 0x40));
	uint16_t ftw = 0;
	unsigned pempty = ct_rndn(g, 4) ? 8 : 2;

	memset(s, 0, sizeof(*s));
	ct_put16(s->img, 0, fcw);
	ct_put16(s->img, 4, fsw);
	for (unsigned p = 0; p < 8; p++)
		if (ct_rndn(g, pempty) == 0)
			ftw |= 3u << (2 * p);
	ct_put16(s->img, 8, ftw);
	for (unsigned k = 0; k < 8; k++) {
		struct gh_f80 v;

		rnd_f80(g, &v);
		ct_put64(s->img, 28 + 10 * k, v.mant);
		ct_put16(s->img, 28 + 10 * k + 8, v.sexp);
	}
	s->fl_in = 2 | (ct_rnd(g) & (GH_FL_CF | GH_FL_PF | GH_FL_ZF | GH_FL_SF | GH_FL_OF |
				     GH_FL_AF));
}

/* The image the interpreter's state corresponds to (FIP and friends 0). */
static void interp_image(const struct gh_cpu *cpu, uint8_t *img)
{
	const struct gh_x87 *x = &cpu->x87;
	unsigned top = (x->fsw >> 11) & 7;
	uint16_t ftw = 0;

	memset(img, 0, 108);
	ct_put16(img, 0, x->fcw);
	ct_put16(img, 4, x->fsw);
	/* tags compared as empty / not empty: the contents are compared anyway */
	for (unsigned p = 0; p < 8; p++)
		if (!(x->ftw & (1u << p)))
			ftw |= 3u << (2 * p);
	ct_put16(img, 8, ftw);
	for (unsigned k = 0; k < 8; k++) {
		ct_put64(img, 28 + 10 * k, x->r[(top + k) & 7].mant);
		ct_put16(img, 28 + 10 * k + 8, x->r[(top + k) & 7].sexp);
	}
}

static void to_interp(struct gh_cpu *cpu, const uint8_t *img)
{
	struct gh_x87 *x = &cpu->x87;
	uint16_t ftw = ct_get16(img, 8);
	unsigned top;

	x->fcw = ct_get16(img, 0);
	x->fsw = ct_get16(img, 4);
	top = (x->fsw >> 11) & 7;
	x->ftw = 0;
	for (unsigned p = 0; p < 8; p++)
		if (((ftw >> (2 * p)) & 3) != 3)
			x->ftw |= 1u << p;
	for (unsigned k = 0; k < 8; k++) {
		x->r[(top + k) & 7].mant = ct_get64(img, 28 + 10 * k);
		x->r[(top + k) & 7].sexp = ct_get16(img, 28 + 10 * k + 8);
	}
}

/* Full tags as the host stores them, reduced to empty / not empty. */
static void native_tags_abridged(uint8_t *img)
{
	uint16_t ftw = ct_get16(img, 8), out = 0;

	for (unsigned p = 0; p < 8; p++)
		if (((ftw >> (2 * p)) & 3) == 3)
			out |= 3u << (2 * p);
	ct_put16(img, 8, out);
	memset(img + 12, 0, 16); /* FIP, FOP, FCS, FDP, FDS */
	ct_put16(img, 2, 0);
	ct_put16(img, 6, 0);
	ct_put16(img, 10, 0);
}

static void dump_img(const char *what, const uint8_t *img)
{
	fprintf(stderr, "  %s: fcw %04x fsw %04x ftw %04x\n", what, ct_get16(img, 0),
		ct_get16(img, 4), ct_get16(img, 8));
	for (unsigned k = 0; k < 8; k++)
		fprintf(stderr, "    st%u %04x.%016" G_GINT64_MODIFIER "x\n", k,
			ct_get16(img, 28 + 10 * k + 8), ct_get64(img, 28 + 10 * k));
}

struct dtest {
	struct env *e;
	uint8_t *ncode;	/* executable page */
	uint8_t *nmem;
};

/* Runs case c both ways; returns false (after printing it) on a mismatch. */
static bool run_case(struct dtest *t, const struct dcase *c, unsigned op, uint64_t seed,
		     unsigned idx)
{
	struct gh_cpu *cpu = t->e->cpu;
	struct nstate n = c->s;
	uint8_t iimg[108], nimg[108], imem[MEM_SIZE];
	uint64_t ifl, irax;
	bool ok = true;
	const char *what = "";

	/* native */
	memcpy(t->ncode + 0x1000 - c->len - 1, c->code, c->len);
	t->ncode[0xfff] = 0xc3;
	memcpy(t->nmem, c->mem, MEM_SIZE);
	hx_x87_exec(&n, t->ncode + 0x1000 - c->len - 1, t->nmem);

	/* interpreter */
	ct_load(cpu, t->e->ram, ICODE_END - c->len, c->code, c->len);
	memcpy(t->e->ram + DATA, c->mem, MEM_SIZE);
	to_interp(cpu, c->s.img);
	memset(cpu->gpr, 0, sizeof(cpu->gpr));
	cpu->gpr[GH_RBX] = DATA;
	cpu->gpr[GH_RSP] = STACK_TOP;
	cpu->rip = ICODE_END - c->len;
	cpu->rflags = 2;
	gh_flags_set(&cpu->lf, c->s.fl_in, GH_ALU_FLAGS);
	gh_cpu_run(cpu, 1);
	ifl = gh_exec_rflags(cpu);
	irax = cpu->gpr[GH_RAX];
	interp_image(cpu, iimg);
	memcpy(imem, t->e->ram + DATA, MEM_SIZE);

	memcpy(nimg, n.img, 108);
	native_tags_abridged(nimg);
	if (env_op(op)) {
		unsigned a = c->code[0] == 0x66 ? 6 : 12, b = c->code[0] == 0x66 ? 14 : 28;

		memset(imem + a, 0, b - a);
		memset(t->nmem + a, 0, b - a);
	}
	if (cpu->rip != ICODE_END) {
		ok = false;
		what = "the interpreter faulted";
	} else if (memcmp(nimg, iimg, 10)) {
		ok = false;
		what = "FCW/FSW/tags";
	} else if (memcmp(nimg + 28, iimg + 28, 80)) {
		ok = false;
		what = "registers";
	} else if (memcmp(t->nmem, imem, MEM_SIZE)) {
		ok = false;
		what = "memory";
	} else if ((n.fl_out ^ ifl) & ARITH_FLAGS) {
		ok = false;
		what = "RFLAGS";
	} else if ((uint16_t)n.rax != (uint16_t)irax) {
		ok = false;
		what = "AX";
	}
	if (ok)
		return true;
	fprintf(stderr, "MISMATCH (%s) seed %#" G_GINT64_MODIFIER "x case %u: %s:", what, seed,
		idx, gh_x86_op_name(op));
	for (unsigned k = 0; k < c->len; k++)
		fprintf(stderr, " %02x", c->code[k]);
	fprintf(stderr, "\n  rflags in %03" G_GINT64_MODIFIER "x native %03" G_GINT64_MODIFIER
			"x interp %03" G_GINT64_MODIFIER "x; ax native %04x interp %04x\n",
		c->s.fl_in, n.fl_out & ARITH_FLAGS, ifl & ARITH_FLAGS, (uint16_t)n.rax,
		(uint16_t)irax);
	fprintf(stderr, "  mem in  ");
	for (unsigned k = 0; k < 16; k++)
		fprintf(stderr, "%02x", c->mem[k]);
	fprintf(stderr, "\n  mem nat ");
	for (unsigned k = 0; k < 16; k++)
		fprintf(stderr, "%02x", t->nmem[k]);
	fprintf(stderr, "\n  mem int ");
	for (unsigned k = 0; k < 16; k++)
		fprintf(stderr, "%02x", imem[k]);
	fprintf(stderr, "\n");
	dump_img("initial", c->s.img);
	dump_img("native", nimg);
	dump_img("interp", iimg);
	return false;
}

static unsigned cases_per_form(void)
{
	return g_test_slow() ? 50000 : 1200;
}

/* Every x87 form the decoder knows in 64-bit mode: the memory form of each
 * /reg ([rbx]) and each register form (mod 11, every rm), the environment
 * ops also with a 66 prefix (16-bit formats). */
static GArray *build_forms(void)
{
	GArray *a = g_array_new(false, false, sizeof(struct form));

	for (unsigned opc = 0xd8; opc <= 0xdf; opc++) {
		for (unsigned m = 0; m < 8 + 64; m++) {
			struct form f = {0, (uint8_t)opc, (uint8_t)(m < 8 ? m << 3 | 3 : 0xc0 + m - 8)};
			struct gh_x86_insn insn;
			uint8_t b[3] = {f.opc, f.modrm, 0};

			if (gh_x86_decode(b, 2, 64, &insn) != 0)
				continue;
			g_array_append_val(a, f);
			if (env_op(insn.op)) {
				f.pfx = 0x66;
				g_array_append_val(a, f);
			}
		}
	}
	return a;
}

static void test_differential(void)
{
	struct dtest t = {0};
	GArray *forms = build_forms();
	uint8_t *cov = g_new0(uint8_t, GH_X86_NR_OPS);
	struct dcase *c = g_new0(struct dcase, 1);
	unsigned failures = 0, ncases;

	t.e = env_new();
	long_state(t.e);
	apply(t.e);
	t.ncode = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t.ncode == MAP_FAILED) {
		g_test_skip("no executable page for the native runs");
		goto out;
	}
	t.nmem = g_malloc0(MEM_SIZE);
	ncases = cases_per_form();
	for (unsigned fi = 0; fi < forms->len && failures < 10; fi++) {
		const struct form *f = &g_array_index(forms, struct form, fi);
		uint64_t seed = 0x243f6a8885a308d3ULL ^ ((uint64_t)fi << 40) ^ f->modrm;
		struct ct_rng g = {seed};
		struct gh_x86_insn insn;
		/* the register forms share their /reg's budget over the 8 rm values */
		unsigned n = f->modrm >= 0xc0 ? ncases / 4 : ncases;

		c->len = 0;
		if (f->pfx)
			c->code[c->len++] = f->pfx;
		c->code[c->len++] = f->opc;
		c->code[c->len++] = f->modrm;
		g_assert_cmpint(gh_x86_decode(c->code, c->len, 64, &insn), ==, 0);
		cov[insn.op] |= f->modrm >= 0xc0 ? 2 : 1;
		for (unsigned idx = 0; idx < n; idx++) {
			gen_state(&g, &c->s);
			gen_mem(&g, insn.op, c->mem);
			if (!run_case(&t, c, insn.op, seed, idx)) {
				g_test_fail();
				failures++;
				break;
			}
		}
	}
	/* every bound x87 op ran */
	for (const struct gh_handler_bind *b = gh_exec_x87_binds; b->fn; b++) {
		if (b->op == GH_X86_OP_FWAIT)
			continue;
		if (!cov[b->op])
			fprintf(stderr, "not covered: %s\n", gh_x86_op_name(b->op));
		g_assert_cmpuint(cov[b->op], !=, 0);
	}
	munmap(t.ncode, 0x1000);
	g_free(t.nmem);
out:
	g_free(c);
	g_free(cov);
	g_array_free(forms, true);
	env_free(t.e);
}


/* ---- hand tests ------------------------------------------------------------------------------ */

#define FSW_IE 0x0001
#define FSW_ZE 0x0004
#define FSW_SF 0x0040
#define FSW_ES 0x0080
#define FSW_C1 0x0200
#define FSW_B 0x8000

static const struct gh_f80 one = {J, 0x3fff};
static const struct gh_f80 indefinite = {0xc000000000000000ULL, 0xffff};

static struct gh_f80 st_of(struct gh_cpu *cpu, unsigned k)
{
	return cpu->x87.r[(((cpu->x87.fsw >> 11) & 7) + k) & 7];
}

static void assert_f80(struct gh_f80 v, struct gh_f80 want)
{
	g_assert_cmphex(v.sexp, ==, want.sexp);
	g_assert_cmphex(v.mant, ==, want.mant);
}

/* Power-up values (SDM vol. 3A, table 9-1). */
static void test_reset(void)
{
	struct env *e = env_new();

	g_assert_cmphex(e->cpu->x87.fcw, ==, 0x0040);
	g_assert_cmphex(e->cpu->x87.fsw, ==, 0);
	g_assert_cmphex(gh_x87_full_tags(&e->cpu->x87), ==, 0x5555);
	env_free(e);
}

/* CR0.EM and CR0.TS: #NM for every escape, waiting or not (table 2-2). */
static void test_nm(void)
{
	struct env *e = env_new();
	uint64_t rip;

	prot_state(e, false);
	e->s.cr0 |= GH_CR0_EM;
	apply(e);
	g_assert_cmpint(RUN(e, &rip, 0xd8, 0xc1, 0xf4), ==, GH_EXC_NM);
	g_assert_cmphex(rip, ==, CODE);
	prot_state(e, false);
	e->s.cr0 |= GH_CR0_TS;
	apply(e);
	g_assert_cmpint(RUN(e, &rip, 0xdb, 0xe3, 0xf4), ==, GH_EXC_NM); /* fninit */
	g_assert_cmphex(rip, ==, CODE);
	/* TS without MP: WAIT runs */
	prot_state(e, false);
	e->s.cr0 = (e->s.cr0 | GH_CR0_TS) & ~GH_CR0_MP;
	apply(e);
	g_assert_cmpint(RUN(e, &rip, 0x9b, 0xf4), ==, -1);
	/* EM alone: WAIT runs too */
	prot_state(e, false);
	e->s.cr0 |= GH_CR0_EM;
	apply(e);
	g_assert_cmpint(RUN(e, &rip, 0x9b, 0xf4), ==, -1);
	env_free(e);
}

/*
 * An unmasked exception stores nothing, sets ES and B, and the next waiting
 * instruction raises #MF (CR0.NE = 1) at its own address; non-waiting ones
 * do not. With CR0.NE = 0 the error goes out on FERR# instead, once until
 * ES clears.
 */
/* 64-bit mode with CR0.NE as given, RBX at DATA, no FERR# seen yet. */
static void mf_state(struct env *e, bool ne)
{
	long_state(e);
	if (!ne)
		e->s.cr0 &= ~GH_CR0_NE;
	apply(e);
	e->ferr = 0;
	e->cpu->gpr[GH_RBX] = DATA;
}

static void test_mf(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	uint64_t rip;

	for (unsigned ne = 0; ne < 2; ne++) {
		mf_state(e, ne);
		ct_put16(e->ram, DATA, 0x037b); /* ZE unmasked */
		/* fninit; fldcw [rbx]; fldz; fld1; fdiv st0,st1; fnstsw ax;
		 * fnstcw [rbx+2]; fwait; hlt */
		int v = RUN(e, &rip, 0xdb, 0xe3, 0xd9, 0x2b, 0xd9, 0xee, 0xd9, 0xe8, 0xd8,
			    0xf1, 0xdf, 0xe0, 0xd9, 0x7b, 0x02, 0x9b, 0xf4);
		g_assert_cmpint(v, ==, ne ? GH_EXC_MF : -1);
		g_assert_cmpuint(e->ferr, ==, ne ? 0 : 1);
		g_assert_cmphex(rip, ==, ne ? CODE + 15 : CODE + 16);
		assert_f80(st_of(cpu, 0), one);
		g_assert_cmphex(cpu->x87.fsw & 0xff, ==, FSW_ZE | FSW_ES);
		g_assert_cmphex(cpu->x87.fsw & FSW_B, ==, FSW_B);
		g_assert_cmphex(cpu->gpr[GH_RAX] & 0xffff, ==, cpu->x87.fsw);
		g_assert_cmphex(ct_get16(e->ram, DATA + 2), ==, 0x037b);
		/* FIP and FOP name the faulting FDIV */
		g_assert_cmphex(cpu->x87.fip, ==, CODE + 8);
		g_assert_cmphex(cpu->x87.fop, ==, 0x0f1);
	}
	/* the next arithmetic instruction faults too; FNCLEX clears it */
	mf_state(e, true);
	/* fninit; fldcw [rbx]; fldz; fld1; fdiv st0,st1; fadd st0,st0 */
	g_assert_cmpint(RUN(e, &rip, 0xdb, 0xe3, 0xd9, 0x2b, 0xd9, 0xee, 0xd9, 0xe8, 0xd8, 0xf1,
			    0xd8, 0xc0, 0xf4),
			==, GH_EXC_MF);
	g_assert_cmphex(rip, ==, CODE + 10);
	mf_state(e, true);
	/* ...; fnclex; fwait; fadd st0,st0; hlt */
	g_assert_cmpint(RUN(e, &rip, 0xdb, 0xe3, 0xd9, 0x2b, 0xd9, 0xee, 0xd9, 0xe8, 0xd8, 0xf1,
			    0xdb, 0xe2, 0x9b, 0xd8, 0xc0, 0xf4),
			==, -1);
	g_assert_cmphex(cpu->x87.fsw & 0xff, ==, 0);

	/* CR0.NE = 0: FERR# once per error, again after FNCLEX and a new one */
	mf_state(e, false);
	/* fninit; fldcw [rbx]; fldz; fld1; fdiv st0,st1; fwait; fwait; fnclex;
	 * fwait; fdiv st0,st1; fwait; hlt */
	g_assert_cmpint(RUN(e, &rip, 0xdb, 0xe3, 0xd9, 0x2b, 0xd9, 0xee, 0xd9, 0xe8, 0xd8, 0xf1,
			    0x9b, 0x9b, 0xdb, 0xe2, 0x9b, 0xd8, 0xf1, 0x9b, 0xf4),
			==, -1);
	g_assert_cmpuint(e->ferr, ==, 2);

	/* FXRSTOR of a state whose ES is clear deasserts FERR# as well */
	mf_state(e, false);
	/* fninit; fldcw [rbx]; fldz; fld1; fxsave [rbx+0x40]; fdiv st0,st1; fwait;
	 * fxrstor [rbx+0x40]; fdiv st0,st1; fwait; hlt: nothing between the
	 * FXRSTOR and the second error clears ES on its own */
	g_assert_cmpint(RUN(e, &rip, 0xdb, 0xe3, 0xd9, 0x2b, 0xd9, 0xee, 0xd9, 0xe8, 0x0f, 0xae,
			    0x43, 0x40, 0xd8, 0xf1, 0x9b, 0x0f, 0xae, 0x4b, 0x40, 0xd8, 0xf1, 0x9b,
			    0xf4),
			==, -1);
	g_assert_cmpuint(e->ferr, ==, 2);
	env_free(e);
}

/* Stack overflow and underflow (SDM vol. 1, 8.5.1.1). */
static void test_stack_faults(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	uint64_t rip;

	/* nine FLD1: the ninth overflows; masked, the indefinite is pushed */
	long_state(e);
	apply(e);
	g_assert_cmpint(RUN(e, &rip, 0xdb, 0xe3, 0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8,
			    0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8, 0xf4),
			==, -1);
	g_assert_cmphex(cpu->x87.fsw & (0xff | FSW_C1), ==, FSW_IE | FSW_SF | FSW_C1);
	g_assert_cmphex(cpu->x87.ftw, ==, 0xff);
	assert_f80(st_of(cpu, 0), indefinite);
	assert_f80(st_of(cpu, 1), one);
	/* unmasked: nothing is pushed, and the next FWAIT raises #MF */
	long_state(e);
	apply(e);
	ct_put16(e->ram, DATA, 0x037e);
	cpu->gpr[GH_RBX] = DATA;
	g_assert_cmpint(RUN(e, &rip, 0xdb, 0xe3, 0xd9, 0x2b, 0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8,
			    0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8,
			    0x9b, 0xf4),
			==, GH_EXC_MF);
	g_assert_cmphex(rip, ==, CODE + 22);
	g_assert_cmphex((cpu->x87.fsw >> 11) & 7, ==, 0);
	assert_f80(st_of(cpu, 0), one);
	g_assert_cmphex(cpu->x87.fsw & (0xff | FSW_C1), ==, FSW_IE | FSW_SF | FSW_ES | FSW_C1);
	/* underflow: FADD on an empty stack gives the indefinite, C1 = 0 */
	long_state(e);
	apply(e);
	g_assert_cmpint(RUN(e, &rip, 0xdb, 0xe3, 0xd8, 0xc1, 0xf4), ==, -1);
	g_assert_cmphex(cpu->x87.fsw & (0xff | FSW_C1), ==, FSW_IE | FSW_SF);
	assert_f80(st_of(cpu, 0), indefinite);
	/* FSTP m32 of an empty ST(0) stores the single-precision indefinite */
	long_state(e);
	apply(e);
	cpu->gpr[GH_RBX] = DATA;
	g_assert_cmpint(RUN(e, &rip, 0xdb, 0xe3, 0xd9, 0x1b, 0xf4), ==, -1);
	g_assert_cmphex(ct_get32(e->ram, DATA), ==, 0xffc00000);
	env_free(e);
}

/*
 * The environment formats the host cannot show here (SDM vol. 1, figures
 * 8-9 to 8-12): 16-bit protected mode, and real mode's 16- and 32-bit
 * formats with linear instruction and operand pointers; FNSAVE then FRSTOR
 * brings the registers back after FNSAVE's FNINIT.
 */
static void test_env_formats(void)
{
	struct env *e = env_new();
	struct gh_cpu *cpu = e->cpu;
	const uint8_t *m = e->ram + DATA + 0x100;
	uint64_t rip;

	/* 16-bit protected mode: fninit; fld1; fld dword [bx]; fnstenv [bx+0x100] */
	prot_state(e, true);
	apply(e);
	cpu->gpr[GH_RBX] = DATA;
	ct_put32(e->ram, DATA, 0x40000000); /* 2.0f */
	g_assert_cmpint(RUN(e, &rip, 0xdb, 0xe3, 0xd9, 0xe8, 0xd9, 0x07, 0xd9, 0xb7, 0x00, 0x01,
			    0xf4),
			==, -1);
	g_assert_cmphex(ct_get16(m, 0), ==, 0x037f);
	g_assert_cmphex(ct_get16(m, 2), ==, 6u << 11);
	g_assert_cmphex(ct_get16(m, 4), ==, 0x0fff); /* R6, R7 valid */
	g_assert_cmphex(ct_get16(m, 6), ==, CODE + 4);
	g_assert_cmphex(ct_get16(m, 8), ==, 0x28);
	g_assert_cmphex(ct_get16(m, 10), ==, DATA);
	g_assert_cmphex(ct_get16(m, 12), ==, 0x10);
	/* FNSTENV masked every exception */
	g_assert_cmphex(cpu->x87.fcw, ==, 0x037f);

	/* real mode, 16-bit: DS = 0x800, so [0x1000] is linear DATA */
	real_state(e);
	apply(e);
	cpu->gpr[GH_RBX] = 0x1000;
	/* fninit; fld dword [bx]; fnstenv [bx+0x100] */
	g_assert_cmpint(RUN(e, &rip, 0xdb, 0xe3, 0xd9, 0x07, 0xd9, 0xb7, 0x00, 0x01, 0xf4), ==, -1);
	g_assert_cmphex(ct_get16(m, 6), ==, CODE + 2);
	g_assert_cmphex(ct_get16(m, 8), ==, 0x0107); /* FIP 19:16 = 0, FOP */
	g_assert_cmphex(ct_get16(m, 10), ==, DATA);
	g_assert_cmphex(ct_get16(m, 12), ==, 0);

	/* real mode, 32-bit (66): the pointers' high bits sit at bit 12 */
	real_state(e);
	ct_real_seg(&e->s, GH_CS, 0x1000); /* CS base 0x10000: FIP 0x16002 */
	e->s.rip = CODE;
	apply(e);
	cpu->gpr[GH_RBX] = 0x1000;
	{
		static const uint8_t code[] = {0xdb, 0xe3, 0xd9, 0x07, 0x66, 0xd9,
					       0xb7, 0x00, 0x01, 0xf4};

		ct_load(cpu, e->ram, 0x10000 + CODE, code, sizeof(code));
		g_assert_cmpint(gh_cpu_run(cpu, 1000), ==, GH_CPU_HLT);
	}
	g_assert_cmphex(ct_get32(m, 12), ==, 0xffff0000u | 0x6002);
	g_assert_cmphex(ct_get32(m, 16), ==, 0x1u << 12 | 0x107);
	g_assert_cmphex(ct_get32(m, 20), ==, 0xffff0000u | DATA);
	g_assert_cmphex(ct_get32(m, 24), ==, 0);

	/* FNSAVE (real mode, 16-bit: 94 bytes), FNINIT state, FRSTOR back */
	real_state(e);
	apply(e);
	cpu->gpr[GH_RBX] = 0x1000;
	/* fninit; fld1; fldpi; fnsave [bx+0x100]; fld1; frstor [bx+0x100] */
	g_assert_cmpint(RUN(e, &rip, 0xdb, 0xe3, 0xd9, 0xe8, 0xd9, 0xeb, 0xdd, 0xb7, 0x00, 0x01,
			    0x9b, 0xd9, 0xe8, 0xdd, 0xa7, 0x00, 0x01, 0xf4),
			==, -1);
	g_assert_cmphex(ct_get16(m, 4), ==, 0x0fff);
	g_assert_cmphex(ct_get64(m, 14 + 10), ==, J); /* ST(1) = 1.0 */
	g_assert_cmphex(ct_get16(m, 14 + 18), ==, 0x3fff);
	g_assert_cmphex(cpu->x87.fsw, ==, 6u << 11);
	g_assert_cmphex(cpu->x87.ftw, ==, 0xc0);
	assert_f80(st_of(cpu, 1), one);
	g_assert_cmphex(st_of(cpu, 0).mant, ==, 0xc90fdaa22168c235ULL);
	env_free(e);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cpu-x87/reset", test_reset);
	g_test_add_func("/cpu-x87/nm", test_nm);
	g_test_add_func("/cpu-x87/mf", test_mf);
	g_test_add_func("/cpu-x87/stack-faults", test_stack_faults);
	g_test_add_func("/cpu-x87/env-formats", test_env_formats);
	g_test_add_func("/cpu-x87/differential", test_differential);
	return g_test_run();
}
