"""Several app servers, one class (issue 21): two `streamlit run` servers share one queue through
the class hub actor on one local Ray cluster, inside a private network namespace (Ray binds every
interface; loopback only here). tests/two_server_checks.py drives the real pages with browserless
visitors and prints what it saw; this test asserts on it. Bounded: every wait in the script is
bounded and the whole script has a timeout.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import can_unshare, run_in_private_network

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def facts(data_dir, tmp_path_factory):
    pytest.importorskip("ray", reason="Ray not installed: pip install -r requirements-ray.txt")
    why = can_unshare()
    if why:
        pytest.skip(f"Ray runs only in a private network namespace: {why}")
    tmp = tmp_path_factory.mktemp("two_servers")
    p, out = run_in_private_network("tests/two_server_checks.py", "--data-dir", str(data_dir), "--tmp", str(tmp))
    logs = "".join(f"\n--- {f.name}\n{f.read_text()[-1500:]}" for f in sorted(tmp.glob("*.log")))
    assert p.returncode == 0 and "two_servers" in out, p.stderr[-3000:] + logs
    return out


def test_a_run_started_on_a_is_watched_live_and_stopped_by_the_teacher_on_b(facts):
    f = facts["two_servers"]
    assert f["a_started"] and not f["a_exceptions"], \
        f"the learner on A started a run and got its links: {f.get('a_alerts')}"
    assert f["b_watch_live"], f"B's watch view moved on with the run: {f['b_watch_lines']}"
    assert f["b_watch_read_only"], "a watch view has no Stop"
    assert f["b_teacher_has_stop"], "B's Class page lists the run A started"
    assert f["b_watch_says_teacher_stopped"] and f["a_learner_says_teacher_stopped"], \
        "the teacher's Stop on B reached the run, B's watcher and A's learner"
    assert not f["b_exceptions"] and not f["a_exceptions"]


def test_the_gallery_is_one_for_both_servers(facts):
    f = facts["two_servers"]
    assert f["b_teacher_can_publish"], "B's Class page offers the finished run (its model came from the hub)"
    assert f["a_predict_offers_gallery_model"], "the model the teacher published on B is offered on A"


def test_killing_server_a_loses_nothing(facts):
    f = facts["two_servers"]
    assert f["a_killed"]
    assert f["b_private_link_asks"] and f["b_private_link_shows_run"], \
        "the owner's private link, opened on B after A died, brings the run back"
    assert not f["b_private_link_exceptions"]
    third = facts["third_server"]
    assert third["rc"] == 0, third["stderr"]
    assert third["runs"] and len(third["runs"]) == 1, "one run, not lost and not duplicated"
    run = third["runs"][0]
    assert run["state"] == "finished" and run["stopped"] and run["by_teacher"] and run["has_model"]
    assert run["events"] > 2, "its curves came through the hub"


def test_the_hub_restarts_and_reads_its_registry_back(facts):
    third = facts["third_server"]
    assert third["rc"] == 0, third["stderr"]
    after = third["after_hub_restart"]
    assert after is not None, "Ray restarted the hub actor and a new proxy reached it"
    assert third["restored"] == 1
    assert [(r["id"], r["state"], r["stopped"], r["has_model"]) for r in after] == \
        [(r["id"], r["state"], r["stopped"], r["has_model"]) for r in third["runs"]]
    assert after[0]["events"] == third["runs"][0]["events"], "the whole event stream came back"
