"""Small builders shared by tests (no fixtures with side effects here)."""
import numpy as np
import torch

from core.data import DATASETS, Dataset


def toy_dataset(n_train=600, n_test=200, seed=0) -> Dataset:
    """A learnable 10-class toy set: class k is a bright 6×6 block at one of ten places, plus noise."""
    rng = np.random.default_rng(seed)

    def make(n):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 40, (n, 28, 28))
        for i, k in enumerate(labels):
            r, c = 3 + (k // 5) * 14, 2 + (k % 5) * 5
            images[i, r:r + 6, c:c + 5] = 255
        return torch.from_numpy(images.astype(np.uint8)), torch.from_numpy(labels.astype(np.int64))

    tr_x, tr_y = make(n_train)
    te_x, te_y = make(n_test)
    return Dataset(DATASETS["mnist"], tr_x, tr_y, te_x, te_y)


# --------------------------------------------------------------------------- pages under AppTest

def _render(module: str) -> None:
    import importlib

    importlib.import_module(module).render()


def page_app(module: str, timeout: float = 60):
    """An AppTest that runs one page's render() on its own ("pages.predict"), as AppTest.from_file
    ran the page file before pages became functions."""
    from streamlit.testing.v1 import AppTest

    return AppTest.from_function(_render, args=(module,), default_timeout=timeout)


def open_page(at, url_path: str):
    """Make the next run of a whole-app AppTest open the page at `url_path`, as a link to
    /<url_path> would. AppTest.switch_page only finds file-based pages (it matches script paths,
    testing/v1/app_test.py _resolve_page_hash), and ours are functions; st.navigation resolves a
    page by the hash of its url_path (navigation/page.py Page._script_hash), which is what
    switch_page would have set."""
    from streamlit.util import calc_hash

    assert hasattr(at, "_page_hash"), "AppTest changed: rework tests/helpers.open_page"
    at._page_hash = calc_hash(url_path)
    return at


# --------------------------------------------------------------------------- finished runs

class ReadyRun:
    """A run whose model is already trained: it starts and is done at once, reporting `metrics`
    (test_accuracy, calibration, …) as its final ones."""

    def __init__(self, model, metrics: dict):
        self.model, self.metrics = model, metrics
        self.history, self.last_eval = [], None

    def events(self):
        yield {"event": "start", "train_size": 64, "test_size": 1, "steps_per_epoch": 1,
               "total_steps": 1, "epochs": 1, "device": "cpu"}
        yield {"event": "done", "stopped": False, "epochs_completed": 1, "steps": 1,
               "train_seconds": 0.1, "images_per_second": 1000.0, **self.metrics}


def finished_run(owner: str, ckpt, metrics: dict | None = None):
    """A run of `owner` that finished with `ckpt`'s model (architecture and dataset from the
    checkpoint), on the server's job manager (app.session.job_manager): what a visitor has after
    training on the Train page. Returns the core.jobs.Job."""
    from app.session import job_manager
    from core.train import TrainConfig

    manager = job_manager()
    previous = manager.run_factory
    manager.run_factory = lambda config, data, stop_event: ReadyRun(ckpt.model, metrics or {})
    try:
        toy = toy_dataset(n_train=20, n_test=10)
        data = Dataset(DATASETS[ckpt.dataset], toy.train_images, toy.train_labels, toy.test_images,
                       toy.test_labels)
        job = manager.start(owner, TrainConfig(spec=ckpt.spec, dataset=ckpt.dataset, epochs=1), data)
        assert job.wait(60), "the ready run did not finish"
    finally:
        manager.run_factory = previous
    return job
