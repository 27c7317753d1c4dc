"""Perceptual hashes of a photo (``imagehash``, 64 bits each) that survive what a thief does to it.

Measured on scikit-image's sample photos (``snpd bench legitcheck``): resizing and JPEG recompression
move a hash by a few bits, rotations by 90° and mirroring scramble it, and a crop of a few percent
moves a pHash by 10 to 20 bits. So a stored photo keeps 16 windows (the whole photo and the photo
less 5% from both sides, 10% from one side or the other, per axis: 4 × 4), and a new photo is looked
up by its 8 orientations (rotations and mirror images). A copy cropped by up to 10% then lies within
about 2.5% of one stored window, a few bits away.

Each window and orientation has two hashes: the average hash (``key``), which a crop moves least and
which the index looks up, and the DCT hash (``check``), which must agree too (same window, same
orientation). Two different photos rarely pass both, so the pair keeps false matches out (none among
the sample photos, none among a million random hashes) while the crops still match.

Hashes are stored as signed 64-bit integers (what a BIGINT holds on SQLite and PostgreSQL alike).
"""

from __future__ import annotations

import imagehash
from PIL import Image

#: per axis, the share cut from the start and from the end of the photo
_CUTS: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.05, 0.05), (0.1, 0.0), (0.0, 0.1))
#: the 8 orientations: as is, three rotations, and the mirror image of each
_ORIENTATIONS: tuple[Image.Transpose | None, ...] = (
    None,
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_180,
    Image.Transpose.ROTATE_270,
    Image.Transpose.FLIP_LEFT_RIGHT,
    Image.Transpose.TRANSPOSE,
    Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.TRANSVERSE,
)
#: photos are shrunk to this before hashing (pHash looks at 32×32 anyway); it keeps hashing fast
_WORKING_SIZE = 256
BITS = 64


#: within this many bits on the key hash a window is a candidate...
KEY_BITS = 10
#: ...and within this many on the check hash it is a match
CHECK_BITS = 12


def _hash(image: Image.Image) -> tuple[int, int]:
    """(average hash, DCT hash) of one window in one orientation."""
    return int(str(imagehash.average_hash(image)), 16), int(str(imagehash.phash(image)), 16)


def _grey(image: Image.Image) -> Image.Image:
    grey = image.convert("L")
    grey.thumbnail((_WORKING_SIZE, _WORKING_SIZE), Image.Resampling.LANCZOS)
    return grey


def stored_hashes(image: Image.Image) -> list[tuple[int, int]]:
    """The (key, check) hashes of the 16 windows kept for a photo (unsigned)."""
    grey = _grey(image)
    width, height = grey.size
    found = []
    for left, right in _CUTS:
        for top, bottom in _CUTS:
            box = (
                round(left * width),
                round(top * height),
                width - round(right * width),
                height - round(bottom * height),
            )
            found.append(_hash(grey.crop(box)))
    return found


def query_hashes(image: Image.Image) -> list[tuple[int, int]]:
    """The (key, check) hashes of the photo's 8 orientations (unsigned), to look up."""
    grey = _grey(image)
    return [_hash(grey if turn is None else grey.transpose(turn)) for turn in _ORIENTATIONS]


def to_signed(value: int) -> int:
    return value - (1 << BITS) if value >= 1 << (BITS - 1) else value


def to_unsigned(value: int) -> int:
    return value + (1 << BITS) if value < 0 else value


def distance(first: int, second: int) -> int:
    return ((first ^ second) & ((1 << BITS) - 1)).bit_count()
