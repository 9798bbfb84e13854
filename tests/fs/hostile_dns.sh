#!/bin/bash
# A hostile guest on the bridge, at the `.vm` DNS responder: malformed and
# truncated packets, compression-pointer loops, oversized datagrams, queries
# with many questions, random mutations of valid queries, and a flood of
# NAME.vm queries. bangerd must stay up with its memory bounded, answer
# nothing larger than a query may take (512 bytes without EDNS), answer a
# malformed packet with nothing or FORMERR, and keep answering DNS and the
# file system while the flood goes on. No guest is booted (a fake image);
# every packet goes to the gateway address on the bridge inside this test's
# own network namespace (lib.sh), never anywhere else.
. "$(dirname "$0")/../lib.sh"
export BANGER_SUBNET=10.79.0.0/24 # the gateway, and the DNS, at 10.79.0.1
GW=10.79.0.1
banger_setup fake || exit 1
FLOODER=""
trap '[ -n "$FLOODER" ] && kill "$FLOODER" 2>/dev/null; cleanup' EXIT

check "mkdir vms/x (stays stopped)" mkdir "$MNT/vms/x"
XIP=$(cat "$MNT/vms/x/ip")
check "x has an address on the bridge ($XIP)" test -n "$XIP"
check "dig x.vm before anything" sh -c "test \"\$(dig +short +tries=3 +time=5 @$GW x.vm)\" = '$XIP'"
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status" 2>/dev/null || echo 0; }
alive() { kill -0 "$DAEMON_PID" 2>/dev/null; }
rss0=$(rss_kib)

cat >"$T/dnsprobe.py" <<'EOF'
"""Plays a hostile guest at the DNS responder GW:53.

  dnsprobe.py GW CATEGORY              send one category of packets; exit 1 on a bad answer
  dnsprobe.py GW flood MARK STOP OUT   x.vm queries until STOP exists (at most 170 s); MARK after 20000

Packets go out on one socket, and every answer that comes back on it is
checked: a malformed packet may get no answer or FORMERR, never anything
else; no answer is larger than the query's budget (512 bytes without EDNS,
else the size the query offered, never under 512). After each category a
probe on a second socket must be answered (with retries: UDP), so bangerd
is alive and serving, and answers sent before it have arrived."""
import os
import random
import select
import socket
import struct
import sys
import time

GW = sys.argv[1]
PORT = 53
FORMERR = 1
failures = []


def name(dotted):
    out = b""
    for label in dotted.split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def header(qid, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar)


def question(dotted="x.vm", qtype=1, qclass=1):
    return name(dotted) + struct.pack(">HH", qtype, qclass)


def opt(size=1232, version=0, options=b""):
    return b"\0" + struct.pack(">HHBBHH", 41, size, 0, version, 0, len(options)) + options


def query(qid, dotted="x.vm", qtype=1, edns=None):
    if edns is None:
        return header(qid) + question(dotted, qtype)
    return header(qid, ar=1) + question(dotted, qtype) + edns


def budget(pkt):
    """What an answer to pkt may take: 512 without EDNS, else the offered size (>= 512)."""
    try:
        qd, an, ns, ar = struct.unpack(">HHHH", pkt[4:12])
        if ar != 1 or qd != 1:
            return 512
        off = 12
        while pkt[off] != 0:
            off += 1 + pkt[off]
        off += 5
        if pkt[off] == 0 and struct.unpack(">H", pkt[off + 1:off + 3])[0] == 41:
            return max(512, struct.unpack(">H", pkt[off + 3:off + 5])[0])
    except (IndexError, struct.error):
        pass
    return 512


def new_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("0.0.0.0", 0))
    s.setblocking(False)
    return s


def read_all(s, wait):
    """Datagrams on s, until none came for `wait` seconds."""
    got = []
    while select.select([s], [], [], wait)[0]:
        try:
            got.append(s.recv(70000))
        except BlockingIOError:
            break
    return got


def probe(bound=60):
    """A valid x.vm query on a socket of its own, retried, must be answered."""
    s = new_socket()
    deadline = time.monotonic() + bound
    qid = random.randrange(65536)
    try:
        while time.monotonic() < deadline:
            s.sendto(query(qid), (GW, PORT))
            for r in read_all(s, 1.0):
                if len(r) >= 12 and struct.unpack(">H", r[:2])[0] == qid:
                    if len(r) > 512:
                        failures.append("the probe's answer is %d bytes" % len(r))
                    return True
        failures.append("the probe got no answer within %d s" % bound)
        return False
    finally:
        s.close()


def run(packets, malformed=True):
    """Sends packets (a list of (description, bytes)); checks every answer."""
    s = new_socket()
    sent = {}
    answers = []
    for desc, pkt in packets:
        if len(pkt) >= 2:
            sent.setdefault(pkt[:2], []).append((desc, pkt))
        try:
            s.sendto(pkt, (GW, PORT))
        except OSError as e:  # EMSGSIZE for the largest: nothing left the host
            print("# %s: not sent (%s)" % (desc, e))
        answers += read_all(s, 0)
    probe()
    answers += read_all(s, 0.5)
    s.close()
    for r in answers:
        cands = sent.get(r[:2], [("an unknown packet", b"")])
        desc, pkt = cands[0]
        limit = min(budget(p) for _, p in cands) if pkt else 512
        if len(r) > limit:
            failures.append("%s: a %d-byte answer, over its budget of %d" % (desc, len(r), limit))
        if len(r) < 12 or not r[2] & 0x80:
            failures.append("%s: an answer that is not a DNS response (%r)" % (desc, r[:16]))
            continue
        rcode = r[3] & 0x0F
        if malformed and rcode != FORMERR:
            failures.append("%s: answered with rcode %d (want no answer or FORMERR)" % (desc, rcode))
    print("# %d packets sent, %d answers" % (len(packets), len(answers)))


def malformed_packets():
    q = query(0x1001)
    out = [("empty", b""), ("one byte", b"\x12"), ("11 bytes", q[:11]), ("a bare header", header(0x1002)),
           ("header, qd=0", header(0x1003, qd=0)), ("header, qd=0, and a question", header(0x1004, qd=0) + question())]
    for cut in range(12, len(q)):
        out.append(("x.vm cut at %d" % cut, struct.pack(">H", 0x1100 + cut) + q[2:cut]))
    out += [
        ("a label running past the end", header(0x1201) + b"\x3fabc"),
        ("a label of 64", header(0x1202) + bytes([64]) + b"a" * 64 + b"\x02vm\0\0\1\0\1"),
        ("label type 01", header(0x1203) + b"\x41" + b"a" * 10 + b"\0\0\1\0\1"),
        ("label type 10", header(0x1204) + b"\x81" + b"a" * 10 + b"\0\0\1\0\1"),
        ("a name of 256 bytes, one too many", header(0x1205) + (b"\x3f" + b"a" * 63) * 3 + b"\x3e" + b"a" * 62
         + b"\0\0\1\0\1"),
        ("a name with no end", header(0x1206) + (b"\x3f" + b"a" * 63) * 8),
        ("trailing garbage", query(0x1207) + b"\xde\xad\xbe\xef"),
        ("a response (QR set)", header(0x1208, flags=0x8180) + question()),
        ("opcode 1 (IQUERY)", header(0x1209, flags=0x0900) + question()),
        ("opcode 2 (STATUS)", header(0x120A, flags=0x1100) + question()),
        ("opcode 15", header(0x120B, flags=0x7900) + question()),
        ("an answer record in a query", header(0x120C, an=1) + question() + b"\xc0\x0c\0\1\0\1\0\0\0\5\0\4\1\2\3\4"),
        ("an authority record in a query", header(0x120D, ns=1) + question() + b"\xc0\x0c\0\1\0\1\0\0\0\5\0\4\1\2\3\4"),
        ("arcount 2, one OPT", header(0x120E, ar=2) + question() + opt()),
        ("arcount 1, no OPT", header(0x120F, ar=1) + question()),
        ("an OPT with a bad rdlength", header(0x1210, ar=1) + question() + opt()[:-2] + b"\x00\x10"),
        ("an OPT option running past its data", header(0x1211, ar=1) + question() + b"\0"
         + struct.pack(">HHBBHH", 41, 1232, 0, 0, 0, 8) + b"\0\x0c\0\x10abcd"),
        ("an OPT whose name is not the root", header(0x1212, ar=1) + question() + b"\x01a" + opt()[1:]),
        ("an A record as the additional", header(0x1213, ar=1) + question() + b"\0\0\1\0\1\0\0\0\5\0\4\1\2\3\4"),
        ("all ones", b"\xff" * 64),
        ("all zeros", b"\0" * 64),
        ("every byte value", bytes(range(256)) * 2),
    ]
    return out


def pointer_packets():
    tail = b"\0\1\0\1"
    return [
        ("a pointer to itself", header(0x2001) + b"\xc0\x0c" + tail),
        ("two pointers to each other", header(0x2002) + b"\xc0\x0e\xc0\x0c" + tail),
        ("a label, then a pointer back to it", header(0x2003) + b"\x01x\xc0\x0c" + tail),
        ("x.vm, then a pointer to its start", header(0x2004) + b"\x01x\x02vm\xc0\x0c" + tail),
        ("a pointer forward past the end", header(0x2005) + b"\xc0\xff" + tail),
        ("a pointer into the header", header(0x2006) + b"\xc0\x00" + tail),
        ("a pointer to the next byte", header(0x2007) + b"\xc0\x0e\x00" + tail),
        ("a chain of 100 pointers", header(0x2008) + b"".join(struct.pack(">H", 0xC000 | (14 + 2 * i))
                                                             for i in range(100)) + b"\xc0\x0c" + tail),
        ("a pointer loop in the OPT's name", header(0x2009, ar=1) + question() + b"\xc0\x1e" + opt()[1:]),
        ("a pointer as the last byte", header(0x200A) + b"\x01x\xc0"),
    ]


def oversized_packets():
    q = query(0x3001)
    return [
        ("a query padded to 4000 bytes", q + b"\0" * (4000 - len(q))),
        ("4000 bytes of junk", bytes(random.randrange(256) for _ in range(4000))),
        ("a query with EDNS padding to 4000 bytes", query(0x3003, edns=opt(4096, options=struct.pack(">HH", 12, 3963)
                                                                            + b"\0" * 3963))),
        ("a query with EDNS padding to 1233 bytes", query(0x3004, edns=opt(4096, options=struct.pack(">HH", 12, 1196)
                                                                            + b"\0" * 1196))),
        ("a query of 9000 bytes", q + b"\0" * (9000 - len(q))),
        ("the largest UDP datagram", q + b"\0" * (65507 - len(q))),
    ]


def sizes_as_named(packets):
    for desc, pkt in packets:
        assert "bytes" not in desc or str(len(pkt)) in desc, (desc, len(pkt))


def many_questions_packets():
    out = []
    for qd in (2, 3, 16, 100, 255):
        body = b"".join(question("x%d.vm" % i if i else "x.vm") for i in range(qd))
        if 12 + len(body) <= 1232:
            out.append(("%d questions" % qd, header(0x4000 + qd, qd=qd) + body))
    out.append(("qdcount 65535, one question", header(0x4101, qd=65535) + question()))
    out.append(("qdcount 65535, 1200 bytes of questions", header(0x4102, qd=65535) + question() * 120))
    out.append(("qdcount 2, one question", header(0x4103, qd=2) + question()))
    out.append(("qdcount 300 with EDNS", header(0x4104, qd=300, ar=1) + question() * 100 + opt()))
    return out


def fuzz_packets(n=3000):
    rng = random.Random(1650945650)
    seeds = [query(0x5000, "x.vm"), query(0x5000, "X.VM", 255), query(0x5000, "nope.vm", 28),
             query(0x5000, "x.vm", 1, opt(4096)), query(0x5000, "vm", 6), query(0x5000, "example.com")]
    out = []
    for i in range(n):
        p = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 6)):
            op = rng.randrange(4)
            pos = rng.randrange(len(p) + 1)
            if op == 0 and pos < len(p):
                p[pos] = rng.randrange(256)
            elif op == 1:
                p[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
            elif op == 2:
                del p[pos:pos + rng.randrange(1, 8)]
            else:
                p[pos:pos] = b"\xc0" + bytes([rng.randrange(256)])
        p[0:2] = struct.pack(">H", 0x6000 + i % 0x1000)
        out.append(("mutation %d" % i, bytes(p)))
    return out


def valid_packets():
    long_name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 58, "vm"])  # 255 bytes on the wire
    out = []
    for i, (dotted, qtype, edns) in enumerate([
            ("x.vm", 1, None), ("X.Vm", 255, None), ("x.vm", 28, None), ("vm", 255, None), ("nope.vm", 1, None),
            (long_name, 255, None), (long_name, 1, opt(512)), (long_name, 255, opt(65535)), ("x.vm", 1, opt(0)),
            ("x.vm", 255, opt(4096, options=struct.pack(">HH", 12, 1195) + b"\0" * 1195)),  # 1232 bytes
            ("example.com", 1, None), ("x.vm", 1, opt(1232, version=1))]):
        out.append(("%s type %d%s" % (dotted[:20], qtype, " edns" if edns else ""), query(0x7000 + i, dotted, qtype,
                                                                                        edns)))
    return out


def flood(mark, stop, report):
    """x.vm queries (every 16th a 4000-byte datagram) as fast as they go out,
    until stop exists (at most 170 s: longer than the checks below may take);
    mark after 20000."""
    s = new_socket()
    s.setblocking(True)
    big = query(0x3001) + b"\0" * 3900
    pkts = [query(i) for i in range(256)]
    start = time.monotonic()
    n = 0
    why = "bound"
    while time.monotonic() - start < 170:
        for i in range(256):
            s.sendto(big if i % 16 == 0 else pkts[i], (GW, PORT))
        n += 256
        if n == 20224:
            open(mark, "w").close()
        if n % 4096 == 0:
            if os.path.exists(stop):
                why = "stopped"
                break
            read_all(s, 0)  # answers are not wanted; keep our buffer from growing
    with open(report, "w") as f:
        f.write("%s %d %.1f\n" % (why, n, time.monotonic() - start))


random.seed(1650945650)
cat = sys.argv[2]
if cat == "flood":
    flood(*sys.argv[3:6])
    sys.exit(0)
if cat == "probe":
    probe()
else:
    packets = {"malformed": malformed_packets, "pointers": pointer_packets, "oversized": oversized_packets,
               "questions": many_questions_packets, "fuzz": fuzz_packets, "valid": valid_packets}[cat]()
    if cat == "oversized":
        sizes_as_named(packets)
    run(packets, malformed=cat not in ("fuzz", "valid"))
for f in failures[:20]:
    print("# %s" % f)
sys.exit(1 if failures else 0)
EOF
dnsprobe() { python3 "$T/dnsprobe.py" "$GW" "$@"; }

check "malformed and truncated packets: no answer or FORMERR" dnsprobe malformed
check "bangerd is alive" alive
check "compression-pointer loops: no answer or FORMERR" dnsprobe pointers
check "oversized datagrams (4000 bytes to 64 KiB): no answer or FORMERR" dnsprobe oversized
check "queries with many questions: no answer or FORMERR" dnsprobe questions
check "3000 random mutations of queries: every answer within its budget" dnsprobe fuzz
check "valid queries of every shape (255-byte names, ANY, EDNS): answers within 512 bytes" dnsprobe valid
check "bangerd is alive" alive
expect_eq "dig x.vm still answers" "$XIP" "$(dig +short +tries=3 +time=5 @$GW x.vm)"

# a flood of x.vm queries: DNS and the file system still answer while it runs
python3 "$T/dnsprobe.py" "$GW" flood "$T/flood.on" "$T/flood.stop" "$T/flood.out" &
FLOODER=$!
check "the flood is on (20000 packets sent)" wait_for 120 test -e "$T/flood.on"
dig_x() { [ "$(dig +short +tries=1 +time=2 @$GW x.vm)" = "$XIP" ]; }
check "during the flood: dig x.vm answers" wait_for 40 dig_x
expect_eq "during the flood: cat vms/x/state answers" stopped "$(timeout 40 cat "$MNT/vms/x/state")"
check "during the flood: mkdir vms/y works" timeout 40 mkdir "$MNT/vms/y"
touch "$T/flood.stop"
wait "$FLOODER"
FLOODER=""
log "flood: $(cat "$T/flood.out" 2>/dev/null)"
check "the flood was still running when those had answered" grep -q '^stopped ' "$T/flood.out"
check "bangerd is alive after the flood" alive
check "DNS answers after the flood" sh -c "test \"\$(dig +short +tries=3 +time=5 @$GW x.vm)\" = '$XIP'"
rss1=$(rss_kib)
log "bangerd RSS ${rss0} KiB before, ${rss1} KiB after"
check "its RSS grew by under 16 MiB (${rss0} -> ${rss1} KiB)" test $((rss1 - rss0)) -lt 16384
check "bangerd's log did not grow with the packets" test "$(stat -c %s "$T/home/state/bangerd.log")" -lt 65536
finish
