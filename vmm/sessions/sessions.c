/* Sessions: a command run by the guest agent over its private channel
 * (protocol 4, docs/filesystem.md "Sessions"). The host keeps each
 * session's state and output under the VM's directory, so the output
 * outlives the reader and bangerd: after every hello the host asks the
 * agent to resend from what it holds (sess_sync), and a guest that does not
 * know the session any more (it rebooted) makes it lost. */
#include "session.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SESSION_PROTO 4
#define IN_ACK_PROTO 5 /* the agent sends sess_in_ack */
/* stdin bytes sent and not yet written to the command, at most: below the
 * agent's queue (256 KiB), so it never answers sess_in with full */
#define SESSION_STDIN_WINDOW (128u << 10)
#define IN_CHUNK 2000 /* stdin bytes per sess_in line (the protocol's limit) */

static const char *const signal_names[] = { "HUP",  "INT",  "QUIT", "KILL", "TERM",
					    "USR1", "USR2", "CONT", "STOP", "WINCH" };

static bool ended(const struct session *s)
{
	return s->state == SESS_EXITED || s->state == SESS_KILLED || s->state == SESS_FAILED || s->state == SESS_LOST;
}

static bool live(const struct session *s)
{
	return s->state == SESS_STARTING || s->state == SESS_RUNNING;
}

void sess_changed(struct vmm *m, struct vm *vm, struct session *s, unsigned what)
{
	if (m->obs.session_changed)
		m->obs.session_changed(m->obs.ctx, vm, s ? s->id : 0, what);
}

static int agent_proto(const struct vm *vm)
{
	char proto[16];

	if (!vm->hello || banger_agent_field(vm->hello, "proto", proto, sizeof(proto)) < 0)
		return 0;
	return atoi(proto);
}

static struct session *find(struct vm *vm, const char *name)
{
	for (struct session *s = vm->sessions; s; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

size_t vmm_session_count(struct vm *vm)
{
	size_t n = 0;

	for (struct session *s = vm->sessions; s; s = s->next)
		n++;
	return n;
}

struct session *vmm_session_at(struct vm *vm, size_t i)
{
	struct session *s = vm->sessions;

	while (s && i--)
		s = s->next;
	return s;
}

struct session *vmm_session_by_name(struct vm *vm, const char *name)
{
	return find(vm, name);
}

struct session *vmm_session_by_id(struct vmm *m, int64_t id, struct vm **ret_vm)
{
	for (size_t i = 0; i < m->n_vms; i++)
		for (struct session *s = m->vms[i]->sessions; s; s = s->next)
			if (s->id == id) {
				if (ret_vm)
					*ret_vm = m->vms[i];
				return s;
			}
	return NULL;
}

void vmm_session_info(const struct session *s, struct session_info *r)
{
	*r = (struct session_info){
		.id = s->id,
		.name = s->name,
		.cmd = s->cmd ? s->cmd : "",
		.cwd = s->cwd,
		.error = s->error,
		.tty = s->tty,
		.rows = s->rows,
		.cols = s->cols,
		.started = s->cmd != NULL,
		.ended = ended(s),
		.pid = s->pid,
		.started_ms = s->started_ms,
		.ended_ms = s->ended_ms,
	};
	switch (s->state) {
	case SESS_NEW:
		snprintf(r->status, sizeof(r->status), "new");
		break;
	case SESS_STARTING:
		snprintf(r->status, sizeof(r->status), "starting");
		break;
	case SESS_RUNNING:
		snprintf(r->status, sizeof(r->status), "running");
		break;
	case SESS_EXITED:
		snprintf(r->status, sizeof(r->status), "exited %d", s->code);
		break;
	case SESS_KILLED:
		snprintf(r->status, sizeof(r->status), "killed %s", s->sig);
		break;
	case SESS_FAILED:
		snprintf(r->status, sizeof(r->status), "failed: %s", s->why);
		break;
	case SESS_LOST:
		snprintf(r->status, sizeof(r->status), "lost: %s", s->why);
		break;
	}
}

static void free_session(struct session *s)
{
	free(s->dir);
	free(s->cmd);
	free(s);
}

void sessions_free(struct vm *vm)
{
	while (vm->sessions) {
		struct session *s = vm->sessions;
		vm->sessions = s->next;
		free_session(s);
	}
}

static void succeeded(struct session *s)
{
	s->error[0] = '\0';
}

void vmm_session_fail(struct vmm *m, struct vm *vm, struct session *s, const bgr_error *err)
{
	snprintf(s->error, sizeof(s->error), "%s", err->msg);
	text_one_line(s->error);
	vmm_vm_log(m, vm, "session %s: %s", s->name, s->error);
	sess_changed(m, vm, s, VMM_SESS_STATE);
}

static int refuse(struct vmm *m, struct vm *vm, struct session *s, bgr_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static int refuse(struct vmm *m, struct vm *vm, struct session *s, bgr_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	vmm_session_fail(m, vm, s, err);
	return -code;
}

int vmm_session_create(struct vmm *m, struct vm *vm, const char *name, struct session **ret, bgr_error *err)
{
	_cleanup_free_ char *top = xasprintf("%s/sessions", vm->dir);
	struct session *s, **tail;

	if (!sess_name_valid(name))
		return bgr_fail(err, EINVAL,
				"mkdir sessions/%.80s: a session's name is 1 to 64 of A-Z a-z 0-9 . _ - "
				"and starts with a letter or digit",
				name);
	if (find(vm, name))
		return bgr_fail(err, EEXIST, "mkdir sessions/%s: it exists", name);
	if (vmm_session_count(vm) >= SESSIONS_PER_VM)
		return bgr_fail(err, EMFILE, "mkdir sessions/%s: a VM keeps at most %d sessions; rmdir finished ones",
				name, SESSIONS_PER_VM);
	s = xcalloc(1, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%.64s", name);
	s->dir = xasprintf("%s/%s", top, name);
	s->rows = 24;
	s->cols = 80;
	if ((mkdir(top, 0700) < 0 && errno != EEXIST) || mkdir(s->dir, 0700) < 0) {
		int r = bgr_fail(err, errno, "mkdir sessions/%s: cannot make its directory: %s", name, strerror(errno));
		free_session(s);
		return r;
	}
	s->id = ++m->last_session_id;
	sess_save(m, vm, s);
	for (tail = &vm->sessions; *tail; tail = &(*tail)->next)
		;
	*tail = s;
	vmm_vm_log(m, vm, "session %s: made", name);
	sess_changed(m, vm, s, VMM_SESS_LISTING);
	*ret = s;
	return 0;
}

int vmm_session_remove(struct vmm *m, struct vm *vm, struct session *s, bgr_error *err)
{
	struct session **pp;
	int r;

	if (live(s))
		return bgr_fail(err, EBUSY, "rmdir sessions/%s: its command is %s; write KILL to its signal first",
				s->name, s->state == SESS_RUNNING ? "running" : "starting");
	r = sess_remove_files(s);
	if (r < 0)
		return bgr_fail(err, -r, "rmdir sessions/%s: cannot remove its files: %s", s->name, strerror(-r));
	for (pp = &vm->sessions; *pp != s; pp = &(*pp)->next)
		;
	*pp = s->next;
	vmm_vm_log(m, vm, "session %s: removed", s->name);
	sess_changed(m, vm, s, VMM_SESS_LISTING);
	free_session(s);
	return 0;
}

/* Before cmd only: what the command is started with. */
static int not_started(struct vmm *m, struct vm *vm, struct session *s, const char *file, bgr_error *err)
{
	if (s->cmd)
		return refuse(m, vm, s, err, EBUSY, "%s: the command has been started; %s is set before cmd", file,
			      file);
	return 0;
}

int vmm_session_set_mode(struct vmm *m, struct vm *vm, struct session *s, const char *value, bgr_error *err)
{
	int r = not_started(m, vm, s, "mode", err);

	if (r < 0)
		return r;
	if (strcmp(value, "tty") != 0 && strcmp(value, "pipe") != 0)
		return refuse(m, vm, s, err, EINVAL, "mode: \"%.40s\" is not a mode: write tty or pipe", value);
	s->tty = strcmp(value, "tty") == 0;
	succeeded(s);
	sess_save(m, vm, s);
	sess_changed(m, vm, s, VMM_SESS_STATE);
	return 0;
}

int vmm_session_set_cwd(struct vmm *m, struct vm *vm, struct session *s, const char *value, bgr_error *err)
{
	int r = not_started(m, vm, s, "cwd", err);

	if (r < 0)
		return r;
	if (value[0] != '/' || strlen(value) > SESSION_CWD_MAX)
		return refuse(m, vm, s, err, EINVAL, "cwd: write an absolute guest path of at most %d bytes",
			      SESSION_CWD_MAX);
	snprintf(s->cwd, sizeof(s->cwd), "%s", value);
	succeeded(s);
	sess_save(m, vm, s);
	sess_changed(m, vm, s, VMM_SESS_STATE);
	return 0;
}

static int send_line(struct vmm *m, struct vm *vm, struct session *s, const char *line, bgr_error *err)
{
	int r = vm_agent_send(vm, line);

	if (r < 0)
		return refuse(m, vm, s, err, r == -ENOTCONN ? EBUSY : EIO, "the guest agent %s",
			      r == -ENOTCONN ? "is not connected (is the VM running?)"
					     : "channel is full or broken; try again");
	return 0;
}

int vmm_session_set_winsize(struct vmm *m, struct vm *vm, struct session *s, const char *value, bgr_error *err)
{
	unsigned rows, cols;
	char extra, line[160];
	int r;

	if (sscanf(value, "%u %u %c", &rows, &cols, &extra) != 2 || rows == 0 || cols == 0 || rows > 9999 ||
	    cols > 9999)
		return refuse(m, vm, s, err, EINVAL, "winsize: write \"ROWS COLS\", e.g. \"24 80\" (1 to 9999)");
	if (s->cmd && !s->tty)
		return refuse(m, vm, s, err, ENOTTY, "winsize: not a tty session");
	if (s->state == SESS_RUNNING) {
		snprintf(line, sizeof(line), "sess_winsize id=%s rows=%u cols=%u\n", s->name, rows, cols);
		if ((r = send_line(m, vm, s, line, err)) < 0)
			return r;
	}
	s->rows = rows;
	s->cols = cols;
	succeeded(s);
	sess_save(m, vm, s);
	sess_changed(m, vm, s, VMM_SESS_STATE);
	return 0;
}

static int check_agent(struct vmm *m, struct vm *vm, struct session *s, const char *file, bgr_error *err)
{
	int proto;

	if (vm->rec.state != VM_RUNNING)
		return refuse(m, vm, s, err, EBUSY, "%s: vms/%s is %s; start it first", file, vm->rec.name,
			      vm_state_name(vm->rec.state));
	if (vm->agent_fd < 0 || vm->agent_handshaking || !vm->hello)
		return refuse(m, vm, s, err, EBUSY, "%s: the guest agent is not connected; try again", file);
	proto = agent_proto(vm);
	if (proto < SESSION_PROTO)
		return refuse(m, vm, s, err, ENOTSUP,
			      "%s: the guest agent is too old for sessions (protocol %d); rebuild the image "
			      "(tools/mkimage)",
			      file, proto);
	return 0;
}

int vmm_session_start(struct vmm *m, struct vm *vm, struct session *s, const char *cmd, size_t len, bgr_error *err)
{
	char line[BANGER_AGENT_LINE_MAX], *p = line, *end = line + sizeof(line);
	int r;

	if (len && cmd[len - 1] == '\n') /* echo's */
		len--;
	if (s->cmd)
		return refuse(m, vm, s, err, EBUSY, "cmd: this session already ran a command; make another session");
	if (len == 0)
		return refuse(m, vm, s, err, EINVAL, "cmd: empty command");
	if (len > SESSION_CMD_MAX)
		return refuse(m, vm, s, err, E2BIG, "cmd: %zu bytes; a command has at most %d", len, SESSION_CMD_MAX);
	if (memchr(cmd, '\0', len))
		return refuse(m, vm, s, err, EINVAL, "cmd: the command holds a NUL byte");
	if ((r = check_agent(m, vm, s, "cmd", err)) < 0)
		return r;
	p += snprintf(p, (size_t)(end - p), "sess_start id=%s cmd=", s->name);
	sess_hex_encode(cmd, len, p);
	p += 2 * len;
	if (s->cwd[0]) {
		p += snprintf(p, (size_t)(end - p), " cwd=");
		sess_hex_encode(s->cwd, strlen(s->cwd), p);
		p += 2 * strlen(s->cwd);
	}
	if (s->tty)
		p += snprintf(p, (size_t)(end - p), " tty=1 rows=%u cols=%u", s->rows, s->cols);
	snprintf(p, (size_t)(end - p), "\n");
	if ((r = send_line(m, vm, s, line, err)) < 0)
		return r;
	s->cmd = xcalloc(1, len + 1);
	memcpy(s->cmd, cmd, len);
	s->state = SESS_STARTING;
	s->in_sent = s->in_acked = 0;
	s->in_known = true; /* a new session starts with nothing in flight */
	succeeded(s);
	sess_save(m, vm, s);
	vmm_vm_log(m, vm, "session %s: starting%s", s->name, s->tty ? " (tty)" : "");
	sess_changed(m, vm, s, VMM_SESS_STATE);
	return 0;
}

static int check_running(struct vmm *m, struct vm *vm, struct session *s, const char *file, bgr_error *err)
{
	struct session_info info;

	if (!live(s)) {
		vmm_session_info(s, &info);
		return refuse(m, vm, s, err, s->cmd ? ESRCH : EINVAL, "%s: the command is not running (%s)", file,
			      info.status);
	}
	return check_agent(m, vm, s, file, err);
}

ssize_t vmm_session_input(struct vmm *m, struct vm *vm, struct session *s, const char *buf, size_t len, bgr_error *err)
{
	char line[BANGER_AGENT_LINE_MAX];
	size_t done = 0;
	int r;

	if (s->cmd && !live(s)) /* like a pipe whose reader is gone, waiting or not */
		return vmm_session_input_abandoned(m, vm, s, err);
	if ((r = check_running(m, vm, s, "stdin", err)) < 0)
		return r;
	if (s->stdin_closed)
		return refuse(m, vm, s, err, EPIPE, "stdin: it was closed (EOF sent, or the command stopped reading)");
	if (agent_proto(vm) >= IN_ACK_PROTO) {
		uint64_t out = s->in_sent - s->in_acked;
		if (!s->in_known || out >= SESSION_STDIN_WINDOW)
			return -EINPROGRESS;
		if (len > SESSION_STDIN_WINDOW - out)
			len = SESSION_STDIN_WINDOW - out;
	}
	while (done < len) {
		size_t n = len - done < IN_CHUNK ? len - done : IN_CHUNK;
		int w = snprintf(line, sizeof(line), "sess_in id=%s data=", s->name);
		sess_hex_encode(buf + done, n, line + w);
		memcpy(line + w + 2 * n, "\n", 2);
		if (!vm_agent_room(vm, strlen(line)))
			break;
		if ((r = send_line(m, vm, s, line, err)) < 0)
			return done ? (ssize_t)done : r;
		done += n;
		s->in_sent += n;
	}
	if (done == 0)
		return -EAGAIN; /* the channel is full: the front waits and tries again */
	succeeded(s);
	return (ssize_t)done;
}

int vmm_session_input_abandoned(struct vmm *m, struct vm *vm, struct session *s, bgr_error *err)
{
	struct session_info info;

	if (live(s))
		return refuse(m, vm, s, err, EPIPE, "stdin: the command closed its stdin before it read this write");
	vmm_session_info(s, &info);
	return refuse(m, vm, s, err, EPIPE, "stdin: the command ended (%s) before it read this write", info.status);
}

int vmm_session_eof(struct vmm *m, struct vm *vm, struct session *s, bgr_error *err)
{
	char line[128];
	int r;

	if (s->stdin_closed || !live(s) || vm->agent_fd < 0 || agent_proto(vm) < SESSION_PROTO)
		return 0; /* nothing to close */
	snprintf(line, sizeof(line), "sess_in id=%s eof=1\n", s->name);
	if ((r = send_line(m, vm, s, line, err)) < 0)
		return r;
	s->stdin_closed = true;
	sess_save(m, vm, s);
	return 0;
}

int vmm_session_signal(struct vmm *m, struct vm *vm, struct session *s, const char *name, bgr_error *err)
{
	const char *sig = strncmp(name, "SIG", 3) == 0 ? name + 3 : name;
	char line[128];
	size_t i;
	int r;

	for (i = 0; i < sizeof(signal_names) / sizeof(*signal_names); i++)
		if (strcmp(sig, signal_names[i]) == 0)
			break;
	if (i == sizeof(signal_names) / sizeof(*signal_names))
		return refuse(m, vm, s, err, EINVAL,
			      "signal: \"%.40s\" is not a signal banger sends: one of HUP INT QUIT KILL TERM USR1 "
			      "USR2 CONT STOP WINCH",
			      name);
	if ((r = check_running(m, vm, s, "signal", err)) < 0)
		return r;
	snprintf(line, sizeof(line), "sess_signal id=%s sig=%s\n", s->name, sig);
	if ((r = send_line(m, vm, s, line, err)) < 0)
		return r;
	vmm_vm_log(m, vm, "session %s: SIG%s sent", s->name, sig);
	succeeded(s);
	sess_changed(m, vm, s, VMM_SESS_STATE);
	return 0;
}

static void end_session(struct vmm *m, struct vm *vm, struct session *s, enum sess_state state, const char *why)
{
	struct session_info info;

	s->state = state;
	if (why)
		snprintf(s->why, sizeof(s->why), "%s", why);
	if (!s->ended_ms)
		s->ended_ms = now_real_ms();
	sess_save(m, vm, s);
	vmm_session_info(s, &info);
	vmm_vm_log(m, vm, "session %s: %s", s->name, info.status);
	sess_changed(m, vm, s, VMM_SESS_STATE);
}

/* A gap: the agent dropped bytes the host never got. A note line says how
 * many, where they were. */
static void gap(struct vmm *m, struct vm *vm, struct session *s, int fd, uint64_t to)
{
	struct sess_stream *st = &s->out[fd - 1];
	char note[96];
	int n = snprintf(note, sizeof(note), "\n[banger: %" PRIu64 " bytes dropped]\n", to - st->held);

	st->gap_bytes += (uint64_t)n;
	st->lost += to - st->held;
	st->held = to;
	sess_save(m, vm, s); /* with the note, the file and the meta say held again */
	sess_append(m, vm, s, fd, note, (size_t)n);
}

static void on_out(struct vmm *m, struct vm *vm, struct session *s, const char *line)
{
	char fdtext[8], offtext[24], data[BANGER_AGENT_LINE_MAX / 2];
	const char *hex;
	size_t hexlen = 0, skip;
	uint64_t off;
	int fd;

	hex = banger_agent_find_value(line, "data", &hexlen);
	if (banger_agent_field(line, "fd", fdtext, sizeof(fdtext)) < 0 ||
	    banger_agent_field(line, "off", offtext, sizeof(offtext)) < 0 || !hex ||
	    !sess_hex_decode(hex, hexlen, data) || (strcmp(fdtext, "1") != 0 && strcmp(fdtext, "2") != 0)) {
		vm_agent_log(m, vm, "agent: a malformed sess_out for session %s ignored", s->name);
		return;
	}
	fd = fdtext[0] - '0';
	off = strtoull(offtext, NULL, 10);
	if (off > s->out[fd - 1].held)
		gap(m, vm, s, fd, off);
	skip = s->out[fd - 1].held - off; /* a repeat of what we hold */
	if (skip >= hexlen / 2)
		return;
	if (s->state == SESS_STARTING)
		s->state = SESS_RUNNING;
	if (sess_append(m, vm, s, fd, data + skip, hexlen / 2 - skip) == 0)
		s->out[fd - 1].held += hexlen / 2 - skip;
	sess_changed(m, vm, s, VMM_SESS_OUTPUT);
}

static void on_exit_line(struct vmm *m, struct vm *vm, struct session *s, const char *line)
{
	char status[48], num[24], forget[128];
	bool killed;

	if (banger_agent_field(line, "status", status, sizeof(status)) < 0 ||
	    (strncmp(status, "exited:", 7) != 0 && strncmp(status, "killed:", 7) != 0)) {
		vm_agent_log(m, vm, "agent: a malformed sess_exit for session %s ignored", s->name);
		return;
	}
	for (int fd = 1; fd <= 2; fd++)
		if (banger_agent_field(line, fd == 1 ? "out" : "err", num, sizeof(num)) >= 0 &&
		    strtoull(num, NULL, 10) > s->out[fd - 1].held)
			gap(m, vm, s, fd, strtoull(num, NULL, 10));
	if (banger_agent_field(line, "ended_ms", num, sizeof(num)) >= 0)
		s->ended_ms = atoll(num);
	killed = status[0] == 'k';
	if (killed)
		snprintf(s->sig, sizeof(s->sig), "%s%.10s", strncmp(status + 7, "SIG", 3) ? "SIG" : "", status + 7);
	else
		s->code = atoi(status + 7);
	end_session(m, vm, s, killed ? SESS_KILLED : SESS_EXITED, NULL);
	/* everything is on the host now: the agent's slot is free */
	snprintf(forget, sizeof(forget), "sess_forget id=%s\n", s->name);
	vm_agent_send(vm, forget);
}

/* sess_in_ack: the guest wrote in bytes of stdin to the command; the
 * window opens. The first after a hello also says what is still queued
 * there, which is where the host's count restarts. */
static void on_in_ack(struct vmm *m, struct vm *vm, struct session *s, const char *line)
{
	char num[24];
	uint64_t in, queued = 0;

	if (banger_agent_field(line, "in", num, sizeof(num)) < 0 || num[0] < '0' || num[0] > '9') {
		vm_agent_log(m, vm, "agent: a malformed sess_in_ack for session %s ignored", s->name);
		return;
	}
	in = strtoull(num, NULL, 10);
	if (banger_agent_field(line, "queued", num, sizeof(num)) >= 0)
		queued = strtoull(num, NULL, 10);
	if (in > UINT64_MAX / 2 || queued > SESSION_STDIN_WINDOW * 2) { /* more than an agent can hold */
		vm_agent_log(m, vm, "agent: an impossible sess_in_ack for session %s ignored", s->name);
		return;
	}
	if (!s->in_known) {
		s->in_sent = in + queued;
		s->in_known = true;
	}
	s->in_acked = in > s->in_sent ? s->in_sent : in;
	if (banger_agent_field(line, "closed", num, sizeof(num)) >= 0 && !s->stdin_closed) {
		s->stdin_closed = true; /* the command stopped reading it, or ended */
		sess_save(m, vm, s);
	}
	sess_changed(m, vm, s, VMM_SESS_INPUT);
}

static void on_started(struct vmm *m, struct vm *vm, struct session *s, const char *line)
{
	char num[24];

	if (banger_agent_field(line, "pid", num, sizeof(num)) >= 0)
		s->pid = atoll(num);
	if (banger_agent_field(line, "started_ms", num, sizeof(num)) >= 0)
		s->started_ms = atoll(num);
	if (s->state == SESS_STARTING)
		s->state = SESS_RUNNING;
	sess_save(m, vm, s);
	vmm_vm_log(m, vm, "session %s: running, pid %lld", s->name, s->pid);
	sess_changed(m, vm, s, VMM_SESS_STATE);
}

static void on_fail(struct vmm *m, struct vm *vm, struct session *s, const char *verb, const char *line)
{
	char reason[96] = "", why[128];

	banger_agent_field(line, "reason", reason, sizeof(reason));
	vm_agent_log(m, vm, "agent: %s", line);
	if (strcmp(verb, "sess_start") == 0 && s->state == SESS_STARTING) {
		snprintf(why, sizeof(why), "the guest could not start it (%s)", reason);
		end_session(m, vm, s, SESS_FAILED, why);
	} else if (strcmp(verb, "sess_sync") == 0 && strcmp(reason, "unknown") == 0 && live(s)) {
		end_session(m, vm, s, SESS_LOST, "the guest does not know it any more (it rebooted)");
	} else if (strcmp(verb, "sess_in") == 0 && strcmp(reason, "full") == 0) {
		/* a last resort: an agent without sess_in_ack (protocol 4) */
		snprintf(s->error, sizeof(s->error),
			 "stdin: the guest dropped input: its queue for the command was full (an agent older than "
			 "protocol 5 has no flow control; rebuild the image)");
		sess_changed(m, vm, s, VMM_SESS_STATE);
	} else if (strcmp(verb, "sess_in") == 0 && !s->stdin_closed) {
		s->stdin_closed = true; /* further input has nowhere to go */
		sess_save(m, vm, s);
	}
}

static void sync_all(struct vmm *m, struct vm *vm)
{
	char line[160];

	for (struct session *s = vm->sessions; s; s = s->next) {
		if (!live(s))
			continue;
		if (agent_proto(vm) < SESSION_PROTO) {
			end_session(m, vm, s, SESS_LOST, "the guest agent does not speak sessions any more");
			continue;
		}
		s->in_known = false; /* until the ack after this sync says where the guest is */
		snprintf(line, sizeof(line), "sess_sync id=%s out=%" PRIu64 " err=%" PRIu64 "\n", s->name,
			 s->out[0].held, s->out[1].held);
		vm_agent_send(vm, line);
	}
}

void sessions_agent_line(struct vmm *m, struct vm *vm, const char *line)
{
	char id[SESSION_NAME_MAX + 2], verb[32] = "";
	bool answer = banger_agent_is_verb(line, "ack") || banger_agent_is_verb(line, "fail");
	struct session *s;

	if (banger_agent_is_verb(line, "hello")) {
		sync_all(m, vm);
		return;
	}
	if (banger_agent_field(line, "id", id, sizeof(id)) < 0 || !(s = find(vm, id))) {
		vm_agent_log(m, vm, "agent: a session line for no session of ours: %.80s", line);
		return;
	}
	if (answer) {
		banger_agent_field(line, "verb", verb, sizeof(verb));
		if (banger_agent_is_verb(line, "fail"))
			on_fail(m, vm, s, verb, line);
		return;
	}
	if (!live(s))
		return; /* a repeat after the end (a sync raced the exit), or not started by us */
	if (banger_agent_is_verb(line, "sess_out"))
		on_out(m, vm, s, line);
	else if (banger_agent_is_verb(line, "sess_exit"))
		on_exit_line(m, vm, s, line);
	else if (banger_agent_is_verb(line, "sess_started"))
		on_started(m, vm, s, line);
	else if (banger_agent_is_verb(line, "sess_in_ack"))
		on_in_ack(m, vm, s, line);
}

/* The channels closed: when the hypervisor is gone too (not bangerd
 * quitting), the commands went with the guest. */
void sessions_channels_closed(struct vmm *m, struct vm *vm)
{
	if (vm->pidfd >= 0 || atomic_load(&m->quitting))
		return;
	for (struct session *s = vm->sessions; s; s = s->next)
		if (live(s))
			end_session(m, vm, s, SESS_LOST, "the VM stopped");
}

void sessions_load_all(struct vmm *m)
{
	for (size_t i = 0; i < m->n_vms; i++) {
		struct vm *vm = m->vms[i];
		sess_load_vm(m, vm);
		if (vmm_vm_is_down(vm))
			for (struct session *s = vm->sessions; s; s = s->next)
				if (live(s))
					end_session(m, vm, s, SESS_LOST, "the VM stopped while bangerd was down");
	}
}
