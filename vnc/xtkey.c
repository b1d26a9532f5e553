/*
 * XT (scancode set 1) make codes to evdev key codes, for QEMU's extended
 * key event (gh/vnc-xtkey.h). Linux numbered its evdev codes after set 1
 * for the 83 keys of the PC/XT keyboard, so those map to themselves; the
 * rest are the codes an 8042 with translation on (IBM PS/2 Technical
 * Reference, "Keyboard", scan code set 2 to set 1) gives for the keys
 * devices/pc/i8042.c knows.
 */
#include "gh/vnc-xtkey.h"

#include <linux/input-event-codes.h>
#include <stddef.h>

#define XT_EXT	0x80	/* an 0xE0-prefixed code */

static const uint8_t xt_keys[256] = {
	/* past the PC/XT's 83 */
	[0x54] = KEY_SYSRQ,		/* Alt+Print Screen */
	[0x56] = KEY_102ND, [0x57] = KEY_F11, [0x58] = KEY_F12,
	[0x59] = KEY_KPEQUAL,
	[0x64] = KEY_F13, [0x65] = KEY_F14, [0x66] = KEY_F15, [0x67] = KEY_F16,
	[0x68] = KEY_F17, [0x69] = KEY_F18, [0x6a] = KEY_F19, [0x6b] = KEY_F20,
	[0x6c] = KEY_F21, [0x6d] = KEY_F22, [0x6e] = KEY_F23, [0x76] = KEY_F24,
	[0x70] = KEY_KATAKANAHIRAGANA, [0x73] = KEY_RO,
	[0x79] = KEY_HENKAN, [0x7b] = KEY_MUHENKAN, [0x7d] = KEY_YEN,
	[0x7e] = KEY_KPCOMMA,

	[XT_EXT | 0x1c] = KEY_KPENTER, [XT_EXT | 0x1d] = KEY_RIGHTCTRL,
	[XT_EXT | 0x35] = KEY_KPSLASH, [XT_EXT | 0x37] = KEY_SYSRQ,
	[XT_EXT | 0x38] = KEY_RIGHTALT,
	/* Ctrl+Break's code, which QEMU and its clients use for Pause (whose
	 * own E1 sequence does not fit the encoding) */
	[XT_EXT | 0x46] = KEY_PAUSE,
	[XT_EXT | 0x47] = KEY_HOME, [XT_EXT | 0x48] = KEY_UP,
	[XT_EXT | 0x49] = KEY_PAGEUP, [XT_EXT | 0x4b] = KEY_LEFT,
	[XT_EXT | 0x4d] = KEY_RIGHT, [XT_EXT | 0x4f] = KEY_END,
	[XT_EXT | 0x50] = KEY_DOWN, [XT_EXT | 0x51] = KEY_PAGEDOWN,
	[XT_EXT | 0x52] = KEY_INSERT, [XT_EXT | 0x53] = KEY_DELETE,
	[XT_EXT | 0x5b] = KEY_LEFTMETA, [XT_EXT | 0x5c] = KEY_RIGHTMETA,
	[XT_EXT | 0x5d] = KEY_COMPOSE,
	[XT_EXT | 0x5e] = KEY_POWER, [XT_EXT | 0x5f] = KEY_SLEEP,
	[XT_EXT | 0x63] = KEY_WAKEUP,
	[XT_EXT | 0x20] = KEY_MUTE, [XT_EXT | 0x2e] = KEY_VOLUMEDOWN,
	[XT_EXT | 0x30] = KEY_VOLUMEUP,
	[XT_EXT | 0x19] = KEY_NEXTSONG, [XT_EXT | 0x10] = KEY_PREVIOUSSONG,
	[XT_EXT | 0x24] = KEY_STOPCD, [XT_EXT | 0x22] = KEY_PLAYPAUSE,
	[XT_EXT | 0x6d] = KEY_MEDIA, [XT_EXT | 0x6c] = KEY_MAIL,
	[XT_EXT | 0x21] = KEY_CALC, [XT_EXT | 0x6b] = KEY_COMPUTER,
	[XT_EXT | 0x65] = KEY_SEARCH, [XT_EXT | 0x32] = KEY_HOMEPAGE,
	[XT_EXT | 0x6a] = KEY_BACK, [XT_EXT | 0x69] = KEY_FORWARD,
	[XT_EXT | 0x68] = KEY_STOP, [XT_EXT | 0x67] = KEY_REFRESH,
	[XT_EXT | 0x66] = KEY_BOOKMARKS,
};

unsigned gh_vnc_xt_to_evdev(uint32_t xt)
{
	if (xt >= 0x01 && xt <= 0x53)
		return xt;	/* KEY_ESC (1) .. KEY_KPDOT (83) */
	if (xt >= sizeof(xt_keys))
		return 0;
	return xt_keys[xt];
}
