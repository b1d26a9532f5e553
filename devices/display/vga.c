/*
 * The standard VGA as QEMU's -vga std presents it: PCI 1234:1111 with a
 * 16 MiB linear framebuffer (BAR0), QEMU's stdvga MMIO BAR (BAR2: the VGA
 * ports at 0x400, Bochs DISPI at 0x500, QEMU's extension at 0x600) and
 * SeaBIOS's vgabios-stdvga as its option ROM; the IBM VGA register set
 * (ports 0x3B0-0x3DF, the 0xA0000-0xBFFFF window) as the IBM VGA/XGA
 * Technical Reference Manual and FreeVGA describe it; the Bochs VBE DISPI
 * interface (ports 0x1CE/0x1CF, Bochs' vbe.h) for modes beyond VGA.
 *
 * VRAM is planar: byte address a of plane p is vram[4 * a + p]; chain-4
 * addresses reach vram[a] directly (as QEMU lays it out), so the 256-colour
 * and VBE modes are packed pixels in the same bytes the LFB shows.
 */
#include "gh/vga.h"

#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/mman.h>

#include "gh/bus.h"
#include "gh/device.h"
#include "gh/display.h"
#include "gh/log.h"
#include "gh/pci.h"
#include "gh/vm.h"

#define VGA_DEVFN		GH_PCI_DEVFN(2, 0)
#define VRAM_SIZE		(16u << 20)
#define MMIO_BAR_SIZE		0x1000
#define VGA_ROM_PATH		"/usr/share/seabios/vgabios-stdvga.bin"
#define VGA_ROM_MAX		(256u << 10)

/* Misc output (0x3C2/0x3CC) */
#define MISC_COLOR		0x01	/* CRTC and status 1 at 0x3Dx */
/* Input status 1 (0x3DA/0x3BA) */
#define ST01_DISP_ENABLE	0x01
#define ST01_V_RETRACE		0x08

/* Attribute controller */
#define AR_PAS			0x20	/* palette address source: video on */
#define AR_MODE			0x10
#define AR_MODE_LGE		0x04	/* line graphics: 9th dot of C0-DF */
#define AR_MODE_BLINK		0x08
#define AR_MODE_P54S		0x80
#define AR_PLANE_ENABLE		0x12
#define AR_COLOR_SELECT		0x14
#define AR_NREGS		0x15

/* Sequencer */
#define SR_CLOCK		0x01	/* bit 0: 8-dot chars, bit 3: /2 */
#define SR_MAP_MASK		0x02
#define SR_CHAR_MAP		0x03
#define SR_MEM_MODE		0x04	/* bit 3: chain-4 */
#define SR_CHAIN4		0x08

/* Graphics controller */
#define GR_SET_RESET		0x00
#define GR_ENABLE_SR		0x01
#define GR_COLOR_CMP		0x02
#define GR_ROTATE		0x03
#define GR_READ_MAP		0x04
#define GR_MODE			0x05	/* bits 1:0 write mode, 3 read mode,
					 * 4 odd/even, 6:5 shift control */
#define GR_MISC			0x06	/* bit 0 graphics, 3:2 memory map */
#define GR_DONT_CARE		0x07
#define GR_BIT_MASK		0x08

/* CRTC */
#define CR_H_DISP		0x01
#define CR_OVERFLOW		0x07
#define CR_MAX_SCAN		0x09
#define CR_CURSOR_START		0x0a
#define CR_CURSOR_END		0x0b
#define CR_START_HI		0x0c
#define CR_START_LO		0x0d
#define CR_CURSOR_HI		0x0e
#define CR_CURSOR_LO		0x0f
#define CR_V_SYNC_END		0x11	/* bit 7 protects 0-7 */
#define CR_V_DISP_END		0x12
#define CR_OFFSET		0x13
#define CR_MODE			0x17
#define CR_LINE_COMPARE		0x18
#define CR_NREGS		0x19

/* Bochs VBE DISPI (vbe.h) */
#define VBE_INDEX_ID		0x0
#define VBE_INDEX_XRES		0x1
#define VBE_INDEX_YRES		0x2
#define VBE_INDEX_BPP		0x3
#define VBE_INDEX_ENABLE	0x4
#define VBE_INDEX_BANK		0x5
#define VBE_INDEX_VIRT_WIDTH	0x6
#define VBE_INDEX_VIRT_HEIGHT	0x7
#define VBE_INDEX_X_OFFSET	0x8
#define VBE_INDEX_Y_OFFSET	0x9
#define VBE_INDEX_VIDEO_MEM_64K	0xa
#define VBE_NREGS		0xb
#define VBE_ID0			0xb0c0
#define VBE_ID5			0xb0c5
#define VBE_ENABLED		0x01
#define VBE_GETCAPS		0x02
#define VBE_8BIT_DAC		0x20
#define VBE_LFB_ENABLED		0x40
#define VBE_NOCLEARMEM		0x80
#define VBE_MAX_XRES		GH_DISPLAY_MAX_DIM
#define VBE_MAX_YRES		GH_DISPLAY_MAX_DIM
#define VBE_MAX_BPP		32
#define VBE_PORT_INDEX		0x1ce	/* data at 0x1cf */

/* QEMU's extension registers in the MMIO BAR (docs/specs/standard-vga) */
#define QEXT_SIZE		8
#define QEXT_LITTLE_ENDIAN	0x1e1e1e1e

/* How a frame is drawn from VRAM */
enum draw_kind {
	DRAW_BLANK,
	DRAW_TEXT,
	DRAW_2,		/* CGA 4-colour: 2 bits per pixel, planes 0/2 and 1/3 */
	DRAW_4,		/* planar 16-colour */
	DRAW_8D2,	/* chained 256-colour, each pixel twice */
	DRAW_8,		/* packed pixels, 8 to 32 bpp (VBE) */
	DRAW_15,
	DRAW_16,
	DRAW_24,
	DRAW_32,
};

/*
 * Everything that decides which VRAM bytes become which pixels, compared
 * whole between refreshes: any difference redraws the frame.
 */
struct geom {
	enum draw_kind kind;
	unsigned width, height;		/* the surface */
	unsigned src_width;		/* pixels before doubling */
	bool dbl;			/* each pixel drawn twice */
	uint32_t start, line_offset, line_compare;	/* bytes; lines */
	unsigned multi_scan;
	uint8_t cr_mode;
	uint8_t plane_mask;
	/* text */
	unsigned cols, rows, cw, ch;
	uint32_t font[2];
	bool lge, blink;
};

struct vga {
	struct gh_vm *vm;
	struct gh_pci_func pci;
	uint8_t *vram;
	void *rom;
	size_t rom_len;
	struct gh_display *con;
	struct gh_ratelimit rl;
	bool io_mapped, vbe_mapped, legacy_mapped;

	/* the registers */
	uint8_t misc, fcr, st01;
	uint8_t sr_index, sr[8];
	uint8_t gr_index, gr[16];
	uint8_t cr_index, cr[CR_NREGS];
	uint8_t ar_index, ar[AR_NREGS];
	bool ar_flip_flop;		/* next 0x3C0 write is data */
	uint8_t dac_state;		/* 0: writing, 3: reading */
	uint8_t dac_read_index, dac_write_index, dac_sub_index;
	uint8_t dac_cache[3];
	uint8_t pel_mask;
	uint8_t palette[768];
	uint32_t latch;
	uint16_t vbe_index;
	uint16_t vbe[VBE_NREGS];
	uint32_t vbe_start, vbe_line_offset;	/* bytes */
	uint32_t bank_offset;

	/* rendering state: what the surface shows */
	struct geom last;
	uint32_t pal[256];		/* XRGB of each colour index */
	bool font_written;		/* plane 2 changed (text fonts) */
	/* per scanline (graphics) or per cell (text): the VRAM bytes the
	 * surface was drawn from */
	uint8_t *shadow;
	size_t shadow_size;
	bool cursor_phase, blink_phase;
	int64_t phase_start_us;
	/* the text cursor as last drawn: cell (from the start address),
	 * shown, shape */
	bool cursor_drawn, cursor_on;
	uint32_t cursor_cell;
	uint8_t cursor_start, cursor_end;
};

static inline uint32_t mask16(unsigned v)
{
	/* each of the 4 bits to a whole byte lane (plane) */
	return (v & 1 ? 0xffu : 0) | (v & 2 ? 0xff00u : 0) |
	       (v & 4 ? 0xff0000u : 0) | (v & 8 ? 0xff000000u : 0);
}

static inline uint32_t get_plane_word(const struct vga *s, uint32_t a)
{
	uint32_t v;

	memcpy(&v, s->vram + a * 4, 4);
	return v;
}

/* --- the 0xA0000-0xBFFFF window (GC memory map select, 3.x in FreeVGA) --- */

/* The window offset as a VRAM address for the mode, or -1 if the map
 * select leaves it undecoded. */
static int64_t window_addr(const struct vga *s, uint64_t off)
{
	switch ((s->gr[GR_MISC] >> 2) & 3) {
	case 0:			/* A0000-BFFFF */
		return off;
	case 1:			/* A0000-AFFFF, banked by VBE */
		if (off >= 0x10000)
			return -1;
		return off + s->bank_offset;
	case 2:			/* B0000-B7FFF */
		if (off < 0x10000 || off >= 0x18000)
			return -1;
		return off - 0x10000;
	default:		/* B8000-BFFFF */
		if (off < 0x18000)
			return -1;
		return off - 0x18000;
	}
}

static uint8_t mem_readb(struct vga *s, uint64_t off)
{
	int64_t a = window_addr(s, off);
	unsigned plane;

	if (a < 0)
		return 0xff;
	if (s->sr[SR_MEM_MODE] & SR_CHAIN4)
		return a < VRAM_SIZE ? s->vram[a] : 0xff;
	if (s->gr[GR_MODE] & 0x10) {
		/* odd/even: A0 picks plane 0/1 (or 2/3 by the read map) */
		plane = (s->gr[GR_READ_MAP] & 2) | (a & 1);
		a = ((a & ~1) << 1) | plane;
		return a < VRAM_SIZE ? s->vram[a] : 0xff;
	}
	if (a * 4 + 4 > VRAM_SIZE)
		return 0xff;
	/* planar: every read loads the latches */
	s->latch = get_plane_word(s, a);
	if (!(s->gr[GR_MODE] & 8))
		return s->latch >> (8 * (s->gr[GR_READ_MAP] & 3));
	/* read mode 1: colour compare, a 1 for pixels that match in every
	 * plane the colour don't-care register includes */
	{
		uint32_t v = (s->latch ^ mask16(s->gr[GR_COLOR_CMP])) &
			     mask16(s->gr[GR_DONT_CARE]);

		v |= v >> 16;
		v |= v >> 8;
		return ~v & 0xff;
	}
}

static void mem_writeb(struct vga *s, uint64_t off, uint8_t val8)
{
	int64_t a = window_addr(s, off);
	uint32_t val, bit_mask, write_mask, old;
	unsigned plane, b;

	if (a < 0)
		return;
	if (s->sr[SR_MEM_MODE] & SR_CHAIN4) {
		plane = a & 3;
		if ((s->sr[SR_MAP_MASK] & (1u << plane)) && a < VRAM_SIZE) {
			s->vram[a] = val8;
			if (plane == 2)
				s->font_written = true;
		}
		return;
	}
	if (s->gr[GR_MODE] & 0x10) {
		plane = (s->gr[GR_READ_MAP] & 2) | (a & 1);
		if (!(s->sr[SR_MAP_MASK] & (1u << plane)))
			return;
		a = ((a & ~1) << 1) | plane;
		if (a < VRAM_SIZE) {
			s->vram[a] = val8;
			if (plane == 2)
				s->font_written = true;
		}
		return;
	}
	if (a * 4 + 4 > VRAM_SIZE)
		return;
	/* planar: the write modes, then function, bit mask, map mask */
	bit_mask = s->gr[GR_BIT_MASK];
	switch (s->gr[GR_MODE] & 3) {
	case 0:
		b = s->gr[GR_ROTATE] & 7;
		val = ((val8 >> b) | (val8 << (8 - b))) & 0xff;
		val |= val << 8;
		val |= val << 16;
		val = (val & ~mask16(s->gr[GR_ENABLE_SR])) |
		      (mask16(s->gr[GR_SET_RESET]) & mask16(s->gr[GR_ENABLE_SR]));
		break;
	case 1:
		/* the latches as they are */
		val = s->latch;
		goto do_write;
	case 2:
		val = mask16(val8 & 0xf);
		break;
	default:
		b = s->gr[GR_ROTATE] & 7;
		val = ((val8 >> b) | (val8 << (8 - b))) & 0xff;
		bit_mask &= val;
		val = mask16(s->gr[GR_SET_RESET]);
		break;
	}
	switch (s->gr[GR_ROTATE] >> 3 & 3) {
	case 1:
		val &= s->latch;
		break;
	case 2:
		val |= s->latch;
		break;
	case 3:
		val ^= s->latch;
		break;
	}
	bit_mask |= bit_mask << 8;
	bit_mask |= bit_mask << 16;
	val = (val & bit_mask) | (s->latch & ~bit_mask);
do_write:
	write_mask = mask16(s->sr[SR_MAP_MASK]);
	old = get_plane_word(s, a);
	val = (old & ~write_mask) | (val & write_mask);
	memcpy(s->vram + a * 4, &val, 4);
	if (s->sr[SR_MAP_MASK] & 4)
		s->font_written = true;
}

static uint64_t legacy_mem_read(void *opaque, uint64_t off, unsigned size)
{
	struct vga *s = opaque;
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)mem_readb(s, off + i) << (8 * i);
	return v;
}

static void legacy_mem_write(void *opaque, uint64_t off, uint64_t val,
			     unsigned size)
{
	struct vga *s = opaque;

	for (unsigned i = 0; i < size; i++)
		mem_writeb(s, off + i, val >> (8 * i));
}

static const struct gh_io_ops legacy_mem_ops = {
	.read = legacy_mem_read, .write = legacy_mem_write,
};

/* --- VGA registers, ports 0x3B0-0x3DF ------------------------------------ */

static const uint8_t sr_mask[8] = {
	0x03, 0x3d, 0x0f, 0x3f, 0x0e, 0x00, 0x00, 0xff,
};

static const uint8_t gr_mask[16] = {
	0x0f, 0x0f, 0x0f, 0x1f, 0x03, 0x7b, 0x0f, 0x0f, 0xff,
};

/* The CRTC and input status 1 answer at 0x3Dx in colour mode, 0x3Bx in
 * monochrome; the other block is not decoded. */
static bool port_decoded(const struct vga *s, unsigned port)
{
	if (port >= 0x3b0 && port <= 0x3bf)
		return !(s->misc & MISC_COLOR);
	if (port >= 0x3d0 && port <= 0x3df)
		return s->misc & MISC_COLOR;
	return true;
}

static uint8_t ioport_read(struct vga *s, unsigned port)
{
	uint8_t v;

	if (!port_decoded(s, port))
		return 0xff;
	switch (port) {
	case 0x3c0:
		return s->ar_index;
	case 0x3c1:
		return (s->ar_index & 0x1f) < AR_NREGS ?
		       s->ar[s->ar_index & 0x1f] : 0;
	case 0x3c2:
		return 0;			/* input status 0 */
	case 0x3c4:
		return s->sr_index;
	case 0x3c5:
		return s->sr[s->sr_index];
	case 0x3c6:
		return s->pel_mask;
	case 0x3c7:
		return s->dac_state;
	case 0x3c8:
		return s->dac_write_index;
	case 0x3c9:
		v = s->palette[s->dac_read_index * 3 + s->dac_sub_index];
		if (++s->dac_sub_index == 3) {
			s->dac_sub_index = 0;
			s->dac_read_index++;
		}
		return v;
	case 0x3ca:
		return s->fcr;
	case 0x3cc:
		return s->misc;
	case 0x3ce:
		return s->gr_index;
	case 0x3cf:
		return s->gr[s->gr_index];
	case 0x3b4:
	case 0x3d4:
		return s->cr_index;
	case 0x3b5:
	case 0x3d5:
		return s->cr_index < CR_NREGS ? s->cr[s->cr_index] : 0;
	case 0x3ba:
	case 0x3da:
		/*
		 * Nothing scans out in real time: retrace and display enable
		 * toggle on every read, so a BIOS waiting for the start and
		 * then the end of a retrace sees both at once. The read
		 * resets the attribute flip-flop to the index.
		 */
		s->st01 ^= ST01_V_RETRACE | ST01_DISP_ENABLE;
		s->ar_flip_flop = false;
		return s->st01;
	default:
		return 0xff;
	}
}

static void ioport_write(struct vga *s, unsigned port, uint8_t val)
{
	unsigned i;

	if (!port_decoded(s, port))
		return;
	switch (port) {
	case 0x3c0:
		if (!s->ar_flip_flop) {
			s->ar_index = val & 0x3f;
		} else {
			i = s->ar_index & 0x1f;
			switch (i) {
			case 0x00 ... 0x0f:
				s->ar[i] = val & 0x3f;
				break;
			case AR_MODE:
				s->ar[i] = val & ~0x10;
				break;
			case 0x11:
				s->ar[i] = val;
				break;
			case AR_PLANE_ENABLE:
				s->ar[i] = val & 0x3f;
				break;
			case 0x13:
			case AR_COLOR_SELECT:
				s->ar[i] = val & 0x0f;
				break;
			default:
				break;
			}
		}
		s->ar_flip_flop = !s->ar_flip_flop;
		break;
	case 0x3c2:
		s->misc = val & ~0x10;
		break;
	case 0x3c4:
		s->sr_index = val & 7;
		break;
	case 0x3c5:
		s->sr[s->sr_index] = val & sr_mask[s->sr_index];
		break;
	case 0x3c6:
		s->pel_mask = val;
		break;
	case 0x3c7:
		s->dac_read_index = val;
		s->dac_sub_index = 0;
		s->dac_state = 3;
		break;
	case 0x3c8:
		s->dac_write_index = val;
		s->dac_sub_index = 0;
		s->dac_state = 0;
		break;
	case 0x3c9:
		/* three writes (R, G, B) make one entry */
		s->dac_cache[s->dac_sub_index] = val;
		if (++s->dac_sub_index == 3) {
			memcpy(&s->palette[s->dac_write_index * 3],
			       s->dac_cache, 3);
			s->dac_sub_index = 0;
			s->dac_write_index++;
		}
		break;
	case 0x3ce:
		s->gr_index = val & 0x0f;
		break;
	case 0x3cf:
		s->gr[s->gr_index] = val & gr_mask[s->gr_index];
		break;
	case 0x3b4:
	case 0x3d4:
		s->cr_index = val;
		break;
	case 0x3b5:
	case 0x3d5:
		if (s->cr_index >= CR_NREGS)
			break;
		/* CR11 bit 7 write-protects CR0-7, but for CR7's line
		 * compare bit 8 */
		if ((s->cr[CR_V_SYNC_END] & 0x80) && s->cr_index <= 7) {
			if (s->cr_index == CR_OVERFLOW)
				s->cr[CR_OVERFLOW] = (s->cr[CR_OVERFLOW] & ~0x10) |
						     (val & 0x10);
			break;
		}
		s->cr[s->cr_index] = val;
		break;
	case 0x3ba:
	case 0x3da:
		s->fcr = val & 0x10;
		break;
	default:
		break;
	}
}

static uint64_t legacy_io_read(void *opaque, uint64_t off, unsigned size)
{
	struct vga *s = opaque;
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)ioport_read(s, 0x3b0 + off + i) << (8 * i);
	return v;
}

static void legacy_io_write(void *opaque, uint64_t off, uint64_t val,
			    unsigned size)
{
	struct vga *s = opaque;

	/* a word OUT to an index port writes the index, then the data */
	for (unsigned i = 0; i < size; i++)
		ioport_write(s, 0x3b0 + off + i, val >> (8 * i));
}

static const struct gh_io_ops legacy_io_ops = {
	.read = legacy_io_read, .write = legacy_io_write,
};

/* --- Bochs VBE DISPI ----------------------------------------------------- */

static unsigned vbe_bytepp(unsigned bpp)
{
	return (bpp + 7) / 8;
}

static bool vbe_enabled(const struct vga *s)
{
	return s->vbe[VBE_INDEX_ENABLE] & VBE_ENABLED;
}

/*
 * Keeps the mode inside VRAM whatever the guest wrote: a valid depth, a
 * width of whole 8-pixel groups, a virtual screen that fits, offsets
 * inside it. Then the line length and start address follow.
 */
static void vbe_fixup(struct vga *s)
{
	uint16_t *r = s->vbe;
	uint32_t line, maxy;

	switch (r[VBE_INDEX_BPP]) {
	case 4: case 8: case 15: case 16: case 24: case 32:
		break;
	default:
		r[VBE_INDEX_BPP] = 8;
		break;
	}
	r[VBE_INDEX_XRES] = CLAMP(r[VBE_INDEX_XRES] & ~7u, 8, VBE_MAX_XRES);
	r[VBE_INDEX_YRES] = CLAMP(r[VBE_INDEX_YRES], 1, VBE_MAX_YRES);
	r[VBE_INDEX_VIRT_WIDTH] = CLAMP(r[VBE_INDEX_VIRT_WIDTH] & ~7u,
					r[VBE_INDEX_XRES], VBE_MAX_XRES);
	if (r[VBE_INDEX_BPP] == 4)
		line = r[VBE_INDEX_VIRT_WIDTH] / 2;
	else
		line = r[VBE_INDEX_VIRT_WIDTH] * vbe_bytepp(r[VBE_INDEX_BPP]);
	maxy = VRAM_SIZE / line;
	r[VBE_INDEX_YRES] = MIN(r[VBE_INDEX_YRES], maxy);
	r[VBE_INDEX_VIRT_HEIGHT] = CLAMP(r[VBE_INDEX_VIRT_HEIGHT],
					 r[VBE_INDEX_YRES], maxy);
	r[VBE_INDEX_X_OFFSET] = MIN(r[VBE_INDEX_X_OFFSET],
				    r[VBE_INDEX_VIRT_WIDTH] - r[VBE_INDEX_XRES]);
	r[VBE_INDEX_Y_OFFSET] = MIN(r[VBE_INDEX_Y_OFFSET],
				    r[VBE_INDEX_VIRT_HEIGHT] -
				    r[VBE_INDEX_YRES]);
	s->vbe_line_offset = line;
	if (r[VBE_INDEX_BPP] == 4)
		s->vbe_start = r[VBE_INDEX_X_OFFSET] / 2;
	else
		s->vbe_start = r[VBE_INDEX_X_OFFSET] *
			       vbe_bytepp(r[VBE_INDEX_BPP]);
	s->vbe_start += r[VBE_INDEX_Y_OFFSET] * line;
	s->vbe_start &= ~3u;
}

/* What a BIOS would set for the mode DISPI just enabled (as QEMU does, so
 * guests that program only DISPI see a consistent VGA). */
static void vbe_set_legacy(struct vga *s)
{
	unsigned h = s->vbe[VBE_INDEX_YRES] - 1, shift;

	s->gr[GR_MISC] = (s->gr[GR_MISC] & ~0x0c) | 0x05;
	s->cr[CR_MODE] |= 3;
	s->cr[CR_OFFSET] = s->vbe_line_offset >> 3;
	s->cr[CR_H_DISP] = (s->vbe[VBE_INDEX_XRES] >> 3) - 1;
	s->cr[CR_V_DISP_END] = h;
	s->cr[CR_OVERFLOW] = (s->cr[CR_OVERFLOW] & ~0x42) |
			     ((h >> 7) & 0x02) | ((h >> 3) & 0x40);
	s->cr[CR_LINE_COMPARE] = 0xff;
	s->cr[CR_OVERFLOW] |= 0x10;
	s->cr[CR_MAX_SCAN] |= 0x40;
	if (s->vbe[VBE_INDEX_BPP] == 4) {
		shift = 0;
		s->sr[SR_CLOCK] &= ~8;
	} else {
		shift = 2;
		s->sr[SR_MEM_MODE] |= SR_CHAIN4;
		s->sr[SR_MAP_MASK] |= 0x0f;
	}
	s->gr[GR_MODE] = (s->gr[GR_MODE] & ~0x60) | (shift << 5);
	s->cr[CR_MAX_SCAN] &= ~0x9f;
}

static uint16_t vbe_read(struct vga *s)
{
	unsigned i = s->vbe_index;

	if (i == VBE_INDEX_VIDEO_MEM_64K)
		return VRAM_SIZE >> 16;
	if (i >= VBE_NREGS)
		return 0;
	if (s->vbe[VBE_INDEX_ENABLE] & VBE_GETCAPS) {
		switch (i) {
		case VBE_INDEX_XRES:
			return VBE_MAX_XRES;
		case VBE_INDEX_YRES:
			return VBE_MAX_YRES;
		case VBE_INDEX_BPP:
			return VBE_MAX_BPP;
		}
	}
	return s->vbe[i];
}

static void vbe_write(struct vga *s, uint16_t val)
{
	unsigned i = s->vbe_index;
	bool was;

	switch (i) {
	case VBE_INDEX_ID:
		if (val >= VBE_ID0 && val <= VBE_ID5)
			s->vbe[i] = val;
		break;
	case VBE_INDEX_XRES:
	case VBE_INDEX_YRES:
	case VBE_INDEX_BPP:
		/* the mode changes only while DISPI is off */
		if (vbe_enabled(s))
			break;
		s->vbe[i] = val;
		break;
	case VBE_INDEX_BANK:
		/* 64 KiB banks of the A0000 window, within VRAM */
		val &= (VRAM_SIZE >> 16) - 1;
		s->vbe[i] = val;
		s->bank_offset = (uint32_t)val << 16;
		break;
	case VBE_INDEX_ENABLE:
		was = vbe_enabled(s);
		s->vbe[i] = val & (VBE_ENABLED | VBE_GETCAPS | VBE_8BIT_DAC |
				   VBE_LFB_ENABLED | VBE_NOCLEARMEM);
		if ((val & VBE_ENABLED) && !was) {
			s->vbe[VBE_INDEX_VIRT_WIDTH] = s->vbe[VBE_INDEX_XRES];
			s->vbe[VBE_INDEX_VIRT_HEIGHT] = s->vbe[VBE_INDEX_YRES];
			s->vbe[VBE_INDEX_X_OFFSET] = 0;
			s->vbe[VBE_INDEX_Y_OFFSET] = 0;
			vbe_fixup(s);
			if (!(val & VBE_NOCLEARMEM))
				memset(s->vram, 0,
				       (size_t)s->vbe[VBE_INDEX_YRES] *
				       s->vbe_line_offset);
			vbe_set_legacy(s);
		} else if (!(val & VBE_ENABLED)) {
			s->bank_offset = 0;
		}
		break;
	case VBE_INDEX_VIRT_WIDTH:
	case VBE_INDEX_VIRT_HEIGHT:
	case VBE_INDEX_X_OFFSET:
	case VBE_INDEX_Y_OFFSET:
		s->vbe[i] = val;
		if (vbe_enabled(s))
			vbe_fixup(s);
		break;
	default:
		break;
	}
}

/* 0x1CE: the index; 0x1CF: the data (16-bit registers) */
static uint64_t vbe_io_read(void *opaque, uint64_t off, unsigned size)
{
	struct vga *s = opaque;

	return off == 0 ? s->vbe_index : vbe_read(s);
}

static void vbe_io_write(void *opaque, uint64_t off, uint64_t val,
			 unsigned size)
{
	struct vga *s = opaque;

	if (off == 0)
		s->vbe_index = val;
	else if (off == 1)
		vbe_write(s, val);
}

static const struct gh_io_ops vbe_io_ops = {
	.read = vbe_io_read, .write = vbe_io_write,
};

/* --- BAR2: QEMU's stdvga MMIO -------------------------------------------- */

static uint64_t mmio_read(void *opaque, uint64_t off, unsigned size)
{
	struct vga *s = opaque;
	uint64_t v = 0;

	if (off >= 0x400 && off + size <= 0x420) {
		/* the ports 0x3C0-0x3DF, a byte at a time */
		for (unsigned i = 0; i < size; i++)
			v |= (uint64_t)ioport_read(s, 0x3c0 + off - 0x400 + i)
			     << (8 * i);
		return v;
	}
	if (off >= 0x500 && off + size <= 0x500 + 2 * VBE_NREGS) {
		s->vbe_index = (off - 0x500) / 2;
		v = vbe_read(s);
		return off & 1 ? v >> 8 : v;
	}
	if (off == 0x600 && size == 4)
		return QEXT_SIZE;
	if (off == 0x604 && size == 4)
		return QEXT_LITTLE_ENDIAN;
	return 0;
}

static void mmio_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct vga *s = opaque;

	if (off >= 0x400 && off + size <= 0x420) {
		for (unsigned i = 0; i < size; i++)
			ioport_write(s, 0x3c0 + off - 0x400 + i, val >> (8 * i));
		return;
	}
	if (off >= 0x500 && off + size <= 0x500 + 2 * VBE_NREGS &&
	    !(off & 1) && size >= 2) {
		s->vbe_index = (off - 0x500) / 2;
		vbe_write(s, val);
	}
	/* 0x604 (framebuffer endianness): little-endian only, as on x86 */
}

static const struct gh_io_ops mmio_ops = {
	.read = mmio_read, .write = mmio_write,
};

/* --- rendering ----------------------------------------------------------- */

/* QEMU's 6-to-8-bit DAC expansion, so screens compare pixel for pixel */
static inline unsigned c6_to_8(unsigned v)
{
	unsigned b;

	v &= 0x3f;
	b = v & 1;
	return (v << 2) | (b << 1) | b;
}

/* A colour index through the PEL mask (0x3C6, which the DAC ANDs every
 * pixel's index with: IBM VGA Technical Reference, "DAC"), then the DAC. */
static uint32_t dac_rgb(const struct vga *s, unsigned index)
{
	const uint8_t *p = &s->palette[(index & s->pel_mask) * 3];

	if (s->vbe[VBE_INDEX_ENABLE] & VBE_8BIT_DAC)
		return (uint32_t)p[0] << 16 | p[1] << 8 | p[2];
	return c6_to_8(p[0]) << 16 | c6_to_8(p[1]) << 8 | c6_to_8(p[2]);
}

/* The 16 colours of text and planar modes: attribute palette, then the
 * colour select register's high bits, then the DAC. */
static void palette16(const struct vga *s, uint32_t *pal)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned v = s->ar[i];

		if (s->ar[AR_MODE] & AR_MODE_P54S)
			v = ((s->ar[AR_COLOR_SELECT] & 0xf) << 4) | (v & 0xf);
		else
			v = ((s->ar[AR_COLOR_SELECT] & 0xc) << 4) | (v & 0x3f);
		pal[i] = dac_rgb(s, v);
	}
	for (unsigned i = 16; i < 256; i++)
		pal[i] = 0;
}

static void palette256(const struct vga *s, uint32_t *pal)
{
	for (unsigned i = 0; i < 256; i++)
		pal[i] = dac_rgb(s, i);
}

#define TEXT_MAX_CELLS (160 * 100)

static void text_geom(const struct vga *s, struct geom *g)
{
	unsigned v = s->sr[SR_CHAR_MAP], vde;

	g->ch = (s->cr[CR_MAX_SCAN] & 0x1f) + 1;
	g->cw = s->sr[SR_CLOCK] & 1 ? 8 : 9;
	if (s->sr[SR_CLOCK] & 8)
		g->cw = 16;		/* 40 columns: each dot twice */
	g->cols = s->cr[CR_H_DISP] + 1;
	vde = s->cr[CR_V_DISP_END] | ((s->cr[CR_OVERFLOW] & 0x02) << 7) |
	      ((s->cr[CR_OVERFLOW] & 0x40) << 3);
	g->rows = (vde + 1) / g->ch;
	/* the two character maps of SR3, 8 KiB apart (16 KiB steps) */
	g->font[0] = (((v >> 4) & 1) | ((v << 1) & 6)) * 8192 * 4 + 2;
	g->font[1] = (((v >> 5) & 1) | ((v >> 1) & 6)) * 8192 * 4 + 2;
	g->lge = s->ar[AR_MODE] & AR_MODE_LGE;
	g->blink = s->ar[AR_MODE] & AR_MODE_BLINK;
	g->width = g->cols * g->cw;
	g->height = g->rows * g->ch;
	if (g->cols * g->rows <= 1 || g->cols * g->rows > TEXT_MAX_CELLS)
		g->kind = DRAW_BLANK;
}

/* VBE depths drawn as packed pixels */
static const struct {
	unsigned bpp;
	enum draw_kind kind;
} vbe_kinds[] = {
	{ 8, DRAW_8 }, { 15, DRAW_15 }, { 16, DRAW_16 }, { 24, DRAW_24 },
	{ 32, DRAW_32 },
};

static void compute_geom(const struct vga *s, struct geom *g)
{
	unsigned shift, double_scan, vde;

	memset(g, 0, sizeof(*g));
	if (vbe_enabled(s)) {
		g->line_offset = s->vbe_line_offset;
		g->start = s->vbe_start;
		g->line_compare = UINT32_MAX;
	} else {
		g->line_offset = s->cr[CR_OFFSET] << 3;
		g->start = (s->cr[CR_START_LO] | s->cr[CR_START_HI] << 8) * 4;
		g->line_compare = s->cr[CR_LINE_COMPARE] |
				  ((s->cr[CR_OVERFLOW] & 0x10) << 4) |
				  ((s->cr[CR_MAX_SCAN] & 0x40) << 3);
	}
	g->cr_mode = s->cr[CR_MODE];
	if (!(s->ar_index & AR_PAS)) {
		g->kind = DRAW_BLANK;
		return;
	}
	if (!(s->gr[GR_MISC] & 1)) {
		g->kind = DRAW_TEXT;
		text_geom(s, g);
		return;
	}
	if (vbe_enabled(s)) {
		g->src_width = s->vbe[VBE_INDEX_XRES];
		g->height = s->vbe[VBE_INDEX_YRES];
	} else {
		g->src_width = (s->cr[CR_H_DISP] + 1) * 8;
		vde = s->cr[CR_V_DISP_END] |
		      ((s->cr[CR_OVERFLOW] & 0x02) << 7) |
		      ((s->cr[CR_OVERFLOW] & 0x40) << 3);
		g->height = vde + 1;
	}
	g->width = g->src_width;
	shift = (s->gr[GR_MODE] >> 5) & 3;
	double_scan = s->cr[CR_MAX_SCAN] >> 7;
	/* CGA modes ignore the maximum scan line (as QEMU) */
	if (shift != 1)
		g->multi_scan = (((s->cr[CR_MAX_SCAN] & 0x1fu) + 1) <<
				 double_scan) - 1;
	else
		g->multi_scan = double_scan;
	g->plane_mask = s->ar[AR_PLANE_ENABLE] & 0xf;
	if (shift == 0 || shift == 1) {
		g->kind = shift == 0 ? DRAW_4 : DRAW_2;
		g->dbl = s->sr[SR_CLOCK] & 8;
		if (g->dbl)
			g->width *= 2;
		/* a VBE width doubled can pass what a surface may be */
		if (g->width > GH_DISPLAY_MAX_DIM)
			g->kind = DRAW_BLANK;
		return;
	}
	/* 256 colours through the VGA's 8-bit path (no VBE depth): the dot
	 * clock shows each byte as two pixels (320 wide as 640) */
	g->kind = DRAW_8D2;
	for (unsigned i = 0; i < G_N_ELEMENTS(vbe_kinds) && vbe_enabled(s); i++)
		if (vbe_kinds[i].bpp == s->vbe[VBE_INDEX_BPP])
			g->kind = vbe_kinds[i].kind;
}

/* Source bytes of one scanline of width output pixels. */
static unsigned line_bytes(const struct geom *g)
{
	switch (g->kind) {
	case DRAW_2:
	case DRAW_4:
	case DRAW_8D2:
		return g->src_width / 2;	/* 4 bytes per 8 pixels */
	case DRAW_8:
		return g->src_width;
	case DRAW_15:
	case DRAW_16:
		return g->src_width * 2;
	case DRAW_24:
		return g->src_width * 3;
	case DRAW_32:
		return g->src_width * 4;
	default:
		return 0;
	}
}

/* The output pixels [*x0, *x1) that source bytes [b0, b1) feed. */
static void bytes_to_pixels(const struct geom *g, unsigned b0, unsigned b1,
			    unsigned *x0, unsigned *x1)
{
	switch (g->kind) {
	case DRAW_2:
	case DRAW_4:
		*x0 = b0 / 4 * 8;
		*x1 = (b1 + 3) / 4 * 8;
		if (g->dbl) {
			*x0 *= 2;
			*x1 *= 2;
		}
		break;
	case DRAW_8D2:
		*x0 = b0 * 2;
		*x1 = b1 * 2;
		break;
	case DRAW_8:
		*x0 = b0;
		*x1 = b1;
		break;
	case DRAW_15:
	case DRAW_16:
		*x0 = b0 / 2;
		*x1 = (b1 + 1) / 2;
		break;
	case DRAW_24:
		*x0 = b0 / 3;
		*x1 = (b1 + 2) / 3;
		break;
	default:
		*x0 = b0 / 4;
		*x1 = (b1 + 3) / 4;
		break;
	}
	*x1 = MIN(*x1, g->width);
}

static void draw_line(const struct vga *s, const struct geom *g,
		      const uint8_t *src, uint32_t *d)
{
	unsigned x, n = g->src_width;

	switch (g->kind) {
	case DRAW_4: {
		uint32_t pm = mask16(g->plane_mask);

		for (x = 0; x + 8 <= n; x += 8, src += 4) {
			uint32_t w;

			memcpy(&w, src, 4);
			w &= pm;
			for (unsigned i = 0; i < 8; i++) {
				unsigned bit = 7 - i, c;

				c = ((w >> bit) & 1) | ((w >> (bit + 7)) & 2) |
				    ((w >> (bit + 14)) & 4) |
				    ((w >> (bit + 21)) & 8);
				if (g->dbl) {
					*d++ = s->pal[c];
					*d++ = s->pal[c];
				} else {
					*d++ = s->pal[c];
				}
			}
		}
		break;
	}
	case DRAW_2: {
		uint32_t pm = mask16(g->plane_mask);

		for (x = 0; x + 8 <= n; x += 8, src += 4) {
			uint32_t w;

			memcpy(&w, src, 4);
			w &= pm;
			for (unsigned i = 0; i < 8; i++) {
				/* pixels 0-3 from planes 0 and 2, 4-7 from
				 * planes 1 and 3, two bits each */
				unsigned lo = i < 4 ? 0 : 8, sh = 6 - 2 * (i & 3);
				unsigned c = ((w >> (lo + sh)) & 3) |
					     (((w >> (lo + 16 + sh)) & 3) << 2);

				*d++ = s->pal[c];
				if (g->dbl)
					*d++ = s->pal[c];
			}
		}
		break;
	}
	case DRAW_8D2:
		for (x = 0; x < n / 2; x++) {
			*d++ = s->pal[src[x]];
			*d++ = s->pal[src[x]];
		}
		break;
	case DRAW_8:
		for (x = 0; x < n; x++)
			*d++ = s->pal[src[x]];
		break;
	case DRAW_15:
	case DRAW_16:
		/* 5:5:5 or 5:6:5, each component's top bits (as QEMU) */
		for (x = 0; x < n; x++) {
			unsigned v = src[2 * x] | src[2 * x + 1] << 8;
			unsigned r, gg, b = (v << 3) & 0xf8;

			if (g->kind == DRAW_15) {
				r = (v >> 7) & 0xf8;
				gg = (v >> 2) & 0xf8;
			} else {
				r = (v >> 8) & 0xf8;
				gg = (v >> 3) & 0xfc;
			}
			*d++ = r << 16 | gg << 8 | b;
		}
		break;
	case DRAW_24:
		for (x = 0; x < n; x++)
			*d++ = src[3 * x + 2] << 16 | src[3 * x + 1] << 8 |
			       src[3 * x];
		break;
	case DRAW_32:
		for (x = 0; x < n; x++)
			*d++ = (src[4 * x + 2] << 16 | src[4 * x + 1] << 8 |
				src[4 * x]);
		break;
	default:
		break;
	}
}

static bool all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* The first and one past the last byte where a and b (which differ)
 * differ, a word at a time. */
static void diff_span(const uint8_t *a, const uint8_t *b, unsigned n,
		      unsigned *b0, unsigned *b1)
{
	unsigned i = 0, j = n;
	uint64_t x, y;

	while (i + 8 <= n) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			break;
		i += 8;
	}
	while (i < n && a[i] == b[i])
		i++;
	while (j >= i + 8) {
		memcpy(&x, a + j - 8, 8);
		memcpy(&y, b + j - 8, 8);
		if (x != y)
			break;
		j -= 8;
	}
	while (j > i && a[j - 1] == b[j - 1])
		j--;
	*b0 = i;
	*b1 = j;
}

static void shadow_reserve(struct vga *s, size_t size)
{
	if (size <= s->shadow_size)
		return;
	g_free(s->shadow);
	s->shadow = g_malloc0(size);
	s->shadow_size = size;
}

/*
 * Graphics: per scanline, the source bytes are compared with what the
 * line was last drawn from; only lines that differ are drawn, and only the
 * span of pixels that changed is reported. A memcmp over the frame's bytes
 * is the whole cost of an unchanged frame: this works alike whatever runs
 * the CPUs (the LFB is plain memory under kvm and soft, with no write
 * tracking to ask), and no frame is ever copied whole.
 */
static void draw_graphic(struct vga *s, const struct geom *g, bool full)
{
	struct gh_display_surface surf;
	unsigned bw = line_bytes(g), y, y1 = 0, run = g->multi_scan;
	uint32_t addr1 = g->start;

	gh_display_draw_surface(s->con, &surf);
	shadow_reserve(s, (size_t)bw * g->height);
	for (y = 0; y < g->height; y++) {
		uint32_t *d = (uint32_t *)((uint8_t *)surf.data +
					   (size_t)y * surf.stride);
		uint8_t *sh = s->shadow + (size_t)y * bw;
		uint32_t addr = addr1;
		unsigned b0 = 0, b1 = bw, x0, x1;
		const uint8_t *src;

		if (!(g->cr_mode & 1)) {
			/* CGA: scanline bit 0 to address bit 13 (or 14+) */
			unsigned shift = 14 + ((g->cr_mode >> 6) & 1);

			addr = (addr & ~(1u << shift)) | ((y1 & 1) << shift);
		}
		if (!(g->cr_mode & 2))
			addr = (addr & ~0x8000u) | ((y1 & 2) << 14);
		if ((uint64_t)addr + bw > VRAM_SIZE) {
			/* past VRAM: what a real card shows there is its
			 * own business; here, black */
			if (full || !all_zero(sh, bw)) {
				memset(sh, 0, bw);
				memset(d, 0, g->width * 4);
				gh_display_damage(s->con, 0, y, g->width, 1);
			}
			goto next;
		}
		src = s->vram + addr;
		if (!full) {
			if (!memcmp(src, sh, bw))
				goto next;
			diff_span(src, sh, bw, &b0, &b1);
		}
		memcpy(sh + b0, src + b0, b1 - b0);
		draw_line(s, g, src, d);
		bytes_to_pixels(g, b0, b1, &x0, &x1);
		if (x1 > x0)
			gh_display_damage(s->con, x0, y, x1 - x0, 1);
next:
		if (!run) {
			unsigned mask = (g->cr_mode & 3) ^ 3;

			if ((y1 & mask) == mask)
				addr1 += g->line_offset;
			y1++;
			run = g->multi_scan;
		} else {
			run--;
		}
		/* line compare: the split screen restarts at address 0 */
		if (y == g->line_compare)
			addr1 = 0;
	}
}

/* A character cell: font is the glyph's first line in plane 2 (lines 4
 * bytes apart), or NULL for a solid block (the cursor). */
static void draw_glyph(uint32_t *d, unsigned stride, const uint8_t *font,
		       unsigned h, unsigned cw, bool dup9, uint32_t fg,
		       uint32_t bg)
{
	for (unsigned l = 0; l < h; l++) {
		unsigned bits = font ? font[4 * l] : 0xff;
		uint32_t *p = (uint32_t *)((uint8_t *)d + (size_t)l * stride);

		if (cw == 16) {
			for (unsigned i = 0; i < 8; i++)
				p[2 * i] = p[2 * i + 1] =
					bits & (0x80 >> i) ? fg : bg;
			continue;
		}
		for (unsigned i = 0; i < 8; i++)
			p[i] = bits & (0x80 >> i) ? fg : bg;
		if (cw == 9)
			p[8] = dup9 && (bits & 1) ? fg : bg;
	}
}

/* Blink phases from the host clock: the cursor toggles every 16 frames of
 * a 60 Hz display, blinking characters every 32 (IBM VGA TRM). */
#define CURSOR_HALF_PERIOD_US	(16 * 1000000 / 60)

static void update_phases(struct vga *s, bool *cursor_changed,
			  bool *blink_changed)
{
	int64_t now = g_get_monotonic_time();
	unsigned n;
	bool c, b;

	if (!s->phase_start_us)
		s->phase_start_us = now;
	n = (now - s->phase_start_us) / CURSOR_HALF_PERIOD_US;
	c = !(n & 1);
	b = !(n & 2);
	*cursor_changed = c != s->cursor_phase;
	*blink_changed = b != s->blink_phase;
	s->cursor_phase = c;
	s->blink_phase = b;
}

static uint32_t text_cursor_cell(const struct vga *s, const struct geom *g)
{
	uint32_t pos = (s->cr[CR_CURSOR_HI] << 8 | s->cr[CR_CURSOR_LO]) * 4;

	return (pos - g->start) / 4;
}

/*
 * Text: the shadow holds each cell's character and attribute as last
 * drawn; cells that differ, the cursor's old and new cells and, when the
 * blink phase turns, blinking cells are redrawn. The font is 8 KiB of
 * plane 2 per map: a write there redraws everything.
 */
static void draw_text(struct vga *s, const struct geom *g, bool full)
{
	struct gh_display_surface surf;
	uint16_t *sh;
	uint32_t cursor, old_cursor, offset = g->start;
	bool cursor_changed, blink_changed, cursor_on, cursor_moved;
	unsigned line = 0;

	update_phases(s, &cursor_changed, &blink_changed);
	if (s->font_written) {
		s->font_written = false;
		full = true;
	}
	gh_display_draw_surface(s->con, &surf);
	shadow_reserve(s, (size_t)g->cols * g->rows * 2);
	sh = (uint16_t *)s->shadow;
	/* the cursor's cell (as an offset from the start address) and
	 * whether it shows now; where either changed, both cells redraw */
	cursor = text_cursor_cell(s, g);
	cursor_on = !(s->cr[CR_CURSOR_START] & 0x20) && s->cursor_phase;
	old_cursor = s->cursor_cell;
	cursor_moved = !s->cursor_drawn || cursor != old_cursor ||
		       cursor_on != s->cursor_on ||
		       s->cr[CR_CURSOR_START] != s->cursor_start ||
		       s->cr[CR_CURSOR_END] != s->cursor_end;
	s->cursor_drawn = true;
	s->cursor_cell = cursor;
	s->cursor_on = cursor_on;
	s->cursor_start = s->cr[CR_CURSOR_START];
	s->cursor_end = s->cr[CR_CURSOR_END];
	for (unsigned cy = 0; cy < g->rows; cy++) {
		int cx_min = -1, cx_max = -1;

		for (unsigned cx = 0; cx < g->cols; cx++) {
			uint32_t a = offset + cx * 4, cell = cy * g->cols + cx;
			uint32_t src_cell = (a - g->start) / 4;
			bool is_cursor = src_cell == cursor;
			uint16_t chattr;
			uint8_t ch, attr;
			uint32_t fg, bg, *d;
			const uint8_t *font;
			bool dup9;

			chattr = a + 2 <= VRAM_SIZE ?
				 (s->vram[a] | s->vram[a + 1] << 8) : 0;
			if (!full && chattr == sh[cell] &&
			    !(cursor_moved &&
			      (is_cursor || src_cell == old_cursor)) &&
			    !(g->blink && (chattr & 0x8000) && blink_changed))
				continue;
			sh[cell] = chattr;
			if (cx_min < 0)
				cx_min = cx;
			cx_max = cx;
			ch = chattr & 0xff;
			attr = chattr >> 8;
			fg = s->pal[attr & 0xf];
			bg = s->pal[attr >> 4];
			if (g->blink) {
				/* bit 7 blinks the character instead of
				 * brightening the background */
				bg = s->pal[(attr >> 4) & 7];
				if ((attr & 0x80) && !s->blink_phase)
					fg = bg;
			}
			font = s->vram + g->font[(attr >> 3) & 1] + 32 * 4 * ch;
			dup9 = g->lge && ch >= 0xc0 && ch <= 0xdf;
			d = (uint32_t *)((uint8_t *)surf.data +
					 (size_t)cy * g->ch * surf.stride) +
			    cx * g->cw;
			draw_glyph(d, surf.stride, font, g->ch, g->cw, dup9,
				   fg, bg);
			if (is_cursor && cursor_on) {
				unsigned start = s->cr[CR_CURSOR_START] & 0x1f;
				unsigned end = s->cr[CR_CURSOR_END] & 0x1f;

				end = MIN(end, g->ch - 1);
				if (end >= start && start < g->ch)
					draw_glyph((uint32_t *)((uint8_t *)d +
						   (size_t)start * surf.stride),
						   surf.stride, NULL,
						   end - start + 1, g->cw, true,
						   fg, bg);
			}
		}
		if (cx_min >= 0)
			gh_display_damage(s->con, cx_min * g->cw, cy * g->ch,
					  (cx_max - cx_min + 1) * g->cw, g->ch);
		offset += g->line_offset;
		if (line < g->line_compare && line + g->ch >= g->line_compare)
			offset = 0;
		line += g->ch;
	}
}

static void vga_refresh(void *opaque)
{
	struct vga *s = opaque;
	struct geom g;
	uint32_t pal[256];
	bool full = false;

	compute_geom(s, &g);
	if (g.kind == DRAW_TEXT || g.kind == DRAW_2 || g.kind == DRAW_4)
		palette16(s, pal);
	else
		palette256(s, pal);
	if (g.kind == DRAW_BLANK) {
		struct gh_display_surface surf;

		/* blank keeps the size the screen had, black */
		gh_display_draw_surface(s->con, &surf);
		g.width = surf.width;
		g.height = surf.height;
	}
	if (memcmp(&g, &s->last, sizeof(g)) ||
	    memcmp(pal, s->pal, sizeof(pal))) {
		full = true;
		s->last = g;
		memcpy(s->pal, pal, sizeof(pal));
		s->cursor_drawn = false;
	}
	gh_display_resize(s->con, g.width, g.height);
	switch (g.kind) {
	case DRAW_BLANK:
		if (full) {
			struct gh_display_surface surf;

			gh_display_draw_surface(s->con, &surf);
			for (unsigned y = 0; y < surf.height; y++)
				memset((uint8_t *)surf.data +
				       (size_t)y * surf.stride, 0,
				       surf.width * 4);
			gh_display_damage(s->con, 0, 0, surf.width,
					  surf.height);
		}
		break;
	case DRAW_TEXT:
		draw_text(s, &g, full);
		break;
	default:
		draw_graphic(s, &g, full);
		break;
	}
}

static int vga_get_text(void *opaque, struct gh_display_text *t)
{
	struct vga *s = opaque;
	struct geom g;
	uint32_t cursor;

	compute_geom(s, &g);
	if (g.kind != DRAW_TEXT)
		return -ENOTSUP;
	t->cols = g.cols;
	t->rows = g.rows;
	t->cells = g_new0(struct gh_display_cell, (size_t)g.cols * g.rows);
	for (unsigned r = 0; r < g.rows; r++) {
		for (unsigned c = 0; c < g.cols; c++) {
			uint64_t a = g.start + (uint64_t)r * g.line_offset +
				     c * 4;
			struct gh_display_cell *cell = &t->cells[r * g.cols + c];

			if (a + 2 > VRAM_SIZE)
				continue;
			cell->ch = s->vram[a];
			cell->attr = s->vram[a + 1];
		}
	}
	cursor = text_cursor_cell(s, &g);
	if (g.line_offset >= 4) {
		t->cursor_row = cursor / (g.line_offset / 4);
		t->cursor_col = cursor % (g.line_offset / 4);
	}
	t->cursor_visible = !(s->cr[CR_CURSOR_START] & 0x20) &&
			    t->cursor_row < t->rows && t->cursor_col < t->cols;
	return 0;
}

static void vga_describe(void *opaque, char *buf, unsigned len)
{
	struct vga *s = opaque;
	struct geom g;

	compute_geom(s, &g);
	switch (g.kind) {
	case DRAW_BLANK:
		g_snprintf(buf, len, "blank");
		break;
	case DRAW_TEXT:
		g_snprintf(buf, len, "text %ux%u", g.cols, g.rows);
		break;
	case DRAW_2:
		g_snprintf(buf, len, "graphics %ux%u 4-colour (CGA)",
			   g.width, g.height);
		break;
	case DRAW_4:
		g_snprintf(buf, len, "graphics %ux%u 16-colour planar",
			   g.width, g.height);
		break;
	case DRAW_8D2:
		g_snprintf(buf, len, "graphics %ux%u 256-colour",
			   g.src_width / 2, g.height / (g.multi_scan + 1));
		break;
	default:
		g_snprintf(buf, len, "VBE graphics %ux%ux%u", g.width,
			   g.height, s->vbe[VBE_INDEX_BPP]);
		break;
	}
}

static const struct gh_display_ops vga_display_ops = {
	.refresh = vga_refresh,
	.get_text = vga_get_text,
	.describe = vga_describe,
};

/* --- the device ---------------------------------------------------------- */

struct gh_display *gh_vga_display(void *dev)
{
	struct vga *s = dev;

	return s->con;
}

static void load_rom(struct vga *s)
{
	gchar *data = NULL;
	gsize len = 0;
	GError *gerr = NULL;

	if (!g_file_get_contents(VGA_ROM_PATH, &data, &len, &gerr)) {
		/* the card works without its BIOS; the firmware then has no
		 * int 10h (direct kernel boots never need it) */
		g_info("vga: no option ROM: %s", gerr->message);
		g_error_free(gerr);
		return;
	}
	if (len == 0 || len > VGA_ROM_MAX) {
		g_info("vga: %s: unexpected size %zu", VGA_ROM_PATH, (size_t)len);
		g_free(data);
		return;
	}
	s->rom = data;
	s->rom_len = len;
}

static void vga_unrealize(void *dev);

static int vga_realize(void *dev, struct gh_vm *vm,
		       const struct gh_device_cfg *cfg, struct gh_error *err)
{
	struct vga *s = dev;
	struct gh_pci_func *f = &s->pci;
	const char *what;
	int ret;

	s->vm = vm;
	s->vram = mmap(NULL, VRAM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->vram == MAP_FAILED) {
		s->vram = NULL;
		return gh_error_set(err, -ENOMEM, "vga: cannot allocate VRAM");
	}
	s->con = gh_display_new("vga", gh_vm_lock(vm), &vga_display_ops, s);
	what = "ports 0x3b0-0x3df are taken";
	ret = gh_bus_map(gh_vm_pio(vm), 0x3b0, 0x30, &legacy_io_ops, s, "vga");
	if (ret < 0)
		goto err;
	s->io_mapped = true;
	what = "ports 0x1ce-0x1d0 are taken";
	ret = gh_bus_map(gh_vm_pio(vm), VBE_PORT_INDEX, 3, &vbe_io_ops, s,
			 "vbe-dispi");
	if (ret < 0)
		goto err;
	s->vbe_mapped = true;
	what = "0xa0000-0xbffff is taken";
	ret = gh_bus_map(gh_vm_mmio(vm), 0xa0000, 0x20000, &legacy_mem_ops, s,
			 "vga-mem");
	if (ret < 0)
		goto err;
	s->legacy_mapped = true;
	if (!cfg->pci)
		return 0;

	/* display controller 03.00.00; IDs and revision as QEMU's stdvga */
	gh_pci_func_init(f, 0x1234, 0x1111, 0x030000, 0x02, NULL, s);
	gh_pci_set_subsystem(f, 0x1af4, 0x1100);
	what = "cannot set up the BARs";
	ret = gh_pci_set_bar_ram(f, 0, true, VRAM_SIZE, s->vram, "vga-lfb");
	if (ret == 0)
		ret = gh_pci_set_bar(f, 2, GH_PCI_BAR_MEM32, false,
				     MMIO_BAR_SIZE, &mmio_ops, s, "vga-mmio");
	if (ret < 0)
		goto err;
	load_rom(s);
	what = "bad option ROM";
	if (s->rom) {
		ret = gh_pci_set_rom(f, s->rom, s->rom_len);
		if (ret < 0)
			goto err;
	}
	what = "00:02.0 is taken";
	ret = gh_pci_register(cfg->pci, f, VGA_DEVFN);
	if (ret < 0)
		goto err;
	return 0;
err:
	gh_error_set(err, ret, "vga: %s", what);
	vga_unrealize(s);
	return ret;
}

static void vga_reset(void *dev)
{
	struct vga *s = dev;

	if (s->pci.bus)
		gh_pci_func_reset(&s->pci);
	s->misc = s->fcr = s->st01 = 0;
	s->sr_index = s->gr_index = s->cr_index = s->ar_index = 0;
	memset(s->sr, 0, sizeof(s->sr));
	memset(s->gr, 0, sizeof(s->gr));
	memset(s->cr, 0, sizeof(s->cr));
	memset(s->ar, 0, sizeof(s->ar));
	s->ar_flip_flop = false;
	s->dac_state = s->dac_read_index = s->dac_write_index = 0;
	s->dac_sub_index = 0;
	memset(s->dac_cache, 0, sizeof(s->dac_cache));
	memset(s->palette, 0, sizeof(s->palette));
	s->pel_mask = 0xff;
	s->latch = 0;
	s->vbe_index = 0;
	memset(s->vbe, 0, sizeof(s->vbe));
	s->vbe[VBE_INDEX_ID] = VBE_ID5;
	s->vbe_start = s->vbe_line_offset = 0;
	s->bank_offset = 0;
	/* the next refresh redraws everything */
	memset(&s->last, 0xff, sizeof(s->last));
	s->font_written = true;
}

static void vga_unrealize(void *dev)
{
	struct vga *s = dev;

	if (s->pci.bus)
		gh_pci_unregister(&s->pci);
	if (s->legacy_mapped)
		gh_bus_unmap(gh_vm_mmio(s->vm), 0xa0000);
	if (s->vbe_mapped)
		gh_bus_unmap(gh_vm_pio(s->vm), VBE_PORT_INDEX);
	if (s->io_mapped)
		gh_bus_unmap(gh_vm_pio(s->vm), 0x3b0);
	gh_display_free(s->con);
	g_free(s->shadow);
	g_free(s->rom);
	if (s->vram)
		munmap(s->vram, VRAM_SIZE);
}

const struct gh_device_type gh_vga_type = {
	.name = "vga",
	.level = 1,
	.size = sizeof(struct vga),
	.realize = vga_realize,
	.reset = vga_reset,
	.unrealize = vga_unrealize,
};
