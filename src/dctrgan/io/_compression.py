"""The compression of the ROOT files :mod:`dctrgan.io` writes: the ``compression=``
argument of :func:`~dctrgan.io.write`, :func:`~dctrgan.io.write_chunks` and
:func:`~dctrgan.io.write_weights`.

The default is ZSTD at level 1, with checksums (:class:`CheckedZSTD`). On 50k fast
showers (``benchmarks/io.py``, compression section) it gives a file 5 % smaller than
uproot's default, ZLIB at level 1, written 2.9 and read 2.3 times as fast; LZ4 writes
and reads faster still, for a file 32 % larger. ROOT reads ZSTD since 6.20, uproot
through ``cramjam``, one of its own dependencies.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import uproot
import xxhash

__all__ = ("ALGORITHMS", "DEFAULT_COMPRESSION", "CheckedZSTD", "Compression", "compression_of")

#: What ``compression=`` takes: an uproot compression object (``uproot.ZSTD(1)``), a
#: string ``"algorithm:level"`` (``"zstd:1"``, ``"lz4"``; ZSTD with checksums, see
#: :class:`CheckedZSTD`), or None (uncompressed).
Compression: TypeAlias = "uproot.compression.Compression | str | None"

#: The default ``compression=`` of the writers.
DEFAULT_COMPRESSION = "zstd:1"

#: The magic number that starts a Zstandard frame (RFC 8878, section 3.1.1).
_ZSTD_MAGIC = bytes.fromhex("28b52ffd")
#: The Content_Checksum_flag of the frame header descriptor, the frame's fifth byte.
_CHECKSUM_FLAG = 0x04


class CheckedZSTD(uproot.ZSTD):  # type: ignore[misc]
    """uproot's ZSTD, each frame ending in the content checksum Zstandard defines (the low
    32 bits of the XXH64 of the data, RFC 8878, section 3.1.1).

    ROOT and uproot write ZSTD frames without it, so a damaged basket decompresses into
    other numbers without an error (none of 200 random 16-byte damages was noticed in
    one test, against every one with the checksum). Any Zstandard decoder, ROOT's and
    uproot's among them, checks the checksum of a frame that has one.
    """

    @property
    def code_pair(self) -> tuple[int, int]:
        """ROOT's (algorithm, level) of ZSTD, which the file header holds."""
        pair: tuple[int, int] = uproot.ZSTD(self.level).code_pair
        return pair

    def compress(self, data: bytes) -> bytearray:
        """One Zstandard frame of ``data`` with its checksum (a bytearray, which uproot
        joins as it is: no copy)."""
        frame = bytearray(super().compress(data))
        if len(frame) < 5 or frame[:4] != _ZSTD_MAGIC or frame[4] & _CHECKSUM_FLAG:
            return frame  # not one frame without a checksum: left as it is
        frame[4] |= _CHECKSUM_FLAG
        frame += (xxhash.xxh64(data).intdigest() & 0xFFFFFFFF).to_bytes(4, "little")
        return frame


#: The algorithms of ``"algorithm:level"``, with the level of ``"algorithm"`` alone.
ALGORITHMS: dict[str, tuple[type[uproot.compression.Compression], int]] = {
    "zlib": (uproot.ZLIB, 1),
    "lz4": (uproot.LZ4, 1),
    "zstd": (CheckedZSTD, 1),
    "lzma": (uproot.LZMA, 1),
}


def compression_of(value: Any) -> uproot.compression.Compression | None:
    """The uproot compression of a ``compression=`` argument (None: uncompressed).

    Raises:
        TypeError: for something that is not a string, an uproot compression or None.
        ValueError: for an unknown algorithm or a level out of the algorithm's range,
            naming ``compression``.
    """
    if value is None or isinstance(value, uproot.compression.Compression):
        return value
    if not isinstance(value, str):
        msg = (
            "compression must be an uproot compression such as uproot.ZSTD(1), a string "
            f"such as 'zstd:1', or None, got {type(value).__name__} {value!r}"
        )
        raise TypeError(msg)
    name, _, level = value.strip().lower().partition(":")
    if name == "none" and not level:
        return None
    if name not in ALGORITHMS:
        msg = (
            f"compression {value!r}: unknown algorithm {name!r}; use one of "
            f"{', '.join(repr(a) for a in ALGORITHMS)} (with ':level'), or None"
        )
        raise ValueError(msg)
    kind, default = ALGORITHMS[name]
    if level and not level.strip().isdigit():
        msg = f"compression {value!r}: the level must be a whole number, got {level!r}"
        raise ValueError(msg)
    number = int(level) if level else default
    if number == 0:
        return None
    try:
        return kind(number)
    except ValueError as err:  # uproot's range of the algorithm's levels
        msg = f"compression {value!r}: {err}"
        raise ValueError(msg) from err
