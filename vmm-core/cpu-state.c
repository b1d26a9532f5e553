/* Architectural CPU state helpers shared by loaders and backends. */
#include "gh/cpu-state.h"

#include <string.h>

/* SDM vol. 3A, table 9-1: register state after power-up/RESET. */
void gh_cpu_state_reset(struct gh_cpu_state *s, bool bsp)
{
	unsigned i;

	memset(s, 0, sizeof(*s));
	s->rip = 0xfff0;
	s->rflags = GH_RFLAGS_FIXED;
	s->cr0 = 0x60000010;	/* CD, NW, ET */
	s->gpr[GH_RDX] = 0x600;	/* family 6: processor signature */
	for (i = 0; i < GH_NR_SEGS; i++) {
		struct gh_segment *seg = &s->seg[i];

		seg->limit = 0xffff;
		seg->present = 1;
		seg->s = 1;
		seg->type = 3;	/* read/write data, accessed */
	}
	s->seg[GH_CS].selector = 0xf000;
	s->seg[GH_CS].base = 0xffff0000;
	s->seg[GH_CS].type = 0xb;	/* execute/read code, accessed */
	s->ldt = (struct gh_segment){ .limit = 0xffff, .type = 2, .present = 1 };
	s->tr = (struct gh_segment){ .limit = 0xffff, .type = 0xb, .present = 1 };
	s->gdt.limit = 0xffff;
	s->idt.limit = 0xffff;
	s->dr[6] = 0xffff0ff0;
	s->dr[7] = 0x400;
	s->apic_base = 0xfee00000 | (1 << 11) | (bsp ? 1 << 8 : 0);
	s->halted = !bsp;	/* APs wait for INIT/SIPI */
	/* table 9-1 again: FCW 0040H, tag word 5555H (every register +0, so
	 * all abridged tags valid), MXCSR 1F80H; XCR0 = x87 only (SDM vol. 1,
	 * 13.3) */
	s->fxsave[GH_FXSAVE_FCW] = 0x40;
	s->fxsave[GH_FXSAVE_FTW] = 0xff;
	s->fxsave[GH_FXSAVE_MXCSR] = 0x80;
	s->fxsave[GH_FXSAVE_MXCSR + 1] = 0x1f;
	s->fxsave[GH_FXSAVE_MXCSR_MASK] = 0xff;
	s->fxsave[GH_FXSAVE_MXCSR_MASK + 1] = 0xff;
	s->xcr0 = 1;
}

void gh_cpu_state_flat_seg(struct gh_segment *seg, uint16_t sel, bool code,
			   bool long_mode)
{
	*seg = (struct gh_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = code ? 0xb : 0x3,
		.s = 1,
		.present = 1,
		.l = code && long_mode,
		.db = !(code && long_mode),
		.g = 1,
	};
}
