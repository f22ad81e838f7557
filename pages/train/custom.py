"""① Set up with your own classes (the "Your classes" page's set): the split into training and
validation examples, the recipe that suits a few examples (core.userdata.train_config), and
transfer — start from a trained model's convolutions, frozen or fine-tuned."""
from __future__ import annotations

import streamlit as st

from app import routes, session
from app.state import PERSIST, keep_valid
from app.text import md_escape
from app.ui import t
from app.userdata import say, split_text, store
from core.data import CUSTOM
from core.editor import spec_to_rows
from core.recipe import form_values
from core.transfer import TransferError
from core.userdata import VALIDATION_SHARE, UserDataError, UserDataset, train_config
from core.workspace import WorkspaceError
from pages.train.form import load_preset, set_layers
from pages.train.keys import K
from pages.train.runs import manager

ss = st.session_state
SCRATCH = "scratch"


def sources() -> dict[str, str]:
    """Models a run may start from: ref -> label (the bundled ones, then this visitor's)."""
    options = {SCRATCH: t("classes.tl_scratch")}
    for entry in session.workspace().list_models():
        options[entry.ref] = (t("classes.tl_bundled", name=entry.name) if entry.bundled else entry.name)
    return options


def source_name(ref: str) -> str | None:
    return next((e.name for e in session.workspace().list_models() if e.ref == ref), None)


def init_from(ref: str | None) -> str | None:
    """TrainConfig.init_from of a source ref: "bundled:<stem>", or the file behind the visitor's
    own model (a server path: kept in the run's settings, never shown)."""
    if not ref or ref == SCRATCH:
        return None
    if ref.startswith("bundled:"):
        return ref
    return str(session.workspace().model_path(ref))


def dataset() -> UserDataset:
    return store().to_dataset(VALIDATION_SHARE, seed=int(ss.get(K.SEED, 0)))


def apply_recipe() -> None:
    """Fill the form for your classes: the few-examples recipe, all of the data, the last layer as
    wide as the class count (and the source model's layers when starting from one)."""
    ss[K.FRACTION] = 1.0
    try:
        ds = dataset()
        cfg = train_config(ds, init_from=init_from(ss.get(K.TL_SOURCE)), freeze=bool(ss.get(K.TL_FREEZE, True)),
                           max_epochs=manager().max_epochs, seed=int(ss.get(K.SEED, 0)))
    except (UserDataError, TransferError, WorkspaceError):
        return  # the block below says why it cannot train yet
    set_layers(spec_to_rows(cfg.spec))
    for field, value in form_values(cfg, manager().max_epochs).items():
        ss[K.FORM[field]] = value
    ss[K.BATCH] = min((16, 32, 64), key=lambda b: abs(b - cfg.batch_size))


def dataset_changed() -> None:
    if ss[K.DATASET] == CUSTOM:
        apply_recipe()
    else:
        load_preset()  # back to a preset's layers (ten classes) and recipe


def custom_block(column) -> UserDataset | None:
    """Your classes as the run's data, or None with the reason (and the way to fix it)."""
    with column:
        try:
            ds = dataset()
        except (UserDataError, WorkspaceError) as e:
            st.warning(say(e), icon="🗂️")
            st.button(t("classes.tl_to_classes"), icon="🗂️", key="train.to_classes",
                      on_click=routes.switch_to, args=("classes",))
            return None
        st.success(t("classes.custom_ready", classes=", ".join(map(md_escape, ds.classes)), n=len(ds.train_labels) + len(ds.test_labels)),
                   icon="✅")
        st.caption(split_text(ds))
    options = sources()
    keep_valid(K.TL_SOURCE, list(options), SCRATCH)
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    c1.selectbox(t("classes.tl_source"), list(options), format_func=options.get, key=K.TL_SOURCE,
                 on_change=apply_recipe, help=t("classes.tl_source_help"), **PERSIST)
    ss.setdefault(K.TL_FREEZE, True)
    c2.toggle(t("classes.tl_freeze"), key=K.TL_FREEZE, on_change=apply_recipe, disabled=ss[K.TL_SOURCE] == SCRATCH,
              help=t("classes.tl_freeze_help"), **PERSIST)
    return ds


def custom_fields(ds: UserDataset) -> dict:
    """TrainConfig fields a run on your classes adds to the form's."""
    ref = ss.get(K.TL_SOURCE, SCRATCH)
    source = init_from(ref)
    return dict(classes=list(ds.classes), validation_share=VALIDATION_SHARE, calibration_holdout=0,
                init_from=source, init_name=source_name(ref) if source else None,
                freeze=bool(source and ss.get(K.TL_FREEZE, True)))
