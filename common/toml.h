/* A small, strict parser for the TOML subset that config.toml uses:
 *
 *   # a comment, to the end of the line
 *   key = "basic string"      escapes \" \\ \n \t \r \uXXXX only
 *   key = 'literal string'    no escapes
 *   key = -12_345             decimal integers, 64-bit, no leading zeros
 *   key = true                or false
 *   [name]                    a table (bare name, one level, defined once)
 *   [[name]]                  one more element of an array of tables
 *
 * Keys and table names are bare: [A-Za-z0-9_-]+. Lines end in LF or CRLF; a
 * leading UTF-8 byte-order mark is skipped; the text must be valid UTF-8 and
 * hold no control character other than tab (or the CR of a CRLF).
 * Everything else TOML has (dotted or quoted keys, inline tables, arrays,
 * floats, dates, multi-line strings, other escapes) is refused with an error
 * naming the line, as are duplicate keys in a table, a table defined twice,
 * a name used both as [name] and [[name]] (or as a top-level key), a line
 * longer than TOML_LINE_MAX bytes and a text longer than TOML_SIZE_MAX. */
#ifndef BANGER_TOML_H
#define BANGER_TOML_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>

#define TOML_LINE_MAX 4096      /* bytes, without the line ending */
#define TOML_SIZE_MAX (1 << 20) /* bytes of text */

enum toml_type { TOML_STRING, TOML_INT, TOML_BOOL };

struct toml_value {
	enum toml_type type;
	char *str;   /* TOML_STRING: UTF-8, NUL-terminated (a \u0000 escape is refused) */
	long long i; /* TOML_INT */
	bool b;      /* TOML_BOOL */
};

struct toml_kv {
	char *key;
	struct toml_value v;
	int line;
};

struct toml_table {
	char *name;          /* "" for the top-level (root) table */
	bool array_elem;     /* one element of a [[name]] array */
	int line;            /* line of its header (0 for root) */
	struct toml_kv *kvs; /* in file order */
	size_t n_kvs;
};

struct toml_doc {
	struct toml_table *tables; /* tables[0] is the root, always present; others in file order */
	size_t n_tables;
};

/* Parses text (len bytes; NUL bytes in it are an error) into *doc. Returns 0,
 * or -EINVAL with err->msg = "<filename>:<line>: <reason>" (one line, e.g.
 * "config.toml:7: expected '=' after key 'nat'") and *doc left empty. */
int toml_parse(const char *text, size_t len, const char *filename, struct toml_doc *doc, bgr_error *err);
/* Frees what toml_parse stored and leaves *doc empty; doc may be NULL. */
void toml_free(struct toml_doc *doc);
/* The pair with this key in table t, or NULL when absent (or t is NULL). */
const struct toml_kv *toml_get(const struct toml_table *t, const char *key);

#endif
