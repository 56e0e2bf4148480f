"""The static tree's index.html in Debian's headless Chromium, at a desktop and a phone width."""

from __future__ import annotations

import shutil

import pytest
from servers import FsdgimgServe, have

from static.conftest import public_tree, publish, run

# Every line box of every text node; two boxes of different text nodes must not overlap, nothing may be
# cut off at the right edge, and the page must not scroll sideways.
MEASURE = """(() => {
  const boxes = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node, n = 0;
  while ((node = walker.nextNode())) {
    if (!node.textContent.trim()) continue;
    const el = node.parentElement;
    if (el.closest("[hidden]") || getComputedStyle(el).display === "none") continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects())
      if (r.width > 0 && r.height > 0)
        boxes.push({node: n, text: node.textContent.trim().slice(0, 40), x: r.left, y: r.top + scrollY,
                    right: r.right, bottom: r.bottom + scrollY});
    n++;
  }
  const overlaps = [];
  for (let i = 0; i < boxes.length; i++)
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.node === b.node) continue;
      const w = Math.min(a.right, b.right) - Math.max(a.x, b.x), h = Math.min(a.bottom, b.bottom) - Math.max(a.y, b.y);
      if (w > 1 && h > 1) overlaps.push([a.text, b.text]);
    }
  return {overlaps: overlaps.slice(0, 10), boxes: boxes.length,
          scrollWidth: document.documentElement.scrollWidth, width: innerWidth,
          cut: boxes.filter(b => b.right > innerWidth + 1).map(b => b.text).slice(0, 10),
          note: !(document.getElementById("plain-http") || {hidden: true}).hidden,
          commands: [...document.querySelectorAll("pre")].map(p => p.textContent),
          text: document.body.innerText, height: document.documentElement.scrollHeight};
})()"""


@pytest.fixture(scope="module")
def page_tree(images, tmp_path_factory):
    base = public_tree("page")
    tree = base / "tree"
    for name, attr in [("trisquel/base", "a"), ("guix/system-with-a-long-name/for-testing", "multi"),
                       ("pureos/d2", "docker"), ("other/a", "a")]:
        publish(images, getattr(images, attr), tree, name, "--additional-tag", "latest")
    epoch0 = tmp_path_factory.mktemp("epoch0") / "oci"
    run("convert", images.root / "rootfs" / "b", f"oci:{epoch0}:v0", "--source-date-epoch", "0")
    run("publish", f"oci:{epoch0}:v0", "--to", f"static:{tree}", "--name", "old/epoch:v0")
    yield tree
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    if not have("chromium"):
        pytest.skip("chromium is not installed")
    from static.chromium import Chromium
    b = Chromium()
    yield b
    b.close()


def test_page_content(images, page_tree):
    page = (page_tree / "index.html").read_text()
    assert "docker pull" in page and "podman pull" in page and "1970-01-01" not in page
    # a shared blob counted once: the page's total is what the store holds (manifests and blobs)
    stored = sum(p.stat().st_size for p in (page_tree / "v2" / "_store" / "sha256").iterdir())
    from fsdgimg.transports.static.page import human_size
    assert f"{human_size(stored)} stored" in page


@pytest.mark.parametrize("width", [1280, 390])
def test_page_in_chromium(width, browser, page_tree, images, tmp_path):
    with FsdgimgServe(tmp_path / "serve", page_tree) as server:
        host = f"127.0.0.1:{server.port}"
        tab = browser.open(f"http://{host}/", width)
        m = tab.evaluate(MEASURE)
        (tmp_path / f"page-{width}.png").write_bytes(tab.screenshot())
        tab.close()
    assert m["boxes"] > 50
    assert not m["overlaps"], m["overlaps"]
    assert not m["cut"] and m["scrollWidth"] <= m["width"], (m["cut"], m["scrollWidth"], m["width"])
    assert m["note"]  # served over plain HTTP: the note says what clients need
    assert f"docker pull {host}/trisquel/base:latest" in m["commands"]
    assert f"podman pull {host}/trisquel/base@{images.digest(images.a)}" in m["commands"]
    assert "1970" not in m["text"] and "not recorded" in m["text"]
    assert (tmp_path / f"page-{width}.png").stat().st_size > 10000


def test_page_opened_as_a_file_names_no_empty_host(browser, page_tree):
    tab = browser.open(f"file://{page_tree / 'index.html'}", 1280)
    m = tab.evaluate(MEASURE)
    tab.close()
    assert m["commands"] and all(" HOST/" in c or "docker://HOST/" in c for c in m["commands"]), m["commands"][:4]
    assert not m["note"]


def test_phone_layout_is_not_the_desktop_one(browser, page_tree, tmp_path):
    """The two widths give different layouts (stacked rows on the phone), compared by their screenshots."""
    shots, heights, header = [], [], []
    with FsdgimgServe(tmp_path / "serve", page_tree) as server:
        for width in (1280, 390):
            tab = browser.open(f"http://127.0.0.1:{server.port}/", width)
            heights.append(tab.evaluate("document.documentElement.scrollHeight"))
            header.append(tab.evaluate("getComputedStyle(document.querySelector('thead')).display"))
            shots.append(tab.screenshot())
            tab.close()
    assert shots[0] != shots[1] and heights[1] > heights[0] * 1.3, heights
    assert header == ["table-header-group", "none"]
