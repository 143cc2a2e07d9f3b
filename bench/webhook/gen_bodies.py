#!/usr/bin/env python3
"""Writes N signed pull_request bodies for wrk: records separated by 0x1e, each
"signature 0x1f body". Bodies are ~28 KB like GitHub's; each has its own PR number and
head SHA so that every delivery creates a job (the intake's full path)."""
import hashlib, hmac, json, os, sys

secret, count, out = sys.argv[1].encode(), int(sys.argv[2]), sys.argv[3]
fixture = os.path.join(os.path.dirname(__file__), "../../../shared/fixtures/github/pull_request/opened.payload.json")
if os.path.exists(fixture):
    template = json.load(open(fixture))
else:  # a synthetic payload of the same size and shape
    template = {"action": "opened", "number": 1,
                "pull_request": {"number": 1, "title": "Add users table", "draft": False,
                                 "user": {"login": "octocat"}, "body": "x" * 20000,
                                 "head": {"sha": "0" * 40, "ref": "feature"},
                                 "base": {"sha": "1" * 40, "ref": "main"}},
                "repository": {"full_name": "Codertocat/Hello-World",
                               "clone_url": "https://github.com/Codertocat/Hello-World.git",
                               "description": "y" * 6000},
                "sender": {"login": "octocat"}}
with open(out, "wb") as f:
    for i in range(count):
        p = template
        p["number"] = p["pull_request"]["number"] = 100000 + i
        p["pull_request"]["head"]["sha"] = hashlib.sha1(b"bench%d" % i).hexdigest()
        body = json.dumps(p, indent=2).encode()
        sig = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        f.write(sig.encode() + b"\x1f" + body + b"\x1e")
print(len(body))
