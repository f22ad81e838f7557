"""Coming back to one's runs after a closed tab: the class code, the learner's PIN, and the
growing delay that makes guessing a PIN hopeless.

Why a PIN. The class code is public (the projector shows it) and nicknames are on the board, so
"nickname + class code" alone would let any learner open anyone's workspace: their saved models,
their runs, their Stop button. So when a learner picks a nickname they also pick a short PIN
(4–8 digits). Recovery needs all three; it then hands back the workspace's private-link secret,
so the learner gets their whole workspace back (runs, models), exactly as with the private link.

Why guessing fails. Wrong tries are counted durably (core.lesson.store) per nickname and per
client (network): after FREE_ATTEMPTS, each wrong try locks that nickname / client for 2^n
seconds, capped at MAX_LOCKOUT_S (the schedule of core.teacher_gate). While locked, nothing is
compared — the right PIN neither — so a lockout cannot be probed. Counting per nickname stops a
script that rotates addresses; counting per client stops one that rotates nicknames. Within a
lesson hour an attacker gets ~17 tries at one nickname out of 10,000 four-digit PINs (< 0.2 %).
A wrong nickname, code or PIN gives the same answer and costs the same time (the PIN hash runs
either way), so the answers do not tell which nicknames exist. A learner locked out by someone
else asks the teacher, who can clear the lock (LessonStore.unlock).

At rest. The store keeps a salted PBKDF2 hash of the PIN and the secret sealed with a key
derived from the checkpoint folder's signing key, the salt and the PIN (an HMAC-SHA256 key
stream): the database file alone opens no workspace. A sealed secret is checked on opening
against the workspace id it belongs to, so a damaged row never opens the wrong workspace.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from core.teacher_gate import FREE_ATTEMPTS, MAX_LOCKOUT_S

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"   # no 0/O, 1/I/L: read off a projector
CODE_LENGTH = 6
PIN_RE = re.compile(r"[0-9]{4,8}")
_PBKDF2_ROUNDS = 60_000


class RecoveryError(ValueError):
    """Recovery refused, in one sentence; `wait_s` > 0 when the next try is not compared yet.
    `code` for translations (lesson.recover_<code>)."""

    def __init__(self, message: str, code: str, wait_s: float = 0.0):
        self.code, self.wait_s = code, wait_s
        super().__init__(message)


def new_class_code() -> str:
    """A fresh six-character class code, e.g. "K7QXM2" (shown as "K7Q XM2")."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def show_code(code: str) -> str:
    """The code as the projector shows it: two groups of three."""
    return f"{code[:3]} {code[3:]}"


def normalize_code(typed: object) -> str:
    """What a learner typed as the class code: spaces and dashes dropped, upper case."""
    text = typed if isinstance(typed, str) else ""
    return re.sub(r"[\s\-]", "", text).upper()[:16]


def valid_pin(pin: object) -> bool:
    return isinstance(pin, str) and PIN_RE.fullmatch(pin) is not None


def hash_pin(pin: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, _PBKDF2_ROUNDS).hex()


def pin_matches(pin: str, salt: bytes, stored: str) -> bool:
    return hmac.compare_digest(hash_pin(pin if isinstance(pin, str) else "", salt), stored)


def _stream(key: bytes, salt: bytes, pin: str, length: int) -> bytes:
    out, block = b"", 0
    while len(out) < length:
        out += hmac.new(key, b"cnn-lab-recovery\0" + salt + pin.encode() + block.to_bytes(4, "big"),
                        hashlib.sha256).digest()
        block += 1
    return out[:length]


def seal(secret: str, key: bytes, salt: bytes, pin: str) -> bytes:
    data = secret.encode("ascii")
    return bytes(a ^ b for a, b in zip(data, _stream(key, salt, pin, len(data))))


def unseal(sealed: bytes, key: bytes, salt: bytes, pin: str) -> str | None:
    data = bytes(a ^ b for a, b in zip(sealed, _stream(key, salt, pin, len(sealed))))
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        return None


def lockout_s(failures: int, free: int = FREE_ATTEMPTS, cap: float = MAX_LOCKOUT_S) -> float:
    """Seconds locked after the `failures`-th consecutive wrong try (core.teacher_gate's schedule)."""
    extra = failures - free
    return 0.0 if extra <= 0 else min(cap, 2.0 ** extra)


__all__ = ["CODE_ALPHABET", "CODE_LENGTH", "RecoveryError", "hash_pin", "lockout_s", "new_class_code",
           "normalize_code", "pin_matches", "seal", "show_code", "unseal", "valid_pin"]
