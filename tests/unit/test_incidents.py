"""Injected incidents: each kind does what its truth says, inside its window, by seed."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from loglens.synth import Truth, write_log
from loglens.synth.incidents import (
    BASE_FORMAT,
    BASE_MESS,
    KINDS,
    Incident,
    IncidentSettings,
    incidents_to_json,
    inject,
)

# Short incidents close together, so a log of a few tens of minutes holds one of each.
SMALL = IncidentSettings(
    per_kind=1,
    spike_minutes=(1.0, 1.0),
    spike_factor=(4.0, 4.0),
    new_template_minutes=(2.0, 2.0),
    new_template_per_minute=(5.0, 5.0),
    silence_minutes=(3.0, 3.0),
    shift_minutes=(4.0, 4.0),
    shift_share=(0.5, 0.5),
    spacing_minutes=2.0,
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def stamp(micros: int) -> str:
    """The log4j stamp of an instant, to compare with the first 23 characters of a line."""
    instant = EPOCH + timedelta(microseconds=micros)
    return f"{instant:%Y-%m-%d %H:%M:%S},{instant.microsecond // 1000:03d}"


def entries(path: Path) -> list[tuple[str, str]]:
    """(stamp, level word) of every entry line."""
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line[:4].isdigit() and line[4] == "-":
            found.append((line[:23], line.split(" ", 3)[2]))
    return found


def within(rows: list[tuple[str, str]], incident: Incident) -> list[str]:
    """The levels of the entries inside an incident's window."""
    start, end = stamp(incident.start), stamp(incident.end)
    return [level for at, level in rows if start <= at < end]


@pytest.fixture(scope="module")
def injected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Incident]]:
    """A 60,000-line base at a steady rate (about 30 minutes) and its copy with incidents."""
    folder = tmp_path_factory.mktemp("incidents")
    base, out = folder / "base.log", folder / "out.log"
    truth = write_log(
        base, BASE_FORMAT, lines=60_000, seed=3, mess=BASE_MESS, record_templates=True, pauses=False
    )
    return base, out, inject(base, truth, out, seed=3, settings=SMALL)


def test_one_incident_of_each_kind_in_time_order(
    injected: tuple[Path, Path, list[Incident]],
) -> None:
    _, _, incidents = injected
    assert sorted(i.kind for i in incidents) == sorted(KINDS)
    for earlier, later in pairwise(incidents):
        assert earlier.end <= later.start


def test_silence_removes_every_entry_of_its_gap(
    injected: tuple[Path, Path, list[Incident]],
) -> None:
    base, out, incidents = injected
    (silence,) = (i for i in incidents if i.kind == "silence")
    assert silence.end - silence.start >= 3 * 60_000_000
    start, end = stamp(silence.start), stamp(silence.end)
    assert not [at for at, _ in entries(out) if start < at < end]
    assert len([at for at, _ in entries(base) if start < at < end]) == silence.entries > 1000


def test_error_spike_adds_error_entries_of_one_template(
    injected: tuple[Path, Path, list[Incident]],
) -> None:
    base, out, incidents = injected
    (spike,) = (i for i in incidents if i.kind == "error_spike")
    before, after = Counter(within(entries(base), spike)), Counter(within(entries(out), spike))
    assert after - before == Counter({"ERROR": spike.entries})
    # Four times the usual ERROR+FATAL rate on top of it.
    assert spike.entries > 3 * (before["ERROR"] + before["FATAL"])
    first = out.read_text(encoding="utf-8").splitlines()[spike.first_line - 1]
    assert first.split(" ", 3)[2] == "ERROR"


def test_new_template_lines_carry_the_marker_only_in_their_window(
    injected: tuple[Path, Path, list[Incident]],
) -> None:
    base, out, incidents = injected
    (new,) = (i for i in incidents if i.kind == "new_template")
    assert new.template not in base.read_text(encoding="utf-8")
    lines = out.read_text(encoding="utf-8").splitlines()
    marked = [n for n, line in enumerate(lines, 1) if new.template in line]
    assert len(marked) == new.entries == 10  # 5 a minute for 2 minutes
    assert marked[0] == new.first_line
    assert lines[marked[0] - 1][:23] == stamp(new.start)
    assert all(stamp(new.start) <= lines[n - 1][:23] <= stamp(new.end) for n in marked)


def test_level_shift_turns_info_into_warning_at_the_same_volume(
    injected: tuple[Path, Path, list[Incident]],
) -> None:
    base, out, incidents = injected
    (shift,) = (i for i in incidents if i.kind == "level_shift")
    before, after = Counter(within(entries(base), shift)), Counter(within(entries(out), shift))
    assert sum(before.values()) == sum(after.values())
    assert after["WARN"] - before["WARN"] == before["INFO"] - after["INFO"] == shift.entries
    assert 0.4 < shift.entries / before["INFO"] < 0.6  # half of them, give or take chance


def test_the_truth_is_json_with_iso_times(injected: tuple[Path, Path, list[Incident]]) -> None:
    _, _, incidents = injected
    document = json.loads(incidents_to_json(incidents))
    assert [item["kind"] for item in document] == [i.kind for i in incidents]
    first = datetime.fromisoformat(document[0]["start"])
    assert first == EPOCH + timedelta(microseconds=incidents[0].start - incidents[0].start % 1000)


def test_same_seed_same_log_other_seed_other_times(tmp_path: Path) -> None:
    base = tmp_path / "base.log"
    truth = write_log(
        base, BASE_FORMAT, lines=60_000, seed=5, mess=BASE_MESS, record_templates=True
    )
    runs = [
        inject(base, truth, tmp_path / f"out{n}.log", seed, SMALL)
        for n, seed in enumerate((1, 1, 2))
    ]
    assert runs[0] == runs[1]
    assert (tmp_path / "out0.log").read_bytes() == (tmp_path / "out1.log").read_bytes()
    assert [i.start for i in runs[0]] != [i.start for i in runs[2]]


def test_a_log_too_short_for_the_incidents_is_refused(tmp_path: Path) -> None:
    base = tmp_path / "base.log"
    truth = write_log(base, BASE_FORMAT, lines=5_000, seed=1, mess=BASE_MESS, record_templates=True)
    with pytest.raises(ValueError, match="too short for 4 incidents"):
        inject(base, truth, tmp_path / "out.log", 1, SMALL)


def test_a_base_without_per_entry_templates_is_refused(tmp_path: Path) -> None:
    base = tmp_path / "base.log"
    truth: Truth = write_log(base, BASE_FORMAT, lines=100, seed=1, mess=BASE_MESS)
    with pytest.raises(ValueError, match="record_templates=True"):
        inject(base, truth, tmp_path / "out.log", 1, SMALL)


def test_settings_reject_reversed_ranges() -> None:
    with pytest.raises(ValueError, match="spike_factor"):
        IncidentSettings(spike_factor=(3.0, 1.0))


def test_a_steady_base_has_no_pause_and_the_default_keeps_them(tmp_path: Path) -> None:
    longest = {}
    for pauses in (True, False):
        path = tmp_path / f"{pauses}.log"
        write_log(path, BASE_FORMAT, lines=20_000, seed=2, mess=BASE_MESS, pauses=pauses)
        times = [datetime.strptime(at + "000", "%Y-%m-%d %H:%M:%S,%f") for at, _ in entries(path)]
        longest[pauses] = max(later - earlier for earlier, later in pairwise(times))
    assert longest[False] <= timedelta(milliseconds=66)
    assert longest[True] > timedelta(seconds=10)
