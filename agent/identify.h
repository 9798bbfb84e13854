/* The identify verb: a restored clone takes its own identity (protocol.h). */
#ifndef BANGER_AGENT_IDENTIFY_H
#define BANGER_AGENT_IDENTIFY_H

#include <stddef.h>

/* Applies an identify line. 0, or -1 with reason (no spaces) set. */
int identify_apply(const char *line, char *reason, size_t size);

#endif
