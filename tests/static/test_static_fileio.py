"""inplace_fix.fileio: what is read is exactly what is on disk; what is written loses nothing."""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

import pytest

from inplace_fix.fileio import SourceError, encode, read_source, restore, write_atomic


def test_crlf_text_keeps_its_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_bytes(b"x = 1\r\ny = 2\r\n")
    source = read_source(path)
    assert source.text == "x = 1\r\ny = 2\r\n"
    assert encode(source, source.text) == source.data


def test_bom_is_tracked_and_written_back(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_bytes(codecs.BOM_UTF8 + "s = 'é'\n".encode())
    source = read_source(path)
    assert source.bom and source.encoding == "utf-8"
    assert source.text == "s = 'é'\n"
    assert encode(source, "s = 'è'\n") == codecs.BOM_UTF8 + "s = 'è'\n".encode()


def test_latin1_cookie_round_trips(tmp_path: Path) -> None:
    data = "# -*- coding: latin-1 -*-\ns = 'caf\xe9'\n".encode("latin-1")
    path = tmp_path / "a.py"
    path.write_bytes(data)
    source = read_source(path)
    assert source.encoding in ("iso-8859-1", "latin-1")
    assert "café" in source.text
    assert encode(source, source.text) == data


def test_text_the_encoding_cannot_hold_is_an_error_not_mojibake(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_bytes(b"# coding: latin-1\nx = 1\n")
    with pytest.raises(SourceError, match="cannot be encoded"):
        encode(read_source(path), "# coding: latin-1\nx = '\u20ac'\n")


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"x = '\xff\xfe'\n", "cannot decode"), (b"# coding: no-such-codec\nx = 1\n", "cannot decode")],
)
def test_undecodable_files_raise_source_error_with_a_reason(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "a.py"
    path.write_bytes(data)
    with pytest.raises(SourceError, match=reason):
        read_source(path)


def test_missing_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot read"):
        read_source(tmp_path / "nope.py")


def test_write_atomic_keeps_mode_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "tool.py"
    path.write_bytes(b"old\n")
    os.chmod(path, 0o755)
    write_atomic(path, b"new\n", stat.S_IMODE(path.stat().st_mode))
    assert path.read_bytes() == b"new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tool.py"]


def test_write_atomic_cleans_up_when_the_rename_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.py"
    path.write_bytes(b"old\n")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_atomic(path, b"new\n", 0o644)
    assert path.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py"]


def test_write_through_a_symlink_rewrites_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real.py"
    real.write_bytes(b"old\n")
    link = tmp_path / "link.py"
    link.symlink_to(real)
    write_atomic(link, b"new\n")
    assert link.is_symlink() and real.read_bytes() == b"new\n"


def test_restore_puts_back_the_exact_bytes_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_bytes(b"x = 1\r\n")
    os.chmod(path, 0o700)
    source = read_source(path)
    write_atomic(path, b"changed\n", 0o644)
    restore(source)
    assert path.read_bytes() == b"x = 1\r\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o700


def test_a_file_with_other_hard_links_is_rewritten_in_place_so_every_link_sees_it(tmp_path: Path) -> None:
    path, other = tmp_path / "a.py", tmp_path / "b.py"
    path.write_bytes(b"a much longer old text\n")
    os.chmod(path, 0o750)
    os.link(path, other)
    inode = path.stat().st_ino
    source = read_source(path)
    write_atomic(path, b"new\n", source.mode)
    assert other.read_bytes() == b"new\n"  # the tail of the longer old text is gone too
    assert path.stat().st_ino == inode and path.stat().st_nlink == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o750
    restore(source)
    assert other.read_bytes() == b"a much longer old text\n" and path.stat().st_ino == inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "b.py"]


needs_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                                reason="giving a file to another user takes root")


@needs_root
def test_a_rewrite_as_root_leaves_a_users_file_to_that_user(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_bytes(b"old\n")
    os.chown(path, 65534, 65534)
    os.chmod(path, 0o6755)  # set-id bits: a change of owner would clear them
    source = read_source(path)
    write_atomic(path, b"new\n", source.mode)
    after = path.stat()
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (65534, 65534, 0o6755)
    restore(source)
    assert (path.stat().st_uid, path.stat().st_gid) == (65534, 65534) and path.read_bytes() == b"old\n"


@needs_root
def test_a_file_that_cannot_be_given_back_to_its_owner_is_not_taken_over(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.py"
    path.write_bytes(b"old\n")
    os.chown(path, 65534, 65534)

    def refused(fd: int, uid: int, gid: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchown", refused)
    with pytest.raises(PermissionError, match="belongs to uid 65534"):
        write_atomic(path, b"new\n")
    assert path.read_bytes() == b"old\n" and path.stat().st_uid == 65534
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py"]


@needs_root
def test_our_own_file_is_written_even_when_its_group_cannot_be_kept(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.py"
    path.write_bytes(b"old\n")
    os.chown(path, os.geteuid(), 65534)

    def refused(fd: int, uid: int, gid: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchown", refused)
    write_atomic(path, b"new\n")
    assert path.read_bytes() == b"new\n" and path.stat().st_uid == os.geteuid()
