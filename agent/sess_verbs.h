/* The session verbs of the wire protocol (protocol.h): parsing the host's
 * sess_* lines and pushing the sessions' output and ends to the host. */
#ifndef BANGER_AGENT_SESS_VERBS_H
#define BANGER_AGENT_SESS_VERBS_H

#include "outq.h"

/* Handles line when it is a sess_* verb, queueing the answer; ignores
 * any other line. */
void sess_handle_line(const char *line, struct outq *q);

/* Answers the start of a line that was too long, when it is a sess_* verb. */
void sess_line_too_long(const char *start, struct outq *q);

/* Queues the output (and then the ends) of the sessions the host is in
 * sync with, until OUTQ_HIGH bytes are queued. */
void sess_pump(struct outq *q);

#endif
