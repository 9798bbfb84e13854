/* Unit tests of vmm/net/port_rule.c: the grammar of a vms/NAME/ports line,
 * its defaults, and a clear reason for everything else. */
#include "port_rule.h"

#include "tap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void good(const char *line, const char *want, bool remove)
{
	struct port_rule r;
	bgr_error err = { 0 };
	char got[64];

	is_int(port_rule_parse(line, &r, &err), 0, line);
	port_rule_format(&r, got, sizeof(got));
	is_str(got, want, "  reads back");
	is_int(r.remove, remove, "  removal or not");
}

static void bad(const char *line, const char *reason)
{
	struct port_rule r = { .host_port = 4242 };
	bgr_error err = { 0 };

	is_int(port_rule_parse(line, &r, &err), -EINVAL, line);
	is_int(err.code, EINVAL, "  EINVAL");
	tap_ok(strstr(err.msg, reason) != NULL, "  reason '%s' has '%s'", err.msg, reason);
	tap_ok(!strchr(err.msg, '\n'), "  the reason is one line");
	is_int(r.host_port, 4242, "  the result is left alone");
}

int main(void)
{
	struct port_rule a, b;
	bgr_error err;

	good("8080", "tcp 127.0.0.1:8080 -> 8080", false);
	good("  8080\t", "tcp 127.0.0.1:8080 -> 8080", false);
	good("8080:80", "tcp 127.0.0.1:8080 -> 80", false);
	good("127.0.0.1:3000:80", "tcp 127.0.0.1:3000 -> 80", false);
	good("0.0.0.0:8080", "tcp 0.0.0.0:8080 -> 8080", false);
	good("udp 5353", "udp 127.0.0.1:5353 -> 5353", false);
	good("udp\t10.0.0.1:53:5353", "udp 10.0.0.1:53 -> 5353", false);
	good("tcp 1", "tcp 127.0.0.1:1 -> 1", false);
	good("65535:65535", "tcp 127.0.0.1:65535 -> 65535", false);
	good("-8080", "tcp 127.0.0.1:8080 -> 8080", true);
	good("-udp 5353", "udp 127.0.0.1:5353 -> 5353", true);
	good("-127.0.0.1:3000:80", "tcp 127.0.0.1:3000 -> 80", true);

	port_rule_parse("-8080", &a, &err);
	tap_ok(!a.guest_given, "-8080 names no guest port");
	port_rule_parse("8080:80", &a, &err);
	tap_ok(a.guest_given, "8080:80 names one");
	port_rule_parse("127.0.0.1:8080:81", &b, &err);
	tap_ok(port_rule_same_listener(&a, &b), "8080:80 and 127.0.0.1:8080:81 share a listener");
	port_rule_parse("udp 8080", &b, &err);
	tap_ok(!port_rule_same_listener(&a, &b), "tcp and udp 8080 do not");
	port_rule_parse("0.0.0.0:8080", &b, &err);
	tap_ok(!port_rule_same_listener(&a, &b), "nor 127.0.0.1:8080 and 0.0.0.0:8080");

	bad("", "empty rule");
	bad("   ", "empty rule");
	bad("0", "port 0 is not a port");
	bad("65536", "out of range");
	bad("99999999999999999999999", "out of range");
	bad("-0", "port 0 is not a port");
	bad("8080:0", "guest port 0");
	bad("8080:", "guest port missing");
	bad(":8080", "host port missing");
	bad("http", "unexpected 'h'");
	bad("sctp 80", "unexpected 's'");
	bad("tcp", "unexpected 't'");
	bad("udp5353", "unexpected 'u'");
	bad("--8080", "unexpected '-'");
	bad("8080 80", "unexpected ' '");
	bad("256.0.0.1:80", "not an IPv4 address");
	bad("1.2:80", "not an IPv4 address");
	bad("::1:80:80", "too many ':'");
	bad("1.2.3.4:1:2:3", "too many ':'");
	bad("8080;rm", "unexpected ';'");
	bad("8080\x01", "unexpected '?'");
	bad("1111111111111111111111111111111111111111111111111111111111111111111111", "too long");
	return tap_done();
}
