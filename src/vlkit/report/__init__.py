"""Run comparison reports: `vlkit report RUN... --out DIR` reads runs (finished, still training or killed) and writes
one HTML page with curves, a table of best epochs and metrics, per-type results, config differences, published
numbers and, for captioning, example captions (`build.write_report`; `build.report_table` for `--json`)."""
