/* Unit tests of the OCI import's pure parts: image references (docker's
 * conventions, which registries are plain http) and manifests / indexes. */
#include "oci_manifest.h"
#include "oci_ref.h"

#include "tap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void ref_good(const char *s, const char *registry, const char *host, const char *repo, const char *reference,
		     bool http)
{
	struct oci_ref r;
	bgr_error err = { 0 };
	char what[160];

	snprintf(what, sizeof(what), "parse '%.100s'", s);
	is_int(oci_ref_parse(s, "registry.lan:5000, 10.0.0.7", &r, &err), 0, what);
	if (err.code)
		return;
	is_str(r.registry, registry, "  registry");
	is_str(r.api_host, host, "  api host");
	is_str(r.repo, repo, "  repo");
	is_str(r.reference, reference, "  reference");
	is_int(r.plain_http, http, "  plain http");
}

static void ref_bad(const char *s, const char *why)
{
	struct oci_ref r = { .repo = "untouched" };
	bgr_error err = { 0 };

	is_int(oci_ref_parse(s, NULL, &r, &err), -EINVAL, why);
	tap_ok(strstr(err.msg, "bad image reference") != NULL, "  reason: %s", err.msg);
	is_str(r.repo, "untouched", "  ret untouched");
}

static void refs(void)
{
	ref_good("debian", "docker.io", "registry-1.docker.io", "library/debian", "latest", false);
	ref_good("debian:12-slim", "docker.io", "registry-1.docker.io", "library/debian", "12-slim", false);
	ref_good("docker.io/debian", "docker.io", "registry-1.docker.io", "library/debian", "latest", false);
	ref_good("index.docker.io/library/debian:12", "docker.io", "registry-1.docker.io", "library/debian", "12",
		 false);
	ref_good("someone/tool", "docker.io", "registry-1.docker.io", "someone/tool", "latest", false);
	ref_good("alpine@sha256:" D64, "docker.io", "registry-1.docker.io", "library/alpine", "sha256:" D64, false);
	ref_good("alpine:3.19@sha256:" D64, "docker.io", "registry-1.docker.io", "library/alpine", "sha256:" D64,
		 false);
	ref_good("ghcr.io/org/sub/tool:v1.2", "ghcr.io", "ghcr.io", "org/sub/tool", "v1.2", false);
	ref_good("localhost:5000/test:1", "localhost:5000", "localhost:5000", "test", "1", true);
	ref_good("localhost/test", "localhost", "localhost", "test", "latest", true);
	ref_good("127.0.0.1:5001/a/b", "127.0.0.1:5001", "127.0.0.1:5001", "a/b", "latest", true);
	ref_good("[::1]:5000/x", "[::1]:5000", "[::1]:5000", "x", "latest", true);
	ref_good("registry.lan:5000/x", "registry.lan:5000", "registry.lan:5000", "x", "latest", true);
	ref_good("10.0.0.7/x", "10.0.0.7", "10.0.0.7", "x", "latest", true);
	ref_good("registry.lan/x", "registry.lan", "registry.lan", "x", "latest", false);
	ref_good("quay.io/a_b/c-d.e:T_1", "quay.io", "quay.io", "a_b/c-d.e", "T_1", false);
	ref_bad("", "empty");
	ref_bad("Debian", "uppercase repo");
	ref_bad("debian:", "empty tag");
	ref_bad("debian:-x", "tag starting with -");
	ref_bad("debian@sha256:abc", "short digest");
	ref_bad("debian@md5:" D64, "other digest algorithm");
	ref_bad("a//b", "empty component");
	ref_bad("ghcr.io/", "registry without a repo");
	ref_bad("-a/b", "component starting with -");
	ref_bad("a/b c", "space");
}

static void manifests(void)
{
	const char *index =
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
		"\"manifests\":[{\"digest\":\"sha256:" D64
		"\",\"size\":10,\"platform\":{\"os\":\"linux\","
		"\"architecture\":\"arm64\",\"variant\":\"v8\"}},{\"digest\":\"sha256:" D64
		"\","
		"\"size\":11,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
	const char *manifest = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:" D64
			       "\","
			       "\"size\":5},\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff."
			       "tar.gzip\",\"digest\":\"sha256:" D64 "\",\"size\":123}]}";
	const char *foreign = "{\"config\":{\"digest\":\"sha256:" D64
			      "\",\"size\":5},\"layers\":[{\"mediaType\":"
			      "\"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\"digest\":\"sha256:" D64
			      "\",\"size\":1}]}";
	static struct oci_image_manifest m;
	char digest[OCI_DIGEST_SIZE];
	bgr_error err = { 0 };

	is_int(oci_manifest_is_index(index, strlen(index), NULL, &err), 1, "an OCI index is an index");
	is_int(oci_manifest_is_index(manifest, strlen(manifest), "application/vnd.docker.distribution.manifest.v2+json",
				     &err),
	       0, "a manifest without mediaType: the Content-Type says");
	is_int(oci_manifest_is_index("{\"schemaVersion\":1}", 19, "application/json", &err), -EINVAL,
	       "schema 1 is refused");
	is_int(oci_index_pick(index, strlen(index), "linux", "amd64", digest, &err), 0, "linux/amd64 picked");
	is_str(digest, "sha256:" D64, "  its digest");
	is_int(oci_index_pick(index, strlen(index), "linux", "s390x", digest, &err), -ENOENT, "no linux/s390x");
	is_str(err.msg, "no linux/s390x image in the index (it has: linux/arm64/v8, linux/amd64)",
	       "  platforms listed");
	is_int(oci_manifest_parse(manifest, strlen(manifest), &m, &err), 0, "a Docker v2 manifest parses");
	is_int((long long)m.n_layers, 1, "  one layer");
	is_int((long long)m.layers[0].size, 123, "  its size");
	is_int((long long)m.config.size, 5, "  config size");
	is_int(oci_manifest_parse(foreign, strlen(foreign), &m, &err), -EINVAL, "a foreign layer is refused");
	tap_ok(strstr(err.msg, "unsupported media type") != NULL, "  reason: %s", err.msg);
	is_int(oci_manifest_parse("[]", 2, &m, &err), -EINVAL, "not an object");
}

int main(void)
{
	refs();
	manifests();
	return tap_done();
}
