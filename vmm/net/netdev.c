#include "netdev.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>

bool netdev_ifname_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= IFNAMSIZ || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (const char *p = name; *p; p++) {
		if (*p == '/' || *p == ':' || *p == '%' || isspace((unsigned char)*p))
			return false;
	}
	return true;
}

bool netdev_have_net_admin(void)
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };

	if (syscall(SYS_capget, &header, data) < 0)
		return false;
	return data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective & CAP_TO_MASK(CAP_NET_ADMIN);
}

/* Any socket reaches the device ioctls; AF_UNIX works without IPv4. */
static int ctl_socket(void)
{
	return socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

static struct ifreq ifreq_for(const char *name)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	return ifr;
}

static int if_index(int sock, const char *name)
{
	struct ifreq ifr = ifreq_for(name);

	return ioctl(sock, SIOCGIFINDEX, &ifr) < 0 ? -errno : ifr.ifr_ifindex;
}

static int if_set_up(int sock, const char *name, bool up)
{
	struct ifreq ifr = ifreq_for(name);

	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	return ioctl(sock, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

/* /sys/class/net/<name>/bridge would say it too, but sysfs shows the network
 * namespace of whoever mounted it, not ours; the ethtool driver name does not
 * depend on that. */
static bool is_bridge(int sock, const char *name)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = ifreq_for(name);

	ifr.ifr_data = (void *)&info;
	return ioctl(sock, SIOCETHTOOL, &ifr) == 0 && strcmp(info.driver, "bridge") == 0;
}

static void nl_put_u32(struct nlmsghdr *msg, unsigned short type, uint32_t value)
{
	struct rtattr *rta = (struct rtattr *)((char *)msg + NLMSG_ALIGN(msg->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(sizeof(value));
	memcpy(RTA_DATA(rta), &value, sizeof(value));
	msg->nlmsg_len = NLMSG_ALIGN(msg->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* NLMSG_OK without its signed/unsigned comparison */
static bool nl_ok(const struct nlmsghdr *h, int len)
{
	return len >= (int)sizeof(*h) && h->nlmsg_len >= sizeof(*h) && h->nlmsg_len <= (unsigned)len;
}

typedef void nl_reply_fn(const struct nlmsghdr *reply, void *data);

/* Sends one rtnetlink request that asks for an ack; messages before the ack
 * go to on_reply (may be NULL). Returns the kernel's answer (0 or -errno). */
static int nl_request(struct nlmsghdr *msg, nl_reply_fn *on_reply, void *data)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	union {
		struct nlmsghdr align;
		char buf[8192];
	} reply;
	_cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (sendto(fd, msg, msg->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, &reply, sizeof(reply), 0);
		int len = (int)n;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (struct nlmsghdr *h = &reply.align; nl_ok(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != msg->nlmsg_seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
			if (on_reply)
				on_reply(h, data);
		}
	}
}

static void read_master(const struct nlmsghdr *reply, void *data)
{
	struct ifinfomsg *ifi = NLMSG_DATA(reply);
	int len = (int)IFLA_PAYLOAD(reply);

	if (reply->nlmsg_type != RTM_NEWLINK)
		return;
	for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_MASTER)
			memcpy(data, RTA_DATA(a), sizeof(uint32_t));
	}
}

/* The ifindex of the bridge (or bond...) index is a port of, 0 when none.
 * Asked over rtnetlink: sysfs may show another network namespace. */
static int if_master(int index)
{
	struct {
		struct nlmsghdr hdr;
		struct ifinfomsg ifi;
	} req = {
		.hdr = {
			.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
			.nlmsg_type = RTM_GETLINK,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK,
			.nlmsg_seq = 1,
		},
		.ifi = { .ifi_family = AF_UNSPEC, .ifi_index = index },
	};
	uint32_t master = 0;
	int r = nl_request(&req.hdr, read_master, &master);

	return r < 0 ? r : (int)master;
}

/* Adds addr/prefix (network byte order) to ifindex; already there is fine. */
static int addr_add(int ifindex, uint32_t addr, int prefix)
{
	struct {
		struct nlmsghdr hdr;
		struct ifaddrmsg ifa;
		char attrs[3 * RTA_SPACE(sizeof(uint32_t))];
	} req = {
		.hdr = {
			.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg)),
			.nlmsg_type = RTM_NEWADDR,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
			.nlmsg_seq = 1,
		},
		.ifa = {
			.ifa_family = AF_INET,
			.ifa_prefixlen = (unsigned char)prefix,
			.ifa_scope = RT_SCOPE_UNIVERSE,
			.ifa_index = (unsigned)ifindex,
		},
	};
	uint32_t host_mask = prefix ? 0xffffffffu << (32 - prefix) : 0;
	int r;

	nl_put_u32(&req.hdr, IFA_LOCAL, addr);
	nl_put_u32(&req.hdr, IFA_ADDRESS, addr);
	if (prefix < 31)
		nl_put_u32(&req.hdr, IFA_BROADCAST, htonl(ntohl(addr) | ~host_mask));
	r = nl_request(&req.hdr, NULL, NULL);
	return r == -EEXIST ? 0 : r;
}

/* Puts ifindex in interface group `group` (what nat.c's forward guard
 * knows every banger bridge by). */
static int link_set_group(int ifindex, uint32_t group)
{
	struct {
		struct nlmsghdr hdr;
		struct ifinfomsg ifi;
		char attrs[RTA_SPACE(sizeof(uint32_t))];
	} req = {
		.hdr = {
			.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
			.nlmsg_type = RTM_NEWLINK,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK,
			.nlmsg_seq = 1,
		},
		.ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex },
	};

	nl_put_u32(&req.hdr, IFLA_GROUP, group);
	return nl_request(&req.hdr, NULL, NULL);
}

static int bridge_create(int sock, const char *name, bgr_error *err)
{
	/* SIOCBRADDBR copies IFNAMSIZ-1 bytes whatever the string's length */
	char buf[IFNAMSIZ] = { 0 };
	int e;

	snprintf(buf, sizeof(buf), "%s", name);
	if (ioctl(sock, SIOCBRADDBR, buf) == 0)
		return 0;
	e = errno;
	if (e != EEXIST)
		return bgr_fail(err, e, "bridge %s: cannot create: %s", name, strerror(e));
	if (!is_bridge(sock, name))
		return bgr_fail(err, EEXIST, "bridge %s: exists and is not a bridge", name);
	return 0;
}

int netdev_bridge_up(const char *name, uint32_t gw, int prefix, bgr_error *err)
{
	_cleanup_close_ int sock = -1;
	char gw_text[INET_ADDRSTRLEN];
	int index, r;

	if (!netdev_ifname_valid(name))
		return bgr_fail(err, EINVAL, "bridge %s: invalid interface name", name);
	if (prefix < 1 || prefix > 32)
		return bgr_fail(err, EINVAL, "bridge %s: invalid prefix length %d", name, prefix);
	sock = ctl_socket();
	if (sock < 0)
		return bgr_fail(err, errno, "bridge %s: no control socket: %s", name, strerror(errno));
	r = bridge_create(sock, name, err);
	if (r < 0)
		return r;
	index = if_index(sock, name);
	if (index < 0)
		return bgr_fail(err, -index, "bridge %s: vanished: %s", name, strerror(-index));
	r = link_set_group(index, NETDEV_BANGER_GROUP);
	if (r < 0)
		return bgr_fail(err, -r, "bridge %s: cannot set its interface group: %s", name, strerror(-r));
	r = addr_add(index, gw, prefix);
	if (r < 0) {
		inet_ntop(AF_INET, &gw, gw_text, sizeof(gw_text));
		return bgr_fail(err, -r, "bridge %s: cannot add address %s/%d: %s", name, gw_text, prefix,
				strerror(-r));
	}
	r = if_set_up(sock, name, true);
	if (r < 0)
		return bgr_fail(err, -r, "bridge %s: cannot set up: %s", name, strerror(-r));
	return 0;
}

int netdev_bridge_delete(const char *name, bgr_error *err)
{
	_cleanup_close_ int sock = -1;
	char buf[IFNAMSIZ] = { 0 };
	int r;

	if (!netdev_ifname_valid(name))
		return bgr_fail(err, EINVAL, "bridge %s: invalid interface name", name);
	sock = ctl_socket();
	if (sock < 0)
		return bgr_fail(err, errno, "bridge %s: no control socket: %s", name, strerror(errno));
	if (if_index(sock, name) == -ENODEV)
		return 0;
	if (!is_bridge(sock, name))
		return bgr_fail(err, EINVAL, "bridge %s: is not a bridge, not deleting it", name);
	/* the kernel refuses (EBUSY) to delete a bridge that is up */
	r = if_set_up(sock, name, false);
	if (r < 0 && r != -ENODEV)
		return bgr_fail(err, -r, "bridge %s: cannot set down: %s", name, strerror(-r));
	snprintf(buf, sizeof(buf), "%s", name);
	if (ioctl(sock, SIOCBRDELBR, buf) < 0 && errno != ENXIO)
		return bgr_fail(err, errno, "bridge %s: cannot delete: %s", name, strerror(errno));
	return 0;
}

static int tap_create(int fd, const char *ifname, bgr_error *err)
{
	struct ifreq ifr = ifreq_for(ifname);
	int e;

	/* IFF_TUN_EXCL: never adopt a leftover device of the same name. It is
	 * 0x8000, the sign bit of the short ifr_flags: hence the cast. */
	ifr.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_TUN_EXCL);
	if (ioctl(fd, TUNSETIFF, &ifr) == 0)
		return 0;
	e = errno;
	if (e == EBUSY)
		return bgr_fail(err, EBUSY, "tap %s: an interface of that name already exists", ifname);
	return bgr_fail(err, e, "tap %s: cannot create: %s", ifname, strerror(e));
}

static int bridge_attach(int sock, const char *bridge, const char *ifname, int index, bgr_error *err)
{
	struct ifreq ifr = ifreq_for(bridge);
	int e;

	ifr.ifr_ifindex = index;
	if (ioctl(sock, SIOCBRADDIF, &ifr) == 0)
		return 0;
	e = errno;
	if (e == EOPNOTSUPP)
		return bgr_fail(err, e, "tap %s: cannot attach: %s is not a bridge", ifname, bridge);
	return bgr_fail(err, e, "tap %s: cannot attach to bridge %s: %s", ifname, bridge, strerror(e));
}

int netdev_attach(const char *ifname, const char *bridge, bgr_error *err)
{
	_cleanup_close_ int sock = -1;
	int index, master, r;

	if (!netdev_ifname_valid(ifname))
		return bgr_fail(err, EINVAL, "tap %s: invalid interface name", ifname);
	if (!netdev_ifname_valid(bridge))
		return bgr_fail(err, EINVAL, "tap %s: invalid bridge name %s", ifname, bridge);
	sock = ctl_socket();
	if (sock < 0)
		return bgr_fail(err, errno, "tap %s: no control socket: %s", ifname, strerror(errno));
	index = if_index(sock, ifname);
	if (index < 0)
		return bgr_fail(err, -index, "tap %s: %s", ifname, strerror(-index));
	master = if_master(index);
	/* attaching twice would fail with EBUSY */
	if (master <= 0 || master != if_index(sock, bridge)) {
		r = bridge_attach(sock, bridge, ifname, index, err);
		if (r < 0)
			return r;
	}
	r = if_set_up(sock, ifname, true);
	if (r < 0)
		return bgr_fail(err, -r, "tap %s: cannot set up: %s", ifname, strerror(-r));
	return 0;
}

/* A new tap on no bridge, down. */
static int tap_open_detached(const char *ifname, bgr_error *err)
{
	_cleanup_close_ int fd = -1;
	int r;

	if (!netdev_ifname_valid(ifname))
		return bgr_fail(err, EINVAL, "tap %s: invalid interface name", ifname);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return bgr_fail(err, errno, "tap %s: cannot open /dev/net/tun: %s", ifname, strerror(errno));
	r = tap_create(fd, ifname, err);
	if (r < 0)
		return r;
	return steal_fd(&fd);
}

int netdev_tap_open(const char *ifname, const char *bridge, bgr_error *err)
{
	_cleanup_close_ int fd = -1;
	int r;

	if (!netdev_ifname_valid(bridge))
		return bgr_fail(err, EINVAL, "tap %s: invalid bridge name %s", ifname, bridge);
	fd = tap_open_detached(ifname, err);
	if (fd < 0)
		return fd;
	r = netdev_attach(ifname, bridge, err);
	if (r < 0)
		return r;
	return steal_fd(&fd);
}

int netdev_tap_create_persistent(const char *ifname, const char *bridge, bgr_error *err)
{
	_cleanup_close_ int fd = bridge ? netdev_tap_open(ifname, bridge, err) : tap_open_detached(ifname, err);

	if (fd < 0)
		return fd;
	if (ioctl(fd, TUNSETPERSIST, 1) < 0)
		return bgr_fail(err, errno, "tap %s: cannot make it persistent: %s", ifname, strerror(errno));
	return 0;
}

int netdev_tap_delete(const char *ifname, bgr_error *err)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	_cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return bgr_fail(err, errno, "tap %s: cannot open /dev/net/tun: %s", ifname, strerror(errno));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		if (errno == EBUSY || errno == ENODEV)
			return 0; /* in use by a hypervisor still, or gone */
		return bgr_fail(err, errno, "tap %s: %s", ifname, strerror(errno));
	}
	if (ioctl(fd, TUNSETPERSIST, 0) < 0)
		return bgr_fail(err, errno, "tap %s: cannot drop it: %s", ifname, strerror(errno));
	return 0;
}
