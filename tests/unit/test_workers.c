/* Unit tests of vmm/core/workers.c: work runs off the loop thread, done runs on
 * it, every job completes, and freeing the pool finishes queued jobs. */
#include "loop.h"
#include "workers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

#define JOBS 100

static pthread_t loop_thread;
static atomic_int worked, work_on_loop;
static int done, done_off_loop;
static struct loop *loop;

static void work(void *data)
{
	(void)data;
	if (pthread_equal(pthread_self(), loop_thread))
		atomic_fetch_add(&work_on_loop, 1);
	usleep(1000);
	atomic_fetch_add(&worked, 1);
}

static void on_done(void *data)
{
	(void)data;
	if (!pthread_equal(pthread_self(), loop_thread))
		done_off_loop++;
	if (++done == JOBS)
		loop_quit(loop);
}

static void timeout(void *data)
{
	(void)data;
	loop_quit(loop);
}

int main(void)
{
	struct workers *w = NULL;
	struct loop_timer *t;

	loop_thread = pthread_self();
	tap_ok(loop_new(&loop) == 0, "a loop");
	is_int(workers_new(loop, 2, &w), 0, "a pool of two workers");
	for (int i = 0; i < JOBS; i++)
		workers_submit(w, work, on_done, NULL);
	t = loop_timer_add(loop, 30000, timeout, NULL); /* a bound, not a delay */
	loop_run(loop);
	loop_timer_cancel(loop, t);
	is_int(atomic_load(&worked), JOBS, "every job's work ran");
	is_int(done, JOBS, "every job's done callback ran");
	is_int(atomic_load(&work_on_loop), 0, "no work ran on the loop thread");
	is_int(done_off_loop, 0, "every done callback ran on the loop thread");

	done = 0;
	atomic_store(&worked, 0);
	for (int i = 0; i < 10; i++)
		workers_submit(w, work, on_done, NULL);
	workers_free(w);
	is_int(atomic_load(&worked), 10, "freeing the pool finishes queued work");
	is_int(done, 10, "and runs their done callbacks");
	loop_free(loop);
	return tap_done();
}
