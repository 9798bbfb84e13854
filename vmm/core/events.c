#include "events.h"
#include "util.h"

#include <string.h>

void events_init(struct events *e)
{
	e->ring = xcalloc(1, EVENTS_RING_SIZE);
	e->start = e->end = 0;
}

void events_free(struct events *e)
{
	free(e->ring);
	e->ring = NULL;
}

static char byte_at(const struct events *e, uint64_t off)
{
	return e->ring[off % EVENTS_RING_SIZE];
}

void events_append(struct events *e, const char *line)
{
	size_t n = strlen(line);

	if (n > EVENTS_RING_SIZE / 4)
		n = EVENTS_RING_SIZE / 4;
	/* make room by dropping whole lines from the front, before writing
	 * over them */
	while (e->end + n + 1 - e->start > EVENTS_RING_SIZE) {
		while (byte_at(e, e->start) != '\n')
			e->start++;
		e->start++;
	}
	for (size_t i = 0; i <= n; i++)
		e->ring[(e->end + i) % EVENTS_RING_SIZE] = i < n ? line[i] : '\n';
	e->end += n + 1;
}

size_t events_read(const struct events *e, uint64_t *pos, char *buf, size_t size)
{
	size_t n = 0;

	if (*pos < e->start)
		*pos = e->start;
	while (n < size && *pos < e->end)
		buf[n++] = byte_at(e, (*pos)++);
	return n;
}
