/* common/: small helpers every part shares (bangerd, the helpers, the
 * tests): errors (error.h), name and value checks (validate.h), logging
 * (log.h), child processes (proc.h), the config.toml subset (toml.h), the
 * host paths and helper lookup (paths.h), and here cleanup attributes,
 * ownership moves, allocation that aborts on failure.
 *
 * Small helpers shared by every part: cleanup attributes, ownership moves. */
#ifndef BANGER_UTIL_H
#define BANGER_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>

static inline void freep(void *p)
{
	free(*(void **)p);
}
static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
static inline void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

#define _cleanup_free_ __attribute__((cleanup(freep)))
#define _cleanup_close_ __attribute__((cleanup(closep)))
#define _cleanup_fclose_ __attribute__((cleanup(fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(closedirp)))

static inline void *steal_ptr_impl(void *pp)
{
	void **p = pp, *v = *p;
	*p = NULL;
	return v;
}
#define steal_ptr(pp) steal_ptr_impl(pp)

static inline int steal_fd(int *fd)
{
	int v = *fd;
	*fd = -1;
	return v;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* asprintf that aborts on out-of-memory, like crun's xasprintf. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xstrdup(const char *s);
void *xcalloc(size_t n, size_t size);

/* Milliseconds of CLOCK_MONOTONIC / CLOCK_REALTIME. */
long long now_mono_ms(void);
long long now_real_ms(void);

/* mkdir -p with the given mode for created components. */
int mkdir_p(const char *path, mode_t mode);
/* rm -rf; returns 0 or -errno. */
/* fsyncs the directory that holds path, so that a rename into it is on disk
 * too. 0 or -errno. */
int fsync_parent(const char *path);
int rm_rf(const char *path);

/* strerror(e) for a failed open of a file banger creates: files an attacker
 * could plant a symlink for are opened O_NOFOLLOW, whose ELOOP says that
 * a symlink is in the way. */
const char *open_strerror(int e);

/* A decimal unsigned number, the whole string; -EINVAL otherwise. */
int parse_u64(const char *s, uint64_t *ret);
/* The whole file as a NUL-terminated string (caller frees), or NULL with
 * errno set (ENOENT when it does not exist). */
char *read_text_file(const char *path);

#endif
