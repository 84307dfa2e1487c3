#!/usr/bin/python3
"""Streaming through the gateway proxy, over real sockets: `tollgate serve
--dev --workers 1` with short upstream timeouts, and a python upstream
(http.server on 127.0.0.1:0). Through /tools/<id>/...: an SSE answer's first
event reaches the agent while the upstream still holds the stream open; a
GET stream outlives the total timeout (the idle timeout rules it) and a
quiet one is cut at the idle timeout; a slow upstream does not block other
calls on the same worker; an agent leaving mid-stream ends the upstream
transfer and the server stays healthy; DELETE, Mcp-Session-Id and
Last-Event-ID for a tool of kind mcp, a tools/call SSE answer streamed and a
tools/list one still filtered; a body over the cap -> 502, upstream down ->
502, timeout -> 504.
Usage: test_stream.py TOLLGATE_BIN"""
import http.client
import http.server
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tgtest import Results, Server  # noqa: E402

R = Results("integration-stream")
BIN = sys.argv[1]
TOTAL_S, IDLE_S = 3, 2        # --upstream-timeout, --stream-idle-timeout
STATE = {"gone": None, "seen": []}
LOCK = threading.Lock()


def sse_event(n, data):
    return ("id: %d\nevent: message\ndata: %s\n\n" % (n, data)).encode()


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _record(self, body=b""):
        with LOCK:
            STATE["seen"].append((self.command, self.path, dict(self.headers), body))

    def _head(self, status=200, ctype="text/event-stream", length=None, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if length is None:
            self.send_header("Connection", "close")  # body until close
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(length))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.flush()

    def _send(self, data):
        self.wfile.write(data)
        self.wfile.flush()

    def _json(self, obj, extra=()):
        data = json.dumps(obj).encode()
        self._head(200, "application/json", len(data), extra)
        self._send(data)

    def do_GET(self):
        self._record()
        p = self.path
        if p == "/sse":
            self._head()
            self._send(sse_event(1, "first"))
            time.sleep(1.5)
            self._send(sse_event(2, "second"))
        elif p == "/long":  # longer than the total timeout, never idle
            self._head()
            for i in range(12):
                self._send(sse_event(i, "tick"))
                time.sleep(0.4)
        elif p == "/quiet":  # quiet for longer than the idle timeout
            self._head()
            self._send(sse_event(1, "hello"))
            time.sleep(IDLE_S + 2.5)
            try:
                self._send(sse_event(2, "late"))
            except OSError:
                pass
        elif p == "/forever":  # until the gateway lets go
            self._head()
            try:
                for i in range(200):
                    self._send(sse_event(i, "tick"))
                    time.sleep(0.2)
            except OSError:
                with LOCK:
                    STATE["gone"] = time.time()
        elif p == "/slow":
            time.sleep(1.5)
            self._json({"slow": True})
        elif p == "/hang":
            time.sleep(TOTAL_S + 2)
            try:
                self._json({"late": True})
            except OSError:
                pass
        elif p == "/big":
            data = b"x" * (8 * 1024 * 1024 + 1024)
            self._head(200, "application/octet-stream", len(data))
            try:
                self._send(data)
            except OSError:
                pass
        elif p == "/mcp":  # the MCP server's own SSE stream
            self._head(extra=[("Mcp-Session-Id", "sess-42")])
            self._send(sse_event(8, json.dumps({
                "jsonrpc": "2.0", "method": "notifications/message",
                "params": {"last_event_id": self.headers.get("Last-Event-ID"),
                           "session": self.headers.get("Mcp-Session-Id")}})))
        else:
            self._json({"path": p})

    def do_DELETE(self):
        self._record()
        self._json({"deleted": self.path, "session": self.headers.get("Mcp-Session-Id")},
                   [("Mcp-Session-Id", "sess-42")])

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        self._record(raw)
        msg = json.loads(raw or b"{}")
        m = msg.get("method")
        if m == "tools/list":
            res = {"tools": [{"name": "allowed_tool", "inputSchema": {"type": "object"}},
                             {"name": "other_tool", "inputSchema": {"type": "object"}}]}
            ev = json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": res})
            self._head(extra=[("Mcp-Session-Id", "sess-42")])
            self._send(b"event: message\ndata: " + ev.encode() + b"\n\n")
        elif m == "tools/call":  # progress first, the result 1.5 s later
            self._head(extra=[("Mcp-Session-Id", "sess-42")])
            self._send(sse_event(1, json.dumps({"jsonrpc": "2.0",
                                                "method": "notifications/progress",
                                                "params": {"progress": 1}})))
            time.sleep(1.5)
            self._send(sse_event(2, json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                                                "result": {"content": []}})))
        else:
            self._json({"jsonrpc": "2.0", "id": msg.get("id"),
                        "result": {"session": self.headers.get("Mcp-Session-Id")}},
                       [("Mcp-Session-Id", "sess-42")])


up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
up.daemon_threads = True
threading.Thread(target=up.serve_forever, daemon=True).start()
UP = "http://127.0.0.1:%d" % up.server_address[1]

work = tempfile.mkdtemp(prefix="tg-stream-")
srv = Server(BIN, ["--workers", "1", "--upstream-timeout", str(TOTAL_S),
                   "--stream-idle-timeout", str(IDLE_S)])
ISS = srv.issuer
HOST, PORT = urllib.parse.urlsplit(ISS).hostname, urllib.parse.urlsplit(ISS).port


def apply(yaml_text):
    path = os.path.join(work, "policy-%s.yaml" % uuid.uuid4().hex[:6])
    with open(path, "w") as f:
        f.write(yaml_text)
    r = srv.cli("apply", "-f", path, "--json")
    R.check("apply", r.returncode == 0, r.stderr)
    return json.loads(r.stdout) if r.returncode == 0 else {}


def token(cid, secret):
    body = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    st, _, b = srv.request("POST", "/token", body)
    R.check(f"token for {cid}", st == 200, f"{st} {b}")
    return b.get("access_token", "") if isinstance(b, dict) else ""


def open_call(method, path, tok, headers=None, body=None, timeout=15):
    """Sends the request; returns (connection, response) with the body unread."""
    c = http.client.HTTPConnection(HOST, PORT, timeout=timeout)
    hs = {"Authorization": "Bearer " + tok}
    hs.update(headers or {})
    if body is not None:
        body = json.dumps(body).encode()
        hs["Content-Type"] = "application/json"
    c.request(method, path, body=body, headers=hs)
    return c, c.getresponse()


def read_until(resp, marker, limit=10.0):
    """Reads (read1) until `marker` is in what arrived; returns (data, seconds)."""
    t0, data = time.time(), b""
    while marker not in data and time.time() - t0 < limit:
        chunk = resp.read1(65536)
        if not chunk:
            break
        data += chunk
    return data, time.time() - t0


def call(method, path, tok, headers=None, body=None, timeout=15):
    c, r = open_call(method, path, tok, headers, body, timeout)
    try:
        data = r.read()
        err = None
    except (http.client.IncompleteRead, OSError) as e:
        data, err = b"", e
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    try:
        parsed = json.loads(data)
    except Exception:
        parsed = data.decode(errors="replace")
    return r.status, hdrs, parsed, err


try:
    out = apply(f"""version: 1
agents:
  - {{id: stream-bot, type: internal, owner: s@example.com, auth: client_secret_post,
     sender_constraint: bearer}}
tools:
  - id: st
    resource: {ISS}/tools/st
    upstream: {UP}
    endpoints:
      - {{method: "*", path: "/{{p}}", action: read}}
  - id: st-down
    resource: {ISS}/tools/st-down
    upstream: http://127.0.0.1:1
    endpoints:
      - {{method: GET, path: "/{{p}}", action: read}}
  - id: mc
    kind: mcp
    resource: {ISS}/tools/mc
    upstream: {UP}
    endpoints:
      - {{mcp_tool: allowed_tool, action: read}}
      - {{mcp_tool: other_tool, action: admin}}
grants:
  - {{agent: stream-bot, tool: st, actions: [read]}}
  - {{agent: stream-bot, tool: st-down, actions: [read]}}
  - {{agent: stream-bot, tool: mc, actions: [read]}}
""")
    sec = {s["client_id"]: s["client_secret"] for s in out.get("client_secrets", [])}
    tok = token("stream-bot", sec.get("stream-bot", ""))

    # --- an SSE answer: the first event arrives while the upstream holds on
    c, r = open_call("GET", "/tools/st/sse", tok)
    R.check("sse: 200 text/event-stream", r.status == 200 and
            r.getheader("Content-Type", "").startswith("text/event-stream"),
            f"{r.status} {r.getheaders()}")
    R.check("sse: chunked to an HTTP/1.1 client",
            r.getheader("Transfer-Encoding", "") == "chunked", r.getheaders())
    data, took = read_until(r, b"first\n\n")
    R.check("sse: first event within 1 s (upstream still open)",
            b"data: first" in data and took < 1.0, f"{took:.2f}s {data!r}")
    rest = r.read()  # to the last chunk
    R.check("sse: second event, then a complete body", b"data: second" in rest, rest)
    c.close()

    # --- a GET stream longer than the total timeout keeps going
    t0 = time.time()
    st, h, body, err = call("GET", "/tools/st/long", tok)
    n = body.count("data: tick") if isinstance(body, str) else 0
    R.check("long stream: outlives the %ds total timeout, complete" % TOTAL_S,
            st == 200 and err is None and n == 12 and time.time() - t0 > TOTAL_S,
            f"{st} {err} {n} events in {time.time() - t0:.1f}s")

    # --- a stream quiet for longer than the idle timeout is cut
    c, r = open_call("GET", "/tools/st/quiet", tok)
    data, _ = read_until(r, b"hello\n\n")
    t0 = time.time()
    cut = False
    try:
        more = r.read()
        cut = b"late" not in more and False
    except (http.client.IncompleteRead, OSError):
        cut = True
    took = time.time() - t0
    R.check("idle stream: cut (no last chunk) after the idle timeout",
            b"hello" in data and cut and IDLE_S - 0.5 < took < IDLE_S + 2, f"{cut} {took:.2f}s")
    c.close()

    # --- a slow upstream does not hold the worker (--workers 1)
    res = {}

    def slow():
        res["slow"] = call("GET", "/tools/st/slow", tok)

    th = threading.Thread(target=slow)
    th.start()
    time.sleep(0.3)
    t0 = time.time()
    st, _, body, _ = call("GET", "/tools/st/fast", tok)
    took = time.time() - t0
    R.check("one worker: a fast call passes a slow one", st == 200 and took < 0.8,
            f"{st} {took:.2f}s {body}")
    th.join()
    R.check("one worker: the slow call answers too", res.get("slow", (0,))[0] == 200 and
            res["slow"][2] == {"slow": True}, res.get("slow"))

    # --- the agent leaves mid-stream: the upstream transfer ends
    c, r = open_call("GET", "/tools/st/forever", tok)
    data, _ = read_until(r, b"\n\n")
    R.check("leave: stream started", b"data: tick" in data, data)
    t_close = time.time()
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()
    for _ in range(50):
        with LOCK:
            gone = STATE["gone"]
        if gone:
            break
        time.sleep(0.1)
    R.check("leave: the upstream sees its connection closed within 3 s",
            gone is not None and gone - t_close < 3.0,
            "never" if gone is None else f"{gone - t_close:.2f}s")
    st, _, body, _ = call("GET", "/tools/st/after", tok)
    R.check("leave: the server stays healthy", st == 200 and body == {"path": "/after"},
            f"{st} {body}")

    # --- errors before anything was sent: 502 / 504 JSON
    st, _, body, _ = call("GET", "/tools/st/big", tok)
    R.check("over the body cap: 502", st == 502 and isinstance(body, dict) and
            body.get("error") == "server_error", f"{st} {str(body)[:200]}")
    st, _, body, _ = call("GET", "/tools/st-down/x", tok)
    R.check("upstream down: 502", st == 502 and body.get("error") == "server_error",
            f"{st} {body}")
    t0 = time.time()
    st, _, body, _ = call("GET", "/tools/st/hang", tok)
    R.check("upstream too slow: 504 at the total timeout",
            st == 504 and TOTAL_S - 0.5 < time.time() - t0 < TOTAL_S + 2,
            f"{st} {body} {time.time() - t0:.2f}s")

    # --- DELETE forwarded
    st, h, body, _ = call("DELETE", "/tools/st/thing", tok)
    R.check("DELETE forwarded", st == 200 and body.get("deleted") == "/thing", f"{st} {body}")

    # --- MCP: session id both ways, the GET stream with Last-Event-ID, DELETE
    sid = {"Mcp-Session-Id": "sess-42", "Accept": "application/json, text/event-stream"}
    st, h, body, _ = call("POST", "/tools/mc/mcp", tok, sid,
                          {"jsonrpc": "2.0", "id": 1, "method": "ping"})
    R.check("mcp: session id to the upstream and back",
            st == 200 and body.get("result", {}).get("session") == "sess-42" and
            h.get("mcp-session-id") == "sess-42", f"{st} {h} {body}")
    c, r = open_call("GET", "/tools/mc/mcp", tok, dict(sid, **{"Last-Event-ID": "7"}))
    data = r.read()
    R.check("mcp: GET stream with Last-Event-ID and the session",
            r.status == 200 and r.getheader("Mcp-Session-Id") == "sess-42" and
            b'"last_event_id": "7"' in data and b'"session": "sess-42"' in data,
            f"{r.status} {data!r}")
    c.close()
    c, r = open_call("POST", "/tools/mc/mcp", tok, sid,
                     {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "allowed_tool", "arguments": {}}})
    data, took = read_until(r, b"\n\n")
    R.check("mcp: tools/call SSE progress streamed before the result",
            r.status == 200 and b"notifications/progress" in data and took < 1.0,
            f"{r.status} {took:.2f}s {data!r}")
    rest = r.read()
    R.check("mcp: tools/call result follows", b'"id": 2' in rest, rest)
    c.close()
    st, h, body, _ = call("POST", "/tools/mc/mcp", tok, sid,
                          {"jsonrpc": "2.0", "id": 3, "method": "tools/list"})
    R.check("mcp: tools/list (SSE) still buffered and filtered",
            st == 200 and isinstance(body, str) and "allowed_tool" in body and
            "other_tool" not in body, f"{st} {body}")
    st, h, body, _ = call("DELETE", "/tools/mc/mcp", tok, sid)
    R.check("mcp: DELETE with the session",
            st == 200 and body.get("session") == "sess-42" and
            h.get("mcp-session-id") == "sess-42", f"{st} {body}")

    # --- the audit log holds one event per call, streams included
    st, _, body, _ = call("GET", "/tools/st/fast", tok)
    R.check("healthy at the end", st == 200, f"{st} {body}")
except Exception as e:  # noqa: BLE001
    R.check("no exception", False, repr(e))
finally:
    rc = srv.stop()
    R.check("server stops cleanly", rc == 0, f"rc {rc}")
    up.shutdown()
    shutil.rmtree(work, ignore_errors=True)
R.done()
