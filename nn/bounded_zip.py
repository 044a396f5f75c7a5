"""Reading a zip archive that may be hostile, with every size bounded by the reader, not by the archive.

A zip's directory states how many members it has and how large each one
inflates; a hostile file lies. So the member count and the directory's size
are read from the end-of-directory record *before* ``zipfile`` parses the
directory, and each member is decompressed in chunks with a running limit
chosen by the caller (what that member may legitimately hold), never more.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

CHUNK_BYTES = 1 << 20  # decompressed per read: the most a single read can add beyond the limit
_EOCD = struct.Struct("<4s4H2LH")  # signature, disk numbers, entries here, entries, directory bytes, offset, comment
_LOCATOR = struct.Struct("<4sLQL")  # zip64 end-of-directory locator
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # zip64 end-of-directory record
_READABLE = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}


class ArchiveError(ValueError):
    """A zip archive that cannot be read within the limits; the message says why in one line."""


def directory_extent(data: bytes) -> tuple[int, int]:
    """(member count, central-directory bytes) as the archive's end-of-directory record states them.

    ``zipfile`` offers no public way to see these before it reads the whole directory, hence this
    reading of the 22-byte record (and its zip64 form) as the zip specification lays it out.
    """
    start = data.rfind(b"PK\x05\x06", max(0, len(data) - _EOCD.size - 0xFFFF))
    if start < 0 or start + _EOCD.size > len(data):
        raise ArchiveError("the zip archive is damaged or truncated (it has no end-of-directory record)")
    fields = _EOCD.unpack_from(data, start)
    members, size = fields[4], fields[5]
    if members == 0xFFFF or size == 0xFFFFFFFF:  # the real numbers are in the zip64 record
        locator = start - _LOCATOR.size
        record = locator - _EOCD64.size
        if record < 0 or data[locator:locator + 4] != b"PK\x06\x07" or data[record:record + 4] != b"PK\x06\x06":
            raise ArchiveError("the zip archive is damaged or truncated (its zip64 end-of-directory record is missing)")
        fields64 = _EOCD64.unpack_from(data, record)
        members, size = fields64[7], fields64[8]
    return members, size


def open_archive(data: bytes, *, max_members: int, max_directory_bytes: int) -> zipfile.ZipFile:
    """``data`` as a ZipFile, refused before its directory is parsed if it lists too many members."""
    members, size = directory_extent(data)
    if members > max_members:
        raise ArchiveError(f"the archive lists {members:,} members; at most {max_members:,} are allowed")
    if size > max_directory_bytes:
        raise ArchiveError(f"the archive's directory is {size:,} bytes; at most {max_directory_bytes:,} are allowed")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, struct.error) as exc:
        raise ArchiveError(f"the zip archive is damaged or truncated ({exc})") from None
    if len(archive.infolist()) > max_members:  # the record undercounted: the directory bound still held
        raise ArchiveError(f"the archive holds {len(archive.infolist()):,} members; at most {max_members:,} are allowed")
    return archive


def check_claim(info: zipfile.ZipInfo, limit: int) -> None:
    """Refuse a member whose directory entry already admits more than ``limit`` bytes, or an unbounded
    decompressor (bzip2 and lzma cannot be read in bounded steps by ``zipfile``)."""
    if info.compress_type not in _READABLE:
        raise ArchiveError(f"{info.filename} uses compression method {info.compress_type}; only stored or "
                           "deflate members are read")
    if info.file_size > limit:
        raise ArchiveError(f"{info.filename} claims {info.file_size:,} bytes; it may hold at most {limit:,}")


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """The member's bytes; refused as soon as more than ``limit`` come out, whatever its directory entry says."""
    check_claim(info, limit)
    name = info.filename
    parts: list[bytes] = []
    total = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(min(CHUNK_BYTES, limit + 1 - total)):
                total += len(chunk)
                if total > limit:
                    raise ArchiveError(f"{name} inflates to more than the {limit:,} bytes it may hold "
                                       "(its directory entry understates it)")
                parts.append(chunk)
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise ArchiveError(f"{name} cannot be read: the archive is damaged or truncated ({exc})") from None
    except zlib.error as exc:  # a corrupt deflate stream
        raise ArchiveError(f"{name} cannot be decompressed ({exc})") from None
    return b"".join(parts)
