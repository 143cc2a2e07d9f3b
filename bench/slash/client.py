"""bench/slash's client: one signed pull_request webhook, then N sequential requests of each
kind over one kept-alive connection; prints the median and 99th percentile latency of each
and their ratio to the peer (GET /api/v1/jobs/{id}). Signing happens before the clock
starts. usage: PORT=... GH_SECRET=... SLACK_SECRET=... client.py N"""
import hashlib
import hmac
import http.client
import json
import os
import sys
import time
import urllib.parse

n = int(sys.argv[1])
port = int(os.environ["PORT"])
conn = http.client.HTTPConnection("127.0.0.1", port)

pr = {"action": "opened", "number": 42,
      "pull_request": {"number": 42, "title": "Add <an index> & more",
                       "user": {"login": "octocat"},
                       "head": {"sha": "a" * 40, "ref": "f"},
                       "base": {"sha": "b" * 40, "ref": "main"}},
      "repository": {"full_name": "acme/app", "clone_url": ""},
      "installation": {"id": 1}}
body = json.dumps(pr).encode()
sig = "sha256=" + hmac.new(os.environ["GH_SECRET"].encode(), body, hashlib.sha256).hexdigest()
conn.request("POST", "/webhooks/github", body,
             {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "bench-1",
              "X-Hub-Signature-256": sig, "Content-Type": "application/json"})
r = conn.getresponse()
job = json.loads(r.read())["job_id"]
assert r.status == 202, r.status


def command(text):
    form = urllib.parse.urlencode({"command": "/zoneci", "text": text, "user_id": "U0BENCH",
                                   "channel_id": "C0BENCH"}).encode()
    ts = str(int(time.time()))
    mac = hmac.new(os.environ["SLACK_SECRET"].encode(), b"v0:" + ts.encode() + b":" + form,
                   hashlib.sha256).hexdigest()
    return ("POST", "/webhooks/slack/commands", form,
            {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + mac,
             "Content-Type": "application/x-www-form-urlencoded"})


def run(name, req, want):
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        conn.request(*req)
        resp = conn.getresponse()
        data = resp.read()
        lat.append(time.perf_counter() - t)
        assert resp.status == 200 and want in data, (name, resp.status, data[:200])
    lat.sort()
    return name, lat[len(lat) // 2] * 1e6, lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e6


kinds = [
    run("peer: GET /api/v1/jobs/{id}", ("GET", "/api/v1/jobs/" + job, None, {}), b'"state"'),
    run("/zoneci status acme/app#42", command("status acme/app#42"), b"acme/app#42"),
    run("/zoneci windows", command("windows"), b"REGION"),
    run("/zoneci oncall", command("oncall"), b"On call"),
    run("/zoneci help", command("help"), b"status OWNER/REPO#PR"),
]
peer = kinds[0][1]
print(f"{'request':32} {'median us':>10} {'p99 us':>10} {'median / peer':>14}")
for name, med, p99 in kinds:
    print(f"{name:32} {med:10.0f} {p99:10.0f} {med / peer:14.2f}")
