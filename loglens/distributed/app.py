"""The Celery application of loglens, built from the Config (no app at import time).

Both sides build it the same way: the processor service sends tasks by name with it,
`python -m loglens worker` runs a Celery worker on it. Messages and results are JSON
only (`accept_content`): nothing from the broker is ever unpickled.

Delivery is at least once, results are taken once: tasks are acknowledged after they
ran (`task_acks_late`), a task whose worker process died is put back in the queue
(`task_reject_on_worker_lost`), and each worker process takes one task at a time
(prefetch multiplier 1), so a worker that dies holds back at most its running tasks.
A task run twice writes the same partial file (keyed by job and task); the processor
takes the first answer of each task and stores a job's results once.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from celery import Celery
from kombu.utils.url import maybe_sanitize_url

from loglens.config import Config
from loglens.distributed.tasks import TASK_NAME, run_message
from loglens.errors import ConfigError, LoglensError

logger = logging.getLogger(__name__)

# Redis has no acknowledgement: a task taken by a worker that died is given again after
# this many seconds (RabbitMQ gives it again as soon as the worker's connection drops).
REDIS_VISIBILITY_SECONDS = 600
# How long a Redis client waits for an answer or a connection before it gives up.
REDIS_SOCKET_SECONDS = 10.0


class BrokerUnavailable(LoglensError):
    """The broker of BROKER_URL cannot be reached."""


def shown_url(url: str) -> str:
    """A broker URL fit for logs and messages: its password masked."""
    return str(maybe_sanitize_url(url))


def make_app(config: Config) -> Any:
    """The Celery app of `config.broker_url`, with the analysis task registered."""
    url = config.broker_url
    if not url:  # load_config has checked the scheme of one that is set
        raise ConfigError("BROKER_URL is empty: there is no broker to run tasks on")
    redis = url.lower().startswith("redis")
    app = Celery("loglens", broker=url, backend=url if redis else "rpc://", set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=config.broker_queue,
        task_create_missing_queues=True,
        result_expires=24 * 3600,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=True,
        worker_send_task_events=False,
    )
    if redis:
        # Every read and connect has a deadline: redis-py waits forever by default, and a
        # client stuck on a connection to a Redis that went away would never see it back.
        deadlines = {
            "socket_timeout": REDIS_SOCKET_SECONDS,
            "socket_connect_timeout": REDIS_SOCKET_SECONDS,
        }
        options = {"visibility_timeout": REDIS_VISIBILITY_SECONDS, **deadlines}
        app.conf.broker_transport_options = options
        app.conf.result_backend_transport_options = options
        app.conf.update(
            redis_socket_timeout=REDIS_SOCKET_SECONDS,
            redis_socket_connect_timeout=REDIS_SOCKET_SECONDS,
            redis_backend_health_check_interval=int(REDIS_SOCKET_SECONDS),
        )
    storage = Path(config.storage_path)

    @app.task(name=TASK_NAME, bind=True)  # type: ignore[untyped-decorator]
    def analyse_blocks(self: Any, message: object) -> dict[str, Any]:
        """Summarise the blocks of one task message into a partial file."""
        return run_message(storage, message, str(self.request.hostname or ""))

    return app


def check_broker(app: Any, url: str, timeout: float = 10.0) -> None:
    """Connect to the broker once; BrokerUnavailable names BROKER_URL if it cannot."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as exc:  # kombu raises the transport's own errors: all say "down"
        raise BrokerUnavailable(
            f"cannot reach the broker at BROKER_URL={shown_url(url)}: {exc} (start RabbitMQ "
            "or Redis there, or fix BROKER_URL; leave it empty to analyse on this machine)"
        ) from exc
