"""The platform's benchmarks (issue 3): ingest throughput, push latency, map GeoJSON. Run with
``python -m bench`` from the repository root; see ``bench/__main__.py`` and docs/benchmarks.md."""
