#include "catalog.h"
#include "util.h"
#include "validate.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

static const char *str_field(const cJSON *e, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* base is the catalog's own URL: "file:///dir/catalog.json" or "https://h/p/c.json". */
static void resolve_url(const char *base, const char *url, char *out, size_t size)
{
	const char *slash = strrchr(base, '/');

	if (strstr(url, "://"))
		snprintf(out, size, "%s", url);
	else if (url[0] == '/')
		snprintf(out, size, "file://%s", url);
	else
		snprintf(out, size, "%.*s/%s", slash ? (int)(slash - base) : 0, base, url);
}

static int parse_entry(const cJSON *e, const char *base, enum catalog_kind kind, struct catalog_entry *ret,
		       bgr_error *err)
{
	const char *name = str_field(e, "name"), *url = str_field(e, "url"), *sha = str_field(e, "sha256");
	const char *desc = str_field(e, "description"), *kernel = str_field(e, "kernel");
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(e, "size");

	if (!url || !*url || strlen(url) >= sizeof(ret->url) - strlen(base))
		return bgr_fail(err, EINVAL, "entry '%s': want a url", name);
	if (!sha || !sha256_valid(sha))
		return bgr_fail(err, EINVAL, "entry '%s': sha256 must be 64 lowercase hex digits", name);
	if (!cJSON_IsNumber(size) || size->valuedouble < 1 || size->valuedouble > 1e15)
		return bgr_fail(err, EINVAL, "entry '%s': want a size in bytes", name);
	if (kernel && artifact_name_check("kernel", kernel, err) < 0)
		return bgr_wrap(err, "entry '%s'", name);
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->name, sizeof(ret->name), "%s", name);
	snprintf(ret->description, sizeof(ret->description), "%s", desc ? desc : "");
	resolve_url(base, url, ret->url, sizeof(ret->url));
	snprintf(ret->sha256, sizeof(ret->sha256), "%s", sha);
	ret->size = (uint64_t)size->valuedouble;
	if (kind == CATALOG_IMAGE)
		snprintf(ret->kernel, sizeof(ret->kernel), "%s", kernel ? kernel : name);
	snprintf(ret->from, sizeof(ret->from), "%s", base);
	return 0;
}

int catalog_parse_find(const char *json, const char *base, enum catalog_kind kind, const char *name,
		       struct catalog_entry *ret, bgr_error *err)
{
	cJSON *j = cJSON_Parse(json);
	const cJSON *format, *list, *e;
	int r = 0;

	if (!cJSON_IsObject(j)) {
		r = bgr_fail(err, EINVAL, "not a JSON object");
		goto out;
	}
	format = cJSON_GetObjectItemCaseSensitive(j, "format");
	if (!cJSON_IsNumber(format) || format->valueint != 1) {
		r = bgr_fail(err, EINVAL, "format must be 1");
		goto out;
	}
	list = cJSON_GetObjectItemCaseSensitive(j, kind == CATALOG_IMAGE ? "images" : "kernels");
	if (list && !cJSON_IsArray(list)) {
		r = bgr_fail(err, EINVAL, "\"%s\" must be a list", kind == CATALOG_IMAGE ? "images" : "kernels");
		goto out;
	}
	cJSON_ArrayForEach(e, list)
	{
		const char *n = str_field(e, "name");
		if (!cJSON_IsObject(e) || !n) {
			r = bgr_fail(err, EINVAL, "every entry needs a name");
			goto out;
		}
		if (strcmp(n, name) == 0) {
			r = parse_entry(e, base, kind, ret, err);
			if (r == 0)
				r = 1;
			goto out;
		}
	}
out:
	cJSON_Delete(j);
	return r;
}

bool catalog_is_remote(const char *loc)
{
	return !strncmp(loc, "http://", 7) || !strncmp(loc, "https://", 8);
}

/* The text of a catalog at loc (a path, file:// or http(s) URL) and the
 * URL relative entries resolve against. */
static char *load(const struct catalog_sources *src, const char *loc, char **ret_base, bgr_error *err)
{
	char *text;

	if (catalog_is_remote(loc)) {
		/* fetched by a job of the loop (catalog_remote.c), never here */
		*ret_base = xstrdup(loc);
		if (!src->remote_text)
			bgr_fail(err, EIO, "cannot fetch catalog %s: %s", loc,
				 src->remote_error && *src->remote_error ? src->remote_error : "not fetched yet");
		return src->remote_text ? xstrdup(src->remote_text) : NULL;
	}
	if (!strncmp(loc, "file://", 7))
		loc += 7;
	*ret_base = xasprintf("file://%s", loc);
	text = read_text_file(loc);
	if (!text)
		bgr_fail(err, errno, "cannot read catalog %s: %s", loc, strerror(errno));
	return text;
}

int catalog_find(const struct catalog_sources *src, enum catalog_kind kind, const char *name, struct catalog_entry *ret,
		 bgr_error *err)
{
	_cleanup_free_ char *local = xasprintf("%s/catalog/catalog.json", src->cache_dir);
	const char *what = kind == CATALOG_IMAGE ? "image" : "kernel";
	bgr_error first = { 0 };
	int r;

	if (src->setting[0]) {
		_cleanup_free_ char *base = NULL;
		_cleanup_free_ char *text = load(src, src->setting, &base, &first);
		if (text && (r = catalog_parse_find(text, base, kind, name, ret, &first)) != 0)
			return r < 0 ? bgr_fail(err, first.code, "catalog %s: %s", src->setting, first.msg) : 0;
	}
	if (access(local, F_OK) == 0) {
		_cleanup_free_ char *base = NULL;
		bgr_error e;
		_cleanup_free_ char *text = load(src, local, &base, &e);
		if (!text && !first.code)
			first = e;
		if (text && (r = catalog_parse_find(text, base, kind, name, ret, &e)) != 0)
			return r < 0 ? bgr_fail(err, e.code, "catalog %s: %s", local, e.msg) : 0;
	}
	r = catalog_parse_find(catalog_builtin_json, "builtin:", kind, name, ret, err);
	if (r != 0)
		return r < 0 ? bgr_wrap(err, "built-in catalog") : 0;
	if (first.code)
		return bgr_fail(err, first.code, "no %s '%s' in the catalogs (%s)", what, name, first.msg);
	return bgr_fail(err, ENOENT, "no %s '%s' in the catalogs (%s%s%s, built-in)", what, name,
			src->setting[0] ? src->setting : "", src->setting[0] ? ", " : "", local);
}
