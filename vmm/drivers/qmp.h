/* A one-shot QMP call on the loop: connect, negotiate, run one command,
 * log the answer, close. Nothing ever blocks on it. */
#ifndef BANGER_QMP_H
#define BANGER_QMP_H

#include "error.h"

struct loop;

/* command is a QMP command name without arguments ("system_powerdown"). */
int qmp_call(struct loop *loop, const char *sock_path, const char *command, bgr_error *err);

/* The answer to a qmp_hmp: 0 and the monitor's output ("" when it printed
 * nothing), or -errno and why (an error, no answer within 5 s, the
 * socket closed). Called once, on the loop, never from within qmp_hmp. */
typedef void (*qmp_answer_fn)(void *ctx, int result, const char *text);
/* Runs an HMP command line ("hostfwd_add net0 tcp:...") through QMP's
 * human-monitor-command. fn hears the answer unless this fails at once. */
int qmp_hmp(struct loop *loop, const char *sock_path, const char *command_line, qmp_answer_fn fn, void *ctx,
	    bgr_error *err);

#endif
