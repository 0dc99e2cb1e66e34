"""Category rules: the built-in set, a user's TOML file, and the errors a bad file gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from loglens.analysis.categories import (
    APPLICATION_ERROR,
    DEFAULT_CLASSIFIER,
    OTHER,
    classifier,
    load_classifier,
)
from loglens.errors import ConfigError


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Connection to database <*> timed out after <*>", ("database", "network", "timeout")),
        ("Failed password for invalid user <*> from <*> port <*> ssh2", ("network", "security")),
        ("No space left on device while writing block <*>", ("storage",)),
        ("java.lang.OutOfMemoryError: Java heap space", ("resources",)),
        ("Unknown option <*> in configuration section <*>", ("configuration",)),
        ("Unhandled exception in worker <*>", (APPLICATION_ERROR,)),
        ("Deadlock found when trying to get lock on table <*>", ("database",)),
    ],
)
def test_builtin_rules(template: str, expected: tuple[str, ...]) -> None:
    assert DEFAULT_CLASSIFIER.categories(template) == expected


def test_a_template_no_rule_matches_is_an_application_error_only_at_error_levels() -> None:
    text = "Widget <*> frobnicated"
    assert DEFAULT_CLASSIFIER.categories(text, {"INFO"}) == (OTHER,)
    assert DEFAULT_CLASSIFIER.categories(text, {"INFO", "ERROR"}) == (APPLICATION_ERROR,)


def test_categories_of_the_rules_found_falls_back_by_level() -> None:
    assert DEFAULT_CLASSIFIER.categories_of(("database",), {"ERROR"}) == ("database",)
    assert DEFAULT_CLASSIFIER.categories_of((), {"INFO", "CRITICAL"}) == (APPLICATION_ERROR,)
    assert DEFAULT_CLASSIFIER.categories_of((), {"INFO"}) == (OTHER,)


def test_variables_never_decide_a_category() -> None:
    # "<*>" stands where a host name such as "db-primary" was: no database category.
    assert DEFAULT_CLASSIFIER.categories("Widget <*> frobnicated") == (OTHER,)


def test_a_users_file_adds_categories_and_extends_builtin_ones(tmp_path: Path) -> None:
    rules = tmp_path / "categories.toml"
    rules.write_text(
        "[[category]]\nname = \"payments\"\npattern = '\\b(payment|invoice)'\n"
        '[[category]]\nname = "database"\npattern = "ledger"\n'
    )
    loaded = load_classifier(rules)
    assert loaded.categories("Invoice <*> paid") == ("payments",)
    assert loaded.categories("Ledger <*> locked") == ("database",)
    assert loaded.categories("SQL error in query <*>") == ("database",)
    assert loaded.names.index("payments") > loaded.names.index("database")


def test_builtin_false_keeps_only_the_users_rules(tmp_path: Path) -> None:
    rules = tmp_path / "categories.toml"
    rules.write_text('builtin = false\n[[category]]\nname = "billing"\npattern = "invoice"\n')
    loaded = load_classifier(rules)
    assert loaded.categories("SQL error in query <*>") == (OTHER,)
    assert loaded.categories("invoice <*> sent") == ("billing",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[category]]\nname = "x"\npattern = "(unclosed"\n', "category 'x': invalid regular"),
        ('[[category]]\nname = "x"\n', "category 1 needs exactly a name and a pattern"),
        ("colour = 1\n", "unknown keys ['colour']"),
        ('builtin = "no"\n', "builtin must be true or false"),
        ("builtin = false\n", "nothing to classify by"),
        ("[[category]\n", "not valid TOML"),
    ],
)
def test_a_bad_file_names_its_problem(tmp_path: Path, text: str, message: str) -> None:
    rules = tmp_path / "categories.toml"
    rules.write_text(text)
    with pytest.raises(ConfigError, match="CATEGORIES_FILE") as caught:
        load_classifier(rules)
    assert message in str(caught.value)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_classifier(tmp_path / "absent.toml")


def test_rules_keep_their_order_and_merge_by_name() -> None:
    built = classifier([("zeta", "z"), ("alpha", "a"), ("zeta", "q")], builtin=False)
    assert built.names == ("zeta", "alpha", APPLICATION_ERROR, OTHER)
    assert built.categories("qa") == ("zeta", "alpha")
