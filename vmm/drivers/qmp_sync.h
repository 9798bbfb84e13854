/* A QMP conversation for a worker thread (never the loop): connect,
 * negotiate, then commands one at a time, each waiting for its answer with
 * a deadline. Events in between are skipped. Used by the snapshot jobs
 * (vmm/snapshots/), whose steps (stop, migrate, poll, cont, hot-plug) follow
 * one another. */
#ifndef BANGER_QMP_SYNC_H
#define BANGER_QMP_SYNC_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "error.h"

struct qmp_sync {
	int fd;
	size_t len;
	char buf[16384];
};

/* Connects to sock_path (retrying while QEMU has not made it yet, up to
 * timeout_ms) and negotiates capabilities. */
int qmp_sync_open(struct qmp_sync *q, const char *sock_path, int timeout_ms, bgr_error *err);
/* Runs one command (a JSON object text, {"execute": ...}); with pass_fd >=
 * 0 the descriptor goes along (SCM_RIGHTS, for getfd). On success *ret (if
 * not NULL) gets the "return" value (caller deletes); a QMP error is EIO
 * with QEMU's description. */
int qmp_sync_cmd(struct qmp_sync *q, const char *json, int pass_fd, cJSON **ret, int timeout_ms, bgr_error *err);
void qmp_sync_close(struct qmp_sync *q);

#endif
