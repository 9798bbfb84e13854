#include "tap.h"

#include <stdarg.h>
#include <stdio.h>

static int checks, failures;

void tap_ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	checks++;
	if (!cond)
		failures++;
	printf("%s %d - ", cond ? "ok" : "not ok", checks);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

int tap_done(void)
{
	printf("1..%d\n", checks);
	return failures ? 1 : 0;
}
