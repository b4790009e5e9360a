"""Compare a data folder with the md5 pinned in a .dvc file, using DVC's own hashing (dvc-data), without
touching the cache or the .dvc file.  Exit 0 when they match, 1 when they differ.

    python scripts/check_data.py [data.dvc]
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml
from dvc_data.hashfile.hash import file_md5
from dvc_data.hashfile.hash_info import HashInfo
from dvc_data.hashfile.meta import Meta
from dvc_data.hashfile.tree import Tree


def dir_md5(folder: str | Path) -> str:
    """The md5 DVC records for a folder (`<md5>.dir`)."""
    root = Path(folder)
    tree = Tree()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        tree.add(path.relative_to(root).parts, Meta(size=path.stat().st_size), HashInfo("md5", file_md5(str(path))))
    tree.digest()
    return tree.hash_info.value


def pinned_md5(dvc_file: str | Path) -> tuple[str, Path]:
    out = yaml.safe_load(Path(dvc_file).read_text())["outs"][0]
    return out["md5"], Path(dvc_file).parent / out["path"]


def main(dvc_file: str = "data.dvc") -> int:
    want, folder = pinned_md5(dvc_file)
    if not folder.is_dir():
        print(f"{folder}/ is missing (pinned by {dvc_file})")
        return 1
    got = dir_md5(folder)
    print(f"{folder}/: {got}  {dvc_file}: {want}  -> {'match' if got == want else 'DIFFERENT'}")
    return 0 if got == want else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
