/*
 * guest-mouse: the PS/2 mouse behind the 8042's auxiliary port, polled (no
 * IRQ 12). It enables the aux port, resets the mouse, turns on the
 * IntelliMouse wheel with Microsoft's sample-rate knock (200, 100, 80, then
 * GET ID answers 3) and enables reporting (0xF4). Without arguments it stops
 * there, through debug-exit 0x31 when every step was acknowledged (run by
 * run-guest.sh). With "mouse.listen" on the command line it then prints
 * every 4-byte packet on COM1 as
 *   packet dx=D dy=D buttons=LMR wheel=W
 * (dy counts up, PS/2's sense; a button is its letter or '-') and every
 * byte from the keyboard as "key XX" (hex, set 1 as the 8042 translates),
 * until the keyboard's Escape, where it leaves the same way: tests/vnc.sh
 * moves the VNC pointer and presses keys and reads what came.
 *
 * 8042 commands and status bits: IBM PS/2 Hardware Interface Technical
 * Reference, "Keyboard/Auxiliary Device Controller"; the mouse's commands
 * and packet: its "Pointing Device" section; the wheel: Microsoft's
 * IntelliMouse PS/2 protocol (ID 3, a fourth byte with the Z movement).
 */
#include "lib/guest.h"

#define OK_CODE		0x31
#define FAIL_CODE	0x32

#define I8042_DATA	0x60
#define I8042_STATUS	0x64
#define I8042_CMD	0x64
#define ST_OBF		0x01	/* output buffer full */
#define ST_IBF		0x02	/* input buffer full */
#define ST_AUX		0x20	/* the output buffer holds an aux byte */
#define CCB_XLAT	0x40	/* translate the keyboard to set 1 */

#define MOUSE_ACK	0xfa
#define SPINS		2000000	/* bounds every wait on the controller */

void guest_main(uint32_t magic, uint32_t mbi);

static bool wait_write(void)
{
	for (unsigned i = 0; i < SPINS; i++)
		if (!(inb(I8042_STATUS) & ST_IBF))
			return true;
	return false;
}

static void ctl_cmd(uint8_t c)
{
	wait_write();
	outb(I8042_CMD, c);
}

static void ctl_data(uint8_t v)
{
	wait_write();
	outb(I8042_DATA, v);
}

/* The next byte of the output buffer (-1: none came); *aux says whose. */
static int read_byte(bool *aux)
{
	for (unsigned i = 0; i < SPINS; i++) {
		uint8_t st = inb(I8042_STATUS);

		if (st & ST_OBF) {
			if (aux)
				*aux = st & ST_AUX;
			return inb(I8042_DATA);
		}
	}
	return -1;
}

static void drain(void)
{
	while (inb(I8042_STATUS) & ST_OBF)
		inb(I8042_DATA);
}

/* A byte to the mouse (0xD4 routes the next data byte to the aux port);
 * returns its answer, normally ACK. */
static int mouse_send(uint8_t v)
{
	ctl_cmd(0xd4);
	ctl_data(v);
	return read_byte(NULL);
}

static bool setup(void)
{
	int ccb, id;
	bool ok = true;

	ctl_cmd(0xad);			/* keyboard off while we set up */
	ctl_cmd(0xa7);			/* aux off */
	drain();
	ctl_cmd(0x20);
	ccb = read_byte(NULL);
	check(ccb >= 0, "8042: read the command byte");
	/* polled: no IRQ 1 or 12; both clocks on; translation kept */
	ctl_cmd(0x60);
	ctl_data((ccb & CCB_XLAT) | CCB_XLAT);
	ctl_cmd(0xa8);			/* aux on */

	ok &= check_eq(mouse_send(0xff), MOUSE_ACK, "mouse: reset acknowledged");
	ok &= check_eq(read_byte(NULL), 0xaa, "mouse: self-test passed (0xAA)");
	ok &= check_eq(read_byte(NULL), 0x00, "mouse: ID 0 after reset");
	/* the IntelliMouse knock */
	for (unsigned i = 0; i < 3; i++) {
		static const uint8_t rates[3] = { 200, 100, 80 };

		ok &= mouse_send(0xf3) == MOUSE_ACK && mouse_send(rates[i]) == MOUSE_ACK;
	}
	check(ok, "mouse: sample rates 200, 100, 80 acknowledged");
	ok &= check_eq(mouse_send(0xf2), MOUSE_ACK, "mouse: GET ID acknowledged");
	id = read_byte(NULL);
	ok &= check_eq(id, 3, "mouse: ID 3 (IntelliMouse, wheel)");
	ok &= check_eq(mouse_send(0xf4), MOUSE_ACK, "mouse: reporting enabled");
	ctl_cmd(0xae);			/* keyboard on: its Escape stops us */
	return ok;
}

static void listen(void)
{
	uint8_t pkt[4];
	unsigned have = 0;
	bool aux;
	int b;

	printf("mouse: listening\n");
	for (;;) {
		b = read_byte(&aux);
		if (b < 0)
			continue;
		if (!aux) {
			/* Escape: set 1 (translated) or set 2 make code */
			if (b == 0x01 || b == 0x76)
				break;
			printf("key %02x\n", b);
			continue;
		}
		/* bit 3 of the first byte is always set: resynchronise on it */
		if (have == 0 && !(b & 0x08))
			continue;
		pkt[have++] = b;
		if (have < 4)
			continue;
		have = 0;
		int dx = pkt[1] - (pkt[0] & 0x10 ? 256 : 0);
		int dy = pkt[2] - (pkt[0] & 0x20 ? 256 : 0);

		printf("packet dx=%d dy=%d buttons=%c%c%c wheel=%d\n", dx, dy,
		       pkt[0] & 1 ? 'L' : '-', pkt[0] & 4 ? 'M' : '-',
		       pkt[0] & 2 ? 'R' : '-', (int)(int8_t)pkt[3]);
	}
	printf("mouse: stop\n");
}

void guest_main(uint32_t magic, uint32_t mbi_addr)
{
	const struct multiboot_info *mbi =
		(const struct multiboot_info *)(uintptr_t)mbi_addr;
	const char *cmdline = "";

	uart_init(COM1);
	check(magic == MULTIBOOT_BOOT_MAGIC, "multiboot magic in EAX");
	if (mbi->flags & (1u << 2))
		cmdline = (const char *)(uintptr_t)mbi->cmdline;
	if (setup() && strstr(cmdline, "mouse.listen"))
		listen();
	drain();
	finish("guest-mouse", OK_CODE, FAIL_CODE);
}
