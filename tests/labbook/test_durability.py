"""Appends survive SIGKILL and concurrent writers: real processes, real files, many trials."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from workbench.labbook import book, store
from workbench.labbook.book import LabBook
from workbench.labbook.verify import verify

# Appends notes in a loop, printing each id once `append` has returned (the record is durable).
KILLED = """
import sys
from pathlib import Path
from workbench.labbook.book import LabBook

book = LabBook(Path(sys.argv[1]), "killed", source="durability", git=None)
trial, pad = sys.argv[2], int(sys.argv[3])
i = 0
while True:
    record = book.append("note", data={"text": f"{trial} {i}", "pad": "x" * (pad * (i % 3))})
    print(record["id"], flush=True)
    i += 1
"""

# Waits for `go`, then appends one by one and in queued batches to the one shared file.
CONCURRENT = """
import sys, time
from pathlib import Path
from workbench.labbook.book import LabBook

root, writer, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
book = LabBook(root, "shared", source=f"writer {writer}", git=None)
(root / f"ready-{writer}").touch()
while not (root / "go").exists():
    time.sleep(0.001)
ids = [book.append("note", data={"writer": writer, "i": i})["id"] for i in range(count)]
queued = [
    book.submit("note", data={"writer": writer, "i": i, "pad": "y" * 50_000})
    for i in range(count, 2 * count)
]
ids += [future.result()["id"] for future in queued]
book.close()
print(" ".join(ids), flush=True)
"""

TRIALS = 40


def session_file(root: Path) -> Path:
    (path,) = book.files(root)
    return path


def torn_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.torn"))


def test_sigkill_while_appending_loses_no_durable_record(tmp_path: Path) -> None:
    root = tmp_path / "labbook"
    rng = random.Random(20261126)
    durable: list[str] = []
    torn_made: list[bytes] = []
    for trial in range(TRIALS):
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED, str(root), f"t{trial}", str(rng.choice([10, 200_000]))],
            stdout=subprocess.PIPE,
        )
        assert child.stdout is not None
        first = child.stdout.readline()  # it is appending now
        time.sleep(rng.uniform(0, 0.03))
        child.send_signal(signal.SIGKILL)
        rest = child.communicate()[0]
        assert child.returncode == -signal.SIGKILL
        out = first + rest
        durable += [line.decode() for line in out.split(b"\n")[:-1]]  # whole lines only
        path = session_file(root)
        data = path.read_bytes()
        if not data.endswith(b"\n"):  # killed mid-write: the next open sets it aside
            torn_made.append(data[data.rfind(b"\n") + 1 :])
        elif trial % 4 == 3:  # what a crash mid-write leaves, made by hand now and then
            last = data[data.rfind(b"\n", 0, len(data) - 1) + 1 :]
            start = len(b'{"v":1,"id":"')  # a record like the last, under an id of its own
            line = last[:start] + f"TORN{trial:022d}".encode() + last[start + 26 :]
            tail = line[: rng.randrange(start + 27, len(line) - 1)]
            with path.open("ab") as handle:
                handle.write(tail)
            torn_made.append(tail)

    path = session_file(root)
    report = verify([path])
    assert report.ok, report.summary()
    records = [line.record for line in store.read(path)]  # sets aside a torn tail left last
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids)
    missing = set(durable) - set(ids)
    assert not missing, f"{len(missing)} durable records lost"
    assert len(durable) >= TRIALS
    assert [r["kind"] for r in records].count("session") == 1 and records[0]["kind"] == "session"
    assert [r["seq"] for r in records] == list(range(len(records)))
    # Within each trial the child's records are in the order it wrote them.
    texts = [r["data"]["text"].split() for r in records[1:]]
    for trial in {t for t, _ in texts}:
        numbers = [int(i) for t, i in texts if t == trial]
        assert numbers == list(range(len(numbers)))
    # Every torn tail was set aside, byte for byte, never mixed into the data.
    aside = torn_files(root)
    assert sorted(p.read_bytes() for p in aside) == sorted(torn_made)
    assert all(p.name.startswith(f"{path.name}.") for p in aside)
    for tail in torn_made:
        assert tail not in path.read_bytes()
        record_id = tail.partition(b'"id":"')[2][:26].decode()
        assert len(record_id) < 26 or record_id not in durable


def test_a_torn_first_write_leaves_a_file_that_starts_properly(tmp_path: Path) -> None:
    root = tmp_path / "labbook"
    lab = LabBook(root, "s1", git=None)
    lab.path.parent.mkdir(parents=True)
    lab.path.write_bytes(b'{"v":1,"id":"01KILLED')  # died inside the very first write
    record = lab.append("note", data={"text": "after the crash"})
    lab.close()
    records = [line.record for line in store.read(lab.path)]
    assert [r["kind"] for r in records] == ["session", "note"] and records[1] == record
    (aside,) = torn_files(root)
    assert aside.read_bytes() == b'{"v":1,"id":"01KILLED'
    report = verify(book.files(root))
    assert report.ok and [w.kind for w in report.warnings] == ["torn tail"]


def test_eight_processes_appending_to_one_file_lose_and_interleave_nothing(
    tmp_path: Path,
) -> None:
    root, writers, count = tmp_path / "labbook", 8, 40
    root.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, str(root), str(w), str(count)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(writers)
    ]
    deadline = time.monotonic() + 60
    while len(list(root.glob("ready-*"))) < writers and time.monotonic() < deadline:
        time.sleep(0.01)
    (root / "go").touch()
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * writers

    path = session_file(root)
    raw = path.read_bytes().split(b"\n")
    assert raw.pop() == b""
    records = [json.loads(line) for line in raw]  # every line is one whole record
    assert len(records) == 1 + writers * 2 * count
    assert [r["kind"] for r in records].count("session") == 1 and records[0]["kind"] == "session"
    ids = {r["id"] for r in records}
    for w, out in enumerate(outputs):
        written = out.split()
        assert len(written) == 2 * count and set(written) <= ids
        mine = [r["data"]["i"] for r in records[1:] if r["data"]["writer"] == str(w)]
        assert mine == list(range(2 * count))  # in the order that writer wrote them
    report = verify([path])
    assert report.ok and report.records_checked == len(records), report.summary()
    assert not torn_files(root)
