"""DuckDB SQL over the lab notebook (`wb.log.sql`): the records as the table `records`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa

from workbench.errors import InvalidOption
from workbench.labbook import columnar
from workbench.labbook.columns import COLUMNS
from workbench.labbook.query import read_table


def sql(query: str, files: Iterable[Path]) -> pd.DataFrame:
    """Run one DuckDB SQL query over the records of `files`, seen as the table `records`.

    `records` has the frame's columns (`COLUMNS`) with SQL types: `ts` a UTC timestamp, `day`
    a date, numbers and booleans typed, `params`, `files`, `data`, `links` and `tags` as JSON
    (DuckDB's `->>`, `json_extract` and friends read them). It reads the same sidecars as
    `read_frame`, so a query costs about what loading the frame costs, without the frame.
    """
    import duckdb

    paths = list(files)
    table = read_table(paths)
    names = pa.table({"_file": pa.array(range(len(paths)), pa.int32()),
                      "file": pa.array([str(p) for p in paths], pa.large_string())})  # fmt: skip
    shown = ", ".join(
        f"{name}::JSON as {name}" if name in columnar.OBJECTS
        else "cast(timezone('UTC', ts) as date) as day" if name == "day"
        else "_files.file as file" if name == "file"
        else "_line as line" if name == "line"
        else name
        for name in COLUMNS
    )  # fmt: skip
    with duckdb.connect() as con:
        con.register("_sorted", table)
        con.register("_files", names)
        con.execute(
            f"create temp view records as select {shown} from _sorted"
            " left join _files using (_file) order by _sorted._position"
        )
        try:
            result: pd.DataFrame = con.sql(query).df()
        except duckdb.Error as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise InvalidOption(f"SQL over the lab notebook failed: {first}") from None
    return result
