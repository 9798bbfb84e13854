/* Registry API v2 over libcurl (see oci_registry.h). Every GET goes
 * through request(): on a 401 with a Bearer challenge it fetches an
 * anonymous token from the challenge's realm and tries once more. */
#include "oci_registry.h"
#include "curl_setup.h"
#include "oci_cancel.h"
#include "util.h"
#include "validate.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PROGRESS_INTERVAL_MS 500
#define TOKEN_MAX_BYTES (1 << 20)
#define ERROR_BODY_MAX 2048

#define ACCEPT_MANIFESTS                                                                                \
	"Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, " \
	"application/vnd.docker.distribution.manifest.list.v2+json, "                                   \
	"application/vnd.docker.distribution.manifest.v2+json"

/* Where a response body goes: memory (manifests, tokens) or a file (blobs,
 * hashed on the way). Bodies of error answers go to errbody. */
struct sink {
	CURL *curl;
	char *buf;
	size_t limit;
	int fd; /* -1: memory */
	EVP_MD_CTX *md;
	uint64_t written;
	bool too_big, write_failed;
	char errbody[ERROR_BODY_MAX + 1];
	size_t errlen;
	struct oci_progress *progress; /* blobs only */
};

void oci_progress_print(struct oci_progress *p, int force)
{
	long long now = now_mono_ms();
	uint64_t done = p->done + p->current;
	long long elapsed = now - p->start_ms;

	if (!force && now - p->last_ms < PROGRESS_INTERVAL_MS)
		return;
	p->last_ms = now;
	printf("progress %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", done, p->total,
	       elapsed > 0 ? (uint64_t)(done * 1000.0 / elapsed) : 0);
	fflush(stdout);
}

static long response_code(CURL *curl)
{
	long code = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

static bool sink_put(struct sink *s, const char *data, size_t len)
{
	if (s->fd < 0) {
		s->buf = realloc(s->buf, s->written + len + 1);
		if (!s->buf)
			abort();
		memcpy(s->buf + s->written, data, len);
		s->buf[s->written + len] = '\0';
		return true;
	}
	for (size_t off = 0; off < len;) {
		ssize_t w = write(s->fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return false;
		off += w;
	}
	EVP_DigestUpdate(s->md, data, len);
	return true;
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct sink *s = ctx;
	size_t len = size * n;

	if (response_code(s->curl) >= 300) {
		size_t keep = len < ERROR_BODY_MAX - s->errlen ? len : ERROR_BODY_MAX - s->errlen;
		memcpy(s->errbody + s->errlen, data, keep);
		s->errlen += keep;
		s->errbody[s->errlen] = '\0';
		return len;
	}
	if (s->written + len > s->limit) {
		s->too_big = true;
		return 0;
	}
	if (!sink_put(s, data, len)) {
		s->write_failed = true;
		return 0;
	}
	s->written += len;
	return len;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct sink *s = ctx;

	(void)dltotal, (void)ultotal, (void)ulnow;
	if (oci_cancelled)
		return 1; /* CURLE_ABORTED_BY_CALLBACK */
	if (s->progress) {
		s->progress->current = (uint64_t)dlnow;
		oci_progress_print(s->progress, 0);
	}
	return 0;
}

static void setup_curl(CURL *curl, const char *url, struct curl_slist *headers, struct sink *s, char *errbuf)
{
	curl_setup_download(curl, url, "http,https", "banger-oci/" BANGER_VERSION, on_body, on_progress, s, errbuf);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
}

/* The registry's own reason ({"errors":[{"code":…,"message":…}]}), if any. */
static void registry_reason(const char *body, char *out, size_t size)
{
	cJSON *j = cJSON_Parse(body);
	const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "errors"), 0);
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
	char raw[256];

	out[0] = '\0';
	if (cJSON_IsString(code) && cJSON_IsString(msg)) {
		snprintf(raw, sizeof(raw), "%s: %s", code->valuestring, msg->valuestring);
		printable_copy(raw, out, size);
	}
	cJSON_Delete(j);
}

static int http_failure(struct sink *s, long code, const char *what, bgr_error *err)
{
	char reason[200];

	registry_reason(s->errbody, reason, sizeof(reason));
	if (code == 404)
		return bgr_fail(err, ENOENT, "%s: not found (HTTP 404%s%s)", what, reason[0] ? ", " : "", reason);
	if (code == 401 || code == 403)
		return bgr_fail(err, EACCES, "%s: access denied (HTTP %ld%s%s; only anonymous pulls are supported)",
				what, code, reason[0] ? ", " : "", reason);
	return bgr_fail(err, EIO, "%s: HTTP %ld%s%s", what, code, reason[0] ? ", " : "", reason);
}

/* One GET of url into s. *ret_code: the HTTP status. */
static int get_once(struct oci_client *c, const char *url, bool manifest, struct sink *s, long *ret_code,
		    bgr_error *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	CURLcode rc;

	s->curl = curl_easy_init();
	if (!s->curl)
		abort();
	if (manifest)
		headers = curl_slist_append(headers, ACCEPT_MANIFESTS);
	if (c && c->auth)
		headers = curl_slist_append(headers, c->auth);
	setup_curl(s->curl, url, headers, s, errbuf);
	rc = curl_easy_perform(s->curl);
	*ret_code = response_code(s->curl);
	curl_slist_free_all(headers);
	if (s->too_big)
		return bgr_fail(err, EFBIG, "larger than the expected %zu bytes", s->limit);
	if (s->write_failed)
		return bgr_fail(err, errno ? errno : EIO, "cannot write: %s", strerror(errno ? errno : EIO));
	if (oci_cancelled)
		return bgr_fail(err, EINTR, "interrupted");
	if (rc != CURLE_OK)
		return bgr_fail(err, EIO, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
	return 0;
}

/* ---- the bearer token flow ---------------------------------------------- */

/* Finds key="value" (or key=value) in a Bearer challenge. */
static bool challenge_param(const char *ch, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	const char *p = ch;

	while ((p = strcasestr(p, key))) {
		bool starts = p == ch || p[-1] == ' ' || p[-1] == ',';
		const char *v = p + klen;
		size_t n = 0;
		p += klen;
		if (!starts || *v != '=')
			continue;
		v++;
		if (*v == '"') {
			const char *end = strchr(++v, '"');
			n = end ? (size_t)(end - v) : strlen(v);
		} else
			n = strcspn(v, ", ");
		if (n >= size)
			return false;
		memcpy(out, v, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

static char *token_url(CURL *curl, const char *realm, const char *service, const char *scope)
{
	char *svc = curl_easy_escape(curl, service, 0);
	char *scp = curl_easy_escape(curl, scope, 0);
	char *url = xasprintf("%s%c%s%s%sscope=%s", realm, strchr(realm, '?') ? '&' : '?', service[0] ? "service=" : "",
			      service[0] ? svc : "", service[0] ? "&" : "", scp);

	curl_free(svc);
	curl_free(scp);
	return url;
}

static int parse_token(const char *body, char **ret, bgr_error *err)
{
	cJSON *j = cJSON_Parse(body);
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "token");
	int r = 0;

	if (!cJSON_IsString(t) || !t->valuestring[0])
		t = cJSON_GetObjectItemCaseSensitive(j, "access_token");
	if (!cJSON_IsString(t) || !t->valuestring[0] || strpbrk(t->valuestring, "\r\n"))
		r = bgr_fail(err, EPROTO, "the token server's answer holds no token");
	else
		*ret = xasprintf("Authorization: Bearer %s", t->valuestring);
	cJSON_Delete(j);
	return r;
}

/* Answers the challenge of a 401 (from its WWW-Authenticate header). */
static int fetch_token(struct oci_client *c, CURL *answered, bgr_error *err)
{
	struct curl_header *h = NULL;
	char realm[1024], service[256] = "", scope[512];
	_cleanup_free_ char *url = NULL;
	struct sink s = { .fd = -1, .limit = TOKEN_MAX_BYTES };
	long code = 0;
	int r;

	if (curl_easy_header(answered, "WWW-Authenticate", 0, CURLH_HEADER, -1, &h) != CURLHE_OK ||
	    strncasecmp(h->value, "Bearer ", 7))
		return bgr_fail(err, EACCES, "the registry wants a login (HTTP 401 without a Bearer challenge)");
	if (!challenge_param(h->value + 7, "realm", realm, sizeof(realm)) ||
	    (strncmp(realm, "https://", 8) && strncmp(realm, "http://", 7)))
		return bgr_fail(err, EPROTO, "the registry's Bearer challenge has no http(s) realm");
	challenge_param(h->value + 7, "service", service, sizeof(service));
	if (!challenge_param(h->value + 7, "scope", scope, sizeof(scope)))
		snprintf(scope, sizeof(scope), "repository:%s:pull", c->ref.repo);
	url = token_url(answered, realm, service, scope);
	r = get_once(NULL, url, false, &s, &code, err);
	curl_easy_cleanup(s.curl);
	if (r == 0 && code / 100 != 2)
		r = http_failure(&s, code, "token", err);
	if (r == 0)
		r = parse_token(s.buf ? s.buf : "", &c->auth, err);
	free(s.buf);
	return r < 0 ? bgr_wrap(err, "anonymous token from %.200s", realm) : 0;
}

/* The response's Content-Type without parameters. */
static void content_type(CURL *curl, char *out, size_t size)
{
	char *ct = NULL;

	out[0] = '\0';
	if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		snprintf(out, size, "%.*s", (int)strcspn(ct, "; "), ct);
}

/* GET with the token flow; what names the object in errors; ret_type
 * (when given) gets the Content-Type. */
static int request(struct oci_client *c, const char *url, bool manifest, struct sink *s, const char *what,
		   char *ret_type, size_t type_size, bgr_error *err)
{
	long code = 0;
	int r = get_once(c, url, manifest, s, &code, err);

	if (r == 0 && code == 401 && !c->auth) {
		r = fetch_token(c, s->curl, err);
		curl_easy_cleanup(s->curl);
		s->curl = NULL;
		s->errlen = 0;
		s->errbody[0] = '\0';
		if (r < 0)
			return r;
		r = get_once(c, url, manifest, s, &code, err);
	}
	if (ret_type)
		content_type(s->curl, ret_type, type_size);
	curl_easy_cleanup(s->curl);
	s->curl = NULL;
	if (r < 0)
		return bgr_wrap(err, "%s", what);
	if (code / 100 != 2)
		return http_failure(s, code, what, err);
	return 0;
}

/* ---- manifests and blobs ----------------------------------------------- */

void oci_client_init(struct oci_client *c, const struct oci_ref *ref, struct oci_progress *progress)
{
	*c = (struct oci_client){ .ref = *ref, .base = oci_ref_base_url(ref), .progress = progress };
}

void oci_client_free(struct oci_client *c)
{
	free(c->base);
	free(c->auth);
	c->base = c->auth = NULL;
}

void oci_manifest_body_free(struct oci_manifest_body *b)
{
	free(b->data);
	b->data = NULL;
}

int oci_get_manifest(struct oci_client *c, const char *reference, struct oci_manifest_body *ret, bgr_error *err)
{
	_cleanup_free_ char *url = xasprintf("%s/v2/%s/manifests/%s", c->base, c->ref.repo, reference);
	_cleanup_free_ char *what = xasprintf("manifest %s:%s", c->ref.repo, reference);
	_cleanup_md_ EVP_MD_CTX *md = sha256_new();
	struct sink s = { .fd = -1, .limit = OCI_MANIFEST_MAX_BYTES };
	struct oci_manifest_body b = { 0 };
	char hex[SHA256_HEX_LEN + 1];
	int r;

	r = request(c, url, true, &s, what, b.media_type, sizeof(b.media_type), err);
	if (r == -EFBIG)
		r = bgr_fail(err, EFBIG, "%s is larger than %d bytes", what, OCI_MANIFEST_MAX_BYTES);
	if (r < 0) {
		free(s.buf);
		return r;
	}
	b.data = s.buf ? s.buf : xstrdup("");
	b.len = s.written;
	EVP_DigestUpdate(md, b.data, b.len);
	sha256_hex(md, hex);
	snprintf(b.digest, sizeof(b.digest), "sha256:%s", hex);
	if (!strncmp(reference, "sha256:", 7) && strcmp(reference, b.digest)) {
		oci_manifest_body_free(&b);
		return bgr_fail(err, EBADMSG, "%s: digest mismatch (got %s)", what, b.digest);
	}
	*ret = b;
	return 0;
}

int oci_get_blob(struct oci_client *c, const char *digest, uint64_t size, const char *dest, bgr_error *err)
{
	_cleanup_free_ char *url = xasprintf("%s/v2/%s/blobs/%s", c->base, c->ref.repo, digest);
	_cleanup_free_ char *what = xasprintf("blob %s", digest);
	/* one .part per process: two imports may fetch the same blob */
	_cleanup_free_ char *part = xasprintf("%s.part.%d", dest, (int)getpid());
	_cleanup_md_ EVP_MD_CTX *md = sha256_new();
	struct sink s = { .limit = size, .md = md, .progress = c->progress };
	char hex[SHA256_HEX_LEN + 1];
	int r;

	s.fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (s.fd < 0)
		return bgr_fail(err, errno, "%s: %s", part, strerror(errno));
	r = request(c, url, false, &s, what, NULL, 0, err);
	if (r == 0 && fsync(s.fd) < 0)
		r = bgr_fail(err, errno, "%s: %s", part, strerror(errno));
	close(s.fd);
	if (r == 0) {
		sha256_hex(md, hex);
		if (strncmp(digest, "sha256:", 7) || strcmp(digest + 7, hex))
			r = bgr_fail(err, EBADMSG, "%s: digest mismatch (got sha256:%s), deleted", what, hex);
	}
	if (r == 0 && s.written != size)
		r = bgr_fail(err, EBADMSG, "%s: %" PRIu64 " bytes, the manifest says %" PRIu64, what, s.written, size);
	if (r == 0 && rename(part, dest) < 0)
		r = bgr_fail(err, errno, "rename to %s: %s", dest, strerror(errno));
	if (r < 0)
		unlink(part);
	return r;
}
