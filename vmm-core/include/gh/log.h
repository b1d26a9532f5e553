/* Logging through GLib (domain "guesthouse") and a per-object rate limiter. */
#ifndef GH_LOG_H
#define GH_LOG_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "guesthouse"
#endif
#include <glib.h>

/*
 * What a guest does that its hardware would ignore or refuse (access to
 * nothing, a bad register value) is logged at info level, which the CLI
 * shows with --verbose only, through a rate limiter embedded in the device
 * state: a guest probing for hardware it does not have, as every Linux
 * does, must not fill the user's terminal. Host problems use g_warning.
 * Guests must never be able to produce a g_warning: tests run with
 * G_DEBUG=fatal-warnings.
 */
struct gh_ratelimit {
	int64_t window_start_us;
	unsigned count;
	unsigned suppressed;
};

/* True if a message may be printed now: at most 10 per 5 s per limiter. */
bool gh_ratelimit_ok(struct gh_ratelimit *rl);

#define gh_log_guest(rl, ...)                                                  \
	do {                                                                   \
		if (gh_ratelimit_ok(rl))                                       \
			g_info(__VA_ARGS__);                                   \
	} while (0)

#endif
