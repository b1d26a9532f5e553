/* A negative errno plus one sentence for the person at the CLI/GUI boundary. */
#ifndef GH_ERROR_H
#define GH_ERROR_H

#include <stddef.h>

struct gh_error {
	int code;		/* negative errno, 0 when no error was set */
	char msg[256];
};

/* Records the first error only, so the innermost cause wins; returns code. */
int gh_error_set(struct gh_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
