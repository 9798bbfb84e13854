#include "relay.h"
#include "loop.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define TCP_BUF 16384
#define MAX_CONNS 256 /* per listener: a flood cannot take all of bangerd's fds */
#define MAX_FLOWS 256
#define ACCEPTS_PER_EVENT 16
#define UDP_IDLE_MS 60000
#define UDP_MAX 65536

/* One direction of a TCP connection: read from one side, written to the other. */
struct half {
	char buf[TCP_BUF];
	size_t off, len;
	bool eof;  /* the reading side said it sends no more */
	bool shut; /* ... and that was passed on with shutdown(SHUT_WR) */
};

struct conn {
	struct relay *r;
	int fd[2];          /* 0: the client, 1: the guest's side */
	bool connecting;    /* fd[1]'s connect is in progress */
	struct half dir[2]; /* dir[i] carries fd[i]'s bytes to fd[1 - i] */
	struct conn *next;
};

struct flow {
	struct relay *r;
	int fd; /* connected to the target */
	struct sockaddr_in client;
	long long last_ms;
	struct flow *next;
};

struct relay {
	struct loop *loop;
	enum port_proto proto;
	int fd;
	relay_target_fn target;
	void *ctx;
	struct conn *conns;
	struct flow *flows;
	size_t n_conns, n_flows;
	struct loop_timer *expiry;
};

static void conn_close(struct conn *c)
{
	struct relay *r = c->r;

	for (struct conn **p = &r->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	r->n_conns--;
	for (int i = 0; i < 2; i++) {
		loop_del_fd(r->loop, c->fd[i]);
		close(c->fd[i]);
	}
	free(c);
}

/* Moves what can be moved both ways until nothing moves (the fds are
 * edge-triggered: every side is tried again after any progress). */
static void conn_pump(struct conn *c)
{
	bool progress;

	do {
		progress = false;
		for (int d = 0; d < 2; d++) {
			struct half *h = &c->dir[d];
			int from = c->fd[d], to = c->fd[1 - d];
			bool can_read = !(d == 1 && c->connecting), can_write = !(d == 0 && c->connecting);
			ssize_t n;

			if (can_read && !h->eof && h->len == 0) {
				n = recv(from, h->buf, sizeof(h->buf), 0);
				if (n > 0) {
					h->off = 0;
					h->len = (size_t)n;
					progress = true;
				} else if (n == 0) {
					h->eof = progress = true;
				} else if (errno != EAGAIN && errno != EINTR) {
					conn_close(c);
					return;
				}
			}
			if (can_write && h->len > h->off) {
				n = send(to, h->buf + h->off, h->len - h->off, MSG_NOSIGNAL);
				if (n > 0) {
					h->off += (size_t)n;
					if (h->off == h->len)
						h->off = h->len = 0;
					progress = true;
				} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
					conn_close(c);
					return;
				}
			}
			if (can_write && h->eof && h->len == 0 && !h->shut) {
				shutdown(to, SHUT_WR);
				h->shut = true;
			}
		}
	} while (progress);
	if (c->dir[0].shut && c->dir[1].shut)
		conn_close(c);
}

static void conn_event(void *data, int fd, uint32_t events)
{
	struct conn *c = data;

	if (c->connecting && fd == c->fd[1]) {
		int e = 0;
		socklen_t len = sizeof(e);
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0 || e != 0) {
			conn_close(c); /* refused: nothing listens on the guest's port */
			return;
		}
		c->connecting = false;
	}
	conn_pump(c);
}

static void conn_start(struct relay *r, int client)
{
	struct sockaddr_in to;
	struct conn *c;
	int up;

	if (r->n_conns >= MAX_CONNS || r->target(r->ctx, &to) < 0) {
		close(client);
		return;
	}
	up = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (up < 0) {
		close(client);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	*c = (struct conn){ .r = r, .fd = { client, up }, .connecting = true };
	if (connect(up, (struct sockaddr *)&to, sizeof(to)) == 0)
		c->connecting = false;
	else if (errno != EINPROGRESS) {
		close(client);
		close(up);
		free(c);
		return;
	}
	uint32_t ev = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	if (loop_add_fd(r->loop, client, ev, conn_event, c) < 0) {
		close(client);
		close(up);
		free(c);
		return;
	}
	if (loop_add_fd(r->loop, up, ev, conn_event, c) < 0) {
		loop_del_fd(r->loop, client);
		close(client);
		close(up);
		free(c);
		return;
	}
	c->next = r->conns;
	r->conns = c;
	r->n_conns++;
}

static void tcp_accept(void *data, int fd, uint32_t events)
{
	struct relay *r = data;

	(void)events;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		int client = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (client < 0)
			return; /* EAGAIN, or a client gone before we took it */
		conn_start(r, client);
	}
}

static void flow_close(struct flow *f)
{
	struct relay *r = f->r;

	for (struct flow **p = &r->flows; *p; p = &(*p)->next)
		if (*p == f) {
			*p = f->next;
			break;
		}
	r->n_flows--;
	loop_del_fd(r->loop, f->fd);
	close(f->fd);
	free(f);
}

static char udp_buf[UDP_MAX]; /* the loop is one thread */

/* The guest answered a flow: back to its client, from the listener's address. */
static void flow_readable(void *data, int fd, uint32_t events)
{
	struct flow *f = data;

	(void)events;
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(fd, udp_buf, sizeof(udp_buf), 0);
		if (n < 0)
			return; /* EAGAIN, or the guest's ICMP unreachable: the flow stays */
		f->last_ms = now_mono_ms();
		(void)!sendto(f->r->fd, udp_buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&f->client,
			      sizeof(f->client));
	}
}

static void expire_flows(void *data)
{
	struct relay *r = data;
	long long now = now_mono_ms();

	loop_timer_cancel(r->loop, r->expiry);
	r->expiry = NULL;
	for (struct flow *f = r->flows, *next; f; f = next) {
		next = f->next;
		if (now - f->last_ms >= UDP_IDLE_MS)
			flow_close(f);
	}
	if (r->flows)
		r->expiry = loop_timer_add(r->loop, UDP_IDLE_MS / 2, expire_flows, r);
}

static struct flow *flow_for(struct relay *r, const struct sockaddr_in *client)
{
	struct sockaddr_in to;
	struct flow *f;
	int fd;

	for (f = r->flows; f; f = f->next)
		if (f->client.sin_addr.s_addr == client->sin_addr.s_addr && f->client.sin_port == client->sin_port)
			return f;
	if (r->n_flows >= MAX_FLOWS || r->target(r->ctx, &to) < 0)
		return NULL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		close(fd);
		return NULL;
	}
	f = xcalloc(1, sizeof(*f));
	*f = (struct flow){ .r = r, .fd = fd, .client = *client };
	if (loop_add_fd(r->loop, fd, EPOLLIN, flow_readable, f) < 0) {
		close(fd);
		free(f);
		return NULL;
	}
	f->next = r->flows;
	r->flows = f;
	r->n_flows++;
	if (!r->expiry)
		r->expiry = loop_timer_add(r->loop, UDP_IDLE_MS / 2, expire_flows, r);
	return f;
}

static void udp_readable(void *data, int fd, uint32_t events)
{
	struct relay *r = data;

	(void)events;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_in client;
		socklen_t len = sizeof(client);
		ssize_t n = recvfrom(fd, udp_buf, sizeof(udp_buf), 0, (struct sockaddr *)&client, &len);
		struct flow *f;

		if (n < 0)
			return;
		if (len != sizeof(client) || !(f = flow_for(r, &client)))
			continue; /* nowhere to go: dropped, as a datagram may be */
		f->last_ms = now_mono_ms();
		(void)!send(f->fd, udp_buf, (size_t)n, MSG_DONTWAIT);
	}
}

int relay_open(struct loop *loop, enum port_proto proto, const char *bind_addr, uint16_t port, relay_target_fn target,
	       void *ctx, struct relay **ret, bgr_error *err)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	bool tcp = proto == PORT_TCP;
	_cleanup_close_ int fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct relay *r;
	int one = 1;

	if (fd < 0)
		return bgr_fail(err, errno, "cannot make a socket: %s", strerror(errno));
	if (inet_pton(AF_INET, bind_addr, &a.sin_addr) != 1)
		return bgr_fail(err, EINVAL, "bad bind address '%s'", bind_addr);
	/* TIME_WAIT of our own old connections must not block a rebind;
	 * another listener on the port still does (no SO_REUSEPORT) */
	if (tcp)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		return bgr_fail(err, e, "cannot bind %s %s:%u: %s%s", port_proto_name(proto), bind_addr, port,
				strerror(e), e == EADDRINUSE ? " (another program or rule holds it)" : "");
	}
	if (tcp && listen(fd, 64) < 0)
		return bgr_fail(err, errno, "cannot listen on %s:%u: %s", bind_addr, port, strerror(errno));
	r = xcalloc(1, sizeof(*r));
	*r = (struct relay){ .loop = loop, .proto = proto, .fd = fd, .target = target, .ctx = ctx };
	if (loop_add_fd(loop, fd, EPOLLIN, tcp ? tcp_accept : udp_readable, r) < 0) {
		free(r);
		return bgr_fail(err, EIO, "cannot watch %s:%u", bind_addr, port);
	}
	steal_fd(&fd);
	*ret = r;
	return 0;
}

void relay_drop_clients(struct relay *r)
{
	if (!r)
		return;
	while (r->conns)
		conn_close(r->conns);
	while (r->flows)
		flow_close(r->flows);
	loop_timer_cancel(r->loop, r->expiry);
	r->expiry = NULL;
}

void relay_close(struct relay *r)
{
	if (!r)
		return;
	relay_drop_clients(r);
	loop_del_fd(r->loop, r->fd);
	close(r->fd);
	free(r);
}
