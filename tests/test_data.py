"""IDX loading: small files written by the test, and the real MNIST copy when present."""
import gzip
import struct

import numpy as np
import pytest

from core import data
from core.data import DataError, load_arrays, read_idx


def write_idx(path, array, kind, compress=True, magic=None):
    dims = array.shape
    header = struct.pack(">I", magic or data.IDX_MAGIC[kind]) + struct.pack(f">{len(dims)}I", *dims)
    payload = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    (gzip.open if compress else open)(path, "wb").write(payload)


def make_dataset_dir(root, n_train=6, n_test=4):
    raw = root / "MNIST" / "raw"
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28)),
        "train_labels": np.arange(n_train) % 10,
        "test_images": rng.integers(0, 256, (n_test, 28, 28)),
        "test_labels": (np.arange(n_test) + 3) % 10,
    }
    for key, fname in data.SPLIT_FILES.items():
        write_idx(raw / fname, arrays[key], key.split("_")[1])
    return arrays


def test_read_idx_roundtrip(tmp_path):
    arr = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
    write_idx(tmp_path / "a.gz", arr, "images")
    write_idx(tmp_path / "b", arr[:, 0, :3].ravel(), "labels", compress=False)
    assert np.array_equal(read_idx(tmp_path / "a.gz", "images"), arr)
    assert np.array_equal(read_idx(tmp_path / "b", "labels"), arr[:, 0, :3].ravel())


def test_load_small_dataset(tmp_path):
    arrays = make_dataset_dir(tmp_path)
    ds = data.load_dataset("mnist", tmp_path)
    assert ds.train_images.shape == (6, 28, 28) and ds.train_images.dtype.is_floating_point is False
    assert ds.test_labels.tolist() == arrays["test_labels"].tolist()
    x = ds.normalized(ds.test_images)
    assert x.shape == (4, 1, 28, 28)
    expected = (arrays["test_images"][0, 0, 0] / 255 - 0.1307) / 0.3081
    assert x[0, 0, 0, 0].item() == pytest.approx(expected, rel=1e-5)


def test_wrong_magic_names_file(tmp_path):
    write_idx(tmp_path / "x.gz", np.zeros((3,)), "labels", magic=1234)
    with pytest.raises(DataError, match=r"x\.gz.*magic number 1234.*expected 2049"):
        read_idx(tmp_path / "x.gz", "labels")


def test_truncated_file(tmp_path):
    arr = np.zeros((5, 28, 28))
    write_idx(tmp_path / "t.gz", arr, "images")
    raw = gzip.open(tmp_path / "t.gz").read()
    with gzip.open(tmp_path / "t.gz", "wb") as f:
        f.write(raw[:-100])
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "t.gz", "images")
    (tmp_path / "h").write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "h", "labels")


def test_corrupt_gzip(tmp_path):
    (tmp_path / "c.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="damaged"):
        read_idx(tmp_path / "c.gz", "images")


def test_missing_file_says_what_to_do(tmp_path):
    make_dataset_dir(tmp_path)
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="CNN_LAB_DATA_DIR"):
        load_arrays(tmp_path, data.DATASETS["mnist"])


def test_mismatched_counts(tmp_path):
    make_dataset_dir(tmp_path)
    write_idx(tmp_path / "MNIST/raw/t10k-labels-idx1-ubyte.gz", np.zeros(3), "labels")
    with pytest.raises(DataError, match="do not belong together"):
        load_arrays(tmp_path, data.DATASETS["mnist"])


def test_offline_download_gives_clear_message(tmp_path, monkeypatch):
    """No network: every mirror fails -> one DataError naming CNN_LAB_DATA_DIR, no traceback."""
    import pooch

    def no_network(*a, **k):
        raise ConnectionError("network unreachable")

    monkeypatch.setattr(pooch, "retrieve", no_network)
    monkeypatch.setattr(data, "cache_dir", lambda: tmp_path / "cache")
    with pytest.raises(DataError, match="CNN_LAB_DATA_DIR") as info:
        data.load_dataset("kmnist", None)
    assert "any mirror" in str(info.value)


def test_hash_failure_is_not_used(tmp_path, monkeypatch):
    """pooch rejects a bad hash with ValueError and deletes the file; we never load it."""
    import pooch

    calls = []

    def bad_hash(url, known_hash, fname, path, progressbar):
        calls.append(url)
        raise ValueError(f"{known_hash} does not match")

    monkeypatch.setattr(pooch, "retrieve", bad_hash)
    monkeypatch.setattr(data, "cache_dir", lambda: tmp_path / "cache")
    with pytest.raises(DataError, match="does not match"):
        data.download(data.DATASETS["mnist"], progress=False)
    assert len(calls) == len(data.DATASETS["mnist"].mirrors)  # every mirror tried in turn
    assert not list((tmp_path / "cache").rglob("*.gz"))


def test_unknown_dataset():
    with pytest.raises(DataError, match="Unknown dataset"):
        data.get_info("cifar")


def test_missing_data_dir(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        data.load_dataset("mnist", tmp_path / "nope")


def test_real_mnist_facts(data_dir):
    ds = data.load_dataset("mnist", data_dir)
    assert ds.train_images.shape == (60000, 28, 28)
    assert ds.test_images.shape == (10000, 28, 28)
    assert ds.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert ds.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert ds.test_images.float().mean().item() == pytest.approx(33.79, abs=0.01)
