"""Anomaly detection over hand-built timelines: each kind is found where it is, and a
steady log with ordinary noise has none."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable

import polars as pl
import pytest

from loglens.analysis.anomalies import (
    Anomaly,
    History,
    TemplateInfo,
    choose_bucket,
    detect,
    rare_templates,
)
from loglens.analysis.vocabulary import MICROS_PER_MINUTE

T0 = 28_000_000  # minutes since the epoch (2023-03-27): any whole hour works
HOUR = 60


class Log:
    """Counts per (minute, template, level), turned into the detector's two tables."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[int, str, str]] = Counter()
        self.texts: dict[str, str] = {}

    def add(self, minute: int, template: str, level: str, count: int) -> None:
        if count:
            self.counts[(T0 + minute, template, level)] += count
            self.texts.setdefault(template, f"{template} happened to <*>")

    def steady(self, minutes: Iterable[int], template: str, level: str, rate: int) -> None:
        for minute in minutes:
            self.add(minute, template, level, rate)

    def noisy(self, minutes: range, template: str, level: str, rate: float, seed: int) -> None:
        rng = random.Random(seed)
        for minute in minutes:
            # A Poisson count, drawn by summing exponential gaps over one minute.
            count, clock = 0, rng.expovariate(rate)
            while clock < 1.0:
                count, clock = count + 1, clock + rng.expovariate(rate)
            self.add(minute, template, level, count)

    def timeline(self) -> pl.DataFrame:
        per_minute: Counter[tuple[int, str]] = Counter()
        for (minute, _template, level), count in self.counts.items():
            per_minute[(minute, level)] += count
        rows = sorted(per_minute.items())
        return pl.DataFrame(
            {
                "minute": [m for (m, _), _ in rows],
                "level": [lv for (_, lv), _ in rows],
                "count": [c for _, c in rows],
            },
            schema={"minute": pl.Int64, "level": pl.String, "count": pl.Int64},
        )

    def series(self) -> pl.DataFrame:
        fine = ("WARNING", "ERROR", "CRITICAL")
        rows: Counter[tuple[int, str, str]] = Counter()
        for (minute, template, level), count in self.counts.items():
            bucket = minute if level in fine else minute - minute % HOUR
            rows[(bucket, template, level)] += count
        items = sorted(rows.items())
        return pl.DataFrame(
            {
                "minute": [m for (m, _, _), _ in items],
                "template_id": [t for (_, t, _), _ in items],
                "level": [lv for (_, _, lv), _ in items],
                "count": [c for _, c in items],
            },
            schema={
                "minute": pl.Int64,
                "template_id": pl.String,
                "level": pl.String,
                "count": pl.Int64,
            },
        )

    def templates(self) -> dict[str, TemplateInfo]:
        totals: Counter[str] = Counter()
        levels: dict[str, set[str]] = {}
        for (_minute, template, level), count in self.counts.items():
            totals[template] += count
            levels.setdefault(template, set()).add(level)
        return {
            tid: TemplateInfo(
                tid, self.texts[tid], totals[tid], frozenset(levels[tid]), ("a.log", n)
            )
            for n, tid in enumerate(sorted(totals), 1)
        }

    def detect(self, history: History | None = None) -> list[Anomaly]:
        return detect(self.timeline(), self.series(), self.templates(), history)


def at(minute: int) -> int:
    """Microseconds of a minute of the test log."""
    return (T0 + minute) * MICROS_PER_MINUTE


def of_kind(anomalies: list[Anomaly], kind: str) -> list[Anomaly]:
    return [a for a in anomalies if a.kind == kind]


def test_a_steady_noisy_log_has_no_anomaly() -> None:
    log = Log()
    log.noisy(range(24 * HOUR), "served", "INFO", 80.0, seed=1)
    log.noisy(range(24 * HOUR), "slow", "WARNING", 6.0, seed=2)
    log.noisy(range(24 * HOUR), "failed", "ERROR", 2.0, seed=3)
    assert log.detect() == []


def test_an_error_burst_is_one_spike_named_after_its_template() -> None:
    log = Log()
    log.steady(range(3 * HOUR), "served", "INFO", 100)
    log.steady(range(3 * HOUR), "failed", "ERROR", 3)
    log.steady(range(90, 93), "db down", "ERROR", 60)
    spikes = of_kind(log.detect(), "error_spike")
    assert len(spikes) == 1
    spike = spikes[0]
    assert (spike.start, spike.end) == (at(90), at(93))
    assert spike.template_ids[0] == "db down"
    assert "ERROR rate" in spike.explanation and "db down happened to <*>" in spike.explanation
    assert spike.examples and spike.examples[0][0] == "a.log"


def test_a_spike_is_found_from_the_buckets_before_it_only() -> None:
    log = Log()
    log.steady(range(2 * HOUR), "served", "INFO", 100)
    log.steady(range(2 * HOUR), "failed", "ERROR", 3)
    log.steady(range(60, 62), "db down", "ERROR", 60)
    before = of_kind(log.detect(), "error_spike")
    # What comes later (even a long stretch of the same errors) does not move the spike.
    log.steady(range(2 * HOUR, 4 * HOUR), "served", "INFO", 100)
    log.steady(range(2 * HOUR, 4 * HOUR), "db down", "ERROR", 60)
    after = of_kind(log.detect(), "error_spike")
    assert [(a.start, a.end) for a in before] == [(at(60), at(62))]
    assert (after[0].start, after[0].end) == (at(60), at(62))


def test_a_gap_is_a_silence_but_a_short_pause_is_not() -> None:
    log = Log()
    log.steady([*range(0, 50), *range(60, 100), *range(101, 3 * HOUR)], "served", "INFO", 100)
    silences = of_kind(log.detect(), "silence")
    assert [(a.start, a.end) for a in silences] == [(at(50), at(60))]
    assert "0 entries" in silences[0].explanation
    assert silences[0].flag_levels == ()  # nothing to point at in a silence


def test_a_sustained_rise_of_warnings_is_a_level_shift() -> None:
    log = Log()
    log.steady(range(4 * HOUR), "served", "INFO", 90)
    log.steady(range(2 * HOUR), "slow", "WARNING", 10)
    log.steady(range(2 * HOUR, 4 * HOUR), "slow", "WARNING", 60)
    shifts = of_kind(log.detect(), "level_shift")
    assert len(shifts) == 1
    assert shifts[0].start == at(2 * HOUR)
    assert "WARNING" in shifts[0].explanation
    assert shifts[0].flag_levels == ("WARNING",)


def test_a_warning_template_that_appears_late_is_new() -> None:
    log = Log()
    log.steady(range(4 * HOUR), "served", "INFO", 50)
    log.steady(range(4 * HOUR), "slow", "WARNING", 2)
    log.steady(range(3 * HOUR, 3 * HOUR + 5), "disk full", "ERROR", 1)
    log.steady(range(3 * HOUR, 3 * HOUR + 5), "cache warmed", "INFO", 1)
    new = of_kind(log.detect(), "new_template")
    assert [a.template_ids for a in new] == [("disk full",)]
    assert new[0].start == at(3 * HOUR)
    assert "New ERROR template" in new[0].explanation


def test_templates_unknown_to_earlier_uploads_are_new_from_the_start() -> None:
    log = Log()
    log.steady(range(2 * HOUR), "served", "INFO", 50)
    log.steady(range(2 * HOUR), "slow", "WARNING", 2)
    log.steady(range(2 * HOUR), "timeout", "ERROR", 1)
    history = History(frozenset({"served", "slow"}), entries=100_000, errors=0)
    new = of_kind(log.detect(history), "new_template")
    assert [a.template_ids for a in new] == [("timeout",)]
    assert "earlier uploads" in new[0].explanation


def test_an_error_share_far_above_earlier_uploads_is_a_spike() -> None:
    log = Log()
    log.steady(range(HOUR), "served", "INFO", 50)
    log.steady(range(HOUR), "timeout", "ERROR", 10)
    quiet_before = History(frozenset({"served", "timeout"}), entries=100_000, errors=1_000)
    spikes = of_kind(log.detect(quiet_before), "error_spike")
    assert len(spikes) == 1 and "earlier uploads" in spikes[0].explanation
    as_before = History(frozenset({"served", "timeout"}), entries=100_000, errors=16_000)
    assert of_kind(log.detect(as_before), "error_spike") == []


def test_rare_warning_templates_are_reported_with_their_share() -> None:
    log = Log()
    log.steady(range(2 * HOUR), "served", "INFO", 100)
    log.add(30, "odd checksum", "WARNING", 1)
    log.add(31, "odd debug", "DEBUG", 1)
    rare = rare_templates(log.templates(), log.series())
    assert [a.template_ids for a in rare] == [("odd checksum",)]
    assert "1 of 12,002 entries" in rare[0].explanation
    assert rare_templates(log.templates(), log.series(), [("odd checksum",)]) == []


@pytest.mark.parametrize(
    ("span_minutes", "entries", "bucket"),
    [
        (24 * 60, 1_000_000, 1),
        (24 * 60, 10_000, 5),
        (7 * 24 * 60, 10_000, 60),
        (200 * 24 * 60, 2_000, 1440),
    ],
)
def test_sparse_logs_get_bigger_buckets(span_minutes: int, entries: int, bucket: int) -> None:
    assert choose_bucket(T0, T0 + span_minutes - 1, entries) == bucket


def test_scattered_bursts_in_a_mostly_empty_log_are_not_spikes() -> None:
    log = Log()
    for day in range(0, 60, 6):
        log.add(day * 24 * HOUR, "served", "INFO", 300)
        log.add(day * 24 * HOUR, "failed", "ERROR", 30)
    kinds = {a.kind for a in log.detect()}
    assert not kinds & {"error_spike", "volume_spike"}


def test_a_log_ending_early_in_its_last_bucket_is_not_a_silence() -> None:
    log = Log()
    log.steady(range(185), "served", "INFO", 12)  # 5-minute buckets of about 60 entries
    log.add(185, "served", "INFO", 2)  # the log ends a few seconds into 10:05
    assert choose_bucket(T0, T0 + 185, 185 * 12 + 2) == 5
    assert of_kind(log.detect(), "silence") == []


def chatty_log() -> Log:
    """A steady log that keeps producing new WARNING templates of one entry each."""
    log = Log()
    log.steady(range(4 * HOUR), "served", "INFO", 50)
    log.steady(range(4 * HOUR), "slow", "WARNING", 2)
    for n in range(40):
        log.add(HOUR + 5 * n, f"odd event {n}", "WARNING", 1)
    return log


def test_in_a_source_that_keeps_producing_templates_one_more_is_not_news() -> None:
    log = chatty_log()
    assert of_kind(log.detect(), "new_template") == []
    # One with more entries than the source's new templates usually have still is.
    log.steady(range(3 * HOUR, 3 * HOUR + 6), "disk full", "ERROR", 1)
    new = of_kind(log.detect(), "new_template")
    assert [a.template_ids for a in new] == [("disk full",)]


def test_in_a_chatty_source_a_new_ending_of_a_known_statement_is_not_news() -> None:
    log = chatty_log()
    log.texts["known"] = "cannot load <*>: invalid image, no such file"
    log.texts["variant"] = "cannot load <*>: invalid image, permission denied"
    log.steady(range(0, 4 * HOUR, 10), "known", "ERROR", 1)
    log.steady(range(3 * HOUR, 3 * HOUR + 6), "variant", "ERROR", 1)
    assert of_kind(log.detect(), "new_template") == []


def test_in_a_chatty_source_a_statement_sharing_only_its_first_words_is_news() -> None:
    log = chatty_log()
    log.texts["known"] = "cannot load <*>: invalid image, no such file"
    log.texts["other"] = "cannot load <*>: timed out reading the disk"
    log.steady(range(0, 4 * HOUR, 10), "known", "ERROR", 1)
    log.steady(range(3 * HOUR, 3 * HOUR + 6), "other", "ERROR", 1)
    new = of_kind(log.detect(), "new_template")
    assert [a.template_ids for a in new] == [("other",)]


def test_rare_templates_are_not_news_where_most_templates_are_rare() -> None:
    log = Log()
    log.steady(range(2 * HOUR), "served", "INFO", 100)
    for n in range(12):
        log.add(30 + n, f"odd register {n}", "CRITICAL", 1)
    assert rare_templates(log.templates(), log.series()) == []


def test_a_sporadic_template_bursting_again_is_the_source_habit() -> None:
    log = Log()
    log.steady(range(6 * HOUR), "served", "INFO", 100)
    log.steady(range(6 * HOUR), "failed", "ERROR", 3)
    log.steady(range(60, 63), "assert hit", "ERROR", 60)
    log.steady(range(4 * HOUR, 4 * HOUR + 3), "assert hit", "ERROR", 60)
    spikes = of_kind(log.detect(), "error_spike")
    assert [(a.start, a.template_ids) for a in spikes] == [(at(60), ("assert hit",))]


def test_a_steady_template_spiking_twice_is_two_spikes() -> None:
    log = Log()
    log.steady(range(6 * HOUR), "served", "INFO", 100)
    log.steady(range(6 * HOUR), "failed", "ERROR", 3)
    log.steady(range(60, 63), "failed", "ERROR", 60)
    log.steady(range(4 * HOUR, 4 * HOUR + 3), "failed", "ERROR", 60)
    spikes = of_kind(log.detect(), "error_spike")
    assert [a.start for a in spikes] == [at(60), at(4 * HOUR)]


def test_a_new_template_is_new_until_it_bursts_again() -> None:
    log = Log()
    log.steady(range(8 * HOUR), "served", "INFO", 100)
    log.steady(range(8 * HOUR), "slow", "WARNING", 3)
    log.steady(range(3 * HOUR, 3 * HOUR + 2), "assert hit", "WARNING", 20)
    log.steady(range(6 * HOUR, 6 * HOUR + 2), "assert hit", "WARNING", 20)
    (new,) = of_kind(log.detect(), "new_template")
    assert (new.start, new.end) == (at(3 * HOUR), at(6 * HOUR))


def test_a_flood_of_lines_flags_none_of_them_but_an_error_spike_does() -> None:
    log = Log()
    log.steady(range(3 * HOUR), "served", "INFO", 100)
    log.steady(range(3 * HOUR), "failed", "ERROR", 3)
    log.steady(range(90, 93), "retrying", "WARNING", 2_000)
    log.steady(range(120, 123), "db down", "ERROR", 60)
    volume = of_kind(log.detect(), "volume_spike")
    assert volume and all(a.flag_levels == () for a in volume)
    assert volume[0].template_ids[0] == "retrying"  # still named in its explanation
    (spike,) = of_kind(log.detect(), "error_spike")
    assert spike.flag_levels == ("ERROR", "CRITICAL")


def test_an_error_template_also_logged_as_routine_is_not_an_error_cause() -> None:
    log = Log()
    log.steady(range(3 * HOUR), "served", "INFO", 100)
    log.steady(range(3 * HOUR), "failed", "ERROR", 3)
    log.steady(range(0, 3 * HOUR, 10), "register dump", "INFO", 1)
    log.steady(range(90, 93), "register dump", "ERROR", 60)
    log.steady(range(90, 93), "db down", "ERROR", 30)
    (spike,) = of_kind(log.detect(), "error_spike")
    assert spike.template_ids == ("db down",)


def test_rare_templates_at_the_end_of_a_long_tail_are_not_news() -> None:
    log = Log()
    log.steady(range(2 * HOUR), "served", "INFO", 100)
    log.add(30, "odd checksum", "WARNING", 1)
    # Templates a little more frequent than the rare limit (12 entries here): a long tail.
    for n in range(10):
        log.steady(range(40, 60 + n), f"tail {n}", "WARNING", 1)
    assert rare_templates(log.templates(), log.series()) == []


def test_a_source_whose_uploads_bring_many_new_templates_reports_only_the_big_one() -> None:
    log = Log()
    log.steady(range(2 * HOUR), "served", "INFO", 50)
    for n in range(30):
        log.add(5 + 3 * n, f"odd event {n}", "WARNING", 1)
    log.steady(range(60, 70), "disk full", "ERROR", 1)
    history = History(frozenset({"served"}), entries=100_000, errors=0)
    new = of_kind(log.detect(history), "new_template")
    assert [a.template_ids for a in new] == [("disk full",)]
