/* The agent's bounded output streams (agent/stream.c) and the wire helpers
 * of agent/protocol.h the host shares: hex and session ids. */
#include "../../agent/protocol.h"
#include "../../agent/stream.h"
#include "tap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Byte i of the test stream: a pattern whose period (251) is not a power of
 * two, so a misplaced ring position shows. */
static uint8_t byte_at(uint64_t i)
{
	return (uint8_t)(i % 251);
}

/* True when s holds exactly the bytes [s->start, s->end) of the pattern. */
static int holds_pattern(const struct stream *s)
{
	static uint8_t buf[4096];

	for (uint64_t off = s->start; off < s->end;) {
		size_t n = stream_copy(s, off, buf, sizeof(buf));
		if (n == 0)
			return 0;
		for (size_t i = 0; i < n; i++)
			if (buf[i] != byte_at(off + i))
				return 0;
		off += n;
	}
	return 1;
}

static void test_stream(void)
{
	struct stream s = { 0 };
	static uint8_t chunk[300000];
	uint64_t total = 0;
	size_t sizes[] = { 1, 4095, 2, 5000, 70000, 299999, 1, 131072, 300000, 17 };
	uint8_t b;
	int ok = 1;

	is_int((long long)stream_copy(&s, 0, &b, 1), 0, "an empty stream copies nothing");
	for (int round = 0; round < 3; round++)
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			for (size_t i = 0; i < sizes[k]; i++)
				chunk[i] = byte_at(total + i);
			stream_append(&s, chunk, sizes[k]);
			total += sizes[k];
			ok &= s.end == total && s.end - s.start <= BANGER_AGENT_SESS_KEEP &&
			      (total <= BANGER_AGENT_SESS_KEEP ? s.start == 0
							       : s.end - s.start == BANGER_AGENT_SESS_KEEP);
			ok &= holds_pattern(&s);
		}
	tap_ok(ok, "appends of odd sizes keep the newest 1 MiB at the right offsets (%llu bytes)",
	       (unsigned long long)total);
	is_int((long long)stream_copy(&s, s.start - 1, &b, 1), 0, "a dropped offset copies nothing");
	is_int((long long)stream_copy(&s, s.end, &b, 1), 0, "the end copies nothing");

	uint8_t *huge = malloc(3 * BANGER_AGENT_SESS_KEEP);
	for (size_t i = 0; i < 3 * BANGER_AGENT_SESS_KEEP; i++)
		huge[i] = byte_at(total + i);
	stream_append(&s, huge, 3 * BANGER_AGENT_SESS_KEEP);
	total += 3 * BANGER_AGENT_SESS_KEEP;
	tap_ok(s.end == total && s.start == total - BANGER_AGENT_SESS_KEEP && holds_pattern(&s),
	       "one append larger than the bound keeps its newest 1 MiB");
	free(huge);
	stream_free(&s);
}

static void test_hex(void)
{
	char hex[16];
	uint8_t out[8];

	banger_agent_hex_encode(
		"\x00\x7f\xff"
		"a",
		4, hex);
	is_str(hex, "007fff61", "hex_encode: lowercase, two digits a byte");
	is_int(banger_agent_hex_decode("007fff61", 8, out, sizeof(out)), 4, "hex_decode: 4 bytes");
	tap_ok(memcmp(out,
		      "\x00\x7f\xff"
		      "a",
		      4) == 0,
	       "hex_decode: the same bytes back");
	is_int(banger_agent_hex_decode("abc", 3, out, sizeof(out)), -1, "hex_decode: odd length refused");
	is_int(banger_agent_hex_decode("zz", 2, out, sizeof(out)), -1, "hex_decode: non-hex refused");
	is_int(banger_agent_hex_decode("AB", 2, out, sizeof(out)), -1, "hex_decode: uppercase refused");
	is_int(banger_agent_hex_decode("0011", 4, out, 1), -1, "hex_decode: too long for out refused");
	is_int(banger_agent_hex_decode("", 0, out, sizeof(out)), 0, "hex_decode: empty is 0 bytes");
}

static void test_ids(void)
{
	char longest[65];

	memset(longest, 'a', 64);
	longest[64] = '\0';
	tap_ok(banger_agent_sess_id_valid("a", 1) && banger_agent_sess_id_valid("Build-1.x_y", 11) &&
		       banger_agent_sess_id_valid(longest, 64),
	       "session ids: [A-Za-z0-9][A-Za-z0-9._-]{0,63}");
	tap_ok(!banger_agent_sess_id_valid("", 0) && !banger_agent_sess_id_valid(".a", 2) &&
		       !banger_agent_sess_id_valid("-a", 2) && !banger_agent_sess_id_valid("a/b", 3) &&
		       !banger_agent_sess_id_valid("a b", 3) && !banger_agent_sess_id_valid(longest, 65),
	       "session ids: empty, leading dot or dash, slash, space, 65 chars refused");
}

int main(void)
{
	test_stream();
	test_hex();
	test_ids();
	return tap_done();
}
