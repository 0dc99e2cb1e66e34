"""Log formats: the LogFormat type and the built-in library.

A regex format describes the *header* of an entry: an anchored regex whose match is the header
and whose rest of the line is the message. Named groups pick fields out of it:

- ``ts``: the timestamp, read as ``ts_format`` (see ``timestamps``); ``frac``: digits of a
  fraction of a second written apart from it (BGL), added to it;
- ``level``: a level spelling; ``pri``: a syslog PRI; ``severity``: a syslog severity 0-7
  (a network device's ``%SEC-6-IPACCESSLOGP:``); ``status``: an HTTP status;
- ``component``: the program, logger or module that wrote the line;
- ``message``: only in user formats (``custom_format``), where the message is that group rather
  than the rest of the line.

Other named groups (``host``, ``pid``, ...) only document the header. ``message_fields`` finds
more fields inside the message; ``message_header`` reads fields that may open the message as
part of the header (a network device's ``%LINK-3-UPDOWN:``), and the message starts after
them. The level of a line is its ``level`` group, else its severity, PRI or status class, else
(where ``infer_level``) a guess from the message (rules in ``levels``). The regexes use ASCII
classes (``[0-9]``, not ``\\d``): polars extracts groups several times faster with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import polars as pl

from loglens.analysis.levels import LEVEL_WORD, LEVEL_WORD_STRICT
from loglens.analysis.stamps import EPOCH
from loglens.analysis.timestamps import (
    FMT_CTIME,
    FMT_GLOG,
    FMT_MMDD,
    FMT_SYSLOG,
    FMT_YMD_SLASH,
    FMT_YY_SLASH,
    FMT_YYMMDD,
    ISO8601,
    KNOWN_SHAPES,
    TS_CLF,
    TS_CTIME,
    TS_ISO,
    TS_MMDD,
    TS_SYSLOG,
    TS_YMD_SLASH,
    TS_YY_SLASH,
    TS_YYMMDD,
    YEAR_OPTIONAL,
)
from loglens.errors import FormatError


class FormatKind(StrEnum):
    """How a format finds the entries and fields of its lines."""

    REGEX = "regex"  # a header regex: a line that matches it starts an entry
    TEXT = "text"  # free text: every line but continuations starts an entry
    JSON = "json"  # one JSON object per line
    LOGFMT = "logfmt"  # key=value pairs


@dataclass(frozen=True)
class LogFormat:
    """A log format: how to tell an entry's header from its message and read its fields."""

    name: str
    description: str
    kind: FormatKind = FormatKind.REGEX
    header: str = ""  # anchored header regex with named groups (see the module docstring)
    ts_format: str | None = None  # how the ts group is written; None: any known shape
    start: str = ""  # how a header starts: a line matching this but not `header` is truncated
    message_fields: str = ""  # regex run on the message for fields it holds (an access status)
    # An anchored regex for fields that may open the message and then belong to the header:
    # where it matches, its groups are fields and the message starts after it.
    message_header: str = ""
    infer_level: bool = False  # guess a level from the message when the header has none
    examples: tuple[str, ...] = ()  # typical lines, for documentation and tests
    # Learned from a sample of one file rather than taken from the library (see ``layout``).
    learned: bool = False
    # Learned: each entry is a record of several lines opened by a labelled stamp (a slow
    # log's "# Time: …"); every other line belongs to the record above it.
    records: bool = False
    # Each entry is one line followed by empty lines that stand for the rest of it (a journal
    # export read as JSON lines keeps the file's line numbers so): they are part of the entry.
    padded: bool = False
    # JSON formats: where each field lies, as (field, JSON path) pairs ("ts", "$['t']['$date']");
    # empty means the built-in key lists.
    json_paths: tuple[tuple[str, str], ...] = ()


_SEP = "(?:[ \t]+|$)"  # the whitespace between a header and its message, or the line's end
_PRI = "<(?<pri>[0-9]{1,3})>"
# A Java thread name may hold one level of brackets: [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181].
_THREAD = r"[^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*"
_LOGGER = r"[A-Za-z0-9_$.\-/]+"
# A syslog tag: a program name (up to four words, as in "syslogd 1.4.1" or "-- root"),
# an optional [pid], an optional (address) as macOS writes, then a colon.
_SYSLOG_TAG = (
    r"(?<component>[^ :\[\]]+(?: [^ :\[\]]+){0,3})(?:\[(?<pid>[0-9]+)\])?(?: \([^()]*\))?:"
)
_RAS_PREFIX = r"(?<label>[^ ]+) (?<ts>[0-9]{9,10}) [0-9]{4}\.[0-9]{2}\.[0-9]{2} (?<node>[^ ]+) "
_RAS_START = r"^[^ ]+ [0-9]{9,10} [0-9]{4}\.[0-9]{2}\.[0-9]{2} "
# Network devices (Cisco IOS, NX-OS, ASA) open their syslog messages with an optional
# sequence number and device time, then %FACILITY-SEVERITY-MNEMONIC: (a severity 0-7).
DEVICE_HEADER = (
    r"^(?:[0-9]+: )?(?:[*.]?[A-Z][a-z]{2} +[0-9]{1,2}(?: [0-9]{4})? [0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(?:\.[0-9]{1,6})?(?: [A-Z]{2,5})?: )?%[A-Z][A-Z0-9_]*-(?:[A-Z0-9_]+-)?(?<severity>[0-7])-"
    r"[A-Z0-9_]+:[ \t]*"
)
_SD_ELEMENT = r'\[(?:[^\]"\\]|\\.|"(?:[^"\\]|\\.)*")*\]'

BGL = LogFormat(
    name="bgl",
    description="Blue Gene/L RAS log: label, epoch, date, node, time, node, type, component, level",
    # The epoch field is exact UTC; the local date-time field adds the microseconds.
    header=rf"^{_RAS_PREFIX}[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}-[0-9]{{2}}\.[0-9]{{2}}\.[0-9]{{2}}\."
    rf"(?<frac>[0-9]{{1,6}}) [^ ]+ (?<type>[^ ]+) "
    rf"(?<component>[^ ]+) (?<level>{LEVEL_WORD}){_SEP}",
    ts_format=EPOCH,
    start=_RAS_START,
    examples=(
        "- 1118000000 2005.06.05 R11-M0-N3-C:J04-U01 2005-06-05-12.33.20.123456 "
        "R11-M0-N3-C:J04-U01 RAS KERNEL INFO cache parity corrected",
    ),
)
THUNDERBIRD = LogFormat(
    name="ras-syslog",
    description="Supercomputer syslog with a RAS prefix (Thunderbird): label, epoch, date, node, "
    "syslog line",
    header=rf"^{_RAS_PREFIX}{TS_SYSLOG} (?<location>[^ ]+) +{_SYSLOG_TAG}{_SEP}",
    ts_format=EPOCH,
    start=_RAS_START,
    infer_level=True,
    examples=(
        "- 1131500000 2005.11.09 tbird-a1 Nov 9 12:01:01 tbird-a1/tbird-a1 crond[2915]: job done",
    ),
)
HDFS = LogFormat(
    name="hdfs",
    description="Hadoop HDFS: yymmdd HHMMSS pid LEVEL component: message",
    header=rf"^(?<ts>{TS_YYMMDD}) (?<pid>[0-9]+) (?<level>{LEVEL_WORD}) "
    rf"(?<component>[^ :]+):{_SEP}",
    ts_format=FMT_YYMMDD,
    start=rf"^{TS_YYMMDD} ",
    examples=("090101 120000 17 INFO dfs.Storage$Writer: wrote block blk_42",),
)
SPARK = LogFormat(
    name="spark",
    description="Spark/log4j 1 console: yy/MM/dd HH:mm:ss LEVEL component: message",
    header=rf"^(?<ts>{TS_YY_SLASH}) (?<level>{LEVEL_WORD}) +(?<component>[^ :]+):{_SEP}",
    ts_format=FMT_YY_SLASH,
    start=rf"^{TS_YY_SLASH} ",
    examples=("19/03/02 08:15:00 WARN storage.Cache: evicting block rdd_3_1",),
)
ZOOKEEPER = LogFormat(
    name="zookeeper",
    description="ZooKeeper log4j: ts - LEVEL [thread:Class@line] - message",
    # The lazy prefix skips the thread name to the last Class(@line) before the bracket closes.
    header=rf"^(?<ts>{TS_ISO}) - (?<level>{LEVEL_WORD}) +\[(?:[^\[\]]|\[[^\[\]]*\])*?"
    rf"(?<component>[A-Za-z0-9_$.]+)(?:@[0-9]+)?\][ \t]+-{_SEP}",
    ts_format=ISO8601,
    start=rf"^{TS_ISO} - ",
    examples=("2020-02-02 10:00:00,001 - WARN  [Sender:42:Manager$Sender@12] - peer gone",),
)
LOG4J = LogFormat(
    name="log4j",
    description="Java log4j/logback: ts LEVEL [thread] logger: message (thread optional, "
    "': ' or ' - ' after the logger), as Hadoop writes",
    header=rf"^(?<ts>{TS_ISO}) +(?<level>{LEVEL_WORD}) +(?:\[(?<thread>{_THREAD})\] +)?"
    rf"(?<component>{_LOGGER})(?::| +-){_SEP}",
    ts_format=ISO8601,
    start=rf"^{TS_ISO} ",
    examples=("2021-03-04 05:06:07,890 INFO [main] org.example.App: started in 3 s",),
)
LOG4J_THREAD_FIRST = LogFormat(
    name="log4j-thread-first",
    description="Java log4j/logback: ts [thread] LEVEL logger - message",
    header=rf"^(?<ts>{TS_ISO}) +\[(?<thread>{_THREAD})\] +(?<level>{LEVEL_WORD}) +"
    rf"(?<component>{_LOGGER})(?::| +-){_SEP}",
    ts_format=ISO8601,
    start=rf"^{TS_ISO} ",
    examples=("2021-03-04 05:06:07.890 [worker-1] ERROR com.example.Job - job 7 failed",),
)
SPRING_BOOT = LogFormat(
    name="spring-boot",
    description="Spring Boot console: ts LEVEL pid --- [thread] logger : message",
    header=rf"^(?<ts>{TS_ISO}) +(?<level>{LEVEL_WORD}) +(?<pid>[0-9]+) +--- +(?:\[[^\]]*\] +)*"
    rf"(?<component>[^ ]+) +:{_SEP}",
    ts_format=ISO8601,
    start=rf"^{TS_ISO} ",
    examples=("2022-05-06T07:08:09.123+02:00  INFO 4242 --- [main] c.e.Demo : Started Demo",),
)
PYTHON_ASCTIME = LogFormat(
    name="python",
    description="Python logging '%(asctime)s - %(name)s - %(levelname)s - %(message)s'",
    header=rf"^(?<ts>{TS_ISO}) - (?<component>[^ ]+) - (?<level>{LEVEL_WORD}) -{_SEP}",
    ts_format=ISO8601,
    start=rf"^{TS_ISO} - ",
    examples=("2023-01-02 03:04:05,678 - app.db - WARNING - slow query (2.5 s)",),
)
PYTHON_BASIC = LogFormat(
    name="python-basic",
    description="Python logging basicConfig default 'LEVEL:logger:message'",
    header=r"^(?<level>DEBUG|INFO|WARNING|ERROR|CRITICAL):(?<component>[^: ]*):",
    start=r"^(?:DEBUG|INFO|WARNING|ERROR|CRITICAL):",
    examples=("ERROR:app.db:connection lost",),
)
APACHE_ERROR = LogFormat(
    name="apache-error",
    description="Apache httpd error log (2.2 '[time] [level] message', 2.4 '[time] "
    "[module:level] [pid N:tid M] message'); a [client ...] stays in the message",
    header=rf"^\[(?<ts>{TS_CTIME})\] \[(?:(?<component>[A-Za-z0-9_]+):)?(?<level>[A-Za-z0-9]+)\]"
    rf"(?: \[pid [0-9]+(?::tid [0-9]+)?\])?{_SEP}",
    ts_format=FMT_CTIME,
    start=rf"^\[{TS_CTIME}\]",
    examples=(
        "[Mon Jan 02 03:04:05 2006] [error] [client 10.0.0.1] File does not exist: /x",
        "[Mon Jan 02 03:04:05.123456 2006] [ssl:warn] [pid 12:tid 34] AH01909: bad cert",
    ),
)
NGINX_ERROR = LogFormat(
    name="nginx-error",
    description="nginx error log: yyyy/MM/dd HH:mm:ss [level] pid#tid: *conn message",
    header=rf"^(?<ts>{TS_YMD_SLASH}) \[(?<level>[A-Za-z]+)\] (?<pid>[0-9]+)#(?<tid>[0-9]+):"
    rf"(?: \*(?<connection>[0-9]+))?{_SEP}",
    ts_format=FMT_YMD_SLASH,
    start=rf"^{TS_YMD_SLASH} \[",
    examples=("2023/04/05 06:07:08 [error] 11#11: *5 open() failed (2: No such file)",),
)
REDIS = LogFormat(
    name="redis",
    description="Redis server log 'pid:role dd Mon [yyyy] HH:MM:SS.mmm mark message' (older "
    "versions: '[pid] ' or nothing before the stamp); the mark is the level: . debug, "
    "- verbose, * notice, # warning",
    header=r"^(?:(?:[0-9]+:[XCSM] |\[[0-9]+\] )?"
    r"(?<ts>[0-9]{1,2} [A-Z][a-z]{2} (?:[0-9]{4} )?[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?)"
    r" (?<level>[.*#-])|[0-9]+:signal-handler \([0-9]+\))" + _SEP,
    ts_format=f"%d %b {YEAR_OPTIONAL} %H:%M:%S%.f",
    start=r"^(?:[0-9]+:[A-Za-z]|\[[0-9]+\] [0-9]{1,2} [A-Z][a-z]{2} )",
    infer_level=True,  # a signal handler's line has no mark
    examples=(
        "2253:M 07 Dec 2026 13:59:03.630 * monotonic clock: POSIX clock_gettime",
        "[2932] 31 May 04:32:08 # WARNING: The TCP backlog setting of 511 cannot be enforced.",
    ),
)
ACCESS = LogFormat(
    name="access",
    description="Apache/nginx access log, common or combined: host ident user [time] "
    '"request" status size ["referer" "agent"]; the message starts at the request',
    # The host may be several ("client, proxy, ..." or a quoted list, then the peer) where a
    # proxy's X-Forwarded-For is logged before the address.
    header=rf"^(?<host>[^\[]+?) (?<ident>[^ ]+) (?<user>[^ ]+) \[(?<ts>{TS_CLF})\] ",
    ts_format="%d/%b/%Y:%H:%M:%S %z",
    start=r"^[^\[]+? [^ ]+ [^ ]+ \[",
    message_fields=r'^"(?:[^"\\]|\\.)*" (?<status>[0-9]{3}) ',
    infer_level=True,
    examples=('10.1.2.3 - bob [05/Jun/2021:07:08:09 +0200] "GET /a HTTP/1.1" 404 12 "-" "curl/8"',),
)
SYSLOG_5424 = LogFormat(
    name="syslog-5424",
    description="Syslog RFC 5424: <PRI>1 ts host app procid msgid [structured-data] message",
    header=rf"^{_PRI}1 (?:(?<ts>{TS_ISO})|-) (?<host>[^ ]+) (?<component>[^ ]+) (?<procid>[^ ]+) "
    rf"(?<msgid>[^ ]+) (?<sd>-|(?:{_SD_ELEMENT})+)(?: \x{{FEFF}}?|$)",
    ts_format=ISO8601,
    start=r"^<[0-9]{1,3}>1 ",
    examples=('<165>1 2020-01-01T00:00:00.5Z host app 7 ID1 [x@1 a="b"] disk full',),
)
SYSLOG = LogFormat(
    name="syslog",
    description="Syslog RFC 3164 (BSD), with or without <PRI>: Mmm dd HH:MM:SS host tag[pid]: "
    "message",
    header=rf"^(?:{_PRI})?(?<ts>{TS_SYSLOG}) (?<host>[^ ]+)(?: +{_SYSLOG_TAG})?{_SEP}",
    ts_format=FMT_SYSLOG,
    start=rf"^(?:<[0-9]{{1,3}}>)?{TS_SYSLOG} ",
    message_header=DEVICE_HEADER,
    infer_level=True,
    examples=("Mar  3 04:05:06 gateway sshd[99]: Failed password for root",),
)
ANDROID = LogFormat(
    name="android",
    description="Android logcat threadtime: MM-dd HH:mm:ss.SSS pid tid L tag: message",
    header=rf"^(?<ts>{TS_MMDD}) +(?<pid>[0-9]+) +(?<tid>[0-9]+) (?<level>[VDIWEFA]) "
    rf"(?<component>[^:]*[^: ]|) *:{_SEP}",
    ts_format=FMT_MMDD,
    start=rf"^{TS_MMDD} ",
    examples=("04-05 06:07:08.910  1000  1001 W Battery: level low",),
)
GLOG = LogFormat(
    name="glog",
    description="glog/klog (Go, Kubernetes): Lmmdd HH:MM:SS.uuuuuu pid file:line] message",
    header=r"^(?<level>[IWEF])(?<ts>[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}) +"
    r"(?<pid>[0-9]+) (?<component>[^ :\]]+):[0-9]+\]" + _SEP,
    ts_format=FMT_GLOG,
    start=r"^[IWEF][0-9]{4} [0-9]{2}:",
    examples=("E0405 06:07:08.123456    77 controller.go:42] sync failed",),
)
ISO_LED = LogFormat(
    name="iso8601",
    description="Lines led by an ISO-8601 timestamp, then an optional level and [component]",
    header=rf"^\[?(?<ts>{TS_ISO})\]?,?(?:[ \t]+-)?{_SEP}(?:(?<level>{LEVEL_WORD_STRICT})[ \t]*"
    rf"(?:-[ \t]+)?)?(?:\[(?<component>[^\[\]]*)\]:?{_SEP}(?:-[ \t]+)?)?",
    ts_format=ISO8601,
    start=rf"^\[?{TS_ISO}",
    infer_level=True,
    examples=("2024-01-30T12:00:00.123Z [WARN] disk 91% full", "2024-01-30 12:00:00 ready"),
)
SYSLOG_ISO = LogFormat(
    name="syslog-iso",
    description="Syslog with an ISO-8601 timestamp (rsyslog's file format): ts host tag[pid]: "
    "message",
    header=rf"^(?:{_PRI})?(?<ts>{TS_ISO}) (?<host>[^ ]+) +{_SYSLOG_TAG}{_SEP}",
    ts_format=ISO8601,
    start=rf"^(?:<[0-9]{{1,3}}>)?{TS_ISO} ",
    message_header=DEVICE_HEADER,
    infer_level=True,
    examples=("2024-01-30T12:00:00.123456+01:00 web1 nginx[5]: reload",),
)
JSON_LINES = LogFormat(
    name="json",
    description="JSON lines: one object per line; timestamp/time/ts/@timestamp, level/severity, "
    "message/msg keys",
    kind=FormatKind.JSON,
    infer_level=True,
    examples=('{"ts": 1700000000.5, "level": "warn", "msg": "slow"}',),
)
LOGFMT = LogFormat(
    name="logfmt",
    description="logfmt key=value pairs: time=/ts=, level=/lvl=, msg=/message=",
    kind=FormatKind.LOGFMT,
    infer_level=True,
    examples=('time=2024-01-30T12:00:00Z level=error msg="db down" retries=3',),
)

_ANY_TS = "|".join(shape.regex for shape in KNOWN_SHAPES)
GENERIC_FORMAT = LogFormat(
    name="generic",
    description="Any text: an optional leading timestamp of a known shape, level word and "
    "[component], then the message",
    kind=FormatKind.TEXT,
    header=rf"^(?:[\[(]?(?<ts>{_ANY_TS})[\])]?,?(?:[ \t]+-)?{_SEP})?"
    rf"(?:(?<level>{LEVEL_WORD_STRICT})[ \t]*(?:-[ \t]+)?)?"
    rf"(?:\[(?<component>[^\[\]]*)\]:?{_SEP})?",
    ts_format=None,
    infer_level=True,
    examples=("[2024-01-30 12:00:00] ERROR [db] timeout", "no structure at all"),
)

# Most specific first: on a tie in detection the earlier format wins.
BUILTIN_FORMATS: tuple[LogFormat, ...] = (
    BGL,
    THUNDERBIRD,
    HDFS,
    SPARK,
    ZOOKEEPER,
    GLOG,
    ANDROID,
    APACHE_ERROR,
    NGINX_ERROR,
    REDIS,
    ACCESS,
    SYSLOG_5424,
    SYSLOG,
    PYTHON_BASIC,
    PYTHON_ASCTIME,
    SPRING_BOOT,
    LOG4J,
    LOG4J_THREAD_FIRST,
    JSON_LINES,
    LOGFMT,
    ISO_LED,
    SYSLOG_ISO,
)

_FIELD_GROUPS = ("ts", "frac", "level", "component", "severity", "pri", "status")


def format_by_name(name: str, extra: Sequence[LogFormat] = ()) -> LogFormat:
    """Return the format called ``name`` among ``extra``, the built-ins and generic."""
    known = (*extra, *BUILTIN_FORMATS, GENERIC_FORMAT)
    for fmt in known:
        if fmt.name == name:
            return fmt
    names = ", ".join(sorted({fmt.name for fmt in known}))
    raise FormatError(f"unknown log format {name!r}: the known formats are {names}")


def custom_format(name: str, regex: str, ts_format: str | None = None) -> LogFormat:
    """Build a user's format from a whole-line regex with a ``message`` group."""
    try:
        groups = pl.Series([""], dtype=pl.String).str.extract_groups(regex).struct.fields
    except pl.exceptions.PolarsError as exc:
        raise FormatError(f"format {name!r}: the regex does not compile: {exc}") from exc
    if "message" not in groups:
        raise FormatError(
            f"format {name!r}: the regex has no (?<message>...) group; "
            f"it has {', '.join(groups) or 'no named groups'}"
        )
    if ts_format is not None:
        if "ts" not in groups:
            raise FormatError(f"format {name!r}: ts_format given but the regex has no ts group")
        _check_ts_format(name, ts_format)
    used = [group for group in _FIELD_GROUPS if group in groups]
    return LogFormat(
        name=name,
        description=f"custom format with fields {', '.join([*used, 'message'])}",
        header=regex,
        ts_format=ts_format,
        infer_level="level" not in groups,
    )


def _check_ts_format(name: str, ts_format: str) -> None:
    """Refuse a pattern chrono cannot write, or cannot read back what it writes.

    Reading never fails (a stamp that does not fit is null), so a stamp is written with the
    pattern: an unknown directive (``%Q``) fails the writing; a pattern with no directive at
    all (``abc``) would read nothing.
    """
    if ts_format in (EPOCH, ISO8601):
        return
    instant = pl.Series([datetime(2024, 3, 1, 12, 34, 56, 789000, tzinfo=UTC)])
    try:
        written = instant.dt.to_string(ts_format)
    except pl.exceptions.PolarsError:
        raise FormatError(
            f"format {name!r}: ts_format {ts_format!r} is not a strftime pattern chrono "
            "knows (see https://docs.rs/chrono/latest/chrono/format/strftime/)"
        ) from None
    directives = ts_format.replace("%%", "").count("%")
    if not directives or written.is_null().any():
        raise FormatError(
            f"format {name!r}: ts_format {ts_format!r} reads no timestamp: it needs "
            "directives for a time at least, e.g. '%Y-%m-%d %H:%M:%S'"
        )
