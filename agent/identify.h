/* The identify verb: a restored clone takes its own identity (protocol.h). */
#ifndef BANGER_AGENT_IDENTIFY_H
#define BANGER_AGENT_IDENTIFY_H

#include <stdbool.h>
#include <stddef.h>

/* Applies an identify line; *authorized says whether it carried banger's
 * key (authorize=, put into ssh_home's authorized_keys). 0, or -1 with
 * reason (no spaces) set. */
int identify_apply(const char *line, const char *ssh_home, bool *authorized, char *reason, size_t size);

#endif
