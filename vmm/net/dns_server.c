/* The `.vm` responder's socket: one nonblocking UDP socket on the bridge
 * address, read on the loop thread, answered in place. */
#include "dns_server.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

/* A query is a header, a name of at most 255 bytes and an OPT record; this
 * (the usual EDNS buffer size) leaves room for padding options. A longer
 * datagram is dropped: MSG_TRUNC makes recvfrom report its full size. */
#define QUERY_MAX 1232
/* Datagrams served per wakeup. epoll is level-triggered, so the rest are
 * served on the next round, and a guest flooding port 53 cannot starve the
 * other fds (FUSE first of all). */
#define BATCH_MAX 64

struct dns_server {
	struct loop *loop;
	int fd;
	uint16_t port;
	dns_lookup_fn lookup;
	void *ctx;
	uint64_t dropped;
};

/* Answers one datagram; false when nothing was read (none left, or an
 * error, which level-triggered epoll reports again if datagrams remain). */
static bool serve_one(struct dns_server *s)
{
	uint8_t query[QUERY_MAX], response[DNS_RESPONSE_MAX];
	struct sockaddr_in peer;
	socklen_t peer_len = sizeof(peer);
	size_t out = 0;
	ssize_t n;

	do
		n = recvfrom(s->fd, query, sizeof(query), MSG_TRUNC, (struct sockaddr *)&peer, &peer_len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return false;
	bool answerable = (size_t)n <= sizeof(query) && peer_len == sizeof(peer) && peer.sin_port != 0;
	if (answerable)
		out = dns_answer(query, (size_t)n, s->lookup, s->ctx, response, sizeof(response));
	if (out == 0) {
		s->dropped++;
		return true;
	}
	/* UDP: when the send buffer is full the client asks again */
	(void)sendto(s->fd, response, out, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&peer, peer_len);
	return true;
}

static void on_readable(void *data, int fd, uint32_t events)
{
	struct dns_server *s = data;

	(void)fd;
	(void)events;
	for (int i = 0; i < BATCH_MAX; i++)
		if (!serve_one(s))
			break;
}

static void format_endpoint(uint32_t addr, uint16_t port, char *out, size_t size)
{
	char ip[INET_ADDRSTRLEN];
	struct in_addr in = { .s_addr = addr };

	if (!inet_ntop(AF_INET, &in, ip, sizeof(ip)))
		strcpy(ip, "?");
	snprintf(out, size, "%s:%u", ip, (unsigned)port);
}

/* A bound, nonblocking UDP socket; its actual port in *ret_port. */
static int bind_udp(uint32_t addr, uint16_t port, uint16_t *ret_port, bgr_error *err)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = addr };
	socklen_t sa_len = sizeof(sa);
	char where[INET_ADDRSTRLEN + 8];
	_cleanup_close_ int fd = -1;

	format_endpoint(addr, port, where, sizeof(where));
	/* no SO_REUSEADDR: a second daemon on the same address must fail, not
	 * silently share the queries */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return bgr_fail(err, errno, "dns: cannot create a UDP socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return bgr_fail(err, errno, "dns: cannot bind %s: %s", where, strerror(errno));
	if (getsockname(fd, (struct sockaddr *)&sa, &sa_len) < 0)
		return bgr_fail(err, errno, "dns: cannot read the address of %s: %s", where, strerror(errno));
	*ret_port = ntohs(sa.sin_port);
	return steal_fd(&fd);
}

int dns_server_open(struct loop *loop, uint32_t addr, uint16_t port, dns_lookup_fn lookup, void *ctx,
		    struct dns_server **ret, bgr_error *err)
{
	uint16_t bound_port = 0;
	int fd = bind_udp(addr, port, &bound_port, err);
	int r;

	if (fd < 0)
		return fd;
	struct dns_server *s = xcalloc(1, sizeof(*s));
	*s = (struct dns_server){ .loop = loop, .fd = fd, .port = bound_port, .lookup = lookup, .ctx = ctx };
	r = loop_add_fd(loop, fd, EPOLLIN, on_readable, s);
	if (r < 0) {
		close(fd);
		free(s);
		return bgr_fail(err, -r, "dns: cannot watch the socket: %s", strerror(-r));
	}
	*ret = s;
	return 0;
}

uint16_t dns_server_port(const struct dns_server *s)
{
	return s->port;
}

uint64_t dns_server_dropped(const struct dns_server *s)
{
	return s->dropped;
}

void dns_server_close(struct dns_server *s)
{
	if (!s)
		return;
	loop_del_fd(s->loop, s->fd);
	close(s->fd);
	free(s);
}
