/*
 * guest-vga: draws the shared test patterns (tests/vga-modes.h) on the
 * standard VGA at 00:02.0 by programming its registers directly, as a BIOS
 * would, without one: text mode 03h with its own font in plane 2, planar
 * mode 12h plane by plane, mode 13h through chain-4, and a Bochs VBE (DISPI) 1024x768x32 mode through the
 * linear framebuffer of BAR0. The command line picks the screen
 * ("vga.step=text", "12h", "13h" or "vbe"; text by default), or "anim",
 * the VNC benchmark's moving picture (see animate()). It then leaves
 * through debug-exit, where the VMM writes its screendump ("vga.hold":
 * it halts instead, the screen kept for VNC clients); under QEMU,
 * without a debug-exit device, it halts and tests/vga.sh takes QEMU's
 * screendump over the monitor. Exit: 0x31 when every check passes.
 */
#include "lib/guest.h"

#include "../vga-modes.h"

#define OK_CODE		0x31
#define FAIL_CODE	0x32
#define CONF_ADDR	0xcf8
#define CONF_DATA	0xcfc
#define VGA_DEVFN	(2 << 3)
#define VBE_INDEX	0x1ce
#define VBE_DATA	0x1cf
/* where the guest puts BAR0 when no firmware did */
#define LFB_DEFAULT	0xe0000000u

void guest_main(uint32_t magic, uint32_t mbi);

static uint32_t cfg_read(unsigned reg)
{
	outl(CONF_ADDR, 0x80000000u | VGA_DEVFN << 8 | reg);
	return inl(CONF_DATA);
}

static void cfg_write(unsigned reg, uint32_t v)
{
	outl(CONF_ADDR, 0x80000000u | VGA_DEVFN << 8 | reg);
	outl(CONF_DATA, v);
}

static volatile uint8_t *const vmem = (volatile uint8_t *)0xa0000;

static void seq(uint8_t i, uint8_t v)
{
	outb(0x3c4, i);
	outb(0x3c5, v);
}

static void gc(uint8_t i, uint8_t v)
{
	outb(0x3ce, i);
	outb(0x3cf, v);
}

static void crtc(uint8_t i, uint8_t v)
{
	outb(0x3d4, i);
	outb(0x3d5, v);
}

static void set_mode(const struct vga_mode_regs *m)
{
	unsigned i;

	outb(0x3c2, m->misc);
	for (i = 0; i < 5; i++)
		seq(i, m->seq[i]);
	crtc(0x11, m->crtc[0x11] & 0x7f);
	for (i = 0; i < 25; i++)
		crtc(i, m->crtc[i]);
	for (i = 0; i < 9; i++)
		gc(i, m->gc[i]);
	inb(0x3da);
	for (i = 0; i < 21; i++) {
		outb(0x3c0, i);
		outb(0x3c0, m->ac[i]);
	}
	outb(0x3c0, 0x20);
}

static void load_dac(void)
{
	outb(0x3c8, 0);
	for (unsigned i = 0; i < 256; i++) {
		uint8_t rgb[3];

		vga_test_dac(i, rgb);
		outb(0x3c9, rgb[0]);
		outb(0x3c9, rgb[1]);
		outb(0x3c9, rgb[2]);
	}
}

static void load_font(void)
{
	seq(2, 0x04);
	seq(4, 0x07);
	gc(4, 0x02);
	gc(5, 0x00);
	gc(6, 0x04);
	for (unsigned c = 0; c < 256; c++)
		for (unsigned y = 0; y < 32; y++)
			vmem[c * 32 + y] = y < 16 ? vga_test_font(c, y) : 0;
	seq(2, 0x03);
	seq(4, 0x02);
	gc(4, 0x00);
	gc(5, 0x10);
	gc(6, 0x0e);
}

static void draw_text(void)
{
	volatile uint8_t *tm = vmem + 0x18000;
	unsigned bad = 0;

	set_mode(&vga_mode_03);
	load_dac();
	load_font();
	crtc(0x0a, 0x20);		/* no cursor: its blinking is timing */
	for (unsigned r = 0; r < 25; r++)
		for (unsigned c = 0; c < 80; c++) {
			tm[(r * 80 + c) * 2] = vga_test_char(r, c);
			tm[(r * 80 + c) * 2 + 1] = vga_test_attr(r, c);
		}
	for (unsigned i = 0; i < 80 * 25; i++)
		if (tm[2 * i] != vga_test_char(i / 80, i % 80))
			bad++;
	check_eq(bad, 0, "text: the cells read back through odd/even");
}

static void draw_12h(void)
{
	unsigned bad = 0;

	set_mode(&vga_mode_12);
	load_dac();
	/* each plane in turn through the map mask (write mode 0) */
	for (unsigned p = 0; p < 4; p++) {
		seq(2, 1u << p);
		for (unsigned off = 0; off < 80 * 480; off++)
			vmem[off] = vga_test_plane(p, off);
	}
	seq(2, 0x0f);
	for (unsigned p = 0; p < 4; p++) {
		gc(4, p);
		for (unsigned off = 0; off < 80 * 480; off += 7)
			if (vmem[off] != vga_test_plane(p, off))
				bad++;
	}
	gc(4, 0);
	check_eq(bad, 0, "12h: the planes read back through the read map");
}

static void draw_13h(void)
{
	unsigned bad = 0;

	set_mode(&vga_mode_13);
	load_dac();
	for (unsigned y = 0; y < 200; y++)
		for (unsigned x = 0; x < 320; x++)
			vmem[y * 320 + x] = vga_test_pixel8(x, y);
	for (unsigned i = 0; i < 320 * 200; i++)
		if (vmem[i] != vga_test_pixel8(i % 320, i / 320))
			bad++;
	check_eq(bad, 0, "13h: the pixels read back through chain-4");
}

static void vbe(uint16_t i, uint16_t v)
{
	outw(VBE_INDEX, i);
	outw(VBE_DATA, v);
}

static uint16_t vbe_get(uint16_t i)
{
	outw(VBE_INDEX, i);
	return inw(VBE_DATA);
}

/* Places BAR0 if no firmware did and sets 1024x768x32 with the LFB; the
 * framebuffer, or NULL. */
static volatile uint32_t *vbe_1024x768(void)
{
	uint32_t bar = cfg_read(0x10) & ~0xfu;

	check_eq(vbe_get(0), 0xb0c5, "vbe: DISPI ID 0xB0C5");
	check_eq(vbe_get(0xa), 256, "vbe: 16 MiB of video memory");
	if (!bar) {
		/* no firmware placed it */
		cfg_write(0x10, LFB_DEFAULT);
		bar = cfg_read(0x10) & ~0xfu;
	}
	cfg_write(0x04, cfg_read(0x04) | 0x2);
	if (!check(bar != 0 && !(bar & 0xffffff), "vbe: BAR0 is placed, 16 MiB aligned"))
		return NULL;
	load_dac();
	inb(0x3da);
	outb(0x3c0, 0x20);		/* unblank, as bochs-drm does */
	vbe(4, 0);
	vbe(1, 1024);
	vbe(2, 768);
	vbe(3, 32);
	vbe(4, 0x41);			/* enabled, LFB */
	check_eq(vbe_get(1), 1024, "vbe: XRES 1024");
	check_eq(vbe_get(6), 1024, "vbe: the virtual width follows");
	return (volatile uint32_t *)(uintptr_t)bar;
}

static void draw_vbe(void)
{
	volatile uint32_t *lfb = vbe_1024x768();
	unsigned bad = 0;

	if (!lfb)
		return;
	for (unsigned y = 0; y < 768; y++)
		for (unsigned x = 0; x < 1024; x++)
			lfb[y * 1024 + x] = vga_test_pixel32(x, y);
	for (unsigned y = 0; y < 768; y += 17)
		for (unsigned x = 0; x < 1024; x += 3)
			if (lfb[y * 1024 + x] != vga_test_pixel32(x, y))
				bad++;
	check_eq(bad, 0, "vbe: the framebuffer reads back");
}

/*
 * The VNC benchmark's screen (bench/vnc.py): the whole 1024x768x32 screen
 * redrawn every frame, a gradient that scrolls diagonally and bars that move
 * across, so that every pixel changes from one frame to the next and no two
 * neighbouring frames compress alike. "vga.frames=N" stops after N frames
 * (through debug-exit), none or 0 runs forever; every 32 frames it prints
 * "anim: frame N" on COM1 for the guest's own frame rate.
 */
static void animate(const char *cmdline)
{
	const char *arg = strstr(cmdline, "vga.frames=");
	volatile uint32_t *lfb = vbe_1024x768();
	unsigned frames = 0;

	if (arg)
		for (arg += strlen("vga.frames="); *arg >= '0' && *arg <= '9'; arg++)
			frames = frames * 10 + (*arg - '0');
	if (!lfb)
		return;
	printf("anim: drawing %u frames\n", frames);
	for (unsigned f = 0; !frames || f < frames; f++) {
		for (unsigned y = 0; y < 768; y++) {
			volatile uint32_t *row = lfb + y * 1024;
			uint32_t g = (y + f * 3) & 0xff;

			for (unsigned x = 0; x < 1024; x++) {
				uint32_t r = (x + y + f * 5) & 0xff;
				uint32_t b = ((x + f * 16) & 0x80) ? 0xff : 0x20;

				row[x] = r << 16 | g << 8 | b;
			}
		}
		if (!(f % 32))
			printf("anim: frame %u\n", f);
	}
}

void guest_main(uint32_t magic, uint32_t mbi);

void guest_main(uint32_t magic, uint32_t mbi_addr)
{
	const struct multiboot_info *mbi =
		(const struct multiboot_info *)(uintptr_t)mbi_addr;
	const char *cmdline = "";
	uint32_t id;

	uart_init(COM1);
	check(magic == MULTIBOOT_BOOT_MAGIC, "multiboot magic in EAX");
	if (mbi->flags & (1u << 2))
		cmdline = (const char *)(uintptr_t)mbi->cmdline;
	id = cfg_read(0x00);
	check_eq(id, 0x11111234, "00:02.0 is the standard VGA (1234:1111)");
	check_eq(cfg_read(0x08) >> 8, 0x030000, "00:02.0 is a VGA controller");
	if (id != 0x11111234)
		finish("guest-vga", OK_CODE, FAIL_CODE);
	if (strstr(cmdline, "vga.step=12h"))
		draw_12h();
	else if (strstr(cmdline, "vga.step=13h"))
		draw_13h();
	else if (strstr(cmdline, "vga.step=vbe"))
		draw_vbe();
	else if (strstr(cmdline, "vga.step=anim"))
		animate(cmdline);
	else
		draw_text();
	if (strstr(cmdline, "vga.hold")) {
		/* the screen stays for VNC clients (tests/vnc.sh) */
		summary("guest-vga");
		halt_forever();
	}
	finish("guest-vga", OK_CODE, FAIL_CODE);
}
