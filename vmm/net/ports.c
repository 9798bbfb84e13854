#include "ports.h"
#include "hostfwd.h"
#include "log.h"
#include "port_rule.h"
#include "relay.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_BIND "127.0.0.1"
#define WRITE_MAX 4096 /* bytes of one write */
#define RULES_PER_WRITE 64
#define RULES_PER_VM 128

struct port_fwd {
	struct vmm *m;
	int64_t vm_id;
	struct port_rule rule;
	struct relay *relay; /* NULL: not bound, error says why */
	char error[BGR_ERROR_MAX];
	/* user mode: QEMU forwards 127.0.0.1:backend_port to the guest's port
	 * in the boot that started at backend_boot */
	uint16_t backend_port;
	int64_t backend_boot;
	bool backend_pending;
	struct port_fwd *next;
};

static bool vm_is_user_mode(const struct vm *vm)
{
	return !strcmp(vm->rec.net_mode, "user");
}

static int fwd_target(void *ctx, struct sockaddr_in *to)
{
	struct port_fwd *f = ctx;
	struct vm *vm = vmm_vm_by_id(f->m, f->vm_id);

	*to = (struct sockaddr_in){ .sin_family = AF_INET };
	if (!vm || vm->rec.state != VM_RUNNING)
		return -EHOSTDOWN;
	if (vm_is_user_mode(vm)) {
		if (!f->backend_port || f->backend_boot != vm->rec.started_at)
			return -EHOSTDOWN;
		to->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		to->sin_port = htons(f->backend_port);
		return 0;
	}
	if (strcmp(vm->rec.net_mode, "bridge") != 0 || inet_pton(AF_INET, vm->rec.ip, &to->sin_addr) != 1)
		return -ENETUNREACH;
	to->sin_port = htons(f->rule.guest_port);
	return 0;
}

static void fwd_free(struct port_fwd *f)
{
	relay_close(f->relay);
	free(f);
}

static struct port_fwd *fwd_new(struct vmm *m, int64_t vm_id, const struct port_rule *rule)
{
	struct port_fwd *f = xcalloc(1, sizeof(*f));

	f->m = m;
	f->vm_id = vm_id;
	f->rule = *rule;
	f->rule.remove = false;
	return f;
}

static void fwd_append(struct vmm *m, struct port_fwd *f)
{
	struct port_fwd **p = &m->ports;

	while (*p)
		p = &(*p)->next;
	f->next = NULL;
	*p = f;
}

static void fwd_unlink(struct vmm *m, struct port_fwd *f)
{
	for (struct port_fwd **p = &m->ports; *p; p = &(*p)->next)
		if (*p == f) {
			*p = f->next;
			return;
		}
}

static int fwd_bind(struct port_fwd *f, bgr_error *err)
{
	return relay_open(f->m->loop, f->rule.proto, f->rule.bind, f->rule.host_port, fwd_target, f, &f->relay, err);
}

static void to_store(const struct port_fwd *f, struct store_port *p)
{
	*p = (struct store_port){ .vm_id = f->vm_id, .host_port = f->rule.host_port, .guest_port = f->rule.guest_port };
	snprintf(p->proto, sizeof(p->proto), "%s", port_proto_name(f->rule.proto));
	snprintf(p->bind, sizeof(p->bind), "%s", f->rule.bind);
}

/* user mode: a free 127.0.0.1 port of that protocol for QEMU's side */
static int free_backend_port(enum port_proto proto)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	_cleanup_close_ int fd = socket(AF_INET, (proto == PORT_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -errno;
	return ntohs(a.sin_port);
}

/* What a hostfwd_add answer is about: found again by key, the rule may be
 * gone or changed meanwhile. */
struct backend_req {
	struct vmm *m;
	int64_t vm_id, boot;
	struct port_rule rule;
	uint16_t port;
};

static struct port_fwd *find_fwd(struct vmm *m, int64_t vm_id, const struct port_rule *r)
{
	for (struct port_fwd *f = m->ports; f; f = f->next)
		if (f->vm_id == vm_id && port_rule_same_listener(&f->rule, r))
			return f;
	return NULL;
}

static void backend_answered(void *ctx, int result, const char *text)
{
	_cleanup_free_ struct backend_req *q = ctx;
	struct port_fwd *f = find_fwd(q->m, q->vm_id, &q->rule);
	struct vm *vm = vmm_vm_by_id(q->m, q->vm_id);
	char desc[64];

	if (!f || !vm || f->rule.guest_port != q->rule.guest_port || vm->rec.started_at != q->boot)
		return; /* another rule or another boot by now */
	f->backend_pending = false;
	port_rule_format(&f->rule, desc, sizeof(desc));
	if (result < 0 || text[0]) {
		snprintf(f->error, sizeof(f->error), "QEMU did not forward 127.0.0.1:%u to the guest: %.120s", q->port,
			 text);
		text_one_line(f->error);
		vmm_vm_log(q->m, vm, "ports: %s: %s", desc, f->error);
		return;
	}
	f->backend_port = q->port;
	f->backend_boot = q->boot;
	vmm_vm_log(q->m, vm, "ports: %s active (QEMU forwards 127.0.0.1:%u to the guest)", desc, q->port);
}

/* user mode: asks QEMU to forward a fresh 127.0.0.1 port to the guest's. */
static void backend_add(struct port_fwd *f, struct vm *vm)
{
	struct backend_req *q;
	_cleanup_free_ char *line = NULL;
	int port;

	f->backend_port = 0;
	f->error[0] = '\0';
	if (!f->relay || !vm->qmp_sock)
		return;
	port = free_backend_port(f->rule.proto);
	if (port < 0) {
		snprintf(f->error, sizeof(f->error), "no free 127.0.0.1 port for QEMU's side: %s", strerror(-port));
		return;
	}
	q = xcalloc(1, sizeof(*q));
	*q = (struct backend_req){ .m = f->m,
				   .vm_id = f->vm_id,
				   .boot = vm->rec.started_at,
				   .rule = f->rule,
				   .port = (uint16_t)port };
	line = xasprintf("hostfwd_add net0 %s:127.0.0.1:%d-:%u", port_proto_name(f->rule.proto), port,
			 f->rule.guest_port);
	hostfwd_send(f->m, vm->qmp_sock, line, backend_answered, q);
	f->backend_pending = true;
}

/* user mode: the forward of the current boot goes (fire and forget: a
 * leftover only leads to the same guest port, from 127.0.0.1). */
static void backend_remove(struct port_fwd *f, struct vm *vm)
{
	_cleanup_free_ char *line = NULL;

	if (!f->backend_port || f->backend_boot != vm->rec.started_at || !vm->qmp_sock || vm->rec.state != VM_RUNNING)
		return;
	line = xasprintf("hostfwd_remove net0 %s:127.0.0.1:%u", port_proto_name(f->rule.proto), f->backend_port);
	hostfwd_send(f->m, vm->qmp_sock, line, NULL, NULL);
	f->backend_port = 0;
}

void ports_vm_running(struct vmm *m, struct vm *vm)
{
	if (!vm_is_user_mode(vm))
		return;
	for (struct port_fwd *f = m->ports; f; f = f->next)
		if (f->vm_id == vm->rec.id)
			backend_add(f, vm);
}

void ports_vm_down(struct vmm *m, struct vm *vm)
{
	for (struct port_fwd *f = m->ports; f; f = f->next) {
		if (f->vm_id != vm->rec.id || !f->relay)
			continue;
		relay_drop_clients(f->relay);
		f->backend_port = 0;
		f->backend_pending = false;
		f->error[0] = '\0'; /* QEMU's side was this boot's */
	}
}

static void note_bind(struct vmm *m, struct vm *vm, const struct port_fwd *f)
{
	char desc[64];

	if (!strcmp(f->rule.bind, DEFAULT_BIND))
		return;
	port_rule_format(&f->rule, desc, sizeof(desc));
	vmm_vm_log(m, vm, "ports: %s listens on %s, not on 127.0.0.1 (as the rule asks)%s", desc, f->rule.bind,
		   !strcmp(f->rule.bind, "0.0.0.0") ? ": every host interface, reachable from other machines" : "");
}

static void load_one(void *ctx, const struct store_port *p)
{
	struct vmm *m = ctx;
	struct vm *vm = vmm_vm_by_id(m, p->vm_id);
	_cleanup_free_ char *line = xasprintf("%s %s:%d:%d", p->proto, p->bind, p->host_port, p->guest_port);
	struct port_rule rule;
	struct port_fwd *f;
	bgr_error err;

	if (!vm || port_rule_parse(line, &rule, &err) < 0) {
		log_msg("ports: skipping stored rule '%s' of VM %lld: %s", line, (long long)p->vm_id,
			vm ? err.msg : "no such VM");
		return;
	}
	f = fwd_new(m, p->vm_id, &rule);
	fwd_append(m, f);
	if (fwd_bind(f, &err) < 0) {
		snprintf(f->error, sizeof(f->error), "%s", err.msg);
		vmm_vm_log(m, vm, "ports: error: %s", err.msg);
		log_msg("%s: ports: error: %s", vm->rec.name, err.msg);
		return;
	}
	note_bind(m, vm, f);
	if (vm->rec.state == VM_RUNNING && vm_is_user_mode(vm))
		backend_add(f, vm);
}

void ports_load(struct vmm *m)
{
	bgr_error err;

	if (store_ports_each(m->store, load_one, m, &err) < 0)
		log_msg("ports: cannot read the rules: %s", err.msg);
}

void ports_free(struct vmm *m)
{
	hostfwd_free(m);
	while (m->ports) {
		struct port_fwd *f = m->ports;
		m->ports = f->next;
		fwd_free(f);
	}
}

void ports_vm_removed(struct vmm *m, int64_t vm_id)
{
	for (struct port_fwd *f = m->ports, *next; f; f = next) {
		next = f->next;
		if (f->vm_id == vm_id) {
			fwd_unlink(m, f);
			fwd_free(f);
		}
	}
}

static void render_state(FILE *out, const struct port_fwd *f, const struct vm *vm)
{
	if (!f->relay)
		fprintf(out, "error: %s\n", f->error);
	else if (vm->rec.state != VM_RUNNING)
		fprintf(out, "waiting (vm %s)\n", vm_state_name(vm->rec.state));
	else if (!strcmp(vm->rec.net_mode, "bridge"))
		fputs("active\n", out);
	else if (!vm_is_user_mode(vm))
		fputs("inactive (the VM has no network)\n", out);
	else if (f->error[0])
		fprintf(out, "error: %s\n", f->error);
	else if (f->backend_port && f->backend_boot == vm->rec.started_at && f->rule.proto == PORT_UDP &&
		 !f->m->settings.net.nat)
		/* slirp's restrict=on drops every UDP datagram the guest sends */
		fputs("active (one way: with nat = false QEMU drops the guest's UDP, answers too)\n", out);
	else if (f->backend_port && f->backend_boot == vm->rec.started_at)
		fputs("active\n", out);
	else
		fputs("waiting (QEMU sets up its side)\n", out);
}

char *vmm_vm_ports_text(struct vmm *m, struct vm *vm)
{
	char *buf = NULL, desc[64];
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	if (!out)
		abort();
	for (struct port_fwd *f = m->ports; f; f = f->next) {
		if (f->vm_id != vm->rec.id)
			continue;
		port_rule_format(&f->rule, desc, sizeof(desc));
		fprintf(out, "%s ", desc);
		render_state(out, f, vm);
	}
	fclose(out);
	return buf;
}

/* One write's rules, checked against the VM's rules as they would be after
 * the lines before it. */
struct plan_entry {
	struct port_rule rule;
	struct port_fwd *fwd; /* an existing rule, NULL for a new one */
	bool removed, changed;
	bool rebind;            /* an existing rule whose bind failed: tried again */
	int line;               /* of the write, for a bind's failure */
	struct port_fwd *fresh; /* a new rule, bound */
};

struct plan {
	struct plan_entry e[RULES_PER_VM + RULES_PER_WRITE];
	size_t n;
};

static struct plan_entry *plan_find(struct plan *p, const struct port_rule *r)
{
	for (size_t i = 0; i < p->n; i++)
		if (port_rule_same_listener(&p->e[i].rule, r))
			return &p->e[i];
	return NULL;
}

static int plan_line(struct vmm *m, struct vm *vm, struct plan *p, const struct port_rule *r, int line, bgr_error *err)
{
	struct plan_entry *e = plan_find(p, r);
	char desc[64];

	port_rule_format(r, desc, sizeof(desc));
	if (r->remove) {
		if (!e || e->removed)
			return bgr_fail(err, ENOENT, "no rule %s %s:%u to remove", port_proto_name(r->proto), r->bind,
					r->host_port);
		if (r->guest_given && e->rule.guest_port != r->guest_port)
			return bgr_fail(err, ENOENT, "the rule of %s %s:%u forwards to %u, not %u",
					port_proto_name(r->proto), r->bind, r->host_port, e->rule.guest_port,
					r->guest_port);
		e->removed = true;
		e->rebind = false;
		return 0;
	}
	if (e && !e->removed) {
		if (e->rule.guest_port == r->guest_port) {
			e->rebind = e->fwd && !e->fwd->relay; /* already there; bound again if it failed */
			e->line = line;
			return 0;
		}
		return bgr_fail(err, EEXIST, "%s %s:%u already forwards to %u; write -%u first",
				port_proto_name(r->proto), r->bind, r->host_port, e->rule.guest_port, r->host_port);
	}
	if (e) { /* removed earlier in this write: the same listener, another guest port */
		e->removed = false;
		e->changed = e->fwd != NULL;
		e->rebind = e->fwd && !e->fwd->relay;
		e->rule = *r;
		e->line = line;
		return 0;
	}
	for (struct port_fwd *f = m->ports; f; f = f->next)
		if (f->vm_id != vm->rec.id && port_rule_same_listener(&f->rule, r)) {
			struct vm *other = vmm_vm_by_id(m, f->vm_id);
			return bgr_fail(err, EADDRINUSE, "%s: VM %s forwards that port already", desc,
					other ? other->rec.name : "?");
		}
	if (p->n == ARRAY_SIZE(p->e))
		return bgr_fail(err, E2BIG, "too many rules in one write (%d at most)", RULES_PER_WRITE);
	p->e[p->n++] = (struct plan_entry){ .rule = *r, .line = line };
	return 0;
}

/* Parses and checks every line against the VM's rules; nothing changes. */
static int plan_write(struct vmm *m, struct vm *vm, const char *buf, size_t size, struct plan *p, bgr_error *err)
{
	_cleanup_free_ char *text = NULL;
	char *save = NULL, *line;
	int lineno = 0, rules = 0, r;

	if (size > WRITE_MAX)
		return bgr_fail(err, EFBIG, "a write of %zu bytes; %d at most", size, WRITE_MAX);
	if (memchr(buf, '\0', size))
		return bgr_fail(err, EINVAL, "the value holds a NUL byte");
	text = xcalloc(1, size + 1);
	memcpy(text, buf, size);
	p->n = 0;
	for (struct port_fwd *f = m->ports; f; f = f->next)
		if (f->vm_id == vm->rec.id && p->n < ARRAY_SIZE(p->e))
			p->e[p->n++] = (struct plan_entry){ .rule = f->rule, .fwd = f };
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct port_rule rule;
		lineno++;
		if (strspn(line, " \t\r") == strlen(line))
			continue;
		if (++rules > RULES_PER_WRITE)
			return bgr_fail(err, E2BIG, "too many rules in one write (%d at most)", RULES_PER_WRITE);
		line[strcspn(line, "\r")] = '\0';
		if ((r = port_rule_parse(line, &rule, err)) < 0 || (r = plan_line(m, vm, p, &rule, lineno, err)) < 0)
			return bgr_wrap(err, "line %d", lineno);
	}
	if (!rules)
		return bgr_fail(err, EINVAL, "no rule given: want [tcp|udp ][BIND:]HOSTPORT[:GUESTPORT], or -RULE");
	rules = 0;
	for (size_t i = 0; i < p->n; i++)
		rules += !p->e[i].removed;
	if (rules > RULES_PER_VM)
		return bgr_fail(err, E2BIG, "a VM has at most %d rules (this write would make %d)", RULES_PER_VM,
				rules);
	return 0;
}

static void plan_drop_fresh(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->e[i].rebind && p->e[i].fwd->relay) {
			relay_close(p->e[i].fwd->relay);
			p->e[i].fwd->relay = NULL;
		}
		if (p->e[i].fresh)
			fwd_free(p->e[i].fresh);
		p->e[i].fresh = NULL;
	}
}

/* Binds the new listeners and writes the store, all or nothing. */
static int plan_commit(struct vmm *m, struct vm *vm, struct plan *p, bgr_error *err)
{
	struct store_port sp;
	int r;

	for (size_t i = 0; i < p->n; i++) {
		struct plan_entry *e = &p->e[i];
		if (e->rebind && (r = fwd_bind(e->fwd, err)) < 0) {
			plan_drop_fresh(p);
			return bgr_wrap(err, "line %d", e->line);
		}
		if (e->fwd || e->removed)
			continue;
		e->fresh = fwd_new(m, vm->rec.id, &e->rule);
		if ((r = fwd_bind(e->fresh, err)) < 0) {
			plan_drop_fresh(p);
			return bgr_wrap(err, "line %d", e->line);
		}
	}
	if ((r = store_begin(m->store, err)) < 0) {
		plan_drop_fresh(p);
		return r;
	}
	for (size_t i = 0; i < p->n && r == 0; i++) {
		struct plan_entry *e = &p->e[i];
		if (e->fwd && (e->removed || e->changed)) {
			to_store(e->fwd, &sp);
			r = store_port_delete(m->store, &sp, err);
		}
		if (r == 0 && (e->fresh || e->changed)) {
			struct port_fwd tmp = { .vm_id = vm->rec.id, .rule = e->rule };
			to_store(&tmp, &sp);
			r = store_port_insert(m->store, &sp, err);
		}
	}
	if (r == 0)
		r = store_commit(m->store, err);
	else
		store_rollback(m->store);
	if (r < 0)
		plan_drop_fresh(p);
	return r;
}

/* Applies a committed plan in memory, in the order of the lines. */
static void plan_apply(struct vmm *m, struct vm *vm, struct plan *p)
{
	bool running_user = vm->rec.state == VM_RUNNING && vm_is_user_mode(vm);
	char desc[64];

	for (size_t i = 0; i < p->n; i++) {
		struct plan_entry *e = &p->e[i];
		struct port_fwd *f = e->fwd ? e->fwd : e->fresh;
		if (e->rebind) {
			port_rule_format(&f->rule, desc, sizeof(desc));
			vmm_vm_log(m, vm, "ports: %s is bound again", desc);
			f->error[0] = '\0';
			if (running_user)
				backend_add(f, vm);
		}
		if (!f || (e->fwd && !e->removed && !e->changed))
			continue;
		port_rule_format(&e->rule, desc, sizeof(desc));
		if (running_user)
			backend_remove(f, vm);
		if (e->removed) {
			port_rule_format(&f->rule, desc, sizeof(desc));
			vmm_vm_log(m, vm, "ports: removed %s", desc);
			fwd_unlink(m, f);
			fwd_free(f);
			continue;
		}
		if (e->changed) { /* a re-add: last, as in the store */
			relay_drop_clients(f->relay);
			f->rule = e->rule;
			f->rule.remove = false;
			fwd_unlink(m, f);
			fwd_append(m, f);
		} else {
			fwd_append(m, f);
			e->fresh = NULL;
		}
		vmm_vm_log(m, vm, "ports: added %s", desc);
		note_bind(m, vm, f);
		if (running_user)
			backend_add(f, vm);
	}
}

int vmm_vm_ports_write(struct vmm *m, struct vm *vm, const char *buf, size_t size, bgr_error *err)
{
	_cleanup_free_ struct plan *p = xcalloc(1, sizeof(*p));
	int r = plan_write(m, vm, buf, size, p, err);

	if (r == 0)
		r = plan_commit(m, vm, p, err);
	if (r < 0) {
		bgr_wrap(err, "ports");
		vmm_vm_fail(m, vm, VM_ERR_PORTS, err);
		return r;
	}
	plan_apply(m, vm, p);
	vm_clear_error(m, vm, VM_ERR_PORTS);
	return 0;
}
