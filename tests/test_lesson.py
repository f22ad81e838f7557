"""Issue 24, the teacher's lesson (core): assignments and their bounds, the durable lesson store,
seeds, recovery that cannot hijack, roster states, the leaderboard, the export and the
projector's race chart. Hand-computed expectations; clocks injected; nothing sleeps on a clock."""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
import zipfile
from dataclasses import replace

import pytest

from core.i18n import translate
from core.lesson import recovery
from core.lesson.assignments import (AssignmentError, Violation, apply, check_config, make_assignment)
from core.lesson.export import (COLUMNS, export_rows, gallery_zip, md_escape, model_card, roster_csv,
                                roster_json)
from core.lesson.times import clock_time, date_time, from_local, local_time
from core.lesson.leaderboard import leaderboard
from core.lesson.recovery import RecoveryError
from core.lesson.roster import (EDITING, FAILED_STATE, FINISHED_STATE, NOT_STARTED, PUBLISHED, STOPPED_STATE,
                                TRAINING, WAITING, JobFacts, RosterRow, roster_state, sort_roster)
from core.lesson.seeds import learner_seed
from core.lesson.store import LESSON_FILE, LessonError, LessonStore, RosterEntry, RunRecord, run_key
from core.models import FLATTEN, PRESETS, RELU, conv, linear
from core.train_config import TrainConfig
from core.workspace import new_secret, workspace_id

# A model whose figures are worked out by hand: conv 1→4, 3×3, no padding: 4·9 + 4 = 40
# parameters, 26·26·4·9 = 24,336 multiply-adds; linear 4·26·26 = 2,704 → 10: 27,050 parameters,
# 27,040 multiply-adds. Total: 27,090 parameters, 51,376 multiply-adds.
SMALL = [conv(4, 3, 1, 0), RELU, FLATTEN, linear(10)]


class Clock:
    def __init__(self, t=1_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


@pytest.fixture
def root(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    monkeypatch.setenv("CNN_LAB_CHECKPOINT_DIR", str(folder))
    return folder


# --------------------------------------------------------------------------- assignments

def bounded(**kw):
    values = dict(title="Small nets", brief="Beat 98 % with under 30k parameters.", dataset="mnist",
                  preset=None, max_epochs=3, max_data_share=0.5, max_params=20_000, max_madds=50_000,
                  deadline=2_000.0, now=1_000.0)
    values.update(kw)
    return make_assignment(**values)


def test_a_config_outside_every_bound_gets_exactly_those_violations():
    a = bounded()
    cfg = TrainConfig(spec=SMALL, dataset="fashion-mnist", epochs=5, fraction=0.75)
    got = check_config(a, cfg, now=2_500.0)
    assert got == [
        Violation("dataset", "violation_dataset", {"dataset": "mnist"}),
        Violation("epochs", "violation_epochs", {"epochs": 5, "limit": 3}),
        Violation("fraction", "violation_fraction", {"share": "75", "limit": "50"}),
        Violation("params", "violation_params", {"params": "27,090", "limit": "20,000"}),
        Violation("madds", "violation_madds", {"madds": "51,376", "limit": "50,000"}),
        Violation("deadline", "violation_deadline", {}),
    ]
    assert got[3].sentence("en") == ("The model has 27,090 parameters; this assignment allows 20,000 at most "
                                     "— make a layer smaller.")
    assert "27,090" in got[3].sentence("zh") and got[3].sentence("zh") != got[3].sentence("en")


def test_bounds_are_inclusive_and_a_fitting_config_has_no_violation():
    a = bounded(max_params=27_090, max_madds=51_376)
    cfg = TrainConfig(spec=SMALL, dataset="mnist", epochs=3, fraction=0.5)
    assert check_config(a, cfg, now=2_000.0) == []
    assert [v.field for v in check_config(a, replace(cfg, epochs=4), now=0)] == ["epochs"]


def test_a_preset_assignment_wants_the_preset_layer_for_layer():
    a = bounded(preset="fast", max_params=None, max_madds=None, max_epochs=None, max_data_share=None,
                deadline=None)
    cfg = apply(a, TrainConfig(spec=SMALL), seed=1234)
    assert cfg.spec == PRESETS["fast"].spec() and cfg.preset == "fast" and cfg.seed == 1234
    assert check_config(a, cfg) == []
    edited = [dict(layer) for layer in cfg.spec]
    edited[0]["out"] = edited[0]["out"] + 1
    assert [v.field for v in check_config(a, replace(cfg, spec=edited))] == ["architecture"]


def test_apply_pulls_epochs_and_share_inside_the_bounds_and_keeps_an_own_model():
    a = bounded(preset="accurate", max_epochs=3, max_data_share=0.25, max_params=None, max_madds=None, deadline=None)
    cfg = apply(a)
    assert (cfg.epochs, cfg.fraction, cfg.dataset) == (3, 0.25, "mnist")   # accurate trains 9 epochs
    assert check_config(a, cfg) == []
    free = bounded(dataset="kmnist", max_params=None, max_madds=None, deadline=None)
    cfg = apply(free, TrainConfig(spec=SMALL, epochs=7, fraction=0.1))
    assert (cfg.spec, cfg.epochs, cfg.fraction, cfg.dataset) == (SMALL, 3, 0.1, "kmnist")


def test_an_assignment_that_cannot_be_set_says_why():
    with pytest.raises(AssignmentError, match="Unknown dataset"):
        bounded(dataset="cifar")
    with pytest.raises(AssignmentError, match="epochs bound"):
        bounded(max_epochs=0)
    with pytest.raises(AssignmentError, match="data share"):
        bounded(max_data_share=1.5)
    a = bounded(title="[x](//evil) **T**", brief="line one\nline two\u202e")
    assert "(" not in a.title and "\n" not in a.brief and "\u202e" not in a.brief


# --------------------------------------------------------------------------- store

def test_the_lesson_survives_a_reopen(root):
    store = LessonStore(root, clock=Clock())
    a = store.add_assignment(bounded())
    store.join("w1", "Ann", "1234", new_secret(root))
    lesson = store.lesson()
    assert lesson.current_assignment == a.id
    store.close()
    again = LessonStore(root)
    assert again.lesson() == lesson and again.current_assignment() == a
    assert [e.nickname for e in again.roster()] == ["Ann"]
    mode = sqlite3.connect(root / LESSON_FILE).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_rounds_archive_the_board_and_assignments(root):
    store = LessonStore(root)
    first = store.add_assignment(bounded())
    assert store.lesson().round == 1
    store.new_round()
    assert store.lesson().round == 2 and store.current_assignment() is None
    assert store.assignments() == [] and store.assignments(all_rounds=True) == [first]
    second = store.add_assignment(bounded(title="Round two"))
    assert second.round == 2 and store.current_assignment() == second
    with pytest.raises(LessonError):
        store.set_current("a-not-here")


def test_nicknames_are_unique_per_lesson_without_case_and_a_race_has_one_winner(root):
    store = LessonStore(root)
    store.join("w1", "Ann", None, None)
    with pytest.raises(LessonError) as err:
        store.join("w2", " ann ", None, None)
    assert err.value.code == "nickname_taken"
    assert store.join("w1", "Annie", None, None).nickname == "Annie"   # one's own nickname may change
    results, barrier = [], threading.Barrier(6)

    def claim(ws):
        barrier.wait()
        try:
            LessonStore(root).join(ws, "Bo", None, None)
            results.append(ws)
        except LessonError:
            pass

    threads = [threading.Thread(target=claim, args=(f"x{i}",)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert len(results) == 1
    assert sum(e.nickname == "Bo" for e in store.roster()) == 1


def test_seeds_are_stable_and_different_per_learner(root, monkeypatch):
    assert learner_seed("L1", "w1") == learner_seed("L1", "w1")
    seeds = {learner_seed("L1", f"w{i}") for i in range(300)}
    assert len(seeds) == 300 and all(0 <= s < 2**31 for s in seeds)
    assert learner_seed("L2", "w1") != learner_seed("L1", "w1")
    store = LessonStore(root)
    assert store.seen("w1").seed == learner_seed(store.lesson().id, "w1")
    monkeypatch.setattr("core.lesson.store.learner_seed", lambda lesson, ws: 7)   # force collisions
    assert [store.seen(w).seed for w in ("a", "b", "c")] == [7, 8, 9]
    assert store.seen("a").seed == 7                                             # and it stays


# --------------------------------------------------------------------------- recovery

def test_recovery_gives_back_the_workspace_with_the_pin(root):
    store = LessonStore(root, clock=Clock())
    secret = new_secret(root)
    ws = workspace_id(secret)
    store.join(ws, "Ann", "4711", secret)
    code = store.lesson().code
    got = store.recover("ann", recovery.show_code(code).lower(), "4711", client="c1")
    assert got == (ws, secret)
    raw = b"".join(p.read_bytes() for p in root.glob(LESSON_FILE + "*"))
    assert secret.encode() not in raw            # sealed at rest: the file alone opens nothing


def test_recovery_cannot_hijack(root):
    clock = Clock()
    store = LessonStore(root, clock=clock)
    secret = new_secret(root)
    ws = workspace_id(secret)
    store.join(ws, "Ann", "4711", secret)
    store.join("other", "Bo", None, None)        # no PIN: no recovery at all
    code = store.lesson().code
    answers = []
    for nickname, typed_code, pin in (("Ann", code, "0000"), ("Zed", code, "4711"), ("Ann", "AAAAAA", "4711")):
        with pytest.raises(RecoveryError) as err:
            store.recover(nickname, typed_code, pin, client=f"c-{nickname}-{pin}")
        answers.append(str(err.value))
    assert len(set(answers)) == 1                # a wrong part is not told apart
    with pytest.raises(RecoveryError):
        store.recover("Bo", code, "1234", client="c9")
    # A new nickname holder cannot take Ann's place on the board either.
    with pytest.raises(LessonError):
        store.join("attacker", "ANN", "9999", new_secret(root))


def test_wrong_pins_lock_the_nickname_whatever_the_address(root):
    clock = Clock()
    store = LessonStore(root, clock=clock)
    secret = new_secret(root)
    store.join(workspace_id(secret), "Ann", "4711", secret)
    code = store.lesson().code
    for i in range(3):                            # free tries, from three addresses
        with pytest.raises(RecoveryError) as err:
            store.recover("Ann", code, f"000{i}", client=f"c{i}")
        assert err.value.code == "no_match"
    with pytest.raises(RecoveryError) as err:     # the 4th wrong try locks for 2 s
        store.recover("Ann", code, "0003", client="c3")
    assert err.value.wait_s == 2.0
    with pytest.raises(RecoveryError) as err:     # locked: even the right PIN is not compared
        store.recover("Ann", code, "4711", client="fresh")
    assert err.value.code == "locked"
    clock.t += 2.0
    assert store.recover("Ann", code, "4711", client="fresh")[1] == secret
    # A script guessing for an hour, trying each time the lock ends, gets few tries.
    clock.t, tries, start = clock.t + 1, 0, clock.t + 1
    while clock.t < start + 3600:
        try:
            store.recover("Ann", code, f"{tries % 10000:04d}" if tries % 10000 != 4711 else "0000",
                          client=f"rot{tries}")
        except RecoveryError as e:
            tries += e.code == "no_match"
            clock.t += max(e.wait_s, 0.001)
    assert tries <= 20                            # of 10,000 PINs: < 0.2 %
    store.unlock("Ann")                           # the teacher clears the lock
    assert store.recover("Ann", code, "4711", client="after")[0] == workspace_id(secret)
    for i in range(4):                            # one network's typos lock it (a school's NAT)
        with pytest.raises(RecoveryError):
            store.recover("Ann", code, "0000", client="school")
    assert store.locked_out() == 2                # the nickname and the network
    assert store.clear_lockouts() == 2 and store.locked_out() == 0   # the teacher's button
    assert store.recover("Ann", code, "4711", client="school")[0] == workspace_id(secret)


def test_a_pin_is_digits(root):
    store = LessonStore(root)
    with pytest.raises(LessonError) as err:
        store.join("w", "Ann", "12", None)
    assert err.value.code == "bad_pin"
    assert not recovery.valid_pin("12a4") and recovery.valid_pin("123456")
    assert set(recovery.new_class_code()) <= set(recovery.CODE_ALPHABET)


# --------------------------------------------------------------------------- runs

def test_runs_are_recorded_without_their_id(root):
    from tests.fakes import fake_factory, manager, toy_dataset

    store = LessonStore(root)
    jm = manager(run_factory=fake_factory(steps=2, step_seconds=0.0))
    try:
        job = jm.start("w1", TrainConfig(spec=SMALL, epochs=1, seed=5), toy_dataset(100, 40), nickname="Ann")
        store.join("w1", "Ann", None, None)
        first = store.record_run(job, assignment_id="a1")
        assert first.assignment_id == "a1" and first.params == 27_090 and first.madds == 51_376
        assert job.wait(60)
        rec = store.record_run(job)               # later updates keep the assignment
        assert (rec.state, rec.assignment_id, rec.nickname, rec.epochs, rec.seed) == ("finished", "a1", "Ann", 1, 5)
        assert rec.test_accuracy == pytest.approx(job.metrics()["test_accuracy"])
        assert rec.finished is not None and rec.submitted == pytest.approx(job.created)
        store.mark_published(job.id, "entry1")
        assert store.gallery_entry_of(job.id) == "entry1" and store.run(job.id).gallery_entry == "entry1"
        assert rec.key == run_key(job.id) and job.id not in rec.key
        raw = b"".join(p.read_bytes() for p in root.glob(LESSON_FILE + "*"))
        assert job.id.encode() not in raw and job.watch_token.encode() not in raw
    finally:
        jm.shutdown()


# --------------------------------------------------------------------------- roster

def entry(editing=False, nickname="Ann"):
    return RosterEntry("w1", nickname, 42, 0.0, 5.0, editing, False, True)


@pytest.mark.parametrize("jobs, editing, state, detail", [
    ([], False, NOT_STARTED, ""),
    ([], True, EDITING, ""),
    ([JobFacts("queued", 1.0, position=3)], False, WAITING, "position 3 in the queue"),
    ([JobFacts("finished", 1.0, accuracy=0.9, params=10), JobFacts("running", 2.0, progress=0.25)], True,
     TRAINING, "25 % done"),
    ([JobFacts("finished", 1.0, accuracy=0.98765, params=27090)], False, FINISHED_STATE,
     "98.77 % with 27,090 parameters"),
    ([JobFacts("finished", 1.0, accuracy=0.5, params=1, published=True)], False, PUBLISHED, "50.00 % with 1 parameters"),
    ([JobFacts("finished", 1.0, accuracy=0.5, params=1), JobFacts("failed", 2.0, error="Out of memory.")], False,
     FAILED_STATE, "Out of memory."),
    ([JobFacts("finished", 2.0, accuracy=0.7, params=5, stopped=True)], False, STOPPED_STATE, "70.00 % with 5 parameters"),
    ([JobFacts("stopped", 2.0, stopped=True)], False, STOPPED_STATE, ""),
    ([JobFacts("failed", 1.0, error="x"), JobFacts("cancelled", 2.0)], False, FAILED_STATE, "x"),
])
def test_roster_states(jobs, editing, state, detail):
    row = roster_state(entry(editing), jobs)
    assert row.state == state
    assert row.detail(lambda key, **v: translate("en", key, **v)) == detail


def test_roster_sorts():
    rows = [RosterRow("bo", FINISHED_STATE, accuracy=0.9, params=100),
            RosterRow("Ann", TRAINING, progress=0.5),
            RosterRow(None, NOT_STARTED),
            RosterRow("cy", FINISHED_STATE, accuracy=0.9, params=50),
            RosterRow("Di", FAILED_STATE, failure="x")]
    assert [r.nickname for r in sort_roster(rows, "nickname")] == [None, "Ann", "bo", "cy", "Di"]
    assert [r.nickname for r in sort_roster(rows, "state")] == ["Di", None, "Ann", "bo", "cy"]
    assert [r.nickname for r in sort_roster(rows, "accuracy", descending=True)][:2] == ["cy", "bo"]
    with pytest.raises(ValueError):
        sort_roster(rows, "id")


# --------------------------------------------------------------------------- leaderboard

def record(nickname, acc, params, state="finished", assignment="a1", epochs=2, **kw):
    values = dict(key=nickname + str(acc), round=1, workspace_id="w-" + nickname, nickname=nickname,
                  assignment_id=assignment, dataset="mnist", architecture="custom", preset_match=False,
                  params=params, madds=40_000, epochs=epochs, fraction=0.5, seed=1, submitted=1_500.0,
                  finished=1_600.0, state=state, test_accuracy=acc, ece=0.01, train_seconds=12.5,
                  error=None, gallery_entry=None)
    values.update(kw)
    return RunRecord(**values)


def test_leaderboard_best_within_budget_ties_by_fewer_parameters():
    a = bounded(assignment_id="a1")
    runs = [record("Ann", 0.98, 15_000), record("Ann", 0.99, 19_000),        # Ann's best: 0.99
            record("Bo", 0.99, 12_000),                                       # ties Ann, fewer params
            record("Cy", 0.99, 12_000, finished=1_700.0),                     # ties Bo exactly
            record("Di", 0.995, 25_000),                                      # over the parameter budget
            record("Ed", 0.999, 1_000, epochs=4),                             # over the epoch budget
            record("Fa", 0.999, 1_000, submitted=2_100.0),                    # after the deadline
            record("Gu", 0.999, 1_000, assignment="a2"),                      # another assignment
            record("Ha", None, 1_000, state="failed"),
            record("Io", 0.97, 9_000, state="stopped")]                       # a stopped run counts
    rows = leaderboard(runs, a, featured=["cy"])
    assert [(r.rank, r.nickname, r.accuracy, r.params) for r in rows] == [
        (1, "Bo", 0.99, 12_000), (1, "Cy", 0.99, 12_000), (3, "Ann", 0.99, 19_000), (4, "Io", 0.97, 9_000)]
    assert [r.featured for r in rows] == [False, True, False, False]


# --------------------------------------------------------------------------- export

def test_export_columns_and_time_zones():
    a = bounded(assignment_id="a1", title="Small nets")
    runs = [record("=cmd", 0.98765432, 27_090, submitted=1_700_000_000.0, finished=1_700_000_123.0)]
    roster = [entry(nickname="Ann"), RosterEntry("w-=cmd", "=cmd", 1, 0, 0, False, False, False)]
    rows = export_rows(runs, [a], roster, tz="America/New_York")
    text = roster_csv(rows)
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == ["nickname", "assignment", "architecture", "parameters", "multiply-adds", "epochs",
                         "data share", "test accuracy", "calibrated ECE", "training seconds", "submitted",
                         "finished"] == list(COLUMNS)
    # 1,700,000,000 s = 2023-11-14 22:13:20 UTC; New York is on EST (UTC−5) then.
    assert parsed[1] == ["'=cmd", "Small nets", "custom", "27090", "40000", "2", "0.5", "0.98765", "0.01", "12.5",
                         "2023-11-14 17:13:20-05:00", "2023-11-14 17:15:23-05:00"]
    assert parsed[2][0] == "Ann" and parsed[2][1:] == [""] * 11   # on the roster, no run yet
    assert len(parsed) == 3
    assert local_time(1_700_000_000.0, "Asia/Shanghai") == "2023-11-15 06:13:20+08:00"
    assert local_time(1_700_000_000.0, "Not/AZone") == "2023-11-14 22:13:20+00:00"
    data = json.loads(roster_json(export_rows(runs, [a], tz="Asia/Shanghai"), tz="Asia/Shanghai", lesson_code="ABC234"))
    assert data["time_zone"] == "Asia/Shanghai" and data["columns"] == list(COLUMNS)
    assert data["rows"][0]["submitted"] == "2023-11-15 06:13:20+08:00" and data["rows"][0]["test accuracy"] == 0.98765
    assert "w-=cmd" not in text and "w-=cmd" not in json.dumps(data)


def test_model_card_escapes_learner_text_and_says_data_recipe_accuracy_calibration():
    from core.gallery import GalleryEntry

    e = GalleryEntry("x" * 16, "Ann*", "net [1](//x)", 0.9876, "fast", "mnist", 0.0, False, "pub")
    meta = {"dataset": "mnist", "spec": SMALL, "classes": [str(i) for i in range(9)] + ["<b>nine</b>"],
            "config": {"fraction": 0.25, "optimizer": "adamw", "lr": 0.03, "batch_size": 128, "epochs": 1,
                       "scheduler": "onecycle_linear", "augment": False, "seed": 7},
            "metrics": {"calibration": {"temperature": 1.234, "test_ece_raw": 0.0123, "test_ece_calibrated": 0.0045}}}
    card = model_card(e, meta)
    assert card.startswith("# net \\[1\\]\\(//x\\) — Ann\\*")
    assert "&lt;b\\>nine&lt;/b\\>" in card and "<b>" not in card
    for expected in ("mnist", "25 %", "27,090 parameters", "adamw, lr 0.03, batch 128, epochs 1", "seed 7",
                     "98.76 %", "T = 1.234", "ECE 1.23 % → 0.45 %"):
        assert expected in card, expected
    assert md_escape("a_b") == "a\\_b"


def test_gallery_zip_has_each_model_with_its_card(root):
    import torch

    from core import gallery
    from core.checkpoint import make_metadata
    from core.models import build_model

    torch.manual_seed(0)
    model = build_model(SMALL)
    meta = make_metadata(SMALL, "mnist", {"fraction": 1.0, "seed": 3}, {"test_accuracy": 0.9}, name="tiny",
                         run_id="RUNID-SECRET-123")
    entry = gallery.publish(model, meta, "Ann", publisher="pubhash", root=root / "gallery")
    data = gallery_zip(gallery.list_entries(root / "gallery"), root=root / "gallery")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = sorted(zf.namelist())
        assert names == ["01-Ann-tiny.md", "01-Ann-tiny.safetensors"]
        card = zf.read("01-Ann-tiny.md").decode()
        blob = b"".join(zf.read(n) for n in names)
    assert "90.00 %" in card and "27,090" in card
    assert b"RUNID-SECRET-123" not in blob and b"pubhash" not in blob and entry.id.encode() not in blob


# --------------------------------------------------------------------------- projector chart

def test_race_points_from_events():
    from core.figures.race import race_points

    events = [{"event": "start", "elapsed": 0.0}, {"event": "step", "accuracy": 0.3, "elapsed": 1.0},
              {"event": "epoch", "test_accuracy": 0.5, "elapsed": 2.0},
              {"event": "done", "test_accuracy": 0.6, "elapsed": 3.0}]
    assert race_points(1000.0, events) == [(1002.0, 0.5), (1003.0, 0.6)]
    assert race_points(None, events) == []


def test_the_projector_chart_leaks_no_ids():
    from core.figures.race import RaceLine, race_figure, race_points
    from tests.fakes import fake_factory, manager, toy_dataset

    jm = manager(run_factory=fake_factory(steps=2, step_seconds=0.0))
    try:
        jobs = [jm.start(f"owner-{i}", TrainConfig(spec=SMALL, epochs=2), toy_dataset(100, 40), nickname=n)
                for i, n in enumerate(("Ann", "Bo"))]
        for job in jobs:
            assert job.wait(60)
        lines = [RaceLine(j.nickname, race_points(j.started, j.events()), featured=j.nickname == "Bo")
                 for j in jobs]
        fig = race_figure(lines, lambda key, **v: translate("en", key, **v), tz=None)
        text = fig.to_json()
        for j in jobs:
            for private in (j.id, j.watch_token, j.owner):
                assert private not in text
        traces = {tr.name: tr for tr in fig.data}
        assert set(traces) == {"Ann", "Bo"} and len(traces["Ann"].x) == 3       # 2 epochs + final
        assert traces["Bo"].line.width == 4 and traces["Ann"].line.width == 1.5
        assert all(tr.customdata is None for tr in fig.data)
    finally:
        jm.shutdown()


# --------------------------------------------------------------------------- times

def test_times_in_the_viewers_zone():
    from datetime import datetime

    assert clock_time(1_700_000_000.0, "Asia/Shanghai") == "06:13" and clock_time(None, "UTC") == ""
    # The teacher in Shanghai sets a deadline of 15 Nov 2023, 06:13:20 local: that is the epoch above.
    assert from_local(datetime(2023, 11, 15, 6, 13, 20), "Asia/Shanghai") == 1_700_000_000.0
    assert from_local(datetime(2023, 11, 14, 22, 13, 20), None) == 1_700_000_000.0
    # A deadline may fall on another day than today: its date and the zone it is read in.
    assert date_time(1_700_000_000.0, "Asia/Shanghai") == "2023-11-15 06:13 (Asia/Shanghai)"
    assert date_time(1_700_000_000.0, "Mars/Olympus") == "2023-11-14 22:13 (UTC)" and date_time(None, None) == ""


# --------------------------------------------------------------------------- pages' assembly

def gated_manager(gate):
    from tests.fakes import fake_factory, manager

    return manager(run_factory=fake_factory(steps=3, step_seconds=0.0, gate=gate), workers=1)


def test_cancel_the_queue_then_stop_all():
    from core.lesson.control import cancel_queue, stop_all
    from tests.fakes import toy_dataset
    from tests.helpers import wait_until

    gate = threading.Semaphore(0)
    jm = gated_manager(gate)
    try:
        data = toy_dataset(100, 40)
        jobs = [jm.start(f"o{i}", TrainConfig(spec=SMALL, epochs=1), data) for i in range(3)]
        wait_until(lambda: jobs[0].state == "running" or jobs[0].state == "starting", 60, "the first run to start")
        assert cancel_queue(jm) == 2
        assert [j.state for j in jobs[1:]] == ["cancelled", "cancelled"]
        assert jobs[0].active
        assert stop_all(jm) == 1
        assert jobs[0].wait(60) and jobs[0].stopped and jobs[0].state == "finished"
        assert stop_all(jm) == 0 and cancel_queue(jm) == 0
    finally:
        jm.shutdown()


def test_the_class_roster_and_the_projector_view_from_live_runs(root):
    from core.lesson.views import class_roster, projector_view, sync_runs, watch_token_of
    from tests.fakes import toy_dataset
    from tests.helpers import wait_until

    store = LessonStore(root)
    a = store.add_assignment(bounded(max_params=None, max_madds=None, deadline=None, max_data_share=None))
    for ws, nick in (("wa", "Ann"), ("wb", "Bo"), ("wc", "Cy")):
        store.join(ws, nick, None, None)
    store.seen("wd")                                  # opened the app, no nickname yet
    store.mark_editing("wc")
    store.set_featured("bo", True)
    gate = threading.Semaphore(0)
    jm = gated_manager(gate)
    try:
        data = toy_dataset(100, 40)
        ann = jm.start("wa", TrainConfig(spec=SMALL, epochs=1), data, nickname="Ann")
        bo = jm.start("wb", TrainConfig(spec=SMALL, epochs=2), data, nickname="Bo")
        jm.start("stranger", TrainConfig(spec=SMALL, epochs=1), data)      # not in this lesson
        store.record_run(ann, a.id)
        store.record_run(bo, a.id)
        for _ in range(3):
            gate.release()
        assert ann.wait(60)
        wait_until(lambda: bo.state == "running", 60, "Bo's run to start")
        assert sync_runs(store, jm) >= 1
        rows = {r.nickname: r for r in class_roster(store, jm)}
        assert {n: r.state for n, r in rows.items()} == {"Ann": "finished", "Bo": "training", "Cy": "editing",
                                                          None: "not_started"}
        assert rows["Ann"].params == 27_090 and rows["Ann"].accuracy == pytest.approx(ann.metrics()["test_accuracy"])
        assert watch_token_of(jm, "wa") == ann.watch_token and watch_token_of(jm, "wd") is None
        view = projector_view(store, jm)
        assert view.title == a.title and view.brief == a.brief and view.class_code.replace(" ", "") == store.lesson().code
        assert [(r.rank, r.nickname) for r in view.leaders] == [(1, "Ann")]
        assert {line.nickname: line.featured for line in view.lines} == {"Ann": False, "Bo": True}
        text = repr(view)
        for job in jm.all_jobs():
            for private in (job.id, job.watch_token):
                assert private not in text
        for ws in ("wa", "wb", "wc", "wd"):
            assert f"'{ws}'" not in text
        # A new exercise empties the board; the runs stay in the export.
        store.new_round()
        assert store.runs() == [] and len(store.runs(all_rounds=True)) == 2
        assert {r.state for r in class_roster(store, jm)} <= {"not_started", "editing"}
    finally:
        for _ in range(20):
            gate.release()
        jm.shutdown()


def test_one_gallery_entry_per_run(root):
    from tests.fakes import fake_factory, manager, toy_dataset

    store = LessonStore(root)
    jm = manager(run_factory=fake_factory(steps=1, step_seconds=0.0))
    try:
        job = jm.start("w1", TrainConfig(spec=SMALL, epochs=1), toy_dataset(100, 40))
        assert job.wait(60)
        store.record_run(job)
        assert store.claim_publication(job.id) and not store.claim_publication(job.id)
        assert store.gallery_entry_of(job.id) == ""
        store.release_publication(job.id)
        assert store.claim_publication(job.id)
        store.mark_published(job.id, "e1")
        assert not store.claim_publication(job.id) and store.gallery_entry_of(job.id) == "e1"
        assert not store.claim_publication("never-recorded")
    finally:
        jm.shutdown()


def test_seen_writes_at_most_every_15_seconds(root):
    clock = Clock(100.0)
    store = LessonStore(root, clock=clock)
    assert store.seen("w1").last_seen == 100.0
    clock.t = 110.0
    assert store.seen("w1").last_seen == 100.0
    clock.t = 116.0
    assert store.seen("w1").last_seen == 116.0 and len(store.roster()) == 1
    with pytest.raises(ValueError):
        store.join("w1", "Ann", "1234", None)     # a PIN without the secret it guards


def test_the_teacher_leaves_the_roster_but_their_runs_stay_recorded(root):
    store = LessonStore(root)
    store.seen("ws-teacher")
    store.seen("ws-learner")
    assert store.forget("ws-teacher") and not store.forget("ws-teacher")
    assert [e.workspace_id for e in store.roster()] == ["ws-learner"]


def test_a_new_lesson_has_a_new_code_and_an_empty_roster_but_remembers_nicknames(root):
    clock = Clock(100.0)
    store = LessonStore(root, clock=clock)
    first = store.lesson()
    store.join("w1", "Ann", None, None)
    clock.t = 200.0
    second = store.start_lesson()
    assert second.id != first.id and second.round == 1 and store.roster() == []
    assert store.last_nickname("w1") == "Ann" and store.last_nickname("w2") is None


def test_a_burst_of_parallel_guesses_is_counted_one_by_one(root):
    store = LessonStore(root, clock=Clock())
    secret = new_secret(root)
    store.join(workspace_id(secret), "Ann", "4711", secret)
    code = store.lesson().code
    outcomes, barrier = [], threading.Barrier(8)

    def guess(i):
        barrier.wait()
        try:
            LessonStore(root, clock=Clock()).recover("Ann", code, f"{i:04d}", client=f"burst{i}")
        except RecoveryError as e:
            outcomes.append(e.code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    # 3 free tries and a 4th that sets the lock are compared; the other 4 are refused unread.
    assert sorted(outcomes) == ["locked"] * 4 + ["no_match"] * 4
