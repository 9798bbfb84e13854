#include "sshkey.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh/libssh.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void ssh_key_freep(ssh_key *k)
{
	ssh_key_free(*k);
}
#define _cleanup_key_ __attribute__((cleanup(ssh_key_freep)))

static int pubkey_from_key(ssh_key key, struct pubkey *pub, bgr_error *err)
{
	_cleanup_key_ ssh_key pk = NULL;
	char *b64 = NULL;
	const char *type;

	if (ssh_key_is_private(key)) {
		if (ssh_pki_export_privkey_to_pubkey(key, &pk) != SSH_OK)
			return bgr_fail(err, EINVAL, "cannot derive the public key");
		key = pk;
	}
	type = ssh_key_type_to_char(ssh_key_type(key));
	if (!type || ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
		return bgr_fail(err, EINVAL, "cannot encode the public key");
	if (strlen(type) >= sizeof(pub->type) || strlen(b64) >= sizeof(pub->b64)) {
		ssh_string_free_char(b64);
		return bgr_fail(err, EINVAL, "public key too long");
	}
	snprintf(pub->type, sizeof(pub->type), "%s", type);
	snprintf(pub->b64, sizeof(pub->b64), "%s", b64);
	ssh_string_free_char(b64);
	return 0;
}

/* path as a new file holding text: a stale file, or a symlink planted in
 * its place, is removed first (unlink takes the link, never what it points
 * at) and the file is created O_EXCL | O_NOFOLLOW, so nothing is written
 * through a link; rename() puts it in place, replacing a link there too. */
static int write_new(const char *path, const char *text, mode_t mode, bgr_error *err)
{
	_cleanup_close_ int fd = -1;
	size_t len = strlen(text);
	int e;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return bgr_fail(err, errno, "cannot write %s: %s", path, open_strerror(errno));
	errno = EIO;
	if (write(fd, text, len) == (ssize_t)len && fsync(fd) == 0)
		return 0;
	e = errno;
	unlink(path);
	return bgr_fail(err, e, "cannot write %s: %s", path, strerror(e));
}

static int generate(const char *path, bgr_error *err)
{
	_cleanup_key_ ssh_key key = NULL;
	_cleanup_free_ char *dir = xstrdup(path), *pubpath = xasprintf("%s.pub", path);
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", path), *pubtmp = xasprintf("%s.pub.tmp", path);
	_cleanup_free_ char *pubtext = NULL;
	char *priv = NULL;
	struct pubkey pub;
	int r;

	*strrchr(dir, '/') = '\0';
	r = mkdir_p(dir, 0700);
	if (r < 0)
		return bgr_fail(err, -r, "cannot create %s: %s", dir, strerror(-r));
	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK)
		return bgr_fail(err, EIO, "cannot generate an ed25519 key");
	/* written by us, not by libssh's fopen (which would follow a link) */
	if (ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &priv) != SSH_OK || !priv)
		return bgr_fail(err, EIO, "cannot encode the private key");
	r = write_new(tmp, priv, 0600, err);
	explicit_bzero(priv, strlen(priv));
	ssh_string_free_char(priv);
	if (r < 0)
		return r;
	if (pubkey_from_key(key, &pub, err) < 0)
		goto fail;
	pubtext = xasprintf("%s %s banger\n", pub.type, pub.b64);
	if (write_new(pubtmp, pubtext, 0644, err) < 0)
		goto fail;
	if (rename(pubtmp, pubpath) < 0) {
		bgr_fail(err, errno, "cannot create %s: %s", pubpath, strerror(errno));
		unlink(pubtmp);
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		bgr_fail(err, errno, "cannot create %s: %s", path, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	unlink(tmp);
	return -err->code;
}

int sshkey_ensure(const char *path, struct pubkey *pub, bgr_error *err)
{
	_cleanup_key_ ssh_key key = NULL;
	struct stat st;
	int r;

	if (stat(path, &st) < 0) {
		if (errno != ENOENT)
			return bgr_fail(err, errno, "ssh key %s: %s", path, strerror(errno));
		r = generate(path, err);
		if (r < 0)
			return bgr_wrap(err, "ssh key %s", path);
	}
	if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key) != SSH_OK)
		return bgr_fail(err, EINVAL,
				"ssh key %s: cannot read it (not a private key, or protected by a passphrase)", path);
	if (pubkey_from_key(key, pub, err) < 0)
		return bgr_wrap(err, "ssh key %s", path);
	return 0;
}

int pubkey_from_text(const char *type, const char *b64, struct pubkey *pub, bgr_error *err)
{
	_cleanup_key_ ssh_key key = NULL;
	enum ssh_keytypes_e t = ssh_key_type_from_name(type);

	if (t == SSH_KEYTYPE_UNKNOWN)
		return bgr_fail(err, EINVAL, "unknown key type '%.40s'", type);
	if (ssh_pki_import_pubkey_base64(b64, t, &key) != SSH_OK)
		return bgr_fail(err, EINVAL, "malformed %.40s key", type);
	return pubkey_from_key(key, pub, err);
}

void pubkey_fingerprint(const struct pubkey *pub, char *out, size_t size)
{
	_cleanup_key_ ssh_key key = NULL;
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp;

	snprintf(out, size, "?");
	if (ssh_pki_import_pubkey_base64(pub->b64, ssh_key_type_from_name(pub->type), &key) != SSH_OK ||
	    ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != SSH_OK)
		return;
	fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	if (fp)
		snprintf(out, size, "%s", fp);
	ssh_string_free_char(fp);
	ssh_clean_pubkey_hash(&hash);
}

int pubkey_equal(const struct pubkey *a, const struct pubkey *b)
{
	return strcmp(a->type, b->type) == 0 && strcmp(a->b64, b->b64) == 0;
}

int sshkey_host_key(struct pubkey *pub, char **priv, bgr_error *err)
{
	_cleanup_key_ ssh_key key = NULL;
	char *text = NULL;

	*priv = NULL;
	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK)
		return bgr_fail(err, EIO, "cannot generate an ed25519 key");
	if (pubkey_from_key(key, pub, err) < 0)
		return -err->code;
	if (ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &text) != SSH_OK || !text)
		return bgr_fail(err, EIO, "cannot encode the private key");
	*priv = xstrdup(text);
	explicit_bzero(text, strlen(text));
	ssh_string_free_char(text);
	return 0;
}
