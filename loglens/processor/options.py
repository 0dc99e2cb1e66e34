"""Build what an analysis needs from the config: its formats, its Options, its Source.

Shared by `python processor.py` and the processor process, so both analyse a file the
same way.
"""

from __future__ import annotations

from pathlib import Path

from loglens.analysis.alert_rules import load_rules
from loglens.analysis.categories import DEFAULT_CLASSIFIER, Classifier, load_classifier
from loglens.analysis.chunk import Filters
from loglens.analysis.custom_formats import parse_formats_toml
from loglens.analysis.formats import BUILTIN_FORMATS, LogFormat
from loglens.config import Config, regex_problem
from loglens.errors import ConfigError, FormatError, InputError
from loglens.processor.inputs import Limits, Source, sniff_source
from loglens.processor.local import Options


def formats_from_config(config: Config, setting: str = "FORMATS_FILE") -> tuple[LogFormat, ...]:
    """The custom formats of FORMATS_FILE, if any, before the built-in ones; ConfigError
    names `setting` (the variable, or the flag that gave the file) and the file."""
    if config.formats_file is None:
        return BUILTIN_FORMATS
    where = f"{setting}={config.formats_file}"
    try:
        text = config.formats_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read: {exc}") from exc
    try:
        return parse_formats_toml(text, where) + BUILTIN_FORMATS
    except FormatError as exc:
        raise ConfigError(_one_line(str(exc))) from exc


def _one_line(message: str) -> str:
    """A format error on one line: polars spreads a regex error over several."""
    first, _, rest = message.partition("\n")
    if not rest:
        return first
    return f"{first.removesuffix('regex error: regex parse error:').rstrip()} {regex_problem(rest)}"


def classifier_from_config(config: Config) -> Classifier:
    """The category rules: the built-in ones, with those of CATEGORIES_FILE if set."""
    if config.categories_file is None:
        return DEFAULT_CLASSIFIER
    return load_classifier(config.categories_file)


def check_setting_files(config: Config) -> None:
    """Read every file a setting names (FORMATS_FILE, CATEGORIES_FILE, ALERT_RULES_FILE)
    as the processor will: a server stops at start on a bad one (ConfigError), instead of
    restarting a processor that cannot start, again and again."""
    formats_from_config(config)
    classifier = classifier_from_config(config)
    if config.alert_rules_file is not None:
        load_rules(config.alert_rules_file, classifier.names)


def options_from_config(
    config: Config,
    formats: tuple[LogFormat, ...] | None = None,
    forced_format: str | None = None,
    events_path: Path | None = None,
) -> Options:
    """The analysis Options the config asks for (formats read from it unless given)."""
    return Options(
        formats=formats_from_config(config) if formats is None else formats,
        forced_format=forced_format,
        timezone=config.timezone,
        learn=config.learn_formats,
        filters=Filters(frozenset(config.drop_levels), config.drop_regex),
        block_bytes=config.chunk_bytes,
        workers=config.worker_count,
        events_path=events_path,
        classifier=classifier_from_config(config),
        limits=Limits(
            config.max_decompressed_bytes, config.max_compression_ratio, config.max_line_bytes
        ),
    )


def file_source(path: Path, name: str) -> Source:
    """The file at `path`, shown to people as `name` (plain or gzip, by its first bytes)."""
    try:
        return sniff_source(path, name)
    except OSError as exc:
        raise InputError(f"{name}: cannot read the stored file {path}: {exc.strerror}") from exc
