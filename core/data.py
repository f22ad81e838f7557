"""MNIST-family datasets: IDX files read with NumPy, kept in memory as uint8 tensors.

Why no torchvision: its wheels fail to import next to a CPU-only torch on these machines, and the
four-file IDX format is a few lines of NumPy. Downloads go through pooch (hash-checked, progress
bar, user cache dir, tried mirror by mirror); an offline machine points CNN_LAB_DATA_DIR (or
`--data-dir`) at a folder holding `<Name>/raw/*-ubyte.gz`.
"""
from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from core import settings

DATA_DIR_ENV = settings.DATA_DIR
SPLIT_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
IDX_MAGIC = {"images": 2051, "labels": 2049}  # IDX: 0x0803 = uint8 3-D, 0x0801 = uint8 1-D


class DataError(RuntimeError):
    """A dataset problem explained in one sentence for the person who must fix it."""


@dataclass(frozen=True)
class DatasetInfo:
    name: str            # key used everywhere: "mnist", "fashion-mnist", "kmnist"
    title: str           # display name
    folder: str          # <data dir>/<folder>/raw/
    classes: tuple[str, ...]
    mean: float          # training-set pixel mean / std on the 0..1 scale, for normalization
    std: float
    mirrors: tuple[str, ...]
    md5: dict            # file name -> md5 of the published .gz (the checksums torchvision ships)


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        "mnist", "MNIST", "MNIST", tuple(str(d) for d in range(10)), 0.1307, 0.3081,
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist", "Fashion-MNIST", "FashionMNIST",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        0.2860, 0.3530,
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    ),
    "kmnist": DatasetInfo(
        "kmnist", "KMNIST (Kuzushiji)", "KMNIST",
        ("お o", "き ki", "す su", "つ tsu", "な na", "は ha", "ま ma", "や ya", "れ re", "を wo"),
        0.1918, 0.3483,
        ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        {
            "train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
            "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
            "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
            "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134",
        },
    ),
}


@dataclass(frozen=True)
class Dataset:
    """A whole dataset in memory: images uint8 [N, 28, 28], labels int64 [N]."""
    info: DatasetInfo
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor

    def normalized(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28], standardized with the dataset's constants."""
        return normalize(images, self.info)


# Your own classes (core.userdata, `python -m core train --data-folder`): drawn or uploaded
# examples prepared like MNIST digits (core.preprocess), so they are normalized with MNIST's
# constants — which is also what a model trained on MNIST, the usual start for transfer, expects.
CUSTOM = "custom"


def custom_info(classes) -> DatasetInfo:
    """The DatasetInfo of a set of your own classes (names in the model's output order)."""
    mnist = DATASETS["mnist"]
    return DatasetInfo(CUSTOM, "Your classes", "", tuple(str(c) for c in classes), mnist.mean, mnist.std, (), {})


def info_for(name: str, classes=None) -> DatasetInfo:
    """`get_info(name)`, or for "custom" the info of those `classes`."""
    if name == CUSTOM:
        if not classes:
            raise DataError("A model of your own classes needs its class names.")
        return custom_info(classes)
    return get_info(name)


def normalize(images: torch.Tensor, info: DatasetInfo) -> torch.Tensor:
    x = images.to(torch.float32).div_(255.0)
    return x.sub_(info.mean).div_(info.std).unsqueeze(1)


def get_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(
            f"Unknown dataset '{name}'; choose one of: {', '.join(DATASETS)}."
        ) from None


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The local dataset folder: the explicit argument, else $CNN_LAB_DATA_DIR, else None."""
    return Path(data_dir).expanduser() if data_dir else settings.data_dir()


def read_idx(path: str | os.PathLike, kind: str) -> np.ndarray:
    """Parse one (optionally gzipped) IDX file of `kind` 'images' or 'labels' into uint8 NumPy."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataError(f"{path} is missing.") from None
    except (OSError, EOFError) as e:
        raise DataError(
            f"{path} is damaged ({e}); delete it and download it again or copy a good one."
        ) from None
    ndim = 3 if kind == "images" else 1
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated: it has no complete IDX header; replace the file.")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic != IDX_MAGIC[kind]:
        raise DataError(
            f"{path} is not an IDX {kind} file (magic number {magic}, expected {IDX_MAGIC[kind]}); "
            "check that the file is the right one."
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims))
    if len(raw) - header < expected:
        raise DataError(
            f"{path} is truncated: {len(raw) - header} bytes of data, expected {expected}; "
            "replace the file."
        )
    return np.frombuffer(raw, dtype=np.uint8, count=expected, offset=header).reshape(dims)


def local_files(info: DatasetInfo, data_dir: Path) -> dict[str, Path]:
    return {key: data_dir / info.folder / "raw" / fname for key, fname in SPLIT_FILES.items()}


def is_available(name: str, data_dir: str | os.PathLike | None = None) -> bool:
    """True when the dataset can be loaded without a download (local dir or cache)."""
    info = get_info(name)
    for folder in (resolve_data_dir(data_dir), cache_dir()):
        if folder and all(p.exists() for p in local_files(info, folder).values()):
            return True
    return False


def cache_dir() -> Path:
    import pooch

    return Path(pooch.os_cache("cnn-lab"))


ProgressCallback = Callable[[str, int, int], None]  # (file name, bytes done, bytes total)


class _PoochProgress:
    """Adapter: pooch calls .update/.reset/.close on a tqdm-like object; we forward to a callback."""

    def __init__(self, fname: str, callback: ProgressCallback):
        self.fname, self.callback, self.total, self.n = fname, callback, 0, 0

    def update(self, k):
        self.n += k
        self.callback(self.fname, self.n, self.total)

    def reset(self):
        self.n = 0

    def close(self):
        self.callback(self.fname, self.total, self.total)


def download(info: DatasetInfo, progress: ProgressCallback | bool = True) -> Path:
    """Fetch the four files into the cache, trying each mirror; returns the cache root.

    A file that fails its hash is deleted by pooch and never used.
    """
    import pooch

    # pooch logs every download attempt; the progress bar (or callback) already says it.
    pooch.get_logger().setLevel("WARNING")
    root = cache_dir()
    target = root / info.folder / "raw"
    for fname in SPLIT_FILES.values():
        if (target / fname).exists():
            continue
        errors = []
        for mirror in info.mirrors:
            bar = _PoochProgress(fname, progress) if callable(progress) else progress
            try:
                pooch.retrieve(
                    url=mirror + fname, known_hash=f"md5:{info.md5[fname]}", fname=fname,
                    path=target, progressbar=bar,
                )
                break
            except ValueError as e:  # hash mismatch: pooch already removed the file
                errors.append(f"{mirror}: {e}")
            except Exception as e:  # network down, DNS, HTTP errors: try the next mirror
                errors.append(f"{mirror}: {type(e).__name__}")
        else:
            raise DataError(
                f"Could not download {info.title} ({fname}) from any mirror — no internet here? "
                f"Set {DATA_DIR_ENV} (or --data-dir) to a folder with {info.folder}/raw/*-ubyte.gz. "
                f"[{'; '.join(errors)}]"
            )
    return root


def load_arrays(folder: Path, info: DatasetInfo) -> Dataset:
    files = local_files(info, folder)
    missing = [p for p in files.values() if not p.exists()]
    if missing:
        raise DataError(
            f"{missing[0]} is missing; set {DATA_DIR_ENV} (or --data-dir) to a folder with "
            f"{info.folder}/raw/ holding the four *-ubyte.gz files."
        )
    arrays = {k: read_idx(p, k.split("_")[1]) for k, p in files.items()}
    for split in ("train", "test"):
        n_img, n_lab = len(arrays[f"{split}_images"]), len(arrays[f"{split}_labels"])
        if n_img != n_lab:
            raise DataError(
                f"{files[split + '_images']} has {n_img} images but its labels file has {n_lab}; "
                "the files do not belong together."
            )
    return Dataset(
        info,
        torch.from_numpy(arrays["train_images"].copy()),
        torch.from_numpy(arrays["train_labels"].astype(np.int64)),
        torch.from_numpy(arrays["test_images"].copy()),
        torch.from_numpy(arrays["test_labels"].astype(np.int64)),
    )


def load_dataset(
    name: str = "mnist",
    data_dir: str | os.PathLike | None = None,
    progress: ProgressCallback | bool = True,
) -> Dataset:
    """Load a dataset into memory: from the local data dir when given, else the download cache.

    Not cached here: the app keeps one copy per server process (app.ui.cached_dataset)."""
    info = get_info(name)
    local = resolve_data_dir(data_dir)
    if local is not None:
        if not local.is_dir():
            raise DataError(f"The data folder {local} does not exist; fix {DATA_DIR_ENV} or --data-dir.")
        if (local / info.folder / "raw").is_dir():
            return load_arrays(local, info)
    return load_arrays(download(info, progress), info)
