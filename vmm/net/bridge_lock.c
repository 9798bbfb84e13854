#include "bridge_lock.h"
#include "util.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

static socklen_t lock_address(const char *bridge, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	/* sun_path[0] = '\0': the abstract namespace */
	int n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "banger-bridge/%s", bridge);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* The pid of the daemon listening on the lock, 0 when it cannot be told. */
static pid_t holder(const struct sockaddr_un *sa, socklen_t len)
{
	/* non-blocking: a full backlog must not hang us */
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct ucred cred = { 0 };
	socklen_t clen = sizeof(cred);

	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
		return 0;
	return cred.pid;
}

int bridge_lock(const char *bridge, bgr_error *err)
{
	struct sockaddr_un sa;
	socklen_t len = lock_address(bridge, &sa);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return bgr_fail(err, errno, "bridge %s: cannot make its lock: %s", bridge, strerror(errno));
	if (bind(fd, (const struct sockaddr *)&sa, len) < 0) {
		pid_t pid;
		if (errno != EADDRINUSE)
			return bgr_fail(err, errno, "bridge %s: cannot take its lock: %s", bridge, strerror(errno));
		pid = holder(&sa, len);
		if (pid > 0)
			return bgr_fail(err, EBUSY,
					"bridge %s is in use by another bangerd (pid %d); stop it, or give this one "
					"another "
					"bridge_name and subnet",
					bridge, (int)pid);
		return bgr_fail(err, EBUSY,
				"bridge %s is in use by another bangerd; stop it, or give this one another "
				"bridge_name and subnet",
				bridge);
	}
	/* listening, so that a second daemon can learn who holds it (SO_PEERCRED) */
	if (listen(fd, 1) < 0)
		return bgr_fail(err, errno, "bridge %s: cannot take its lock: %s", bridge, strerror(errno));
	return steal_fd(&fd);
}
