"""③ Results: tutorial 003's last step — random test images with the predicted and the true
label, from the run's final test evaluation (so they agree with the confusion matrix)."""
from __future__ import annotations

import streamlit as st

from app.state import PERSIST
from app.ui import t
from core import samples as test_samples
from core.figures import PLOT_CONFIG
from core.figures.samples import samples_figure
from core.run_results import random_draw
from pages.train.keys import SAMPLE_COLUMNS, SAMPLE_TILE_PX, K

ss = st.session_state


def reshuffle_samples() -> None:
    ss[K.SAMPLES_SEED] = ss.get(K.SAMPLES_SEED, 0) + 1


def random_samples(job, classes) -> None:
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
    drawn = random_draw(job, int(count), ss.get(K.SAMPLES_SEED, 0))
    c3.caption(t("samples.score", right=int(drawn.correct.sum()), n=len(drawn)))
    images = job.data.test_images.numpy()[drawn.indices]
    st.plotly_chart(samples_figure(images, drawn, classes, t, columns=SAMPLE_COLUMNS,
                                   width_px=SAMPLE_TILE_PX * min(len(drawn), SAMPLE_COLUMNS)),
                    config=PLOT_CONFIG, key="train.samples", width="content")
    st.caption(t("samples.caption"))
