"""The page served at GET /: pick or drop images, see the model's top predictions for each.

One page source for both pages: upload_page/index.html (markup and style, pick.js) is also the
page of `make web`, which runs upload_page/app.js in the browser; served here, its scripts are
inlined and upload.js, which posts the files to POST /predict, stands in for app.js.

Read at import time: componentize-py imports this module at build time and snapshots the page,
since the component has no files of its own at run time.
"""

import re
from pathlib import Path

SOURCE = Path(__file__).with_name("upload_page")
LOCAL_SCRIPT = re.compile(r'<script(?: type="module")? src="\./([\w.]+)"></script>')
SERVED_INSTEAD = {"app.js": "upload.js"}  # the browser page's own script -> the served page's


def served_page():
    def inline(script):
        name = SERVED_INSTEAD.get(script.group(1), script.group(1))
        return f"<script>\n{(SOURCE / name).read_text()}</script>"

    return LOCAL_SCRIPT.sub(inline, (SOURCE / "index.html").read_text())


INDEX_HTML = served_page()
