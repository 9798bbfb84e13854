"""A loopback HTTP server for bundle tests: serves files of ROOT by basename.
/plain/NAME honours Range, /cut/NAME closes its first answer half-way,
/norange/NAME ignores Range, /slow/NAME sends 16 KiB every 0.1 s, /hold/NAME
logs "held PATH" and answers only once ROOT/release exists (a stalled
server, released by the test; after 600 s at the latest). Asked as
an HTTP proxy (GET http://HOST/MODE/NAME), it serves the same and logs
"proxied URL". Logs "PATH RANGE" per request into LOG and
writes its port into PORTFILE.

    python3 bundle_server.py ROOT LOG PORTFILE
"""
import http.server, os, sys, time
root, log = sys.argv[1], sys.argv[2]
cut_done = set()
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        path = self.path
        if path.startswith("http://"):  # asked as a proxy: serve it ourselves
            path = "/" + path.split("/", 3)[3]
            with open(log, "a") as f: f.write(f"proxied {self.path}\n")
        mode, _, name = path.lstrip("/").partition("/")
        rng = self.headers.get("Range", "-")
        with open(log, "a") as f: f.write(f"{self.path} {rng}\n")
        if mode == "hold":
            with open(log, "a") as f: f.write(f"held {self.path}\n")
            end = time.time() + 600
            while not os.path.exists(os.path.join(root, "release")) and time.time() < end:
                time.sleep(0.1)
            with open(log, "a") as f: f.write(f"released {self.path}\n")
        try: data = open(os.path.join(root, os.path.basename(name)), "rb").read()
        except OSError: return self.send_error(404)
        start = 0
        if mode != "norange" and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
        self.send_response(206 if start else 200)
        if start: self.send_header("Content-Range", f"bytes {start}-{len(data)-1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if mode == "cut" and self.path not in cut_done:
            cut_done.add(self.path)
            self.wfile.write(data[start:start + len(data) // 2]); self.wfile.flush()
            self.close_connection = True
            return
        if mode == "slow":
            for off in range(start, len(data), 16384):
                self.wfile.write(data[off:off + 16384]); self.wfile.flush()
                time.sleep(0.1)
            return
        self.wfile.write(data[start:])
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[3], "w").write(str(srv.server_port))
srv.serve_forever()
