"""UI text catalogs: one JSON file per page (namespace) and language under assets/i18n/<lang>/.

Kept in core (no Streamlit) so tests and the command line can check the catalogs. Pages call
`app.ui.t(key)`, which reads the current language from the session and calls `translate`.
Keys are "<namespace>.<name>", the namespace being the file name (common, conv, train, predict).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

I18N_DIR = Path(__file__).resolve().parent.parent / "assets" / "i18n"
LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT_LANGUAGE = "en"


@lru_cache(maxsize=None)
def load_catalog(lang: str, root: str = str(I18N_DIR)) -> dict[str, str]:
    """All keys of one language, namespaced by file name ("conv.title")."""
    catalog: dict[str, str] = {}
    for path in sorted(Path(root, lang).glob("*.json")):
        entries = json.loads(path.read_text(encoding="utf-8"))
        catalog.update({f"{path.stem}.{k}": v for k, v in entries.items()})
    return catalog


def translate(lang: str, key: str, **values) -> str:
    """The text for `key` in `lang`, formatted with `values`.

    A key missing from the catalog shows as the key itself so a page never crashes on it; the
    catalog test makes sure that never ships.
    """
    text = load_catalog(lang if lang in LANGUAGES else DEFAULT_LANGUAGE).get(key, key)
    return text.format(**values) if values else text
