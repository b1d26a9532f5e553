/* One-sentence errors carried from the core to the CLI/GUI boundary. */
#include "gh/error.h"

#include <stdarg.h>
#include <stdio.h>

int gh_error_set(struct gh_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err || err->code)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}
