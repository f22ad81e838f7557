"""③ Results: keep the run's model — save it into the visitor's private workspace (never a
shared folder, never under the name of a model that ships with CNN Lab), or download it — and
delete saved models of one's own (asked once more first): a full quota says "delete a model
first", so the way to do it is right under the quota line."""
from __future__ import annotations

import logging

import streamlit as st

from app import session
from app.errors import explain, guarded
from app.text import md_escape
from app.ui import t
from core import jobs, metrics
from core.checkpoint import CheckpointError, CheckpointExistsError, to_bytes
from core.limits import LimitError, format_bytes
from core.run_results import suggested_name
from core.workspace import WorkspaceError
from pages.train.handoff import open_predict
from pages.train.keys import K

log = logging.getLogger(__name__)
ss = st.session_state
DELETE_PENDING = "train.delete_pending"   # the ref of the saved model whose Delete was pressed
DELETE_NOTICE = "train.delete_notice"     # (kind, sentence) after a delete, shown once


def usage_line(ws) -> str:
    u = ws.usage()
    return t("train.ws_usage", models=u.models, max_models=u.max_models if u.max_models is not None else "∞",
             size=format_bytes(u.bytes), max_size=format_bytes(u.max_bytes) if u.max_bytes is not None else "∞")


def save(ws, job, name: str, stem: str, overwrite: bool) -> bool:
    """Save button: write the checkpoint; True when it is saved (else the reason is shown)."""
    try:
        entry = ws.save(name.strip(), job.model, job.checkpoint_metadata(name.strip()), overwrite=overwrite)
    except CheckpointExistsError:
        st.warning(t("train.exists_now", file=stem))
    except (WorkspaceError, LimitError) as e:   # quota (models or bytes), bundled name
        st.error(explain(e))
    except (OSError, CheckpointError):
        log.exception("saving a model into workspace %s failed", ws.id)
        st.error(t("train.save_failed"))
    else:
        ss.setdefault(K.SAVED, {})[job.id] = entry.ref
        ss.pop(K.overwrite(job.id), None)
        st.success(t("train.saved", file=stem))
        return True
    return False


def keep_model(owner: str, job: jobs.Job) -> None:
    ws = session.workspace()
    st.subheader(t("train.keep_title"))
    ss.setdefault(K.save_name(job.id), suggested_name(job.config, job.metrics().get("test_accuracy")))
    c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
    name = c1.text_input(t("train.save_name"), key=K.save_name(job.id), help=t("train.save_name_help"), max_chars=80)
    try:
        stem = ws.stem_for(name)
    except WorkspaceError as e:  # the name of a bundled model
        c2.error(explain(e))
        return
    except CheckpointError:
        c2.error(t("train.save_name_empty"))
        return
    exists = ws.exists(name)  # only this workspace's own models: bundled names never get here
    saved_ref = ss.get(K.SAVED, {}).get(job.id)  # "own:<stem>" of this run's last save
    saved_here = exists and saved_ref is not None and saved_ref.split(":", 1)[-1] == stem
    name_note = c2.empty()  # what the name will be; once saved, that it is (filled below)
    usage = st.empty()      # the workspace's usage, after any save below
    overwrite = False
    if exists and not saved_here:
        overwrite = st.checkbox(t("train.overwrite", file=stem), key=K.overwrite(job.id))
    b1, b2, b3 = st.columns(3)
    if b1.button(t("train.save"), icon="💾", type="primary", disabled=saved_here or (exists and not overwrite),
                 key=f"train.save.{job.id}", width="stretch"):
        saved_here = save(ws, job, name, stem, overwrite) or saved_here
    elif exists and not overwrite and not saved_here:
        st.warning(t("train.exists", file=stem), icon="⚠️")
    name_note.caption(t("train.saved_as" if saved_here else "train.save_as", file=stem))
    usage.caption(usage_line(ws))
    own_models_panel(ws)
    if ss.get(K.SAVED, {}).get(job.id):
        if st.button(t("train.goto_predict"), icon="✍️", key=f"train.goto_predict.{job.id}"):
            open_predict()
    b2.download_button(t("train.download_ckpt"), data=lambda: to_bytes(job.model, job.checkpoint_metadata(name)),
                       file_name=f"{stem}.safetensors", mime="application/octet-stream", icon="⬇️",
                       on_click="ignore", key=f"train.dl_ckpt.{job.id}", width="stretch")
    b3.download_button(t("train.download_csv"), data=lambda: metrics.history_csv(job.events()),
                       file_name=f"{stem}-metrics.csv", mime="text/csv", icon="📈", on_click="ignore",
                       key=f"train.dl_csv.{job.id}", width="stretch")


def ask_delete(ref: str) -> None:
    ss[DELETE_PENDING] = ref


def cancel_delete() -> None:
    ss.pop(DELETE_PENDING, None)


def confirm_delete(ref: str, name: str) -> None:
    """The visitor said yes: delete one of their own saved models (app.session.delete_model)."""
    ss.pop(DELETE_PENDING, None)
    try:
        session.delete_model(ref)
    except WorkspaceError as e:
        ss[DELETE_NOTICE] = ("error", explain(e))
    except OSError:
        log.exception("deleting a saved model failed")
        ss[DELETE_NOTICE] = ("error", t("train.delete_failed"))
    else:
        ss[DELETE_NOTICE] = ("success", t("train.deleted", name=md_escape(name)))
        ss[K.SAVED] = {j: r for j, r in ss.get(K.SAVED, {}).items() if r != ref}


def own_models_panel(ws) -> None:
    """The workspace's own saved models, each with Delete (asked once more before it happens)."""
    notice = ss.pop(DELETE_NOTICE, None)
    if notice:
        (st.success if notice[0] == "success" else st.error)(notice[1])
    models = ws.own_models()
    if not models:
        return
    with st.expander(t("train.my_models", n=len(models)), icon="🗂️", expanded=DELETE_PENDING in ss):
        pending = ss.get(DELETE_PENDING)
        # keys by position: a model's file name is the visitor's own text, not a widget key
        for i, entry in enumerate(models):
            a, b = st.columns([4, 1], vertical_alignment="center")
            a.markdown(t("train.my_model_line", name=md_escape(entry.name), size=format_bytes(entry.size)))
            if pending == entry.ref:
                a.warning(t("train.delete_confirm", name=md_escape(entry.name)), icon="🗑️")
                y, n = a.columns(2)
                y.button(t("train.delete_yes"), key=f"train.delete_yes.{i}", type="primary", width="stretch",
                         on_click=guarded(confirm_delete), args=(entry.ref, entry.name))
                n.button(t("train.delete_no"), key=f"train.delete_no.{i}", width="stretch", on_click=cancel_delete)
            b.button(t("train.delete"), icon="🗑️", key=f"train.delete.{i}", width="stretch",
                     disabled=pending == entry.ref, on_click=ask_delete, args=(entry.ref,))
