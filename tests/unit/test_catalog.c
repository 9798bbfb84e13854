/* The catalog reader: lookups, URL resolution, and refusals of bad entries. */
#include "catalog.h"
#include "tap.h"

#include <errno.h>
#include <string.h>

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int find(const char *json, const char *base, enum catalog_kind kind, const char *name, struct catalog_entry *e,
		bgr_error *err)
{
	memset(err, 0, sizeof(*err));
	return catalog_parse_find(json, base, kind, name, e, err);
}

static void lookups(void)
{
	const char *json =
		"{\"format\": 1, \"images\": ["
		"{\"name\": \"a\", \"url\": \"a.tar.zst\", \"sha256\": \"" SHA
		"\", \"size\": 10},"
		"{\"name\": \"b\", \"description\": \"bee\", \"url\": \"https://x.org/b.tar.gz\", \"sha256\": \"" SHA
		"\", \"size\": 20, \"kernel\": \"k\"},"
		"{\"name\": \"c\", \"url\": \"/srv/c.tar.zst\", \"sha256\": \"" SHA
		"\", \"size\": 30}],"
		"\"kernels\": [{\"name\": \"k\", \"url\": \"k.tar.zst\", \"sha256\": \"" SHA "\", \"size\": 5}]}";
	struct catalog_entry e;
	bgr_error err;

	is_int(find(json, "http://h:8/p/catalog.json", CATALOG_IMAGE, "a", &e, &err), 1, "image a is found");
	is_str(e.url, "http://h:8/p/a.tar.zst", "a relative URL resolves against the catalog's");
	is_str(e.kernel, "a", "the kernel defaults to the image's name");
	is_int((long long)e.size, 10, "size");
	is_str(e.sha256, SHA, "sha256");
	is_int(find(json, "file:///c/catalog.json", CATALOG_IMAGE, "a", &e, &err), 1, "again from a file");
	is_str(e.url, "file:///c/a.tar.zst", "relative to a file:// catalog");
	is_int(find(json, "file:///c/catalog.json", CATALOG_IMAGE, "b", &e, &err), 1, "image b");
	is_str(e.url, "https://x.org/b.tar.gz", "an absolute URL stays");
	is_str(e.kernel, "k", "its kernel");
	is_str(e.description, "bee", "its description");
	is_int(find(json, "file:///c/catalog.json", CATALOG_IMAGE, "c", &e, &err), 1, "image c");
	is_str(e.url, "file:///srv/c.tar.zst", "an absolute path becomes file://");
	is_int(find(json, "x", CATALOG_IMAGE, "k", &e, &err), 0, "a kernel is not an image");
	is_int(find(json, "file:///c/catalog.json", CATALOG_KERNEL, "k", &e, &err), 1, "kernel k");
	is_str(e.kernel, "", "kernels have no kernel");
	is_int(find(json, "x", CATALOG_IMAGE, "zz", &e, &err), 0, "an unknown name: 0");
	is_int(find("{\"format\": 1}", "x", CATALOG_IMAGE, "a", &e, &err), 0, "no lists: nothing found");
}

static void refusals(void)
{
	static const struct {
		const char *json, *what;
	} bad[] = {
		{ "not json", "not JSON" },
		{ "[]", "an array" },
		{ "{\"format\": 2, \"images\": []}", "format 2" },
		{ "{\"images\": []}", "no format" },
		{ "{\"format\": 1, \"images\": {}}", "images not a list" },
		{ "{\"format\": 1, \"images\": [42]}", "an entry not an object" },
		{ "{\"format\": 1, \"images\": [{\"url\": \"u\"}]}", "an entry without a name" },
		{ "{\"format\": 1, \"images\": [{\"name\": \"a\", \"sha256\": \"" SHA "\", \"size\": 1}]}", "no url" },
		{ "{\"format\": 1, \"images\": [{\"name\": \"a\", \"url\": \"u\", \"sha256\": \"abc\", \"size\": 1}]}",
		  "a short sha256" },
		{ "{\"format\": 1, \"images\": [{\"name\": \"a\", \"url\": \"u\", \"sha256\": \"" SHA "\"}]}",
		  "no size" },
		{ "{\"format\": 1, \"images\": [{\"name\": \"a\", \"url\": \"u\", \"sha256\": \"" SHA
		  "\", \"size\": 0}]}",
		  "size 0" },
		{ "{\"format\": 1, \"images\": [{\"name\": \"a\", \"url\": \"u\", \"sha256\": \"" SHA
		  "\", \"size\": 1, \"kernel\": \"../x\"}]}",
		  "a bad kernel name" },
	};
	struct catalog_entry e;
	bgr_error err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = find(bad[i].json, "x", CATALOG_IMAGE, "a", &e, &err);
		tap_ok(r == -EINVAL && err.msg[0], "refused: %s (%s)", bad[i].what, err.msg);
	}
}

static void builtin(void)
{
	struct catalog_entry e;
	bgr_error err;

	tap_ok(find(catalog_builtin_json, "builtin:", CATALOG_IMAGE, "no-such-image", &e, &err) == 0,
	       "the built-in catalog parses");
}

int main(void)
{
	lookups();
	refusals();
	builtin();
	return tap_done();
}
