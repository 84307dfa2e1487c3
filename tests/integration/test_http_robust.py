#!/usr/bin/python3
"""The HTTP/1.1 connection layer under hostile and clumsy clients, over real
sockets against `tollgate serve --dev` (plain and TLS listeners): requests
split at random byte positions, pipelined bursts (whole and dribbled),
chunked bodies in pieces, HEAD in a pipeline, 100-continue, garbage, heads
and bodies cut short, connections reset mid-response, a reader too slow for
its pipelined answers, TLS handshakes cut off, many connections at once.
Each answer is checked (status, count, order); afterwards the server still
answers and stops cleanly (exit 0: in the ASan build a sanitizer report
fails the run).
Usage: test_http_robust.py TOLLGATE_BIN"""
import os
import random
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tgtest import Results, Server  # noqa: E402

R = Results("integration-http-robust")
BIN = sys.argv[1]
META = "/.well-known/oauth-authorization-server"
rng = random.Random(int(os.environ.get("TG_ROBUST_SEED", "20261129")))


def connect(port, tls_ctx=None, rcvbuf=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if tls_ctx is not None:
        s = tls_ctx.wrap_socket(s, server_hostname="127.0.0.1")
    return s


def read_responses(s, n):
    """Reads n answers to requests that are not HEAD: [(status, headers, body)]."""
    return read_responses_head_aware(s, [b"GET"] * n)


def req(method, path, body=b"", extra=""):
    h = "%s %s HTTP/1.1\r\nHost: a\r\n%s" % (method, path, extra)
    if body:
        h += "Content-Length: %d\r\n" % len(body)
    return h.encode() + b"\r\n" + body


def send_split(s, data):
    """Sends data in random pieces (1 byte up to 200), with tiny pauses."""
    i = 0
    while i < len(data):
        n = rng.randint(1, 200)
        s.sendall(data[i:i + n])
        i += n
        if rng.random() < 0.2:
            time.sleep(0.001)


def alive(srv, tag):
    s = connect(srv.port)
    s.sendall(req("GET", META))
    r = read_responses(s, 1)
    s.close()
    R.check(tag + ": server still answers", len(r) == 1 and r[0][0] == 200, str(r[:1]))


def pipelines(srv, tls_ctx, port, tag, rounds):
    ok = 0
    for _ in range(rounds):
        n = rng.randint(1, 12)
        reqs, want = [], []
        for _ in range(n):
            k = rng.randint(0, 4)
            if k == 0:
                reqs.append(req("GET", META)); want.append(200)
            elif k == 1:
                reqs.append(req("HEAD", META)); want.append(200)
            elif k == 2:
                reqs.append(req("GET", "/nope")); want.append(404)
            elif k == 3:
                # a form POST the token endpoint refuses (no client): 401
                reqs.append(req("POST", "/token", b"grant_type=client_credentials",
                                "Content-Type: application/x-www-form-urlencoded\r\n"))
                want.append(401)
            else:
                body = b"grant_type=client_credentials"
                chunks = b""
                i = 0
                while i < len(body):
                    m = rng.randint(1, 9)
                    chunks += b"%x\r\n%s\r\n" % (len(body[i:i + m]), body[i:i + m])
                    i += m
                reqs.append(b"POST /token HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                            b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
                            + chunks + b"0\r\n\r\n")
                want.append(401)
        data = b"".join(reqs)
        s = connect(port, tls_ctx)
        if rng.random() < 0.5:
            s.sendall(data)
        else:
            send_split(s, data)
        got = read_responses_head_aware(s, reqs)
        s.close()
        if [g[0] for g in got] == want:
            ok += 1
        else:
            R.check(tag + ": pipelined answers in order", False,
                    "want %s got %s" % (want, [g[0] for g in got]))
            return
    R.check(tag + ": %d pipelined bursts answered in order" % rounds, ok == rounds)


def read_responses_head_aware(s, reqs):
    """Like read_responses, but a HEAD answer has no body whatever its length."""
    s.settimeout(10)
    buf, out = b"", []
    for r in reqs:
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                return out
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        hdrs = dict((l.split(":", 1)[0].strip().lower(), l.split(":", 1)[1].strip())
                    for l in lines[1:])
        length = 0 if r.startswith(b"HEAD ") else int(hdrs.get("content-length", "0"))
        while len(buf) < length:
            chunk = s.recv(65536)
            if not chunk:
                return out
            buf += chunk
        out.append((status, hdrs, buf[:length]))
        buf = buf[length:]
    return out


def hostile(port, tls_ctx, tag):
    """Things that must not hurt, each on its own connection; where the
    server owes an answer before the client leaves, it must be the right
    one: 100 Continue for an acceptable head, 431 for a huge one."""
    wrong = []
    for _ in range(60):
        k = rng.randint(0, 6)
        try:
            s = connect(port, tls_ctx)
            if k == 0:        # garbage
                s.sendall(bytes(rng.randint(0, 255) for _ in range(rng.randint(1, 3000))))
            elif k == 1:      # a head cut short
                d = req("GET", META)
                s.sendall(d[:rng.randint(1, len(d) - 1)])
            elif k == 2:      # a body cut short
                s.sendall(b"POST /token HTTP/1.1\r\nHost: a\r\nContent-Length: 500\r\n\r\nabc")
            elif k == 3:      # a reset right after the request (answer in flight)
                s.sendall(req("GET", META) * rng.randint(1, 20))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif k == 4:      # a chunked body cut inside a chunk
                s.sendall(b"POST /token HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                          b"\r\n10\r\nabc")
            elif k == 5:      # 100-continue, then leave
                s.sendall(b"POST /token HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n"
                          b"Expect: 100-continue\r\n\r\n")
                got = s.recv(100)
                if not got.startswith(b"HTTP/1.1 100 Continue\r\n"):
                    wrong.append("100-continue: %r" % got[:40])
            else:             # a huge head
                s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"x" * 40000 + b"\r\n\r\n")
                got = s.recv(1000)
                if not got.startswith(b"HTTP/1.1 431 "):
                    wrong.append("huge head: %r" % got[:40])
            if rng.random() < 0.5:
                time.sleep(0.002)
            s.close()
        except (OSError, ssl.SSLError):
            pass  # the server may close or reset first: what counts is that it lives on
    R.check(tag + ": 60 hostile connections, each owed answer right", not wrong,
            "; ".join(wrong[:3]))


def slow_reader(port, tls_ctx, tag):
    """Pipelines more answers than the socket buffers hold, reads late and
    slowly: the server waits on the socket, then everything arrives. (A
    tiny SO_RCVBUF would make loopback TCP stall on zero-window probes,
    which says nothing about the server.)"""
    n = 1000
    s = connect(port, tls_ctx)
    s.sendall(req("GET", META) * n)
    time.sleep(0.3)
    got = []
    s.settimeout(10)
    buf = b""
    try:
        while True:
            chunk = s.recv(rng.randint(100, 3000))
            if not chunk:
                break
            buf += chunk
            if buf.count(b"HTTP/1.1 200 ") >= n and buf.endswith(b"}}"):
                break
            if rng.random() < 0.01:
                time.sleep(0.005)
    except socket.timeout:
        pass
    s.close()
    got = buf.count(b"HTTP/1.1 200 ")
    R.check(tag + ": %d pipelined answers to a slow reader" % n, got == n, "got %d" % got)


def tls_cut(port):
    """TLS handshakes that stop part-way: the ClientHello alone, half of it
    (what counts is the alive check after it)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for i in range(20):
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inc, out, server_hostname="127.0.0.1")
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = out.read()
        raw.sendall(hello[:len(hello) // 2] if i % 2 else hello)
        raw.close()


def concurrent(srv, port, tls_ctx, tag):
    errs = []

    def worker(seed):
        r = random.Random(seed)
        try:
            for _ in range(15):
                s = connect(port, tls_ctx)
                k = r.randint(1, 5)
                s.sendall(req("GET", META) * k)
                got = read_responses(s, k)
                if len(got) != k or any(g[0] != 200 for g in got):
                    errs.append("got %d of %d" % (len(got), k))
                if r.random() < 0.3:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
        except Exception as e:  # noqa: BLE001
            errs.append(repr(e))

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(24)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    R.check(tag + ": 24 clients at once, 360 connections", not errs, "; ".join(errs[:3]))


srv = Server(BIN)
try:
    u = urllib.parse.urlsplit(srv.issuer)
    srv.port = u.port
    tls_port = urllib.parse.urlsplit(srv.mtls_base).port
    tls_ctx = ssl.create_default_context(cafile=srv.dev["ca_file"])
    for tag, port, ctx in (("plain", u.port, None), ("tls", tls_port, tls_ctx)):
        for f, a in ((pipelines, (srv, ctx, port, tag, 40)), (hostile, (port, ctx, tag)),
                     (slow_reader, (port, ctx, tag)), (concurrent, (srv, port, ctx, tag)),
                     (alive, (srv, tag))):
            t0 = time.time()
            f(*a)
            if os.environ.get("TG_ROBUST_TIMES"):
                print("  %s %s: %.1f s" % (tag, f.__name__, time.time() - t0))
    tls_cut(tls_port)
    alive(srv, "after TLS cuts")
finally:
    rc = srv.stop()
R.check("server stopped cleanly (exit 0)", rc == 0, "exit %s" % rc)
R.done()
