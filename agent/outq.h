/* The agent's outgoing queue: lines for the host, written without ever
 * blocking the agent. */
#ifndef BANGER_AGENT_OUTQ_H
#define BANGER_AGENT_OUTQ_H

#include <stddef.h>

/* The agent stops reading the host's lines and generating output pushes
 * while this much is queued. */
#define OUTQ_HIGH (64 * 1024)

struct outq {
	char *buf;
	size_t head; /* bytes before head were written */
	size_t len;
	size_t cap;
};

/* Queues one line (the '\n' is added). Returns 0, or -1 when the line is
 * longer than BANGER_AGENT_LINE_MAX or memory runs out. */
int outq_line(struct outq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

size_t outq_pending(const struct outq *q);

/* Writes what fd takes now (fd is non-blocking). Returns -1 when the link
 * is broken, else 0. */
int outq_flush(struct outq *q, int fd);

/* Flushes for up to timeout_ms, waiting for fd to take it. Returns 0 once
 * empty, -1 on a broken link or the timeout. */
int outq_drain(struct outq *q, int fd, int timeout_ms);

/* Forgets everything queued (a new connection). */
void outq_reset(struct outq *q);

#endif
