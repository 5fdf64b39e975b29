"""Run the classifier component offline: `python -m host predict IMAGE...` or `python -m host info`.

predict prints one JSON object per image per line, {"image", "predictions"} or {"image",
"error"}, and exits 1 if any image failed. Every run is sandboxed as host/runtime.py says.
"""
import argparse
import json
import sys
from pathlib import Path

from host.classifier import DEFAULT_WASM, ClassifyError, ComponentClassifier
from host.runtime import CPU_LIMIT_SECONDS, MEMORY_LIMIT_BYTES, Grants


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m host", description=__doc__.splitlines()[0])
    parser.add_argument("--wasm", type=Path, default=DEFAULT_WASM, help="the component (default: %(default)s)")
    parser.add_argument("--model", type=Path, help="an ONNX file to run instead of the embedded model")
    parser.add_argument("--memory-mib", type=int, default=MEMORY_LIMIT_BYTES >> 20, help="memory cap per instance")
    parser.add_argument("--cpu-seconds", type=float, default=CPU_LIMIT_SECONDS,
                        help="CPU cap per call; 0 for none, which also runs faster (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="classify images")
    predict.add_argument("images", nargs="+", type=Path)
    predict.add_argument("--top-k", type=int, default=5)
    predict.add_argument("--instance-per-image", action="store_true",
                         help="a fresh instance for every image (default: one instance for all)")
    commands.add_parser("info", help="describe the model")
    args = parser.parse_args(argv)

    if args.model is not None and not args.model.is_file():
        parser.error(f"no model file {args.model}")
    grants = Grants(memory_limit=args.memory_mib << 20, cpu_seconds=args.cpu_seconds or None)
    classifier = ComponentClassifier(args.wasm, args.model, getattr(args, "instance_per_image", False), grants)
    if args.command == "info":
        try:
            print(json.dumps(classifier.info()))
        except ClassifyError as e:
            print(json.dumps({"error": str(e)}))
            return 1
        return 0

    failed = False
    for path in args.images:
        line = {"image": str(path)}
        try:
            line["predictions"] = classifier.classify(path.read_bytes(), args.top_k)
        except OSError as e:
            line["error"] = f"cannot read: {e.strerror}"
        except ClassifyError as e:
            line["error"] = str(e)
        failed |= "error" in line
        print(json.dumps(line), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
