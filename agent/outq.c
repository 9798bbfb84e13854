/* Outgoing queue of lines for the host. See outq.h. */
#include "outq.h"
#include "protocol.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int outq_line(struct outq *q, const char *fmt, ...)
{
	char line[BANGER_AGENT_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 1)
		return -1;
	line[n++] = '\n';
	if (q->head > 0 && q->len + (size_t)n > q->cap) { /* reuse the written front */
		memmove(q->buf, q->buf + q->head, q->len - q->head);
		q->len -= q->head;
		q->head = 0;
	}
	if (q->len + (size_t)n > q->cap) {
		size_t cap = q->cap ? q->cap : 8192;
		char *b;

		while (cap < q->len + (size_t)n)
			cap *= 2;
		b = realloc(q->buf, cap);
		if (!b)
			return -1;
		q->buf = b;
		q->cap = cap;
	}
	memcpy(q->buf + q->len, line, (size_t)n);
	q->len += (size_t)n;
	return 0;
}

size_t outq_pending(const struct outq *q)
{
	return q->len - q->head;
}

int outq_flush(struct outq *q, int fd)
{
	ssize_t r;

	while (q->head < q->len) {
		r = write(fd, q->buf + q->head, q->len - q->head);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (r <= 0)
			return -1;
		q->head += (size_t)r;
	}
	q->head = q->len = 0;
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int outq_drain(struct outq *q, int fd, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	for (;;) {
		if (outq_flush(q, fd) < 0)
			return -1;
		if (!outq_pending(q))
			return 0;
		if (now_ms() >= deadline)
			return -1;
		if (poll(&p, 1, (int)(deadline - now_ms())) < 0 && errno != EINTR)
			return -1;
		if ((p.revents & (POLLHUP | POLLERR | POLLNVAL)) && !(p.revents & POLLOUT))
			return -1; /* the host went away */
	}
}

void outq_reset(struct outq *q)
{
	q->head = q->len = 0;
}
