/* Unit tests of common/validate.c: VM names, value trimming and the parsers of
 * everything a user can write (vcpu, memory_mib, disk_size). */
#include "validate.h"

#include "tap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define SENTINEL 777u

static bool one_line(const char *s)
{
	return s[0] != '\0' && strchr(s, '\n') == NULL;
}

/* ---- VM names --------------------------------------------------------- */

static void name_good(const char *name)
{
	bgr_error err = { 0 };

	tap_ok(vm_name_valid(name), "valid name '%s'", name);
	is_int(vm_name_check(name, &err), 0, "vm_name_check accepts it");
	is_int(err.code, 0, "and leaves err clear");
}

/* label: printable description (the name itself may hold control bytes) */
static void name_bad(const char *label, const char *name)
{
	bgr_error err = { 0 };
	char quoted[128], shown[96];

	tap_ok(!vm_name_valid(name), "invalid name: %s", label);
	is_int(vm_name_check(name, &err), -EINVAL, "vm_name_check returns -EINVAL");
	is_int(err.code, EINVAL, "err.code is EINVAL");
	tap_ok(one_line(err.msg), "the reason is one non-empty line: %s", err.msg);
	printable_copy(name, shown, 81);
	snprintf(quoted, sizeof(quoted), "'%s'", shown);
	tap_ok(strstr(err.msg, quoted) != NULL, "the reason quotes the name (control bytes as '?')");
}

static void test_names(void)
{
	char n63[64], n64[65], long_name[201];

	memset(n63, 'a', 63);
	n63[63] = '\0';
	n63[30] = '-';
	n63[62] = '9';
	memset(n64, 'b', 64);
	n64[64] = '\0';
	memset(long_name, 'c', 200);
	long_name[200] = '\0';

	name_good("a");
	name_good("z");
	name_good("0");
	name_good("a-b");
	name_good("a--b");
	name_good("123");
	name_good("9lives");
	name_good("web-01");
	name_good(n63);

	name_bad("empty", "");
	name_bad("leading '-'", "-a");
	name_bad("trailing '-'", "a-");
	name_bad("just '-'", "-");
	name_bad("upper case", "A");
	name_bad("mixed case", "aB");
	name_bad("underscore", "a_b");
	name_bad("'..'", "..");
	name_bad("'.'", ".");
	name_bad("dot inside", "a.b");
	name_bad("64 characters", n64);
	name_bad("space inside", "a b");
	name_bad("leading space", " a");
	name_bad("trailing space", "a ");
	name_bad("UTF-8 (caf\\xc3\\xa9)", "caf\xc3\xa9");
	name_bad("slash", "a/b");
	name_bad("tab inside", "a\tb");

	/* A name with a line break must not break the one-line reason (nor forge
	 * a log line). */
	{
		bgr_error err = { 0 };
		is_int(vm_name_check("a\nb", &err), -EINVAL, "newline inside: -EINVAL");
		tap_ok(one_line(err.msg), "newline inside: the reason stays one line");
	}

	/* a very long name is cut in the message, which stays bounded */
	{
		bgr_error err = { 0 };
		is_int(vm_name_check(long_name, &err), -EINVAL, "200-character name: -EINVAL");
		tap_ok(strlen(err.msg) < 300, "200-character name: reason is short (%zu bytes)", strlen(err.msg));
	}

	/* images and kernels follow the same rules, and say what was wrong */
	{
		bgr_error err = { 0 };
		is_int(artifact_name_check("image", "debian-12", &err), 0, "image name debian-12 ok");
		is_int(artifact_name_check("kernel", "Bad_Name", &err), -EINVAL, "kernel Bad_Name: -EINVAL");
		tap_ok(strstr(err.msg, "kernel") && strstr(err.msg, "'Bad_Name'"),
		       "reason names the kind and the value: %s", err.msg);
	}
}

/* ---- value_trim ------------------------------------------------------- */

static void trim_ok(const char *label, const char *buf, size_t len, size_t out_size, const char *want)
{
	char out[64];
	bgr_error err = { 0 };

	memset(out, 'X', sizeof(out));
	is_int(value_trim(buf, len, out, out_size, &err), 0, label);
	is_str(out, want, label);
}

static void trim_bad(const char *label, const char *buf, size_t len, size_t out_size)
{
	char out[64] = "untouched";
	bgr_error err = { 0 };

	is_int(value_trim(buf, len, out, out_size, &err), -EINVAL, label);
	is_int(err.code, EINVAL, "err.code is EINVAL");
	tap_ok(one_line(err.msg), "reason: %s", err.msg);
}

static void test_value_trim(void)
{
	trim_ok("plain", "2", 1, 64, "2");
	trim_ok("echo's newline", "start\n", 6, 64, "start");
	trim_ok("all kinds of surrounding whitespace", " \t\r\n2 \n\n", 8, 64, "2");
	trim_ok("inner whitespace kept", "  a b  ", 7, 64, "a b");
	trim_ok("empty", "", 0, 64, "");
	trim_ok("only whitespace", " \n\t ", 4, 64, "");
	trim_ok("len is honoured (no NUL needed)", "abcdef", 3, 64, "abc");
	trim_ok("exactly fits out", "abc", 3, 4, "abc");
	trim_ok("fits once trimmed", "  abc \n", 7, 4, "abc");

	trim_bad("NUL inside", "1\0002", 3, 64);
	trim_bad("NUL at the end", "2\n\0", 3, 64);
	trim_bad("NUL only", "\0", 1, 64);
	trim_bad("one byte too long", "abcd", 4, 4);
	{
		char big[100];
		memset(big, '7', sizeof(big));
		trim_bad("100 bytes into 64", big, sizeof(big), 64);
	}
}

/* ---- parse_vcpu / parse_memory_mib ------------------------------------ */

static void vcpu_ok(const char *s, unsigned host, unsigned want)
{
	unsigned v = SENTINEL;
	bgr_error err = { 0 };

	is_int(parse_vcpu(s, host, &v, &err), 0, "parse_vcpu accepts");
	tap_ok(v == want, "parse_vcpu('%s', host %u) = %u (want %u)", s, host, v, want);
}

static void vcpu_bad(const char *s, unsigned host)
{
	unsigned v = SENTINEL;
	bgr_error err = { 0 };

	tap_ok(parse_vcpu(s, host, &v, &err) == -EINVAL && err.code == EINVAL, "parse_vcpu('%s', host %u) is EINVAL", s,
	       host);
	is_int(v, SENTINEL, "ret untouched on failure");
	tap_ok(one_line(err.msg) && strstr(err.msg, "vcpu"), "reason: %s", err.msg);
}

static void test_vcpu(void)
{
	vcpu_ok("1", 4, 1);
	vcpu_ok("2", 4, 2);
	vcpu_ok("4", 4, 4);
	vcpu_ok("02", 4, 2);
	/* small hosts may overcommit up to VCPU_MAX; big hosts up to their count */
	vcpu_ok("64", 2, VCPU_MAX);
	vcpu_ok("128", 128, 128);
	vcpu_bad("65", 2);
	vcpu_bad("129", 128);

	vcpu_bad("0", 4);
	vcpu_bad("-1", 4);
	vcpu_bad("+2", 4);
	vcpu_bad("1e9", 4);
	vcpu_bad("0x2", 4);
	vcpu_bad("1.5", 4);
	vcpu_bad("abc", 4);
	vcpu_bad("", 4);
	vcpu_bad(" 2", 4);
	vcpu_bad("2 ", 4);
	vcpu_bad("4294967295", 4);
	vcpu_bad("4294967296", 4);
	vcpu_bad("18446744073709551617", 4);
	vcpu_bad("99999999999999999999999999", 4);
	{
		unsigned v = SENTINEL;
		is_int(parse_vcpu("x", 4, &v, NULL), -EINVAL, "parse_vcpu with err NULL: -EINVAL");
	}
}

static void memory_ok(const char *s, uint64_t host, unsigned want)
{
	unsigned v = SENTINEL;
	bgr_error err = { 0 };

	is_int(parse_memory_mib(s, host, &v, &err), 0, "parse_memory_mib accepts");
	tap_ok(v == want, "parse_memory_mib('%s', host %" PRIu64 ") = %u", s, host, v);
}

static void memory_bad(const char *s, uint64_t host)
{
	unsigned v = SENTINEL;
	bgr_error err = { 0 };

	tap_ok(parse_memory_mib(s, host, &v, &err) == -EINVAL && err.code == EINVAL,
	       "parse_memory_mib('%s', host %" PRIu64 ") is EINVAL", s, host);
	is_int(v, SENTINEL, "ret untouched on failure");
	tap_ok(one_line(err.msg) && strstr(err.msg, "memory_mib"), "reason: %s", err.msg);
}

static void test_memory(void)
{
	memory_ok("64", 4096, 64);
	memory_ok("256", 4096, 256);
	memory_ok("4096", 4096, 4096);
	memory_ok("65536", 65536, 65536);

	memory_bad("63", 4096);
	memory_bad("0", 4096);
	memory_bad("4097", 4096);
	memory_bad("abc", 4096);
	memory_bad("", 4096);
	memory_bad("-64", 4096);
	memory_bad("256M", 4096);
	memory_bad("4294967296", UINT64_MAX);
}

/* ---- parse_size / parse_disk_size / size_format ----------------------- */

static void size_ok(const char *s, uint64_t want)
{
	uint64_t v = SENTINEL;
	bgr_error err = { 0 };

	is_int(parse_size(s, &v, &err), 0, "parse_size accepts");
	tap_ok(v == want, "parse_size('%s') = %" PRIu64 " (want %" PRIu64 ")", s, v, want);
}

static void size_bad(const char *s)
{
	uint64_t v = SENTINEL;
	bgr_error err = { 0 };

	tap_ok(parse_size(s, &v, &err) == -EINVAL && err.code == EINVAL, "parse_size('%s') is EINVAL", s);
	is_int(v, SENTINEL, "ret untouched on failure");
	tap_ok(one_line(err.msg), "reason: %s", err.msg);
}

static void test_size(void)
{
	size_ok("8G", 8ULL << 30);
	size_ok("512M", 512ULL << 20);
	size_ok("1T", 1ULL << 40);
	size_ok("2048K", 2048ULL << 10);
	size_ok("4k", 4096);
	size_ok("1GiB", 1ULL << 30);
	size_ok("1GB", 1ULL << 30);
	size_ok("3MiB", 3ULL << 20);
	size_ok("2TiB", 2ULL << 40);
	size_ok("1KiB", 1024);
	size_ok("17", 17);
	size_ok("17B", 17);
	size_ok("0", 0);
	size_ok("008G", 8ULL << 30);
	size_ok("18446744073709551615", UINT64_MAX);
	size_ok("16777215T", 16777215ULL << 40);

	size_bad("12Q");
	size_bad("G");
	size_bad("");
	size_bad("-1G");
	size_bad("+1G");
	size_bad("1.5G");
	size_bad(" 1G");
	size_bad("1G ");
	size_bad("1 G");
	size_bad("1GG");
	size_bad("1iB");
	size_bad("0x10");
	size_bad("99999999999999999999G");
	size_bad("18446744073709551616");
	size_bad("16777216T");
	size_bad("123456789012345678901234567890123456789");
}

static void disk_ok(const char *s, uint64_t want)
{
	uint64_t v = SENTINEL;
	bgr_error err = { 0 };

	is_int(parse_disk_size(s, &v, &err), 0, "parse_disk_size accepts");
	tap_ok(v == want, "parse_disk_size('%s') = %" PRIu64, s, v);
}

static void disk_bad(const char *s)
{
	uint64_t v = SENTINEL;
	bgr_error err = { 0 };

	tap_ok(parse_disk_size(s, &v, &err) == -EINVAL && err.code == EINVAL, "parse_disk_size('%s') is EINVAL", s);
	is_int(v, SENTINEL, "ret untouched on failure");
	tap_ok(one_line(err.msg) && strstr(err.msg, "disk_size"), "reason: %s", err.msg);
	v = SENTINEL;
	is_int(parse_disk_size(s, &v, NULL), -EINVAL, "also -EINVAL with err NULL");
}

static void test_disk_size(void)
{
	disk_ok("64M", DISK_SIZE_MIN);
	disk_ok("8G", 8ULL << 30);
	disk_ok("16T", DISK_SIZE_MAX);
	disk_ok("67109376", (64ULL << 20) + 512);
	disk_ok("65536K", 64ULL << 20);

	disk_bad("63M");
	disk_bad("67108863");
	disk_bad("0");
	disk_bad("17T");
	disk_bad("17592186044928"); /* 16T + 512 */
	disk_bad("67108865");       /* 64M + 1: not a multiple of 512 */
	disk_bad("12Q");
	disk_bad("G");
	disk_bad("");
	disk_bad("-1G");
	disk_bad("99999999999999999999G");

	/* a parse error is prefixed with the setting and keeps the reason */
	{
		bgr_error err = { 0 };
		uint64_t v;
		parse_disk_size("12Q", &v, &err);
		tap_ok(strncmp(err.msg, "disk_size: ", 11) == 0 && strstr(err.msg, "'12Q'"), "wrapped reason: %s",
		       err.msg);
	}
}

static void format_is(uint64_t bytes, const char *want)
{
	char out[32];
	uint64_t back = SENTINEL;

	size_format(bytes, out, sizeof(out));
	is_str(out, want, "size_format");
	tap_ok(parse_size(out, &back, NULL) == 0 && back == bytes, "'%s' parses back to %" PRIu64, out, bytes);
}

static void test_size_format(void)
{
	char small[4];

	format_is(8ULL << 30, "8G");
	format_is(512ULL << 20, "512M");
	format_is(1536ULL << 20, "1536M");
	format_is(17, "17");
	format_is(0, "0");
	format_is(1023, "1023");
	format_is(1024, "1K");
	format_is(1025, "1025");
	format_is(3ULL << 10, "3K");
	format_is((64ULL << 20) + 512, "67109376");
	format_is(1ULL << 40, "1T");
	format_is(DISK_SIZE_MAX, "16T");
	format_is(1ULL << 50, "1024T");
	format_is(UINT64_MAX, "18446744073709551615");

	/* every string the parser accepts comes back in its canonical form */
	{
		static const char *const inputs[] = { "8G", "512M", "1T", "2048K", "1GiB", "1024M", "17B" };
		static const char *const canon[] = { "8G", "512M", "1T", "2M", "1G", "1G", "17" };
		for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
			uint64_t v = 0;
			char out[32];
			parse_size(inputs[i], &v, NULL);
			size_format(v, out, sizeof(out));
			tap_ok(strcmp(out, canon[i]) == 0, "'%s' formats as '%s' (got '%s')", inputs[i], canon[i], out);
		}
	}

	size_format(1536ULL << 20, small, sizeof(small));
	is_str(small, "153", "a short buffer is truncated and NUL-ended");
}

int main(void)
{
	test_names();
	test_value_trim();
	test_vcpu();
	test_memory();
	test_size();
	test_disk_size();
	test_size_format();
	return tap_done();
}
