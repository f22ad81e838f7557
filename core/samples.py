"""Test images next to the model's answers: a random draw to look at, and the images behind one
cell of the confusion matrix.

Tutorial 003 ends by showing a few test images with the predicted and the true label; the
Train page (a finished run) and the Predict page (any model) do the same with `draw_indices` +
`from_logits` / `predict`. A draw is seeded, so the same seed gives the same images: the page
keeps a counter that the "Reshuffle" button moves on, and tests can compute the exact draw.

`pair_indices` lists the test images of one (true, predicted) pair, the cell a learner clicks
in the confusion matrix; `cell_listing` orders and caps them for the page. Limits live here,
not only in the widgets: at most MAX_SAMPLES images per draw, MAX_LISTED per listed cell.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core import calibration
from core.features import for_inference

SAMPLE_COUNTS = (6, 12, 24)   # what the page offers
DEFAULT_COUNT = 12
MAX_SAMPLES = 48              # one forward pass and one figure: keep both small whatever is asked
MAX_LISTED = 24               # thumbnails shown for one confusion-matrix cell (the count says the rest)


class SampleError(ValueError):
    """A request for samples that cannot be served, in one sentence."""


@dataclass(frozen=True)
class Samples:
    """Test images with the model's answers, in the order drawn."""
    indices: np.ndarray      # int64 indices into the test set
    true: np.ndarray         # int64 true classes
    predicted: np.ndarray    # int64 predicted classes
    confidence: np.ndarray   # float64 probability the model gave its prediction (0..1)

    @property
    def correct(self) -> np.ndarray:
        return self.true == self.predicted

    def __len__(self) -> int:
        return len(self.indices)


def _whole(value, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise SampleError(f"The {name} must be a whole number from {low} to {high}, not {value!r}.")
    return int(value)


def draw_indices(n_images: int, count: int, seed: int) -> np.ndarray:
    """`count` distinct indices out of `n_images` (all of them when fewer), in random order; the
    same seed always gives the same indices."""
    n_images = _whole(n_images, "number of test images", 0, 10**8)
    count = _whole(count, "number of samples", 1, MAX_SAMPLES)
    seed = _whole(seed, "seed", 0, 2**63 - 1)
    rng = np.random.default_rng(seed)
    return rng.choice(n_images, size=min(count, n_images), replace=False).astype(np.int64)


def _checked_indices(indices, n: int) -> np.ndarray:
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if len(idx) > MAX_SAMPLES:
        raise SampleError(f"At most {MAX_SAMPLES} samples at a time, not {len(idx)}.")
    if len(idx) and (idx.min() < 0 or idx.max() >= n):
        raise SampleError(f"A sample index is outside the test set (0 to {n - 1}).")
    return idx


def from_logits(logits: np.ndarray, labels: np.ndarray, indices, temperature: float = 1.0,
                predicted: np.ndarray | None = None) -> Samples:
    """The samples at `indices` from an evaluation's logits [N, classes] and labels [N].

    `predicted` (all N predictions, see `evaluation_predictions`) overrides the argmax, so the
    labels shown always agree with the confusion matrix counted from the same evaluation.
    The confidence is softmax(logits / temperature) of the predicted class: the probability
    the Predict page shows for the same image."""
    logits = np.asarray(logits)
    idx = _checked_indices(indices, len(logits))
    probs = calibration.calibrated_probabilities(logits[idx], temperature) if len(idx) else \
        np.zeros((0, logits.shape[1] if logits.ndim == 2 else 0))
    pred = (np.asarray(predicted, dtype=np.int64)[idx] if predicted is not None
            else probs.argmax(1).astype(np.int64))
    return Samples(idx, np.asarray(labels, dtype=np.int64)[idx], pred,
                   probs[np.arange(len(idx)), pred].astype(np.float64))


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, indices, mean: float, std: float,
            temperature: float = 1.0) -> Samples:
    """Run `model` once, on one batch of the test images at `indices` (uint8 [N, 28, 28],
    normalized with the model's own mean and std, as the Predict page feeds a test image)."""
    idx = _checked_indices(indices, len(images))
    x = images[torch.from_numpy(idx)].to(torch.float32).div(255.0).sub(mean).div(std).unsqueeze(1)
    if len(idx) == 0:
        return Samples(idx, idx.copy(), idx.copy(), np.zeros(0))
    model = for_inference(model)  # eval mode, never switching a model someone is training
    device = next(model.parameters()).device
    logits = model(x.to(device)).float().cpu().numpy()
    probs = calibration.calibrated_probabilities(logits, temperature)
    pred = probs.argmax(1).astype(np.int64)
    return Samples(idx, labels.numpy()[idx].astype(np.int64), pred, probs[np.arange(len(idx)), pred])


def evaluation_predictions(labels: np.ndarray, wrong_indices: np.ndarray, wrong_predicted: np.ndarray) -> np.ndarray:
    """Every image's predicted class from an evaluation's record of its mistakes (core.train.
    EvalResult): the true class, except where it was wrong. Exactly the predictions the
    confusion matrix counted."""
    pred = np.array(labels, dtype=np.int64, copy=True)
    pred[np.asarray(wrong_indices, dtype=np.int64)] = np.asarray(wrong_predicted, dtype=np.int64)
    return pred


def pair_indices(labels: np.ndarray, predicted: np.ndarray, true_class: int, predicted_class: int) -> np.ndarray:
    """The indices (ascending) of the images of class `true_class` that were predicted as
    `predicted_class`: the images counted in that cell of the confusion matrix."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    if labels.shape != predicted.shape:
        raise SampleError("Labels and predictions must be of the same length.")
    return np.flatnonzero((labels == true_class) & (predicted == predicted_class)).astype(np.int64)


@dataclass(frozen=True)
class CellListing:
    true_class: int
    predicted_class: int
    total: int               # images in the cell
    indices: np.ndarray      # the ones shown, at most `limit`
    confidence: np.ndarray   # the model's probability for its prediction, per shown image

    @property
    def correct(self) -> bool:
        return self.true_class == self.predicted_class


def cell_listing(labels: np.ndarray, predicted: np.ndarray, confidence: np.ndarray, true_class: int,
                 predicted_class: int, limit: int = MAX_LISTED) -> CellListing:
    """The images of one confusion-matrix cell to show, at most `limit`: for a mistake the most
    confident first (the model was surest and wrong), for a correct cell the least confident
    first (the ones it nearly got wrong; the sure ones all look alike). Ties keep index order."""
    limit = _whole(limit, "number of listed images", 0, MAX_LISTED)
    idx = pair_indices(labels, predicted, true_class, predicted_class)
    conf = np.asarray(confidence, dtype=np.float64)[idx]
    order = np.argsort(conf if true_class == predicted_class else -conf, kind="stable")[:limit]
    return CellListing(int(true_class), int(predicted_class), len(idx), idx[order], conf[order])


def confidence_of_predictions(logits: np.ndarray, predicted: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """softmax(logits / temperature) of each image's predicted class, for a whole evaluation."""
    probs = calibration.calibrated_probabilities(logits, temperature)
    return probs[np.arange(len(probs)), np.asarray(predicted, dtype=np.int64)]
