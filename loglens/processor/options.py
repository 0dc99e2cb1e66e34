"""Build what an analysis needs from the config: its formats, its Options, its Source.

Shared by `python processor.py` and the processor process, so both analyse a file the
same way.
"""

from __future__ import annotations

from pathlib import Path

from loglens.analysis.categories import DEFAULT_CLASSIFIER, Classifier, load_classifier
from loglens.analysis.chunk import Filters
from loglens.analysis.custom_formats import parse_formats_toml
from loglens.analysis.formats import BUILTIN_FORMATS, LogFormat
from loglens.config import Config
from loglens.errors import ConfigError, InputError
from loglens.processor.inputs import GZIP_MAGIC, Source
from loglens.processor.local import Options


def formats_from_config(config: Config) -> tuple[LogFormat, ...]:
    """The custom formats of FORMATS_FILE, if any, before the built-in ones."""
    if config.formats_file is None:
        return BUILTIN_FORMATS
    try:
        text = config.formats_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"FORMATS_FILE={config.formats_file}: cannot read: {exc}") from exc
    return parse_formats_toml(text, str(config.formats_file)) + BUILTIN_FORMATS


def classifier_from_config(config: Config) -> Classifier:
    """The category rules: the built-in ones, with those of CATEGORIES_FILE if set."""
    if config.categories_file is None:
        return DEFAULT_CLASSIFIER
    return load_classifier(config.categories_file)


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
    )


def file_source(path: Path, name: str) -> Source:
    """The file at `path`, shown to people as `name` (plain or gzip, by its first bytes)."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(GZIP_MAGIC))
            size = handle.seek(0, 2)
    except OSError as exc:
        raise InputError(f"{name}: cannot read the stored file {path}: {exc.strerror}") from exc
    return Source(name, path, gzip=magic == GZIP_MAGIC, size=size)
