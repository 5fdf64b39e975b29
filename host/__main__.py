"""Run the classifier component offline: `python -m host predict IMAGE...` or `python -m host info`.

predict prints one JSON object per image per line, {"image", "predictions"} or {"image",
"error"}, and exits 1 if any image failed. The images' folders are granted to the component,
read-only, and it reads each file itself (no copy of the bytes through the call); an image that
fails leaves the others alone. Every run is sandboxed as host/runtime.py says. The options
before the command may also follow it (`predict --model m.onnx x.jpg`).
"""

import argparse
import json
import sys
from pathlib import Path

from host.classifier import DEFAULT_WASM, ClassifyError, ComponentClassifier
from host.runtime import CPU_LIMIT_SECONDS, MEMORY_LIMIT_BYTES, Grants


def add_options(parser, defaults=True):
    """The options of every command. A subcommand's copy has no defaults (SUPPRESS), so that it
    does not overwrite what was given before the command."""

    def default(value):
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--wasm", type=Path, default=default(DEFAULT_WASM), help="the component (default: %(default)s)")
    parser.add_argument(
        "--model", type=Path, default=default(None), help="an ONNX file to run instead of the embedded model"
    )
    parser.add_argument(
        "--memory-mib", type=int, default=default(MEMORY_LIMIT_BYTES >> 20), help="memory cap per instance"
    )
    parser.add_argument(
        "--cpu-seconds",
        type=float,
        default=default(CPU_LIMIT_SECONDS),
        help="CPU cap per call; 0 for none, which also runs faster (default: %(default)s)",
    )


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m host", description=__doc__.splitlines()[0])
    add_options(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="classify images")
    add_options(predict, defaults=False)
    predict.add_argument("images", nargs="+", type=Path)
    predict.add_argument("--top-k", type=int, default=5)
    predict.add_argument(
        "--instance-per-image",
        action="store_true",
        help="a fresh instance for every image (default: one instance, renewed after a failure that spoils it)",
    )
    add_options(commands.add_parser("info", help="describe the model"), defaults=False)
    args = parser.parse_args(argv)
    if args.model is not None and not args.model.is_file():
        parser.error(f"no model file {args.model}")
    return args


def readable(path):
    """None if the host can open the file, else why not (the component would not either)."""
    try:
        with open(path, "rb"):
            return None
    except OSError as e:
        return f"cannot read: {e.strerror}"


def main(argv=None):
    args = parse(argv)
    grants = Grants(memory_limit=args.memory_mib << 20, cpu_seconds=args.cpu_seconds or None)
    if args.command == "info":
        try:
            print(json.dumps(ComponentClassifier(args.wasm, args.model, grants=grants).info()))
        except ClassifyError as e:
            print(json.dumps({"error": str(e)}))
            return 1
        return 0

    unreadable = {path: readable(path) for path in args.images}
    folders = [path.resolve().parent for path, why in unreadable.items() if why is None]
    classifier = ComponentClassifier(args.wasm, args.model, args.instance_per_image, grants, image_dirs=folders)
    failed = False
    for path in args.images:
        line = {"image": str(path)}
        if unreadable[path]:
            line["error"] = unreadable[path]
        else:
            try:
                line["predictions"] = classifier.classify_file(path, args.top_k)
            except ClassifyError as e:
                line["error"] = str(e)
        failed |= "error" in line
        print(json.dumps(line), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
