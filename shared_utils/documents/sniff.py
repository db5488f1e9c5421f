"""What a file that is not a PDF looks like, in words a user understands.

>>> describe(b"")
'the file is empty'
>>> describe(b"PK\\x03\\x04 word/document.xml")
'it is a ZIP archive or a Word/Excel/PowerPoint (Office) file'
>>> describe(b"\\x89PNG\\r\\n\\x1a\\n....")
'it is a PNG image'
>>> describe(b"<!DOCTYPE html><html>")
'it is a web page (HTML)'
>>> describe(b"Meeting notes\\nBring the pump.\\n")
'it is a plain text file'
>>> describe(bytes(range(256)))
'its contents are not a format Olympus recognises'
"""

from __future__ import annotations

_SIGNATURES = [
    (b"PK\x03\x04", "it is a ZIP archive or a Word/Excel/PowerPoint (Office) file"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "it is an old Word/Excel/PowerPoint (Office 97-2003) file",
    ),
    (b"\x89PNG\r\n\x1a\n", "it is a PNG image"),
    (b"\xff\xd8\xff", "it is a JPEG image"),
    (b"GIF87a", "it is a GIF image"),
    (b"GIF89a", "it is a GIF image"),
    (b"II*\x00", "it is a TIFF image"),
    (b"MM\x00*", "it is a TIFF image"),
    (b"{\\rtf", "it is an RTF document"),
    (b"\x1f\x8b", "it is a gzip-compressed file"),
    (b"7z\xbc\xaf\x27\x1c", "it is a 7-Zip archive"),
    (b"Rar!", "it is a RAR archive"),
    (b"%!PS", "it is a PostScript file"),
    (b"AT&TFORM", "it is a DjVu document"),
]


def describe(data: bytes) -> str:
    """A phrase for the error message: what ``data`` appears to be (never its bytes)."""
    if not data.strip():
        return "the file is empty" if not data else "the file contains only blank space"
    for magic, what in _SIGNATURES:
        if data.startswith(magic):
            return what
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in head:
        return "it is a web page (HTML)"
    if head.startswith(b"<?xml") or head.startswith(b"<svg"):
        return "it is an XML or SVG file"
    if _looks_like_text(data[:4096]):
        return "it is a plain text file"
    return "its contents are not a format Olympus recognises"


def _looks_like_text(sample: bytes) -> bool:
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        text = sample.decode("latin-1")
        if sum(0x80 <= b < 0xA0 for b in sample) > len(sample) // 100:
            return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * len(text)
