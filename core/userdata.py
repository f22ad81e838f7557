"""Your own classes: a learner's labelled examples, kept in their private workspace.

A learner creates 2–10 classes (names in any language), adds examples by drawing or uploading
images (or a zip with one folder per class), looks at them, deletes or renames, exports the set as
a zip and imports it again — then trains a CNN on it like on any dataset (`to_dataset`).

Every example is stored as the 28×28 picture the model receives, made by the Predict page's
preprocessing (core.imagefolder.model_view → core.preprocess), so what the learner sees in the
thumbnails is exactly what the model trains on. On disk, inside the workspace's folder:

    <workspace>/data/classes.json          [{"id": "c1a2b3c4", "name": "猫"}, …] in the model's order
    <workspace>/data/<class id>/<example id>.png   28×28 greyscale PNGs

Names are cleaned (no control characters, markup or path characters, ≤ 40 characters) and unique
ignoring case; files are named by ids this module makes, never by anything a visitor typed or a
zip held, so nothing is ever written outside `<workspace>/data/`. Limits (`DataLimits`) are
checked before anything is written: classes, examples per class and in all, bytes. Nobody but
the workspace's owner can see the set (the workspace is reached only with its secret).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import cv2
import numpy as np
import torch

from core import settings
from core.data import CUSTOM, Dataset, custom_info
from core.folder_lock import folder_lock
from core.imagefolder import FolderError, ImageSet, decode_view, model_view, read_folder, read_zip, \
    stratified_split, write_zip
from core.images import ImageError
from core.limits import Limits
from core.workspace import Workspace, WorkspaceError, display_name

DATA = "data"
INDEX = "classes.json"
MAX_NAME = 40
MIN_CLASSES = 2                 # to train
MIN_PER_CLASS = 2               # to train: one to learn from, one to check with
VALIDATION_SHARE = 0.2          # of every class's examples, kept to check the model
FEW_VALIDATION = 30             # below this many validation examples, say what the figure cannot tell

# New settings (the integrator moves them into core.settings): variable -> DataLimits field.


@dataclass(frozen=True)
class DataLimits:
    max_classes: int = 10
    max_per_class: int = 500
    max_examples: int = 2000
    max_bytes: int = 16 * 1024 * 1024   # a 28×28 PNG is ≈ 0.2–0.7 KB: far above 2,000 of them


def current_data_limits(environ: Mapping[str, str] | None = None) -> DataLimits:
    """The limits, with CNN_LAB_MAX_EXAMPLES / _MAX_CLASS_EXAMPLES / _MAX_DATA_MB where set."""
    return dataclasses.replace(DataLimits(), **settings.own_classes_limits(environ))


class UserDataError(WorkspaceError):
    """A request on your classes that cannot be done, in one sentence (`code` for translations)."""


# ------------------------------------------------------------------------------ records

@dataclass(frozen=True)
class ClassInfo:
    id: str
    name: str          # cleaned: safe to render and to use as a folder name
    count: int         # examples


@dataclass(frozen=True)
class Example:
    id: str
    class_id: str
    image: np.ndarray = field(repr=False, compare=False)   # uint8 [28, 28], bright ink on black


@dataclass(frozen=True)
class Usage:
    classes: int
    examples: int
    bytes: int
    limits: DataLimits


@dataclass
class AddReport:
    """What adding uploads (or importing a zip) did: examples added per class name; files that
    held nothing drawn; files refused, each with its one-sentence reason."""

    added: dict[str, int] = field(default_factory=dict)
    blank: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)       # not images (zip import)
    outside: list[str] = field(default_factory=list)       # not in a class folder (zip import)
    new_classes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.added.values())

    def sentence(self) -> str:
        parts = [f"Added {self.total} example{'s' if self.total != 1 else ''}"
                 + (f" to {', '.join(self.added)}" if self.added else "") + "."]
        if self.new_classes:
            parts.append(f"New classes: {', '.join(self.new_classes)}.")
        if self.blank:
            parts.append(f"{len(self.blank)} image{'s' if len(self.blank) != 1 else ''} had nothing drawn and "
                         f"{'were' if len(self.blank) != 1 else 'was'} left out.")
        if self.refused:
            parts.append(f"{len(self.refused)} file{'s' if len(self.refused) != 1 else ''} could not be read "
                         f"(first: {self.refused[0][0]}: {self.refused[0][1].rstrip('.')}).")
        if self.skipped:
            parts.append(f"{len(self.skipped)} files were not images and were skipped." if len(self.skipped) != 1
                         else f"1 file was not an image and was skipped ({self.skipped[0]}).")
        if self.outside:
            parts.append(f"{len(self.outside)} files outside the class folders were skipped." if len(self.outside) != 1
                         else f"1 file outside the class folders was skipped ({self.outside[0]}).")
        return " ".join(parts)


def clean_class_name(raw: Any) -> str:
    """A class name safe everywhere (a page, a file name in a zip, a checkpoint): any script,
    no control, markup or path characters, at most 40 characters; UserDataError when nothing
    usable is left."""
    name = display_name(raw, fallback="")[:MAX_NAME].strip()
    if not name:
        raise UserDataError("Give the class a name with at least one letter or digit.", code="class_name")
    return name


def _png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 array
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def _new_id(prefix: str) -> str:
    # Time first, so a listing sorted by name is in the order the examples were added.
    return f"{prefix}{time.time_ns():x}{secrets.token_hex(3)}"


# ------------------------------------------------------------------------------ the store

class UserData:
    """One workspace's classes and examples. `UserData(workspace)`; every method checks its
    limits before writing and raises UserDataError (one sentence) for what cannot be done."""

    def __init__(self, workspace: Workspace, limits: DataLimits | None = None):
        self.workspace = workspace
        self.limits = current_data_limits() if limits is None else limits
        self.folder = workspace.folder / DATA

    @classmethod
    def open(cls, secret: str, root: str | os.PathLike | None = None,
             limits: DataLimits | None = None) -> "UserData":
        return cls(Workspace.open(secret, root), limits)

    def __repr__(self) -> str:
        return f"UserData(workspace={self.workspace.id!r})"

    # -------------------------------------------------------------- classes
    def classes(self) -> list[ClassInfo]:
        """The classes in the model's output order, with their example counts."""
        return [ClassInfo(c["id"], c["name"], len(self._files(c["id"]))) for c in self._index()]

    def class_names(self) -> list[str]:
        return [c["name"] for c in self._index()]

    def create_class(self, name: Any) -> ClassInfo:
        name = clean_class_name(name)
        with self._lock():
            index = self._index()
            self._check_new_name(index, name)
            if len(index) >= self.limits.max_classes:
                raise UserDataError(f"You have {len(index)} classes; at most {self.limits.max_classes} are "
                                    "allowed. Delete one first.", code="max_classes", limit=self.limits.max_classes)
            entry = {"id": _new_id("c"), "name": name}
            (self.folder / entry["id"]).mkdir(parents=True, exist_ok=True)
            self._write_index(index + [entry])
        return ClassInfo(entry["id"], name, 0)

    def rename_class(self, class_id: str, name: Any) -> ClassInfo:
        name = clean_class_name(name)
        with self._lock():
            index = self._index()
            entry = self._entry(index, class_id)
            self._check_new_name([c for c in index if c["id"] != class_id], name)
            entry["name"] = name
            self._write_index(index)
        return ClassInfo(class_id, name, len(self._files(class_id)))

    def delete_class(self, class_id: str) -> None:
        """The class and all its examples."""
        with self._lock():
            index = self._index()
            self._entry(index, class_id)
            self._write_index([c for c in index if c["id"] != class_id])
            shutil.rmtree(self.folder / class_id, ignore_errors=True)

    def clear(self) -> None:
        """Every class and example of this workspace."""
        with self._lock():
            for c in self._index():
                shutil.rmtree(self.folder / c["id"], ignore_errors=True)
            self._write_index([])

    # -------------------------------------------------------------- examples
    def examples(self, class_id: str) -> list[Example]:
        """A class's examples, oldest first, each with its 28×28 image (the thumbnails)."""
        self._entry(self._index(), class_id)
        out = []
        for path in self._files(class_id):
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if image is not None and image.shape == (28, 28):
                out.append(Example(path.stem, class_id, image))
        return out

    def add_image(self, class_id: str, image: np.ndarray) -> Example | None:
        """Add one drawn or uploaded image (an RGBA canvas array, RGB, grey; any size) as its
        28×28 model view; None when nothing is drawn on it (nothing is stored)."""
        view = model_view(image)
        if view is None:
            return None
        return self._store(class_id, [view])[0]

    add_drawing = add_image   # the canvas's RGBA array: the page calls this once per "Add"

    def add_files(self, class_id: str, files: list[tuple[str, bytes]], image_limits: Limits | None = None) -> AddReport:
        """Add uploaded image files (name, bytes) to one class: each decoded within the image
        limits and preprocessed; unreadable files are reported, not fatal."""
        name = self._entry(self._index(), class_id)["name"]
        report = AddReport()
        views = self._views(files, report, image_limits)
        if views:
            self._store(class_id, views)
            report.added[name] = len(views)
        return report

    def delete_example(self, class_id: str, example_id: str) -> None:
        with self._lock():
            self._entry(self._index(), class_id)
            for path in self._files(class_id):
                if path.stem == example_id:
                    path.unlink(missing_ok=True)
                    return
        raise UserDataError("This example does not exist any more.", code="no_example")

    # -------------------------------------------------------------- usage
    def usage(self) -> Usage:
        index = self._index()
        files = [p for c in index for p in self._files(c["id"])]
        return Usage(len(index), len(files), sum(p.stat().st_size for p in files), self.limits)

    # -------------------------------------------------------------- zip
    def export_zip(self) -> bytes:
        """The set as a zip, one folder per class named after it (`猫/0001.png`): what
        torchvision's ImageFolder, `python -m core train --data-folder` and `import_zip` read."""
        classes = {}
        for c in self._index():
            files = self._files(c["id"])
            classes[c["name"]] = [(f"{i + 1:04d}.png", p.read_bytes()) for i, p in enumerate(files)]
        return write_zip(classes)

    def import_zip(self, data: bytes, image_limits: Limits | None = None) -> AddReport:
        """Add a zip's classes and images (core.imagefolder checks it first); a folder whose name
        matches an existing class (ignoring case) adds to it, others become new classes. All or
        nothing: every limit is checked before anything is written."""
        found = read_zip(data)
        return self._import(found, image_limits)

    # -------------------------------------------------------------- training
    def to_dataset(self, validation_share: float = VALIDATION_SHARE, seed: int = 0) -> "UserDataset":
        """The set as a core.data.Dataset (a stratified split: the validation examples are the
        run's "test" set); UserDataError when it cannot train yet."""
        index = self._index()
        names, images, labels = [], [], []
        for label, c in enumerate(index):
            names.append(c["name"])
            for path in self._files(c["id"]):
                image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
                if image is not None and image.shape == (28, 28):
                    images.append(image)
                    labels.append(label)
        return make_dataset(names, images, labels, validation_share, seed)

    # -------------------------------------------------------------- internals
    def _import(self, found: ImageSet, image_limits: Limits | None) -> AddReport:
        report = AddReport(skipped=list(found.skipped), outside=list(found.outside))
        index = self._index()
        by_name = {c["name"].casefold(): c for c in index}
        planned: list[tuple[str, list[np.ndarray]]] = []
        new_names = []
        for folder, files in found.classes.items():
            name = clean_class_name(folder)
            views = self._views([(f"{folder}/{n}", b) for n, b in files], report, image_limits)
            planned.append((name, views))
            if name.casefold() not in by_name and name.casefold() not in {n.casefold() for n in new_names}:
                new_names.append(name)
        for folder in found.empty:
            name = clean_class_name(folder)
            if name.casefold() not in by_name and name.casefold() not in {n.casefold() for n in new_names}:
                new_names.append(name)
        with self._lock():
            index = self._index()
            by_name = {c["name"].casefold(): c for c in index}
            if len(index) + len(new_names) > self.limits.max_classes:
                raise UserDataError(f"The zip would make {len(index) + len(new_names)} classes; at most "
                                    f"{self.limits.max_classes} are allowed.", code="max_classes",
                                    limit=self.limits.max_classes)
            counts = {c["id"]: len(self._files(c["id"])) for c in index}
            per_name: dict[str, int] = {}
            for name, views in planned:
                per_name[name.casefold()] = per_name.get(name.casefold(), 0) + len(views)
            for key, n in per_name.items():
                have = counts.get(by_name[key]["id"], 0) if key in by_name else 0
                self._check_count(have + n, sum(counts.values()) + sum(per_name.values()), key)
            new_bytes = sum(len(_png(v)) for _, views in planned for v in views)
            self._check_bytes(new_bytes)
            for name in new_names:
                entry = {"id": _new_id("c"), "name": name}
                (self.folder / entry["id"]).mkdir(parents=True, exist_ok=True)
                index.append(entry)
                by_name[name.casefold()] = entry
            self._write_index(index)
            for name, views in planned:
                if views:
                    self._write_examples(by_name[name.casefold()]["id"], views)
                    report.added[by_name[name.casefold()]["name"]] = (
                        report.added.get(by_name[name.casefold()]["name"], 0) + len(views))
        report.new_classes = new_names
        return report

    def _views(self, files: list[tuple[str, bytes]], report: AddReport,
               image_limits: Limits | None) -> list[np.ndarray]:
        # Counted before decoding: a batch over the limits is refused without work.
        if len(files) > self.limits.max_examples:
            raise UserDataError(f"{len(files):,} images at once is more than the {self.limits.max_examples:,} "
                                "examples a set may hold.", code="max_examples", limit=self.limits.max_examples)
        views = []
        for name, data in files:
            try:
                view = decode_view(data, image_limits)
            except ImageError as e:
                report.refused.append((str(name)[:80], str(e)))
                continue
            if view is None:
                report.blank.append(str(name)[:80])
            else:
                views.append(view)
        return views

    def _store(self, class_id: str, views: list[np.ndarray]) -> list[Example]:
        with self._lock():
            index = self._index()
            entry = self._entry(index, class_id)
            counts = {c["id"]: len(self._files(c["id"])) for c in index}
            self._check_count(counts[class_id] + len(views), sum(counts.values()) + len(views), entry["name"])
            self._check_bytes(sum(len(_png(v)) for v in views))
            return self._write_examples(class_id, views)

    def _write_examples(self, class_id: str, views: list[np.ndarray]) -> list[Example]:
        folder = self.folder / class_id
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for view in views:
            example_id = _new_id("e")
            tmp = folder / f".{example_id}.tmp"
            tmp.write_bytes(_png(view))
            os.replace(tmp, folder / f"{example_id}.png")
            out.append(Example(example_id, class_id, view))
        return out

    def _check_count(self, in_class: int, total: int, name: str) -> None:
        lim = self.limits
        if in_class > lim.max_per_class:
            raise UserDataError(f"The class '{name}' would have {in_class:,} examples; at most "
                                f"{lim.max_per_class:,} are allowed per class.", code="max_per_class",
                                limit=lim.max_per_class)
        if total > lim.max_examples:
            raise UserDataError(f"Your set would have {total:,} examples; at most {lim.max_examples:,} are "
                                "allowed. Delete some first.", code="max_examples", limit=lim.max_examples)

    def _check_bytes(self, new_bytes: int) -> None:
        used = self.usage().bytes
        if used + new_bytes > self.limits.max_bytes:
            raise UserDataError(f"Your set would use {(used + new_bytes) / 2**20:.3g} MB; at most "
                                f"{self.limits.max_bytes / 2**20:.3g} MB are allowed. Delete some examples first.",
                                code="max_bytes", limit=self.limits.max_bytes)

    @staticmethod
    def _check_new_name(index: list[dict], name: str) -> None:
        if any(c["name"].casefold() == name.casefold() for c in index):
            raise UserDataError(f"There is already a class named '{name}'; choose another name.",
                                code="class_exists", name=name)

    @staticmethod
    def _entry(index: list[dict], class_id: Any) -> dict:
        for c in index:
            if c["id"] == class_id:
                return c
        raise UserDataError("This class does not exist any more.", code="no_class")

    def _files(self, class_id: str) -> list[Path]:
        folder = self.folder / class_id
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob("e*.png") if p.is_file() and not p.is_symlink())

    def _index(self) -> list[dict]:
        path = self.folder / INDEX
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            raise UserDataError("Your classes could not be read; the set may be damaged.", code="damaged") from None
        ok = [c for c in raw if isinstance(c, dict) and isinstance(c.get("id"), str)
              and c["id"].isalnum() and isinstance(c.get("name"), str)] if isinstance(raw, list) else []
        return ok

    def _write_index(self, index: list[dict]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{INDEX}.{secrets.token_hex(4)}.tmp"
        tmp.write_text(json.dumps(index, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.folder / INDEX)

    def _lock(self):
        """Changes to one set one at a time (two tabs of one visitor)."""
        return folder_lock(self.folder)


# ------------------------------------------------------------------------------ the dataset

@dataclass(frozen=True)
class UserDataset(Dataset):
    """A core.data.Dataset of your own classes; its "test" split is the validation examples."""

    train_counts: tuple[int, ...] = ()
    validation_counts: tuple[int, ...] = ()

    @property
    def classes(self) -> list[str]:
        return list(self.info.classes)

    def split_sentence(self) -> str:
        return split_sentence(self.classes, self.train_counts, self.validation_counts)


def split_sentence(classes: list[str], train_counts, val_counts) -> str:
    """How the examples are split, and — with few of them — what the validation figure can and
    cannot tell."""
    n_train, n_val = sum(train_counts), sum(val_counts)
    per = ", ".join(f"{name} {t} + {v}" for name, t, v in zip(classes, train_counts, val_counts))
    text = (f"{n_train} examples train the model and {n_val} are kept aside to check it "
            f"(per class, training + validation: {per}).")
    if n_val < FEW_VALIDATION:
        text += (f" With {n_val} validation examples, each one moves the validation accuracy by "
                 f"{100 / max(n_val, 1):.0f} points: it tells whether the model learned something, not how "
                 "well it will do on new examples — add more examples for a figure you can trust.")
    return text


def check_trainable(classes: list[str], counts: list[int]) -> None:
    """UserDataError unless there are at least 2 classes, each with at least 2 examples."""
    if len(classes) < MIN_CLASSES:
        raise UserDataError(f"Training needs at least {MIN_CLASSES} classes; you have {len(classes)}. "
                            "Create another class.", code="few_classes", count=len(classes))
    for name, n in zip(classes, counts):
        if n == 0:
            raise UserDataError(f"The class '{name}' has no examples; add some or delete the class.",
                                code="empty_class", name=name)
        if n < MIN_PER_CLASS:
            raise UserDataError(f"The class '{name}' has {n} example; every class needs at least "
                                f"{MIN_PER_CLASS} (one to learn from, one to check with).",
                                code="few_examples", name=name, count=n)


def make_dataset(classes: list[str], images: list[np.ndarray] | np.ndarray, labels: list[int] | np.ndarray,
                 validation_share: float = VALIDATION_SHARE, seed: int = 0) -> UserDataset:
    """A UserDataset of uint8 28×28 images and labels (indices into `classes`), split per class."""
    labels_t = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    counts = [int((labels_t == i).sum()) for i in range(len(classes))]
    check_trainable(list(classes), counts)
    if not 0 < validation_share <= 0.5:
        raise UserDataError("The validation share must be above 0 and at most 0.5.", code="share")
    images_t = torch.from_numpy(np.ascontiguousarray(np.stack(list(images)).astype(np.uint8)))
    train, val = stratified_split(labels_t, validation_share, seed)
    train_counts = tuple(int((labels_t[train] == i).sum()) for i in range(len(classes)))
    val_counts = tuple(int((labels_t[val] == i).sum()) for i in range(len(classes)))
    return UserDataset(custom_info(classes), images_t[train], labels_t[train], images_t[val], labels_t[val],
                       train_counts, val_counts)


def load_folder_dataset(folder: str | os.PathLike, validation_share: float = VALIDATION_SHARE, seed: int = 0,
                        image_limits: Limits | None = None) -> tuple[UserDataset, AddReport]:
    """A one-folder-per-class folder (the command line's --data-folder) as a UserDataset: class
    order = the folders' names sorted (as ImageFolder numbers them). FolderError / ImageError /
    UserDataError explain what is wrong."""
    found = read_folder(folder)
    report = AddReport(skipped=list(found.skipped), outside=list(found.outside))
    classes, images, labels = [], [], []
    for folder_name in sorted([*found.classes, *found.empty]):
        name = clean_class_name(folder_name)
        if name.casefold() in {c.casefold() for c in classes}:
            raise UserDataError(f"Two class folders have the name '{name}'.", code="class_exists", name=name)
        label = len(classes)
        classes.append(name)
        for file_name, data in found.classes.get(folder_name, []):
            try:
                view = decode_view(data, image_limits)
            except ImageError as e:
                raise UserDataError(f"{folder_name}/{file_name}: {e}", code="bad_image") from None
            if view is None:
                report.blank.append(f"{folder_name}/{file_name}")
                continue
            images.append(view)
            labels.append(label)
        report.added[name] = labels.count(label)
    if len(classes) > DataLimits().max_classes:
        raise UserDataError(f"The folder has {len(classes)} classes; at most {DataLimits().max_classes} are allowed.",
                            code="max_classes", limit=DataLimits().max_classes)
    counts = [report.added[c] for c in classes]
    check_trainable(classes, counts)
    return make_dataset(classes, images, labels, validation_share, seed), report


# ------------------------------------------------------------------------------ the run

# A recipe for few examples: the number of optimizer steps matters more than epochs, so the
# batch is small and the epochs are as many as give ≈ TARGET_STEPS steps (within the server's
# epoch limit). Measured with bench/fewshot_bench.py.
TARGET_STEPS = 150
SMALL_BATCH = 16
# Fine-tuning copied layers at the base recipe's peak rate (0.03) undoes much of what they learned
# (k = 10: 88–92% vs 96% at a tenth of it); a frozen body keeps the full rate for its classifier.
FINE_TUNE_LR_FACTOR = 0.1


def train_config(dataset: UserDataset, base=None, init_from: str | None = None, init_name: str | None = None,
                 freeze: bool = False, source_spec: list | None = None, max_epochs: int | None = None,
                 seed: int = 0, augment: bool = True):
    """A TrainConfig for your classes: the base recipe (default: the fast preset), the last layer
    as wide as the class count, augmentation on, no calibration hold-out (every example counts),
    a small batch and enough epochs for ≈ TARGET_STEPS steps. For transfer, `init_from` with the
    source's spec (`source_spec`, from its metadata): the new model takes its architecture."""
    from core.train_config import config_from_preset  # noqa: PLC0415 (keeps module import light)
    from core.transfer import transfer_spec

    base = base or config_from_preset("fast")
    if init_from and source_spec is None:
        from core.transfer import load_source
        source = load_source(init_from)
        source_spec, init_name = source.spec, init_name or source.name
    n_classes = len(dataset.classes)
    spec = transfer_spec(source_spec if source_spec is not None else base.spec, n_classes)
    n_train = len(dataset.train_labels)
    batch = max(1, min(SMALL_BATCH, n_train))
    steps_per_epoch = math.ceil(n_train / batch)
    cap = settings.max_epochs() if max_epochs is None else max_epochs
    epochs = max(1, min(cap, math.ceil(TARGET_STEPS / steps_per_epoch)))
    lr = base.lr * FINE_TUNE_LR_FACTOR if init_from and not freeze else base.lr
    return replace(base, spec=spec, dataset=CUSTOM, lr=lr, classes=list(dataset.classes), batch_size=batch,
                   epochs=epochs, augment=augment, calibration_holdout=0, seed=seed,
                   init_from=init_from, init_name=init_name, freeze=bool(freeze and init_from),
                   preset=base.preset if source_spec is None else None)


def side_by_side(dataset: UserDataset, init_from: str, freeze: bool = True, seed: int = 0,
                 max_epochs: int | None = None) -> dict[str, Any]:
    """Two configs for the same examples, split and seed: "scratch" (random weights) and
    "transfer" (from `init_from`), with the same architecture — the source's — so the only
    difference is where the weights start. Train both and compare their validation curves."""
    from core.transfer import load_source

    source = load_source(init_from)
    return {"scratch": train_config(dataset, source_spec=source.spec, seed=seed, max_epochs=max_epochs),
            "transfer": train_config(dataset, init_from=init_from, init_name=source.name, freeze=freeze,
                                     source_spec=source.spec, seed=seed, max_epochs=max_epochs)}


__all__ = ["side_by_side", "UserData", "UserDataError", "UserDataset", "DataLimits", "ClassInfo", "Example", "Usage",
           "AddReport", "current_data_limits", "clean_class_name", "make_dataset", "load_folder_dataset",
           "check_trainable", "split_sentence", "train_config", "FolderError", "VALIDATION_SHARE"]
