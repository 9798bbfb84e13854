/* One output stream of a session: the newest BANGER_AGENT_SESS_KEEP bytes,
 * addressed by absolute offsets since the stream began. */
#ifndef BANGER_AGENT_STREAM_H
#define BANGER_AGENT_STREAM_H

#include <stddef.h>
#include <stdint.h>

struct stream {
	uint8_t *ring;  /* cap bytes; the byte at offset o is ring[o % cap] */
	size_t cap;     /* a power of two, grown up to BANGER_AGENT_SESS_KEEP */
	uint64_t start; /* the oldest offset still held */
	uint64_t end;   /* the stream's length */
	uint64_t sent;  /* the host was sent (or holds) everything before this */
};

/* Appends n bytes, dropping the oldest beyond the bound. Returns 0, or -1
 * when memory runs out (the bytes are then counted but dropped). */
int stream_append(struct stream *s, const void *data, size_t n);

/* Copies up to max bytes from offset off (start <= off <= end) to out.
 * Returns the number copied. */
size_t stream_copy(const struct stream *s, uint64_t off, void *out, size_t max);

void stream_free(struct stream *s);

#endif
