/* The guest's SSH host keys, as fingerprints for the hello line. */
#include "hostkeys.h"

#include "base64.h"
#include "readfile.h"
#include "sha256.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void keyset_add(struct keyset *ks, const char *type, const uint8_t *blob, size_t len)
{
	struct sha256 s;
	uint8_t d[32];
	char enc[48], fp[HOSTKEYS_FP_MAX];

	if (ks->n == HOSTKEYS_MAX || strlen(type) > 40 || strpbrk(type, " \n="))
		return;
	sha256_init(&s);
	sha256_update(&s, blob, len);
	sha256_final(&s, d);
	b64_encode(d, sizeof(d), enc);
	snprintf(fp, sizeof(fp), "%s:SHA256:%s", type, enc);
	for (int i = 0; i < ks->n; i++)
		if (strcmp(ks->fp[i], fp) == 0)
			return;
	memcpy(ks->fp[ks->n++], fp, sizeof(fp));
}

/* An OpenSSH public key file: "<type> <base64 blob> [comment]". */
static void add_openssh_pub(struct keyset *ks, const char *path)
{
	static uint8_t text[8192], blob[4096];
	char type[64];
	long n = read_small_file(path, text, sizeof(text) - 1);
	char *sp, *b, *e;
	long len;

	if (n <= 0)
		return;
	text[n] = '\0';
	sp = strchr((char *)text, ' ');
	if (!sp || sp - (char *)text >= (long)sizeof(type))
		return;
	memcpy(type, text, (size_t)(sp - (char *)text));
	type[sp - (char *)text] = '\0';
	b = sp + strspn(sp, " ");
	e = b + strcspn(b, " \t\r\n");
	len = b64_decode(b, (size_t)(e - b), blob, sizeof(blob));
	if (len > 0)
		keyset_add(ks, type, blob, (size_t)len);
}

/* Length of the SSH "string"/"mpint" field at p (4-byte length + data), or 0. */
static size_t ssh_field(const uint8_t *p, size_t avail)
{
	uint32_t n;

	if (avail < 4)
		return 0;
	n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return n > avail - 4 ? 0 : 4 + (size_t)n;
}

/* A dropbear private host key. Its public blob is a prefix of the file
 * (rsa: type e n; ecdsa: type curve Q), except ed25519 which stores
 * string(priv[32] || pub[32]). */
static void add_dropbear_key(struct keyset *ks, const char *path)
{
	static uint8_t k[8192];
	uint8_t blob[4 + 11 + 4 + 32];
	char type[64];
	long n = read_small_file(path, k, sizeof(k));
	size_t off, f, tlen;
	int fields, i;

	if (n <= 0 || (f = ssh_field(k, (size_t)n)) == 0 || f - 4 >= sizeof(type))
		return;
	tlen = f - 4;
	memcpy(type, k + 4, tlen);
	type[tlen] = '\0';
	if (strcmp(type, "ssh-ed25519") == 0) {
		if (ssh_field(k + f, (size_t)n - f) != 4 + 64)
			return;
		memcpy(blob, k, f);
		blob[f] = 0, blob[f + 1] = 0, blob[f + 2] = 0, blob[f + 3] = 32;
		memcpy(blob + f + 4, k + f + 4 + 32, 32);
		keyset_add(ks, type, blob, f + 4 + 32);
		return;
	}
	if (strcmp(type, "ssh-rsa") == 0 || strncmp(type, "ecdsa-sha2-", 11) == 0)
		fields = 3;
	else
		return;
	for (off = 0, i = 0; i < fields; i++) {
		f = ssh_field(k + off, (size_t)n - off);
		if (!f)
			return;
		off += f;
	}
	keyset_add(ks, type, k, off);
}

static int has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

void hostkeys_collect(struct keyset *ks)
{
	static const char *dirs[] = { "/etc/ssh", "/etc/dropbear" };
	char path[512];
	struct dirent *de;
	DIR *d;

	ks->n = 0;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		d = opendir(dirs[i]);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirs[i], de->d_name);
			if (has_suffix(de->d_name, ".pub") && strncmp(de->d_name, "ssh_host_", 9) == 0)
				add_openssh_pub(ks, path);
			else if (strncmp(de->d_name, "dropbear_", 9) == 0 &&
				 has_suffix(de->d_name, "_host_key"))
				add_dropbear_key(ks, path);
		}
		closedir(d);
	}
}

void hostkeys_format(const struct keyset *ks, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; i < ks->n; i++) {
		int n = snprintf(out + used, size - used, " hostkey=%s", ks->fp[i]);
		if (n < 0 || (size_t)n >= size - used) {
			out[used] = '\0';
			break;
		}
		used += (size_t)n;
	}
}
