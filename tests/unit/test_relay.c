/* Unit tests of vmm/net/relay.c on a real loop and real loopback sockets:
 * a TCP relay carries a megabyte one way and an answer back, passes half
 * closes on, closes clients while there is no target; a UDP relay keeps a
 * flow per client; a taken port is EADDRINUSE. */
#include "relay.h"
#include "loop.h"

#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in guest;
static bool guest_up = true;

static int target(void *ctx, struct sockaddr_in *to)
{
	(void)ctx;
	if (!guest_up)
		return -EHOSTDOWN;
	*to = guest;
	return 0;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	getsockname(fd, (struct sockaddr *)&a, &len);
	return ntohs(a.sin_port);
}

static int local_socket(int type, bool listening)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, type | SOCK_NONBLOCK, 0);

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	if (listening)
		listen(fd, 8);
	return fd;
}

/* A port free right now (for the relay's listener). */
static uint16_t free_port(int type)
{
	int fd = local_socket(type, false);
	uint16_t p = bound_port(fd);

	close(fd);
	return p;
}

static int connect_to(int type, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(port) };
	int fd = socket(AF_INET, type, 0);

	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Runs the loop until fd accepts a connection (or ~5 s pass). */
static int accept_soon(struct loop *l, int fd)
{
	for (int i = 0; i < 500; i++) {
		int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK);
		if (c >= 0)
			return c;
		loop_run_once(l, 10);
	}
	return -1;
}

/* Reads from fd while running the loop until want bytes or EOF; returns the count. */
static size_t read_soon(struct loop *l, int fd, char *buf, size_t want, bool *eof)
{
	size_t got = 0;

	*eof = false;
	for (int i = 0; i < 2000 && got < want && !*eof; i++) {
		ssize_t n = recv(fd, buf + got, want - got, 0);
		if (n > 0)
			got += (size_t)n;
		else if (n == 0)
			*eof = true;
		else
			loop_run_once(l, 5);
	}
	return got;
}

static void test_tcp(struct loop *l)
{
	int gl = local_socket(SOCK_STREAM, true), client, g;
	uint16_t port = free_port(SOCK_STREAM);
	struct relay *r = NULL, *again = NULL;
	size_t size = 1 << 20, sent = 0, got = 0;
	char *out = malloc(size), *in = malloc(size), small[16];
	bool eof;
	bgr_error err;

	guest = (struct sockaddr_in){ .sin_family = AF_INET,
				      .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				      .sin_port = htons(bound_port(gl)) };
	for (size_t i = 0; i < size; i++)
		out[i] = (char)(i * 7 + i / 251);
	is_int(relay_open(l, PORT_TCP, "127.0.0.1", port, target, NULL, &r, &err), 0, "tcp relay opens");
	is_int(relay_open(l, PORT_TCP, "127.0.0.1", port, target, NULL, &again, &err), -EADDRINUSE,
	       "a second one on that port: EADDRINUSE");
	tap_ok(strstr(err.msg, "Address already in use") != NULL, "with a reason: %s", err.msg);
	client = connect_to(SOCK_STREAM, port);
	tap_ok(client >= 0, "a client connects");
	g = accept_soon(l, gl);
	tap_ok(g >= 0, "the relay connects to the guest");
	/* a megabyte client -> guest, while both sides move */
	for (int i = 0; i < 20000 && got < size; i++) {
		ssize_t n = sent < size ? send(client, out + sent, size - sent, MSG_NOSIGNAL) : 0;
		if (n > 0)
			sent += (size_t)n;
		n = recv(g, in + got, size - got, 0);
		if (n > 0)
			got += (size_t)n;
		loop_run_once(l, 1);
	}
	is_int((long long)got, (long long)size, "the guest got every byte");
	tap_ok(memcmp(in, out, size) == 0, "in order, unchanged");
	send(g, "pong", 4, 0);
	is_int((long long)read_soon(l, client, small, 4, &eof), 4, "the answer comes back");
	tap_ok(!memcmp(small, "pong", 4), "as sent");
	shutdown(client, SHUT_WR);
	read_soon(l, g, small, sizeof(small), &eof);
	tap_ok(eof, "the client's half close reaches the guest");
	send(g, "late", 4, 0);
	is_int((long long)read_soon(l, client, small, 4, &eof), 4, "the guest can still answer after it");
	close(g);
	read_soon(l, client, small, sizeof(small), &eof);
	tap_ok(eof, "the guest's close reaches the client");
	close(client);

	guest_up = false;
	client = connect_to(SOCK_STREAM, port);
	read_soon(l, client, small, sizeof(small), &eof);
	tap_ok(eof, "no target: the client is closed at once");
	close(client);
	guest_up = true;

	client = connect_to(SOCK_STREAM, port);
	g = accept_soon(l, gl);
	tap_ok(g >= 0, "another connection");
	relay_close(r);
	read_soon(l, client, small, sizeof(small), &eof);
	tap_ok(eof, "relay_close closes its connections");
	close(client);
	close(g);
	close(gl);
	free(in);
	free(out);
}

static void test_udp(struct loop *l)
{
	int gs = local_socket(SOCK_DGRAM, false), c1, c2;
	uint16_t port = free_port(SOCK_DGRAM);
	struct sockaddr_in from1, from2;
	socklen_t len;
	struct relay *r = NULL;
	char buf[32];
	bgr_error err;
	ssize_t n = -1;

	guest = (struct sockaddr_in){ .sin_family = AF_INET,
				      .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				      .sin_port = htons(bound_port(gs)) };
	is_int(relay_open(l, PORT_UDP, "127.0.0.1", port, target, NULL, &r, &err), 0, "udp relay opens");
	c1 = connect_to(SOCK_DGRAM, port);
	c2 = connect_to(SOCK_DGRAM, port);
	send(c1, "one", 3, 0);
	for (int i = 0; i < 500 && n < 0; i++) {
		loop_run_once(l, 10);
		len = sizeof(from1);
		n = recvfrom(gs, buf, sizeof(buf), 0, (struct sockaddr *)&from1, &len);
	}
	is_int(n, 3, "the guest gets client 1's datagram");
	send(c2, "two", 3, 0);
	n = -1;
	for (int i = 0; i < 500 && n < 0; i++) {
		loop_run_once(l, 10);
		len = sizeof(from2);
		n = recvfrom(gs, buf, sizeof(buf), 0, (struct sockaddr *)&from2, &len);
	}
	is_int(n, 3, "and client 2's");
	tap_ok(from1.sin_port != from2.sin_port, "from a flow each");
	sendto(gs, "to-2", 4, 0, (struct sockaddr *)&from2, sizeof(from2));
	sendto(gs, "to-1", 4, 0, (struct sockaddr *)&from1, sizeof(from1));
	n = -1;
	for (int i = 0; i < 500 && n < 0; i++) {
		loop_run_once(l, 10);
		n = recv(c1, buf, sizeof(buf), 0);
	}
	is_int(n, 4, "client 1 gets its answer");
	tap_ok(!memcmp(buf, "to-1", 4), "its own");
	n = -1;
	for (int i = 0; i < 500 && n < 0; i++) {
		n = recv(c2, buf, sizeof(buf), 0);
		loop_run_once(l, 10);
	}
	tap_ok(n == 4 && !memcmp(buf, "to-2", 4), "client 2 its own");
	relay_close(r);
	close(c1);
	close(c2);
	close(gs);
}

int main(void)
{
	struct loop *l;

	if (loop_new(&l) < 0)
		return 1;
	test_tcp(l);
	test_udp(l);
	loop_run_once(l, 0);
	loop_free(l);
	return tap_done();
}
