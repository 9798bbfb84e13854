/* A randomized fuzz run of dns_answer (vmm/net/dns.c), without libFuzzer: valid
 * queries mutated many times over, each passed in a buffer of its exact size
 * (and answered into one of the exact output size) so ASan catches any
 * access out of bounds. Deterministic for a seed; FUZZ_SEED=n and
 * FUZZ_ITERATIONS=n override the defaults. Emits TAP. */
#include "dns.h"
#include "validate.h"
#include "fuzz_rng.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PACKET_MAX 700

struct packet {
	uint8_t b[PACKET_MAX];
	size_t len;
};

static struct packet seeds[16];
static size_t seed_count;

static struct {
	unsigned long bad_lookup_names, bad_length, bad_header, answered, dropped;
} stats;

/* Every name a lookup sees must be a valid VM name. */
static int lookup(void *ctx, const char *name, uint32_t *addr)
{
	(void)ctx;
	if (strnlen(name, 64) > 63 || !vm_name_valid(name))
		stats.bad_lookup_names++;
	if (name[0] == 'n')
		return -1;
	if (name[0] == 'x')
		return 1;
	*addr = 0x0500000a;
	return 0;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void add_seed(const char *name, uint16_t type, uint16_t class, bool edns)
{
	struct packet *p = &seeds[seed_count++];
	size_t off = 12;

	memset(p, 0, sizeof(*p));
	put16(p->b, (uint16_t)(0x1000 + seed_count));
	p->b[2] = 0x01;
	put16(p->b + 4, 1);
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t n = dot ? (size_t)(dot - name) : strlen(name);
		p->b[off++] = (uint8_t)n;
		memcpy(p->b + off, name, n);
		off += n;
		name += n + (dot ? 1 : 0);
	}
	p->b[off++] = 0;
	put16(p->b + off, type);
	put16(p->b + off + 2, class);
	off += 4;
	if (edns) {
		static const uint8_t opt[] = { 0,  0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 12, 0,
					       10, 0, 8,  1,    2, 3, 4, 5,    6, 7, 8 };
		memcpy(p->b + off, opt, sizeof(opt));
		off += sizeof(opt);
		put16(p->b + 10, 1);
	}
	p->len = off;
}

static void make_seeds(void)
{
	char longest[300]; /* a 255-byte name, the most allowed */

	snprintf(longest, sizeof(longest), "%063d.%063d.%063d.%058d.vm", 1, 2, 3, 4);
	add_seed(longest, 1, 1, false);
	add_seed("web.vm", 1, 1, false);
	add_seed("WEB.VM", 28, 1, false);
	add_seed("xnoaddr.vm", 1, 1, false);
	add_seed("nosuch.vm", 1, 1, true);
	add_seed("vm", 255, 1, false);
	add_seed("a.b.vm", 1, 1, false);
	add_seed("example.com", 1, 1, false);
	add_seed("web.vm", 1, 3, false);
	add_seed("web.vm", 255, 1, true);
	add_seed("a-very-long-name-0123456789.vm", 15, 1, true);
}

/* Offsets of the label length bytes in the question; how many were found. */
static size_t label_offsets(const struct packet *p, size_t *offs, size_t max)
{
	size_t n = 0;

	for (size_t off = 12; off < p->len && p->b[off] != 0 && n < max; off += 1 + (p->b[off] & 0x3f))
		offs[n++] = off;
	return n;
}

static void tweak_label(struct packet *p)
{
	size_t offs[128], n = label_offsets(p, offs, 128);
	static const uint8_t values[] = { 0, 1, 62, 63, 64, 0x7f, 0x80, 0xbf, 0xc0, 0xff };

	if (n == 0)
		return;
	uint8_t *b = &p->b[offs[rnd_below(n)]];
	switch (rnd_below(3)) {
	case 0:
		*b = values[rnd_below(sizeof(values))];
		break;
	case 1:
		*b = (uint8_t)(*b + 1);
		break;
	default:
		*b = (uint8_t)(*b - 1);
		break;
	}
}

/* A new QTYPE or QCLASS, when the question's name is intact. */
static void tweak_type_class(struct packet *p)
{
	size_t off = 12;

	while (off < p->len && p->b[off] != 0 && p->b[off] <= 63)
		off += 1 + p->b[off];
	if (off < p->len && p->b[off] == 0 && p->len - off >= 5)
		put16(p->b + off + 1 + 2 * rnd_below(2), (uint16_t)rnd_below(300));
}

static void insert_bytes(struct packet *p)
{
	size_t at = rnd_below(p->len + 1), n = 1 + rnd_below(32);

	if (p->len + n > PACKET_MAX)
		return;
	memmove(p->b + at + n, p->b + at, p->len - at);
	for (size_t i = 0; i < n; i++)
		p->b[at + i] = (uint8_t)rnd();
	p->len += n;
}

static void delete_bytes(struct packet *p)
{
	size_t at = rnd_below(p->len + 1), n = rnd_below(p->len - at + 1);

	memmove(p->b + at, p->b + at + n, p->len - at - n);
	p->len -= n;
}

static void splice(struct packet *p)
{
	const struct packet *o = &seeds[rnd_below(seed_count)];
	size_t at = rnd_below(p->len + 1), from = rnd_below(o->len + 1);
	size_t n = o->len - from;

	if (at + n > PACKET_MAX)
		n = PACKET_MAX - at;
	memcpy(p->b + at, o->b + from, n);
	p->len = at + n;
}

static void mutate_once(struct packet *p)
{
	switch (rnd_below(20)) {
	case 0: /* bit flips */
		for (size_t i = 0, n = 1 + rnd_below(8); i < n && p->len; i++)
			p->b[rnd_below(p->len)] ^= (uint8_t)(1u << rnd_below(8));
		break;
	case 1: /* random bytes */
		for (size_t i = 0, n = 1 + rnd_below(4); i < n && p->len; i++)
			p->b[rnd_below(p->len)] = (uint8_t)rnd();
		break;
	case 2:
		p->len = rnd_below(p->len + 1);
		break;
	case 3: /* extension at the end */
		for (size_t i = 0, n = 1 + rnd_below(64); i < n && p->len < PACKET_MAX; i++)
			p->b[p->len++] = (uint8_t)rnd();
		break;
	case 4:
		tweak_label(p);
		break;
	case 5:
		insert_bytes(p);
		break;
	case 6:
		delete_bytes(p);
		break;
	case 7: /* header counts and flags */
		if (p->len >= 12)
			p->b[2 + rnd_below(10)] = (uint8_t)rnd_below(4);
		break;
	case 8:
		splice(p);
		break;
	case 9:
		tweak_type_class(p);
		break;
	case 10: /* a wholly random packet */
		p->len = rnd_below(PACKET_MAX + 1);
		for (size_t i = 0; i < p->len; i++)
			p->b[i] = (uint8_t)rnd();
		break;
	default: /* mostly single-byte changes keep packets near the grammar */
		if (p->len)
			p->b[rnd_below(p->len)] ^= (uint8_t)(1u << rnd_below(8));
		break;
	}
}

/* Runs one packet through dns_answer with exact-size buffers and checks
 * the invariants. */
static void run_one(const struct packet *p)
{
	size_t out_size = rnd_below(16) == 0 ? rnd_below(64) : DNS_RESPONSE_MAX;
	uint8_t *in = malloc(p->len ? p->len : 1), *out = malloc(out_size ? out_size : 1);

	if (!in || !out)
		abort();
	memcpy(in, p->b, p->len);
	size_t n = dns_answer(in, p->len, lookup, NULL, out, out_size);
	if (n > out_size || n > DNS_RESPONSE_MAX)
		stats.bad_length++;
	if (n == 0) {
		stats.dropped++;
	} else {
		stats.answered++;
		if (n < 12 || p->len < 12 || memcmp(out, in, 2) != 0 || !(out[2] & 0x80) || (out[3] & 0x80))
			stats.bad_header++;
	}
	free(in);
	free(out);
}

int main(void)
{
	uint64_t seed = env_u64("FUZZ_SEED", DEFAULT_SEED);
	unsigned long iterations = (unsigned long)env_u64("FUZZ_ITERATIONS", DEFAULT_ITERATIONS), done = 0;
	time_t deadline = time(NULL) + TIME_LIMIT_S;
	bool seeds_ok = true;
	uint8_t out[DNS_RESPONSE_MAX];

	rng_state = seed ? seed : 1;
	printf("# seed %#" PRIx64 " (set FUZZ_SEED to replay), %lu iterations, %d s at most\n", seed, iterations,
	       TIME_LIMIT_S);
	make_seeds();
	for (size_t i = 0; i < seed_count; i++)
		if (dns_answer(seeds[i].b, seeds[i].len, lookup, NULL, out, sizeof(out)) == 0)
			seeds_ok = false;
	for (; done < iterations; done++) {
		struct packet p = seeds[rnd_below(seed_count)];
		do
			mutate_once(&p);
		while (rnd_below(2) == 0);
		run_one(&p);
		if ((done & 1023) == 0 && time(NULL) > deadline)
			break;
	}
	printf("# %lu packets: %lu answered, %lu dropped\n", done, stats.answered, stats.dropped);
	printf("1..5\n");
	printf("%s 1 - every seed query is answered\n", seeds_ok ? "ok" : "not ok");
	printf("%s 2 - no response longer than its buffer (%lu bad)\n", stats.bad_length ? "not ok" : "ok",
	       stats.bad_length);
	printf("%s 3 - every response copies the ID and sets QR, not RA (%lu bad)\n",
	       stats.bad_header ? "not ok" : "ok", stats.bad_header);
	printf("%s 4 - lookups only see valid VM names (%lu bad)\n", stats.bad_lookup_names ? "not ok" : "ok",
	       stats.bad_lookup_names);
	printf("%s 5 - the mutations reach both outcomes\n", stats.answered && stats.dropped ? "ok" : "not ok");
	return seeds_ok && !stats.bad_length && !stats.bad_header && !stats.bad_lookup_names ? 0 : 1;
}
