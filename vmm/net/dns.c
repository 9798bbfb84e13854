/* The `.vm` zone that bangerd answers on the bridge address:
 *
 *   NAME.vm, type A or ANY   one A record, TTL DNS_TTL, when VM NAME has an
 *                            IPv4 address
 *   NAME.vm, other types     NOERROR with no answer (NODATA); also for a VM
 *                            that has no address yet
 *   vm (the apex)            NODATA for every type
 *   unknown or invalid NAME, or more labels (a.b.vm)   NXDOMAIN
 *   outside .vm, or a class other than IN              REFUSED (no recursion)
 *
 * Names match case-insensitively, and the question is echoed byte for byte,
 * so a resolver's 0x20 case randomisation survives. No SOA is sent, so
 * NXDOMAIN and NODATA are not cached (RFC 2308, section 5) and a new VM
 * resolves at once. An EDNS OPT record in the query is tolerated and
 * answered with ours (version 0; a query of another version gets BADVERS),
 * which keeps resolvers such as systemd-resolved from downgrading.
 *
 * The parser is strict: a guest may send anything, and whatever it does not
 * fully understand is dropped, not answered. */
#include "dns.h"
#include "validate.h"

#include <stdbool.h>
#include <string.h>

#define HEADER_SIZE 12
#define LABEL_MAX 63
#define NAME_WIRE_MAX 255
#define A_RECORD_SIZE 16  /* pointer, type, class, ttl, rdlength, address */
#define OPT_FIXED_SIZE 11 /* root name, type, size, ttl, rdlength */

/* header byte 2 */
#define FLAG_QR 0x80
#define FLAG_OPCODE 0x78
#define FLAG_AA 0x04
#define FLAG_RD 0x01

#define TYPE_A 1
#define TYPE_OPT 41
#define TYPE_ANY 255
#define CLASS_IN 1

#define RCODE_NOERROR 0
#define RCODE_NXDOMAIN 3
#define RCODE_REFUSED 5
/* BADVERS is rcode 16: its upper 8 bits go in the OPT record, 0 in the header */
#define EXT_RCODE_BADVERS 1
#define EDNS_UDP_SIZE 1232
/* compression pointer to the question's name, right after the header */
#define NAME_POINTER_QUESTION 0xc00c

struct question {
	size_t end; /* offset just past QCLASS */
	unsigned labels;
	const uint8_t *first, *last; /* the first and last labels, without length */
	size_t first_len, last_len;
	uint16_t qtype, qclass;
};

struct query {
	uint16_t id;
	bool rd;
	struct question q;
	bool edns;
	uint8_t edns_version;
};

enum outcome { OUT_REFUSED, OUT_NXDOMAIN, OUT_NODATA, OUT_ADDRESS, OUT_BADVERS };

static const struct {
	uint8_t rcode;
	bool authoritative;
} outcome_header[] = {
	[OUT_REFUSED] = { RCODE_REFUSED, false }, [OUT_NXDOMAIN] = { RCODE_NXDOMAIN, true },
	[OUT_NODATA] = { RCODE_NOERROR, true },   [OUT_ADDRESS] = { RCODE_NOERROR, true },
	[OUT_BADVERS] = { RCODE_NOERROR, false },
};

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint8_t *put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t ascii_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

/* QNAME, QTYPE, QCLASS after the header. Labels only: a compression pointer
 * (first bits 11) or a reserved label type (01, 10) drops the packet. */
static bool parse_question(const uint8_t *pkt, size_t len, struct question *q)
{
	size_t off = HEADER_SIZE;

	*q = (struct question){ 0 };
	for (;;) {
		if (off >= len)
			return false;
		uint8_t n = pkt[off];
		if (n == 0)
			break;
		if (n > LABEL_MAX || len - off - 1 < n)
			return false;
		if (q->labels++ == 0) {
			q->first = pkt + off + 1;
			q->first_len = n;
		}
		q->last = pkt + off + 1;
		q->last_len = n;
		off += 1 + (size_t)n;
		if (off - HEADER_SIZE >= NAME_WIRE_MAX) /* no room left for the root */
			return false;
	}
	off++;
	if (len - off < 4)
		return false;
	q->qtype = get_u16(pkt + off);
	q->qclass = get_u16(pkt + off + 2);
	q->end = off + 4;
	return true;
}

/* The one additional record allowed: an EDNS OPT that ends the packet, its
 * options framed within its data. */
static bool parse_opt(const uint8_t *pkt, size_t len, size_t off, struct query *qr)
{
	if (len - off < OPT_FIXED_SIZE)
		return false;
	if (pkt[off] != 0 || get_u16(pkt + off + 1) != TYPE_OPT)
		return false;
	qr->edns = true;
	qr->edns_version = pkt[off + 6];
	size_t rdlen = get_u16(pkt + off + 9);
	off += OPT_FIXED_SIZE;
	if (len - off != rdlen)
		return false;
	while (off < len) { /* option code, length, data */
		if (len - off < 4)
			return false;
		size_t opt_len = get_u16(pkt + off + 2);
		if (len - off - 4 < opt_len)
			return false;
		off += 4 + opt_len;
	}
	return true;
}

static bool parse_query(const uint8_t *pkt, size_t len, struct query *qr)
{
	if (len < HEADER_SIZE)
		return false;
	if (pkt[2] & (FLAG_QR | FLAG_OPCODE))
		return false;
	if (get_u16(pkt + 4) != 1 || get_u16(pkt + 6) != 0 || get_u16(pkt + 8) != 0)
		return false;
	uint16_t arcount = get_u16(pkt + 10);
	if (arcount > 1)
		return false;
	*qr = (struct query){ .id = get_u16(pkt), .rd = pkt[2] & FLAG_RD };
	if (!parse_question(pkt, len, &qr->q))
		return false;
	if (arcount == 0)
		return qr->q.end == len;
	return parse_opt(pkt, len, qr->q.end, qr);
}

static bool label_equals(const uint8_t *label, size_t len, const char *lower)
{
	if (len != strlen(lower))
		return false;
	for (size_t i = 0; i < len; i++)
		if (ascii_lower(label[i]) != (uint8_t)lower[i])
			return false;
	return true;
}

/* Lower-cases a label into name; false unless it is a valid VM name. */
static bool vm_name_from_label(const uint8_t *label, size_t len, char name[static LABEL_MAX + 1])
{
	for (size_t i = 0; i < len; i++) {
		if (label[i] == '\0')
			return false;
		name[i] = (char)ascii_lower(label[i]);
	}
	name[len] = '\0';
	return vm_name_valid(name);
}

static enum outcome classify(const struct query *qr, dns_lookup_fn lookup, void *ctx, uint32_t *addr)
{
	const struct question *q = &qr->q;
	char name[LABEL_MAX + 1];

	if (qr->edns && qr->edns_version != 0)
		return OUT_BADVERS;
	if (q->qclass != CLASS_IN || q->labels == 0 || !label_equals(q->last, q->last_len, "vm"))
		return OUT_REFUSED;
	if (q->labels == 1)
		return OUT_NODATA;
	if (q->labels > 2 || !vm_name_from_label(q->first, q->first_len, name))
		return OUT_NXDOMAIN;
	int r = lookup(ctx, name, addr);
	if (r < 0)
		return OUT_NXDOMAIN;
	if (r > 0 || (q->qtype != TYPE_A && q->qtype != TYPE_ANY))
		return OUT_NODATA;
	return OUT_ADDRESS;
}

static uint8_t *put_a_record(uint8_t *p, uint32_t addr)
{
	p = put_u16(p, NAME_POINTER_QUESTION);
	p = put_u16(p, TYPE_A);
	p = put_u16(p, CLASS_IN);
	p = put_u16(p, 0);
	p = put_u16(p, DNS_TTL);
	p = put_u16(p, sizeof(addr));
	memcpy(p, &addr, sizeof(addr)); /* already in network byte order */
	return p + sizeof(addr);
}

static uint8_t *put_opt_record(uint8_t *p, uint8_t ext_rcode)
{
	*p++ = 0; /* root */
	p = put_u16(p, TYPE_OPT);
	p = put_u16(p, EDNS_UDP_SIZE);
	*p++ = ext_rcode;
	*p++ = 0;          /* version */
	p = put_u16(p, 0); /* flags: no DO, we do not sign */
	return put_u16(p, 0);
}

static size_t write_response(const uint8_t *pkt, const struct query *qr, enum outcome o, uint32_t addr, uint8_t *out,
			     size_t out_size)
{
	size_t question_len = qr->q.end - HEADER_SIZE;
	bool answer = o == OUT_ADDRESS;
	size_t need = HEADER_SIZE + question_len + (answer ? A_RECORD_SIZE : 0) + (qr->edns ? OPT_FIXED_SIZE : 0);
	uint8_t *p = out;

	if (need > out_size)
		return 0;
	p = put_u16(p, qr->id);
	*p++ = FLAG_QR | (outcome_header[o].authoritative ? FLAG_AA : 0) | (qr->rd ? FLAG_RD : 0);
	*p++ = outcome_header[o].rcode;
	p = put_u16(p, 1);
	p = put_u16(p, answer);
	p = put_u16(p, 0);
	p = put_u16(p, qr->edns);
	memcpy(p, pkt + HEADER_SIZE, question_len);
	p += question_len;
	if (answer)
		p = put_a_record(p, addr);
	if (qr->edns)
		p = put_opt_record(p, o == OUT_BADVERS ? EXT_RCODE_BADVERS : 0);
	return (size_t)(p - out);
}

size_t dns_answer(const uint8_t *query, size_t len, dns_lookup_fn lookup, void *ctx, uint8_t *out, size_t out_size)
{
	struct query qr;
	uint32_t addr = 0;

	if (!parse_query(query, len, &qr))
		return 0;
	enum outcome o = classify(&qr, lookup, ctx, &addr);
	return write_response(query, &qr, o, addr, out, out_size);
}
