/* A tiny TAP producer for the unit tests. */
#ifndef BANGER_TAP_H
#define BANGER_TAP_H

#include <stdbool.h>

void tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the plan; returns the exit status (0 when every check passed). */
int tap_done(void);

/* Equality checks; the TAP line shows both values (newlines as \n). */
void is_int(long long got, long long want, const char *what);
void is_str(const char *got, const char *want, const char *what);

#endif
