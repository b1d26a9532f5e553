/*
 * x86/x86-64 instruction decoder of the software CPU (Intel SDM Vol. 2, ch. 2 and
 * Appendix A).  Decodes one instruction from bytes; usable on its own.
 */
#ifndef GH_CPU_DECODE_H
#define GH_CPU_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Op ids, one per row of opcodes.def; 0 is "no instruction". */
enum gh_x86_op {
	GH_X86_OP_NONE = 0,
#define OP(map, opc, id, sdm, flags) GH_X86_OP_##id,
#define SUB(slot, pfx, mod, reg, id, sdm, flags) GH_X86_OP_##id,
#define RM(rmslot, rm, id, sdm, flags) GH_X86_OP_##id,
#define DEF(id, sdm, flags) GH_X86_OP_##id,
#define OPA(...)
#define SEL(...)
#define SUBA(...)
#define SUBRM(...)
#define RMA(...)
#include "cpu/opcodes.def"
#undef OP
#undef SUB
#undef RM
#undef DEF
#undef OPA
#undef SEL
#undef SUBA
#undef SUBRM
#undef RMA
	GH_X86_NR_OPS
};

/* Return values of gh_x86_decode() besides 0. */
#define GH_DECODE_UD	1	/* undefined or invalid here: raise #UD */
#define GH_DECODE_GP	2	/* longer than 15 bytes: raise #GP(0) */
#define GH_DECODE_MORE	3	/* the bytes end before the instruction does */

#define GH_X86_MAX_LEN	15
#define GH_X86_REG_NONE	0xff

/* Segment numbers follow the encoding (and gh/cpu-state.h): ES CS SS DS FS GS. */
#define GH_X86_SEG_ES	0
#define GH_X86_SEG_CS	1
#define GH_X86_SEG_SS	2
#define GH_X86_SEG_DS	3
#define GH_X86_SEG_FS	4
#define GH_X86_SEG_GS	5
#define GH_X86_SEG_NONE	0xff

/* insn.prefix bits */
#define GH_X86_PFX_LOCK		0x01
#define GH_X86_PFX_REP		0x02	/* F3 seen */
#define GH_X86_PFX_REPNE	0x04	/* F2 seen */
#define GH_X86_PFX_OPSIZE	0x08	/* 66 seen */
#define GH_X86_PFX_ADSIZE	0x10	/* 67 seen */

/* Op flags (gh_x86_op_flags()), the attribute columns of opcodes.def. */
#define GH_X86_F_MODRM		(1u << 0)
#define GH_X86_F_BYTE		(1u << 1)	/* b-sized operands: the byte form */
#define GH_X86_F_LOCKABLE	(1u << 2)
#define GH_X86_F_MEM		(1u << 3)	/* ModRM must name memory */
#define GH_X86_F_REGO		(1u << 4)	/* ModRM must name a register */
#define GH_X86_F_REGF		(1u << 5)	/* mod is ignored, always a register */
#define GH_X86_F_D64		(1u << 6)	/* default 64-bit operand in long mode */
#define GH_X86_F_F64		(1u << 7)	/* forced 64-bit operand in long mode */
#define GH_X86_F_I64		(1u << 8)	/* invalid in 64-bit mode */
#define GH_X86_F_O64		(1u << 9)	/* valid only in 64-bit mode */
#define GH_X86_F_X87		(1u << 10)
#define GH_X86_F_MMX		(1u << 11)
#define GH_X86_F_SSE		(1u << 12)
#define GH_X86_F_REL		(1u << 13)	/* imm is a branch displacement */
#define GH_X86_F_IMM_SHIFT	16		/* 4 bits of immediate kind */
#define GH_X86_F_IMM_MASK	(0xfu << GH_X86_F_IMM_SHIFT)

/*
 * Memory operand: address = base + index * scale + disp (+ the next
 * instruction's RIP when rip_rel), truncated to insn.addrsize by the user.
 */
struct gh_x86_mem {
	int64_t disp;		/* sign-extended; moffs is zero-extended */
	uint8_t base;		/* 0-15 or GH_X86_REG_NONE */
	uint8_t index;		/* 0-15 or GH_X86_REG_NONE */
	uint8_t scale;		/* 1, 2, 4 or 8 */
	bool rip_rel;		/* mod=00 rm=101 in 64-bit mode (RIP or EIP) */
};

struct gh_x86_insn {
	uint16_t op;		/* enum gh_x86_op */
	uint8_t len;		/* 1-15 */
	uint8_t opsize;		/* 2, 4 or 8 for v operands (b forms: GH_X86_F_BYTE) */
	uint8_t addrsize;	/* 2, 4 or 8 */
	uint8_t seg;		/* effective segment of the memory operand */
	uint8_t seg_prefix;	/* last segment prefix as seen, or GH_X86_SEG_NONE */
	uint8_t prefix;		/* GH_X86_PFX_* */
	uint8_t last_pfx;	/* last of 66/F2/F3 as seen, or 0 */
	uint8_t rex;		/* the REX byte in effect (0x40-0x4f), or 0 */
	uint8_t map;		/* 0 one-byte, 1 0F, 2 0F 38, 3 0F 3A */
	uint8_t opcode;		/* the last opcode byte */
	uint8_t modrm;		/* raw byte, when has_modrm */
	uint8_t mod;		/* 0-3 */
	uint8_t reg;		/* ModRM.reg with REX.R: 0-15 */
	uint8_t rm;		/* ModRM.rm with REX.B when mod=3 (or the register of
				 * +r opcodes with REX.B): 0-15 */
	bool has_modrm;
	bool has_mem;		/* mem is valid */
	uint8_t imm_size;	/* bytes of imm in the encoding (0 if none) */
	uint8_t imm2_size;
	/*
	 * Not set by the decoder: the interpreter's copy of mem and seg for
	 * its fast forms (exec.h): the base, index and segment base as words
	 * of its CPU state, log2 of the scale.
	 */
	uint8_t x_base, x_index, x_shift, x_seg;
	struct gh_x86_mem mem;
	int64_t imm;		/* sign-extended from imm_size; for ENTER Iw, for far
				 * pointers the offset, for moffs the offset */
	uint64_t imm2;		/* ENTER's Ib, a far pointer's selector */
};

/*
 * Decode one instruction at buf (avail bytes; at most 15 are read) in a
 * 16-, 32- or 64-bit code segment.  Returns 0 or GH_DECODE_*; on UD and GP
 * out->len is how far decoding got.  Never allocates or touches globals.
 */
int gh_x86_decode(const uint8_t *buf, size_t avail, unsigned mode_bits,
		  struct gh_x86_insn *out);

/* The SDM row of an op ("ADD Eb,Gb"), or "(bad)" for an unknown id. */
const char *gh_x86_op_name(unsigned op);

/* The GH_X86_F_* attributes of an op. */
uint32_t gh_x86_op_flags(unsigned op);

/*
 * A byte register number (ModRM reg/rm, 0-15) as a GPR index and a high-byte
 * flag: without any REX prefix 4-7 are AH, CH, DH, BH; with one they are SPL,
 * BPL, SIL, DIL.
 */
static inline unsigned gh_x86_byte_reg(const struct gh_x86_insn *insn, unsigned r,
				       bool *high)
{
	*high = !insn->rex && r >= 4 && r < 8;
	return *high ? r - 4 : r;
}

#endif
