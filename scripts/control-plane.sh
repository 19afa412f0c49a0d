#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for the cluster tests (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok with two fake nodes, prometheus-operator), built once
# from the Go module proxy. See scripts/control-plane/control_plane.py and docs/kubernetes.md.
#   scripts/control-plane.sh build                  build into the cache (the first time ~minutes)
#   scripts/control-plane.sh start [--dir DIR]      last line printed: KUBECONFIG=<path>
#   scripts/control-plane.sh stop  [--dir DIR]      ends exactly what `start` started in DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x "$here/../.venv/bin/python" ]; then python="$here/../.venv/bin/python"; else python=python3; fi
fi
exec "$python" "$here/control-plane/control_plane.py" "$@"
