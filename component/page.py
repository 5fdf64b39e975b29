"""The page served at GET /: pick or drop images, see the model's top predictions for each.

One page source for both pages: upload_page/index.html (markup and style) is also the page of
`make web`, which runs upload_page/app.js in the browser; served here, it runs
upload_page/upload.js instead, inlined, which posts the files to POST /predict.

Read at import time: componentize-py imports this module at build time and snapshots the page,
since the component has no files of its own at run time.
"""
from pathlib import Path

SOURCE = Path(__file__).with_name("upload_page")
BROWSER_SCRIPT = '<script type="module" src="./app.js"></script>'


def served_page():
    html = (SOURCE / "index.html").read_text()
    script = (SOURCE / "upload.js").read_text()
    if html.count(BROWSER_SCRIPT) != 1:
        raise RuntimeError(f"{SOURCE / 'index.html'} must load app.js once as {BROWSER_SCRIPT}")
    return html.replace(BROWSER_SCRIPT, f"<script>\n{script}</script>")


INDEX_HTML = served_page()
