/* Rate limiting for messages a guest can provoke. */
#include "gh/log.h"

#define WINDOW_US (5 * G_USEC_PER_SEC)
#define BURST 10

bool gh_ratelimit_ok(struct gh_ratelimit *rl)
{
	int64_t now = g_get_monotonic_time();

	if (now - rl->window_start_us >= WINDOW_US) {
		if (rl->suppressed)
			g_info("(%u similar messages suppressed)", rl->suppressed);
		rl->window_start_us = now;
		rl->count = 0;
		rl->suppressed = 0;
	}
	if (rl->count < BURST) {
		rl->count++;
		return true;
	}
	rl->suppressed++;
	return false;
}
