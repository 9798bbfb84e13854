/* banger-fc: talks to Firecracker's REST API over its unix socket with
 * libcurl (CURLOPT_UNIX_SOCKET_PATH), in a short-lived child process of
 * bangerd (like banger-ssh: libcurl and its TLS stack stay out of the
 * daemon). Prints one answer line on stdout.
 *
 *   banger-fc configure SOCKET PLAN.json   sends the plan's requests in order
 *                                          (fc_plan.h); stops at the first error
 *   banger-fc snapshot-create SOCKET PLAN.json
 *                                          a template's save: the plan's PATCH /vm
 *                                          Paused and PUT /snapshot/create (the
 *                                          caller resumes with a request after
 *                                          copying the root disk, whatever the answer)
 *   banger-fc snapshot-load SOCKET PLAN.json
 *                                          a clone's start: /logger and PUT
 *                                          /snapshot/load (resume_vm), then GET /
 *                                          must say the VM is Running
 *   banger-fc adopt SOCKET                 re-adoption: GET / answers; a VM left
 *                                          Paused (bangerd died during a template's
 *                                          save) is resumed: "ok resumed"
 *   banger-fc request SOCKET METHOD PATH [BODY]
 *
 * Answers: "ok" (request: "ok STATUS BODY"), or "fail STATUS PATH: fault_message". */
#include "util.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUEST_TIMEOUT_MS 5000L
/* a snapshot writes or maps the guest's whole memory: a few GiB to disk;
 * a re-adoption's GET / may wait behind one its dead bangerd asked for */
#define SNAPSHOT_TIMEOUT_MS 300000L

static long slow_timeout_ms; /* when set, for every request (adopt) */

struct reply {
	char *body;
	size_t len;
	FILE *mem;
};

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
	struct reply *r = ctx;
	return fwrite(data, size, n, r->mem) * size;
}

/* One request; returns the HTTP status (0 when no answer) and the body. */
static long send_request(const char *sock, const char *method, const char *path, const char *body, char **reply_body,
			 char *errbuf)
{
	CURL *c = curl_easy_init();
	struct curl_slist *headers = NULL;
	struct reply r = { 0 };
	_cleanup_free_ char *url = xasprintf("http://localhost%s", path);
	long status = 0;

	r.mem = open_memstream(&r.body, &r.len);
	if (!c || !r.mem)
		abort();
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Accept: application/json");
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
			 slow_timeout_ms                        ? slow_timeout_ms
			 : strncmp(path, "/snapshot/", 10) == 0 ? SNAPSHOT_TIMEOUT_MS
								: REQUEST_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*"); /* a unix socket: no proxy applies */
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	fclose(r.mem);
	curl_slist_free_all(headers);
	curl_easy_cleanup(c);
	*reply_body = r.body;
	return status;
}

/* The fault_message of an error body, or the body itself. */
static void print_failure(long status, const char *path, const char *body, const char *errbuf)
{
	cJSON *j = cJSON_Parse(body);
	const cJSON *fault = cJSON_GetObjectItemCaseSensitive(j, "fault_message");

	if (status == 0)
		printf("fail 0 %s: no answer from Firecracker (%s)\n", path, errbuf[0] ? errbuf : "?");
	else if (cJSON_IsString(fault))
		printf("fail %ld %s: %s\n", status, path, fault->valuestring);
	else
		printf("fail %ld %s: %.200s\n", status, path, body);
	cJSON_Delete(j);
}

static int one(const char *sock, const char *method, const char *path, const char *body, bool quiet)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	char *reply = NULL;
	long status = send_request(sock, method, path, body, &reply, errbuf);
	int ok = status >= 200 && status < 300;

	if (!ok)
		print_failure(status, path, reply ? reply : "", errbuf);
	else if (!quiet)
		printf("ok %ld %s\n", status, reply ? reply : "");
	free(reply);
	return ok ? 0 : 1;
}

/* Sends the plan's requests in order; 0, or 1 after the failure line. */
static int run_plan(const char *sock, const char *plan_path)
{
	_cleanup_fclose_ FILE *f = fopen(plan_path, "re");
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	char buf[4096];
	size_t n;
	cJSON *plan, *req;

	if (!f || !mem) {
		printf("fail 0 %s: cannot read the plan\n", plan_path);
		return 1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, mem);
	fclose(mem);
	plan = cJSON_Parse(text);
	if (!cJSON_IsArray(plan)) {
		printf("fail 0 %s: not a JSON array\n", plan_path);
		cJSON_Delete(plan);
		return 1;
	}
	cJSON_ArrayForEach(req, plan)
	{
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(req, "method");
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(req, "path");
		char *body = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(req, "body"));
		int r = cJSON_IsString(m) && cJSON_IsString(p) ? one(sock, m->valuestring, p->valuestring, body, true)
							       : 1;
		free(body);
		if (r) {
			cJSON_Delete(plan);
			return 1;
		}
	}
	cJSON_Delete(plan);
	return 0;
}

static int configure(const char *sock, const char *plan_path)
{
	if (run_plan(sock, plan_path))
		return 1;
	printf("ok\n");
	return 0;
}

/* GET /: the VM's state ("Running", "Paused", "Not started") in buf; 0,
 * or 1 after the failure line. */
static int vm_state(const char *sock, char *buf, size_t size)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	char *reply = NULL;
	long status = send_request(sock, "GET", "/", NULL, &reply, errbuf);
	cJSON *j = status == 200 ? cJSON_Parse(reply) : NULL;
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(j, "state");
	int r = 0;

	if (status != 200) {
		print_failure(status, "/", reply ? reply : "", errbuf);
		r = 1;
	} else {
		snprintf(buf, size, "%s", cJSON_IsString(state) ? state->valuestring : "?");
	}
	cJSON_Delete(j);
	free(reply);
	return r;
}

/* After a load with resume_vm: GET / says "Running", or the load did not
 * take (a fail line naming the state). */
static int check_running(const char *sock)
{
	char state[64];

	if (vm_state(sock, state, sizeof(state)))
		return 1;
	if (strcmp(state, "Running") != 0) {
		printf("fail 200 /: the VM is '%s' after the snapshot load, not Running\n", state);
		return 1;
	}
	return 0;
}

/* Only a template's save pauses a guest, and it always resumes it: a VM
 * found Paused lost its bangerd in between, and goes on. */
static int adopt(const char *sock)
{
	char state[64];

	slow_timeout_ms = SNAPSHOT_TIMEOUT_MS;
	if (vm_state(sock, state, sizeof(state)))
		return 1;
	if (strcmp(state, "Paused") != 0) {
		printf("ok\n");
		return 0;
	}
	if (one(sock, "PATCH", "/vm", "{\"state\":\"Resumed\"}", true))
		return 1;
	printf("ok resumed\n");
	return 0;
}

static int snapshot_load(const char *sock, const char *plan_path)
{
	if (run_plan(sock, plan_path) || check_running(sock))
		return 1;
	printf("ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	int r;

	curl_global_init(CURL_GLOBAL_NOTHING);
	if (argc == 4 && (!strcmp(argv[1], "configure") || !strcmp(argv[1], "snapshot-create")))
		r = configure(argv[2], argv[3]);
	else if (argc == 4 && !strcmp(argv[1], "snapshot-load"))
		r = snapshot_load(argv[2], argv[3]);
	else if (argc == 3 && !strcmp(argv[1], "adopt"))
		r = adopt(argv[2]);
	else if ((argc == 5 || argc == 6) && !strcmp(argv[1], "request"))
		r = one(argv[2], argv[3], argv[4], argc == 6 ? argv[5] : NULL, false);
	else {
		printf("usage: banger-fc configure|snapshot-create|snapshot-load SOCKET PLAN | adopt SOCKET | request "
		       "SOCKET METHOD PATH [BODY]\n");
		r = 2;
	}
	curl_global_cleanup();
	return r;
}
