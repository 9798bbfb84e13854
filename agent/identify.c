/* The identify verb (protocol.h): a guest restored from a template takes
 * its own identity before anyone can reach it. The clock, the kernel RNG,
 * /etc/machine-id, the hostname and the SSH host key the host made
 * (hostkey_ed25519=, hostkeys.c) are set here; the network (MAC and
 * address), the work disk's mount, new SSH host keys when the host sent
 * none (dropbear or OpenSSH, whichever the image has) and OpenSSH's
 * restart by a short shell script, since those need the image's own tools.
 * Dropbear is restarted from here (hostkeys_restart_dropbear), unless it
 * reads its key for each connection (the tiny init runs it so). */
#define _GNU_SOURCE
#include "identify.h"

#include "authorize.h"
#include "fileio.h"
#include "hostkeys.h"
#include "protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ENTROPY_MAX 256

static const char script[] =
	"rc=0; dev=eth0\n"
	"if [ -n \"$B_MAC\" ] && [ -e /sys/class/net/$dev ]; then\n"
	"  ip link set dev $dev down; ip link set dev $dev address \"$B_MAC\" ||\n"
	"    { echo 'identify: cannot set the MAC' >&2; rc=1; }\n"
	"  ip link set dev $dev up\n"
	"fi\n"
	"if [ -n \"$B_IP\" ] && [ -e /sys/class/net/$dev ]; then\n"
	"  { ip addr flush dev $dev && ip addr add \"$B_IP\" dev $dev && ip link set dev $dev up; } ||\n"
	"    { echo 'identify: cannot set the address' >&2; rc=1; }\n"
	"  if [ -n \"$B_GW\" ]; then ip route replace default via \"$B_GW\" dev $dev || rc=1; fi\n"
	"  if [ -n \"$B_DNS\" ]; then echo \"nameserver $B_DNS\" >/etc/resolv.conf.new &&\n"
	"    mv -f /etc/resolv.conf.new /etc/resolv.conf; fi\n"
	"fi\n"
	"if [ -n \"$B_WORK\" ]; then\n"
	"  i=0; while [ ! -b /dev/vdb ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n"
	"  if ! grep -q ' /root ' /proc/mounts; then\n"
	"    mount -o rw /dev/vdb /root || { echo 'identify: cannot mount /dev/vdb on /root' >&2; rc=1; }\n"
	"  fi\n"
	"fi\n"
	"new=$B_KEYS\n" /* the host's key is in place already (hostkeys_install) */
	"dbk() {\n"     /* imported (OCI) images have dropbearkey in the guest kit only */
	"  if command -v dropbearkey >/dev/null 2>&1; then dropbearkey \"$@\"\n"
	"  elif [ -x /.banger/sbin/dropbearkey ]; then\n"
	"    /.banger/lib/ld-linux-x86-64.so.2 --library-path /.banger/lib /.banger/sbin/dropbearkey \"$@\"\n"
	"  else return 127; fi\n"
	"}\n"
	"for k in /etc/dropbear/dropbear_*_host_key; do\n"
	"  [ -f \"$k\" ] && [ -z \"$B_KEYS\" ] || continue\n"
	"  t=${k#/etc/dropbear/dropbear_}; t=${t%_host_key}; rm -f \"$k.new\"\n"
	"  if dbk -t \"$t\" -f \"$k.new\" >/dev/null 2>&1 && mv -f \"$k.new\" \"$k\" &&\n"
	"     dbk -y -f \"$k\" 2>/dev/null | grep '^ssh-' >\"$k.pub.new\" && mv -f \"$k.pub.new\" \"$k.pub\"; "
	"then\n"
	"    new=\"$new dropbear\"\n"
	"  else echo \"identify: cannot make $k\" >&2; rc=1; fi\n"
	"done\n"
	/* the init's loop starts dropbear again at once with the new keys (the
	 * agent kills the listening one: hostkeys_restart_dropbear) */
	"case $new in *dropbear*) : >/run/banger-sshd-restart ;; esac\n"
	"for k in /etc/ssh/ssh_host_*_key; do\n"
	"  [ -f \"$k\" ] && [ -z \"$B_KEYS\" ] || continue\n"
	"  t=${k#/etc/ssh/ssh_host_}; t=${t%_key}; rm -f \"$k.new\" \"$k.new.pub\"\n"
	"  if ssh-keygen -q -t \"$t\" -N '' -C \"root@$B_NAME\" -f \"$k.new\" && mv -f \"$k.new\" \"$k\" &&\n"
	"     mv -f \"$k.new.pub\" \"$k.pub\"; then new=\"$new openssh\"\n"
	"  else echo \"identify: cannot make $k\" >&2; rc=1; fi\n"
	"done\n"
	"case $new in *openssh*)\n"
	"  if command -v systemctl >/dev/null 2>&1; then\n"
	"    case $(systemctl is-active ssh.service 2>/dev/null) in\n"
	"    active|activating|reloading) systemctl restart ssh.service || rc=1 ;;\n"
	"    esac\n"
	"  elif [ -r /run/sshd.pid ]; then kill -HUP \"$(cat /run/sshd.pid)\"; fi ;;\n"
	"esac\n"
	"exit $rc\n";

static int fail(char *reason, size_t size, const char *what)
{
	snprintf(reason, size, "%s", what);
	return -1;
}

static int all_of(const char *s, const char *set)
{
	return *s && strspn(s, set) == strlen(s);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int write_file(const char *path, const char *text)
{
	char tmp[256];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.banger-new", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write_all(fd, text, strlen(text)) < 0) { /* one sync() at the end */
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	return rename(tmp, path);
}

static int reseed(const char *hex)
{
	struct {
		struct rand_pool_info info;
		unsigned char buf[ENTROPY_MAX];
	} p;
	size_t n = strlen(hex) / 2;
	int fd, r;

	memset(&p, 0, sizeof(p));
	for (size_t i = 0; i < n; i++)
		p.buf[i] = (unsigned char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
	p.info.entropy_count = (int)(n * 8);
	p.info.buf_size = (int)n;
	fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = ioctl(fd, RNDADDENTROPY, &p.info);
	close(fd);
	return r;
}

static int run_script(const char *name, const char *mac, const char *ip, const char *gw, const char *dns,
		      const char *work, const char *keys)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		setenv("B_NAME", name, 1);
		setenv("B_MAC", mac, 1);
		setenv("B_IP", ip, 1);
		setenv("B_GW", gw, 1);
		setenv("B_DNS", dns, 1);
		setenv("B_WORK", work, 1);
		setenv("B_KEYS", keys, 1);
		/* the init's PATH (an imported image's has the guest kit first),
		 * then the usual places */
		const char *path = getenv("PATH");
		char full[1024];
		snprintf(full, sizeof(full), "%s%s/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			 path ? path : "", path ? ":" : "");
		setenv("PATH", full, 1);
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int identify_apply(const char *line, const char *ssh_home, struct identify_result *res, char *reason, size_t size)
{
	char name[64], mac[32] = "", ip[32] = "", gw[32] = "", dns[32] = "", id[40], entropy[2 * ENTROPY_MAX + 1],
		       time_ns[32], work[4] = "", text[160], keys[32] = "";
	size_t key_len;
	struct timespec ts;
	long long ns;
	static char key[BANGER_AGENT_LINE_MAX];

	memset(res, 0, sizeof(*res));
	if (banger_agent_field(line, "name", name, sizeof(name)) < 0 ||
	    !all_of(name, "abcdefghijklmnopqrstuvwxyz0123456789-") || name[0] == '-')
		return fail(reason, size, "bad_name");
	if (banger_agent_field(line, "machine_id", id, sizeof(id)) != 32 || !all_of(id, "0123456789abcdef"))
		return fail(reason, size, "bad_machine_id");
	if (banger_agent_field(line, "entropy", entropy, sizeof(entropy)) < 2 || strlen(entropy) % 2 ||
	    !all_of(entropy, "0123456789abcdef"))
		return fail(reason, size, "bad_entropy");
	if (banger_agent_field(line, "time_ns", time_ns, sizeof(time_ns)) < 1 || !all_of(time_ns, "0123456789"))
		return fail(reason, size, "bad_time_ns");
	if ((banger_agent_field(line, "mac", mac, sizeof(mac)) >= 0 && !all_of(mac, "0123456789abcdef:")) ||
	    (banger_agent_field(line, "ip", ip, sizeof(ip)) >= 0 && !all_of(ip, "0123456789./")) ||
	    (banger_agent_field(line, "gw", gw, sizeof(gw)) >= 0 && !all_of(gw, "0123456789.")) ||
	    (banger_agent_field(line, "dns", dns, sizeof(dns)) >= 0 && !all_of(dns, "0123456789.")))
		return fail(reason, size, "bad_network");
	banger_agent_field(line, "work", work, sizeof(work));

	/* the clock first: the new files get today's times */
	ns = atoll(time_ns);
	ts.tv_sec = ns / 1000000000LL;
	ts.tv_nsec = ns % 1000000000LL;
	if (clock_settime(CLOCK_REALTIME, &ts) < 0)
		return fail(reason, size, "cannot_set_the_clock");
	if (reseed(entropy) < 0)
		return fail(reason, size, "cannot_reseed_the_rng");
	snprintf(text, sizeof(text), "%s\n", id);
	if (write_file("/etc/machine-id", text) < 0)
		return fail(reason, size, "cannot_write_/etc/machine-id");
	if (sethostname(name, strlen(name)) < 0)
		return fail(reason, size, "cannot_set_the_hostname");
	snprintf(text, sizeof(text), "%s\n", name);
	write_file("/etc/hostname", text);
	snprintf(text, sizeof(text), "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		 name);
	write_file("/etc/hosts", text);
	if (banger_agent_find_value(line, "hostkey_ed25519", &key_len)) {
		/* a value too long for the line is no key: refused, not ignored */
		static char hex[BANGER_AGENT_LINE_MAX];
		int r = banger_agent_field(line, "hostkey_ed25519", hex, sizeof(hex)) < 0
				? fail(reason, size, "bad_hostkey_ed25519")
				: hostkeys_install("", hex, name, reason, size);
		explicit_bzero(hex, sizeof(hex));
		if (r < 0)
			return -1;
		snprintf(keys, sizeof(keys), "%s%s", r & HOSTKEYS_DROPBEAR ? " dropbear" : "",
			 r & HOSTKEYS_OPENSSH ? " openssh" : "");
	}
	/* OpenSSH takes the new key with its next connection, or reads it
	 * again at once (the script restarts it through systemd when neither
	 * works) */
	if (strstr(keys, "openssh") && (hostkeys_openssh_rereads() || hostkeys_restart_openssh(10000) == 0))
		snprintf(keys, sizeof(keys), "%s", strstr(keys, "dropbear") ? " dropbear" : " -");
	/* the shell and the image's tools only when there is work for them:
	 * a fork and exec cost tens of ms under TCG */
	if ((mac[0] || ip[0] || work[0] || !keys[0] || strstr(keys, "openssh")) &&
	    run_script(name, mac, ip, gw, dns, work, keys) < 0)
		return fail(reason, size, "network,_work_disk_or_host_keys_failed_(see_the_console)");
	if (strstr(keys, "dropbear")) {
		int fd = open("/run/banger-sshd-restart", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0)
			close(fd);
	}
	if (access("/run/banger-sshd-restart", F_OK) == 0) {
		/* a dropbear that reads its key for each connection takes the
		 * new one as it is (a restart: ~0.2 s of a restored TCG guest) */
		if (!hostkeys_dropbear_rereads())
			hostkeys_restart_dropbear(5000);
		unlink("/run/banger-sshd-restart"); /* the init's loop restarted it */
	}
	/* banger's key (proto 6): after the work disk's mount on /root, and
	 * synced with the rest, which saves the host an authorize round trip */
	if (banger_agent_field(line, "authorize", key, sizeof(key)) >= 0) {
		if (authorize_key(ssh_home, key, false, reason, size) < 0)
			return -1;
		res->authorized = true;
	}
	/* the server that answers with the host's key: what the host would
	 * otherwise connect to see (costly under TCG: OpenSSH re-executes
	 * itself for every connection) */
	res->listening = keys[0] && hostkeys_ssh_listening();
	/* everything written above is on the disk before the ack: a clone
	 * that crashes after it must not come back with the template's keys */
	sync();
	return 0;
}
