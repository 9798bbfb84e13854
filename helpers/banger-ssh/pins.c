#include "pins.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh/libssh.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

void pins_host(const char *addr, int port, char *out, size_t size)
{
	if (port == 22 || port == 0)
		snprintf(out, size, "%s", addr);
	else
		snprintf(out, size, "[%s]:%d", addr, port);
}

/* True when line is a known_hosts entry for host (libssh's matching:
 * patterns, hashed names, [host]:port). */
static int line_matches(const char *line, const char *host, struct pubkey *key)
{
	struct ssh_knownhosts_entry *e = NULL;
	char *b64 = NULL;
	int match;

	if (ssh_known_hosts_parse_line(host, line, &e) != SSH_OK || !e)
		return 0;
	match = 1;
	if (key) {
		const char *type = ssh_key_type_to_char(ssh_key_type(e->publickey));
		if (type && ssh_pki_export_pubkey_base64(e->publickey, &b64) == SSH_OK &&
		    strlen(type) < sizeof(key->type) && strlen(b64) < sizeof(key->b64)) {
			snprintf(key->type, sizeof(key->type), "%s", type);
			snprintf(key->b64, sizeof(key->b64), "%s", b64);
		} else {
			match = 0;
		}
		ssh_string_free_char(b64);
	}
	ssh_knownhosts_entry_free(e);
	return match;
}

/* The whole file; NULL with *missing set when it does not exist. */
static char *read_all(const char *file, int *missing)
{
	char *text = read_text_file(file);

	*missing = !text && errno == ENOENT;
	return text;
}

int pins_lookup(const char *file, const char *host, struct pinset *ret, bgr_error *err)
{
	int missing;
	_cleanup_free_ char *all = read_all(file, &missing);
	char *save = NULL, *line;

	ret->n = 0;
	if (!all)
		return missing ? 0 : bgr_fail(err, errno ? errno : EIO, "cannot read %s: %s", file, strerror(errno));
	for (line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (ret->n < PINS_MAX && line_matches(line, host, &ret->key[ret->n]))
			ret->n++;
	}
	return 0;
}

static int matches_any(const char *line, const char *const *hosts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (line_matches(line, hosts[i], NULL))
			return 1;
	return 0;
}

char *pins_lines(const char *file, const char *const *hosts, size_t n)
{
	int missing;
	_cleanup_free_ char *all = read_all(file, &missing);
	char *out = NULL, *save = NULL, *line;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);

	if (!mem)
		return xstrdup("");
	for (line = all ? strtok_r(all, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
		if (matches_any(line, hosts, n))
			fprintf(mem, "%s\n", line);
	fclose(mem);
	return out;
}

char *pins_groups(const char *file, const char *const *groups, size_t n_groups)
{
	int missing;
	_cleanup_free_ char *all = read_all(file, &missing);
	char *out = NULL, *save = NULL, *line, **copies = xcalloc(n_groups + 1, sizeof(*copies));
	const char ***hosts = xcalloc(n_groups + 1, sizeof(*hosts));
	size_t *n_hosts = xcalloc(n_groups + 1, sizeof(*n_hosts)), len = 0;
	FILE *mem = open_memstream(&out, &len);

	for (size_t g = 0; g < n_groups; g++) {
		char *s = NULL, *h;
		copies[g] = xstrdup(groups[g]);
		hosts[g] = xcalloc(strlen(groups[g]) + 1, sizeof(**hosts));
		for (h = strtok_r(copies[g], ",", &s); h; h = strtok_r(NULL, ",", &s))
			hosts[g][n_hosts[g]++] = h;
	}
	for (line = all && mem ? strtok_r(all, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
		for (size_t g = 0; g < n_groups; g++)
			if (matches_any(line, hosts[g], n_hosts[g]))
				fprintf(mem, "%zu %s\n", g, line);
	if (mem)
		fclose(mem);
	for (size_t g = 0; g < n_groups; g++) {
		free(copies[g]);
		free(hosts[g]);
	}
	free(copies);
	free(hosts);
	free(n_hosts);
	return out ? out : xstrdup("");
}

static int lock_pins(const char *file, bgr_error *err)
{
	_cleanup_free_ char *lockpath = xasprintf("%s.lock", file);
	int fd = open(lockpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return bgr_fail(err, errno, "cannot open %s: %s", lockpath, open_strerror(errno));
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int e = errno;
			close(fd);
			return bgr_fail(err, e, "cannot lock %s: %s", lockpath, strerror(e));
		}
	}
	return fd;
}

static int write_atomically(const char *file, const char *text, size_t len, bgr_error *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", file);
	_cleanup_close_ int fd = -1;
	size_t done = 0;
	ssize_t w;

	/* under the lock: a stale temp file (or a link in its place) is ours to remove */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return bgr_fail(err, errno, "cannot write %s: %s", tmp, open_strerror(errno));
	fchmod(fd, 0600);
	while (done < len) {
		w = write(fd, text + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;
			unlink(tmp);
			return bgr_fail(err, e, "cannot write %s: %s", tmp, strerror(e));
		}
		done += (size_t)w;
	}
	if (fsync(fd) < 0 || rename(tmp, file) < 0) {
		int e = errno;
		unlink(tmp);
		return bgr_fail(err, e, "cannot replace %s: %s", file, strerror(e));
	}
	/* the rename itself must survive a crash: a pin lost would re-pin */
	int r = fsync_parent(file);
	if (r < 0)
		return bgr_fail(err, -r, "cannot sync the directory of %s: %s", file, strerror(-r));
	return 0;
}

int pins_update(const char *file, const char *const *drop, size_t n_drop, const char *const *add, size_t n_add,
		const struct pinset *keys, bgr_error *err)
{
	_cleanup_close_ int lock = lock_pins(file, err);
	_cleanup_free_ char *all = NULL, *out = NULL;
	char *save = NULL, *line;
	size_t len = 0;
	int missing;
	FILE *mem;

	if (lock < 0)
		return lock;
	all = read_all(file, &missing);
	if (!all && !missing)
		return bgr_fail(err, errno ? errno : EIO, "cannot read %s: %s", file, strerror(errno));
	mem = open_memstream(&out, &len);
	if (!mem)
		return bgr_fail(err, ENOMEM, "out of memory");
	for (line = all ? strtok_r(all, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
		if (!matches_any(line, drop, n_drop))
			fprintf(mem, "%s\n", line);
	for (size_t h = 0; keys && h < n_add; h++)
		for (int k = 0; k < keys->n; k++)
			fprintf(mem, "%s %s %s\n", add[h], keys->key[k].type, keys->key[k].b64);
	fclose(mem);
	return write_atomically(file, out ? out : "", len, err);
}
