"""app/message_queue_fix.py: a fragment run's start drops none of the unsent deltas (Streamlit
drops the fragment's, including a full run's, and keeps their chart references: the browser's
white page); a full run's start still clears the queue."""
from __future__ import annotations

import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.forward_msg_queue import ForwardMsgQueue

from app import message_queue_fix

FRAGMENT = "live-panel-fragment"


def delta(path, fragment_id="", block=False) -> ForwardMsg:
    msg = ForwardMsg()
    msg.metadata.delta_path[:] = path
    if block:
        msg.delta.add_block.SetInParent()
    else:
        msg.delta.new_element.markdown.body = f"at {path}"
    msg.delta.fragment_id = fragment_id
    return msg


def finished(status) -> ForwardMsg:
    msg = ForwardMsg()
    msg.script_finished = status
    return msg


def new_session() -> ForwardMsg:
    msg = ForwardMsg()
    msg.new_session.SetInParent()
    return msg


def full_run_then_fragment_start(queue: ForwardMsgQueue) -> None:
    """A full run that draws the page and its fragment finishes; nothing has been sent yet when
    the browser's fragment timer starts a run of that fragment (AppSession clears the queue)."""
    for msg in (new_session(), delta([0, 0]), delta([0, 1], block=True),
                delta([0, 1, 0], FRAGMENT, block=True), delta([0, 1, 0, 0], FRAGMENT),
                finished(ForwardMsg.FINISHED_SUCCESSFULLY)):
        queue.enqueue(msg)
    queue.clear(retain_lifecycle_msgs=True, fragment_ids_this_run=[FRAGMENT])


def paths(queue: ForwardMsgQueue) -> list[list[int]]:
    return [list(m.metadata.delta_path) for m in queue._queue if m.WhichOneof("type") == "delta"]


@pytest.fixture
def patched():
    before = ForwardMsgQueue.clear   # an AppTest of the entry script may have applied it already
    message_queue_fix.apply()
    message_queue_fix.apply()   # idempotent
    assert not hasattr(ForwardMsgQueue.clear.__wrapped__, "__wrapped__")
    yield
    ForwardMsgQueue.clear = before


@pytest.fixture
def unpatched():
    before = ForwardMsgQueue.clear
    ForwardMsgQueue.clear = getattr(before, "__wrapped__", before)
    yield
    ForwardMsgQueue.clear = before


def test_streamlit_alone_drops_the_finished_full_runs_fragment_deltas(unpatched):
    """The race the fix is for (if Streamlit fixes it, this test says so and the fix can go)."""
    queue = ForwardMsgQueue()
    full_run_then_fragment_start(queue)
    assert paths(queue) == [[0, 0], [0, 1]], "Streamlit no longer drops them: drop app/message_queue_fix.py"


def test_a_finished_runs_deltas_are_all_sent(patched):
    queue = ForwardMsgQueue()
    full_run_then_fragment_start(queue)
    assert paths(queue) == [[0, 0], [0, 1], [0, 1, 0], [0, 1, 0, 0]]
    kinds = [m.WhichOneof("type") for m in queue._queue]
    assert kinds[0] == "new_session" and kinds[-1] == "script_finished"
    assert queue._queue[-1].script_finished == ForwardMsg.FINISHED_SUCCESSFULLY   # still a completed run


def test_a_preempted_full_run_keeps_its_fragment_deltas(patched):
    """A full run cut short by the fragment's timer (no script_finished yet) is sent whole."""
    queue = ForwardMsgQueue()
    for msg in (new_session(), delta([0, 1], block=True), delta([0, 1, 0], FRAGMENT, block=True),
                delta([0, 1, 0, 0], FRAGMENT)):
        queue.enqueue(msg)
    queue.clear(retain_lifecycle_msgs=True, fragment_ids_this_run=[FRAGMENT])
    assert paths(queue) == [[0, 1], [0, 1, 0], [0, 1, 0, 0]]


def test_new_deltas_do_not_compose_onto_a_finished_runs(patched):
    queue = ForwardMsgQueue()
    full_run_then_fragment_start(queue)
    queue.enqueue(delta([0, 1, 0, 0], FRAGMENT))       # the fragment run draws the same place again
    assert paths(queue) == [[0, 0], [0, 1], [0, 1, 0], [0, 1, 0, 0], [0, 1, 0, 0]]


def test_a_full_runs_start_is_unchanged(patched):
    queue = ForwardMsgQueue()
    queue.enqueue(delta([0, 0]))
    queue.enqueue(finished(ForwardMsg.FINISHED_SUCCESSFULLY))
    queue.clear(retain_lifecycle_msgs=True)            # a full run replaces everything
    assert paths(queue) == []
