"""What reads the results database: the query CLI, the HTTP API and the dashboard.

- `queries.Reader`: every query of results (stats, templates, timeline, uploads, ...).
- `findings`: its anomalies, categories, trends and diffs (a base class of `Reader`).
- `filters`: `Filters`, `Page` and the parsing of times (no database driver).
- `selection`: the `sel` CTE of the selected blobs; `summaries`, `ranking`, `insights`,
  `trends`, `listing`: the SQL of each kind of answer.
- `pool.ReadPool`: the read-only connections; `jobs.JobReader`: the jobs, read-only.
"""
