{{/*
Every template here takes a scope with .Values, .Release and .Chart: this chart's root context, or,
from a parent chart, the subchart's scope `(index .Subcharts "cloudflare-siem-forwarder")`.
*/}}

{{- define "cloudflare-siem-forwarder.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cloudflare-siem-forwarder.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "cloudflare-siem-forwarder.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cloudflare-siem-forwarder.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cloudflare-siem-forwarder.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cloudflare-siem-forwarder.labels" -}}
helm.sh/chart: {{ include "cloudflare-siem-forwarder.chart" . }}
{{ include "cloudflare-siem-forwarder.selectorLabels" . }}
app.kubernetes.io/version: {{ include "cloudflare-siem-forwarder.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: forwarder
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "cloudflare-siem-forwarder.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cloudflare-siem-forwarder.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "cloudflare-siem-forwarder.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "cloudflare-siem-forwarder.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "cloudflare-siem-forwarder.imageTag" .) }}
{{- end }}
{{- end }}

{{- define "cloudflare-siem-forwarder.credentialsSecretName" -}}
{{- if .Values.credentials.existingSecret }}
{{- .Values.credentials.existingSecret }}
{{- else }}
{{- printf "%s-credentials" (include "cloudflare-siem-forwarder.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "cloudflare-siem-forwarder.stateClaimName" -}}
{{- if .Values.persistence.existingClaim }}
{{- .Values.persistence.existingClaim }}
{{- else }}
{{- printf "%s-state" (include "cloudflare-siem-forwarder.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* "true" when checkpoints are kept in a ConfigMap through the Kubernetes API, else empty. */}}
{{- define "cloudflare-siem-forwarder.kubernetesStore" -}}
{{- if eq (.Values.checkpoints.store | default "file") "kubernetes" }}true{{ end }}
{{- end }}

{{/* "true" when the chart runs a StatefulSet of one pod per shard instead of the Deployment. */}}
{{- define "cloudflare-siem-forwarder.sharded" -}}
{{- if gt (.Values.sharding.shards | int) 1 }}true{{ end }}
{{- end }}

{{- define "cloudflare-siem-forwarder.checkpointConfigMapName" -}}
{{- .Values.checkpoints.configMapName | default (printf "%s-checkpoints" (include "cloudflare-siem-forwarder.fullname" .)) }}
{{- end }}

{{- define "cloudflare-siem-forwarder.leaseName" -}}
{{- .Values.leaderElection.leaseName | default (include "cloudflare-siem-forwarder.fullname" .) }}
{{- end }}

{{/* The Leases the forwarder campaigns for, as a JSON list: one, or <name>-<ordinal> per shard. */}}
{{- define "cloudflare-siem-forwarder.leaseNames" -}}
{{- $name := include "cloudflare-siem-forwarder.leaseName" . }}
{{- $shards := .Values.sharding.shards | int }}
{{- if gt $shards 1 }}
{{- $names := list }}
{{- range $ordinal := until $shards }}{{ $names = append $names (printf "%s-%d" $name $ordinal) }}{{ end }}
{{- toJson $names }}
{{- else }}
{{- list $name | toJson }}
{{- end }}
{{- end }}

{{/* The headless Service that governs the StatefulSet (pod identity only; it has no ports). */}}
{{- define "cloudflare-siem-forwarder.headlessServiceName" -}}
{{- printf "%s-shards" (include "cloudflare-siem-forwarder.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A scrape endpoint's settings after its port, from serviceMonitor or podMonitor (the values have the
same names as the fields of monitoring.coreos.com/v1 endpoints).
*/}}
{{- define "cloudflare-siem-forwarder.scrapeEndpoint" -}}
path: /metrics
interval: {{ .interval }}
scrapeTimeout: {{ .scrapeTimeout }}
{{- with .scheme }}
scheme: {{ . }}
{{- end }}
{{- with .tlsConfig }}
tlsConfig:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .relabelings }}
relabelings:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .metricRelabelings }}
metricRelabelings:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
