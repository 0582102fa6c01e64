"""Every object under a bronze ingest folder, looked at before Spark reads it: what it is, how to read it.

Feeds arrive as exporters, spreadsheets, database dumps and log shippers write them. Each object of a
date's folder gets exactly one outcome, recorded in the job report (and so in the run manifest):

- `skipped`: a marker or hidden object (`_SUCCESS`, any name starting with `.` or `_`, or inside a
  folder whose name does); never read, listed so that nothing under the folder goes unseen;
- `empty`: 0 bytes, or nothing but blank lines (and, for CSV, `header_only`: a header and no rows):
  recorded, not an error;
- `read`: read natively by Spark (`route: native`: plain or `.gz`/`.bz2`-named gzip/bzip2 content, UTF-8
  without a byte-order mark, LF line ends, no quoted field spanning lines) or decoded in Python first
  (`route: decoded`: compression by content or zstd, a BOM, UTF-16, a contract encoding other than
  UTF-8, bytes that do not decode, CR or CRLF line ends, quoted fields spanning lines, a JSON array file);
- `quarantined`: the file cannot be read at all (not text, truncated or corrupt archive, a format this
  reader does not know, no usable CSV header): one quarantine record names it with its size and sha256;
  the file stays in bronze untouched and the rest of the date is promoted (contract option
  `on_unreadable_file: quarantine`, the default), or the job stops naming it (`fail`).

The whole file is streamed once through Python for this (decompressing it if needed): a clean day costs a
sequential read of its files (measured in docs/benchmarks.md), and a file is never sent to Spark unless
Spark can read it.
"""

from __future__ import annotations

import bz2
import codecs
import hashlib
import re
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jobs.contracts import Contract
from jobs.storage import storage_at

CHUNK = 8 << 20
SNIFF = 64 << 10
GZIP_MAGIC, BZIP2_MAGIC, ZSTD_MAGIC = b"\x1f\x8b", b"BZh", b"\x28\xb5\x2f\xfd"
# Content that is an archive or a binary format this reader does not open.
UNSUPPORTED_MAGIC = {b"PK\x03\x04": "zip archive", b"PAR1": "Parquet", b"\x89PNG": "PNG image",
                     b"%PDF": "PDF document", b"7z\xbc\xaf": "7-Zip archive", b"\xfd7zXZ": "xz archive",
                     b"Obj\x01": "Avro container"}
BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
NATIVE_CODEC_SUFFIXES = {"gzip": (".gz",), "bzip2": (".bz2",)}  # what Spark (and Glue) decompress by name
CODEC_SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bzip2", ".zst": "zstd", ".zstd": "zstd"}
_LINE_END = re.compile(rb"\r\n|\r|\n")
SKIP_RULE = "marker or hidden object (name, or a folder on its path, starts with '.' or '_', e.g. _SUCCESS)"


class UnreadableFile(Exception):
    """The file cannot be read at all; `reason` is a short token (`not_text`, `truncated_gzip`, ...)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class BronzeFile:
    """One object of the ingest folder and what became of it (see the module docstring)."""

    path: str
    size: int
    outcome: str = "read"  # read | skipped | empty | header_only | quarantined
    route: str | None = None  # native | decoded (outcome read only)
    reason: str | None = None  # why skipped/quarantined, or why decoded in Python
    codec: str | None = None  # gzip | bzip2 | zstd (by content)
    encoding: str | None = None  # the text encoding used (a BOM overrides the contract's)
    bom: bool = False
    header: list[str] | None = None  # CSV: the header names (trimmed, BOM removed)
    sha256: str | None = None  # quarantined files
    rows_read: int = 0
    promoted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    notes: list[str] = field(default_factory=list)
    refused_sample: list[dict[str, Any]] = field(default_factory=list)  # a few refused rows: where and why

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def report(self) -> dict[str, Any]:
        entry = asdict(self)
        entry["file"] = entry.pop("path")
        for empty in ("notes", "refused_sample"):
            if not entry[empty]:
                entry.pop(empty)
        return entry


# --- listing -------------------------------------------------------------------------------------

def list_objects(folder: str) -> list[tuple[str, int]]:
    """Every object under `folder` (deeply), with its size: nothing filtered out here."""
    return storage_at(folder).list_objects(folder)


def is_skipped(path: str, folder: str) -> bool:
    relative = path[len(folder.rstrip("/")) + 1:] if path.startswith(folder.rstrip("/") + "/") else path
    return any(part.startswith((".", "_")) for part in relative.split("/") if part)


# --- bytes ---------------------------------------------------------------------------------------

def raw_chunks(path: str, size: int = CHUNK) -> Iterator[bytes]:
    return storage_at(path).read_chunks(path, size)


def codec_of(first: bytes) -> str | None:
    if first.startswith(GZIP_MAGIC):
        return "gzip"
    if first.startswith(BZIP2_MAGIC) and len(first) > 3 and first[3:4].isdigit():
        return "bzip2"
    if first.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


def codec_by_name(path: str) -> str | None:
    return CODEC_SUFFIXES.get(Path(path).suffix.lower())


def _decompressor(codec: str) -> Any:
    if codec == "gzip":
        return zlib.decompressobj(wbits=31)
    if codec == "bzip2":
        return bz2.BZ2Decompressor()
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj()


def decompressed(chunks: Iterator[bytes], codec: str | None, members: list[int] | None = None) -> Iterator[bytes]:
    """The content of a (possibly multi-member) gzip/bzip2/zstd stream; UnreadableFile when cut off
    or corrupt. Plain chunks pass through. `members`, if given, gets the number of members seen."""
    if codec is None:
        yield from chunks
        return
    decoder, fed, finished = _decompressor(codec), False, False
    try:
        for chunk in chunks:
            data = chunk
            while data:
                if finished:  # only zero padding may follow the last member
                    if data.strip(b"\x00"):
                        raise UnreadableFile(f"corrupt_{codec}", "bytes after the end of the compressed stream")
                    break
                out = decoder.decompress(data)
                fed = True
                if out:
                    yield out
                if not decoder.eof:
                    break
                data = decoder.unused_data  # the next member (`cat a.gz b.gz`), or trailing bytes
                decoder, fed = _decompressor(codec), False
                if members is not None:
                    members.append(1)
                finished = bool(data) and codec_of(data[:4]) != codec
    except UnreadableFile:
        raise
    except Exception as exc:  # zlib.error, OSError/EOFError (bz2), zstandard.ZstdError
        raise UnreadableFile(f"corrupt_{codec}", str(exc)) from None
    if fed and not decoder.eof:
        raise UnreadableFile(f"truncated_{codec}", "the compressed stream ends before its end marker "
                                                   "(a file cut off mid-upload?)")


def file_content(path: str, codec: str | None) -> bytes:
    """The whole (decompressed) content of a file, for the decoded route."""
    return b"".join(decompressed(raw_chunks(path), codec))


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    for chunk in raw_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


# --- inspection ----------------------------------------------------------------------------------

def _looks_binary(sample: bytes, utf16: bool) -> str | None:
    for magic, what in UNSUPPORTED_MAGIC.items():
        if sample.startswith(magic):
            return what
    if utf16 or not sample:
        return None
    window = sample[:SNIFF]
    # Control bytes other than tab, line ends, form feed and escape: a few happen in text, many do not.
    controls = sum(window.count(bytes([b])) for b in (*range(0, 9), 11, *range(14, 27), *range(28, 32)))
    return "binary content" if controls > max(8, len(window) // 20) else None


@dataclass
class _Scan:
    """What one pass over a file's content found."""

    first_line: bytes = b""
    has_data_after_header: bool = False
    non_blank: bool = False
    has_cr: bool = False
    valid: bool = True  # decodes in the declared encoding (UTF-8 checked; others always decoded)
    spans_lines: bool = False  # a line with an odd number of quotes: a quoted field continues
    json_array: bool = False


def _scan(chunks: Iterator[bytes], csv_format: bool, check_utf8: bool) -> _Scan:
    scan = _Scan()
    decoder = codecs.getincrementaldecoder("utf-8")("strict") if check_utf8 else None
    odd_quotes = False
    header_done = not csv_format
    first_char_seen = False
    for chunk in chunks:
        if not first_char_seen:
            stripped = chunk.lstrip()
            if stripped:
                first_char_seen = True
                scan.json_array = stripped[:1] == b"["
        if not scan.non_blank and chunk.strip():
            scan.non_blank = True
        if not scan.has_cr and b"\r" in chunk:
            scan.has_cr = True
        if decoder is not None and scan.valid and not chunk.isascii():
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                scan.valid = False
        if not header_done:
            end = _LINE_END.search(chunk)
            scan.first_line += chunk if end is None else chunk[: end.start()]
            if end is not None:
                header_done = True
                if chunk[end.end():].strip():
                    scan.has_data_after_header = True
        elif csv_format and not scan.has_data_after_header and chunk.strip():
            scan.has_data_after_header = True
        # A line with an odd number of quotes opens a quoted field that continues on the next line
        # (or is a stray quote: bronze_decode tells them apart); either way Spark's line reader would split it.
        if csv_format and not scan.spans_lines and (odd_quotes or b'"' in chunk):
            lines = chunk.split(b"\n")
            for index, line in enumerate(lines):
                if line.count(b'"') % 2:
                    odd_quotes = not odd_quotes
                if odd_quotes and index < len(lines) - 1:
                    scan.spans_lines = True
                    break
    if decoder is not None and scan.valid:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            scan.valid = False
    if csv_format and odd_quotes:
        scan.spans_lines = True  # the file ends inside a quoted field (cut off?): the decoded path says so
    return scan


def inspect_file(path: str, size: int, contract: Contract) -> BronzeFile:
    """Look at one object (one streamed pass) and decide its outcome and route; never raises for
    a bad file (an unreadable one comes back `quarantined` with its reason)."""
    entry = BronzeFile(path=path, size=size)
    if size == 0:
        entry.outcome, entry.reason = "empty", "0 bytes"
        return entry
    try:
        _inspect(entry, contract)
    except UnreadableFile as exc:
        entry.outcome, entry.route, entry.reason = "quarantined", None, str(exc)
    except OSError as exc:
        entry.outcome, entry.route, entry.reason = "quarantined", None, f"unreadable: {exc}"
    if entry.outcome == "quarantined":
        entry.sha256 = sha256_of(path)
    return entry


def _inspect(entry: BronzeFile, contract: Contract) -> None:
    head = next(raw_chunks(entry.path, SNIFF), b"")
    entry.codec = codec_of(head[:4])
    content_head = head
    if entry.codec is not None:
        content_head = b"".join(_first_bytes(decompressed(iter([head]), entry.codec), SNIFF))
    encoding = contract.encoding
    for bom, name in BOMS:
        if content_head.startswith(bom):
            entry.bom, encoding = True, name
            break
    entry.encoding = encoding
    utf16 = encoding.startswith("utf-16")
    binary = _looks_binary(content_head, utf16)
    if binary:
        raise UnreadableFile("not_text", f"{binary}, not {contract.format}")
    named = codec_by_name(entry.path)
    reasons: list[str] = []
    native_suffixes = NATIVE_CODEC_SUFFIXES.get(entry.codec or "", ())
    if entry.codec is not None and not entry.path.lower().endswith(native_suffixes):
        reasons.append(f"{entry.codec} content" + ("" if named == entry.codec else " under a name without its suffix"))
    if named is not None and entry.codec is None:
        reasons.append(f"plain content under a {Path(entry.path).suffix} name")
    if entry.bom:
        reasons.append(f"{encoding} byte-order mark")
    plain_utf8 = encoding.replace("_", "-").lower() in ("utf-8", "utf8")
    if not plain_utf8 or entry.bom:
        if not entry.bom:
            reasons.append(f"declared encoding {encoding}")
        scan = _Scan(non_blank=True, has_data_after_header=True)
        content = file_content(entry.path, entry.codec)
        text = _decode_for_sniff(content, encoding, entry.bom)
        lines = [line for line in text.splitlines() if line.strip()]
        scan.non_blank = bool(lines)
        scan.has_data_after_header = len(lines) > 1
        scan.first_line = (lines[0] if lines else "").encode("utf-8", "surrogateescape")
        scan.json_array = text.lstrip().startswith("[")
    else:
        members: list[int] = []
        scan = _scan(decompressed(raw_chunks(entry.path), entry.codec, members), contract.format == "csv",
                     check_utf8=True)
        if len(members) > 1:
            reasons.append(f"{len(members)} concatenated {entry.codec} members")
        if not scan.valid:
            reasons.append("bytes that are not UTF-8")
        if scan.has_cr:
            reasons.append("CR or CRLF line ends")
        if scan.spans_lines:
            reasons.append("quoted fields spanning lines")
        if contract.format == "jsonl" and scan.json_array:
            reasons.append("a JSON array file")
    if not scan.non_blank:
        entry.outcome, entry.reason = "empty", "blank lines only"
        return
    if contract.format == "csv":
        header = csv_header_names(scan.first_line.decode("utf-8", "replace") if not (entry.bom or not plain_utf8)
                                  else scan.first_line.decode("utf-8", "surrogateescape"))
        problem = header_problem(header, contract)
        if problem:
            raise UnreadableFile("bad_header", problem)
        entry.header = header
        if not scan.has_data_after_header:
            entry.outcome, entry.reason = "header_only", "a header and no rows"
            return
    entry.route = "decoded" if reasons else "native"
    entry.reason = "; ".join(reasons) or None


def _first_bytes(chunks: Iterator[bytes], limit: int) -> Iterator[bytes]:
    total = 0
    try:
        for chunk in chunks:
            yield chunk
            total += len(chunk)
            if total >= limit:
                return
    except UnreadableFile as exc:
        if not exc.reason.startswith("truncated_"):
            raise


def _decode_for_sniff(content: bytes, encoding: str, bom: bool) -> str:
    try:
        return content.decode(python_encoding(encoding, bom), "surrogateescape")
    except (UnicodeDecodeError, LookupError) as exc:
        raise UnreadableFile("undecodable", f"not {encoding}: {exc}") from None


def python_encoding(encoding: str, bom: bool) -> str:
    """The codec name that also drops the BOM."""
    if bom and encoding == "utf-8":
        return "utf-8-sig"
    if bom and encoding.startswith("utf-16"):
        return "utf-16"
    return encoding


def csv_header_names(first_line: str) -> list[str]:
    import csv
    import io

    line = first_line.replace("\r\n", "\n").replace("\r", "\n").split("\n", 1)[0]
    try:
        names = next(csv.reader(io.StringIO(line)), [])
    except csv.Error:
        return []
    return [name.strip().lstrip("\ufeff").strip() for name in names]


def header_problem(header: list[str], contract: Contract) -> str | None:
    if not header or not any(header):
        return "no CSV header"
    if len(set(header)) != len(header):
        duplicates = sorted({n for n in header if header.count(n) > 1})
        return f"duplicate CSV header names {duplicates}"
    if "" in header:
        return f"an empty CSV header name in {header!r}"
    if not set(header) & set(contract.column_names):
        return f"no CSV header name is a column of the contract ({', '.join(header[:8])})"
    return None


def inspect_folder(folder: str, contract: Contract) -> list[BronzeFile]:
    """Every object under an ingest folder, each with its outcome (see the module docstring)."""
    entries = []
    for path, size in list_objects(folder):
        if is_skipped(path, folder):
            entries.append(BronzeFile(path=path, size=size, outcome="skipped", reason=SKIP_RULE))
        else:
            entries.append(inspect_file(path, size, contract))
    return entries
