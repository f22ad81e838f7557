"""bench/protocol_client.py against a real `streamlit run` of tests/apps/tiny_app.py: it reads the
widget ids from the deltas, presses, sets values, follows the run_every fragment as a browser
would, and says which messages it did not understand. Every wait is bounded; no timing asserts."""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.server import serve  # noqa: E402
from tests.helpers import run_async  # noqa: E402
from bench.protocol_client import ProtocolError, Session  # noqa: E402

TINY = ROOT / "tests" / "apps" / "tiny_app.py"


@pytest.fixture(scope="module")
def tiny_url(tmp_path_factory):
    with serve(TINY, tmp_path_factory.mktemp("tiny") / "server.log") as (url, _):
        yield url


def run(coro):
    return run_async(coro, 240)  # bounded, generous for loaded CI cores


def test_reads_widgets_presses_and_sets_values(tiny_url):
    async def scenario():
        async with Session(tiny_url) as s:
            opened = await s.open()
            assert opened.status == "FINISHED_SUCCESSFULLY" and opened.bytes > 0
            assert s.texts("heading") == ["Tiny app"]
            kinds = {(n.kind, n.key, n.label) for n in s.widgets()}
            assert {("button", "press", "Press me"), ("slider", "level", "Level"),
                    ("text_input", "name", "Name")} <= kinds
            assert s.has_text("Presses: 0") and s.has_text("Level is 3")

            pressed = await s.click(s.widget(key="press"))
            assert pressed.status == "FINISHED_SUCCESSFULLY" and pressed.server_s is not None
            assert s.has_text("Presses: 1")
            await s.rerun()                      # a trigger is sent once, then forgotten
            assert s.has_text("Presses: 1")

            await s.set_value(s.widget(label="Level"), 7)
            assert s.has_text("Level is 7")
            await s.set_value(s.widget(key="name"), "Ada")
            assert s.has_text("Hello Ada") and s.has_text("Level is 7")   # earlier values kept

            # A widget in a form is sent with the form's submit button, not on its own.
            assert await s.set_value(s.widget(label="Greeting"), "hi") is None
            assert s.has_text("Greeting: none")
            await s.click(s.widget(label="Send"))
            assert s.has_text("Greeting: hi") and s.has_text("Hello Ada")

            with pytest.raises(ProtocolError):
                s.widget(key="no-such-widget")
            assert [i.kind for i in s.interactions] == ["open", "click", "rerun", "set", "set", "click"]
            assert all(i.exceptions == [] for i in s.interactions)
            assert not s.unknown, s.describe_unknown()
    run(scenario())


def test_follows_run_every_fragment_until_it_stops(tiny_url):
    async def scenario():
        async with Session(tiny_url) as s:
            await s.open()
            assert list(s.auto_reruns.values()) == [pytest.approx(0.2)]   # the interval the server asked
            stopped = await s.follow(lambda s: s.has_text("(stopped)"), timeout=60)
            assert stopped, s.texts()
            fragment_runs = [i for i in s.interactions if i.kind == "fragment"]
            assert len(fragment_runs) == 2           # ticks 2 and 3; tick 3 reruns the page
            assert fragment_runs[0].status == "FINISHED_FRAGMENT_RUN_SUCCESSFULLY"
            assert fragment_runs[-1].status == "FINISHED_SUCCESSFULLY"   # st.rerun() from the fragment
            assert s.auto_reruns == {}               # drawn without run_every: no more polling
            assert s.has_text("Ticks: 4 (stopped)") and s.texts().count("Ticks: 4 (stopped)") == 1
            assert await s.follow(lambda s: False, timeout=1) is False   # nothing left to follow
            assert not s.unknown, s.describe_unknown()
    run(scenario())


def test_reports_messages_it_does_not_understand():
    s = Session("http://127.0.0.1:1")
    msg = ForwardMsg()
    msg.file_urls_response.response_id = "x"
    assert s._handle(msg.SerializeToString(), None) is None
    ref = ForwardMsg()
    ref.ref_hash = "never-sent"
    s._handle(ref.SerializeToString(), None)
    assert s.unknown == {"ForwardMsg.file_urls_response": 1, "ref_hash (not in cache)": 1}
    assert "file_urls_response ×1" in s.describe_unknown()


def test_a_fragment_runs_list_of_pages_does_not_move_the_tab():
    """A fragment run's new_session names the pages by title; the tab stays at its url path."""
    s = Session("http://127.0.0.1:1")

    def new_session(names: dict[str, str], fragment: bool) -> bytes:
        msg = ForwardMsg()
        msg.new_session.page_script_hash = "h-train"
        for path, h in names.items():
            page = msg.new_session.app_pages.add()
            page.url_pathname, page.page_script_hash = path, h
        if fragment:
            msg.metadata.run.fragment_ids.append("f1")
        return msg.SerializeToString()

    s._handle(new_session({"home": "h-home", "train": "h-train"}, fragment=False), None)
    assert s.page_path == "train"
    s._handle(new_session({"Home": "h-home", "Train": "h-train"}, fragment=True), None)
    assert s.page_path == "train" and "train" in s.pages
