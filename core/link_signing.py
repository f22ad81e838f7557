"""Private links this server issued, told apart from ones an attacker made up.

A private link is ``?ws=<secret>``. Before, any 32–128 URL-safe characters were a valid secret:
an attacker could send a victim ``…/predict?ws=<chosen>``, the victim's session adopted that
workspace and saved models into it, and the attacker later opened the same link and downloaded
them. Now a secret is honoured only if this server issued it:

    secret = body + tag       body: 43 random URL-safe characters (256 bits, `secrets`)
                              tag:  24 characters, HMAC-SHA256(server key, body) cut to 144 bits

Why a signature rather than a stored list of issued secrets: checking needs no write and no
lookup (a visitor's every page run checks its link), it survives a restart, and every app server
that shares the checkpoint folder shares the key file, so they all accept each other's links
without a database round trip. The key lives in the checkpoint folder (``.server-key``, mode
0600), next to the models it protects; whoever can read that folder can read the models anyway.
Deleting the key invalidates every private link (a deliberate "revoke all").

Workspaces that existed before the key was made (links issued by an older CNN Lab) are listed
once, when the key is created, in ``.legacy-workspaces``, so nobody's saved models become
unreachable by the upgrade.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

KEY_FILE = ".server-key"
LEGACY_FILE = ".legacy-workspaces"
BODY_LEN = 43            # secrets.token_urlsafe(32)
TAG_LEN = 24             # base64 of 18 bytes, no padding
_BODY_RE = re.compile(r"[A-Za-z0-9_-]{%d}" % BODY_LEN)
_keys: dict[Path, bytes] = {}   # per process: the key of each checkpoint root, read once


def server_key(root: Path) -> bytes:
    """The checkpoint folder's signing key, created on first use.

    Several servers may start at once on one shared folder: each writes a candidate key to a
    temporary file and links it into place; os.link fails when another server won the race, and
    then everyone reads the winner's key."""
    root = Path(root)
    cached = _keys.get(root)
    if cached is not None:
        return cached
    path = root / KEY_FILE
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        legacy = _existing_workspaces(root)
        tmp = root / f".{KEY_FILE}.{secrets.token_hex(6)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
            if legacy:  # only the server that created the key lists what existed before it
                (root / LEGACY_FILE).write_text("".join(f"{w}\n" for w in legacy))
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    key = bytes.fromhex(path.read_text().strip())
    if len(key) < 16:
        raise ValueError(f"{KEY_FILE} in the checkpoint folder is damaged; delete it to make a new "
                         "one (every private link then stops working).")
    _keys[root] = key
    return key


def _existing_workspaces(root: Path) -> list[str]:
    folder = root / "workspaces"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*.safetensors")))


def _tag(key: bytes, body: str) -> str:
    mac = hmac.new(key, b"cnn-lab-workspace-link\0" + body.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode("ascii")


def issue(root: Path) -> str:
    """A fresh secret that this server (and any sharing `root`) will recognise."""
    body = secrets.token_urlsafe(32)
    return body + _tag(server_key(root), body)


def is_signed(secret: str, root: Path) -> bool:
    """Whether `secret` carries this checkpoint folder's signature (constant-time compare)."""
    if not isinstance(secret, str) or len(secret) != BODY_LEN + TAG_LEN:
        return False
    body, tag = secret[:BODY_LEN], secret[BODY_LEN:]
    if not _BODY_RE.fullmatch(body):
        return False
    return hmac.compare_digest(tag.encode("ascii", "replace"), _tag(server_key(root), body).encode())


def is_legacy(workspace_id: str, root: Path) -> bool:
    """A workspace that held models before this folder had a key (an older CNN Lab's link)."""
    server_key(Path(root))  # the list is taken when the key is made: make sure it has been
    try:
        return workspace_id in (Path(root) / LEGACY_FILE).read_text().split()
    except OSError:
        return False


__all__ = ["server_key", "issue", "is_signed", "is_legacy", "KEY_FILE", "LEGACY_FILE"]
