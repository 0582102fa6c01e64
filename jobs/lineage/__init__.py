"""OpenLineage run events for every job run, emitted once at the job-runner seam (`emit.run_with_lineage`).

`datasets` turns a job's report into the datasets it read and wrote, `facets` describes them (schema,
Iceberg snapshot, quality assertions, PII actions, gold column lineage), `transport` sends the events
(a file per event under the lake's `ops/lineage/` by default, HTTP when configured).
"""
