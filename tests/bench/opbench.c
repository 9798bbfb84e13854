/* opbench: the timing loops of tools/bench. Each mode warms up first, then
 * times its loop with CLOCK_MONOTONIC and prints one line whose first field
 * is the result:
 *
 *   opbench statread FILE ITER   stat + open + read + close of FILE
 *                                -> "<µs> us/op"
 *   opbench lsstat DIR ITER      opendir + readdir all + fstatat every entry
 *                                (not . and ..) + closedir
 *                                -> "<µs> us/op <entries> entries"
 *   opbench mkdir DIR COUNT      warm-up mkdir+rmdir of DIR/warmup, then
 *                                mkdir DIR/b0 .. DIR/b{COUNT-1}
 *                                -> "<creates/s> creates/s first_ms=<ms>"
 *   opbench latency FILE ITER    stat + open + read + close of FILE, each one
 *                                timed apart
 *   opbench latency-until FILE STOPFILE   the same until STOPFILE exists
 *                                (looked for every 16 operations)
 *                                -> "<max µs> max_us <mean µs> mean_us
 *                                    <p99 µs> p99_us <n> ops <p99.9 µs> p999_us"
 *
 * Exits 1 with a message on stderr when an operation fails.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "opbench: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static long parse_count(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || v <= 0) {
		fprintf(stderr, "opbench: bad count '%s'\n", s);
		exit(2);
	}
	return v;
}

static void statread_once(const char *file)
{
	struct stat st;
	char buf[4096];
	int fd;

	if (stat(file, &st) < 0)
		die("stat", file);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open", file);
	if (read(fd, buf, sizeof(buf)) <= 0)
		die("read (nothing read)", file);
	close(fd);
}

static int statread(const char *file, long iter)
{
	long warm = iter / 10 > 100 ? iter / 10 : 100;
	double t0;

	for (long i = 0; i < warm; i++)
		statread_once(file);
	t0 = now_s();
	for (long i = 0; i < iter; i++)
		statread_once(file);
	printf("%.2f us/op\n", (now_s() - t0) * 1e6 / (double)iter);
	return 0;
}

static long lsstat_once(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;
	long n = 0;

	if (!d)
		die("opendir", dir);
	errno = 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			die("fstatat in", dir);
		n++;
	}
	if (errno)
		die("readdir", dir);
	closedir(d);
	return n;
}

static int lsstat(const char *dir, long iter)
{
	long warm = iter / 10 > 10 ? iter / 10 : 10, n = 0;
	double t0;

	for (long i = 0; i < warm; i++)
		n = lsstat_once(dir);
	t0 = now_s();
	for (long i = 0; i < iter; i++)
		lsstat_once(dir);
	printf("%.2f us/op %ld entries\n", (now_s() - t0) * 1e6 / (double)iter, n);
	return 0;
}

static int mkdirs(const char *dir, long count)
{
	char path[4096];
	double t0, first;

	/* warm-up: the first create may build per-image state (an overlay
	 * template); it is reported apart and not part of the rate */
	snprintf(path, sizeof(path), "%s/warmup", dir);
	t0 = now_s();
	if (mkdir(path, 0755) < 0)
		die("mkdir", path);
	first = now_s() - t0;
	if (rmdir(path) < 0)
		die("rmdir", path);
	t0 = now_s();
	for (long i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "%s/b%ld", dir, i);
		if (mkdir(path, 0755) < 0)
			die("mkdir", path);
	}
	printf("%.1f creates/s first_ms=%.1f\n", (double)count / (now_s() - t0), first * 1e3);
	return 0;
}

struct samples {
	double *v;
	size_t n, cap;
};

static void add_sample(struct samples *s, double us)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			exit(3);
	}
	s->v[s->n++] = us;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* iter > 0: that many; else until stop exists */
static int latency(const char *file, long iter, const char *stop)
{
	struct samples s = { 0 };
	double sum = 0;

	for (long i = 0; i < 100; i++)
		statread_once(file);
	for (long i = 0; iter > 0 ? i < iter : 1; i++) {
		if (iter <= 0 && i % 16 == 0 && access(stop, F_OK) == 0)
			break;
		double t0 = now_s();
		statread_once(file);
		double us = (now_s() - t0) * 1e6;
		add_sample(&s, us);
		sum += us;
	}
	if (!s.n) {
		fprintf(stderr, "opbench: no operation timed\n");
		return 1;
	}
	qsort(s.v, s.n, sizeof(*s.v), cmp_double);
	printf("%.0f max_us %.1f mean_us %.0f p99_us %zu ops %.0f p999_us\n", s.v[s.n - 1], sum / (double)s.n,
	       s.v[(size_t)((double)(s.n - 1) * 0.99)], s.n, s.v[(size_t)((double)(s.n - 1) * 0.999)]);
	free(s.v);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "statread") == 0)
		return statread(argv[2], parse_count(argv[3]));
	if (argc == 4 && strcmp(argv[1], "lsstat") == 0)
		return lsstat(argv[2], parse_count(argv[3]));
	if (argc == 4 && strcmp(argv[1], "mkdir") == 0)
		return mkdirs(argv[2], parse_count(argv[3]));
	if (argc == 4 && strcmp(argv[1], "latency") == 0)
		return latency(argv[2], parse_count(argv[3]), NULL);
	if (argc == 4 && strcmp(argv[1], "latency-until") == 0)
		return latency(argv[2], 0, argv[3]);
	fprintf(stderr,
		"usage: opbench statread FILE ITER | lsstat DIR ITER | mkdir DIR COUNT | latency FILE ITER |"
		" latency-until FILE STOPFILE\n");
	return 2;
}
