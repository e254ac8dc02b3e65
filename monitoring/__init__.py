"""Observability as code: the Grafana dashboards and the native stack's Prometheus
configuration are generated here, and the files in this folder are their output."""
