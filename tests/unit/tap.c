#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

static void escape(const char *s, char *out, size_t size)
{
	size_t n = 0;

	for (; *s && n + 3 < size; s++) {
		if (*s == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else {
			out[n++] = *s;
		}
	}
	out[n] = '\0';
}

void is_str(const char *got, const char *want, const char *desc)
{
	char g[512], w[512];

	escape(got, g, sizeof(g));
	escape(want, w, sizeof(w));
	tap_ok(strcmp(got, want) == 0, "%s (got '%s', want '%s')", desc, g, w);
}

void is_int(long long got, long long want, const char *what)
{
	tap_ok(got == want, "%s (got %lld, want %lld)", what, got, want);
}
