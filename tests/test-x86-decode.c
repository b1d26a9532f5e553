/*
 * Tests for the software CPU's instruction decoder (cpu/decode.h): hand-checked
 * encodings from the Intel SDM Vol. 2 (ch. 2, Appendix A) and a differential
 * test of instruction lengths against GNU objdump in 16-, 32- and 64-bit modes.
 */
#include "cpu/decode.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- hand-checked vectors ---- */

static size_t unhex(const char *hex, uint8_t *buf)
{
	size_t n = 0;

	while (*hex) {
		if (*hex == ' ') {
			hex++;
			continue;
		}
		unsigned v;

		g_assert_true(sscanf(hex, "%2x", &v) == 1);
		buf[n++] = v;
		hex += 2;
	}
	return n;
}

/* Decode hex in mode; assert the result and (when ok) the length. */
static struct gh_x86_insn dec_full(unsigned mode, const char *hex, int want, unsigned len)
{
	uint8_t buf[32];
	struct gh_x86_insn in;
	size_t n = unhex(hex, buf);
	int r = gh_x86_decode(buf, n, mode, &in);

	if (r != want || (want == 0 && in.len != len))
		g_test_message("%u-bit \"%s\": ret %d len %u op %s", mode, hex, r, in.len,
			       gh_x86_op_name(in.op));
	g_assert_cmpint(r, ==, want);
	if (want == 0)
		g_assert_cmpuint(in.len, ==, len);
	return in;
}

static struct gh_x86_insn dec(unsigned mode, const char *hex, unsigned len, unsigned op)
{
	struct gh_x86_insn in = dec_full(mode, hex, 0, len);

	if (in.op != op)
		g_test_message("%u-bit \"%s\": op %s, want %s", mode, hex,
			       gh_x86_op_name(in.op), gh_x86_op_name(op));
	g_assert_cmpuint(in.op, ==, op);
	return in;
}

static void ud(unsigned mode, const char *hex)
{
	dec_full(mode, hex, GH_DECODE_UD, 0);
}

static void test_addressing(void)
{
	struct gh_x86_insn in;

	/* mov eax,[ebx+ecx*4+0x10] */
	in = dec(32, "8b 44 8b 10", 4, GH_X86_OP_MOV_Gv_Ev);
	g_assert_true(in.has_mem);
	g_assert_cmpuint(in.mem.base, ==, 3);
	g_assert_cmpuint(in.mem.index, ==, 1);
	g_assert_cmpuint(in.mem.scale, ==, 4);
	g_assert_cmpint(in.mem.disp, ==, 0x10);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_DS);
	g_assert_cmpuint(in.opsize, ==, 4);
	g_assert_cmpuint(in.addrsize, ==, 4);

	/* SIB with no base: mov eax,[ecx*8+0x12345678] */
	in = dec(32, "8b 04 cd 78 56 34 12", 7, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.mem.base, ==, GH_X86_REG_NONE);
	g_assert_cmpuint(in.mem.index, ==, 1);
	g_assert_cmpuint(in.mem.scale, ==, 8);
	g_assert_cmpint(in.mem.disp, ==, 0x12345678);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_DS);

	/* SIB index=100 means none; base=esp defaults to SS. */
	in = dec(32, "8b 04 24", 3, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.mem.base, ==, 4);
	g_assert_cmpuint(in.mem.index, ==, GH_X86_REG_NONE);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_SS);
	/* ...but with REX.X it is r12, and with REX.B the base r12 is DS. */
	in = dec(64, "4b 8b 04 24", 4, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.mem.base, ==, 12);
	g_assert_cmpuint(in.mem.index, ==, 12);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_DS);
	g_assert_cmpuint(in.opsize, ==, 8);

	/* mod=00 rm=101: disp32 in 32-bit, RIP-relative in 64-bit. */
	in = dec(32, "8b 05 f0 ff ff ff", 6, GH_X86_OP_MOV_Gv_Ev);
	g_assert_false(in.mem.rip_rel);
	g_assert_cmpuint(in.mem.base, ==, GH_X86_REG_NONE);
	g_assert_cmpint(in.mem.disp, ==, -16);
	in = dec(64, "8b 05 f0 ff ff ff", 6, GH_X86_OP_MOV_Gv_Ev);
	g_assert_true(in.mem.rip_rel);
	g_assert_cmpuint(in.mem.base, ==, GH_X86_REG_NONE);
	g_assert_cmpint(in.mem.disp, ==, -16);
	/* RIP-relative with an immediate after the displacement. */
	dec(64, "c7 05 00 01 00 00 44 33 22 11", 10, GH_X86_OP_MOV_Ev_Iz);
	/* SIB base=101 mod=00 in 64-bit is absolute disp32, not RIP-relative. */
	in = dec(64, "8b 04 25 00 10 00 00", 7, GH_X86_OP_MOV_Gv_Ev);
	g_assert_false(in.mem.rip_rel);
	g_assert_cmpuint(in.mem.base, ==, GH_X86_REG_NONE);
	g_assert_cmpint(in.mem.disp, ==, 0x1000);
	/* mod=01 rm=101 is [rbp+disp8], SS. */
	in = dec(64, "8b 45 f8", 3, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.mem.base, ==, 5);
	g_assert_cmpint(in.mem.disp, ==, -8);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_SS);
	/* 67 in 64-bit: 32-bit addressing, still RIP(EIP)-relative. */
	in = dec(64, "67 8b 05 00 00 00 00", 7, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.addrsize, ==, 4);
	g_assert_true(in.mem.rip_rel);

	/* 16-bit forms: [bx+si], [bp+di+disp8] (SS), [bp] needs mod=01, disp16. */
	in = dec(16, "8b 00", 2, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.mem.base, ==, 3);
	g_assert_cmpuint(in.mem.index, ==, 6);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_DS);
	g_assert_cmpuint(in.opsize, ==, 2);
	g_assert_cmpuint(in.addrsize, ==, 2);
	in = dec(16, "8b 43 fe", 3, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.mem.base, ==, 5);
	g_assert_cmpuint(in.mem.index, ==, 7);
	g_assert_cmpint(in.mem.disp, ==, -2);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_SS);
	in = dec(16, "8b 46 00", 3, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.mem.base, ==, 5);
	g_assert_cmpuint(in.mem.index, ==, GH_X86_REG_NONE);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_SS);
	in = dec(16, "8b 06 34 12", 4, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.mem.base, ==, GH_X86_REG_NONE);
	g_assert_cmpint(in.mem.disp, ==, 0x1234);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_DS);
	in = dec(16, "8b 86 00 80", 4, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpint((uint16_t)in.mem.disp, ==, 0x8000);
	/* 67 in 16-bit mode selects 32-bit addressing with a SIB. */
	in = dec(16, "67 66 8b 04 24", 5, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.addrsize, ==, 4);
	g_assert_cmpuint(in.opsize, ==, 4);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_SS);
	/* 67 in 32-bit mode selects 16-bit addressing. */
	in = dec(32, "67 8b 46 02", 4, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.addrsize, ==, 2);
	g_assert_cmpuint(in.mem.base, ==, 5);
}

static void test_segments(void)
{
	struct gh_x86_insn in;

	/* The last segment prefix wins; [bp] overridden by ES. */
	in = dec(16, "2e 26 8b 46 00", 5, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_ES);
	g_assert_cmpuint(in.seg_prefix, ==, GH_X86_SEG_ES);
	in = dec(32, "64 3e 8b 00", 4, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_DS);
	in = dec(32, "36 8b 00", 3, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_SS);
	/* 64-bit: CS/DS/ES/SS overrides are ignored but recorded; FS/GS count. */
	in = dec(64, "26 8b 45 00", 4, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_SS);
	g_assert_cmpuint(in.seg_prefix, ==, GH_X86_SEG_ES);
	in = dec(64, "2e 8b 00", 3, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_DS);
	in = dec(64, "65 8b 45 00", 4, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_GS);
	in = dec(64, "64 36 8b 00", 4, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_DS);
	g_assert_cmpuint(in.seg_prefix, ==, GH_X86_SEG_SS);
	in = dec(64, "36 64 8b 00", 4, GH_X86_OP_MOV_Gv_Ev);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_FS);
}

static void test_rex(void)
{
	struct gh_x86_insn in;

	/* REX.W beats 66. */
	in = dec(64, "66 48 01 c8", 4, GH_X86_OP_ADD_Ev_Gv);
	g_assert_cmpuint(in.opsize, ==, 8);
	in = dec(64, "66 01 c8", 3, GH_X86_OP_ADD_Ev_Gv);
	g_assert_cmpuint(in.opsize, ==, 2);
	/* REX.R/B extend reg and rm. */
	in = dec(64, "4d 01 c8", 3, GH_X86_OP_ADD_Ev_Gv);
	g_assert_cmpuint(in.reg, ==, 9);
	g_assert_cmpuint(in.rm, ==, 8);
	g_assert_cmpuint(in.mod, ==, 3);
	g_assert_false(in.has_mem);
	/* A REX followed by another prefix is ignored. */
	in = dec(64, "48 66 01 c8", 4, GH_X86_OP_ADD_Ev_Gv);
	g_assert_cmpuint(in.rex, ==, 0);
	g_assert_cmpuint(in.opsize, ==, 2);
	in = dec(64, "4c 2e 01 c8", 4, GH_X86_OP_ADD_Ev_Gv);
	g_assert_cmpuint(in.reg, ==, 1);
	/* Only the last REX counts. */
	in = dec(64, "48 41 01 c8", 4, GH_X86_OP_ADD_Ev_Gv);
	g_assert_cmpuint(in.rex, ==, 0x41);
	g_assert_cmpuint(in.opsize, ==, 4);
	g_assert_cmpuint(in.rm, ==, 8);
	/* 40-4F: INC/DEC in 32-bit mode, REX in 64-bit mode. */
	in = dec(32, "41", 1, GH_X86_OP_INC_Zv);
	g_assert_cmpuint(in.rm, ==, 1);
	in = dec(32, "4f", 1, GH_X86_OP_DEC_Zv);
	g_assert_cmpuint(in.rm, ==, 7);
	in = dec(64, "41 50", 2, GH_X86_OP_PUSH_Zv);
	g_assert_cmpuint(in.rm, ==, 8);
	g_assert_cmpuint(in.opsize, ==, 8);
	dec_full(64, "48", GH_DECODE_MORE, 0);
	/* Byte registers: AH without REX, SPL with any REX (even 40). */
	bool high;

	in = dec(64, "88 e0", 2, GH_X86_OP_MOV_Eb_Gb);	/* mov al,ah */
	g_assert_cmpuint(gh_x86_byte_reg(&in, in.rm, &high), ==, 0);
	g_assert_false(high);
	g_assert_cmpuint(gh_x86_byte_reg(&in, in.reg, &high), ==, 0);
	g_assert_true(high);
	in = dec(64, "40 88 e0", 3, GH_X86_OP_MOV_Eb_Gb);
	g_assert_cmpuint(gh_x86_byte_reg(&in, in.reg, &high), ==, 4);
	g_assert_false(high);
	in = dec(64, "41 b4 12", 3, GH_X86_OP_MOV_Zb_Ib);
	g_assert_cmpuint(in.rm, ==, 12);
	/* MOV r64, imm64 */
	in = dec(64, "48 b8 88 77 66 55 44 33 22 11", 10, GH_X86_OP_MOV_Zv_Iv);
	g_assert_cmpint(in.imm, ==, 0x1122334455667788);
	in = dec(64, "b8 ff ff ff ff", 5, GH_X86_OP_MOV_Zv_Iv);
	g_assert_cmpuint(in.opsize, ==, 4);
	/* 90 is NOP, but with REX.B it is XCHG r8,rAX; F3 90 is PAUSE. */
	dec(64, "90", 1, GH_X86_OP_NOP);
	dec(64, "48 90", 2, GH_X86_OP_NOP);
	in = dec(64, "41 90", 2, GH_X86_OP_XCHG_Zv_rAX);
	g_assert_cmpuint(in.rm, ==, 8);
	dec(32, "f3 90", 2, GH_X86_OP_PAUSE);
	/* 66 90 is a NOP too (xchg ax,ax). */
	dec(32, "66 90", 2, GH_X86_OP_NOP);
}

static void test_modes(void)
{
	struct gh_x86_insn in;

	/* Invalid in 64-bit mode. */
	static const char *const i64[] = {
		"06", "07", "0e", "16", "17", "1e", "1f", "27", "2f", "37", "3f",
		"60", "61", "9a 00 00 00 00 00 00", "ce", "d4 0a", "d5 0a", "d6",
		"ea 00 00 00 00 00 00", "82 c0 01",
	};
	for (unsigned i = 0; i < G_N_ELEMENTS(i64); i++) {
		uint8_t buf[32];
		size_t n = unhex(i64[i], buf);

		ud(64, i64[i]);
		dec_full(32, i64[i], 0, n);
	}
	/* INC/DEC Zv are one byte outside 64-bit mode. */
	in = dec(16, "66 40", 2, GH_X86_OP_INC_Zv);
	g_assert_cmpuint(in.opsize, ==, 4);
}

static void test_modes_valid(void)
{
	struct gh_x86_insn in;

	dec(32, "06", 1, GH_X86_OP_PUSH_ES);
	dec(32, "27", 1, GH_X86_OP_DAA);
	in = dec(32, "d4 0a", 2, GH_X86_OP_AAM_Ib);
	g_assert_cmpint(in.imm, ==, 10);
	dec(16, "82 c0 01", 3, GH_X86_OP_ADD_Eb_Ib_82);
	/* BOUND (memory) vs EVEX; LES/LDS vs VEX. */
	dec(32, "62 00", 2, GH_X86_OP_BOUND_Gv_Ma);
	ud(32, "62 c0");
	ud(64, "62 00");
	dec(32, "c4 00", 2, GH_X86_OP_LES_Gz_Mp);
	dec(16, "c5 06 00 10", 4, GH_X86_OP_LDS_Gz_Mp);
	ud(32, "c4 e2 79 18 00");	/* VEX vbroadcastss: no AVX */
	ud(32, "c5 f8 77");		/* vzeroupper */
	ud(64, "c5 00");		/* VEX in 64-bit even with mod!=11 */
	ud(64, "c4 00 00 00");
	/* 63: ARPL outside 64-bit mode, MOVSXD inside. */
	dec(32, "63 c8", 2, GH_X86_OP_ARPL_Ew_Gw);
	in = dec(64, "48 63 c8", 3, GH_X86_OP_MOVSXD_Gv_Ed);
	g_assert_cmpuint(in.opsize, ==, 8);
	/* SYSCALL/SYSRET/SWAPGS only in 64-bit mode (Intel). */
	dec(64, "0f 05", 2, GH_X86_OP_SYSCALL);
	ud(32, "0f 05");
	dec(64, "0f 01 f8", 3, GH_X86_OP_SWAPGS);
	ud(32, "0f 01 f8");
	/* Default 64-bit operand size: PUSH/POP; 66 makes them 16-bit. */
	in = dec(64, "50", 1, GH_X86_OP_PUSH_Zv);
	g_assert_cmpuint(in.opsize, ==, 8);
	in = dec(64, "66 50", 2, GH_X86_OP_PUSH_Zv);
	g_assert_cmpuint(in.opsize, ==, 2);
	in = dec(64, "ff 30", 2, GH_X86_OP_PUSH_Ev);
	g_assert_cmpuint(in.opsize, ==, 8);
	in = dec(64, "6a ff", 2, GH_X86_OP_PUSH_Ib);
	g_assert_cmpint(in.imm, ==, -1);
	in = dec(64, "68 00 00 00 80", 5, GH_X86_OP_PUSH_Iz);
	g_assert_cmpint(in.imm, ==, -0x80000000ll);
	/* Forced 64-bit near branches: Intel ignores 66 (rel32 stays). */
	in = dec(64, "66 e8 00 00 00 00", 6, GH_X86_OP_CALL_Jz);
	g_assert_cmpuint(in.opsize, ==, 8);
	dec(64, "66 0f 84 00 00 00 00", 7, GH_X86_OP_JZ_Jz);
	dec(64, "66 e9 fb ff ff ff", 6, GH_X86_OP_JMP_Jz);
	in = dec(64, "66 ff e0", 3, GH_X86_OP_JMP_Ev);
	g_assert_cmpuint(in.opsize, ==, 8);
	in = dec(32, "66 e9 fd ff", 4, GH_X86_OP_JMP_Jz);
	g_assert_cmpint(in.imm, ==, -3);
	g_assert_cmpuint(in.opsize, ==, 2);
	dec(16, "0f 84 00 00", 4, GH_X86_OP_JZ_Jz);
	in = dec(16, "eb fe", 2, GH_X86_OP_JMP_Jb);
	g_assert_cmpint(in.imm, ==, -2);
	g_assert_true(gh_x86_op_flags(in.op) & GH_X86_F_REL);
	/* Far JMP/CALL ptr16:16/32: offset in imm, selector in imm2. */
	in = dec(32, "ea 78 56 34 12 08 00", 7, GH_X86_OP_JMPF_Ap);
	g_assert_cmpint(in.imm, ==, 0x12345678);
	g_assert_cmpuint(in.imm2, ==, 8);
	in = dec(16, "9a 00 f0 00 f0", 5, GH_X86_OP_CALLF_Ap);
	g_assert_cmpint(in.imm, ==, 0xf000);
	g_assert_cmpuint(in.imm2, ==, 0xf000);
	in = dec(16, "66 ea 00 00 01 00 10 00", 8, GH_X86_OP_JMPF_Ap);
	g_assert_cmpint(in.imm, ==, 0x10000);
	ud(64, "ea 00 00 00 00 00 00");
	ud(64, "9a 00 00 00 00 00 00");
	/* Far indirect JMP/CALL need memory. */
	dec(64, "ff 28", 2, GH_X86_OP_JMPF_Mp);
	ud(64, "ff e8");
	ud(32, "ff d8");
	ud(32, "ff ff");
	/* ENTER Iw,Ib */
	in = dec(32, "c8 10 20 03", 4, GH_X86_OP_ENTER_Iw_Ib);
	g_assert_cmpint(in.imm, ==, 0x2010);
	g_assert_cmpuint(in.imm2, ==, 3);
	in = dec(64, "c8 00 80 00", 4, GH_X86_OP_ENTER_Iw_Ib);
	g_assert_cmpint(in.imm, ==, 0x8000);
	g_assert_cmpuint(in.opsize, ==, 8);
	/* moffs follows the address size, 67 included. */
	in = dec(64, "a1 88 77 66 55 44 33 22 11", 9, GH_X86_OP_MOV_rAX_Ov);
	g_assert_cmpuint((uint64_t)in.mem.disp, ==, 0x1122334455667788ull);
	g_assert_true(in.has_mem);
	g_assert_cmpuint(in.mem.base, ==, GH_X86_REG_NONE);
	in = dec(64, "67 a0 00 00 00 80", 6, GH_X86_OP_MOV_AL_Ob);
	g_assert_cmpuint((uint64_t)in.mem.disp, ==, 0x80000000u);
	dec(64, "48 a3 00 00 00 00 00 00 00 00", 10, GH_X86_OP_MOV_Ov_rAX);
	dec(32, "a2 00 10 00 00", 5, GH_X86_OP_MOV_Ob_AL);
	dec(32, "67 a2 00 10", 4, GH_X86_OP_MOV_Ob_AL);
	in = dec(16, "65 a1 34 12", 4, GH_X86_OP_MOV_rAX_Ov);
	g_assert_cmpuint(in.seg, ==, GH_X86_SEG_GS);
	dec(16, "67 a1 00 00 00 00", 6, GH_X86_OP_MOV_rAX_Ov);
	/* Immediates by operand size. */
	dec(16, "05 34 12", 3, GH_X86_OP_ADD_rAX_Iz);
	dec(16, "66 05 78 56 34 12", 6, GH_X86_OP_ADD_rAX_Iz);
	dec(64, "48 05 78 56 34 12", 6, GH_X86_OP_ADD_rAX_Iz);
	in = dec(64, "48 81 c0 00 00 00 80", 7, GH_X86_OP_ADD_Ev_Iz);
	g_assert_cmpint(in.imm, ==, -0x80000000ll);
	in = dec(32, "83 c0 ff", 3, GH_X86_OP_ADD_Ev_Ib);
	g_assert_cmpint(in.imm, ==, -1);
	dec(32, "f6 c0 01", 3, GH_X86_OP_TEST_Eb_Ib);
	dec(32, "f7 c0 01 00 00 00", 6, GH_X86_OP_TEST_Ev_Iz);
	dec(32, "f7 d0", 2, GH_X86_OP_NOT_Ev);
	dec(32, "c2 08 00", 3, GH_X86_OP_RET_Iw);
	in = dec(64, "66 c3", 2, GH_X86_OP_RET);
	g_assert_cmpuint(in.opsize, ==, 8);
	/* Segment register moves: no CS destination, no seg 6/7. */
	dec(32, "8e d8", 2, GH_X86_OP_MOV_Sw_Ew);
	ud(32, "8e c8");
	ud(32, "8c f0");
	dec(32, "8c c8", 2, GH_X86_OP_MOV_Ev_Sw);
	/* MOV CR/DR: mod is ignored; CR1/CR5-7 and DR8+ are #UD. */
	in = dec(64, "0f 20 00", 3, GH_X86_OP_MOV_Rd_Cd);
	g_assert_cmpuint(in.mod, ==, 3);
	g_assert_false(in.has_mem);
	g_assert_cmpuint(in.opsize, ==, 8);
	dec(64, "44 0f 22 c0", 4, GH_X86_OP_MOV_Cd_Rd);	/* CR8 */
	ud(64, "0f 22 c8");
	ud(64, "0f 20 e8");
	ud(64, "44 0f 23 c0");
	dec(32, "0f 23 f8", 3, GH_X86_OP_MOV_Dd_Rd);
	/* Operand sizes in 16-bit mode. */
	in = dec(16, "66 50", 2, GH_X86_OP_PUSH_Zv);
	g_assert_cmpuint(in.opsize, ==, 4);
	/* LEA needs memory; LDS/LES/LSS too. */
	ud(32, "8d c0");
	ud(32, "0f b2 c0");
	(void)in;
}

static void test_groups(void)
{
	struct gh_x86_insn in;

	dec(32, "80 38 05", 3, GH_X86_OP_CMP_Eb_Ib);
	dec(32, "c0 e0 03", 3, GH_X86_OP_SHL_Eb_Ib);
	dec(32, "c0 f0 03", 3, GH_X86_OP_SHL_Eb_Ib);	/* /6 = SAL alias */
	dec(32, "d3 f8", 2, GH_X86_OP_SAR_Ev_CL);
	dec(32, "d1 d0", 2, GH_X86_OP_RCL_Ev_1);
	dec(32, "f6 f1", 2, GH_X86_OP_DIV_Eb);
	dec(32, "fe c0", 2, GH_X86_OP_INC_Eb);
	ud(32, "fe d0");
	dec(32, "8f c0", 2, GH_X86_OP_POP_Ev);
	ud(32, "8f c8");
	ud(32, "c6 c8 00");
	/* 0F 00 / 0F 01 */
	dec(32, "0f 00 d8", 3, GH_X86_OP_LTR_Ew);
	ud(32, "0f 00 f0");
	in = dec(32, "0f 01 15 00 00 00 00", 7, GH_X86_OP_LGDT_Ms);
	g_assert_true(in.has_mem);
	ud(32, "0f 01 d3");
	dec(32, "0f 01 38", 3, GH_X86_OP_INVLPG_Mb);
	dec(32, "0f 01 f9", 3, GH_X86_OP_RDTSCP);
	dec(32, "0f 01 c8", 3, GH_X86_OP_MONITOR);
	dec(32, "0f 01 c9", 3, GH_X86_OP_MWAIT);
	dec(32, "0f 01 ca", 3, GH_X86_OP_CLAC);
	dec(32, "0f 01 cb", 3, GH_X86_OP_STAC);
	dec(32, "0f 01 d0", 3, GH_X86_OP_XGETBV);
	dec(32, "0f 01 c1", 3, GH_X86_OP_VMCALL);
	dec(32, "0f 01 e0", 3, GH_X86_OP_SMSW_Ev);
	dec(32, "0f 01 20", 3, GH_X86_OP_SMSW_Ev);
	dec(32, "0f 01 f0", 3, GH_X86_OP_LMSW_Ew);
	ud(32, "0f 01 ff");
	ud(32, "0f 01 f8");
	/* 0F BA */
	dec(32, "0f ba e0 05", 4, GH_X86_OP_BT_Ev_Ib);
	dec(32, "f0 0f ba 28 05", 5, GH_X86_OP_BTS_Ev_Ib);
	ud(32, "0f ba c0 05");
	/* 0F C7 */
	dec(32, "f0 0f c7 0e", 4, GH_X86_OP_CMPXCHG8B_Mq);
	dec(64, "f0 48 0f c7 0e", 5, GH_X86_OP_CMPXCHG16B_Mdq);
	ud(32, "0f c7 c8");
	dec(32, "0f c7 f0", 3, GH_X86_OP_RDRAND_Rv);
	in = dec(32, "66 0f c7 f0", 4, GH_X86_OP_RDRAND_Rv);
	g_assert_cmpuint(in.opsize, ==, 2);
	dec(64, "48 0f c7 f8", 4, GH_X86_OP_RDSEED_Rv);
	dec(64, "f3 0f c7 f8", 4, GH_X86_OP_RDPID_Ry);
	dec(32, "f3 0f c7 30", 4, GH_X86_OP_VMXON);
	dec(32, "66 0f c7 30", 4, GH_X86_OP_VMCLEAR);
	/* 0F AE */
	dec(32, "0f ae e8", 3, GH_X86_OP_LFENCE);
	dec(32, "0f ae f0", 3, GH_X86_OP_MFENCE);
	dec(32, "0f ae f8", 3, GH_X86_OP_SFENCE);
	dec(32, "0f ae 38", 3, GH_X86_OP_CLFLUSH);
	dec(32, "66 0f ae 38", 4, GH_X86_OP_CLFLUSHOPT);
	dec(64, "f3 48 0f ae c0", 5, GH_X86_OP_RDFSBASE);
	ud(32, "f3 0f ae c0");
	/* x87 */
	dec(32, "d9 e8", 2, GH_X86_OP_FLD1);
	dec(32, "d9 c9", 2, GH_X86_OP_FXCH_STi);
	dec(32, "dd 05 00 00 00 00", 6, GH_X86_OP_FLD_m64);
	dec(32, "df e0", 2, GH_X86_OP_FNSTSW_AX);
	dec(32, "db e3", 2, GH_X86_OP_FNINIT);
	/* the register-form aliases the SDM's tables leave blank */
	dec(32, "d9 d9", 2, GH_X86_OP_FSTP1);
	dec(32, "dc d2", 2, GH_X86_OP_FCOM2);
	dec(32, "dc db", 2, GH_X86_OP_FCOMP3);
	dec(32, "dd cc", 2, GH_X86_OP_FXCH4);
	dec(64, "de d7", 2, GH_X86_OP_FCOMP5);
	dec(32, "df c0", 2, GH_X86_OP_FFREEP);
	dec(32, "df cf", 2, GH_X86_OP_FXCH7);
	dec(16, "df d1", 2, GH_X86_OP_FSTP8);
	dec(32, "df de", 2, GH_X86_OP_FSTP9);
	dec(32, "de d9", 2, GH_X86_OP_FCOMPP);
	g_assert_true(gh_x86_op_flags(GH_X86_OP_FLD1) & GH_X86_F_X87);
	ud(32, "d9 08");
}

static void test_0f_maps(void)
{
	struct gh_x86_insn in;

	/* Mandatory prefixes. */
	in = dec(32, "f3 0f b8 c1", 4, GH_X86_OP_POPCNT_Gv_Ev);
	g_assert_cmpuint(in.last_pfx, ==, 0xf3);
	in = dec(32, "66 f3 0f b8 c1", 5, GH_X86_OP_POPCNT_Gv_Ev);
	g_assert_cmpuint(in.opsize, ==, 2);
	ud(32, "0f b8 00 00 00 00");	/* JMPE */
	dec(32, "f3 0f bc c1", 4, GH_X86_OP_TZCNT_Gv_Ev);
	dec(32, "f3 0f bd c1", 4, GH_X86_OP_LZCNT_Gv_Ev);
	dec(32, "0f bd c1", 3, GH_X86_OP_BSR_Gv_Ev);
	dec(32, "66 0f bc c1", 4, GH_X86_OP_BSF_Gv_Ev);
	ud(32, "f2 0f bc c1");		/* F2 is not a BSF form */
	dec(32, "0f 38 f0 01", 4, GH_X86_OP_MOVBE_Gv_Mv);
	dec(32, "66 0f 38 f1 01", 5, GH_X86_OP_MOVBE_Mv_Gv);
	ud(32, "0f 38 f0 c1");
	dec(32, "f2 0f 38 f0 c1", 5, GH_X86_OP_CRC32_Gy_Eb);
	dec(32, "66 f2 0f 38 f1 c1", 6, GH_X86_OP_CRC32_Gy_Ev);
	dec(64, "f2 48 0f 38 f1 c1", 6, GH_X86_OP_CRC32_Gy_Ev);
	/* The last F2/F3 picks the row; 66 only if neither is present. */
	in = dec(32, "f3 f2 0f 58 c1", 5, GH_X86_OP_ADDSD);
	g_assert_cmpuint(in.last_pfx, ==, 0xf2);
	dec(32, "f2 66 0f 58 c1", 5, GH_X86_OP_ADDSD);
	in = dec(32, "f2 66 0f 58 c1", 5, GH_X86_OP_ADDSD);
	g_assert_cmpuint(in.last_pfx, ==, 0x66);
	dec(32, "66 0f 58 c1", 4, GH_X86_OP_ADDPD);
	dec(32, "0f 58 c1", 3, GH_X86_OP_ADDPS);
	dec(32, "0f 6f c1", 3, GH_X86_OP_MOVQ_Pq_Qq);
	in = dec(32, "66 0f 6f c1", 4, GH_X86_OP_MOVDQA_Vx_Wx);
	g_assert_true(gh_x86_op_flags(in.op) & GH_X86_F_SSE);
	dec(32, "0f 71 d0 04", 4, GH_X86_OP_PSRLW_Nq_Ib);
	ud(32, "0f 71 10 04");
	dec(32, "66 0f 73 d8 04", 5, GH_X86_OP_PSRLDQ_Ux_Ib);
	dec(32, "66 0f 3a 0f c1 08", 6, GH_X86_OP_PALIGNR_Vx_Wx);
	dec(32, "66 0f 3a 63 c1 08", 6, GH_X86_OP_PCMPISTRI);
	dec(32, "66 0f 38 00 c1", 5, GH_X86_OP_PSHUFB_Vx_Wx);
	ud(32, "0f 0f c1 9e");		/* 3DNow */
	ud(32, "0f 38 ff c1");
	/* Multi-byte NOPs. */
	dec(32, "0f 1f 00", 3, GH_X86_OP_NOP_Ev);
	dec(32, "0f 1f 40 00", 4, GH_X86_OP_NOP_Ev);
	dec(32, "0f 1f 44 00 00", 5, GH_X86_OP_NOP_Ev);
	dec(32, "66 0f 1f 44 00 00", 6, GH_X86_OP_NOP_Ev);
	dec(32, "0f 1f 80 00 00 00 00", 7, GH_X86_OP_NOP_Ev);
	dec(32, "0f 1f 84 00 00 00 00 00", 8, GH_X86_OP_NOP_Ev);
	dec(64, "66 0f 1f 84 00 00 00 00 00", 9, GH_X86_OP_NOP_Ev);
	dec(64, "66 2e 0f 1f 84 00 00 00 00 00", 10, GH_X86_OP_NOP_Ev);
	dec(64, "66 66 2e 0f 1f 84 00 00 00 00 00", 11, GH_X86_OP_NOP_Ev);
	dec(64, "f3 0f 1e fa", 4, GH_X86_OP_NOP_Ev);	/* ENDBR64 */
	dec(32, "0f 18 08", 3, GH_X86_OP_PREFETCHT0);
	dec(32, "0f 0b", 2, GH_X86_OP_UD2);
	dec(32, "0f b9 c0", 3, GH_X86_OP_UD1_Gv_Ev);
	dec(32, "0f a2", 2, GH_X86_OP_CPUID);
	dec(32, "0f c8", 2, GH_X86_OP_BSWAP_Zv);
	dec(64, "0f 78 c0", 3, GH_X86_OP_VMREAD);
}

static void test_lock(void)
{
	dec(32, "f0 01 00", 3, GH_X86_OP_ADD_Ev_Gv);
	dec(32, "f0 87 00", 3, GH_X86_OP_XCHG_Ev_Gv);
	dec(32, "f0 0f b1 0e", 4, GH_X86_OP_CMPXCHG_Ev_Gv);
	dec(32, "f0 f6 10", 3, GH_X86_OP_NOT_Eb);
	dec(32, "f0 83 00 01", 4, GH_X86_OP_ADD_Ev_Ib);
	ud(32, "f0 01 c0");		/* register destination */
	ud(32, "f0 03 00");		/* ADD Gv,Ev: not lockable */
	ud(32, "f0 3b 00");		/* CMP */
	ud(32, "f0 80 38 00");		/* CMP Eb,Ib */
	ud(32, "f0 8b 00");		/* MOV */
	ud(32, "f0 90");
	ud(32, "f0 0f a3 00");		/* BT Ev,Gv */
	ud(32, "f0 0f ba 20 01");	/* BT Ev,Ib */
	ud(64, "f0 0f 22 c0");		/* AMD's LOCK MOV CR8 alias: #UD on Intel */
}

static void test_limits(void)
{
	uint8_t buf[32];
	struct gh_x86_insn in;

	/* 14 prefixes + 1-byte opcode = 15: fine; one more prefix: #GP. */
	memset(buf, 0x66, sizeof(buf));
	buf[14] = 0x90;
	g_assert_cmpint(gh_x86_decode(buf, 32, 32, &in), ==, 0);
	g_assert_cmpuint(in.len, ==, 15);
	buf[14] = 0x66;
	buf[15] = 0x90;
	g_assert_cmpint(gh_x86_decode(buf, 32, 32, &in), ==, GH_DECODE_GP);
	/* Redundant prefixes pushing an immediate past 15 bytes. */
	dec_full(64, "66 66 66 66 2e 2e 2e 48 81 84 80 00 00 00 00 01 00 00 00",
		 GH_DECODE_GP, 0);
	dec_full(64, "66 2e 2e 48 81 84 80 00 00 00 00 01 00 00 00", 0, 15);
	/* MORE only when fewer than 15 bytes were available. */
	dec_full(32, "", GH_DECODE_MORE, 0);
	dec_full(32, "0f", GH_DECODE_MORE, 0);
	dec_full(32, "0f 38", GH_DECODE_MORE, 0);
	dec_full(32, "81 c0 00 00 00", GH_DECODE_MORE, 0);
	dec_full(32, "8b 04", GH_DECODE_MORE, 0);
	dec_full(64, "48 b8 00 00 00 00 00 00 00", GH_DECODE_MORE, 0);
	dec_full(16, "ea 00 00 00", GH_DECODE_MORE, 0);
	dec_full(32, "c8 00 00", GH_DECODE_MORE, 0);
	/* Every prefix of a valid instruction asks for more; never reads past. */
	static const char *const whole[] = {
		"66 2e 0f 1f 84 00 00 00 00 00", "48 b8 88 77 66 55 44 33 22 11",
		"f0 48 0f c7 0e", "c7 84 88 00 01 00 00 44 33 22 11", "66 0f 3a 0f c1 08",
	};
	for (unsigned i = 0; i < G_N_ELEMENTS(whole); i++) {
		size_t n = unhex(whole[i], buf);

		for (size_t k = 0; k < n; k++) {
			uint8_t *copy = g_memdup2(buf, k);

			g_assert_cmpint(gh_x86_decode(copy, k, 64, &in), ==, GH_DECODE_MORE);
			g_free(copy);
		}
		g_assert_cmpint(gh_x86_decode(buf, n, 64, &in), ==, 0);
		g_assert_cmpuint(in.len, ==, n);
	}
}

static void test_names(void)
{
	g_assert_cmpstr(gh_x86_op_name(GH_X86_OP_ADD_Eb_Gb), ==, "ADD Eb,Gb");
	g_assert_cmpstr(gh_x86_op_name(GH_X86_OP_POPCNT_Gv_Ev), ==, "POPCNT Gv,Ev (F3)");
	g_assert_cmpstr(gh_x86_op_name(GH_X86_NR_OPS), ==, "(bad)");
	g_assert_cmpstr(gh_x86_op_name(0), ==, "(bad)");
	for (unsigned op = 1; op < GH_X86_NR_OPS; op++)
		g_assert_nonnull(gh_x86_op_name(op));
	g_assert_true(gh_x86_op_flags(GH_X86_OP_ADD_Eb_Gb) & GH_X86_F_BYTE);
	g_assert_true(gh_x86_op_flags(GH_X86_OP_ADD_Eb_Gb) & GH_X86_F_LOCKABLE);
	g_assert_false(gh_x86_op_flags(GH_X86_OP_ADD_Ev_Gv) & GH_X86_F_BYTE);
}

/* ---- differential test against GNU objdump ---- */

/*
 * Where we and objdump (binutils 2.40, -M intel64 in 64-bit mode) knowingly
 * disagree.  Each returns a reason, or NULL when the case must match:
 *
 *  - LOCK: we raise #UD for LOCK on non-lockable instructions and register
 *    destinations (SDM "LOCK" and 2.1.1); objdump prints a "lock" prefix.
 *  - VEX/EVEX (C4/C5/62 in 64-bit mode or with mod=11): AVX is not advertised,
 *    so #UD; objdump decodes AVX/AVX-512.
 *  - Mandatory-prefix combinations the SDM leaves reserved (e.g. F3 0F 14,
 *    66 0F 77, F2 with MMX rows): #UD; objdump decodes them with a stray
 *    "repz"/"repnz"/"data16" prefix or a different row.
 *  - 0F 0E FEMMS and 0F 0F 3DNow, 8F XOP (AMD), 0F A6/A7 (VIA PadLock): not
 *    supported (#UD); objdump decodes them.
 *  - SYSCALL/SYSRET outside 64-bit mode: Intel raises #UD, objdump (AMD) not.
 *  - x87 register forms the SDM's tables leave blank: the aliases we run
 *    (FSTP1 D9 D8+i, FCOM2 DC D0+i, FCOMP3 DC D8+i, FXCH4 DD C8+i, FCOMP5
 *    DE D0+i, FXCH7 DF C8+i, FSTP8/9 DF D0+i/D8+i; opcodes.def) objdump
 *    calls "(bad)", all but FFREEP DF C0+i, which it names as we do; the
 *    8087/287 leftovers (FENI/FDISI/FSETPM DB E0/E1/E4) are #UD here and
 *    objdump names them.
 *  - Extensions we do not list (CET, SGX extras, SEV-SNP, TDX, SERIALIZE,
 *    HRESET, UINTR, AMX, KeyLocker, WAITPKG, MPX prefixed forms, SSE4a
 *    EXTRQ/INSERTQ/MOVNTSS/MOVNTSD, PCONFIG, WBNOINVD, RDPID/PTWRITE forms,
 *    0F 01 mod=11 forms other than the listed ones): #UD here; objdump decodes
 *    them.  The VMX backend never needs them and the interpreter would raise
 *    #UD for them anyway since CPUID does not advertise them.
 *  - MOV CR/DR with CR1, CR5-7, CR9-15 or DR8-15, 0F 24/26 MOV TR (386/486
 *    only), MOV Sw with segment register 6/7 or to CS: #UD per the SDM;
 *    objdump decodes them.
 *  - 9B FWAIT is not generated: it is an instruction of its own, but objdump
 *    folds it into a following x87 instruction (FSTSW = 9B DF E0).
 *  - D6 SALC: undocumented but executed by Intel CPUs in legacy modes (we
 *    decode it, i64); objdump says "(bad)".
 *  - LFENCE/MFENCE/SFENCE (0F AE /5-/7 mod=11) with ModRM.rm != 0: the SDM's
 *    group 15 table decodes any rm; objdump only accepts rm = 0.
 *  - 0F 01 mod=11 forms with a 66/F2/F3 prefix that the SDM marks NP (ENCLS,
 *    WRPKRU, ...): we ignore the prefix; objdump says "(bad)".
 *  - 0F 0D and 0F 18-1F: hint NOPs taking a ModRM operand (SDM Table A-3
 *    "NOP Ev", prefetch group 16, MPX BNDxx which are NOPs without MPX);
 *    objdump calls some forms "(bad)" or prints "(bad)" operands and stops
 *    counting bytes there, so its length means nothing.
 *  - 0F C7 /6 /7 register forms with REX.W or prefixes, and RDPID: objdump
 *    differs on which prefixes it accepts.
 */
struct sample {
	uint8_t bytes[16];
	unsigned npfx;		/* legacy/REX prefix bytes before the opcode */
	int ret;
	struct gh_x86_insn in;
};

static bool has_pfx(const struct sample *s, uint8_t p)
{
	return memchr(s->bytes, p, s->npfx) != NULL;
}

/* The x87 aliases of opcodes.def that objdump 2.40 does not know: escape
 * byte and ModRM.reg of the register form. */
static bool x87_alias(unsigned esc, unsigned modrm)
{
	static const uint8_t rows[][2] = {
		{0xd9, 3}, {0xdc, 2}, {0xdc, 3}, {0xdd, 1}, {0xde, 2}, {0xdf, 1}, {0xdf, 2},
		{0xdf, 3},
	};

	for (unsigned k = 0; k < G_N_ELEMENTS(rows); k++)
		if (rows[k][0] == esc && rows[k][1] == ((modrm >> 3) & 7))
			return true;
	return false;
}

static const char *exclusion(const struct sample *s, unsigned mode, bool objdump_bad,
			     bool objdump_partial)
{
	const uint8_t *op = s->bytes + s->npfx;
	unsigned map = 0, b = op[0], modrm;

	if (b == 0x0f) {
		map = 1;
		b = op[1];
		if (b == 0x38 || b == 0x3a) {
			map = b == 0x38 ? 2 : 3;
			b = op[2];
		}
	}
	modrm = op[map == 0 ? 1 : map == 1 ? 2 : 3];
	const bool regform = modrm >> 6 == 3;
	const bool ours_ud = s->ret == GH_DECODE_UD;

	if (has_pfx(s, 0xf0) && ours_ud)
		return "LOCK misuse is #UD";
	if (map == 0 && (b == 0xc4 || b == 0xc5 || b == 0x62) && ours_ud)
		return "VEX/EVEX: no AVX";
	if (map == 1 && (b == 0x0e || b == 0x0f) && ours_ud)
		return "3DNow";
	if (map == 1 && (b == 0xa6 || b == 0xa7) && ours_ud)
		return "VIA PadLock";
	if (map == 0 && b == 0x8f && ours_ud)
		return "AMD XOP";
	if (map == 1 && (b == 0x05 || b == 0x07) && mode != 64 && ours_ud)
		return "SYSCALL/SYSRET are 64-bit only on Intel";
	if (map == 1 && b >= 0x20 && b <= 0x26 && ours_ud)
		return "MOV CR/DR/TR with a reserved register is #UD";
	if (map == 0 && (b == 0x8c || b == 0x8e) && ours_ud)
		return "MOV Sw with a reserved segment register is #UD";
	if (map == 0 && b == 0xd6 && objdump_bad && !ours_ud)
		return "SALC: undocumented, executed by Intel CPUs";
	if (map == 0 && b >= 0xd8 && b <= 0xdf && regform && ours_ud)
		return "8087/287-only x87 form";
	if (map == 0 && regform && !ours_ud && objdump_bad && x87_alias(b, modrm))
		return "x87 alias objdump calls (bad)";
	if (ours_ud && (has_pfx(s, 0x66) || has_pfx(s, 0xf2) || has_pfx(s, 0xf3)) &&
	    map != 0)
		return "reserved mandatory-prefix combination";
	if (ours_ud && (map == 2 || map == 3))
		return "unlisted extension";
	if (ours_ud && map == 1 && (b == 0x01 || b == 0xae || b == 0xc7 || b == 0x78 ||
				    b == 0x79 || b == 0x00 || b == 0x38))
		return "unlisted extension";
	if (map == 0 && (b == 0xc6 || b == 0xc7) && modrm == 0xf8 && ours_ud)
		return "unlisted extension (RTM XABORT/XBEGIN)";
	if (map == 1 && b == 0xae && regform && ((modrm >> 3) & 7) >= 5 && !ours_ud)
		return "LFENCE/MFENCE/SFENCE with ModRM.rm != 0";
	if (map == 1 && b == 0x01 && regform && objdump_bad && !ours_ud &&
	    (has_pfx(s, 0x66) || has_pfx(s, 0xf2) || has_pfx(s, 0xf3)))
		return "prefixed 0F 01 mod=11 form";
	if (map == 1 && (b == 0x0d || (b >= 0x18 && b <= 0x1f)) && !ours_ud &&
	    (objdump_bad || objdump_partial))
		return "hint NOP space";
	return NULL;
}

/* xorshift64*: a fixed seed makes every failure reproducible. */
static uint64_t rnd(uint64_t *st)
{
	*st ^= *st >> 12;
	*st ^= *st << 25;
	*st ^= *st >> 27;
	return *st * 0x2545f4914f6cdd1dull;
}

static const uint8_t legacy_pfx[] = {
	0x66, 0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65,
};

static bool is_prefix(unsigned b, unsigned mode)
{
	return memchr(legacy_pfx, b, sizeof(legacy_pfx)) ||
	       (mode == 64 && (b & 0xf0) == 0x40);
}

static void gen_sample(struct sample *s, unsigned mode, uint64_t *st)
{
	for (;;) {
		unsigned n = 0, np = rnd(st) % 8;

		np = np < 4 ? 0 : np - 3;	/* half have none, up to 4 */
		for (unsigned i = 0; i < 16; i++)
			s->bytes[i] = rnd(st);
		for (unsigned i = 0; i < np; i++)
			s->bytes[n++] = legacy_pfx[rnd(st) % sizeof(legacy_pfx)];
		if (mode == 64 && rnd(st) % 3 == 0)
			s->bytes[n++] = 0x40 | (rnd(st) & 15);
		s->npfx = n;
		switch (rnd(st) % 8) {
		case 0: case 1: case 2: case 3:
			do
				s->bytes[n] = rnd(st);
			while (is_prefix(s->bytes[n], mode) || s->bytes[n] == 0x0f ||
			       s->bytes[n] == 0x9b);
			break;
		case 4: case 5:
			s->bytes[n] = 0x0f;
			break;
		case 6:
			s->bytes[n] = 0x0f;
			s->bytes[n + 1] = 0x38;
			break;
		default:
			s->bytes[n] = 0x0f;
			s->bytes[n + 1] = 0x3a;
			break;
		}
		s->ret = gh_x86_decode(s->bytes, 15, mode, &s->in);
		if (s->ret == GH_DECODE_GP)
			continue;
		/* Keep mostly valid encodings, some undefined ones. */
		if (s->ret == GH_DECODE_UD && rnd(st) % 8 != 0)
			continue;
		return;
	}
}

#define STRIDE 32
#define FILLER 0x90

static const char *const lone_prefixes[] = {
	"data16", "data32", "addr16", "addr32", "lock", "repz", "repnz", "rep",
	"cs", "ds", "es", "ss", "fs", "gs", "bnd", "notrack", "xacquire",
	"xrelease", NULL,
};

/* A line of nothing but prefixes ("data16 repz gs rex.RB"). */
static bool lone_prefix(const char *text)
{
	g_auto(GStrv) words = g_strsplit(text, " ", -1);

	for (char **w = words; *w; w++) {
		bool known = g_str_has_prefix(*w, "rex") || !**w;

		for (unsigned i = 0; !known && lone_prefixes[i]; i++)
			known = !strcmp(*w, lone_prefixes[i]);
		if (!known)
			return false;
	}
	return true;
}

/* "(bad)" as the mnemonic, after any prefixes (not as an odd operand). */
static bool mnemonic_bad(const char *text)
{
	g_auto(GStrv) words = g_strsplit_set(text, " \t", -1);

	for (char **w = words; *w; w++) {
		if (!**w || lone_prefix(*w))
			continue;
		return g_str_has_prefix(*w, "(bad)");
	}
	return false;
}

struct odline {
	unsigned addr, len;
	char text[96];
};

/* Parse "  addr:\tbb bb ...\ttext" lines. */
static GArray *run_objdump(const char *path, unsigned mode)
{
	const char *m = mode == 64 ? "i386:x86-64" : "i386";
	const char *opt = mode == 64 ? "intel,intel64" : mode == 32 ? "intel" :
		"intel,addr16,data16";
	const char *argv[] = { "objdump", "-D", "-b", "binary", "-m", m, "-M", opt,
			       "--insn-width=16", path, NULL };
	g_autofree char *out = NULL;
	g_autofree char *err = NULL;
	g_autoptr(GError) error = NULL;
	int status;

	g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
				   NULL, &out, &err, &status, &error));
	g_assert_true(g_spawn_check_wait_status(status, NULL));

	GArray *lines = g_array_new(FALSE, TRUE, sizeof(struct odline));

	/*
	 * Split by hand: a strstr-based split is quadratic under ASan, whose
	 * interceptors measure the whole remaining megabyte at every call.
	 */
	for (char *l = out, *next; *l; l = next) {
		struct odline ol = { 0 };
		char *p = l, *end;

		next = l;
		while (*next && *next != '\n')
			next++;
		if (*next)
			*next++ = '\0';
		while (*p == ' ')
			p++;
		ol.addr = strtoul(p, &end, 16);
		if (end == p || end[0] != ':' || end[1] != '\t')
			continue;
		p = end + 2;
		while (g_ascii_isxdigit(p[0]) && g_ascii_isxdigit(p[1]) && p[2] == ' ') {
			ol.len++;
			p += 3;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		g_strlcpy(ol.text, p, sizeof(ol.text));
		g_strstrip(ol.text);
		g_array_append_val(lines, ol);
	}
	return lines;
}

static void test_objdump(gconstpointer data)
{
	const unsigned mode = GPOINTER_TO_UINT(data);
	/* GH_DECODE_SAMPLES / GH_DECODE_SEED widen the search when hunting bugs. */
	const char *env_n = g_getenv("GH_DECODE_SAMPLES");
	const char *env_seed = g_getenv("GH_DECODE_SEED");
	const unsigned nsamples = env_n ? (unsigned)atoi(env_n) : 4000;
	g_autofree char *objdump = g_find_program_in_path("objdump");

	if (!objdump) {
		g_test_skip("GNU objdump (binutils) is not installed");
		return;
	}

	uint64_t st = (env_seed ? g_ascii_strtoull(env_seed, NULL, 0) : 0x9e3779b97f4a7c15ull) ^
		      mode;
	struct sample *samples = g_new0(struct sample, nsamples);
	uint8_t *image = g_malloc(nsamples * STRIDE);

	memset(image, FILLER, nsamples * STRIDE);
	for (unsigned i = 0; i < nsamples; i++) {
		gen_sample(&samples[i], mode, &st);
		memcpy(image + i * STRIDE, samples[i].bytes, 15);
	}

	g_autoptr(GError) error = NULL;
	char *path = NULL;
	int fd = g_file_open_tmp("gh-decode-XXXXXX.bin", &path, &error);

	g_assert_no_error(error);
	close(fd);
	g_assert_true(g_file_set_contents(path, (char *)image, nsamples * STRIDE, &error));
	GArray *lines = run_objdump(path, mode);

	g_unlink(path);
	g_free(path);

	unsigned li = 0, matched = 0, bad_ud = 0, excluded = 0, failures = 0;
	GHashTable *reasons = g_hash_table_new(g_str_hash, g_str_equal);

	for (unsigned i = 0; i < nsamples; i++) {
		const struct sample *s = &samples[i];
		const unsigned base = i * STRIDE;
		unsigned len = 0;
		bool bad = false;
		const char *text = "";

		while (li < lines->len && g_array_index(lines, struct odline, li).addr < base)
			li++;
		g_assert_cmpuint(li, <, lines->len);
		g_assert_cmpuint(g_array_index(lines, struct odline, li).addr, ==, base);
		/* objdump prints prefixes it considers separate on their own line. */
		for (unsigned k = li; k < lines->len; k++) {
			const struct odline *ol = &g_array_index(lines, struct odline, k);

			if (ol->addr != base + len)
				break;
			len += ol->len;
			text = ol->text;
			if (mnemonic_bad(ol->text)) {
				bad = true;
				break;
			}
			if (!lone_prefix(ol->text))
				break;
		}

		const char *why = NULL;
		bool ok;

		/* "(bad)" operands: objdump gave up inside the instruction. */
		if (bad || strstr(text, "(bad)")) {
			ok = s->ret == GH_DECODE_UD;
			if (!ok && !bad)
				why = exclusion(s, mode, bad, true);
			bad_ud += ok;
		} else {
			ok = s->ret == 0 && s->in.len == len;
			matched += ok;
		}
		if (!ok) {
			if (!why)
				why = exclusion(s, mode, bad, strstr(text, "(bad)") != NULL);
			if (why) {
				excluded++;
				if (g_getenv("GH_DECODE_SHOW_EXCLUDED"))
					g_test_message("excluded (%s): %02x %02x %02x %02x %02x "
						       "\"%s\"", why, s->bytes[0], s->bytes[1],
						       s->bytes[2], s->bytes[3], s->bytes[4], text);
				g_hash_table_insert(reasons, (char *)why,
					GUINT_TO_POINTER(GPOINTER_TO_UINT(
						g_hash_table_lookup(reasons, why)) + 1));
			} else {
				g_autofree char *hex = NULL;
				GString *h = g_string_new(NULL);

				for (unsigned k = 0; k < 15; k++)
					g_string_append_printf(h, "%02x ", s->bytes[k]);
				hex = g_string_free(h, FALSE);
				g_test_message("%u-bit MISMATCH %s| ours ret %d len %u %s | "
					       "objdump len %u \"%s\"", mode, hex, s->ret,
					       s->in.len, s->ret ? "" : gh_x86_op_name(s->in.op),
					       len, text);
				failures++;
			}
		}
	}

	GHashTableIter it;
	gpointer k, v;

	g_hash_table_iter_init(&it, reasons);
	while (g_hash_table_iter_next(&it, &k, &v))
		g_test_message("%u-bit excluded %u: %s", mode, GPOINTER_TO_UINT(v),
			       (const char *)k);
	g_test_message("%u-bit: %u samples, %u lengths match, %u (bad) = #UD, %u excluded, "
		       "%u mismatches", mode, nsamples, matched, bad_ud, excluded, failures);
	g_hash_table_unref(reasons);
	g_array_unref(lines);
	g_free(image);
	g_free(samples);
	g_assert_cmpuint(failures, ==, 0);
	/* The comparison must have had something to compare. */
	g_assert_cmpuint(matched, >, nsamples / 2);
}

/* ---- speed ---- */

/* Typical compiled 64-bit code (prologues, loads/stores, ALU, branches, calls). */
static const char *const typical[] = {
	"55", "48 89 e5", "41 57", "41 56", "53", "48 83 ec 28", "48 8b 45 f8",
	"89 7d fc", "8b 45 fc", "01 d0", "48 01 c8", "83 f8 0a", "7e 0c", "75 f2",
	"0f 84 10 01 00 00", "e8 00 00 00 00", "48 8d 05 10 00 00 00",
	"48 8b 04 c5 00 10 00 00", "0f b6 04 0a", "85 c0", "74 05", "31 c0",
	"48 89 c7", "c3", "5d", "41 5c", "48 83 c4 28", "c7 45 f4 00 00 00 00",
	"48 8b 15 00 00 00 00", "ff 15 00 00 00 00", "eb 10", "39 d0", "0f 4c c2",
	"48 c1 e0 04", "66 0f 1f 44 00 00", "0f 1f 40 00", "48 63 d0",
	"f3 48 ab", "64 48 8b 04 25 28 00 00 00", "0f af c2",
};

/* Thread CPU time, so a loaded machine does not inflate the figure. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static double bench(const uint8_t *code, const unsigned *off, unsigned n, unsigned rounds,
		    uint64_t *sum)
{
	struct gh_x86_insn in;
	uint64_t t0 = cpu_ns();

	for (unsigned r = 0; r < rounds; r++)
		for (unsigned i = 0; i < n; i++) {
			gh_x86_decode(code + off[i], 15, 64, &in);
			*sum += in.len;
		}
	return (double)(cpu_ns() - t0) / ((double)n * rounds);
}

static void test_speed(void)
{
	const unsigned n = 4096, rounds = 200;
	uint64_t st = 42, sum = 0;
	uint8_t *code = g_malloc(n * 16 + 16);
	unsigned *off = g_new(unsigned, n), pos = 0, count = 0;
	struct sample s;

	/* Realistic stream: the typical instructions in a random order. */
	while (count < n) {
		const char *hex = typical[rnd(&st) % G_N_ELEMENTS(typical)];

		off[count++] = pos;
		pos += unhex(hex, code + pos);
	}
	double ns_typical = bench(code, off, n, rounds, &sum);

	g_assert_cmpuint(sum, ==, (uint64_t)pos * rounds);

	/* Adversarial stream: the differential test's random encodings. */
	pos = count = 0;
	while (count < n) {
		gen_sample(&s, 64, &st);
		if (s.ret)
			continue;
		memcpy(code + pos, s.bytes, s.in.len);
		off[count++] = pos;
		pos += s.in.len;
	}
	sum = 0;
	double ns_random = bench(code, off, n, rounds, &sum);

	g_assert_cmpuint(sum, ==, (uint64_t)pos * rounds);
	g_test_message("decode speed: %.1f ns/insn typical code, %.1f ns/insn random "
		       "encodings (%u decodes each)", ns_typical, ns_random, n * rounds);
	/* Generous bound so sanitizer builds pass; the figures are printed above. */
	g_assert_cmpfloat(ns_typical, <, 2000.0);
	g_free(code);
	g_free(off);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/x86-decode/addressing", test_addressing);
	g_test_add_func("/x86-decode/segments", test_segments);
	g_test_add_func("/x86-decode/rex", test_rex);
	g_test_add_func("/x86-decode/modes", test_modes);
	g_test_add_func("/x86-decode/modes-valid", test_modes_valid);
	g_test_add_func("/x86-decode/groups", test_groups);
	g_test_add_func("/x86-decode/0f-maps", test_0f_maps);
	g_test_add_func("/x86-decode/lock", test_lock);
	g_test_add_func("/x86-decode/limits", test_limits);
	g_test_add_func("/x86-decode/names", test_names);
	g_test_add_data_func("/x86-decode/objdump/16", GUINT_TO_POINTER(16), test_objdump);
	g_test_add_data_func("/x86-decode/objdump/32", GUINT_TO_POINTER(32), test_objdump);
	g_test_add_data_func("/x86-decode/objdump/64", GUINT_TO_POINTER(64), test_objdump);
	g_test_add_func("/x86-decode/speed", test_speed);
	return g_test_run();
}
