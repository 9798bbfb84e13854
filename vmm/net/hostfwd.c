#include "hostfwd.h"
#include "qmp.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>

struct hostfwd_job {
	struct vmm *m;
	char *sock, *line;
	hostfwd_fn fn;
	void *ctx;
	struct hostfwd_job *next;
};

struct hostfwd_queue {
	struct hostfwd_job *head;
	bool in_flight;
};

static void job_free(struct hostfwd_job *j)
{
	free(j->sock);
	free(j->line);
	free(j);
}

static void kick(struct vmm *m);

static void job_answered(void *data, int result, const char *text)
{
	struct hostfwd_job *j = data;
	struct vmm *m = j->m;

	m->hostfwds->in_flight = false;
	if (j->fn)
		j->fn(j->ctx, result, text);
	job_free(j);
	kick(m);
}

static void kick(struct vmm *m)
{
	struct hostfwd_queue *q = m->hostfwds;

	while (q->head && !q->in_flight) {
		struct hostfwd_job *j = q->head;
		bgr_error err;
		q->head = j->next;
		q->in_flight = true;
		if (qmp_hmp(m->loop, j->sock, j->line, job_answered, j, &err) < 0)
			job_answered(j, err.code ? -err.code : -EIO, err.msg);
	}
}

void hostfwd_send(struct vmm *m, const char *qmp_sock, const char *command_line, hostfwd_fn fn, void *ctx)
{
	struct hostfwd_job *j = xcalloc(1, sizeof(*j)), **p;

	if (!m->hostfwds)
		m->hostfwds = xcalloc(1, sizeof(*m->hostfwds));
	*j = (struct hostfwd_job){ .m = m,
				   .sock = xstrdup(qmp_sock),
				   .line = xstrdup(command_line),
				   .fn = fn,
				   .ctx = ctx };
	for (p = &m->hostfwds->head; *p; p = &(*p)->next)
		;
	*p = j;
	kick(m);
}

void hostfwd_free(struct vmm *m)
{
	if (!m->hostfwds)
		return;
	while (m->hostfwds->head) {
		struct hostfwd_job *j = m->hostfwds->head;
		m->hostfwds->head = j->next;
		free(j->ctx);
		job_free(j);
	}
	free(m->hostfwds);
	m->hostfwds = NULL;
}
