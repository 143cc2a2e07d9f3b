#!/usr/bin/env python3
"""The local peer of examples/demo.sh: plays Slack's Web API and GitHub's REST API on
127.0.0.1 so that the demo runs offline, and prints to the terminal what zoneci sends
them, readably. Python's standard library only.

  demo-peer.py serve DIR     listen on a free port, write it to DIR/peer.port, print each
                             Slack card and commit status, and record them in DIR/peer.log
                             (one JSON object a line) and the card's Approve button value
                             in DIR/approve.value, for the demo and its check to read
  demo-peer.py click URL SECRET USER VALUE
                             post a Slack block_actions interaction (the Approve button)
                             the way Slack does: form-encoded payload, v0 signature
"""
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOLD, DIM, CYAN, GREEN, YELLOW, RESET = "\033[1m", "\033[2m", "\033[36m", "\033[32m", "\033[33m", "\033[0m"
if not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
    BOLD = DIM = CYAN = GREEN = YELLOW = RESET = ""


def say(lines):
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()


def block_text(block):
    """The readable text of one Block Kit block, or None."""
    kind = block.get("type")
    if kind == "header":
        return BOLD + block["text"]["text"] + RESET
    if kind == "section":
        text = block.get("text", {}).get("text", "")
        fields = [f.get("text", "") for f in block.get("fields", [])]
        return "\n".join([t for t in [text] + fields if t])
    if kind == "context":
        return DIM + "  ".join(e.get("text", "") for e in block.get("elements", [])) + RESET
    if kind == "actions":
        return "  ".join("[ " + e["text"]["text"] + " ]" for e in block.get("elements", []))
    if kind == "divider":
        return DIM + "-" * 40 + RESET
    return None


def print_card(method, body):
    title = "Slack card posted to " if method == "chat.postMessage" else "Slack card updated in "
    lines = ["", CYAN + "+-- " + title + body.get("channel", "?") + " " + "-" * 20 + RESET]
    for block in body.get("blocks", []):
        text = block_text(block)
        if text:
            for line in text.split("\n"):
                lines.append(CYAN + "| " + RESET + line)
    lines.append(CYAN + "+" + "-" * 60 + RESET)
    say(lines)


def approve_value(body):
    for block in body.get("blocks", []):
        for e in block.get("elements", []) if block.get("type") == "actions" else []:
            if e.get("action_id") == "zoneci_approve":
                return e.get("value")
    return None


class Peer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    messages = 0

    def log_message(self, *args):
        pass

    def answer(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self, entry):
        with open(os.path.join(self.server.dir, "peer.log"), "a") as f:
            f.write(json.dumps(entry) + "\n")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            return self.answer(400, {"message": "not JSON"})
        if path.startswith("/slack/chat."):
            method = path[len("/slack/"):]
            Peer.messages += 1
            print_card(method, req)
            self.record({"kind": "slack", "method": method, "channel": req.get("channel")})
            value = approve_value(req)
            if method == "chat.postMessage" and value:
                tmp = os.path.join(self.server.dir, "approve.value.tmp")
                with open(tmp, "w") as f:
                    f.write(value)
                os.replace(tmp, os.path.join(self.server.dir, "approve.value"))
            return self.answer(200, {"ok": True, "channel": req.get("channel"),
                                     "ts": req.get("ts") or "1700000000.%06d" % Peer.messages})
        if path.startswith("/gh/app/installations/") and path.endswith("/access_tokens"):
            expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
            return self.answer(201, {"token": "ghs_demo", "expires_at": expires})
        if path.startswith("/gh/repos/") and "/statuses/" in path:
            state = req.get("state", "?")
            colour = GREEN if state == "success" else YELLOW
            say([colour + "GitHub commit status " + path.rsplit("/", 1)[1][:7] + ": " + BOLD +
                 state + RESET + colour + "  " + req.get("description", "") + RESET])
            self.record({"kind": "status", "state": state, "description": req.get("description")})
            return self.answer(201, {"id": 1, "state": state})
        return self.answer(404, {"message": "Not Found (demo peer)"})


def serve(directory):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Peer)
    server.dir = directory
    tmp = os.path.join(directory, "peer.port.tmp")
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, os.path.join(directory, "peer.port"))
    server.serve_forever()


def click(url, secret, user, value):
    """A block_actions interaction as Slack posts it for a click on Approve."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "dba.one", "name": "dba.one", "team_id": "T0DEMO"},
        "api_app_id": "A0DEMO",
        "token": "deprecated-verification-token",
        "container": {"type": "message", "message_ts": "1700000000.000001",
                      "channel_id": "C0TOKYO", "is_ephemeral": False},
        "trigger_id": "1.2.3",
        "team": {"id": "T0DEMO", "domain": "demo"},
        "channel": {"id": "C0TOKYO", "name": "db-oncall"},
        "response_url": "https://hooks.slack.com/actions/T0DEMO/1/demo",
        "actions": [{"action_id": "zoneci_approve", "block_id": "zoneci_decision",
                     "text": {"type": "plain_text", "text": "Approve"}, "value": value,
                     "style": "primary", "type": "button", "action_ts": str(time.time())}],
    }
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body,
                           hashlib.sha256).hexdigest()
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig})
    with urllib.request.urlopen(req, timeout=10) as r:
        answer = json.loads(r.read() or b"{}")
    print("Slack shows the clicker: " + answer.get("text", json.dumps(answer)))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    elif len(sys.argv) == 6 and sys.argv[1] == "click":
        click(*sys.argv[2:])
    else:
        sys.exit(__doc__)
