#include "nat.h"
#include "netdev.h"
#include "proc.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>

#define TABLE_PREFIX "banger_"
#define TABLE_LINE_PREFIX "table ip " TABLE_PREFIX
/* Table comment carrying ip_forward's value from before the first table, so
 * that it outlives the daemon; every banger table carries the same value. */
#define FORWARD_RECORD "banger nat; ip_forward before: "

static const char ip_forward_file[] = "/proc/sys/net/ipv4/ip_forward";

/* The name goes into the nft script: keep it to nft's identifier characters. */
static bool nat_bridge_name_ok(const char *bridge)
{
	static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.";

	return netdev_ifname_valid(bridge) && strspn(bridge, allowed) == strlen(bridge);
}

/* nft lives in /usr/sbin, which a non-root PATH often lacks. */
static bool nft_find(char *ret, size_t size)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *dirs = xasprintf("%s:/usr/sbin:/sbin", path ? path : "");
	char *save = NULL;

	for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		if (dir[0] != '/')
			continue;
		snprintf(ret, size, "%s/nft", dir);
		if (access(ret, X_OK) == 0)
			return true;
	}
	return false;
}

static char *read_from_start(int fd)
{
	off_t size = lseek(fd, 0, SEEK_END);
	char *buf = xcalloc(1, size > 0 ? (size_t)size + 1 : 1);
	size_t got = 0;

	while (size > 0 && got < (size_t)size) {
		ssize_t n = pread(fd, buf + got, (size_t)size - got, (off_t)got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return buf;
}

/* Runs argv (nft ...) with stdout and stderr into *ret_output. Returns the
 * exit status, or -errno when it could not run. */
static int nft_run(char *const argv[], char **ret_output)
{
	_cleanup_close_ int fd = memfd_create("nft-output", MFD_CLOEXEC);
	int status;

	if (fd < 0)
		return -errno;
	status = proc_run(argv, fd);
	if (status >= 0)
		*ret_output = read_from_start(fd);
	return status;
}

static int nft_fail(bgr_error *err, const char *table, int status, const char *output)
{
	if (status < 0)
		return bgr_fail(err, -status, "nat: %s: cannot run nft: %s", table, strerror(-status));
	/* nft's first line is its error message */
	return bgr_fail(err, EIO, "nat: %s: nft failed (exit %d): %.*s", table, status, (int)strcspn(output, "\n"),
			output);
}

/* The ip_forward value recorded in table ip `table`, or -1 when the table is
 * missing or is not one of ours. */
static int table_record(const char *nft, const char *table)
{
	char *argv[] = { (char *)nft, "list", "table", "ip", (char *)table, NULL };
	_cleanup_free_ char *out = NULL;
	const char *p;

	if (nft_run(argv, &out) != 0)
		return -1;
	p = strstr(out, FORWARD_RECORD);
	if (!p)
		return -1;
	p += strlen(FORWARD_RECORD);
	return *p >= '0' && *p <= '9' ? atoi(p) : -1;
}

/* Sets *ret_record to the record of a banger table other than `except`, or
 * to -1 when there is none. Returns 0, or -EIO when nft cannot list. */
static int other_tables_record(const char *nft, const char *except, int *ret_record)
{
	char *argv[] = { (char *)nft, "list", "tables", "ip", NULL };
	_cleanup_free_ char *out = NULL;
	char *save = NULL;

	if (nft_run(argv, &out) != 0)
		return -EIO;
	*ret_record = -1;
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *name = line + strlen("table ip ");

		if (strncmp(line, TABLE_LINE_PREFIX, strlen(TABLE_LINE_PREFIX)) != 0 || strcmp(name, except) == 0)
			continue;
		*ret_record = table_record(nft, name);
		if (*ret_record >= 0)
			break;
	}
	return 0;
}

static int ip_forward_read(void)
{
	_cleanup_close_ int fd = open(ip_forward_file, O_RDONLY | O_CLOEXEC);
	char buf[16] = { 0 };
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	return n > 0 && buf[0] >= '0' && buf[0] <= '9' ? atoi(buf) : -EIO;
}

/* Writes only on change: /proc/sys is read-only in many containers, where
 * forwarding may well be on already. */
static int ip_forward_set(int value)
{
	_cleanup_close_ int fd = -1;
	char buf[16];
	ssize_t n;
	int len;

	if (ip_forward_read() == value)
		return 0;
	fd = open(ip_forward_file, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%d\n", value);
	n = write(fd, buf, (size_t)len);
	if (n < 0)
		return -errno;
	return n == len ? 0 : -EIO;
}

/* ip_forward as it was before banger's first table: recorded in ours or in
 * another banger table, else the current value. */
static int forward_before(const char *nft, const char *table)
{
	int record = table_record(nft, table);

	if (record >= 0)
		return record;
	if (other_tables_record(nft, table, &record) == 0 && record >= 0)
		return record;
	return ip_forward_read();
}

/* Declaring the table first makes the delete succeed when it is missing; nft
 * applies the whole script as one transaction. The forward chain's accepts
 * cannot overrule a drop in another table (e.g. iptables' FORWARD policy).
 * ip_forward is host-wide: when it was off before banger, the guard drops
 * every forwarded packet that neither enters nor leaves a banger bridge (all
 * of them are in NETDEV_BANGER_GROUP), so turning it on forwards the
 * guests' traffic and nothing else. */
static char *nat_ruleset(const char *table, const char *bridge, uint32_t subnet, int prefix, int forward_before)
{
	uint32_t host_mask = 0xffffffffu << (32 - prefix);
	uint32_t network = htonl(ntohl(subnet) & host_mask);
	char net_text[INET_ADDRSTRLEN], guard[128] = "";

	inet_ntop(AF_INET, &network, net_text, sizeof(net_text));
	if (forward_before == 0)
		snprintf(guard, sizeof(guard), "\t\tmeta iifgroup != %u meta oifgroup != %u drop\n",
			 NETDEV_BANGER_GROUP, NETDEV_BANGER_GROUP);
	return xasprintf(
		"table ip %s\n"
		"delete table ip %s\n"
		"table ip %s {\n"
		"\tcomment \"" FORWARD_RECORD
		"%d\"\n"
		"\tchain postrouting {\n"
		"\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		"\t\tip saddr %s/%d oifname != \"%s\" masquerade\n"
		"\t}\n"
		"\tchain forward {\n"
		"\t\ttype filter hook forward priority filter; policy accept;\n"
		"\t\tiifname \"%s\" oifname != \"%s\" accept\n"
		"\t\tiifname != \"%s\" oifname \"%s\" ct state established,related accept\n"
		"%s"
		"\t}\n"
		"}\n",
		table, table, table, forward_before, net_text, prefix, bridge, bridge, bridge, bridge, bridge, guard);
}

/* Checks the bridge name, finds nft and names the table. */
static int nat_prepare(const char *bridge, char *ret_nft, char *ret_table, size_t table_size, bgr_error *err)
{
	if (!nat_bridge_name_ok(bridge))
		return bgr_fail(err, EINVAL, "nat: bridge name %s: only letters, digits, '_', '-' and '.' allowed",
				bridge);
	if (!nft_find(ret_nft, PATH_MAX))
		return bgr_fail(err, ENOENT, "nat: nft not found (apt-get install nftables)");
	snprintf(ret_table, table_size, TABLE_PREFIX "%s", bridge);
	return 0;
}

static int table_delete(const char *nft, const char *table, char **ret_output)
{
	_cleanup_free_ char *script = xasprintf("table ip %s\ndelete table ip %s\n", table, table);
	char *argv[] = { (char *)nft, script, NULL };

	return nft_run(argv, ret_output);
}

int nat_enable(const char *bridge, uint32_t subnet, int prefix, bgr_error *err)
{
	char nft[PATH_MAX], table[IFNAMSIZ + sizeof(TABLE_PREFIX)];
	_cleanup_free_ char *script = NULL, *out = NULL, *ignored = NULL;
	int before, status, r;

	r = nat_prepare(bridge, nft, table, sizeof(table), err);
	if (r < 0)
		return r;
	if (prefix < 1 || prefix > 32)
		return bgr_fail(err, EINVAL, "nat: %s: invalid prefix length %d", table, prefix);
	before = forward_before(nft, table);
	if (before < 0)
		return bgr_fail(err, -before, "nat: cannot read %s: %s", ip_forward_file, strerror(-before));
	script = nat_ruleset(table, bridge, subnet, prefix, before);
	char *argv[] = { nft, script, NULL };
	status = nft_run(argv, &out);
	if (status != 0)
		return nft_fail(err, table, status, out);
	r = ip_forward_set(1);
	if (r < 0) {
		(void)table_delete(nft, table, &ignored);
		return bgr_fail(err, -r, "nat: cannot set %s to 1: %s", ip_forward_file, strerror(-r));
	}
	return 0;
}

int nat_disable(const char *bridge, bgr_error *err)
{
	char nft[PATH_MAX], table[IFNAMSIZ + sizeof(TABLE_PREFIX)];
	_cleanup_free_ char *out = NULL;
	int before, others, status, r;

	r = nat_prepare(bridge, nft, table, sizeof(table), err);
	if (r < 0)
		return r;
	before = table_record(nft, table);
	status = table_delete(nft, table, &out);
	if (status != 0)
		return nft_fail(err, table, status, out);
	if (before < 0)
		return 0; /* missing or not ours: nothing to restore */
	if (other_tables_record(nft, table, &others) < 0)
		return bgr_fail(err, EIO, "nat: %s deleted, but nft cannot list the tables left", table);
	if (others >= 0)
		return 0; /* other bridges still need forwarding */
	r = ip_forward_set(before);
	if (r < 0)
		return bgr_fail(err, -r, "nat: cannot restore %s to %d: %s", ip_forward_file, before, strerror(-r));
	return 0;
}
