"""Partial summary files: a summary read back is the summary written, whatever it holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from loglens.analysis.summary import Summary
from loglens.distributed.partials import (
    dump_summary,
    load_summary,
    read_partial,
    write_partial,
)
from loglens.errors import InputError
from loglens.processor.local import Options, _detect, _tasks, run_task
from loglens.processor.options import file_source
from tests.conftest import MakeLog


@pytest.mark.parametrize("fmt", ["log4j", "python", "syslog", "jsonl"])
def test_every_part_of_a_file_reads_back_equal(make_log: MakeLog, fmt: str) -> None:
    path, _truth = make_log(fmt, lines=4000)
    options = Options(block_bytes=64 * 1024)
    source = file_source(path, path.name)
    detection, head = _detect(source, options)
    tasks = list(_tasks([(0, source, detection, head)], options, None, _fail))
    assert len(tasks) > 1  # parts with heads and tails to resolve
    parts = [run_task(task) for task in tasks]
    back = [load_summary(dump_summary(part, "w@host")) for part in parts]
    assert all(worker == "w@host" for _summary, worker in back)
    for part, (summary, _worker) in zip(parts, back, strict=True):
        assert summary == part
        assert list(summary.files) == list(part.files)
        assert list(summary.levels.items()) == list(part.levels.items())  # order kept
    merged, again = Summary(), Summary()
    merged.absorb_all(parts)
    again.absorb_all([summary for summary, _worker in back])
    assert again == merged and merged.rejected_samples and merged.heads == again.heads


def test_a_partial_file_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "jobs" / "1" / "000000.summary"
    data = dump_summary(Summary(lines=3))
    sha256 = write_partial(path, data)
    assert read_partial(path, sha256)[0] == Summary(lines=3)
    with pytest.raises(InputError, match="SHA-256"):
        read_partial(path, "0" * 64)
    for bad in (b"", b"PICKLE" + data, data[:-5]):
        with pytest.raises(InputError, match="partial summary"):
            load_summary(bad)


def _fail(_number: int, problem: InputError) -> None:
    raise problem
