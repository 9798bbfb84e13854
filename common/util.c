#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");
	if (!d)
		abort();
	return d;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (!p)
		abort();
	return p;
}

static long long clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long now_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}
long long now_real_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *copy = xstrdup(path);

	if (!*copy)
		return -ENOENT; /* the loop below starts at copy[1] */
	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(copy, mode) < 0) {
		struct stat st;
		if (errno != EEXIST)
			return -errno;
		if (stat(copy, &st) == 0 && !S_ISDIR(st.st_mode))
			return -ENOTDIR;
	}
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 ? -1 : 0;
	return unlink(path) < 0 ? -1 : 0;
}

int rm_rf(const char *path)
{
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

char *read_text_file(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char *buf = NULL, chunk[4096];
	size_t len = 0, n;
	FILE *mem;
	int saved;

	if (!f)
		return NULL;
	mem = open_memstream(&buf, &len);
	if (!mem)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, mem);
	saved = ferror(f) ? EIO : 0;
	fclose(mem);
	if (saved) {
		free(buf);
		errno = saved;
		return NULL;
	}
	return buf;
}

const char *open_strerror(int e)
{
	return e == ELOOP ? "it is a symbolic link: refusing to write through it" : strerror(e);
}

int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-')
		return -EINVAL;
	*ret = v;
	return 0;
}

int fsync_parent(const char *path)
{
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	_cleanup_close_ int fd = -1;

	if (slash)
		*slash = '\0';
	fd = open(!slash ? "." : *dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		return -errno;
	return 0;
}
