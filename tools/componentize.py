"""Build a component with componentize-py from a world file and a Python app.

    python tools/componentize.py WORLD.wit WORLD_NAME APP_DIR MODULE OUT.wasm [-p PATH]...

The WASI 0.2.0 WIT packages the worlds include (wasi:cli, wasi:http, ...) are taken from the
spin-sdk wheel (a registry package, pinned in wasi/sources.lock) at build time: spin-sdk is not
installed, because componentize-py would then merge its Spin-only worlds into ours.
"""
import argparse
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOWNLOADS = ROOT / "build" / "wasi" / "downloads"
WIT_DEPS = ["cli", "clocks", "filesystem", "http", "io", "random", "sockets"]
WHEEL_DEPS = "spin_sdk/wit/deps/"


def wasi_wit_deps():
    """Extracts the WASI WIT packages once; returns the folder holding them."""
    out = ROOT / "build" / "wit-deps"
    if (out / ".done").exists():
        return out
    subprocess.run([sys.executable, str(ROOT / "wasi" / "fetch.py"), str(DOWNLOADS), "spin-sdk"], check=True)
    wheel = next(DOWNLOADS.glob("spin_sdk-*.whl"))
    shutil.rmtree(out, ignore_errors=True)
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            rel = name[len(WHEEL_DEPS):]
            if name.startswith(WHEEL_DEPS) and rel.split("/")[0] in WIT_DEPS and name.endswith(".wit"):
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                (out / rel).write_bytes(z.read(name))
    (out / ".done").touch()
    return out


def build(world_file, world, app_dir, module, out, paths=()):
    """componentize-py over a WIT folder made of `world_file` plus the WASI packages."""
    wit = ROOT / "build" / "wit" / world
    shutil.rmtree(wit, ignore_errors=True)
    wit.mkdir(parents=True)
    shutil.copy(world_file, wit)
    shutil.copytree(wasi_wit_deps(), wit / "deps", ignore=shutil.ignore_patterns(".done"))
    cmd = [str(Path(sys.executable).with_name("componentize-py")), "-d", str(wit), "-w", world,
           "componentize", "-p", str(app_dir)]
    for p in paths:
        cmd += ["-p", str(p)]
    cmd += [module, "-o", str(out)]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(cmd, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("world_file")
    parser.add_argument("world")
    parser.add_argument("app_dir")
    parser.add_argument("module")
    parser.add_argument("out")
    parser.add_argument("-p", "--path", action="append", default=[])
    args = parser.parse_args()
    build(args.world_file, args.world, args.app_dir, args.module, args.out, args.path)


if __name__ == "__main__":
    main()
