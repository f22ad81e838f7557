"""A fix for a race in Streamlit 1.67's outgoing message queue that blanked learners' pages.

What happened (issue 22/24: "'setIn' cannot be called on an ElementNode", "Bad delta path
index", a white page near the end of a run or after a teacher's Stop, more often on a busy
server): when a script run starts, Streamlit's AppSession clears the session's outgoing queue of
what has not been sent yet (`ForwardMsgQueue.clear(retain_lifecycle_msgs=True,
fragment_ids_this_run=…)`). For a *fragment* run it drops every unsent delta that carries that
fragment's id: meant for the leftovers of an interrupted run of the fragment, but a full run
draws the fragment too (its deltas carry the same id), and charts sent by reference (`ref_hash`)
carry no id at all and stay. When the browser's one-second fragment timer fires just as a full
run ends, on a busy server that run's fragment deltas are often still unsent: the browser gets
the full run without the fragment's containers and text but with its chart references, which
point into blocks that no longer exist, and the page goes white. Recorded with Playwright on the
live lesson test under load (frames of the full run: 4 chart references, none of the 25 other
deltas of the live panel; with a first version of this fix that kept finished runs only, the
same for a full run the fragment run had preempted).

The fix: a fragment run's start drops nothing. Everything queued then is what a server that had
flushed a moment earlier would have sent anyway (the run's own deltas replace the fragment's
content in the browser), so the browser's tree stays whole. New deltas never compose onto the
earlier run's (the composition index is reset, as Streamlit's own clear does). A full run's start
is unchanged. The entry script calls `apply()` on every run (idempotent: one attribute
lookup), so every way of starting the app gets it before a session's first fragment run.
"""
from __future__ import annotations

from streamlit.runtime.forward_msg_queue import ForwardMsgQueue


def apply() -> None:
    if getattr(ForwardMsgQueue.clear, "_keeps_fragment_deltas", False):
        return
    original = ForwardMsgQueue.clear

    def clear(self, retain_lifecycle_msgs: bool = False,
              fragment_ids_this_run: list[str] | None = None) -> None:
        if retain_lifecycle_msgs and fragment_ids_this_run:
            self._delta_index_map = {}   # the new run's deltas go after everything queued
            return
        original(self, retain_lifecycle_msgs, fragment_ids_this_run)

    clear._keeps_fragment_deltas = True
    clear.__wrapped__ = original
    ForwardMsgQueue.clear = clear
