"""Stage `photo` of bench/bench.py: a 2 MB phone-sized JPEG through the offline harness and over
HTTP. Issue 10's target: `python -m host predict` within 1.2x of `POST /predict` for the file.

  POST /predict        `make serve` (wasmtime serve, a fresh instance per request), client-side
                       wall time of one request on a new connection
  harness              what `python -m host predict` does per image: classify-file on the
                       granted folder in its (shared) instance, with the default CPU cap and
                       with --cpu-seconds 0
  harness, bytes       classify(bytes) once: the per-byte lowering classify-file avoids
"""
import http.client
import io
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from host.classifier import ComponentClassifier
from host.runtime import CPU_LIMIT_SECONDS, Grants
from tools.served import make_served

TARGET_RATIO = 1.2


def phone_photo(path):
    """scikit-image's astronaut at 4032x3024 (12 Mpx, a phone camera's size) with seeded sensor-like
    noise, as a JPEG of about 2 MB."""
    from skimage import data
    pixels = np.asarray(Image.fromarray(data.astronaut()).resize((4032, 3024), Image.BICUBIC), np.int16)
    pixels += np.random.default_rng(0).integers(-8, 9, pixels.shape, dtype=np.int16)
    buf = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=89)
    path.write_bytes(buf.getvalue())
    return path


def _median_ms(f, runs):
    f()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def run(out_dir, runs, log):
    photo = phone_photo(Path(out_dir) / "photo-2mb.jpg")
    body = photo.read_bytes()
    results = {"jpeg_bytes": len(body), "runs": runs}

    log("photo: POST /predict on make serve")
    with make_served("serve", "wasmtime", log_dir=Path(out_dir), name="serve-photo") as (base, _):
        netloc = base.removeprefix("http://")

        def post():
            conn = http.client.HTTPConnection(netloc, timeout=120)
            conn.request("POST", "/predict", body)
            answer = conn.getresponse()
            answer.read()
            conn.close()
            assert answer.status == 200, answer.status
        results["post_ms"] = _median_ms(post, runs)

    for key, cpu in (("harness_ms", CPU_LIMIT_SECONDS), ("harness_uncapped_ms", None)):
        log(f"photo: harness classify-file, CPU cap {cpu}")
        harness = ComponentClassifier(grants=Grants(cpu_seconds=cpu), image_dirs=[photo.parent])
        results[key] = _median_ms(lambda: harness.classify_file(photo), runs)
    t0 = time.perf_counter()
    harness.classify(body)
    results["harness_bytes_once_ms"] = (time.perf_counter() - t0) * 1000
    return results


def report(p, res):
    p(f"A {res['jpeg_bytes'] / 1e6:.1f} MB 12 Mpx JPEG, per image (medians of {res['runs']} after a warm-up; ms):")
    p(f"  POST /predict (make serve, wasmtime serve)       {res['post_ms']:8.1f}")
    p(f"  python -m host predict (classify-file)            {res['harness_ms']:8.1f}"
      f"   {res['harness_ms'] / res['post_ms']:.2f}x POST")
    p(f"    with --cpu-seconds 0                            {res['harness_uncapped_ms']:8.1f}"
      f"   {res['harness_uncapped_ms'] / res['post_ms']:.2f}x POST")
    p(f"  classify(bytes) through wasmtime-py, once        {res['harness_bytes_once_ms']:8.1f}"
      "   (lowers the list<u8> byte by byte)")


def target(res):
    ratio = res["harness_ms"] / res["post_ms"]
    text = (f"python -m host predict on a {res['jpeg_bytes'] / 1e6:.1f} MB JPEG = {ratio:.2f}x POST /predict "
            f"(target <= {TARGET_RATIO}x)")
    return {"target": "harness-photo", "model": "embedded", "met": ratio <= TARGET_RATIO, "value": ratio, "text": text}
