#include "bundle.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>

/* Every name a bundle may hold, and which part of the store it goes to. */
const struct allowed_file allowed_files[BUNDLE_FILES] = {
	{ "rootfs.ext4", KIND_IMAGE }, { "vmlinuz", KIND_KERNEL }, { "vmlinux", KIND_KERNEL },
	{ "initrd.img", KIND_KERNEL }, { "version", KIND_KERNEL },
};

int allowed_index(const char *path)
{
	for (size_t i = 0; i < ARRAY_SIZE(allowed_files); i++)
		if (!strcmp(path, allowed_files[i].path))
			return (int)i;
	return -1;
}

static int parse_kind(const cJSON *j, enum bundle_kind *ret, bgr_error *err)
{
	static const char *const names[] = { [KIND_IMAGE] = "image", [KIND_KERNEL] = "kernel", [KIND_BOTH] = "both" };

	for (int k = KIND_IMAGE; k <= KIND_BOTH; k++)
		if (cJSON_IsString(j) && !strcmp(j->valuestring, names[k])) {
			*ret = k;
			return 0;
		}
	return bgr_fail(err, EINVAL, "manifest: kind must be \"image\", \"kernel\" or \"both\"");
}

static int parse_name(const cJSON *j, const char *what, char *out, bgr_error *err)
{
	if (!cJSON_IsString(j))
		return bgr_fail(err, EINVAL, "manifest: %s missing", what);
	if (artifact_name_check(strcmp(what, "name") ? what : "bundle", j->valuestring, err) < 0)
		return bgr_wrap(err, "manifest");
	snprintf(out, VM_NAME_MAX + 1, "%s", j->valuestring);
	return 0;
}

static int parse_file(const cJSON *f, struct manifest *m, bgr_error *err)
{
	const cJSON *path = cJSON_GetObjectItemCaseSensitive(f, "path");
	const cJSON *sha = cJSON_GetObjectItemCaseSensitive(f, "sha256");
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(f, "size");
	int i = cJSON_IsString(path) ? allowed_index(path->valuestring) : -1;
	char shown[64];

	if (!cJSON_IsString(path))
		return bgr_fail(err, EINVAL, "manifest: a file without a path");
	printable_copy(path->valuestring, shown, sizeof(shown));
	if (i < 0)
		return bgr_fail(err, EINVAL, "manifest: file not allowed in a bundle: %s", shown);
	if (!(allowed_files[i].part & m->kind))
		return bgr_fail(err, EINVAL, "manifest: %s does not belong in a bundle of this kind", shown);
	if (m->files[i].listed)
		return bgr_fail(err, EINVAL, "manifest: %s listed twice", shown);
	if (!cJSON_IsString(sha) || !sha256_valid(sha->valuestring))
		return bgr_fail(err, EINVAL, "manifest: %s: bad sha256", shown);
	if (!cJSON_IsNumber(size) || size->valuedouble < 0 || size->valuedouble > 9.0e15 ||
	    size->valuedouble != (double)(uint64_t)size->valuedouble)
		return bgr_fail(err, EINVAL, "manifest: %s: bad size", shown);
	m->files[i].listed = true;
	m->files[i].size = (uint64_t)size->valuedouble;
	memcpy(m->files[i].sha256, sha->valuestring, SHA256_HEX_LEN + 1);
	return 0;
}

bool manifest_lists(const struct manifest *m, const char *path)
{
	return m->files[allowed_index(path)].listed;
}

static int check_completeness(const struct manifest *m, bgr_error *err)
{
	if ((m->kind & KIND_IMAGE) && !manifest_lists(m, "rootfs.ext4"))
		return bgr_fail(err, EINVAL, "manifest: an image bundle needs rootfs.ext4");
	if ((m->kind & KIND_KERNEL) && !manifest_lists(m, "vmlinuz") && !manifest_lists(m, "vmlinux"))
		return bgr_fail(err, EINVAL, "manifest: a kernel bundle needs vmlinuz or vmlinux");
	return 0;
}

int parse_manifest(struct manifest *m, bgr_error *err)
{
	cJSON *j = cJSON_ParseWithLength(m->text, m->text_len);
	const cJSON *kernel, *f;
	int r = -1;

	if (!cJSON_IsObject(j)) {
		bgr_fail(err, EINVAL, "manifest.json is not a JSON object");
		goto out;
	}
	if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "format")) ||
	    cJSON_GetObjectItemCaseSensitive(j, "format")->valuedouble != BUNDLE_FORMAT) {
		bgr_fail(err, EINVAL, "manifest: unknown format (this banger reads format %d)", BUNDLE_FORMAT);
		goto out;
	}
	if (parse_name(cJSON_GetObjectItemCaseSensitive(j, "name"), "name", m->name, err) < 0 ||
	    parse_kind(cJSON_GetObjectItemCaseSensitive(j, "kind"), &m->kind, err) < 0)
		goto out;
	kernel = cJSON_GetObjectItemCaseSensitive(j, "kernel");
	if (m->kind != KIND_KERNEL && kernel) {
		if (parse_name(kernel, "kernel", m->kernel, err) < 0)
			goto out;
	} else
		memcpy(m->kernel, m->name, sizeof(m->kernel));
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "files"))) {
		bgr_fail(err, EINVAL, "manifest: files missing");
		goto out;
	}
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(j, "files"))
	{
		if (parse_file(f, m, err) < 0)
			goto out;
	}
	r = check_completeness(m, err);
out:
	cJSON_Delete(j);
	return r;
}
