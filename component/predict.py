"""POST /predict[?top_k=N]: the image as the raw body, or as files of a multipart/form-data body.

    raw body, or a form with one file  ->  {"model", "predictions": [{"index", "label", "score"}], "timings_ms"}
    a form with several files          ->  {"model", "results": [one entry per file, in order], "timings_ms"}

A form's files are its parts with a filename (`curl -F image=@cat.jpg`, <input type="file">),
whatever their field names; an empty file input (no file chosen) is skipped. A `top_k` field
overrides the query's; other fields are ignored. Several files run as one batch
(classifier.Classifier.classify_batch), and each entry of "results" is {"filename", "predictions"} or, for
a file that does not decode, {"filename", "error", "status"} (the status it would have alone):
one bad file does not fail the others, and the answer is a 200.
"""

import time
from urllib.parse import parse_qs

import instance
import errors
import limits
import multipart
import settings
from web import echo, json_response


def parse_top_k(values):
    """The last top_k value given, or the default."""
    if not values:
        return settings.get().default_top_k
    try:
        return int(values[-1])
    except ValueError:
        raise errors.BadRequest(f"top_k must be a positive integer, got {echo(values[-1])}") from None


def predict(request):
    started = time.perf_counter()
    top_k = parse_top_k(parse_qs(request.query).get("top_k"))
    data = request.read_body(settings.get().max_body_bytes)
    content_type = request.header("content-type")
    if multipart.is_form(content_type):
        return predict_form(data, content_type, top_k, started)
    if not data:
        raise errors.BadRequest("empty body: send the image file as the request body")
    loaded = instance.get()
    predictions, timings = loaded.classify(data, top_k)
    return answer(loaded, {"predictions": predictions}, timings, started)


def predict_form(data, content_type, top_k, started):
    parts = multipart.parse(data, content_type, settings.get().max_form_parts)
    files = [p for p in parts if p.filename is not None and (p.filename or p.data)]
    fields = [p.data.decode("utf-8", "replace").strip() for p in parts if p.filename is None and p.name == "top_k"]
    top_k = parse_top_k(fields) if fields else top_k
    if not files:
        raise errors.BadRequest("the form has no file: send the image as a file field (curl -F image=@cat.jpg)")
    limits.check_batch(len(files), settings.get().max_batch)
    loaded = instance.get()
    results, timings = loaded.classify_batch([f.data for f in files], top_k)
    if len(files) == 1:  # the same answer as the image sent as the body
        if isinstance(results[0], Exception):
            raise results[0]
        return answer(loaded, {"predictions": results[0]}, timings, started)
    entries = []
    for part, result in zip(files, results):
        if isinstance(result, Exception):
            failure = errors.policy(result)
            entries.append({"filename": part.filename, "error": failure.message, "status": failure.status})
        else:
            entries.append({"filename": part.filename, "predictions": result})
    return answer(loaded, {"results": entries}, timings, started)


def answer(loaded, results, timings, started):
    timings["total"] = (time.perf_counter() - started) * 1000
    return json_response(
        200, {"model": loaded.name, **results, "timings_ms": {k: round(v, 2) for k, v in timings.items()}}
    )
