/*
 * Tests of the standard VGA (devices/display/vga.c) and the display
 * abstraction it renders into (vmm-core/display.c), driven as a guest
 * drives them: the register files, the attribute flip-flop, the DAC, Bochs
 * DISPI, the write and read modes with the latches, chain-4, text
 * rendering against pixels computed here from the font, dirty rectangles,
 * out-of-range values, the framebuffer BAR moving, and mode changes.
 */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "devtest.h"
#include "gh/display.h"
#include "gh/memory.h"
#include "gh/pci.h"
#include "gh/vga.h"
#include "vga-modes.h"

#define CONF_ADDR	0xcf8
#define CONF_DATA	0xcfc
#define VGA_DEVFN	GH_PCI_DEVFN(2, 0)
#define VBE_INDEX	0x1ce
#define VBE_DATA	0x1cf
#define LFB_ADDR	0xe0000000u
#define MMIO_ADDR	0xe1000000u

struct fx {
	struct gh_vm *vm;
	struct gh_pci_bus *pci;
	struct gh_device *dev;
	struct gh_display *con;
};

static void fx_setup(struct fx *f, gconstpointer data)
{
	struct gh_device_cfg cfg = { .irq = -1 };
	struct gh_error err = { 0 };

	(void)data;
	f->vm = dt_vm_new();
	g_assert_cmpint(gh_pci_bus_new(f->vm, &f->pci, &err), ==, 0);
	cfg.pci = f->pci;
	f->dev = dt_dev_new(f->vm, &gh_vga_type, &cfg);
	f->con = gh_vga_display(f->dev->state);
	g_assert_nonnull(f->con);
}

static void fx_teardown(struct fx *f, gconstpointer data)
{
	(void)data;
	gh_device_free(f->dev);
	gh_pci_bus_free(f->pci);
	gh_vm_free(f->vm);
}

/* --- helpers: what a BIOS does ------------------------------------------- */

static void memw(struct fx *f, uint32_t off, uint8_t v)
{
	gh_bus_write(gh_vm_mmio(f->vm), 0xa0000 + off, v, 1);
}

static uint8_t memr(struct fx *f, uint32_t off)
{
	return (uint8_t)gh_bus_read(gh_vm_mmio(f->vm), 0xa0000 + off, 1);
}

static void seq(struct fx *f, uint8_t i, uint8_t v)
{
	dt_outb(f->vm, 0x3c4, i);
	dt_outb(f->vm, 0x3c5, v);
}

static void gc(struct fx *f, uint8_t i, uint8_t v)
{
	dt_outb(f->vm, 0x3ce, i);
	dt_outb(f->vm, 0x3cf, v);
}

static void crtc(struct fx *f, uint8_t i, uint8_t v)
{
	dt_outb(f->vm, 0x3d4, i);
	dt_outb(f->vm, 0x3d5, v);
}

static void set_mode(struct fx *f, const struct vga_mode_regs *m)
{
	unsigned i;

	dt_outb(f->vm, 0x3c2, m->misc);
	for (i = 0; i < 5; i++)
		seq(f, i, m->seq[i]);
	/* unlock CR0-7 first */
	crtc(f, 0x11, m->crtc[0x11] & 0x7f);
	for (i = 0; i < 25; i++)
		crtc(f, i, m->crtc[i]);
	for (i = 0; i < 9; i++)
		gc(f, i, m->gc[i]);
	dt_inb(f->vm, 0x3da);
	for (i = 0; i < 21; i++) {
		dt_outb(f->vm, 0x3c0, i);
		dt_outb(f->vm, 0x3c0, m->ac[i]);
	}
	dt_outb(f->vm, 0x3c0, 0x20);	/* video on */
}

static void load_dac(struct fx *f)
{
	dt_outb(f->vm, 0x3c8, 0);
	for (unsigned i = 0; i < 256; i++) {
		uint8_t rgb[3];

		vga_test_dac(i, rgb);
		for (unsigned k = 0; k < 3; k++)
			dt_outb(f->vm, 0x3c9, rgb[k]);
	}
}

/* The font into plane 2 (as a BIOS does: planar, map mask 4, then back) */
static void load_font(struct fx *f)
{
	seq(f, 2, 0x04);
	seq(f, 4, 0x07);
	gc(f, 4, 0x02);
	gc(f, 5, 0x00);
	gc(f, 6, 0x04);
	for (unsigned c = 0; c < 256; c++)
		for (unsigned y = 0; y < 32; y++)
			memw(f, c * 32 + y, y < 16 ? vga_test_font(c, y) : 0);
	seq(f, 2, 0x03);
	seq(f, 4, 0x02);
	gc(f, 4, 0x00);
	gc(f, 5, 0x10);
	gc(f, 6, 0x0e);
}

static void vbe_w(struct fx *f, uint16_t i, uint16_t v)
{
	dt_outw(f->vm, VBE_INDEX, i);
	dt_outw(f->vm, VBE_DATA, v);
}

static uint16_t vbe_r(struct fx *f, uint16_t i)
{
	dt_outw(f->vm, VBE_INDEX, i);
	return dt_inw(f->vm, VBE_DATA);
}

static uint32_t c6_to_8(uint32_t v)
{
	v &= 0x3f;
	return (v << 2) | ((v & 1) << 1) | (v & 1);
}

static uint32_t dac_xrgb(unsigned i)
{
	uint8_t rgb[3];

	vga_test_dac(i, rgb);
	return c6_to_8(rgb[0]) << 16 | c6_to_8(rgb[1]) << 8 | c6_to_8(rgb[2]);
}

static uint32_t pixel(struct fx *f, unsigned x, unsigned y)
{
	struct gh_display_surface s;

	gh_display_surface(f->con, &s);
	g_assert_cmpuint(x, <, s.width);
	g_assert_cmpuint(y, <, s.height);
	return *(uint32_t *)((uint8_t *)s.data + (size_t)y * s.stride + 4 * x);
}

static void cfg_write32(struct fx *f, unsigned reg, uint32_t v)
{
	dt_outl(f->vm, CONF_ADDR, 0x80000000u | VGA_DEVFN << 8 | reg);
	dt_outl(f->vm, CONF_DATA, v);
}

static uint32_t cfg_read32(struct fx *f, unsigned reg)
{
	dt_outl(f->vm, CONF_ADDR, 0x80000000u | VGA_DEVFN << 8 | reg);
	return dt_inl(f->vm, CONF_DATA);
}

/* --- tests --------------------------------------------------------------- */

static void test_pci_ids(struct fx *f, gconstpointer data)
{
	(void)data;
	g_assert_cmphex(cfg_read32(f, 0x00), ==, 0x11111234);
	g_assert_cmphex(cfg_read32(f, 0x08) >> 8, ==, 0x030000);
	/* BAR0: 16 MiB prefetchable memory; BAR2: 4 KiB memory */
	cfg_write32(f, 0x10, 0xffffffff);
	g_assert_cmphex(cfg_read32(f, 0x10), ==, 0xff000008);
	cfg_write32(f, 0x18, 0xffffffff);
	g_assert_cmphex(cfg_read32(f, 0x18), ==, 0xfffff000);
	/* the option ROM is there when SeaBIOS is installed */
	cfg_write32(f, 0x30, 0xfffff800);
	if (g_file_test("/usr/share/seabios/vgabios-stdvga.bin",
			G_FILE_TEST_EXISTS))
		g_assert_cmphex(cfg_read32(f, 0x30), !=, 0);
}

static void test_registers(struct fx *f, gconstpointer data)
{
	(void)data;
	/* colour mode: the CRTC at 0x3D4, 0x3B4 not decoded */
	dt_outb(f->vm, 0x3c2, 0x67);
	g_assert_cmphex(dt_inb(f->vm, 0x3cc), ==, 0x67);
	crtc(f, 0x0e, 0x12);
	g_assert_cmphex(dt_inb(f->vm, 0x3d5), ==, 0x12);
	g_assert_cmphex(dt_inb(f->vm, 0x3d4), ==, 0x0e);
	g_assert_cmphex(dt_inb(f->vm, 0x3b5), ==, 0xff);
	dt_outb(f->vm, 0x3b4, 0x0f);
	g_assert_cmphex(dt_inb(f->vm, 0x3d4), ==, 0x0e);
	/* monochrome: the other way round */
	dt_outb(f->vm, 0x3c2, 0x66);
	dt_outb(f->vm, 0x3b4, 0x0e);
	g_assert_cmphex(dt_inb(f->vm, 0x3b5), ==, 0x12);
	g_assert_cmphex(dt_inb(f->vm, 0x3d5), ==, 0xff);
	dt_outb(f->vm, 0x3c2, 0x67);

	/* CR11 bit 7 protects CR0-7 but CR7's line compare bit */
	crtc(f, 0x11, 0x80);
	crtc(f, 0x01, 0x4f);
	crtc(f, 0x07, 0xff);
	dt_outb(f->vm, 0x3d4, 0x01);
	g_assert_cmphex(dt_inb(f->vm, 0x3d5), ==, 0x00);
	dt_outb(f->vm, 0x3d4, 0x07);
	g_assert_cmphex(dt_inb(f->vm, 0x3d5), ==, 0x10);
	crtc(f, 0x11, 0x00);
	crtc(f, 0x01, 0x4f);
	dt_outb(f->vm, 0x3d4, 0x01);
	g_assert_cmphex(dt_inb(f->vm, 0x3d5), ==, 0x4f);

	/* sequencer and graphics controller keep their defined bits */
	seq(f, 0x01, 0xff);
	g_assert_cmphex(dt_inb(f->vm, 0x3c5), ==, 0x3d);
	seq(f, 0x04, 0xff);
	g_assert_cmphex(dt_inb(f->vm, 0x3c5), ==, 0x0e);
	gc(f, 0x05, 0xff);
	g_assert_cmphex(dt_inb(f->vm, 0x3cf), ==, 0x7b);
	gc(f, 0x08, 0x5a);
	g_assert_cmphex(dt_inb(f->vm, 0x3cf), ==, 0x5a);
	/* word OUTs write index then data, as BIOSes do */
	dt_outw(f->vm, 0x3ce, 0xa507);
	dt_outb(f->vm, 0x3ce, 0x07);
	g_assert_cmphex(dt_inb(f->vm, 0x3cf), ==, 0x05);
	dt_outw(f->vm, 0x3d4, 0x340c);
	dt_outb(f->vm, 0x3d4, 0x0c);
	g_assert_cmphex(dt_inb(f->vm, 0x3d5), ==, 0x34);
	/* out-of-range indexes: masked or read as 0, never past the file */
	dt_outb(f->vm, 0x3c4, 0xff);
	g_assert_cmphex(dt_inb(f->vm, 0x3c4), ==, 0x07);
	dt_outb(f->vm, 0x3d4, 0xff);
	dt_outb(f->vm, 0x3d5, 0x77);
	g_assert_cmphex(dt_inb(f->vm, 0x3d5), ==, 0x00);
	dt_outb(f->vm, 0x3ce, 0xff);
	dt_outb(f->vm, 0x3cf, 0x77);
	g_assert_cmphex(dt_inb(f->vm, 0x3cf), ==, 0x00);
}

static void test_attr_flip_flop(struct fx *f, gconstpointer data)
{
	(void)data;
	dt_outb(f->vm, 0x3c2, 0x67);
	dt_inb(f->vm, 0x3da);		/* flip-flop to index */
	dt_outb(f->vm, 0x3c0, 0x05);	/* index */
	dt_outb(f->vm, 0x3c0, 0x2a);	/* data */
	g_assert_cmphex(dt_inb(f->vm, 0x3c0), ==, 0x05);
	g_assert_cmphex(dt_inb(f->vm, 0x3c1), ==, 0x2a);
	/* next write is an index again */
	dt_outb(f->vm, 0x3c0, 0x06);
	dt_outb(f->vm, 0x3c0, 0x15);
	g_assert_cmphex(dt_inb(f->vm, 0x3c1), ==, 0x15);
	/* half way through a pair, reading input status 1 resets it */
	dt_outb(f->vm, 0x3c0, 0x07);
	dt_inb(f->vm, 0x3da);
	dt_outb(f->vm, 0x3c0, 0x05);
	dt_outb(f->vm, 0x3c0, 0x3f);
	g_assert_cmphex(dt_inb(f->vm, 0x3c1), ==, 0x3f);
	dt_outb(f->vm, 0x3c0, 0x07);
	g_assert_cmphex(dt_inb(f->vm, 0x3c1), ==, 0x00);
	/* palette entries keep 6 bits; index bit 5 (PAS) reads back */
	dt_inb(f->vm, 0x3da);
	dt_outb(f->vm, 0x3c0, 0x21);
	dt_outb(f->vm, 0x3c0, 0xff);
	g_assert_cmphex(dt_inb(f->vm, 0x3c0), ==, 0x21);
	g_assert_cmphex(dt_inb(f->vm, 0x3c1), ==, 0x3f);
	/* index past the file: reads 0 */
	dt_inb(f->vm, 0x3da);
	dt_outb(f->vm, 0x3c0, 0x1f);
	dt_outb(f->vm, 0x3c0, 0xff);
	g_assert_cmphex(dt_inb(f->vm, 0x3c1), ==, 0x00);
	/* retrace and display enable toggle on every read */
	g_assert_cmphex(dt_inb(f->vm, 0x3da) ^ dt_inb(f->vm, 0x3da), ==, 0x09);
	/* not decoded in monochrome mode */
	dt_outb(f->vm, 0x3c2, 0x66);
	g_assert_cmphex(dt_inb(f->vm, 0x3da), ==, 0xff);
}

static void test_dac(struct fx *f, gconstpointer data)
{
	(void)data;
	dt_outb(f->vm, 0x3c8, 0xfe);
	g_assert_cmphex(dt_inb(f->vm, 0x3c7), ==, 0x00);	/* writing */
	for (unsigned i = 0; i < 7; i++)
		dt_outb(f->vm, 0x3c9, 0x10 + i);
	/* two full entries and one byte: the index moved on twice, wrapping */
	g_assert_cmphex(dt_inb(f->vm, 0x3c8), ==, 0x00);
	dt_outb(f->vm, 0x3c7, 0xfe);
	g_assert_cmphex(dt_inb(f->vm, 0x3c7), ==, 0x03);	/* reading */
	for (unsigned i = 0; i < 6; i++)
		g_assert_cmphex(dt_inb(f->vm, 0x3c9), ==, 0x10 + i);
	/* entry 0 was not written: the third triple was incomplete */
	for (unsigned i = 0; i < 3; i++)
		g_assert_cmphex(dt_inb(f->vm, 0x3c9), ==, 0x00);
	/* a new write index restarts the triple */
	dt_outb(f->vm, 0x3c8, 0x01);
	dt_outb(f->vm, 0x3c9, 0x01);
	dt_outb(f->vm, 0x3c8, 0x01);
	dt_outb(f->vm, 0x3c9, 0x21);
	dt_outb(f->vm, 0x3c9, 0x22);
	dt_outb(f->vm, 0x3c9, 0x23);
	dt_outb(f->vm, 0x3c7, 0x01);
	g_assert_cmphex(dt_inb(f->vm, 0x3c9), ==, 0x21);
	g_assert_cmphex(dt_inb(f->vm, 0x3c9), ==, 0x22);
	g_assert_cmphex(dt_inb(f->vm, 0x3c9), ==, 0x23);
}

static void test_dispi(struct fx *f, gconstpointer data)
{
	(void)data;
	g_assert_cmphex(vbe_r(f, 0), ==, 0xb0c5);
	vbe_w(f, 0, 0xb0c0);
	g_assert_cmphex(vbe_r(f, 0), ==, 0xb0c0);
	vbe_w(f, 0, 0x1234);		/* not an ID: ignored */
	g_assert_cmphex(vbe_r(f, 0), ==, 0xb0c0);
	g_assert_cmphex(vbe_r(f, 0xa), ==, 256);	/* 16 MiB in 64 KiB */
	/* GETCAPS: the maxima instead of the values */
	vbe_w(f, 4, 0x02);
	g_assert_cmpuint(vbe_r(f, 1), >=, 2560);
	g_assert_cmpuint(vbe_r(f, 2), >=, 1600);
	g_assert_cmpuint(vbe_r(f, 3), ==, 32);
	vbe_w(f, 4, 0);
	vbe_w(f, 1, 800);
	vbe_w(f, 2, 600);
	vbe_w(f, 3, 16);
	g_assert_cmpuint(vbe_r(f, 1), ==, 800);
	vbe_w(f, 4, 0x41);		/* enabled, LFB */
	g_assert_cmphex(vbe_r(f, 4), ==, 0x41);
	g_assert_cmpuint(vbe_r(f, 6), ==, 800);
	g_assert_cmpuint(vbe_r(f, 7), ==, 600);
	/* the mode is fixed while enabled */
	vbe_w(f, 1, 1024);
	g_assert_cmpuint(vbe_r(f, 1), ==, 800);
	/* offsets stay inside the virtual screen */
	vbe_w(f, 8, 5000);
	g_assert_cmpuint(vbe_r(f, 8), ==, 0);
	vbe_w(f, 6, 1600);
	vbe_w(f, 8, 5000);
	g_assert_cmpuint(vbe_r(f, 8), ==, 800);
	vbe_w(f, 7, 0xffff);
	/* 1600 * 2 bytes a line: 5242 lines fit 16 MiB */
	g_assert_cmpuint(vbe_r(f, 7), ==, (16u << 20) / 3200);
	/* banks stay inside VRAM */
	vbe_w(f, 5, 0xffff);
	g_assert_cmpuint(vbe_r(f, 5), ==, 255);
	/* unknown indexes read 0 and take nothing */
	vbe_w(f, 0x7777, 0x5555);
	g_assert_cmphex(vbe_r(f, 0x7777), ==, 0);
	g_assert_cmphex(dt_inw(f->vm, VBE_INDEX), ==, 0x7777);
	vbe_w(f, 4, 0);
}

static void test_write_modes(struct fx *f, gconstpointer data)
{
	(void)data;
	set_mode(f, &vga_mode_12);
	/* write mode 0, all planes, set/reset off: the byte to every plane */
	seq(f, 2, 0x0f);
	gc(f, 5, 0x00);
	gc(f, 1, 0x00);
	gc(f, 3, 0x00);
	gc(f, 8, 0xff);
	memw(f, 0, 0xa5);
	for (unsigned p = 0; p < 4; p++) {
		gc(f, 4, p);
		g_assert_cmphex(memr(f, 0), ==, 0xa5);
	}
	/* map mask: only planes 1 and 3 */
	seq(f, 2, 0x0a);
	memw(f, 0, 0x3c);
	seq(f, 2, 0x0f);
	gc(f, 4, 0);
	g_assert_cmphex(memr(f, 0), ==, 0xa5);
	gc(f, 4, 1);
	g_assert_cmphex(memr(f, 0), ==, 0x3c);
	/* set/reset: plane 0 from set/reset (1 -> 0xff), plane 2 (0 -> 0) */
	gc(f, 0, 0x01);
	gc(f, 1, 0x05);
	memw(f, 1, 0x42);
	gc(f, 4, 0);
	g_assert_cmphex(memr(f, 1), ==, 0xff);
	gc(f, 4, 1);
	g_assert_cmphex(memr(f, 1), ==, 0x42);
	gc(f, 4, 2);
	g_assert_cmphex(memr(f, 1), ==, 0x00);
	gc(f, 1, 0x00);
	/* rotate by 4 */
	gc(f, 3, 0x04);
	memw(f, 2, 0x12);
	gc(f, 4, 3);
	g_assert_cmphex(memr(f, 2), ==, 0x21);
	/* bit mask keeps the latched bits; XOR with the latches */
	gc(f, 3, 0x18);			/* XOR, no rotate */
	gc(f, 8, 0xf0);
	gc(f, 4, 0);
	(void)memr(f, 0);		/* latch offset 0: a5 3c a5 3c */
	memw(f, 0, 0xff);
	gc(f, 4, 0);
	g_assert_cmphex(memr(f, 0), ==, 0x55);	/* a5 ^ f0 in the mask */
	gc(f, 4, 1);
	g_assert_cmphex(memr(f, 0), ==, 0xcc);
	gc(f, 3, 0x00);
	gc(f, 8, 0xff);
	/* write mode 1: the latches copied (a whole 8 pixels move) */
	(void)memr(f, 0);
	gc(f, 5, 0x01);
	memw(f, 100, 0x00);
	gc(f, 5, 0x00);
	for (unsigned p = 0; p < 4; p++) {
		gc(f, 4, p);
		uint8_t want = memr(f, 0);

		g_assert_cmphex(memr(f, 100), ==, want);
	}
	/* write mode 2: the value's 4 low bits as a colour, through the mask */
	gc(f, 5, 0x02);
	gc(f, 8, 0x0f);
	(void)memr(f, 200);		/* latches: all zero */
	memw(f, 200, 0x09);		/* colour 9: planes 0 and 3 */
	gc(f, 5, 0x00);
	gc(f, 8, 0xff);
	gc(f, 4, 0);
	g_assert_cmphex(memr(f, 200), ==, 0x0f);
	gc(f, 4, 1);
	g_assert_cmphex(memr(f, 200), ==, 0x00);
	gc(f, 4, 3);
	g_assert_cmphex(memr(f, 200), ==, 0x0f);
	/* write mode 3: set/reset colour, the rotated value ANDs the mask */
	gc(f, 5, 0x03);
	gc(f, 0, 0x06);			/* colour 6: planes 1 and 2 */
	gc(f, 8, 0x3c);
	(void)memr(f, 300);
	memw(f, 300, 0xf0);		/* mask 0x3c & 0xf0 = 0x30 */
	gc(f, 5, 0x00);
	gc(f, 8, 0xff);
	gc(f, 4, 0);
	g_assert_cmphex(memr(f, 300), ==, 0x00);
	gc(f, 4, 1);
	g_assert_cmphex(memr(f, 300), ==, 0x30);
	gc(f, 4, 2);
	g_assert_cmphex(memr(f, 300), ==, 0x30);
	/* read mode 1: colour compare against 9 (offset 200: bits 3:0) */
	gc(f, 5, 0x08);
	gc(f, 2, 0x09);
	gc(f, 7, 0x0f);
	g_assert_cmphex(memr(f, 200), ==, 0x0f);
	gc(f, 2, 0x00);
	g_assert_cmphex(memr(f, 200), ==, 0xf0);
	/* don't care: planes left out always match */
	gc(f, 7, 0x00);
	g_assert_cmphex(memr(f, 200), ==, 0xff);
	gc(f, 5, 0x00);
}

static void test_chain4_odd_even(struct fx *f, gconstpointer data)
{
	(void)data;
	set_mode(f, &vga_mode_13);
	for (unsigned i = 0; i < 16; i++)
		memw(f, i, 0x40 + i);
	for (unsigned i = 0; i < 16; i++)
		g_assert_cmphex(memr(f, i), ==, 0x40 + i);
	/* unchained, byte 1 of plane p holds chained address 4 + p */
	seq(f, 4, 0x06);
	gc(f, 5, 0x00);
	for (unsigned p = 0; p < 4; p++) {
		gc(f, 4, p);
		g_assert_cmphex(memr(f, 1), ==, 0x44 + p);
	}
	/* odd/even (text modes): even addresses in plane 0, odd in 1 */
	set_mode(f, &vga_mode_03);
	memw(f, 0x18000, 'A');
	memw(f, 0x18001, 0x1e);
	memw(f, 0x18002, 'B');
	g_assert_cmphex(memr(f, 0x18000), ==, 'A');
	g_assert_cmphex(memr(f, 0x18001), ==, 0x1e);
	seq(f, 4, 0x06);
	gc(f, 5, 0x00);
	gc(f, 6, 0x04);
	gc(f, 4, 0);
	g_assert_cmphex(memr(f, 0), ==, 'A');
	g_assert_cmphex(memr(f, 1), ==, 'B');
	gc(f, 4, 1);
	g_assert_cmphex(memr(f, 0), ==, 0x1e);
	/* memory map select: B8000 only; A0000 and B0000 then read all-ones */
	set_mode(f, &vga_mode_03);
	g_assert_cmphex(memr(f, 0), ==, 0xff);
	g_assert_cmphex(memr(f, 0x10000), ==, 0xff);
	memw(f, 0, 0x00);
}

/* Expected pixel (x, y) of the test text screen, from the font bytes */
static uint32_t text_expect(unsigned x, unsigned y)
{
	static const uint8_t ac[16] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
					0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b,
					0x3c, 0x3d, 0x3e, 0x3f };
	unsigned r = y / 16, c = x / 9, line = y % 16, dot = x % 9;
	uint8_t ch = vga_test_char(r, c), attr = vga_test_attr(r, c);
	uint8_t bits = vga_test_font(ch, line);
	bool on;

	if (dot < 8)
		on = bits & (0x80 >> dot);
	else
		on = ch >= 0xc0 && ch <= 0xdf && (bits & 1);
	return dac_xrgb(ac[on ? attr & 0xf : attr >> 4]);
}

static void draw_text_screen(struct fx *f)
{
	set_mode(f, &vga_mode_03);
	load_dac(f);
	load_font(f);
	crtc(f, 0x0a, 0x20);		/* cursor off */
	for (unsigned r = 0; r < 25; r++)
		for (unsigned c = 0; c < 80; c++) {
			memw(f, 0x18000 + (r * 80 + c) * 2, vga_test_char(r, c));
			memw(f, 0x18001 + (r * 80 + c) * 2, vga_test_attr(r, c));
		}
}

static void test_text(struct fx *f, gconstpointer data)
{
	struct gh_display_surface s;
	struct gh_display_text t;
	char mode[64];

	(void)data;
	draw_text_screen(f);
	gh_display_refresh(f->con);
	gh_display_surface(f->con, &s);
	g_assert_cmpuint(s.width, ==, 720);
	g_assert_cmpuint(s.height, ==, 400);
	for (unsigned y = 0; y < 400; y++)
		for (unsigned x = 0; x < 720; x++)
			if (pixel(f, x, y) != text_expect(x, y))
				g_error("pixel (%u, %u): %06x, expected %06x",
					x, y, pixel(f, x, y),
					text_expect(x, y));
	g_assert_cmpint(gh_display_get_text(f->con, &t), ==, 0);
	g_assert_cmpuint(t.cols, ==, 80);
	g_assert_cmpuint(t.rows, ==, 25);
	g_assert_cmphex(t.cells[3 * 80 + 7].ch, ==, vga_test_char(3, 7));
	g_assert_cmphex(t.cells[3 * 80 + 7].attr, ==, vga_test_attr(3, 7));
	g_assert_false(t.cursor_visible);
	gh_display_text_clear(&t);
	gh_display_describe(f->con, mode, sizeof(mode));
	g_assert_cmpstr(mode, ==, "text 80x25");

	/* the cursor: lines 14-15 of its cell in the foreground colour */
	crtc(f, 0x0a, 0x0e);
	crtc(f, 0x0b, 0x0f);
	crtc(f, 0x0e, 0x00);
	crtc(f, 0x0f, 2 * 80 + 5);
	g_assert_cmpint(gh_display_get_text(f->con, &t), ==, 0);
	g_assert_true(t.cursor_visible);
	g_assert_cmpuint(t.cursor_row, ==, 2);
	g_assert_cmpuint(t.cursor_col, ==, 5);
	gh_display_text_clear(&t);
	/* drawn (or not: it blinks) at (2, 5); moved back to (1, 0), the
	 * old cell shows its character again whatever the phase */
	gh_display_refresh(f->con);
	crtc(f, 0x0f, 80);
	gh_display_refresh(f->con);
	for (unsigned y = 2 * 16 + 14; y < 3 * 16; y++)
		for (unsigned x = 5 * 9; x < 6 * 9; x++)
			g_assert_cmphex(pixel(f, x, y), ==, text_expect(x, y));
	crtc(f, 0x0a, 0x20);
	gh_display_refresh(f->con);
	for (unsigned x = 0; x < 9; x++)
		g_assert_cmphex(pixel(f, x, 31), ==, text_expect(x, 31));

	/* 40 columns: each dot twice */
	seq(f, 1, 0x08);
	crtc(f, 0x11, 0x0e);		/* unprotect CR0-7 */
	crtc(f, 0x01, 39);
	gh_display_refresh(f->con);
	gh_display_surface(f->con, &s);
	g_assert_cmpuint(s.width, ==, 640);
	for (unsigned x = 0; x < 16; x++) {
		uint8_t bits = vga_test_font(vga_test_char(0, 0), 0);
		uint8_t a = vga_test_attr(0, 0);
		static const uint8_t ac[16] = { 0x00, 0x01, 0x02, 0x03, 0x04,
						0x05, 0x14, 0x07, 0x38, 0x39,
						0x3a, 0x3b, 0x3c, 0x3d, 0x3e,
						0x3f };
		bool on = bits & (0x80 >> (x / 2));

		g_assert_cmphex(pixel(f, x, 0), ==,
				dac_xrgb(ac[on ? a & 0xf : a >> 4]));
	}
}

static void test_graphics(struct fx *f, gconstpointer data)
{
	struct gh_display_surface s;
	char mode[64];

	(void)data;
	set_mode(f, &vga_mode_13);
	load_dac(f);
	for (unsigned y = 0; y < 200; y++)
		for (unsigned x = 0; x < 320; x++)
			memw(f, y * 320 + x, vga_test_pixel8(x, y));
	gh_display_refresh(f->con);
	gh_display_surface(f->con, &s);
	g_assert_cmpuint(s.width, ==, 640);
	g_assert_cmpuint(s.height, ==, 400);
	for (unsigned y = 0; y < 400; y += 3)
		for (unsigned x = 0; x < 640; x += 5)
			g_assert_cmphex(pixel(f, x, y), ==,
					dac_xrgb(vga_test_pixel8(x / 2, y / 2)));
	gh_display_describe(f->con, mode, sizeof(mode));
	g_assert_cmpstr(mode, ==, "graphics 320x200 256-colour");
	/* the PEL mask ANDs every index before the DAC, and redraws */
	dt_outb(f->vm, 0x3c6, 0x0f);
	g_assert_cmphex(dt_inb(f->vm, 0x3c6), ==, 0x0f);
	gh_display_refresh(f->con);
	for (unsigned y = 0; y < 400; y += 7)
		for (unsigned x = 0; x < 640; x += 3)
			g_assert_cmphex(pixel(f, x, y), ==,
					dac_xrgb(vga_test_pixel8(x / 2, y / 2) &
						 0x0f));
	dt_outb(f->vm, 0x3c6, 0xff);
	gh_display_refresh(f->con);
	g_assert_cmphex(pixel(f, 321, 201), ==,
			dac_xrgb(vga_test_pixel8(160, 100)));

	/* mode 12h: colour 9 in write mode 2 at the top-left 8 pixels */
	set_mode(f, &vga_mode_12);
	gc(f, 5, 0x02);
	memw(f, 0, 0x09);
	memw(f, 80, 0x0e);
	gc(f, 5, 0x00);
	gh_display_refresh(f->con);
	gh_display_surface(f->con, &s);
	g_assert_cmpuint(s.width, ==, 640);
	g_assert_cmpuint(s.height, ==, 480);
	/* attribute palette entry 9 is DAC 0x39, 14 is 0x3e */
	g_assert_cmphex(pixel(f, 3, 0), ==, dac_xrgb(0x39));
	g_assert_cmphex(pixel(f, 7, 1), ==, dac_xrgb(0x3e));
	/* plane enable masks planes out: colour 9 without plane 3 is 1 */
	dt_inb(f->vm, 0x3da);
	dt_outb(f->vm, 0x3c0, 0x12);
	dt_outb(f->vm, 0x3c0, 0x07);
	dt_outb(f->vm, 0x3c0, 0x20);
	gh_display_refresh(f->con);
	g_assert_cmphex(pixel(f, 3, 0), ==, dac_xrgb(0x01));
}

static void test_vbe(struct fx *f, gconstpointer data)
{
	struct gh_display_surface s;
	struct gh_display_text t;
	uint8_t *lfb;

	(void)data;
	/* the LFB where the guest puts BAR0 */
	cfg_write32(f, 0x10, LFB_ADDR);
	cfg_write32(f, 0x04, 0x0003);
	lfb = gh_mem_map(gh_vm_memory(f->vm), LFB_ADDR, 16u << 20);
	g_assert_nonnull(lfb);
	load_dac(f);
	/* a fresh card shows nothing until the palette source is set (as
	 * bochs-drm does: it writes 0x20 to 0x3C0 to unblank) */
	dt_inb(f->vm, 0x3da);
	dt_outb(f->vm, 0x3c0, 0x20);
	vbe_w(f, 1, 1024);
	vbe_w(f, 2, 768);
	vbe_w(f, 3, 32);
	vbe_w(f, 4, 0x41);
	for (unsigned y = 0; y < 768; y++)
		for (unsigned x = 0; x < 1024; x++) {
			uint32_t v = vga_test_pixel32(x, y);

			memcpy(lfb + (y * 1024 + x) * 4, &v, 4);
		}
	gh_display_refresh(f->con);
	gh_display_surface(f->con, &s);
	g_assert_cmpuint(s.width, ==, 1024);
	g_assert_cmpuint(s.height, ==, 768);
	for (unsigned y = 0; y < 768; y += 7)
		for (unsigned x = 0; x < 1024; x += 3)
			g_assert_cmphex(pixel(f, x, y), ==,
					vga_test_pixel32(x, y));
	g_assert_cmpint(gh_display_get_text(f->con, &t), ==, -ENOTSUP);

	/* 16 bpp, 8 bpp through the DAC, 24 bpp; the banked window too */
	vbe_w(f, 4, 0);
	vbe_w(f, 3, 16);
	vbe_w(f, 4, 0x41);
	lfb[0] = 0x1f;		/* blue 31 */
	lfb[1] = 0xf8;		/* red 31 */
	lfb[2] = 0xe0;		/* green 7 */
	lfb[3] = 0x00;
	gh_display_refresh(f->con);
	g_assert_cmphex(pixel(f, 0, 0), ==, 0xf800f8);
	g_assert_cmphex(pixel(f, 1, 0), ==, 0x001c00);
	/* 15 bpp */
	vbe_w(f, 4, 0);
	vbe_w(f, 3, 15);
	vbe_w(f, 4, 0xc1);
	lfb[0] = 0xe0;		/* green 31: bits 9:5 */
	lfb[1] = 0x7f;		/* red 31 */
	gh_display_refresh(f->con);
	g_assert_cmphex(pixel(f, 0, 0), ==, 0xf8f800);
	vbe_w(f, 4, 0);
	vbe_w(f, 3, 8);
	vbe_w(f, 4, 0x01);
	vbe_w(f, 5, 1);			/* bank 1: LFB offset 64 KiB */
	memw(f, 0, 0x33);
	g_assert_cmphex(lfb[0x10000], ==, 0x33);
	gh_display_refresh(f->con);
	/* 64 KiB in at 1024 bytes a line: (0, 64) */
	g_assert_cmphex(pixel(f, 0, 64), ==, dac_xrgb(0x33));
	vbe_w(f, 4, 0);
	vbe_w(f, 3, 24);
	vbe_w(f, 4, 0x81);		/* keep memory */
	lfb[0] = 0x01;
	lfb[1] = 0x02;
	lfb[2] = 0x03;
	gh_display_refresh(f->con);
	g_assert_cmphex(pixel(f, 0, 0), ==, 0x030201);
}

static void test_dirty(struct fx *f, gconstpointer data)
{
	struct gh_display_rect r[16];
	unsigned n;

	(void)data;
	draw_text_screen(f);
	gh_display_refresh(f->con);
	n = gh_display_take_dirty(f->con, r, G_N_ELEMENTS(r));
	g_assert_cmpuint(n, >=, 1);
	/* nothing changed: nothing dirty */
	gh_display_refresh(f->con);
	g_assert_cmpuint(gh_display_take_dirty(f->con, r, 16), ==, 0);
	/* one cell at row 10, column 40: its 9x16 pixels, in tiles */
	memw(f, 0x18000 + (10 * 80 + 40) * 2, 'x');
	gh_display_refresh(f->con);
	n = gh_display_take_dirty(f->con, r, G_N_ELEMENTS(r));
	g_assert_cmpuint(n, ==, 1);
	g_assert_cmpuint(r[0].x, <=, 360);
	g_assert_cmpuint(r[0].x + r[0].w, >=, 369);
	g_assert_cmpuint(r[0].x + r[0].w, <=, 384);
	g_assert_cmpuint(r[0].y, ==, 160);
	g_assert_cmpuint(r[0].h, ==, 16);
	/* two far apart cells: two rects; with room for one, the box */
	memw(f, 0x18000, 'y');
	memw(f, 0x18000 + (24 * 80 + 79) * 2, 'z');
	gh_display_refresh(f->con);
	n = gh_display_take_dirty(f->con, r, 1);
	g_assert_cmpuint(n, ==, 1);
	g_assert_cmpuint(r[0].x, ==, 0);
	g_assert_cmpuint(r[0].y, ==, 0);
	g_assert_cmpuint(r[0].x + r[0].w, ==, 720);
	g_assert_cmpuint(r[0].y + r[0].h, ==, 400);
	memw(f, 0x18000, 'Y');
	memw(f, 0x18000 + (24 * 80 + 79) * 2, 'Z');
	gh_display_refresh(f->con);
	g_assert_cmpuint(gh_display_take_dirty(f->con, r, 16), ==, 2);

	/* graphics: a pixel of mode 13h dirties its scanlines' span only */
	set_mode(f, &vga_mode_13);
	gh_display_refresh(f->con);
	gh_display_take_dirty(f->con, r, 16);
	memw(f, 100 * 320 + 200, 0x77);
	gh_display_refresh(f->con);
	n = gh_display_take_dirty(f->con, r, G_N_ELEMENTS(r));
	g_assert_cmpuint(n, ==, 1);
	g_assert_cmpuint(r[0].x, <=, 400);
	g_assert_cmpuint(r[0].x + r[0].w, >=, 402);
	g_assert_cmpuint(r[0].w, <=, 32);
	g_assert_cmpuint(r[0].y, <=, 200);
	g_assert_cmpuint(r[0].y + r[0].h, >=, 202);
	g_assert_cmpuint(r[0].h, <=, 32);
	/* a palette change redraws everything */
	dt_outb(f->vm, 0x3c8, 0x00);
	dt_outb(f->vm, 0x3c9, 0x3f);
	dt_outb(f->vm, 0x3c9, 0x3f);
	dt_outb(f->vm, 0x3c9, 0x3f);
	gh_display_refresh(f->con);
	n = gh_display_take_dirty(f->con, r, 1);
	g_assert_cmpuint(r[0].w, ==, 640);
	g_assert_cmpuint(r[0].h, ==, 400);
}

struct listen {
	unsigned resizes, updates, last_w, last_h;
};

static void on_resize(void *opaque, const struct gh_display_surface *s)
{
	struct listen *l = opaque;

	l->resizes++;
	l->last_w = s->width;
	l->last_h = s->height;
}

static void on_update(void *opaque, const struct gh_display_rect *r)
{
	struct listen *l = opaque;

	(void)r;
	l->updates++;
}

static const struct gh_display_listener_ops listen_ops = {
	.resize = on_resize, .update = on_update,
};

static void test_resize(struct fx *f, gconstpointer data)
{
	struct listen l = { 0 };

	(void)data;
	g_assert_cmpint(gh_display_add_listener(f->con, &listen_ops, &l), ==, 0);
	set_mode(f, &vga_mode_03);
	gh_display_refresh(f->con);
	g_assert_cmpuint(l.resizes, ==, 1);
	g_assert_cmpuint(l.last_w, ==, 720);
	g_assert_cmpuint(l.last_h, ==, 400);
	g_assert_cmpuint(l.updates, >=, 1);
	vbe_w(f, 1, 800);
	vbe_w(f, 2, 600);
	vbe_w(f, 3, 32);
	vbe_w(f, 4, 0x41);
	gh_display_refresh(f->con);
	g_assert_cmpuint(l.resizes, ==, 2);
	g_assert_cmpuint(l.last_w, ==, 800);
	g_assert_cmpuint(l.last_h, ==, 600);
	/* the same mode again: no resize */
	vbe_w(f, 4, 0);
	vbe_w(f, 4, 0x41);
	gh_display_refresh(f->con);
	g_assert_cmpuint(l.resizes, ==, 2);
	/* video off (attribute index without PAS): blank, same size */
	vbe_w(f, 4, 0);
	dt_inb(f->vm, 0x3da);
	dt_outb(f->vm, 0x3c0, 0x00);
	gh_display_refresh(f->con);
	g_assert_cmpuint(l.resizes, ==, 2);
	g_assert_cmphex(pixel(f, 10, 10), ==, 0);
	gh_display_remove_listener(f->con, &listen_ops, &l);
	set_mode(f, &vga_mode_13);
	gh_display_refresh(f->con);
	g_assert_cmpuint(l.resizes, ==, 2);
}

static uint64_t dummy_read(void *opaque, uint64_t off, unsigned size)
{
	(void)opaque;
	(void)off;
	(void)size;
	return 0;
}

static const struct gh_io_ops dummy_ops = { .read = dummy_read };

static void test_bar_move(struct fx *f, gconstpointer data)
{
	struct gh_memory *mem = gh_vm_memory(f->vm);
	uint8_t *a, *b;

	(void)data;
	g_assert_null(gh_mem_map(mem, LFB_ADDR, 4));
	cfg_write32(f, 0x10, LFB_ADDR);
	cfg_write32(f, 0x04, 0x0002);
	a = gh_mem_map(mem, LFB_ADDR, 16u << 20);
	g_assert_nonnull(a);
	/* the legacy window and the LFB are the same VRAM (chain-4) */
	set_mode(f, &vga_mode_13);
	memw(f, 5, 0x99);
	g_assert_cmphex(a[5], ==, 0x99);
	/* moved: gone from the old place, the same bytes at the new one */
	cfg_write32(f, 0x10, 0xd0000000);
	g_assert_null(gh_mem_map(mem, LFB_ADDR, 4));
	b = gh_mem_map(mem, 0xd0000000, 16u << 20);
	g_assert_true(a == b);
	/* memory decoding off: nowhere; on again: back */
	cfg_write32(f, 0x04, 0x0000);
	g_assert_null(gh_mem_map(mem, 0xd0000000, 4));
	cfg_write32(f, 0x04, 0x0002);
	g_assert_true(gh_mem_map(mem, 0xd0000000, 4) == a);
	/* over another device's MMIO: not decoded at all, as memory or not */
	g_assert_cmpint(gh_bus_map(gh_vm_mmio(f->vm), 0xc0800000, 0x1000,
				   &dummy_ops, NULL, "dummy"), ==, 0);
	cfg_write32(f, 0x10, 0xc0000000);
	g_assert_null(gh_mem_map(mem, 0xc0000000, 4));
	g_assert_null(gh_mem_map(mem, 0xd0000000, 4));
	g_assert_cmpstr(gh_bus_lookup(gh_vm_mmio(f->vm), 0xc0000000), ==, NULL);
	cfg_write32(f, 0x10, 0xd0000000);
	g_assert_true(gh_mem_map(mem, 0xd0000000, 4) == a);
	g_assert_cmpstr(gh_bus_lookup(gh_vm_mmio(f->vm), 0xd0000000), ==,
			"vga-lfb");
	gh_bus_unmap(gh_vm_mmio(f->vm), 0xc0800000);
	/* address 0 does not decode; right above RAM (16 MiB) does */
	cfg_write32(f, 0x10, 0x00000000);
	g_assert_null(gh_mem_map(mem, 0xd0000000, 4));
	cfg_write32(f, 0x10, 0x01000000);
	g_assert_true(gh_mem_map(mem, 0x01000000, 4) == a);

	/* BAR2: the VGA ports at 0x400, DISPI at 0x500, QEMU's ext at 0x600 */
	cfg_write32(f, 0x18, MMIO_ADDR);
	gh_bus_write(gh_vm_mmio(f->vm), MMIO_ADDR + 0x408, 0x07, 1);	/* 0x3c8 */
	gh_bus_write(gh_vm_mmio(f->vm), MMIO_ADDR + 0x409, 0x2a, 1);
	gh_bus_write(gh_vm_mmio(f->vm), MMIO_ADDR + 0x409, 0x2b, 1);
	gh_bus_write(gh_vm_mmio(f->vm), MMIO_ADDR + 0x409, 0x2c, 1);
	dt_outb(f->vm, 0x3c7, 0x07);
	g_assert_cmphex(dt_inb(f->vm, 0x3c9), ==, 0x2a);
	g_assert_cmphex(gh_bus_read(gh_vm_mmio(f->vm), MMIO_ADDR + 0x500, 2),
			==, 0xb0c5);
	gh_bus_write(gh_vm_mmio(f->vm), MMIO_ADDR + 0x502, 640, 2);
	g_assert_cmpuint(vbe_r(f, 1), ==, 640);
	g_assert_cmphex(gh_bus_read(gh_vm_mmio(f->vm), MMIO_ADDR + 0x600, 4),
			==, 8);
	g_assert_cmphex(gh_bus_read(gh_vm_mmio(f->vm), MMIO_ADDR + 0xffc, 4),
			==, 0);
}

/* Whatever a guest writes, the device stays inside its VRAM (ASan
 * checks the accesses): a seeded storm of register and memory writes
 * with refreshes in between. */
static void test_storm(struct fx *f, gconstpointer data)
{
	GRand *rnd = g_rand_new_with_seed(0x56474121);
	static const uint16_t ports[] = { 0x3c0, 0x3c4, 0x3c5, 0x3c7, 0x3c8,
					  0x3c9, 0x3ce, 0x3cf, 0x3d4, 0x3d5,
					  0x3c2, 0x3da, 0x3b4, 0x3b5 };

	(void)data;
	for (unsigned i = 0; i < 30000; i++) {
		unsigned k = g_rand_int_range(rnd, 0, 10);

		if (k < 5) {
			dt_outb(f->vm, ports[g_rand_int_range(rnd, 0,
							       G_N_ELEMENTS(ports))],
				g_rand_int(rnd));
		} else if (k < 7) {
			/* DISPI values both small and wild */
			uint16_t v = g_rand_boolean(rnd) ?
				     (uint16_t)g_rand_int_range(rnd, 0, 2048) :
				     (uint16_t)g_rand_int(rnd);

			vbe_w(f, g_rand_int_range(rnd, 0, 12), v);
		} else {
			uint32_t off = g_rand_int_range(rnd, 0, 0x20000);

			memw(f, off, g_rand_int(rnd));
			(void)memr(f, g_rand_int_range(rnd, 0, 0x20000));
		}
		if (i % 97 == 0)
			gh_display_refresh(f->con);
	}
	gh_display_refresh(f->con);
	/* the widest VBE mode, planar and with each dot doubled: twice what
	 * a surface may be, shown blank rather than drawn past its end */
	vbe_w(f, 4, 0);
	vbe_w(f, 1, 8192);
	vbe_w(f, 2, 16);
	vbe_w(f, 3, 32);
	vbe_w(f, 4, 0x41);
	seq(f, 1, 0x08);
	gc(f, 5, 0x00);
	dt_inb(f->vm, 0x3da);
	dt_outb(f->vm, 0x3c0, 0x20);
	gh_display_refresh(f->con);
	gc(f, 5, 0x20);
	gh_display_refresh(f->con);
	gc(f, 5, 0x40);
	gh_display_refresh(f->con);
	g_assert_cmpuint(pixel(f, 8191, 15), ==, 0);
	g_rand_free(rnd);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) \
	g_test_add("/vga/" name, struct fx, NULL, fx_setup, fn, fx_teardown)
	ADD("pci-ids", test_pci_ids);
	ADD("registers", test_registers);
	ADD("attr-flip-flop", test_attr_flip_flop);
	ADD("dac", test_dac);
	ADD("dispi", test_dispi);
	ADD("write-modes", test_write_modes);
	ADD("chain4-odd-even", test_chain4_odd_even);
	ADD("text", test_text);
	ADD("graphics", test_graphics);
	ADD("vbe", test_vbe);
	ADD("dirty", test_dirty);
	ADD("resize", test_resize);
	ADD("bar-move", test_bar_move);
	ADD("storm", test_storm);
	return g_test_run();
}
