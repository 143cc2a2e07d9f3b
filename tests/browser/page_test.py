#!/usr/bin/env python3
"""The status page in a real browser: headless Chromium against a real `zoneci serve`.

Starts redis-server on a temporary socket and `zoneci serve` with operator tokens, makes a
local git repository whose pull request adds a risky migration, sends the signed
pull_request event and waits until the job awaits approval. Then Chromium (driven over
the DevTools protocol on --remote-debugging-pipe: JSON messages separated by NUL bytes on
fds 3 and 4) signs in through the page's form, reads the rendered DOM (the regions, the
job, the pending approval with its finding), clicks Approve with a real mouse event, and
the test checks through the API that the job was approved by the operator.

Usage: page_test.py PATH/TO/zoneci. Exits 0 when it passes, 1 when it fails, and 0 with a
"SKIP:" line only when Chromium cannot start at all.
"""
import hashlib
import hmac
import json
import os
import queue
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

GH_SECRET = "browser-secret"
TOKEN = "browser-operator-token-42"
OPERATOR = "dba-lead"
ONCALL = "UONCALLBROWSER"
TITLE = "drop email <img src=x onerror=alert(1)>"


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Watched:
    """A child process whose output is read line by line as it comes (and kept in a log
    file): the test waits for the line that says a thing happened, never on a clock."""

    def __init__(self, argv, log_path, env=None):
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines = queue.Queue()
        self.log = open(log_path, "w")
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stdout:
            self.log.write(line)
            self.log.flush()
            self.lines.put(line)
        self.lines.put(None)

    def wait_line(self, text, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0))
            except queue.Empty:
                fail("timed out waiting for " + what)
            if line is None:
                fail("the process exited before " + what)
            if text in line:
                return line

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=None):
        return self.proc.wait(timeout=timeout)

    def kill(self):
        self.proc.kill()


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def sh(cmd, cwd):
    subprocess.run(cmd, cwd=cwd, shell=True, check=True, stdout=subprocess.DEVNULL)


def make_repo(root):
    repo = os.path.join(root, "app")
    os.makedirs(os.path.join(repo, "db"))
    sh("git init -q -b main . && git config user.email t@example.com && "
       "git config user.name t", repo)
    with open(os.path.join(repo, "db/001_users.sql"), "w") as f:
        f.write("CREATE TABLE users (id bigint PRIMARY KEY, email text);\n")
    sh("git add . && git commit -q -m base && git checkout -q -b risky", repo)
    with open(os.path.join(repo, "db/002_drop_email.sql"), "w") as f:
        f.write("ALTER TABLE users DROP COLUMN email;\n")
    sh("git add . && git commit -q -m risky && git checkout -q main", repo)
    rev = lambda b: subprocess.run(["git", "rev-parse", b], cwd=repo, check=True,
                                   capture_output=True, text=True).stdout.strip()
    return repo, rev("main"), rev("risky")


class Browser:
    """Chromium over --remote-debugging-pipe: fd 3 carries our commands, fd 4 its answers."""

    def __init__(self, binary, profile):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def child_fds():
            # Dup the read end first: it is the lower fd, so writing 3 never clobbers
            # the write end. Python's pipes are close-on-exec; these two must survive.
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        args = [binary, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                "--remote-debugging-pipe", "--user-data-dir=" + profile, "about:blank"]
        # close_fds=False: subprocess would close 3 and 4 after preexec_fn otherwise;
        # every other fd of ours is close-on-exec anyway.
        self.proc = subprocess.Popen(args, close_fds=False, preexec_fn=child_fds, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buf = b""
        self.next_id = 0
        self.session = None
        self.events = []

    def send(self, method, params=None, session=True, timeout=20):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError("%s: %s" % (method, reply["error"]))
                    return reply.get("result", {})
                if "method" in reply:
                    self.events.append(reply["method"])
            self._read(deadline, method)

    def _read(self, deadline, what):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([self.from_browser], [], [], left)[0]:
            raise TimeoutError(what)
        chunk = os.read(self.from_browser, 1 << 16)
        if not chunk:
            raise EOFError("chromium closed the pipe")
        self.buf += chunk

    def wait_event(self, method, timeout, what):
        """Waits for the DevTools event `method` (kept if it came during a command)."""
        deadline = time.monotonic() + timeout
        while method not in self.events:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                event = json.loads(raw).get("method")
                if event:
                    self.events.append(event)
            if method in self.events:
                break
            try:
                self._read(deadline, what)
            except TimeoutError:
                fail("timed out waiting for " + what)
        self.events.remove(method)

    def load(self, action, what):
        """Runs action (which navigates) and waits until the new page has loaded."""
        self.events = [e for e in self.events if e != "Page.loadEventFired"]
        action()
        self.wait_event("Page.loadEventFired", 20, what)

    def open_tab(self):
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        att = self.send("Target.attachToTarget",
                        {"targetId": target["targetId"], "flatten": True}, session=False)
        self.session = att["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")

    def eval(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError("script failed: %s" % r["exceptionDetails"])
        return r["result"].get("value")

    def click(self, selector):
        """A real mouse click in the middle of the element."""
        box = self.eval("(function(){var e=document.querySelector(%s);e.scrollIntoView();"
                        "var r=e.getBoundingClientRect();return [r.left+r.width/2,"
                        "r.top+r.height/2];})()" % json.dumps(selector))
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1],
                                                   "button": "left", "clickCount": 1})

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def main():
    if len(sys.argv) != 2:
        print("usage: page_test.py PATH/TO/zoneci", file=sys.stderr)
        return 2
    zoneci = os.path.abspath(sys.argv[1])
    chromium = find_chromium()
    if not chromium:
        print("SKIP: no chromium on PATH (apt-get install chromium)")
        return 0
    root = tempfile.mkdtemp(prefix="zoneci-browser-")
    procs = []
    browser = None
    try:
        # A browser that cannot start is the one reason to skip: check it first.
        browser = Browser(chromium, os.path.join(root, "profile"))
        try:
            version = browser.send("Browser.getVersion", session=False, timeout=60)
        except (TimeoutError, EOFError, OSError) as e:
            print("SKIP: chromium did not start (%s: %s)" % (type(e).__name__, e))
            return 0
        print("browser: " + version.get("product", "?"), flush=True)

        sock = os.path.join(root, "redis.sock")
        redis = Watched(
            ["redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
             "--dir", root, "--save", "", "--appendonly", "no", "--logfile", ""],
            os.path.join(root, "redis.log"))
        procs.append(redis)
        redis.wait_line("ready to accept connections", 10, "redis-server")

        repo, main_sha, risky_sha = make_repo(root)
        port = free_port()
        base = "http://127.0.0.1:%d" % port
        config = {
            "server": {"listen": "127.0.0.1:%d" % port, "threads": 4,
                       "public_url": base},
            "redis": {"url": "unix://" + sock, "prefix": "br"},
            "cache_dir": os.path.join(root, "cache"),
            "github": {"webhook_secret_env": "ZT_GH_SECRET", "allow_local_repos": True},
            "api": {"tokens_env": "ZT_API_TOKENS"},
            "regions": [
                {"name": "always", "timezone": "Etc/UTC", "hours": ["Mon-Sun 00:00-24:00"],
                 "oncall": [ONCALL]},
                {"name": "tokyo", "timezone": "Asia/Tokyo", "hours": ["Mon-Fri 09:00-18:00"]}],
            "policies": [{"repos": ["acme/*"], "regions": ["always"],
                          "migrations": {"paths": ["db/**/*.sql"], "approval": "risky",
                                         "approvers": [ONCALL]}}],
        }
        cfg_path = os.path.join(root, "zoneci.json")
        with open(cfg_path, "w") as f:
            json.dump(config, f)
        env = dict(os.environ, ZT_GH_SECRET=GH_SECRET,
                   ZT_API_TOKENS="%s:%s" % (OPERATOR, TOKEN))
        serve = Watched([zoneci, "serve", "--config", cfg_path],
                        os.path.join(root, "zoneci.log"), env)
        procs.append(serve)
        serve.wait_line("event=listening", 30, "zoneci serve")
        # Redis says when a job enters awaiting_approval (a keyspace event on the state set).
        subprocess.run(["redis-cli", "-s", sock, "config", "set", "notify-keyspace-events",
                        "Kz"], check=True, stdout=subprocess.DEVNULL)
        awaiting = Watched(["stdbuf", "-oL", "redis-cli", "-s", sock, "--csv", "subscribe",
                            "__keyspace@0__:{br}:state:awaiting_approval"],
                           os.path.join(root, "keyspace.log"))
        procs.append(awaiting)
        awaiting.wait_line('"subscribe"', 10, "the keyspace subscription")

        event = json.dumps({
            "action": "opened", "number": 5,
            "pull_request": {"number": 5, "title": TITLE, "user": {"login": "octocat"},
                             "head": {"sha": risky_sha, "ref": "risky"},
                             "base": {"sha": main_sha, "ref": "main"}},
            "repository": {"full_name": "acme/app", "clone_url": "file://" + repo},
            "installation": {"id": 42}}).encode()
        sig = "sha256=" + hmac.new(GH_SECRET.encode(), event, hashlib.sha256).hexdigest()
        status, body = http("POST", base + "/webhooks/github", event, {
            "Content-Type": "application/json", "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": "browser-1", "X-Hub-Signature-256": sig})
        if status != 202:
            fail("webhook: %d %s" % (status, body))
        job = json.loads(body)["job_id"]
        auth = {"Authorization": "Bearer " + TOKEN}

        def job_field(name):
            s, b = http("GET", "%s/api/v1/jobs/%s" % (base, job), headers=auth)
            return json.loads(b).get(name) if s == 200 else None

        awaiting.wait_line('"zadd"', 60, "job %s to await approval" % job)
        if job_field("state") != "awaiting_approval":
            fail("job %s: %r" % (job, job_field("state")))

        browser.open_tab()
        browser.load(lambda: browser.send("Page.navigate", {"url": base + "/"}), "the page")
        if not browser.eval("!!document.querySelector('form[action=\"/login\"] #token')"):
            fail("no login form")
        browser.load(lambda: browser.eval(
            "document.querySelector('#token').value=%s;"
            "document.querySelector('form[action=\"/login\"]').submit();true"
            % json.dumps(TOKEN)), "the page after signing in")
        if not browser.eval("!!document.querySelector('#regions')"):
            fail("no status page after signing in")

        dom = browser.eval("""(function(){
            var q=function(s){return document.querySelector(s);};
            var regions=[].map.call(document.querySelectorAll('#regions tr[data-region]'),
              function(r){return [r.dataset.region, r.querySelector('.state').textContent];});
            var job=q('#jobs tr.job[data-job="%(job)s"]');
            var apv=q('.approval[data-job="%(job)s"]');
            return {regions: regions, operator: (q('#operator')||{}).textContent,
                    jobState: job && job.querySelector('.state').textContent,
                    jobTitle: job && job.querySelector('.title').textContent,
                    approval: !!apv, rule: apv && apv.querySelector('.rule').textContent,
                    statement: apv && apv.querySelector('.statement').textContent,
                    injected: document.querySelectorAll('img').length,
                    timeline: document.querySelectorAll('#timeline td.now').length,
                    tzdata: (q('#tzdata')||{}).textContent};
        })()""" % {"job": job})
        print("dom: " + json.dumps(dom), flush=True)
        if sorted(dict(dom["regions"])) != ["always", "tokyo"]:
            fail("regions: %r" % dom["regions"])
        if dict(dom["regions"])["always"] != "open":
            fail("region always is not shown open")
        if dom["operator"] != OPERATOR:
            fail("signed in as %r" % dom["operator"])
        if dom["jobState"] != "awaiting_approval" or dom["jobTitle"] != TITLE:
            fail("job row: %r %r" % (dom["jobState"], dom["jobTitle"]))
        if not dom["approval"] or not dom["rule"] or "DROP COLUMN" not in dom["statement"]:
            fail("approval: %r" % dom)
        if dom["injected"] != 0:
            fail("the hostile title became markup")
        if dom["timeline"] != 2 or not dom["tzdata"]:
            fail("timeline or tz data missing: %r" % dom)

        browser.click('.approval[data-job="%s"] button[data-action="approve"]' % job)
        serve.wait_line("event=job_decided job=%s decision=approved" % job, 20,
                        "the click to approve job %s" % job)
        if job_field("decision") != "approved":
            fail("decision %r" % job_field("decision"))
        if job_field("decided_by") != OPERATOR:
            fail("decided by %r" % job_field("decided_by"))
        print("PASS: the page showed regions, job %s and its approval; a click approved it"
              % job, flush=True)
        return 0
    finally:
        if browser:
            browser.close()
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
