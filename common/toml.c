/* The TOML subset of config.toml (see toml.h), parsed a line at a time: no
 * construct we accept spans lines. Each line is first checked as bytes (its
 * length, NUL, control characters, UTF-8), so the grammar below only ever
 * sees clean text and every refusal names the line it is on. */
#include "toml.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NAME_SHOWN 64   /* bytes of a key or table name quoted in a message */
#define EXCERPT_SIZE 44 /* bytes of a bad value quoted in a message, with "..." */

/* The names in use, so a duplicate is found in constant time even in a file
 * of a million short lines: table names in scope 0, and the keys of
 * tables[i] in scope i + 1. Open addressing; a name points into the doc. */
struct name_slot {
	const char *name; /* NULL: a free slot */
	size_t scope;
	size_t table; /* scope 0: index of the first table of that name */
	int line;     /* a key: its line */
};

struct name_set {
	struct name_slot *slots;
	size_t size, used; /* size is 0 or a power of two, at least twice used */
};

struct parser {
	const char *filename;
	int line;
	struct toml_doc *doc;
	struct name_set names;
	bgr_error *err;
};

/* The unread rest of one line: no line ending, no NUL, valid UTF-8. */
struct cursor {
	const char *p, *end;
};

static int parse_error(const struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int parse_error(const struct parser *ps, const char *fmt, ...)
{
	char reason[BGR_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return bgr_fail(ps->err, EINVAL, "%s:%d: %s", ps->filename, ps->line, reason);
}

/* ---- small helpers ---- */

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_bare(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-';
}

static bool at_end(const struct cursor *c)
{
	return c->p == c->end;
}
static bool peek_is(const struct cursor *c, char ch)
{
	return c->p < c->end && *c->p == ch;
}

static void skip_ws(struct cursor *c)
{
	while (c->p < c->end && is_ws(*c->p))
		c->p++;
}

/* Skips spaces; true when only a comment (or nothing) is left. */
static bool rest_is_blank(struct cursor *c)
{
	skip_ws(c);
	return at_end(c) || *c->p == '#';
}

static bool starts_with(const struct cursor *c, const char *s)
{
	size_t n = strlen(s);
	return (size_t)(c->end - c->p) >= n && memcmp(c->p, s, n) == 0;
}

static size_t bare_span(struct cursor *c)
{
	const char *start = c->p;

	while (c->p < c->end && is_bare(*c->p))
		c->p++;
	return (size_t)(c->p - start);
}

static bool word_is(const char *w, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(w, s, n) == 0;
}

static char *xmemdup(const char *s, size_t n)
{
	char *d = xcalloc(n + 1, 1);

	memcpy(d, s, n);
	return d;
}

/* Room for element n of arr (n in use), growing to 4, 8, 16...; aborts on out-of-memory. */
static void *grow(void *arr, size_t n, size_t elem)
{
	if (n != 0 && (n < 4 || (n & (n - 1))))
		return arr;
	void *p = realloc(arr, (n ? 2 * n : 4) * elem);
	if (!p)
		abort();
	return p;
}

/* Length of the valid UTF-8 sequence at s (n > 0 bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Up to EXCERPT_SIZE - 4 bytes of s, cut on a character boundary, for a message. */
static const char *excerpt(char *buf, const char *s, size_t n)
{
	bool cut = n > EXCERPT_SIZE - 4;

	if (cut) {
		n = EXCERPT_SIZE - 4;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(buf, s, n);
	strcpy(buf + n, cut ? "..." : "");
	return buf;
}

/* The (valid UTF-8) character at p, for a message. */
static const char *show_char(char *buf, const char *p)
{
	return excerpt(buf, p, utf8_len((const unsigned char *)p, 4));
}

/* ---- the names in use ---- */

static size_t name_hash(const char *name, size_t scope)
{
	uint64_t h = (0xcbf29ce484222325ULL ^ scope) * 0x100000001b3ULL; /* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ULL;
	return (size_t)(h ^ h >> 29);
}

static const struct name_slot *names_find(const struct name_set *s, const char *name, size_t scope)
{
	if (!s->size)
		return NULL;
	for (size_t i = name_hash(name, scope) & (s->size - 1);; i = (i + 1) & (s->size - 1)) {
		const struct name_slot *e = &s->slots[i];
		if (!e->name)
			return NULL;
		if (e->scope == scope && strcmp(e->name, name) == 0)
			return e;
	}
}

static void names_place(struct name_set *s, const struct name_slot *slot)
{
	size_t i = name_hash(slot->name, slot->scope) & (s->size - 1);

	while (s->slots[i].name)
		i = (i + 1) & (s->size - 1);
	s->slots[i] = *slot;
	s->used++;
}

/* Adds a name known to be absent. */
static void names_put(struct name_set *s, struct name_slot slot)
{
	if (2 * (s->used + 1) > s->size) {
		struct name_set bigger = { .size = s->size ? 2 * s->size : 64 };
		bigger.slots = xcalloc(bigger.size, sizeof(*bigger.slots));
		for (size_t i = 0; i < s->size; i++)
			if (s->slots[i].name)
				names_place(&bigger, &s->slots[i]);
		free(s->slots);
		*s = bigger;
	}
	names_place(s, &slot);
}

/* ---- the document ---- */

static struct toml_table *current(const struct parser *ps)
{
	return &ps->doc->tables[ps->doc->n_tables - 1];
}

static void table_add(struct parser *ps, char *name, bool array, int line)
{
	struct toml_doc *d = ps->doc;

	d->tables = grow(d->tables, d->n_tables, sizeof(*d->tables));
	d->tables[d->n_tables++] = (struct toml_table){ .name = name, .array_elem = array, .line = line };
}

static void kv_add(struct parser *ps, char *key, const struct toml_value *v)
{
	struct toml_table *t = current(ps);

	t->kvs = grow(t->kvs, t->n_kvs, sizeof(*t->kvs));
	t->kvs[t->n_kvs] = (struct toml_kv){ .key = key, .v = *v, .line = ps->line };
	names_put(&ps->names, (struct name_slot){ .name = key, .scope = ps->doc->n_tables, .line = ps->line });
	t->n_kvs++;
}

/* ---- table headers ---- */

static int bad_table_name(const struct parser *ps, const struct cursor *c)
{
	char ch[8];

	if (at_end(c) || *c->p == ']')
		return parse_error(ps, "empty table name");
	if (*c->p == '"' || *c->p == '\'')
		return parse_error(ps, "quoted table names are not supported");
	if (*c->p == '.')
		return parse_error(ps, "dotted table names are not supported");
	return parse_error(ps, "invalid character '%s' in table name", show_char(ch, c->p));
}

static int table_redefined(const struct parser *ps, const char *name, bool array, const struct toml_table *first)
{
	if (!array && !first->array_elem)
		return parse_error(ps, "table '%.*s' defined twice (first at line %d)", NAME_SHOWN, name, first->line);
	if (!array)
		return parse_error(ps, "table '%.*s' was already defined as an array of tables at line %d", NAME_SHOWN,
				   name, first->line);
	return parse_error(ps, "array of tables '%.*s' was already defined as a table at line %d", NAME_SHOWN, name,
			   first->line);
}

static int table_begin(struct parser *ps, const char *name, size_t n, bool array)
{
	_cleanup_free_ char *copy = xmemdup(name, n);
	const struct name_slot *key = names_find(&ps->names, copy, 1);
	const struct name_slot *prev = names_find(&ps->names, copy, 0);

	if (key)
		return parse_error(ps, "table name '%.*s' is already a top-level key (line %d)", NAME_SHOWN, copy,
				   key->line);
	if (prev && (!array || !ps->doc->tables[prev->table].array_elem))
		return table_redefined(ps, copy, array, &ps->doc->tables[prev->table]);
	table_add(ps, steal_ptr(&copy), array, ps->line);
	if (!prev)
		names_put(&ps->names, (struct name_slot){ .name = current(ps)->name, .table = ps->doc->n_tables - 1 });
	return 0;
}

/* [name] or [[name]], spaces allowed inside the brackets. */
static int parse_header(struct parser *ps, struct cursor *c)
{
	bool array = starts_with(c, "[[");
	const char *close = array ? "]]" : "]";
	char ch[8];

	c->p += array ? 2 : 1;
	skip_ws(c);
	const char *name = c->p;
	size_t n = bare_span(c);
	if (n == 0)
		return bad_table_name(ps, c);
	if (!at_end(c) && !is_ws(*c->p) && *c->p != ']' && *c->p != '.')
		return parse_error(ps, "invalid character '%s' in table name", show_char(ch, c->p));
	skip_ws(c);
	if (peek_is(c, '.'))
		return bad_table_name(ps, c);
	if (!starts_with(c, close))
		return parse_error(ps, "expected '%s' after table name '%.*s'", close,
				   (int)(n < NAME_SHOWN ? n : NAME_SHOWN), name);
	c->p += strlen(close);
	if (!rest_is_blank(c))
		return parse_error(ps, "unexpected characters after table header");
	return table_begin(ps, name, n, array);
}

/* ---- values ---- */

static int put_unicode(const struct parser *ps, struct cursor *c, const char *key, char *out, size_t *n)
{
	uint32_t cp = 0;

	for (int i = 0; i < 4; i++, c->p++) {
		char h = c->p < c->end ? *c->p : '\0';
		int d = is_digit(h) ? h - '0' : (h | 0x20) >= 'a' && (h | 0x20) <= 'f' ? (h | 0x20) - 'a' + 10 : -1;
		if (d < 0)
			return parse_error(ps, "\\u needs four hex digits (key '%s')", key);
		cp = cp << 4 | (uint32_t)d;
	}
	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
		return parse_error(ps, "\\u%04X is not allowed in a string (key '%s')", (unsigned)cp, key);
	if (cp < 0x80) {
		out[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*n)++] = (char)(0xc0 | cp >> 6);
		out[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[(*n)++] = (char)(0xe0 | cp >> 12);
		out[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
	return 0;
}

/* The escape at c->p (a backslash), decoded into out + *n. */
static int put_escape(const struct parser *ps, struct cursor *c, const char *key, char *out, size_t *n)
{
	static const char from[] = "\"\\ntr", to[] = "\"\\\n\t\r";
	char ch[8];

	c->p++;
	if (at_end(c))
		return parse_error(ps, "unterminated string (key '%s')", key);
	if (*c->p == 'u') {
		c->p++;
		return put_unicode(ps, c, key, out, n);
	}
	const char *e = strchr(from, *c->p);
	if (!e)
		return parse_error(ps, "invalid escape '\\%s' in string (key '%s')", show_char(ch, c->p), key);
	out[(*n)++] = to[e - from];
	c->p++;
	return 0;
}

/* A basic ("...") or, when literal, a literal ('...') string. */
static int parse_string(const struct parser *ps, struct cursor *c, const char *key, bool literal, struct toml_value *v)
{
	char quote = literal ? '\'' : '"';
	_cleanup_free_ char *out = NULL;
	size_t n = 0;

	if (starts_with(c, literal ? "'''" : "\"\"\""))
		return parse_error(ps, "multi-line strings are not supported (key '%s')", key);
	c->p++;
	out = xcalloc((size_t)(c->end - c->p) + 1, 1); /* an escape never decodes longer than itself */
	while (c->p < c->end && *c->p != quote) {
		int r = !literal && *c->p == '\\' ? put_escape(ps, c, key, out, &n) : (out[n++] = *c->p++, 0);
		if (r < 0)
			return r;
	}
	if (at_end(c))
		return parse_error(ps, "unterminated string (key '%s')", key);
	c->p++;
	*v = (struct toml_value){ .type = TOML_STRING, .str = steal_ptr(&out) };
	return 0;
}

/* NULL and *ret set, or why s is no decimal integer in range. */
static const char *int_parse(const char *s, size_t n, long long *ret)
{
	bool neg = n > 0 && s[0] == '-';
	size_t i = n > 0 && (s[0] == '-' || s[0] == '+') ? 1 : 0;
	unsigned long long v = 0, limit = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;

	if (i == n || !is_digit(s[i]))
		return "invalid integer";
	if (s[i] == '0' && i + 1 < n && (is_digit(s[i + 1]) || s[i + 1] == '_'))
		return "leading zeros are not allowed";
	for (; i < n; i++) {
		if (s[i] == '_' && i + 1 < n && is_digit(s[i - 1]) && is_digit(s[i + 1]))
			continue;
		if (!is_digit(s[i]))
			return s[i] == '_' ? "'_' must sit between two digits" : "invalid integer";
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (limit - d) / 10)
			return "integer out of range";
		v = v * 10 + d;
	}
	*ret = neg ? (v == limit ? LLONG_MIN : -(long long)v) : (long long)v;
	return NULL;
}

/* Why a number-like word is of a kind TOML has but we refuse, or NULL. */
static const char *number_refusal(const char *w, size_t n)
{
	const char *b = w;
	size_t bn = n;

	if (bn > 0 && (*b == '+' || *b == '-'))
		b++, bn--;
	if (word_is(b, bn, "inf") || word_is(b, bn, "nan"))
		return "floats are not supported";
	if (bn >= 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'o' || b[1] == 'b'))
		return "only decimal integers are supported";
	if ((n >= 5 && is_digit(w[0]) && is_digit(w[1]) && is_digit(w[2]) && is_digit(w[3]) && w[4] == '-') ||
	    (n >= 3 && is_digit(w[0]) && is_digit(w[1]) && w[2] == ':'))
		return "dates and times are not supported";
	for (size_t i = 1; i < bn; i++)
		if ((b[i] == '.' || b[i] == 'e' || b[i] == 'E') && is_digit(b[i - 1]))
			return "floats are not supported";
	return NULL;
}

/* An unquoted value: true, false or an integer. */
static int parse_word(const struct parser *ps, struct cursor *c, const char *key, struct toml_value *v)
{
	const char *w = c->p, *why;
	char shown[EXCERPT_SIZE];

	while (c->p < c->end && !is_ws(*c->p) && *c->p != '#')
		c->p++;
	size_t n = (size_t)(c->p - w);
	if (word_is(w, n, "true") || word_is(w, n, "false")) {
		*v = (struct toml_value){ .type = TOML_BOOL, .b = *w == 't' };
		return 0;
	}
	if (!is_digit(*w) && *w != '+' && *w != '-' && !word_is(w, n, "inf") && !word_is(w, n, "nan"))
		return parse_error(ps, "invalid value '%s' (key '%s'; strings need quotes)", excerpt(shown, w, n), key);
	*v = (struct toml_value){ .type = TOML_INT };
	why = number_refusal(w, n);
	if (!why)
		why = int_parse(w, n, &v->i);
	if (why)
		return parse_error(ps, "%s: '%s' (key '%s')", why, excerpt(shown, w, n), key);
	return 0;
}

static int parse_value(const struct parser *ps, struct cursor *c, const char *key, struct toml_value *v)
{
	if (at_end(c) || *c->p == '#')
		return parse_error(ps, "missing value for key '%s'", key);
	switch (*c->p) {
	case '"':
		return parse_string(ps, c, key, false, v);
	case '\'':
		return parse_string(ps, c, key, true, v);
	case '[':
		return parse_error(ps, "arrays are not supported (key '%s')", key);
	case '{':
		return parse_error(ps, "inline tables are not supported (key '%s')", key);
	default:
		return parse_word(ps, c, key, v);
	}
}

/* ---- key = value ---- */

static int bad_key(const struct parser *ps, const struct cursor *c)
{
	char ch[8];

	if (*c->p == '"' || *c->p == '\'')
		return parse_error(ps, "quoted keys are not supported");
	if (*c->p == '=')
		return parse_error(ps, "missing key before '='");
	return parse_error(ps, "invalid character '%s' in key", show_char(ch, c->p));
}

static int parse_kv(struct parser *ps, struct cursor *c)
{
	const char *start = c->p;
	size_t n = bare_span(c);
	const struct name_slot *dup;
	struct toml_value v;
	char ch[8];

	if (n == 0)
		return bad_key(ps, c);
	/* messages quote the key: cut a long one short (a bare key is ASCII) */
	_cleanup_free_ char *key = xmemdup(start, n), *shown = xmemdup(start, n < NAME_SHOWN ? n : NAME_SHOWN);
	if (!at_end(c) && !is_ws(*c->p) && *c->p != '=' && *c->p != '.' && *c->p != '#')
		return parse_error(ps, "invalid character '%s' in key '%s'", show_char(ch, c->p), shown);
	skip_ws(c);
	if (peek_is(c, '.'))
		return parse_error(ps, "dotted keys are not supported (key '%s')", shown);
	if (!peek_is(c, '='))
		return parse_error(ps, "expected '=' after key '%s'", shown);
	dup = names_find(&ps->names, key, ps->doc->n_tables);
	if (dup)
		return parse_error(ps, "duplicate key '%s' (first at line %d)", shown, dup->line);
	c->p++;
	skip_ws(c);
	int r = parse_value(ps, c, shown, &v);
	if (r < 0)
		return r;
	if (!rest_is_blank(c)) {
		free(v.str);
		return parse_error(ps, "unexpected characters after the value of key '%s'", shown);
	}
	kv_add(ps, steal_ptr(&key), &v);
	return 0;
}

/* ---- lines ---- */

static int check_bytes(const struct parser *ps, const char *s, size_t n)
{
	if (n > TOML_LINE_MAX)
		return parse_error(ps, "line longer than %d bytes", TOML_LINE_MAX);
	for (size_t i = 0, len; i < n; i += len) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0)
			return parse_error(ps, "NUL byte");
		if (c == '\r')
			return parse_error(ps, "carriage return not followed by a line feed");
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return parse_error(ps, "control character 0x%02x", c);
		len = utf8_len((const unsigned char *)s + i, n - i);
		if (!len)
			return parse_error(ps, "invalid UTF-8");
	}
	return 0;
}

static int parse_line(struct parser *ps, const char *s, size_t n)
{
	struct cursor c = { s, s + n };
	int r = check_bytes(ps, s, n);

	if (r < 0 || rest_is_blank(&c))
		return r;
	return *c.p == '[' ? parse_header(ps, &c) : parse_kv(ps, &c);
}

static int parse_lines(struct parser *ps, const char *text, size_t len)
{
	const char *p = text, *end = text + len;

	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3; /* a byte-order mark */
	for (; p < end; ps->line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *stop = nl ? nl : end;
		if (nl && stop > p && stop[-1] == '\r')
			stop--;
		int r = parse_line(ps, p, (size_t)(stop - p));
		if (r < 0)
			return r;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

int toml_parse(const char *text, size_t len, const char *filename, struct toml_doc *doc, bgr_error *err)
{
	struct parser ps = { .filename = filename ? filename : "<input>", .line = 1, .doc = doc, .err = err };
	int r = 0;

	*doc = (struct toml_doc){ 0 };
	if (len > TOML_SIZE_MAX)
		return parse_error(&ps, "file larger than %d bytes", TOML_SIZE_MAX);
	table_add(&ps, xstrdup(""), false, 0);
	if (len > 0)
		r = parse_lines(&ps, text, len);
	free(ps.names.slots);
	if (r < 0)
		toml_free(doc);
	return r;
}

void toml_free(struct toml_doc *doc)
{
	if (!doc)
		return;
	for (size_t i = 0; i < doc->n_tables; i++) {
		struct toml_table *t = &doc->tables[i];
		for (size_t k = 0; k < t->n_kvs; k++) {
			free(t->kvs[k].key);
			free(t->kvs[k].v.str);
		}
		free(t->kvs);
		free(t->name);
	}
	free(doc->tables);
	*doc = (struct toml_doc){ 0 };
}

const struct toml_kv *toml_get(const struct toml_table *t, const char *key)
{
	if (!t || !key)
		return NULL;
	for (size_t i = 0; i < t->n_kvs; i++)
		if (strcmp(t->kvs[i].key, key) == 0)
			return &t->kvs[i];
	return NULL;
}
