#include "render.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char readme[] =
	"banger: disposable Linux micro-VMs, driven through this directory.\n"
	"\n"
	"  README        this text\n"
	"  config        effective settings, each with where it came from\n"
	"  known_hosts   all pinned SSH host keys (OpenSSH format)\n"
	"  events        stream: one line per lifecycle event (cat follows it)\n"
	"  vms/          mkdir NAME creates a VM; rmdir NAME stops and deletes it;\n"
	"                mv NAME NEW renames a stopped one\n"
	"\n"
	"  vms/NAME/state        read: stopped|starting|running|stopping|error\n"
	"                        write: start|stop|restart|kill (start returns when ready)\n"
	"  vms/NAME/console      serial console: read follows output, write sends input\n"
	"  vms/NAME/logs         banger's lines and the hypervisor's stderr\n"
	"  vms/NAME/error        the last failed write of a control file (state, console,\n"
	"                        sizing), until that file's next success; empty when none\n"
	"  vms/NAME/vcpu memory_mib disk_size image kernel\n"
	"                        settings; writable while stopped, EBUSY while running\n"
	"  vms/NAME/spec         effective sizing, with provenance\n"
	"  vms/NAME/ip           guest address (bridge mode; empty in user mode)\n"
	"  vms/NAME/mac known_hosts ssh_config      its MAC, its pinned host keys, a Host block\n"
	"  vms/NAME/pid uptime created              the hypervisor process and times\n"
	"  vms/NAME/ports        forwarded host ports and their state; write 8080,\n"
	"                        127.0.0.1:3000:80 or 'udp 5353' to add, -8080 to remove\n"
	"\n"
	"  images/       installed images; mkdir NAME pulls NAME from the catalog,\n"
	"                rmdir NAME removes it (EBUSY while a VM uses it)\n"
	"  images/NAME/status    ready | pulling 41% 120M/290M 12M/s | error: REASON\n"
	"  images/NAME/wait      read blocks until the pull ends, then gives the status\n"
	"  images/NAME/size source sha256 created kernel      what it is and where from\n"
	"  images/import         write \"NAME REF\" to import an OCI image as NAME\n"
	"  kernels/      likewise for kernels (status size source sha256 created wait)\n"
	"  templates/    booted snapshots starts restore from; rmdir KEY drops one\n"
	"  templates/KEY/status size created used_by source   (read-only)\n"
	"\n"
	"Full reference: docs/filesystem.md\n";

static void render_network(FILE *f, const struct vmm_settings *s, const struct bgr_paths *p)
{
	const struct vmm_net_settings *n = &s->net;

	fprintf(f, "network = %s  # %s; %s\n",
		n->mode == NET_BRIDGE ? "bridge"
		: n->mode == NET_USER ? "user"
				      : "none",
		n->src_network, n->why);
	fprintf(f, "bridge_name = %s  # %s\n", n->bridge, n->src_bridge);
	fprintf(f, "subnet = %s  # %s\n", n->subnet, n->src_subnet);
	fprintf(f, "nat = %s  # %s\n", n->nat ? "true" : "false", n->src_nat);
	fprintf(f, "dns = %s  # .vm names answered by bangerd\n",
		n->mode == NET_BRIDGE ? "on the bridge address, port 53" : "off (no bridge)");
	fprintf(f, "snapshots = %s  # %s\n", s->snapshots ? "on" : "off", s->src_snapshots);
	fprintf(f, "ssh_key_path = %s  # %s\n", p->ssh_key, s->src_ssh_key);
	fprintf(f, "known_hosts = %s  # banger's pins; ~/.ssh/known_hosts is never used\n", p->known_hosts);
	fprintf(f, "ssh_config = %s  # Include it from ~/.ssh/config for ssh NAME.vm\n", p->ssh_config);
	fprintf(f,
		"host_key_pinning = agent  # keys come over the agent channel before first contact; "
		"tofu only for guests whose agent reports none\n");
}

static void render_config(FILE *f, const struct render_ctx *ctx)
{
	const struct vmm_settings *s = vmm_settings(ctx->vmm);
	const struct bgr_paths *p = vmm_paths(ctx->vmm);
	char disk[32];

	size_format(s->disk_size, disk, sizeof(disk));
	fprintf(f, "# config file: %s (%s)\n", s->config_path, s->config_found ? "read" : "absent; all defaults");
	fprintf(f, "vmm = %s  # %s; %s\n", s->vmm, s->src_vmm, s->vmm_why);
	fprintf(f, "firecracker_bin = %s  # %s\n", s->firecracker_bin, s->src_firecracker);
	fprintf(f, "accel = %s  # %s; %s\n", s->accel.accel, s->src_accel, s->accel.why);
	fprintf(f, "default_image_name = %s  # %s\n", s->image, s->src_image);
	fprintf(f, "vcpu = %u  # %s\n", s->vcpu, s->src_vcpu);
	fprintf(f, "memory_mib = %u  # %s\n", s->memory_mib, s->src_memory);
	fprintf(f, "disk_size = %s  # %s\n", disk, s->src_disk);
	fprintf(f, "boot_timeout_s = %d  # %s\n", s->boot_timeout_s, s->src_boot_timeout);
	fprintf(f, "catalog = %s  # %s; then %s/catalog/catalog.json if present, then the built-in one\n",
		s->catalog[0] ? s->catalog : "(none)", s->src_catalog, p->cache_dir);
	render_network(f, s, p);
	for (size_t i = 0; i < s->n_sync; i++)
		fprintf(f, "file_sync = %s -> %s%s%o  # %s\n", s->sync[i].host, s->sync[i].guest,
			s->sync[i].mode >= 0 ? ", mode " : "", s->sync[i].mode >= 0 ? s->sync[i].mode : 0,
			s->sync[i].src);
	fprintf(f, "mount = %s\n", ctx->mountpoint);
	fprintf(f, "state_dir = %s\n", p->state_dir);
	fprintf(f, "config_dir = %s\n", p->config_dir);
	fprintf(f, "cache_dir = %s\n", p->cache_dir);
}

/* "set on this VM", or for a default the current default's provenance when
 * the value still equals it. */
static void provenance(FILE *f, const struct vm_record *r, unsigned bit, bool same, const char *src)
{
	if (r->user_set & bit)
		fputs("set on this VM\n", f);
	else if (same)
		fprintf(f, "default: %s\n", src);
	else
		fputs("default when the VM was created\n", f);
}

static void render_spec(FILE *f, const struct vm_record *r, const struct vmm_settings *s, const char *image_kernel)
{
	char disk[32];

	size_format(r->disk_size, disk, sizeof(disk));
	fprintf(f, "vcpu = %u  # ", r->vcpu);
	provenance(f, r, VM_SET_VCPU, r->vcpu == s->vcpu, s->src_vcpu);
	fprintf(f, "memory_mib = %u  # ", r->memory_mib);
	provenance(f, r, VM_SET_MEMORY, r->memory_mib == s->memory_mib, s->src_memory);
	fprintf(f, "disk_size = %s  # ", disk);
	if (!(r->user_set & VM_SET_DISK) && r->disk_size > s->disk_size)
		fprintf(f, "grown to hold image %s (default: %s)\n", r->image, s->src_disk);
	else
		provenance(f, r, VM_SET_DISK, r->disk_size == s->disk_size, s->src_disk);
	fprintf(f, "image = %s  # ", r->image);
	provenance(f, r, VM_SET_IMAGE, !strcmp(r->image, s->image), s->src_image);
	fprintf(f, "kernel = %s  # ", r->kernel);
	if (!(r->user_set & VM_SET_KERNEL) && strcmp(r->kernel, s->kernel) && !strcmp(r->kernel, image_kernel))
		fprintf(f, "image %s's kernel\n", r->image);
	else
		provenance(f, r, VM_SET_KERNEL, !strcmp(r->kernel, s->kernel), s->src_image);
}

/* The kernel an image boots by default, "" when not known. */
static const char *image_kernel(struct vmm *m, const char *image)
{
	struct artifact *a = vmm_art_by_name(m, ART_IMAGE, image);
	struct art_info ai;

	if (!a)
		return "";
	vmm_art_info(a, &ai);
	return ai.meta->kernel;
}

static void render_time(FILE *f, int64_t unix_s)
{
	char buf[32];
	time_t t = (time_t)unix_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(f, "%s\n", buf);
}

static void render_vm_file(FILE *f, enum vm_file kind, const struct render_ctx *ctx, struct vm *vm)
{
	const struct vm_record *r = vm_record(vm);
	char *text;
	char disk[32];
	bool live = r->pid > 0;

	switch (kind) {
	case VMF_STATE:
		fprintf(f, "%s\n", vm_state_name(r->state));
		break;
	case VMF_ERROR:
		if (r->error[0])
			fprintf(f, "%s\n", r->error);
		break;
	case VMF_VCPU:
		fprintf(f, "%u\n", r->vcpu);
		break;
	case VMF_MEMORY:
		fprintf(f, "%u\n", r->memory_mib);
		break;
	case VMF_DISK:
		size_format(r->disk_size, disk, sizeof(disk));
		fprintf(f, "%s\n", disk);
		break;
	case VMF_IMAGE:
		fprintf(f, "%s\n", r->image);
		break;
	case VMF_KERNEL:
		fprintf(f, "%s\n", r->kernel);
		break;
	case VMF_SPEC:
		render_spec(f, r, vmm_settings(ctx->vmm), image_kernel(ctx->vmm, r->image));
		break;
	case VMF_PID:
		if (live)
			fprintf(f, "%d\n", r->pid);
		break;
	case VMF_UPTIME:
		if (live && r->started_at)
			fprintf(f, "%lld\n", (now_real_ms() - r->started_at) / 1000);
		break;
	case VMF_CREATED:
		render_time(f, r->created);
		break;
	case VMF_IP:
		if (r->ip[0] && vmm_settings(ctx->vmm)->net.mode == NET_BRIDGE)
			fprintf(f, "%s\n", r->ip);
		break;
	case VMF_MAC:
		if (r->mac[0])
			fprintf(f, "%s\n", r->mac);
		break;
	case VMF_KNOWN_HOSTS:
		text = vmm_vm_known_hosts(ctx->vmm, vm);
		fputs(text, f);
		free(text);
		break;
	case VMF_PORTS:
		text = vmm_vm_ports_text(ctx->vmm, vm);
		fputs(text, f);
		free(text);
		break;
	case VMF_SSH_CONFIG:
		text = vmm_vm_ssh_config(ctx->vmm, vm);
		fputs(text, f);
		free(text);
		break;
	default:
		break;
	}
}

static void render_art_file(FILE *f, enum art_file kind, const struct artifact *a)
{
	struct art_info ai;
	char status[BGR_ERROR_MAX + 16];

	vmm_art_info(a, &ai);
	switch (kind) {
	case AF_STATUS:
	case AF_WAIT:
		vmm_art_status(a, status, sizeof(status));
		fprintf(f, "%s\n", status);
		break;
	case AF_SIZE:
		if (ai.state == ART_READY)
			fprintf(f, "%" PRIu64 "\n", ai.size);
		break;
	case AF_SOURCE:
		if (ai.meta->source[0])
			fprintf(f, "%s\n", ai.meta->source);
		break;
	case AF_SHA256:
		if (ai.meta->sha256[0])
			fprintf(f, "%s\n", ai.meta->sha256);
		break;
	case AF_CREATED:
		if (ai.state == ART_READY && ai.meta->created)
			render_time(f, ai.meta->created);
		break;
	case AF_KERNEL:
		if (ai.meta->kernel[0])
			fprintf(f, "%s\n", ai.meta->kernel);
		break;
	default:
		break;
	}
}

static void render_tpl_file(FILE *f, enum tpl_file kind, const struct render_ctx *ctx, int64_t id)
{
	struct template_info ti;

	if (!vmm_template_info(ctx->vmm, id, &ti))
		return;
	switch (kind) {
	case TF_STATUS:
		fprintf(f, "%s\n", ti.status);
		break;
	case TF_SIZE:
		if (ti.created)
			fprintf(f, "%" PRIu64 "\n", ti.size);
		break;
	case TF_CREATED:
		if (ti.created)
			render_time(f, ti.created);
		break;
	case TF_USED_BY:
		for (const char *p = ti.used_by; *p; p++)
			fputc(*p == ',' ? '\n' : *p, f);
		if (ti.used_by[0])
			fputc('\n', f);
		break;
	case TF_SOURCE:
		fprintf(f, "made from VM %s\n%s", ti.made_from, ti.source);
		break;
	default:
		break;
	}
}

char *render_node(const struct render_ctx *ctx, const struct node *n, struct vm *vm, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	if (n->tpl_id) {
		render_tpl_file(f, n->tkind, ctx, n->tpl_id);
	} else if (n->art_id) {
		struct artifact *a = vmm_art_by_id(ctx->vmm, n->art_id);
		if (a)
			render_art_file(f, n->akind, a);
	} else if (!n->vm_id) {
		if (n->ino == INO_IMPORT)
			fputs("# write \"NAME REF\" to import an OCI image, e.g. "
			      "echo \"deb docker.io/library/debian:bookworm\" > images/import\n",
			      f);
		else if (n->ino == INO_README)
			fputs(readme, f);
		else if (n->ino == INO_CONFIG)
			render_config(f, ctx);
		else if (n->ino == INO_KNOWN_HOSTS)
			fputs(vmm_known_hosts(ctx->vmm), f);
		else if (n->ino == INO_NOTRASH)
			fputs("banger keeps no trash: what is deleted here is gone (rmdir vms/NAME deletes a VM).\n"
			      "This file is not a directory, which tells file managers (the freedesktop.org trash\n"
			      "spec) that there is no trash on this mount: they offer to delete instead.\n",
			      f);
	} else if (vm) {
		render_vm_file(f, n->kind, ctx, vm);
	}
	fclose(f);
	*ret_len = len;
	return buf;
}
