/* A small pool of threads for slow work (disk copies, deletes, later ssh
 * handshakes). A job's work runs on a worker and touches nothing the loop
 * owns; its done callback runs on the loop thread. */
#ifndef BANGER_WORKERS_H
#define BANGER_WORKERS_H

struct loop;
struct workers;

typedef void (*work_fn)(void *data);

int workers_new(struct loop *loop, int threads, struct workers **ret);
/* Waits for queued jobs to finish, runs their done callbacks, stops. */
void workers_free(struct workers *w);
/* Queues work(data) on a worker, then done(data) on the loop (done may be
 * NULL). */
void workers_submit(struct workers *w, work_fn work, work_fn done, void *data);

#endif
