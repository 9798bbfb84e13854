#include "qmp_sync.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next line QEMU sent, parsed; NULL with err set on timeout or EOF. */
static cJSON *read_msg(struct qmp_sync *q, long long deadline, bgr_error *err)
{
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->len);
		if (nl) {
			*nl = '\0';
			cJSON *msg = cJSON_Parse(q->buf);
			q->len -= (size_t)(nl + 1 - q->buf);
			memmove(q->buf, nl + 1, q->len);
			if (msg)
				return msg;
			continue;
		}
		if (q->len == sizeof(q->buf))
			q->len = 0; /* an oversized event: drop it */
		long long left = deadline - mono_ms();
		struct pollfd p = { .fd = q->fd, .events = POLLIN };
		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			bgr_fail(err, ETIMEDOUT, "QMP: no answer in time");
			return NULL;
		}
		ssize_t n = read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			bgr_fail(err, EIO, "QMP: QEMU closed the monitor (it exited?)");
			return NULL;
		}
		q->len += (size_t)n;
	}
}

static int send_all(struct qmp_sync *q, const char *s, int pass_fd, bgr_error *err)
{
	size_t len = strlen(s);
	struct iovec iov = { .iov_base = (void *)s, .iov_len = len };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (pass_fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	ssize_t n = sendmsg(q->fd, &mh, MSG_NOSIGNAL);
	if (n < 0)
		return bgr_fail(err, EIO, "QMP: cannot send: %s", strerror(errno));
	/* the rest, if any (the descriptor went with the first bytes) */
	for (size_t done = (size_t)n; done < len;) {
		ssize_t w = send(q->fd, s + done, len - done, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return bgr_fail(err, EIO, "QMP: cannot send: %s", strerror(errno));
		done += (size_t)w;
	}
	return 0;
}

int qmp_sync_cmd(struct qmp_sync *q, const char *json, int pass_fd, cJSON **ret, int timeout_ms, bgr_error *err)
{
	long long deadline = mono_ms() + timeout_ms;
	_cleanup_free_ char *line = xasprintf("%s\n", json);

	if (ret)
		*ret = NULL;
	if (send_all(q, line, pass_fd, err) < 0)
		return -err->code;
	for (;;) {
		cJSON *msg = read_msg(q, deadline, err);
		if (!msg)
			return -err->code;
		cJSON *e = cJSON_GetObjectItemCaseSensitive(msg, "error");
		cJSON *r = cJSON_GetObjectItemCaseSensitive(msg, "return");
		if (e) {
			cJSON *desc = cJSON_GetObjectItemCaseSensitive(e, "desc");
			bgr_fail(err, EIO, "QMP: %.80s failed: %.200s", json,
				 cJSON_IsString(desc) ? desc->valuestring : "unknown error");
			cJSON_Delete(msg);
			return -EIO;
		}
		if (r) {
			if (ret)
				*ret = cJSON_DetachItemViaPointer(msg, r);
			cJSON_Delete(msg);
			return 0;
		}
		cJSON_Delete(msg); /* an event */
	}
}

int qmp_sync_open(struct qmp_sync *q, const char *sock_path, int timeout_ms, bgr_error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	long long deadline = mono_ms() + timeout_ms;
	cJSON *greeting;

	q->fd = -1;
	q->len = 0;
	if (strlen(sock_path) >= sizeof(addr.sun_path))
		return bgr_fail(err, ENAMETOOLONG, "control socket path too long: %s", sock_path);
	strcpy(addr.sun_path, sock_path);
	for (;;) {
		q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (q->fd < 0)
			return bgr_fail(err, errno, "socket: %s", strerror(errno));
		if (connect(q->fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
			break;
		int e = errno;
		close(q->fd);
		q->fd = -1;
		if ((e != ENOENT && e != ECONNREFUSED) || mono_ms() >= deadline)
			return bgr_fail(err, e, "cannot reach QMP at %s: %s", sock_path, strerror(e));
		usleep(5 * 1000); /* QEMU makes it early in its start-up */
	}
	greeting = read_msg(q, deadline + 5000, err);
	if (!greeting) {
		qmp_sync_close(q);
		return -err->code;
	}
	cJSON_Delete(greeting);
	if (qmp_sync_cmd(q, "{\"execute\":\"qmp_capabilities\"}", -1, NULL, 5000, err) < 0) {
		qmp_sync_close(q);
		return -err->code;
	}
	return 0;
}

void qmp_sync_close(struct qmp_sync *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
}
