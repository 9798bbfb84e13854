#include "workers.h"
#include "loop.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

struct job {
	work_fn work, done;
	void *data;
	struct job *next;
};

struct workers {
	struct loop *loop;
	int nthreads;
	pthread_t *threads;
	int efd;              /* wakes the loop when jobs are done */
	pthread_mutex_t lock; /* guards the lists and stopping */
	pthread_cond_t cond;
	struct job *todo, *finished;
	bool stopping;
};

static void push(struct job **list, struct job *j)
{
	struct job **tail = list;

	while (*tail)
		tail = &(*tail)->next;
	j->next = NULL;
	*tail = j;
}

static void *worker_main(void *arg)
{
	struct workers *w = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->todo && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->todo)
			break;
		struct job *j = w->todo;
		w->todo = j->next;
		pthread_mutex_unlock(&w->lock);
		j->work(j->data);
		pthread_mutex_lock(&w->lock);
		push(&w->finished, j);
		(void)!write(w->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void run_finished(struct workers *w)
{
	struct job *j;

	pthread_mutex_lock(&w->lock);
	j = w->finished;
	w->finished = NULL;
	pthread_mutex_unlock(&w->lock);
	while (j) {
		struct job *next = j->next;
		if (j->done)
			j->done(j->data);
		free(j);
		j = next;
	}
}

static void efd_readable(void *data, int fd, uint32_t events)
{
	uint64_t n;

	(void)events;
	(void)!read(fd, &n, sizeof(n));
	run_finished(data);
}

int workers_new(struct loop *loop, int threads, struct workers **ret)
{
	struct workers *w = xcalloc(1, sizeof(*w));

	w->loop = loop;
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->threads = xcalloc((size_t)threads, sizeof(*w->threads));
	if (w->efd < 0 || loop_add_fd(loop, w->efd, EPOLLIN, efd_readable, w) < 0)
		goto fail;
	for (; w->nthreads < threads; w->nthreads++)
		if (pthread_create(&w->threads[w->nthreads], NULL, worker_main, w) != 0)
			goto fail;
	*ret = w;
	return 0;
fail:
	workers_free(w);
	return -EAGAIN;
}

void workers_free(struct workers *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (int i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	run_finished(w);
	if (w->efd >= 0) {
		loop_del_fd(w->loop, w->efd);
		close(w->efd);
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->threads);
	free(w);
}

void workers_submit(struct workers *w, work_fn work, work_fn done, void *data)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->work = work;
	j->done = done;
	j->data = data;
	pthread_mutex_lock(&w->lock);
	push(&w->todo, j);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}
