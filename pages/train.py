"""Train page: set up a run, watch it learn live, inspect and keep the model, compare runs.

Layout and widgets only. Training runs in core.jobs: one JobManager per server process
(app.session.job_manager) with a fair queue in front of its workers; this page polls it once a
second with a fragment, only while a run is waiting or training. Runs and saved models belong to
the visitor's private workspace (app.session.owner / workspace): a reload or a closed tab gets
them back through the private link, never through a run id in the URL. A run's *watch link*
(?watch=<token>) opens this page as a read-only view of that one run (curves, feature maps,
results), for a projector or a friend: no Stop, no Save, no use of the model, no other runs.
"""
from __future__ import annotations

import logging
import math
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import streamlit as st

import core.data as data_mod
from app import session
from app.errors import guarded
from app.session import WATCH_PARAM
from app import routes
from app.models import run_ref
from app.state import PERSIST, PREDICT_REQUEST, SESSION_MODELS
from app.ui import cached_dataset, lang, t
from core import calibration
from core import gallery as class_gallery
from core import jobs, metrics
from core import samples as test_samples
from core.checkpoint import CheckpointError, CheckpointExistsError, from_model, to_bytes
from core.codegen import script_file_name, training_script
from core.durations import duration_parts
from core.editor import (COLUMNS, PARAM_RANGES, MissingTypeError, apply_editor_state, canonical_rows,
                         matching_preset, move_row, normalized_rows, rows_to_spec, spec_to_rows)
from core.figures import PLOT_CONFIG
from core.figures.samples import clicked_marker, samples_figure
from core.figures.training import (COMPARE_METRICS, accuracy_figure, compare_figure, confusion_cell,
                                   confusion_figure, default_compare_metric, loss_figure, maps_figure,
                                   per_class_figure, probability_figure)
from core.gallery import GalleryError
from core.jobs import JobLimitError
from core.layers import FLOAT_PARAMS, LAYER_TYPES, PARAM_NAMES, describe, localize_label, type_name
from core.limits import LimitError, format_bytes, spec_figures
from core.models import PRESETS, DEFAULT_PRESET, SpecError, flatten_explanation, normalize_layer, summary
from core.recipe import (BATCH_SIZES, TUTORIAL_OF, LearningRateError, epochs_cut, form_values, parse_learning_rate,
                         run_size)
from core.train import OPTIMIZERS, SCHEDULERS, ConfigError, TrainConfig, check_config, config_from_preset
from core.workspace import WorkspaceError

log = logging.getLogger(__name__)


class K:
    """This page's session-state keys ("train.<name>"; the convention is in app/state.py)."""
    RUN, TAB, TAB_IDX = "train.run", "train.tab", "train.tab_idx"
    LAYERS, LAYERS_DRAFT, EDITOR_V = "train.layers", "train.layers_draft", "train.editor_v"
    PRESET, DATASET, FRACTION, SEED = "train.preset", "train.dataset", "train.fraction", "train.seed"
    START_MSG, DL_FAILED, PUBLISHED, SAVED = "train.start_msg", "train.download_failed", "train.published", "train.saved"
    RESULT_RUN, FM_EPOCH, FM_LAYER, FM_LAST = "train.result_run", "train.fm_epoch", "train.fm_layer", "train.fm_last"
    WRONG_TRUE, WRONG_PRED = "train.wrong_true", "train.wrong_pred"
    CELL_TRUE, CELL_PRED, CONFUSION = "train.cell_true", "train.cell_pred", "train.confusion"
    SAMPLES_N, SAMPLES_SEED = "train.samples_n", "train.samples_seed"
    COMPARE, COMPARE_METRIC = "train.compare", "train.compare_metric"
    OPT, LR, BATCH, EPOCHS, SCHED = "train.optimizer", "train.lr", "train.batch", "train.epochs", "train.scheduler"
    AUG, WD, LS, MOMENTUM = "train.augment", "train.weight_decay", "train.label_smoothing", "train.momentum"
    NICKNAME, SHARE_MSG = "train.nickname", "train.share_msg"
    # core.recipe.form_values' field -> its widget's key
    FORM = {"optimizer": OPT, "lr": LR, "batch_size": BATCH, "epochs": EPOCHS, "scheduler": SCHED,
            "augment": AUG, "weight_decay": WD, "label_smoothing": LS, "momentum": MOMENTUM}

    @staticmethod
    def editor() -> str:
        """The layer table's widget key; a new version number gives a fresh table."""
        return f"train.layers_editor.{st.session_state[K.EDITOR_V]}"

    @staticmethod
    def move(delta: int) -> str:
        return f"train.move{delta}"

    @staticmethod
    def save_name(job_id: str) -> str:
        return f"train.save_name.{job_id}"

    @staticmethod
    def overwrite(job_id: str) -> str:
        return f"train.overwrite.{job_id}"

    @staticmethod
    def publish_nick(job_id: str) -> str:
        return f"train.publish_nick.{job_id}"


FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
GALLERY_SIZE, GALLERY_COLUMNS = 24, 8
SAMPLE_COLUMNS, SAMPLE_TILE_PX = 12, 80   # the random test images: up to 12 to a row, ~80 px each
ROW_PX = 35
WATCH_LINK_KEY = "train-watch-link"   # bench/load_bench.py reads `.st-key-train-watch-link code`
START_KEY = "train-start"             # bench/load_bench.py clicks `.st-key-train-start button`
PAGE_PATH = "train"                   # this page's url_path in streamlit_app.py
ss = st.session_state
manager = session.job_manager()


# --------------------------------------------------------------------------- small helpers

def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return t("train.time_unknown")
    unit, values = duration_parts(seconds)
    return t(f"train.time_{unit}", **values)


def fmt_estimate(seconds: float | None) -> str:
    """An estimate, as precise as it deserves: "40 s", "5 min" (never "5 min 19 s")."""
    if seconds is None:
        return t("train.time_unknown")
    if seconds < 60:
        return fmt_seconds(max(10, math.ceil(seconds / 10) * 10))
    if seconds < 3600:
        return t("train.time_min", m=round(seconds / 60))
    return fmt_seconds(seconds)


def pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{100 * x:.{digits}f}%"


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 11th … in English; the Chinese text says 第 {n} 位 around the bare number."""
    if lang() != "en":
        return str(n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def clock(at: float | None) -> str | None:
    """A wall-clock time (time.time()) as HH:MM in the visitor's own time zone; None when the
    browser did not say which (the relative time is always shown)."""
    tz = st.context.timezone
    if at is None or not tz:
        return None
    try:
        return datetime.fromtimestamp(at, ZoneInfo(tz)).strftime("%H:%M")
    except (ZoneInfoNotFoundError, ValueError, OverflowError):
        return None


def when(seconds: float | None, at: float | None) -> str:
    """"about 2 min (around 14:05)" / "about 2 min"; the estimate's wording when unknown."""
    if seconds is None:
        return t("train.eta_unknown")
    at_clock = clock(at)
    text = t("train.eta", eta=fmt_estimate(seconds))
    return t("train.eta_clock", eta=text, clock=at_clock) if at_clock else text


def config_of(job) -> dict:
    """The run's settings as a dict (a Job holds a TrainConfig, a watch link's JobView a dict)."""
    return job.config if isinstance(job.config, dict) else job.config.to_dict()


def classes_of(dataset: str) -> tuple[str, ...]:
    return data_mod.DATASETS[dataset].classes


def run_label(job) -> str:
    arch = job.preset or t("train.custom")
    acc = job.metrics().get("test_accuracy")
    base = t("train.run_label", n=job.number, arch=arch, dataset=data_mod.DATASETS[config_of(job)["dataset"]].title)
    return f"{base} · {pct(acc)}" if acc is not None else base


def translated(e: Exception) -> str:
    """One sentence for a core error, in the visitor's language (codes → i18n keys)."""
    if isinstance(e, LimitError):
        key, values = f"train.limit_{e.key}", e.details
    elif isinstance(e, WorkspaceError):
        key, values = f"train.ws_{e.code}", e.details
    elif isinstance(e, GalleryError):
        key, values = f"train.share_err_{e.code}", e.details
    else:
        return str(e)
    text = t(key, **values)
    return str(e) if text == key else text


def watch_url(job) -> str:
    """The address of a run's read-only watch link (the app's own address when known)."""
    page_url = (st.context.url or "").split("?")[0].rstrip("/")
    # On Streamlit 1.67 the address still ends with this page's path ("…/train"); keep one.
    base = page_url.removesuffix(f"/{PAGE_PATH}")
    return f"{base}/{PAGE_PATH}?{WATCH_PARAM}={job.watch_token}"


# --------------------------------------------------------------------------- owner and current run

def current_job(owner: str) -> jobs.Job | None:
    """The run this session shows: the one it started, else (after a private link brought the
    workspace back, or the workspace changed) the owner's newest waiting-or-training run, else
    its newest run."""
    job = manager.get(ss.get(K.RUN), owner)
    if job is None:
        mine = manager.jobs(owner)
        job = next((j for j in reversed(mine) if j.active), None) or (mine[-1] if mine else None)
        if job is not None:
            ss[K.RUN] = job.id
            if job.active:
                ss[K.TAB_IDX] = 1
        else:
            ss.pop(K.RUN, None)
    return job


def publish_finished_runs(owner: str) -> None:
    """Every finished run's model goes into SESSION_MODELS so the Predict page can use it."""
    published = ss.setdefault(K.PUBLISHED, {})
    models = ss.setdefault(SESSION_MODELS, {})
    for job in manager.jobs(owner):
        if job.id in published or job.active or job.state == jobs.FAILED or job.model is None:
            continue
        name = t("train.model_name", n=job.number, arch=job.preset or t("train.custom"),
                 acc=pct(job.metrics().get("test_accuracy")))
        models[name] = from_model(job.model, job.checkpoint_metadata(name))
        published[job.id] = name


# --------------------------------------------------------------------------- layer table <-> spec

def set_layers(rows: list[dict]) -> None:
    ss[K.LAYERS] = ss[K.LAYERS_DRAFT] = canonical_rows(rows)
    ss[K.EDITOR_V] = ss.get(K.EDITOR_V, 0) + 1


def move_layer(delta: int) -> None:
    click = ss.get(K.move(delta))
    if click:
        rows = canonical_rows(apply_editor_state(ss[K.LAYERS], ss.get(K.editor())))
        set_layers(move_row(rows, int(click["row"]), delta))


def load_preset() -> None:
    """Put the chosen preset's layers and training recipe into the form."""
    set_layers(spec_to_rows(PRESETS[ss[K.PRESET]].spec()))
    for field, value in form_values(config_from_preset(ss[K.PRESET]), manager.max_epochs).items():
        ss[K.FORM[field]] = value


def init_form() -> None:
    """First visit: the default preset on 10% of MNIST. Later visits: every choice is kept
    (the widgets persist their values for the session; see app.state.PERSIST)."""
    if K.PRESET not in ss:
        ss[K.PRESET] = DEFAULT_PRESET
        ss[K.DATASET] = "mnist"
        ss[K.FRACTION] = 0.1
        ss[K.SEED] = 0
        ss[K.EDITOR_V] = 0
        load_preset()
    # Pending edits of the layer table live in its widget state, which is dropped in any run
    # that doesn't draw the table: fold the last table the learner saw back into the base rows.
    if K.editor() not in ss and ss.get(K.LAYERS_DRAFT) not in (None, ss[K.LAYERS]):
        set_layers(ss[K.LAYERS_DRAFT])



# --------------------------------------------------------------------------- ① set up

def dataset_block():
    """Dataset choice; returns the loaded Dataset or None (with the reason shown)."""
    names = list(data_mod.DATASETS)
    c1, c2 = st.columns([1, 2], vertical_alignment="top")
    name = c1.selectbox(t("train.dataset"), names, key=K.DATASET,
                        format_func=lambda n: data_mod.DATASETS[n].title, help=t("train.dataset_help"), **PERSIST)
    info = data_mod.DATASETS[name]
    failed = ss.setdefault(K.DL_FAILED, {})
    with c2:
        if name in failed:
            st.warning(t("train.offline", title=info.title, folder=info.folder, env=data_mod.DATA_DIR_ENV),
                       icon="📴")
            with st.expander(t("train.offline_details")):
                st.code(failed[name], language=None, wrap_lines=True)
            if st.button(t("train.retry_download"), key="train.retry"):
                failed.pop(name, None)
                st.rerun()
            return None
        if not data_mod.is_available(name):
            bar = st.progress(0.0, text=t("train.downloading", title=info.title))

            def report(fname: str, done: int, total: int) -> None:
                frac = min(1.0, done / total) if total else 0.0
                bar.progress(frac, text=t("train.downloading_file", title=info.title, file=fname,
                                          mb=f"{done / 1e6:.1f}", total=f"{total / 1e6:.1f}"))

            try:
                data_mod.download(info, report)
            except data_mod.DataError as e:
                failed[name] = str(e)
                st.rerun()
            bar.empty()
        try:
            data = cached_dataset(name)
        except data_mod.DataError as e:
            st.error(t("train.data_error", reason=str(e)))
            return None
        st.success(t("train.dataset_ready", title=info.title, train=f"{len(data.train_labels):,}",
                     test=f"{len(data.test_labels):,}", classes=", ".join(map(str, info.classes))),
                   icon="✅")
    return data



def architecture_block(num_classes: int):
    """Preset picker, layer table, live summary with this server's limits; returns (spec, preset
    name or None, error or None, whether the error is a server limit)."""
    st.subheader(t("train.arch_title"))
    c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
    c1.selectbox(t("train.preset"), list(PRESETS), key=K.PRESET, on_change=load_preset,
                 format_func={name: preset_label(name) for name in PRESETS}.get,
                 help=t("train.preset_help"), **PERSIST)
    preset = PRESETS[ss[K.PRESET]]
    with c2:
        st.info(preset_description(preset), icon="ℹ️")
    if preset.note:
        st.caption(t("train.preset_note_lead") + " " + preset_text("preset_note", preset, preset.note))
    cut = epochs_cut(config_from_preset(preset.name), manager.max_epochs)
    if cut is not None:
        st.caption(t("train.preset_epochs_cut", epochs=cut, max=manager.max_epochs))
    if preset.name in TUTORIAL_OF and float(ss.get(K.FRACTION, 1.0)) < 1.0:
        st.caption(t("train.preset_full_data", n=TUTORIAL_OF[preset.name], label=t("train.fraction")))

    left, right = st.columns([13, 7])  # room for every column of the layer table at 1400 px
    height = ROW_PX * (len(ss[K.LAYERS]) + 2) + 3  # header, rows, the editor's "add row" line
    with left:
        st.markdown(t("train.layers_title"))
        df = pd.DataFrame(ss[K.LAYERS], columns=COLUMNS)
        for c in PARAM_NAMES:
            df[c] = df[c].astype("float64" if c in FLOAT_PARAMS else "Int64")
        df["up"], df["down"] = "↑", "↓"
        df.index = pd.RangeIndex(1, len(df) + 1)
        edited = st.data_editor(
            df, key=K.editor(), num_rows="dynamic", width="content", hide_index=False, placeholder="",
            height=height, row_height=ROW_PX, column_config=layer_columns())
        rows = normalized_rows(edited.to_dict("records"))
        canon = canonical_rows(rows)
        ss[K.LAYERS_DRAFT] = canon
        if canon != rows:
            set_layers(canon)  # a type was chosen or changed: show its parameters, with defaults
            st.rerun()

    spec, error, table, figures, limited = None, None, None, [], False
    try:
        spec = rows_to_spec(canon)
        table = summary(spec, num_classes=num_classes)
        # Each cost figure next to the limit that caps it, computed from the shapes alone.
        figures = spec_figures(spec, num_classes=num_classes, batch_size=int(ss[K.BATCH]))
    except MissingTypeError as e:
        spec, error = None, t("train.layer_without_type", n=e.row)
    except LimitError as e:  # kernel, stride, padding or layer count over this server's limit
        error, limited = t("train.arch_limit", reason=translated(e)), True
    except SpecError as e:
        spec, error = None, str(e)
    over = next((f for f in figures if not f.ok), None)
    if over is not None:
        error, limited = t("train.arch_limit", reason=t(f"train.limit_{over.key}", **over.details)), True
    with right:
        st.markdown(t("train.layers_help"))
        if table is not None and error is None:
            st.success(t("train.totals", params=f"{table.total_params:,}", macs=f"{table.total_mult_adds:,}",
                         flatten=table.flatten_formula or "—"), icon="✅")
            flatten_answer(table, preset, matching_preset(spec, preset.name, num_classes) == preset.name)
        elif table is not None:
            st.error(error, icon="🚫")
        else:
            st.error(t("train.arch_invalid", reason=error), icon="🚫")
        if figures:
            with st.container(key="train-limits"):
                st.markdown(t("train.figures_title"))
                st.markdown("\n".join(
                    f"- {t(f'train.figure_{f.key}', **f.details)}" if f.ok
                    else f"- :red[**{t(f'train.limit_{f.key}', **f.details)}**]" for f in figures))
        if st.button(t("train.reset_layers"), key="train.reset", icon=":material/restart_alt:"):
            set_layers(spec_to_rows(preset.spec()))
            st.rerun()
    if table is not None:
        st.markdown(t("train.summary_title"))
        st.dataframe(summary_frame(table, spec), hide_index=True, width="stretch", row_height=ROW_PX,
                     height=ROW_PX * (len(table.layers) + 1) + 3,
                     column_config={"#": st.column_config.NumberColumn("#", width=40)})
    chosen = matching_preset(spec, preset.name, num_classes) if spec is not None and error is None else None
    return (spec if error is None else None), chosen, error, limited

def layer_columns() -> dict:
    """The layer table's columns: the type, one number column per parameter, move buttons."""
    columns = {
        "_index": st.column_config.NumberColumn("#", width=32),
        "type": st.column_config.SelectboxColumn(t("train.col_type"), options=list(LAYER_TYPES), required=True,
                                                 help=t("train.col_type_help"), width=92,
                                                 format_func={k: type_name(k, lang()) for k in LAYER_TYPES}.get),
    }
    for name in PARAM_NAMES:
        low, high, step = PARAM_RANGES[name]
        floating = name in FLOAT_PARAMS
        columns[name] = st.column_config.NumberColumn(
            t(f"train.col_{name}"), min_value=low, max_value=high, step=step, help=t(f"train.col_{name}_help"),
            # Each header needs its room next to the editing icon: a bare "p" at 52 px was cut off.
            format="%.2f" if floating else None, width=92 if floating else 60 if name == "padding" else 72)
    for name, delta in (("up", -1), ("down", 1)):
        columns[name] = st.column_config.ButtonColumn(" ", type="tertiary", on_click=move_layer, args=(delta,),
                                                      key=K.move(delta), help=t(f"train.move_{name}"), width=36)
    return columns


def preset_label(name: str) -> str:
    """"2-conv 16/32 → FC 128 · tutorial 000" for a preset that reproduces a tutorial."""
    return t("train.preset_tutorial", name=name, n=TUTORIAL_OF[name]) if name in TUTORIAL_OF else name


def preset_text(kind: str, preset, english: str) -> str:
    """core's text (the source of truth) unless the catalog translates it for this preset."""
    key = f"train.{kind}.{preset.name}"
    text = t(key)
    return english if text == key or lang() == "en" else text


def preset_description(preset) -> str:
    return preset_text("preset", preset, preset.description)


def flatten_answer(table, preset, is_preset: bool) -> None:
    """Why the first linear layer receives the numbers it does, in words and numbers; a
    preset with a note about it (tutorial 002's comment) points to that note."""
    answer = flatten_explanation(table)
    if answer is None:
        return
    st.markdown(t("train.flatten_answer", source=localize_label(answer.source, lang()), channels=answer.channels,
                  height=answer.height, width=answer.width, numbers=f"{answer.numbers:,}",
                  receiver=localize_label(answer.receiver, lang())))
    if preset.note and is_preset:
        st.caption(t("train.flatten_see_note"))


def summary_frame(table, spec) -> pd.DataFrame:
    return pd.DataFrame([{
        "#": r.index + 1,
        t("train.sum_layer"): f"{localize_label(r.name, lang())} · {describe(normalize_layer(spec[r.index], r.index), lang())}",
        t("train.sum_shape"): "×".join(map(str, r.output_shape)),
        t("train.sum_params"): r.params_formula if r.params else "0",
        t("train.sum_macs"): f"{r.mult_adds:,}" if r.mult_adds else "0",
        t("train.sum_rf"): f"{r.receptive_field}×{r.receptive_field}" if r.receptive_field else "—",
    } for r in table.layers])


def hyperparameter_block(n_train: int | None):
    """The training settings; returns (TrainConfig fields dict, error or None)."""
    st.subheader(t("train.hyper_title"))
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        st.selectbox(t("train.optimizer"), OPTIMIZERS, key=K.OPT,
                     format_func={o: t(f"train.opt_{o}") for o in OPTIMIZERS}.get, help=t("train.optimizer_help"), **PERSIST)
        lr_text = st.text_input(t("train.lr"), key=K.LR, help=t("train.lr_help"), **PERSIST)
    with c2:
        st.select_slider(t("train.batch"), BATCH_SIZES, key=K.BATCH, help=t("train.batch_help"), **PERSIST)
        st.number_input(t("train.epochs"), min_value=1, max_value=manager.max_epochs, step=1,
                        key=K.EPOCHS, help=t("train.epochs_help", max=manager.max_epochs), **PERSIST)
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
                        TrainConfig.calibration_holdout)  # the images a run holds out are not trained on
        st.caption(t("train.run_size", images=f"{size.images:,}", epochs=fields["epochs"],
                     steps=f"{size.total_steps:,}", batch=fields["batch_size"]))
    return fields, error


def start_run(owner: str, fields: dict) -> None:
    """Start button callback: queue the job (it starts at once when a worker is free) or keep
    the reason to show."""
    ss.pop(K.START_MSG, None)
    try:
        data = cached_dataset(fields["dataset"])
        config = TrainConfig(**fields)
        size = run_size(len(data.train_labels), config.fraction, config.batch_size, config.epochs,
                        config.calibration_holdout)
        config.log_every = metrics.suggest_log_every(size.total_steps)
        job = manager.start(owner, config, data, nickname=ss.get(K.NICKNAME) or None)
    except JobLimitError as e:
        key = "train.busy_own" if e.own else "train.queue_full"
        ss[K.START_MSG] = ("warning", t(key, eta=fmt_seconds(e.seconds_left), max=manager.max_waiting))
    except LimitError as e:
        ss[K.START_MSG] = ("error", t("train.arch_limit", reason=translated(e)))
    except (ConfigError, SpecError, data_mod.DataError) as e:
        ss[K.START_MSG] = ("error", t("train.start_failed", reason=str(e)))
    else:
        ss[K.RUN] = job.id
        ss[K.TAB_IDX] = 1
        ss.pop(K.FM_LAST, None)  # the feature-map slider follows the new run's newest epoch


def what_will_happen(owner: str, config: TrainConfig | None, data) -> str:
    """Before Start: does the run start now or wait, in which place, and until when."""
    busy, _ = manager.busy(owner)
    start = finish = None
    if config is not None and data is not None:
        try:
            start, finish = manager.preview(config, data)
        except (ConfigError, SpecError, ValueError):
            start = finish = None
    if not busy:
        if finish is None:
            return t("train.will_start_now")
        return t("train.will_start_now_eta", finish=fmt_estimate(finish))
    position = len(manager.waiting()) + 1
    if start is None:
        return t("train.will_queue_unknown", pos=ordinal(position))
    return t("train.will_queue", pos=ordinal(position), start=fmt_estimate(start), finish=fmt_estimate(finish))


def setup_tab(owner: str) -> None:
    data = dataset_block()
    num_classes = len(classes_of(ss[K.DATASET]))
    spec, preset_name, arch_error, limited = architecture_block(num_classes)
    fields, hyper_error = hyperparameter_block(len(data.train_labels) if data is not None else None)
    problems = [p for p in (arch_error and (arch_error if limited else t("train.problem_arch")), hyper_error,
                            data is None and t("train.problem_data")) if p]
    config = None
    if spec is not None and not arch_error and not hyper_error:
        try:
            config = TrainConfig(spec=spec, preset=preset_name, dataset=ss[K.DATASET], **fields)
            check_config(config, num_classes)
        except LimitError as e:  # e.g. the batch size makes the activations too big
            problems.append(t("train.arch_limit", reason=translated(e)))
            config = None
        except (ConfigError, SpecError) as e:
            problems.append(str(e))
            config = None
    mine = next((j for j in manager.jobs(owner) if j.active), None)
    st.divider()
    for p in problems:
        st.error(p, icon="✋")
    if mine is not None:
        key = "train.own_run_waiting" if mine.queued else "train.own_run_active"
        st.info(t(key, label=run_label(mine)), icon="⏳")
    c1, c2, c3 = st.columns([1, 1, 2], vertical_alignment="center")
    with c1.container(key=START_KEY):
        st.button(t("train.start"), type="primary", icon="▶️", width="stretch", key="train.start",
                  disabled=bool(problems) or mine is not None, on_click=start_run,
                  args=(owner, dict(spec=spec, preset=preset_name, dataset=ss[K.DATASET], **fields)))
    c2.text_input(t("train.nickname"), key=K.NICKNAME, max_chars=jobs.MAX_NICKNAME,
                  placeholder=t("train.nickname_placeholder"), help=t("train.nickname_help"),
                  label_visibility="collapsed", **PERSIST)
    if mine is None and not problems:
        c3.caption(what_will_happen(owner, config, data))
    else:
        c3.caption(t("train.start_hint"))
    msg = ss.pop(K.START_MSG, None)  # shown once, right after pressing Start
    if msg:
        (st.warning if msg[0] == "warning" else st.error)(msg[1])
    code_panel(config)


def code_panel(config: TrainConfig | None) -> None:
    """The form's run as a self-contained PyTorch script (core.codegen) to read or download."""
    with st.expander(t("export.title"), key="train-code"):
        try:
            script = training_script(config) if config is not None else None
        except (ValueError, data_mod.DataError):  # ConfigError, SpecError, LimitError: nothing to export
            script = None
        if script is None:
            st.caption(t("export.unavailable"))
            return
        name = script_file_name(config)
        st.caption(t("export.intro"))
        st.caption(t("export.run_hint", folder=data_mod.get_info(config.dataset).folder, file=name))
        st.download_button(t("export.download", file=name), script, file_name=name, mime="text/x-python",
                           on_click="ignore", icon=":material/download:", key="train.code_download")
        st.code(script, language="python", height=480)


# --------------------------------------------------------------------------- ② train (live)

def live_tab(owner: str) -> None:
    job = current_job(owner)
    if job is None:
        st.info(t("train.no_run"), icon="👈")
        return
    polling = job.active
    st.fragment(run_every=1.0 if polling else None)(guarded(live_panel))(owner, job.id, polling)


def live_panel(owner: str, job_id: str, polling: bool) -> None:
    job = manager.get(job_id, owner)
    if job is None:
        st.info(t("train.no_run"))
        return
    if polling and not job.active:
        st.rerun()  # over: redraw the whole page once (results, no more polling)
    head, stop_col = st.columns([5, 1], vertical_alignment="center")
    head.markdown(f"#### {run_label(job)}")
    if job.state == jobs.QUEUED:
        stop_col.button(t("train.cancel"), icon="✖️", key="train.cancel", width="stretch",
                        on_click=manager.cancel, args=(job.id, owner), help=t("train.cancel_help"))
    elif job.state in (jobs.STARTING, jobs.RUNNING):
        stop_col.button(t("train.stop"), icon="⏹️", key="train.stop", width="stretch",
                        on_click=manager.stop, args=(job.id, owner), help=t("train.stop_help"))
    if job.state == jobs.CANCELLED:
        st.info(t("train.cancelled"), icon="✖️")
        return
    run_view(job, manager.status(job), after_outcome=results_button)
    watch_link(job)


def results_button() -> None:
    if st.button(t("train.see_results"), icon="📊", key="train.goto_results"):
        goto_tab(2)
        st.rerun(scope="app")  # the tabs live outside this fragment


def watch_link(job: jobs.Job) -> None:
    """The run's read-only watch link, to share with a friend or put on a projector."""
    with st.container(key=WATCH_LINK_KEY):
        st.caption(t("train.watch_link"))
        st.code(watch_url(job), language=None)


def run_view(job, status: jobs.JobStatus, after_outcome=None) -> None:
    """Where a run stands (queue, progress, outcome), its curves and feature maps. Shared by the
    owner's live tab and the read-only watch view: nothing here changes the run."""
    p = job.progress()
    if job.state == jobs.QUEUED:
        st.info(t("train.queued", pos=ordinal(status.position), waiting=status.waiting,
                  start=when(status.seconds_to_start, status.start_at),
                  finish=when(status.seconds_to_finish, status.finish_at)), icon="🕒")
        st.caption(t("train.queued_hint"))
        return
    if job.state == jobs.STARTING or (job.state == jobs.RUNNING and p.total_steps == 0):
        st.progress(0.0, text=t("train.preparing"))
    elif job.state == jobs.RUNNING and p.step == 0:
        st.progress(0.0, text=t("train.first_steps", steps=f"{p.total_steps:,}"))
    elif job.state == jobs.RUNNING and p.steps_done:
        st.progress(1.0, text=t("train.final_test", total=f"{p.total_steps:,}"))  # no "0 s left" while testing
    elif job.state == jobs.RUNNING:
        st.progress(p.fraction, text=t("train.progress", epoch=p.epoch, epochs=p.epochs, step=f"{p.step:,}",
                                       total=f"{p.total_steps:,}",
                                       ips="…" if p.images_per_second is None else f"{p.images_per_second:,.0f}",
                                       left=fmt_seconds(p.seconds_left)))
    elif job.state in (jobs.STOPPING, jobs.STOPPED):
        st.progress(p.fraction, text=t("train.stopping", step=f"{p.step:,}"))
        st.info(t("train.stopped_evaluating"), icon="⏳")
    elif job.state == jobs.FAILED:
        st.error(t("train.failed", reason=job.error), icon="💥")
    elif job.state == jobs.CANCELLED:
        st.info(t("train.cancelled"), icon="✖️")
        return
    else:
        m = job.metrics()
        key = "train.finished_stopped" if job.stopped else "train.finished"
        st.success(t(key, acc=pct(m.get("test_accuracy"), 2), steps=f"{m.get('steps', 0):,}",
                     time=fmt_seconds(m.get("train_seconds"))), icon="🎉")
        if after_outcome is not None:
            after_outcome()
    c = metrics.curves(job.events())
    left, right = st.columns(2)
    left.plotly_chart(loss_figure(c, p.total_steps, t), config=PLOT_CONFIG, key="train.loss_chart")
    right.plotly_chart(accuracy_figure(c, p.total_steps, t), config=PLOT_CONFIG, key="train.acc_chart")
    feature_maps(job)


def feature_maps(job) -> None:
    snaps = job.snapshots()
    st.subheader(t("train.fm_title"))
    if not snaps:
        st.caption(t("train.fm_waiting"))
        return
    epochs = [s.epoch for s in snaps]
    # Follow the newest epoch unless the learner has moved the slider back.
    if K.FM_LAST not in ss or ss.get(K.FM_EPOCH) not in epochs or ss.get(K.FM_EPOCH) == ss[K.FM_LAST]:
        ss[K.FM_EPOCH] = epochs[-1]
    ss[K.FM_LAST] = epochs[-1]
    classes = classes_of(config_of(job)["dataset"])
    true_label = int(job.data.test_labels[job.probe_index])
    st.caption(t("train.fm_caption", label=classes[true_label]))
    img_col, maps_col = st.columns([1, 3])
    with maps_col:
        c1, c2 = st.columns([3, 2])
        if len(epochs) > 1:
            c1.select_slider(t("train.fm_epoch"), epochs, key=K.FM_EPOCH,
                             format_func={e: t("train.fm_epoch_0") if e == 0 else t("train.fm_epoch_n", n=e)
                                          for e in epochs}.get,
                             help=t("train.fm_epoch_help"), **PERSIST)
        else:
            c1.markdown(t("train.fm_only_before"))
        snap = snaps[epochs.index(ss[K.FM_EPOCH])]
        names = [layer.name for layer in snap.layers]
        if ss.get(K.FM_LAYER) not in names:
            ss[K.FM_LAYER] = names[0]
        c2.selectbox(t("train.fm_layer"), names, key=K.FM_LAYER, help=t("train.fm_layer_help"),
                     format_func={name: localize_label(name, lang()) for name in names}.get, **PERSIST)
        layer = snap.layers[names.index(ss[K.FM_LAYER])]
        st.plotly_chart(maps_figure(layer.maps), config=PLOT_CONFIG, key="train.maps_chart")
        st.caption(t("train.fm_grid_caption", n=layer.maps.shape[0], h=layer.maps.shape[1],
                     w=layer.maps.shape[2]))
    with img_col:
        st.image(upscale(job.data.test_images[job.probe_index].numpy(), 6),
                 caption=t("train.probe_caption", index=job.probe_index, label=classes[true_label]))
        st.plotly_chart(probability_figure(snap.probabilities, classes, true_label, t), config=PLOT_CONFIG,
                        key="train.probe_chart")


def upscale(img: np.ndarray, k: int) -> np.ndarray:
    return np.kron(img, np.ones((k, k), dtype=img.dtype))


def goto_tab(i: int) -> None:
    ss[K.TAB_IDX] = i


def tab_labels() -> list[str]:
    return [t("train.tab_setup"), t("train.tab_live"), t("train.tab_results"), t("train.tab_compare")]


def remember_tab() -> None:
    """Keep the open tab as an index, so it survives a language switch and can be set in code."""
    labels = tab_labels()
    if ss.get(K.TAB) in labels:
        ss[K.TAB_IDX] = labels.index(ss[K.TAB])


def watcher(owner: str, job_id: str) -> None:
    """While a run is active and its live tab is hidden, rerun the page once it ends."""
    job = manager.get(job_id, owner)
    if job is None or not job.active:
        st.rerun()


# --------------------------------------------------------------------------- ③ results

def results_tab(owner: str) -> None:
    finished = [j for j in manager.jobs(owner) if not j.active and j.result is not None]
    if not finished:
        job = current_job(owner)
        st.info(t("train.results_wait") if job is not None and job.active else t("train.results_none"),
                icon="⏳" if job is not None and job.active else "👈")
        return
    ids = [j.id for j in finished]
    cur = ss.get(K.RUN)
    if ss.get(K.RESULT_RUN) not in ids:
        ss[K.RESULT_RUN] = cur if cur in ids else ids[-1]
    by_id = {j.id: j for j in finished}
    st.columns([1, 1])[0].selectbox(t("train.result_run"), ids[::-1], key=K.RESULT_RUN,
                                    format_func={i: run_label(j) for i, j in by_id.items()}.get, **PERSIST)
    job = by_id[ss[K.RESULT_RUN]]
    results_body(job, owner)
    watch_link(job)
    keep_model(owner, job)
    share_model(owner, job)


def results_body(job, owner: str | None) -> None:
    """Metrics, confusion matrix, per-class accuracy, calibration and mistakes of a finished run
    (owner None: a watch link's read-only view)."""
    r, m, cfg = job.result, job.metrics(), config_of(job)
    classes = classes_of(cfg["dataset"])
    c = st.columns(5)
    c[0].metric(t("train.m_test_acc"), pct(r.accuracy, 2))
    c[1].metric(t("train.m_test_loss"), f"{r.loss:.4f}")
    c[2].metric(t("train.m_mistakes", n=f"{r.n:,}"), f"{len(r.wrong_indices):,}")
    c[3].metric(t("train.m_epochs_stopped") if job.stopped else t("train.m_epochs"),
                f"{m.get('epochs_completed', 0)} / {cfg['epochs']}")
    c[4].metric(t("train.m_time"), fmt_seconds(m.get("train_seconds")),
                help=t("train.m_time_help", ips=f"{m.get('images_per_second', 0):,.0f}"))
    left, right = st.columns([6, 5])
    cell = (ss.get(K.CELL_TRUE), ss.get(K.CELL_PRED))
    with left:
        st.markdown(t("train.confusion_title"))
        st.plotly_chart(confusion_figure(r.confusion, classes, t, selected=cell if None not in cell else None),
                        config=PLOT_CONFIG, key=K.CONFUSION, on_select=lambda: select_cell(len(classes)),
                        selection_mode="points")
        st.caption(t("train.confusion_caption"))
    right.plotly_chart(per_class_figure(r.per_class_accuracy, classes, t), config=PLOT_CONFIG,
                       key="train.per_class")
    cell_images(job, classes, owner)
    reliability(m.get("calibration"))
    random_samples(job, classes)
    mistakes(job, classes, owner)


def select_cell(n_classes: int) -> None:
    """on_select of the confusion matrix: the clicked cell's classes go into the cell pickers."""
    k = clicked_marker(ss.get(K.CONFUSION))
    if k is not None and 0 <= k < n_classes * n_classes:
        ss[K.CELL_TRUE], ss[K.CELL_PRED] = confusion_cell(k, n_classes)


def predictions_of(job) -> tuple[np.ndarray, np.ndarray]:
    """Every test image's predicted class (exactly as the confusion matrix counted them) and the
    probability the model gave it (temperature-scaled, as the Predict page shows it)."""
    r = job.result
    predicted = test_samples.evaluation_predictions(r.labels, r.wrong_indices, r.wrong_predicted)
    temperature = calibration.temperature_from_meta(job.metrics())
    return predicted, test_samples.confidence_of_predictions(r.logits, predicted, temperature)


def cell_images(job, classes, owner: str | None) -> None:
    """The test images of one (true, predicted) cell: clicked in the matrix or chosen with the
    two pickers (which also serve keyboards and screen readers)."""
    r = job.result
    if r.logits is None or r.labels is None:
        return
    options = [None] + list(range(len(classes)))
    fmt = {k: t("samples.cell_none") if k is None else str(classes[k]) for k in options}.get
    st.markdown(f"**{t('samples.cell_title')}**")
    c1, c2, c3 = st.columns([1, 1, 3], vertical_alignment="bottom")
    none = t("samples.cell_none")  # Streamlit shows None as an empty choice with this placeholder
    true_c = c1.selectbox(t("samples.cell_true"), options, key=K.CELL_TRUE, format_func=fmt,
                          placeholder=none, **PERSIST)
    pred_c = c2.selectbox(t("samples.cell_pred"), options, key=K.CELL_PRED, format_func=fmt,
                          placeholder=none, **PERSIST)
    if true_c is None or pred_c is None:
        c3.caption(t("samples.cell_hint"))
        return
    predicted, confidence = predictions_of(job)
    listing = test_samples.cell_listing(r.labels, predicted, confidence, true_c, pred_c)
    names = dict(true=classes[true_c], pred=classes[pred_c])
    if listing.total == 0:
        c3.info(t("samples.cell_empty", **names))
        return
    text = t("samples.cell_right" if listing.correct else "samples.cell_wrong", n=f"{listing.total:,}",
             shown=len(listing.indices), **names)
    c3.caption(text + (" " + t("samples.cell_open") if owner is not None else ""))
    image_tiles(job, listing.indices, [true_c] * len(listing.indices), [pred_c] * len(listing.indices),
                listing.confidence, classes, owner, "train.cell")


def image_tiles(job, indices, true, predicted, confidence, classes, owner: str | None, key: str) -> None:
    """Test images as bordered tiles, GALLERY_COLUMNS to a row: "true → predicted, n% sure",
    and for the owner (not a watcher) a 🔍 button that opens the image in Predict with this model."""
    for start in range(0, len(indices), GALLERY_COLUMNS):
        cols = st.columns(GALLERY_COLUMNS)
        for j, col in enumerate(cols[:len(indices) - start]):
            k = start + j
            idx = int(indices[k])
            with col.container(border=True):
                st.image(upscale(job.data.test_images[idx].numpy(), 3), width="stretch")
                st.markdown(t("train.tile", true=classes[true[k]], pred=classes[predicted[k]],
                              conf=f"{100 * confidence[k]:.0f}"))
                if owner is not None and st.button(
                        t("train.open_predict"), key=f"{key}.{job.id}.{idx}", type="tertiary",
                        icon="🔍", help=t("train.open_predict_help", index=idx)):
                    open_in_predict(owner, job, idx)


def reshuffle_samples() -> None:
    ss[K.SAMPLES_SEED] = ss.get(K.SAMPLES_SEED, 0) + 1


def random_samples(job, classes) -> None:
    """Tutorial 003's last step: random test images with the predicted and the true label (from
    the run's final test evaluation, so they agree with the matrix above)."""
    r = job.result
    if r.logits is None or r.labels is None or r.n == 0:
        return
    st.subheader(t("samples.title"))
    ss.setdefault(K.SAMPLES_N, test_samples.DEFAULT_COUNT)
    c1, c2, c3 = st.columns([1, 1, 3], vertical_alignment="bottom")
    count = c1.segmented_control(t("samples.count"), test_samples.SAMPLE_COUNTS, key=K.SAMPLES_N, required=True,
                                 help=t("samples.count_help"), **PERSIST)
    c2.button(t("samples.reshuffle"), icon="🔀", key="train.reshuffle", on_click=reshuffle_samples,
              help=t("samples.reshuffle_help"))
    # the predictions alone: from_logits works out the drawn images' confidences itself
    predicted = test_samples.evaluation_predictions(r.labels, r.wrong_indices, r.wrong_predicted)
    temperature = calibration.temperature_from_meta(job.metrics())
    indices = test_samples.draw_indices(r.n, int(count), ss.get(K.SAMPLES_SEED, 0))
    drawn = test_samples.from_logits(r.logits, r.labels, indices, temperature, predicted)
    c3.caption(t("samples.score", right=int(drawn.correct.sum()), n=len(drawn)))
    images = job.data.test_images.numpy()[drawn.indices]
    st.plotly_chart(samples_figure(images, drawn, classes, t, columns=SAMPLE_COLUMNS,
                                   width_px=SAMPLE_TILE_PX * min(len(drawn), SAMPLE_COLUMNS)),
                    config=PLOT_CONFIG, key="train.samples", width="content")
    st.caption(t("samples.caption"))


def reliability(record: dict | None) -> None:
    """The run's reliability diagram (confidence against accuracy on the test set, raw and after
    temperature scaling), with one line on how to read it."""
    bins = calibration.bins_from_record(record)
    st.markdown(f"**{t('train.calib_title')}**")
    if bins is None:
        st.caption(t("train.calib_none"))
        return
    calibrated, raw = bins
    left, right = st.columns([6, 5], vertical_alignment="center")
    fitted = bool(record.get("fitted"))
    fig = calibration.reliability_figure(calibrated, raw if fitted else None, lang())
    fig.update_layout(title=None)
    left.plotly_chart(fig, config=PLOT_CONFIG, key="train.reliability")
    with right:
        st.markdown(t("train.calib_explain"))
        if fitted:
            st.caption(t("train.calib_summary", t=f"{record['temperature']:.3g}", n=f"{record.get('holdout', 0):,}",
                         before=f"{100 * record['test_ece_raw']:.2f}",
                         after=f"{100 * record['test_ece_calibrated']:.2f}"))
        else:
            st.caption(t("train.calib_none"))


def mistakes(job, classes, owner: str | None) -> None:
    """The misclassified test images, most confident first; the owner (not a watcher) can open
    one in the Predict page with this run's model."""
    r = job.result
    st.subheader(t("train.gallery_title"))
    if len(r.wrong_indices) == 0:
        st.success(t("train.gallery_none"))
        return
    options = [None] + list(range(len(classes)))
    names = {k: t("train.any_class") if k is None else str(classes[k]) for k in options}
    fmt = names.get
    f1, f2, f3 = st.columns([1, 1, 2], vertical_alignment="bottom")
    # None ("any") is also what Streamlit shows as an empty choice, with its own English
    # placeholder: give it ours.
    any_class = t("train.any_class")
    true_f = f1.selectbox(t("train.filter_true"), options, key=K.WRONG_TRUE, format_func=fmt,
                          placeholder=any_class, **PERSIST)
    pred_f = f2.selectbox(t("train.filter_pred"), options, key=K.WRONG_PRED, format_func=fmt,
                          placeholder=any_class, **PERSIST)
    true = job.data.test_labels.numpy()
    temperature = calibration.temperature_from_meta(job.metrics())
    confidence = r.wrong_confidence_at(temperature)  # as the Predict page shows probabilities
    order = np.argsort(-confidence, kind="stable")
    picked = [k for k in order if (true_f is None or true[r.wrong_indices[k]] == true_f)
              and (pred_f is None or r.wrong_predicted[k] == pred_f)]
    f3.caption(t("train.gallery_caption" if owner else "train.gallery_caption_watch", shown=min(len(picked), GALLERY_SIZE), n=len(picked)))
    if not picked:
        st.info(t("train.gallery_empty_filter"))
        return
    shown = [int(k) for k in picked[:GALLERY_SIZE]]
    image_tiles(job, r.wrong_indices[shown], true[r.wrong_indices[shown]], r.wrong_predicted[shown],
                confidence[shown], classes, owner, "train.wrong")


def open_in_predict(owner: str, job: jobs.Job, test_index: int) -> None:
    """The Predict page with this run's model (the saved one, else the run itself) and one image."""
    saved = ss.get(K.SAVED, {}).get(job.id)  # "own:<stem>" once saved into the workspace
    ss[PREDICT_REQUEST] = {"model": saved or run_ref(job.id), "test_index": int(test_index)}
    routes.switch_to("predict")


def usage_line(ws) -> str:
    u = ws.usage()
    return t("train.ws_usage", models=u.models, max_models=u.max_models if u.max_models is not None else "∞",
             size=format_bytes(u.bytes), max_size=format_bytes(u.max_bytes) if u.max_bytes is not None else "∞")


def keep_model(owner: str, job: jobs.Job) -> None:
    """Save the run's model into the visitor's private workspace (never a shared folder, never
    under the name of a model that ships with CNN Lab), or download it."""
    ws = session.workspace()
    st.subheader(t("train.keep_title"))
    m = job.metrics()
    default = f"{job.config.dataset}-{job.preset or 'custom'}-{100 * m.get('test_accuracy', 0):.1f}"
    ss.setdefault(K.save_name(job.id), default)
    c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
    name = c1.text_input(t("train.save_name"), key=K.save_name(job.id), help=t("train.save_name_help"), max_chars=80)
    try:
        stem = ws.stem_for(name)
    except WorkspaceError as e:  # the name of a bundled model
        c2.error(translated(e))
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
        try:
            entry = ws.save(name.strip(), job.model, job.checkpoint_metadata(name.strip()), overwrite=overwrite)
        except CheckpointExistsError:
            st.warning(t("train.exists_now", file=stem))
        except (WorkspaceError, LimitError) as e:   # quota (models or bytes), bundled name
            st.error(translated(e))
        except (OSError, CheckpointError):
            log.exception("saving a model into workspace %s failed", ws.id)
            st.error(t("train.save_failed"))
        else:
            ss.setdefault(K.SAVED, {})[job.id] = entry.ref
            ss.pop(K.overwrite(job.id), None)
            saved_here = True
            st.success(t("train.saved", file=stem))
    elif exists and not overwrite and not saved_here:
        st.warning(t("train.exists", file=stem), icon="⚠️")
    name_note.caption(t("train.saved_as" if saved_here else "train.save_as", file=stem))
    usage.caption(usage_line(ws))
    if ss.get(K.SAVED, {}).get(job.id):
        if st.button(t("train.goto_predict"), icon="✍️", key=f"train.goto_predict.{job.id}"):
            routes.switch_to("predict")
    b2.download_button(t("train.download_ckpt"), data=lambda: to_bytes(job.model, job.checkpoint_metadata(name)),
                       file_name=f"{stem}.safetensors", mime="application/octet-stream", icon="⬇️",
                       on_click="ignore", key=f"train.dl_ckpt.{job.id}", width="stretch")
    b3.download_button(t("train.download_csv"), data=lambda: metrics.history_csv(job.events()),
                       file_name=f"{stem}-metrics.csv", mime="text/csv", icon="📈", on_click="ignore",
                       key=f"train.dl_csv.{job.id}", width="stretch")


def share_model(owner: str, job: jobs.Job) -> None:
    """Publish the run's model to the class gallery under a nickname (everyone's Predict page
    lists it, read-only); the nickname also labels the run on the teacher's board. Lists this
    visitor's own gallery entries with a remove button."""
    st.subheader(t("train.share_title"))
    st.caption(t("train.share_caption"))
    nick_key = K.publish_nick(job.id)
    ss.setdefault(nick_key, job.nickname or ss.get(K.NICKNAME) or "")
    c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
    nickname = c1.text_input(t("train.nickname"), key=nick_key, max_chars=jobs.MAX_NICKNAME,
                             help=t("train.nickname_help"))
    if c2.button(t("train.publish"), icon="📣", key=f"train.publish.{job.id}"):
        name = ss.get(K.save_name(job.id)) or run_label(job)
        try:
            entry = class_gallery.publish(job.model, job.checkpoint_metadata(name), nickname, publisher=owner)
        except GalleryError as e:
            st.error(translated(e))
        except (OSError, CheckpointError):
            log.exception("publishing a model to the class gallery failed")
            st.error(t("train.share_failed"))
        else:
            manager.set_nickname(job.id, owner, entry.nickname)
            st.success(t("train.shared", nickname=entry.nickname))
    mine = [e for e in class_gallery.list_entries() if e.publisher == owner]
    if mine:
        st.markdown(t("train.share_mine"))
    for e in mine:
        a, b = st.columns([4, 1], vertical_alignment="center")
        a.markdown(t("train.share_entry", name=e.name, nickname=e.nickname, acc=pct(e.test_accuracy, 2)))
        if b.button(t("train.unpublish"), icon="🗑️", key=f"train.unpublish.{e.id}"):
            try:
                class_gallery.remove(e.id, publisher=owner)
            except GalleryError as err:
                st.error(translated(err))
            st.rerun()


# --------------------------------------------------------------------------- ④ compare

def compare_tab(owner: str) -> None:
    sources: dict[str, dict] = {}
    for job in manager.jobs(owner):
        events = job.events()
        if any(e.get("event") == "step" for e in events):
            sources[f"run:{job.id}"] = dict(label=run_label(job), events=events, config=job.config.to_dict(),
                                            metrics=job.metrics(), source=t("train.src_session"))
    for entry in session.workspace().list_models():  # bundled ones and this visitor's, nobody else's
        meta = entry.meta
        if meta.get("history"):
            acc = (meta.get("metrics") or {}).get("test_accuracy")
            label = f"💾 {entry.name}" + (f" · {pct(acc)}" if acc is not None else "")
            sources[f"model:{entry.ref}"] = dict(label=label, events=meta["history"], config=meta.get("config", {}),
                                           metrics=meta.get("metrics", {}), source=t("train.src_saved"),
                                           dataset=meta.get("dataset"))
    if not sources:
        st.info(t("train.compare_none"), icon="👈")
        return
    keys = list(sources)
    if K.COMPARE not in ss:
        ss[K.COMPARE] = [k for k in keys if k.startswith("run:")][-6:] or keys[:2]
    ss[K.COMPARE] = [k for k in ss[K.COMPARE] if k in sources]
    c1, c2 = st.columns([3, 2])
    chosen = c1.multiselect(t("train.compare_pick"), keys, key=K.COMPARE,
                            format_func={k: v["label"] for k, v in sources.items()}.get, help=t("train.compare_pick_help"), **PERSIST)
    if K.COMPARE_METRIC not in ss:
        ss[K.COMPARE_METRIC] = default_compare_metric([sources[k]["events"] for k in ss[K.COMPARE]])
    metric = c2.radio(t("train.compare_metric"), COMPARE_METRICS, key=K.COMPARE_METRIC, horizontal=True,
                      format_func={k: t(f"train.cmp_{k}") for k in COMPARE_METRICS}.get, **PERSIST)
    if not chosen:
        st.caption(t("train.compare_empty"))
        return
    fig = compare_figure([(sources[k]["label"], sources[k]["events"]) for k in chosen], metric, t)
    st.plotly_chart(fig, config=PLOT_CONFIG, key="train.compare_chart")
    columns = {}
    for k in chosen:
        src = sources[k]
        cfg, m = src["config"], src["metrics"]
        spec = cfg.get("spec") or []
        try:
            params = f"{summary(spec, num_classes=None).total_params:,}"
        except (SpecError, TypeError, KeyError):
            params = "—"
        dataset = cfg.get("dataset", src.get("dataset"))
        columns[src["label"]] = {
            t("train.col_source"): src["source"],
            t("train.dataset"): data_mod.DATASETS[dataset].title if dataset in data_mod.DATASETS else "—",
            t("train.col_arch"): cfg.get("preset") or t("train.custom"), t("train.col_params"): params,
            t("train.optimizer"): t(f"train.opt_{cfg['optimizer']}") if cfg.get("optimizer") in OPTIMIZERS else "—",
            t("train.lr"): f"{cfg['lr']:g}" if isinstance(cfg.get("lr"), (int, float)) else "—",
            t("train.batch"): str(cfg.get("batch_size", "—")), t("train.epochs"): str(cfg.get("epochs", "—")),
            t("train.scheduler"): t(f"train.sched_{cfg['scheduler']}") if cfg.get("scheduler") in SCHEDULERS else "—",
            t("train.augment"): "✓" if cfg.get("augment") else "—",
            t("train.fraction"): f"{100 * cfg.get('fraction', 1):g}%", t("train.seed"): str(cfg.get("seed", "—")),
            t("train.m_test_acc"): pct(m.get("test_accuracy"), 2),
            t("train.m_time"): fmt_seconds(m.get("train_seconds")) if m.get("train_seconds") else "—",
        }
    st.markdown(t("train.settings_title"))
    frame = pd.DataFrame(columns)
    st.dataframe(frame, width="stretch", height=ROW_PX * (len(frame) + 1) + 3, row_height=ROW_PX)



# --------------------------------------------------------------------------- watch link (read-only)

def watch_page(token: str) -> None:
    """?watch=<token>: one run's curves, progress and results, read-only. Nothing here can stop
    the run, save or use its model, or reach any other run."""
    st.title(t("train.title"))
    view = manager.watch(token)
    if view is None:
        st.warning(t("train.watch_unknown"), icon="🔗")
        own_page_link()
        return
    polling = view.active
    st.fragment(run_every=1.0 if polling else None)(guarded(watch_panel))(token, polling)
    own_page_link()


def own_page_link() -> None:
    """Leave the watch view for one's own Train page, in this same session (a link to /train
    would start a new session, without this visitor's workspace)."""
    st.button(t("train.watch_own"), icon="🏋️", key="train.leave_watch", on_click=leave_watch)


def leave_watch() -> None:
    st.query_params.pop(WATCH_PARAM, None)


def watch_panel(token: str, polling: bool) -> None:
    view = manager.watch(token)
    if view is None:  # forgotten by the server (old runs are pruned)
        st.warning(t("train.watch_unknown"), icon="🔗")
        return
    if polling and not view.active:
        st.rerun()  # over: redraw once with the results, then stop polling
    who = t("train.watch_by", nickname=view.nickname) if view.nickname else ""
    st.markdown(f"#### {run_label(view)}{who}")
    st.caption(t("train.watch_read_only"))
    run_view(view, view.status())
    if view.result is not None and not view.active:
        st.divider()
        st.subheader(t("train.tab_results"))
        results_body(view, owner=None)


# --------------------------------------------------------------------------- page

def own_page() -> None:
    owner = session.owner()
    init_form()
    publish_finished_runs(owner)
    st.title(t("train.title"))
    st.markdown(t("train.intro"))
    st.caption(t("train.private_hint"))

    job = current_job(owner)
    labels = tab_labels()
    idx = ss.get(K.TAB_IDX, 0)
    ss[K.TAB] = labels[idx if 0 <= idx < len(labels) else 0]
    tabs = st.tabs(labels, key=K.TAB, on_change=remember_tab)
    for tab, draw in zip(tabs, (setup_tab, live_tab, results_tab, compare_tab)):
        with tab:
            if tab.open:  # only the open tab's body runs
                draw(owner)
    if job is not None and job.active and not tabs[1].open:
        st.fragment(run_every=1.0)(guarded(watcher))(owner, job.id)


watch_token = st.query_params.get(WATCH_PARAM)
if watch_token is not None:
    watch_page(watch_token)
else:
    own_page()
