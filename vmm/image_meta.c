#include "image_meta.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>

static void copy_string(const cJSON *obj, const char *key, char *out, size_t size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (cJSON_IsString(v) && strlen(v->valuestring) < size)
		snprintf(out, size, "%s", v->valuestring);
}

static int meta_read(const char *dir, const char *name, const char *file, struct image_meta *ret, bgr_error *err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s/%s", dir, name, file);
	_cleanup_free_ char *text = read_text_file(path);
	cJSON *j, *created;

	memset(ret, 0, sizeof(*ret));
	if (!text)
		return bgr_fail(err, errno, "cannot read %s: %s", path, strerror(errno));
	j = cJSON_Parse(text);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return bgr_fail(err, EINVAL, "%s is not a JSON object", path);
	}
	copy_string(j, "source", ret->source, sizeof(ret->source));
	copy_string(j, "sha256", ret->sha256, sizeof(ret->sha256));
	copy_string(j, "kernel", ret->kernel, sizeof(ret->kernel));
	copy_string(j, "cmdline", ret->cmdline, sizeof(ret->cmdline));
	created = cJSON_GetObjectItemCaseSensitive(j, "created");
	if (cJSON_IsNumber(created) && created->valuedouble > 0)
		ret->created = (int64_t)created->valuedouble;
	cJSON_Delete(j);
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
