#!/usr/bin/env python3
"""Prepares signed pull_request deliveries for wrk without holding every body in memory:
OUT.tpl is one ~28 KB payload with \\x01 where the PR number goes and \\x02 where the head
SHA goes; OUT.idx has a line "NUMBER SHA SIGNATURE" per delivery, the signature being
GitHub's HMAC-SHA256 of the body the template makes with that number and SHA. Each
delivery has its own PR, so every one creates a job (the intake's full path).
usage: gen_bodies.py SECRET COUNT OUT [FIRST_INDEX]"""
import hashlib, hmac, json, os, sys

secret, count, out = sys.argv[1].encode(), int(sys.argv[2]), sys.argv[3]
first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
# A real payload from the shared fixtures, when present (found as the tests find them:
# ZONECI_FIXTURES, else beside the tree), else the synthetic one below.
fixtures = os.environ.get("ZONECI_FIXTURES") or os.path.join(os.path.dirname(__file__),
                                                             "../../../shared/fixtures")
fixture = os.path.join(fixtures, "github/pull_request/opened.payload.json")
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
template["number"] = template["pull_request"]["number"] = 918273645
template["pull_request"]["head"]["sha"] = "f" * 40
text = json.dumps(template, indent=2).encode()
tpl = text.replace(b"918273645", b"\x01").replace(b"f" * 40, b"\x02")
open(out + ".tpl", "wb").write(tpl)
with open(out + ".idx", "w") as f:
    for i in range(first, first + count):
        number = b"%09d" % (100000000 + i)
        sha = hashlib.sha1(b"bench%d" % i).hexdigest().encode()
        body = tpl.replace(b"\x01", number).replace(b"\x02", sha)
        f.write("%s %s sha256=%s\n" % (number.decode(), sha.decode(),
                                       hmac.new(secret, body, hashlib.sha256).hexdigest()))
print(len(body))
