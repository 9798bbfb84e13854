# Helpers for the OCI import tests (tests/fs/oci.sh, tests/vm/oci_boot.sh):
# a real registry (Debian's docker-registry) on 127.0.0.1:5000 inside the
# test's network namespace, a token-auth proxy in front of it on :5001, and
# images built by hand (tar + sha256sum + JSON) and pushed with plain HTTP.
# Source after tests/lib.sh; call oci_stop from the EXIT trap.
# shellcheck shell=bash

REGISTRY=127.0.0.1:5000
PROXY=127.0.0.1:5001
REGISTRY_PID=""
PROXY_PID=""
OCI_DIR=""

sha() { sha256sum <"$1" | cut -d' ' -f1; }

# shellcheck disable=SC2317 # run by the EXIT trap
oci_stop() {
	[ -z "$PROXY_PID" ] || { kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null; }
	[ -z "$REGISTRY_PID" ] || { kill "$REGISTRY_PID" 2>/dev/null; wait "$REGISTRY_PID" 2>/dev/null; }
	PROXY_PID="" REGISTRY_PID=""
}

# oci_start DIR: the registry (storage in DIR/registry) and the proxy.
oci_start() {
	OCI_DIR=$1
	mkdir -p "$OCI_DIR/registry"
	cat >"$OCI_DIR/registry.yml" <<EOC
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $OCI_DIR/registry
http:
  addr: $REGISTRY
EOC
	docker-registry serve "$OCI_DIR/registry.yml" >"$OCI_DIR/registry.log" 2>&1 &
	REGISTRY_PID=$!
	cat >"$OCI_DIR/proxy.py" <<'EOP'
# A registry front with anonymous bearer tokens: /v2/ without the token gets
# a 401 challenge, /token hands the token out, the rest is passed on to the
# registry. Blobs and manifests whose digest is listed in the file CORRUPT get one byte
# flipped; blobs listed in CORRUPT.slow are answered after 60 s. Every
# request is logged as "METHOD PATH AUTH".
import http.server, json, os, sys, time, urllib.request, urllib.error
upstream, port, log, corrupt = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
TOKEN = "banger-test-token"
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, code, body, headers=()):
        self.send_response(code)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def handle_any(self):
        auth = self.headers.get("Authorization", "")
        with open(log, "a") as f: f.write(f"{self.command} {self.path} {'bearer' if auth == 'Bearer ' + TOKEN else 'none'}\n")
        if self.path.startswith("/token"):
            return self.reply(200, json.dumps({"token": TOKEN}).encode(), [("Content-Type", "application/json")])
        if auth != "Bearer " + TOKEN:
            repo = self.path[4:].split("/manifests/")[0].split("/blobs/")[0]
            ch = f'Bearer realm="http://127.0.0.1:{port}/token",service="banger-test",scope="repository:{repo}:pull"'
            body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}).encode()
            return self.reply(401, body, [("WWW-Authenticate", ch), ("Content-Type", "application/json")])
        req = urllib.request.Request("http://" + upstream + self.path, method=self.command)
        if self.headers.get("Accept"): req.add_header("Accept", self.headers["Accept"])
        try:
            r = urllib.request.urlopen(req)
            code, body, hdrs = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            code, body, hdrs = e.code, e.read(), e.headers
        slow = open(corrupt + ".slow").read().split() if os.path.exists(corrupt + ".slow") else []
        if "/blobs/" in self.path and self.path.rsplit("/", 1)[1] in slow:
            time.sleep(60)
        bad = open(corrupt).read().split() if os.path.exists(corrupt) else []
        if self.path.rsplit("/", 1)[1] in bad and body:
            body = bytes([body[0] ^ 0xff]) + body[1:]
        keep = [(k, hdrs[k]) for k in ("Content-Type", "Docker-Content-Digest") if hdrs.get(k)]
        self.reply(code, body, keep)
    do_GET = do_HEAD = handle_any
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
srv.serve_forever()
EOP
	python3 "$OCI_DIR/proxy.py" "$REGISTRY" "${PROXY##*:}" "$OCI_DIR/proxy.log" "$OCI_DIR/corrupt" \
		>"$OCI_DIR/proxy.err" 2>&1 &
	PROXY_PID=$!
	wait_for 60 curl -sf -o /dev/null "http://$REGISTRY/v2/" || { echo "registry did not start:" >&2; cat "$OCI_DIR/registry.log" >&2; return 1; }
	wait_for 60 curl -s -o /dev/null "http://$PROXY/v2/" || { echo "proxy did not start" >&2; return 1; }
}

# oci_push_blob REPO FILE: uploads FILE (monolithic POST + PUT).
oci_push_blob() {
	local loc sep
	loc=$(curl -sS -o /dev/null -D - -X POST "http://$REGISTRY/v2/$1/blobs/uploads/" |
		awk 'tolower($1) == "location:" { print $2 }' | tr -d '\r')
	[ -n "$loc" ] || return 1
	case "$loc" in /*) loc=http://$REGISTRY$loc ;; esac
	case "$loc" in *\?*) sep='&' ;; *) sep='?' ;; esac
	curl -sSf -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' \
		--data-binary "@$2" "$loc${sep}digest=sha256:$(sha "$2")"
}

# oci_push_manifest REPO REF FILE MEDIA_TYPE
oci_push_manifest() {
	curl -sSf -o /dev/null -X PUT -H "Content-Type: $4" --data-binary "@$3" "http://$REGISTRY/v2/$1/manifests/$2"
}

# oci_layer DIR OUT: DIR's contents as a gzip'd tar layer (root-owned).
oci_layer() {
	tar --numeric-owner --owner=0 --group=0 -C "$1" -czf "$2" .
}

# oci_image REPO TAG ARCH LAYER...: pushes config + layers + an OCI image
# manifest; the manifest goes to $OCI_DIR/manifest-REPO-TAG.json. Layer
# media types by name: .tar, .tar.zst, anything else tar+gzip.
oci_image() {
	local repo=$1 tag=$2 arch=$3 cfg l layers="" sep="" m mt
	shift 3
	cfg=$OCI_DIR/config-$tag-$arch.json
	printf '{"architecture":"%s","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}' "$arch" >"$cfg"
	oci_push_blob "$repo" "$cfg" || return 1
	for l in "$@"; do
		oci_push_blob "$repo" "$l" || return 1
		case "$l" in
		*.tar) mt=tar ;;
		*.tar.zst) mt=tar+zstd ;;
		*) mt=tar+gzip ;;
		esac
		layers="$layers$sep{\"mediaType\":\"application/vnd.oci.image.layer.v1.$mt\",\"digest\":\"sha256:$(sha "$l")\",\"size\":$(stat -c %s "$l")}"
		sep=,
	done
	m=$OCI_DIR/manifest-${repo//\//_}-$tag.json
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
		"$(sha "$cfg")" "$(stat -c %s "$cfg")" "$layers" >"$m"
	oci_push_manifest "$repo" "$tag" "$m" application/vnd.oci.image.manifest.v1+json
}

# oci_index REPO TAG ARCH=MANIFEST_FILE...: an image index over manifests
# already pushed.
oci_index() {
	local repo=$1 tag=$2 e list="" sep="" f
	shift 2
	for e in "$@"; do
		f=${e#*=}
		list="$list$sep{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$(sha "$f")\",\"size\":$(stat -c %s "$f"),\"platform\":{\"architecture\":\"${e%%=*}\",\"os\":\"linux\"}}"
		sep=,
	done
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' "$list" \
		>"$OCI_DIR/index-$tag.json"
	oci_push_manifest "$repo" "$tag" "$OCI_DIR/index-$tag.json" application/vnd.oci.image.index.v1+json
}

# oci_busybox_root DIR KIT: a small busybox userland (from the guest kit's
# busybox) in DIR: bin/ with applet links, etc/passwd, group.
oci_busybox_root() {
	local a
	mkdir -p "$1"/{bin,etc,root,tmp}
	chmod 700 "$1/root"
	chmod 1777 "$1/tmp"
	cp "$2/bin/busybox" "$1/bin/busybox"
	for a in sh ls cat echo mkdir rm cp mv grep uname id true false sleep ps mount; do
		ln -s busybox "$1/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$1/etc/passwd"
	printf 'root:x:0:\n' >"$1/etc/group"
	printf 'passwd: files\ngroup: files\n' >"$1/etc/nsswitch.conf"
}

# ext4_ls IMG DIR: names in DIR of the ext4 image (debugfs, no mount).
ext4_ls() {
	debugfs -R "ls -p $2" "$1" 2>/dev/null | awk -F/ 'NF > 5 && $6 != "." && $6 != ".." { print $6 }' | sort
}

# ext4_cat IMG PATH
ext4_cat() { debugfs -R "cat $2" "$1" 2>/dev/null; }
