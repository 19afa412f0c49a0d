"""The Helm chart, also the resource package `fitpipe_chart` (setup.py): an installed fitpipe carries the
chart's CRD and values.yaml (read by fitpipe_operator/crd.py and release.py). It holds no code; Helm
ignores this file (.helmignore)."""
