#!/usr/bin/env python3
"""A local stand-in for api.github.com that records what zoneci sends it (bench/webhook/cost.sh).
It answers the two calls a commit status needs (docs/notifier.md):
  POST /app/installations/{id}/access_tokens -> 201 {"token", "expires_at" an hour ahead}
  POST /repos/{owner}/{repo}/statuses/{sha}  -> 201 (the status is recorded)
GET /app/hook/deliveries (delivery recovery) gets an empty list; anything else a 404, counted.
GET /_stats (not a GitHub path) answers JSON: the calls counted by kind, the bytes received,
and the statuses received for each sha in arrival order (state and description).
HTTP/1.1 with keep-alive, as libcurl reuses its connections.
usage: github_peer.py PORTFILE   (binds 127.0.0.1 on a free port and writes it to PORTFILE)"""
import datetime, json, os, re, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
calls = {"token": 0, "status": 0, "deliveries": 0, "other": 0}
bytes_in = [0]
statuses = {}  # sha -> [(state, description)], in the order received
TOKEN = re.compile(r"^/app/installations/(\d+)/access_tokens$")
STATUS = re.compile(r"^/repos/([^/]+)/([^/]+)/statuses/([0-9a-f]{40})$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK stall

    def log_message(self, *args):
        pass

    def answer(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        with lock:
            bytes_in[0] += n
        return body

    def do_POST(self):
        body = self.read_body()
        path = self.path.split("?")[0]
        if TOKEN.match(path):
            ahead = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
            with lock:
                calls["token"] += 1
            return self.answer(201, {"token": "ghs_bench%d" % calls["token"],
                                     "expires_at": ahead.strftime("%Y-%m-%dT%H:%M:%SZ")})
        m = STATUS.match(path)
        if m:
            try:
                s = json.loads(body)
            except ValueError:
                s = {}
            with lock:
                calls["status"] += 1
                statuses.setdefault(m.group(3), []).append(
                    (s.get("state"), s.get("description")))
            return self.answer(201, {"id": calls["status"], "state": s.get("state"),
                                     "context": s.get("context")})
        with lock:
            calls["other"] += 1
        self.answer(404, {"message": "Not Found"})

    def do_GET(self):
        self.read_body()
        path = self.path.split("?")[0]
        if path == "/_stats":
            with lock:
                per_sha = {k: list(v) for k, v in statuses.items()}
                out = {"calls": dict(calls), "bytes_in": bytes_in[0], "statuses": per_sha}
            return self.answer(200, out)
        if path == "/app/hook/deliveries":
            with lock:
                calls["deliveries"] += 1
            return self.answer(200, [])
        with lock:
            calls["other"] += 1
        self.answer(404, {"message": "Not Found"})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client closing a kept-alive connection is not news


server = Server(("127.0.0.1", 0), Handler)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
