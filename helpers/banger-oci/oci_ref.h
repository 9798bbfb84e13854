/* OCI image references, docker style: [registry/]repo[:tag|@sha256:HEX]
 * (docs/oci-import.md). */
#ifndef BANGER_OCI_REF_H
#define BANGER_OCI_REF_H

#include "error.h"

#include <stdbool.h>

#define OCI_REF_MAX 512

struct oci_ref {
	char registry[256];  /* as named: "docker.io", "localhost:5000" */
	char api_host[256];  /* where the v2 API is: "registry-1.docker.io" for docker.io */
	char repo[256];      /* "library/debian" */
	char reference[160]; /* a tag or "sha256:HEX" */
	bool is_digest;
	bool plain_http; /* localhost, 127.0.0.1, [::1], or listed in BANGER_OCI_INSECURE */
};

/* Parses s; insecure is a comma-separated list of extra plain-http
 * registries (host or host:port; NULL: none). EINVAL with a reason. */
int oci_ref_parse(const char *s, const char *insecure, struct oci_ref *ret, bgr_error *err);
/* "http://HOST" or "https://HOST" (caller frees). */
char *oci_ref_base_url(const struct oci_ref *r);

#endif
