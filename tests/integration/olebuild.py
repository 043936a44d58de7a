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


def ole_streams(streams):
    """A compound file whose root holds the given (name, data) streams -
    at most three: streams of 4,096 bytes or more in 512-byte sectors
    through the FAT, shorter ones in 64-byte sectors of the mini stream
    through the mini FAT (MS-CFB 2.6.3).  One FAT sector, so at most
    about 60 KiB of data."""
    assert len(streams) <= 3
    mini = [(n, d) for n, d in streams if len(d) < 4096]
    big = [(n, d) for n, d in streams if len(d) >= 4096]
    ms = b"".join(d.ljust(-(-len(d) // 64) * 64, b"\0") for _, d in mini)
    ms_sects = -(-len(ms) // 512)
    mf_sects = 1 if mini else 0
    fat = [FATSECT, END]                       # sector 0 the FAT, 1 the directory
    mf_at = len(fat)
    fat += [END] * mf_sects
    ms_at = len(fat)
    fat += [ms_at + k + 1 for k in range(ms_sects - 1)] + ([END] if ms_sects else [])
    body, starts = b"", {}
    for name, d in big:
        n = -(-len(d) // 512)
        starts[name] = len(fat)
        fat += [len(fat) + k + 1 for k in range(n - 1)] + [END]
        body += d.ljust(n * 512, b"\0")
    assert len(fat) <= 128
    minifat, mstart, k = [], {}, 0
    for name, d in mini:
        n = -(-len(d) // 64)
        mstart[name] = k
        minifat += [k + j + 1 for j in range(n - 1)] + [END]
        k += n
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIII", header, 0x2C, 1, 1, 0, 0x1000,
                     mf_at if mini else END, mf_sects, END, 0)
    struct.pack_into("<109I", header, 0x4C, 0, *([FREE] * 108))
    directory = bytearray(512)
    rows = [("Root Entry", 5, ms_at if mini else END, len(ms))]
    for name, d in streams:
        rows.append((name, 2, mstart[name] if len(d) < 4096 else starts[name], len(d)))
    for i, (name, typ, start, size) in enumerate(rows):
        u = name.encode("utf-16-le") + b"\0\0"
        right = i + 1 if 0 < i < len(rows) - 1 else NONE
        child = 1 if i == 0 and len(rows) > 1 else NONE
        e = u.ljust(64, b"\0") + struct.pack("<HBBIII", len(u), typ, 1, NONE, right, child)
        e = e.ljust(0x74, b"\0") + struct.pack("<IQ", start, size)
        directory[128 * i:128 * i + 128] = e.ljust(128, b"\0")
    out = bytes(header) + struct.pack("<128I", *(fat + [FREE] * (128 - len(fat)))) + bytes(directory)
    if mini:
        out += struct.pack("<128I", *(minifat + [FREE] * (128 - len(minifat))))
        out += ms.ljust(ms_sects * 512, b"\0")
    return out + body


def xls_macro_sheet(hidden=2):
    """A workbook written by xlwt (its own compound file and BIFF8 records)
    with its second sheet turned into an Excel 4.0 macro sheet - the
    BoundSheet8 record's kind set to 1 and its visibility to hidden (1) or
    very hidden (2), the sheet's BOF to a macro sheet's - as malware
    builders do to a workbook.  xlrd reads the result as a macro sheet."""
    import io
    import xlwt
    wb = xlwt.Workbook()
    inv = wb.add_sheet("Invoice")
    inv.write(0, 0, "Total")
    inv.write(0, 1, 1200)
    wb.add_sheet("Macro1").write(0, 0, '=EXEC("calc.exe")')
    out = io.BytesIO()
    wb.save(out)
    data = bytearray(out.getvalue())
    at = data.find(b"\x06\x00Macro1")            # its BoundSheet8: cch, flags, name
    assert at > 0 and data[at - 10:at - 8] == b"\x85\x00"
    data[at - 2], data[at - 1] = hidden, 1
    pos = struct.unpack_from("<I", data, at - 6)[0]
    bof = 512 + pos                               # xlwt stores the stream in one run
    assert data[bof:bof + 2] == b"\x09\x08" and data[bof + 6:bof + 8] == b"\x10\x00"
    data[bof + 6] = 0x40
    return bytes(data)
