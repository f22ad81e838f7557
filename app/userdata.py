"""The visitor's own classes (core.userdata) as the pages use them: the store of this session's
workspace, and its errors and reports as sentences in the visitor's language."""
from __future__ import annotations

from app import session
from app.text import md_escape
from app.ui import t
from core.imagefolder import FolderError
from core.images import ImageError
from core.userdata import FEW_VALIDATION, AddReport, UserData, UserDataError, UserDataset


def store() -> UserData:
    """This visitor's classes, in their private workspace (made now if needed; WorkspaceError
    when this client may not make another one)."""
    return UserData(session.workspace())


def say(error: Exception) -> str:
    """One sentence for a refusal of core.userdata / core.imagefolder / core.images: the
    catalog's entry for its code in the visitor's language, else core's own sentence. Names in
    it (a class, a file) are the visitor's text: escaped, as the sentence is shown as markdown."""
    code = getattr(error, "code", None)
    prefix = {UserDataError: "classes.error_", FolderError: "classes.zip_", ImageError: "predict.image_error_"}
    for kind, start in prefix.items():
        if isinstance(error, kind) and code:
            key = start + str(code)
            details = {k: md_escape(v) if isinstance(v, str) else v
                       for k, v in getattr(error, "details", {}).items()}
            text = t(key, **details)
            if text != key:
                return text
    return md_escape(str(error))


def report_sentence(report: AddReport) -> str:
    """What an upload or a zip import did (AddReport.sentence, in the visitor's language)."""
    parts = [t("classes.report_added", n=report.total, classes=", ".join(map(md_escape, report.added)) or "—")]
    if report.new_classes:
        parts.append(t("classes.report_new", classes=", ".join(map(md_escape, report.new_classes))))
    if report.blank:
        parts.append(t("classes.report_blank", n=len(report.blank)))
    if report.refused:
        name, reason = report.refused[0]
        parts.append(t("classes.report_refused", n=len(report.refused), name=md_escape(name),
                       reason=md_escape(reason.rstrip("."))))
    if report.skipped:
        parts.append(t("classes.report_skipped", n=len(report.skipped)))
    if report.outside:
        parts.append(t("classes.report_outside", n=len(report.outside)))
    return " ".join(parts)


def split_text(ds: UserDataset) -> str:
    """How the examples are split (UserDataset.split_sentence, in the visitor's language), and
    with few validation examples what the validation figure can and cannot tell."""
    per = ", ".join(f"{md_escape(name)} {a} + {b}" for name, a, b in zip(ds.classes, ds.train_counts, ds.validation_counts))
    n_val = sum(ds.validation_counts)
    text = t("classes.split", train=sum(ds.train_counts), val=n_val, per=per)
    if n_val < FEW_VALIDATION:
        text += " " + t("classes.split_few", val=n_val, points=f"{100 / max(n_val, 1):.0f}")
    return text
