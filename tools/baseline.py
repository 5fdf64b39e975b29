"""Build the classifier component of another commit, for `make bench BASELINE=<commit>`, which
measures it beside today's (size, cold compile, instantiate, peak memory).

    python tools/baseline.py COMMIT OUT.wasm

The commit's sources (`git archive`) go to build/bench/baseline-src, and its own Makefile rule
builds its component there, from this checkout's cross-builds (build/wasi), WASI WIT packages
and default model: what differs is only what that commit's sources do with them. Rebuilt when
the commit changes.
"""

import argparse
import io
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "build" / "bench" / "baseline-src"
MODEL = ROOT / "build" / "models" / "efficientnet-lite0.onnx"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commit")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{args.commit}^{{commit}}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    stamp = args.out.with_suffix(".commit")
    if args.out.exists() and stamp.exists() and stamp.read_text() == commit:
        print(f"{args.out} is commit {commit[:10]}'s component already")
        return
    print(f"baseline: building commit {commit[:10]}'s component into {args.out}", flush=True)
    shutil.rmtree(SRC, ignore_errors=True)
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(SRC, filter="data")
    # Its build reads the WIT packages from its build/wit-deps (else it would download them).
    shutil.copytree(ROOT / "build" / "wit-deps", SRC / "build" / "wit-deps")
    wasi = ROOT / "build" / "wasi"
    # Its Makefile's own rule, told that the cross-builds are done (stamps, -o) and where they are.
    (SRC / "build" / "wasi").mkdir(parents=True, exist_ok=True)
    for stamp_name in (".toolchain", ".numpy", ".pillow"):
        (SRC / "build" / "wasi" / stamp_name).touch()
    subprocess.run(
        [
            "make",
            "-C",
            str(SRC),
            "build/classifier.wasm",
            f"PY={sys.executable}",
            f"SITE={wasi / 'site-packages'}",
            f"EMBED_MODEL={MODEL}",
            "-o",
            "build/wasi/.numpy",
            "-o",
            "build/wasi/.pillow",
        ],
        check=True,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SRC / "build" / "classifier.wasm", args.out)
    stamp.write_text(commit)


if __name__ == "__main__":
    main()
