#include "port_rule.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_BIND "127.0.0.1"
#define LINE_MAX_LEN 64

const char *port_proto_name(enum port_proto p)
{
	return p == PORT_UDP ? "udp" : "tcp";
}

/* A port 1..65535 in decimal, nothing else. */
static int parse_port(const char *s, const char *what, uint16_t *ret, bgr_error *err)
{
	unsigned long v = 0;

	if (!*s)
		return bgr_fail(err, EINVAL, "%s port missing", what);
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return bgr_fail(err, EINVAL, "%s port '%.16s' is not a number", what, s);
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return bgr_fail(err, EINVAL, "%s port '%.16s' is out of range (1-65535)", what, s);
	}
	if (v == 0)
		return bgr_fail(err, EINVAL, "%s port 0 is not a port (1-65535)", what);
	*ret = (uint16_t)v;
	return 0;
}

static int parse_bind(const char *s, char out[16], bgr_error *err)
{
	struct in_addr a;

	if (strlen(s) > 15 || inet_pton(AF_INET, s, &a) != 1)
		return bgr_fail(err, EINVAL, "bind address '%.32s' is not an IPv4 address like 127.0.0.1", s);
	inet_ntop(AF_INET, &a, out, 16);
	return 0;
}

int port_rule_parse(const char *line, struct port_rule *ret, bgr_error *err)
{
	char buf[LINE_MAX_LEN + 1], *p, *fields[3];
	struct port_rule r = { .proto = PORT_TCP };
	size_t n = 0, len;
	int rc;

	while (isblank((unsigned char)*line))
		line++;
	len = strlen(line);
	while (len && isblank((unsigned char)line[len - 1]))
		len--;
	if (len == 0)
		return bgr_fail(err, EINVAL, "empty rule: want [tcp|udp ][BIND:]HOSTPORT[:GUESTPORT], e.g. 8080");
	if (len > LINE_MAX_LEN)
		return bgr_fail(err, EINVAL, "rule '%.24s...' is too long (%d characters at most)", line, LINE_MAX_LEN);
	memcpy(buf, line, len);
	buf[len] = '\0';
	p = buf;
	if (*p == '-') {
		r.remove = true;
		p++;
	}
	if (!strncmp(p, "tcp", 3) && isblank((unsigned char)p[3])) {
		p += 3;
	} else if (!strncmp(p, "udp", 3) && isblank((unsigned char)p[3])) {
		r.proto = PORT_UDP;
		p += 3;
	}
	while (isblank((unsigned char)*p))
		p++;
	for (char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q) && *q != '.' && *q != ':')
			return bgr_fail(err, EINVAL,
					"rule '%s': unexpected '%c'; want [tcp|udp ][BIND:]HOSTPORT[:GUESTPORT], e.g. "
					"'udp 127.0.0.1:5353:53'",
					buf, isprint((unsigned char)*q) ? *q : '?');
	fields[n++] = p;
	for (char *q = p; *q; q++) {
		if (*q != ':')
			continue;
		if (n == 3)
			return bgr_fail(err, EINVAL, "rule '%s': too many ':' (want [BIND:]HOSTPORT[:GUESTPORT])", buf);
		*q = '\0';
		fields[n++] = q + 1;
	}
	/* BIND:HOST:GUEST, BIND:HOST or HOST:GUEST (an address has dots), HOST */
	bool has_bind = n == 3 || (n == 2 && strchr(fields[0], '.'));
	size_t i = 0;
	snprintf(r.bind, sizeof(r.bind), "%s", DEFAULT_BIND);
	if (has_bind && (rc = parse_bind(fields[i++], r.bind, err)) < 0)
		return rc;
	if ((rc = parse_port(fields[i++], "host", &r.host_port, err)) < 0)
		return rc;
	r.guest_port = r.host_port;
	if (i < n) {
		if ((rc = parse_port(fields[i++], "guest", &r.guest_port, err)) < 0)
			return rc;
		r.guest_given = true;
	}
	*ret = r;
	return 0;
}

void port_rule_format(const struct port_rule *r, char *buf, size_t size)
{
	snprintf(buf, size, "%s %s:%u -> %u", port_proto_name(r->proto), r->bind, r->host_port, r->guest_port);
}

bool port_rule_same_listener(const struct port_rule *a, const struct port_rule *b)
{
	return a->proto == b->proto && a->host_port == b->host_port && !strcmp(a->bind, b->bind);
}
