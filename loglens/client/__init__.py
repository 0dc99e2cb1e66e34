"""The upload client: send log files to the server, verified, resuming after drops.

`upload_file` is the API for one file; `python client.py` (`loglens.client.cli`) is the CLI.
"""

from __future__ import annotations

from loglens.client.models import (
    ProgressCallback,
    UploadError,
    UploadEvent,
    UploadOptions,
    UploadResult,
)
from loglens.client.sources import Payload, parse_server, prepare_file
from loglens.client.upload import upload, upload_file

__all__ = [
    "Payload",
    "ProgressCallback",
    "UploadError",
    "UploadEvent",
    "UploadOptions",
    "UploadResult",
    "parse_server",
    "prepare_file",
    "upload",
    "upload_file",
]
