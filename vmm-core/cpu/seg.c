/*
 * Segmentation: descriptor reads, segment register loads (SDM vol. 3A,
 * chapters 3 and 5; vol. 2, MOV/POP Sreg) and far JMP/CALL/RET through
 * code segments and call gates (vol. 2 pseudo-code, vol. 3A 5.8).
 */
#include "cpu/cpu-internal.h"

#include <string.h>

static bool is_64bit_code(const struct gh_cpu *cpu, const struct gh_segment *cs)
{
	return gh_cpu_long_mode(cpu) && cs->l;
}

static void table_of(struct gh_cpu *cpu, uint16_t sel, unsigned err_vector,
		     uint64_t *base, uint32_t *limit)
{
	if (sel & 4) {
		if (cpu->ldtr.unusable || gh_sel_null(cpu->ldtr.selector))
			gh_cpu_raise_sel(cpu, err_vector, sel);
		*base = cpu->ldtr.base;
		*limit = cpu->ldtr.limit;
	} else {
		*base = cpu->gdtr.base;
		*limit = cpu->gdtr.limit;
	}
}

void gh_cpu_read_descriptor(struct gh_cpu *cpu, uint16_t sel, bool wide,
			    unsigned err_vector, struct gh_descriptor *d)
{
	uint64_t base;
	uint32_t limit;
	uint32_t off = sel & ~7u;
	unsigned len = wide ? 16 : 8;

	table_of(cpu, sel, err_vector, &base, &limit);
	if (off + len - 1 > limit)
		gh_cpu_raise_sel(cpu, err_vector, sel);
	d->raw[1] = 0;
	gh_cpu_read_sys(cpu, base + off, d->raw, len);
}

void gh_cpu_write_descriptor_hi(struct gh_cpu *cpu, uint16_t sel, uint32_t hi)
{
	uint64_t base;
	uint32_t limit;

	table_of(cpu, sel, GH_EXC_GP, &base, &limit);
	gh_cpu_write_sys(cpu, base + (sel & ~7u) + 4, &hi, 4);
}

void gh_cpu_parse_descriptor(const struct gh_descriptor *d, uint16_t sel,
			     struct gh_segment *seg)
{
	uint64_t lo = d->raw[0];
	uint32_t limit = (lo & 0xffff) | ((lo >> 32) & 0xf0000);

	memset(seg, 0, sizeof(*seg));
	seg->selector = sel;
	seg->base = ((lo >> 16) & 0xffffff) | (((lo >> 56) & 0xff) << 24);
	seg->type = (lo >> 40) & 0xf;
	seg->s = (lo >> 44) & 1;
	seg->dpl = (lo >> 45) & 3;
	seg->present = (lo >> 47) & 1;
	seg->avl = (lo >> 52) & 1;
	seg->l = (lo >> 53) & 1;
	seg->db = (lo >> 54) & 1;
	seg->g = (lo >> 55) & 1;
	seg->limit = seg->g ? (limit << 12) | 0xfff : limit;
	/* long-mode system descriptors carry base bits 63:32 in raw[1] */
	if (!seg->s)
		seg->base |= (d->raw[1] & 0xffffffff) << 32;
}

void gh_cpu_set_accessed(struct gh_cpu *cpu, struct gh_descriptor *d,
			 struct gh_segment *seg)
{
	if (!seg->s || (seg->type & 1))
		return;
	seg->type |= 1;
	d->raw[0] |= 1ULL << 40;
	gh_cpu_write_descriptor_hi(cpu, seg->selector, d->raw[0] >> 32);
}

static void null_seg(struct gh_segment *seg, uint16_t sel)
{
	memset(seg, 0, sizeof(*seg));
	seg->selector = sel;
	seg->unusable = 1;
}

void gh_cpu_null_ss(struct gh_segment *ss, unsigned cpl)
{
	/* DPL keeps naming the CPL: the state interface derives CPL from it */
	null_seg(ss, cpl);
	ss->dpl = cpl;
	ss->s = 1;
	ss->type = 3;
}

void gh_cpu_load_seg_real(struct gh_cpu *cpu, unsigned sreg, uint16_t sel)
{
	struct gh_segment *seg = &cpu->seg[sreg];

	seg->selector = sel;
	seg->base = (uint32_t)sel << 4;
	seg->unusable = 0;
	if (cpu->mode != GH_MODE_V86)
		return; /* real mode keeps limit and attributes ("unreal" mode) */
	seg->limit = 0xffff;
	seg->type = sreg == GH_CS ? 0xb : 0x3;
	seg->s = 1;
	seg->dpl = 3;
	seg->present = 1;
	seg->avl = 0;
	seg->l = 0;
	seg->db = 0;
	seg->g = 0;
}

/* MOV/POP Sreg in protected mode (SDM vol. 2, MOV: "Protected Mode"). */
void gh_cpu_load_seg(struct gh_cpu *cpu, unsigned sreg, uint16_t sel)
{
	struct gh_descriptor d;
	struct gh_segment seg;
	unsigned rpl = sel & 3;

	if (cpu->mode == GH_MODE_REAL || cpu->mode == GH_MODE_V86) {
		gh_cpu_load_seg_real(cpu, sreg, sel);
		return;
	}
	g_assert(sreg != GH_CS && sreg < GH_NR_SEGS);

	if (sreg == GH_SS) {
		if (gh_sel_null(sel)) {
			/* 64-bit mode allows a null SS below CPL 3 (SDM 5.8.6) */
			if (cpu->mode == GH_MODE_LONG && cpu->cpl != 3 &&
			    rpl == cpu->cpl) {
				gh_cpu_null_ss(&cpu->seg[GH_SS], cpu->cpl);
				cpu->seg[GH_SS].selector = sel;
				return;
			}
			gh_cpu_raise(cpu, GH_EXC_GP, 0);
		}
		gh_cpu_read_descriptor(cpu, sel, false, GH_EXC_GP, &d);
		gh_cpu_parse_descriptor(&d, sel, &seg);
		if (rpl != cpu->cpl || !gh_seg_writable_data(&seg) || seg.dpl != cpu->cpl)
			gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
		if (!seg.present)
			gh_cpu_raise_sel(cpu, GH_EXC_SS, sel);
	} else {
		if (gh_sel_null(sel)) {
			/* Intel clears the base of a null FS/GS, even in 64-bit mode */
			null_seg(&cpu->seg[sreg], sel);
			return;
		}
		gh_cpu_read_descriptor(cpu, sel, false, GH_EXC_GP, &d);
		gh_cpu_parse_descriptor(&d, sel, &seg);
		if (!seg.s || (gh_seg_is_code(&seg) && !(seg.type & 2)))
			gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
		if (!gh_seg_conforming(&seg) && (rpl > seg.dpl || cpu->cpl > seg.dpl))
			gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
		if (!seg.present)
			gh_cpu_raise_sel(cpu, GH_EXC_NP, sel);
	}
	gh_cpu_set_accessed(cpu, &d, &seg);
	cpu->seg[sreg] = seg;
}

void gh_cpu_set_cs(struct gh_cpu *cpu, const struct gh_segment *cs, unsigned cpl)
{
	cpu->seg[GH_CS] = *cs;
	cpu->seg[GH_CS].selector = (cs->selector & ~3) | cpl;
	cpu->cpl = cpl;
	gh_cpu_update_mode(cpu);
}

void gh_cpu_invalidate_segs_for_cpl(struct gh_cpu *cpu)
{
	static const unsigned sregs[] = {GH_ES, GH_DS, GH_FS, GH_GS};

	for (unsigned i = 0; i < G_N_ELEMENTS(sregs); i++) {
		struct gh_segment *seg = &cpu->seg[sregs[i]];

		if (seg->unusable || gh_seg_conforming(seg))
			continue;
		if (seg->dpl < cpu->cpl) {
			seg->selector = 0;
			seg->unusable = 1;
		}
	}
}

void gh_cpu_check_ip(struct gh_cpu *cpu, const struct gh_segment *cs, uint64_t ip)
{
	if (is_64bit_code(cpu, cs)) {
		if (!gh_cpu_canonical(ip))
			gh_cpu_raise(cpu, GH_EXC_GP, 0);
	} else if (ip > cs->limit) {
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	}
}

/* A code segment named by a far JMP/CALL or a gate: present, and not the
 * reserved L=1/D=1 combination of long mode. */
static void read_code(struct gh_cpu *cpu, uint16_t sel, struct gh_descriptor *d,
		      struct gh_segment *seg)
{
	gh_cpu_read_descriptor(cpu, sel, false, GH_EXC_GP, d);
	gh_cpu_parse_descriptor(d, sel, seg);
	if (!gh_seg_is_code(seg))
		gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
	if (gh_cpu_long_mode(cpu) && seg->l && seg->db)
		gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
}

void gh_cpu_check_ret_cs(struct gh_cpu *cpu, uint16_t sel, struct gh_segment *cs)
{
	struct gh_descriptor d;
	unsigned rpl = sel & 3;

	if (gh_sel_null(sel))
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	read_code(cpu, sel, &d, cs);
	if (rpl < cpu->cpl)
		gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
	if (gh_seg_conforming(cs) ? cs->dpl > rpl : cs->dpl != rpl)
		gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
	if (!cs->present)
		gh_cpu_raise_sel(cpu, GH_EXC_NP, sel);
	gh_cpu_set_accessed(cpu, &d, cs);
}

void gh_cpu_check_ret_ss(struct gh_cpu *cpu, uint16_t sel, unsigned rpl, bool to64,
			 struct gh_segment *ss)
{
	struct gh_descriptor d;

	if (gh_sel_null(sel)) {
		if (to64 && rpl != 3 && (sel & 3) == rpl) {
			gh_cpu_null_ss(ss, rpl);
			ss->selector = sel;
			return;
		}
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	}
	gh_cpu_read_descriptor(cpu, sel, false, GH_EXC_GP, &d);
	gh_cpu_parse_descriptor(&d, sel, ss);
	if ((sel & 3) != rpl || !gh_seg_writable_data(ss) || ss->dpl != rpl)
		gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
	if (!ss->present)
		gh_cpu_raise_sel(cpu, GH_EXC_SS, sel);
	gh_cpu_set_accessed(cpu, &d, ss);
}

static uint64_t ip_mask(unsigned opsize)
{
	return opsize == 8 ? ~0ULL : opsize == 4 ? 0xffffffffULL : 0xffffULL;
}

/* A far transfer in real or V86 mode: the new CS is a paragraph number. */
static void far_real(struct gh_cpu *cpu, uint16_t sel, uint64_t off, unsigned opsize,
		     bool call)
{
	struct gh_stack st;

	off &= ip_mask(opsize);
	/* the limit that applies is the one CS keeps after the load */
	if (off > cpu->seg[GH_CS].limit)
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	if (call) {
		gh_cpu_stack_init(cpu, &st, &cpu->seg[GH_SS], cpu->gpr[GH_RSP], cpu->cpl,
				  0);
		gh_cpu_stack_push(cpu, &st, cpu->seg[GH_CS].selector, opsize);
		gh_cpu_stack_push(cpu, &st, cpu->rip, opsize);
		cpu->gpr[GH_RSP] = st.sp;
	}
	gh_cpu_load_seg_real(cpu, GH_CS, sel);
	cpu->rip = off;
}

/* Direct transfer to a code segment (SDM 5.8.1). */
static void far_to_code(struct gh_cpu *cpu, uint16_t sel, struct gh_descriptor *d,
			struct gh_segment *cs, uint64_t off, unsigned opsize, bool call)
{
	struct gh_stack st;
	unsigned rpl = sel & 3;

	if (gh_cpu_long_mode(cpu) && cs->l && cs->db)
		gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
	if (gh_seg_conforming(cs) ? cs->dpl > cpu->cpl
				  : (rpl > cpu->cpl || cs->dpl != cpu->cpl))
		gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
	if (!cs->present)
		gh_cpu_raise_sel(cpu, GH_EXC_NP, sel);
	off &= ip_mask(opsize);
	gh_cpu_check_ip(cpu, cs, off);
	gh_cpu_stack_init(cpu, &st, &cpu->seg[GH_SS], cpu->gpr[GH_RSP], cpu->cpl, 0);
	if (call) {
		gh_cpu_stack_push(cpu, &st, cpu->seg[GH_CS].selector, opsize);
		gh_cpu_stack_push(cpu, &st, cpu->rip, opsize);
	}
	gh_cpu_set_accessed(cpu, d, cs);
	cpu->gpr[GH_RSP] = st.sp;
	gh_cpu_set_cs(cpu, cs, cpu->cpl);
	cpu->rip = off;
}

/* JMP/CALL through a call gate (SDM 5.8.4-5.8.6). */
static void far_gate(struct gh_cpu *cpu, uint16_t gsel, const struct gh_descriptor *g,
		     bool call)
{
	unsigned type = gh_desc_type(g);
	unsigned gsize = gh_cpu_long_mode(cpu) ? 8 : (type & 8) ? 4 : 2;
	uint16_t tsel = (g->raw[0] >> 16) & 0xffff;
	unsigned nparams = (g->raw[0] >> 32) & 0x1f;
	uint64_t off = g->raw[0] & 0xffff;
	struct gh_descriptor td, sd;
	struct gh_segment cs, ss;
	struct gh_stack st, nst;
	uint64_t new_sp;
	unsigned i;

	if (gsize >= 4)
		off |= (g->raw[0] >> 32) & 0xffff0000;
	if (gsize == 8)
		off |= (g->raw[1] & 0xffffffff) << 32;
	if (gh_desc_dpl(g) < cpu->cpl || gh_desc_dpl(g) < (gsel & 3u))
		gh_cpu_raise_sel(cpu, GH_EXC_GP, gsel);
	if (!gh_desc_present(g))
		gh_cpu_raise_sel(cpu, GH_EXC_NP, gsel);
	if (gh_sel_null(tsel))
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	read_code(cpu, tsel, &td, &cs);
	if (cs.dpl > cpu->cpl)
		gh_cpu_raise_sel(cpu, GH_EXC_GP, tsel);
	if (gsize == 8 && !(cs.l && !cs.db))
		gh_cpu_raise_sel(cpu, GH_EXC_GP, tsel);
	if (!call && !gh_seg_conforming(&cs) && cs.dpl != cpu->cpl)
		gh_cpu_raise_sel(cpu, GH_EXC_GP, tsel);
	if (!cs.present)
		gh_cpu_raise_sel(cpu, GH_EXC_NP, tsel);
	gh_cpu_check_ip(cpu, &cs, off);

	gh_cpu_stack_init(cpu, &st, &cpu->seg[GH_SS], cpu->gpr[GH_RSP], cpu->cpl, 0);
	if (!call || gh_seg_conforming(&cs) || cs.dpl == cpu->cpl) {
		unsigned cpl = cpu->cpl;

		if (call) {
			gh_cpu_stack_push(cpu, &st, cpu->seg[GH_CS].selector, gsize);
			gh_cpu_stack_push(cpu, &st, cpu->rip, gsize);
		}
		gh_cpu_set_accessed(cpu, &td, &cs);
		cpu->gpr[GH_RSP] = st.sp;
		gh_cpu_set_cs(cpu, &cs, cpl);
		cpu->rip = off;
		return;
	}

	/* CALL to more privileged code: switch to the TSS's stack for it */
	if (gsize == 8) {
		uint16_t unused;

		gh_cpu_tss_stack(cpu, cs.dpl, 0, &unused, &new_sp);
		gh_cpu_null_ss(&ss, cs.dpl);
	} else {
		gh_cpu_tss_ss(cpu, cs.dpl, &sd, &ss, &new_sp);
	}
	gh_cpu_stack_init(cpu, &nst, &ss, new_sp, cs.dpl, ss.selector & 0xfffc);
	if (gsize == 8) {
		nst.width = 8;
		nst.base = 0;
	}
	gh_cpu_stack_push(cpu, &nst, cpu->seg[GH_SS].selector, gsize);
	gh_cpu_stack_push(cpu, &nst, cpu->gpr[GH_RSP], gsize);
	/* parameters keep their order: the deepest is copied first */
	for (i = nparams; gsize != 8 && i > 0; i--)
		gh_cpu_stack_push(cpu, &nst,
				  gh_cpu_stack_peek(cpu, &st, (i - 1) * gsize, gsize),
				  gsize);
	gh_cpu_stack_push(cpu, &nst, cpu->seg[GH_CS].selector, gsize);
	gh_cpu_stack_push(cpu, &nst, cpu->rip, gsize);

	if (gsize != 8)
		gh_cpu_set_accessed(cpu, &sd, &ss);
	gh_cpu_set_accessed(cpu, &td, &cs);
	cpu->seg[GH_SS] = ss;
	cpu->gpr[GH_RSP] = nst.sp;
	gh_cpu_set_cs(cpu, &cs, cs.dpl);
	cpu->rip = off;
}

static void far_transfer(struct gh_cpu *cpu, uint16_t sel, uint64_t off, unsigned opsize,
			 bool call)
{
	struct gh_descriptor d;
	struct gh_segment seg;
	bool lm = gh_cpu_long_mode(cpu);

	if (cpu->mode == GH_MODE_REAL || cpu->mode == GH_MODE_V86) {
		far_real(cpu, sel, off, opsize, call);
		return;
	}
	if (gh_sel_null(sel))
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
	gh_cpu_read_descriptor(cpu, sel, false, GH_EXC_GP, &d);
	gh_cpu_parse_descriptor(&d, sel, &seg);
	if (seg.s) {
		if (!gh_seg_is_code(&seg))
			gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
		far_to_code(cpu, sel, &d, &seg, off, opsize, call);
		return;
	}
	switch (seg.type) {
	case 0xc: /* 32-bit call gate; 64-bit in long mode */
		if (lm) {
			gh_cpu_read_descriptor(cpu, sel, true, GH_EXC_GP, &d);
			/* the upper half's type field must read 0 (SDM 5.8.3.1) */
			if ((d.raw[1] >> 40) & 0x1f)
				gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
		}
		far_gate(cpu, sel, &d, call);
		return;
	case 0x4: /* 16-bit call gate */
		if (lm)
			break;
		far_gate(cpu, sel, &d, call);
		return;
	case 0x5: /* task gate */
	case 0x1: /* available 16-bit TSS */
	case 0x9: /* available 32-bit TSS */
		if (lm)
			break;
		if (seg.dpl < cpu->cpl || seg.dpl < (sel & 3u))
			gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
		if (!seg.present)
			gh_cpu_raise_sel(cpu, GH_EXC_NP, sel);
		if (seg.type == 0x5) {
			uint16_t tss = (d.raw[0] >> 16) & 0xffff;

			if (tss & 4)
				gh_cpu_raise_sel(cpu, GH_EXC_GP, tss);
			gh_cpu_read_descriptor(cpu, tss, false, GH_EXC_GP, &d);
			if (gh_desc_s(&d) || (gh_desc_type(&d) & 7) != 1)
				gh_cpu_raise_sel(cpu, GH_EXC_GP, tss);
			if (!gh_desc_present(&d))
				gh_cpu_raise_sel(cpu, GH_EXC_NP, tss);
			sel = tss;
		}
		gh_cpu_task_switch(cpu, sel, &d, call ? GH_TASK_CALL : GH_TASK_JMP, false,
				   0);
		return;
	}
	gh_cpu_raise_sel(cpu, GH_EXC_GP, sel);
}

void gh_cpu_far_jmp(struct gh_cpu *cpu, uint16_t sel, uint64_t off, unsigned opsize)
{
	far_transfer(cpu, sel, off, opsize, false);
}

void gh_cpu_far_call(struct gh_cpu *cpu, uint16_t sel, uint64_t off, unsigned opsize)
{
	far_transfer(cpu, sel, off, opsize, true);
}

/* RET far (SDM vol. 2, RET; vol. 3A 5.8.6). */
void gh_cpu_far_ret(struct gh_cpu *cpu, unsigned opsize, uint16_t imm)
{
	struct gh_stack st, nst;
	struct gh_segment cs, ss;
	uint64_t ip, sp;
	uint16_t sel, ssel;
	unsigned rpl;

	gh_cpu_stack_init(cpu, &st, &cpu->seg[GH_SS], cpu->gpr[GH_RSP], cpu->cpl, 0);
	ip = gh_cpu_stack_pop(cpu, &st, opsize);
	sel = gh_cpu_stack_pop(cpu, &st, opsize);
	if (cpu->mode == GH_MODE_REAL || cpu->mode == GH_MODE_V86) {
		if (ip > cpu->seg[GH_CS].limit)
			gh_cpu_raise(cpu, GH_EXC_GP, 0);
		gh_cpu_stack_adjust(&st, imm);
		cpu->gpr[GH_RSP] = st.sp;
		gh_cpu_load_seg_real(cpu, GH_CS, sel);
		cpu->rip = ip;
		return;
	}

	gh_cpu_check_ret_cs(cpu, sel, &cs);
	rpl = sel & 3;
	if (rpl == cpu->cpl) {
		gh_cpu_check_ip(cpu, &cs, ip);
		gh_cpu_stack_adjust(&st, imm);
		cpu->gpr[GH_RSP] = st.sp;
		gh_cpu_set_cs(cpu, &cs, rpl);
		cpu->rip = ip;
		return;
	}

	/* return to outer privilege: SS:ESP follow the parameters */
	gh_cpu_stack_adjust(&st, imm);
	sp = gh_cpu_stack_pop(cpu, &st, opsize);
	ssel = gh_cpu_stack_pop(cpu, &st, opsize);
	gh_cpu_check_ret_ss(cpu, ssel, rpl, is_64bit_code(cpu, &cs), &ss);
	gh_cpu_check_ip(cpu, &cs, ip);

	gh_cpu_set_cs(cpu, &cs, rpl);
	cpu->seg[GH_SS] = ss;
	gh_cpu_stack_init(cpu, &nst, &ss, cpu->gpr[GH_RSP], rpl, 0);
	/* the new stack pointer replaces only the bits its width covers */
	nst.sp = nst.width == 8	  ? sp
		 : nst.width == 4 ? (uint32_t)sp
				  : (nst.sp & ~0xffffULL) | (sp & 0xffff);
	gh_cpu_stack_adjust(&nst, imm);
	cpu->gpr[GH_RSP] = nst.sp;
	cpu->rip = ip;
	gh_cpu_invalidate_segs_for_cpl(cpu);
}
