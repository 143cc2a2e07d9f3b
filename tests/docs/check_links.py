#!/usr/bin/env python3
"""Every relative link of README.md and docs/*.md resolves inside the tree: the file
exists, the path does not climb out of the tree, and a #fragment names a heading of the
target (GitHub's anchor rules: lower case, punctuation dropped, spaces to hyphens,
duplicates numbered). Absolute URLs (http:, https:, mailto:) are not fetched."""
import glob
import os
import re
import sys

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def strip_code(lines):
    """The lines outside fenced code blocks, with inline code removed."""
    out, fenced = [], False
    for line in lines:
        if FENCE.match(line):
            fenced = not fenced
            out.append("")
            continue
        out.append("" if fenced else re.sub(r"`[^`]*`", "", line))
    return out


def anchor(text, seen):
    text = re.sub(r"`", "", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    a = re.sub(r"[^\w\- ]", "", text.lower(), flags=re.UNICODE).replace(" ", "-")
    n = seen.get(a, 0)
    seen[a] = n + 1
    return a if n == 0 else "%s-%d" % (a, n)


def anchors(path, cache={}):
    if path not in cache:
        seen, found, fenced = {}, set(), False
        with open(path, encoding="utf-8") as f:
            for line in f:
                if FENCE.match(line):
                    fenced = not fenced
                    continue
                m = HEADING.match(line)
                if m and not fenced:
                    found.add(anchor(m.group(2), seen))
        cache[path] = found
    return cache[path]


def check(root, files):
    problems = []
    root = os.path.realpath(root)
    for md in files:
        with open(md, encoding="utf-8") as f:
            lines = strip_code(f.read().split("\n"))
        for n, line in enumerate(lines, 1):
            for m in list(LINK.finditer(line)) + list(IMAGE.finditer(line)):
                target = m.group(1)
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                    continue
                file_part, _, frag = target.partition("#")
                dest = os.path.realpath(os.path.join(os.path.dirname(md), file_part)) \
                    if file_part else os.path.realpath(md)
                where = "%s:%d: %s" % (md, n, target)
                if not (dest == root or dest.startswith(root + os.sep)):
                    problems.append(where + ": points outside the tree")
                elif not os.path.exists(dest):
                    problems.append(where + ": no such file")
                elif frag and dest.endswith(".md") and frag not in anchors(dest):
                    problems.append(where + ": no heading with that anchor")
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    files = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    files = [f for f in files if os.path.exists(f)]
    problems = check(root, files)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    print("links ok: %d files" % len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
