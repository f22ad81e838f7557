"""③ Results: tutorial 003's last step — random test images with the predicted and the true
label, from the run's final test evaluation (so they agree with the confusion matrix)."""
from __future__ import annotations

import streamlit as st

from app.samples import count_and_reshuffle, sample_grid
from app.ui import t
from core.run_results import random_draw
from pages.train.keys import SAMPLE_COLUMNS, SAMPLE_TILE_PX

PAGE = "train"  # app.samples' keys: train.samples_n, train.samples_seed, train.reshuffle


def random_samples(job, classes) -> None:
    r = job.result
    if r.logits is None or r.labels is None or r.n == 0:
        return
    st.subheader(t("samples.title"))
    c1, c2, c3 = st.columns([1, 1, 3], vertical_alignment="bottom")
    count, seed = count_and_reshuffle(PAGE, c1, c2)
    drawn = random_draw(job, count, seed)
    c3.caption(t("samples.score", right=int(drawn.correct.sum()), n=len(drawn)))
    images = job.data.test_images.numpy()[drawn.indices]
    sample_grid(images, drawn, classes, key="train.samples", columns=SAMPLE_COLUMNS,
                width_px=SAMPLE_TILE_PX * min(len(drawn), SAMPLE_COLUMNS))
    st.caption(t("samples.caption"))
