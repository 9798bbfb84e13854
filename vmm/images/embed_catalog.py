#!/usr/bin/env python3
"""Turns a catalog JSON file into catalog_builtin.c (the catalog compiled into bangerd)."""
import json
import sys

src, out = sys.argv[1], sys.argv[2]
with open(src, encoding="utf-8") as f:
    text = f.read()
json.loads(text)  # a bad catalog fails the build, not the daemon
with open(out, "w", encoding="utf-8") as f:
    f.write("/* generated from %s by embed_catalog.py */\n" % src.rsplit("/", 1)[-1])
    f.write("const char catalog_builtin_json[] = %s;\n" % json.dumps(text))
