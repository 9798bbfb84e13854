/* What the self-contained fuzz runs share: a seeded xorshift64* generator
 * (the same sequence everywhere, so a printed seed replays a run) and the
 * FUZZ_SEED / FUZZ_ITERATIONS overrides. */
#ifndef BANGER_FUZZ_RNG_H
#define BANGER_FUZZ_RNG_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define DEFAULT_SEED 0x62616e676572ULL /* "banger" */
#define DEFAULT_ITERATIONS 200000
#define TIME_LIMIT_S 20

static uint64_t rng_state = 1;

static inline uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static inline size_t rnd_below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

static inline uint64_t env_u64(const char *name, uint64_t fallback)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : fallback;
}

#endif
