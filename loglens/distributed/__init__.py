"""Scale-out on Celery: the blocks of a stored upload as tasks for workers on many machines.

    app        the Celery app built from the Config (JSON only, late acks, prefetch 1)
    wire       task messages as JSON, the job leases that vouch for them, path checks
    tasks      the worker's side: run a message, write the partial summary
    partials   partial summaries as files (JSON and Arrow, SHA-256 checked), no pickle
    dispatch   the processor's side: an Executor whose tasks run on the workers

With BROKER_URL empty none of this is imported: the processor runs its local pool.
Blobs reach workers through a shared STORAGE_PATH (NFS); see README, "Many machines".
"""
