/* Parsing of image references, with docker's defaults: no registry part
 * means docker.io, one-component docker.io repos live under library/, and
 * the tag defaults to "latest". */
#include "oci_ref.h"
#include "sha256.h"
#include "util.h"
#include "validate.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define DOCKER_HUB "docker.io"
#define DOCKER_HUB_API "registry-1.docker.io"

/* A repo path component: [a-z0-9]+ separated by '.', '_', "__" or '-'s. */
static bool component_valid(const char *s, size_t len)
{
	if (len == 0 || len > 128)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (alnum)
			continue;
		if (c != '.' && c != '_' && c != '-')
			return false;
		if (i == 0 || i == len - 1)
			return false;
	}
	return true;
}

static bool repo_valid(const char *repo)
{
	const char *p = repo;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (!component_valid(p, len))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

static bool tag_valid(const char *t)
{
	size_t len = strlen(t);

	if (len == 0 || len > 128 || t[0] == '.' || t[0] == '-')
		return false;
	for (; *t; t++)
		if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') || *t == '_' ||
		      *t == '.' || *t == '-'))
			return false;
	return true;
}

/* docker's rule: the first component names a registry when it holds a '.'
 * or a ':', or is "localhost". */
static bool looks_like_registry(const char *s, size_t len)
{
	return memchr(s, '.', len) || memchr(s, ':', len) || (len == 9 && !memcmp(s, "localhost", 9)) ||
	       (len > 0 && s[0] == '[');
}

static bool host_chars_valid(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
		      *s == '-' || *s == ':' || *s == '[' || *s == ']'))
			return false;
	return true;
}

/* The host part of "host[:port]" / "[v6][:port]" into out. */
static void host_of(const char *registry, char *out, size_t size)
{
	const char *end;

	if (registry[0] == '[') {
		end = strchr(registry, ']');
		snprintf(out, size, "%.*s", end ? (int)(end - registry + 1) : (int)strlen(registry), registry);
		return;
	}
	end = strchr(registry, ':');
	snprintf(out, size, "%.*s", end ? (int)(end - registry) : (int)strlen(registry), registry);
}

static bool listed_insecure(const char *registry, const char *host, const char *insecure)
{
	_cleanup_free_ char *list = xstrdup(insecure ? insecure : "");
	char *save = NULL;

	for (char *t = strtok_r(list, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
		if (!strcmp(t, registry) || !strcmp(t, host))
			return true;
	return false;
}

static bool is_plain_http(const char *registry, const char *insecure)
{
	char host[256];

	host_of(registry, host, sizeof(host));
	if (!strcmp(host, "localhost") || !strcmp(host, "127.0.0.1") || !strcmp(host, "[::1]"))
		return true;
	return listed_insecure(registry, host, insecure);
}

/* Splits off "@sha256:HEX" or ":TAG" from the repo part (rest). */
static int split_reference(char *rest, struct oci_ref *r, bgr_error *err)
{
	char *at = strchr(rest, '@');
	char *colon;

	if (at) {
		*at++ = '\0';
		if (strncmp(at, "sha256:", 7) || !sha256_valid(at + 7))
			return bgr_fail(err, EINVAL, "bad digest (want @sha256: and 64 lowercase hex digits)");
		snprintf(r->reference, sizeof(r->reference), "%s", at);
		r->is_digest = true;
		/* a tag before the digest is allowed and ignored, as docker does */
		colon = strrchr(rest, ':');
		if (colon && !strchr(colon, '/'))
			*colon = '\0';
		return 0;
	}
	colon = strrchr(rest, ':');
	if (colon && !strchr(colon, '/')) {
		*colon++ = '\0';
		if (!tag_valid(colon))
			return bgr_fail(err, EINVAL, "bad tag (letters, digits, '_', '.', '-'; at most 128)");
		snprintf(r->reference, sizeof(r->reference), "%s", colon);
	} else
		snprintf(r->reference, sizeof(r->reference), "latest");
	return 0;
}

static int set_registry(struct oci_ref *r, const char *name, size_t len, const char *insecure, bgr_error *err)
{
	if (len >= sizeof(r->registry))
		return bgr_fail(err, EINVAL, "registry name too long");
	snprintf(r->registry, sizeof(r->registry), "%.*s", (int)len, name);
	if (!host_chars_valid(r->registry))
		return bgr_fail(err, EINVAL, "bad registry name");
	if (!strcmp(r->registry, "index.docker.io") || !strcmp(r->registry, DOCKER_HUB_API))
		snprintf(r->registry, sizeof(r->registry), DOCKER_HUB);
	snprintf(r->api_host, sizeof(r->api_host), "%s",
		 strcmp(r->registry, DOCKER_HUB) ? r->registry : DOCKER_HUB_API);
	r->plain_http = is_plain_http(r->registry, insecure);
	return 0;
}

static int parse(const char *s, const char *insecure, struct oci_ref *r, bgr_error *err)
{
	_cleanup_free_ char *copy = xstrdup(s);
	const char *slash = strchr(copy, '/');
	char *rest = copy;

	if (!*s || strlen(s) >= OCI_REF_MAX)
		return bgr_fail(err, EINVAL, "empty or too long");
	if (slash && looks_like_registry(copy, slash - copy)) {
		if (set_registry(r, copy, slash - copy, insecure, err) < 0)
			return -EINVAL;
		rest = copy + (slash - copy) + 1;
	} else if (set_registry(r, DOCKER_HUB, strlen(DOCKER_HUB), insecure, err) < 0)
		return -EINVAL;
	if (split_reference(rest, r, err) < 0)
		return -EINVAL;
	if (!strcmp(r->registry, DOCKER_HUB) && !strchr(rest, '/'))
		snprintf(r->repo, sizeof(r->repo), "library/%s", rest);
	else if (strlen(rest) < sizeof(r->repo))
		snprintf(r->repo, sizeof(r->repo), "%s", rest);
	if (!repo_valid(rest) || strlen(r->repo) >= sizeof(r->repo) - 1)
		return bgr_fail(err, EINVAL,
				"bad repository name (lowercase letters, digits, separators '.', '_', '-', '/')");
	return 0;
}

int oci_ref_parse(const char *s, const char *insecure, struct oci_ref *ret, bgr_error *err)
{
	struct oci_ref r = { 0 };
	char shown[96];

	if (parse(s, insecure, &r, err) < 0) {
		printable_copy(s, shown, sizeof(shown));
		return bgr_wrap(err, "bad image reference '%s'", shown);
	}
	*ret = r;
	return 0;
}

char *oci_ref_base_url(const struct oci_ref *r)
{
	return xasprintf("%s://%s", r->plain_http ? "http" : "https", r->api_host);
}
