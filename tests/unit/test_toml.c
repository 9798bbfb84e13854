/* Unit tests of common/toml.c: every form the config subset accepts, and every
 * refusal with its exact message and line number. */
#include "toml.h"
#include "util.h"

#include "tap.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define FILENAME "config.toml"

/* Parses len bytes of s, copied to a buffer of exactly that size so ASan
 * catches a read past the end. */
static int parse_n(const char *s, size_t len, struct toml_doc *doc, bgr_error *err)
{
	_cleanup_free_ char *copy = malloc(len ? len : 1);

	if (!copy)
		abort();
	memcpy(copy, s, len);
	return toml_parse(copy, len, FILENAME, doc, err);
}

static bool parses(const char *s, struct toml_doc *doc, const char *what)
{
	bgr_error err = { 0 };
	int r = parse_n(s, strlen(s), doc, &err);

	tap_ok(r == 0, "%s: parses (%s)", what, r == 0 ? "ok" : err.msg);
	return r == 0;
}

/* s (len bytes) is refused with exactly want, and the doc is left empty. */
static void refuses_n(const char *s, size_t len, const char *want, const char *what)
{
	struct toml_doc doc;
	bgr_error err = { 0 };
	int r = parse_n(s, len, &doc, &err);

	tap_ok(r == -EINVAL && err.code == EINVAL && doc.tables == NULL && doc.n_tables == 0,
	       "%s: -EINVAL and an empty doc (got %d)", what, r);
	is_str(err.msg, want, what);
	toml_free(&doc);
}

static void refuses(const char *s, const char *want, const char *what)
{
	refuses_n(s, strlen(s), want, what);
}

/* A string literal that may hold NUL bytes. */
#define REFUSES_BYTES(lit, want, what) refuses_n(lit, sizeof(lit) - 1, want, what)

static const struct toml_table *table_at(const struct toml_doc *doc, size_t i)
{
	return i < doc->n_tables ? &doc->tables[i] : NULL;
}

static void is_str_kv(const struct toml_table *t, const char *key, const char *want, const char *what)
{
	const struct toml_kv *kv = toml_get(t, key);

	tap_ok(kv && kv->v.type == TOML_STRING, "%s: '%s' is a string", what, key);
	is_str(kv && kv->v.type == TOML_STRING ? kv->v.str : "(none)", want, what);
}

static void is_int_kv(const struct toml_table *t, const char *key, long long want, const char *what)
{
	const struct toml_kv *kv = toml_get(t, key);

	tap_ok(kv && kv->v.type == TOML_INT, "%s: '%s' is an integer", what, key);
	is_int(kv ? kv->v.i : -1, want, what);
}

static void is_bool_kv(const struct toml_table *t, const char *key, bool want, const char *what)
{
	const struct toml_kv *kv = toml_get(t, key);

	tap_ok(kv && kv->v.type == TOML_BOOL && kv->v.b == want, "%s: '%s' is %s", what, key, want ? "true" : "false");
}

static void test_empty(void)
{
	struct toml_doc doc;
	bgr_error err = { 0 };

	if (parses("", &doc, "empty file")) {
		is_int((long long)doc.n_tables, 1, "empty file: only the root table");
		is_str(doc.tables[0].name, "", "empty file: root is named \"\"");
		tap_ok(doc.tables[0].line == 0 && doc.tables[0].n_kvs == 0 && !doc.tables[0].array_elem,
		       "empty file: root at line 0, no keys");
	}
	toml_free(&doc);
	tap_ok(toml_parse(NULL, 0, FILENAME, &doc, &err) == 0 && doc.n_tables == 1, "NULL text of length 0 parses");
	toml_free(&doc);
	toml_free(&doc);
	toml_free(NULL);
	tap_ok(doc.tables == NULL && doc.n_tables == 0, "toml_free leaves the doc empty, twice and on NULL");
	if (parses("# banger config\n\n   # indented comment\n\t\n#\n", &doc, "only comments"))
		tap_ok(doc.n_tables == 1 && doc.tables[0].n_kvs == 0, "only comments: nothing but the root");
	toml_free(&doc);
	if (parses("\xef\xbb\xbf# with a byte-order mark\na = 1\n", &doc, "byte-order mark"))
		is_int(toml_get(&doc.tables[0], "a")->line, 2, "byte-order mark: lines still count from 1");
	toml_free(&doc);
}

static const char sample[] =
	"# banger config\n"                   /* 1 */
	"log_level = \"debug\"  # trailing\n" /* 2 */
	"\n"                                  /* 3 */
	"[vm_defaults]\n"                     /* 4 */
	"vcpu = 2\n"                          /* 5 */
	"memory_mib = 1_024\n"                /* 6 */
	"image = 'debian-12'\n"               /* 7 */
	"kvm=true\n"                          /* 8 */
	"\n"                                  /* 9 */
	"[[file_sync]]\n"                     /* 10 */
	"host = \"~/.gitconfig\"\n"           /* 11 */
	"guest = \"/root/.gitconfig\"\n"      /* 12 */
	"[[file_sync]]\n"                     /* 13 */
	"  host = \"~/.ssh/config\"\n"        /* 14 */
	"  mode = 384\n"                      /* 15 */
	"[network]\n"                         /* 16 */
	"nat = false # no NAT\n";             /* 17 */

static void test_sample(void)
{
	struct toml_doc doc;
	const struct toml_table *t;

	if (!parses(sample, &doc, "a whole config"))
		return;
	is_int((long long)doc.n_tables, 5, "root, vm_defaults, 2 file_sync, network");
	t = &doc.tables[0];
	is_str_kv(t, "log_level", "debug", "root key");
	is_int((long long)t->n_kvs, 1, "root holds one key");
	t = table_at(&doc, 1);
	tap_ok(t && strcmp(t->name, "vm_defaults") == 0 && !t->array_elem && t->line == 4, "[vm_defaults] at line 4");
	is_int_kv(t, "vcpu", 2, "vcpu");
	is_int_kv(t, "memory_mib", 1024, "1_024");
	is_str_kv(t, "image", "debian-12", "literal string");
	is_bool_kv(t, "kvm", true, "no spaces around =");
	is_int(toml_get(t, "kvm") ? toml_get(t, "kvm")->line : 0, 8, "kvm's line");
	tap_ok(toml_get(t, "host") == NULL && toml_get(t, "nosuch") == NULL && toml_get(NULL, "vcpu") == NULL,
	       "toml_get: NULL when absent");
	t = table_at(&doc, 2);
	tap_ok(t && strcmp(t->name, "file_sync") == 0 && t->array_elem && t->line == 10 && t->n_kvs == 2,
	       "first [[file_sync]] at line 10 with 2 keys");
	is_str_kv(t, "guest", "/root/.gitconfig", "first element's guest");
	t = table_at(&doc, 3);
	tap_ok(t && strcmp(t->name, "file_sync") == 0 && t->array_elem && t->line == 13 && t->n_kvs == 2,
	       "second [[file_sync]] at line 13 with 2 keys");
	is_str_kv(t, "host", "~/.ssh/config", "indented key goes to the second element");
	is_int_kv(t, "mode", 384, "second element's mode");
	tap_ok(toml_get(t, "guest") == NULL, "second element has no guest");
	t = table_at(&doc, 4);
	tap_ok(t && strcmp(t->name, "network") == 0 && t->line == 16, "[network] at line 16");
	is_bool_kv(t, "nat", false, "comment after a boolean");
	is_int(t ? t->kvs[0].line : 0, 17, "nat's line");
	toml_free(&doc);
}

static void test_crlf(void)
{
	struct toml_doc doc;

	if (parses("a = 1\r\n\r\n# c\r\n[t]\r\nb = \"x\"\r\nc = 'y' # z\r\n", &doc, "CRLF")) {
		is_int_kv(&doc.tables[0], "a", 1, "CRLF integer");
		is_str_kv(table_at(&doc, 1), "b", "x", "CRLF basic string");
		is_str_kv(table_at(&doc, 1), "c", "y", "CRLF literal string");
		is_int(toml_get(table_at(&doc, 1), "c")->line, 6, "CRLF line numbers");
	}
	toml_free(&doc);
	refuses("a = 1\r\nb = 2\r\n[t]\r\nc = \r\n", FILENAME ":4: missing value for key 'c'", "CRLF error line");
	refuses("a = 1\r\nb = 2\rc = 3\r\n", FILENAME ":2: carriage return not followed by a line feed", "lone CR");
	refuses("a = 1\r", FILENAME ":1: carriage return not followed by a line feed", "CR at end of file");
	refuses("a = \"x\r\ny\"\r\n", FILENAME ":1: unterminated string (key 'a')", "CRLF inside a string");
}

static void test_strings(void)
{
	struct toml_doc doc;
	const struct toml_table *t;

	if (!parses("a = \"q\\\"b\\\\n\\nt\\tr\\r.\"\n"
		    "e = \"caf\\u00e9 \\u20AC \\u0041\\u007f\"\n"
		    "u = \"h\xc3\xa9llo \xe2\x98\x83 \xf0\x9d\x84\x9e\"\n"
		    "h = \"x # not a comment\" # a comment\n"
		    "l = 'C:\\path\\n \"quoted\" # too'#c\n"
		    "tab = \"a\tb\"\n"
		    "empty = \"\"\n"
		    "empty2 = ''\n"
		    "lu = '\xc3\xa9\t'\n",
		    &doc, "strings"))
		return;
	t = &doc.tables[0];
	is_str_kv(t, "a", "q\"b\\n\nt\tr\r.", "the escapes");
	is_str_kv(t, "e", "caf\xc3\xa9 \xe2\x82\xac A\x7f", "\\u00e9 and \\u20AC to UTF-8");
	is_str_kv(t, "u", "h\xc3\xa9llo \xe2\x98\x83 \xf0\x9d\x84\x9e", "UTF-8 passes through");
	is_str_kv(t, "h", "x # not a comment", "# inside a basic string");
	is_str_kv(t, "l", "C:\\path\\n \"quoted\" # too", "literal: no escapes, # and \" inside");
	is_str_kv(t, "tab", "a\tb", "raw tab in a basic string");
	is_str_kv(t, "empty", "", "empty basic string");
	is_str_kv(t, "empty2", "", "empty literal string");
	is_str_kv(t, "lu", "\xc3\xa9\t", "UTF-8 and tab in a literal string");
	toml_free(&doc);
}

static void test_string_refusals(void)
{
	refuses("a = \"abc\n", FILENAME ":1: unterminated string (key 'a')", "unterminated basic");
	refuses("\n\na = 'abc", FILENAME ":3: unterminated string (key 'a')", "unterminated literal");
	refuses("a = \"abc\\\"\n", FILENAME ":1: unterminated string (key 'a')", "escaped quote, then the end");
	refuses("a = \"abc\\", FILENAME ":1: unterminated string (key 'a')", "backslash at the end");
	refuses("a = \"\\x41\"", FILENAME ":1: invalid escape '\\x' in string (key 'a')", "\\x escape");
	refuses("a = \"\\b\"", FILENAME ":1: invalid escape '\\b' in string (key 'a')", "\\b escape");
	refuses("a = \"\\f\"", FILENAME ":1: invalid escape '\\f' in string (key 'a')", "\\f escape");
	refuses("a = \"\\e\"", FILENAME ":1: invalid escape '\\e' in string (key 'a')", "\\e escape");
	refuses("a = \"\\ \"", FILENAME ":1: invalid escape '\\ ' in string (key 'a')", "backslash space");
	refuses("a = \"\\\xc3\xa9\"", FILENAME ":1: invalid escape '\\\xc3\xa9' in string (key 'a')", "\\é escape");
	refuses("a = \"\\U0001F600\"", FILENAME ":1: invalid escape '\\U' in string (key 'a')", "\\U escape");
	refuses("a = \"\\u12\"", FILENAME ":1: \\u needs four hex digits (key 'a')", "short \\u");
	refuses("a = \"\\u12", FILENAME ":1: \\u needs four hex digits (key 'a')", "\\u at the end");
	refuses("a = \"\\u12G4\"", FILENAME ":1: \\u needs four hex digits (key 'a')", "\\u with a non-hex digit");
	refuses("a = \"\\uD800\"", FILENAME ":1: \\uD800 is not allowed in a string (key 'a')", "surrogate");
	refuses("a = \"\\u0000\"", FILENAME ":1: \\u0000 is not allowed in a string (key 'a')", "\\u0000");
	refuses("a = \"\"\"x\"\"\"", FILENAME ":1: multi-line strings are not supported (key 'a')", "multi-line basic");
	refuses("a = '''x'''", FILENAME ":1: multi-line strings are not supported (key 'a')", "multi-line literal");
	refuses("a = \"x\x01\"", FILENAME ":1: control character 0x01", "raw control character in a string");
	refuses("a = 'x\x7f'", FILENAME ":1: control character 0x7f", "raw DEL in a literal string");
	refuses("a = 1\n# bell \x07\n", FILENAME ":2: control character 0x07", "control character in a comment");
	refuses("a = \"\xff\"", FILENAME ":1: invalid UTF-8", "invalid UTF-8 byte");
	refuses("a = \"\xc0\xaf\"", FILENAME ":1: invalid UTF-8", "overlong UTF-8");
	refuses("a = \"\xed\xa0\x80\"", FILENAME ":1: invalid UTF-8", "UTF-8 surrogate");
	refuses("a = \"\xf4\x90\x80\x80\"", FILENAME ":1: invalid UTF-8", "UTF-8 past U+10FFFF");
	refuses("a = \"\xe2\x98\"", FILENAME ":1: invalid UTF-8", "truncated UTF-8");
	refuses("a = 1\n# caf\xe9\n", FILENAME ":2: invalid UTF-8", "Latin-1 in a comment");
	REFUSES_BYTES("a = 1\n\0", FILENAME ":2: NUL byte", "NUL byte on its own line");
	REFUSES_BYTES("a = \"x\0y\"", FILENAME ":1: NUL byte", "NUL byte in a string");
	REFUSES_BYTES("a = 1\n# x\0\n", FILENAME ":2: NUL byte", "NUL byte in a comment");
}

static void test_integers(void)
{
	struct toml_doc doc;
	const struct toml_table *t;

	if (!parses("zero = 0\npzero = +0\nmzero = -0\nneg = -42\npos = +17\nsep = 1_000_000\nsep2 = 1_2_3\n"
		    "max = 9223372036854775807\nmin = -9223372036854775808\nmax2 = 9_223_372_036_854_775_807\n",
		    &doc, "integers"))
		return;
	t = &doc.tables[0];
	is_int_kv(t, "zero", 0, "0");
	is_int_kv(t, "pzero", 0, "+0");
	is_int_kv(t, "mzero", 0, "-0");
	is_int_kv(t, "neg", -42, "-42");
	is_int_kv(t, "pos", 17, "+17");
	is_int_kv(t, "sep", 1000000, "1_000_000");
	is_int_kv(t, "sep2", 123, "1_2_3");
	is_int_kv(t, "max", LLONG_MAX, "INT64 max");
	is_int_kv(t, "min", LLONG_MIN, "INT64 min");
	is_int_kv(t, "max2", LLONG_MAX, "INT64 max with separators");
	toml_free(&doc);
	if (parses("t = true\nf = false\nc = true# comment\n", &doc, "booleans")) {
		is_bool_kv(&doc.tables[0], "t", true, "true");
		is_bool_kv(&doc.tables[0], "f", false, "false");
		is_bool_kv(&doc.tables[0], "c", true, "true followed by a comment");
	}
	toml_free(&doc);
}

static void test_integer_refusals(void)
{
	refuses("a = 9223372036854775808", FILENAME ":1: integer out of range: '9223372036854775808' (key 'a')",
		"INT64 max + 1");
	refuses("a = -9223372036854775809", FILENAME ":1: integer out of range: '-9223372036854775809' (key 'a')",
		"INT64 min - 1");
	refuses("a = 99999999999999999999999", FILENAME ":1: integer out of range: '99999999999999999999999' (key 'a')",
		"far past INT64");
	refuses("a = 012", FILENAME ":1: leading zeros are not allowed: '012' (key 'a')", "leading zero");
	refuses("a = -012", FILENAME ":1: leading zeros are not allowed: '-012' (key 'a')", "signed leading zero");
	refuses("a = 00", FILENAME ":1: leading zeros are not allowed: '00' (key 'a')", "00");
	refuses("a = 0_1", FILENAME ":1: leading zeros are not allowed: '0_1' (key 'a')", "0_1");
	refuses("a = 1__2", FILENAME ":1: '_' must sit between two digits: '1__2' (key 'a')", "double underscore");
	refuses("a = 1_", FILENAME ":1: '_' must sit between two digits: '1_' (key 'a')", "trailing underscore");
	refuses("a = -_1", FILENAME ":1: invalid integer: '-_1' (key 'a')", "underscore after the sign");
	refuses("a = _1", FILENAME ":1: invalid value '_1' (key 'a'; strings need quotes)", "leading underscore");
	refuses("a = +", FILENAME ":1: invalid integer: '+' (key 'a')", "a sign alone");
	refuses("a = --1", FILENAME ":1: invalid integer: '--1' (key 'a')", "two signs");
	refuses("a = 12abc", FILENAME ":1: invalid integer: '12abc' (key 'a')", "digits then letters");
	refuses("a = 1,", FILENAME ":1: invalid integer: '1,' (key 'a')", "a comma after an integer");
	refuses("a = 0x1F", FILENAME ":1: only decimal integers are supported: '0x1F' (key 'a')", "hex");
	refuses("a = 0o17", FILENAME ":1: only decimal integers are supported: '0o17' (key 'a')", "octal");
	refuses("a = 0b101", FILENAME ":1: only decimal integers are supported: '0b101' (key 'a')", "binary");
	refuses("a = 1.5", FILENAME ":1: floats are not supported: '1.5' (key 'a')", "float");
	refuses("a = -0.0", FILENAME ":1: floats are not supported: '-0.0' (key 'a')", "negative float");
	refuses("a = 1e3", FILENAME ":1: floats are not supported: '1e3' (key 'a')", "exponent");
	refuses("a = 5E-2", FILENAME ":1: floats are not supported: '5E-2' (key 'a')", "negative exponent");
	refuses("a = inf", FILENAME ":1: floats are not supported: 'inf' (key 'a')", "inf");
	refuses("a = -nan", FILENAME ":1: floats are not supported: '-nan' (key 'a')", "-nan");
	refuses("a = 1979-05-27", FILENAME ":1: dates and times are not supported: '1979-05-27' (key 'a')", "date");
	refuses("a = 1979-05-27T07:32:00Z",
		FILENAME ":1: dates and times are not supported: '1979-05-27T07:32:00Z' (key 'a')", "date-time");
	refuses("a = 1979-05-27 07:32:00", FILENAME ":1: dates and times are not supported: '1979-05-27' (key 'a')",
		"date-time with a space");
	refuses("a = 07:32:00", FILENAME ":1: dates and times are not supported: '07:32:00' (key 'a')", "time");
	refuses("a = True", FILENAME ":1: invalid value 'True' (key 'a'; strings need quotes)", "True");
	refuses("a = yes", FILENAME ":1: invalid value 'yes' (key 'a'; strings need quotes)", "yes");
	refuses("a = truest", FILENAME ":1: invalid value 'truest' (key 'a'; strings need quotes)", "truest");
	refuses("a = hello world", FILENAME ":1: invalid value 'hello' (key 'a'; strings need quotes)", "bare word");
	refuses("a = 1234567890123456789012345678901234567890123",
		FILENAME ":1: integer out of range: '1234567890123456789012345678901234567890...' (key 'a')",
		"a long value is cut short in the message");
	refuses("a = x\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
		FILENAME
		":1: invalid value 'x\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9..."
		"' (key 'a'; strings need quotes)",
		"a long value is cut on a character boundary");
}

static void test_structure_refusals(void)
{
	refuses("a.b = 1", FILENAME ":1: dotted keys are not supported (key 'a')", "dotted key");
	refuses("a . b = 1", FILENAME ":1: dotted keys are not supported (key 'a')", "dotted key with spaces");
	refuses("\"a\" = 1", FILENAME ":1: quoted keys are not supported", "quoted key");
	refuses("'a' = 1", FILENAME ":1: quoted keys are not supported", "literal-quoted key");
	refuses("= 1", FILENAME ":1: missing key before '='", "missing key");
	refuses("k\xc3\xa9 = 1", FILENAME ":1: invalid character '\xc3\xa9' in key 'k'", "non-ASCII in a key");
	refuses("$a = 1", FILENAME ":1: invalid character '$' in key", "$ starting a key");
	refuses("a$ = 1", FILENAME ":1: invalid character '$' in key 'a'", "$ in a key");
	refuses("a = {x = 1}", FILENAME ":1: inline tables are not supported (key 'a')", "inline table");
	refuses("a = [1, 2]", FILENAME ":1: arrays are not supported (key 'a')", "array");
	refuses("a =", FILENAME ":1: missing value for key 'a'", "missing value");
	refuses("a = # comment", FILENAME ":1: missing value for key 'a'", "only a comment as value");
	refuses("x = 1\n\n\n[net]\nbridge = 'br0'\n\nnat true\n", FILENAME ":7: expected '=' after key 'nat'",
		"missing =");
	refuses("nat", FILENAME ":1: expected '=' after key 'nat'", "a key alone");
	refuses("nat # c", FILENAME ":1: expected '=' after key 'nat'", "a key and a comment");
	refuses("nat: 1", FILENAME ":1: invalid character ':' in key 'nat'", "colon instead of =");
	refuses("a = 1 2", FILENAME ":1: unexpected characters after the value of key 'a'", "two integers");
	refuses("a = \"x\" y", FILENAME ":1: unexpected characters after the value of key 'a'", "word after a string");
	refuses("a = \"x\"y", FILENAME ":1: unexpected characters after the value of key 'a'", "glued after a string");
	refuses("a = 'x''y'", FILENAME ":1: unexpected characters after the value of key 'a'", "two literals");
	refuses("a = true false", FILENAME ":1: unexpected characters after the value of key 'a'", "two booleans");
	refuses("a = 1\nb = 2\na = 3\n", FILENAME ":3: duplicate key 'a' (first at line 1)", "duplicate key");
	refuses("[t]\na = 1\n\na = 'x'\n", FILENAME ":4: duplicate key 'a' (first at line 2)", "duplicate in a table");
	refuses("[[t]]\na = 1\n[[t]]\na = 2\nb = 1\na = 3\n", FILENAME ":6: duplicate key 'a' (first at line 4)",
		"duplicate in the second array element");
}

static void test_table_refusals(void)
{
	refuses("[t]\n[u]\n[t]\n", FILENAME ":3: table 't' defined twice (first at line 1)", "table twice");
	refuses("[x]\na = 1\n[[x]]\n", FILENAME ":3: array of tables 'x' was already defined as a table at line 1",
		"[[x]] after [x]");
	refuses("[[x]]\n[[x]]\n[x]\n", FILENAME ":3: table 'x' was already defined as an array of tables at line 1",
		"[x] after [[x]]");
	refuses("x = 1\n[x]\n", FILENAME ":2: table name 'x' is already a top-level key (line 1)", "key then table");
	refuses("x = 1\n[[x]]\n", FILENAME ":2: table name 'x' is already a top-level key (line 1)",
		"key then array of tables");
	refuses("[a.b]", FILENAME ":1: dotted table names are not supported", "dotted table");
	refuses("[a . b]", FILENAME ":1: dotted table names are not supported", "dotted table with spaces");
	refuses("[[a.b]]", FILENAME ":1: dotted table names are not supported", "dotted array of tables");
	refuses("[.a]", FILENAME ":1: dotted table names are not supported", "leading dot");
	refuses("[\"a\"]", FILENAME ":1: quoted table names are not supported", "quoted table");
	refuses("['a']", FILENAME ":1: quoted table names are not supported", "literal-quoted table");
	refuses("[]", FILENAME ":1: empty table name", "empty table name");
	refuses("[ ]", FILENAME ":1: empty table name", "blank table name");
	refuses("[[]]", FILENAME ":1: empty table name", "empty array of tables name");
	refuses("[ [file_sync] ]", FILENAME ":1: invalid character '[' in table name", "[ [name] ] is no array");
	refuses("[", FILENAME ":1: empty table name", "a lone [");
	refuses("[a", FILENAME ":1: expected ']' after table name 'a'", "unclosed table");
	refuses("[a b]", FILENAME ":1: expected ']' after table name 'a'", "space in a table name");
	refuses("[a$]", FILENAME ":1: invalid character '$' in table name", "$ in a table name");
	refuses("[\xc3\xa9t\xc3\xa9]", FILENAME ":1: invalid character '\xc3\xa9' in table name", "é in a table name");
	refuses("[[a]", FILENAME ":1: expected ']]' after table name 'a'", "[[a]");
	refuses("[[a] ]", FILENAME ":1: expected ']]' after table name 'a'", "[[a] ]");
	refuses("[a]]", FILENAME ":1: unexpected characters after table header", "[a]]");
	refuses("[a] x = 1", FILENAME ":1: unexpected characters after table header", "key after a header");
	refuses("[[a]] b", FILENAME ":1: unexpected characters after table header", "text after [[a]]");
}

static void test_layout(void)
{
	struct toml_doc doc;
	const struct toml_table *t;

	if (!parses("  a   =\t1  \n\t[ t ]  # c\n  b=2\n[[ arr ]]\n1-a_B = 3\n[u]\na = 4\n[b]\n", &doc, "layout"))
		return;
	is_int((long long)doc.n_tables, 5, "layout: root, t, arr, u, b");
	is_int_kv(&doc.tables[0], "a", 1, "spaces and tabs around =");
	t = table_at(&doc, 1);
	tap_ok(t && strcmp(t->name, "t") == 0 && t->line == 2, "[ t ] names t");
	is_int_kv(t, "b", 2, "indented key in t");
	t = table_at(&doc, 2);
	tap_ok(t && strcmp(t->name, "arr") == 0 && t->array_elem, "[[ arr ]] names arr");
	is_int_kv(t, "1-a_B", 3, "digits, dash and underscore in a key");
	is_int_kv(table_at(&doc, 3), "a", 4, "same key in another table");
	t = table_at(&doc, 4);
	tap_ok(t && strcmp(t->name, "b") == 0 && t->n_kvs == 0, "a table named like a key of another table");
	toml_free(&doc);
	if (parses("a = 1", &doc, "no newline at the end"))
		is_int_kv(&doc.tables[0], "a", 1, "no newline at the end");
	toml_free(&doc);
}

static void test_errors_elsewhere(void)
{
	struct toml_doc doc;
	bgr_error err = { 0 };

	tap_ok(toml_parse("a = ", 4, "/home/u/.config/banger/config.toml", &doc, NULL) == -EINVAL && !doc.tables,
	       "a NULL err is fine");
	toml_parse("\n\na = ", 6, "/home/u/.config/banger/config.toml", &doc, &err);
	is_str(err.msg, "/home/u/.config/banger/config.toml:3: missing value for key 'a'", "the filename as given");
	toml_parse("a = 1\nb = \"x\"", 11, "config.toml", &doc, &err);
	is_str(err.msg, "config.toml:2: unterminated string (key 'b')", "only len bytes are read");
}

static void test_limits(void)
{
	size_t big = TOML_SIZE_MAX;
	_cleanup_free_ char *text = xcalloc(big + 1, 1);
	struct toml_doc doc;

	/* a line of exactly TOML_LINE_MAX bytes, and one byte more */
	memset(text, '#', TOML_LINE_MAX);
	strcpy(text + TOML_LINE_MAX, "\r\na = 1\n");
	if (parses(text, &doc, "a line of TOML_LINE_MAX bytes"))
		is_int(toml_get(&doc.tables[0], "a")->line, 2, "after the longest line");
	toml_free(&doc);
	memset(text, '#', TOML_LINE_MAX + 1);
	strcpy(text + TOML_LINE_MAX + 1, "\n");
	refuses(text, FILENAME ":1: line longer than 4096 bytes", "a line too long");
	/* a file of exactly TOML_SIZE_MAX bytes, and one more */
	for (size_t i = 0; i < big; i += 64) {
		memset(text + i, '#', 63);
		text[i + 63] = '\n';
	}
	refuses_n(text, big + 1, FILENAME ":1: file larger than 1048576 bytes", "a file too large");
	if (parses(text, &doc, "a file of TOML_SIZE_MAX bytes"))
		is_int((long long)doc.n_tables, 1, "a big file of comments");
	toml_free(&doc);
}

/* Many short lines: duplicates are still found at once, with their lines. */
static void test_many(void)
{
	size_t n = 50000, len = 0;
	_cleanup_free_ char *text = xcalloc(n * 24 + 64, 1);
	struct toml_doc doc;

	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, i % 2 ? "k%zu = %zu\n" : "[[e]]\nk%zu = %zu\n", i, i);
	if (parses(text, &doc, "50000 keys"))
		is_int((long long)doc.n_tables, 25001, "25000 array elements");
	toml_free(&doc);
	len += (size_t)sprintf(text + len, "k49999 = 1\n");
	refuses(text, FILENAME ":75001: duplicate key 'k49999' (first at line 75000)", "a late duplicate");
}

int main(void)
{
	test_empty();
	test_sample();
	test_crlf();
	test_strings();
	test_string_refusals();
	test_integers();
	test_integer_refusals();
	test_structure_refusals();
	test_table_refusals();
	test_layout();
	test_errors_elsewhere();
	test_limits();
	test_many();
	return tap_done();
}
