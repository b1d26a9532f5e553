/* RFB pointer events as PS/2 mouse motion (vnc/pointer.c). */
#include <glib.h>

#include "gh/input.h"
#include "gh/vnc-pointer.h"

static void check(struct gh_vnc_pointer *p, int mask, int x, int y, int dx,
		  int dy, int dz, unsigned buttons, bool changed)
{
	struct gh_vnc_motion m;

	gh_vnc_pointer_event(p, mask, x, y, &m);
	g_assert_cmpint(m.dx, ==, dx);
	g_assert_cmpint(m.dy, ==, dy);
	g_assert_cmpint(m.dz, ==, dz);
	g_assert_cmpuint(m.buttons, ==, buttons);
	g_assert_cmpint(m.changed, ==, changed);
}

static void test_motion(void)
{
	struct gh_vnc_pointer p = { 0 };

	/* the first event has no previous position: no motion */
	check(&p, 0, 100, 50, 0, 0, 0, 0, false);
	check(&p, 0, 110, 45, 10, -5, 0, 0, true);
	check(&p, 0, 110, 45, 0, 0, 0, 0, false);
	check(&p, 0, 0, 399, -110, 354, 0, 0, true);
}

static void test_buttons(void)
{
	struct gh_vnc_pointer p = { 0 };

	check(&p, 0, 10, 10, 0, 0, 0, 0, false);
	/* RFB 1 left, 2 middle, 3 right */
	check(&p, 1, 10, 10, 0, 0, 0, GH_BTN_LEFT, true);
	check(&p, 1, 12, 10, 2, 0, 0, GH_BTN_LEFT, true);	/* a drag */
	check(&p, 0, 12, 10, 0, 0, 0, 0, true);
	check(&p, 2, 12, 10, 0, 0, 0, GH_BTN_MIDDLE, true);
	check(&p, 6, 12, 10, 0, 0, 0, GH_BTN_MIDDLE | GH_BTN_RIGHT, true);
	check(&p, 4, 12, 10, 0, 0, 0, GH_BTN_RIGHT, true);
	check(&p, 0, 12, 10, 0, 0, 0, 0, true);
}

static void test_wheel(void)
{
	struct gh_vnc_pointer p = { 0 };

	check(&p, 0, 5, 5, 0, 0, 0, 0, false);
	/* a press of 4 is a step up, its release nothing */
	check(&p, 8, 5, 5, 0, 0, 1, 0, true);
	check(&p, 0, 5, 5, 0, 0, 0, 0, false);
	check(&p, 16, 5, 5, 0, 0, -1, 0, true);
	check(&p, 0, 5, 5, 0, 0, 0, 0, false);
	/* held left button while scrolling stays held */
	check(&p, 1, 5, 5, 0, 0, 0, GH_BTN_LEFT, true);
	check(&p, 1 | 16, 5, 5, 0, 0, -1, GH_BTN_LEFT, true);
	check(&p, 1, 5, 5, 0, 0, 0, GH_BTN_LEFT, false);
	/* buttons 6 and 7 (sideways) are not the PS/2 mouse's */
	check(&p, 1 | 32 | 64, 5, 5, 0, 0, 0, GH_BTN_LEFT, false);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/vnc-pointer/motion", test_motion);
	g_test_add_func("/vnc-pointer/buttons", test_buttons);
	g_test_add_func("/vnc-pointer/wheel", test_wheel);
	return g_test_run();
}
