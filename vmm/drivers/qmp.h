/* A one-shot QMP call on the loop: connect, negotiate, run one command,
 * log the answer, close. Nothing ever blocks on it. */
#ifndef BANGER_QMP_H
#define BANGER_QMP_H

#include "error.h"

struct loop;

/* command is a QMP command name without arguments ("system_powerdown"). */
int qmp_call(struct loop *loop, const char *sock_path, const char *command, bgr_error *err);

#endif
