/* Unit tests of vmm/net/dns.c (the `.vm` responder's packet logic) and of
 * vmm/net/dns_server.c over a real loopback socket. */
#include "dns.h"
#include "dns_server.h"
#include "loop.h"
#include "util.h"

#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define TYPE_A 1
#define TYPE_MX 15
#define TYPE_AAAA 28
#define TYPE_OPT 41
#define TYPE_ANY 255
#define CLASS_IN 1
#define CLASS_CH 3

#define NOERROR 0
#define NXDOMAIN 3
#define REFUSED 5

static const uint8_t web_addr[4] = { 10, 0, 0, 5 };

static int lookups;
static char last_lookup[128];

/* VMs: "web" at 10.0.0.5, "noaddr" without an address. */
static int fake_lookup(void *ctx, const char *name, uint32_t *addr)
{
	(void)ctx;
	lookups++;
	snprintf(last_lookup, sizeof(last_lookup), "%s", name);
	if (strcmp(name, "web") == 0) {
		memcpy(addr, web_addr, sizeof(*addr));
		return 0;
	}
	return strcmp(name, "noaddr") == 0 ? 1 : -1;
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Wire form of a dotted name ("web.vm", "web.vm.", "." for the root). */
static uint8_t *put_name(uint8_t *p, const char *name)
{
	while (*name && strcmp(name, ".") != 0) {
		const char *dot = strchr(name, '.');
		size_t n = dot ? (size_t)(dot - name) : strlen(name);
		*p++ = (uint8_t)n;
		memcpy(p, name, n);
		p += n;
		name += n + (dot ? 1 : 0);
	}
	*p++ = 0;
	return p;
}

/* A standard query (RD set) for name, type, class; returns its length. */
static size_t make_query(uint8_t *buf, uint16_t id, const char *name, uint16_t type, uint16_t class)
{
	uint8_t *p = buf;

	p = put16(p, id);
	*p++ = 0x01;
	*p++ = 0x00;
	p = put16(p, 1);
	p = put16(p, 0);
	p = put16(p, 0);
	p = put16(p, 0);
	p = put_name(p, name);
	p = put16(p, type);
	p = put16(p, class);
	return (size_t)(p - buf);
}

/* Appends an OPT record (version, one option of opt_len zero bytes when
 * opt_len >= 0) and counts it in ARCOUNT; returns the new length. */
static size_t add_opt(uint8_t *buf, size_t len, uint8_t version, int opt_len)
{
	uint8_t *p = buf + len;
	uint16_t rdlen = opt_len >= 0 ? (uint16_t)(4 + opt_len) : 0;

	*p++ = 0;
	p = put16(p, TYPE_OPT);
	p = put16(p, 4096);
	*p++ = 0;
	*p++ = version;
	p = put16(p, 0x8000); /* DO */
	p = put16(p, rdlen);
	if (opt_len >= 0) {
		p = put16(p, 10); /* COOKIE */
		p = put16(p, (uint16_t)opt_len);
		memset(p, 0, (size_t)opt_len);
		p += opt_len;
	}
	put16(buf + 10, get16(buf + 10) + 1);
	return (size_t)(p - buf);
}

static uint8_t q[1024], r[1024];

static size_t answer(size_t len)
{
	return dns_answer(q, len, fake_lookup, NULL, r, sizeof(r));
}

static int rcode(void)
{
	return r[3] & 0x0f;
}

static bool authoritative(void)
{
	return r[2] & 0x04;
}

/* Checks the header of r against the query in q: ID, QR, RD, RA=0, one
 * question echoed byte for byte. */
static void check_header(size_t qlen, int want_rcode, int want_an, int want_ar, const char *what)
{
	size_t question_len = qlen - 12;

	tap_ok(get16(r) == get16(q), "%s: the ID is copied", what);
	tap_ok((r[2] & 0x80) && !(r[3] & 0x80) && (r[2] & 0x01) == (q[2] & 0x01), "%s: QR set, RD copied, RA clear",
	       what);
	is_int(rcode(), want_rcode, "rcode");
	tap_ok(get16(r + 4) == 1 && get16(r + 6) == want_an && get16(r + 8) == 0 && get16(r + 10) == want_ar,
	       "%s: counts 1/%d/0/%d", what, want_an, want_ar);
	tap_ok(memcmp(r + 12, q + 12, question_len) == 0, "%s: the question is echoed", what);
}

static void test_a_record(void)
{
	static const uint8_t want_answer[] = {
		0xc0, 0x0c, 0, TYPE_A, 0, CLASS_IN, 0, 0, 0, DNS_TTL, 0, 4, 10, 0, 0, 5
	};
	size_t len = make_query(q, 0xbeef, "web.vm", TYPE_A, CLASS_IN);
	size_t n;

	lookups = 0;
	n = answer(len);
	is_int(n, len + 16, "web.vm A: the question plus one 16-byte record");
	check_header(len, NOERROR, 1, 0, "web.vm A");
	tap_ok(authoritative(), "web.vm A: AA set");
	tap_ok(memcmp(r + len, want_answer, sizeof(want_answer)) == 0,
	       "web.vm A: pointer to the question, A IN, TTL %d, 10.0.0.5", DNS_TTL);
	is_int(lookups, 1, "one lookup");
	is_str(last_lookup, "web", "the lookup gets the bare label");

	q[2] = 0x00; /* RD clear */
	n = answer(len);
	tap_ok(n == len + 16 && r[2] == 0x84, "RD clear in the query: clear in the response");

	len = make_query(q, 7, "WeB.Vm", TYPE_A, CLASS_IN);
	n = answer(len);
	tap_ok(n == len + 16 && rcode() == NOERROR && memcmp(r + n - 4, web_addr, 4) == 0,
	       "WeB.Vm: mixed case answers");
	is_str(last_lookup, "web", "the lookup gets the name lower-cased");
	tap_ok(memcmp(r + 12, "\3WeB\2Vm", 7) == 0, "the question keeps its case (0x20 randomisation)");

	len = make_query(q, 8, "web.vm.", TYPE_A, CLASS_IN);
	n = answer(len);
	tap_ok(n == len + 16 && memcmp(r + n - 4, web_addr, 4) == 0, "web.vm. (trailing dot) answers");

	len = make_query(q, 9, "web.vm", TYPE_ANY, CLASS_IN);
	n = answer(len);
	tap_ok(n == len + 16 && get16(r + 6) == 1 && get16(r + len + 2) == TYPE_A, "ANY: the A record");
}

static void expect(const char *name, uint16_t type, uint16_t class, int want_rcode, bool want_aa, const char *what)
{
	size_t len = make_query(q, 0x4242, name, type, class);
	size_t n = answer(len);

	is_int(n, len, what);
	check_header(len, want_rcode, 0, 0, what);
	tap_ok(authoritative() == want_aa, "%s: AA %s", what, want_aa ? "set" : "clear");
}

static void test_no_answer(void)
{
	expect("web.vm", TYPE_AAAA, CLASS_IN, NOERROR, true, "web.vm AAAA is NODATA");
	expect("web.vm", TYPE_MX, CLASS_IN, NOERROR, true, "web.vm MX is NODATA");
	expect("noaddr.vm", TYPE_A, CLASS_IN, NOERROR, true, "a VM without an address is NODATA");
	expect("vm", TYPE_A, CLASS_IN, NOERROR, true, "the apex vm. is NODATA");
	expect("VM.", TYPE_AAAA, CLASS_IN, NOERROR, true, "the apex, upper case, is NODATA");
	expect("nosuch.vm", TYPE_A, CLASS_IN, NXDOMAIN, true, "an unknown VM is NXDOMAIN");
	expect("nosuch.vm", TYPE_AAAA, CLASS_IN, NXDOMAIN, true, "an unknown VM is NXDOMAIN for AAAA too");

	lookups = 0;
	expect("a.web.vm", TYPE_A, CLASS_IN, NXDOMAIN, true, "a.web.vm is NXDOMAIN");
	expect("web_1.vm", TYPE_A, CLASS_IN, NXDOMAIN, true, "an underscore is NXDOMAIN");
	expect("-web.vm", TYPE_A, CLASS_IN, NXDOMAIN, true, "a leading hyphen is NXDOMAIN");
	expect("web-.vm", TYPE_A, CLASS_IN, NXDOMAIN, true, "a trailing hyphen is NXDOMAIN");
	expect("w\xc3\xa9"
	       "b.vm",
	       TYPE_A, CLASS_IN, NXDOMAIN, true, "non-ASCII is NXDOMAIN");
	is_int(lookups, 0, "invalid names are never looked up");

	expect("example.com", TYPE_A, CLASS_IN, REFUSED, false, "example.com is REFUSED");
	expect("web.vm.example.com", TYPE_A, CLASS_IN, REFUSED, false, "web.vm.example.com is REFUSED");
	expect("web.vmx", TYPE_A, CLASS_IN, REFUSED, false, "web.vmx is REFUSED");
	expect(".", TYPE_A, CLASS_IN, REFUSED, false, "the root is REFUSED");
	expect("web.vm", TYPE_A, CLASS_CH, REFUSED, false, "class CH is REFUSED");
	expect("web.vm", TYPE_A, 255, REFUSED, false, "class ANY is REFUSED");
}

static void test_odd_labels(void)
{
	size_t len = make_query(q, 1, "xeb.vm", TYPE_A, CLASS_IN);
	char label63[64], name[80];

	q[13] = '\0'; /* "\0eb": a NUL inside a label */
	lookups = 0;
	is_int(answer(len), len, "a NUL byte in a label is answered");
	tap_ok(rcode() == NXDOMAIN && lookups == 0, "as NXDOMAIN, without a lookup");

	len = make_query(q, 1, "xeb.vm", TYPE_A, CLASS_IN);
	q[13] = '.'; /* one label ".eb", not two labels */
	is_int(answer(len), len, "a dot inside a label is answered");
	is_int(rcode(), NXDOMAIN, "as NXDOMAIN");

	memset(label63, 'a', 63);
	label63[63] = '\0';
	snprintf(name, sizeof(name), "%s.vm", label63);
	len = make_query(q, 1, name, TYPE_A, CLASS_IN);
	is_int(answer(len), len, "a 63-byte label is answered");
	tap_ok(rcode() == NXDOMAIN && strcmp(last_lookup, label63) == 0, "and looked up whole");

	len = make_query(q, 1, name, TYPE_A, CLASS_IN);
	q[12] = 64; /* label type 01: reserved */
	is_int(answer(len), 0, "a label length of 64 is dropped");
	q[12] = 0x80;
	is_int(answer(len), 0, "label type 10 is dropped");
}

static void test_long_names(void)
{
	char name[300];
	size_t len;

	/* 3 x 63-byte labels + 62 + "vm" is 255 wire bytes with the root */
	snprintf(name, sizeof(name), "%0*d.%0*d.%0*d.%0*d", 63, 1, 63, 2, 63, 3, 61, 4);
	len = make_query(q, 1, name, TYPE_A, CLASS_IN);
	is_int(len - 16, 255, "a 255-byte name");
	is_int(answer(len), len, "is answered");
	is_int(rcode(), REFUSED, "REFUSED (outside .vm)");

	snprintf(name, sizeof(name), "%0*d.%0*d.%0*d.%0*d", 63, 1, 63, 2, 63, 3, 62, 4);
	len = make_query(q, 1, name, TYPE_A, CLASS_IN);
	is_int(answer(len), 0, "a 256-byte name is dropped");
}

static void test_truncated(void)
{
	size_t len = make_query(q, 3, "web.vm", TYPE_A, CLASS_IN);
	bool all_dropped = true;

	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *copy = xcalloc(1, cut ? cut : 1); /* exact size, so ASan sees any over-read */
		memcpy(copy, q, cut);
		if (dns_answer(copy, cut, fake_lookup, NULL, r, sizeof(r)) != 0)
			all_dropped = false;
		free(copy);
	}
	tap_ok(all_dropped, "a query cut at any of its %zu lengths is dropped", len);

	len = add_opt(q, len, 0, 8);
	all_dropped = true;
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *copy = xcalloc(1, cut ? cut : 1);
		memcpy(copy, q, cut);
		if (dns_answer(copy, cut, fake_lookup, NULL, r, sizeof(r)) != 0)
			all_dropped = false;
		free(copy);
	}
	tap_ok(all_dropped, "a query with EDNS cut at any of its %zu lengths is dropped", len);
	is_int(dns_answer(NULL, 0, fake_lookup, NULL, r, sizeof(r)), 0, "an empty packet is dropped");

	len = make_query(q, 3, "web.vm", TYPE_A, CLASS_IN);
	q[len] = 0;
	is_int(answer(len + 1), 0, "a trailing byte after the question is dropped");
}

static void test_compression(void)
{
	static const uint8_t loop_self[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1 };
	static const uint8_t after_label[] = { 0, 1, 1,   0,   0,   1,    0,    0, 0, 0, 0,
					       0, 3, 'w', 'e', 'b', 0xc0, 0x0c, 0, 1, 0, 1 };
	static const uint8_t forward[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x12, 0, 1, 0, 1, 2, 'v', 'm', 0 };

	is_int(dns_answer(loop_self, sizeof(loop_self), fake_lookup, NULL, r, sizeof(r)), 0,
	       "a pointer to itself in the question is dropped");
	is_int(dns_answer(after_label, sizeof(after_label), fake_lookup, NULL, r, sizeof(r)), 0,
	       "a pointer after a label is dropped");
	is_int(dns_answer(forward, sizeof(forward), fake_lookup, NULL, r, sizeof(r)), 0,
	       "a pointer forward is dropped");
}

static void test_header_rules(void)
{
	size_t len = make_query(q, 3, "web.vm", TYPE_A, CLASS_IN);

	q[2] |= 0x80;
	is_int(answer(len), 0, "a response (QR=1) is dropped");
	q[2] = 0x01 | (4 << 3);
	is_int(answer(len), 0, "opcode NOTIFY is dropped");
	q[2] = 0x01 | (2 << 3);
	is_int(answer(len), 0, "opcode STATUS is dropped");
	q[2] = 0x01;
	q[3] = 0x30; /* AD and CD: harmless */
	is_int(answer(len), len + 16, "AD/CD bits in a query are ignored");

	put16(q + 4, 0);
	is_int(answer(len), 0, "qdcount 0 is dropped");
	put16(q + 4, 2);
	is_int(answer(len), 0, "qdcount 2 is dropped");
	put16(q + 4, 1);
	put16(q + 6, 1);
	is_int(answer(len), 0, "ancount 1 is dropped");
	put16(q + 6, 0);
	put16(q + 8, 1);
	is_int(answer(len), 0, "nscount 1 is dropped");
	put16(q + 8, 0);
	put16(q + 10, 1);
	is_int(answer(len), 0, "arcount 1 without a record is dropped");
	put16(q + 10, 0);
	is_int(answer(len), len + 16, "and the restored query is answered");
}

static void test_edns(void)
{
	static const uint8_t want_opt[] = { 0, 0, TYPE_OPT, 1232 >> 8, 1232 & 0xff, 0, 0, 0, 0, 0, 0 };
	size_t len = make_query(q, 5, "web.vm", TYPE_A, CLASS_IN);
	size_t base = len, n;

	len = add_opt(q, len, 0, -1);
	n = answer(len);
	is_int(n, base + 16 + 11, "EDNS: the A record plus an OPT record");
	check_header(base, NOERROR, 1, 1, "EDNS");
	tap_ok(memcmp(r + n - 11, want_opt, 11) == 0, "our OPT: size 1232, version 0, no DO");
	tap_ok(memcmp(r + n - 15, web_addr, 4) == 0, "the address precedes it");

	len = add_opt(q, base, 0, 8);
	put16(q + 10, 1);
	is_int(answer(len), base + 16 + 11, "EDNS with a cookie option is answered");

	len = make_query(q, 5, "web.vm", TYPE_AAAA, CLASS_IN);
	len = add_opt(q, len, 0, 0);
	tap_ok(answer(len) == len - 4 && rcode() == NOERROR && get16(r + 10) == 1, "EDNS NODATA carries the OPT");

	len = make_query(q, 5, "web.vm", TYPE_A, CLASS_IN);
	len = add_opt(q, len, 1, -1);
	n = answer(len);
	is_int(n, base + 11, "EDNS version 1 is answered");
	tap_ok(rcode() == NOERROR && get16(r + 6) == 0 && r[n - 6] == 1, "with BADVERS (extended rcode 1 in OPT)");

	len = add_opt(q, base, 0, 8);
	put16(q + 10, 1);
	put16(q + len - 10, 9); /* option longer than the data */
	is_int(answer(len), 0, "an option overrunning the OPT data is dropped");

	len = add_opt(q, base, 0, -1);
	put16(q + 10, 1);
	put16(q + base + 1, 1); /* an A record, not OPT */
	is_int(answer(len), 0, "an additional record other than OPT is dropped");

	len = add_opt(q, base, 0, -1);
	put16(q + 10, 1);
	q[base] = 1; /* owner not the root */
	is_int(answer(len), 0, "an OPT not owned by the root is dropped");

	len = add_opt(q, base, 0, -1);
	put16(q + 10, 1);
	len = add_opt(q, len, 0, -1);
	is_int(answer(len), 0, "two OPT records are dropped");
}

static void test_out_size(void)
{
	size_t len = make_query(q, 5, "web.vm", TYPE_A, CLASS_IN);

	is_int(dns_answer(q, len, fake_lookup, NULL, r, len + 15), 0, "a response one byte too big is not built");
	is_int(dns_answer(q, len, fake_lookup, NULL, r, len + 16), len + 16, "an exact fit is");
	is_int(dns_answer(q, len, fake_lookup, NULL, NULL, 0), 0, "no output buffer: nothing built");
}

/* --- a real round trip through dns_server on 127.0.0.1 --- */

#define BURST 100

struct client {
	struct loop *loop;
	int fd;
	int replies;
	bool ids_ok, first_ok;
	bool timed_out;
};

static void client_readable(void *data, int fd, uint32_t events)
{
	struct client *c = data;
	uint8_t buf[600];
	ssize_t n;

	(void)events;
	while ((n = recv(fd, buf, sizeof(buf), 0)) >= 0) {
		uint16_t id = n >= 12 ? get16(buf) : 0;
		if (id != c->replies + 1)
			c->ids_ok = false;
		if (id == 1)
			c->first_ok = n >= 16 && memcmp(buf + n - 4, web_addr, 4) == 0;
		if (++c->replies == BURST)
			loop_quit(c->loop);
	}
}

static void on_timeout(void *data)
{
	struct client *c = data;

	c->timed_out = true;
	loop_quit(c->loop);
}

static int udp_client(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Garbage, then BURST queries (more than one wakeup's batch): every query is
 * answered in order and the garbage is counted. */
static void test_server(void)
{
	struct loop *loop = NULL;
	struct dns_server *s = NULL, *second = NULL;
	struct client c = { .ids_ok = true };
	bgr_error err = { 0 };
	char want[128];
	int r;

	if (loop_new(&loop) < 0)
		abort();
	r = dns_server_open(loop, htonl(INADDR_LOOPBACK), 0, fake_lookup, NULL, &s, &err);
	is_int(r, 0, "dns_server_open on 127.0.0.1, any port");
	if (r < 0) {
		tap_ok(false, "%s", err.msg);
		loop_free(loop);
		return;
	}
	tap_ok(dns_server_port(s) != 0, "it reports its port (%u)", dns_server_port(s));

	c.loop = loop;
	c.fd = udp_client(dns_server_port(s));
	tap_ok(c.fd >= 0, "a client socket");
	(void)!send(c.fd, "garbage", 7, 0);
	for (int i = 1; i <= BURST; i++) {
		uint8_t query[64];
		size_t len = make_query(query, (uint16_t)i, i == 1 ? "web.vm" : "nosuch.vm", TYPE_A, CLASS_IN);
		(void)!send(c.fd, query, len, 0);
	}
	is_int(loop_add_fd(loop, c.fd, EPOLLIN, client_readable, &c), 0, "the client is watched");
	struct loop_timer *t = loop_timer_add(loop, 30000, on_timeout, &c); /* a bound, not a delay */
	is_int(loop_run(loop), 0, "the loop ran");
	loop_timer_cancel(loop, t);
	tap_ok(!c.timed_out, "no timeout");
	is_int(c.replies, BURST, "every query was answered");
	tap_ok(c.ids_ok, "in order, IDs matching");
	tap_ok(c.first_ok, "web.vm came back as 10.0.0.5");
	is_int((long long)dns_server_dropped(s), 1, "the garbage datagram was dropped and counted");

	r = dns_server_open(loop, htonl(INADDR_LOOPBACK), dns_server_port(s), fake_lookup, NULL, &second, &err);
	is_int(r, -EADDRINUSE, "a second server on the same port fails with EADDRINUSE");
	snprintf(want, sizeof(want), "dns: cannot bind 127.0.0.1:%u: %s", dns_server_port(s), strerror(EADDRINUSE));
	is_str(err.msg, want, "with a clear reason");
	tap_ok(second == NULL, "and returns no server");

	loop_del_fd(loop, c.fd);
	close(c.fd);
	dns_server_close(s);
	dns_server_close(NULL);
	loop_free(loop);
}

int main(void)
{
	test_a_record();
	test_no_answer();
	test_odd_labels();
	test_long_names();
	test_truncated();
	test_compression();
	test_header_rules();
	test_edns();
	test_out_size();
	test_server();
	return tap_done();
}
