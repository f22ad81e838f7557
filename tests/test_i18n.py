"""Both catalogs complete: every key in one language exists in the other, per page file."""
import json
import re
from pathlib import Path

import pytest

from core.i18n import I18N_DIR, LANGUAGES, load_catalog, translate

FILES = sorted({p.name for lang in LANGUAGES for p in (I18N_DIR / lang).glob("*.json")})


@pytest.mark.parametrize("fname", FILES)
def test_catalogs_have_the_same_keys(fname):
    keys = {}
    for lang in LANGUAGES:
        path = I18N_DIR / lang / fname
        assert path.exists(), f"{path} is missing"
        keys[lang] = set(json.loads(path.read_text(encoding="utf-8")))
    en, zh = keys["en"], keys["zh"]
    assert not en - zh, f"missing from zh/{fname}: {sorted(en - zh)}"
    assert not zh - en, f"missing from en/{fname}: {sorted(zh - en)}"


@pytest.mark.parametrize("fname", FILES)
def test_placeholders_agree(fname):
    en = json.loads((I18N_DIR / "en" / fname).read_text(encoding="utf-8"))
    zh = json.loads((I18N_DIR / "zh" / fname).read_text(encoding="utf-8"))
    for key in en:
        ph = lambda s: sorted(set(re.findall(r"{(\w*)}", s)))  # noqa: E731
        assert ph(en[key]) == ph(zh.get(key, "")), f"{fname}:{key} placeholders differ"


def test_every_key_used_in_code_exists():
    """t("ns.key") literals in pages, app/ and the figures must be in the catalog (a typo would
    show the raw key)."""
    root = Path(__file__).resolve().parent.parent
    catalog = load_catalog("en")
    used = set()
    for path in [root / "streamlit_app.py", *(root / "pages").rglob("*.py"), *(root / "app").glob("*.py"),
                 *(root / "core" / "figures").glob("*.py")]:
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[\w.]+)["']\s*[,)]""", path.read_text(encoding="utf-8")))
    missing = sorted(k for k in used if k not in catalog)
    assert not missing, f"keys used in pages but missing from the catalogs: {missing}"


def test_translate_formats_and_falls_back():
    assert translate("zh", "common.nav_train") == "训练"
    assert translate("xx", "common.nav_train") == "Train"
    assert translate("en", "common.no_such_key") == "common.no_such_key"
