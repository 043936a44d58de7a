"""RAR archives for the tests, written byte by byte from RARLAB's technical
notes (RAR 2.9-4.x blocks and RAR 5.0 headers), with every header CRC filled
in: no free software writes RAR, and these are archives libarchive (bsdtar)
lists like any other.  Members are stored.  With header_password, what
follows the first header is opaque bytes, as in an archive made with
`rar -hp` before it is decrypted."""
import struct
import zlib


def rar4(members, header_password=False):
    """members: (name bytes, data bytes, encrypted) triples."""
    out = bytearray(b"Rar!\x1a\x07\x00")
    body = struct.pack("<BHH", 0x73, 0x0080 if header_password else 0, 13) + b"\0" * 6
    out += struct.pack("<H", zlib.crc32(body) & 0xffff) + body
    if header_password:
        return bytes(out) + b"\x5a" * 64
    for name, data, enc in members:
        flags = 0x8000 | (0x0004 if enc else 0)
        body = struct.pack("<BHHIIBIIBBHI", 0x74, flags, 32 + len(name), len(data), len(data),
                           3, zlib.crc32(data), 0x5a210000, 29, 0x30, len(name), 0x81a4) + name
        out += struct.pack("<H", zlib.crc32(body) & 0xffff) + body + data
    body = struct.pack("<BHH", 0x7b, 0x4000, 7)
    out += struct.pack("<H", zlib.crc32(body) & 0xffff) + body
    return bytes(out)


def _vint(v):
    b = bytearray()
    while True:
        c, v = v & 0x7f, v >> 7
        b.append(c | (0x80 if v else 0))
        if not v:
            return bytes(b)


def _block5(fields):
    """A RAR 5 header: its CRC32 and size, then fields (from the type on)."""
    sized = _vint(len(fields)) + fields
    return struct.pack("<I", zlib.crc32(sized)) + sized


def rar5(members, header_password=False):
    """members: (name bytes, data bytes, encrypted) triples."""
    out = bytearray(b"Rar!\x1a\x07\x01\x00")
    if header_password:   # archive encryption header: version, flags, KDF count, salt
        out += _block5(_vint(4) + _vint(0) + _vint(0) + _vint(0) + bytes([15]) + b"\x11" * 16)
        return bytes(out) + b"\x5a" * 64
    out += _block5(_vint(1) + _vint(0) + _vint(0))
    for name, data, enc in members:
        extra = b""
        if enc:           # file encryption record: version, flags, KDF count, salt, IV
            rec = _vint(1) + _vint(0) + _vint(0) + bytes([15]) + b"\x22" * 16 + b"\x33" * 16
            extra = _vint(len(rec)) + rec
        f = _vint(2) + _vint(0x0002 | (0x0001 if extra else 0))
        f += (_vint(len(extra)) if extra else b"") + _vint(len(data))
        f += _vint(0x0004) + _vint(len(data)) + _vint(0o644) + struct.pack("<I", zlib.crc32(data))
        f += _vint(0) + _vint(1) + _vint(len(name)) + name + extra
        out += _block5(f) + data
    out += _block5(_vint(5) + _vint(0) + _vint(0))
    return bytes(out)
