"""Monitoring of fitpipe: the Prometheus metrics it exports, its alert rules, the Alertmanager
configuration and the Grafana dashboards, all generated from this one package.
"""
