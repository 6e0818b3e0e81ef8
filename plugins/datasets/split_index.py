"""The index of a stored split: which stems have a photo, a label map and an instance map.

Preparing a split must not read every image: the index comes from the directory
listings alone (names, sizes and modification times via ``os.scandir``), and is
cached in ``SPLIT/.index.json`` under a key that is the sha256 of those listings,
so a later run that finds the same listing reuses it without building it again
and any added, removed or rewritten file makes a new one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from benchmark import write_json

SUBS = ("images", "labels", "instances")


def listing(folder: Path) -> list[tuple[str, int, int]]:
    if not folder.is_dir():
        return []
    out = []
    with os.scandir(folder) as it:
        for entry in it:
            if entry.is_file() and not entry.name.startswith("."):
                st = entry.stat()
                out.append((entry.name, st.st_size, st.st_mtime_ns))
    out.sort()
    return out


def split_index(split_dir: Path, photo_suffixes=(".jpg", ".jpeg", ".png")) -> dict:
    """``{"key": ..., "stems": [...], "photos": {stem: file name}, "instances": bool}`` for one split."""
    lists = {sub: listing(split_dir / sub) for sub in SUBS}
    digest = hashlib.sha256()
    for sub in SUBS:
        digest.update(sub.encode())
        for name, size, mtime in lists[sub]:
            digest.update(f"{name}\0{size}\0{mtime}\n".encode())
    key = digest.hexdigest()
    cache = split_dir / ".index.json"
    try:
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return cached
    except (OSError, ValueError):
        pass
    photos = {Path(n).stem: n for n, _, _ in lists["images"] if Path(n).suffix.lower() in photo_suffixes}
    index = {"key": key, "stems": sorted(photos), "photos": photos, "instances": bool(lists["instances"])}
    try:
        write_json(cache, index, indent=None)
    except OSError:   # a read-only data root: the index is rebuilt from the listing each time
        pass
    return index
