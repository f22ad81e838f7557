"""The class gallery: publish, list, feature, remove; nothing private leaks into an entry."""
import json

import pytest

from core import gallery
from core.checkpoint import make_metadata
from core.models import PRESETS, build_model
from core.workspace import Workspace


@pytest.fixture
def model_and_meta():
    spec = PRESETS["fast"].spec()
    meta = make_metadata(spec, "mnist", {"preset": "fast", "seed": 0}, {"test_accuracy": 0.9912},
                         name="my [best](http://x) model", run_id="SECRET-RUN-ID")
    return build_model(spec), meta


def test_publish_lists_for_everyone_without_private_ids(tmp_path, model_and_meta):
    model, meta = model_and_meta
    ws = Workspace.create(root=tmp_path)
    entry = gallery.publish(model, meta, "Ada\x00 <b>L</b>", publisher=ws.id, root=tmp_path / "g")
    assert entry.nickname == "Ada b L b"  # control characters and markup removed
    assert entry.test_accuracy == pytest.approx(0.9912) and entry.architecture == "fast"
    assert [e.id for e in gallery.list_entries(tmp_path / "g")] == [entry.id]
    loaded = gallery.load(entry.id, tmp_path / "g")
    assert "run_id" not in loaded.meta and "(" not in loaded.name
    text = "".join(p.read_text(errors="ignore") for p in (tmp_path / "g").iterdir())
    assert ws.secret not in text and "SECRET-RUN-ID" not in text


def test_feature_orders_first_and_remove_rules(tmp_path, model_and_meta):
    model, meta = model_and_meta
    root = tmp_path / "g"
    a = gallery.publish(model, meta, "a", publisher="wa", root=root)
    b = gallery.publish(model, meta, "b", publisher="wb", root=root)
    assert [e.id for e in gallery.list_entries(root)] == [b.id, a.id]  # newest first
    gallery.set_featured(a.id, True, root)
    assert [e.id for e in gallery.list_entries(root)] == [a.id, b.id]
    with pytest.raises(gallery.GalleryError) as err:
        gallery.remove(a.id, publisher="wb", root=root)  # not the publisher
    assert err.value.code == "not_yours"
    gallery.remove(a.id, publisher="wa", root=root)
    gallery.remove(b.id, root=root)  # the teacher removes any
    assert gallery.list_entries(root) == []


def test_limits_and_bad_ids(tmp_path, model_and_meta, monkeypatch):
    model, meta = model_and_meta
    root = tmp_path / "g"
    monkeypatch.setenv(gallery.MAX_PER_VISITOR_ENV, "1")
    gallery.publish(model, meta, "a", publisher="wa", root=root)
    with pytest.raises(gallery.GalleryError) as err:
        gallery.publish(model, meta, "a again", publisher="wa", root=root)
    assert err.value.code == "own_full"
    with pytest.raises(gallery.GalleryError) as err:
        gallery.publish(model, meta, " \n ", publisher="wb", root=root)
    assert err.value.code == "no_nickname"
    for bad in ("../../etc/passwd", "", None, "x" * 100):
        with pytest.raises(gallery.GalleryError):
            gallery.load(bad, root)


def test_an_entry_without_its_sidecar_is_not_listed(tmp_path, model_and_meta):
    model, meta = model_and_meta
    root = tmp_path / "g"
    entry = gallery.publish(model, meta, "a", publisher="wa", root=root)
    (root / f"{entry.id}.json").write_text("not json")
    assert gallery.list_entries(root) == []
    (root / f"{entry.id}.json").write_text(json.dumps({"nickname": "a", "test_accuracy": 7}))
    [listed] = gallery.list_entries(root)
    assert listed.test_accuracy is None  # nonsense accuracies are not shown
