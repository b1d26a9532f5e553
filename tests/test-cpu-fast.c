/*
 * The interpreter's fast forms (vmm-core/cpu/exec.h, exec-alu.c, exec-ctl.c):
 * the handlers picked for the hottest instructions in 64-bit code, which
 * take a memory operand through one TLB probe and run a block on by tail
 * calls. These tests aim at what the probe and the chaining leave to the
 * slow path and the run loop: accesses that cross a page (into a present
 * or a missing page), non-canonical addresses, RIP-relative operands, a
 * store into the block being run, stepping one instruction at a time, and
 * near CALL/RET to a bad target. The host-differential tests of
 * test-cpu-exec-alu cover the arithmetic. Outside 64-bit mode the operand
 * path (gh_mem_fast_legacy) must keep every segment check: base, limit,
 * type, expand-down, and the 32-bit wrap of the linear address.
 */
#include <glib.h>

#include "cputest.h"

#define RAM_SIZE (4u << 20)
#define TSS_BASE 0x3000
#define PML4 0x10000		/* PDPT at +0x1000, PD at +0x2000, PT at +0x3000 */
#define CODE 0x20000
#define DATA 0x3f000		/* 0x3f000-0x40fff: present pages (test_segments
				 * has it in its code too) */
#define HOLE 0x50000		/* a page that is not present */
#define STACK_TOP 0x80000
#define HBASE 0x100000		/* vector v's handler: HLT at HBASE + v * 0x100 */
#define NONCANON 0x0000800000000000ULL

/* 64-bit mode at CPL 0, the first 2 MiB identity-mapped with 4 KiB pages
 * but for HOLE, every exception vector on a HLT; RIP at CODE. */
static void env_init(struct ct_env64 *e)
{
	ct_env64_init(e, RAM_SIZE, PML4, TSS_BASE, HOLE, HBASE, STACK_TOP, CODE);
}

static void env_free(struct ct_env64 *e)
{
	ct_cpu_free(e->cpu, e->ram);
}

static void load_code(struct ct_env64 *e, const uint8_t *code, size_t len)
{
	memcpy(e->ram + CODE, code, len);
}

/* Runs to the HLT that ends the code or a handler; returns the state. */
static void run(struct ct_env64 *e, struct gh_cpu_state *out)
{
	ct_apply(e->cpu, &e->s);
	g_assert_cmpint(gh_cpu_run(e->cpu, 1000), ==, GH_CPU_HLT);
	gh_cpu_get_state(e->cpu, out);
}

/* The state after an exception: its handler ran, with the frame on the
 * stack (error code, RIP, CS, RFLAGS, RSP, SS). */
static void assert_fault(const struct ct_env64 *e, const struct gh_cpu_state *st, unsigned vec,
			 uint64_t err, uint64_t rip, uint64_t rsp)
{
	uint64_t sp = st->gpr[GH_RSP];

	g_assert_cmphex(st->rip, ==, HBASE + vec * 0x100 + 1);
	g_assert_cmphex(ct_get64(e->ram, sp), ==, err);
	g_assert_cmphex(ct_get64(e->ram, sp + 8), ==, rip);
	g_assert_cmphex(ct_get64(e->ram, sp + 32), ==, rsp);
}

/* mov rax, [rbx] ; add [rbx], rcx ; hlt, the operand straddling two
 * present pages */
static void test_cross_present(void)
{
	static const uint8_t code[] = { 0x48, 0x8b, 0x03, 0x48, 0x01, 0x0b, 0xf4 };
	struct gh_cpu_state st;
	struct ct_env64 e;

	env_init(&e);
	load_code(&e, code, sizeof(code));
	e.s.gpr[GH_RBX] = DATA + 0xffc;
	e.s.gpr[GH_RCX] = 1;
	ct_put64(e.ram, DATA + 0xffc, 0xffffffffffffffffULL);
	run(&e, &st);
	g_assert_cmphex(st.rip, ==, CODE + sizeof(code));
	g_assert_cmphex(st.gpr[GH_RAX], ==, 0xffffffffffffffffULL);
	g_assert_cmphex(ct_get64(e.ram, DATA + 0xffc), ==, 0);
	/* 0xffff...ff + 1: CF and ZF */
	g_assert_cmphex(st.rflags & (GH_FL_CF | GH_FL_ZF | GH_FL_SF), ==, GH_FL_CF | GH_FL_ZF);
	env_free(&e);
}

/*
 * A load and a store that run into a missing page: #PF at the page's
 * start, the destination and the first page's bytes untouched. Each first
 * touches the present page alone (at rbx - 8), so the TLB holds it: the
 * crossing access must not take that entry for the whole access.
 */
static void test_cross_hole(void)
{
	/* mov rax, [rbx-8] ; mov rax, [rbx] ; hlt */
	static const uint8_t load[] = { 0x48, 0x8b, 0x43, 0xf8, 0x48, 0x8b, 0x03, 0xf4 };
	/* mov [rbx-8], ecx ; mov [rbx], ecx ; hlt */
	static const uint8_t store[] = { 0x89, 0x4b, 0xf8, 0x89, 0x0b, 0xf4 };
	struct gh_cpu_state st;
	struct ct_env64 e;

	env_init(&e);
	load_code(&e, load, sizeof(load));
	e.s.gpr[GH_RBX] = HOLE - 4;
	ct_put64(e.ram, HOLE - 12, 0x1234);
	run(&e, &st);
	assert_fault(&e, &st, 14, 0, CODE + 4, STACK_TOP);
	g_assert_cmphex(st.cr2, ==, HOLE);
	g_assert_cmphex(st.gpr[GH_RAX], ==, 0x1234);
	env_free(&e);

	env_init(&e);
	load_code(&e, store, sizeof(store));
	e.s.gpr[GH_RBX] = HOLE - 2;
	e.s.gpr[GH_RCX] = 0xaabbccdd;
	ct_put16(e.ram, HOLE - 2, 0x5566);
	run(&e, &st);
	assert_fault(&e, &st, 14, 2, CODE + 3, STACK_TOP);
	g_assert_cmphex(st.cr2, ==, HOLE);
	g_assert_cmphex(ct_get16(e.ram, HOLE - 2), ==, 0x5566);
	env_free(&e);
}

/* A non-canonical address: #GP(0), or #SS(0) through RBP (SS). */
static void test_noncanonical(void)
{
	static const uint8_t via_rbx[] = { 0x48, 0x8b, 0x03, 0xf4 };		/* mov rax, [rbx] */
	static const uint8_t via_rbp[] = { 0x48, 0x8b, 0x45, 0x00, 0xf4 };	/* mov rax, [rbp] */
	static const uint8_t add_m[] = { 0x48, 0x83, 0x03, 0x01, 0xf4 };	/* add qword [rbx], 1 */
	struct gh_cpu_state st;
	struct ct_env64 e;

	env_init(&e);
	load_code(&e, via_rbx, sizeof(via_rbx));
	e.s.gpr[GH_RBX] = NONCANON;
	run(&e, &st);
	assert_fault(&e, &st, 13, 0, CODE, STACK_TOP);
	env_free(&e);

	env_init(&e);
	load_code(&e, via_rbp, sizeof(via_rbp));
	e.s.gpr[GH_RBP] = NONCANON;
	run(&e, &st);
	assert_fault(&e, &st, 12, 0, CODE, STACK_TOP);
	env_free(&e);

	/* the last byte non-canonical: the access is, too */
	env_init(&e);
	load_code(&e, add_m, sizeof(add_m));
	e.s.gpr[GH_RBX] = NONCANON - 4;
	run(&e, &st);
	assert_fault(&e, &st, 13, 0, CODE, STACK_TOP);
	env_free(&e);
}

/* lea rax, [rip+0x10] ; mov rcx, [rip+disp] ; hlt */
static void test_rip_relative(void)
{
	uint8_t code[] = { 0x48, 0x8d, 0x05, 0x10, 0x00, 0x00, 0x00,
			   0x48, 0x8b, 0x0d, 0, 0, 0, 0, 0xf4 };
	uint32_t disp = DATA - (CODE + 14);
	struct gh_cpu_state st;
	struct ct_env64 e;

	memcpy(code + 10, &disp, 4);
	env_init(&e);
	load_code(&e, code, sizeof(code));
	ct_put64(e.ram, DATA, 0x0123456789abcdefULL);
	run(&e, &st);
	g_assert_cmphex(st.gpr[GH_RAX], ==, CODE + 7 + 0x10);
	g_assert_cmphex(st.gpr[GH_RCX], ==, 0x0123456789abcdefULL);
	env_free(&e);
}

/*
 * mov byte [rip+1], 0x2a ; mov eax, 1 ; hlt: the store patches the
 * immediate of the next instruction, in the block being run. The new
 * byte must be what runs.
 */
static void test_store_into_block(void)
{
	static const uint8_t code[] = { 0xc6, 0x05, 0x01, 0x00, 0x00, 0x00, 0x2a,
					0xb8, 0x01, 0x00, 0x00, 0x00, 0xf4 };
	struct gh_cpu_state st;
	struct ct_env64 e;

	env_init(&e);
	load_code(&e, code, sizeof(code));
	/* decode the block once unpatched: the patch must drop it */
	e.s.rip = CODE + 7;
	run(&e, &st);
	g_assert_cmphex(st.gpr[GH_RAX], ==, 1);
	e.s.rip = CODE;
	run(&e, &st);
	g_assert_cmphex(st.gpr[GH_RAX], ==, 0x2a);
	g_assert_cmphex(e.ram[CODE + 8], ==, 0x2a);
	env_free(&e);
}

/*
 * A run of fast forms stepped one instruction at a time: each step
 * retires one and stops at the next instruction's start, and the end
 * state is that of one run.
 */
static void test_step(void)
{
	static const uint8_t code[] = {
		0x48, 0x89, 0xd8,		/* mov rax, rbx */
		0x48, 0x01, 0xc8,		/* add rax, rcx */
		0x48, 0x8d, 0x04, 0x40,		/* lea rax, [rax+rax*2] */
		0x50,				/* push rax */
		0x59,				/* pop rcx */
		0x48, 0xff, 0xc1,		/* inc rcx */
		0x48, 0x39, 0xc1,		/* cmp rcx, rax */
		0x75, 0x00,			/* jnz +0 */
		0xf4,
	};
	static const unsigned starts[] = { 0, 3, 6, 10, 11, 12, 15, 18, 20 };
	struct gh_cpu_state st, one;
	struct ct_env64 e;

	env_init(&e);
	load_code(&e, code, sizeof(code));
	e.s.gpr[GH_RBX] = 5;
	e.s.gpr[GH_RCX] = 2;
	run(&e, &one);
	g_assert_cmphex(one.gpr[GH_RCX], ==, 22);
	g_assert_cmphex(one.gpr[GH_RAX], ==, 21);

	ct_apply(e.cpu, &e.s);
	for (unsigned k = 1; k < G_N_ELEMENTS(starts); k++) {
		uint64_t before = gh_cpu_retired(e.cpu);

		g_assert_cmpint(gh_cpu_run(e.cpu, 1), ==, GH_CPU_BUDGET);
		g_assert_cmpuint(gh_cpu_retired(e.cpu), ==, before + 1);
		gh_cpu_get_state(e.cpu, &st);
		g_assert_cmphex(st.rip, ==, CODE + starts[k]);
	}
	/* the HLT: the budget ends with it */
	g_assert_cmpint(gh_cpu_run(e.cpu, 1), ==, GH_CPU_BUDGET);
	gh_cpu_get_state(e.cpu, &st);
	g_assert_true(st.halted);
	g_assert_cmphex(st.rip, ==, one.rip);
	g_assert_cmphex(st.gpr[GH_RAX], ==, one.gpr[GH_RAX]);
	g_assert_cmphex(st.gpr[GH_RCX], ==, one.gpr[GH_RCX]);
	g_assert_cmphex(st.gpr[GH_RSP], ==, one.gpr[GH_RSP]);
	g_assert_cmphex(st.rflags, ==, one.rflags);
	env_free(&e);
}

/* call f ; hlt ; f: inc rax ; ret -- then a RET to a non-canonical
 * address: #GP(0) with RSP as it was. */
static void test_call_ret(void)
{
	static const uint8_t code[] = { 0xe8, 0x01, 0x00, 0x00, 0x00, 0xf4,
					0x48, 0xff, 0xc0, 0xc3 };
	static const uint8_t ret[] = { 0xc3 };
	struct gh_cpu_state st;
	struct ct_env64 e;

	env_init(&e);
	load_code(&e, code, sizeof(code));
	run(&e, &st);
	g_assert_cmphex(st.rip, ==, CODE + 6);
	g_assert_cmphex(st.gpr[GH_RAX], ==, 1);
	g_assert_cmphex(st.gpr[GH_RSP], ==, STACK_TOP);
	g_assert_cmphex(ct_get64(e.ram, STACK_TOP - 8), ==, CODE + 5);
	env_free(&e);

	env_init(&e);
	load_code(&e, ret, sizeof(ret));
	e.s.gpr[GH_RSP] = STACK_TOP - 0x100;
	ct_put64(e.ram, STACK_TOP - 0x100, NONCANON);
	run(&e, &st);
	assert_fault(&e, &st, 13, 0, CODE, STACK_TOP - 0x100);
	env_free(&e);
}

/* 64-bit code fetches ignore a CS base left in the descriptor cache
 * (SDM vol. 3A, 3.4.4): the code at RIP runs, not the code at base + RIP. */
static void test_cs_base_ignored(void)
{
	static const uint8_t code[] = { 0xb8, 0x01, 0x00, 0x00, 0x00, 0xf4 };	/* mov eax, 1 */
	static const uint8_t decoy[] = { 0xb8, 0x02, 0x00, 0x00, 0x00, 0xf4 };	/* mov eax, 2 */
	struct gh_cpu_state st;
	struct ct_env64 e;

	env_init(&e);
	load_code(&e, code, sizeof(code));
	memcpy(e.ram + CODE + 0x1000, decoy, sizeof(decoy));
	e.s.seg[GH_CS].base = 0x1000;
	run(&e, &st);
	g_assert_cmphex(st.gpr[GH_RAX], ==, 1);
	env_free(&e);
}

/*
 * FS and GS add their base; DS does not in 64-bit mode, even with a base
 * in its descriptor cache; LEA adds none. The segment's base can make the
 * linear address non-canonical: #GP(0).
 */
static void test_segments(void)
{
	/* the first two fill the TLB for both pages: the rest take the
	 * fast path, which must add the right base */
	static const uint8_t code[] = {
		0x4c, 0x8b, 0x04, 0x25, 0, 0, 0, 0,		/* mov r8, [0] */
		0x4c, 0x8b, 0x0c, 0x25, 0, 0xf0, 0x03, 0,	/* mov r9, [DATA] */
		0x64, 0x48, 0x8b, 0x03,				/* mov rax, fs:[rbx] */
		0x65, 0x48, 0x01, 0x0b,				/* add gs:[rbx], rcx */
		0x65, 0x48, 0x8b, 0x14, 0x25, 0x28, 0, 0, 0,	/* mov rdx, gs:[0x28] */
		0x48, 0x8b, 0x33,				/* mov rsi, [rbx] */
		0x64, 0x48, 0x8d, 0x3b,				/* lea rdi, fs:[rbx] */
		0xf4,
	};
	static const uint8_t far[] = { 0x64, 0x48, 0x8b, 0x03, 0xf4 };	/* mov rax, fs:[rbx] */
	struct gh_cpu_state st;
	struct ct_env64 e;

	env_init(&e);
	load_code(&e, code, sizeof(code));
	e.s.seg[GH_FS].base = DATA;
	e.s.seg[GH_GS].base = DATA + 0x800;
	e.s.seg[GH_DS].base = 0x1000;
	e.s.gpr[GH_RBX] = 0x10;
	e.s.gpr[GH_RCX] = 5;
	ct_put64(e.ram, DATA + 0x10, 0x1111);
	ct_put64(e.ram, DATA + 0x810, 0x2222);
	ct_put64(e.ram, DATA + 0x828, 0x3333);
	ct_put64(e.ram, 0x10, 0x4444);
	run(&e, &st);
	g_assert_cmphex(st.gpr[GH_RAX], ==, 0x1111);
	g_assert_cmphex(ct_get64(e.ram, DATA + 0x810), ==, 0x2227);
	g_assert_cmphex(st.gpr[GH_RDX], ==, 0x3333);
	g_assert_cmphex(st.gpr[GH_RSI], ==, 0x4444);
	g_assert_cmphex(st.gpr[GH_RDI], ==, 0x10);
	env_free(&e);

	env_init(&e);
	load_code(&e, far, sizeof(far));
	e.s.seg[GH_FS].base = NONCANON - 0x10;
	e.s.gpr[GH_RBX] = 0x10;
	run(&e, &st);
	assert_fault(&e, &st, 13, 0, CODE, STACK_TOP);
	env_free(&e);
}

/* ---- 32-bit protected mode: segments with bases and limits ---- */

#define P32_GDT_LIMIT	0x3f
#define P32_CODE	0x08
#define P32_DATA	0x10

/*
 * 32-bit protected mode at CPL 0 without paging, CS and SS flat, every
 * exception vector on a HLT at HBASE + v * 0x100, code at CODE. The test
 * sets DS as it needs.
 */
static void env32_init(struct ct_env64 *e)
{
	struct gh_cpu_state *s = &e->s;

	e->cpu = ct_cpu_new((struct gh_cpu_bus){ .page = ct_env64_page, .opaque = e },
			    &e->ram, RAM_SIZE);
	e->ram_size = RAM_SIZE;
	ct_gdt_set(e->ram, P32_CODE, ct_seg_desc(0, 0xfffff, 0x9b, 0xc));
	ct_gdt_set(e->ram, P32_DATA, ct_seg_desc(0, 0xfffff, 0x93, 0xc));
	for (unsigned v = 0; v < 32; v++) {
		ct_idt32_set(e->ram, v, P32_CODE, HBASE + v * 0x100, 0x8e);
		e->ram[HBASE + v * 0x100] = 0xf4;
	}
	ct_flat_state(e->ram, s, P32_CODE, P32_DATA, P32_DATA, false);
	s->tr.type = 0xb;
	s->tr.s = 0;
	s->gdt.limit = P32_GDT_LIMIT;
	s->idt.base = CT_IDT_BASE;
	s->idt.limit = 32 * 8 - 1;
	s->rflags = 2;
	s->gpr[GH_RSP] = STACK_TOP;
	s->rip = CODE;
}

/* A DS of the given base, limit and type (the descriptor cache only). */
static void set_ds(struct ct_env64 *e, uint32_t base, uint32_t limit, unsigned type)
{
	struct gh_segment *ds = &e->s.seg[GH_DS];

	ds->base = base;
	ds->limit = limit;
	ds->type = type;
	ds->db = 1;
}

/* The state after a 32-bit exception: its handler ran, with the error code
 * and EIP of the faulting instruction on the stack. */
static void assert_fault32(const struct ct_env64 *e, const struct gh_cpu_state *st,
			   unsigned vec, uint32_t err, uint32_t eip)
{
	uint32_t sp = (uint32_t)st->gpr[GH_RSP];

	g_assert_cmphex(st->rip, ==, HBASE + vec * 0x100 + 1);
	g_assert_cmphex(ct_get32(e->ram, sp), ==, err);
	g_assert_cmphex(ct_get32(e->ram, sp + 4), ==, eip);
}

/*
 * DS with a base and a limit: the first two loads fill the TLB for linear
 * page 0 (flat ES) and for DS's page, the next ones take the inline path,
 * which must add the base, and a dword that ends past the limit, in the
 * same page, is #GP(0) with nothing written.
 */
static void test_legacy_limit(void)
{
	static const uint8_t code[] = {
		0x26, 0x8b, 0x3b,	/* mov edi, es:[ebx]: linear 0x7fc */
		0x8b, 0x03,		/* mov eax, [ebx] */
		0x8b, 0x0b,		/* mov ecx, [ebx] */
		0x89, 0x53, 0xf8,	/* mov [ebx-8], edx */
		0x8b, 0x73, 0x01,	/* mov esi, [ebx+1]: 0x7fd-0x800, one past */
		0xf4,
	};
	struct gh_cpu_state st;
	struct ct_env64 e;

	env32_init(&e);
	load_code(&e, code, sizeof(code));
	set_ds(&e, DATA, 0x7ff, 0x3);
	e.s.gpr[GH_RBX] = 0x7fc;
	e.s.gpr[GH_RDX] = 0x12345678;
	ct_put32(e.ram, DATA + 0x7fc, 0xcafef00d);
	ct_put32(e.ram, 0x7fc, 0xbad);
	ct_put32(e.ram, DATA + 0x7fe, 0xcafe);
	run(&e, &st);
	g_assert_cmphex(st.gpr[GH_RDI], ==, 0xbad);
	g_assert_cmphex(st.gpr[GH_RAX], ==, 0xcafef00d);
	g_assert_cmphex(st.gpr[GH_RCX], ==, 0xcafef00d);
	g_assert_cmphex(ct_get32(e.ram, DATA + 0x7f4), ==, 0x12345678);
	g_assert_cmphex(ct_get32(e.ram, 0x7f4), ==, 0);
	assert_fault32(&e, &st, 13, 0, CODE + 10);
	g_assert_cmphex(st.gpr[GH_RSI], ==, 0);
	env_free(&e);
}

/*
 * The type is checked on the inline path too: a read-only segment refuses
 * a write, an execute-only code segment a read, readable code allows one;
 * an expand-down segment refuses offsets at or below its limit.
 */
static void test_legacy_types(void)
{
	static const uint8_t load_store[] = {
		0x8b, 0x03,		/* mov eax, [ebx] */
		0x89, 0x03,		/* mov [ebx], eax */
		0xf4,
	};
	static const uint8_t cs_load[] = {
		0x8b, 0x0b,		/* mov ecx, [ebx]: fills the TLB */
		0x2e, 0x8b, 0x03,	/* mov eax, cs:[ebx] */
		0xf4,
	};
	static const uint8_t down_load[] = {
		0x26, 0x8b, 0x8b, 0x00, 0xf0, 0x03, 0x00, /* mov ecx, es:[ebx+DATA] */
		0x8b, 0x03,		/* mov eax, [ebx] */
		0xf4,
	};
	struct gh_cpu_state st;
	struct ct_env64 e;

	/* read-only data: the read goes (and fills the TLB), the write is
	 * #GP(0) */
	env32_init(&e);
	load_code(&e, load_store, sizeof(load_store));
	set_ds(&e, DATA, 0xffff, 0x1);
	e.s.gpr[GH_RBX] = 0x10;
	ct_put32(e.ram, DATA + 0x10, 0x600d);
	run(&e, &st);
	g_assert_cmphex(st.gpr[GH_RAX], ==, 0x600d);
	assert_fault32(&e, &st, 13, 0, CODE + 2);
	env_free(&e);

	/* execute-only code: #GP(0); execute/read code: read */
	for (unsigned readable = 0; readable < 2; readable++) {
		env32_init(&e);
		load_code(&e, cs_load, sizeof(cs_load));
		e.s.seg[GH_CS].type = readable ? 0xb : 0x9;
		e.s.gpr[GH_RBX] = DATA;
		ct_put32(e.ram, DATA, 0xc0de);
		run(&e, &st);
		if (readable)
			g_assert_cmphex(st.gpr[GH_RAX], ==, 0xc0de);
		else
			assert_fault32(&e, &st, 13, 0, CODE + 2);
		env_free(&e);
	}

	/* expand-down, limit 0xfff: 0x1000 and up are valid, 0x10 is not */
	env32_init(&e);
	load_code(&e, down_load, sizeof(down_load));
	set_ds(&e, DATA, 0xfff, 0x7);
	e.s.gpr[GH_RBX] = 0x10;
	run(&e, &st);
	assert_fault32(&e, &st, 13, 0, CODE + 7);
	env_free(&e);
	env32_init(&e);
	load_code(&e, load_store, sizeof(load_store));
	set_ds(&e, DATA, 0xfff, 0x7);
	e.s.gpr[GH_RBX] = 0x1010;
	ct_put32(e.ram, DATA + 0x1010, 0xd0);
	run(&e, &st);
	g_assert_cmphex(st.rip, ==, CODE + sizeof(load_store));
	g_assert_cmphex(st.gpr[GH_RAX], ==, 0xd0);
	env_free(&e);
}

/* base + offset wraps at 4 GiB: base 0xfffff000 and offset 0x1000 + DATA
 * is linear DATA, twice (the second from the TLB). */
static void test_legacy_wrap(void)
{
	static const uint8_t code[] = {
		0x8b, 0x03,		/* mov eax, [ebx] */
		0x01, 0x03,		/* add [ebx], eax */
		0x8b, 0x0b,		/* mov ecx, [ebx] */
		0xf4,
	};
	struct gh_cpu_state st;
	struct ct_env64 e;

	env32_init(&e);
	load_code(&e, code, sizeof(code));
	set_ds(&e, 0xfffff000, 0xffffffff, 0x3);
	e.s.gpr[GH_RBX] = 0x1000 + DATA;
	ct_put32(e.ram, DATA, 21);
	run(&e, &st);
	g_assert_cmphex(st.gpr[GH_RAX], ==, 21);
	g_assert_cmphex(st.gpr[GH_RCX], ==, 42);
	g_assert_cmphex(ct_get32(e.ram, DATA), ==, 42);
	env_free(&e);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cpu-fast/cross-present", test_cross_present);
	g_test_add_func("/cpu-fast/cross-hole", test_cross_hole);
	g_test_add_func("/cpu-fast/noncanonical", test_noncanonical);
	g_test_add_func("/cpu-fast/rip-relative", test_rip_relative);
	g_test_add_func("/cpu-fast/store-into-block", test_store_into_block);
	g_test_add_func("/cpu-fast/step", test_step);
	g_test_add_func("/cpu-fast/call-ret", test_call_ret);
	g_test_add_func("/cpu-fast/cs-base-ignored", test_cs_base_ignored);
	g_test_add_func("/cpu-fast/segments", test_segments);
	g_test_add_func("/cpu-fast/legacy-limit", test_legacy_limit);
	g_test_add_func("/cpu-fast/legacy-types", test_legacy_types);
	g_test_add_func("/cpu-fast/legacy-wrap", test_legacy_wrap);
	return g_test_run();
}
