#!/usr/bin/env python3
"""One file operation, reporting the errno name (or OK): lets shell tests
assert exact errors. Usage: fsop.py OP PATH [ARG]
  write PATH DATA | append PATH DATA | read PATH | mkdir PATH | rmdir PATH
  unlink PATH | rename PATH NEW | create PATH | chmod PATH MODE | truncate PATH
  mknod PATH (a FIFO) | symlink PATH TARGET | link PATH NEW | chown PATH UID
  writefile PATH FILE (writes FILE's bytes in one write(2))
"""
import errno
import os
import signal
import stat
import sys


def run(op, path, arg):
    if op in ("write", "append"):
        flags = os.O_WRONLY | (os.O_APPEND if op == "append" else os.O_TRUNC)
        fd = os.open(path, flags)
        try:
            data = arg.encode().decode("unicode_escape").encode("latin-1")
            n = os.write(fd, data)
            if n != len(data):
                return "SHORT"
        finally:
            os.close(fd)
    elif op == "read":
        with open(path, "rb") as f:
            f.read()
    elif op == "mkdir":
        os.mkdir(path)
    elif op == "rmdir":
        os.rmdir(path)
    elif op == "unlink":
        os.unlink(path)
    elif op == "rename":
        os.rename(path, arg)
    elif op == "create":
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    elif op == "chmod":
        os.chmod(path, int(arg, 8))
    elif op == "truncate":
        os.truncate(path, 0)
    elif op == "mknod":
        os.mknod(path, 0o644 | stat.S_IFIFO)
    elif op == "symlink":
        os.symlink(arg, path)
    elif op == "link":
        os.link(path, arg)
    elif op == "chown":
        os.chown(path, int(arg), -1)
    elif op == "writefile":
        with open(arg, "rb") as f:
            data = f.read()
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        try:
            n = os.write(fd, data)
            if n != len(data):
                return "SHORT"
        finally:
            os.close(fd)
    else:
        raise SystemExit("unknown op " + op)
    return "OK"


def main():
    # Ctrl-C works even when started in the background of a script (which
    # would ignore SIGINT): tests send it to interrupt a waiting request
    signal.signal(signal.SIGINT, signal.default_int_handler)
    op, path = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else ""
    try:
        print(run(op, path, arg))
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
    except KeyboardInterrupt:
        # SIGINT ended the call: the kernel only lets it go once the daemon
        # answered the interrupt, with EINTR
        print("EINTR")


main()
