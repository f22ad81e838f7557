"""The Predict page's session-state keys ("predict.<name>"; the convention is in app/state.py),
its sizes, and what the input column hands to the rest of the page."""
from __future__ import annotations

from dataclasses import dataclass

from app.ui import t

CANVAS_SIZE = 280
MAX_GRID_CHANNELS = 256
MAX_UPLOAD_SIDE = 1024  # photos are shrunk to this first: the digit ends up 20 px tall anyway
SAMPLE_COLUMNS, SAMPLE_GRID_PX = 6, 380  # the input column fits six tiles of about 60 px


class K:
    MODEL, SOURCE, INDEX = "predict.model", "predict.source", "predict.test_index"
    CANVAS_GEN, FROM_TRAIN, STROKE = "predict.canvas_gen", "predict.from_train", "predict.stroke"
    LAYER, SCALE, CHANNEL, GRID = "predict.layer", "predict.scale", "predict.channel", "predict.grid"
    RF_LAYER, RF_CHANNEL, RF_ROW, RF_COL = "predict.rf_layer", "predict.rf_channel", "predict.rf_row", "predict.rf_col"
    RF_SHOWN, RF_GRAD, RF_MAP = "predict.rf_shown", "predict.rf_grad", "predict.rf_map"
    VIEW, TARGET, CALIBRATED = "predict.view", "predict.saliency_target", "predict.calibrated"
    MODEL_FILE, UPLOADED = "predict.model_file", "predict.uploaded_model"
    IMAGE_FILE, UPLOAD_CACHE = "predict.image_file", "predict.upload_cache"
    SAMPLES, SAMPLES_CACHE = "predict.samples", "predict.samples_cache"
    ANSWERED = "predict.answered"   # the last answer painted first (app/paint_first.py)

    @staticmethod
    def canvas(generation: int) -> str:
        """The canvas widget's key; a new generation is a cleared canvas."""
        return f"predict.canvas.{generation}"


@dataclass(frozen=True)
class InputInfo:
    """Where the input came from and, when there is none to predict, why not."""
    kind: str                              # "draw", "upload" or "test"
    name: str | None = None                # an upload's file name
    original: tuple[int, int] | None = None  # an upload's (height, width) before shrinking
    index: int | None = None               # a test image's index ...
    label: int | None = None               # ... and its true class
    error: str | None = None               # a sentence to show instead of a prediction
    error_shown: bool = False              # the input already showed its own error
    waiting: bool = False                  # no file uploaded yet


def labels(group: str, options) -> dict[str, str]:
    """Option -> translated label, computed now (a format_func must not depend on when it runs)."""
    return {o: t(f"predict.{group}_{o}") for o in options}
