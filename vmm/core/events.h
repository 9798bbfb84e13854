/* The events stream: a bounded in-memory ring of lifecycle lines. */
#ifndef BANGER_EVENTS_H
#define BANGER_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#define EVENTS_RING_SIZE (64 * 1024)

struct events {
	char *ring;
	uint64_t start; /* offset of the oldest byte kept */
	uint64_t end;   /* offset one past the newest byte */
};

void events_init(struct events *e);
void events_free(struct events *e);
/* Appends one line ("\n" added); the oldest whole lines make room. */
void events_append(struct events *e, const char *line);
/* Copies bytes from *pos (moved up to the oldest kept byte if it fell
 * behind) and advances *pos. */
size_t events_read(const struct events *e, uint64_t *pos, char *buf, size_t size);

#endif
