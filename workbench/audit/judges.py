"""Judges checked against humans: each judge's (and the panel's) agreement with the reviews.

The humans' verdicts are the review decisions (`review`): a `pick` of a model says its
answers to the item are right, and every other answer wrong unless the scorer read the
same answer from it; a `reject` says every answer to the item is wrong. Each judge's
verdict on the same answers (PASS or FAIL; no verdict leaves the answer out) is compared
with them: Cohen's kappa with its 95% interval, the share agreed, and the confusion table.

A judge whose kappa is below `LOW` (0.6: under "substantial" on Landis and Koch's scale)
is flagged. Kappa is undefined when the humans and the judge each used one verdict only
(all PASS, say): then nothing tells agreement from chance, and the row says so.

Without a judge scorer, the scorer itself is checked the same way (its verdicts are the
`correct` of each answer).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.audit import stats

if TYPE_CHECKING:
    import pandas as pd

LOW = 0.6
PANEL = "panel"
VERDICTS = ["PASS", "FAIL"]
COLUMNS = [
    "judge", "answers", "agreement", "kappa", "kappa_low", "kappa_high", "pass_pass",
    "pass_fail", "fail_pass", "fail_fail", "flagged", "sentence",
]  # fmt: skip
"""`pass_fail`: the humans said PASS (right) and the judge FAIL; and so on."""


def human_labels(
    rows: Sequence[dict[str, Any]], reviews: Mapping[str, dict[str, Any]]
) -> dict[tuple[str, str, int], bool]:
    """(item, model, sample) -> right (True) or wrong, by the humans' review of the item."""
    from workbench.audit.review import model_of

    labels: dict[tuple[str, str, int], bool] = {}
    for row in rows:
        decision = reviews.get(str(row["item"]))
        verdict = ((decision or {}).get("data") or {}).get("verdict")
        if decision is None or verdict not in ("pick", "reject"):
            continue
        picked = model_of(decision) if verdict == "pick" else None
        right = {
            a.get("answer") for a in row["answers"] if a["model"] == picked
        } - {None}  # fmt: skip
        for a in row["answers"]:
            ok = a["model"] == picked or (a.get("answer") is not None and a["answer"] in right)
            labels[(str(row["item"]), a["model"], int(a.get("sample", 0)))] = ok
    return labels


def raters(rows: Sequence[dict[str, Any]], scorer: str) -> list[str]:
    """The judges of a run (in order), the panel after them when there are several."""
    names: list[str] = []
    for row in rows:
        for a in row["answers"]:
            for judge in a.get("judges") or {}:
                if judge not in names:
                    names.append(judge)
    if not names:
        return [scorer]
    return [*names, PANEL] if len(names) > 1 else names


def agreement(
    rows: Sequence[dict[str, Any]],
    reviews: Mapping[str, dict[str, Any]],
    scorer: str,
    *,
    low: float = LOW,
) -> pd.DataFrame:
    """One row per judge (and the panel): agreement with the humans, kappa, confusion, flag."""
    import pandas as pd

    labels = human_labels(rows, reviews)
    lines = []
    for judge in raters(rows, scorer):
        table = counted(rows, labels, judge)
        found = stats.kappa(table)
        line = {
            "judge": judge,
            "answers": found.items,
            "agreement": found.agreement,
            "kappa": found.kappa,
            "kappa_low": found.low,
            "kappa_high": found.high,
            "pass_pass": int(table[0, 0]),
            "pass_fail": int(table[0, 1]),
            "fail_pass": int(table[1, 0]),
            "fail_fail": int(table[1, 1]),
            "flagged": bool(found.kappa < low),
        }
        line["sentence"] = sentence(line, low)
        lines.append(line)
    frame = pd.DataFrame(lines, columns=COLUMNS)
    for column in ("agreement", "kappa", "kappa_low", "kappa_high"):
        frame[column] = pd.array([None if math.isnan(v) else v for v in frame[column]], "Float64")
    return frame.set_index("judge")


def confusion(
    rows: Sequence[dict[str, Any]], labels: Mapping[tuple[str, str, int], bool], judge: str
) -> pd.DataFrame:
    """Humans (rows) x the judge (columns), PASS and FAIL, counted over the answers both judged."""
    import pandas as pd

    table = pd.DataFrame(counted(rows, labels, judge), index=VERDICTS, columns=VERDICTS)
    table.index.name, table.columns.name = "human", judge
    return table


def counted(
    rows: Sequence[dict[str, Any]], labels: Mapping[tuple[str, str, int], bool], judge: str
) -> np.ndarray[Any, Any]:
    """The confusion table as an array: [human PASS, FAIL] x [judge PASS, FAIL]."""
    table = np.zeros((2, 2), dtype=int)
    for row in rows:
        for a in row["answers"]:
            human = labels.get((str(row["item"]), a["model"], int(a.get("sample", 0))))
            said = _verdict(a, judge)
            if human is not None and said is not None:
                table[0 if human else 1, 0 if said else 1] += 1
    return table


def _verdict(answer: dict[str, Any], judge: str) -> bool | None:
    """What `judge` said of one answer (the panel's, or a plain scorer's, is its `correct`)."""
    if answer.get("error"):
        return None
    said = answer.get("judges")
    found = answer.get("correct") if judge == PANEL or not said else said.get(judge)
    return None if found is None else bool(found)


def sentence(line: Mapping[str, Any], low: float = LOW) -> str:
    """One judge's agreement with the humans in plain words."""
    n, judge = int(line["answers"]), line["judge"]
    if n == 0:
        return f"{judge}: no reviewed answer to compare with (review items to check it)"
    agreed = int(line["pass_pass"]) + int(line["fail_fail"])
    said = f"{judge} agrees with the humans on {agreed} of {n} answers"
    k = line["kappa"]
    if k is None or math.isnan(k):
        return f"{said}; kappa undefined (each gave one verdict only)"
    found = f"{said}; kappa {k:.2f} (95% CI {line['kappa_low']:.2f} to {line['kappa_high']:.2f})"
    return f"{found}: LOW, below {low:g}" if k < low else found
