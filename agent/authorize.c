/* The authorize verb: put a public key into root's authorized_keys. */
#define _GNU_SOURCE
#include "authorize.h"

#include "fileio.h"
#include "protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AUTHORIZED_KEYS_MAX (1024 * 1024)
#define KEY_COMMENT "banger"

/* "<what>:<strerror>" with the spaces turned into '_'. */
static int fail_errno(char *reason, size_t size, const char *what, int err)
{
	snprintf(reason, size, "%s:%s", what, strerror(err));
	for (char *p = reason; *p; p++)
		if (*p == ' ')
			*p = '_';
	return -1;
}

static int fail_with(char *reason, size_t size, const char *what)
{
	snprintf(reason, size, "%s", what);
	return -1;
}

/* sshd ignores authorized_keys under a home that others can write to. */
static int make_home_private_enough(const char *home)
{
	struct stat st;

	if (stat(home, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return chmod(home, st.st_mode & 07755);
	return 0;
}

/* Creates dir if needed and makes it a root-owned 0700 directory (not a
 * symlink). */
static int make_private_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	if (lstat(dir, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	if ((st.st_uid != 0 || st.st_gid != 0) && chown(dir, 0, 0) < 0)
		return -1;
	return chmod(dir, 0700);
}

/* Reads path into a malloc'd, '\0'-terminated buffer (empty when the file
 * does not exist). Returns 0, or -1 (errno). */
static int read_existing(const char *path, char **text, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	long n;
	int err;

	*len = 0;
	if (fd < 0) {
		*text = errno == ENOENT ? calloc(1, 1) : NULL;
		return *text ? 0 : -1;
	}
	*text = NULL;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_size > AUTHORIZED_KEYS_MAX) {
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		goto fail;
	}
	*text = malloc((size_t)st.st_size + 1);
	if (!*text || (n = read_fd(fd, (uint8_t *)*text, (size_t)st.st_size)) < 0)
		goto fail;
	(*text)[n] = '\0';
	*len = (size_t)n;
	close(fd);
	return 0;
fail:
	err = errno;
	free(*text);
	*text = NULL;
	close(fd);
	errno = err;
	return -1;
}

/* True when a line of text starts with "<type> <base64>" (options or another
 * comment do not matter; a line with options does not count). */
static int has_key(const char *text, const char *type, const char *blob)
{
	size_t tlen = strlen(type), blen = strlen(blob);
	const char *line = text, *p;

	while (*line) {
		p = line + strspn(line, " \t");
		if (strncmp(p, type, tlen) == 0 && (p[tlen] == ' ' || p[tlen] == '\t')) {
			p += tlen + strspn(p + tlen, " \t");
			if (strncmp(p, blob, blen) == 0 && (p[blen] == '\0' || strchr(" \t\r\n", p[blen])))
				return 1;
		}
		line += strcspn(line, "\n");
		line += *line == '\n';
	}
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* Replaces path with text via a root-owned 0600 temporary file in dir;
 * durable: the file and the directory are synced before it returns. */
static int replace_file(const char *dir, const char *path, const char *text, size_t len, bool durable)
{
	char tmp[PATH_MAX];
	int fd, err;

	if (snprintf(tmp, sizeof(tmp), "%s/.authorized_keys.XXXXXX", dir) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fchown(fd, 0, 0) < 0 || fchmod(fd, 0600) < 0 || write_all(fd, text, len) < 0 || (durable && fsync(fd) < 0))
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	return durable ? fsync_dir(dir) : 0;
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = err;
	return -1;
}

/* The new file: the old text, a '\n' if it lacks one, then the key's line
 * unless the key is there already. Returns a malloc'd buffer (length in
 * *len) or NULL. */
static char *with_key_line(const char *old, size_t old_len, const char *type, const char *blob, size_t *len)
{
	size_t cap = old_len + strlen(type) + strlen(blob) + sizeof(KEY_COMMENT) + 4;
	char *text = malloc(cap);
	int n = 0;

	if (!text)
		return NULL;
	memcpy(text, old, old_len);
	*len = old_len;
	if (old_len > 0 && text[old_len - 1] != '\n')
		text[(*len)++] = '\n';
	if (!has_key(old, type, blob))
		n = snprintf(text + *len, cap - *len, "%s %s " KEY_COMMENT "\n", type, blob);
	*len += (size_t)n;
	return text;
}

/* Splits and checks "<type>:<base64>". Returns 0, or -1 with a reason. */
static int parse_key(const char *key, char *type, const char **blob, char *reason, size_t reason_size)
{
	const char *colon = strchr(key, ':');

	if (!colon)
		return fail_with(reason, reason_size, "bad_key_format");
	if (!banger_agent_key_type_valid(key, (size_t)(colon - key)))
		return fail_with(reason, reason_size, "bad_key_type");
	if (!banger_agent_base64_valid(colon + 1, strlen(colon + 1)))
		return fail_with(reason, reason_size, "bad_key_base64");
	memcpy(type, key, (size_t)(colon - key));
	type[colon - key] = '\0';
	*blob = colon + 1;
	return 0;
}

int authorize_key(const char *home, const char *key, bool durable, char *reason, size_t reason_size)
{
	char type[BANGER_AGENT_KEY_TYPE_MAX], dir[PATH_MAX], path[PATH_MAX];
	char *old = NULL, *text = NULL;
	const char *blob;
	size_t old_len, len;
	int r = -1;

	if (parse_key(key, type, &blob, reason, reason_size) < 0)
		return -1;
	if (snprintf(dir, sizeof(dir), "%s/.ssh", home) >= (int)sizeof(dir) ||
	    snprintf(path, sizeof(path), "%s/authorized_keys", dir) >= (int)sizeof(path))
		return fail_with(reason, reason_size, "home_path_too_long");
	if (make_home_private_enough(home) < 0)
		return fail_errno(reason, reason_size, "home", errno);
	if (make_private_dir(dir) < 0)
		return fail_errno(reason, reason_size, "ssh_dir", errno);
	if (read_existing(path, &old, &old_len) < 0)
		return fail_errno(reason, reason_size, "read_authorized_keys", errno);
	text = with_key_line(old, old_len, type, blob, &len);
	if (!text)
		fail_errno(reason, reason_size, "memory", ENOMEM);
	else if (replace_file(dir, path, text, len, durable) < 0)
		fail_errno(reason, reason_size, "write_authorized_keys", errno);
	else
		r = 0;
	free(text);
	free(old);
	return r;
}
