/*
 * RFB pointer events as relative mouse motion (gh/vnc-pointer.h). The
 * buttons are RFC 6143 7.5.5's: 1 left, 2 middle, 3 right; X's wheel
 * convention, which every client follows, makes a press of 4 one step up
 * (away from the user) and of 5 one step down, each released at once.
 */
#include "gh/vnc-pointer.h"

#include "gh/input.h"

void gh_vnc_pointer_event(struct gh_vnc_pointer *p, int mask, int x, int y,
			  struct gh_vnc_motion *m)
{
	int pressed = mask & ~p->mask;

	*m = (struct gh_vnc_motion){ 0 };
	if (mask & 1)
		m->buttons |= GH_BTN_LEFT;
	if (mask & 2)
		m->buttons |= GH_BTN_MIDDLE;
	if (mask & 4)
		m->buttons |= GH_BTN_RIGHT;
	if (pressed & 8)
		m->dz++;
	if (pressed & 16)
		m->dz--;
	if (p->have_pos) {
		m->dx = x - p->x;
		m->dy = y - p->y;
	}
	m->changed = m->dx || m->dy || m->dz || (mask & 7) != (p->mask & 7);
	p->x = x;
	p->y = y;
	p->have_pos = true;
	p->mask = mask;
}
