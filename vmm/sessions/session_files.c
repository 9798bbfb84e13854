/* A session's files under its VM's directory: sessions/NAME/meta (what the
 * tree shows besides the output, key=value lines, replaced atomically at
 * each change of state), stdout and stderr (the guest's bytes as they came,
 * appended on the loop like vm.log). A stream's length on disk, less its
 * gap notes, plus the bytes those notes stand for, is the guest offset the
 * host holds, so sess_sync needs no save per output line. */
#include "session.h"
#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A stream keeps at most STREAM_MAX bytes; past it, all but the newest
 * STREAM_KEEP are dropped (punched out of the file). */
#define STREAM_MAX (16LL << 20)
#define STREAM_KEEP (8LL << 20)

static const char *state_names[] = {
	[SESS_NEW] = "new",       [SESS_STARTING] = "starting", [SESS_RUNNING] = "running", [SESS_EXITED] = "exited",
	[SESS_KILLED] = "killed", [SESS_FAILED] = "failed",     [SESS_LOST] = "lost",
};

bool sess_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > SESSION_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || !strchr("._-", c)))
			return false;
	}
	return true;
}

void sess_hex_encode(const char *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[(unsigned char)data[i] >> 4];
		out[2 * i + 1] = digits[(unsigned char)data[i] & 15];
	}
	out[2 * len] = '\0';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool sess_hex_decode(const char *hex, size_t hexlen, char *out)
{
	if (hexlen % 2)
		return false;
	for (size_t i = 0; i < hexlen / 2; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (char)(hi << 4 | lo);
	}
	return true;
}

char *sess_stream_path(const struct session *s, int fd)
{
	return xasprintf("%s/%s", s->dir, fd == 1 ? "stdout" : "stderr");
}

static void put_hex(FILE *f, const char *key, const char *text)
{
	size_t n = strlen(text);
	_cleanup_free_ char *hex = xcalloc(1, 2 * n + 1);

	sess_hex_encode(text, n, hex);
	fprintf(f, "%s=%s\n", key, hex);
}

void sess_save(struct vmm *m, struct vm *vm, struct session *s)
{
	_cleanup_free_ char *tmp = xasprintf("%s/meta.tmp", s->dir);
	_cleanup_free_ char *path = xasprintf("%s/meta", s->dir);
	FILE *f = fopen(tmp, "we");
	bool ok;

	if (!f) {
		vmm_vm_log(m, vm, "session %s: cannot save: %s", s->name, strerror(errno));
		return;
	}
	fprintf(f, "state=%s\ncode=%d\nsig=%s\ntty=%d\nrows=%u\ncols=%u\nstdin_closed=%d\n", state_names[s->state],
		s->code, s->sig[0] ? s->sig : "-", s->tty, s->rows, s->cols, s->stdin_closed);
	fprintf(f, "pid=%lld\nstarted_ms=%lld\nended_ms=%lld\n", s->pid, s->started_ms, s->ended_ms);
	for (int i = 0; i < 2; i++)
		fprintf(f, "gap%d=%" PRIu64 "\nlost%d=%" PRIu64 "\ndropped%d=%" PRIu64 "\n", i + 1, s->out[i].gap_bytes,
			i + 1, s->out[i].lost, i + 1, s->out[i].dropped);
	put_hex(f, "cmd", s->cmd ? s->cmd : "");
	put_hex(f, "cwd", s->cwd);
	put_hex(f, "why", s->why);
	/* no fsync: it can take long, and this runs on the loop; the rename
	 * is atomic against a crash of bangerd, which is what it must survive */
	ok = fflush(f) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) < 0) {
		vmm_vm_log(m, vm, "session %s: cannot save: %s", s->name, strerror(errno));
		unlink(tmp);
	}
}

static void get_hex(const char *value, char *out, size_t size)
{
	size_t n = strlen(value);

	out[0] = '\0';
	if (n / 2 >= size || !sess_hex_decode(value, n, out))
		return;
	out[n / 2] = '\0';
	if (strlen(out) != n / 2) /* a NUL inside: not ours */
		out[0] = '\0';
}

static void load_meta(struct session *s, FILE *f)
{
	char line[2 * SESSION_CMD_MAX + 64], *eq, text[SESSION_CMD_MAX + 1];

	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!(eq = strchr(line, '=')))
			continue;
		*eq++ = '\0';
		if (strcmp(line, "state") == 0) {
			for (size_t i = 0; i < sizeof(state_names) / sizeof(*state_names); i++)
				if (strcmp(eq, state_names[i]) == 0)
					s->state = (enum sess_state)i;
		} else if (strcmp(line, "code") == 0)
			s->code = atoi(eq);
		else if (strcmp(line, "sig") == 0)
			snprintf(s->sig, sizeof(s->sig), "%s", strcmp(eq, "-") ? eq : "");
		else if (strcmp(line, "tty") == 0)
			s->tty = atoi(eq) != 0;
		else if (strcmp(line, "rows") == 0)
			s->rows = (unsigned)atoi(eq);
		else if (strcmp(line, "cols") == 0)
			s->cols = (unsigned)atoi(eq);
		else if (strcmp(line, "stdin_closed") == 0)
			s->stdin_closed = atoi(eq) != 0;
		else if (strcmp(line, "pid") == 0)
			s->pid = atoll(eq);
		else if (strcmp(line, "started_ms") == 0)
			s->started_ms = atoll(eq);
		else if (strcmp(line, "ended_ms") == 0)
			s->ended_ms = atoll(eq);
		else if (strncmp(line, "gap", 3) == 0 && (line[3] == '1' || line[3] == '2'))
			s->out[line[3] - '1'].gap_bytes = strtoull(eq, NULL, 10);
		else if (strncmp(line, "lost", 4) == 0 && (line[4] == '1' || line[4] == '2'))
			s->out[line[4] - '1'].lost = strtoull(eq, NULL, 10);
		else if (strncmp(line, "dropped", 7) == 0 && (line[7] == '1' || line[7] == '2'))
			s->out[line[7] - '1'].dropped = strtoull(eq, NULL, 10);
		else if (strcmp(line, "cmd") == 0) {
			get_hex(eq, text, sizeof(text));
			free(s->cmd);
			s->cmd = text[0] ? xstrdup(text) : NULL;
		} else if (strcmp(line, "cwd") == 0)
			get_hex(eq, s->cwd, sizeof(s->cwd));
		else if (strcmp(line, "why") == 0)
			get_hex(eq, s->why, sizeof(s->why));
	}
}

static void load_one(struct vmm *m, struct vm *vm, const char *dir, const char *name)
{
	_cleanup_free_ char *meta = xasprintf("%s/%s/meta", dir, name);
	_cleanup_fclose_ FILE *f = fopen(meta, "re");
	struct session *s, **tail;
	struct stat st;

	if (!f || !sess_name_valid(name))
		return;
	s = xcalloc(1, sizeof(*s));
	s->id = ++m->last_session_id;
	snprintf(s->name, sizeof(s->name), "%.64s", name);
	s->dir = xasprintf("%s/%s", dir, name);
	load_meta(s, f);
	for (int i = 0; i < 2; i++) {
		_cleanup_free_ char *path = sess_stream_path(s, i + 1);
		uint64_t size = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
		size += s->out[i].lost; /* the file holds the notes, not the bytes they stand for */
		s->out[i].held = size > s->out[i].gap_bytes ? size - s->out[i].gap_bytes : 0;
	}
	for (tail = &vm->sessions; *tail; tail = &(*tail)->next)
		;
	*tail = s;
}

void sess_load_vm(struct vmm *m, struct vm *vm)
{
	_cleanup_free_ char *dir = xasprintf("%s/sessions", vm->dir);
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			load_one(m, vm, dir, de->d_name);
}

int sess_remove_files(struct session *s)
{
	static const char *files[] = { "meta", "meta.tmp", "stdout", "stderr" };

	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", s->dir, files[i]);
		if (unlink(p) < 0 && errno != ENOENT)
			return -errno;
	}
	return rmdir(s->dir) < 0 && errno != ENOENT ? -errno : 0;
}

/* Past STREAM_MAX kept, the oldest bytes go: a punched hole gives the space
 * back (a file system that cannot punch keeps them on disk; the tree skips
 * them all the same). */
static void bound(struct vmm *m, struct vm *vm, struct session *s, int i, int fd, uint64_t size)
{
	uint64_t drop;

	if (size - s->out[i].dropped <= (uint64_t)STREAM_MAX)
		return;
	drop = (size - (uint64_t)STREAM_KEEP) & ~(uint64_t)4095;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)drop) < 0)
		vmm_vm_log(m, vm, "session %s: cannot free the dropped output (%s)", s->name, strerror(errno));
	vmm_vm_log(m, vm, "session %s: %s over %lld MiB: its oldest %" PRIu64 " bytes dropped", s->name,
		   i ? "stderr" : "stdout", STREAM_MAX >> 20, drop - s->out[i].dropped);
	s->out[i].dropped = drop;
	sess_save(m, vm, s);
}

int sess_append(struct vmm *m, struct vm *vm, struct session *s, int fd, const char *data, size_t len)
{
	_cleanup_free_ char *path = sess_stream_path(s, fd);
	_cleanup_close_ int f = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;

	if (f < 0 || write(f, data, len) != (ssize_t)len) {
		vmm_vm_log(m, vm, "session %s: cannot write its %s: %s", s->name, fd == 1 ? "stdout" : "stderr",
			   strerror(errno));
		return -EIO;
	}
	if (fstat(f, &st) == 0)
		bound(m, vm, s, fd - 1, f, (uint64_t)st.st_size);
	return 0;
}

static void drop_note(const struct sess_stream *st, char *buf, size_t size)
{
	buf[0] = '\0';
	if (st->dropped)
		snprintf(buf, size, "[banger: %" PRIu64 " bytes dropped]\n", st->dropped);
}

off_t vmm_session_stream_size(const struct session *s, enum session_stream which, struct timespec *mtime)
{
	const struct sess_stream *ss = &s->out[which - 1];
	_cleanup_free_ char *path = sess_stream_path(s, which);
	char note[64];
	struct stat st;

	if (stat(path, &st) < 0)
		return 0;
	if (mtime)
		*mtime = st.st_mtim;
	drop_note(ss, note, sizeof(note));
	return (off_t)strlen(note) + (st.st_size > (off_t)ss->dropped ? st.st_size - (off_t)ss->dropped : 0);
}

ssize_t vmm_session_stream_read(const struct session *s, enum session_stream which, char *buf, size_t size, off_t off)
{
	const struct sess_stream *ss = &s->out[which - 1];
	_cleanup_free_ char *path = sess_stream_path(s, which);
	_cleanup_close_ int fd = -1;
	char note[64];
	size_t nlen, done = 0;
	ssize_t n;

	drop_note(ss, note, sizeof(note));
	nlen = strlen(note);
	if ((size_t)off < nlen) {
		done = nlen - (size_t)off < size ? nlen - (size_t)off : size;
		memcpy(buf, note + off, done);
		off = (off_t)nlen;
	}
	if (done == size)
		return (ssize_t)done;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return (ssize_t)done;
	n = pread(fd, buf + done, size - done, off - (off_t)nlen + (off_t)ss->dropped);
	return n > 0 ? (ssize_t)done + n : (ssize_t)done;
}
