"""One-folder-per-class image sets — the layout torchvision's ImageFolder reads — from a zip or a
folder, read defensively; the model's 28×28 view of each image; the stratified split.

    cats/001.png            or   my_set/cats/001.png     (one top folder wrapping them is fine)
    cats/002.jpg                 my_set/dogs/001.png
    dogs/001.png

A zip comes from a stranger, so nothing in it is ever extracted to disk: entries are checked from
the zip's directory before any byte is decompressed, then read into memory with a bounded read,
and the caller writes what it keeps under names it chooses itself. Refused with one sentence
(`FolderError`, a `code` for translations): not a zip, too large, too many entries (a zip of
10,000 files), a declared or actual uncompressed size over the cap or a suspicious compression
ratio (a zip bomb), an absolute path or `..` (path traversal), a symbolic link, an encrypted
entry, an archive inside the archive, folders inside a class folder, no images at all. Skipped
and counted: files that are not images (by their bytes, not their names), files outside a class
folder, the clutter of archivers (`__MACOSX/`, `.DS_Store`, `Thumbs.db`, hidden files).

Each image becomes the 28×28 picture the model receives (`model_view`): an image of 28×28 is
already one (the sets CNN Lab exports), any other goes through the Predict page's preprocessing
(core.preprocess: ink found, cropped, scaled into 20×20, centred by mass).
"""
from __future__ import annotations

import io
import os
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.images import ImageError, load_image_bytes, sniff_format
from core.limits import Limits
from core.preprocess import FIELD, ink_is_dark, preprocess, to_grayscale

MB = 1024 * 1024

# What one zip (or folder) may hold: fixed safety caps, not settings (the per-workspace limits a
# class may want to change are core.settings.own_classes_limits).
MAX_ZIP_BYTES = 64 * MB            # the compressed upload
MAX_ZIP_ENTRIES = 5000             # files and folders listed in the zip (a 10,000-file zip is refused)
MAX_UNCOMPRESSED_BYTES = 128 * MB  # all entries together, decompressed (held in memory while importing)
MAX_ENTRY_BYTES = 20 * MB          # one entry decompressed (the image upload limit)
MAX_RATIO = 100                    # decompressed / compressed for an entry over RATIO_FLOOR
RATIO_FLOOR = 1 * MB               # small entries may compress well (a blank PNG, a BMP)
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".jar")
CLUTTER = {"__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini"}

_MESSAGES = {
    "not_zip": "This file is not a zip archive; upload a .zip with one folder per class.",
    "zip_too_large": "The zip is {size}; this server accepts at most {limit}.",
    "too_many_entries": "The zip holds {count:,} files and folders; this server reads at most {limit:,}.",
    "too_many_files": "The folder holds more than {limit:,} files; this server reads at most {limit:,}.",
    "bomb": "The zip would unpack to {size} (declared {declared}); this server unpacks at most {limit} — it looks like a zip bomb.",
    "ratio": "'{name}' is compressed {ratio:,}:1, far more than any image; the zip looks like a zip bomb.",
    "entry_too_large": "'{name}' unpacks to {size}; a file may be at most {limit}.",
    "unsafe_path": "The zip names a file outside its own folders ('{name}'); it cannot be imported.",
    "symlink": "The zip holds a symbolic link ('{name}'); it cannot be imported.",
    "encrypted": "'{name}' is password-protected; zip the images without a password.",
    "nested_archive": "The zip holds another archive ('{name}'); unpack it and zip the class folders themselves.",
    "too_deep": "'{name}' lies in a folder inside a class folder; use one folder per class (cats/001.png).",
    "damaged": "The zip is damaged ('{name}' cannot be read); create it again.",
    "no_images": "No images were found in class folders; use one folder per class (cats/001.png, dogs/001.png).",
    "no_folder": "The folder {name} does not exist.",
}


class FolderError(ValueError):
    """An image set that cannot be read, in one sentence; `code` and `details` for translations."""

    def __init__(self, code: str, **details):
        self.code, self.details = code, details
        super().__init__(_MESSAGES[code].format(**details))


def _mb(n: int) -> str:
    return f"{n / MB:.3g} MB" if n >= MB else f"{n / 1024:.3g} KB"


@dataclass
class ImageSet:
    """What a zip or folder holds: class folder name -> [(file name, file bytes)], both in sorted
    order (as ImageFolder sorts them); images only, not yet decoded."""

    classes: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)       # not images (their paths in the set)
    outside: list[str] = field(default_factory=list)       # files not in a class folder
    empty: list[str] = field(default_factory=list)         # class folders without an image

    @property
    def count(self) -> int:
        return sum(len(files) for files in self.classes.values())


# ------------------------------------------------------------------------------ the layout

def _parts(name: str) -> list[str]:
    """A stored path's parts; FolderError for an absolute path, a drive or `..` (either slash)."""
    clean = name.replace("\\", "/")
    parts = clean.split("/")
    if clean.startswith("/") or (len(parts[0]) == 2 and parts[0][1] == ":") or ".." in parts \
            or any(ord(c) < 32 for c in clean):
        raise FolderError("unsafe_path", name=name[:80])
    return [p for p in parts if p not in ("", ".")]


def _is_clutter(parts: list[str]) -> bool:
    return any(p in CLUTTER or p.startswith(".") for p in parts)


def organize(files: list[tuple[list[str], bytes]], folders: list[list[str]]) -> ImageSet:
    """Files (path parts, bytes) and folder paths into classes. One top folder wrapping every
    class folder is unwrapped; a file in a folder inside a class folder is refused."""
    files = [(p, b) for p, b in files if p and not _is_clutter(p)]
    folders = [p for p in folders if p and not _is_clutter(p)]
    tops = {p[0] for p, _ in files} | {p[0] for p in folders}
    if len(tops) == 1 and any(len(p) >= 3 for p, _ in files) | any(len(p) >= 2 for p in folders):
        files = [(p[1:], b) for p, b in files]
        folders = [p[1:] for p in folders if len(p) > 1]
    out = ImageSet()
    found: dict[str, list[tuple[str, bytes]]] = {}
    for parts, data in files:
        shown = "/".join(parts)
        if len(parts) > 2:
            raise FolderError("too_deep", name=shown[:80])
        if len(parts) == 1:
            out.outside.append(shown)
            continue
        if sniff_format(data[:16]) is None:
            out.skipped.append(shown)
            continue
        found.setdefault(parts[0], []).append((parts[1], data))
    for parts in folders:
        if len(parts) > 1:
            raise FolderError("too_deep", name="/".join(parts)[:80])
        found.setdefault(parts[0], [])
    for name in sorted(found):
        if found[name]:
            out.classes[name] = sorted(found[name], key=lambda f: f[0])
        else:
            out.empty.append(name)
    if not out.classes:
        raise FolderError("no_images")
    return out


# ------------------------------------------------------------------------------ zip

def read_zip(data: bytes, max_bytes: int = MAX_ZIP_BYTES, max_entries: int = MAX_ZIP_ENTRIES,
             max_uncompressed: int = MAX_UNCOMPRESSED_BYTES) -> ImageSet:
    """The images of a one-folder-per-class zip, checked as the module docstring says; nothing
    is written anywhere."""
    if len(data) > max_bytes:
        raise FolderError("zip_too_large", size=_mb(len(data)), limit=_mb(max_bytes))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError):
        raise FolderError("not_zip") from None
    if len(infos) > max_entries:
        raise FolderError("too_many_entries", count=len(infos), limit=max_entries)
    # Every check that the zip's directory answers comes before any byte is decompressed.
    declared = 0
    for info in infos:
        parts = _parts(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise FolderError("symlink", name=info.filename[:80])
        if info.is_dir() or _is_clutter(parts):
            continue
        if info.flag_bits & 0x1:
            raise FolderError("encrypted", name=info.filename[:80])
        if info.filename.lower().endswith(ARCHIVE_SUFFIXES):
            raise FolderError("nested_archive", name=info.filename[:80])
        if info.file_size > MAX_ENTRY_BYTES:
            raise FolderError("entry_too_large", name=info.filename[:80], size=_mb(info.file_size),
                              limit=_mb(MAX_ENTRY_BYTES))
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise FolderError("ratio", name=info.filename[:80], ratio=info.file_size // max(info.compress_size, 1))
        declared += info.file_size
    if declared > max_uncompressed:
        raise FolderError("bomb", size=_mb(declared), declared=_mb(declared), limit=_mb(max_uncompressed))
    files, folders, total = [], [], 0
    for info in infos:
        parts = _parts(info.filename)
        if info.is_dir():
            folders.append(parts)
            continue
        if _is_clutter(parts):
            continue
        try:
            with archive.open(info) as f:
                # Never trust the declared size: read at most one byte more than it says.
                content = f.read(min(info.file_size, MAX_ENTRY_BYTES) + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
            raise FolderError("damaged", name=info.filename[:80]) from None
        if len(content) > info.file_size:
            raise FolderError("bomb", size=f"more than {_mb(total + len(content))}", declared=_mb(declared),
                              limit=_mb(max_uncompressed))
        total += len(content)
        if content[:4] == b"PK\x03\x04":
            raise FolderError("nested_archive", name=info.filename[:80])
        files.append((parts, content))
    return organize(files, folders)


def write_zip(classes: dict[str, list[tuple[str, bytes]]]) -> bytes:
    """A zip in the same layout: `<class>/<file>` for every file, an empty folder for an empty
    class (names are the caller's, already safe as file names)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, files in classes.items():
            if not files:
                archive.writestr(zipfile.ZipInfo(f"{name}/"), b"")
            for file_name, data in files:
                archive.writestr(f"{name}/{file_name}", data)
    return buffer.getvalue()


# ------------------------------------------------------------------------------ folder

def read_folder(root: str | os.PathLike, max_files: int = MAX_ZIP_ENTRIES,
                max_total: int = MAX_UNCOMPRESSED_BYTES) -> ImageSet:
    """The images of a one-folder-per-class folder on disk (the command line's --data-folder).
    Symbolic links are not followed; the same layout rules and caps as a zip."""
    root = Path(root)
    if not root.is_dir():
        raise FolderError("no_folder", name=str(root)[:200])
    files, folders, total, seen = [], [], 0, 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel = Path(dirpath).relative_to(root).parts
        dirnames.sort()
        for d in dirnames:
            if not (Path(dirpath) / d).is_symlink():
                folders.append([*rel, d])
        for name in sorted(filenames):
            seen += 1
            if seen > max_files:
                raise FolderError("too_many_files", limit=max_files)
            path = Path(dirpath) / name
            parts = [*rel, name]
            if path.is_symlink() or not path.is_file() or _is_clutter(parts):
                continue
            size = path.stat().st_size
            if size > MAX_ENTRY_BYTES:
                raise FolderError("entry_too_large", name="/".join(parts)[:80], size=_mb(size),
                                  limit=_mb(MAX_ENTRY_BYTES))
            total += size
            if total > max_total:
                raise FolderError("bomb", size=f"more than {_mb(total)}", declared=_mb(total), limit=_mb(max_total))
            files.append((parts, path.read_bytes()))
    return organize(files, folders)


# ------------------------------------------------------------------------------ images

def model_view(image: np.ndarray) -> np.ndarray | None:
    """The 28×28 uint8 picture (bright ink on black) the model receives for an RGB/grey/RGBA
    image, or None when nothing is drawn on it.

    A 28×28 image already is one (MNIST's format, and what CNN Lab exports): it is only turned
    bright-on-dark if its ink is dark. Any other size goes through core.preprocess, as a drawing
    or a photo on the Predict page does.
    """
    grey = to_grayscale(image)
    if grey.shape == (FIELD, FIELD):
        if ink_is_dark(grey):
            grey = 1.0 - grey
        if (grey > 0.2).sum() < 4:
            return None
        return np.round(grey * 255).astype(np.uint8)
    prep = preprocess(image)
    if prep.blank:
        return None
    return np.round(np.clip(prep.model_view, 0, 1) * 255).astype(np.uint8)


def decode_view(data: bytes, limits: Limits | None = None) -> np.ndarray | None:
    """`model_view` of an image file's bytes; ImageError when they are not a usable image."""
    return model_view(load_image_bytes(data, limits))


# ------------------------------------------------------------------------------ the split

def stratified_split(labels: torch.Tensor, share: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(training indices, validation indices): from every class, round(share × n) of its n
    examples — at least 1 and at most n − 1, when it has 2 or more — drawn with `seed`, go to
    validation. Both index lists are sorted. The exported training script holds this function's
    own source, so it splits a folder exactly as CNN Lab does."""
    generator = torch.Generator().manual_seed(seed)
    train, val = [], []
    for c in range(int(labels.max()) + 1 if len(labels) else 0):
        members = torch.nonzero(labels == c).flatten()
        n = len(members)
        k = min(max(1, round(share * n)), n - 1) if n >= 2 else 0
        order = members[torch.randperm(n, generator=generator)]
        val.append(order[:k])
        train.append(order[k:])
    cat = lambda parts: torch.cat(parts).sort().values if parts else torch.zeros(0, dtype=torch.long)  # noqa: E731
    return cat(train), cat(val)


__all__ = ["FolderError", "ImageSet", "read_zip", "write_zip", "read_folder", "organize", "model_view",
           "decode_view", "stratified_split", "ImageError", "MAX_ZIP_BYTES", "MAX_ZIP_ENTRIES",
           "MAX_UNCOMPRESSED_BYTES"]
