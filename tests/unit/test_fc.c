/* Unit tests of the Firecracker driver's pure parts: raw disk copies
 * (sparse, never a byte copy of holes), the hybrid vsock reply parser and
 * handshake (against a socketpair), and the boot plan's shape. */
#include "disk_raw.h"
#include "fc_plan.h"
#include "fc_vsock.h"
#include "util.h"

#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[] = "/tmp/banger-test-fc.XXXXXX";

static void test_sparse_copy(void)
{
	_cleanup_free_ char *src = xasprintf("%s/src.img", base), *dst = xasprintf("%s/dst.img", base);
	const off_t size = 256LL << 20, far = 200LL << 20;
	char a[4096], b[4096];
	struct stat ss, ds;
	bool reflinked;
	int fd = open(src, O_RDWR | O_CREAT | O_TRUNC, 0600);

	memset(a, 'x', sizeof(a));
	tap_ok(fd >= 0 && ftruncate(fd, size) == 0, "a 256 MiB sparse source");
	pwrite(fd, a, sizeof(a), 0);
	memset(a, 'y', sizeof(a));
	pwrite(fd, a, sizeof(a), far);
	close(fd);
	is_int(disk_copy_sparse(src, dst, &reflinked), 0, "copy it");
	stat(src, &ss);
	stat(dst, &ds);
	is_int(ds.st_size, ss.st_size, "same apparent size");
	tap_ok(reflinked || ds.st_blocks * 512 < (1 << 20),
	       "the copy is sparse (%lld bytes allocated for 256 MiB; reflink: %d)", (long long)ds.st_blocks * 512,
	       reflinked);
	fd = open(dst, O_RDONLY);
	tap_ok(pread(fd, b, sizeof(b), far) == (ssize_t)sizeof(b) && memcmp(a, b, sizeof(b)) == 0,
	       "the far data extent was copied");
	memset(a, 'x', sizeof(a));
	tap_ok(pread(fd, b, sizeof(b), 0) == (ssize_t)sizeof(b) && memcmp(a, b, sizeof(b)) == 0,
	       "the first extent too");
	memset(a, 0, sizeof(a));
	tap_ok(pread(fd, b, sizeof(b), 100LL << 20) == (ssize_t)sizeof(b) && memcmp(a, b, sizeof(b)) == 0,
	       "holes read as zeros");
	close(fd);
	is_int(disk_copy_sparse(src, dst, &reflinked), -EEXIST, "an existing destination is not overwritten");
	_cleanup_free_ char *missing = xasprintf("%s/nope.img", base), *dst2 = xasprintf("%s/dst2.img", base);
	is_int(disk_copy_sparse(missing, dst2, &reflinked), -ENOENT, "a missing source: ENOENT");
	tap_ok(access(dst2, F_OK) != 0, "and no destination is left");
}

static void test_vsock_reply(void)
{
	unsigned port = 0;

	is_int(fc_vsock_parse_reply("OK 1073741824\n", 14, &port), 0, "OK with a port");
	is_int(port, 1073741824, "the port");
	is_int(fc_vsock_parse_reply("OK 5", 4, &port), 0, "without the newline");
	is_int(fc_vsock_parse_reply("OK\n", 3, &port), -1, "no port");
	is_int(fc_vsock_parse_reply("OK x\n", 5, &port), -1, "not a number");
	is_int(fc_vsock_parse_reply("OK 5x\n", 6, &port), -1, "junk after it");
	is_int(fc_vsock_parse_reply("ok 5\n", 5, &port), -1, "lower-case ok");
	is_int(fc_vsock_parse_reply("OK 99999999999\n", 15, &port), -1, "too big");
	is_int(fc_vsock_parse_reply("", 0, &port), -1, "empty");
}

/* The request half of the handshake against a socketpair playing
 * Firecracker: sent at once, without waiting for any reply. */
static void test_vsock_handshake(void)
{
	int sv[2];
	char buf[64] = "";
	ssize_t n;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	is_int(fc_vsock_send_connect(sv[0], 1024), 0, "CONNECT is sent with no reply yet (nothing waits for it)");
	n = read(sv[1], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	is_str(buf, "CONNECT 1024\n", "it sent CONNECT 1024");
	close(sv[0]);
	close(sv[1]);

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	close(sv[1]);
	is_int(fc_vsock_send_connect(sv[0], 1024), -ECONNRESET, "the other end closed: ECONNRESET");
	close(sv[0]);
}

static const char *path_of(const cJSON *req)
{
	return cJSON_GetObjectItemCaseSensitive(req, "path")->valuestring;
}

static void test_plan(void)
{
	struct fc_boot b = { .log_path = "/s/fc.log",
			     .vcpu = 2,
			     .mem_mib = 512,
			     .kernel = "/k/vmlinux",
			     .initrd = "/k/initrd.img",
			     .boot_args = "console=ttyS0",
			     .root_disk = "/s/root.img",
			     .work_disk = "/s/work.img",
			     .tap = "bgr1",
			     .mac = "52:54:00:10:00:02",
			     .vsock_uds = "/s/agent.sock",
			     .guest_cid = 3 };
	cJSON *plan = fc_boot_plan(&b);
	const char *want[] = { "/logger",      "/machine-config",          "/boot-source", "/drives/rootfs",
			       "/drives/work", "/network-interfaces/eth0", "/vsock",       "/actions" };
	int n = cJSON_GetArraySize(plan);

	is_int(n, 8, "a full plan has 8 requests");
	for (int i = 0; i < n && i < 8; i++)
		is_str(path_of(cJSON_GetArrayItem(plan, i)), want[i], "request order");
	char *last = cJSON_PrintUnformatted(cJSON_GetArrayItem(plan, 7));
	is_str(last, "{\"method\":\"PUT\",\"path\":\"/actions\",\"body\":{\"action_type\":\"InstanceStart\"}}",
	       "InstanceStart comes last");
	free(last);
	cJSON_Delete(plan);
	b.work_disk = b.tap = b.initrd = NULL;
	plan = fc_boot_plan(&b);
	is_int(cJSON_GetArraySize(plan), 6, "no work disk, no network: 6 requests");
	cJSON_Delete(plan);
}

static char *body_of(const cJSON *plan, int i)
{
	return cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(plan, i), "body"));
}

static void test_snapshot_plans(void)
{
	struct fc_load l = { .log_path = "/s/fc.log",
			     .state_path = "/t/K/state",
			     .mem_path = "/t/K/memory",
			     .tap = "bgr2" };
	cJSON *plan = fc_snapshot_create_plan("/t/.aside/state", "/t/.aside/memory");
	char *text;

	is_int(cJSON_GetArraySize(plan), 2, "a save: pause, then the snapshot");
	is_str(path_of(cJSON_GetArrayItem(plan, 0)), "/vm", "PATCH /vm first");
	text = body_of(plan, 0);
	is_str(text, "{\"state\":\"Paused\"}", "the VM is paused first");
	free(text);
	text = body_of(plan, 1);
	is_str(text,
	       "{\"snapshot_type\":\"Full\",\"snapshot_path\":\"/t/.aside/state\",\"mem_file_path\":\"/t/.aside/"
	       "memory\"}",
	       "a Full snapshot: state and memory files");
	free(text);
	cJSON_Delete(plan);

	plan = fc_snapshot_load_plan(&l);
	is_int(cJSON_GetArraySize(plan), 2, "a clone: logger, then the load");
	is_str(path_of(cJSON_GetArrayItem(plan, 0)), "/logger", "the logger first (allowed before a load)");
	is_str(path_of(cJSON_GetArrayItem(plan, 1)), "/snapshot/load", "then /snapshot/load");
	text = body_of(plan, 1);
	is_str(text,
	       "{\"snapshot_path\":\"/t/K/state\",\"mem_backend\":{\"backend_type\":\"File\",\"backend_path\":\"/t/"
	       "K/memory\"},\"network_overrides\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"bgr2\"}],"
	       "\"resume_vm\":true}",
	       "a File memory backend, the clone's tap, resume_vm");
	free(text);
	cJSON_Delete(plan);
	l.tap = NULL;
	plan = fc_snapshot_load_plan(&l);
	text = body_of(plan, 1);
	tap_ok(!strstr(text, "network_overrides"), "no network: no override");
	free(text);
	cJSON_Delete(plan);
	plan = fc_vm_state("Resumed");
	text = cJSON_PrintUnformatted(plan);
	is_str(text, "{\"state\":\"Resumed\"}", "the resume's body");
	free(text);
	cJSON_Delete(plan);
}

int main(int argc, char **argv)
{
	/* `test_fc copy SRC DST` copies like a Firecracker root disk and says how */
	if (argc == 4 && !strcmp(argv[1], "copy")) {
		bool reflinked;
		int r = disk_copy_sparse(argv[2], argv[3], &reflinked);
		printf("%s\n", r < 0 ? strerror(-r) : reflinked ? "reflink" : "sparse");
		return r < 0;
	}
	/* `test_fc plan` prints a full plan, for the spec check in tests/fs/firecracker.sh */
	if (argc == 2 && !strcmp(argv[1], "plan")) {
		struct fc_boot b = { .log_path = "/s/fc.log",
				     .vcpu = 2,
				     .mem_mib = 512,
				     .kernel = "/k/vmlinux",
				     .initrd = "/k/initrd.img",
				     .boot_args = "console=ttyS0 reboot=k panic=1",
				     .root_disk = "/s/root.img",
				     .work_disk = "/s/work.img",
				     .tap = "bgr1",
				     .mac = "52:54:00:10:00:02",
				     .vsock_uds = "/s/agent.sock",
				     .guest_cid = 3 };
		cJSON *plan = fc_boot_plan(&b), *req;
		struct fc_load l = { .log_path = "/s/fc.log",
				     .state_path = "/t/K/state",
				     .mem_path = "/t/K/memory",
				     .tap = "bgr2" };
		cJSON *more[] = { fc_snapshot_create_plan("/t/K/state", "/t/K/memory"), fc_snapshot_load_plan(&l) };

		/* and the snapshot requests: a save's, a clone's, the resume */
		for (size_t i = 0; i < 2; i++) {
			while ((req = cJSON_DetachItemFromArray(more[i], 0)))
				cJSON_AddItemToArray(plan, req);
			cJSON_Delete(more[i]);
		}
		cJSON_AddItemToArray(plan, fc_request("PATCH", "/vm", fc_vm_state("Resumed")));
		char *text = cJSON_Print(plan);
		puts(text);
		free(text);
		cJSON_Delete(plan);
		return 0;
	}
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	test_sparse_copy();
	test_vsock_reply();
	test_vsock_handshake();
	test_plan();
	test_snapshot_plans();
	rm_rf(base);
	return tap_done();
}
