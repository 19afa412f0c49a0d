{{/* Names and labels shared by the chart's templates. */}}

{{- define "fitpipe.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fitpipe.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "fitpipe.labels" -}}
app.kubernetes.io/name: {{ include "fitpipe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "fitpipe.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fitpipe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "fitpipe.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "fitpipe.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository@digest when image.digest is set (release builds), else repository:tag. */}}
{{- define "fitpipe.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The operator's permissions: exactly what fitpipe_operator.cluster.PLURALS and kopf use. */}}
{{- define "fitpipe.rules" -}}
# Watching FitbitPipelines and reading one fresh before each pass; patch for kopf's progress annotations.
- apiGroups: ["fitpipe.io"]
  resources: ["fitbitpipelines"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["fitpipe.io"]
  resources: ["fitbitpipelines/status"]
  verbs: ["patch"]
# Owner references with blockOwnerDeletion on the children (OwnerReferencesPermissionEnforcement).
- apiGroups: ["fitpipe.io"]
  resources: ["fitbitpipelines/finalizers"]
  verbs: ["update"]
# Progress and errors as Kubernetes Events.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
# Generated credentials: created once when absent; never read, changed or deleted (no get, no list).
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["create"]
# The database's claims (made by the StatefulSet controller): owner of the generated Secrets, grown in place.
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "patch"]
# Children: server-side apply (create, patch), status reads (get), pruning (list, delete); the
# workloads are watched too (only those labelled as the operator's), so status and repair are prompt.
- apiGroups: [""]
  resources: ["services", "configmaps"]
  verbs: ["get", "list", "create", "patch", "delete"]
- apiGroups: ["apps"]
  resources: ["statefulsets", "deployments"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["batch"]
  resources: ["jobs", "cronjobs"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies", "ingresses"]
  verbs: ["get", "list", "create", "patch", "delete"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "list", "create", "patch", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "create", "patch", "delete"]
- apiGroups: ["monitoring.coreos.com"]
  resources: ["servicemonitors", "prometheusrules", "alertmanagerconfigs"]
  verbs: ["get", "list", "create", "patch", "delete"]
{{- end -}}

{{/* monitoringLabels as the operator's --monitoring-labels argument: key=value,... sorted by key. */}}
{{- define "fitpipe.monitoringLabels" -}}
{{- $pairs := list -}}
{{- range $key, $value := .Values.monitoringLabels -}}
{{- $pairs = append $pairs (printf "%s=%s" $key $value) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}
