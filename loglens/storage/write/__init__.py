"""What writes the results database: the server's uploads and jobs, the processor's results.

- `database.Database`: uploads, blobs, jobs and results (the one write connection).
- `jobs.JobQueue`: the job queue part of it (taken, failed, requeued, retried).
- `writer.Writer`: the plumbing of a write connection (shared with the alerts' store).
- `rows`: columns to select, rows to dataclasses, results to INSERT statements.
- `results.results_from_analysis`: a merged analysis as the rows stored for a blob.
- `possession.blob_stored_by`: dedup only against an operator's own uploads.
"""
