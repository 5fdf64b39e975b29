"""The heap of a componentize-py snapshot, read from the memory image: wasi-libc's malloc is
Doug Lea's dlmalloc, whose chunks are chained by their size words from the heap's start.

Layout of a chunk at address p on wasm32 (dlmalloc.c, "malloc_chunk details"):
  p+0  prev_foot   size of the previous chunk when that one is free
  p+4  head        this chunk's size | CINUSE (2: in use) | PINUSE (1: previous in use)
  p+8  payload     when free: fd, bk, and for sizes >= 256 child[2], parent, index (24 bytes)
The next chunk starts at p + size; a free chunk's size is repeated in the next one's prev_foot.
The heap ends with the top chunk (free space) and a pseudo-chunk (the top's foot).

Freed memory keeps whatever it held, and the snapshot stores every non-zero byte: `scrub`
zeroes the payload of free chunks past their free-list fields, after checking that the whole
chain is consistent (a walk that does not check out changes nothing).
"""

import struct
from dataclasses import dataclass

PINUSE, CINUSE, FLAGS = 1, 2, 7
ALIGN = 16  # wasi-libc's MALLOC_ALIGNMENT: payloads (p+8) are 16-byte aligned
HEADER = 8
FREE_FIELDS = 24  # fd, bk, child[0], child[1], parent, index


class HeapError(ValueError):
    """The image does not hold a dlmalloc heap laid out as expected."""


@dataclass
class Heap:
    start: int
    end: int  # of the pseudo-chunk that closes the heap
    live: list  # (address, size) of chunks in use
    free: list  # (address, size) of free chunks, the top chunk last

    def live_bytes(self):
        return sum(size for _, size in self.live)

    def free_bytes(self):
        return sum(size for _, size in self.free)


def walk(image, heap_base):
    """The chunks of the heap starting at `heap_base` (the module's `__heap_base`)."""
    word = struct.Struct("<I").unpack_from
    p = heap_base + (-(heap_base + HEADER)) % ALIGN
    start, live, free = p, [], []
    while True:
        head = word(image, p + 4)[0]
        size = head & ~FLAGS
        nxt = p + size
        if size == 0 or nxt + HEADER > len(image):
            raise HeapError(f"chunk at {p:#x}: size {size} runs past the memory")
        next_head = word(image, nxt + 4)[0]
        if next_head & ~FLAGS == 0:  # p is the pseudo-chunk after the top chunk
            break
        in_use = bool(head & CINUSE)
        if in_use != bool(next_head & PINUSE):
            raise HeapError(f"chunk at {p:#x}: its in-use bit and the next chunk's disagree")
        (live if in_use else free).append((p, size))
        p = nxt
    if not free or live and live[-1][0] > free[-1][0]:
        raise HeapError("the heap does not end with a free top chunk")
    for address, size in free[:-1]:  # the top chunk has no foot
        if word(image, address + size)[0] != size:
            raise HeapError(f"free chunk at {address:#x}: its foot does not repeat its size")
    return Heap(start, p, live, free)


def dirty_free_bytes(image, heap):
    """Non-zero bytes in free chunks past their free-list fields: what `scrub` clears."""
    return sum(_nonzero(image, a + HEADER + FREE_FIELDS, a + s) for a, s in heap.free)


def scrub(image, heap):
    """Zeroes the free chunks' payloads past their free-list fields, in place."""
    for address, size in heap.free:
        start = address + HEADER + FREE_FIELDS
        if start < address + size:
            image[start : address + size] = bytes(address + size - start)


def _nonzero(image, start, end):
    if start >= end:
        return 0
    return end - start - image.count(0, start, end)
