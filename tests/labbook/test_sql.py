"""`wb.log.sql`: DuckDB SQL over the lab notebook, the same records as the frame."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench as wb
from tests.labbook.test_columnar import odd_records, write
from tests.labbook.test_query import write_book
from workbench.errors import InvalidOption
from workbench.labbook import sql


def test_sql_agrees_with_the_frame(repo: Path) -> None:
    write_book(wb.log.root())
    frame = wb.log.to_frame()
    got = wb.log.sql(
        "select model, count(*) as calls, avg(latency_s) as latency,"
        " coalesce(sum(cost_usd), 0) as cost from records where kind = 'call'"
        " group by model order by model"
    )
    calls = frame[frame["kind"] == "call"].assign(model=lambda f: f["model"].astype(str))
    want = calls.groupby("model").agg(
        calls=("id", "size"), latency=("latency_s", "mean"), cost=("cost_usd", "sum")
    )
    assert list(got["model"]) == list(want.index)
    assert list(got["calls"]) == list(want["calls"])
    assert list(got["latency"]) == pytest.approx(list(want["latency"].astype(float)))
    assert list(got["cost"]) == pytest.approx(list(want["cost"].astype(float)))
    rows = wb.log.sql("select id, day, file, line from records")
    assert list(rows["id"]) == list(frame["id"])  # the frame's order
    assert [d.date() for d in rows["day"]] == list(frame["day"])
    assert list(rows["file"]) == list(frame["file"].astype(str))
    assert list(rows["line"]) == list(frame["line"])


def test_json_columns_are_json(tmp_path: Path) -> None:
    path = write(tmp_path / "labbook", "S-odd", odd_records())
    got = sql.sql(
        "select params->>'$.max_tokens' as max_tokens, json_array_length(files) as files"
        " from records where params is not null and params->>'$.max_tokens' is not null",
        [path],
    )
    assert list(got["max_tokens"]) == ["64"]
    assert list(got["files"]) == [3]


def test_bad_sql_is_one_line_that_names_the_problem(tmp_path: Path) -> None:
    path = write(tmp_path / "labbook", "S-odd", odd_records())
    with pytest.raises(InvalidOption, match=r"SQL over the lab notebook failed: .*nope") as caught:
        sql.sql("select nope from records", [path])
    assert "\n" not in str(caught.value)
