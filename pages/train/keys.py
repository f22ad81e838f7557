"""The Train page's session-state keys ("train.<name>"; the convention is in app/state.py) and
the constants its modules share."""
from __future__ import annotations

import streamlit as st

from app.state import keyed


class K:
    RUN, TAB, TAB_IDX = "train.run", "train.tab", "train.tab_idx"   # TAB_IDX: app.tabs.index_key(TAB)
    LAYERS, LAYERS_DRAFT, EDITOR_V = "train.layers", "train.layers_draft", "train.editor_v"
    PRESET, DATASET, FRACTION, SEED = "train.preset", "train.dataset", "train.fraction", "train.seed"
    START_MSG, DL_FAILED, SAVED = "train.start_msg", "train.download_failed", "train.saved"
    RESULT_RUN, FM_EPOCH, FM_LAYER, FM_LAST = "train.result_run", "train.fm_epoch", "train.fm_layer", "train.fm_last"
    WRONG_TRUE, WRONG_PRED = "train.wrong_true", "train.wrong_pred"
    CELL_TRUE, CELL_PRED, CONFUSION = "train.cell_true", "train.cell_pred", "train.confusion"
    SAMPLES_N, SAMPLES_SEED = "train.samples_n", "train.samples_seed"  # app.samples' keys for page "train"
    COMPARE, COMPARE_METRIC = "train.compare", "train.compare_metric"
    OPT, LR, BATCH, EPOCHS, SCHED = "train.optimizer", "train.lr", "train.batch", "train.epochs", "train.scheduler"
    AUG, WD, LS, MOMENTUM = "train.augment", "train.weight_decay", "train.label_smoothing", "train.momentum"
    NICKNAME, SHARE_MSG = "train.nickname", "train.share_msg"
    # In a class (issue 24): the workspace whose class seed the form holds, the assignment whose
    # settings it was opened with, and "change my nickname" pressed
    SEED_OWNER, ASSIGNED, CLASS_EDIT = "train.seed_owner", "train.assigned", "train.class_edit"
    TL_SOURCE, TL_FREEZE, PENDING = "train.tl_source", "train.tl_freeze", "train.pending_run"  # your classes
    # core.recipe.form_values' field -> its widget's key
    FORM = {"optimizer": OPT, "lr": LR, "batch_size": BATCH, "epochs": EPOCHS, "scheduler": SCHED,
            "augment": AUG, "weight_decay": WD, "label_smoothing": LS, "momentum": MOMENTUM}

    @staticmethod
    def editor() -> str:
        """The layer table's widget key; a new version number gives a fresh table."""
        return f"train.layers_editor.{st.session_state[K.EDITOR_V]}"

    move = keyed("train.move")                   # (delta)
    save_name = keyed("train.save_name")         # (job id)
    overwrite = keyed("train.overwrite")         # (job id)
    publish_nick = keyed("train.publish_nick")   # (job id)

SETUP, LIVE, RESULTS, COMPARE = range(4)  # the tabs, in order
FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
GALLERY_SIZE, GALLERY_COLUMNS = 24, 8
SAMPLE_COLUMNS, SAMPLE_TILE_PX = 12, 80   # the random test images: up to 12 to a row, ~80 px each
ROW_PX = 35
WATCH_LINK_KEY = "train-watch-link"   # bench/load_bench.py reads `.st-key-train-watch-link code`
START_KEY = "train-start"             # bench/load_bench.py clicks `.st-key-train-start button`
PAGE_PATH = "train"                   # this page's url_path in streamlit_app.py
