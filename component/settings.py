"""The limits every front end applies, in one place.

    MAX_BODY_BYTES   a request body over this is refused (413)
    DRAIN_BYTES      how much of an oversized body is still read (and dropped) so that clients
                     that send everything before reading (urllib, requests) get the 413
    BODY_SECONDS     a body (or the rest of an oversized one) not received by then ends the
                     request (408, or the 413 already decided): an instance is not held forever
    MAX_PIXELS       an image declaring more pixels is refused from its header (422)
    DEFAULT_TOP_K    predictions per image when the request does not say
"""
MAX_BODY_BYTES = 10 * 1024 * 1024
DRAIN_BYTES = 64 * 1024 * 1024
BODY_SECONDS = 30.0
# Decompression-bomb guard; 40 Mpx covers every phone and DSLR photo.
MAX_PIXELS = 40_000_000
DEFAULT_TOP_K = 5
