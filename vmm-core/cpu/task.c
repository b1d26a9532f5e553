/*
 * Task management: the stack fields of the TSS (SDM vol. 3A, 7.2.1, 7.7)
 * and hardware task switches through TSS descriptors and task gates with
 * 32-bit and 16-bit TSS formats (7.3, 7.4, 7.6).
 */
#include "cpu/cpu-internal.h"

#include <string.h>

/* 32-bit TSS layout (SDM figure 7-2). */
enum {
	TSS32_LINK = 0x00,
	TSS32_CR3 = 0x1c,
	TSS32_EIP = 0x20,
	TSS32_EFLAGS = 0x24,
	TSS32_EAX = 0x28,
	TSS32_ES = 0x48,
	TSS32_LDT = 0x60,
	TSS32_T = 0x64,
	TSS32_MIN_LIMIT = 0x67,
};

/* 16-bit TSS layout (SDM figure 7-11). */
enum {
	TSS16_LINK = 0x00,
	TSS16_IP = 0x0e,
	TSS16_FLAGS = 0x10,
	TSS16_AX = 0x12,
	TSS16_ES = 0x22,
	TSS16_LDT = 0x2a,
	TSS16_MIN_LIMIT = 0x2b,
};

/* Segment registers in the order the TSS stores them (ES, CS, SS, DS...). */
static const unsigned tss_sregs[GH_NR_SEGS] = {
    GH_ES, GH_CS, GH_SS, GH_DS, GH_FS, GH_GS,
};

void gh_cpu_tss_stack(struct gh_cpu *cpu, unsigned pl, unsigned ist, uint16_t *ss,
		      uint64_t *sp)
{
	uint8_t buf[8] = {0};
	uint32_t off;
	unsigned len;

	if (gh_cpu_long_mode(cpu)) {
		off = ist ? 0x24 + (ist - 1) * 8 : 4 + pl * 8;
		len = 8;
	} else if (cpu->tr.type & 8) {
		off = 4 + pl * 8; /* ESPn, then SSn */
		len = 6;
	} else {
		off = 2 + pl * 4; /* SPn, then SSn */
		len = 4;
	}
	if (cpu->tr.unusable || off + len - 1 > cpu->tr.limit)
		gh_cpu_raise_sel(cpu, GH_EXC_TS, cpu->tr.selector);
	gh_cpu_read_sys(cpu, cpu->tr.base + off, buf, len);
	if (len == 8) {
		memcpy(sp, buf, 8);
		*ss = 0;
	} else if (len == 6) {
		uint32_t esp;

		memcpy(&esp, buf, 4);
		memcpy(ss, buf + 4, 2);
		*sp = esp;
	} else {
		uint16_t v;

		memcpy(&v, buf, 2);
		memcpy(ss, buf + 2, 2);
		*sp = v;
	}
}

void gh_cpu_tss_ss(struct gh_cpu *cpu, unsigned dpl, struct gh_descriptor *d,
		   struct gh_segment *ss, uint64_t *sp)
{
	uint16_t sel;

	gh_cpu_tss_stack(cpu, dpl, 0, &sel, sp);
	if (gh_sel_null(sel))
		gh_cpu_raise(cpu, GH_EXC_TS, cpu->err_ext);
	gh_cpu_read_descriptor(cpu, sel, false, GH_EXC_TS, d);
	gh_cpu_parse_descriptor(d, sel, ss);
	if ((sel & 3) != dpl || ss->dpl != dpl || !gh_seg_writable_data(ss))
		gh_cpu_raise_sel(cpu, GH_EXC_TS, sel);
	if (!ss->present)
		gh_cpu_raise_sel(cpu, GH_EXC_SS, sel);
}

static uint32_t get32(const uint8_t *img, unsigned off)
{
	uint32_t v;

	memcpy(&v, img + off, 4);
	return v;
}

static uint16_t get16(const uint8_t *img, unsigned off)
{
	uint16_t v;

	memcpy(&v, img + off, 2);
	return v;
}

/* The dynamic fields of the outgoing task (SDM 7.3, step 8). */
static void save_task(struct gh_cpu *cpu, uint64_t flags)
{
	uint64_t base = cpu->tr.base;
	unsigned i;

	if (cpu->tr.type & 8) {
		uint32_t v[2 + GH_R8 + GH_NR_SEGS];

		v[0] = cpu->rip;
		v[1] = flags;
		for (i = 0; i < GH_R8; i++)
			v[2 + i] = cpu->gpr[i];
		for (i = 0; i < GH_NR_SEGS; i++)
			v[2 + GH_R8 + i] = cpu->seg[tss_sregs[i]].selector;
		gh_cpu_write_sys(cpu, base + TSS32_EIP, v, sizeof(v));
	} else {
		uint16_t v[2 + GH_R8 + 4];

		v[0] = cpu->rip;
		v[1] = flags;
		for (i = 0; i < GH_R8; i++)
			v[2 + i] = cpu->gpr[i];
		for (i = 0; i < 4; i++)
			v[2 + GH_R8 + i] = cpu->seg[tss_sregs[i]].selector;
		gh_cpu_write_sys(cpu, base + TSS16_IP, v, sizeof(v));
	}
}

static void set_busy(struct gh_cpu *cpu, uint16_t sel, bool busy)
{
	struct gh_descriptor d;

	gh_cpu_read_descriptor(cpu, sel, false, GH_EXC_TS, &d);
	if (busy)
		d.raw[0] |= 1ULL << 41;
	else
		d.raw[0] &= ~(1ULL << 41);
	gh_cpu_write_descriptor_hi(cpu, sel, d.raw[0] >> 32);
}

/* The new task's LDT (SDM table 7-1): a present LDT descriptor in the GDT. */
static void load_task_ldt(struct gh_cpu *cpu, uint16_t sel)
{
	struct gh_descriptor d;
	struct gh_segment seg;

	if (gh_sel_null(sel)) {
		memset(&cpu->ldtr, 0, sizeof(cpu->ldtr));
		cpu->ldtr.selector = sel;
		cpu->ldtr.unusable = 1;
		return;
	}
	if (sel & 4)
		gh_cpu_raise_sel(cpu, GH_EXC_TS, sel);
	gh_cpu_read_descriptor(cpu, sel, false, GH_EXC_TS, &d);
	gh_cpu_parse_descriptor(&d, sel, &seg);
	if (seg.s || seg.type != 2 || !seg.present)
		gh_cpu_raise_sel(cpu, GH_EXC_TS, sel);
	cpu->ldtr = seg;
}

/* The new task's segment registers, with the faults of SDM table 7-1. */
static void load_task_segs(struct gh_cpu *cpu)
{
	static const unsigned data[] = {GH_DS, GH_ES, GH_FS, GH_GS};
	struct gh_descriptor d;
	struct gh_segment seg;
	uint16_t sel = cpu->seg[GH_CS].selector;
	unsigned cpl = sel & 3, i;

	if (gh_sel_null(sel))
		gh_cpu_raise_sel(cpu, GH_EXC_TS, sel);
	gh_cpu_read_descriptor(cpu, sel, false, GH_EXC_TS, &d);
	gh_cpu_parse_descriptor(&d, sel, &seg);
	if (!gh_seg_is_code(&seg) ||
	    (gh_seg_conforming(&seg) ? seg.dpl > cpl : seg.dpl != cpl))
		gh_cpu_raise_sel(cpu, GH_EXC_TS, sel);
	if (!seg.present)
		gh_cpu_raise_sel(cpu, GH_EXC_NP, sel);
	gh_cpu_set_accessed(cpu, &d, &seg);
	gh_cpu_set_cs(cpu, &seg, cpl);

	sel = cpu->seg[GH_SS].selector;
	if (gh_sel_null(sel))
		gh_cpu_raise_sel(cpu, GH_EXC_TS, sel);
	gh_cpu_read_descriptor(cpu, sel, false, GH_EXC_TS, &d);
	gh_cpu_parse_descriptor(&d, sel, &seg);
	if ((sel & 3) != cpl || seg.dpl != cpl || !gh_seg_writable_data(&seg))
		gh_cpu_raise_sel(cpu, GH_EXC_TS, sel);
	if (!seg.present)
		gh_cpu_raise_sel(cpu, GH_EXC_SS, sel);
	gh_cpu_set_accessed(cpu, &d, &seg);
	cpu->seg[GH_SS] = seg;

	for (i = 0; i < G_N_ELEMENTS(data); i++) {
		sel = cpu->seg[data[i]].selector;
		if (gh_sel_null(sel))
			continue; /* already null */
		gh_cpu_read_descriptor(cpu, sel, false, GH_EXC_TS, &d);
		gh_cpu_parse_descriptor(&d, sel, &seg);
		if (!seg.s || (gh_seg_is_code(&seg) && !(seg.type & 2)))
			gh_cpu_raise_sel(cpu, GH_EXC_TS, sel);
		if (!gh_seg_conforming(&seg) && (seg.dpl < cpl || seg.dpl < (sel & 3u)))
			gh_cpu_raise_sel(cpu, GH_EXC_TS, sel);
		if (!seg.present)
			gh_cpu_raise_sel(cpu, GH_EXC_NP, sel);
		gh_cpu_set_accessed(cpu, &d, &seg);
		cpu->seg[data[i]] = seg;
	}
}

void gh_cpu_task_switch(struct gh_cpu *cpu, uint16_t sel, const struct gh_descriptor *tss,
			enum gh_task_reason reason, bool has_error, uint32_t error)
{
	uint8_t img[TSS32_MIN_LIMIT + 1];
	struct gh_segment ntss;
	uint64_t flags, old_flags;
	uint16_t old_tr = cpu->tr.selector, ldt;
	unsigned i;
	bool n32;

	gh_cpu_parse_descriptor(tss, sel, &ntss);
	n32 = ntss.type & 8;
	if (!ntss.present)
		gh_cpu_raise_sel(cpu, GH_EXC_NP, sel);
	if (ntss.limit < (n32 ? TSS32_MIN_LIMIT : TSS16_MIN_LIMIT))
		gh_cpu_raise_sel(cpu, GH_EXC_TS, sel);
	/* everything the new task needs is read before the old one is touched */
	memset(img, 0, sizeof(img));
	gh_cpu_read_sys(cpu, ntss.base, img,
			n32 ? TSS32_MIN_LIMIT + 1 : TSS16_MIN_LIMIT + 1);

	old_flags = cpu->rflags;
	if (reason == GH_TASK_IRET)
		old_flags &= ~(uint64_t)GH_FL_NT;
	save_task(cpu, old_flags);
	if (reason == GH_TASK_JMP || reason == GH_TASK_IRET)
		set_busy(cpu, old_tr, false);
	if (reason == GH_TASK_CALL || reason == GH_TASK_INT) {
		gh_cpu_write_sys(cpu, ntss.base + TSS32_LINK, &old_tr, 2);
		memcpy(img + TSS32_LINK, &old_tr, 2);
	}
	if (reason != GH_TASK_IRET)
		set_busy(cpu, sel, true);

	/*
	 * The switch is committed: from here on the state is the new task's,
	 * and a fault is raised in its context (SDM 7.3, step 13).
	 */
	cpu->tr = ntss;
	cpu->tr.type |= 2;
	cpu->cr0 |= GH_CR0_TS;
	if (n32) {
		cpu->cr3 = get32(img, TSS32_CR3);
		gh_cpu_mem_cr3_loaded(cpu);
		cpu->rip = get32(img, TSS32_EIP);
		flags = get32(img, TSS32_EFLAGS);
		for (i = 0; i < GH_R8; i++)
			cpu->gpr[i] = get32(img, TSS32_EAX + 4 * i);
		for (i = 0; i < GH_NR_SEGS; i++)
			cpu->seg[tss_sregs[i]].selector = get16(img, TSS32_ES + 4 * i);
		ldt = get16(img, TSS32_LDT);
		/* the T flag: a #DB trap before the task's first instruction */
		if (img[TSS32_T] & 1)
			cpu->pending_dbg |= GH_DR6_BT;
	} else {
		/* a 16-bit TSS holds no upper register halves: they are kept */
		cpu->rip = get16(img, TSS16_IP);
		flags = get16(img, TSS16_FLAGS);
		for (i = 0; i < GH_R8; i++)
			cpu->gpr[i] =
			    (cpu->gpr[i] & ~0xffffULL) | get16(img, TSS16_AX + 2 * i);
		for (i = 0; i < 4; i++)
			cpu->seg[tss_sregs[i]].selector = get16(img, TSS16_ES + 2 * i);
		cpu->seg[GH_FS].selector = 0;
		cpu->seg[GH_GS].selector = 0;
		ldt = get16(img, TSS16_LDT);
	}
	if (reason == GH_TASK_CALL || reason == GH_TASK_INT)
		flags |= GH_FL_NT;
	cpu->rflags = (flags & 0x3f7fd5) | GH_RFLAGS_FIXED;
	/* the interpreter keeps arithmetic flags lazily: load them there too */
	gh_flags_set(&cpu->lf, cpu->rflags, GH_ALU_FLAGS);
	/* until loaded, the hidden parts describe nothing */
	for (i = 0; i < GH_NR_SEGS; i++) {
		struct gh_segment *seg = &cpu->seg[i];
		uint16_t s = seg->selector;

		memset(seg, 0, sizeof(*seg));
		seg->selector = s;
		seg->unusable = 1;
	}
	cpu->ldtr.selector = ldt;
	cpu->ldtr.unusable = 1;
	/* local breakpoint enables belong to the old task (SDM 17.2.4) */
	cpu->dr[7] &= ~0x155ULL;
	cpu->cpl = cpu->seg[GH_CS].selector & 3;
	gh_cpu_update_mode(cpu);
	cpu->prev_rip = cpu->rip;

	load_task_ldt(cpu, ldt);
	if (cpu->mode == GH_MODE_V86) {
		for (i = 0; i < GH_NR_SEGS; i++)
			gh_cpu_load_seg_real(cpu, i, cpu->seg[i].selector);
	} else {
		load_task_segs(cpu);
	}

	if (has_error) {
		struct gh_stack st;

		gh_cpu_stack_init(cpu, &st, &cpu->seg[GH_SS], cpu->gpr[GH_RSP], cpu->cpl,
				  cpu->err_ext);
		gh_cpu_stack_push(cpu, &st, error, n32 ? 4 : 2);
		cpu->gpr[GH_RSP] = st.sp;
	}
	if (cpu->rip > cpu->seg[GH_CS].limit)
		gh_cpu_raise(cpu, GH_EXC_GP, 0);
}
