"""Train page: set up a run, watch it learn live, inspect and keep the model, compare runs.

Layout and widgets only. Training runs in core.jobs (a background thread per run, one
JobManager per server process kept in st.cache_resource); this page polls it once a second
with a fragment, and only while a run is active. The current run's id lives in the session and
in the URL (?run=…), so switching pages or reloading comes back to the live view.
"""
from __future__ import annotations

import math
import secrets

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import core.data as data_mod
from core import jobs, metrics
from core.checkpoint import (CheckpointError, CheckpointExistsError, checkpoint_dir, from_model,
                             list_checkpoints, sanitize_name, save_checkpoint, to_bytes)
from core.features import grid_columns, scale_maps, tile_maps
from core.jobs import JobLimitError, JobManager
from core.models import LAYER_PARAMS, PRESETS, DEFAULT_PRESET, SpecError, summary, validate
from core.train import OPTIMIZERS, SCHEDULERS, ConfigError, TrainConfig, check_config
from pages.ui import PREDICT_REQUEST, SESSION_MODELS, cached_dataset, ensure_app_shell, job_manager, t

ensure_app_shell()
# --------------------------------------------------------------------------- session keys
K_OWNER, K_RUN, K_TAB, K_TAB_IDX = "train.owner", "train.run", "train.tab", "train.tab_idx"
K_LAYERS, K_EDITOR_V, K_PRESET = "train.layers", "train.editor_v", "train.preset"
K_DATASET, K_OPT, K_LR, K_BATCH = "train.dataset", "train.optimizer", "train.lr", "train.batch"
K_EPOCHS, K_SCHED, K_AUG, K_FRACTION = "train.epochs", "train.scheduler", "train.augment", "train.fraction"
K_SEED, K_WD, K_LS, K_MOMENTUM = "train.seed", "train.weight_decay", "train.label_smoothing", "train.momentum"
K_START_MSG, K_DL_FAILED, K_PUBLISHED = "train.start_msg", "train.download_failed", "train.published"
K_SAVED, K_RESULT_RUN, K_FM_EPOCH, K_FM_LAYER = "train.saved", "train.result_run", "train.fm_epoch", "train.fm_layer"
K_FM_LAST, K_WRONG_TRUE, K_WRONG_PRED = "train.fm_last", "train.wrong_true", "train.wrong_pred"
K_COMPARE, K_COMPARE_METRIC = "train.compare", "train.compare_metric"
K_LAYERS_DRAFT = "train.layers_draft"
KEEP = (K_DATASET, K_PRESET, K_OPT, K_LR, K_BATCH, K_EPOCHS, K_SCHED, K_AUG, K_FRACTION, K_SEED, K_WD,
        K_LS, K_MOMENTUM, K_RESULT_RUN, K_WRONG_TRUE, K_WRONG_PRED, K_COMPARE, K_COMPARE_METRIC,
        K_FM_LAYER, K_FM_EPOCH)

PARAM_COLUMNS = ("out", "kernel", "stride", "padding", "p")
NEW_LAYER = {"conv": {"out": 16, "kernel": 3, "stride": 1, "padding": 1}, "linear": {"out": 10},
             "maxpool": {"kernel": 2, "stride": 2}, "avgpool": {"kernel": 2, "stride": 2},
             "dropout": {"p": 0.25}}
BATCH_SIZES = (16, 32, 64, 100, 128, 256, 512)
FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
GALLERY_SIZE, GALLERY_COLUMNS = 24, 8
ROW_PX = 35
PLOT_CONFIG = {"displayModeBar": False}
BLUE, RED, GREY = "#4C78A8", "#E45756", "#9D9D9D"
PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#EECA3B",
           "#FF9DA6", "#9D755D", "#BAB0AC")
ss = st.session_state


manager: JobManager = job_manager()  # one per server process (st.cache_resource)


# --------------------------------------------------------------------------- small helpers

def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return t("train.time_unknown")
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return t("train.time_s", s=seconds)
    if seconds < 3600:
        return t("train.time_m", m=seconds // 60, s=seconds % 60)
    return t("train.time_h", h=seconds // 3600, m=seconds % 3600 // 60)


def pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{100 * x:.{digits}f}%"


def classes_of(dataset: str) -> tuple[str, ...]:
    return data_mod.DATASETS[dataset].classes


def run_label(job: jobs.Job) -> str:
    arch = job.preset or t("train.custom")
    acc = job.metrics().get("test_accuracy")
    base = t("train.run_label", n=job.number, arch=arch, dataset=data_mod.DATASETS[job.config.dataset].title)
    return f"{base} · {pct(acc)}" if acc is not None else base


def blank(v) -> bool:
    """An empty table cell: None, NaN or pandas' NA."""
    try:
        return v is None or bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------- owner and run id

def ensure_owner() -> str:
    """A random id per browser session; a reload with ?run=<id> of an existing run reclaims it."""
    if K_OWNER not in ss:
        run_id = st.query_params.get("run")
        claimed = manager.owner_of(run_id) if run_id else None
        ss[K_OWNER] = claimed or secrets.token_urlsafe(16)
        if claimed:
            ss[K_RUN] = run_id
            ss[K_TAB_IDX] = 1
    return ss[K_OWNER]


owner = ensure_owner()


def current_job() -> jobs.Job | None:
    job = manager.get(ss.get(K_RUN), owner)
    if job is not None and st.query_params.get("run") != job.id:
        st.query_params["run"] = job.id
    return job


def publish_finished_runs() -> None:
    """Every finished run's model goes into SESSION_MODELS so the Predict page can use it."""
    published = ss.setdefault(K_PUBLISHED, {})
    models = ss.setdefault(SESSION_MODELS, {})
    for job in manager.jobs(owner):
        if job.id in published or job.active or job.state == jobs.FAILED or job.model is None:
            continue
        name = t("train.model_name", n=job.number, arch=job.preset or t("train.custom"),
                 acc=pct(job.metrics().get("test_accuracy")))
        models[name] = from_model(job.model, job.checkpoint_metadata(name))
        published[job.id] = name


# --------------------------------------------------------------------------- layer table <-> spec

def spec_to_rows(spec: list) -> list[dict]:
    rows = []
    for layer in spec:
        row = {"type": layer["type"], **{c: None for c in PARAM_COLUMNS}}
        for name in LAYER_PARAMS[layer["type"]]:
            value = layer.get(name, LAYER_PARAMS[layer["type"]][name])
            if name == "stride" and value is None:
                value = layer.get("kernel")
            row[name] = value
        rows.append(row)
    return rows


def normalized_rows(records: list[dict]) -> list[dict]:
    """Table records as plain Python: blanks (None, NaN, pd.NA) -> None, numbers -> int / float."""
    out = []
    for r in records:
        row = {"type": None if blank(r.get("type")) else r.get("type")}
        for c in PARAM_COLUMNS:
            v = r.get(c)
            row[c] = None if blank(v) else (float(v) if c == "p" else int(v))
        out.append(row)
    return out


def canonical_rows(rows: list[dict]) -> list[dict]:
    """Rows with the parameters that don't apply to a layer's type blanked and the missing ones
    of a newly chosen type filled with sensible defaults (a row without a type is kept as is)."""
    out = []
    for row in normalized_rows(rows):
        kind = row["type"]
        clean = dict(row) if kind is None else {"type": kind, **{c: None for c in PARAM_COLUMNS}}
        if kind in LAYER_PARAMS:
            defaults = {**{k: v for k, v in LAYER_PARAMS[kind].items() if v is not None},
                        **NEW_LAYER.get(kind, {})}
            for name in LAYER_PARAMS[kind]:
                value = row[name]
                clean[name] = defaults.get(name) if value is None else value
        out.append(clean)
    return out


def rows_to_spec(rows: list[dict]) -> list[dict]:
    """The spec the table describes; a row without a type is explained (translated)."""
    spec = []
    for i, row in enumerate(rows):
        if row["type"] is None:
            raise SpecError(t("train.layer_without_type", n=i + 1))
        spec.append({"type": row["type"], **{k: row[k] for k in LAYER_PARAMS[row["type"]]
                                             if row.get(k) is not None}})
    return spec


def apply_editor_state(base: list[dict], state) -> list[dict]:
    """base rows with a data_editor's pending edits (edited, added, deleted rows) applied."""
    state = state or {}
    rows = [dict(r) for r in base]
    for i, change in (state.get("edited_rows") or {}).items():
        if int(i) < len(rows):
            rows[int(i)].update({k: v for k, v in change.items() if k in ("type",) + PARAM_COLUMNS})
    for added in state.get("added_rows") or []:
        rows.append({"type": None, **{c: None for c in PARAM_COLUMNS},
                     **{k: v for k, v in added.items() if k in ("type",) + PARAM_COLUMNS}})
    deleted = {int(i) for i in state.get("deleted_rows") or []}
    return [r for i, r in enumerate(rows) if i not in deleted]


def editor_key() -> str:
    return f"train.layers_editor.{ss[K_EDITOR_V]}"


def set_layers(rows: list[dict]) -> None:
    ss[K_LAYERS] = ss[K_LAYERS_DRAFT] = canonical_rows(rows)
    ss[K_EDITOR_V] = ss.get(K_EDITOR_V, 0) + 1


def move_layer(delta: int) -> None:
    click = ss.get(f"train.move{delta}")
    if not click:
        return
    rows = canonical_rows(apply_editor_state(ss[K_LAYERS], ss.get(editor_key())))
    i = int(click["row"])
    j = i + delta
    if 0 <= i < len(rows) and 0 <= j < len(rows):
        rows[i], rows[j] = rows[j], rows[i]
    set_layers(rows)


def load_preset() -> None:
    """Put the chosen preset's layers and training recipe into the form."""
    preset = PRESETS[ss[K_PRESET]]
    set_layers(spec_to_rows(preset.spec()))
    r = preset.recipe
    ss[K_OPT] = r.get("optimizer", "adam")
    ss[K_LR] = f"{r.get('lr', 1e-3):g}"
    batch = r.get("batch_size", 128)
    ss[K_BATCH] = min(BATCH_SIZES, key=lambda b: abs(b - batch))
    ss[K_EPOCHS] = max(1, min(int(r.get("epochs", 1)), manager.max_epochs))
    ss[K_SCHED] = r.get("scheduler", "none")
    ss[K_AUG] = bool(r.get("augment", False))
    ss[K_WD] = float(r.get("weight_decay", 0.0))
    ss[K_LS] = float(r.get("label_smoothing", 0.0))
    ss[K_MOMENTUM] = float(r.get("momentum", 0.9))


def init_form() -> None:
    """First visit: the default preset on 10% of MNIST. Later visits: keep every choice.

    Streamlit forgets a widget's value in any run that doesn't draw the widget (another tab or
    page is open); writing the values back into session state first keeps them.
    """
    if K_PRESET not in ss:
        ss[K_PRESET] = DEFAULT_PRESET
        ss[K_DATASET] = "mnist"
        ss[K_FRACTION] = 0.1
        ss[K_SEED] = 0
        ss[K_EDITOR_V] = 0
        load_preset()
    for key in KEEP:
        if key in ss:
            ss[key] = ss[key]
    # Pending edits of the layer table live in its widget state, which is dropped the same way:
    # fold the last table the learner saw back into the base rows.
    if editor_key() not in ss and ss.get(K_LAYERS_DRAFT) not in (None, ss[K_LAYERS]):
        set_layers(ss[K_LAYERS_DRAFT])


# --------------------------------------------------------------------------- charts

def style(fig: go.Figure, title: str, x_title: str, y_title: str, height: int = 320) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=15)), height=height,
                      margin=dict(l=10, r=10, t=48, b=10), hovermode="x unified",
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1))
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return fig


def loss_figure(c: metrics.Curves, total_steps: int) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=c.step, y=c.loss, mode="lines", name=t("train.curve_loss_raw"),
                    line=dict(color="rgba(76,120,168,0.35)", width=1))
    fig.add_scatter(x=c.step, y=c.smoothed_loss(), mode="lines", name=t("train.curve_loss_smooth"),
                    line=dict(color=BLUE, width=2.5))
    fig.add_scatter(x=c.epoch_step, y=c.test_loss, mode="lines+markers", name=t("train.curve_test_loss"),
                    line=dict(color=RED, width=1.5, dash="dot"), marker=dict(size=9))
    fig.update_xaxes(range=[0, max(total_steps, 1) * 1.02])
    return style(fig, t("train.chart_loss"), t("train.axis_step"), t("train.axis_loss"))


def accuracy_figure(c: metrics.Curves, total_steps: int) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=c.step, y=c.accuracy, mode="lines", name=t("train.curve_train_acc"),
                    line=dict(color=BLUE, width=2))
    fig.add_scatter(x=c.epoch_step, y=c.test_accuracy, mode="lines+markers",
                    name=t("train.curve_test_acc"), line=dict(color=RED, width=1.5, dash="dot"),
                    marker=dict(size=9))
    fig.update_xaxes(range=[0, max(total_steps, 1) * 1.02])
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
    return style(fig, t("train.chart_accuracy"), t("train.axis_step"), t("train.axis_accuracy"))


def maps_figure(maps: np.ndarray) -> go.Figure:
    maps = np.asarray(maps, dtype=np.float64)
    flat = maps.reshape(maps.shape[0], -1)
    ranges = np.stack([flat.min(1), flat.max(1)], 1)
    ranges[:, 1] = np.where(ranges[:, 1] - ranges[:, 0] < 1e-9, ranges[:, 0] + 1, ranges[:, 1])
    cols = grid_columns(maps.shape[0], 8)
    grid = tile_maps(scale_maps(maps, ranges), cols)
    fig = go.Figure(go.Heatmap(z=grid, colorscale="Viridis", showscale=False, hoverinfo="skip",
                               zmin=0, zmax=1))
    rows = grid.shape[0] / grid.shape[1]
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    fig.update_layout(height=int(90 + 620 * rows), margin=dict(l=0, r=0, t=0, b=0),
                      plot_bgcolor="rgba(0,0,0,0)")
    return fig


def probability_figure(probs: np.ndarray, classes, true_label: int) -> go.Figure:
    colours = [RED if i == int(np.argmax(probs)) and i != true_label else
               (BLUE if i == true_label else GREY) for i in range(len(probs))]
    fig = go.Figure(go.Bar(x=[str(c) for c in classes], y=probs, marker_color=colours,
                           text=[f"{100 * p:.0f}%" if p >= 0.01 else "" for p in probs],
                           textposition="outside", hovertemplate="%{x}: %{y:.1%}<extra></extra>"))
    fig.update_yaxes(range=[0, 1.15], tickformat=".0%", visible=False)
    fig.update_xaxes(type="category")
    fig.update_layout(height=220, margin=dict(l=0, r=0, t=30, b=0),
                      title=dict(text=t("train.probe_probs"), x=0, font=dict(size=13)))
    return fig


def confusion_figure(confusion: np.ndarray, classes) -> go.Figure:
    labels = [str(c) for c in classes]
    fig = go.Figure(go.Heatmap(
        z=np.log1p(confusion), x=labels, y=labels, text=confusion, texttemplate="%{text}",
        colorscale="Blues", showscale=False, xgap=1, ygap=1,
        hovertemplate=t("train.confusion_hover") + "<extra></extra>"))
    fig.update_xaxes(title_text=t("train.axis_predicted"), type="category", side="top")
    fig.update_yaxes(title_text=t("train.axis_true"), type="category", autorange="reversed")
    fig.update_layout(height=460, margin=dict(l=10, r=10, t=60, b=10))
    return fig


def per_class_figure(acc: np.ndarray, classes) -> go.Figure:
    fig = go.Figure(go.Bar(x=[str(c) for c in classes], y=acc, marker_color=BLUE,
                           text=[f"{100 * a:.1f}%" for a in acc], textposition="outside"))
    low = max(0.0, float(np.min(acc)) - 0.1) if len(acc) else 0.0
    fig.update_yaxes(range=[low, 1.04], tickformat=".0%")
    fig.update_xaxes(type="category")
    return style(fig, t("train.per_class_title"), t("train.axis_class"), t("train.axis_accuracy"), 460)


# --------------------------------------------------------------------------- ① set up

def dataset_block():
    """Dataset choice; returns the loaded Dataset or None (with the reason shown)."""
    names = list(data_mod.DATASETS)
    c1, c2 = st.columns([1, 2], vertical_alignment="top")
    name = c1.selectbox(t("train.dataset"), names, key=K_DATASET,
                        format_func=lambda n: data_mod.DATASETS[n].title, help=t("train.dataset_help"))
    info = data_mod.DATASETS[name]
    failed = ss.setdefault(K_DL_FAILED, {})
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
    """Preset picker, layer table, live summary; returns (spec, preset name or None, error)."""
    st.subheader(t("train.arch_title"))
    c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
    c1.selectbox(t("train.preset"), list(PRESETS), key=K_PRESET, on_change=load_preset,
                 help=t("train.preset_help"))
    preset = PRESETS[ss[K_PRESET]]
    c2.info(preset_description(preset), icon="ℹ️")

    left, right = st.columns([6, 4])
    height = ROW_PX * (len(ss[K_LAYERS]) + 2) + 3  # header, rows, the editor's "add row" line
    with left:
        st.markdown(t("train.layers_title"))
        df = pd.DataFrame(ss[K_LAYERS], columns=("type",) + PARAM_COLUMNS)
        for c in ("out", "kernel", "stride", "padding"):
            df[c] = df[c].astype("Int64")
        df["p"] = df["p"].astype("float64")
        df["up"], df["down"] = "↑", "↓"
        df.index = pd.RangeIndex(1, len(df) + 1)
        num = st.column_config.NumberColumn
        edited = st.data_editor(
            df, key=editor_key(), num_rows="dynamic", width="content", hide_index=False, placeholder="",
            height=height, row_height=ROW_PX,
            column_config={
                "_index": st.column_config.NumberColumn("#", width=32),
                "type": st.column_config.SelectboxColumn(t("train.col_type"), options=list(LAYER_PARAMS),
                                                         required=True, help=t("train.col_type_help"), width=100),
                "out": num(t("train.col_out"), min_value=1, max_value=4096, step=1, help=t("train.col_out_help"),
                           width=72),
                "kernel": num(t("train.col_kernel"), min_value=1, max_value=28, step=1,
                              help=t("train.col_kernel_help"), width=72),
                "stride": num(t("train.col_stride"), min_value=1, max_value=28, step=1,
                              help=t("train.col_stride_help"), width=72),
                "padding": num(t("train.col_padding"), min_value=0, max_value=14, step=1,
                               help=t("train.col_padding_help"), width=60),
                "p": num(t("train.col_p"), min_value=0.0, max_value=0.95, step=0.05, format="%.2f",
                         help=t("train.col_p_help"), width=52),
                "up": st.column_config.ButtonColumn(" ", type="tertiary", on_click=move_layer, args=(-1,),
                                                    key="train.move-1", help=t("train.move_up"), width=36),
                "down": st.column_config.ButtonColumn(" ", type="tertiary", on_click=move_layer, args=(1,),
                                                      key="train.move1", help=t("train.move_down"), width=36),
            })
        rows = normalized_rows(edited.to_dict("records"))
        canon = canonical_rows(rows)
        ss[K_LAYERS_DRAFT] = canon
        if canon != rows:
            set_layers(canon)  # a type was chosen or changed: show its parameters, with defaults
            st.rerun()

    spec, error, table = None, None, None
    try:
        spec = rows_to_spec(canon)
        table = summary(spec, num_classes=num_classes)
    except SpecError as e:
        error = str(e)
    with right:
        st.markdown(t("train.layers_help"))
        if table is not None:
            st.success(t("train.totals", params=f"{table.total_params:,}", macs=f"{table.total_mult_adds:,}",
                         flatten=table.flatten_formula or "—"), icon="✅")
        else:
            st.error(t("train.arch_invalid", reason=error), icon="🚫")
        if st.button(t("train.reset_layers"), key="train.reset", icon=":material/restart_alt:"):
            set_layers(spec_to_rows(preset.spec()))
            st.rerun()
    if table is not None:
        st.markdown(t("train.summary_title"))
        st.dataframe(summary_frame(table), hide_index=True, width="stretch", row_height=ROW_PX,
                     height=ROW_PX * (len(table.layers) + 1) + 3,
                     column_config={"#": st.column_config.NumberColumn("#", width=40)})
    chosen = None
    if spec is not None:
        try:
            chosen = preset.name if validate(spec, num_classes=num_classes) == validate(
                preset.spec(), num_classes=num_classes) else None
        except SpecError:
            chosen = None
    return spec, chosen, error


def preset_description(preset) -> str:
    """core's description (the source of truth) unless the catalog translates this preset."""
    key = f"train.preset.{preset.name}"
    text = t(key)
    return preset.description if text == key or ss.get("lang", "en") == "en" else text


def summary_frame(table) -> pd.DataFrame:
    return pd.DataFrame([{
        "#": r.index + 1,
        t("train.sum_layer"): f"{r.name} · {r.description}",
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
        st.selectbox(t("train.optimizer"), OPTIMIZERS, key=K_OPT,
                     format_func={o: t(f"train.opt_{o}") for o in OPTIMIZERS}.get, help=t("train.optimizer_help"))
        lr_text = st.text_input(t("train.lr"), key=K_LR, help=t("train.lr_help"))
    with c2:
        st.select_slider(t("train.batch"), BATCH_SIZES, key=K_BATCH, help=t("train.batch_help"))
        st.number_input(t("train.epochs"), min_value=1, max_value=manager.max_epochs, step=1,
                        key=K_EPOCHS, help=t("train.epochs_help", max=manager.max_epochs))
    with c3:
        st.selectbox(t("train.scheduler"), SCHEDULERS, key=K_SCHED,
                     format_func={s: t(f"train.sched_{s}") for s in SCHEDULERS}.get, help=t("train.scheduler_help"))
        st.toggle(t("train.augment"), key=K_AUG, help=t("train.augment_help"))
    with c4:
        st.select_slider(t("train.fraction"), FRACTIONS, key=K_FRACTION,
                         format_func=lambda f: f"{100 * f:g}%", help=t("train.fraction_help"))
        st.number_input(t("train.seed"), min_value=0, max_value=2**31 - 1, step=1, key=K_SEED,
                        help=t("train.seed_help"))
    with st.expander(t("train.advanced")):
        a1, a2, a3 = st.columns(3)
        a1.number_input(t("train.weight_decay"), min_value=0.0, max_value=0.1, step=1e-4, format="%.4f",
                        key=K_WD, help=t("train.weight_decay_help"))
        a2.slider(t("train.label_smoothing"), 0.0, 0.3, step=0.05, key=K_LS,
                  help=t("train.label_smoothing_help"))
        a3.slider(t("train.momentum"), 0.0, 0.99, step=0.01, key=K_MOMENTUM,
                  help=t("train.momentum_help"), disabled=ss[K_OPT] not in ("sgd", "rmsprop"))
    error = None
    try:
        lr = float(str(lr_text).strip().replace(",", "."))
    except ValueError:
        lr, error = None, t("train.lr_not_number", value=lr_text)
    if lr is not None and not (math.isfinite(lr) and 0 < lr <= 10):
        error = t("train.lr_range", value=lr_text)
    fields = dict(optimizer=ss[K_OPT], lr=lr, batch_size=int(ss[K_BATCH]), epochs=int(ss[K_EPOCHS]),
                  scheduler=ss[K_SCHED], augment=bool(ss[K_AUG]), fraction=float(ss[K_FRACTION]),
                  seed=int(ss[K_SEED]), weight_decay=float(ss[K_WD]), label_smoothing=float(ss[K_LS]),
                  momentum=float(ss[K_MOMENTUM]))
    if n_train:
        images = max(1, int(round(n_train * fields["fraction"])))
        steps = math.ceil(images / fields["batch_size"])
        st.caption(t("train.run_size", images=f"{images:,}", epochs=fields["epochs"],
                     steps=f"{steps * fields['epochs']:,}", batch=fields["batch_size"]))
    return fields, error


def start_run(fields: dict) -> None:
    """Start button callback: start the job or keep the reason to show."""
    ss.pop(K_START_MSG, None)
    try:
        data = cached_dataset(fields["dataset"])
        config = TrainConfig(**fields)
        n = max(1, int(round(len(data.train_labels) * config.fraction)))
        config.log_every = metrics.suggest_log_every(math.ceil(n / config.batch_size) * config.epochs)
        job = manager.start(owner, config, data)
    except JobLimitError as e:
        key = "train.busy_own" if e.own else ("train.busy" if e.seconds_left is not None else "train.busy_soon")
        ss[K_START_MSG] = ("warning", t(key, eta=fmt_seconds(e.seconds_left), max=manager.max_jobs))
    except (ConfigError, SpecError, data_mod.DataError) as e:
        ss[K_START_MSG] = ("error", t("train.start_failed", reason=str(e)))
    else:
        ss[K_RUN] = job.id
        ss[K_TAB_IDX] = 1
        ss.pop(K_FM_LAST, None)  # the feature-map slider follows the new run's newest epoch


def setup_tab() -> None:
    data = dataset_block()
    spec, preset_name, arch_error = architecture_block(len(classes_of(ss[K_DATASET])))
    fields, hyper_error = hyperparameter_block(len(data.train_labels) if data is not None else None)
    problems = [p for p in (arch_error and t("train.problem_arch"), hyper_error,
                            data is None and t("train.problem_data")) if p]
    if spec is not None and not arch_error and not hyper_error:
        try:
            check_config(TrainConfig(spec=spec, **fields), len(classes_of(ss[K_DATASET])))
        except (ConfigError, SpecError) as e:
            problems.append(str(e))
    mine = next((j for j in manager.jobs(owner) if j.active), None)
    st.divider()
    for p in problems:
        st.error(p, icon="✋")
    if mine is not None:
        st.info(t("train.own_run_active", label=run_label(mine)), icon="⏳")
    c1, c2 = st.columns([1, 3], vertical_alignment="center")
    c1.button(t("train.start"), type="primary", icon="▶️", width="stretch", key="train.start",
              disabled=bool(problems) or mine is not None, on_click=start_run,
              args=(dict(spec=spec, preset=preset_name, dataset=ss[K_DATASET], **fields),))
    busy, left = manager.busy(owner)
    if busy and mine is None:
        c2.caption(t("train.server_busy", eta=fmt_seconds(left)))
    else:
        c2.caption(t("train.start_hint"))
    msg = ss.pop(K_START_MSG, None)  # shown once, right after pressing Start
    if msg:
        (st.warning if msg[0] == "warning" else st.error)(msg[1])


# --------------------------------------------------------------------------- ② train (live)

def live_tab() -> None:
    job = current_job()
    if job is None:
        st.info(t("train.no_run"), icon="👈")
        return
    polling = job.active
    st.fragment(run_every=1.0 if polling else None)(live_panel)(job.id, polling)


def live_panel(job_id: str, polling: bool) -> None:
    job = manager.get(job_id, owner)
    if job is None:
        st.info(t("train.no_run"))
        return
    if polling and not job.active:
        st.rerun()  # finished: redraw the whole page once (results, no more polling)
    events = job.events()
    p = metrics.progress(events, job.elapsed())
    head, stop_col = st.columns([5, 1], vertical_alignment="center")
    head.markdown(f"#### {run_label(job)}")
    if job.state in (jobs.STARTING, jobs.RUNNING):
        stop_col.button(t("train.stop"), icon="⏹️", key="train.stop", width="stretch",
                        on_click=manager.stop, args=(job.id, owner), help=t("train.stop_help"))
    if job.state == jobs.STARTING or (job.state == jobs.RUNNING and p.total_steps == 0):
        st.progress(0.0, text=t("train.preparing"))
    elif job.state == jobs.RUNNING and p.step == 0:
        st.progress(0.0, text=t("train.first_steps", steps=f"{p.total_steps:,}"))
    elif job.state == jobs.RUNNING:
        st.progress(p.fraction, text=t("train.progress", epoch=p.epoch, epochs=p.epochs, step=f"{p.step:,}",
                                       total=f"{p.total_steps:,}",
                                       ips=f"{p.images_per_second or 0:,.0f}", left=fmt_seconds(p.seconds_left)))
    elif job.state in (jobs.STOPPING, jobs.STOPPED):
        st.progress(p.fraction, text=t("train.stopping", step=f"{p.step:,}"))
        st.info(t("train.stopped_evaluating"), icon="⏳")
    elif job.state == jobs.FAILED:
        st.error(t("train.failed", reason=job.error), icon="💥")
    else:
        m = job.metrics()
        key = "train.finished_stopped" if job.stopped else "train.finished"
        st.success(t(key, acc=pct(m.get("test_accuracy"), 2), steps=f"{m.get('steps', 0):,}",
                     time=fmt_seconds(m.get("train_seconds"))), icon="🎉")
        if st.button(t("train.see_results"), icon="📊", key="train.goto_results"):
            goto_tab(2)
            st.rerun(scope="app")  # the tabs live outside this fragment

    c = metrics.curves(events)
    left, right = st.columns(2)
    left.plotly_chart(loss_figure(c, p.total_steps), config=PLOT_CONFIG, key="train.loss_chart")
    right.plotly_chart(accuracy_figure(c, p.total_steps), config=PLOT_CONFIG, key="train.acc_chart")
    feature_maps(job)


def feature_maps(job: jobs.Job) -> None:
    snaps = job.snapshots()
    st.subheader(t("train.fm_title"))
    if not snaps:
        st.caption(t("train.fm_waiting"))
        return
    epochs = [s.epoch for s in snaps]
    # Follow the newest epoch unless the learner has moved the slider back.
    if K_FM_LAST not in ss or ss.get(K_FM_EPOCH) not in epochs or ss.get(K_FM_EPOCH) == ss[K_FM_LAST]:
        ss[K_FM_EPOCH] = epochs[-1]
    ss[K_FM_LAST] = epochs[-1]
    classes = classes_of(job.config.dataset)
    true_label = int(job.data.test_labels[job.probe_index])
    st.caption(t("train.fm_caption", label=classes[true_label]))
    img_col, maps_col = st.columns([1, 3])
    with maps_col:
        c1, c2 = st.columns([3, 2])
        if len(epochs) > 1:
            c1.select_slider(t("train.fm_epoch"), epochs, key=K_FM_EPOCH,
                             format_func={e: t("train.fm_epoch_0") if e == 0 else t("train.fm_epoch_n", n=e)
                                          for e in epochs}.get,
                             help=t("train.fm_epoch_help"))
        else:
            c1.markdown(t("train.fm_only_before"))
        snap = snaps[epochs.index(ss[K_FM_EPOCH])]
        names = [layer.name for layer in snap.layers]
        if ss.get(K_FM_LAYER) not in names:
            ss[K_FM_LAYER] = names[0]
        c2.selectbox(t("train.fm_layer"), names, key=K_FM_LAYER, help=t("train.fm_layer_help"))
        layer = snap.layers[names.index(ss[K_FM_LAYER])]
        st.plotly_chart(maps_figure(layer.maps), config=PLOT_CONFIG, key="train.maps_chart")
        st.caption(t("train.fm_grid_caption", n=layer.maps.shape[0], h=layer.maps.shape[1],
                     w=layer.maps.shape[2]))
    with img_col:
        st.image(upscale(job.data.test_images[job.probe_index].numpy(), 6),
                 caption=t("train.probe_caption", index=job.probe_index, label=classes[true_label]))
        st.plotly_chart(probability_figure(snap.probabilities, classes, true_label), config=PLOT_CONFIG,
                        key="train.probe_chart")


def upscale(img: np.ndarray, k: int) -> np.ndarray:
    return np.kron(img, np.ones((k, k), dtype=img.dtype))


def goto_tab(i: int) -> None:
    ss[K_TAB_IDX] = i


def tab_labels() -> list[str]:
    return [t("train.tab_setup"), t("train.tab_live"), t("train.tab_results"), t("train.tab_compare")]


def remember_tab() -> None:
    """Keep the open tab as an index, so it survives a language switch and can be set in code."""
    labels = tab_labels()
    if ss.get(K_TAB) in labels:
        ss[K_TAB_IDX] = labels.index(ss[K_TAB])


def watcher(job_id: str) -> None:
    """While a run is active and its live tab is hidden, rerun the page once it ends."""
    job = manager.get(job_id, owner)
    if job is None or not job.active:
        st.rerun()


# --------------------------------------------------------------------------- ③ results

def results_tab() -> None:
    finished = [j for j in manager.jobs(owner) if not j.active and j.result is not None]
    if not finished:
        job = current_job()
        st.info(t("train.results_wait") if job is not None and job.active else t("train.results_none"),
                icon="⏳" if job is not None and job.active else "👈")
        return
    ids = [j.id for j in finished]
    cur = ss.get(K_RUN)
    if ss.get(K_RESULT_RUN) not in ids:
        ss[K_RESULT_RUN] = cur if cur in ids else ids[-1]
    by_id = {j.id: j for j in finished}
    st.columns([1, 1])[0].selectbox(t("train.result_run"), ids[::-1], key=K_RESULT_RUN,
                                    format_func={i: run_label(j) for i, j in by_id.items()}.get)
    job = by_id[ss[K_RESULT_RUN]]
    r, m = job.result, job.metrics()
    classes = classes_of(job.config.dataset)
    c = st.columns(5)
    c[0].metric(t("train.m_test_acc"), pct(r.accuracy, 2))
    c[1].metric(t("train.m_test_loss"), f"{r.loss:.4f}")
    c[2].metric(t("train.m_mistakes", n=f"{r.n:,}"), f"{len(r.wrong_indices):,}")
    c[3].metric(t("train.m_epochs_stopped") if job.stopped else t("train.m_epochs"),
                f"{m.get('epochs_completed', 0)} / {job.config.epochs}")
    c[4].metric(t("train.m_time"), fmt_seconds(m.get("train_seconds")),
                help=t("train.m_time_help", ips=f"{m.get('images_per_second', 0):,.0f}"))
    left, right = st.columns([6, 5])
    with left:
        st.markdown(t("train.confusion_title"))
        st.plotly_chart(confusion_figure(r.confusion, classes), config=PLOT_CONFIG, key="train.confusion")
        st.caption(t("train.confusion_caption"))
    right.plotly_chart(per_class_figure(r.per_class_accuracy, classes), config=PLOT_CONFIG,
                       key="train.per_class")
    gallery(job, classes)
    keep_model(job)


def gallery(job: jobs.Job, classes) -> None:
    r = job.result
    st.subheader(t("train.gallery_title"))
    if len(r.wrong_indices) == 0:
        st.success(t("train.gallery_none"))
        return
    options = [None] + list(range(len(classes)))
    names = {k: t("train.any_class") if k is None else str(classes[k]) for k in options}
    fmt = names.get
    f1, f2, f3 = st.columns([1, 1, 2], vertical_alignment="bottom")
    true_f = f1.selectbox(t("train.filter_true"), options, key=K_WRONG_TRUE, format_func=fmt)
    pred_f = f2.selectbox(t("train.filter_pred"), options, key=K_WRONG_PRED, format_func=fmt)
    true = job.data.test_labels.numpy()
    order = np.argsort(-r.wrong_confidence, kind="stable")
    picked = [k for k in order if (true_f is None or true[r.wrong_indices[k]] == true_f)
              and (pred_f is None or r.wrong_predicted[k] == pred_f)]
    f3.caption(t("train.gallery_caption", shown=min(len(picked), GALLERY_SIZE), n=len(picked)))
    if not picked:
        st.info(t("train.gallery_empty_filter"))
        return
    for start in range(0, min(len(picked), GALLERY_SIZE), GALLERY_COLUMNS):
        cols = st.columns(GALLERY_COLUMNS)
        for col, k in zip(cols, picked[start:start + GALLERY_COLUMNS]):
            idx = int(r.wrong_indices[k])
            with col.container(border=True):
                st.image(upscale(job.data.test_images[idx].numpy(), 3), width="stretch")
                st.markdown(t("train.tile", true=classes[true[idx]], pred=classes[r.wrong_predicted[k]],
                              conf=f"{100 * r.wrong_confidence[k]:.0f}"))
                if st.button(t("train.open_predict"), key=f"train.wrong.{job.id}.{idx}", type="tertiary",
                             icon="🔍", help=t("train.open_predict_help", index=idx)):
                    open_in_predict(job, idx)


def open_in_predict(job: jobs.Job, test_index: int) -> None:
    publish_finished_runs()
    saved = ss.get(K_SAVED, {}).get(job.id)
    model = f"file:{saved}" if saved else f"session:{ss[K_PUBLISHED][job.id]}"
    ss[PREDICT_REQUEST] = {"model": model, "test_index": int(test_index)}
    st.switch_page("pages/predict.py")


def keep_model(job: jobs.Job) -> None:
    st.subheader(t("train.keep_title"))
    m = job.metrics()
    default = f"{job.config.dataset}-{job.preset or 'custom'}-{100 * m.get('test_accuracy', 0):.1f}"
    name_key = f"train.save_name.{job.id}"
    ss.setdefault(name_key, default)
    c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
    name = c1.text_input(t("train.save_name"), key=name_key, help=t("train.save_name_help"), max_chars=80)
    try:
        stem = sanitize_name(name)
    except CheckpointError:
        c2.error(t("train.save_name_empty"))
        return
    path = checkpoint_dir() / f"{stem}.safetensors"
    exists = path.exists()
    c2.caption(t("train.save_as", file=path.name, folder=str(checkpoint_dir())))
    overwrite = False
    if exists:
        overwrite = st.checkbox(t("train.overwrite", file=path.name), key=f"train.overwrite.{job.id}")
    b1, b2, b3 = st.columns(3)
    if b1.button(t("train.save"), icon="💾", type="primary", disabled=exists and not overwrite,
                 key=f"train.save.{job.id}", width="stretch"):
        try:
            saved = save_checkpoint(path, job.model, job.checkpoint_metadata(name.strip()), overwrite=overwrite)
        except CheckpointExistsError:
            st.warning(t("train.exists_now", file=path.name))
        except (OSError, CheckpointError) as e:
            st.error(t("train.save_failed", reason=str(e)))
        else:
            ss.setdefault(K_SAVED, {})[job.id] = str(saved)
            ss.pop(f"train.overwrite.{job.id}", None)
            st.success(t("train.saved", file=saved.name))
    elif exists and not overwrite:
        st.warning(t("train.exists", file=path.name), icon="⚠️")
    if ss.get(K_SAVED, {}).get(job.id):
        if st.button(t("train.goto_predict"), icon="✍️", key=f"train.goto_predict.{job.id}"):
            st.switch_page("pages/predict.py")
    b2.download_button(t("train.download_ckpt"), data=lambda: to_bytes(job.model, job.checkpoint_metadata(name)),
                       file_name=f"{stem}.safetensors", mime="application/octet-stream", icon="⬇️",
                       on_click="ignore", key=f"train.dl_ckpt.{job.id}", width="stretch")
    b3.download_button(t("train.download_csv"), data=lambda: metrics.history_csv(job.events()),
                       file_name=f"{stem}-metrics.csv", mime="text/csv", icon="📈", on_click="ignore",
                       key=f"train.dl_csv.{job.id}", width="stretch")


# --------------------------------------------------------------------------- ④ compare

def compare_tab() -> None:
    sources: dict[str, dict] = {}
    for job in manager.jobs(owner):
        events = job.events()
        if any(e.get("event") == "step" for e in events):
            sources[f"run:{job.id}"] = dict(label=run_label(job), events=events, config=job.config.to_dict(),
                                            metrics=job.metrics(), source=t("train.src_session"))
    for path, meta in list_checkpoints():
        if meta.get("history"):
            acc = (meta.get("metrics") or {}).get("test_accuracy")
            label = f"💾 {meta.get('name', path.stem)}" + (f" · {pct(acc)}" if acc is not None else "")
            sources[f"file:{path}"] = dict(label=label, events=meta["history"], config=meta.get("config", {}),
                                           metrics=meta.get("metrics", {}), source=t("train.src_saved"),
                                           dataset=meta.get("dataset"))
    if not sources:
        st.info(t("train.compare_none"), icon="👈")
        return
    keys = list(sources)
    if K_COMPARE not in ss:
        ss[K_COMPARE] = [k for k in keys if k.startswith("run:")][-6:] or keys[:2]
    ss[K_COMPARE] = [k for k in ss[K_COMPARE] if k in sources]
    c1, c2 = st.columns([3, 2])
    chosen = c1.multiselect(t("train.compare_pick"), keys, key=K_COMPARE,
                            format_func={k: v["label"] for k, v in sources.items()}.get, help=t("train.compare_pick_help"))
    kinds = ("test_accuracy", "test_loss", "loss", "accuracy")
    if K_COMPARE_METRIC not in ss:  # one-epoch runs have a single test point: show their curves
        many = any(len(metrics.curves(sources[k]["events"]).epoch) > 1 for k in ss[K_COMPARE])
        ss[K_COMPARE_METRIC] = "test_accuracy" if many else "loss"
    metric = c2.radio(t("train.compare_metric"), kinds, key=K_COMPARE_METRIC, horizontal=True,
                      format_func={k: t(f"train.cmp_{k}") for k in kinds}.get)
    if not chosen:
        st.caption(t("train.compare_empty"))
        return
    fig, ys = go.Figure(), []
    for i, k in enumerate(chosen):
        src, colour = sources[k], PALETTE[i % len(PALETTE)]
        c = metrics.curves(src["events"])
        if metric.startswith("test_"):
            y = getattr(c, metric)
            fig.add_scatter(x=c.epoch, y=y, mode="lines+markers", name=src["label"],
                            line=dict(color=colour, width=2), marker=dict(size=8))
        else:
            y = c.smoothed_loss() if metric == "loss" else metrics.ema(c.accuracy, 0.6)
            fig.add_scatter(x=c.step_epoch, y=y, mode="lines", name=src["label"], line=dict(color=colour, width=2))
        ys += [v for v in y if v is not None and math.isfinite(v)]
    if "accuracy" in metric and ys:
        fig.update_yaxes(tickformat=".1%", range=[max(0.0, min(ys) - 0.02), min(1.005, max(ys) + 0.01)])
    fig.update_xaxes(rangemode="tozero")
    st.plotly_chart(style(fig, t(f"train.cmp_{metric}"), t("train.axis_epoch"), t(f"train.cmp_axis_{metric}"), 420),
                    config=PLOT_CONFIG, key="train.compare_chart")
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


# --------------------------------------------------------------------------- page

init_form()
publish_finished_runs()
st.title(t("train.title"))
st.markdown(t("train.intro"))

job = current_job()
labels = tab_labels()
idx = ss.get(K_TAB_IDX, 0)
ss[K_TAB] = labels[idx if 0 <= idx < len(labels) else 0]
tabs = st.tabs(labels, key=K_TAB, on_change=remember_tab)
with tabs[0]:
    if tabs[0].open:
        setup_tab()
with tabs[1]:
    if tabs[1].open:
        live_tab()
with tabs[2]:
    if tabs[2].open:
        results_tab()
with tabs[3]:
    if tabs[3].open:
        compare_tab()
if job is not None and job.active and not tabs[1].open:
    st.fragment(run_every=1.0)(watcher)(job.id)
