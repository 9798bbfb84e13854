#include "log.h"
#include "util.h"

#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

static int log_fd = -1;
static bool log_stderr;

int log_open(const char *path, bool to_stderr)
{
	log_stderr = to_stderr;
	log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	return log_fd < 0 ? -1 : 0;
}

void log_close(void)
{
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
}

static size_t timestamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(buf + n, size - n, ".%03ld ", ts.tv_nsec / 1000000);
	return n;
}

void text_one_line(char *text)
{
	for (unsigned char *p = (unsigned char *)text; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/* Lines carry guest text (agent lines, names, reasons): control characters
 * become '?', so no line can forge another or drive a terminal (ANSI). */
static void write_line(int fd, const char *ts, const char *tag, const char *text)
{
	char line[2048];

	snprintf(line, sizeof(line), "%s", text);
	text_one_line(line);
	struct iovec iov[4] = {
		{ (void *)ts, strlen(ts) },
		{ (void *)tag, strlen(tag) },
		{ (void *)line, strlen(line) },
		{ (void *)"\n", 1 },
	};
	if (fd >= 0)
		(void)!writev(fd, iov, 4);
}

static void emit(const char *tag, const char *line)
{
	char ts[64];

	timestamp(ts, sizeof(ts));
	write_line(log_fd, ts, tag, line);
	if (log_stderr)
		write_line(STDERR_FILENO, ts, tag, line);
}

void log_msg(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	emit("", line);
}

void log_to_file(const char *path, const char *tag, const char *line)
{
	char ts[64];
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);

	timestamp(ts, sizeof(ts));
	write_line(fd, ts, "banger: ", line);
	emit(tag, line);
}
