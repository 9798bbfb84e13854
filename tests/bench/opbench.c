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

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "statread") == 0)
		return statread(argv[2], parse_count(argv[3]));
	if (argc == 4 && strcmp(argv[1], "lsstat") == 0)
		return lsstat(argv[2], parse_count(argv[3]));
	if (argc == 4 && strcmp(argv[1], "mkdir") == 0)
		return mkdirs(argv[2], parse_count(argv[3]));
	fprintf(stderr, "usage: opbench statread FILE ITER | lsstat DIR ITER | mkdir DIR COUNT\n");
	return 2;
}
