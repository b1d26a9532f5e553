/*
 * The PC keyboard controller (Intel 8042 as in the IBM PC/AT and PS/2
 * technical references) with a PS/2 keyboard (scan code sets 1 and 2, the
 * controller's set 2 -> set 1 translation), a PS/2 mouse with the
 * IntelliMouse wheel extension, and port 0x92 ("system control port A").
 */
#include "gh/device.h"

#include <errno.h>
#include <linux/input-event-codes.h>
#include <string.h>

#include "gh/bus.h"
#include "gh/input.h"
#include "gh/irq.h"
#include "gh/log.h"
#include "gh/vm.h"

#define I8042_DATA_PORT	0x60
#define I8042_CMD_PORT	0x64
#define PORT92		0x92
#define KBD_GSI		1
#define AUX_GSI		12

/* status register (port 0x64 read) */
#define STAT_OBF	0x01
#define STAT_SYS	0x04
#define STAT_CMD	0x08	/* A2: the last write went to port 0x64 */
#define STAT_UNLOCKED	0x10	/* keyboard inhibit switch open */
#define STAT_AUXB	0x20	/* the output buffer holds mouse data */

/* command byte (controller RAM byte 0) */
#define CB_KBD_INT	0x01
#define CB_AUX_INT	0x02
#define CB_SYS		0x04
#define CB_KBD_DIS	0x10	/* keyboard clock held low */
#define CB_AUX_DIS	0x20	/* mouse clock held low */
#define CB_XLATE	0x40

/* output port (commands 0xd0/0xd1) */
#define OUT_RESET	0x01	/* low: CPU held in reset */
#define OUT_A20		0x02
#define OUT_IRQ1	0x10
#define OUT_IRQ12	0x20
#define OUT_ONES	0xcc	/* unused pins and idle clock/data lines */

#define PS2_ACK		0xfa
#define PS2_RESEND	0xfe
#define PS2_BAT_OK	0xaa
#define PS2_ECHO	0xee

#define QUEUE_SIZE	256
/*
 * Scan code bytes the keyboard buffers before it reports an overrun (real
 * keyboards hold 16; a little more keeps pasted text from being lost).
 * Replies to commands may use the rest of the queue.
 */
#define KBD_DATA_LIMIT	64
/* Packet bytes the mouse holds; the rest is room for command replies. */
#define AUX_DATA_LIMIT	240
#define CTRL_QUEUE_SIZE	8

/* Larger motions are cut here before splitting into packets. */
#define MOTION_LIMIT	(1 << 16)

struct ps2_queue {
	uint8_t data[QUEUE_SIZE];
	unsigned head;
	unsigned count;
};

struct ps2_kbd {
	struct ps2_queue q;
	uint8_t arg_cmd;	/* command waiting for its argument, or 0 */
	uint8_t set;		/* scan code set: 1 or 2 */
	uint8_t leds;
	uint8_t typematic;
	uint8_t last;		/* last byte sent, for the resend command */
	bool scanning;
	bool overrun;		/* the overrun code is already queued */
};

struct ps2_mouse {
	struct ps2_queue q;
	uint8_t arg_cmd;
	uint8_t rate;
	uint8_t resolution;
	uint8_t id;		/* 0: plain PS/2, 3: IntelliMouse (wheel) */
	uint8_t rates[3];	/* recent sample rates, for the wheel knock */
	uint8_t last;
	bool remote;
	bool reporting;
	bool scale21;
	bool wrap;
	unsigned buttons;	/* GH_BTN_* as last reported */
	int acc_dx, acc_dy, acc_dz;	/* motion not yet read (remote mode) */
};

struct ctrl_byte {
	uint8_t val;
	bool aux;
};

struct i8042 {
	struct gh_vm *vm;
	struct gh_input *input;
	struct gh_ratelimit rl;
	unsigned mapped;	/* how many of the port ranges are mapped */

	uint8_t ram[32];	/* ram[0] is the command byte */
	uint8_t pending_cmd;	/* command waiting for a byte on port 0x60 */
	bool cmd_last;
	bool sys;
	uint8_t outport;
	uint8_t p92;		/* port 0x92 bits other than A20 and reset */

	/* the output buffer */
	bool obf;
	bool ob_aux;
	uint8_t ob;
	bool xlate_f0;		/* translation saw F0: set bit 7 of the next */

	/* controller replies, delivered before any device data */
	struct ctrl_byte cq[CTRL_QUEUE_SIZE];
	unsigned cq_head, cq_count;

	bool irq1, irq12;

	struct ps2_kbd kbd;
	struct ps2_mouse aux;
};

/*
 * The 8042's set 2 -> set 1 translation, also used to produce set 1 from
 * set 2 (the two sets were designed so that this holds for every key).
 */
static const uint8_t xlate[256] = {
	0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58,
	0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
	0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a,
	0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
	0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c,
	0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
	0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e,
	0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
	0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60,
	0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
	0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e,
	0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
	0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b,
	0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
	0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45,
	0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
	/* codes above 0x7f pass through, but for F7 and Alt+SysRq */
	0x80, 0x81, 0x82, 0x41, 0x54, 0x85, 0x86, 0x87,
	0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
	0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97,
	0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
	0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
	0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
	0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
	0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
	0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
	0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
	0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7,
	0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
	0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7,
	0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
	0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7,
	0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
};

/* Set 2 make codes by evdev code; EXT means an E0 prefix. */
#define EXT 0x100
static const uint16_t set2_map[] = {
	[KEY_ESC] = 0x76,
	[KEY_1] = 0x16, [KEY_2] = 0x1e, [KEY_3] = 0x26, [KEY_4] = 0x25,
	[KEY_5] = 0x2e, [KEY_6] = 0x36, [KEY_7] = 0x3d, [KEY_8] = 0x3e,
	[KEY_9] = 0x46, [KEY_0] = 0x45,
	[KEY_MINUS] = 0x4e, [KEY_EQUAL] = 0x55, [KEY_BACKSPACE] = 0x66,
	[KEY_TAB] = 0x0d,
	[KEY_Q] = 0x15, [KEY_W] = 0x1d, [KEY_E] = 0x24, [KEY_R] = 0x2d,
	[KEY_T] = 0x2c, [KEY_Y] = 0x35, [KEY_U] = 0x3c, [KEY_I] = 0x43,
	[KEY_O] = 0x44, [KEY_P] = 0x4d,
	[KEY_LEFTBRACE] = 0x54, [KEY_RIGHTBRACE] = 0x5b, [KEY_ENTER] = 0x5a,
	[KEY_LEFTCTRL] = 0x14,
	[KEY_A] = 0x1c, [KEY_S] = 0x1b, [KEY_D] = 0x23, [KEY_F] = 0x2b,
	[KEY_G] = 0x34, [KEY_H] = 0x33, [KEY_J] = 0x3b, [KEY_K] = 0x42,
	[KEY_L] = 0x4b,
	[KEY_SEMICOLON] = 0x4c, [KEY_APOSTROPHE] = 0x52, [KEY_GRAVE] = 0x0e,
	[KEY_LEFTSHIFT] = 0x12, [KEY_BACKSLASH] = 0x5d,
	[KEY_Z] = 0x1a, [KEY_X] = 0x22, [KEY_C] = 0x21, [KEY_V] = 0x2a,
	[KEY_B] = 0x32, [KEY_N] = 0x31, [KEY_M] = 0x3a,
	[KEY_COMMA] = 0x41, [KEY_DOT] = 0x49, [KEY_SLASH] = 0x4a,
	[KEY_RIGHTSHIFT] = 0x59, [KEY_KPASTERISK] = 0x7c,
	[KEY_LEFTALT] = 0x11, [KEY_SPACE] = 0x29, [KEY_CAPSLOCK] = 0x58,
	[KEY_F1] = 0x05, [KEY_F2] = 0x06, [KEY_F3] = 0x04, [KEY_F4] = 0x0c,
	[KEY_F5] = 0x03, [KEY_F6] = 0x0b, [KEY_F7] = 0x83, [KEY_F8] = 0x0a,
	[KEY_F9] = 0x01, [KEY_F10] = 0x09, [KEY_F11] = 0x78, [KEY_F12] = 0x07,
	[KEY_NUMLOCK] = 0x77, [KEY_SCROLLLOCK] = 0x7e,
	[KEY_KP7] = 0x6c, [KEY_KP8] = 0x75, [KEY_KP9] = 0x7d,
	[KEY_KPMINUS] = 0x7b,
	[KEY_KP4] = 0x6b, [KEY_KP5] = 0x73, [KEY_KP6] = 0x74,
	[KEY_KPPLUS] = 0x79,
	[KEY_KP1] = 0x69, [KEY_KP2] = 0x72, [KEY_KP3] = 0x7a,
	[KEY_KP0] = 0x70, [KEY_KPDOT] = 0x71,
	[KEY_102ND] = 0x61,
	[KEY_RO] = 0x51, [KEY_HENKAN] = 0x64, [KEY_KATAKANAHIRAGANA] = 0x13,
	[KEY_MUHENKAN] = 0x67, [KEY_YEN] = 0x6a, [KEY_KPCOMMA] = 0x6d,
	[KEY_KPEQUAL] = 0x0f,
	[KEY_KPENTER] = EXT | 0x5a, [KEY_RIGHTCTRL] = EXT | 0x14,
	[KEY_KPSLASH] = EXT | 0x4a, [KEY_RIGHTALT] = EXT | 0x11,
	[KEY_HOME] = EXT | 0x6c, [KEY_UP] = EXT | 0x75,
	[KEY_PAGEUP] = EXT | 0x7d, [KEY_LEFT] = EXT | 0x6b,
	[KEY_RIGHT] = EXT | 0x74, [KEY_END] = EXT | 0x69,
	[KEY_DOWN] = EXT | 0x72, [KEY_PAGEDOWN] = EXT | 0x7a,
	[KEY_INSERT] = EXT | 0x70, [KEY_DELETE] = EXT | 0x71,
	[KEY_LEFTMETA] = EXT | 0x1f, [KEY_RIGHTMETA] = EXT | 0x27,
	[KEY_COMPOSE] = EXT | 0x2f,
	/* ACPI power keys */
	[KEY_POWER] = EXT | 0x37, [KEY_SLEEP] = EXT | 0x3f,
	[KEY_WAKEUP] = EXT | 0x5e,
	/* multimedia and browser keys (Microsoft's scan code specification) */
	[KEY_MUTE] = EXT | 0x23, [KEY_VOLUMEDOWN] = EXT | 0x21,
	[KEY_VOLUMEUP] = EXT | 0x32,
	[KEY_NEXTSONG] = EXT | 0x4d, [KEY_PREVIOUSSONG] = EXT | 0x15,
	[KEY_STOPCD] = EXT | 0x3b, [KEY_PLAYPAUSE] = EXT | 0x34,
	[KEY_MEDIA] = EXT | 0x50, [KEY_MAIL] = EXT | 0x48,
	[KEY_CALC] = EXT | 0x2b, [KEY_COMPUTER] = EXT | 0x40,
	[KEY_SEARCH] = EXT | 0x10, [KEY_HOMEPAGE] = EXT | 0x3a,
	[KEY_BACK] = EXT | 0x38, [KEY_FORWARD] = EXT | 0x30,
	[KEY_STOP] = EXT | 0x28, [KEY_REFRESH] = EXT | 0x20,
	[KEY_BOOKMARKS] = EXT | 0x18,
	[KEY_F13] = 0x08, [KEY_F14] = 0x10, [KEY_F15] = 0x18, [KEY_F16] = 0x20,
	[KEY_F17] = 0x28, [KEY_F18] = 0x30, [KEY_F19] = 0x38, [KEY_F20] = 0x40,
	[KEY_F21] = 0x48, [KEY_F22] = 0x50, [KEY_F23] = 0x57, [KEY_F24] = 0x5f,
};

/* ---- byte queues ---- */

static bool q_push(struct ps2_queue *q, uint8_t v)
{
	if (q->count >= QUEUE_SIZE)
		return false;
	q->data[(q->head + q->count) % QUEUE_SIZE] = v;
	q->count++;
	return true;
}

static bool q_pop(struct ps2_queue *q, uint8_t *v)
{
	if (!q->count)
		return false;
	*v = q->data[q->head];
	q->head = (q->head + 1) % QUEUE_SIZE;
	q->count--;
	return true;
}

static void q_clear(struct ps2_queue *q)
{
	q->head = 0;
	q->count = 0;
}

/* ---- the controller ---- */

static void set_line(struct i8042 *s, unsigned gsi, bool *cur, bool level)
{
	if (*cur == level)
		return;
	*cur = level;
	gh_irq_set(gh_vm_irq(s->vm), gsi, level);
}

static void load_ob(struct i8042 *s, uint8_t v, bool aux)
{
	s->ob = v;
	s->ob_aux = aux;
	s->obf = true;
}

/*
 * Moves the next byte into an empty output buffer: controller replies
 * first, then the keyboard, then the mouse, each device only while its
 * clock line is enabled (a device with its clock held low cannot send).
 */
static void fill_ob(struct i8042 *s)
{
	uint8_t cb = s->ram[0];
	uint8_t v;

	if (s->cq_count) {
		struct ctrl_byte *c = &s->cq[s->cq_head];

		s->cq_head = (s->cq_head + 1) % CTRL_QUEUE_SIZE;
		s->cq_count--;
		load_ob(s, c->val, c->aux);
		return;
	}
	if (!(cb & CB_KBD_DIS)) {
		while (q_pop(&s->kbd.q, &v)) {
			if (!(cb & CB_XLATE)) {
				load_ob(s, v, false);
				return;
			}
			if (v == 0xf0) {
				s->xlate_f0 = true;
				continue;
			}
			v = xlate[v] | (s->xlate_f0 ? 0x80 : 0);
			s->xlate_f0 = false;
			load_ob(s, v, false);
			return;
		}
	}
	if (!(cb & CB_AUX_DIS) && q_pop(&s->aux.q, &v))
		load_ob(s, v, true);
}

static void update(struct i8042 *s)
{
	uint8_t cb = s->ram[0];

	if (!s->obf)
		fill_ob(s);
	set_line(s, KBD_GSI, &s->irq1, s->obf && !s->ob_aux && (cb & CB_KBD_INT));
	set_line(s, AUX_GSI, &s->irq12, s->obf && s->ob_aux && (cb & CB_AUX_INT));
}

static void ctrl_reply(struct i8042 *s, uint8_t v, bool aux)
{
	if (s->cq_count >= CTRL_QUEUE_SIZE) {
		gh_log_guest(&s->rl, "i8042: reply 0x%02x dropped, output not read", v);
		return;
	}
	s->cq[(s->cq_head + s->cq_count) % CTRL_QUEUE_SIZE] =
		(struct ctrl_byte){ .val = v, .aux = aux };
	s->cq_count++;
}

static uint8_t read_outport(struct i8042 *s)
{
	uint8_t v = s->outport & ~(OUT_A20 | OUT_IRQ1 | OUT_IRQ12);

	if (gh_vm_a20(s->vm))
		v |= OUT_A20;
	if (s->irq1)
		v |= OUT_IRQ1;
	if (s->irq12)
		v |= OUT_IRQ12;
	return v;
}

static void write_outport(struct i8042 *s, uint8_t v)
{
	s->outport = v;
	gh_vm_set_a20(s->vm, v & OUT_A20);
	if (!(v & OUT_RESET))
		gh_vm_request_reset(s->vm);
}

static void write_command_byte(struct i8042 *s, uint8_t v)
{
	s->ram[0] = v;
	s->sys = v & CB_SYS;
}

static void kbd_write(struct i8042 *s, uint8_t v);
static void aux_write(struct i8042 *s, uint8_t v);

static void write_data(struct i8042 *s, uint8_t v)
{
	uint8_t cmd = s->pending_cmd;

	s->cmd_last = false;
	s->pending_cmd = 0;
	switch (cmd) {
	case 0:
		/* Sending to the keyboard releases its clock line. */
		s->ram[0] &= ~CB_KBD_DIS;
		kbd_write(s, v);
		break;
	case 0x60:
		write_command_byte(s, v);
		break;
	case 0x61 ... 0x7f:
		s->ram[cmd & 0x1f] = v;
		break;
	case 0xd1:
		write_outport(s, v);
		break;
	case 0xd2:
		ctrl_reply(s, v, false);
		break;
	case 0xd3:
		ctrl_reply(s, v, true);
		break;
	case 0xd4:
		aux_write(s, v);
		break;
	}
	update(s);
}

static void self_test(struct i8042 *s)
{
	/*
	 * The self-test re-initialises the controller as after power-on:
	 * the keyboard interface is left disabled and A20 enabled, and a
	 * passed test sets the system flag.
	 */
	s->ram[0] |= CB_SYS | CB_KBD_DIS;
	s->sys = true;
	s->outport = OUT_ONES | OUT_A20 | OUT_RESET;
	gh_vm_set_a20(s->vm, true);
	s->xlate_f0 = false;
	ctrl_reply(s, 0x55, false);
}

static void write_command(struct i8042 *s, uint8_t v)
{
	uint8_t cb = s->ram[0];

	s->cmd_last = true;
	s->pending_cmd = 0;
	switch (v) {
	case 0x20 ... 0x3f:
		ctrl_reply(s, s->ram[v & 0x1f], false);
		break;
	case 0x60 ... 0x7f:
	case 0xd1 ... 0xd4:
		s->pending_cmd = v;
		break;
	case 0xa7:
		s->ram[0] |= CB_AUX_DIS;
		break;
	case 0xa8:
		s->ram[0] &= ~CB_AUX_DIS;
		break;
	case 0xa9:	/* mouse interface test: no error */
	case 0xab:	/* keyboard interface test: no error */
		ctrl_reply(s, 0x00, false);
		break;
	case 0xaa:
		self_test(s);
		break;
	case 0xad:
		s->ram[0] |= CB_KBD_DIS;
		break;
	case 0xae:
		s->ram[0] &= ~CB_KBD_DIS;
		break;
	case 0xc0:	/* input port: keyboard not inhibited */
		ctrl_reply(s, 0x80, false);
		break;
	case 0xd0:
		ctrl_reply(s, read_outport(s), false);
		break;
	case 0xdd:	/* A20 off/on without touching the output port */
	case 0xdf:
		gh_vm_set_a20(s->vm, v & OUT_A20);
		break;
	case 0xe0:	/* test inputs T0/T1: the clock lines, high when free */
		ctrl_reply(s, (cb & CB_KBD_DIS ? 0 : 1) | (cb & CB_AUX_DIS ? 0 : 2),
			   false);
		break;
	case 0xf0 ... 0xff:
		/* Pulse the output port bits whose command bit is 0. */
		if (!(v & OUT_RESET))
			gh_vm_request_reset(s->vm);
		break;
	default:
		gh_log_guest(&s->rl, "i8042: unknown controller command 0x%02x", v);
		break;
	}
	update(s);
}

static uint64_t data_read(void *opaque, uint64_t off, unsigned size)
{
	struct i8042 *s = opaque;
	uint8_t v = s->ob;

	if (s->obf) {
		s->obf = false;
		/*
		 * Drop the line even if the next byte raises it again at once:
		 * the 8259 is edge triggered and must see a new edge.
		 */
		set_line(s, KBD_GSI, &s->irq1, false);
		set_line(s, AUX_GSI, &s->irq12, false);
		update(s);
	}
	return v;
}

static void data_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	write_data(opaque, (uint8_t)val);
}

static uint64_t status_read(void *opaque, uint64_t off, unsigned size)
{
	struct i8042 *s = opaque;
	uint8_t v = STAT_UNLOCKED;

	if (s->obf)
		v |= STAT_OBF | (s->ob_aux ? STAT_AUXB : 0);
	if (s->sys)
		v |= STAT_SYS;
	if (s->cmd_last)
		v |= STAT_CMD;
	return v;
}

static void command_write(void *opaque, uint64_t off, uint64_t val,
			  unsigned size)
{
	write_command(opaque, (uint8_t)val);
}

static uint64_t port92_read(void *opaque, uint64_t off, unsigned size)
{
	struct i8042 *s = opaque;

	return s->p92 | (gh_vm_a20(s->vm) ? 0x02 : 0);
}

static void port92_write(void *opaque, uint64_t off, uint64_t val,
			 unsigned size)
{
	struct i8042 *s = opaque;

	s->p92 = val & 0xfc;
	gh_vm_set_a20(s->vm, val & 0x02);
	if (val & 0x01)
		gh_vm_request_reset(s->vm);
}

static const struct gh_io_ops data_ops = {
	.read = data_read,
	.write = data_write,
};

static const struct gh_io_ops command_ops = {
	.read = status_read,
	.write = command_write,
};

static const struct gh_io_ops port92_ops = {
	.read = port92_read,
	.write = port92_write,
};

/* ---- the keyboard ---- */

static void kbd_reply(struct i8042 *s, uint8_t v)
{
	if (!q_push(&s->kbd.q, v))
		return;
	if (v != PS2_RESEND)
		s->kbd.last = v;
}

static void kbd_defaults(struct ps2_kbd *k)
{
	k->set = 2;
	k->typematic = 0x2b;	/* 10.9 characters/s after 500 ms */
	k->arg_cmd = 0;
}

static void kbd_flush(struct i8042 *s)
{
	q_clear(&s->kbd.q);
	s->kbd.overrun = false;
	s->xlate_f0 = false;
}

/* Handles the argument byte of ED, F0 and F3; false if v is not one. */
static bool kbd_argument(struct i8042 *s, uint8_t cmd, uint8_t v)
{
	struct ps2_kbd *k = &s->kbd;

	/* A byte with bit 7 set is a new command, not an argument. */
	if (v & 0x80)
		return false;
	switch (cmd) {
	case 0xed:
		k->leds = v & 0x07;
		kbd_reply(s, PS2_ACK);
		break;
	case 0xf3:
		k->typematic = v;
		kbd_reply(s, PS2_ACK);
		break;
	case 0xf0:
		if (v == 0) {
			kbd_reply(s, PS2_ACK);
			kbd_reply(s, k->set);
		} else if (v == 1 || v == 2) {
			k->set = v;
			kbd_reply(s, PS2_ACK);
		} else {
			/* Set 3 is not offered: its codes differ for every key. */
			kbd_reply(s, PS2_RESEND);
		}
		break;
	}
	return true;
}

static void kbd_write(struct i8042 *s, uint8_t v)
{
	struct ps2_kbd *k = &s->kbd;

	if (k->arg_cmd) {
		uint8_t cmd = k->arg_cmd;

		k->arg_cmd = 0;
		if (kbd_argument(s, cmd, v))
			return;
	}
	switch (v) {
	case 0xed:
	case 0xf0:
	case 0xf3:
		kbd_reply(s, PS2_ACK);
		k->arg_cmd = v;
		break;
	case 0xee:
		kbd_reply(s, PS2_ECHO);
		break;
	case 0xf2:
		/* MF2 keyboard; the controller turns 83 into 41 when translating */
		kbd_reply(s, PS2_ACK);
		kbd_reply(s, 0xab);
		kbd_reply(s, 0x83);
		break;
	case 0xf4:
		k->scanning = true;
		kbd_reply(s, PS2_ACK);
		break;
	case 0xf5:
	case 0xf6:
		kbd_flush(s);
		kbd_defaults(k);
		k->scanning = v == 0xf6;
		kbd_reply(s, PS2_ACK);
		break;
	case 0xfe:
		kbd_reply(s, k->last);
		break;
	case 0xff:
		kbd_flush(s);
		kbd_defaults(k);
		k->leds = 0;
		k->scanning = true;
		kbd_reply(s, PS2_ACK);
		kbd_reply(s, PS2_BAT_OK);
		break;
	default:
		gh_log_guest(&s->rl, "i8042: unknown keyboard command 0x%02x", v);
		kbd_reply(s, PS2_RESEND);
		break;
	}
}

/* The set 2 bytes for a key press or release; 0 for an unknown key. */
static unsigned set2_sequence(unsigned code, bool down, uint8_t *seq)
{
	static const uint8_t pause[] = {
		0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77,
	};
	static const uint8_t prtsc_make[] = { 0xe0, 0x12, 0xe0, 0x7c };
	static const uint8_t prtsc_break[] = {
		0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12,
	};
	unsigned n = 0;
	uint16_t e;

	if (code == KEY_PAUSE) {
		/* Pause sends make and break at once on press, nothing on release. */
		if (!down)
			return 0;
		memcpy(seq, pause, sizeof(pause));
		return sizeof(pause);
	}
	if (code == KEY_SYSRQ) {
		/* Print Screen wraps its code in a fake Left Shift. */
		if (down) {
			memcpy(seq, prtsc_make, sizeof(prtsc_make));
			return sizeof(prtsc_make);
		}
		memcpy(seq, prtsc_break, sizeof(prtsc_break));
		return sizeof(prtsc_break);
	}
	if (code >= G_N_ELEMENTS(set2_map) || !set2_map[code])
		return 0;
	e = set2_map[code];
	if (e & EXT)
		seq[n++] = 0xe0;
	if (!down)
		seq[n++] = 0xf0;
	seq[n++] = e & 0xff;
	return n;
}

/* Set 1 is set 2 through the translation, with F0 folded into bit 7. */
static unsigned to_set1(uint8_t *seq, unsigned n)
{
	unsigned out = 0;
	bool brk = false;

	for (unsigned i = 0; i < n; i++) {
		if (seq[i] == 0xf0) {
			brk = true;
			continue;
		}
		seq[out++] = xlate[seq[i]] | (brk ? 0x80 : 0);
		brk = false;
	}
	return out;
}

static void kbd_key(void *opaque, unsigned code, bool down)
{
	struct i8042 *s = opaque;
	struct ps2_kbd *k = &s->kbd;
	uint8_t seq[8];
	unsigned n;

	if (!k->scanning)
		return;
	n = set2_sequence(code, down, seq);
	if (!n)
		return;
	if (k->set == 1)
		n = to_set1(seq, n);
	if (k->q.count + n > KBD_DATA_LIMIT) {
		/* Keys are lost whole; the host learns from the overrun code. */
		if (!k->overrun && q_push(&k->q, k->set == 1 ? 0xff : 0x00))
			k->overrun = true;
	} else {
		k->overrun = false;
		for (unsigned i = 0; i < n; i++)
			q_push(&k->q, seq[i]);
	}
	update(s);
}

/* ---- the mouse ---- */

static void aux_reply(struct i8042 *s, uint8_t v)
{
	if (!q_push(&s->aux.q, v))
		return;
	if (v != PS2_RESEND)
		s->aux.last = v;
}

static void aux_defaults(struct ps2_mouse *m)
{
	m->rate = 100;
	m->resolution = 2;	/* 4 counts/mm */
	m->scale21 = false;
	m->reporting = false;
	m->arg_cmd = 0;
	m->acc_dx = m->acc_dy = m->acc_dz = 0;
}

static int clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Queues one movement packet; false if it does not fit. */
static bool aux_packet(struct i8042 *s, int dx, int dy, int dz)
{
	struct ps2_mouse *m = &s->aux;
	unsigned len = m->id == 3 ? 4 : 3;
	uint8_t b0 = 0x08 | (m->buttons & 0x07);

	if (m->q.count + len > AUX_DATA_LIMIT)
		return false;
	if (dx < 0)
		b0 |= 0x10;
	if (dy < 0)
		b0 |= 0x20;
	q_push(&m->q, b0);
	q_push(&m->q, (uint8_t)dx);
	q_push(&m->q, (uint8_t)dy);
	if (len == 4)
		q_push(&m->q, (uint8_t)dz);
	return true;
}

/* Sends the motion counted in remote mode (command EB). */
static void aux_poll(struct i8042 *s)
{
	struct ps2_mouse *m = &s->aux;

	aux_packet(s, clamp(m->acc_dx, -256, 255), clamp(m->acc_dy, -256, 255),
		   m->id == 3 ? clamp(m->acc_dz, -8, 7) : 0);
	m->acc_dx = m->acc_dy = m->acc_dz = 0;
}

static bool valid_rate(uint8_t v)
{
	return v == 10 || v == 20 || v == 40 || v == 60 || v == 80 ||
	       v == 100 || v == 200;
}

static void aux_argument(struct i8042 *s, uint8_t cmd, uint8_t v)
{
	struct ps2_mouse *m = &s->aux;

	if (cmd == 0xe8) {
		if (v > 3) {
			aux_reply(s, PS2_RESEND);
			return;
		}
		m->resolution = v;
		aux_reply(s, PS2_ACK);
		return;
	}
	if (!valid_rate(v)) {
		aux_reply(s, PS2_RESEND);
		return;
	}
	m->rate = v;
	m->rates[0] = m->rates[1];
	m->rates[1] = m->rates[2];
	m->rates[2] = v;
	/* Microsoft's knock: rates 200, 100, 80 turn the wheel on. */
	if (m->rates[0] == 200 && m->rates[1] == 100 && m->rates[2] == 80)
		m->id = 3;
	aux_reply(s, PS2_ACK);
}

static void aux_write(struct i8042 *s, uint8_t v)
{
	struct ps2_mouse *m = &s->aux;

	if (m->wrap && v != 0xec && v != 0xff) {
		aux_reply(s, v);
		return;
	}
	if (m->arg_cmd) {
		uint8_t cmd = m->arg_cmd;

		m->arg_cmd = 0;
		aux_argument(s, cmd, v);
		return;
	}
	switch (v) {
	case 0xe6:
	case 0xe7:
		m->scale21 = v == 0xe7;
		aux_reply(s, PS2_ACK);
		break;
	case 0xe8:
	case 0xf3:
		m->arg_cmd = v;
		aux_reply(s, PS2_ACK);
		break;
	case 0xe9:
		aux_reply(s, PS2_ACK);
		aux_reply(s, (m->remote ? 0x40 : 0) | (m->reporting ? 0x20 : 0) |
			     (m->scale21 ? 0x10 : 0) |
			     (m->buttons & GH_BTN_LEFT ? 0x04 : 0) |
			     (m->buttons & GH_BTN_MIDDLE ? 0x02 : 0) |
			     (m->buttons & GH_BTN_RIGHT ? 0x01 : 0));
		aux_reply(s, m->resolution);
		aux_reply(s, m->rate);
		break;
	case 0xea:
	case 0xf0:
		m->remote = v == 0xf0;
		m->acc_dx = m->acc_dy = m->acc_dz = 0;
		aux_reply(s, PS2_ACK);
		break;
	case 0xeb:
		aux_reply(s, PS2_ACK);
		aux_poll(s);
		break;
	case 0xec:
		m->wrap = false;
		aux_reply(s, PS2_ACK);
		break;
	case 0xee:
		m->wrap = true;
		m->acc_dx = m->acc_dy = m->acc_dz = 0;
		aux_reply(s, PS2_ACK);
		break;
	case 0xf2:
		aux_reply(s, PS2_ACK);
		aux_reply(s, m->id);
		break;
	case 0xf4:
	case 0xf5:
		m->reporting = v == 0xf4;
		m->acc_dx = m->acc_dy = m->acc_dz = 0;
		aux_reply(s, PS2_ACK);
		break;
	case 0xf6:
		aux_defaults(m);
		aux_reply(s, PS2_ACK);
		break;
	case 0xfe:
		aux_reply(s, m->last);
		break;
	case 0xff:
		q_clear(&m->q);
		aux_defaults(m);
		m->remote = false;
		m->wrap = false;
		m->id = 0;
		memset(m->rates, 0, sizeof(m->rates));
		aux_reply(s, PS2_ACK);
		aux_reply(s, PS2_BAT_OK);
		aux_reply(s, 0x00);
		break;
	default:
		gh_log_guest(&s->rl, "i8042: unknown mouse command 0x%02x", v);
		aux_reply(s, PS2_RESEND);
		break;
	}
}

/* 2:1 scaling as the mouse applies it in stream mode. */
static int scale21(int v)
{
	static const int small[] = { 0, 1, 1, 3, 6, 9 };
	int a = v < 0 ? -v : v;
	int r = a < 6 ? small[a] : 2 * a;

	return v < 0 ? -r : r;
}

static void aux_rel(void *opaque, int dx, int dy, int dz, unsigned buttons)
{
	struct i8042 *s = opaque;
	struct ps2_mouse *m = &s->aux;

	dx = clamp(dx, -MOTION_LIMIT, MOTION_LIMIT);
	/* PS/2 counts up as positive y and the wheel towards the user as +z. */
	dy = -clamp(dy, -MOTION_LIMIT, MOTION_LIMIT);
	dz = -clamp(dz, -MOTION_LIMIT, MOTION_LIMIT);
	buttons &= GH_BTN_LEFT | GH_BTN_RIGHT | GH_BTN_MIDDLE;
	if (m->id != 3)
		dz = 0;

	if (m->wrap || (!m->remote && !m->reporting)) {
		m->buttons = buttons;
		return;
	}
	if (m->remote) {
		m->acc_dx = clamp(m->acc_dx + dx, -MOTION_LIMIT, MOTION_LIMIT);
		m->acc_dy = clamp(m->acc_dy + dy, -MOTION_LIMIT, MOTION_LIMIT);
		m->acc_dz = clamp(m->acc_dz + dz, -MOTION_LIMIT, MOTION_LIMIT);
		m->buttons = buttons;
		return;
	}
	if (!dx && !dy && !dz && buttons == m->buttons)
		return;
	m->buttons = buttons;
	if (m->scale21) {
		dx = scale21(dx);
		dy = scale21(dy);
	}
	do {
		int px = clamp(dx, -256, 255);
		int py = clamp(dy, -256, 255);
		int pz = clamp(dz, -8, 7);

		/* A full queue drops the rest of the motion, as the mouse does. */
		if (!aux_packet(s, px, py, pz))
			break;
		dx -= px;
		dy -= py;
		dz -= pz;
	} while (dx || dy || dz);
	update(s);
}

static const struct gh_input_handler ps2_input = {
	.name = "ps2",
	.key = kbd_key,
	.rel = aux_rel,
};

/* ---- the device ---- */

static void i8042_reset(void *dev)
{
	struct i8042 *s = dev;

	memset(s->ram, 0, sizeof(s->ram));
	/* Both interrupts on, no translation: what QEMU powers up with. */
	s->ram[0] = CB_KBD_INT | CB_AUX_INT;
	s->pending_cmd = 0;
	s->cmd_last = true;
	s->sys = false;
	s->outport = OUT_ONES | OUT_A20 | OUT_RESET;
	s->p92 = 0;
	gh_vm_set_a20(s->vm, true);
	s->obf = false;
	s->ob_aux = false;
	s->ob = 0;
	s->xlate_f0 = false;
	s->cq_head = 0;
	s->cq_count = 0;

	memset(&s->kbd, 0, sizeof(s->kbd));
	kbd_defaults(&s->kbd);
	s->kbd.scanning = true;

	memset(&s->aux, 0, sizeof(s->aux));
	aux_defaults(&s->aux);

	set_line(s, KBD_GSI, &s->irq1, false);
	set_line(s, AUX_GSI, &s->irq12, false);
}

static void i8042_unrealize(void *dev)
{
	struct i8042 *s = dev;
	struct gh_bus *pio = gh_vm_pio(s->vm);
	static const uint16_t ports[] = { I8042_DATA_PORT, I8042_CMD_PORT, PORT92 };

	if (s->input)
		gh_input_remove_handler(s->input, &ps2_input, s);
	s->input = NULL;
	while (s->mapped > 0)
		gh_bus_unmap(pio, ports[--s->mapped]);
	set_line(s, KBD_GSI, &s->irq1, false);
	set_line(s, AUX_GSI, &s->irq12, false);
}

/*
 * The ports and lines are fixed by the PC architecture, so cfg's base and
 * irq are not used.
 */
static int i8042_realize(void *dev, struct gh_vm *vm,
			 const struct gh_device_cfg *cfg, struct gh_error *err)
{
	static const struct {
		uint16_t port;
		const struct gh_io_ops *ops;
		const char *name;
	} maps[] = {
		{ I8042_DATA_PORT, &data_ops, "i8042-data" },
		{ I8042_CMD_PORT, &command_ops, "i8042-cmd" },
		{ PORT92, &port92_ops, "port92" },
	};
	struct i8042 *s = dev;
	int ret;

	s->vm = vm;
	for (unsigned i = 0; i < G_N_ELEMENTS(maps); i++) {
		ret = gh_bus_map(gh_vm_pio(vm), maps[i].port, 1, maps[i].ops, s,
				 maps[i].name);
		if (ret < 0) {
			gh_error_set(err, ret, "i8042: cannot map port 0x%x",
				     maps[i].port);
			goto err_unrealize;
		}
		s->mapped++;
	}
	s->input = gh_vm_input(vm);
	if (s->input) {
		ret = gh_input_add_handler(s->input, &ps2_input, s);
		if (ret < 0) {
			s->input = NULL;
			gh_error_set(err, ret, "i8042: cannot take keyboard input");
			goto err_unrealize;
		}
	}
	return 0;

err_unrealize:
	i8042_unrealize(s);
	return ret;
}

const struct gh_device_type gh_i8042_type = {
	.name = "i8042",
	.level = 1,
	.size = sizeof(struct i8042),
	.realize = i8042_realize,
	.reset = i8042_reset,
	.unrealize = i8042_unrealize,
};
