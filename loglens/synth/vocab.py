"""Word lists the synthetic logs are built from (invented here, not taken from any dataset).

Nothing in these lists contains a double quote or a backslash, so messages can go into
JSON and logfmt strings without escaping.
"""

from __future__ import annotations

# (base, past, gerund) of each action; irregular verbs are why all three forms are spelt out.
VERBS: dict[str, tuple[str, str, str]] = {
    "open": ("open", "opened", "opening"),
    "close": ("close", "closed", "closing"),
    "read": ("read", "read", "reading"),
    "write": ("write", "wrote", "writing"),
    "delete": ("delete", "deleted", "deleting"),
    "replicate": ("replicate", "replicated", "replicating"),
    "verify": ("verify", "verified", "verifying"),
    "transfer": ("transfer", "transferred", "transferring"),
    "compress": ("compress", "compressed", "compressing"),
    "upload": ("upload", "uploaded", "uploading"),
    "sync": ("sync", "synced", "syncing"),
    "refresh": ("refresh", "refreshed", "refreshing"),
    "expire": ("expire", "expired", "expiring"),
    "accept": ("accept", "accepted", "accepting"),
    "send": ("send", "sent", "sending"),
    "schedule": ("schedule", "scheduled", "scheduling"),
    "start": ("start", "started", "starting"),
    "cancel": ("cancel", "cancelled", "cancelling"),
    "resume": ("resume", "resumed", "resuming"),
    "commit": ("commit", "committed", "committing"),
    "roll back": ("roll back", "rolled back", "rolling back"),
    "rebuild": ("rebuild", "rebuilt", "rebuilding"),
    "evict": ("evict", "evicted", "evicting"),
    "load": ("load", "loaded", "loading"),
    "register": ("register", "registered", "registering"),
    "renew": ("renew", "renewed", "renewing"),
    "revoke": ("revoke", "revoked", "revoking"),
    "flush": ("flush", "flushed", "flushing"),
    "merge": ("merge", "merged", "merging"),
    "restore": ("restore", "restored", "restoring"),
    "authenticate": ("authenticate", "authenticated", "authenticating"),
    "publish": ("publish", "published", "publishing"),
}

# Past participles that differ from the simple past ("was written", not "was wrote").
PARTICIPLES: dict[str, str] = {"write": "written"}

# (object noun, kind of its identifier, subsystem, Java-ish class stem, verbs that fit it)
OBJECTS: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("block", "blk", "storage", "BlockKeeper", ("replicate", "write", "read", "verify", "delete")),
    ("file", "path", "storage", "FileCourier", ("open", "read", "write", "compress", "upload")),
    ("session", "uuid", "auth", "SessionVault", ("open", "close", "refresh", "expire")),
    ("connection", "hostport", "net", "WireDesk", ("open", "close", "accept")),
    ("request", "hex", "gateway", "RequestLoom", ("send", "accept", "cancel")),
    ("job", "int", "scheduler", "JobForeman", ("schedule", "start", "cancel", "resume")),
    ("task attempt", "hex16", "scheduler", "AttemptClerk", ("start", "cancel", "commit")),
    ("partition", "int", "ingest", "PartitionSmith", ("load", "flush", "merge", "replicate")),
    ("snapshot", "uuid", "backup", "SnapshotCellar", ("write", "restore", "delete", "verify")),
    ("index segment", "path", "search", "SegmentPress", ("merge", "rebuild", "flush", "load")),
    ("lease", "hex", "coord", "LeaseWarden", ("renew", "revoke", "expire")),
    ("certificate", "host", "tls", "CertNotary", ("load", "renew", "revoke", "verify")),
    ("cache entry", "hex16", "cache", "CacheLarder", ("load", "evict", "refresh")),
    ("user", "user", "auth", "AccountDesk", ("authenticate", "register", "revoke")),
    ("volume", "path", "storage", "VolumeYard", ("open", "sync", "restore")),
    ("peer", "ip6", "net", "PeerLedger", ("register", "sync", "close")),
    ("node", "ip", "cluster", "NodeRoster", ("register", "start", "sync")),
    ("transaction", "int", "db", "TxnJournal", ("start", "commit", "roll back")),
    ("checkpoint", "path", "db", "CheckpointKiln", ("write", "load", "verify")),
    ("webhook", "url", "gateway", "HookRelay", ("register", "send", "cancel")),
    ("message batch", "hex", "queue", "BatchPorter", ("publish", "send", "flush")),
    ("manifest", "path", "deploy", "ManifestScribe", ("load", "publish", "verify")),
)

# Why an operation failed; {kind} marks a variable part.
OUTCOMES: tuple[str, ...] = (
    "connection refused",
    "timed out after {dur}",
    "permission denied",
    "no space left on device",
    "checksum mismatch (expected {hex}, got {hex})",
    "peer {ip} closed the stream",
    "quota exceeded for {user}",
    "lease held by {hostport}",
    "too many open files",
    "broken pipe",
    "host unreachable: {ip6}",
    "read-only file system at {path}",
    "out of memory while allocating {bytes} bytes",
    "version conflict at revision {int}",
    "remote returned status {status}",
    "operation interrupted by shutdown",
)

# Where each subsystem lives as a Python module and which daemon writes its syslog lines.
SUBSYSTEMS: dict[str, tuple[str, str]] = {
    "storage": ("quarry.storage", "storaged"),
    "auth": ("quarry.auth", "authd"),
    "net": ("quarry.net", "wired"),
    "gateway": ("quarry.gateway", "gatewayd"),
    "scheduler": ("quarry.sched", "foremand"),
    "ingest": ("quarry.ingest", "ingestd"),
    "backup": ("quarry.backup", "cellard"),
    "search": ("quarry.search", "pressd"),
    "coord": ("quarry.coord", "wardend"),
    "tls": ("quarry.tls", "notaryd"),
    "cache": ("quarry.cache", "larderd"),
    "cluster": ("quarry.cluster", "rosterd"),
    "db": ("quarry.db", "journald-q"),
    "queue": ("quarry.queue", "porterd"),
    "deploy": ("quarry.deploy", "scribed"),
}

USERS: tuple[str, ...] = (
    "alice", "bogdan", "chen.wei", "dara", "eszter", "farid", "gwen", "hiro", "ines", "jonas",
    "kemal", "lotte", "mateo", "nia", "oskar", "priya", "quinn", "rafael", "sunita", "tomasz",
    "uma", "viktor", "wanjiru", "xavier", "yusuf", "zoë", "svc-backup", "svc-ingest", "ops-bot",
    "deploy", "root", "nobody",
)  # fmt: skip

HOST_STEMS: tuple[str, ...] = (
    "atlas", "boreal", "cinder", "delta", "ember", "fjord", "garnet", "harbor", "indigo",
    "juniper", "kestrel", "lumen", "marble", "nectar", "onyx", "pylon",
)  # fmt: skip

DIRECTORIES: tuple[str, ...] = (
    "/var/lib/quarry/data", "/var/lib/quarry/wal", "/srv/archive/2024", "/mnt/vol0/shards",
    "/mnt/vol1/shards", "/opt/quarry/conf", "/tmp/quarry-spill", "/home/ops/exports",
)  # fmt: skip

FILE_STEMS: tuple[str, ...] = (
    "part",
    "segment",
    "chunk",
    "ledger",
    "spill",
    "manifest",
    "export",
    "snapshot",
)
FILE_EXTENSIONS: tuple[str, ...] = (".dat", ".parquet", ".log", ".idx", ".json", ".tar.zst")

# Latin-1 words (no spaces: one goes into URL paths); as raw bytes they are not valid UTF-8.
LATIN1_WORDS: tuple[bytes, ...] = (
    b"caf\xe9", b"na\xefve", b"Z\xfcrich", b"Bras\xedlia", b"r\xe9sum\xe9", b"gar\xe7on",
    b"M\xfcnchen", b"Malm\xf6",
)  # fmt: skip

# Free text that turns up in logs from operators and scripts; none looks like a continuation
# (no leading space, no "at ", "Caused by", "Traceback" or exception class), a comment line
# (`#`: it would continue the entry above it) nor like a header.
JUNK_OPENERS: tuple[str, ...] = (
    "Reloading", "Operator note:", "Progress", "Banner:", "Please ignore", "Manual restart by",
    "Heartbeat skipped for", "Welcome to", "Dumping counters", "Rotation marker",
    "---- cut here", "*** Shell script", "%% maintenance window",
)  # fmt: skip
JUNK_WORDS: tuple[str, ...] = (
    "the", "nightly", "rollout", "of", "quarry", "cluster", "maintenance", "window", "check",
    "later", "ticket", "pending", "console", "output", "copied", "from", "terminal", "done",
)  # fmt: skip

# Java exception classes for stack traces: standard library ones plus invented ones.
JAVA_EXCEPTIONS: tuple[str, ...] = (
    "java.io.IOException", "java.lang.IllegalStateException", "java.net.ConnectException",
    "java.util.concurrent.TimeoutException", "java.lang.NullPointerException",
    "java.net.SocketTimeoutException", "io.quarry.storage.BlockCorruptError",
    "io.quarry.coord.LeaseLostException", "java.lang.IllegalArgumentException",
)  # fmt: skip
JAVA_METHODS: tuple[str, ...] = (
    "run",
    "call",
    "handle",
    "process",
    "apply",
    "execute",
    "dispatch",
    "doWork",
    "onEvent",
)
JAVA_LIBRARY_FRAMES: tuple[str, ...] = (
    "java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1136)",
    "java.util.concurrent.ThreadPoolExecutor$Worker.run(ThreadPoolExecutor.java:635)",
    "java.base/java.lang.Thread.run(Thread.java:833)",
    "java.util.concurrent.FutureTask.run(FutureTask.java:264)",
)

PYTHON_EXCEPTIONS: tuple[str, ...] = (
    "ValueError", "KeyError", "TimeoutError", "ConnectionResetError", "PermissionError",
    "RuntimeError", "OSError", "quarry.errors.BlockError", "quarry.errors.LeaseLostError",
)  # fmt: skip
PYTHON_CODE_LINES: tuple[str, ...] = (
    "result = self._client.call(request, timeout=timeout)",
    "block = self._store.read(block_id)",
    "return handler(event)",
    "raise BlockError(f'bad block {block_id}')",
    "payload = json.loads(raw)",
    "self._flush(batch)",
    "conn = await self._pool.acquire()",
    "value = cache[key]",
)

# Thread names for Java-style headers.
THREADS: tuple[str, ...] = (
    "main", "worker-1", "worker-2", "worker-7", "IO-Dispatch-3", "RPC handler 4 on 9020",
    "scheduler-tick", "LeaseRenewer", "async-flush-0", "BlockReceiver-12",
)  # fmt: skip

# Apache access logs: resources and route shapes that make the request-line templates.
WEB_RESOURCES: tuple[str, ...] = (
    "users", "orders", "invoices", "carts", "products", "reviews", "shipments", "coupons",
    "tickets", "reports", "teams", "projects", "builds", "artifacts", "alerts", "dashboards",
    "webhooks", "tokens", "sessions", "uploads", "exports", "regions", "plans", "audits",
    "notes", "comments", "tags", "feeds", "jobs", "backups", "keys", "quotas", "devices",
    "invites", "payments", "refunds", "messages", "channels", "calendars", "rooms",
)  # fmt: skip
# {kind} marks a variable part, "{res}" the resource, which is fixed per template.
WEB_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/api/v2/{res}/{int}"),
    ("GET", "/api/v2/{res}?page={small}&limit=50"),
    ("POST", "/api/v2/{res}"),
    ("PUT", "/api/v2/{res}/{int}"),
    ("DELETE", "/api/v2/{res}/{hex}"),
    ("GET", "/{res}/{int}/edit"),
    ("GET", "/static/{res}/bundle.{hex}.js"),
    ("PATCH", "/api/v2/{res}/{uuid}/state"),
)
USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 13_4) AppleWebKit/605.1.15 Version/17.1 Safari/605",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
    "curl/8.4.0",
    "quarry-cli/2.3.1 (linux; amd64)",
    "python-requests/2.31.0",
    "Go-http-client/2.0",
)
STATUSES: dict[str, tuple[int, ...]] = {
    "INFO": (200, 200, 200, 200, 201, 204, 301, 302, 304, 304),
    "WARNING": (400, 401, 403, 404, 404, 404, 409, 429),
    "ERROR": (500, 502, 503, 503, 504),
}

# Blue Gene/L-style RAS components and alert tags (tags invented here).
BGL_COMPONENTS: tuple[str, ...] = (
    "KERNEL", "APP", "MMCS", "LINKCARD", "DISCOVERY", "MONITOR", "HARDWARE",
)  # fmt: skip
BGL_ALERT_TAGS: tuple[str, ...] = ("KERNPANIC", "APPCRASH", "LINKFAIL", "MEMECC", "NODEDOWN")
