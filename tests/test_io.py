"""thinkact.io: atomic writes and file hashes."""
from __future__ import annotations

import hashlib
import os

from thinkact.io import atomic_dir, atomic_write_json, atomic_write_text, file_md5


def test_written_files_get_ordinary_permissions(tmp_path):
    """Atomic writes go through mkstemp (0600); the result must be readable by a teammate (0666 less the umask)."""
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        atomic_write_json(tmp_path / "b.json", {"x": 1})
        with atomic_dir(tmp_path / "folder") as tmp:
            (tmp / "c").write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "a.txt").read_text() == "x"


def test_file_md5_is_the_md5_of_the_bytes(tmp_path):
    path = tmp_path / "f.bin"
    data = os.urandom(3 << 20)  # more than one read block
    path.write_bytes(data)
    assert file_md5(path) == hashlib.md5(data).hexdigest()
