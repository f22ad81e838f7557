"""Issue 23 ("A hostile public link, round two"), link rows: each attack reproduced, now refused.

- a made-up ?ws= secret is not honoured (only secrets this server issued: core.link_signing);
- a link to another workspace is never followed silently: the session asks first;
- a watch link never carries a workspace;
- a nickname like ``![](//127.0.0.1:8799/x)`` is plain words (core.names).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import link_signing
from core.checkpoint import DEFAULT_CHECKPOINT
from core.names import clean_name
from core.workspace import Workspace, display_name, is_issued, is_valid_secret, new_secret, workspace_id

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def root(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shutil.copy(DEFAULT_CHECKPOINT, folder)
    monkeypatch.setenv("CNN_LAB_CHECKPOINT_DIR", str(folder))
    monkeypatch.delenv("CNN_LAB_WORKSPACES_PER_HOUR", raising=False)
    return folder


# --------------------------------------------------------------------------- signing (core)

def test_a_secret_the_attacker_chose_is_well_formed_but_not_issued(root):
    chosen = "A" * 43 + "B" * 24   # any 32-128 URL-safe characters used to be a workspace
    assert is_valid_secret(chosen) and not is_issued(chosen)
    assert not is_issued("x" * 32) and not is_issued("y" * 128)
    issued = Workspace.create().secret
    assert is_valid_secret(issued) and is_issued(issued)
    tampered = issued[:-1] + ("A" if issued[-1] != "A" else "B")
    assert not is_issued(tampered), "the tag covers the whole secret"
    body_swapped = ("Z" if issued[0] != "Z" else "Y") + issued[1:]
    assert not is_issued(body_swapped)


def test_issued_secrets_survive_a_restart_and_work_on_every_server_sharing_the_folder(root):
    secret = new_secret(root)
    link_signing._keys.clear()   # a restart: nothing cached in this process any more
    assert is_issued(secret, root)
    code = ("import sys; from core.workspace import is_issued, new_secret; "
            "print(is_issued(sys.argv[1], sys.argv[2])); print(new_secret(sys.argv[2]))")
    out = subprocess.run([sys.executable, "-c", code, secret, str(root)], cwd=ROOT, text=True,
                         capture_output=True, check=True).stdout.split()
    assert out[0] == "True", "another server process on the same folder accepts the link"
    assert is_issued(out[1], root), "and its own links are accepted here"
    assert oct((root / link_signing.KEY_FILE).stat().st_mode & 0o777) == "0o600"


def test_servers_starting_at_once_agree_on_one_key(tmp_path):
    folder = tmp_path / "shared"
    code = "import sys; from pathlib import Path; from core.link_signing import server_key; print(server_key(Path(sys.argv[1])).hex())"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(folder)], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE) for _ in range(4)]
    keys = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(keys) == 1 and keys == {(folder / link_signing.KEY_FILE).read_text().strip()}
    assert not list(folder.glob("*.tmp"))


def test_workspaces_from_before_the_key_keep_working_and_new_made_up_ones_do_not(tmp_path):
    folder = tmp_path / "old"
    old_secret = "o" * 43                       # an older CNN Lab's link with a saved model
    (folder / "workspaces" / workspace_id(old_secret)).mkdir(parents=True)
    (folder / "workspaces" / workspace_id(old_secret) / "m.safetensors").write_bytes(b"x")
    empty_secret = "e" * 43                     # a folder without models: nothing to keep
    (folder / "workspaces" / workspace_id(empty_secret)).mkdir(parents=True)
    assert is_issued(old_secret, folder), "nobody's saved models become unreachable"
    assert not is_issued(empty_secret, folder)
    later = "l" * 43
    (folder / "workspaces" / workspace_id(later)).mkdir(parents=True)
    (folder / "workspaces" / workspace_id(later) / "m.safetensors").write_bytes(b"x")
    assert not is_issued(later, folder), "the legacy list is taken once, when the key is made"


# --------------------------------------------------------------------------- the page side

def _script():
    import streamlit as st

    from app import link_prompt, session

    link_prompt.render()
    st.text(f"workspace {session.workspace().id}")
    if session.pop_link_error():
        st.text("link error")


def run_app(**query) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=30)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown_workspace(at: AppTest) -> str:
    return next(t.value.split()[1] for t in at.text if t.value.startswith("workspace "))


def prompt_buttons(at: AppTest) -> dict[str, object]:
    return {b.key: b for b in at.button if b.key and b.key.startswith("link-prompt")}


def test_a_made_up_link_is_refused_and_never_adopted(root):
    chosen = "attacker" * 6                      # 48 URL-safe characters the attacker picked
    victim = run_app(ws=chosen)
    assert shown_workspace(victim) != workspace_id(chosen)
    assert "link error" in [t.value for t in victim.text]
    assert not prompt_buttons(victim), "nothing to ask: the link is simply not valid"
    assert "ws" not in victim.query_params
    # the attacker later opening the same link finds nothing of the victim's
    assert not (root / "workspaces" / workspace_id(chosen)).exists()


def test_an_issued_link_asks_first_even_in_a_fresh_tab(root):
    attacker_ws = Workspace.create()
    victim = run_app(ws=attacker_ws.secret)
    own = shown_workspace(victim)
    assert own != attacker_ws.id, "not adopted silently"
    buttons = prompt_buttons(victim)
    assert set(buttons) == {"link-prompt-open", "link-prompt-keep"}
    assert "whoever made it can see" in " ".join(c.value for c in victim.caption)
    buttons["link-prompt-keep"].click().run()
    assert shown_workspace(victim) == own and not prompt_buttons(victim)
    victim.run()
    assert shown_workspace(victim) == own, "the declined link is forgotten"


def test_the_learners_own_link_opens_after_one_click(root):
    mine = Workspace.create()
    at = run_app(ws=mine.secret)
    prompt_buttons(at)["link-prompt-open"].click().run()
    assert shown_workspace(at) == mine.id and not prompt_buttons(at)
    at.query_params["ws"] = mine.secret          # the same link again: nothing to ask
    at.run()
    assert shown_workspace(at) == mine.id and not prompt_buttons(at)


def test_switching_a_session_that_has_a_workspace_asks_and_keeps_it_until_yes(root):
    at = run_app()
    first = shown_workspace(at)
    other = Workspace.create()
    at.query_params["ws"] = other.secret
    at.run()
    assert shown_workspace(at) == first and prompt_buttons(at)
    assert prompt_buttons(at)["link-prompt-keep"].label == "Keep my workspace"
    prompt_buttons(at)["link-prompt-open"].click().run()
    assert shown_workspace(at) == other.id


def test_a_watch_link_never_carries_a_workspace(root):
    attacker_ws = Workspace.create()
    at = run_app(watch="sometoken", ws=attacker_ws.secret)
    assert shown_workspace(at) != attacker_ws.id and not prompt_buttons(at)
    assert "ws" not in at.query_params and at.query_params.get("watch")
    assert any("watch link also named a private workspace" in i.value for i in at.info)


# --------------------------------------------------------------------------- names (core)

@pytest.mark.parametrize("raw", [
    "![](//127.0.0.1:8799/x)", "[click](http://evil)", "<img src=x onerror=alert(1)>",
    "**bold** _it_ `code`", ":red[big] :material/home:", "$\\frac{1}{2}$", "a|b\n|-|", "&lt;b&gt;",
    "line\nbreak", "\u202eevil", "# heading", "~~strike~~",
])
def test_a_nickname_with_markdown_or_html_is_plain_words(raw):
    name = clean_name(raw, 24)
    assert not set(name) & set("![]()<>`*_:$|&#~\\/\n\u202e"), name
    assert len(name) <= 24
    assert display_name(raw) == clean_name(raw, 64, "model"), "display_name is a thin call"


def test_the_attackers_nickname_loses_its_image_syntax():
    assert clean_name("![](//127.0.0.1:8799/x)", 24) == "127.0.0.1 8799 x"
    assert clean_name("  Lin  Wei ", 24) == "Lin Wei" and clean_name("小明", 24) == "小明"
    assert clean_name("", 24, "anonymous") == "anonymous" and clean_name(None, 24) == ""
