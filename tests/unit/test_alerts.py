"""Alert rules: parsing (each bad rule a clear error) and incidents (once each, resolved)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl
import pytest

from loglens.analysis.alert_rules import AnomalyRule, ThresholdRule, parse_rules
from loglens.analysis.alerts import SERIES_SCHEMA, AlertInput, backtest, evaluate, one_per_incident
from loglens.analysis.anomalies import Anomaly
from loglens.analysis.categories import DEFAULT_CLASSIFIER
from loglens.analysis.vocabulary import MICROS_PER_MINUTE
from loglens.errors import ConfigError

T0 = 28_000_020  # a minute since the epoch (2023-03-28 10:00), on the hour
TEXTS = {"db": "Database connection to <*> failed", "web": "GET <*> served in <*> ms"}
CATEGORIES = {"db": ("database", "network"), "web": ("network",)}


def rules(text: str) -> tuple[ThresholdRule | AnomalyRule, ...]:
    return parse_rules(text, "rules.toml", DEFAULT_CLASSIFIER.names)


def data(
    counts: Iterable[tuple[int, str, str, int]],
    first: int = T0,
    last: int | None = None,
    anomalies: tuple[Anomaly, ...] = (),
) -> AlertInput:
    """An input of (minute offset, template, level, count) rows from T0 on."""
    rows = [(T0 + minute, tid, level, n) for minute, tid, level, n in counts]
    series = pl.DataFrame(rows, schema=SERIES_SCHEMA, orient="row")
    end = last if last is not None else max(r[0] for r in rows)
    return AlertInput(series, TEXTS, CATEGORIES, anomalies, first, end)


def burst(
    start: int, minutes: int, per_minute: int, tid: str = "db"
) -> list[tuple[int, str, str, int]]:
    return [(start + m, tid, "ERROR", per_minute) for m in range(minutes)]


# parsing ------------------------------------------------------------------------------


def test_both_kinds_of_rule_parse() -> None:
    parsed = rules(
        """
        [[rule]]
        name = "db errors"
        level = ["error", "CRITICAL"]
        category = "database"
        regex = 'connection'
        template = ["db", "other"]
        threshold = 10
        window = "5m"

        [[rule]]
        name = "hourly"
        category = "network"
        threshold = 100
        window = "2h"

        [[rule]]
        name = "spikes"
        anomaly_score = 6.5
        kind = ["error_spike", "new_template"]
        """
    )
    first, second, third = parsed
    assert isinstance(first, ThresholdRule)
    assert (first.levels, first.categories, first.templates) == (
        ("ERROR", "CRITICAL"),
        ("database",),
        ("db", "other"),
    )
    assert (first.threshold, first.window, first.step) == (10, 5, 1)
    assert isinstance(second, ThresholdRule) and (second.window, second.step) == (120, 60)
    assert third == AnomalyRule("spikes", 6.5, ("error_spike", "new_template"))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('level = "ERROR"\nthreshold = 1\nwindow = "5m"', "key 'name': every rule needs a name"),
        ('name = "r"\nthreshold = 1\nwindow = "5m"', "rule 1 ('r'): nothing to match"),
        ('name = "r"\nlevel = "ERROR"\nwindow = "5m"', "rule 1 ('r'): key 'threshold' is missing"),
        ('name = "r"\nlevel = "ERROR"\nthreshold = 1', "rule 1 ('r'): key 'window' is missing"),
        ('name = "r"\nlevel = "ERROR"\nthreshold = 0\nwindow = "5m"', "key 'threshold': 0 is"),
        ('name = "r"\nlevel = "ERROR"\nthreshold = "9"\nwindow = "5m"', "key 'threshold': '9'"),
        ('name = "r"\nlevel = "ERROR"\nthreshold = 1\nwindow = "5x"', "key 'window': '5x' is not"),
        ('name = "r"\nlevel = "ERROR"\nthreshold = 1\nwindow = "30s"', "must be whole minutes"),
        ('name = "r"\nlevel = "ERROR"\nthreshold = 1\nwindow = "8d"', "from '1m' to '7d'"),
        ('name = "r"\nlevel = "LOUD"\nthreshold = 1\nwindow = "5m"', "key 'level': unknown level"),
        ('name = "r"\ncategory = "databse"\nthreshold = 1\nwindow = "1h"', "unknown category"),
        ('name = "r"\nregex = "(unclosed"\nthreshold = 1\nwindow = "1h"', "key 'regex'"),
        ('name = "r"\ntemplate = []\nthreshold = 1\nwindow = "1h"', "key 'template': [] is not"),
        ('name = "r"\nlevel = "ERROR"\ntreshold = 1\nwindow = "5m"', "unknown key 'treshold'"),
        ('name = "r"\nanomaly_score = -1', "key 'anomaly_score': -1 is not"),
        ('name = "r"\nanomaly_score = 5\nkind = "spike"', "key 'kind': unknown kind 'spike'"),
        ('name = "r"\nanomaly_score = 5\nlevel = "ERROR"', "key 'level': an anomaly_score rule"),
        ('name = "r"\nkind = "silence"', "key 'kind': it goes with anomaly_score"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_rule_and_key(body: str, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        rules(f"[[rule]]\n{body}\n")
    assert str(error.value).startswith("rules.toml: rule 1"), error.value
    assert expected in str(error.value)


def test_a_short_window_over_hourly_levels_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError) as error:
        rules('[[rule]]\nname = "info"\nlevel = "INFO"\nthreshold = 5\nwindow = "5m"\n')
    message = str(error.value)
    assert "rule 1 ('info'): key 'window': '5m' is not whole hours" in message
    assert "counted per hour" in message and "'1h'" in message
    with pytest.raises(ConfigError, match="not whole hours"):  # no level: INFO may match
        rules('[[rule]]\nname = "t"\ntemplate = "db"\nthreshold = 5\nwindow = "90m"\n')


def test_file_level_errors() -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        rules("[[rule]\n")
    with pytest.raises(ConfigError, match="unknown key 'rules'"):
        rules('[[rules]]\nname = "x"\n')
    with pytest.raises(ConfigError, match=r"rule 2: key 'name': 'a' is used twice"):
        rules('[[rule]]\nname = "a"\nanomaly_score = 1\n[[rule]]\nname = "a"\nanomaly_score = 2\n')
    assert rules("") == ()


# incidents ------------------------------------------------------------------------------

ERRORS_5M = 'name = "errors"\nlevel = "ERROR"\nthreshold = 10\nwindow = "5m"'


def test_a_burst_fires_once_and_resolves_when_the_count_falls() -> None:
    [rule] = rules(f"[[rule]]\n{ERRORS_5M}\n")
    quiet = [(m, "web", "ERROR", 1) for m in range(0, 120, 7)]  # never 10 in 5 minutes
    found = evaluate([rule], data([*quiet, *burst(30, 8, 4)], last=T0 + 119))
    [incident] = found  # one incident for 8 busy minutes, not one per minute or entry
    assert incident.start == (T0 + 28) * MICROS_PER_MINUTE  # the quiet entry in its window
    assert incident.end == (T0 + 38) * MICROS_PER_MINUTE
    assert incident.value == 21  # 5 minutes of 4, and a quiet one
    assert not incident.open_at_start and not incident.open_at_end
    assert "21 entries within 5m (threshold 10)" in incident.message
    assert "11:28 to 2023-03-28 11:38, 34 in all (level ERROR)" in incident.message
    assert "mostly template db 'Database connection to <*> failed'" in incident.message


def test_two_bursts_apart_are_two_incidents_and_one_still_open_at_the_end() -> None:
    [rule] = rules(f"[[rule]]\n{ERRORS_5M}\n")
    found = evaluate([rule], data([*burst(0, 3, 5), *burst(60, 3, 5)], last=T0 + 62))
    assert [(i.open_at_start, i.open_at_end) for i in found] == [(True, False), (False, True)]


def test_below_the_threshold_nothing_fires() -> None:
    [rule] = rules(f"[[rule]]\n{ERRORS_5M}\n")
    assert evaluate([rule], data(burst(0, 60, 1), last=T0 + 60)) == []


def test_matches_combine_level_template_category_and_regex() -> None:
    rows = [*burst(0, 5, 5, "db"), *burst(0, 5, 5, "web")]
    cases = {
        'category = "database"': 1,  # db only: 25 entries
        'category = "network"': 1,  # both
        'regex = "^GET"\ncategory = "database"': 0,  # no template is both
        'template = "web"': 1,
        'template = "nope"': 0,
    }
    for match, incidents in cases.items():
        body = f'name = "r"\nlevel = "ERROR"\n{match}\nthreshold = 25\nwindow = "5m"'
        [rule] = rules(f"[[rule]]\n{body}\n")
        assert len(evaluate([rule], data(rows, last=T0 + 30))) == incidents, match
    [both] = rules('[[rule]]\nname = "r"\nlevel = "ERROR"\nthreshold = 50\nwindow = "5m"\n')
    [incident] = evaluate([both], data(rows, last=T0 + 30))
    assert incident.value == 50


def test_hourly_levels_slide_by_the_hour() -> None:
    [rule] = rules('[[rule]]\nname = "info"\nlevel = "INFO"\nthreshold = 100\nwindow = "1h"\n')
    rows = [(0, "web", "INFO", 40), (60, "web", "INFO", 150), (120, "web", "INFO", 30)]
    [incident] = evaluate([rule], data(rows, last=T0 + 179))
    assert (incident.start, incident.end) == (
        (T0 + 60) * MICROS_PER_MINUTE,
        (T0 + 120) * MICROS_PER_MINUTE,
    )
    assert incident.value == 150


def test_anomaly_rules_give_one_incident_per_matching_anomaly() -> None:
    [rule] = rules('[[rule]]\nname = "a"\nanomaly_score = 5\nkind = ["error_spike"]\n')
    minute = MICROS_PER_MINUTE
    anomalies = (
        Anomaly("error_spike", 9.0, (T0 + 1) * minute, (T0 + 3) * minute, "ERROR 9x", ("db",)),
        Anomaly("error_spike", 4.0, (T0 + 5) * minute, (T0 + 6) * minute, "ERROR 2x"),
        Anomaly("silence", 9.0, (T0 + 7) * minute, (T0 + 9) * minute, "quiet"),
        Anomaly("error_spike", 6.0, (T0 + 9) * minute, (T0 + 11) * minute, "ERROR 5x"),
    )
    found = evaluate([rule], data(burst(0, 1, 1), last=T0 + 10, anomalies=anomalies))
    assert [(i.value, i.open_at_end) for i in found] == [(9.0, False), (6.0, True)]
    assert found[0].message == "error_spike (score 9.0): ERROR 9x"
    assert found[0].subject != found[1].subject


def test_a_backtest_carries_an_open_incident_into_the_next_upload_of_its_source() -> None:
    [rule] = rules(f"[[rule]]\n{ERRORS_5M}\n")
    ending_in_a_burst = data(burst(50, 10, 5), last=T0 + 59)
    still_bursting = data(burst(60, 3, 5), first=T0 + 60, last=T0 + 90)
    quiet_start = data([(10, "web", "ERROR", 1)], first=T0 + 60, last=T0 + 90)
    other_source = data(burst(60, 3, 5), first=T0 + 60, last=T0 + 90)

    carried = backtest([rule], [(1, "a.log", ending_in_a_burst), (2, "a.log", still_bursting)])
    [incident] = carried  # one incident across two uploads
    assert incident.uploads == (1, 2) and incident.state == "resolved"
    assert incident.incident.start == (T0 + 50) * MICROS_PER_MINUTE
    assert incident.incident.end == (T0 + 63) * MICROS_PER_MINUTE

    resolved = backtest(
        [rule],
        [(1, "a.log", ending_in_a_burst), (2, "b.log", other_source), (3, "a.log", quiet_start)],
    )
    assert [(f.source, f.uploads, f.resolved_by, f.state) for f in resolved] == [
        ("a.log", (1,), 3, "resolved"),
        ("b.log", (2,), None, "resolved"),
    ]
    [still] = backtest([rule], [(1, "a.log", ending_in_a_burst)])
    assert still.state == "firing"


def test_the_example_rules_of_the_docs_parse() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "alerts.md").read_text()
    example = docs.split("```toml\n", 1)[1].split("```", 1)[0]
    parsed = rules(example)
    assert [rule.name for rule in parsed] == [
        "database errors",
        "payment failures",
        "login storm",
        "anything very unusual",
        "new error templates",
    ]


# one alert per incident ----------------------------------------------------------------

BURST_RULES = """
[[rule]]
name = "database errors"
level = ["ERROR", "CRITICAL"]
category = "database"
threshold = 10
window = "5m"

[[rule]]
name = "any errors"
level = "ERROR"
threshold = 15
window = "5m"

[[rule]]
name = "anything very unusual"
anomaly_score = 8

[[rule]]
name = "new error templates"
anomaly_score = 0
kind = ["new_template"]
"""


def test_a_burst_meeting_four_rules_is_one_alert_and_a_later_one_another() -> None:
    parsed = rules(BURST_RULES)
    minute = MICROS_PER_MINUTE
    anomalies = (
        Anomaly("error_spike", 12.0, (T0 + 30) * minute, (T0 + 36) * minute, "ERROR 9x", ("db",)),
        Anomaly("new_template", 8.5, (T0 + 31) * minute, (T0 + 38) * minute, "new db", ("db",)),
        Anomaly("new_template", 6.0, (T0 + 200) * minute, (T0 + 201) * minute, "new web", ("web",)),
    )
    rows = [*burst(30, 6, 5), *burst(200, 1, 1, "web")]
    hits = evaluate(parsed, data(rows, last=T0 + 240, anomalies=anomalies))
    assert len(hits) == 6  # 5 for the burst, from 4 rules; 1 later
    assert len({h.rule for h in hits if h.start < (T0 + 100) * minute}) == 4
    burst_alert, later = one_per_incident(parsed, hits)
    assert burst_alert.rule == "database errors"  # the first rule of the file that held
    # From the first hit to the end of the trouble (a new template's last entry is none).
    assert (burst_alert.start, burst_alert.end) == ((T0 + 30) * minute, (T0 + 36) * minute)
    assert burst_alert.value == 25  # that rule's own value, not another rule's
    assert burst_alert.message.endswith(
        "[one incident: 5 rule hits; also 'any errors', 'anything very unusual', "
        "'new error templates']"
    )
    assert (later.rule, later.message) == (
        "new error templates",
        "new_template (score 6.0): new web",
    )
    # A lone hit is left as it was.
    [alone] = one_per_incident(parsed, [h for h in hits if h.rule == "any errors"])
    assert alone == next(h for h in hits if h.rule == "any errors")


def test_a_carried_incident_takes_the_value_and_message_of_the_current_window() -> None:
    [rule] = rules(f"[[rule]]\n{ERRORS_5M}\n")
    big_ending = data(burst(50, 10, 12), last=T0 + 59)  # 60 in 5 minutes
    # 23 hours later, the next upload starts inside a smaller burst: 30 in 5 minutes.
    later = 23 * 60
    small_going_on = data(burst(later, 5, 6), first=T0 + later, last=T0 + later + 30)
    [fired] = backtest([rule], [(1, "a.log", big_ending), (2, "a.log", small_going_on)])
    assert fired.uploads == (1, 2)
    assert fired.incident.value == 30
    assert fired.incident.message.startswith("30 entries within 5m")
