"""Analyse log files on this machine: detect formats, fan blocks out to worker processes,
merge the partial summaries in file order, name the templates and write events.

Memory stays bounded whatever the file size: plain files are read by the workers range by
range, streams (gzip, stdin) block by block, and at most two blocks per worker are in
flight at any time. Whatever the content, too: what is read stays within `Limits` (see
`inputs`): lines are cut short past MAX_LINE_BYTES, and a gzip that decompresses past its
limits fails its file, after work bounded by those limits.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from loglens.analysis.anomalies import History
from loglens.analysis.categories import DEFAULT_CLASSIFIER, Classifier
from loglens.analysis.chunk import Filters, Part, summarise_block
from loglens.analysis.findings import Findings, find
from loglens.analysis.formats import BUILTIN_FORMATS, GENERIC_FORMAT, LogFormat, format_by_name
from loglens.analysis.json_layout import learn_json_format
from loglens.analysis.lines import BINARY, decode_block
from loglens.analysis.parse import Detection, ParseContext, detect_format, parse_lines
from loglens.analysis.summary import PatternStack, Summary
from loglens.analysis.templates import Template, build_templates
from loglens.analysis.timestamps import is_dateless, is_yearless
from loglens.errors import InputError, LoglensError
from loglens.processor.events import write_events
from loglens.processor.framings import describe
from loglens.processor.inputs import (
    Limits,
    Readable,
    Source,
    file_ranges,
    open_stream,
    read_blocks,
    read_range,
)
from loglens.processor.workers import limit_threads

logger = logging.getLogger(__name__)

SAMPLE_BYTES = 64 * 1024
SAMPLE_LINES = 500
# A file whose sample is mostly binary lines is not a log; say so instead of counting it.
_BINARY_FILE_SHARE = 0.5
# The end of a file read for its last year-less stamp.
_TAIL_BYTES = 64 * 1024

Progress = Callable[[int], None]
# Blocks of a file per task: the worker merges their pattern tables, in parallel, rather
# than the parent. Each is still read and summarised alone, so memory stays per block.
_BLOCKS_PER_TASK = 2
_WORKER_DIED = "{name}: not analysed: a worker process died (killed, or out of memory?)"


@dataclass(frozen=True)
class Options:
    """How to analyse: formats, time zone, filters, parallelism, events output."""

    formats: tuple[LogFormat, ...] = BUILTIN_FORMATS
    forced_format: str | None = None
    timezone: str = "UTC"
    learn: bool = True  # learn a layout where no library format fits (see analysis.layout)
    filters: Filters = field(default_factory=Filters)
    block_bytes: int = 4 * 1024 * 1024
    workers: int = 1
    events_path: Path | None = None
    classifier: Classifier = DEFAULT_CLASSIFIER
    limits: Limits = field(default_factory=Limits)
    # Tasks sent before waiting for one to end; 0: two per worker. A remote executor
    # (loglens.distributed) has more workers than this machine.
    in_flight: int = 0


@dataclass
class Analysis:
    """The merged summary of every readable file, the templates, and per-file problems."""

    summary: Summary
    templates: dict[str, Template]
    findings: Findings = field(default_factory=Findings)
    problems: list[InputError] = field(default_factory=list)
    pool_broken: bool = False  # a worker died: the pool can run nothing more


@dataclass(frozen=True)
class _Task:
    """Consecutive blocks of one source to summarise: ranges the worker reads from `path`,
    or one block carried in `data` (streams)."""

    index: int
    source: int
    file: str
    detection: Detection
    ctx: ParseContext
    filters: Filters
    path: Path | None
    blocks: tuple[tuple[int, int], ...]
    data: bytes | None
    events_dir: str | None
    max_line_bytes: int
    whole_bytes: int  # a range no longer than this is read at once (see read_range)

    @property
    def length(self) -> int:
        """Bytes covered by the task."""
        return sum(length for _offset, length in self.blocks)


BlockTask = _Task  # its public name, for executors elsewhere (loglens.distributed)


def analyse(
    sources: Sequence[Source],
    options: Options,
    progress: Progress | None = None,
    pool: Executor | None = None,
    history: History | None = None,
) -> Analysis:
    """Analyse every source; a source that fails is reported and the others go on.

    `history` (earlier uploads of the same source) makes templates they never had new.

    Blocks run on `pool` if given (it stays open, and may serve other analyses at once;
    any Executor that runs `run_task`, such as loglens.distributed's), else on a pool
    started for this call, or in this process when there is one block.
    """
    problems: list[InputError] = []
    plans: list[tuple[int, Source, Detection, bytes]] = []
    for number, source in enumerate(sources):
        try:
            detection, head = _detect(source, options)
        except InputError as exc:
            problems.append(exc)
            continue
        plans.append((number, source, detection, head))

    with tempfile.TemporaryDirectory(prefix="loglens-events-") as events_dir:
        per_file, pool_broken = _run(
            plans, options, events_dir if options.events_path else None, progress, problems, pool
        )
        total = Summary()
        for number in sorted(per_file):
            total.absorb(per_file[number], aliases=options.events_path is not None)
        templates = build_templates(total.pattern_counts())
        parts = {name: part for part in per_file.values() for name in part.files}
        findings = find(total, templates, options.classifier, history, parts)
        if options.events_path is not None:
            write_events(Path(events_dir), options.events_path, total, templates, findings)
    problems.sort(key=str)
    return Analysis(total, templates, findings, problems, pool_broken)


def _detect(source: Source, options: Options) -> tuple[Detection, bytes]:
    """Detect the format of a source from its first lines; refuse binary files."""
    detection, head, _sample = detect_source(source, options)
    return detection, head


def detect_source(source: Source, options: Options) -> tuple[Detection, bytes, list[str]]:
    """The format of a source, detected from its first lines, with the bytes read and the
    sample lines it was detected on; refuse binary files."""
    stream = open_stream(source, options.limits)
    try:
        head = stream.read(SAMPLE_BYTES)
    except (OSError, EOFError) as exc:
        raise InputError(f"{source.name}: cannot read: {exc}") from exc
    finally:
        if source.path is not None:
            stream.close()
    complete = head
    if len(head) == SAMPLE_BYTES and b"\n" in head:
        complete = head[: head.rfind(b"\n") + 1]  # the last line of a sample may be cut
    decoded = decode_block(complete, options.limits.max_line_bytes)
    lines = len(decoded.reason)
    if lines and (decoded.reason == BINARY).sum() > _BINARY_FILE_SHARE * lines:
        raise InputError(f"{source.name}: binary file, not a text log")
    sample = decoded.text.drop_nulls().head(SAMPLE_LINES).to_list()
    if options.forced_format:
        chosen = learn_json_format(sample, format_by_name(options.forced_format, options.formats))
        return Detection(chosen, _share_parsed(sample, chosen)), head, sample
    detection = detect_format(sample, options.formats, learn=options.learn)
    if source.framing is not None:
        # Records read as JSON lines, each followed by empty lines for its other lines.
        reframed = replace(detection.format, description=describe(source.framing), padded=True)
        detection = replace(detection, format=reframed)
    return detection, head, sample


def _share_parsed(sample: list[str], fmt: LogFormat) -> float:
    """The confidence of a forced format: the share of sample lines it parses."""
    if not sample:
        return 0.0
    return detect_format(sample, (fmt,)).confidence if fmt.name != GENERIC_FORMAT.name else 1.0


def _tasks(
    plans: list[tuple[int, Source, Detection, bytes]],
    options: Options,
    events_dir: str | None,
    fail: Callable[[int, InputError], None],
) -> Iterator[_Task]:
    """Yield the blocks of every source, in order, grouped into tasks; a source that
    cannot be read to its end (past a limit, bad gzip) is handed to `fail`."""
    index = 0
    max_line_bytes = options.limits.max_line_bytes
    for number, source, detection, head in plans:
        reference = _reference_time(source, detection.format, options.timezone)
        ctx = ParseContext(tz=options.timezone, reference=reference)
        try:
            for blocks, data in _blocks(source, head, options):
                yield _Task(
                    index,
                    number,
                    source.name,
                    detection,
                    ctx,
                    options.filters,
                    source.path,
                    blocks,
                    data,
                    events_dir,
                    max_line_bytes,
                    options.block_bytes + max_line_bytes,
                )
                index += 1
        except InputError as exc:
            fail(number, exc)  # its blocks already sent are dropped; the next file goes on


def _blocks(
    source: Source, head: bytes, options: Options
) -> Iterator[tuple[tuple[tuple[int, int], ...], bytes | None]]:
    """Yield the blocks of a source: a file's ranges a few at a time (a worker folds their
    patterns, so the parent merges fewer tables), a stream's blocks with their bytes."""
    if source.path is not None and not source.gzip and source.framing is None:
        ranges = file_ranges(source.path, source.size, options.block_bytes) or [(0, 0)]
        for start in range(0, len(ranges), _BLOCKS_PER_TASK):
            yield tuple(ranges[start : start + _BLOCKS_PER_TASK]), None
        return
    stream = open_stream(source, options.limits)
    # Stdin was read once for detection; a file is simply read again.
    prefix = head if source.path is None else b""
    try:
        blocks = read_blocks(
            _Prefixed(prefix, stream), options.block_bytes, options.limits.max_line_bytes
        )
        for offset, length, block in blocks:
            yield ((offset, length),), block
    finally:
        if source.path is not None:
            stream.close()


class _Prefixed:
    """A stream that first gives back bytes already read from it (stdin cannot seek)."""

    def __init__(self, prefix: bytes, stream: Readable) -> None:
        self._prefix = prefix
        self._stream = stream

    def read(self, size: int) -> bytes:
        """Read up to `size` bytes: what is left of the prefix first, then the stream."""
        if self._prefix:
            out, self._prefix = self._prefix[:size], self._prefix[size:]
            return out
        return self._stream.read(size)


def _reference_time(source: Source, fmt: LogFormat, tz: str) -> datetime:
    """The time that gives year-less timestamps a year (see ``timestamps``).

    It is the file's last year-less stamp, read in the year of the file's mtime (or the
    year before, when it would come after it): a file written from November to February
    and copied in December then has its November in the year before its February. Without
    such a stamp it is the mtime; for a stream, now. Times of day alone are on the day of
    the file's last ``#Date:`` line (W3C extended logs), else of its last stamp.
    """
    if source.path is None:
        return datetime.now(UTC)
    mtime = datetime.fromtimestamp(source.path.stat().st_mtime, UTC)
    if source.gzip or source.framing or fmt.ts_format is None or not is_yearless(fmt.ts_format):
        return mtime
    try:
        with source.path.open("rb") as handle:
            head = handle.read(_TAIL_BYTES)
            handle.seek(max(0, source.size - _TAIL_BYTES))
            tail = handle.read(_TAIL_BYTES)
    except OSError:
        return mtime
    if is_dateless(fmt.ts_format):
        day = _directive_date(tail) or _directive_date(head)
        if day is not None:
            return datetime.combine(day, time(23, 59, 59), ZoneInfo(tz))
    if source.size > _TAIL_BYTES:
        tail = tail[tail.find(b"\n") + 1 :]  # the first line may be cut
    lines = decode_block(tail).text.drop_nulls()
    stamps = parse_lines(lines, fmt, ParseContext(tz=tz, reference=mtime))["ts"].drop_nulls()
    return stamps[-1] if len(stamps) else mtime


# A W3C extended log's directive with the date its times of day fall on.
_DATE_DIRECTIVE = re.compile(rb"^#Date:[ \t]*([0-9]{4})-([0-9]{2})-([0-9]{2})", re.MULTILINE)


def _directive_date(text: bytes) -> date | None:
    """The date of the last ``#Date:`` directive in `text`, if any."""
    found = list(_DATE_DIRECTIVE.finditer(text))
    if not found:
        return None
    try:
        return date(*(int(part) for part in found[-1].groups()))
    except ValueError:
        return None


class _OrderedMerge:
    """Merges task results in task order, file by file.

    Results arrive in any order; a file's parts must be merged in file order, so each
    result waits until those before it are in. Pattern tables go on a tiered stack (their
    merge is the costly part, and commutative). A file with any failed part is dropped and
    reported once.
    """

    def __init__(
        self, names: dict[int, str], problems: list[InputError], aliases: bool = True
    ) -> None:
        self.names = names
        self._aliases = aliases  # kept for the events alone (see PatternStack)
        self._problems = problems
        self._failed: set[int] = set()
        self._waiting: dict[int, tuple[int, Summary | None]] = {}
        self._files: dict[int, tuple[Summary, PatternStack]] = {}
        self._next = 0

    def add(self, task: _Task, outcome: Summary | BaseException) -> None:
        """Take the result of one task (a summary, or the error it raised)."""
        if isinstance(outcome, BaseException):
            self.fail(task.source, _as_input_error(self.names[task.source], outcome))
            self._waiting[task.index] = (task.source, None)
        else:
            self._waiting[task.index] = (task.source, outcome)
        while self._next in self._waiting:
            number, summary = self._waiting.pop(self._next)
            self._next += 1
            if summary is None or number in self._failed:
                continue
            if number in self._files:
                merged, stack = self._files[number]
                merged.absorb_counts(summary)
                stack.push(summary.patterns, summary.series, summary.aliases)
            else:
                self._files[number] = (summary, PatternStack(summary, self._aliases))

    def fail(self, number: int, problem: InputError) -> None:
        """Drop file `number` and report why, once."""
        if number not in self._failed:
            self._failed.add(number)
            self._problems.append(problem)

    def finish(self) -> dict[int, Summary]:
        """One summary per file that did not fail."""
        done: dict[int, Summary] = {}
        for number, (summary, stack) in self._files.items():
            if number not in self._failed:
                summary.take_tables(stack)
                done[number] = summary
        return done


def _run(
    plans: list[tuple[int, Source, Detection, bytes]],
    options: Options,
    events_dir: str | None,
    progress: Progress | None,
    problems: list[InputError],
    given_pool: Executor | None = None,
) -> tuple[dict[int, Summary], bool]:
    """Run every task, in this process or in a pool; return each good file's summary and
    whether the pool broke."""
    names = {number: source.name for number, source, _d, _h in plans}
    merge = _OrderedMerge(names, problems, aliases=events_dir is not None)
    broken = False

    def collect(task: _Task, outcome: Summary | BaseException) -> None:
        nonlocal broken
        broken |= isinstance(outcome, BrokenProcessPool)
        merge.add(task, outcome)
        if progress is not None:
            progress(task.length)

    tasks = _tasks(plans, options, events_dir, merge.fail)
    total_bytes = sum(source.size for _n, source, _d, _h in plans)
    # In this process only for one block: a pool's workers have their allocator tuned for
    # the churn of many blocks, this process has not. A given pool is always used: its
    # workers are warm, and the caller may be running other analyses meanwhile.
    if given_pool is None and total_bytes <= options.block_bytes:
        for task in tasks:
            try:
                outcome: Summary | BaseException = run_task(task)
            except Exception as exc:  # a pool reports any error of a task: so does this
                outcome = exc
            collect(task, outcome)
    else:
        # A given pool belongs to the caller: it is never shut down here.
        owned = given_pool is None
        pool = worker_pool(options.workers) if given_pool is None else given_pool
        in_flight: dict[Future[Summary], _Task] = {}
        most = options.in_flight or 2 * options.workers
        try:
            for task in tasks:
                in_flight[pool.submit(run_task, task)] = task
                if len(in_flight) >= most:
                    _drain(in_flight, collect, wait_all=False)
            _drain(in_flight, collect, wait_all=True)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): no result of this run can be trusted,
            # and waiting for the rest of a broken pool can hang.
            broken = True
            if isinstance(pool, ProcessPoolExecutor) and owned:
                discard_broken_pool(pool)
            for number, name in merge.names.items():
                merge.fail(number, InputError(_WORKER_DIED.format(name=name)))
        except BaseException:
            if owned:
                pool.shutdown(wait=False, cancel_futures=True)
            else:
                for future in in_flight:
                    future.cancel()
            raise
        else:
            if owned:
                pool.shutdown()
    return merge.finish(), broken


def _drain(
    in_flight: dict[Future[Summary], _Task],
    collect: Callable[[_Task, Summary | BaseException], None],
    wait_all: bool,
) -> None:
    while in_flight:
        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            task = in_flight.pop(future)
            error = future.exception()
            collect(task, error if error is not None else future.result())
        if not wait_all:
            return


def _as_input_error(name: str, exc: BaseException) -> InputError:
    """Say why a file failed; a bug (not a user's input or the machine) is also logged."""
    if isinstance(exc, InputError):
        return exc
    if isinstance(exc, BrokenProcessPool):
        return InputError(_WORKER_DIED.format(name=name))
    if not isinstance(exc, LoglensError | OSError):
        logger.error("analysis of %s failed", name, exc_info=exc)
    return InputError(f"{name}: analysis failed: {exc}")


def worker_pool(
    workers: int, initializer: Callable[[], None] = limit_threads
) -> ProcessPoolExecutor:
    """A pool of worker processes, each with one polars thread (the pool is the parallelism).

    `initializer` must live in a module that does not import polars (see `workers`) and
    must call `limit_threads`.
    """
    context = multiprocessing.get_context("spawn")  # polars' threads do not survive fork
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=initializer)


def discard_broken_pool(pool: ProcessPoolExecutor) -> None:
    """Shut a broken pool down without waiting, killing the workers it still has.

    A worker that dies breaks the pool, and CPython 3.11 then joins the others; one still
    writing a big result into the pipe that nobody reads any more never ends, and the
    process hung at exit waiting for it (here, in a run in three). The pool keeps its
    processes in `_processes`: there is no public way to reach them.
    """
    processes = getattr(pool, "_processes", None) or {}
    try:
        alive = list(processes.values())
    except RuntimeError:  # its manager thread changed it meanwhile: take what is left
        alive = list(dict(processes).values())
    for process in alive:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def run_task(task: _Task) -> Summary:
    """Summarise a task's blocks one by one (in a worker process) and merge them; events
    go to one file per block in `events_dir`."""
    summaries = []
    for offset, length in task.blocks:
        if task.data is not None:
            data = task.data
        else:
            assert task.path is not None
            data = read_range(task.path, offset, length, task.max_line_bytes, task.whole_bytes)
        part = Part(task.file, offset, task.detection.format)
        summary, events = summarise_block(
            data,
            part,
            task.ctx,
            task.filters,
            want_events=task.events_dir is not None,
            max_line_bytes=task.max_line_bytes,
            size=length,
        )
        summaries.append(summary)
        if events is not None and task.events_dir is not None:
            name = f"{task.source:06d}-{offset:016d}.parquet"
            events.with_columns(
                file=pl.lit(task.file), offset=pl.lit(offset, pl.Int64)
            ).write_parquet(Path(task.events_dir, name))
    merged = summaries[0]
    merged.absorb_all(summaries[1:])
    return merged
