"""① Set up: the training settings (optimizer, learning rate, batch, epochs, schedule, data share)."""
from __future__ import annotations

import streamlit as st

from app.state import PERSIST
from app.ui import t
from core.recipe import BATCH_SIZES, LearningRateError, parse_learning_rate, run_size
from core.train import OPTIMIZERS, SCHEDULERS, TrainConfig
from pages.train.keys import FRACTIONS, K
from pages.train.runs import manager

ss = st.session_state


def hyperparameter_block(n_train: int | None, holdout: int | None = None):
    """The training settings; returns (TrainConfig fields dict, error or None)."""
    st.subheader(t("train.hyper_title"))
    max_epochs = manager().max_epochs
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        st.selectbox(t("train.optimizer"), OPTIMIZERS, key=K.OPT,
                     format_func={o: t(f"train.opt_{o}") for o in OPTIMIZERS}.get, help=t("train.optimizer_help"), **PERSIST)
        lr_text = st.text_input(t("train.lr"), key=K.LR, help=t("train.lr_help"), **PERSIST)
    with c2:
        st.select_slider(t("train.batch"), BATCH_SIZES, key=K.BATCH, help=t("train.batch_help"), **PERSIST)
        st.number_input(t("train.epochs"), min_value=1, max_value=max_epochs, step=1,
                        key=K.EPOCHS, help=t("train.epochs_help", max=max_epochs), **PERSIST)
    with c3:
        st.selectbox(t("train.scheduler"), SCHEDULERS, key=K.SCHED,
                     format_func={s: t(f"train.sched_{s}") for s in SCHEDULERS}.get, help=t("train.scheduler_help"), **PERSIST)
        st.toggle(t("train.augment"), key=K.AUG, help=t("train.augment_help"), **PERSIST)
    with c4:
        st.select_slider(t("train.fraction"), FRACTIONS, key=K.FRACTION,
                         format_func=lambda f: f"{100 * f:g}%", help=t("train.fraction_help"), **PERSIST)
        st.number_input(t("train.seed"), min_value=0, max_value=2**31 - 1, step=1, key=K.SEED,
                        help=t("train.seed_help"), **PERSIST)
    with st.expander(t("train.advanced")):
        a1, a2, a3 = st.columns(3)
        a1.number_input(t("train.weight_decay"), min_value=0.0, max_value=0.1, step=1e-4, format="%.4f",
                        key=K.WD, help=t("train.weight_decay_help"), **PERSIST)
        a2.slider(t("train.label_smoothing"), 0.0, 0.3, step=0.05, key=K.LS,
                  help=t("train.label_smoothing_help"), **PERSIST)
        a3.slider(t("train.momentum"), 0.0, 0.99, step=0.01, key=K.MOMENTUM,
                  help=t("train.momentum_help"), disabled=ss[K.OPT] not in ("sgd", "rmsprop"), **PERSIST)
    lr, error = None, None
    try:
        lr = parse_learning_rate(lr_text)
    except LearningRateError as e:
        error = t("train.lr_not_number" if e.code == "not_number" else "train.lr_range", value=lr_text)
    fields = dict(optimizer=ss[K.OPT], lr=lr, batch_size=int(ss[K.BATCH]), epochs=int(ss[K.EPOCHS]),
                  scheduler=ss[K.SCHED], augment=bool(ss[K.AUG]), fraction=float(ss[K.FRACTION]),
                  seed=int(ss[K.SEED]), weight_decay=float(ss[K.WD]), label_smoothing=float(ss[K.LS]),
                  momentum=float(ss[K.MOMENTUM]))
    if n_train:
        size = run_size(n_train, fields["fraction"], fields["batch_size"], fields["epochs"],
                        TrainConfig.calibration_holdout if holdout is None else holdout)  # held out: not trained on
        st.caption(t("train.run_size", images=f"{size.images:,}", epochs=fields["epochs"],
                     steps=f"{size.total_steps:,}", batch=fields["batch_size"]))
    return fields, error
