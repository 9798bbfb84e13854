/* Unit tests of vmm/snapshots/ parts that need no QEMU: the identify line a
 * clone's agent gets (identify.c), the sparse copy of a template's RAM
 * file (snap_save.c) and a clone's kernel stub (kernel_stub.c). The restore and the save themselves run with real
 * guests in tests/vm/snapshots.sh. */
#include "kernel_stub.h"
#include "snapshots.h"
#include "util.h"
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"

/* the host's managed key, as identify sends it */
static struct vmm host = { .ssh_pub = { .type = "ssh-ed25519", .b64 = "AAAAC3NzaC1lZDI1NTE5AAAAIBanger" } };

static void field(const char *line, const char *key, char *out, size_t size)
{
	if (banger_agent_field(line, key, out, size) < 0)
		out[0] = '\0';
}

static void test_identify_bridge(void)
{
	struct vm vm = { 0 };
	char v[256], id2[64];
	char *line, *again;

	snprintf(vm.rec.name, sizeof(vm.rec.name), "box");
	snprintf(vm.rec.mac, sizeof(vm.rec.mac), "52:54:00:10:00:07");
	snprintf(vm.rec.net_mode, sizeof(vm.rec.net_mode), "bridge");
	vm.net_args = xstrdup("ip=172.16.0.7::172.16.0.1:255.255.255.0:box:eth0:off:172.16.0.1");
	line = identify_line(&host, &vm, true);
	tap_ok(line && banger_agent_is_verb(line, "identify"), "an identify line: %.60s", line ? line : "(null)");
	tap_ok(line && strlen(line) < BANGER_AGENT_LINE_MAX && line[strlen(line) - 1] == '\n', "one line, in bounds");
	field(line, "name", v, sizeof(v));
	is_str(v, "box", "name");
	field(line, "mac", v, sizeof(v));
	is_str(v, "52:54:00:10:00:07", "mac: the VM's own");
	field(line, "ip", v, sizeof(v));
	is_str(v, "172.16.0.7/24", "ip with its prefix from the netmask");
	field(line, "gw", v, sizeof(v));
	is_str(v, "172.16.0.1", "gw");
	field(line, "dns", v, sizeof(v));
	is_str(v, "172.16.0.1", "dns");
	field(line, "machine_id", v, sizeof(v));
	is_int((long long)strlen(v), 32, "machine_id: 32 hex digits");
	tap_ok(strspn(v, "0123456789abcdef") == 32, "lower-case hex");
	field(line, "entropy", v, sizeof(v));
	is_int((long long)strlen(v), 128, "entropy: 64 bytes");
	field(line, "time_ns", v, sizeof(v));
	tap_ok(atoll(v) > 1700000000LL * 1000000000LL, "time_ns is the host's clock");
	field(line, "work", v, sizeof(v));
	is_str(v, "1", "work=1 when a work disk is hot-plugged");
	field(line, "authorize", v, sizeof(v));
	is_str(v, "ssh-ed25519:AAAAC3NzaC1lZDI1NTE5AAAAIBanger", "banger's key comes with it (authorize=, protocol 6)");
	again = identify_line(&host, &vm, false);
	field(line, "machine_id", v, sizeof(v));
	field(again, "machine_id", id2, sizeof(id2));
	tap_ok(strcmp(v, id2) != 0, "two identities never share a machine-id");
	field(again, "work", v, sizeof(v));
	is_str(v, "", "no work= without a work disk");
	free(line);
	free(again);
	free(vm.net_args);
}

static void test_identify_user(void)
{
	struct vm vm = { 0 };
	char v[64];
	char *line;

	snprintf(vm.rec.name, sizeof(vm.rec.name), "u1");
	snprintf(vm.rec.mac, sizeof(vm.rec.mac), "52:54:00:10:00:08");
	snprintf(vm.rec.net_mode, sizeof(vm.rec.net_mode), "user");
	vm.net_args = xstrdup("ip=10.0.2.15::10.0.2.2:255.255.255.0:u1:eth0:off:10.0.2.3");
	line = identify_line(&host, &vm, false);
	field(line, "mac", v, sizeof(v));
	is_str(v, "", "user mode: the MAC stays (slirp is per VM)");
	field(line, "ip", v, sizeof(v));
	is_str(v, "", "user mode: no address change");
	field(line, "name", v, sizeof(v));
	is_str(v, "u1", "but the name is its own");
	free(line);
	free(vm.net_args);
}

/* The host-made host key: in the line when the VM has one, and the check
 * of the hello that follows the ack against it. */
static void test_identify_host_key(void)
{
	struct vm vm = { 0 };
	char v[1024], msg[512];
	char *line;
	int r;

	snprintf(vm.rec.name, sizeof(vm.rec.name), "k1");
	snprintf(vm.rec.net_mode, sizeof(vm.rec.net_mode), "user");
	line = identify_line(&host, &vm, false);
	field(line, "hostkey_ed25519", v, sizeof(v));
	is_str(v, "", "no host-made key: no hostkey_ed25519= (the guest makes its own)");
	free(line);
	is_int(identify_hello_check(&vm, "hello proto=3 hostkey=ssh-ed25519:AAAAguest", msg, sizeof(msg)), 0,
	       "no host-made key: the hello's keys are taken");

	vm.host_key_priv = xstrdup("2d2d2d2d2d424547494e");
	vm.host_key = xstrdup("ssh-ed25519:AAAAC3NzaC1lZDI1NTE5AAAAIHost");
	line = identify_line(&host, &vm, false);
	field(line, "hostkey_ed25519", v, sizeof(v));
	is_str(v, "2d2d2d2d2d424547494e", "the private key travels in identify, as hex");
	tap_ok(line && line[strlen(line) - 1] == '\n' && strlen(line) < BANGER_AGENT_LINE_MAX, "still one line");
	free(line);
	identify_key_sent(&vm);
	tap_ok(vm.host_key_priv == NULL && vm.host_key != NULL, "after the ack the private key goes, the public stays");

	r = identify_hello_check(&vm, "hello proto=3 hostkey=ssh-ed25519:AAAAC3NzaC1lZDI1NTE5AAAAIHost", msg,
				 sizeof(msg));
	is_int(r, 1, "the hello reports exactly the host-made key: it is pinned");
	msg[0] = '\0';
	r = identify_hello_check(&vm,
				 "hello proto=3 hostkey=ssh-ed25519:AAAAC3NzaC1lZDI1NTE5AAAAIHost "
				 "hostkey=ssh-rsa:AAAAB3other",
				 msg, sizeof(msg));
	is_int(r, -1, "another key besides it: refused");
	tap_ok(strstr(msg, "besides") != NULL, "with a reason: %s", msg);
	r = identify_hello_check(&vm, "hello proto=3 hostkey=ssh-ed25519:AAAAC3NzaC1lZDI1NTE5AAAAIHostX", msg,
				 sizeof(msg));
	is_int(r, 0, "a key that only starts like it is not it (an older agent's own key)");
	tap_ok(strstr(msg, "older agent") != NULL, "and the log says why: %s", msg);
	identify_key_forget(&vm);
	tap_ok(vm.host_key == NULL && vm.host_key_priv == NULL, "forget drops both");
}

static void test_sparse_copy(void)
{
	char dir[] = "/tmp/banger-snap-test.XXXXXX", src[128], dst[128], buf[4096];
	struct stat a, b;
	int fd;

	tap_ok(mkdtemp(dir) != NULL, "scratch dir");
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(dst, sizeof(dst), "%s/dst", dir);
	fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	memset(buf, 'x', sizeof(buf));
	tap_ok(fd >= 0 && ftruncate(fd, 64 << 20) == 0, "a 64 MiB sparse file");
	tap_ok(pwrite(fd, buf, sizeof(buf), 1 << 20) == sizeof(buf) && pwrite(fd, buf, 100, (32 << 20) + 7) == 100,
	       "with two written pieces");
	memset(buf, 0, sizeof(buf));
	tap_ok(pwrite(fd, buf, sizeof(buf), 40 << 20) == sizeof(buf), "and a written page of zeros");
	close(fd);
	is_int(sparse_copy(src, dst), 0, "sparse_copy");
	tap_ok(stat(src, &a) == 0 && stat(dst, &b) == 0 && a.st_size == b.st_size, "same size");
	tap_ok(b.st_blocks * 512 <= 3 * 4096, "the copy stays sparse, zero pages too (%lld bytes)",
	       (long long)b.st_blocks * 512);
	fd = open(dst, O_RDONLY);
	tap_ok(fd >= 0 && pread(fd, buf, 4096, 1 << 20) == 4096 && buf[0] == 'x' && buf[4095] == 'x',
	       "the first piece is there");
	tap_ok(pread(fd, buf, 101, (32 << 20) + 7) == 101 && buf[0] == 'x' && buf[99] == 'x' && buf[100] == 0,
	       "the second piece too, byte-exact");
	close(fd);
	is_int(sparse_copy("/nonexistent/file", dst), -ENOENT, "a missing source: -ENOENT");
	unlink(src);
	unlink(dst);
	rmdir(dir);
}

/* a bzImage-like file: setup_sects 2 (a boot sector and 2 setup sectors),
 * "HdrS" at 0x202, then 20 KiB of payload; every byte its offset's low 8 bits */
static void make_bzimage(const char *path, bool magic)
{
	uint8_t buf[3 * 512 + 20480];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	buf[0x1f1] = 2;
	if (magic)
		memcpy(buf + 0x202, "HdrS", 4);
	FILE *f = fopen(path, "w");
	fwrite(buf, 1, sizeof(buf), f);
	fclose(f);
}

static void test_kernel_stub(void)
{
	char dir[] = "/tmp/banger-stub.XXXXXX";
	bgr_error err = { 0 };

	if (!mkdtemp(dir)) {
		tap_ok(false, "mkdtemp");
		return;
	}
	_cleanup_free_ char *k = xasprintf("%s/vmlinuz", dir), *stub = xasprintf("%s/stub", dir),
			    *bad = xasprintf("%s/notlinux", dir), *stub2 = xasprintf("%s/stub2", dir);
	make_bzimage(k, true);
	make_bzimage(bad, false);
	tap_ok(kernel_stub_write(k, stub, &err) == 0, "a stub of a bzImage");
	struct stat st = { 0 };
	int stat_r = stat(stub, &st);
	tap_ok(stat_r == 0 && st.st_size == 3 * 512 + 4096, "its boot sector, setup and one page (%lld bytes)",
	       (long long)st.st_size);
	FILE *f = fopen(stub, "r");
	bool same = f != NULL;
	for (int i = 0; f && i < 3 * 512 + 4096; i++)
		same = same && fgetc(f) == (i == 0x1f1                  ? 2
					    : (i >= 0x202 && i < 0x206) ? "HdrS"[i - 0x202]
									: (i & 0xff));
	if (f)
		fclose(f);
	tap_ok(same, "a copy of the kernel's first bytes");
	tap_ok(kernel_stub_write(k, stub, &err) == -EEXIST, "an existing stub is not overwritten: %s", err.msg);
	tap_ok(kernel_stub_write(bad, stub2, &err) == -EINVAL && access(stub2, F_OK) < 0,
	       "a file without the boot header: EINVAL, no stub (%s)", err.msg);
	tap_ok(kernel_stub_write("/nonexistent/vmlinuz", stub2, &err) == -ENOENT, "a missing kernel: ENOENT (%s)",
	       err.msg);
	unlink(k);
	unlink(bad);
	unlink(stub);
	rmdir(dir);
}

int main(void)
{
	test_identify_bridge();
	test_identify_user();
	test_identify_host_key();
	test_sparse_copy();
	test_kernel_stub();
	return tap_done();
}
