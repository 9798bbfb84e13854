/* See image_meta.h. */
#include "image_meta.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define IMAGE_META_MAX_BYTES (64 << 10)

static int copy_string(const cJSON *j, const char *key, char *out, size_t size, bgr_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	if (!v)
		return 0;
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= size)
		return bgr_fail(err, EINVAL, "image.json: %s: not a string of at most %zu bytes", key, size - 1);
	for (const char *p = v->valuestring; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return bgr_fail(err, EINVAL, "image.json: %s: control characters", key);
	snprintf(out, size, "%s", v->valuestring);
	return 0;
}

static int parse(const char *text, struct image_meta *m, bgr_error *err)
{
	cJSON *j = cJSON_Parse(text);
	const cJSON *created;
	int r = 0;

	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return bgr_fail(err, EINVAL, "image.json is not a JSON object");
	}
	if (copy_string(j, "source", m->source, sizeof(m->source), err) < 0 ||
	    copy_string(j, "sha256", m->sha256, sizeof(m->sha256), err) < 0 ||
	    copy_string(j, "kernel", m->kernel, sizeof(m->kernel), err) < 0 ||
	    copy_string(j, "cmdline", m->cmdline, sizeof(m->cmdline), err) < 0)
		r = -EINVAL;
	created = cJSON_GetObjectItemCaseSensitive(j, "created");
	if (r == 0 && created) {
		if (cJSON_IsNumber(created) && created->valuedouble >= 0 && created->valuedouble < 1e15)
			m->created = (int64_t)created->valuedouble;
		else
			r = bgr_fail(err, EINVAL, "image.json: created: not a number of seconds");
	}
	cJSON_Delete(j);
	return r;
}

static int meta_read(const char *dir, const char *name, const char *file, struct image_meta *ret, bgr_error *err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s/%s", dir, name, file);
	_cleanup_free_ char *text = read_text_file(path);
	struct image_meta m = { 0 };

	if (!text) {
		if (errno == ENOENT)
			return -ENOENT;
		return bgr_fail(err, errno, "%s: %s", path, strerror(errno));
	}
	if (strlen(text) > IMAGE_META_MAX_BYTES)
		return bgr_fail(err, EFBIG, "%s: larger than %d bytes", path, IMAGE_META_MAX_BYTES);
	if (parse(text, &m, err) < 0)
		return -EINVAL;
	*ret = m;
	return 0;
}

int image_meta_read(const char *images_dir, const char *image, struct image_meta *ret, bgr_error *err)
{
	return meta_read(images_dir, image, "image.json", ret, err);
}

int kernel_meta_read(const char *kernels_dir, const char *kernel, struct image_meta *ret, bgr_error *err)
{
	return meta_read(kernels_dir, kernel, "kernel.json", ret, err);
}
