/*
 * RFB PointerEvents (RFC 6143 7.5.5: an absolute position and a mask of
 * buttons 1-8) as what a PS/2 mouse reports: motion since the last event,
 * buttons held (gh/input.h) and wheel steps. One state per client.
 */
#ifndef GH_VNC_POINTER_H
#define GH_VNC_POINTER_H

#include <stdbool.h>

struct gh_vnc_pointer {
	bool have_pos;
	int x, y;
	int mask;		/* RFB button mask of the last event */
};

struct gh_vnc_motion {
	int dx, dy;		/* since the last event (0 for the first) */
	int dz;			/* wheel steps, > 0 away from the user */
	unsigned buttons;	/* GH_BTN_* */
	bool changed;		/* anything to tell the mouse */
};

void gh_vnc_pointer_event(struct gh_vnc_pointer *p, int mask, int x, int y,
			  struct gh_vnc_motion *m);

#endif
