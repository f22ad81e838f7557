"""core.settings: every CNN_LAB_* variable, one policy — unset means the default, an unusable value
is refused with a sentence naming the variable and what it allows; deprecated names still work."""
from __future__ import annotations

from pathlib import Path

import pytest

from core import gallery, limits, settings
from core.settings import SettingsError


def test_unset_or_blank_means_the_default():
    for env in ({}, {name: "  " for name in (settings.MAX_QUEUE, settings.BACKEND, settings.DATA_DIR)}):
        assert settings.training_workers(env) is None
        assert (settings.runs_per_visitor(env), settings.max_queue(env), settings.max_epochs(env)) == (1, 60, 20)
        assert (settings.max_gallery(env), settings.max_gallery_per_visitor(env)) == (60, 3)
        assert settings.backend(env) == "local" and settings.ray_address(env) is None
        assert settings.data_dir(env) is None and settings.checkpoint_dir(env) is None
        assert settings.teacher_key(env) is None and not settings.debug(env)
        assert settings.limit_overrides(env) == {}
        settings.check(env)


def test_values_are_read_and_the_new_name_wins_over_the_deprecated_one():
    assert settings.training_workers({settings.MAX_TRAINING_JOBS: "3"}) == 3
    assert settings.training_workers({settings.MAX_TRAINING_JOBS: "3", settings.TRAINING_WORKERS: "2"}) == 2
    assert settings.backend({settings.RAY_ADDRESS: "ray://head:10001"}) == "ray"
    assert settings.backend({settings.RAY_ADDRESS: "ray://head:10001", settings.BACKEND: " Local "}) == "local"
    assert settings.data_dir({settings.DATA_DIR: "~/data"}) == Path("~/data").expanduser()
    assert settings.teacher_key({settings.TEACHER_KEY: " secret "}) == "secret"
    assert settings.limit_overrides({"CNN_LAB_MAX_IMAGE_MB": "0.5", "CNN_LAB_MAX_LAYERS": "7"}) == {
        "max_image_bytes": 512 * 1024, "max_layers": 7}


@pytest.mark.parametrize("name, raw, allowed", [
    (settings.TRAINING_WORKERS, "two", "whole number of at least 1"),
    (settings.MAX_TRAINING_JOBS, "0", "whole number of at least 1"),
    (settings.RUNS_PER_VISITOR, "1.5", "whole number of at least 1"),
    (settings.MAX_QUEUE, "-3", "whole number of at least 1"),
    (settings.MAX_EPOCHS, "0", "whole number of at least 1"),
    (settings.RAY_THREADS, "many", "whole number of at least 1"),
    (settings.MAX_GALLERY, "none", "whole number of at least 1"),
    (settings.MAX_GALLERY_PER_VISITOR, "0", "whole number of at least 1"),
    (settings.BACKEND, "spark", "'local', 'process' or 'ray'"),
    ("CNN_LAB_MAX_PARAMS", "lots", "positive number"),
    ("CNN_LAB_MAX_CHECKPOINT_MB", "nan", "positive number"),
    ("CNN_LAB_MAX_IMAGE_MB", "-1", "positive number"),
])
def test_an_unusable_value_stops_the_server_with_a_sentence_naming_it(name, raw, allowed):
    with pytest.raises(SettingsError) as err:
        settings.check({name: raw})
    message = str(err.value)
    assert message.startswith(f"{name}={raw!r} is not a usable setting") and allowed in message
    assert "\n" not in message and err.value.name == name


def test_the_readers_that_used_to_fall_back_silently_now_refuse(monkeypatch, tmp_path):
    monkeypatch.setenv(settings.MAX_GALLERY_PER_VISITOR, "zero")
    with pytest.raises(SettingsError, match=settings.MAX_GALLERY_PER_VISITOR):
        gallery.publish(None, {}, "nick", "someone", root=tmp_path)
    monkeypatch.setenv("CNN_LAB_MAX_LAYERS", "few")
    with pytest.raises(limits.LimitConfigError, match="CNN_LAB_MAX_LAYERS"):
        limits.current()


def test_the_shared_queue_settings(monkeypatch):
    """multi21: CNN_LAB_SHARED_QUEUE=ray puts the queue in the class hub; the hub's name is checked."""
    assert settings.shared_queue({}) is None and settings.shared_queue({"CNN_LAB_SHARED_QUEUE": "0"}) is None
    assert settings.shared_queue({"CNN_LAB_SHARED_QUEUE": " Ray "}) == "ray"
    with pytest.raises(SettingsError, match="CNN_LAB_SHARED_QUEUE='redis'.*use 'ray'"):
        settings.shared_queue({"CNN_LAB_SHARED_QUEUE": "redis"})
    assert settings.class_hub({}) == settings.DEFAULT_CLASS_HUB
    assert settings.class_hub({"CNN_LAB_CLASS_HUB": "room-101"}) == "room-101"
    with pytest.raises(SettingsError, match="CNN_LAB_CLASS_HUB"):
        settings.class_hub({"CNN_LAB_CLASS_HUB": "room 101/../x"})
    monkeypatch.setenv("CNN_LAB_SHARED_QUEUE", "yes please")
    with pytest.raises(SettingsError, match="CNN_LAB_SHARED_QUEUE"):
        settings.check()


def test_resume_after_a_restart_is_on_unless_switched_off(monkeypatch, tmp_path):
    """CNN_LAB_RESUME_RUNS=0: runs cut off by a restart wait for their owner's restart button."""
    from core.jobs.manager import durable_job_manager

    assert settings.resume_runs({}) and settings.resume_runs({"CNN_LAB_RESUME_RUNS": "yes"})
    assert not settings.resume_runs({"CNN_LAB_RESUME_RUNS": "0"})
    with pytest.raises(SettingsError, match="CNN_LAB_RESUME_RUNS='later'"):
        settings.resume_runs({"CNN_LAB_RESUME_RUNS": "later"})
    monkeypatch.setenv("CNN_LAB_CHECKPOINT_DIR", str(tmp_path))
    monkeypatch.setenv("CNN_LAB_RESUME_RUNS", "off")
    manager = durable_job_manager()
    try:
        assert manager.registry is not None and manager.resume is False
    finally:
        manager.shutdown()
    monkeypatch.setenv("CNN_LAB_RESUME_RUNS", "later")
    with pytest.raises(SettingsError, match="CNN_LAB_RESUME_RUNS"):
        settings.check()
