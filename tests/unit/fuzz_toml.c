/* A randomized fuzz run of toml_parse (common/toml.c), without libFuzzer: valid
 * configs mutated many times over (bytes, TOML tokens, lines), each passed in
 * a buffer of its exact size so ASan catches any read out of bounds. Every
 * result is checked: a parsed doc is well formed and survives a round trip
 * (printed back as TOML, it parses to the same doc); a refusal is -EINVAL
 * with a one-line "fuzz.toml:<line>: reason", <line> within the text, and
 * an empty doc. Deterministic for a seed; FUZZ_SEED=n and FUZZ_ITERATIONS=n
 * override the defaults. Emits TAP. */
#include "toml.h"
#include "fuzz_rng.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TEXT_MAX 6000 /* room for a line past TOML_LINE_MAX */
#define FILENAME "fuzz.toml"

struct text {
	char b[TEXT_MAX];
	size_t len;
};

static const char *const seed_texts[] = {
	"# banger config\n"
	"log_level = \"debug\"  # trailing\n"
	"\n"
	"[vm_defaults]\n"
	"vcpu = 2\n"
	"memory_mib = 1_024\n"
	"disk_size = 'ten-gig'\n"
	"kvm=true\n"
	"\n"
	"[[file_sync]]\n"
	"host = \"~/.gitconfig\"\n"
	"guest = \"/root/.gitconfig\"\n"
	"[[file_sync]]\n"
	"  host = \"~/.ssh/config\"\n"
	"  mode = 384\n"
	"[network]\n"
	"nat = false # no NAT\n",

	"a = 1\r\n\r\n# c\r\n[t]\r\nb = \"x\"\r\nc = 'y' # z\r\n",

	"esc = \"q\\\"b\\\\n\\nt\\tr\\r.\"\n"
	"uni = \"caf\\u00e9 \\u20AC \\u0041\"\n"
	"raw = \"h\xc3\xa9llo \xe2\x98\x83 \xf0\x9d\x84\x9e\"\n"
	"hash = \"x # not a comment\" # a comment\n"
	"lit = 'C:\\path\\n \"quoted\" # too'#c\n"
	"tab = \"a\tb\"\n"
	"empty = \"\"\n",

	"max = 9223372036854775807\n"
	"min = -9223372036854775808\n"
	"zero = +0\n"
	"sep = 1_000_000\n"
	"neg = -42\n"
	"t = true\n"
	"f = false\n",

	"\xef\xbb\xbf[ spaced ]\n\t key-1_X =\t'v'\n[[ arr ]]\nk = 1\n[[arr]]\nk = 2\n[other]\nk = 3",

	"# only comments\n\n   # and blanks\n\t\n",

	"",
};

#define SEED_COUNT (sizeof(seed_texts) / sizeof(seed_texts[0]))

static const char *const tokens[] = {
	"[",
	"]",
	"[[",
	"]]",
	"=",
	" = ",
	"\"",
	"'",
	"\"\"\"",
	"'''",
	"\\",
	"\\u",
	"\\u00e9",
	"\\uD800",
	"\\x",
	"#",
	"\n",
	"\r\n",
	"\r",
	"\t",
	" ",
	".",
	"_",
	"-",
	"+",
	"0",
	"012",
	"1_",
	"9223372036854775807",
	"9223372036854775808",
	"-9223372036854775808",
	"true",
	"false",
	"1.5",
	"1e3",
	"inf",
	"1979-05-27",
	"07:32:00",
	"0x1F",
	"{",
	"}",
	"[1, 2]",
	"\xc3\xa9",
	"\xe2\x98\x83",
	"\xff",
	"\xc0\xaf",
	"\xed\xa0\x80",
	"[file_sync]",
	"[[file_sync]]",
	"[vm_defaults]",
	"vcpu = 2\n",
	"host = \"x\"\n",
	"a.b",
	"\"k\"",
};

static struct {
	unsigned long parsed, refused, bad_success, bad_roundtrip, roundtrip_skipped, bad_failure;
} stats;
static char first_problem[600];

static void problem(unsigned long *counter, const struct text *t, const char *what)
{
	(*counter)++;
	if (!first_problem[0])
		snprintf(first_problem, sizeof(first_problem), "%s (input of %zu bytes: '%.*s')", what, t->len,
			 (int)(t->len < 200 ? t->len : 200), t->b);
}

/* ---- mutations ---- */

static void insert(struct text *t, size_t at, const char *s, size_t n)
{
	if (t->len + n > TEXT_MAX)
		return;
	memmove(t->b + at + n, t->b + at, t->len - at);
	memcpy(t->b + at, s, n);
	t->len += n;
}

static void delete_range(struct text *t, size_t at, size_t n)
{
	memmove(t->b + at, t->b + at + n, t->len - at - n);
	t->len -= n;
}

/* Start of a random line; *len is its length without the '\n'. */
static size_t pick_line(const struct text *t, size_t *len)
{
	size_t at = rnd_below(t->len + 1);

	while (at > 0 && t->b[at - 1] != '\n')
		at--;
	const char *nl = memchr(t->b + at, '\n', t->len - at);
	*len = nl ? (size_t)(nl - (t->b + at)) : t->len - at;
	return at;
}

static void copy_line(struct text *t)
{
	size_t n, to_len, at = pick_line(t, &n);
	char line[TEXT_MAX + 1];

	memcpy(line, t->b + at, n);
	line[n] = '\n';
	insert(t, pick_line(t, &to_len), line, n + 1);
}

static void splice(struct text *t)
{
	const char *o = seed_texts[rnd_below(SEED_COUNT)];
	size_t olen = strlen(o), from = rnd_below(olen + 1), n = rnd_below(olen - from + 1);

	insert(t, rnd_below(t->len + 1), o + from, n);
}

/* A line just under or past TOML_LINE_MAX. */
static void long_line(struct text *t)
{
	static char run[TOML_LINE_MAX + 2];

	memset(run, rnd_below(2) ? '#' : 'a', sizeof(run));
	insert(t, rnd_below(t->len + 1), run, TOML_LINE_MAX - 2 + rnd_below(5));
}

static void mutate_once(struct text *t)
{
	size_t at, n;
	const char *tok;

	switch (rnd_below(12)) {
	case 0: /* bit flips */
		for (size_t i = 0, k = 1 + rnd_below(4); i < k && t->len; i++)
			t->b[rnd_below(t->len)] ^= (char)(1u << rnd_below(8));
		break;
	case 1: /* random bytes */
		for (size_t i = 0, k = 1 + rnd_below(4); i < k && t->len; i++)
			t->b[rnd_below(t->len)] = (char)rnd();
		break;
	case 2:
		t->len = rnd_below(t->len + 1);
		break;
	case 3: /* a few bytes less */
		at = rnd_below(t->len + 1);
		delete_range(t, at, rnd_below(t->len - at + 1) % 16);
		break;
	case 4:
		copy_line(t);
		break;
	case 5:
		splice(t);
		break;
	case 6:
		if (rnd_below(8) == 0)
			long_line(t);
		break;
	case 7: /* a line less */
		at = pick_line(t, &n);
		delete_range(t, at, n < t->len - at ? n + 1 : n);
		break;
	default: /* TOML tokens keep mutants near the grammar */
		tok = tokens[rnd_below(sizeof(tokens) / sizeof(tokens[0]))];
		insert(t, rnd_below(t->len + 1), tok, strlen(tok));
		break;
	}
}

/* ---- invariants ---- */

static bool bare(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') && !(*s >= '0' && *s <= '9') && *s != '_' &&
		    *s != '-')
			return false;
	return true;
}

static bool kvs_ok(const struct toml_table *t, int lines)
{
	int prev = t->line;

	if (t->n_kvs && !t->kvs)
		return false;
	for (size_t k = 0; k < t->n_kvs; k++) {
		const struct toml_kv *kv = &t->kvs[k];
		if (!bare(kv->key) || kv->line <= prev || kv->line > lines)
			return false;
		if (kv->v.type == TOML_STRING ? !kv->v.str : kv->v.type != TOML_INT && kv->v.type != TOML_BOOL)
			return false;
		for (size_t j = 0; j < k; j++)
			if (strcmp(t->kvs[j].key, kv->key) == 0)
				return false;
		prev = kv->line;
	}
	return true;
}

static bool table_ok(const struct toml_doc *doc, size_t ti, int lines)
{
	const struct toml_table *t = &doc->tables[ti];

	if (!t->name || (ti == 0 ? t->name[0] || t->line != 0 || t->array_elem : !bare(t->name)))
		return false;
	if (ti > 0 && (t->line < 1 || t->line > lines || t->line <= doc->tables[ti - 1].line))
		return false;
	if (!kvs_ok(t, lines))
		return false;
	/* [x] at most once, never beside [[x]], never a top-level key */
	for (size_t j = 1; ti > 0 && j < ti; j++)
		if (strcmp(doc->tables[j].name, t->name) == 0 && !(t->array_elem && doc->tables[j].array_elem))
			return false;
	return ti == 0 || !toml_get(&doc->tables[0], t->name);
}

static void print_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if ((c < 0x20 && c != '\t') || c == 0x7f)
			fprintf(f, "\\u%04X", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* The doc printed back as TOML. */
static char *print_doc(const struct toml_doc *doc, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		abort();
	for (size_t i = 0; i < doc->n_tables; i++) {
		const struct toml_table *t = &doc->tables[i];
		if (i > 0)
			fprintf(f, t->array_elem ? "[[%s]]\n" : "[%s]\n", t->name);
		for (size_t k = 0; k < t->n_kvs; k++) {
			const struct toml_kv *kv = &t->kvs[k];
			fprintf(f, "%s = ", kv->key);
			if (kv->v.type == TOML_STRING)
				print_string(f, kv->v.str);
			else if (kv->v.type == TOML_INT)
				fprintf(f, "%lld", kv->v.i);
			else
				fputs(kv->v.b ? "true" : "false", f);
			fputc('\n', f);
		}
	}
	fclose(f);
	return buf;
}

static bool same_value(const struct toml_value *a, const struct toml_value *b)
{
	if (a->type != b->type)
		return false;
	if (a->type == TOML_STRING)
		return strcmp(a->str, b->str) == 0;
	return a->type == TOML_INT ? a->i == b->i : a->b == b->b;
}

static bool same_doc(const struct toml_doc *a, const struct toml_doc *b)
{
	if (a->n_tables != b->n_tables)
		return false;
	for (size_t i = 0; i < a->n_tables; i++) {
		const struct toml_table *x = &a->tables[i], *y = &b->tables[i];
		if (strcmp(x->name, y->name) || x->array_elem != y->array_elem || x->n_kvs != y->n_kvs)
			return false;
		for (size_t k = 0; k < x->n_kvs; k++)
			if (strcmp(x->kvs[k].key, y->kvs[k].key) || !same_value(&x->kvs[k].v, &y->kvs[k].v))
				return false;
	}
	return true;
}

static size_t longest_line(const char *s, size_t len)
{
	size_t most = 0;

	for (const char *end = s + len, *nl; s < end; s = nl + 1) {
		nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl)
			nl = end;
		if ((size_t)(nl - s) > most)
			most = (size_t)(nl - s);
	}
	return most;
}

static bool roundtrip_ok(const struct toml_doc *doc)
{
	size_t len;
	char *printed = print_doc(doc, &len);
	struct toml_doc again = { 0 };
	bgr_error err = { 0 };
	bool ok = true;

	/* escaping may push a line past the limit: nothing to compare then */
	if (longest_line(printed, len) > TOML_LINE_MAX)
		stats.roundtrip_skipped++;
	else
		ok = toml_parse(printed, len, FILENAME, &again, &err) == 0 && same_doc(doc, &again);
	toml_free(&again);
	free(printed);
	return ok;
}

/* "fuzz.toml:<line>: <reason>", line in 1..lines, all on one line. */
static bool failure_ok(int r, const struct toml_doc *doc, const bgr_error *err, int lines)
{
	const char *p = err->msg + strlen(FILENAME ":");
	char *end;
	long line;

	if (r != -EINVAL || err->code != EINVAL || doc->tables || doc->n_tables)
		return false;
	if (strncmp(err->msg, FILENAME ":", strlen(FILENAME ":")) != 0 || *p < '1' || *p > '9')
		return false;
	line = strtol(p, &end, 10);
	if (line < 1 || line > lines || strncmp(end, ": ", 2) != 0 || !end[2])
		return false;
	for (p = err->msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static int count_lines(const struct text *t)
{
	int n = 1;

	for (size_t i = 0; i < t->len; i++)
		n += t->b[i] == '\n';
	return n;
}

/* Parses t from a buffer of its exact size and checks the result. */
static void run_one(const struct text *t)
{
	char *in = malloc(t->len ? t->len : 1);
	struct toml_doc doc;
	bgr_error err = { 0 };
	int lines = count_lines(t);
	bool ok;

	if (!in)
		abort();
	memcpy(in, t->b, t->len);
	int r = toml_parse(in, t->len, FILENAME, &doc, &err);
	if (r == 0) {
		stats.parsed++;
		ok = doc.tables && doc.n_tables >= 1;
		for (size_t i = 0; ok && i < doc.n_tables; i++)
			ok = table_ok(&doc, i, lines);
		if (!ok)
			problem(&stats.bad_success, t, "malformed doc");
		else if (!roundtrip_ok(&doc))
			problem(&stats.bad_roundtrip, t, "round trip differs");
	} else {
		stats.refused++;
		if (!failure_ok(r, &doc, &err, lines))
			problem(&stats.bad_failure, t, err.msg);
	}
	toml_free(&doc);
	free(in);
}

static bool seeds_parse(void)
{
	bool ok = true;

	for (size_t i = 0; i < SEED_COUNT; i++) {
		struct toml_doc doc;
		bgr_error err = { 0 };
		if (toml_parse(seed_texts[i], strlen(seed_texts[i]), FILENAME, &doc, &err) < 0) {
			printf("# seed text %zu: %s\n", i, err.msg);
			ok = false;
		}
		toml_free(&doc);
	}
	return ok;
}

int main(void)
{
	uint64_t seed = env_u64("FUZZ_SEED", DEFAULT_SEED);
	unsigned long iterations = (unsigned long)env_u64("FUZZ_ITERATIONS", DEFAULT_ITERATIONS), done = 0;
	time_t deadline = time(NULL) + TIME_LIMIT_S;
	bool seeds_ok = seeds_parse();
	static struct text t;

	rng_state = seed ? seed : 1;
	printf("# seed %#" PRIx64 " (set FUZZ_SEED to replay), %lu iterations, %d s at most\n", seed, iterations,
	       TIME_LIMIT_S);
	for (; done < iterations; done++) {
		const char *s = seed_texts[rnd_below(SEED_COUNT)];
		t.len = strlen(s);
		memcpy(t.b, s, t.len);
		do
			mutate_once(&t);
		while (rnd_below(2) == 0);
		run_one(&t);
		if ((done & 1023) == 0 && time(NULL) > deadline)
			break;
	}
	printf("# %lu texts: %lu parsed (%lu too long to print back), %lu refused\n", done, stats.parsed,
	       stats.roundtrip_skipped, stats.refused);
	if (first_problem[0])
		printf("# first problem: %s\n", first_problem);
	printf("1..5\n");
	printf("%s 1 - every seed config parses\n", seeds_ok ? "ok" : "not ok");
	printf("%s 2 - every parsed doc is well formed (%lu bad)\n", stats.bad_success ? "not ok" : "ok",
	       stats.bad_success);
	printf("%s 3 - every parsed doc survives a round trip (%lu bad)\n", stats.bad_roundtrip ? "not ok" : "ok",
	       stats.bad_roundtrip);
	printf("%s 4 - every refusal is -EINVAL with \"file:line: reason\" (%lu bad)\n",
	       stats.bad_failure ? "not ok" : "ok", stats.bad_failure);
	printf("%s 5 - the mutations reach both outcomes\n", stats.parsed && stats.refused ? "ok" : "not ok");
	if (!seeds_ok || stats.bad_success || stats.bad_roundtrip || stats.bad_failure)
		return 1;
	return stats.parsed && stats.refused ? 0 : 1;
}
