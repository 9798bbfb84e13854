/* Bounded output streams with absolute offsets. See stream.h. */
#include "stream.h"
#include "protocol.h"

#include <stdlib.h>
#include <string.h>

size_t stream_copy(const struct stream *s, uint64_t off, void *out, size_t max)
{
	size_t n, pos, first;

	if (off < s->start || off >= s->end)
		return 0;
	n = s->end - off < max ? (size_t)(s->end - off) : max;
	pos = (size_t)(off % s->cap);
	first = n < s->cap - pos ? n : s->cap - pos;
	memcpy(out, s->ring + pos, first);
	memcpy((uint8_t *)out + first, s->ring, n - first);
	return n;
}

/* Stores n bytes (n <= cap) at offset off of the ring. */
static void put(struct stream *s, uint64_t off, const uint8_t *data, size_t n)
{
	size_t pos = (size_t)(off % s->cap);
	size_t first = n < s->cap - pos ? n : s->cap - pos;

	memcpy(s->ring + pos, data, first);
	memcpy(s->ring, data + first, n - first);
}

/* Makes the ring hold at least need bytes (up to the bound). */
static int grow(struct stream *s, size_t need)
{
	size_t cap = s->cap ? s->cap : 4096;
	struct stream bigger;

	while (cap < need && cap < BANGER_AGENT_SESS_KEEP)
		cap *= 2;
	if (cap == s->cap)
		return 0;
	bigger = *s;
	bigger.cap = cap;
	bigger.ring = malloc(cap);
	if (!bigger.ring)
		return -1;
	for (uint64_t off = s->start; off < s->end;) {
		uint8_t chunk[4096];
		size_t n = stream_copy(s, off, chunk, sizeof(chunk));
		put(&bigger, off, chunk, n);
		off += n;
	}
	free(s->ring);
	*s = bigger;
	return 0;
}

int stream_append(struct stream *s, const void *data, size_t n)
{
	const uint8_t *p = data;

	if (n > BANGER_AGENT_SESS_KEEP) { /* only the newest bytes can stay */
		s->end += n - BANGER_AGENT_SESS_KEEP;
		s->start = s->end;
		p += n - BANGER_AGENT_SESS_KEEP;
		n = BANGER_AGENT_SESS_KEEP;
	}
	if (grow(s, (size_t)(s->end - s->start) + n) < 0 && !s->cap) {
		s->end += n;
		s->start = s->end;
		return -1;
	}
	if (n > s->cap) { /* out of memory to grow: keep what fits */
		s->end += n - s->cap;
		s->start = s->end;
		p += n - s->cap;
		n = s->cap;
	}
	if (s->end + n - s->start > s->cap)
		s->start = s->end + n - s->cap;
	put(s, s->end, p, n);
	s->end += n;
	return 0;
}

void stream_free(struct stream *s)
{
	free(s->ring);
	memset(s, 0, sizeof(*s));
}
