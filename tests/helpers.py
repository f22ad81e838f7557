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


def page_test(module: str, default_timeout: float = 60):
    """An AppTest of one page on its own: a two-line script that calls the page module's
    render() (pages are modules with a render function, handed to st.Page as callables)."""
    from streamlit.testing.v1 import AppTest

    return AppTest.from_string(f"from {module} import render\nrender()\n", default_timeout=default_timeout)


def switch_to(at, url_path: str):
    """at.switch_page for a page st.navigation registers as a callable under `url_path`:
    AppTest.switch_page only finds pages by file, and st.Page identifies every page by the hash
    of its url_path (streamlit.navigation.page.StreamlitPage._script_hash), which is what
    AppTest's next run asks for."""
    from streamlit.util import calc_hash

    at._page_hash = calc_hash(url_path)
    return at
