/* The guest's SSH host keys, as full public keys for the hello line. */
#include "hostkeys.h"

#include "protocol.h"
#include "fileio.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void keyset_add(struct keyset *ks, const char *key)
{
	if (ks->n == HOSTKEYS_MAX || strlen(key) >= HOSTKEYS_KEY_MAX || !banger_agent_key_valid(key))
		return;
	for (int i = 0; i < ks->n; i++)
		if (strcmp(ks->key[i], key) == 0)
			return;
	strcpy(ks->key[ks->n++], key);
}

/* An OpenSSH public key file: "<type> <base64> [comment]". */
static void add_public_key_file(struct keyset *ks, const char *path)
{
	static char text[8192];
	char key[HOSTKEYS_KEY_MAX];
	long n = read_small_file(path, (uint8_t *)text, sizeof(text) - 1);
	size_t type_len, blob_len;
	const char *blob;

	if (n <= 0)
		return;
	text[n] = '\0';
	type_len = strcspn(text, " \t\r\n");
	blob = text + type_len + strspn(text + type_len, " \t");
	blob_len = strcspn(blob, " \t\r\n");
	if (type_len + 1 + blob_len + 1 > sizeof(key))
		return;
	snprintf(key, sizeof(key), "%.*s:%.*s", (int)type_len, text, (int)blob_len, blob);
	keyset_add(ks, key);
}

static int has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Adds the keys of dir whose file names start with prefix and end with
 * suffix. */
static void add_key_dir(struct keyset *ks, const char *dir, const char *prefix, const char *suffix)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !has_prefix(de->d_name, prefix) || !has_suffix(de->d_name, suffix))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		add_public_key_file(ks, path);
	}
	closedir(d);
}

void hostkeys_collect(struct keyset *ks)
{
	ks->n = 0;
	add_key_dir(ks, "/etc/ssh", "ssh_host_", "_key.pub");
	add_key_dir(ks, "/etc/dropbear", "", "_host_key.pub");
}

void hostkeys_format(const struct keyset *ks, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; i < ks->n; i++) {
		int n = snprintf(out + used, size - used, " hostkey=%s", ks->key[i]);
		if (n < 0 || (size_t)n >= size - used) {
			out[used] = '\0';
			break;
		}
		used += (size_t)n;
	}
}
