"""The lesson's results to take home: a CSV / JSON of the roster and results, and the gallery's
models as a zip with a model card each.

Times are written in the time zone the teacher views the page in (an IANA name such as
"Asia/Shanghai", from the browser via the page; UTC when unknown), as "2026-12-03 18:15:02+08:00":
a spreadsheet reads it, and the offset says which zone it is. No run id, watch token or
workspace id is ever written. Learner text (nicknames, model names, class names) is plain text
in the CSV (a cell starting with = + - @ is quoted so a spreadsheet never runs it as a formula)
and escaped in the markdown of a model card.
"""
from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from typing import Any, Iterable, Mapping

from core.i18n import translate
from core.lesson.times import local_time, zone_name

COLUMNS = ("nickname", "assignment", "architecture", "parameters", "multiply-adds", "epochs", "data share",
           "test accuracy", "calibrated ECE", "training seconds", "submitted", "finished")


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def export_rows(runs: Iterable, assignments: Iterable = (), roster: Iterable = (),
                tz: str | None = None) -> list[dict[str, Any]]:
    """One dict per run (core.lesson.store.RunRecord), keys exactly COLUMNS, in submission order;
    then one row per learner on `roster` (RosterEntry) with a nickname and no run, so the export
    lists everyone. `assignments` give the assignments' titles."""
    titles = {a.id: a.title for a in assignments}
    rows, with_runs = [], set()
    for r in sorted(runs, key=lambda r: (r.submitted or 0.0)):
        with_runs.add(r.workspace_id)
        rows.append(dict(zip(COLUMNS, (
            r.nickname or "", titles.get(r.assignment_id, "") if r.assignment_id else "", r.architecture,
            r.params, r.madds, r.epochs, _round(r.fraction, 4), _round(r.test_accuracy, 5), _round(r.ece, 5),
            _round(r.train_seconds, 2), local_time(r.submitted, tz), local_time(r.finished, tz)))))
    for e in roster:
        if e.nickname and e.workspace_id not in with_runs:
            rows.append({c: (e.nickname if c == "nickname" else None) for c in COLUMNS})
    return rows


_FORMULA = re.compile(r"^[=+\-@\t\r]")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and _FORMULA.match(value):
        return "'" + value
    return value


def roster_csv(rows: list[Mapping[str, Any]]) -> str:
    """`export_rows(...)` as CSV text (header: COLUMNS)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in COLUMNS])
    return out.getvalue()


def roster_json(rows: list[Mapping[str, Any]], tz: str | None = None, lesson_code: str | None = None) -> str:
    """`export_rows(...)` as JSON: {"time_zone", "class_code", "columns", "rows"}."""
    return json.dumps({"time_zone": zone_name(tz), "class_code": lesson_code, "columns": list(COLUMNS),
                       "rows": [{c: row.get(c) for c in COLUMNS} for row in rows]}, ensure_ascii=False, indent=1)


# --------------------------------------------------------------------------- model cards

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>:$])")


def md_escape(text: Any) -> str:
    """Learner text as literal markdown text: on one line, markup characters backslash-escaped,
    & and < as entities (no HTML can form)."""
    s = " ".join(str(text if text is not None else "").split())
    s = s.replace("&", "&amp;").replace("<", "&lt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def model_card(entry: Any, meta: Mapping[str, Any], lang: str = "en") -> str:
    """A markdown model card for one gallery entry (core.gallery.GalleryEntry) and its
    checkpoint metadata: what data, what recipe, accuracy, calibration."""
    def t(key: str, **v) -> str:
        return translate(lang, f"lesson.card_{key}", **v)

    config = meta.get("config") if isinstance(meta.get("config"), Mapping) else {}
    metrics = meta.get("metrics") if isinstance(meta.get("metrics"), Mapping) else {}
    calib = metrics.get("calibration") if isinstance(metrics.get("calibration"), Mapping) else \
        (meta.get("calibration") if isinstance(meta.get("calibration"), Mapping) else {})
    classes = meta.get("classes") if isinstance(meta.get("classes"), list) else []
    acc = entry.test_accuracy if entry.test_accuracy is not None else metrics.get("test_accuracy")

    def num(v: Any, fmt: str) -> str:
        return format(v, fmt) if isinstance(v, (int, float)) and not isinstance(v, bool) else "–"

    params = "–"
    try:
        from core.models import summary
        params = f"{summary(meta['spec'], num_classes=len(classes) or 10).total_params:,}"
    except Exception:  # noqa: BLE001 — a card without the count beats no card
        pass
    lines = [
        f"# {md_escape(entry.name)} — {md_escape(entry.nickname)}", "",
        f"## {t('data')}", "",
        f"- {t('dataset')}: {md_escape(meta.get('dataset', entry.dataset))}",
        f"- {t('classes')}: {md_escape(', '.join(str(c) for c in classes)) or '–'}",
        f"- {t('share')}: {num(100 * config['fraction'], '.4g') if isinstance(config.get('fraction'), (int, float)) else '–'} %",
        "", f"## {t('recipe')}", "",
        f"- {t('architecture')}: {md_escape(entry.architecture)} ({params} {t('parameters')})",
        f"- {t('optimizer')}: {md_escape(config.get('optimizer', '–'))}, lr {num(config.get('lr'), 'g')}, "
        f"{t('batch')} {num(config.get('batch_size'), 'd')}, {t('epochs')} {num(config.get('epochs'), 'd')}, "
        f"{t('scheduler')} {md_escape(config.get('scheduler', '–'))}",
        f"- {t('augment')}: {t('yes') if config.get('augment') else t('no')}; "
        f"{t('seed')} {num(config.get('seed'), 'd')}",
        "", f"## {t('results')}", "",
        f"- {t('accuracy')}: {num(100 * acc, '.2f') if isinstance(acc, (int, float)) else '–'} %",
        f"- {t('calibration')}: T = {num(calib.get('temperature'), '.3f')}, "
        f"ECE {num(100 * calib['test_ece_raw'], '.2f') if isinstance(calib.get('test_ece_raw'), (int, float)) else '–'} % → "
        f"{num(100 * calib['test_ece_calibrated'], '.2f') if isinstance(calib.get('test_ece_calibrated'), (int, float)) else '–'} %",
        "", t("footer"), "",
    ]
    return "\n".join(lines)


def _file_stem(i: int, entry: Any) -> str:
    words = re.sub(r"[^\w\-]+", "-", f"{entry.nickname}-{entry.name}", flags=re.UNICODE).strip("-_")[:60]
    return f"{i:02d}-{words or 'model'}"


def gallery_zip(entries: Iterable, root: Any = None, lang: str = "en") -> bytes:
    """The gallery's models (core.gallery entries) in one zip: `NN-nickname-name.safetensors`
    with `NN-nickname-name.md`, its model card, next to it."""
    from core import gallery
    from core.checkpoint import read_file_metadata

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, entry in enumerate(entries, 1):
            try:
                path = gallery.model_path(entry.id, root)
                meta = read_file_metadata(path)
                data = path.read_bytes()
            except (OSError, ValueError):   # removed meanwhile, or unreadable: leave it out
                continue
            stem = _file_stem(i, entry)
            zf.writestr(f"{stem}.safetensors", data)
            zf.writestr(f"{stem}.md", model_card(entry, meta, lang))
    return buf.getvalue()


__all__ = ["COLUMNS", "export_rows", "gallery_zip", "md_escape", "model_card", "roster_csv", "roster_json"]
