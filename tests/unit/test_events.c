/* Unit tests of vmm/core/events.c: the bounded ring behind ~/banger/events. */
#include "events.h"
#include "util.h"

#include "tap.h"

#include <stdio.h>
#include <string.h>

#define RING EVENTS_RING_SIZE
#define QUARTER (EVENTS_RING_SIZE / 4)

static char buf[2 * EVENTS_RING_SIZE];

/* Reads everything from *pos into buf (NUL ended); returns the byte count. */
static size_t read_all(const struct events *e, uint64_t *pos)
{
	size_t n = events_read(e, pos, buf, sizeof(buf) - 1);

	buf[n] = '\0';
	return n;
}

/* "line NNNNNN " padded with a letter to len bytes (no newline). */
static const char *numbered(unsigned i, size_t len)
{
	static char line[QUARTER + 1];
	int n = snprintf(line, sizeof(line), "line %06u ", i);

	memset(line + n, 'a' + (char)(i % 26), len - (size_t)n);
	line[len] = '\0';
	return line;
}

/* Checks that buf[0..n) is whole lines numbered first, first+1, ... of len
 * bytes each (plus "\n"); returns how many, or -1 on a mismatch. */
static long check_lines(const char *text, size_t n, unsigned first, size_t len)
{
	if (n % (len + 1))
		return -1;
	for (size_t off = 0, i = first; off < n; off += len + 1, i++) {
		if (memcmp(text + off, numbered((unsigned)i, len), len) != 0 || text[off + len] != '\n')
			return -1;
	}
	return (long)(n / (len + 1));
}

static void test_append_read(void)
{
	struct events e;
	uint64_t pos = 0;

	events_init(&e);
	is_int(read_all(&e, &pos), 0, "an empty ring reads nothing");
	is_int(pos, 0, "and pos stays 0");

	events_append(&e, "vm a created");
	events_append(&e, "vm a starting");
	events_append(&e, "");
	is_int(e.start, 0, "nothing dropped yet");
	is_int(e.end, 13 + 14 + 1, "end counts every byte plus a newline per line");
	is_int(read_all(&e, &pos), 28, "read returns all 28 bytes");
	is_str(buf, "vm a created\nvm a starting\n\n", "lines come back with newlines, in order");
	is_int(pos, 28, "pos advanced to the end");
	is_int(read_all(&e, &pos), 0, "a reader at the end reads nothing");
	is_int(pos, 28, "and stays at the end");

	events_append(&e, "vm a running");
	is_int(read_all(&e, &pos), 13, "a reader gets only what is new");
	is_str(buf, "vm a running\n", "the new line");

	/* small buffers: reads are split, positions are absolute byte offsets */
	char small[5];
	pos = 3;
	is_int(events_read(&e, &pos, small, sizeof(small)), 5, "a read fills a small buffer");
	tap_ok(memcmp(small, "a cre", 5) == 0, "from byte 3");
	is_int(pos, 8, "pos moved by 5");
	is_int(events_read(&e, &pos, small, 0), 0, "a zero-size read copies nothing");
	is_int(pos, 8, "and leaves pos");
	events_free(&e);
	tap_ok(e.ring == NULL, "events_free clears the ring pointer");
}

/* 1000 lines of 100 bytes: the cut falls inside a line, which is dropped. */
static void test_wrap(void)
{
	const size_t len = 99;
	const unsigned count = 1000;
	struct events e;
	uint64_t pos = 0;

	events_init(&e);
	for (unsigned i = 0; i < count; i++)
		events_append(&e, numbered(i, len));
	is_int(e.end, count * (len + 1), "end keeps counting past the ring size");
	tap_ok(e.end - e.start <= RING, "at most a ring's worth is kept (%llu)", (unsigned long long)(e.end - e.start));
	tap_ok(e.end - e.start > RING - (len + 1), "less than one line's worth is wasted (%llu kept)",
	       (unsigned long long)(e.end - e.start));
	is_int(e.start % (len + 1), 0, "the oldest kept byte starts a line");

	size_t n = read_all(&e, &pos);
	is_int(pos, e.end, "a reader from 0 ends at the end");
	is_int(n, e.end - e.start, "and was moved up to the oldest kept byte");
	unsigned first = (unsigned)(e.start / (len + 1));
	long lines = check_lines(buf, n, first, len);
	tap_ok(lines > 0 && first + (unsigned)lines == count, "kept lines %u..%u are whole and in order", first,
	       count - 1);

	/* a reader that fell behind in the middle of dropped data */
	pos = e.start - 1;
	n = read_all(&e, &pos);
	is_int(n, e.end - e.start, "a reader just behind is moved to the oldest kept byte");
	tap_ok(strncmp(buf, "line ", 5) == 0, "and starts on a line");

	/* a reader inside the kept data reads from exactly there */
	pos = e.end - 2 * (len + 1);
	n = read_all(&e, &pos);
	is_int(check_lines(buf, n, count - 2, len), 2, "a reader inside the window gets the last two lines");
	events_free(&e);
}

/* Lines that tile the ring exactly: 513 lines of 128 bytes. */
static void test_wrap_aligned(void)
{
	const size_t len = 127;
	struct events e;
	uint64_t pos = 0;

	events_init(&e);
	for (unsigned i = 0; i < RING / (len + 1); i++)
		events_append(&e, numbered(i, len));
	is_int(e.start, 0, "a ring filled exactly drops nothing");
	is_int(e.end, RING, "and is full");
	events_append(&e, numbered(512, len));
	is_int(e.start % (len + 1), 0, "one more line: the oldest kept byte starts a line");
	tap_ok(e.start >= len + 1, "line 0 is gone");
	is_int(e.end - e.start, RING, "exactly one line is dropped: the ring stays full");
	size_t n = read_all(&e, &pos);
	long lines = check_lines(buf, n, (unsigned)(e.start / (len + 1)), len);
	tap_ok(lines > 0 && e.start / (len + 1) + (uint64_t)lines == 513, "the rest is whole lines up to 512");
	events_free(&e);
}

static void test_overlong(void)
{
	static char huge[3 * RING];
	struct events e;
	uint64_t pos = 0, before;

	events_init(&e);
	memset(huge, 'x', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';

	/* a line of exactly a quarter is kept whole */
	huge[QUARTER] = '\0';
	events_append(&e, huge);
	is_int(e.end, QUARTER + 1, "a quarter-ring line is kept whole");
	huge[QUARTER] = 'x';

	before = e.end;
	huge[QUARTER] = 'y'; /* the first byte past the limit */
	events_append(&e, huge);
	is_int(e.end - before, QUARTER + 1, "a 192 KiB line takes a quarter of the ring plus its newline");
	pos = before;
	size_t n = read_all(&e, &pos);
	is_int(n, QUARTER + 1, "it reads back truncated");
	tap_ok(buf[QUARTER] == '\n' && strspn(buf, "x") == QUARTER, "to its first 16384 bytes and a newline");

	/* five truncated lines overflow the ring: only whole ones stay */
	events_free(&e);
	events_init(&e);
	for (int i = 0; i < 5; i++) {
		huge[0] = (char)('A' + i);
		events_append(&e, huge);
	}
	is_int(e.end, 5 * (QUARTER + 1), "five truncated lines were appended");
	is_int(e.start, 2 * (QUARTER + 1), "the two oldest were dropped whole");
	pos = 0;
	n = read_all(&e, &pos);
	tap_ok(n == 3 * (QUARTER + 1) && buf[0] == 'C' && buf[QUARTER + 1] == 'D' && buf[2 * (QUARTER + 1)] == 'E',
	       "lines C, D, E remain");

	/* and ordinary lines still work after that */
	events_append(&e, "after");
	n = read_all(&e, &pos);
	is_str(buf, "after\n", "a short line after overlong ones");
	tap_ok(e.end - e.start <= RING, "the ring never holds more than its size");
	events_free(&e);
}

int main(void)
{
	test_append_read();
	test_wrap();
	test_wrap_aligned();
	test_overlong();
	return tap_done();
}
