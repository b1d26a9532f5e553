/*
 * x86/x86-64 instruction decoder of the software CPU: prefixes, REX, the opcode
 * maps of opcodes.def, ModRM/SIB/displacement and immediates (Intel SDM Vol. 2
 * ch. 2 "Instruction Format" and Appendix A "Opcode Map").
 */
#include "cpu/decode.h"

#include <glib.h>
#include <string.h>

/* Row-macro vocabulary of opcodes.def. */
#define M1 0
#define M0F 1
#define M38 2
#define M3A 3
#define PA 0 ... 3
#define NP 0
#define P66 1
#define PF3 2
#define PF2 3
#define MA 0 ... 1
#define MM 0
#define MR 1
#define RA 0 ... 7

#define MODRM GH_X86_F_MODRM
#define BYTE GH_X86_F_BYTE
#define LOCKABLE GH_X86_F_LOCKABLE
#define MEM GH_X86_F_MEM
#define REGO GH_X86_F_REGO
#define REGF GH_X86_F_REGF
#define D64 GH_X86_F_D64
#define F64 GH_X86_F_F64
#define I64 GH_X86_F_I64
#define O64 GH_X86_F_O64
#define X87 GH_X86_F_X87
#define MMX GH_X86_F_MMX
#define SSE GH_X86_F_SSE

enum imm_kind { IMM_NONE, IMM_B, IMM_W, IMM_Z, IMM_V, IMM_O, IMM_AP, IMM_WB };
#define IMMK(k) ((uint32_t)(k) << GH_X86_F_IMM_SHIFT)
#define IB IMMK(IMM_B)
#define IW IMMK(IMM_W)
#define IZ IMMK(IMM_Z)
#define IV IMMK(IMM_V)
#define IO IMMK(IMM_O)
#define IAP IMMK(IMM_AP)
#define IWB IMMK(IMM_WB)
#define JB (IMMK(IMM_B) | GH_X86_F_REL)
#define JZ (IMMK(IMM_Z) | GH_X86_F_REL)

#define NOTHING(...)

/* Slots: opcodes whose row is chosen by mandatory prefix and ModRM. */
enum slot {
#define SEL(map, opc, slot) slot,
#define OP NOTHING
#define OPA NOTHING
#define DEF NOTHING
#define SUB NOTHING
#define SUBA NOTHING
#define SUBRM NOTHING
#define RM NOTHING
#define RMA NOTHING
#include "cpu/opcodes.def"
#undef SEL
#undef SUBRM
	NR_SLOTS
};

/* Register-form tables chosen by ModRM.rm (0F 01 mod=11, x87 specials). */
enum rmslot {
#define SEL NOTHING
#define SUBRM(slot, pfx, reg, rmslot) rmslot,
#include "cpu/opcodes.def"
#undef SEL
#undef SUBRM
	NR_RMSLOTS
};
#undef OP
#undef OPA
#undef DEF
#undef SUB
#undef SUBA
#undef RM
#undef RMA

struct op_info {
	const char *name;
	uint32_t flags;
};

static const struct op_info op_info[GH_X86_NR_OPS] = {
	[GH_X86_OP_NONE] = { "(bad)", 0 },
#define OP(map, opc, id, sdm, flags) [GH_X86_OP_##id] = { sdm, flags },
#define SUB(slot, pfx, mod, reg, id, sdm, flags) [GH_X86_OP_##id] = { sdm, flags },
#define RM(rmslot, rm, id, sdm, flags) [GH_X86_OP_##id] = { sdm, flags },
#define DEF(id, sdm, flags) [GH_X86_OP_##id] = { sdm, flags },
#define OPA NOTHING
#define SEL NOTHING
#define SUBA NOTHING
#define SUBRM NOTHING
#define RMA NOTHING
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
};

/*
 * Lookup tables.  An entry is an op id, or a slot (map_tab) / rm table
 * (sub_tab) tagged by the high bits.  Rows with wildcards expand to GNU range
 * designators and more specific rows after them override them, as
 * opcodes.def documents, hence the pragma.
 */
#define TAG_SLOT 0x8000
#define TAG_RM 0x4000
#define TAG_MASK 0x3fff

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static const uint16_t map_tab[4][256] = {
#define OP(map, opc, id, sdm, flags) [map][opc] = GH_X86_OP_##id,
#define OPA(map, opc, id) [map][opc] = GH_X86_OP_##id,
#define SEL(map, opc, slot) [map][opc] = TAG_SLOT | slot,
#define DEF NOTHING
#define SUB NOTHING
#define SUBA NOTHING
#define SUBRM NOTHING
#define RM NOTHING
#define RMA NOTHING
#include "cpu/opcodes.def"
#undef OP
#undef OPA
#undef SEL
#undef SUB
#undef SUBA
#undef SUBRM
};

/* [slot][prefix class][mod == 11][ModRM.reg] */
static const uint16_t sub_tab[NR_SLOTS][4][2][8] = {
#define OP NOTHING
#define OPA NOTHING
#define SEL NOTHING
#define SUB(slot, pfx, mod, reg, id, sdm, flags) [slot][pfx][mod][reg] = GH_X86_OP_##id,
#define SUBA(slot, pfx, mod, reg, id) [slot][pfx][mod][reg] = GH_X86_OP_##id,
#define SUBRM(slot, pfx, reg, rmslot) [slot][pfx][1][reg] = TAG_RM | rmslot,
#include "cpu/opcodes.def"
#undef SUB
#undef SUBA
#undef SUBRM
#undef RM
#undef RMA
};

static const uint16_t rm_tab[NR_RMSLOTS][8] = {
#define SUB NOTHING
#define SUBA NOTHING
#define SUBRM NOTHING
#define RM(rmslot, rm, id, sdm, flags) [rmslot][rm] = GH_X86_OP_##id,
#define RMA(rmslot, rm, id) [rmslot][rm] = GH_X86_OP_##id,
#include "cpu/opcodes.def"
#undef OP
#undef OPA
#undef SEL
#undef DEF
#undef SUB
#undef SUBA
#undef SUBRM
#undef RM
#undef RMA
};
#pragma GCC diagnostic pop

_Static_assert(GH_X86_NR_OPS < TAG_RM, "op ids must fit below the tags");
_Static_assert(NR_SLOTS <= TAG_MASK && NR_RMSLOTS <= TAG_MASK, "too many slots");

const char *gh_x86_op_name(unsigned op)
{
	return op < GH_X86_NR_OPS ? op_info[op].name : "(bad)";
}

uint32_t gh_x86_op_flags(unsigned op)
{
	return op < GH_X86_NR_OPS ? op_info[op].flags : 0;
}

/* Little-endian loads of 1, 2, 4 or 8 bytes (the only immediate sizes). */
static inline uint64_t load_le(const uint8_t *p, unsigned n)
{
	uint16_t w;
	uint32_t d;
	uint64_t q;

	switch (n) {
	case 1:
		return p[0];
	case 2:
		memcpy(&w, p, 2);
		return GUINT16_FROM_LE(w);
	case 4:
		memcpy(&d, p, 4);
		return GUINT32_FROM_LE(d);
	default:
		memcpy(&q, p, 8);
		return GUINT64_FROM_LE(q);
	}
}

static inline int64_t sext(uint64_t v, unsigned n)
{
	unsigned sh = 64 - 8 * n;

	return (int64_t)(v << sh) >> sh;
}

/* 16-bit ModRM.rm: base and index registers (BX=3, BP=5, SI=6, DI=7). */
static const uint8_t rm16_base[8] = { 3, 3, 5, 5, 6, 7, 5, 3 };
static const uint8_t rm16_index[8] = { 6, 7, 6, 7, GH_X86_REG_NONE, GH_X86_REG_NONE,
				       GH_X86_REG_NONE, GH_X86_REG_NONE };

enum { PK_NONE, PK_SEG, PK_OPSIZE, PK_ADSIZE, PK_LOCK, PK_REPNE, PK_REP };

static const uint8_t prefix_kind[256] = {
	[0x26] = PK_SEG, [0x2e] = PK_SEG, [0x36] = PK_SEG, [0x3e] = PK_SEG,
	[0x64] = PK_SEG, [0x65] = PK_SEG, [0x66] = PK_OPSIZE, [0x67] = PK_ADSIZE,
	[0xf0] = PK_LOCK, [0xf2] = PK_REPNE, [0xf3] = PK_REP,
};

/*
 * Bytes are fetched only within min(avail, 15): past 15 the instruction is
 * too long (#GP), before that the caller may have more bytes to give.
 */
#define NEED(n)								\
	do {								\
		if (pos + (n) > lim) {					\
			out->len = pos;					\
			return pos + (n) > GH_X86_MAX_LEN ?		\
				GH_DECODE_GP : GH_DECODE_MORE;		\
		}							\
	} while (0)

#define FAIL_UD()							\
	do {								\
		out->len = pos;						\
		return GH_DECODE_UD;					\
	} while (0)

int gh_x86_decode(const uint8_t *buf, size_t avail, unsigned mode_bits,
		  struct gh_x86_insn *out)
{
	const unsigned lim = avail < GH_X86_MAX_LEN ? (unsigned)avail : GH_X86_MAX_LEN;
	const bool m64 = mode_bits == 64;
	unsigned pos = 0, pfx = 0, last = 0, rep = 0, segp = GH_X86_SEG_NONE, rex = 0;
	unsigned b, map = 0, id, flags, modrm = 0, mod = 0, reg = 0, rm = 0;
	bool has_modrm = false;

	memset(out, 0, sizeof(*out));
	out->mem.base = GH_X86_REG_NONE;
	out->mem.index = GH_X86_REG_NONE;
	out->mem.scale = 1;

	/* Legacy prefixes in any order; a REX counts only right before the opcode. */
	for (;;) {
		NEED(1);
		b = buf[pos];
		if (__builtin_expect(!prefix_kind[b], 1)) {
			if (m64 && (b & 0xf0) == 0x40) {
				rex = b;
				pos++;
				continue;
			}
			break;
		}
		switch (prefix_kind[b]) {
		case PK_SEG:
			segp = b < 0x40 ? (b >> 3) & 3 : b - 0x60;
			break;
		case PK_OPSIZE:
			pfx |= GH_X86_PFX_OPSIZE;
			last = b;
			break;
		case PK_ADSIZE:
			pfx |= GH_X86_PFX_ADSIZE;
			break;
		case PK_LOCK:
			pfx |= GH_X86_PFX_LOCK;
			break;
		case PK_REPNE:
			pfx |= GH_X86_PFX_REPNE;
			last = b;
			rep = PF2;
			break;
		case PK_REP:
			pfx |= GH_X86_PFX_REP;
			last = b;
			rep = PF3;
			break;
		}
		rex = 0;
		pos++;
	}

	pos++;
	if (b == 0x0f) {
		NEED(1);
		b = buf[pos++];
		map = M0F;
		if (b == 0x38 || b == 0x3a) {
			map = b == 0x38 ? M38 : M3A;
			NEED(1);
			b = buf[pos++];
		}
	} else if (b == 0xc4 || b == 0xc5 || b == 0x62) {
		/* VEX/EVEX unless a legacy-mode memory form of LES/LDS/BOUND. */
		if (m64)
			FAIL_UD();
		NEED(1);
		if ((buf[pos] & 0xc0) == 0xc0)
			FAIL_UD();
	}

	/* Prefix class for mandatory prefixes: F2/F3 (the last one) beat 66. */
	const unsigned pcls = rep ? rep : (pfx & GH_X86_PFX_OPSIZE) ? P66 : NP;

	id = map_tab[map][b];
	if (id & TAG_SLOT) {
		const unsigned slot = id & TAG_MASK;

		id = sub_tab[slot][pcls][0][0];
		if (!id || (op_info[id].flags & GH_X86_F_MODRM)) {
			NEED(1);
			modrm = buf[pos++];
			has_modrm = true;
			id = sub_tab[slot][pcls][modrm >> 6 == 3][(modrm >> 3) & 7];
			if (id & TAG_RM)
				id = rm_tab[id & TAG_MASK][modrm & 7];
		}
	}
	if (map == M1) {
		if (b == 0x63 && m64)
			id = GH_X86_OP_MOVSXD_Gv_Ed;
		else if (b == 0x90 && (rex & 1))
			id = GH_X86_OP_XCHG_Zv_rAX;
	}
	if (!id)
		FAIL_UD();
	flags = op_info[id].flags;

	/* Operand and address size (SDM 2.2.1.2, 3.6). */
	unsigned opsize, addrsize;
	const bool osz = pfx & GH_X86_PFX_OPSIZE;

	if (m64) {
		addrsize = pfx & GH_X86_PFX_ADSIZE ? 4 : 8;
		if (flags & GH_X86_F_F64)
			opsize = 8;	/* Intel ignores 66 here */
		else if (rex & 8)
			opsize = 8;
		else if (flags & GH_X86_F_D64)
			opsize = osz ? 2 : 8;
		else
			opsize = osz ? 2 : 4;
	} else if (mode_bits == 32) {
		addrsize = pfx & GH_X86_PFX_ADSIZE ? 2 : 4;
		opsize = osz ? 2 : 4;
	} else {
		addrsize = pfx & GH_X86_PFX_ADSIZE ? 4 : 2;
		opsize = osz ? 4 : 2;
	}

	unsigned seg = GH_X86_SEG_DS;

	if (flags & GH_X86_F_MODRM) {
		if (!has_modrm) {
			NEED(1);
			modrm = buf[pos++];
			has_modrm = true;
		}
		mod = modrm >> 6;
		reg = ((modrm >> 3) & 7) | (rex & 4) << 1;
		rm = modrm & 7;
		if (flags & GH_X86_F_REGF)
			mod = 3;
		if (mod == 3) {
			rm |= (rex & 1) << 3;
		} else if (addrsize == 2) {
			struct gh_x86_mem *m = &out->mem;

			if (mod == 0 && rm == 6) {
				NEED(2);
				m->disp = sext(load_le(buf + pos, 2), 2);
				pos += 2;
			} else {
				m->base = rm16_base[rm];
				m->index = rm16_index[rm];
				if (m->base == 5)
					seg = GH_X86_SEG_SS;
				if (mod == 1) {
					NEED(1);
					m->disp = (int8_t)buf[pos++];
				} else if (mod == 2) {
					NEED(2);
					m->disp = sext(load_le(buf + pos, 2), 2);
					pos += 2;
				}
			}
			out->has_mem = true;
		} else {
			struct gh_x86_mem *m = &out->mem;
			unsigned base = rm;

			if (rm == 4) {
				NEED(1);
				const unsigned sib = buf[pos++];
				const unsigned idx = ((sib >> 3) & 7) | (rex & 2) << 2;

				base = sib & 7;
				if (idx != 4)
					m->index = idx;
				m->scale = 1 << (sib >> 6);
				if (base == 5 && mod == 0) {
					NEED(4);
					m->disp = sext(load_le(buf + pos, 4), 4);
					pos += 4;
					base = GH_X86_REG_NONE;
				}
			} else if (rm == 5 && mod == 0) {
				NEED(4);
				m->disp = sext(load_le(buf + pos, 4), 4);
				pos += 4;
				m->rip_rel = m64;
				base = GH_X86_REG_NONE;
			}
			if (base != GH_X86_REG_NONE) {
				/* rSP/rBP, not r12/r13, default to SS. */
				m->base = base | (rex & 1) << 3;
				if (m->base == 4 || m->base == 5)
					seg = GH_X86_SEG_SS;
			}
			if (mod == 1) {
				NEED(1);
				m->disp = (int8_t)buf[pos++];
			} else if (mod == 2) {
				NEED(4);
				m->disp = sext(load_le(buf + pos, 4), 4);
				pos += 4;
			}
			out->has_mem = true;
		}
	} else {
		/* +r opcodes name their register in the low bits. */
		rm = (b & 7) | (rex & 1) << 3;
	}

	/* Immediates. */
	unsigned isz = 0, i2sz = 0;

	switch ((flags & GH_X86_F_IMM_MASK) >> GH_X86_F_IMM_SHIFT) {
	case IMM_B:
		isz = 1;
		break;
	case IMM_W:
		isz = 2;
		break;
	case IMM_Z:
		isz = opsize == 2 ? 2 : 4;
		break;
	case IMM_V:
		isz = opsize;
		break;
	case IMM_O:
		isz = addrsize;
		break;
	case IMM_AP:
		isz = opsize == 2 ? 2 : 4;
		i2sz = 2;
		break;
	case IMM_WB:
		isz = 2;
		i2sz = 1;
		break;
	}
	if (isz) {
		NEED(isz + i2sz);
		const uint64_t v = load_le(buf + pos, isz);

		out->imm = sext(v, isz);
		if (i2sz)
			out->imm2 = load_le(buf + pos + isz, i2sz);
		pos += isz + i2sz;
		if ((flags & GH_X86_F_IMM_MASK) == IO) {
			out->imm = (int64_t)v;
			out->mem.disp = (int64_t)v;
			out->has_mem = true;
		} else if ((flags & GH_X86_F_IMM_MASK) == IAP ||
			   (flags & GH_X86_F_IMM_MASK) == IWB) {
			out->imm = (int64_t)v;
		}
	}

	out->len = pos;

	/* Validity, after the length is known (SDM 2.2.1.1, 2.5, Table A-1). */
	if (m64 ? (flags & GH_X86_F_I64) : (flags & GH_X86_F_O64))
		return GH_DECODE_UD;
	if ((flags & GH_X86_F_MEM) && mod == 3)
		return GH_DECODE_UD;
	if ((flags & GH_X86_F_REGO) && mod != 3)
		return GH_DECODE_UD;
	if ((pfx & GH_X86_PFX_LOCK) && (!(flags & GH_X86_F_LOCKABLE) || mod == 3))
		return GH_DECODE_UD;
	switch (id) {
	case GH_X86_OP_MOV_Sw_Ew:
		if ((reg & 7) == GH_X86_SEG_CS)
			return GH_DECODE_UD;
		/* fall through */
	case GH_X86_OP_MOV_Ev_Sw:
		if ((reg & 7) > GH_X86_SEG_GS)
			return GH_DECODE_UD;
		break;
	case GH_X86_OP_MOV_Rd_Cd:
	case GH_X86_OP_MOV_Cd_Rd:
		if (reg == 1 || (reg > 4 && reg != 8))
			return GH_DECODE_UD;
		break;
	case GH_X86_OP_MOV_Rd_Dd:
	case GH_X86_OP_MOV_Dd_Rd:
		if (reg > 7)
			return GH_DECODE_UD;
		break;
	case GH_X86_OP_CMPXCHG8B_Mq:
		if (rex & 8)
			id = GH_X86_OP_CMPXCHG16B_Mdq;
		break;
	}

	out->op = id;
	out->opsize = opsize;
	out->addrsize = addrsize;
	if (segp != GH_X86_SEG_NONE && (!m64 || segp >= GH_X86_SEG_FS))
		seg = segp;
	out->seg = seg;
	out->seg_prefix = segp;
	out->prefix = pfx;
	out->last_pfx = last;
	out->rex = rex;
	out->map = map;
	out->opcode = b;
	out->modrm = modrm;
	out->mod = mod;
	out->reg = reg;
	out->rm = rm;
	out->has_modrm = has_modrm;
	out->imm_size = isz;
	out->imm2_size = i2sz;
	return 0;
}
