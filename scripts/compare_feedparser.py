#!/usr/bin/env python3
"""Compare feedwatch's feed reader with Python's feedparser, the most forgiving parser there is.

A development tool only: cargo test and CI never need it. It runs feedparser and
`feedwatch feeds parse FILE --format json` over every *.xml / *.rss / *.atom / *.rdf / *.json
file under the given directories and reports:

  (a) of the files feedparser reads without `bozo` (well-formed), the share feedwatch parses;
  (b) agreement on the feed title, the item titles and the item summaries, both sides
      normalised to plain text (tags stripped, entities decoded, whitespace collapsed).

Titles are compared wherever either side has one; summaries wherever feedparser has a non-empty
one (we fall back to the content's text when an item has no summary, feedparser does not, so an
extra summary of ours is not counted against us). Items are paired by position. feedparser's
values are normalised as HTML unless its `*_detail.type` says text/plain; ours are plain text
already, so only their whitespace is collapsed.

The files are split into two halves by a hash of their path relative to the directory given,
so one half can be used to improve the reader and the other kept for an honest figure:
`--half A` / `--half B` / `--half all`.

Setup (never inside the repository):
    python3 -m venv /tmp/fpvenv && /tmp/fpvenv/bin/pip install feedparser==6.0.12
    /tmp/fpvenv/bin/python scripts/compare_feedparser.py --half A \
        --feedwatch target/debug/feedwatch /tmp/fp/feedparser-6.0.12/tests/wellformed
"""

import argparse
import concurrent.futures
import hashlib
import html
import json
import os
import re
import subprocess
import sys

try:
    import feedparser
except ImportError:  # pragma: no cover
    sys.exit("feedparser is not installed: pip install feedparser==6.0.12 (in a venv)")

EXTENSIONS = (".xml", ".rss", ".atom", ".rdf", ".json")
BLOCK = (
    "address|article|aside|blockquote|br|caption|dd|details|div|dl|dt|figcaption|figure|"
    "footer|form|h[1-6]|header|hr|li|main|nav|ol|p|pre|section|summary|table|tbody|td|tfoot|"
    "th|thead|tr|ul"
)
BLOCK_TAG = re.compile(r"</?(?:%s)\b[^>]*>" % BLOCK, re.I)
DROPPED = re.compile(r"<(script|style|template)\b[^>]*>.*?</\1\s*>", re.I | re.S)
COMMENT = re.compile(r"<!--.*?-->", re.S)
TAG = re.compile(r"</?[A-Za-z][^>]*>")


def normalise(text):
    """Plain text of a string that may hold HTML."""
    if text is None:
        return ""
    text = COMMENT.sub("", text)
    text = DROPPED.sub("", text)
    text = BLOCK_TAG.sub(" ", text)
    text = TAG.sub("", text)
    text = html.unescape(text)
    return " ".join(text.split())


def plain(text):
    """Our side is plain text already: only whitespace is collapsed."""
    return " ".join((text or "").split())


def fp_text(obj, key):
    """feedparser's value as plain text: HTML unless its detail says plain text."""
    value = obj.get(key)
    detail = obj.get(key + "_detail") or {}
    if detail.get("type") == "text/plain":
        return plain(value)
    return normalise(value)


def half_of(relpath):
    return "A" if hashlib.sha256(relpath.encode()).digest()[0] % 2 == 0 else "B"


def files_under(root):
    for base, _, names in os.walk(root):
        for name in sorted(names):
            if name.endswith(EXTENSIONS) and not name.endswith(".expected.json"):
                path = os.path.join(base, name)
                yield path, os.path.relpath(path, root)


def run_feedwatch(binary, path):
    try:
        done = subprocess.run(
            [binary, "feeds", "parse", path, "--format", "json"],
            capture_output=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        return None, "timeout"
    if done.returncode != 0:
        return None, done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
    try:
        return json.loads(done.stdout), None
    except ValueError as err:
        return None, "bad json: %s" % err


class Tally:
    def __init__(self):
        self.right = 0
        self.total = 0

    def add(self, right):
        self.total += 1
        self.right += bool(right)

    def __str__(self):
        if not self.total:
            return "   n/a  (0/0)"
        return "%6.1f%%  (%d/%d)" % (100.0 * self.right / self.total, self.right, self.total)


def compare(path, rel, binary):
    parsed = feedparser.parse(path)
    ours, error = run_feedwatch(binary, path)
    return rel, parsed, ours, error


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--feedwatch", default="target/debug/feedwatch")
    ap.add_argument("--half", choices=["A", "B", "all"], default="all")
    ap.add_argument("--show", type=int, default=0, help="print up to N mismatches of each kind")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()

    work = []
    for root in args.dirs:
        for path, rel in files_under(root):
            rel = os.path.join(os.path.basename(os.path.normpath(root)), rel)
            if args.half == "all" or half_of(rel) == args.half:
                work.append((path, rel))

    wellformed = Tally()
    illformed = Tally()
    feed_titles = Tally()
    item_titles = Tally()
    summaries = Tally()
    shown = {"parse": [], "feed title": [], "item title": [], "summary": []}

    def note(kind, rel, expected, got):
        if len(shown[kind]) < args.show:
            shown[kind].append((rel, expected, got))

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda w: compare(w[0], w[1], args.feedwatch), work))

    for rel, fp, ours, error in results:
        bozo = bool(fp.get("bozo"))
        (illformed if bozo else wellformed).add(ours is not None)
        if ours is None:
            if not bozo:
                note("parse", rel, "parsed by feedparser", error)
            continue
        if bozo:
            continue
        want = fp_text(fp.feed, "title")
        got = plain(ours.get("title"))
        if want or got:
            feed_titles.add(want == got)
            if want != got:
                note("feed title", rel, want, got)
        fp_entries = fp.entries
        our_items = ours.get("items") or []
        for i in range(max(len(fp_entries), len(our_items))):
            entry = fp_entries[i] if i < len(fp_entries) else {}
            item = our_items[i] if i < len(our_items) else {}
            want = fp_text(entry, "title")
            got = plain(item.get("title"))
            if want or got:
                item_titles.add(want == got)
                if want != got:
                    note("item title", "%s#%d" % (rel, i), want, got)
            want = fp_text(entry, "summary")
            if want:
                got = plain(item.get("summary"))
                summaries.add(want == got)
                if want != got:
                    note("summary", "%s#%d" % (rel, i), want, got)

    print("files: %d (half %s)" % (len(work), args.half))
    print("(a) feedwatch parses, of the files feedparser reads without bozo: %s" % wellformed)
    print("    feedwatch parses, of the files feedparser flags as bozo:       %s" % illformed)
    print("(b) feed titles agree:   %s" % feed_titles)
    print("    item titles agree:   %s" % item_titles)
    print("    item summaries agree: %s" % summaries)
    for kind, rows in shown.items():
        if rows:
            print("\n-- %s mismatches --" % kind)
            for rel, want, got in rows:
                print("%s\n   feedparser: %r\n   feedwatch:  %r" % (rel, want, got))


if __name__ == "__main__":
    main()
