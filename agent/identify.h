/* The identify verb: a restored clone takes its own identity (protocol.h). */
#ifndef BANGER_AGENT_IDENTIFY_H
#define BANGER_AGENT_IDENTIFY_H

#include <stdbool.h>
#include <stddef.h>

struct identify_result {
	bool authorized; /* the line carried banger's key (authorize=): it is in authorized_keys */
	bool listening;  /* with the host's key installed, an SSH server listens on port 22 */
};

/* Applies an identify line, banger's key going to ssh_home's
 * authorized_keys. 0, or -1 with reason (no spaces) set. */
int identify_apply(const char *line, const char *ssh_home, struct identify_result *res, char *reason, size_t size);

#endif
