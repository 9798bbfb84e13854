/* Tests of vmm/net/netdev.c (bridge, taps) and vmm/net/nat.c (nftables NAT).
 * meson runs this as `unshare --net test_netdev`: everything happens in a
 * private network namespace, which is checked before anything else. */
#include "nat.h"
#include "netdev.h"
#include "util.h"

#include "../unit/tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <linux/if_tun.h>

#define BRIDGE "bgrt0"
#define BRIDGE2 "bgrt-1.x"
/* nft is in /usr/sbin, which PATH may lack */
#define NFT "PATH=\"$PATH:/usr/sbin:/sbin\" nft "

/* A fresh namespace holds nothing but lo. */
static bool only_loopback(void)
{
	struct if_nameindex *all = if_nameindex();
	bool only_lo = all && all[0].if_name && strcmp(all[0].if_name, "lo") == 0 && !all[1].if_name;

	if (all)
		if_freenameindex(all);
	return only_lo;
}

/* Compares with PID 1's namespace when we may look at it (root in a
 * container often may not), else trusts only a namespace holding just lo. */
static bool in_private_netns(void)
{
	struct stat self, init;

	if (stat("/proc/self/ns/net", &self) == 0 && stat("/proc/1/ns/net", &init) == 0)
		return self.st_ino != init.st_ino || self.st_dev != init.st_dev;
	return only_loopback();
}

/* sysfs shows the network namespace of whoever mounted it: mount our own, in
 * a private mount namespace, so /sys/class/net lists this namespace. */
static bool private_sysfs(void)
{
	return unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
	       mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0;
}

static bool sys_exists(const char *ifname, const char *rel)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/class/net/%s%s", ifname, rel);
	return lstat(path, &st) == 0;
}

/* The interface a port's /sys/class/net/<port>/master link points to. */
static void master_of(const char *port, char *ret, size_t size)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/class/net/%s/master", port);
	n = readlink(path, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = '\0';
	snprintf(ret, size, "%s", basename(target));
}

static bool if_is_up(const char *ifname)
{
	struct ifaddrs *all, *ifa;
	bool up = false;

	if (getifaddrs(&all) < 0)
		return false;
	for (ifa = all; ifa; ifa = ifa->ifa_next) {
		if (strcmp(ifa->ifa_name, ifname) == 0)
			up = ifa->ifa_flags & IFF_UP;
	}
	freeifaddrs(all);
	return up;
}

/* Counts the IPv4 addresses of ifname; the last one goes to ret_addr/ret_mask. */
static int ipv4_addrs(const char *ifname, char *ret_addr, char *ret_mask)
{
	struct ifaddrs *all, *ifa;
	int count = 0;

	if (getifaddrs(&all) < 0)
		return -1;
	for (ifa = all; ifa; ifa = ifa->ifa_next) {
		if (strcmp(ifa->ifa_name, ifname) != 0 || !ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_INET)
			continue;
		count++;
		inet_ntop(AF_INET, &((struct sockaddr_in *)ifa->ifa_addr)->sin_addr, ret_addr, INET_ADDRSTRLEN);
		inet_ntop(AF_INET, &((struct sockaddr_in *)ifa->ifa_netmask)->sin_addr, ret_mask, INET_ADDRSTRLEN);
	}
	freeifaddrs(all);
	return count;
}

/* The whole output of a shell command (the tests may shell out; vmm/ may not). */
static char *command_output(const char *cmd)
{
	static char buf[16384];
	FILE *p = popen(cmd, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (!p)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = '\0';
	pclose(p);
	return buf;
}

static int ip_forward(void)
{
	char buf[8] = "";
	FILE *f = fopen("/proc/sys/net/ipv4/ip_forward", "r");

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return buf[0] ? atoi(buf) : -1;
}

static void set_ip_forward(int value)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_forward", "w");

	if (f) {
		fprintf(f, "%d\n", value);
		fclose(f);
	}
}

/* is_int for a call's result, with the error's reason when it fails. */
static void is_ret(int got, int want, const char *what, const bgr_error *err)
{
	tap_ok(got == want, "%s (got %d, want %d)%s%s", what, got, want, got < 0 ? ": " : "", got < 0 ? err->msg : "");
}

static uint32_t ip(const char *text)
{
	struct in_addr a = { 0 };

	inet_pton(AF_INET, text, &a);
	return a.s_addr;
}

static void test_ifname_valid(void)
{
	const char *good[] = { "banger0", "a", "tap-vm1.0", "abcdefghijklmno" };
	const char *bad[] = { "", "abcdefghijklmnop", "a/b", "a b", "a\tb", "a\nb", ".", "..", "a:b", "br%d" };
	bgr_error err = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		tap_ok(netdev_ifname_valid(good[i]), "ifname '%s' is valid", good[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		tap_ok(!netdev_ifname_valid(bad[i]), "bad ifname #%zu is refused", i);
	is_ret(netdev_bridge_up("a b", ip("10.77.0.1"), 24, &err), -EINVAL, "bridge_up refuses 'a b'", &err);
	is_str(err.msg, "bridge a b: invalid interface name", "with a reason");
	is_ret(netdev_tap_open("t/1", BRIDGE, &err), -EINVAL, "tap_open refuses 't/1'", &err);
	is_str(err.msg, "tap t/1: invalid interface name", "with a reason");
	is_ret(netdev_tap_open("t1", "b r", &err), -EINVAL, "tap_open refuses bridge 'b r'", &err);
	is_ret(netdev_bridge_delete("..", &err), -EINVAL, "bridge_delete refuses '..'", &err);
	is_ret(netdev_bridge_up(BRIDGE, ip("10.77.0.1"), 33, &err), -EINVAL, "bridge_up refuses prefix 33", &err);
	tap_ok(!sys_exists(BRIDGE, ""), "and creates nothing");
}

static void test_bridge_up(void)
{
	char addr[INET_ADDRSTRLEN] = "", mask[INET_ADDRSTRLEN] = "";
	bgr_error err = { 0 };

	is_ret(netdev_bridge_up(BRIDGE, ip("10.77.0.1"), 24, &err), 0, "bridge_up " BRIDGE, &err);
	tap_ok(sys_exists(BRIDGE, "/bridge"), BRIDGE " is a bridge in sysfs");
	tap_ok(if_is_up(BRIDGE), BRIDGE " is up");
	is_ret(netdev_bridge_up(BRIDGE, ip("10.77.0.1"), 24, &err), 0, "bridge_up again", &err);
	is_int(ipv4_addrs(BRIDGE, addr, mask), 1, "one IPv4 address after two bridge_up");
	is_str(addr, "10.77.0.1", "the gateway address");
	is_str(mask, "255.255.255.0", "with its prefix");
	tap_ok(strstr(command_output("ip -d link show " BRIDGE), "group 1650945650") != NULL,
	       "it is in banger's interface group (NAT's forward guard knows it by that)");
}

static void test_bridge_clash(void)
{
	bgr_error err = { 0 };
	int fd;

	is_ret(netdev_bridge_up("lo", ip("10.78.0.1"), 24, &err), -EEXIST, "bridge_up lo fails", &err);
	is_str(err.msg, "bridge lo: exists and is not a bridge", "with a clear reason");
	fd = netdev_tap_open("bgrt-clash", BRIDGE, &err);
	tap_ok(fd >= 0, "a tap to clash with: %s", fd < 0 ? err.msg : "ok");
	is_ret(netdev_bridge_up("bgrt-clash", ip("10.78.0.1"), 24, &err), -EEXIST, "bridge_up on a tap's name fails",
	       &err);
	is_str(err.msg, "bridge bgrt-clash: exists and is not a bridge", "with a clear reason");
	is_ret(netdev_bridge_delete("lo", &err), -EINVAL, "bridge_delete lo fails", &err);
	is_str(err.msg, "bridge lo: is not a bridge, not deleting it", "with a clear reason");
	tap_ok(sys_exists("lo", ""), "lo is still there");
	if (fd >= 0)
		close(fd);
}

static void test_tap_open(void)
{
	char master[IFNAMSIZ + 8];
	struct ifreq ifr = { 0 };
	bgr_error err = { 0 };
	int fd0, fd1;

	fd0 = netdev_tap_open("bgrt-tap0", BRIDGE, &err);
	tap_ok(fd0 >= 0, "tap_open bgrt-tap0: %s", fd0 < 0 ? err.msg : "ok");
	tap_ok(fcntl(fd0, F_GETFD) & FD_CLOEXEC, "its fd is close-on-exec");
	tap_ok(ioctl(fd0, TUNGETIFF, &ifr) == 0 && strcmp(ifr.ifr_name, "bgrt-tap0") == 0, "the fd is bgrt-tap0");
	tap_ok((ifr.ifr_flags & (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)) == (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR),
	       "a tap with IFF_NO_PI and IFF_VNET_HDR (flags 0x%x)", (unsigned)ifr.ifr_flags);
	master_of("bgrt-tap0", master, sizeof(master));
	is_str(master, BRIDGE, "bgrt-tap0's master");
	tap_ok(if_is_up("bgrt-tap0"), "bgrt-tap0 is up");

	fd1 = netdev_tap_open("bgrt-tap1", BRIDGE, &err);
	tap_ok(fd1 >= 0, "a second tap: %s", fd1 < 0 ? err.msg : "ok");
	master_of("bgrt-tap1", master, sizeof(master));
	is_str(master, BRIDGE, "bgrt-tap1's master");
	tap_ok(sys_exists(BRIDGE, "/brif/bgrt-tap0") && sys_exists(BRIDGE, "/brif/bgrt-tap1"),
	       "the bridge lists both ports");

	is_ret(netdev_tap_open("bgrt-tap0", BRIDGE, &err), -EBUSY, "opening bgrt-tap0 twice fails", &err);
	is_str(err.msg, "tap bgrt-tap0: an interface of that name already exists", "with a clear reason");
	is_ret(netdev_tap_open("lo", BRIDGE, &err), -EBUSY, "a tap named lo fails", &err);

	close(fd0);
	tap_ok(!sys_exists("bgrt-tap0", "") && if_nametoindex("bgrt-tap0") == 0, "bgrt-tap0 is gone after close");
	tap_ok(sys_exists("bgrt-tap1", ""), "bgrt-tap1 stays while open");
	close(fd1);
	tap_ok(!sys_exists("bgrt-tap1", ""), "bgrt-tap1 is gone after close");
}

static void test_tap_bad_bridge(void)
{
	bgr_error err = { 0 };

	is_ret(netdev_tap_open("bgrt-tap2", "bgrt-none", &err), -ENODEV, "tap on a missing bridge fails", &err);
	is_str(err.msg, "tap bgrt-tap2: cannot attach to bridge bgrt-none: No such device", "with a clear reason");
	tap_ok(!sys_exists("bgrt-tap2", ""), "and leaves no tap");
	is_ret(netdev_tap_open("bgrt-tap2", "lo", &err), -EOPNOTSUPP, "tap on lo fails", &err);
	is_str(err.msg, "tap bgrt-tap2: cannot attach: lo is not a bridge", "with a clear reason");
	tap_ok(!sys_exists("bgrt-tap2", ""), "and leaves no tap");
}

/* What the daemon does across a restart: the bridge goes, the guest's tap
 * stays (the hypervisor holds it) and is attached again to a new bridge. */
static void test_bridge_delete_and_reattach(void)
{
	char master[IFNAMSIZ + 8];
	bgr_error err = { 0 };
	int fd = netdev_tap_open("bgrt-tap3", BRIDGE, &err);

	tap_ok(fd >= 0, "a tap on the bridge to delete");
	is_ret(netdev_bridge_delete(BRIDGE, &err), 0, "bridge_delete with a port", &err);
	tap_ok(!sys_exists(BRIDGE, ""), BRIDGE " is gone");
	tap_ok(sys_exists("bgrt-tap3", "") && !sys_exists("bgrt-tap3", "/master"), "its tap stays, detached");
	is_ret(netdev_bridge_delete(BRIDGE, &err), 0, "deleting it again is fine", &err);

	is_ret(netdev_bridge_up(BRIDGE, ip("10.77.0.1"), 24, &err), 0, "the bridge again", &err);
	is_ret(netdev_attach("bgrt-tap3", BRIDGE, &err), 0, "attach the old tap", &err);
	master_of("bgrt-tap3", master, sizeof(master));
	is_str(master, BRIDGE, "bgrt-tap3's master");
	is_ret(netdev_attach("bgrt-tap3", BRIDGE, &err), 0, "attach it twice", &err);
	is_ret(netdev_attach("bgrt-none0", BRIDGE, &err), -ENODEV, "attach a missing tap fails", &err);
	is_str(err.msg, "tap bgrt-none0: No such device", "with a clear reason");
	is_ret(netdev_bridge_delete(BRIDGE, &err), 0, "bridge_delete", &err);
	if (fd >= 0)
		close(fd);
}

static bool has_table(const char *name)
{
	char line[64];

	snprintf(line, sizeof(line), "table ip %s\n", name);
	return strstr(command_output(NFT "list tables"), line) != NULL;
}

static void test_nat(void)
{
	bgr_error err = { 0 };
	const char *rules;

	set_ip_forward(0);
	is_int(ip_forward(), 0, "ip_forward starts at 0");
	is_ret(nat_enable(BRIDGE, ip("10.77.0.0"), 24, &err), 0, "nat_enable", &err);
	tap_ok(has_table("banger_" BRIDGE), "table ip banger_" BRIDGE " exists");
	is_int(ip_forward(), 1, "ip_forward is 1");
	rules = command_output(NFT "list table ip banger_" BRIDGE);
	tap_ok(strstr(rules, "ip saddr 10.77.0.0/24 oifname != \"" BRIDGE "\" masquerade") != NULL,
	       "it masquerades the subnet");
	tap_ok(strstr(rules, "hook forward") != NULL, "it has a forward chain");
	tap_ok(strstr(rules, "iifgroup != 1650945650 oifgroup != 1650945650 drop") != NULL,
	       "forwarding was off: only banger bridges' traffic is forwarded (the guard drops the rest)");
	is_ret(nat_enable(BRIDGE, ip("10.77.0.0"), 24, &err), 0, "nat_enable again", &err);
	is_int(ip_forward(), 1, "ip_forward is still 1");
	is_ret(nat_disable(BRIDGE, &err), 0, "nat_disable", &err);
	tap_ok(!has_table("banger_" BRIDGE), "the table is gone");
	is_int(ip_forward(), 0, "ip_forward is back to 0");
	is_ret(nat_disable(BRIDGE, &err), 0, "nat_disable again is fine", &err);
	set_ip_forward(1);
	is_ret(nat_enable(BRIDGE, ip("10.77.0.0"), 24, &err), 0, "nat_enable with forwarding already on", &err);
	tap_ok(!strstr(command_output(NFT "list table ip banger_" BRIDGE), "iifgroup"),
	       "forwarding was on: the host's other forwarding is left alone (no guard)");
	is_ret(nat_disable(BRIDGE, &err), 0, "nat_disable", &err);
	is_int(ip_forward(), 1, "ip_forward stays 1");
	set_ip_forward(0);
	is_ret(nat_enable("br\"x", ip("10.77.0.0"), 24, &err), -EINVAL, "nat_enable refuses a quote in the name", &err);
}

static void test_nat_two_bridges(void)
{
	bgr_error err = { 0 };

	is_ret(nat_enable(BRIDGE, ip("10.77.0.0"), 24, &err), 0, "nat_enable " BRIDGE, &err);
	is_ret(nat_enable(BRIDGE2, ip("10.79.1.7"), 16, &err), 0, "nat_enable " BRIDGE2, &err);
	tap_ok(strstr(command_output(NFT "list table ip banger_" BRIDGE2), "ip saddr 10.79.0.0/16 ") != NULL,
	       "host bits of the subnet are dropped");
	is_ret(nat_disable(BRIDGE, &err), 0, "nat_disable " BRIDGE, &err);
	is_int(ip_forward(), 1, "ip_forward stays 1 while " BRIDGE2 " needs it");
	is_ret(nat_disable(BRIDGE2, &err), 0, "nat_disable " BRIDGE2, &err);
	is_int(ip_forward(), 0, "ip_forward is back to 0 after the last table");
}

static void test_nat_keeps_forwarding_on(void)
{
	bgr_error err = { 0 };

	set_ip_forward(1);
	is_ret(nat_enable(BRIDGE, ip("10.77.0.0"), 24, &err), 0, "nat_enable with ip_forward already 1", &err);
	is_ret(nat_disable(BRIDGE, &err), 0, "nat_disable", &err);
	is_int(ip_forward(), 1, "ip_forward stays 1");
	set_ip_forward(0);
}

int main(void)
{
	if (!in_private_netns()) {
		puts("Bail out! not in a private network namespace (run me as `unshare --net test_netdev`)");
		return 1;
	}
	if (!netdev_have_net_admin()) {
		puts("1..0 # SKIP no CAP_NET_ADMIN");
		return 0;
	}
	if (!private_sysfs()) {
		printf("Bail out! cannot mount a private sysfs: %s\n", strerror(errno));
		return 1;
	}
	tap_ok(netdev_have_net_admin(), "have CAP_NET_ADMIN");
	test_ifname_valid();
	test_bridge_up();
	test_bridge_clash();
	test_tap_open();
	test_tap_bad_bridge();
	test_bridge_delete_and_reattach();
	test_nat();
	test_nat_two_bridges();
	test_nat_keeps_forwarding_on();
	return tap_done();
}
