#include "loop.h"
#include "util.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

struct watch {
	int fd;
	loop_fd_fn fn;
	void *data;
	struct watch *next;
};

struct loop_timer {
	struct watch w; /* must stay first: the epoll cookie */
	loop_timer_fn fn;
	void *data;
	bool fired;
};

struct loop {
	int epfd;
	bool quit;
	struct watch *watches;
	/* Watches removed during a dispatch round are freed after it, so a
	 * callback can remove any fd, including ones with pending events. */
	struct watch *graveyard;
};

int loop_new(struct loop **ret)
{
	struct loop *l = xcalloc(1, sizeof(*l));

	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return -errno;
	}
	*ret = l;
	return 0;
}

static void bury_all(struct loop *l)
{
	while (l->graveyard) {
		struct watch *w = l->graveyard;
		l->graveyard = w->next;
		free(w);
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	while (l->watches) {
		struct watch *w = l->watches;
		l->watches = w->next;
		free(w);
	}
	bury_all(l);
	close(l->epfd);
	free(l);
}

static int add_watch(struct loop *l, struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
		return -errno;
	w->next = l->watches;
	l->watches = w;
	return 0;
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *data)
{
	struct watch *w = xcalloc(1, sizeof(*w));
	int r;

	*w = (struct watch){ .fd = fd, .fn = fn, .data = data };
	r = add_watch(l, w, events);
	if (r < 0)
		free(w);
	return r;
}

static struct watch *unlink_watch(struct loop *l, int fd)
{
	for (struct watch **p = &l->watches; *p; p = &(*p)->next) {
		if ((*p)->fd == fd) {
			struct watch *w = *p;
			*p = w->next;
			return w;
		}
	}
	return NULL;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
	for (struct watch *w = l->watches; w; w = w->next) {
		if (w->fd == fd) {
			struct epoll_event ev = { .events = events, .data.ptr = w };
			return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
		}
	}
	return -ENOENT;
}

void loop_del_fd(struct loop *l, int fd)
{
	struct watch *w = unlink_watch(l, fd);

	if (!w)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	w->fn = NULL;
	w->next = l->graveyard;
	l->graveyard = w;
}

static void timer_fired(void *data, int fd, uint32_t events)
{
	struct loop_timer *t = data;
	uint64_t n;

	(void)events;
	(void)!read(fd, &n, sizeof(n));
	if (t->fired)
		return;
	t->fired = true;
	t->fn(t->data);
}

struct loop_timer *loop_timer_add(struct loop *l, long long ms, loop_timer_fn fn, void *data)
{
	struct loop_timer *t = xcalloc(1, sizeof(*t));
	struct itimerspec its = { .it_value = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 } };
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (ms <= 0)
		its.it_value.tv_nsec = 1;
	if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) < 0)
		abort(); /* only fails when out of fds or memory */
	t->fn = fn;
	t->data = data;
	t->w = (struct watch){ .fd = fd, .fn = timer_fired, .data = t };
	if (add_watch(l, &t->w, EPOLLIN) < 0)
		abort();
	return t;
}

void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
	if (!t)
		return;
	unlink_watch(l, t->w.fd);
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, t->w.fd, NULL);
	close(t->w.fd);
	t->w.fn = NULL;
	t->w.next = l->graveyard;
	l->graveyard = &t->w;
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event evs[32];
	int n = epoll_wait(l->epfd, evs, ARRAY_SIZE(evs), timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct watch *w = evs[i].data.ptr;
		if (w->fn)
			w->fn(w->data, w->fd, evs[i].events);
	}
	bury_all(l);
	return n;
}

int loop_run(struct loop *l)
{
	while (!l->quit) {
		int r = loop_run_once(l, -1);
		if (r < 0)
			return r;
	}
	return 0;
}

void loop_quit(struct loop *l)
{
	l->quit = true;
}
