/* The session verbs: the host's sess_* lines and the agent's sess_out and
 * sess_exit pushes. See sess_verbs.h and protocol.h. */
#define _GNU_SOURCE
#include "sess_verbs.h"
#include "protocol.h"
#include "session.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define ENV_MAX 64

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP },   { "INT", SIGINT },   { "QUIT", SIGQUIT }, { "KILL", SIGKILL }, { "TERM", SIGTERM },
	{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "CONT", SIGCONT }, { "STOP", SIGSTOP }, { "WINCH", SIGWINCH },
};

/* The id of line when it is valid (copied to id), else NULL. */
static const char *get_id(const char *line, char id[BANGER_AGENT_SESS_ID_MAX + 1])
{
	size_t n;
	const char *v = banger_agent_find_value(line, "id", &n);

	if (!v || !banger_agent_sess_id_valid(v, n))
		return NULL;
	memcpy(id, v, n);
	id[n] = '\0';
	return id;
}

static void fail(struct outq *q, const char *verb, const char *id, const char *reason)
{
	if (id)
		outq_line(q, "fail verb=%s id=%s reason=%s", verb, id, reason);
	else
		outq_line(q, "fail verb=%s reason=%s", verb, reason);
}

static int has_key(const char *line, const char *key)
{
	size_t n;

	return banger_agent_find_value(line, key, &n) != NULL;
}

/* A decimal number in [min, max] from key; -1 when absent or bad. */
static int get_number(const char *line, const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
	char buf[32], *end;

	if (banger_agent_field(line, key, buf, sizeof(buf)) <= 0 || buf[0] < '0' || buf[0] > '9')
		return -1;
	errno = 0;
	*out = strtoull(buf, &end, 10);
	return errno || *end || *out < min || *out > max ? -1 : 0;
}

/* The hex value of key decoded to a new '\0'-terminated string without
 * NUL bytes, or NULL (absent, empty, bad hex). */
static char *get_text(const char *from, const char *key, const char **next)
{
	size_t n;
	const char *v = banger_agent_find_value(from, key, &n);
	char *text;

	if (next)
		*next = v ? v + n : NULL;
	if (!v || n == 0 || !(text = malloc(n / 2 + 1)))
		return NULL;
	if (banger_agent_hex_decode(v, n, text, n / 2) < 0 || memchr(text, '\0', n / 2)) {
		free(text);
		return NULL;
	}
	text[n / 2] = '\0';
	return text;
}

/* NAME=VALUE with NAME of [A-Za-z_][A-Za-z0-9_]*. */
static int env_valid(const char *kv)
{
	size_t n = strcspn(kv, "=");

	if (n == 0 || kv[n] != '=' || (kv[0] >= '0' && kv[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((kv[i] >= 'a' && kv[i] <= 'z') || (kv[i] >= 'A' && kv[i] <= 'Z') ||
		      (kv[i] >= '0' && kv[i] <= '9') || kv[i] == '_'))
			return 0;
	return 1;
}

/* Parses the env= values of line into env (NULL-terminated). Returns 0,
 * or -1 when one is bad or there are more than ENV_MAX. */
static int get_env(const char *line, char *env[ENV_MAX + 1])
{
	const char *pos = line;
	size_t n = 0, len;

	while (banger_agent_find_value(pos, "env", &len)) {
		if (n == ENV_MAX || !(env[n] = get_text(pos, "env", &pos)) || !env_valid(env[n]))
			return -1;
		n++;
	}
	return 0;
}

static void handle_start(const char *line, struct outq *q)
{
	char idbuf[BANGER_AGENT_SESS_ID_MAX + 1], reason[64], *env[ENV_MAX + 1] = { NULL };
	const char *id = get_id(line, idbuf);
	struct session_spec spec = { .id = id, .rows = 24, .cols = 80 };
	char *cmd = NULL, *cwd = NULL;
	uint64_t tty = 0, rows = 24, cols = 80;
	struct session *s;

	if (!id) {
		fail(q, "sess_start", NULL, "bad_id");
		goto out;
	}
	if (session_find(id)) {
		fail(q, "sess_start", id, "exists");
		goto out;
	}
	if (!(cmd = get_text(line, "cmd", NULL))) {
		fail(q, "sess_start", id, "bad_cmd");
		goto out;
	}
	if (has_key(line, "cwd") && !(cwd = get_text(line, "cwd", NULL))) {
		fail(q, "sess_start", id, "bad_cwd");
		goto out;
	}
	if (get_env(line, env) < 0) {
		fail(q, "sess_start", id, "bad_env");
		goto out;
	}
	if ((has_key(line, "tty") && get_number(line, "tty", 0, 1, &tty) < 0) ||
	    (has_key(line, "rows") && get_number(line, "rows", 1, 65535, &rows) < 0) ||
	    (has_key(line, "cols") && get_number(line, "cols", 1, 65535, &cols) < 0)) {
		fail(q, "sess_start", id, "bad_winsize");
		goto out;
	}
	spec.cmd = cmd;
	spec.cwd = cwd;
	spec.env = env;
	spec.tty = (int)tty;
	spec.rows = (unsigned short)rows;
	spec.cols = (unsigned short)cols;
	s = session_start(&spec, reason, sizeof(reason));
	if (!s)
		fail(q, "sess_start", id, reason);
	else
		outq_line(q, "sess_started id=%s pid=%d started_ms=%" PRIu64, id, (int)s->pid, s->started_ms);
out:
	free(cmd);
	free(cwd);
	for (int i = 0; env[i]; i++)
		free(env[i]);
}

/* The session named by line's id=, or NULL after a fail answer. */
static struct session *target(const char *line, const char *verb, struct outq *q, char id[BANGER_AGENT_SESS_ID_MAX + 1])
{
	struct session *s;

	if (!get_id(line, id)) {
		fail(q, verb, NULL, "bad_id");
		return NULL;
	}
	if (!(s = session_find(id)))
		fail(q, verb, id, "unknown");
	return s;
}

static void handle_in(const char *line, struct outq *q)
{
	char id[BANGER_AGENT_SESS_ID_MAX + 1], eof[4];
	uint8_t data[BANGER_AGENT_SESS_IN_CHUNK];
	struct session *s = target(line, "sess_in", q, id);
	const char *reason = NULL, *hex;
	size_t n;
	long len;

	if (!s)
		return;
	if (banger_agent_field(line, "eof", eof, sizeof(eof)) >= 0) {
		if (strcmp(eof, "1") != 0)
			reason = "bad_eof";
		else
			session_input_eof(s, &reason);
	} else if (!(hex = banger_agent_find_value(line, "data", &n)) || n == 0) {
		reason = "bad_hex";
	} else if (n / 2 > sizeof(data)) {
		reason = "too_long";
	} else if ((len = banger_agent_hex_decode(hex, n, data, sizeof(data))) < 0) {
		reason = "bad_hex";
	} else {
		session_input(s, data, (size_t)len, &reason);
	}
	if (reason)
		fail(q, "sess_in", id, reason);
}

static int signal_number(const char *name)
{
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcmp(signals[i].name, name) == 0)
			return signals[i].sig;
	return -1;
}

static void handle_signal(const char *line, struct outq *q)
{
	char id[BANGER_AGENT_SESS_ID_MAX + 1], name[16];
	struct session *s = target(line, "sess_signal", q, id);
	int sig;

	if (!s)
		return;
	if (banger_agent_field(line, "sig", name, sizeof(name)) < 0 || (sig = signal_number(name)) < 0)
		fail(q, "sess_signal", id, "bad_signal");
	else if (s->reaped)
		fail(q, "sess_signal", id, "finished");
	else if (session_kill(s, sig) < 0)
		fail(q, "sess_signal", id, strerrorname_np(errno) ? strerrorname_np(errno) : "EUNKNOWN");
	else
		outq_line(q, "ack verb=sess_signal id=%s", id);
}

static void handle_winsize(const char *line, struct outq *q)
{
	char id[BANGER_AGENT_SESS_ID_MAX + 1];
	struct session *s = target(line, "sess_winsize", q, id);
	uint64_t rows, cols;

	if (!s)
		return;
	if (get_number(line, "rows", 1, 65535, &rows) < 0 || get_number(line, "cols", 1, 65535, &cols) < 0)
		fail(q, "sess_winsize", id, "bad_winsize");
	else if (!s->tty)
		fail(q, "sess_winsize", id, "not_tty");
	else if (s->reaped)
		fail(q, "sess_winsize", id, "finished");
	else if (session_winsize(s, (unsigned short)rows, (unsigned short)cols) < 0)
		fail(q, "sess_winsize", id, strerrorname_np(errno) ? strerrorname_np(errno) : "EUNKNOWN");
	else
		outq_line(q, "ack verb=sess_winsize id=%s", id);
}

static void handle_sync(const char *line, struct outq *q)
{
	char id[BANGER_AGENT_SESS_ID_MAX + 1];
	struct session *s = target(line, "sess_sync", q, id);
	uint64_t out, err;

	if (!s)
		return;
	if (get_number(line, "out", 0, UINT64_MAX, &out) < 0 || get_number(line, "err", 0, UINT64_MAX, &err) < 0 ||
	    out > s->out.end || err > s->err.end) {
		fail(q, "sess_sync", id, "bad_offset");
		return;
	}
	s->out.sent = out; /* sess_pump moves it up to what is still held */
	s->err.sent = err;
	s->synced = 1;
	s->exit_sent = 0;
	s->in_ack_due = 1; /* the host's window for stdin starts from our totals */
}

static void handle_forget(const char *line, struct outq *q)
{
	char id[BANGER_AGENT_SESS_ID_MAX + 1];
	struct session *s = target(line, "sess_forget", q, id);

	if (!s)
		return;
	if (!s->ended) {
		fail(q, "sess_forget", id, "running");
		return;
	}
	session_forget(s);
	outq_line(q, "ack verb=sess_forget id=%s", id);
}

void sess_handle_line(const char *line, struct outq *q)
{
	static const struct {
		const char *verb;
		void (*handle)(const char *line, struct outq *q);
	} verbs[] = {
		{ "sess_start", handle_start },     { "sess_in", handle_in },     { "sess_signal", handle_signal },
		{ "sess_winsize", handle_winsize }, { "sess_sync", handle_sync }, { "sess_forget", handle_forget },
	};

	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (banger_agent_is_verb(line, verbs[i].verb)) {
			verbs[i].handle(line, q);
			return;
		}
}

void sess_line_too_long(const char *start, struct outq *q)
{
	char verb[16], idbuf[BANGER_AGENT_SESS_ID_MAX + 1];
	size_t n = strcspn(start, " ");

	if (strncmp(start, "sess_", 5) != 0 || n >= sizeof(verb))
		return;
	memcpy(verb, start, n);
	verb[n] = '\0';
	fail(q, verb, get_id(start, idbuf), "line_too_long");
}

/* Queues the next chunk of st as a sess_out line. Returns 1 when it did. */
static int push_chunk(struct outq *q, const struct session *s, int fd, struct stream *st)
{
	uint8_t data[BANGER_AGENT_SESS_OUT_CHUNK];
	char hex[2 * BANGER_AGENT_SESS_OUT_CHUNK + 1];
	size_t n;

	if (st->sent < st->start) /* dropped before the host got them: a gap */
		st->sent = st->start;
	n = stream_copy(st, st->sent, data, sizeof(data));
	if (n == 0)
		return 0;
	banger_agent_hex_encode(data, n, hex);
	if (outq_line(q, "sess_out id=%s fd=%d off=%" PRIu64 " data=%s", s->id, fd, st->sent, hex) < 0)
		return 0;
	st->sent += n;
	return 1;
}

static void exit_status(const struct session *s, char *out, size_t size)
{
	int st = s->wait_status;
	const char *name;

	if (WIFEXITED(st)) {
		snprintf(out, size, "exited:%d", WEXITSTATUS(st));
	} else if (WIFSIGNALED(st) && (name = sigabbrev_np(WTERMSIG(st)))) {
		snprintf(out, size, "killed:%s", name);
	} else {
		snprintf(out, size, "killed:SIG%d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	}
}

/* Tells the host how much stdin the command has been given, when the
 * queue ran empty, every BANGER_AGENT_SESS_IN_ACK_EVERY bytes, once stdin
 * is closed, and after a sess_sync. Returns 1 when it queued a line. */
static int push_in_ack(struct outq *q, struct session *s)
{
	int closed = s->in_fd < 0;
	uint64_t fresh = s->in_written - s->in_acked;

	if (!s->in_ack_due && !(closed && !s->in_closed_acked) && fresh == 0)
		return 0;
	if (!s->in_ack_due && !closed && s->in_len > 0 && fresh < BANGER_AGENT_SESS_IN_ACK_EVERY)
		return 0;
	if (outq_line(q, "sess_in_ack id=%s in=%" PRIu64 " queued=%zu%s", s->id, s->in_written, s->in_len,
		      closed ? " closed=1" : "") < 0)
		return 0;
	s->in_acked = s->in_written;
	s->in_ack_due = 0;
	s->in_closed_acked = closed;
	return 1;
}

/* Queues what session s has for the host next. Returns 1 when it did. */
static int push_session(struct outq *q, struct session *s)
{
	char status[32];

	if (!s->synced)
		return 0;
	if (push_in_ack(q, s))
		return 1;
	if (push_chunk(q, s, 1, &s->out) | push_chunk(q, s, 2, &s->err))
		return 1;
	if (!s->ended || s->exit_sent)
		return 0;
	exit_status(s, status, sizeof(status));
	if (outq_line(q, "sess_exit id=%s status=%s ended_ms=%" PRIu64 " out=%" PRIu64 " err=%" PRIu64, s->id, status,
		      s->ended_ms, s->out.end, s->err.end) < 0)
		return 0;
	s->exit_sent = 1;
	return 1;
}

void sess_pump(struct outq *q)
{
	int progress = 1;

	while (progress && outq_pending(q) < OUTQ_HIGH) {
		progress = 0;
		for (int i = 0; i < BANGER_AGENT_SESS_MAX; i++) {
			struct session *s = session_at(i);
			if (s && push_session(q, s))
				progress = 1;
		}
	}
}
