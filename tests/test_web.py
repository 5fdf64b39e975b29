"""The page of `make web` in Debian's Chromium (Playwright): build/classifier.wasm transpiled by
jco runs in the browser, served by nothing but a static file server, and its answers for a
photo and for a non-image are the HTTP server's for the same bytes."""

import functools
import http.server
import json
import subprocess
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

from conftest import ARTIFACTS, MODEL, ROOT, WASM, require
from photos import CAT_CLASSES, CHELSEA_JPEG

WEB = ROOT / "build" / "web"
NOT_AN_IMAGE = b"hello, this is not an image\n" * 10
# Records every text the status line shows (the download progress included), before app.js runs.
RECORD_STATUS = """
document.addEventListener('DOMContentLoaded', () => {
  window.statuses = [];
  const status = document.getElementById('status');
  new MutationObserver(() => window.statuses.push(status.textContent))
    .observe(status, { childList: true, characterData: true, subtree: true });
});
"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def static_site():
    """build/web (`make web`, up to date with build/classifier.wasm) on a plain static server."""
    require(WASM, MODEL)
    subprocess.run(["make", "-s", "web"], cwd=ROOT, check=True, capture_output=True)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(WEB)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def web_page(browser_page, static_site):
    """The page, once the component has downloaded and compiled; and every URL it requested."""
    page, errors = browser_page
    requested = []
    page.on("request", lambda r: requested.append(r.url))
    page.add_init_script(RECORD_STATUS)
    page.goto(static_site + "/")
    page.wait_for_selector("body[data-ready=true]")
    return page, errors, requested, static_site


def server_answer(server, body):
    """(status, JSON) of POST /predict with `body` on the HTTP server."""
    req = urllib.request.Request(server + "/predict?top_k=5", data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def pick(page, path):
    page.set_input_files("#file", str(path))


def test_page_shows_progress_while_the_component_loads(web_page):
    page, errors, requested, site = web_page
    statuses = page.evaluate("window.statuses")
    total_mb = f"{sum(json.loads((WEB / 'classifier' / 'core-modules.json').read_text()).values()) / 1e6:.1f}"
    prefix, suffix = "Downloading and compiling the component: ", f" of {total_mb} MB"
    received = [float(s[len(prefix) : -len(suffix)]) for s in statuses if s.startswith(prefix) and s.endswith(suffix)]
    assert len(received) > 10 and received == sorted(received), statuses  # it moved, in steps, forwards
    assert statuses[-2:] == ["Compiling the component...", statuses[-1]] and "efficientnet-lite0 ready" in statuses[-1]
    assert all(url.startswith(site + "/") for url in requested), requested  # nothing but the static site
    assert errors == []


def test_photo_is_classified_in_the_browser_as_the_server_does(web_page, server, tmp_path):
    from playwright.sync_api import expect

    page, errors, requested, site = web_page
    photo = tmp_path / "chelsea.jpg"
    photo.write_bytes(CHELSEA_JPEG)
    pick(page, photo)
    items = page.locator("#predictions li")
    expect(items).to_have_count(5)
    browser = [
        {
            "index": int(item.get_attribute("data-index")),
            "label": item.get_attribute("data-label"),
            "score": float(item.get_attribute("data-score")),
        }
        for item in items.all()
    ]
    status, answer = server_answer(server, CHELSEA_JPEG)
    assert status == 200 and browser[0]["index"] in CAT_CLASSES
    # The typed interface carries scores as f32; HTTP's JSON has the float64 they come from.
    assert browser == [dict(p, score=float(np.float32(p["score"]))) for p in answer["predictions"]]
    assert float(page.locator("#status").get_attribute("data-ms")) > 0
    assert "ms in this browser" in page.locator("#status").inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-predictions-{server.host}.png"), full_page=True)
    assert all(url.startswith(site + "/") or url.startswith("blob:") for url in requested), requested
    assert errors == []


def test_non_image_shows_the_same_error_as_the_server(web_page, server, tmp_path):
    from playwright.sync_api import expect

    page, errors, _, _ = web_page
    status, answer = server_answer(server, NOT_AN_IMAGE)
    assert status == 400
    notes = tmp_path / "notes.txt"
    notes.write_bytes(NOT_AN_IMAGE)
    pick(page, notes)
    expect(page.locator("#status")).to_have_class("error")
    expect(page.locator("#status")).to_have_text(answer["error"])
    expect(page.locator("#predictions li")).to_have_count(0)
    assert errors == []
