/* The libcurl options both download helpers (banger-pull, banger-oci) use:
 * redirects only to http(s), timeouts, progress, the user agent. Proxies
 * come from the usual *_proxy variables (libcurl's default). */
#ifndef BANGER_CURL_SETUP_H
#define BANGER_CURL_SETUP_H

#include <curl/curl.h>

#define CURL_CONNECT_TIMEOUT_S 30L
#define CURL_LOW_SPEED_BYTES_PER_S 1024L
#define CURL_LOW_SPEED_TIME_S 60L

/* protocols: what url may use ("http,https" or "http,https,file"); body and
 * progress callbacks get ctx; errbuf holds CURL_ERROR_SIZE bytes. */
void curl_setup_download(CURL *c, const char *url, const char *protocols, const char *agent,
			 curl_write_callback on_body, curl_xferinfo_callback on_progress, void *ctx, char *errbuf);

#endif
