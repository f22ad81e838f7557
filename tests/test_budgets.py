"""Issue 23, budget rows: who a client is, per-client and server budgets, the teacher key's
growing delay. Clocks are injected: nothing here sleeps."""
from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from core import gallery
from core.budgets import MB, BudgetConfigError, BudgetError, Budgets, ClientLedger
from core.checkpoint import DEFAULT_CHECKPOINT, make_metadata
from core.clients import LOCAL, behind_proxy, client_address, client_id
from core.models import PRESETS, build_model
from core.teacher_gate import MAX_LOCKOUT_S, TeacherGate
from core.workspace import QuotaError, Workspace, WorkspaceError

FAST = PRESETS["fast"].spec()


class Clock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


@pytest.fixture
def root(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shutil.copy(DEFAULT_CHECKPOINT, folder)
    monkeypatch.setenv("CNN_LAB_CHECKPOINT_DIR", str(folder))
    for var in ("CNN_LAB_WORKSPACES_PER_HOUR", "CNN_LAB_CLIENT_DISK_MB", "CNN_LAB_SERVER_DISK_MB",
                "CNN_LAB_GALLERY_PER_CLIENT", "CNN_LAB_TEACHER_KEY", "CNN_LAB_BEHIND_PROXY"):
        monkeypatch.delenv(var, raising=False)
    return folder


def model(seed=0):
    torch.manual_seed(seed)
    return build_model(FAST).eval()


def meta(name="m"):
    return make_metadata(FAST, "mnist", {"seed": 0}, {"test_accuracy": 0.5}, name=name)


def model_bytes():
    return sum(t.numel() * t.element_size() for t in model().state_dict().values())


# --------------------------------------------------------------------------- who is a client

def test_a_client_is_the_connection_address_and_forwarded_for_only_behind_a_proxy():
    assert client_address("203.0.113.7", "198.51.100.1", behind_proxy=False) == "203.0.113.7", \
        "without a proxy the header is the visitor's own text"
    assert client_address("10.0.0.2", "198.51.100.1, 10.0.0.2", behind_proxy=True) == "198.51.100.1"
    assert client_address(None, None, False) == LOCAL and client_address("127.0.0.1", None, False) == LOCAL
    assert client_address("::ffff:203.0.113.7", None, False) == "203.0.113.7"
    a = client_address("2001:db8:1:2:aaaa::1", None, False)
    assert a == client_address("2001:db8:1:2:bbbb::9", None, False), "one /64 is one device"
    assert a != client_address("2001:db8:1:3::1", None, False)


def test_the_client_id_is_a_keyed_hash_shared_by_all_tabs_of_one_address():
    one = client_id("203.0.113.7", None, False, b"k" * 32)
    assert one == client_id("203.0.113.7", None, False, b"k" * 32)
    assert "203" not in one and len(one) == 24
    assert one != client_id("203.0.113.8", None, False, b"k" * 32)
    assert one != client_id("203.0.113.7", None, False, b"other-key" * 4)


def test_behind_proxy_setting_is_yes_no_or_stops_the_server():
    assert behind_proxy({}) is False and behind_proxy({"CNN_LAB_BEHIND_PROXY": "1"}) is True
    assert behind_proxy({"CNN_LAB_BEHIND_PROXY": "no"}) is False
    with pytest.raises(ValueError, match="CNN_LAB_BEHIND_PROXY"):
        behind_proxy({"CNN_LAB_BEHIND_PROXY": "maybe"})


# --------------------------------------------------------------------------- the ledger

def test_budgets_come_from_settings_and_a_bad_value_names_its_variable():
    b = Budgets.from_env({"CNN_LAB_WORKSPACES_PER_HOUR": "40", "CNN_LAB_CLIENT_DISK_MB": "1.5"})
    assert b.workspaces_per_hour == 40 and b.client_disk_bytes == int(1.5 * MB)
    for bad in ("0", "-3", "lots", "nan"):
        with pytest.raises(BudgetConfigError, match="CNN_LAB_SERVER_DISK_MB"):
            Budgets.from_env({"CNN_LAB_SERVER_DISK_MB": bad})


def test_workspaces_per_client_per_hour_and_the_teacher_raises_it_for_a_class(root):
    clock = Clock()
    ledger = ClientLedger(root, Budgets(workspaces_per_hour=3), clock)
    for i in range(3):
        ledger.claim_workspace("school", f"w{i}")
    with pytest.raises(BudgetError, match="3 workspaces in the last hour") as e:
        ledger.claim_workspace("school", "w3")
    assert e.value.code == "workspaces_per_hour" and e.value.details["minutes"] == 60
    ledger.claim_workspace("home", "h0")                      # another client is not affected
    ClientLedger(root, Budgets(workspaces_per_hour=3), clock).set_budget("workspaces_per_hour", 30)
    ledger.claim_workspace("school", "w3")                    # another server's raise is seen here
    assert ledger.budgets().workspaces_per_hour == 30
    ledger.reset_budgets()
    clock.t += 3601                                           # an hour later the count starts again
    ledger.claim_workspace("school", "w4")
    assert ledger.workspaces_of("school")[0] == "w4" and ledger.creator_of("h0") == "home"


def test_claims_from_many_threads_never_exceed_the_budget(root):
    ledger = ClientLedger(root, Budgets(workspaces_per_hour=5))
    ok, refused = [], []

    def claim(i):
        try:
            ledger.claim_workspace("c", f"w{i}")
            ok.append(i)
        except BudgetError:
            refused.append(i)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(ok) == 5 and len(refused) == 15
    assert (root / ".ledger.sqlite3").exists()


def test_a_clients_disk_is_summed_over_all_their_workspaces(root):
    size = model_bytes()
    ledger = ClientLedger(root, Budgets(client_disk_bytes=int(2.5 * size), server_disk_bytes=100 * MB))
    a = Workspace.create(ledger=ledger, client="alice")
    b = Workspace.create(ledger=ledger, client="alice")      # a second tab: a second workspace
    a.save("one", model(), meta("one"))
    b.save("two", model(), meta("two"))
    with pytest.raises(QuotaError, match="per visitor") as e:
        Workspace.create(ledger=ledger, client="alice").save("three", model(), meta("three"))
    assert e.value.code == "quota_client_bytes"
    Workspace.create(ledger=ledger, client="bob").save("three", model(), meta("three"))
    b.save("two", model(1), meta("two"), overwrite=True)     # replacing frees the old file first
    b.delete("own:two")
    a.save("three", model(), meta("three"))                  # room again after a delete


def test_a_full_server_refuses_a_save_with_a_sentence_and_evicts_nothing(root):
    size = model_bytes()
    ledger = ClientLedger(root, Budgets(server_disk_bytes=int(1.5 * size)))
    first = Workspace.create(ledger=ledger, client="a")
    first.save("kept", model(), meta("kept"))
    with pytest.raises(QuotaError, match="disk for saved models is full") as e:
        Workspace.create(ledger=ledger, client="b").save("new", model(), meta("new"))
    assert e.value.code == "server_full"
    assert [m.ref for m in first.own_models()] == ["own:kept"], "nobody's model was evicted"


def test_gallery_entries_per_client_over_all_their_workspaces(root):
    ledger = ClientLedger(root, Budgets(gallery_per_client=2))
    for i in range(2):
        gallery.publish(model(), meta(), f"nick{i}", publisher=f"workspace{i}", client="school", ledger=ledger)
    with pytest.raises(gallery.GalleryError, match="already has 2 models") as e:
        gallery.publish(model(), meta(), "nick", publisher="workspace9", client="school", ledger=ledger)
    assert e.value.code == "client_full"
    gallery.publish(model(), meta(), "other", publisher="w", client="home", ledger=ledger)
    gallery.publish(model(), meta(), "pick", publisher=gallery.TEACHER, ledger=ledger)
    assert {e.client for e in gallery.list_entries()} == {"school", "home", ""}


def test_deleting_a_model_removes_only_that_own_file(root):
    ws = Workspace.create()
    ws.save("keep", model(), meta("keep"))
    ws.save("gone", model(), meta("gone"))
    other = Workspace.create()
    other.save("gone", model(), meta("gone"))
    for ref in ("bundled:mnist-default", "own:../gone", "own:.lock", "own:gone/x", "own:", "gone", None):
        with pytest.raises(WorkspaceError):
            ws.delete(ref)
    (ws.folder / "link.safetensors").symlink_to(other.folder / "gone.safetensors")
    with pytest.raises(WorkspaceError):
        ws.delete("own:link")
    assert (other.folder / "gone.safetensors").exists()
    (ws.folder / "link.safetensors").unlink()
    ws.delete("own:gone")
    assert [m.ref for m in ws.own_models()] == ["own:keep"]
    assert [m.ref for m in other.own_models()] == ["own:gone"]
    assert DEFAULT_CHECKPOINT.exists() and (root / DEFAULT_CHECKPOINT.name).exists()


# --------------------------------------------------------------------------- the teacher key

def test_wrong_keys_lock_a_client_out_for_a_growing_time_and_are_logged_without_the_key(caplog):
    clock = Clock()
    gate = TeacherGate(clock)
    caplog.set_level(logging.INFO, logger="cnn_lab.teacher_gate")
    waits = []
    for i in range(8):
        clock.t += gate.wait_s("c") + 0.01                   # the script waits out every lockout
        waits.append(gate.attempt("c", f"guess-{i}", "the-key").wait_s)
    assert waits == [0, 0, 0, 2, 4, 8, 16, 32]
    assert gate.attempt("c", "the-key", "the-key").locked, "during a lockout even the right key waits"
    assert gate.wait_s("other") == 0, "per client"
    text = caplog.text
    assert text.count("wrong teacher key") == 8 and "guess-" not in text and "the-key" not in text
    clock.t += 32
    assert gate.attempt("c", " the-key ", "the-key").ok
    assert gate.attempt("c", "wrong", "the-key").wait_s == 0, "a right key clears the record"


def test_the_lockout_is_capped_and_150_guesses_take_days_not_seconds():
    clock = Clock(0.0)
    gate = TeacherGate(clock)
    start = clock.t
    for i in range(150):
        clock.t += gate.wait_s("bot")
        gate.attempt("bot", str(i), "secret")
    assert gate.lockout_s(100) == MAX_LOCKOUT_S
    assert clock.t - start > 24 * 3600   # was 31.5 s


def _teacher_script():
    import streamlit as st

    from app import session

    typed = st.text_input("key")
    if st.button("unlock"):
        st.text(f"ok {session.unlock_teacher(typed)} wait {session.teacher_wait_s():.0f}")


def test_the_app_locks_the_teacher_key_per_client(root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_TEACHER_KEY", "right-key")
    at = AppTest.from_function(_teacher_script, default_timeout=30).run()
    seen = []
    for _ in range(4):
        at.text_input[0].set_value("wrong")
        at.button[0].click().run()
        seen.append(at.text[0].value)
    assert seen[:3] == ["ok False wait 0"] * 3 and seen[3].startswith("ok False wait ")
    other_tab = AppTest.from_function(_teacher_script, default_timeout=30).run()
    other_tab.text_input[0].set_value("right-key")
    other_tab.button[0].click().run()
    assert other_tab.text[0].value.startswith("ok False"), "a new tab of the same client is locked too"


def _workspace_script():
    import streamlit as st

    from app import link_prompt, session

    link_prompt.render()
    st.text(f"workspace {session.workspace().id}")


def test_over_the_hourly_workspace_budget_a_new_visitor_gets_a_sentence(root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_WORKSPACES_PER_HOUR", "2")
    for _ in range(2):
        at = AppTest.from_function(_workspace_script, default_timeout=30).run()
        assert at.text[0].value.startswith("workspace ") and not at.error
    third = AppTest.from_function(_workspace_script, default_timeout=30).run()
    assert not third.exception and not third.text
    assert "started 2 workspaces in the last hour" in third.error[0].value


@pytest.mark.parametrize("var, bad", [("CNN_LAB_BEHIND_PROXY", "maybe"), ("CNN_LAB_HEAVY_SLOTS", "0"),
                                      ("CNN_LAB_WORKSPACES_PER_HOUR", "many"), ("CNN_LAB_CLIENT_DISK_MB", "-1"),
                                      ("CNN_LAB_SERVER_DISK_MB", "inf"), ("CNN_LAB_GALLERY_PER_CLIENT", "0")])
def test_a_bad_new_setting_stops_the_server_with_a_sentence_naming_it(var, bad):
    from core import settings

    settings.check({})
    with pytest.raises(settings.SettingsError, match=var):
        settings.check({var: bad})
