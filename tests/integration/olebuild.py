"""OLE compound files (MS-CFB version 3) for the tests, written from the
specification: a header, one FAT sector and one directory sector holding a
root entry and the given storages and streams (empty), each under its
parent - the layout of a Word document's "Macros/VBA" project.  The result
is a file olefile (python3-olefile) reads like one Office wrote."""
import struct

FREE, END, FATSECT, NONE = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def ole(entries):
    """entries: (name, type, parent index or -1 for the root); type 1 is a
    storage, 2 a stream.  At most three besides the root."""
    assert len(entries) <= 3
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIII", header, 0x2C, 1, 1, 0, 0x1000, END, 0, END, 0)
    struct.pack_into("<109I", header, 0x4C, 0, *([FREE] * 108))
    fat = struct.pack("<128I", FATSECT, END, *([FREE] * 126))
    rows = [["Root Entry", 5, NONE, NONE, NONE]]
    for name, typ, _ in entries:
        rows.append([name, typ, NONE, NONE, NONE])
    for i, (_, _, parent) in enumerate(entries, start=1):
        p = parent + 1
        if rows[p][4] == NONE:
            rows[p][4] = i                     # first child
        else:
            j = rows[p][4]
            while rows[j][3] != NONE:
                j = rows[j][3]
            rows[j][3] = i                     # right sibling of the last child
    directory = bytearray(512)
    for i, (name, typ, left, right, child) in enumerate(rows):
        u = name.encode("utf-16-le") + b"\0\0"
        e = u.ljust(64, b"\0") + struct.pack("<HBBIII", len(u), typ, 1, left, right, child)
        e = e.ljust(0x74, b"\0") + struct.pack("<IQ", END, 0)
        directory[128 * i:128 * i + 128] = e.ljust(128, b"\0")
    return bytes(header) + fat + bytes(directory)
