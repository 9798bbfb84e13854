/* One line of vms/NAME/ports: "[tcp|udp ][BIND:]HOSTPORT[:GUESTPORT]", or
 * the same with a leading '-' to remove a rule. Pure text, no sockets. */
#ifndef BANGER_PORT_RULE_H
#define BANGER_PORT_RULE_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum port_proto { PORT_TCP, PORT_UDP };

struct port_rule {
	enum port_proto proto;
	char bind[16]; /* dotted IPv4; "127.0.0.1" unless given */
	uint16_t host_port;
	uint16_t guest_port; /* host_port unless given */
	bool guest_given;    /* the line named the guest port */
	bool remove;         /* the line started with '-' */
};

/* Parses one line (no newline; surrounding blanks allowed). EINVAL with
 * the reason for anything else. */
int port_rule_parse(const char *line, struct port_rule *ret, bgr_error *err);
const char *port_proto_name(enum port_proto p);
/* "tcp 127.0.0.1:8080 -> 80" */
void port_rule_format(const struct port_rule *r, char *buf, size_t size);
/* The same listening socket: proto, bind address and host port. */
bool port_rule_same_listener(const struct port_rule *a, const struct port_rule *b);

#endif
