"""Your own classes in core: the store (core.userdata), zips and folders (core.imagefolder), the
dataset and its split, training on it, transfer (core.transfer), the command line and the exported
script. Hostile zips are refused with one sentence and nothing is written anywhere.
"""
from __future__ import annotations

import io
import json
import stat
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from core.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, make_metadata, save_checkpoint
from core.imagefolder import FolderError, organize, read_zip, stratified_split
from core.models import PRESETS, build_model
from core.preprocess import preprocess
from core.train import ConfigError, TrainingRun, check_config, config_from_preset
from core.transfer import PartlyFrozen, TransferError, initial_model, transfer_spec
from core.userdata import (DataLimits, UserData, UserDataError, clean_class_name, make_dataset, split_sentence,
                           train_config)
from core.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------------ helpers

def drawing(kind: str, shift: int = 0, size: int = 200) -> np.ndarray:
    """A canvas's RGBA array: black strokes on a transparent background."""
    img = np.zeros((size, size, 4), np.uint8)
    ink = (0, 0, 0, 255)
    if kind == "circle":
        cv2.circle(img, (100 + shift, 100), 55, ink, 12)
    elif kind == "cross":
        cv2.line(img, (40, 40 + shift), (160, 160), ink, 12)
        cv2.line(img, (160, 40), (40, 160 + shift), ink, 12)
    elif kind == "bar":
        cv2.line(img, (100 + shift, 30), (100, 170), ink, 14)
    return img


def png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return buf.tobytes()


def zip_of(entries: dict[str, bytes], infos: list[zipfile.ZipInfo] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
        for info, data in infos or []:
            z.writestr(info, data)
    return buffer.getvalue()


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def store(tmp_path) -> UserData:
    return UserData(Workspace.create(tmp_path / "root"), DataLimits())


GREY_28 = png(np.pad(np.full((10, 6), 255, np.uint8), ((9, 9), (11, 11))))  # a bright bar, 28×28


# ------------------------------------------------------------------------------ class names

@pytest.mark.parametrize("raw, clean", [
    ("猫", "猫"), ("  собака  ", "собака"), ("chien\nchat", "chien chat"), ("a/b\\c", "a b c"),
    ("<b>bold</b>", "b bold b"), ("..", None), ("", None), ("\u202eevil", "evil"), ("x" * 60, "x" * 40),
])
def test_class_names_are_cleaned(raw, clean):
    if clean is None:
        with pytest.raises(UserDataError, match="at least one letter or digit"):
            clean_class_name(raw)
    else:
        assert clean_class_name(raw) == clean


def test_classes_create_rename_delete_any_language(store):
    a = store.create_class("猫 cat")
    b = store.create_class("Hund")
    assert [c.name for c in store.classes()] == ["猫 cat", "Hund"]
    with pytest.raises(UserDataError, match="already a class named 'HUND'"):
        store.create_class("HUND")
    store.rename_class(b.id, "собака")
    assert store.class_names() == ["猫 cat", "собака"]
    with pytest.raises(UserDataError, match="already a class named"):
        store.rename_class(b.id, "猫 CAT")
    store.rename_class(b.id, "Собака")  # its own name in another case is fine
    store.delete_class(a.id)
    assert store.class_names() == ["Собака"]
    with pytest.raises(UserDataError, match="does not exist"):
        store.delete_class(a.id)


def test_at_most_ten_classes(store):
    for i in range(10):
        store.create_class(f"class {i}")
    with pytest.raises(UserDataError, match="You have 10 classes; at most 10"):
        store.create_class("eleven")
    assert len(store.classes()) == 10


# ------------------------------------------------------------------------------ examples

def test_a_drawing_is_stored_as_what_the_model_receives(store):
    c = store.create_class("circle")
    canvas = drawing("circle")
    example = store.add_drawing(c.id, canvas)
    expected = np.round(preprocess(canvas).model_view * 255).astype(np.uint8)
    assert example.image.shape == (28, 28) and example.image.dtype == np.uint8
    assert np.array_equal(example.image, expected)
    [listed] = store.examples(c.id)          # the thumbnail read back from disk: the same pixels
    assert np.array_equal(listed.image, expected)
    assert store.classes()[0].count == 1


def test_a_blank_canvas_adds_nothing(store):
    c = store.create_class("x")
    assert store.add_drawing(c.id, np.zeros((200, 200, 4), np.uint8)) is None
    assert store.classes()[0].count == 0


def test_uploads_are_added_and_bad_files_reported(store):
    c = store.create_class("bars")
    white = np.full((100, 100), 255, np.uint8)
    report = store.add_files(c.id, [("a.png", png(255 - drawing("bar")[..., 3])), ("b.png", GREY_28),
                                    ("notes.txt", b"hello"), ("blank.png", png(white))])
    assert report.added == {"bars": 2}
    assert report.blank == ["blank.png"]
    assert [name for name, _ in report.refused] == ["notes.txt"]
    assert "not a PNG, JPEG, WebP or BMP" in report.refused[0][1]
    assert "Added 2 examples" in report.sentence()
    assert store.classes()[0].count == 2


def test_delete_an_example(store):
    c = store.create_class("c")
    first = store.add_drawing(c.id, drawing("circle"))
    store.add_drawing(c.id, drawing("circle", 10))
    store.delete_example(c.id, first.id)
    assert [e.id for e in store.examples(c.id)] != [first.id] and len(store.examples(c.id)) == 1
    with pytest.raises(UserDataError, match="does not exist"):
        store.delete_example(c.id, first.id)


def test_limits_per_class_in_all_and_bytes(tmp_path):
    ws = Workspace.create(tmp_path)
    small = UserData(ws, DataLimits(max_classes=3, max_per_class=2, max_examples=3, max_bytes=10**6))
    a, b = small.create_class("a"), small.create_class("b")
    small.add_drawing(a.id, drawing("circle"))
    small.add_drawing(a.id, drawing("circle", 5))
    with pytest.raises(UserDataError, match="'a' would have 3 examples; at most 2"):
        small.add_drawing(a.id, drawing("circle", 9))
    small.add_drawing(b.id, drawing("cross"))
    with pytest.raises(UserDataError, match="would have 4 examples; at most 3"):
        small.add_drawing(b.id, drawing("cross", 5))
    tiny = UserData(ws, DataLimits(max_bytes=small.usage().bytes + 10))
    with pytest.raises(UserDataError, match="MB are allowed"):
        tiny.add_drawing(b.id, drawing("cross", 5))
    assert small.usage().examples == 3


def test_data_limits_come_from_the_settings():
    from core.userdata import current_data_limits

    lim = current_data_limits({"CNN_LAB_MAX_EXAMPLES": "100", "CNN_LAB_MAX_CLASS_EXAMPLES": "20",
                               "CNN_LAB_MAX_DATA_MB": "0.5"})
    assert (lim.max_examples, lim.max_per_class, lim.max_bytes) == (100, 20, 512 * 1024)


# ------------------------------------------------------------------------------ zip export / import

def test_export_then_import_gives_the_same_set(store, tmp_path):
    a, b = store.create_class("猫"), store.create_class("Kreuz")
    for i in range(3):
        store.add_drawing(a.id, drawing("circle", 4 * i))
        store.add_drawing(b.id, drawing("cross", 4 * i))
    store.create_class("empty")
    data = store.export_zip()
    names = sorted(zipfile.ZipFile(io.BytesIO(data)).namelist())
    assert names == ["Kreuz/0001.png", "Kreuz/0002.png", "Kreuz/0003.png", "empty/",
                     "猫/0001.png", "猫/0002.png", "猫/0003.png"]
    other = UserData(Workspace.create(tmp_path / "other"))
    report = other.import_zip(data)
    assert report.added == {"Kreuz": 3, "猫": 3} and sorted(report.new_classes) == ["Kreuz", "empty", "猫"]
    by_name = {c.name: c for c in other.classes()}
    for original in (a, b):
        before = [e.image for e in store.examples(original.id)]
        after = [e.image for e in other.examples(by_name[original.name].id)]
        assert all(np.array_equal(x, y) for x, y in zip(before, after)) and len(after) == 3
    # importing again adds to the classes of the same names (ignoring case)
    again = other.import_zip(data)
    assert again.new_classes == [] and {c.name: c.count for c in other.classes()} == {"Kreuz": 6, "empty": 0, "猫": 6}


def test_a_zip_wrapped_in_one_top_folder_and_with_clutter(store):
    data = zip_of({"set/cats/1.png": GREY_28, "set/dogs/1.png": GREY_28, "set/dogs/2.png": GREY_28,
                   "set/readme.txt": b"hi", "set/dogs/notes.txt": b"x", "__MACOSX/set/cats/._1.png": b"junk",
                   "set/cats/.DS_Store": b"junk"})
    report = store.import_zip(data)
    assert report.added == {"cats": 1, "dogs": 2}
    assert report.skipped == ["dogs/notes.txt"] and report.outside == ["readme.txt"]
    assert "1 file was not an image and was skipped (dogs/notes.txt)." in report.sentence()
    assert "1 file outside the class folders was skipped (readme.txt)." in report.sentence()


def test_the_layout_rules():
    img = GREY_28
    found = organize([(["b", "2.png"], img), (["a", "1.png"], img), (["a", "0.png"], img)], [["c"]])
    assert list(found.classes) == ["a", "b"] and [f for f, _ in found.classes["a"]] == ["0.png", "1.png"]
    assert found.empty == ["c"]
    one = organize([(["cats", "1.png"], img)], [["cats"]])      # one class folder: not unwrapped
    assert list(one.classes) == ["cats"]
    with pytest.raises(FolderError, match="'a/b/1.png' lies in a folder inside a class folder"):
        organize([(["a", "b", "1.png"], img), (["c", "1.png"], img)], [])
    with pytest.raises(FolderError, match="No images were found"):
        organize([(["a", "x.txt"], b"text")], [["b"]])


HOSTILE = {
    "traversal": ({"../evil.png": GREY_28, "a/1.png": GREY_28}, "outside its own folders"),
    "deep traversal": ({"a/../../evil.png": GREY_28}, "outside its own folders"),
    "absolute": ({"/tmp/evil.png": GREY_28}, "outside its own folders"),
    "backslash": ({"a\\..\\..\\evil.png": GREY_28}, "outside its own folders"),
    "drive": ({"C:/evil.png": GREY_28}, "outside its own folders"),
    "nested by name": ({"a/1.png": GREY_28, "a/more.zip": b"PK\x03\x04rest"}, "holds another archive"),
    "nested by bytes": ({"a/1.png": GREY_28, "a/more.png": zip_of({"b/1.png": GREY_28})}, "holds another archive"),
    "too deep": ({"a/b/c/1.png": GREY_28, "d/1.png": GREY_28}, "inside a class folder"),
    "only non-images": ({"a/1.txt": b"hello", "b/2.txt": b"x"}, "No images were found"),
    "only empty classes": ({"a/": b"", "b/": b""}, "No images were found"),
    "no class folders": ({"1.png": GREY_28, "2.png": GREY_28}, "No images were found"),
}


def _symlink_entry():
    info = zipfile.ZipInfo("a/link.png")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _encrypted_zip() -> bytes:
    """A zip whose entry is marked encrypted (zipfile cannot write one: the flag is set by hand in
    the local and central headers)."""
    data = bytearray(zip_of({"a/secret.png": GREY_28}))
    data[6] |= 0x1                              # local file header: general purpose flags
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x1                    # central directory header: the same flags
    return bytes(data)


@pytest.mark.parametrize("case", [*HOSTILE, "symlink", "encrypted", "not a zip", "bomb", "10,000 files",
                                  "lying size"])
def test_a_hostile_zip_is_refused_and_nothing_is_written(case, tmp_path):
    root = tmp_path / "root"
    ud = UserData(Workspace.create(root))
    ud.create_class("existing")
    before = tree(tmp_path)
    if case in HOSTILE:
        data, message = zip_of(HOSTILE[case][0]), HOSTILE[case][1]
    elif case == "symlink":
        data, message = zip_of({"a/1.png": GREY_28}, [(_symlink_entry(), b"/etc/passwd")]), "symbolic link"
    elif case == "encrypted":
        data, message = _encrypted_zip(), "password-protected"
    elif case == "not a zip":
        data, message = GREY_28, "not a zip archive"
    elif case == "bomb":
        # 19 MB of zeros (under the 20 MB a file may have) deflate to ≈ 19 KB: a 1000:1 ratio no image has.
        data, message = zip_of({"a/1.png": GREY_28, "a/bomb.png": bytes(19 * 2**20)}), "compressed 1,0..:1.*zip bomb"
    elif case == "10,000 files":
        data, message = zip_of({f"a/{i:05d}.png": b"x" for i in range(10_000)}), "10,000 files and folders"
    else:  # "lying size": the directory says 10 bytes, the entry inflates to far more
        data = bytearray(zip_of({"a/1.png": GREY_28 * 50}))
        central = data.rfind(b"PK\x01\x02")
        data[central + 24:central + 28] = (10).to_bytes(4, "little")   # uncompressed size
        data, message = bytes(data), "zip bomb|damaged"
    with pytest.raises(FolderError, match=message) as error:
        ud.import_zip(data)
    assert "\n" not in str(error.value) and str(tmp_path) not in str(error.value)
    assert tree(tmp_path) == before                       # nothing written, anywhere
    assert ud.class_names() == ["existing"]


def test_a_zip_that_unpacks_to_too_much_is_refused_before_decompressing():
    noise = np.random.default_rng(0).integers(0, 256, 2**20, dtype=np.uint8).tobytes()  # incompressible
    data = zip_of({f"a/{i}.png": noise for i in range(3)})
    with pytest.raises(FolderError, match=r"would unpack to 3 MB .*at most 2 MB — it looks like a zip bomb"):
        read_zip(data, max_uncompressed=2 * 2**20)
    with pytest.raises(FolderError, match=r"The zip is .* at most 1 MB"):
        read_zip(data, max_bytes=2**20)


def test_a_zip_over_the_limits_imports_nothing(tmp_path):
    ud = UserData(Workspace.create(tmp_path), DataLimits(max_per_class=2))
    before = tree(tmp_path)
    with pytest.raises(UserDataError, match="'a' would have 3 examples; at most 2"):
        ud.import_zip(zip_of({"a/1.png": GREY_28, "a/2.png": GREY_28, "a/3.png": GREY_28, "b/1.png": GREY_28}))
    new_files = [p for p in tree(tmp_path) - before if (tmp_path / p).is_file() and not p.endswith("/.lock")]
    assert ud.classes() == [] and new_files == []
    ud11 = UserData(Workspace.create(tmp_path / "w2"))
    with pytest.raises(UserDataError, match="would make 11 classes; at most 10"):
        ud11.import_zip(zip_of({f"c{i}/1.png": GREY_28 for i in range(11)}))
    assert ud11.classes() == []


def test_one_class_imports_but_cannot_train(store):
    store.import_zip(zip_of({"only/1.png": GREY_28, "only/2.png": GREY_28}))
    with pytest.raises(UserDataError, match="at least 2 classes; you have 1"):
        store.to_dataset()


# ------------------------------------------------------------------------------ the dataset

def test_the_stratified_split_by_hand():
    # 10 of class 0 → 2 validation; 3 of class 1 → round(0.6) = 1; 2 of class 2 → 1 (never 0, never all)
    labels = torch.tensor([0] * 10 + [1] * 3 + [2] * 2)
    train, val = stratified_split(labels, 0.2, seed=0)
    assert [int((labels[val] == c).sum()) for c in range(3)] == [2, 1, 1]
    assert [int((labels[train] == c).sum()) for c in range(3)] == [8, 2, 1]
    assert sorted(torch.cat([train, val]).tolist()) == list(range(15))
    assert torch.equal(stratified_split(labels, 0.2, seed=0)[1], val)     # seeded: the same again


def test_the_dataset_says_how_many_and_what_the_figure_can_tell():
    images = np.zeros((12, 28, 28), np.uint8)
    images[:, 10:18, 12:16] = 255
    ds = make_dataset(["猫", "dog"], images, [0] * 10 + [1] * 2, 0.2, seed=0)
    assert (ds.train_counts, ds.validation_counts) == ((8, 1), (2, 1))
    assert ds.info.classes == ("猫", "dog") and len(ds.test_labels) == 3
    sentence = ds.split_sentence()
    assert sentence.startswith("9 examples train the model and 3 are kept aside")
    assert "猫 8 + 2, dog 1 + 1" in sentence and "each one moves the validation accuracy by 33 points" in sentence
    many = split_sentence(["a", "b"], (80, 80), (20, 20))
    assert "moves" not in many


@pytest.mark.parametrize("counts, message", [
    ([5], "at least 2 classes; you have 1"),
    ([5, 0], "'b' has no examples"),
    ([5, 1], "'b' has 1 example; every class needs at least 2"),
])
def test_a_set_that_cannot_train_says_why(counts, message):
    labels = [i for i, n in enumerate(counts) for _ in range(n)]
    with pytest.raises(UserDataError, match=message):
        make_dataset(["a", "b"][:len(counts)], np.zeros((len(labels), 28, 28), np.uint8), labels)


@pytest.fixture
def three_shapes(store) -> UserData:
    for kind in ("circle", "cross", "bar"):
        c = store.create_class({"circle": "圆", "cross": "Kreuz", "bar": "палка"}[kind])
        for i in range(6):
            store.add_drawing(c.id, drawing(kind, 3 * i - 8))
    return store


def test_training_on_your_classes(three_shapes, tmp_path):
    ds = three_shapes.to_dataset(seed=0)
    config = replace(train_config(ds), epochs=3)
    assert config.spec[-1] == {"type": "linear", "out": 3}          # as wide as the class count
    assert config.augment and config.calibration_holdout == 0 and config.classes == ["圆", "Kreuz", "палка"]
    run = TrainingRun(config, ds)
    events = list(run.events())
    assert events[0]["test_size"] == 3 and events[0]["train_size"] == 15
    done = events[-1]
    assert done["event"] == "done" and run.last_eval.confusion.shape == (3, 3)
    meta = make_metadata(config.spec, config.dataset, config.to_dict(), metrics={"test_accuracy": done["test_accuracy"]})
    entry = three_shapes.workspace.save("shapes", run.model, meta)
    ckpt = three_shapes.workspace.load(entry.ref)
    assert ckpt.classes == ["圆", "Kreuz", "палка"] and ckpt.dataset == "custom"
    assert (ckpt.mean, ckpt.std) == (0.1307, 0.3081)


# ------------------------------------------------------------------------------ transfer

def _source(tmp_path) -> Path:
    torch.manual_seed(3)
    spec = transfer_spec(PRESETS["fast"].spec(), 4)
    model = build_model(spec, num_classes=4)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    meta = make_metadata(spec, "custom", {"classes": list("abcd"), "init_from": str(tmp_path / "private.safetensors")},
                         name="four")
    return save_checkpoint(tmp_path / "source.safetensors", model, meta)


def test_transfer_copies_everything_but_the_last_layer(tmp_path):
    path = _source(tmp_path)
    source = load_checkpoint(path)
    config = replace(config_from_preset("fast"), spec=transfer_spec(source.spec, 3), init_from=str(path),
                     dataset="custom", classes=["x", "y", "z"])
    model = initial_model(config, 3)
    theirs, mine = source.model.state_dict(), model.state_dict()
    last = max(int(k.split(".")[0]) for k in mine)
    for key, value in mine.items():
        if int(key.split(".")[0]) < last:
            assert torch.equal(value, theirs[key]), key
    assert mine[f"{last}.weight"].shape == (3, theirs[f"{last}.weight"].shape[1])


def test_a_frozen_transfer_keeps_the_convolutions_and_their_statistics(three_shapes, tmp_path):
    path = _source(tmp_path)
    ds = three_shapes.to_dataset()
    config = replace(train_config(ds, init_from=str(path), freeze=True), epochs=2, device="cpu")
    assert config.init_name == "four" and config.spec == transfer_spec(load_checkpoint(path).spec, 3)
    run = TrainingRun(config, ds)
    assert isinstance(run.model, PartlyFrozen)
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    list(run.events())
    after = run.model.state_dict()
    features = run.model.frozen
    for key in before:
        layer = int(key.split(".")[0])
        if layer < features:
            assert torch.equal(before[key], after[key]), key     # weights and BN statistics unchanged
    assert not torch.equal(before[f"{len(config.spec) - 1}.weight"], after[f"{len(config.spec) - 1}.weight"])
    # the saved checkpoint never holds the source's (private) path, only its name
    meta = make_metadata(config.spec, config.dataset, config.to_dict())
    assert meta["config"]["init_from"] is None and meta["config"]["init_name"] == "four"
    bundled = make_metadata(config.spec, config.dataset, {**config.to_dict(), "init_from": "bundled:mnist-default"})
    assert bundled["config"]["init_from"] == "bundled:mnist-default"


def test_transfer_from_a_different_architecture_is_refused(tmp_path):
    path = _source(tmp_path)
    spec = transfer_spec(PRESETS["accurate"].spec(), 3)
    config = replace(config_from_preset("fast"), spec=spec, init_from=str(path), dataset="custom",
                     classes=["x", "y", "z"])
    with pytest.raises(TransferError, match=r"different convolution layers \(layer 1: conv 16.* there, conv 24"):
        initial_model(config, 3)
    with pytest.raises(TransferError, match="cannot be used"):
        initial_model(replace(config, init_from=str(tmp_path / "missing.safetensors")), 3)
    with pytest.raises(TransferError, match="No model named 'nope' ships"):
        initial_model(replace(config, init_from="bundled:nope"), 3)


@pytest.mark.skipif(not DEFAULT_CHECKPOINT.exists(), reason="no bundled model")
def test_transfer_from_the_bundled_model(three_shapes):
    ds = three_shapes.to_dataset()
    config = train_config(ds, init_from="bundled:mnist-default", freeze=False)
    assert config.init_name and config.lr == pytest.approx(config_from_preset("fast").lr * 0.1)
    model = initial_model(config, 3)
    assert torch.equal(model.state_dict()["0.weight"], load_checkpoint(DEFAULT_CHECKPOINT).model.state_dict()["0.weight"])


@pytest.mark.parametrize("change, message", [
    (dict(freeze=True), "needs a trained model to start from"),
    (dict(dataset="custom"), "needs their names"),
    (dict(dataset="custom", classes=["a", "A"]), "same name"),
    (dict(dataset="custom", classes=["a", "b", "c"]), "name 3 classes but the data has 2"),
    (dict(validation_share=0.9), "validation share"),
])
def test_bad_settings_for_your_classes(change, message):
    config = replace(config_from_preset("fast"), spec=transfer_spec(PRESETS["fast"].spec(), 2), **change)
    with pytest.raises(ConfigError, match=message):
        check_config(config, 2)


# ------------------------------------------------------------------------------ command line and script

def cli(*args):
    return subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def shape_folder(root: Path, classes=("圆", "Kreuz"), n=5) -> Path:
    kinds = dict(zip(classes, ("circle", "cross", "bar")))
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(n):
            # dark ink on white paper, 200×200: preprocessed like any photo
            cv2.imwrite(str(root / name / f"{i:03d}.png"), 255 - drawing(kinds[name], 3 * i - 6)[..., 3])
    return root


def test_cli_trains_on_a_folder_and_predict_prints_the_class_name(tmp_path):
    folder = shape_folder(tmp_path / "shapes")
    out = cli("train", "--data-folder", folder, "--epochs", "2", "--threads", "1", "--output", tmp_path / "m")
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert events[0]["event"] == "data" and events[0]["classes"] == ["Kreuz", "圆"]   # sorted, as ImageFolder
    assert events[0]["train"] == [4, 4] and events[0]["validation"] == [1, 1]
    assert events[-1]["event"] == "done"
    ckpt = load_checkpoint(tmp_path / "m.safetensors")
    assert ckpt.classes == ["Kreuz", "圆"] and ckpt.meta["config"]["data_folder"] == str(folder)
    pred = cli("predict", "--checkpoint", tmp_path / "m.safetensors", folder / "圆" / "000.png")
    assert pred.returncode == 0, pred.stderr
    [line] = [json.loads(x) for x in pred.stdout.splitlines()]
    assert line["class"] in ("Kreuz", "圆") and line["class"] == ckpt.classes[line["digit"]]
    ev = cli("evaluate", "--checkpoint", tmp_path / "m.safetensors", "--data-folder", folder)
    assert ev.returncode == 0 and json.loads(ev.stdout)["n"] == 10
    no_folder = cli("evaluate", "--checkpoint", tmp_path / "m.safetensors")
    assert no_folder.returncode == 2 and "pass --data-folder" in no_folder.stderr


@pytest.mark.parametrize("layout, message", [
    ({"only": 3}, "at least 2 classes; you have 1"),
    ({"a": 3, "b": 0}, "'b' has no examples"),
    ({"a": 3, "b": 1}, "'b' has 1 example"),
])
def test_cli_refuses_a_folder_that_cannot_train(layout, message, tmp_path):
    for name, n in layout.items():
        (tmp_path / "set" / name).mkdir(parents=True)
        for i in range(n):
            (tmp_path / "set" / name / f"{i}.png").write_bytes(GREY_28)
    out = cli("train", "--data-folder", tmp_path / "set", "--epochs", "1")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and message in out.stderr, out.stderr


def test_the_exported_script_reads_the_same_folder(tmp_path):
    from core.codegen import training_script

    folder = shape_folder(tmp_path / "shapes", ("圆", "Kreuz", "палка"), n=4)
    config = replace(train_config(make_dataset(["Kreuz", "палка", "圆"], np.zeros((6, 28, 28), np.uint8),
                                               [0, 0, 1, 1, 2, 2])), data_folder=str(folder))
    script = training_script(config)
    assert "from PIL import Image" in script and "CLASSES = ('Kreuz', 'палка', '圆')" in script
    namespace = {"__name__": "exported"}
    exec(compile(script, "exported.py", "exec"), namespace)
    labels = torch.tensor([0] * 7 + [1] * 3 + [2] * 5)
    for seed in (0, 5):   # the script splits exactly as CNN Lab does
        assert all(torch.equal(a, b) for a, b in zip(namespace["stratified_split"](labels, 0.2, seed),
                                                     stratified_split(labels, 0.2, seed)))
    path = tmp_path / "script.py"
    path.write_text(script, encoding="utf-8")
    run = subprocess.run([sys.executable, str(path), "--data-folder", str(folder), "--epochs", "1",
                          "--max-steps", "2"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(x) for x in run.stdout.splitlines()]
    assert lines[0]["output_shape"] == [1, 3]
    start = [e for e in lines if e["event"] == "start"][0]
    assert (start["train_size"], start["test_size"]) == (9, 3)
    assert lines[-1]["classes"] == ["Kreuz", "палка", "圆"]


@pytest.mark.skipif(not DEFAULT_CHECKPOINT.exists(), reason="no bundled model")
def test_side_by_side_differs_only_where_the_weights_start(three_shapes):
    from core.userdata import side_by_side

    pair = side_by_side(three_shapes.to_dataset(), "bundled:mnist-default", freeze=True)
    scratch, transfer = pair["scratch"], pair["transfer"]
    assert scratch.spec == transfer.spec and scratch.seed == transfer.seed
    assert scratch.init_from is None and transfer.init_from == "bundled:mnist-default" and transfer.freeze
