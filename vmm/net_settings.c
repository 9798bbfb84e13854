/* Reads the network settings from the environment and picks the mode:
 * bridge when asked for or when bangerd has CAP_NET_ADMIN, else user. */
#include "net_settings.h"
#include "netdev.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env(const char *name, const char **src)
{
	const char *v = getenv(name);

	if (v && *v) {
		*src = name;
		return v;
	}
	*src = "built-in default";
	return NULL;
}

static int parse_bool(const char *v, bool *ret)
{
	if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes"))
		*ret = true;
	else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

static int choose_mode(struct vmm_net_settings *s, bgr_error *err)
{
	bool admin = netdev_have_net_admin();

	if (!strcmp(s->setting, "none")) {
		s->mode = NET_NONE;
		snprintf(s->why, sizeof(s->why), "network = none: guests get no network device");
	} else if (!strcmp(s->setting, "user")) {
		s->mode = NET_USER;
		snprintf(s->why, sizeof(s->why), "network = user: QEMU user networking, ssh forwarded from 127.0.0.1");
	} else if (!strcmp(s->setting, "bridge")) {
		if (!admin)
			return bgr_fail(err, EPERM, "network = bridge needs CAP_NET_ADMIN (run bangerd as root, or use network = user)");
		s->mode = NET_BRIDGE;
		snprintf(s->why, sizeof(s->why), "network = bridge");
	} else if (!strcmp(s->setting, "auto")) {
		s->mode = admin ? NET_BRIDGE : NET_USER;
		snprintf(s->why, sizeof(s->why), "auto: %s", admin ? "bangerd has CAP_NET_ADMIN, so a bridge"
								   : "no CAP_NET_ADMIN, so QEMU user networking");
	} else {
		return bgr_fail(err, EINVAL, "network '%.20s': want auto, bridge, user or none", s->setting);
	}
	return 0;
}

int net_settings_load(struct vmm_net_settings *s, bgr_error *err)
{
	const char *v, *src;
	int r;

	memset(s, 0, sizeof(*s));
	v = env("BANGER_NETWORK", &s->src_network);
	snprintf(s->setting, sizeof(s->setting), "%s", v ? v : "auto");
	if (v && strlen(v) >= sizeof(s->setting))
		return bgr_fail(err, EINVAL, "network '%.20s': want auto, bridge, user or none", v);
	v = env("BANGER_BRIDGE", &s->src_bridge);
	if (v && !netdev_ifname_valid(v))
		return bgr_fail(err, EINVAL, "bridge_name '%.40s': want 1 to 15 characters, no '/' or spaces", v);
	snprintf(s->bridge, sizeof(s->bridge), "%s", v ? v : "banger0");
	v = env("BANGER_SUBNET", &s->src_subnet);
	if (v && strlen(v) >= sizeof(s->subnet))
		return bgr_fail(err, EINVAL, "subnet '%.40s': want a.b.c.d/prefix", v);
	snprintf(s->subnet, sizeof(s->subnet), "%s", v ? v : "172.16.0.0/24");
	r = ippool_parse(s->subnet, &s->pool, err);
	if (r < 0)
		return r;
	v = env("BANGER_NAT", &s->src_nat);
	s->nat = true;
	if (v && parse_bool(v, &s->nat) < 0)
		return bgr_fail(err, EINVAL, "nat '%.20s': want true or false", v);
	v = env("BANGER_DNS_PORT", &src);
	s->dns_port = 53;
	if (v) {
		char *end;
		long p = strtol(v, &end, 10);
		if (*end || p < 1 || p > 65535)
			return bgr_fail(err, EINVAL, "BANGER_DNS_PORT '%.20s': want 1 to 65535", v);
		s->dns_port = (int)p;
	}
	return choose_mode(s, err);
}
