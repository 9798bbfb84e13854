/* A tiny TAP producer for the unit tests. */
#ifndef BANGER_TAP_H
#define BANGER_TAP_H

#include <stdbool.h>

void tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the plan; returns the exit status (0 when every check passed). */
int tap_done(void);

#define TAP_EQ_INT(a, b, desc) tap_ok((a) == (b), "%s (got %lld, want %lld)", desc, (long long)(a), (long long)(b))
#define TAP_EQ_STR(a, b, desc) tap_ok(strcmp((a), (b)) == 0, "%s (got '%s', want '%s')", desc, (a), (b))

#endif
