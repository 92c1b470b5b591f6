"""Checks on the DOM that headless Chromium dumped after loading a po3ad report.html
(see report-check.sh). Standard library only. Exit 1 with the failed checks listed."""
import re
import sys
from html.parser import HTMLParser


class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.stack_ids, self.html_attrs = [], [], {}
        self.by_id, self.cards, self.svgs, self.svg_paths = {}, 0, 0, 0
        self.text_in = {}  # id -> text inside it

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.html_attrs = a
        if "id" in a:
            self.by_id[a["id"]] = (tag, a)
        if tag == "div" and "card" in (a.get("class") or "").split():
            self.cards += 1
        if tag == "svg":
            self.svgs += 1
        if tag in ("path", "polyline", "rect", "line") and any(s == "svg" for s in self.stack):
            self.svg_paths += 1
        if tag not in ("img", "br", "meta", "input", "link", "hr", "source"):
            self.stack.append(tag)
            self.stack_ids.append(a.get("id"))

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()
            self.stack_ids.pop()

    def handle_data(self, data):
        for i in self.stack_ids:
            if i:
                self.text_in[i] = self.text_in.get(i, "") + data


def main():
    dom_path, log_path = sys.argv[1], sys.argv[2]
    expected_cards = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] else None
    d = Dom()
    d.feed(open(dom_path, encoding="utf-8").read())
    log = open(log_path, encoding="utf-8", errors="replace").read()
    fails = []
    if d.html_attrs.get("data-ready") != "1":
        fails.append("page scripts did not finish (no data-ready=1 on <html>)")
    if "data-js-errors" in d.html_attrs:
        fails.append("JavaScript errors: " + d.html_attrs["data-js-errors"])
    console = [l for l in log.splitlines() if "Uncaught" in l or ("CONSOLE" in l and "rror" in l)]
    if console:
        fails.append("console errors: " + " / ".join(console[:5]))
    # Three kinds of page: benchmark summary (table), category (table, curves, gallery,
    # viewer), predictions (gallery, viewer; no ground truth, so no table or curves).
    is_predictions = "gallery" in d.by_id and "summary-table" not in d.by_id
    is_category = "gallery" in d.by_id and not is_predictions
    table = d.text_in.get("summary-table", "")
    if not is_predictions and not re.search(r"\d+\.\d", table):
        fails.append("summary table missing or without numbers")
    if is_category or is_predictions:
        if is_category and (d.svgs < 3 or d.svg_paths < 10):
            fails.append(f"curves: {d.svgs} svg charts with {d.svg_paths} shapes")
        if d.cards == 0 or (expected_cards is not None and d.cards != expected_cards):
            fails.append(f"gallery: {d.cards} cards, expected {expected_cards or '> 0'}")
        canvas = d.by_id.get("viewer")
        if canvas is None:
            fails.append("no 3D canvas #viewer")
        else:
            lit = int(canvas[1].get("data-lit-pixels", "0"))
            if lit < 500:
                fails.append(f"3D canvas blank: {lit} lit pixels")
            print(f"3D canvas: {lit} lit pixels, renderer {canvas[1].get('data-renderer')}, "
                  f"checksum {canvas[1].get('data-checksum')}")
    print(f"scripts done {d.html_attrs.get('data-ready-ms', '?')} ms after navigation start")
    kind = "predictions" if is_predictions else "category" if is_category else "benchmark"
    print(f"{kind} page: {d.svgs} svg, {d.cards} cards")
    if fails:
        print("FAIL:\n  " + "\n  ".join(fails))
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
