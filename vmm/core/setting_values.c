/* One setting's value, checked and stored with where it came from: what
 * config.toml, the environment and the defaults all go through. */
#include "settings.h"
#include "netdev.h"
#include "validate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void setting_src_set(setting_src dst, const char *text)
{
	snprintf(dst, SETTING_SRC_MAX, "%s", text);
}

int setting_network(struct vmm_settings *s, const char *v, const char *from, bgr_error *err)
{
	if (strcmp(v, "auto") && strcmp(v, "bridge") && strcmp(v, "user") && strcmp(v, "none"))
		return bgr_fail(err, EINVAL, "network '%.20s': want auto, bridge, user or none", v);
	snprintf(s->net.setting, sizeof(s->net.setting), "%s", v);
	setting_src_set(s->net.src_network, from);
	return 0;
}

int setting_bridge(struct vmm_settings *s, const char *v, const char *from, bgr_error *err)
{
	if (!netdev_ifname_valid(v))
		return bgr_fail(err, EINVAL,
				"bridge_name '%.40s': want 1 to 15 characters, no '/', ':', '%%' or spaces", v);
	snprintf(s->net.bridge, sizeof(s->net.bridge), "%s", v);
	setting_src_set(s->net.src_bridge, from);
	return 0;
}

int setting_subnet(struct vmm_settings *s, const char *v, const char *from, bgr_error *err)
{
	struct ippool pool;

	if (strlen(v) >= sizeof(s->net.subnet))
		return bgr_fail(err, EINVAL, "subnet '%.40s': want a.b.c.d/prefix", v);
	if (ippool_parse(v, &pool, err) < 0)
		return -EINVAL;
	snprintf(s->net.subnet, sizeof(s->net.subnet), "%s", v);
	setting_src_set(s->net.src_subnet, from);
	return 0;
}

int setting_accel(struct vmm_settings *s, const char *v, const char *from, bgr_error *err)
{
	if (strcmp(v, "auto") && strcmp(v, "kvm") && strcmp(v, "tcg"))
		return bgr_fail(err, EINVAL, "accel '%.20s': want auto, kvm or tcg", v);
	snprintf(s->accel_setting, sizeof(s->accel_setting), "%s", v);
	setting_src_set(s->src_accel, from);
	return 0;
}

int setting_vmm(struct vmm_settings *s, const char *v, const char *from, bgr_error *err)
{
	if (strcmp(v, "auto") && strcmp(v, "qemu") && strcmp(v, "firecracker"))
		return bgr_fail(err, EINVAL, "vmm '%.20s': want auto, qemu or firecracker", v);
	snprintf(s->vmm_setting, sizeof(s->vmm_setting), "%s", v);
	setting_src_set(s->src_vmm, from);
	return 0;
}

int setting_image(struct vmm_settings *s, const char *v, const char *from, bgr_error *err)
{
	if (!vm_name_valid(v))
		return bgr_fail(err, EINVAL, "default_image_name '%.40s': want a name like tiny or debian-bookworm", v);
	snprintf(s->image, sizeof(s->image), "%s", v);
	snprintf(s->kernel, sizeof(s->kernel), "%s", v);
	setting_src_set(s->src_image, from);
	return 0;
}

/* A catalog: an absolute path, ~/..., or a file://, http:// or https:// URL. */
int setting_catalog(struct vmm_settings *s, const char *v, const char *from, bgr_error *err)
{
	const char *home = getenv("HOME");
	bool url = !strncmp(v, "file:///", 8) || !strncmp(v, "http://", 7) || !strncmp(v, "https://", 8);

	if (v[0] == '~' && v[1] == '/' && home && strlen(home) + strlen(v) < sizeof(s->catalog)) {
		snprintf(s->catalog, sizeof(s->catalog), "%s%s", home, v + 1);
	} else if ((v[0] == '/' || url) && strlen(v) < sizeof(s->catalog) && !strpbrk(v, " \t\n")) {
		snprintf(s->catalog, sizeof(s->catalog), "%s", v);
	} else {
		return bgr_fail(err, EINVAL,
				"catalog '%.100s': want an absolute path, ~/..., or a file://, http:// or https:// URL",
				v);
	}
	setting_src_set(s->src_catalog, from);
	return 0;
}
