"""The page at GET /, driven in headless Chromium (Debian's package) by Playwright: upload a
photo through the file input and read the predictions; upload a non-image and read the error;
upload several files at once and read one result each."""

import json
import urllib.error
import urllib.request

import pytest

from conftest import ARTIFACTS, MODEL
from photos import CAT_CLASSES, CHELSEA_JPEG, COFFEE_JPEG, ESPRESSO

LABELS = (MODEL.parent / "imagenet_classes.txt").read_text().splitlines()
NOT_AN_IMAGE = b"hello, this is not an image\n" * 10


def upload(page, server, path):
    page.goto(server + "/")
    page.set_input_files("#file", str(path))


def test_photo_upload_lists_a_cat_and_the_model(server, browser_page, tmp_path):
    from playwright.sync_api import expect

    photo = tmp_path / "chelsea.jpg"
    photo.write_bytes(CHELSEA_JPEG)
    page, errors = browser_page
    upload(page, server, photo)
    items = page.locator("#predictions li")
    expect(items).to_have_count(5)
    first = items.first.inner_text()
    cats = [LABELS[i] for i in CAT_CLASSES]
    assert any(first.startswith(label + " (") and first.rstrip().endswith("%)") for label in cats), first
    expect(page.locator("#status")).to_contain_text("efficientnet-lite0")
    assert page.locator("#status").get_attribute("class") != "error"
    assert page.locator("#preview").evaluate("img => img.complete && img.naturalWidth") == 451
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-predictions.png"), full_page=True)
    assert errors == []


def test_non_image_upload_shows_the_json_error(server, browser_page, tmp_path):
    from playwright.sync_api import expect

    request = urllib.request.Request(server + "/predict", data=NOT_AN_IMAGE, method="POST")
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=60)
    assert answer.value.code == 400
    error = json.loads(answer.value.read())["error"]
    notes = tmp_path / "notes.txt"
    notes.write_bytes(NOT_AN_IMAGE)
    page, errors = browser_page
    upload(page, server, notes)
    status = page.locator("#status")
    expect(status).to_have_class("error")
    expect(status).to_have_text(error)
    expect(page.locator("#predictions li")).to_have_count(0)
    assert errors == []


def test_several_files_get_one_result_each(server, browser_page, tmp_path):
    from playwright.sync_api import expect

    files = {"chelsea.jpg": CHELSEA_JPEG, "coffee.jpg": COFFEE_JPEG, "notes.txt": NOT_AN_IMAGE}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    page, errors = browser_page
    page.goto(server + "/")
    page.set_input_files("#file", [str(tmp_path / name) for name in files])
    sections = page.locator("#results section")
    expect(sections).to_have_count(3)
    assert [sections.nth(i).locator("h2").inner_text() for i in range(3)] == list(files)
    cat, coffee = (sections.nth(i).locator("li").first.inner_text() for i in range(2))
    assert any(cat.startswith(LABELS[i] + " (") for i in CAT_CLASSES), cat
    assert coffee.startswith(LABELS[ESPRESSO] + " (")
    expect(sections.nth(2).locator(".error")).to_contain_text("not an image")
    expect(page.locator("#predictions li")).to_have_count(0)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-several-files.png"), full_page=True)
    assert errors == []
