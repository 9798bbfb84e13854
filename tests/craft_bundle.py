"""Writes a bundle (an uncompressed tar) for one test CASE: hostile or
broken archives, or "v2", a valid image. NAME (default tiny) is the
manifest's name.

    python3 craft_bundle.py OUT.tar CASE [NAME]
"""
import hashlib, io, json, sys, tarfile
out, case = sys.argv[1], sys.argv[2]
name = sys.argv[3] if len(sys.argv) > 3 else "tiny"
rootfs = bytes(range(256)) * 64
def entry(name, data=b"", **kw):
    ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o644
    for k, v in kw.items(): setattr(ti, k, v)
    return ti, (io.BytesIO(data) if data else None)
def manifest(files, kind="image", **extra):
    m = {"format": 1, "name": name, "kind": kind, "kernel": name,
         "files": [{"path": p, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for p, d in files]}
    m.update(extra)
    return entry("manifest.json", json.dumps(m).encode())
ents = []
if case == "dotdot":
    ents = [manifest([("rootfs.ext4", rootfs)]), entry("../rootfs.ext4", rootfs)]
elif case == "absolute":
    ents = [manifest([("rootfs.ext4", rootfs)]), entry("/rootfs.ext4", rootfs)]
elif case == "symlink":
    ents = [manifest([("rootfs.ext4", rootfs)]), entry("rootfs.ext4", type=tarfile.SYMTYPE, linkname="/etc/passwd")]
elif case == "hardlink":
    ents = [manifest([("rootfs.ext4", rootfs), ("vmlinuz", rootfs)], kind="both"), entry("rootfs.ext4", rootfs),
            entry("vmlinuz", type=tarfile.LNKTYPE, linkname="rootfs.ext4")]
elif case == "device":
    ents = [manifest([("rootfs.ext4", rootfs)]), entry("rootfs.ext4", type=tarfile.CHRTYPE, devmajor=1, devminor=3)]
elif case == "unlisted":
    ents = [manifest([("rootfs.ext4", rootfs)]), entry("rootfs.ext4", rootfs), entry("evil.sh", b"#!/bin/sh\n")]
elif case == "size":
    m = manifest([("rootfs.ext4", rootfs[:100])])
    ents = [m, entry("rootfs.ext4", rootfs)]
elif case == "sha":
    ents = [manifest([("rootfs.ext4", rootfs)]), entry("rootfs.ext4", rootfs[::-1])]
elif case == "bomb":
    big = bytes(32 << 20)
    ents = [manifest([("rootfs.ext4", big)]), entry("rootfs.ext4", big)]
elif case == "late-manifest":
    ents = [entry("rootfs.ext4", rootfs), manifest([("rootfs.ext4", rootfs)])]
elif case == "missing":
    ents = [manifest([("rootfs.ext4", rootfs)])]
elif case == "bad-name":
    ents = [manifest([("rootfs.ext4", rootfs)], name="../etc"), entry("rootfs.ext4", rootfs)]
elif case == "v2":  # a valid new version of image tiny
    ents = [manifest([("rootfs.ext4", rootfs)]), entry("rootfs.ext4", rootfs)]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
    for ti, f in ents: t.addfile(ti, f)
open(out, "wb").write(buf.getvalue())
