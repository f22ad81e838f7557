"""How many training runs one *client* may hold on the server: the refusal JobManager.start()
raises before anything is allocated.

The per-workspace limit (CNN_LAB_RUNS_PER_VISITOR) alone does not hold anyone: a workspace is
free, so one person who opens 64 tabs and presses Start in each filled the server's queue (60) in
86 s and every real learner was told the queue is full (issue 23). So runs are also counted per
client (core.clients: one network identity over all its tabs and workspaces), twice:

    runs_per_client       runs waiting or training for the client, over all its workspaces
    queue_share_percent   waiting runs of the client, as a share of the server's queue
                          (CNN_LAB_MAX_QUEUE): at most max(2, share × queue), never above it

The first bounds what one client holds in total; the second keeps room in the queue for everyone
else whatever the first is raised to: with the defaults (4 runs, 25 % of 60) four flooding clients
are needed to fill the queue, and a learner on the side still gets a place in line.

Within the queue, runs are taken round robin over clients (`fair_order`): a client's k-th run
(counting its runs already training) waits behind every other client's runs with fewer ahead of
them, so a learner who presses Start behind a flood is next in line, not behind its whole share.
Runs without a client (the command line) keep their first-come order.

Both are budgets (core.budgets.Budgets, settings CNN_LAB_RUNS_PER_CLIENT and
CNN_LAB_QUEUE_SHARE_PERCENT). Their defaults suit one person (or a household) per address; a class
behind one school NAT is one client, so the teacher raises them for the lesson from the Class page
(stored in the ledger, shared by every server on the checkpoint folder).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, TypeVar

from core.budgets import Budgets
from core.jobs.states import QUEUED, JobLimitError

J = TypeVar("J")
MIN_WAITING = 2   # a client may always have this many waiting (a small queue still lets them line up)


@dataclass(frozen=True)
class ClientRunLimits:
    runs_per_client: int
    queue_share_percent: int

    @classmethod
    def of(cls, budgets: Budgets) -> "ClientRunLimits":
        return cls(int(budgets.runs_per_client), int(budgets.queue_share_percent))

    def waiting_cap(self, max_waiting: int) -> int:
        """Waiting runs one client may have in a queue of `max_waiting`."""
        share = min(100, max(1, self.queue_share_percent)) / 100
        return min(max_waiting, max(MIN_WAITING, math.floor(share * max_waiting)))


class ClientLimitError(JobLimitError):
    """A start refused because this client (all its workspaces together) holds as many runs as it
    may; `code` ("client_runs" or "client_queue") and `details` for the page's translation
    (i18n key `train.client_<code>`)."""

    def __init__(self, message: str, code: str, seconds_left: float | None = None, **details):
        super().__init__(message, seconds_left, own=False)
        self.code, self.details = code, details


def refusal(client: str | None, jobs: Iterable, limits: ClientRunLimits, max_waiting: int,
            seconds_left: float | None = None) -> ClientLimitError | None:
    """The error to raise when `client` may not start one more run now, else None.

    `jobs`: every job on the server (anything with .client, .active and .state). No client (the
    command line, a test) is never refused here."""
    if not client:
        return None
    mine = [j for j in jobs if getattr(j, "client", None) == client and j.active]
    if len(mine) >= limits.runs_per_client:
        return ClientLimitError(
            f"Your network already has {len(mine)} runs waiting or training, the most this server "
            f"allows for one network; wait for one to finish or stop one.",
            "client_runs", seconds_left, count=len(mine), limit=limits.runs_per_client)
    waiting = sum(j.state == QUEUED for j in mine)
    cap = limits.waiting_cap(max_waiting)
    if waiting >= cap:
        return ClientLimitError(
            f"Your network already has {waiting} runs waiting in the queue, its share of this "
            f"server's queue; start again when one of them has begun training.",
            "client_queue", seconds_left, count=waiting, limit=cap)
    return None


def fair_order(waiting: list[J], training: Iterable) -> list[J]:
    """`waiting` (first come first) in the order workers should take them: each run ranked by how
    many runs of its client are training or ahead of it in line, lowest first, first come first
    within a rank. Runs without a client rank 0 (with no clients at all: first come first)."""
    ahead = Counter(getattr(j, "client", None) for j in training)
    ranked = []
    for i, job in enumerate(waiting):
        client = getattr(job, "client", None)
        rank = 0
        if client:
            rank = ahead[client]
            ahead[client] += 1
        ranked.append((rank, i, job))
    return [job for _, _, job in sorted(ranked, key=lambda r: (r[0], r[1]))]


__all__ = ["ClientRunLimits", "ClientLimitError", "refusal", "fair_order", "MIN_WAITING"]
