/* See oci_manifest.h. */
#include "oci_manifest.h"
#include "util.h"
#include "validate.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void cjson_deletep(cJSON **j)
{
	cJSON_Delete(*j);
}
#define _cleanup_cjson_ __attribute__((cleanup(cjson_deletep)))

static const char *const index_types[] = {
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
};
static const char *const manifest_types[] = {
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
};
/* Layers libarchive unpacks (gzip, zstd or plain tar; it sniffs which). */
static const char *const layer_types[] = {
	"application/vnd.oci.image.layer.v1.tar",       "application/vnd.oci.image.layer.v1.tar+gzip",
	"application/vnd.oci.image.layer.v1.tar+zstd",  "application/vnd.docker.image.rootfs.diff.tar.gzip",
	"application/vnd.docker.image.rootfs.diff.tar",
};

static bool one_of(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

static const char *string_of(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(j) ? j->valuestring : NULL;
}

static cJSON *parse_object(const char *json, size_t len, bgr_error *err)
{
	cJSON *j = cJSON_ParseWithLength(json, len);

	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		bgr_fail(err, EINVAL, "the manifest is not a JSON object");
		return NULL;
	}
	return j;
}

int oci_manifest_is_index(const char *json, size_t len, const char *content_type, bgr_error *err)
{
	_cleanup_cjson_ cJSON *j = parse_object(json, len, err);
	const char *mt;

	if (!j)
		return -EINVAL;
	mt = string_of(j, "mediaType");
	if (!mt || !*mt)
		mt = content_type;
	if (one_of(mt, index_types, ARRAY_SIZE(index_types)))
		return 1;
	if (one_of(mt, manifest_types, ARRAY_SIZE(manifest_types)))
		return 0;
	if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "manifests")))
		return 1;
	if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "layers")))
		return 0;
	return bgr_fail(err, EINVAL, "unsupported manifest type %.100s (schema 1 images are not supported)",
			mt ? mt : "(none)");
}

static bool digest_valid(const char *d)
{
	return d && !strncmp(d, "sha256:", 7) && sha256_valid(d + 7);
}

static int parse_descriptor(const cJSON *o, const char *what, struct oci_descriptor *ret, bgr_error *err)
{
	const char *mt = string_of(o, "mediaType"), *digest = string_of(o, "digest");
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(o, "size");

	if (!digest_valid(digest))
		return bgr_fail(err, EINVAL, "%s: missing or unsupported digest (want sha256:HEX)", what);
	if (!cJSON_IsNumber(size) || size->valuedouble < 0 || size->valuedouble > 9.0e15 ||
	    size->valuedouble != (double)(uint64_t)size->valuedouble)
		return bgr_fail(err, EINVAL, "%s: bad size", what);
	snprintf(ret->media_type, sizeof(ret->media_type), "%s", mt ? mt : "");
	snprintf(ret->digest, sizeof(ret->digest), "%s", digest);
	ret->size = (uint64_t)size->valuedouble;
	return 0;
}

static void add_platform(char *list, size_t size, const char *os, const char *arch, const char *variant)
{
	size_t n = strlen(list);
	char one[96];

	snprintf(one, sizeof(one), "%s%s/%s%s%s", n ? ", " : "", os ? os : "?", arch ? arch : "?", variant ? "/" : "",
		 variant ? variant : "");
	if (n + strlen(one) < size)
		strcat(list, one);
}

int oci_index_pick(const char *json, size_t len, const char *os, const char *arch, char ret[OCI_DIGEST_SIZE],
		   bgr_error *err)
{
	_cleanup_cjson_ cJSON *j = parse_object(json, len, err);
	const cJSON *m, *manifests;
	char seen[256] = "";
	struct oci_descriptor d;

	if (!j)
		return -EINVAL;
	manifests = cJSON_GetObjectItemCaseSensitive(j, "manifests");
	if (!cJSON_IsArray(manifests))
		return bgr_fail(err, EINVAL, "index: no manifests");
	cJSON_ArrayForEach(m, manifests)
	{
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "platform");
		const char *mos = string_of(p, "os"), *march = string_of(p, "architecture");
		if (mos && march && !strcmp(mos, os) && !strcmp(march, arch)) {
			if (parse_descriptor(m, "index entry", &d, err) < 0)
				return -EINVAL;
			memcpy(ret, d.digest, OCI_DIGEST_SIZE);
			return 0;
		}
		add_platform(seen, sizeof(seen), mos, march, string_of(p, "variant"));
	}
	return bgr_fail(err, ENOENT, "no %s/%s image in the index (it has: %s)", os, arch, seen[0] ? seen : "none");
}

static int parse_layer(const cJSON *o, size_t i, struct oci_descriptor *ret, bgr_error *err)
{
	char what[32], shown[128];

	snprintf(what, sizeof(what), "layer %zu", i + 1);
	if (parse_descriptor(o, what, ret, err) < 0)
		return -EINVAL;
	if (!one_of(ret->media_type, layer_types, ARRAY_SIZE(layer_types))) {
		printable_copy(ret->media_type, shown, sizeof(shown));
		return bgr_fail(err, EINVAL, "%s: unsupported media type '%s' (want a tar, tar+gzip or tar+zstd layer)",
				what, shown);
	}
	return 0;
}

int oci_manifest_parse(const char *json, size_t len, struct oci_image_manifest *ret, bgr_error *err)
{
	_cleanup_cjson_ cJSON *j = parse_object(json, len, err);
	const cJSON *layers, *l;
	size_t n = 0;

	if (!j)
		return -EINVAL;
	if (parse_descriptor(cJSON_GetObjectItemCaseSensitive(j, "config"), "config", &ret->config, err) < 0)
		return -EINVAL;
	layers = cJSON_GetObjectItemCaseSensitive(j, "layers");
	if (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) == 0)
		return bgr_fail(err, EINVAL, "the manifest lists no layers");
	if (cJSON_GetArraySize(layers) > OCI_LAYERS_MAX)
		return bgr_fail(err, E2BIG, "more than %d layers", OCI_LAYERS_MAX);
	cJSON_ArrayForEach(l, layers)
	{
		if (parse_layer(l, n, &ret->layers[n], err) < 0)
			return -EINVAL;
		n++;
	}
	ret->n_layers = n;
	return 0;
}
