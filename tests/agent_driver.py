#!/usr/bin/env python3
"""Drives a real banger-agent over a raw pty (its -p port) and checks the
session verbs of agent protocol 4 (agent/protocol.h), printing TAP.

Usage: agent_driver.py AGENT SCRATCH_DIR
       agent_driver.py --guest SCRATCH_DIR CMD...

The agent opens SCRATCH_DIR/port, a symlink to a pty slave. A reconnection
(a bangerd restart, to the agent) is a new pty: the link is pointed at it,
then the old master is closed, so the agent's read fails and it reopens the
link. The agent runs with -n (no power-off) and -a (authorized_keys under
the scratch dir): it touches nothing of the host but its own children.

With --guest, CMD (ssh -tt into a guest, running a second agent on its
raw pty) is the link, and a shorter set of checks runs in the guest:
pipes, exit codes, a signal, stdin, a pty (devpts) with its window size.
"""
import os
import select
import subprocess
import sys
import time
import tty

TIMEOUT = 60  # a bound for a failure, never a delay
KEEP = 1 << 20

checks = 0
fails = 0


def ok(cond, desc):
    global checks, fails
    checks += 1
    if not cond:
        fails += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (checks, desc), flush=True)
    return cond


def hx(b):
    if isinstance(b, str):
        b = b.encode()
    return b.hex()


def parse(line):
    words = line.split(" ")
    msg = {"verb": words[0], "line": line}
    for w in words[1:]:
        k, _, v = w.partition("=")
        msg["for" if k == "verb" else k] = v  # ack/fail verb=: the verb answered
    return msg


class Link:
    """One pty pair: the test holds the master, the agent opens the slave."""

    def __init__(self, port):
        self.master, self.slave = os.openpty()
        self.rfd = self.wfd = self.master
        tty.setraw(self.slave)
        tmp = port + ".new"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(os.ttyname(self.slave), tmp)
        os.rename(tmp, port)
        self.buf = b""

    def close(self):
        os.close(self.master)
        os.close(self.slave)


class PipeLink:
    """A command's stdin and stdout (ssh into a guest running the agent)."""

    def __init__(self, proc):
        self.proc = proc
        self.rfd, self.wfd = proc.stdout.fileno(), proc.stdin.fileno()
        self.buf = b""

    def close(self):
        self.proc.kill()
        self.proc.wait()


class Agent:
    def __init__(self, binary, scratch, guest_cmd=None):
        self.scratch = scratch
        self.port = os.path.join(scratch, "port")
        home = os.path.join(scratch, "sshhome")
        os.makedirs(home, exist_ok=True)
        self.log = open(os.path.join(scratch, "agent.log"), "wb")
        if guest_cmd:
            self.proc = subprocess.Popen(guest_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
            self.link = PipeLink(self.proc)
        else:
            self.link = Link(self.port)
            self.proc = subprocess.Popen([binary, "-n", "-a", home, "-p", self.port], stdout=self.log,
                                         stderr=self.log)
        with open(os.path.join(scratch, "agent.pid"), "w") as f:
            f.write("%d\n" % self.proc.pid)
        self.pids = []  # the sessions' process groups, ended at stop()
        self.pending = []
        self.held = {}  # (id, fd) -> bytearray, as a host would hold it
        self.gaps = {}  # (id, fd) -> [(held, off)]

    def send(self, line):
        data = (line + "\n").encode()
        while data:
            _, w, _ = select.select([], [self.link.wfd], [], TIMEOUT)
            if not w:
                raise TimeoutError("agent does not read")
            n = os.write(self.link.wfd, data)
            data = data[n:]

    def _absorb(self, msg):
        if msg["verb"] != "sess_out":
            return
        key = (msg["id"], msg["fd"])
        held = self.held.setdefault(key, bytearray())
        off, data = int(msg["off"]), bytes.fromhex(msg["data"])
        if off > len(held):
            self.gaps.setdefault(key, []).append((len(held), off))
            held.extend(b"\0" * (off - len(held)))
        held[off:off + len(data)] = data

    def _read_more(self, deadline):
        # reads until at least one line is there, or the deadline passes
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.link.rfd], [], [], left)
            if not r:
                return False
            try:
                chunk = os.read(self.link.rfd, 65536)
            except OSError:
                return False
            if not chunk:
                return False
            self.link.buf += chunk
            got = False
            while b"\n" in self.link.buf:
                line, _, self.link.buf = self.link.buf.partition(b"\n")
                msg = parse(line.decode())
                self._absorb(msg)
                self.pending.append(msg)
                got = True
            if got:
                return True

    def expect(self, pred, timeout=TIMEOUT):
        """The first pending message matching pred (removed), else None."""
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.pending):
                if pred(m):
                    return self.pending.pop(i)
            if not self._read_more(deadline):
                return None

    def answer(self, verb, sid):
        """The next answer to verb for session sid (sess_started, ack, fail)."""
        def pred(m):
            if m.get("id") != sid:
                return False
            if verb == "sess_start" and m["verb"] == "sess_started":
                return True
            return m["verb"] in ("ack", "fail") and m.get("for") == verb

        return self.expect(pred)

    def exit_of(self, sid, timeout=TIMEOUT):
        return self.expect(lambda m: m["verb"] == "sess_exit" and m["id"] == sid, timeout)

    def out(self, sid, fd=1):
        return bytes(self.held.get((sid, str(fd)), b""))

    def wait_out(self, sid, text, fd=1):
        """Waits until stream fd of sid holds text."""
        deadline = time.monotonic() + TIMEOUT
        while text not in self.out(sid, fd):
            if not self._read_more(deadline):
                return False
        return True

    def start(self, sid, cmd, **kw):
        line = "sess_start id=%s cmd=%s" % (sid, hx(cmd))
        for k, v in kw.items():
            line += " %s=%s" % (k, v)
        self.send(line)
        m = self.answer("sess_start", sid)
        if m and m["verb"] == "sess_started":
            self.pids.append(int(m["pid"]))
        return m

    def reconnect(self):
        old = self.link
        self.link = Link(self.port)
        old.close()
        self.pending.clear()  # what came on the old connection
        return self.expect(lambda m: m["verb"] == "hello")

    def stop(self):
        if isinstance(self.link, PipeLink):
            self.link.close()  # the guest's pty hangs up: its agent ends
            return
        for pid in self.pids:  # what a failed check left running
            try:
                os.killpg(pid, 9)
            except OSError:
                pass
        self.proc.kill()
        self.proc.wait()
        self.link.close()


def fail_reason(msg):
    return msg["reason"] if msg and msg["verb"] == "fail" else None


def pid_gone(pid):
    try:
        os.kill(pid, 0)
        return False
    except ProcessLookupError:
        return True


def main():
    guest = sys.argv[1] == "--guest"
    scratch = sys.argv[2]
    a = Agent(None if guest else sys.argv[1], scratch, sys.argv[3:] if guest else None)
    try:
        (run_guest if guest else run)(a, scratch)
    finally:
        a.stop()
    print("1..%d" % checks)
    return 1 if fails else 0


def run_guest(a, T):
    hello = a.expect(lambda m: m["verb"] == "hello")
    ok(hello and hello.get("proto") == "6", "the guest's agent says hello proto=6")
    a.start("p", "echo out; echo err >&2; pwd; exit 7")
    e = a.exit_of("p")
    ok(e and e["status"] == "exited:7" and a.out("p") == b"out\n/root\n" and a.out("p", 2) == b"err\n",
       "pipes in the guest: stdout, stderr, cwd /root, exited:7")
    a.start("w", "wc -c")
    a.send("sess_in id=w data=%s" % hx("abc\n" * 10))
    a.send("sess_in id=w eof=1")
    e = a.exit_of("w")
    ok(e and e["status"] == "exited:0" and a.out("w").strip() == b"40", "stdin and eof in the guest: wc -c says 40")
    a.start("k", "sleep 1000")
    a.send("sess_signal id=k sig=TERM")
    e = a.exit_of("k")
    ok(e and e["status"] == "killed:TERM", "sleep TERMed in the guest: killed:TERM")
    m = a.start("t", "sh", tty="1", rows="30", cols="100")
    ok(m and m["verb"] == "sess_started", "a tty session starts in the guest (devpts)")
    a.send("sess_in id=t data=%s" % hx("[ -t 0 ] && echo IS$((1+1))TTY; echo SZ:$(stty size); readlink /proc/$$/fd/0\n"))
    ok(a.wait_out("t", b"IS2TTY") and a.wait_out("t", b"SZ:30 100") and a.wait_out("t", b"/dev/pts/"),
       "the guest's pty: isatty, stty size 30 100, stdin on /dev/pts")
    a.send("sess_winsize id=t rows=40 cols=120")
    a.send("sess_in id=t data=%s" % hx("echo SZ:$(stty size)\n"))
    ok(a.wait_out("t", b"SZ:40 120"), "sess_winsize reaches the guest's pty")
    a.send("sess_in id=t data=%s" % hx("exit 4\n"))
    e = a.exit_of("t")
    ok(e and e["status"] == "exited:4", "the guest's tty session ends exited:4")


def run(a, T):
    hello = a.expect(lambda m: m["verb"] == "hello")
    ok(hello and hello.get("proto") == "6" and hello.get("agent") == "0.6.1", "hello says proto=6 agent=0.6.1")
    a.send("ping id=1")
    ok(a.expect(lambda m: m["verb"] == "pong" and m.get("id") == "1"), "ping still answered")
    cwd = hx(T)

    # output, offsets, exit codes
    m = a.start("a", "printf 'hello\\nworld\\n'; echo err >&2; pwd; exit 7", cwd=cwd)
    ok(m and m["verb"] == "sess_started" and int(m["pid"]) > 1 and int(m["started_ms"]) > 1.6e12,
       "sess_start answers sess_started with pid and started_ms")
    e = a.exit_of("a")
    want = ("hello\nworld\n%s\n" % T).encode()
    ok(e and e["status"] == "exited:7" and e["out"] == str(len(want)) and e["err"] == "4",
       "exit 7: sess_exit status=exited:7 with the final stream lengths (%s)" % (e and e["line"]))
    ok(a.out("a") == want and a.out("a", 2) == b"err\n" and not a.gaps,
       "stdout and stderr arrive as sess_out at contiguous offsets, in cwd")
    ok(int(e["ended_ms"]) >= int(m["started_ms"]), "ended_ms is not before started_ms")
    ok(a.start("z", "true", cwd=cwd)["verb"] == "sess_started" and a.exit_of("z")["status"] == "exited:0",
       "exit 0: status=exited:0")
    a.start("env", "echo $HOME:$FOO:$USER; [ -t 0 ] || echo notty", env=hx("FOO=bar"), cwd=cwd)
    a.exit_of("env")
    ok(a.out("env") == b"/root:bar:root\nnotty\n", "env= reaches the command, HOME=/root, no tty without tty=1")

    # signals
    a.start("k", "sleep 1000", cwd=cwd)
    a.send("sess_signal id=k sig=TERM")
    ok(a.answer("sess_signal", "k")["verb"] == "ack", "sess_signal TERM is acked")
    e = a.exit_of("k")
    ok(e and e["status"] == "killed:TERM", "a TERMed session ends killed:TERM (%s)" % (e and e["status"]))

    # stdin
    a.start("wc", "wc -c", cwd=cwd)
    a.send("sess_in id=wc data=%s" % hx("abc\n" * 10))
    a.send("sess_in id=wc eof=1")
    e = a.exit_of("wc")
    ok(e and e["status"] == "exited:0" and a.out("wc").strip() == b"40", "stdin data then eof: wc -c counts 40")
    # sess_in_ack: the stdin bytes written to the command so far
    a.start("ack", "cat >/dev/null", cwd=cwd)
    for i in range(60):  # 120000 bytes, more than the ack step of 32 KiB
        a.send("sess_in id=ack data=" + hx(b"a" * 2000))
    acks = []
    while not acks or acks[-1]["in"] != "120000":
        m = a.expect(lambda m: m["verb"] == "sess_in_ack" and m["id"] == "ack")
        if not m:
            break
        acks.append(m)
    ins = [int(m["in"]) for m in acks]
    ok(acks and ins == sorted(ins) and ins[-1] == 120000 and acks[-1]["queued"] == "0",
       "sess_in_ack counts the stdin bytes written, up to all 120000 with none queued (%s)" % ins)
    ok(all(int(m["queued"]) == 0 or n - p >= 32768 for m, n, p in zip(acks, ins, [0] + ins)),
       "... an ack when the queue ran empty or after 32 KiB")
    a.send("sess_in id=ack eof=1")
    m = a.expect(lambda m: m["verb"] == "sess_in_ack" and m["id"] == "ack")
    ok(m and m.get("closed") == "1" and m["in"] == "120000", "closing stdin: a last ack with closed=1 (%s)" % (m and m["line"]))
    a.exit_of("ack")
    a.send("sess_forget id=ack")
    a.answer("sess_forget", "ack")
    a.start("cat", "cat", cwd=cwd)
    a.send("sess_in id=cat data=%s" % hx("hi there\n"))
    ok(a.wait_out("cat", b"hi there\n"), "cat echoes stdin, pushed without a request")
    big = bytes(range(256)) * 7 + b"\n"  # 1793 bytes, binary
    a.send("sess_in id=cat data=%s" % hx(big))
    ok(a.wait_out("cat", b"hi there\n" + big), "binary stdin comes back intact")

    # two sessions at once
    a.start("x", "cat", cwd=cwd)
    a.start("y", "while read -r l; do echo \"Y:$l\"; done", cwd=cwd)
    a.send("sess_in id=x data=%s" % hx("to x\n"))
    a.send("sess_in id=y data=%s" % hx("to y\n"))
    ok(a.wait_out("x", b"to x\n") and a.wait_out("y", b"Y:to y\n"), "two sessions at once keep their streams apart")
    for s in ("x", "y", "cat"):
        a.send("sess_in id=%s eof=1" % s)
        a.exit_of(s)

    # bad input: a fail each, nothing changed
    a.start("live", "cat", cwd=cwd)
    bad = [
        ("sess_in id=nope data=00", "sess_in", "nope", "unknown"),
        ("sess_start id=.dot cmd=%s" % hx("true"), "sess_start", None, "bad_id"),
        ("sess_start id=%s cmd=%s" % ("l" * 65, hx("true")), "sess_start", None, "bad_id"),
        ("sess_start id=b1 cmd=zz", "sess_start", "b1", "bad_cmd"),
        ("sess_start id=b1 cmd=abc", "sess_start", "b1", "bad_cmd"),
        ("sess_start id=b1 cmd=", "sess_start", "b1", "bad_cmd"),
        ("sess_start id=b1 cmd=%s" % hx("a\0b"), "sess_start", "b1", "bad_cmd"),
        ("sess_start id=b1 cmd=%s env=%s" % (hx("true"), hx("1X=y")), "sess_start", "b1", "bad_env"),
        ("sess_start id=b1 cmd=%s tty=1 rows=0 cols=80" % hx("true"), "sess_start", "b1", "bad_winsize"),
        ("sess_start id=b1 cmd=%s cwd=%s" % (hx("true"), hx(T + "/missing")), "sess_start", "b1", "chdir:ENOENT"),
        ("sess_start id=live cmd=%s" % hx("true"), "sess_start", "live", "exists"),
        ("sess_in id=live data=zz", "sess_in", "live", "bad_hex"),
        ("sess_in id=live data=0", "sess_in", "live", "bad_hex"),
        ("sess_in id=live data=%s" % ("41" * 2001), "sess_in", "live", "too_long"),
        ("sess_in id=live data=%s" % ("41" * 2100), "sess_in", "live", "line_too_long"),
        ("sess_signal id=live sig=FOO", "sess_signal", "live", "bad_signal"),
        ("sess_signal id=live sig=term", "sess_signal", "live", "bad_signal"),
        ("sess_signal id=nope sig=TERM", "sess_signal", "nope", "unknown"),
        ("sess_winsize id=live rows=10 cols=10", "sess_winsize", "live", "not_tty"),
        ("sess_sync id=live out=99 err=0", "sess_sync", "live", "bad_offset"),
        ("sess_sync id=nope out=0 err=0", "sess_sync", "nope", "unknown"),
        ("sess_forget id=live", "sess_forget", "live", "running"),
        ("sess_forget id=nope", "sess_forget", "nope", "unknown"),
    ]
    for line, verb, sid, reason in bad:
        a.send(line)
        m = a.expect(lambda m: m["verb"] == "fail" and m.get("for") == verb)
        got = fail_reason(m)
        ok(got == reason and m.get("id") == sid,
           "%s... fails reason=%s (got %s)" % (line[:40], reason, m and m["line"][:80]))
    a.send("sess_in id=live data=%s" % hx("still\n"))
    ok(a.wait_out("live", b"still\n") and a.out("live") == b"still\n", "after the bad input the session is unchanged")
    ok(a.start("b1", "exit 3", cwd=cwd)["verb"] == "sess_started" and a.exit_of("b1")["status"] == "exited:3",
       "the ids of failed starts are free")
    a.send("sess_in id=live eof=1")
    a.exit_of("live")
    a.send("sess_in id=live data=00")
    ok(fail_reason(a.answer("sess_in", "live")) == "finished", "sess_in to a finished session fails reason=finished")
    a.send("sess_forget id=live")
    ok(a.answer("sess_forget", "live")["verb"] == "ack", "sess_forget of an ended session is acked")
    a.send("sess_sync id=live out=0 err=0")
    ok(fail_reason(a.answer("sess_sync", "live")) == "unknown", "a forgotten session is unknown")

    # stdin nobody reads, sent without waiting for acks (a host older than
    # protocol 5): queued up to a bound, then fail reason=full
    a.start("slow", "sleep 1000", cwd=cwd)
    chunk = hx(b"y" * 2000)
    reason = None
    for i in range(1000):  # 2 MB: more than a pipe plus the queue
        a.send("sess_in id=slow data=" + chunk)
        a.send("ping id=full%d" % i)
        a.expect(lambda m: m["verb"] == "pong" and m.get("id") == "full%d" % i)
        reason = fail_reason(a.expect(lambda m: m["verb"] == "fail" and m.get("id") == "slow", 0))
        if reason:
            break
    ok(reason == "full" and i * 2000 >= 256 * 1024, "stdin nobody reads fills up: fail reason=full (after %d bytes)" % (i * 2000))
    a.send("sess_signal id=slow sig=KILL")
    ok(a.answer("sess_signal", "slow")["verb"] == "ack" and a.exit_of("slow")["status"] == "killed:KILL",
       "the session still runs and ends killed:KILL")

    # a tty session running an interactive shell
    m = a.start("t", "sh", cwd=cwd, tty="1", rows="30", cols="100")
    ok(m and m["verb"] == "sess_started", "tty=1 starts")
    a.send("sess_in id=t data=%s" % hx("[ -t 0 ] && echo IS$((1+1))TTY; echo SZ:$(stty size)\n"))
    ok(a.wait_out("t", b"IS2TTY") and a.wait_out("t", b"SZ:30 100"), "a tty session: isatty, and stty size 30 100")
    ok(b"echo IS$((1+1))TTY" in a.out("t"), "the pty echoes the input")
    a.send("sess_winsize id=t rows=40 cols=120")
    ok(a.answer("sess_winsize", "t")["verb"] == "ack", "sess_winsize is acked")
    a.send("sess_in id=t data=%s" % hx("echo SZ:$(stty size)\n"))
    ok(a.wait_out("t", b"SZ:40 120"), "the new window size is visible to stty size")
    a.send("sess_in id=t data=%s" % hx("exit 3\n"))
    e = a.exit_of("t")
    ok(e and e["status"] == "exited:3" and e["err"] == "0" and not a.out("t", 2), "a tty session ends, no fd=2 output")
    a.start("t2", "stty size", cwd=cwd, tty="1")
    e = a.exit_of("t2")
    ok(e and e["status"] == "exited:0" and a.out("t2") == b"24 80\r\n", "tty=1 without a size: 24x80")
    a.start("teof", "cat", cwd=cwd, tty="1", rows="24", cols="80")
    a.send("sess_in id=teof eof=1")
    e = a.exit_of("teof")
    ok(e and e["status"] == "exited:0", "eof=1 on a tty sends VEOF: cat ends")

    # reconnection: nothing pushed before sess_sync; the sync resends
    go = os.path.join(T, "go")
    wait_go = "while [ ! -e %s ]; do sleep 0.05; done; " % go
    a.start("r", "echo before; " + wait_go + "echo after", cwd=cwd)
    m = a.start("g", wait_go + "head -c 3000000 /dev/zero | tr '\\0' x", cwd=cwd)
    gpid = int(m["pid"])
    rpid = int(a.start("r2", "echo early; " + wait_go + "echo late")["pid"])
    ok(a.wait_out("r", b"before\n") and a.wait_out("r2", b"early\n"), "output before the reconnection arrives")
    goa = os.path.join(T, "goa")
    a.start("ra", "while [ ! -e %s ]; do sleep 0.05; done; cat >/dev/null" % goa, cwd=cwd)
    for i in range(50):  # 100000 bytes: a pipe's worth written, the rest queued
        a.send("sess_in id=ra data=" + hx(b"r" * 2000))
    a.send("ping id=ra")
    a.expect(lambda m: m["verb"] == "pong" and m.get("id") == "ra")
    hello = a.reconnect()
    a.send("sess_sync id=ra out=0 err=0")
    m = a.expect(lambda m: m["verb"] == "sess_in_ack" and m["id"] == "ra")
    ok(m and int(m["in"]) + int(m["queued"]) == 100000 and int(m["queued"]) > 0,
       "after a sess_sync, an ack says what was written and what is still queued (%s)" % (m and m["line"]))
    open(goa, "w").close()
    a.send("sess_in id=ra eof=1")
    m = a.expect(lambda m: m["verb"] == "sess_in_ack" and m["id"] == "ra" and m.get("closed") == "1")
    ok(m and m["in"] == "100000" and m["queued"] == "0", "... and the queue is written on (%s)" % (m and m["line"]))
    a.exit_of("ra")
    a.send("sess_forget id=ra")
    a.answer("sess_forget", "ra")
    ok(hello is not None, "the agent says hello on the new connection")
    open(go, "w").close()
    deadline = time.monotonic() + TIMEOUT
    while not (pid_gone(gpid) and pid_gone(rpid)) and time.monotonic() < deadline:
        a._read_more(min(deadline, time.monotonic() + 0.1))
    a.send("ping id=2")
    ok(a.expect(lambda m: m["verb"] == "pong" and m.get("id") == "2") is not None, "ping answered after reconnect")
    early = [m["line"][:60] for m in a.pending if m["verb"] in ("sess_out", "sess_exit")]
    ok(not early, "no sess_out/sess_exit of older sessions before their sess_sync %s" % early)
    m = a.start("new", "echo fresh", cwd=cwd)
    ok(a.wait_out("new", b"fresh\n") and a.exit_of("new") is not None, "a session started on the new connection pushes")
    a.send("sess_sync id=r out=7 err=0")
    e = a.exit_of("r")
    ok(a.out("r") == b"before\nafter\n" and e and e["out"] == "13" and e["status"] == "exited:0",
       "sess_sync resends from the offset, then sess_exit")
    a.pending.clear()
    a.held.pop(("r", "1"))
    a.send("sess_sync id=r out=0 err=0")
    e = a.exit_of("r")
    ok(a.out("r") == b"before\nafter\n" and e is not None, "a second sess_sync from 0 resends all, then sess_exit again")
    a.send("sess_sync id=g out=0 err=0")
    e = a.exit_of("g")
    gaps = a.gaps.get(("g", "1"), [])
    ok(e and e["out"] == "3000000" and gaps == [(0, 3000000 - KEEP)],
       "the stream keeps the newest 1 MiB: off jumps to %d (gaps %s)" % (3000000 - KEEP, gaps))
    ok(a.out("g")[3000000 - KEEP:] == b"x" * KEEP, "the newest 1 MiB arrives intact")
    a.send("sess_sync id=r2 out=6 err=0")
    e = a.exit_of("r2")
    ok(a.out("r2") == b"early\nlate\n" and e is not None, "r2 synced separately")

    # at most 64 sessions
    for s in ("a", "z", "env", "k", "wc", "cat", "x", "y", "b1", "slow", "t", "t2", "teof", "r", "g", "r2", "new"):
        a.send("sess_forget id=%s" % s)
        a.answer("sess_forget", s)
    started = 0
    for i in range(64):
        m = a.start("m%d" % i, "cat", cwd=cwd)
        started += m is not None and m["verb"] == "sess_started"
    ok(started == 64, "64 sessions run at once (%d)" % started)
    ok(fail_reason(a.start("m64", "true", cwd=cwd)) == "too_many", "the 65th is refused: too_many")
    a.send("sess_in id=m0 eof=1")
    a.exit_of("m0")
    a.send("sess_forget id=m0")
    a.answer("sess_forget", "m0")
    ok(a.start("m64", "true", cwd=cwd)["verb"] == "sess_started", "after a forget there is room again")
    for i in range(1, 64):
        a.send("sess_signal id=m%d sig=KILL" % i)
    ended = sum(1 for i in range(1, 64) if (e := a.exit_of("m%d" % i)) and e["status"] == "killed:KILL")
    ok(ended == 63, "KILL ends them all (%d)" % ended)


if __name__ == "__main__":
    sys.exit(main())
