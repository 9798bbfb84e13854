/* A tiny TAP producer for the unit tests. */
#ifndef BANGER_TAP_H
#define BANGER_TAP_H

#include <stdbool.h>

void tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the plan; returns the exit status (0 when every check passed). */
int tap_done(void);

/* Each argument is evaluated once. */
#define TAP_EQ_INT(a, b, desc)                                                                             \
	do {                                                                                               \
		long long got_ = (long long)(a), want_ = (long long)(b);                                   \
		tap_ok(got_ == want_, "%s (got %lld, want %lld)", desc, got_, want_);                      \
	} while (0)
#define TAP_EQ_STR(a, b, desc) tap_eq_str((a), (b), desc)

/* String equality; newlines in the values are shown as \n. */
void tap_eq_str(const char *got, const char *want, const char *desc);

#endif
