"""A different training seed per learner, by default, in a class.

Thirty learners pressing Start on the same preset with seed 0 would train thirty identical models
and learn nothing about run-to-run spread. Each learner's default seed is derived from the lesson
and their workspace: stable (a reload or a second run keeps it, so a result can be reproduced),
different between learners (core.lesson.store also moves a rare collision to the next free seed),
shown on the Train page and settable there like any seed.
"""
from __future__ import annotations

import hashlib

SEED_RANGE = 2**31   # inside TrainConfig's 0 … 2**32 - 1, and easy to type


def learner_seed(lesson: str, workspace_id: str) -> int:
    """The default seed of `workspace_id`'s runs in `lesson` (a lesson id or class code)."""
    digest = hashlib.sha256(f"cnn-lab-seed\0{lesson}\0{workspace_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SEED_RANGE


__all__ = ["learner_seed", "SEED_RANGE"]
