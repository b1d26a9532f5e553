/*
 * Keysym -> PC key tables for a few layouts (as X's xkb symbols/us, de,
 * fr, gb draw them on a 105-key keyboard) and the per-client key state of
 * gh/vnc-keymap.h. Keysyms are X11's (keysymdef.h): Latin-1 characters are
 * their own code, others named below.
 */
#include "gh/vnc-keymap.h"

#include <errno.h>
#include <linux/input-event-codes.h>
#include <stddef.h>
#include <string.h>

/* keysymdef.h names used below */
enum {
	XK_ISO_Level3_Shift = 0xfe03, XK_ISO_Left_Tab = 0xfe20,
	XK_dead_grave = 0xfe50, XK_dead_acute = 0xfe51,
	XK_dead_circumflex = 0xfe52, XK_dead_tilde = 0xfe53,
	XK_dead_diaeresis = 0xfe57,
	XK_BackSpace = 0xff08, XK_Tab = 0xff09, XK_Return = 0xff0d,
	XK_Pause = 0xff13, XK_Scroll_Lock = 0xff14, XK_Sys_Req = 0xff15,
	XK_Escape = 0xff1b, XK_Home = 0xff50, XK_Left = 0xff51, XK_Up = 0xff52,
	XK_Right = 0xff53, XK_Down = 0xff54, XK_Prior = 0xff55,
	XK_Next = 0xff56, XK_End = 0xff57, XK_Print = 0xff61,
	XK_Insert = 0xff63, XK_Menu = 0xff67, XK_Break = 0xff6b,
	XK_Mode_switch = 0xff7e, XK_Num_Lock = 0xff7f,
	XK_KP_Enter = 0xff8d, XK_KP_Home = 0xff95, XK_KP_Left = 0xff96,
	XK_KP_Up = 0xff97, XK_KP_Right = 0xff98, XK_KP_Down = 0xff99,
	XK_KP_Prior = 0xff9a, XK_KP_Next = 0xff9b, XK_KP_End = 0xff9c,
	XK_KP_Begin = 0xff9d, XK_KP_Insert = 0xff9e, XK_KP_Delete = 0xff9f,
	XK_KP_Equal = 0xffbd, XK_KP_Multiply = 0xffaa, XK_KP_Add = 0xffab,
	XK_KP_Separator = 0xffac, XK_KP_Subtract = 0xffad,
	XK_KP_Decimal = 0xffae, XK_KP_Divide = 0xffaf, XK_KP_0 = 0xffb0,
	XK_F1 = 0xffbe,
	XK_Shift_L = 0xffe1, XK_Shift_R = 0xffe2, XK_Control_L = 0xffe3,
	XK_Control_R = 0xffe4, XK_Caps_Lock = 0xffe5, XK_Meta_L = 0xffe7,
	XK_Meta_R = 0xffe8, XK_Alt_L = 0xffe9, XK_Alt_R = 0xffea,
	XK_Super_L = 0xffeb, XK_Super_R = 0xffec, XK_Delete = 0xffff,
	XK_EuroSign = 0x20ac,
};

/* Keys whose meaning does not depend on the layout or the modifiers. */
static const struct {
	uint32_t keysym;
	unsigned code;
} plain_keys[] = {
	{ XK_BackSpace, KEY_BACKSPACE }, { XK_Tab, KEY_TAB },
	{ XK_ISO_Left_Tab, KEY_TAB }, { XK_Return, KEY_ENTER },
	{ XK_Escape, KEY_ESC }, { ' ', KEY_SPACE },
	{ XK_Insert, KEY_INSERT }, { XK_Delete, KEY_DELETE },
	{ XK_Home, KEY_HOME }, { XK_End, KEY_END },
	{ XK_Prior, KEY_PAGEUP }, { XK_Next, KEY_PAGEDOWN },
	{ XK_Left, KEY_LEFT }, { XK_Up, KEY_UP }, { XK_Right, KEY_RIGHT },
	{ XK_Down, KEY_DOWN },
	{ XK_Pause, KEY_PAUSE }, { XK_Break, KEY_PAUSE },
	{ XK_Print, KEY_SYSRQ }, { XK_Sys_Req, KEY_SYSRQ },
	{ XK_Scroll_Lock, KEY_SCROLLLOCK }, { XK_Num_Lock, KEY_NUMLOCK },
	{ XK_Caps_Lock, KEY_CAPSLOCK }, { XK_Menu, KEY_COMPOSE },
	{ XK_Shift_L, KEY_LEFTSHIFT }, { XK_Shift_R, KEY_RIGHTSHIFT },
	{ XK_Control_L, KEY_LEFTCTRL }, { XK_Control_R, KEY_RIGHTCTRL },
	{ XK_Alt_L, KEY_LEFTALT }, { XK_Alt_R, KEY_RIGHTALT },
	{ XK_ISO_Level3_Shift, KEY_RIGHTALT }, { XK_Mode_switch, KEY_RIGHTALT },
	{ XK_Meta_L, KEY_LEFTMETA }, { XK_Meta_R, KEY_RIGHTMETA },
	{ XK_Super_L, KEY_LEFTMETA }, { XK_Super_R, KEY_RIGHTMETA },
	/* the keypad: the same keys whether Num Lock is on or not */
	{ XK_KP_Enter, KEY_KPENTER }, { XK_KP_Multiply, KEY_KPASTERISK },
	{ XK_KP_Add, KEY_KPPLUS }, { XK_KP_Subtract, KEY_KPMINUS },
	{ XK_KP_Divide, KEY_KPSLASH }, { XK_KP_Decimal, KEY_KPDOT },
	{ XK_KP_Separator, KEY_KPDOT }, { XK_KP_Delete, KEY_KPDOT },
	{ XK_KP_Equal, KEY_KPEQUAL },
	{ XK_KP_0, KEY_KP0 }, { XK_KP_0 + 1, KEY_KP1 }, { XK_KP_0 + 2, KEY_KP2 },
	{ XK_KP_0 + 3, KEY_KP3 }, { XK_KP_0 + 4, KEY_KP4 },
	{ XK_KP_0 + 5, KEY_KP5 }, { XK_KP_0 + 6, KEY_KP6 },
	{ XK_KP_0 + 7, KEY_KP7 }, { XK_KP_0 + 8, KEY_KP8 },
	{ XK_KP_0 + 9, KEY_KP9 },
	{ XK_KP_Insert, KEY_KP0 }, { XK_KP_End, KEY_KP1 },
	{ XK_KP_Down, KEY_KP2 }, { XK_KP_Next, KEY_KP3 },
	{ XK_KP_Left, KEY_KP4 }, { XK_KP_Begin, KEY_KP5 },
	{ XK_KP_Right, KEY_KP6 }, { XK_KP_Home, KEY_KP7 },
	{ XK_KP_Up, KEY_KP8 }, { XK_KP_Prior, KEY_KP9 },
	{ XK_F1, KEY_F1 }, { XK_F1 + 1, KEY_F2 }, { XK_F1 + 2, KEY_F3 },
	{ XK_F1 + 3, KEY_F4 }, { XK_F1 + 4, KEY_F5 }, { XK_F1 + 5, KEY_F6 },
	{ XK_F1 + 6, KEY_F7 }, { XK_F1 + 7, KEY_F8 }, { XK_F1 + 8, KEY_F9 },
	{ XK_F1 + 9, KEY_F10 }, { XK_F1 + 10, KEY_F11 },
	{ XK_F1 + 11, KEY_F12 },
};

/*
 * A layout's character keys: what each level of a key types (0: nothing),
 * levels as xkb's: plain, Shift, AltGr, AltGr+Shift.
 */
struct key_levels {
	unsigned code;
	uint32_t sym[4];
};

struct gh_keymap {
	const char *name;
	const struct key_levels *keys;
	unsigned nkeys;
};

/* The letter keys of a QWERTY layout, the same in us, gb. */
#define LETTER(code, c) { code, { c, (c) - 0x20 } }
#define QWERTY_LETTERS \
	LETTER(KEY_Q, 'q'), LETTER(KEY_W, 'w'), LETTER(KEY_E, 'e'), \
	LETTER(KEY_R, 'r'), LETTER(KEY_T, 't'), LETTER(KEY_Y, 'y'), \
	LETTER(KEY_U, 'u'), LETTER(KEY_I, 'i'), LETTER(KEY_O, 'o'), \
	LETTER(KEY_P, 'p'), LETTER(KEY_A, 'a'), LETTER(KEY_S, 's'), \
	LETTER(KEY_D, 'd'), LETTER(KEY_F, 'f'), LETTER(KEY_G, 'g'), \
	LETTER(KEY_H, 'h'), LETTER(KEY_J, 'j'), LETTER(KEY_K, 'k'), \
	LETTER(KEY_L, 'l'), LETTER(KEY_Z, 'z'), LETTER(KEY_X, 'x'), \
	LETTER(KEY_C, 'c'), LETTER(KEY_V, 'v'), LETTER(KEY_B, 'b'), \
	LETTER(KEY_N, 'n'), LETTER(KEY_M, 'm')

static const struct key_levels us_keys[] = {
	{ KEY_GRAVE, { '`', '~' } },
	{ KEY_1, { '1', '!' } }, { KEY_2, { '2', '@' } },
	{ KEY_3, { '3', '#' } }, { KEY_4, { '4', '$' } },
	{ KEY_5, { '5', '%' } }, { KEY_6, { '6', '^' } },
	{ KEY_7, { '7', '&' } }, { KEY_8, { '8', '*' } },
	{ KEY_9, { '9', '(' } }, { KEY_0, { '0', ')' } },
	{ KEY_MINUS, { '-', '_' } }, { KEY_EQUAL, { '=', '+' } },
	{ KEY_LEFTBRACE, { '[', '{' } }, { KEY_RIGHTBRACE, { ']', '}' } },
	{ KEY_BACKSLASH, { '\\', '|' } },
	{ KEY_SEMICOLON, { ';', ':' } }, { KEY_APOSTROPHE, { '\'', '"' } },
	{ KEY_COMMA, { ',', '<' } }, { KEY_DOT, { '.', '>' } },
	{ KEY_SLASH, { '/', '?' } },
	QWERTY_LETTERS,
};

/* United Kingdom: as us but for the number row and the ISO keys. */
static const struct key_levels gb_keys[] = {
	{ KEY_GRAVE, { '`', 0xac /* notsign */, '|' } },
	{ KEY_1, { '1', '!' } }, { KEY_2, { '2', '"' } },
	{ KEY_3, { '3', 0xa3 /* sterling */ } },
	{ KEY_4, { '4', '$', XK_EuroSign } },
	{ KEY_5, { '5', '%' } }, { KEY_6, { '6', '^' } },
	{ KEY_7, { '7', '&' } }, { KEY_8, { '8', '*' } },
	{ KEY_9, { '9', '(' } }, { KEY_0, { '0', ')' } },
	{ KEY_MINUS, { '-', '_' } }, { KEY_EQUAL, { '=', '+' } },
	{ KEY_LEFTBRACE, { '[', '{' } }, { KEY_RIGHTBRACE, { ']', '}' } },
	{ KEY_SEMICOLON, { ';', ':' } }, { KEY_APOSTROPHE, { '\'', '@' } },
	{ KEY_BACKSLASH, { '#', '~' } }, { KEY_102ND, { '\\', '|' } },
	{ KEY_COMMA, { ',', '<' } }, { KEY_DOT, { '.', '>' } },
	{ KEY_SLASH, { '/', '?' } },
	QWERTY_LETTERS,
};

/* German (QWERTZ, xkb "de" with its dead keys). */
static const struct key_levels de_keys[] = {
	{ KEY_GRAVE, { XK_dead_circumflex, 0xb0 /* degree */ } },
	{ KEY_1, { '1', '!', 0xb9 /* onesuperior */ } },
	{ KEY_2, { '2', '"', 0xb2 /* twosuperior */ } },
	{ KEY_3, { '3', 0xa7 /* section */, 0xb3 /* threesuperior */ } },
	{ KEY_4, { '4', '$' } }, { KEY_5, { '5', '%' } },
	{ KEY_6, { '6', '&' } }, { KEY_7, { '7', '/', '{' } },
	{ KEY_8, { '8', '(', '[' } }, { KEY_9, { '9', ')', ']' } },
	{ KEY_0, { '0', '=', '}' } },
	{ KEY_MINUS, { 0xdf /* ssharp */, '?', '\\' } },
	{ KEY_EQUAL, { XK_dead_acute, XK_dead_grave } },
	{ KEY_Q, { 'q', 'Q', '@' } }, LETTER(KEY_W, 'w'),
	{ KEY_E, { 'e', 'E', XK_EuroSign } },
	LETTER(KEY_R, 'r'), LETTER(KEY_T, 't'), LETTER(KEY_Y, 'z'),
	LETTER(KEY_U, 'u'), LETTER(KEY_I, 'i'), LETTER(KEY_O, 'o'),
	LETTER(KEY_P, 'p'),
	{ KEY_LEFTBRACE, { 0xfc, 0xdc } },	/* udiaeresis */
	{ KEY_RIGHTBRACE, { '+', '*', '~' } },
	LETTER(KEY_A, 'a'), LETTER(KEY_S, 's'), LETTER(KEY_D, 'd'),
	LETTER(KEY_F, 'f'), LETTER(KEY_G, 'g'), LETTER(KEY_H, 'h'),
	LETTER(KEY_J, 'j'), LETTER(KEY_K, 'k'), LETTER(KEY_L, 'l'),
	{ KEY_SEMICOLON, { 0xf6, 0xd6 } },	/* odiaeresis */
	{ KEY_APOSTROPHE, { 0xe4, 0xc4 } },	/* adiaeresis */
	{ KEY_BACKSLASH, { '#', '\'' } },
	{ KEY_102ND, { '<', '>', '|' } },
	LETTER(KEY_Z, 'y'), LETTER(KEY_X, 'x'), LETTER(KEY_C, 'c'),
	LETTER(KEY_V, 'v'), LETTER(KEY_B, 'b'), LETTER(KEY_N, 'n'),
	{ KEY_M, { 'm', 'M', 0xb5 /* mu */ } },
	{ KEY_COMMA, { ',', ';' } }, { KEY_DOT, { '.', ':' } },
	{ KEY_SLASH, { '-', '_' } },
};

/* French (AZERTY, xkb "fr"). */
static const struct key_levels fr_keys[] = {
	{ KEY_GRAVE, { 0xb2 /* twosuperior */ } },
	{ KEY_1, { '&', '1' } },
	{ KEY_2, { 0xe9 /* eacute */, '2', '~' } },
	{ KEY_3, { '"', '3', '#' } }, { KEY_4, { '\'', '4', '{' } },
	{ KEY_5, { '(', '5', '[' } }, { KEY_6, { '-', '6', '|' } },
	{ KEY_7, { 0xe8 /* egrave */, '7', '`' } },
	{ KEY_8, { '_', '8', '\\' } },
	{ KEY_9, { 0xe7 /* ccedilla */, '9', '^' } },
	{ KEY_0, { 0xe0 /* agrave */, '0', '@' } },
	{ KEY_MINUS, { ')', 0xb0 /* degree */, ']' } },
	{ KEY_EQUAL, { '=', '+', '}' } },
	LETTER(KEY_Q, 'a'), LETTER(KEY_W, 'z'),
	{ KEY_E, { 'e', 'E', XK_EuroSign } },
	LETTER(KEY_R, 'r'), LETTER(KEY_T, 't'), LETTER(KEY_Y, 'y'),
	LETTER(KEY_U, 'u'), LETTER(KEY_I, 'i'), LETTER(KEY_O, 'o'),
	LETTER(KEY_P, 'p'),
	{ KEY_LEFTBRACE, { XK_dead_circumflex, XK_dead_diaeresis } },
	{ KEY_RIGHTBRACE, { '$', 0xa3 /* sterling */, 0xa4 /* currency */ } },
	LETTER(KEY_A, 'q'), LETTER(KEY_S, 's'), LETTER(KEY_D, 'd'),
	LETTER(KEY_F, 'f'), LETTER(KEY_G, 'g'), LETTER(KEY_H, 'h'),
	LETTER(KEY_J, 'j'), LETTER(KEY_K, 'k'), LETTER(KEY_L, 'l'),
	LETTER(KEY_SEMICOLON, 'm'),
	{ KEY_APOSTROPHE, { 0xf9 /* ugrave */, '%' } },
	{ KEY_BACKSLASH, { '*', 0xb5 /* mu */ } },
	{ KEY_102ND, { '<', '>' } },
	LETTER(KEY_Z, 'w'), LETTER(KEY_X, 'x'), LETTER(KEY_C, 'c'),
	LETTER(KEY_V, 'v'), LETTER(KEY_B, 'b'), LETTER(KEY_N, 'n'),
	{ KEY_M, { ',', '?' } }, { KEY_COMMA, { ';', '.' } },
	{ KEY_DOT, { ':', '/' } }, { KEY_SLASH, { '!', 0xa7 /* section */ } },
};

#define LAYOUT(n) { #n, n##_keys, sizeof(n##_keys) / sizeof(n##_keys[0]) }
static const struct gh_keymap layouts[] = {
	LAYOUT(us), LAYOUT(de), LAYOUT(fr), LAYOUT(gb),
};

const struct gh_keymap *gh_keymap_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(layouts) / sizeof(layouts[0]);
	     i++)
		if (!strcmp(layouts[i].name, name))
			return &layouts[i];
	return NULL;
}

const char *gh_keymap_name(const struct gh_keymap *km)
{
	return km->name;
}

const char *gh_keymap_names(void)
{
	return "us, de, fr, gb";
}

/* Latin-1 letters have a lower and an upper case keysym 0x20 apart. */
static bool is_cased(uint32_t sym)
{
	return (sym >= 'a' && sym <= 'z') || (sym >= 'A' && sym <= 'Z') ||
	       (sym >= 0xc0 && sym <= 0xfe && sym != 0xd7 && sym != 0xf7 &&
		sym != 0xdf);
}

/*
 * Spacing accents that a layout may have only as dead keys (de's ^, ` and
 * acute, fr's diaeresis): a German typist gets "^" by the dead key and then
 * Space, and so do we.
 */
static const struct {
	uint32_t sym, dead;
} spacing_accents[] = {
	{ '^', XK_dead_circumflex }, { '`', XK_dead_grave },
	{ '~', XK_dead_tilde }, { 0xb4 /* acute */, XK_dead_acute },
	{ 0xa8 /* diaeresis */, XK_dead_diaeresis },
};

/* The key and level of the layout that types keysym. */
static int find_on_layout(const struct gh_keymap *km, uint32_t keysym,
			  struct gh_keymap_entry *e)
{
	static const unsigned level_mods[4] = {
		0, GH_KEYMAP_SHIFT, GH_KEYMAP_ALTGR,
		GH_KEYMAP_ALTGR | GH_KEYMAP_SHIFT,
	};

	for (unsigned l = 0; l < 4; l++)
		for (unsigned i = 0; i < km->nkeys; i++) {
			if (km->keys[i].sym[l] != keysym)
				continue;
			e->code = km->keys[i].code;
			e->mods = level_mods[l];
			/* a letter key: both its cases are on levels 0, 1 */
			if (l < 2 && is_cased(keysym) &&
			    is_cased(km->keys[i].sym[l ^ 1]))
				e->mods |= GH_KEYMAP_CASED;
			return 0;
		}
	return -ENOENT;
}

int gh_keymap_lookup(const struct gh_keymap *km, uint32_t keysym,
		     struct gh_keymap_entry *e)
{
	for (size_t i = 0; i < sizeof(plain_keys) / sizeof(plain_keys[0]); i++)
		if (plain_keys[i].keysym == keysym) {
			*e = (struct gh_keymap_entry){ plain_keys[i].code,
						       GH_KEYMAP_PLAIN };
			return 0;
		}
	if (!keysym)
		return -ENOENT;
	/* Unicode keysyms (0x01000000 + code point) of Latin-1 characters */
	if (keysym >= 0x010000a0 && keysym <= 0x010000ff)
		keysym -= 0x01000000;
	if (find_on_layout(km, keysym, e) == 0)
		return 0;
	for (size_t i = 0; i < sizeof(spacing_accents) /
			       sizeof(spacing_accents[0]); i++)
		if (spacing_accents[i].sym == keysym &&
		    find_on_layout(km, spacing_accents[i].dead, e) == 0) {
			e->mods |= GH_KEYMAP_DEAD;
			return 0;
		}
	return -ENOENT;
}

/* --- per-client key state ------------------------------------------------ */

static bool held(const struct gh_vnc_keys *k, unsigned code)
{
	return k->held[code / 8] & (1u << (code % 8));
}

static void press(struct gh_vnc_keys *k, unsigned code, bool down)
{
	if (code >= GH_VNC_KEYS_CODES)
		return;
	/* a release of a key the guest does not hold would confuse it */
	if (!down && !held(k, code))
		return;
	if (down)
		k->held[code / 8] |= 1u << (code % 8);
	else
		k->held[code / 8] &= ~(1u << (code % 8));
	k->emit(k->opaque, code, down);
}

void gh_vnc_keys_init(struct gh_vnc_keys *k, const struct gh_keymap *km,
		      gh_vnc_key_fn *emit, void *opaque)
{
	memset(k, 0, sizeof(*k));
	k->km = km ? km : &layouts[0];
	k->emit = emit;
	k->opaque = opaque;
}

static void remember(struct gh_vnc_keys *k, uint32_t keysym, unsigned code)
{
	unsigned i;

	for (i = 0; i < k->ndown; i++)
		if (k->down[i].keysym == keysym)
			break;
	if (i == k->ndown) {
		if (k->ndown == GH_VNC_KEYS_DOWN) {
			/* forget the oldest: its release falls back to the map */
			memmove(&k->down[0], &k->down[1],
				sizeof(k->down[0]) * (GH_VNC_KEYS_DOWN - 1));
			i = GH_VNC_KEYS_DOWN - 1;
		} else {
			k->ndown++;
		}
	}
	k->down[i].keysym = keysym;
	k->down[i].code = code;
}

/* The code pressed for keysym (forgotten now), or -1. */
static int recall(struct gh_vnc_keys *k, uint32_t keysym)
{
	for (unsigned i = 0; i < k->ndown; i++) {
		unsigned code = k->down[i].code;

		if (k->down[i].keysym != keysym)
			continue;
		memmove(&k->down[i], &k->down[i + 1],
			sizeof(k->down[0]) * (k->ndown - i - 1));
		k->ndown--;
		return (int)code;
	}
	return -1;
}

static bool forget_code(struct gh_vnc_keys *k, unsigned code)
{
	for (unsigned i = 0; i < k->ndown; i++)
		if (k->down[i].code == code)
			return recall(k, k->down[i].keysym) >= 0;
	return false;
}

/*
 * A character key with the Shift and AltGr state its symbol needs: the
 * modifiers the client holds that are wrong for it are lifted, missing
 * ones pressed, and all put back as the client holds them right after the
 * make, as a person would type it. The guest's layout reads the symbol at
 * the make; its release needs no modifiers.
 */
static void press_with_mods(struct gh_vnc_keys *k, unsigned code,
			    unsigned mods)
{
	static const unsigned shifts[] = { KEY_LEFTSHIFT, KEY_RIGHTSHIFT };
	bool want_shift = mods & GH_KEYMAP_SHIFT;
	bool want_altgr = mods & GH_KEYMAP_ALTGR;
	bool have_shift = held(k, KEY_LEFTSHIFT) || held(k, KEY_RIGHTSHIFT);
	bool have_altgr = held(k, KEY_RIGHTALT);
	unsigned lifted = 0, i;

	if ((mods & GH_KEYMAP_CASED) && k->caps_lock)
		want_shift = !want_shift;
	if (want_shift && !have_shift)
		press(k, KEY_LEFTSHIFT, true);
	if (!want_shift && have_shift)
		for (i = 0; i < 2; i++)
			if (held(k, shifts[i])) {
				press(k, shifts[i], false);
				lifted |= 1u << i;
			}
	if (want_altgr && !have_altgr)
		press(k, KEY_RIGHTALT, true);
	if (!want_altgr && have_altgr)
		press(k, KEY_RIGHTALT, false);

	press(k, code, true);

	if (!want_altgr && have_altgr)
		press(k, KEY_RIGHTALT, true);
	if (want_altgr && !have_altgr)
		press(k, KEY_RIGHTALT, false);
	for (i = 0; i < 2; i++)
		if (lifted & (1u << i))
			press(k, shifts[i], true);
	if (want_shift && !have_shift)
		press(k, KEY_LEFTSHIFT, false);
}

void gh_vnc_keys_event(struct gh_vnc_keys *k, uint32_t keysym, bool down)
{
	struct gh_keymap_entry e;
	int code;

	if (!down) {
		code = recall(k, keysym);
		if (code < 0 && gh_keymap_lookup(k->km, keysym, &e) == 0)
			code = (int)e.code;
		if (code < 0)
			return;
		/* and forget other keysyms that pressed the same key */
		while (forget_code(k, (unsigned)code))
			;
		press(k, (unsigned)code, false);
		return;
	}
	if (gh_keymap_lookup(k->km, keysym, &e) < 0)
		return;		/* nothing on this layout types it */
	if (e.mods & GH_KEYMAP_DEAD) {
		/*
		 * The whole sequence at once, Space without the client's
		 * Shift or AltGr (AltGr+Space may be a no-break space); the
		 * client's release then finds nothing held.
		 */
		press_with_mods(k, e.code, e.mods);
		press(k, e.code, false);
		press_with_mods(k, KEY_SPACE, 0);
		press(k, KEY_SPACE, false);
		return;
	}
	if (e.code == KEY_CAPSLOCK && !held(k, KEY_CAPSLOCK))
		k->caps_lock = !k->caps_lock;
	remember(k, keysym, e.code);
	if (e.mods & GH_KEYMAP_PLAIN)
		press(k, e.code, true);		/* a repeat is another make */
	else
		press_with_mods(k, e.code, e.mods);
}

void gh_vnc_keys_code(struct gh_vnc_keys *k, unsigned code, bool down)
{
	press(k, code, down);
}

void gh_vnc_keys_release_all(struct gh_vnc_keys *k)
{
	for (unsigned code = 0; code < GH_VNC_KEYS_CODES; code++)
		press(k, code, false);
	k->ndown = 0;
}
