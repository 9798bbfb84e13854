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
	qmp_answer_fn fn; /* qmp_hmp: hears the answer once, or the failure */
	void *ctx;
};

static void answer(struct qmp_call *c, int result, const char *text)
{
	qmp_answer_fn fn = c->fn;

	c->fn = NULL;
	if (fn)
		fn(c->ctx, result, text);
}

static void call_free(struct qmp_call *c)
{
	answer(c, -EIO, "QEMU's monitor closed without an answer");
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
		if (done) {
			cJSON *ret = cJSON_GetObjectItemCaseSensitive(msg, "return");
			cJSON *desc = cJSON_GetObjectItemCaseSensitive(error, "desc");
			if (error)
				answer(c, -EIO, cJSON_IsString(desc) ? desc->valuestring : "unknown error");
			else
				answer(c, 0, cJSON_IsString(ret) ? ret->valuestring : "");
		}
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
	answer(c, -ETIMEDOUT, "QEMU's monitor did not answer");
	call_free(c);
}

/* Sends negotiation and request at once (QMP reads requests in order) and
 * watches for the answer. */
static int send_call(struct loop *loop, const char *sock_path, const char *command, const char *request,
		     qmp_answer_fn fn, void *ctx, bgr_error *err)
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
	req = xasprintf("{\"execute\":\"qmp_capabilities\"}\n%s\n", request);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return bgr_fail(err, EIO, "cannot send %s to QMP: %s", command, strerror(errno));
	c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->command = xstrdup(command);
	c->fn = fn;
	c->ctx = ctx;
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

int qmp_call(struct loop *loop, const char *sock_path, const char *command, bgr_error *err)
{
	_cleanup_free_ char *request = xasprintf("{\"execute\":\"%s\"}", command);

	return send_call(loop, sock_path, command, request, NULL, NULL, err);
}

int qmp_hmp(struct loop *loop, const char *sock_path, const char *command_line, qmp_answer_fn fn, void *ctx,
	    bgr_error *err)
{
	cJSON *req = cJSON_CreateObject(), *args = cJSON_AddObjectToObject(req, "arguments");
	char *text;
	int r;

	cJSON_AddStringToObject(req, "execute", "human-monitor-command");
	cJSON_AddStringToObject(args, "command-line", command_line);
	text = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	if (!text)
		abort();
	r = send_call(loop, sock_path, command_line, text, fn, ctx, err);
	cJSON_free(text);
	return r;
}
