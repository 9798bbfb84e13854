#include "fc_plan.h"
#include "util.h"

#include <stdbool.h>
#include <stdlib.h>

cJSON *fc_request(const char *method, const char *path, cJSON *body)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddStringToObject(r, "method", method);
	cJSON_AddStringToObject(r, "path", path);
	if (body)
		cJSON_AddItemToObject(r, "body", body);
	return r;
}

static cJSON *drive(const char *id, const char *path, bool root)
{
	cJSON *d = cJSON_CreateObject();

	cJSON_AddStringToObject(d, "drive_id", id);
	cJSON_AddStringToObject(d, "path_on_host", path);
	cJSON_AddBoolToObject(d, "is_root_device", root);
	cJSON_AddBoolToObject(d, "is_read_only", false);
	return d;
}

static cJSON *logger(const char *log_path)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "log_path", log_path);
	cJSON_AddStringToObject(o, "level", "Info");
	cJSON_AddBoolToObject(o, "show_level", true);
	cJSON_AddBoolToObject(o, "show_log_origin", false);
	return fc_request("PUT", "/logger", o);
}

cJSON *fc_boot_plan(const struct fc_boot *b)
{
	cJSON *plan = cJSON_CreateArray(), *o;

	cJSON_AddItemToArray(plan, logger(b->log_path));

	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "vcpu_count", b->vcpu);
	cJSON_AddNumberToObject(o, "mem_size_mib", b->mem_mib);
	cJSON_AddBoolToObject(o, "smt", false);
	cJSON_AddItemToArray(plan, fc_request("PUT", "/machine-config", o));

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "kernel_image_path", b->kernel);
	cJSON_AddStringToObject(o, "boot_args", b->boot_args);
	if (b->initrd)
		cJSON_AddStringToObject(o, "initrd_path", b->initrd);
	cJSON_AddItemToArray(plan, fc_request("PUT", "/boot-source", o));

	cJSON_AddItemToArray(plan, fc_request("PUT", "/drives/rootfs", drive("rootfs", b->root_disk, true)));
	if (b->work_disk)
		cJSON_AddItemToArray(plan, fc_request("PUT", "/drives/work", drive("work", b->work_disk, false)));

	if (b->tap) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "iface_id", "eth0");
		cJSON_AddStringToObject(o, "host_dev_name", b->tap);
		if (b->mac)
			cJSON_AddStringToObject(o, "guest_mac", b->mac);
		cJSON_AddItemToArray(plan, fc_request("PUT", "/network-interfaces/eth0", o));
	}

	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "guest_cid", b->guest_cid);
	cJSON_AddStringToObject(o, "uds_path", b->vsock_uds);
	cJSON_AddItemToArray(plan, fc_request("PUT", "/vsock", o));

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "action_type", "InstanceStart");
	cJSON_AddItemToArray(plan, fc_request("PUT", "/actions", o));
	return plan;
}

cJSON *fc_vm_state(const char *state)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "state", state);
	return o;
}

cJSON *fc_snapshot_create_plan(const char *state_path, const char *mem_path)
{
	cJSON *plan = cJSON_CreateArray(), *o;

	cJSON_AddItemToArray(plan, fc_request("PATCH", "/vm", fc_vm_state("Paused")));
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "snapshot_type", "Full");
	cJSON_AddStringToObject(o, "snapshot_path", state_path);
	cJSON_AddStringToObject(o, "mem_file_path", mem_path);
	cJSON_AddItemToArray(plan, fc_request("PUT", "/snapshot/create", o));
	return plan;
}

cJSON *fc_snapshot_load_plan(const struct fc_load *l)
{
	cJSON *plan = cJSON_CreateArray(), *o, *backend, *overrides, *net;

	cJSON_AddItemToArray(plan, logger(l->log_path));
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "snapshot_path", l->state_path);
	backend = cJSON_AddObjectToObject(o, "mem_backend");
	cJSON_AddStringToObject(backend, "backend_type", "File");
	cJSON_AddStringToObject(backend, "backend_path", l->mem_path);
	if (l->tap) {
		overrides = cJSON_AddArrayToObject(o, "network_overrides");
		net = cJSON_CreateObject();
		cJSON_AddStringToObject(net, "iface_id", "eth0");
		cJSON_AddStringToObject(net, "host_dev_name", l->tap);
		cJSON_AddItemToArray(overrides, net);
	}
	cJSON_AddBoolToObject(o, "resume_vm", true);
	cJSON_AddItemToArray(plan, fc_request("PUT", "/snapshot/load", o));
	return plan;
}
