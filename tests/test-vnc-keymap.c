/*
 * The VNC keymaps (vnc/keymap.c): keysyms to evdev keys per layout, and
 * the key state that adds or lifts Shift and AltGr, repeats, releases.
 */
#include <errno.h>
#include <glib.h>
#include <linux/input-event-codes.h>
#include <string.h>

#include "gh/vnc-keymap.h"

enum {
	XK_Shift_L = 0xffe1, XK_Control_L = 0xffe3, XK_Caps_Lock = 0xffe5,
	XK_ISO_Level3_Shift = 0xfe03, XK_dead_grave = 0xfe50,
	XK_dead_acute = 0xfe51, XK_dead_circumflex = 0xfe52,
	XK_dead_diaeresis = 0xfe57,
};

struct rec {
	GString *s;
};

static void record(void *opaque, unsigned code, bool down)
{
	struct rec *r = opaque;

	g_string_append_printf(r->s, "%s%c%u", r->s->len ? "," : "",
			       down ? '+' : '-', code);
}

struct fixture {
	struct rec rec;
	struct gh_vnc_keys k;
};

static void setup(struct fixture *f, const char *layout)
{
	f->rec.s = g_string_new(NULL);
	gh_vnc_keys_init(&f->k, gh_keymap_find(layout), record, &f->rec);
}

static void teardown(struct fixture *f)
{
	g_string_free(f->rec.s, TRUE);
}

/* Feeds "d:SYM" / "u:SYM" events; returns what reached the guest. */
static const char *feed(struct fixture *f, const uint32_t *ev, unsigned n)
{
	g_string_truncate(f->rec.s, 0);
	for (unsigned i = 0; i < n; i += 2)
		gh_vnc_keys_event(&f->k, ev[i + 1], ev[i]);
	return f->rec.s->str;
}

#define D(sym) 1, (sym)
#define U(sym) 0, (sym)
#define FEED(f, ...) ({ static const uint32_t ev_[] = { __VA_ARGS__ }; \
	feed(f, ev_, G_N_ELEMENTS(ev_)); })

static void check_lookup(const char *layout, uint32_t sym, unsigned code,
			 unsigned mods)
{
	struct gh_keymap_entry e;

	g_assert_cmpint(gh_keymap_lookup(gh_keymap_find(layout), sym, &e), ==,
			0);
	g_assert_cmpuint(e.code, ==, code);
	g_assert_cmpuint(e.mods, ==, mods);
}

static void test_lookup(void)
{
	enum { S = GH_KEYMAP_SHIFT, A = GH_KEYMAP_ALTGR,
	       P = GH_KEYMAP_PLAIN, C = GH_KEYMAP_CASED };
	struct gh_keymap_entry e;

	g_assert_null(gh_keymap_find("xx"));
	g_assert_null(gh_keymap_find(NULL));
	g_assert_cmpstr(gh_keymap_name(gh_keymap_find("de")), ==, "de");
	check_lookup("us", 'a', KEY_A, C);
	check_lookup("us", 'A', KEY_A, S | C);
	check_lookup("us", '@', KEY_2, S);
	check_lookup("us", '\\', KEY_BACKSLASH, 0);
	check_lookup("gb", '"', KEY_2, S);
	check_lookup("gb", '#', KEY_BACKSLASH, 0);
	check_lookup("gb", '\\', KEY_102ND, 0);
	check_lookup("gb", 0xa3, KEY_3, S);		/* sterling */
	check_lookup("de", '@', KEY_Q, A);
	check_lookup("de", 'z', KEY_Y, C);
	check_lookup("de", 'Y', KEY_Z, S | C);
	check_lookup("de", 0xd6, KEY_SEMICOLON, S | C);	/* Odiaeresis */
	check_lookup("de", 0xdf, KEY_MINUS, 0);		/* ssharp */
	check_lookup("de", 0x20ac, KEY_E, A);		/* EuroSign */
	check_lookup("de", '|', KEY_102ND, A);
	check_lookup("fr", 'a', KEY_Q, C);
	check_lookup("fr", '1', KEY_1, S);
	check_lookup("fr", '&', KEY_1, 0);
	check_lookup("fr", 0x010000e9, KEY_2, 0);	/* U+00E9 eacute */
	check_lookup("fr", '^', KEY_9, A);
	/* the same everywhere: extended keys, the keypad, Pause, Print */
	check_lookup("fr", 0xff53, KEY_RIGHT, P);
	check_lookup("us", 0xff63, KEY_INSERT, P);
	check_lookup("us", 0xffff, KEY_DELETE, P);
	check_lookup("us", 0xff50, KEY_HOME, P);
	check_lookup("us", 0xff57, KEY_END, P);
	check_lookup("us", 0xff55, KEY_PAGEUP, P);
	check_lookup("us", 0xff56, KEY_PAGEDOWN, P);
	check_lookup("us", 0xffe4, KEY_RIGHTCTRL, P);
	check_lookup("us", 0xffea, KEY_RIGHTALT, P);
	check_lookup("de", XK_ISO_Level3_Shift, KEY_RIGHTALT, P);
	check_lookup("us", 0xffeb, KEY_LEFTMETA, P);
	check_lookup("us", 0xff67, KEY_COMPOSE, P);
	check_lookup("us", 0xff13, KEY_PAUSE, P);
	check_lookup("us", 0xff61, KEY_SYSRQ, P);
	check_lookup("us", 0xff8d, KEY_KPENTER, P);
	check_lookup("us", 0xffb1, KEY_KP1, P);
	check_lookup("us", 0xff9c, KEY_KP1, P);		/* KP_End */
	check_lookup("us", 0xffaf, KEY_KPSLASH, P);
	check_lookup("us", 0xffc9, KEY_F12, P);
	g_assert_cmpint(gh_keymap_lookup(gh_keymap_find("us"), 0x20ac, &e),
			==, -ENOENT);
	g_assert_cmpint(gh_keymap_lookup(gh_keymap_find("us"), 0, &e), ==,
			-ENOENT);
}

/* Every printable ASCII character types on each layout (de's ^ and ` by
 * their dead keys). */
static void test_ascii(void)
{
	static const struct { const char *layout, *missing; } t[] = {
		{ "us", "" }, { "gb", "" }, { "fr", "" }, { "de", "" },
	};

	for (unsigned i = 0; i < G_N_ELEMENTS(t); i++) {
		const struct gh_keymap *km = gh_keymap_find(t[i].layout);

		g_assert_nonnull(km);
		for (uint32_t c = 0x20; c < 0x7f; c++) {
			struct gh_keymap_entry e;
			bool want = !strchr(t[i].missing, (int)c);

			if (gh_keymap_lookup(km, c, &e) != (want ? 0 : -ENOENT))
				g_error("%s: '%c' %s", t[i].layout, (int)c,
					want ? "missing" : "unexpected");
		}
	}
}

/*
 * Spacing accents that are only dead keys on a layout: the dead key, then
 * Space, as a person types them; the dead keysyms stay the bare dead key.
 */
static void test_dead_keys(void)
{
	enum { S = GH_KEYMAP_SHIFT, D = GH_KEYMAP_DEAD };
	struct fixture f;

	check_lookup("de", '^', KEY_GRAVE, D);
	check_lookup("de", '`', KEY_EQUAL, S | D);
	check_lookup("de", 0xb4, KEY_EQUAL, D);		/* acute */
	check_lookup("de", XK_dead_circumflex, KEY_GRAVE, 0);
	check_lookup("de", XK_dead_grave, KEY_EQUAL, S);
	check_lookup("fr", 0xa8, KEY_LEFTBRACE, S | D);	/* diaeresis */
	check_lookup("fr", 0x010000a8, KEY_LEFTBRACE, S | D);
	check_lookup("fr", XK_dead_diaeresis, KEY_LEFTBRACE, S);
	/* where the character has a key of its own, that key */
	check_lookup("fr", '^', KEY_9, GH_KEYMAP_ALTGR);
	check_lookup("fr", '`', KEY_7, GH_KEYMAP_ALTGR);
	check_lookup("gb", '^', KEY_6, S);
	check_lookup("gb", '`', KEY_GRAVE, 0);
	check_lookup("us", '~', KEY_GRAVE, S);
	check_lookup("de", '~', KEY_RIGHTBRACE, GH_KEYMAP_ALTGR);

	setup(&f, "de");
	/* ^: the dead key and Space; the client's release finds nothing */
	g_assert_cmpstr(FEED(&f, D('^'), U('^')), ==, "+41,-41,+57,-57");
	/* `: Shift for the dead key only */
	g_assert_cmpstr(FEED(&f, D('`'), U('`')), ==,
			"+42,+13,-42,-13,+57,-57");
	/* a client holding Shift: kept for the dead key, lifted for Space */
	g_assert_cmpstr(FEED(&f, D(XK_Shift_L), D('`'), U('`'),
			     U(XK_Shift_L)), ==,
			"+42,+13,-13,-42,+57,+42,-57,-42");
	/* the client's auto-repeat: one accent each */
	g_assert_cmpstr(FEED(&f, D('^'), D('^'), U('^')), ==,
			"+41,-41,+57,-57,+41,-41,+57,-57");
	/* the dead keysym: the dead key alone, held as the client holds it */
	g_assert_cmpstr(FEED(&f, D(XK_dead_circumflex), U(XK_dead_circumflex),
			     D('e'), U('e')), ==, "+41,-41,+18,-18");
	g_assert_cmpstr(FEED(&f, D(XK_dead_acute), U(XK_dead_acute)), ==,
			"+13,-13");
	/* AltGr held: lifted for both (AltGr+Space may be a no-break space) */
	g_assert_cmpstr(FEED(&f, D(XK_ISO_Level3_Shift), D('^'), U('^'),
			     U(XK_ISO_Level3_Shift)), ==,
			"+100,-100,+41,+100,-41,-100,+57,+100,-57,-100");
	teardown(&f);

	setup(&f, "fr");
	g_assert_cmpstr(FEED(&f, D(0xa8), U(0xa8)), ==,
			"+42,+26,-42,-26,+57,-57");
	/* ` has a key of its own (AltGr+7 in xkb's fr): no Space */
	g_assert_cmpstr(FEED(&f, D(XK_ISO_Level3_Shift), D('`'), U('`'),
			     U(XK_ISO_Level3_Shift)), ==, "+100,+8,-8,-100");
	teardown(&f);
}

static void test_modifiers(void)
{
	struct fixture f;

	setup(&f, "us");
	/* a plain letter */
	g_assert_cmpstr(FEED(&f, D('a'), U('a')), ==, "+30,-30");
	/* 'A' without Shift (a client typing text): Shift around the make */
	g_assert_cmpstr(FEED(&f, D('A'), U('A')), ==, "+42,+30,-42,-30");
	/* Shift as the client holds it */
	g_assert_cmpstr(FEED(&f, D(XK_Shift_L), D('A'), U('A'), U(XK_Shift_L)),
			==, "+42,+30,-30,-42");
	/* Shift held for a symbol that has none on us: lifted for it */
	g_assert_cmpstr(FEED(&f, D(XK_Shift_L), D('1'), U('1'), U(XK_Shift_L)),
			==, "+42,-42,+2,+42,-2,-42");
	/* Ctrl-C: Ctrl held, the letter as it is */
	g_assert_cmpstr(FEED(&f, D(XK_Control_L), D('c'), U('c'),
			     U(XK_Control_L)), ==, "+29,+46,-46,-29");
	teardown(&f);

	setup(&f, "de");
	/* '@' from a US client (Shift+2): Shift lifted, AltGr added */
	g_assert_cmpstr(FEED(&f, D(XK_Shift_L), D('@'), U('@'), U(XK_Shift_L)),
			==, "+42,-42,+100,+16,-100,+42,-16,-42");
	/* '@' from a German client (AltGr+q): as it is */
	g_assert_cmpstr(FEED(&f, D(XK_ISO_Level3_Shift), D('@'), U('@'),
			     U(XK_ISO_Level3_Shift)), ==,
			"+100,+16,-16,-100");
	teardown(&f);
}

static void test_repeat_release(void)
{
	struct fixture f;

	setup(&f, "us");
	/* the client's auto-repeat: each down a make, one break */
	g_assert_cmpstr(FEED(&f, D('a'), D('a'), D('a'), U('a')), ==,
			"+30,+30,+30,-30");
	/* the release names another keysym once Shift changed it */
	g_assert_cmpstr(FEED(&f, D('a'), D(XK_Shift_L), U('A'),
			     U(XK_Shift_L)), ==, "+30,+42,-30,-42");
	/* a release of a key never pressed does not reach the guest */
	g_assert_cmpstr(FEED(&f, U('b'), U(0xffe2)), ==, "");
	/* a keysym no layout types is dropped */
	g_assert_cmpstr(FEED(&f, D(0x20ac), U(0x20ac)), ==, "");
	/* a client that goes away with keys down: all released, once */
	g_assert_cmpstr(FEED(&f, D(XK_Control_L), D(0xffe9), D(0xffff)), ==,
			"+29,+56,+111");
	g_string_truncate(f.rec.s, 0);
	gh_vnc_keys_release_all(&f.k);
	g_assert_cmpstr(f.rec.s->str, ==, "-29,-56,-111");
	g_string_truncate(f.rec.s, 0);
	gh_vnc_keys_release_all(&f.k);
	g_assert_cmpstr(f.rec.s->str, ==, "");
	/* ... and forgotten: a late release does nothing */
	g_assert_cmpstr(FEED(&f, U(0xffff)), ==, "");
	teardown(&f);
}

/* Caps Lock on: the client sends upper case without Shift, as typed. */
static void test_caps_lock(void)
{
	struct fixture f;

	setup(&f, "us");
	g_assert_cmpstr(FEED(&f, D(XK_Caps_Lock), U(XK_Caps_Lock), D('A'),
			     U('A')), ==, "+58,-58,+30,-30");
	/* lower case then needs Shift; symbols are not affected */
	g_assert_cmpstr(FEED(&f, D('a'), U('a'), D('1'), U('1')), ==,
			"+42,+30,-42,-30,+2,-2");
	/* a repeated Caps_Lock down is not another toggle */
	g_assert_cmpstr(FEED(&f, D(XK_Caps_Lock), D(XK_Caps_Lock),
			     U(XK_Caps_Lock), D('a'), U('a')), ==,
			"+58,+58,-58,+30,-30");
	teardown(&f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/vnc-keymap/lookup", test_lookup);
	g_test_add_func("/vnc-keymap/ascii", test_ascii);
	g_test_add_func("/vnc-keymap/dead-keys", test_dead_keys);
	g_test_add_func("/vnc-keymap/modifiers", test_modifiers);
	g_test_add_func("/vnc-keymap/repeat-release", test_repeat_release);
	g_test_add_func("/vnc-keymap/caps-lock", test_caps_lock);
	return g_test_run();
}
