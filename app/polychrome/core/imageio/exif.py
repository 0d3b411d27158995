"""A tiny TIFF-structure reader and writer for EXIF blocks: parse, serialise, orientation, thumbnail unlinking."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._common import (
    MAX_TAG_BYTES,
    POINTER_TAGS,
    TAG_ORIENTATION,
    TYPE_SIZE,
    TYPE_UNIT,
)


@dataclass
class Entry:
    """One IFD entry with its value bytes already converted to little-endian."""

    tag: int
    type: int
    count: int
    data: bytes


@dataclass
class Ifd:
    """An IFD: plain entries plus parsed sub-IFDs (keyed by their pointer tag)."""

    entries: dict[int, Entry] = field(default_factory=dict)
    subs: dict[int, Ifd] = field(default_factory=dict)


ReadAt = Callable[[int, int], bytes]


def _to_little_endian(data: bytes, typ: int, byteorder: str) -> bytes:
    unit = TYPE_UNIT[typ]
    if byteorder == "<" or unit == 1:
        return data
    return np.frombuffer(data, dtype=f">u{unit}").astype(f"<u{unit}").tobytes()


def parse_ifd(read_at: ReadAt, bo: str, offset: int, depth: int = 0, seen: set[int] | None = None) -> tuple[Ifd, int]:
    """Parse the classic-TIFF IFD at ``offset``; returns it and the offset of the next IFD (0 if none).

    ``read_at(offset, n)`` returns up to n bytes at an offset relative to the TIFF header. Malformed entries are
    skipped; a malformed IFD header raises ValueError. Sub-IFDs (EXIF, GPS, Interop) are followed recursively.
    """
    seen = set() if seen is None else seen
    seen.add(offset)
    head = read_at(offset, 2)
    if len(head) < 2:
        raise ValueError("IFD offset out of range")
    (n,) = struct.unpack(bo + "H", head)
    raw = read_at(offset + 2, 12 * n + 4)
    if len(raw) < 12 * n:
        raise ValueError("IFD is cut off")
    ifd = Ifd()
    for i in range(n):
        tag, typ, count = struct.unpack(bo + "HHI", raw[12 * i : 12 * i + 8])
        size = TYPE_SIZE.get(typ)
        if size is None or count == 0:
            continue
        nbytes = size * count
        if nbytes > MAX_TAG_BYTES:
            continue
        field_bytes = raw[12 * i + 8 : 12 * i + 12]
        if nbytes <= 4:
            data = field_bytes[:nbytes]
        else:
            (value_offset,) = struct.unpack(bo + "I", field_bytes)
            data = read_at(value_offset, nbytes)
            if len(data) < nbytes:
                continue
        if tag in POINTER_TAGS:
            if depth < 3 and count == 1 and typ in (4, 13):
                (sub_offset,) = struct.unpack(bo + "I", field_bytes)
                if sub_offset and sub_offset not in seen:
                    try:
                        ifd.subs[tag], _ = parse_ifd(read_at, bo, sub_offset, depth + 1, seen)
                    except (ValueError, struct.error):
                        pass
            continue
        ifd.entries[tag] = Entry(tag, typ, count, _to_little_endian(data, typ, bo))
    next_offset = struct.unpack(bo + "I", raw[12 * n : 12 * n + 4])[0] if len(raw) >= 12 * n + 4 else 0
    return ifd, next_offset


def serialize_ifd(ifd: Ifd, start: int) -> bytes:
    """Little-endian bytes of ``ifd`` (next-IFD offset 0), its value data and its sub-IFDs, placed at ``start``.

    Offsets are absolute (relative to the TIFF header), so ``start`` must be the position the bytes will occupy.
    """
    tags = sorted(set(ifd.entries) | set(ifd.subs))
    ifd_size = 2 + 12 * len(tags) + 4
    data = bytearray()
    fields: dict[int, bytes] = {}
    for tag in tags:
        entry = ifd.entries.get(tag)
        if entry is None:
            continue
        if len(entry.data) <= 4:
            fields[tag] = struct.pack("<HHI", tag, entry.type, entry.count) + entry.data.ljust(4, b"\0")
        else:
            fields[tag] = struct.pack("<HHII", tag, entry.type, entry.count, start + ifd_size + len(data))
            data += entry.data
            if len(data) % 2:
                data += b"\0"
    for tag in tags:
        sub = ifd.subs.get(tag)
        if sub is None:
            continue
        sub_start = start + ifd_size + len(data)
        fields[tag] = struct.pack("<HHII", tag, 4, 1, sub_start)
        data += serialize_ifd(sub, sub_start)
        if len(data) % 2:
            data += b"\0"
    body = b"".join(fields[t] for t in tags)
    return struct.pack("<H", len(tags)) + body + struct.pack("<I", 0) + bytes(data)


def _exif_tiff_part(exif: bytes) -> bytes | None:
    """The TIFF structure inside an EXIF block (with or without the ``Exif\\0\\0`` prefix), or None if invalid."""
    body = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
    if len(body) < 8 or body[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    return body


def normalize_exif(exif: bytes | None) -> bytes | None:
    """EXIF bytes with the ``Exif\\0\\0`` prefix, or None if they are not a TIFF structure."""
    if not exif:
        return None
    body = _exif_tiff_part(exif)
    return None if body is None else b"Exif\x00\x00" + body


def ifd0_offset(body: bytes | bytearray) -> tuple[str, int]:
    bo = "<" if body[:2] == b"II" else ">"
    return bo, struct.unpack(bo + "I", body[4:8])[0]


def parse_exif(exif: bytes) -> tuple[Ifd, int] | None:
    """Parse an EXIF block's IFD0 (and sub-IFDs); None if it is not valid."""
    body = _exif_tiff_part(exif)
    if body is None:
        return None
    bo, off = ifd0_offset(body)
    try:
        return parse_ifd(lambda o, n: body[o : o + n] if o >= 0 else b"", bo, off)
    except (ValueError, struct.error):
        return None


def _find_ifd0_entry(body: bytes | bytearray, tag: int) -> tuple[str, int, int] | None:
    """(byte order, entry position, type) of ``tag`` in IFD0 of a TIFF structure, or None."""
    bo, off = ifd0_offset(body)
    if off + 2 > len(body):
        return None
    (n,) = struct.unpack(bo + "H", body[off : off + 2])
    for i in range(n):
        pos = off + 2 + 12 * i
        if pos + 12 > len(body):
            return None
        t, typ = struct.unpack(bo + "HH", body[pos : pos + 4])
        if t == tag:
            return bo, pos, typ
    return None


def exif_orientation(exif: bytes | None) -> int:
    """The EXIF orientation (1..8), 1 if absent or invalid."""
    body = _exif_tiff_part(exif) if exif else None
    if body is None:
        return 1
    try:
        found = _find_ifd0_entry(body, TAG_ORIENTATION)
        if found is None:
            return 1
        bo, pos, typ = found
        if typ == 3:
            value = struct.unpack(bo + "H", body[pos + 8 : pos + 10])[0]
        elif typ == 4:
            value = struct.unpack(bo + "I", body[pos + 8 : pos + 12])[0]
        else:
            return 1
    except struct.error:
        return 1
    return value if 1 <= value <= 8 else 1


def patch_orientation_1(tiff: bytearray) -> bool:
    """Set IFD0's orientation to 1 in a TIFF structure, in place (nothing moves); False if it has none."""
    try:
        found = _find_ifd0_entry(tiff, TAG_ORIENTATION)
    except struct.error:
        return False
    if found is None:
        return False
    bo, pos, typ = found
    if typ == 3:
        tiff[pos + 4 : pos + 12] = struct.pack(bo + "IHH", 1, 1, 0)
    elif typ == 4:
        tiff[pos + 4 : pos + 12] = struct.pack(bo + "II", 1, 1)
    else:
        return False
    return True


def exif_with_orientation_1(exif: bytes) -> bytes:
    """``exif`` with the orientation value patched to 1 in place (nothing else moves)."""
    body = _exif_tiff_part(exif)
    if body is None:
        return exif
    patched = bytearray(body)
    return b"Exif\x00\x00" + bytes(patched) if patch_orientation_1(patched) else exif


def exif_without_thumbnail(exif: bytes) -> bytes:
    """``exif`` with IFD0's link to IFD1 (the embedded thumbnail) cleared in place.

    The thumbnail shows the old pixels, so it must not travel to an output; unlinking (rather than rebuilding the
    block) keeps every other offset valid, including those inside maker notes.
    """
    body = _exif_tiff_part(exif)
    if body is None:
        return exif
    bo, off = ifd0_offset(body)
    if off + 2 > len(body):
        return exif
    (n,) = struct.unpack(bo + "H", body[off : off + 2])
    link = off + 2 + 12 * n
    if link + 4 > len(body) or body[link : link + 4] == b"\0\0\0\0":
        return b"Exif\x00\x00" + body
    patched = bytearray(body)
    patched[link : link + 4] = b"\0\0\0\0"
    return b"Exif\x00\x00" + bytes(patched)


def exif_from_ifd(ifd0: Ifd) -> bytes:
    """A compact little-endian EXIF block holding ``ifd0`` (and its sub-IFDs)."""
    return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + serialize_ifd(ifd0, 8)


# ----------------------------------------------------------------------------------------------------------------
# Header probing (no pixel decoding)
# ----------------------------------------------------------------------------------------------------------------
