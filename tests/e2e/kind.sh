#!/usr/bin/env bash
# End-to-end on a kind cluster: build the image, install kube-prometheus-stack and the chart, apply a
# FitbitPipeline, wait for Ready, run the ingest once, call the API (logged in as fitpipe_api, not the
# superuser), check the NetworkPolicies are enforced (the dashboard is refused by the database, the API
# is let in), check Prometheus loaded the rules.
# Needs docker, kind >= 0.24 (its kindnet enforces NetworkPolicies), kubectl, helm and network access to
# the image and chart registries.
#   bash tests/e2e/kind.sh              # creates and deletes cluster "fitpipe-e2e"
#   KEEP_CLUSTER=1 bash tests/e2e/kind.sh   # leaves it running for a look around
set -euo pipefail
cd "$(dirname "$0")/../.."

CLUSTER=${CLUSTER:-fitpipe-e2e}
IMAGE=${IMAGE:-ghcr.io/fitpipe/fitpipe:e2e}
NS=e2e
WAIT=${WAIT:-15m}

say() { printf '\n== %s\n' "$*"; }
for tool in docker kind kubectl helm curl; do
  command -v "$tool" >/dev/null || { echo "kind.sh: $tool is not installed" >&2; exit 2; }
done
docker info >/dev/null 2>&1 || { echo "kind.sh: no container engine (docker) available" >&2; exit 2; }
kind_version=$(kind version | sed -n 's/^kind v\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
read -r kind_major kind_minor <<<"${kind_version:-0 0}"
if (( kind_major == 0 && kind_minor < 24 )); then
  echo "kind.sh: kind >= 0.24 is needed (its kindnet enforces NetworkPolicies); found: $(kind version)" >&2; exit 2
fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ "${KEEP_CLUSTER:-0}" != 1 ]]; then kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

say "image $IMAGE"
docker build -t "$IMAGE" .

say "cluster $CLUSTER"
kind create cluster --name "$CLUSTER" --config kind-config.yaml --wait 180s
kind load docker-image "$IMAGE" --name "$CLUSTER"

say "kube-prometheus-stack (Prometheus selects every ServiceMonitor and PrometheusRule)"
helm repo add prometheus-community https://prometheus-community.github.io/helm-charts >/dev/null
helm repo update prometheus-community >/dev/null
helm install kps prometheus-community/kube-prometheus-stack -n monitoring --create-namespace --wait --timeout 10m \
  --set fullnameOverride=kps \
  --set grafana.enabled=false \
  --set prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues=false \
  --set prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues=false

say "fitpipe chart"
helm lint --strict charts/fitpipe
helm install fitpipe charts/fitpipe -n fitpipe-system --create-namespace --wait \
  --set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE##*:}" --set image.pullPolicy=Never

say "FitbitPipeline $NS/e2e"
kubectl create namespace "$NS"
kubectl -n "$NS" create secret generic fitpipe-google --from-literal=client_id=e2e --from-literal=client_secret=e2e
cat <<YAML | kubectl apply -f -
apiVersion: fitpipe.io/v1alpha1
kind: FitbitPipeline
metadata: {name: e2e, namespace: $NS}
spec:
  study: e2e
  image: {repository: "${IMAGE%:*}", tag: "${IMAGE##*:}", pullPolicy: Never}
  timescaledb:
    storage: {size: 2Gi, deleteWithPipeline: true}
    resources: {requests: {cpu: 250m, memory: 512Mi}, limits: {memory: 1Gi}}
  api: {replicas: 1}
  googleHealth: {secretName: fitpipe-google}
YAML
kubectl -n "$NS" wait fitbitpipeline/e2e --for=condition=Ready --timeout="$WAIT"
kubectl -n "$NS" get fitbitpipelines

say "ingest once, now"
kubectl -n "$NS" create job e2e-ingest-now --from=cronjob/e2e-ingest
kubectl -n "$NS" wait job/e2e-ingest-now --for=condition=complete --timeout=10m

say "API"
kubectl -n "$NS" port-forward svc/e2e-api 18000:8000 >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 30); do curl -fsS http://127.0.0.1:18000/healthz >/dev/null 2>&1 && break; sleep 1; done
curl -fsS http://127.0.0.1:18000/healthz
readyz=$(curl -fsS http://127.0.0.1:18000/readyz); echo "$readyz"
grep -q '"database_login": *"fitpipe_api"' <<<"$readyz" || { echo "kind.sh: the API does not log in as fitpipe_api" >&2; exit 1; }
curl -fsS http://127.0.0.1:18000/metrics | grep -E '^fitpipe_ingest_runs_total'

say "network policies enforced"
# A TCP connection from a pod's own container, with the image's python3; exit 0 when it opened.
connect() {  # deployment host port
  kubectl -n "$NS" exec "deploy/$1" -c "${1#e2e-}" -- python3 -c \
    "import socket,sys; socket.create_connection(('$2', $3), timeout=5); sys.exit(0)" >/dev/null 2>&1
}
connect e2e-api e2e-timescaledb 5432 || { echo "kind.sh: the API cannot reach the database" >&2; exit 1; }
echo "the API reaches the database (allowed)"
if connect e2e-dashboard e2e-timescaledb 5432; then
  echo "kind.sh: the dashboard reached the database: NetworkPolicies are not enforced" >&2; exit 1
fi
echo "the dashboard cannot reach the database (denied)"
connect e2e-dashboard e2e-api 8000 || { echo "kind.sh: the dashboard cannot reach the API" >&2; exit 1; }
echo "the dashboard reaches the API (allowed)"

say "alert rules loaded by Prometheus"
kubectl -n monitoring port-forward svc/kps-prometheus 19090:9090 >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 60); do
  if curl -fsS http://127.0.0.1:19090/api/v1/rules 2>/dev/null | grep -q '"name":"IngestStale"'; then
    echo "IngestStale and its group are loaded"; loaded=1; break
  fi
  sleep 5
done
[[ "${loaded:-0}" == 1 ]] || { echo "kind.sh: Prometheus did not load fitpipe's rules" >&2; exit 1; }

say "delete the pipeline"
kubectl -n "$NS" delete fitbitpipeline/e2e --wait --timeout=5m
echo "kind.sh: all steps passed"
