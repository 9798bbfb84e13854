/* One error type, carried up to the edge (crun's libcrun_error_t, without
 * allocation): a negative errno plus a one-line reason. */
#ifndef BANGER_ERROR_H
#define BANGER_ERROR_H

#define BGR_ERROR_MAX 512

typedef struct bgr_error {
	int code; /* positive errno, 0 when no error */
	char msg[BGR_ERROR_MAX];
} bgr_error;

/* Records code + reason in err (may be NULL) and returns -code. */
int bgr_fail(bgr_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes the reason already in err with more context; returns -err->code. */
int bgr_wrap(bgr_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bgr_error_clear(bgr_error *err);

#endif
