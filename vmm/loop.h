/* The event loop (epoll): the one thread that owns all mutable state. Every
 * fd, timer and child process is watched here; callbacks run on this thread. */
#ifndef BANGER_LOOP_H
#define BANGER_LOOP_H

#include <stdint.h>

struct loop;
struct loop_timer;

typedef void (*loop_fd_fn)(void *data, int fd, uint32_t events);
typedef void (*loop_timer_fn)(void *data);

int loop_new(struct loop **ret);
void loop_free(struct loop *l);

/* Watches fd for events (EPOLLIN...). One registration per fd. */
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *data);
int loop_mod_fd(struct loop *l, int fd, uint32_t events);
void loop_del_fd(struct loop *l, int fd);

/* A one-shot timer after ms milliseconds. Free it with loop_timer_cancel
 * (before or after it fired); cancelling NULL is a no-op. */
struct loop_timer *loop_timer_add(struct loop *l, long long ms, loop_timer_fn fn, void *data);
void loop_timer_cancel(struct loop *l, struct loop_timer *t);

/* Runs until loop_quit; returns 0 or -errno. */
int loop_run(struct loop *l);
/* One round: waits up to timeout_ms (-1: no limit) for events and runs
 * their callbacks. Returns how many fired, or -errno. Tests drive the loop
 * with it, step by step, until a condition holds. */
int loop_run_once(struct loop *l, int timeout_ms);
void loop_quit(struct loop *l);

#endif
