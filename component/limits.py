"""Limits on what one request may ask, checked by the API where it reads a request (predict.py,
oip_codec.py), before any image is decoded."""

from errors import BadRequest


def check_batch(count, limit):
    """BadRequest unless 1 <= count <= limit images (one request's batch; the max_batch setting)."""
    if count < 1:
        raise BadRequest("no image in the request")
    if count > limit:
        raise BadRequest(f"{count} images in one request; the limit is {limit} (MAX_BATCH)")
