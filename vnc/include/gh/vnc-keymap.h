/*
 * Keyboard layouts for the VNC server: what a client's X keysym (RFB
 * KeyEvent, RFC 6143 7.5.4) means as a key on a PC keyboard, as Linux evdev
 * codes (gh/input.h), and the per-client state that turns a stream of
 * keysyms into key presses with the modifiers the guest needs to see.
 *
 * The guest interprets scancodes with its own layout; the layout chosen
 * here must match it. A client sends the symbol its user typed: "@" on a
 * US keyboard with Shift held, "@" on a German one with AltGr held. The
 * state below presses or lifts Shift and AltGr around such a key so that
 * the guest's layout produces the same symbol, whatever the client held.
 */
#ifndef GH_VNC_KEYMAP_H
#define GH_VNC_KEYMAP_H

#include <stdbool.h>
#include <stdint.h>

struct gh_keymap;

enum {
	GH_KEYMAP_SHIFT = 1 << 0,	/* needs Shift */
	GH_KEYMAP_ALTGR = 1 << 1,	/* needs AltGr (right Alt) */
	/* the key means the same with any modifiers: press it as it is */
	GH_KEYMAP_PLAIN = 1 << 2,
	/* a letter: Caps Lock inverts its need for Shift */
	GH_KEYMAP_CASED = 1 << 3,
	/* a dead key on this layout: the keysym is it followed by Space */
	GH_KEYMAP_DEAD = 1 << 4,
};

struct gh_keymap_entry {
	unsigned code;		/* evdev key code */
	unsigned mods;		/* GH_KEYMAP_* */
};

/* A layout by name ("us", "de", "fr", "gb"), NULL if unknown. */
const struct gh_keymap *gh_keymap_find(const char *name);
const char *gh_keymap_name(const struct gh_keymap *km);
/* The known names, comma-separated, for messages. */
const char *gh_keymap_names(void);
/* 0 and e filled, or -ENOENT: the layout has no key for keysym. */
int gh_keymap_lookup(const struct gh_keymap *km, uint32_t keysym,
		     struct gh_keymap_entry *e);

/* --- per-client key state ------------------------------------------------ */

#define GH_VNC_KEYS_CODES	256	/* evdev codes tracked (all on a PC kbd) */
#define GH_VNC_KEYS_DOWN	16	/* keysyms remembered until released */

typedef void gh_vnc_key_fn(void *opaque, unsigned code, bool down);

struct gh_vnc_keys {
	const struct gh_keymap *km;
	gh_vnc_key_fn *emit;
	void *opaque;
	/* keys the guest holds down because of this client */
	uint8_t held[GH_VNC_KEYS_CODES / 8];
	bool caps_lock;		/* as toggled by this client's Caps_Lock */
	/* keysyms down -> the code pressed for them, so the release lifts
	 * the same key even if the client's modifiers changed the keysym */
	struct {
		uint32_t keysym;
		unsigned code;
	} down[GH_VNC_KEYS_DOWN];
	unsigned ndown;
};

void gh_vnc_keys_init(struct gh_vnc_keys *k, const struct gh_keymap *km,
		      gh_vnc_key_fn *emit, void *opaque);
/*
 * One RFB KeyEvent. A second down without an up is the client's
 * auto-repeat: it reaches the guest as another make (typematic repeat).
 */
void gh_vnc_keys_event(struct gh_vnc_keys *k, uint32_t keysym, bool down);
/*
 * A key the client named itself (QEMU's extended key event, gh/vnc-xtkey.h):
 * pressed or released as it is, with no modifiers added; a second down is
 * a repeat, a release of a key not held is dropped.
 */
void gh_vnc_keys_code(struct gh_vnc_keys *k, unsigned code, bool down);
/* Releases everything this client holds (it disconnected). */
void gh_vnc_keys_release_all(struct gh_vnc_keys *k);

#endif
