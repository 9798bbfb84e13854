#include "qmp.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

struct qmp_call {
	struct loop *loop;
	int fd;
	char *command;
	char buf[4096];
	size_t len;
	int answers; /* qmp_capabilities answers first, then our command */
	struct loop_timer *timeout;
};

static void call_free(struct qmp_call *c)
{
	loop_timer_cancel(c->loop, c->timeout);
	loop_del_fd(c->loop, c->fd);
	close(c->fd);
	free(c->command);
	free(c);
}

/* Returns true when the call is complete. */
static bool handle_line(struct qmp_call *c, const char *line)
{
	cJSON *msg = cJSON_Parse(line);
	bool done = false;

	if (!msg)
		return false;
	cJSON *error = cJSON_GetObjectItemCaseSensitive(msg, "error");
	if (error || cJSON_GetObjectItemCaseSensitive(msg, "return")) {
		c->answers++;
		if (error) {
			cJSON *desc = cJSON_GetObjectItemCaseSensitive(error, "desc");
			log_msg("qmp: %s failed: %s", c->command,
				cJSON_IsString(desc) ? desc->valuestring : "unknown error");
		}
		done = c->answers >= 2;
	}
	cJSON_Delete(msg);
	return done;
}

static void call_readable(void *data, int fd, uint32_t events)
{
	struct qmp_call *c = data;
	ssize_t n = read(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	char *nl;

	(void)events;
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		call_free(c); /* QEMU closed the monitor: after quit, that is success */
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	while ((nl = strchr(c->buf, '\n'))) {
		*nl = '\0';
		bool done = handle_line(c, c->buf);
		c->len -= (size_t)(nl + 1 - c->buf);
		memmove(c->buf, nl + 1, c->len + 1);
		if (done) {
			call_free(c);
			return;
		}
	}
	if (c->len == sizeof(c->buf) - 1)
		c->len = 0; /* an oversized event: drop it */
}

static void call_timeout(void *data)
{
	struct qmp_call *c = data;

	log_msg("qmp: no answer to %s", c->command);
	call_free(c);
}

int qmp_call(struct loop *loop, const char *sock_path, const char *command, bgr_error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *req = NULL;
	struct qmp_call *c;

	if (strlen(sock_path) >= sizeof(addr.sun_path))
		return bgr_fail(err, ENAMETOOLONG, "control socket path too long: %s", sock_path);
	strcpy(addr.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return bgr_fail(err, errno == ENOENT || errno == ECONNREFUSED ? ECONNREFUSED : errno,
				"cannot reach QMP at %s: %s", sock_path, strerror(errno));
	/* QMP reads requests in order, so negotiation and command can go at once. */
	req = xasprintf("{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"%s\"}\n", command);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return bgr_fail(err, EIO, "cannot send %s to QMP: %s", command, strerror(errno));
	c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->command = xstrdup(command);
	c->fd = steal_fd(&fd);
	if (loop_add_fd(loop, c->fd, EPOLLIN, call_readable, c) < 0) {
		close(c->fd);
		free(c->command);
		free(c);
		return bgr_fail(err, EIO, "cannot watch the QMP socket");
	}
	c->timeout = loop_timer_add(loop, 5000, call_timeout, c);
	return 0;
}
