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
Variables the chart takes from the pod itself (the downward API), as a JSON object name -> fieldPath.
With the kubernetes store: the pod's name (Lease holder identity; with sharding, the ordinal at its
end) and its namespace (where the ConfigMap, the Lease and the Role are).
*/}}
{{- define "cloudflare-siem-forwarder.fieldEnv" -}}
{{- if include "cloudflare-siem-forwarder.kubernetesStore" . }}
{{- dict "FORWARDER_POD_NAME" "metadata.name" "FORWARDER_KUBERNETES_NAMESPACE" "metadata.namespace" | toJson }}
{{- else }}
{{- dict | toJson }}
{{- end }}
{{- end }}

{{/*
Settings that other parts of the manifests follow (the Role's resourceNames, the StatefulSet, the
probes' port), as a JSON object variable -> the value that sets it. `env` may not set them.
*/}}
{{- define "cloudflare-siem-forwarder.setByValues" -}}
{{- dict
  "FORWARDER_HEALTH_PORT" (list "forwarder.healthPort" "which also sets the container port the probes use")
  "FORWARDER_CHECKPOINT_STORE" (list "checkpoints.store" "which also creates the RBAC the kubernetes store needs")
  "FORWARDER_KUBERNETES_CONFIGMAP" (list "checkpoints.configMapName" "which the Role is limited to")
  "FORWARDER_LEADER_ELECTION" (list "leaderElection.enabled" "which also allows replicaCount > 1")
  "FORWARDER_LEASE_NAME" (list "leaderElection.leaseName" "which the Role is limited to")
  "FORWARDER_SHARDS" (list "sharding.shards" "which also sets the StatefulSet's replicas and the Role's Leases")
  | toJson }}
{{- end }}

{{/*
Combinations of values that cannot work, refused with a sentence before anything is rendered.
*/}}
{{- define "cloudflare-siem-forwarder.validate" -}}
{{- $values := .Values }}
{{- $kubernetes := include "cloudflare-siem-forwarder.kubernetesStore" . }}
{{- $election := $values.leaderElection.enabled }}
{{- $shards := $values.sharding.shards | int }}
{{- $replicas := $values.replicaCount | int }}
{{- if and $election (not $kubernetes) }}
{{- fail "leaderElection.enabled needs checkpoints.store: kubernetes: the replica that takes over must resume from the checkpoints the leader committed, and a pod's own file is not shared" }}
{{- end }}
{{- if and (gt $shards 1) (not $election) }}
{{- fail (printf "sharding.shards %d needs leaderElection.enabled: true (and checkpoints.store: kubernetes): each shard holds a Lease of its own, so that a shard's replacement pod never reads alongside it" $shards) }}
{{- end }}
{{- if and (gt $replicas 1) (not $election) }}
{{- fail (printf "replicaCount %d needs leaderElection.enabled: true (and checkpoints.store: kubernetes): without it every replica reads every stream and ships each event %d times" $replicas $replicas) }}
{{- end }}
{{- if and (gt $shards 1) (gt $replicas 1) }}
{{- fail (printf "replicaCount %d with sharding.shards %d: the StatefulSet runs one pod per shard, the only holder of that shard's Lease; leave replicaCount at 1 (0 stops every shard)" $replicas $shards) }}
{{- end }}
{{- if and (gt $shards 1) (eq $values.mode "sidecar") }}
{{- fail "sharding.shards > 1 needs mode: deployment: the chart's StatefulSet gives each shard its pod and ordinal" }}
{{- end }}
{{- if and $kubernetes (eq $values.mode "sidecar") (not $values.serviceAccount.name) }}
{{- fail "checkpoints.store: kubernetes in mode: sidecar: set serviceAccount.name to the service account of the pod the forwarder runs in (the chart binds its Role to it; that pod must mount its token)" }}
{{- end }}
{{- if and (gt $shards 1) (gt (len (include "cloudflare-siem-forwarder.fullname" .)) 52) }}
{{- fail (printf "sharding.shards > 1: the StatefulSet's name %q is longer than 52 characters, too long for the labels Kubernetes gives its pods; set fullnameOverride" (include "cloudflare-siem-forwarder.fullname" .)) }}
{{- end }}
{{- if and (gt $shards 1) $values.persistence.enabled $values.persistence.existingClaim }}
{{- fail "persistence.existingClaim with sharding.shards > 1: one claim cannot serve every shard; leave it empty (each shard gets a claim of its own) or disable persistence" }}
{{- end }}
{{- if and (gt $replicas 1) (le $shards 1) (eq $values.mode "deployment") $values.persistence.enabled (not $values.persistence.existingClaim) (not (has "ReadWriteMany" $values.persistence.accessModes)) }}
{{- fail (printf "replicaCount %d with a %s state claim: the replicas cannot all mount it; set persistence.enabled: false (checkpoints are in the ConfigMap; dead letters then live on an emptyDir) or use ReadWriteMany" $replicas (join ", " $values.persistence.accessModes)) }}
{{- end }}
{{- if $election }}
{{- $lease := $values.leaderElection }}
{{- if not (lt (float64 $lease.renewDeadline) (float64 $lease.leaseDuration)) }}
{{- fail (printf "leaderElection.renewDeadline (%v) must be shorter than leaderElection.leaseDuration (%v): a leader that cannot renew must stop before another replica may take over" $lease.renewDeadline $lease.leaseDuration) }}
{{- end }}
{{- if not (lt (mulf $lease.retryPeriod 1.2) (float64 $lease.renewDeadline)) }}
{{- fail (printf "leaderElection.retryPeriod (%v) must be shorter than leaderElection.renewDeadline / 1.2 (%v): a leader needs more than one try to renew" $lease.retryPeriod $lease.renewDeadline) }}
{{- end }}
{{- end }}
{{- end }}

{{/* The keys of the credentials Secret, sorted, as a JSON list. */}}
{{- define "cloudflare-siem-forwarder.credentialKeys" -}}
{{- if .Values.credentials.existingSecret }}
{{- .Values.credentials.existingSecretKeys | uniq | sortAlpha | toJson }}
{{- else }}
{{- keys .Values.credentials.values | sortAlpha | toJson }}
{{- end }}
{{- end }}

{{/* A value as an environment variable's string: YAML numbers arrive as floats, and 100000000 must
not become "1e+08". */}}
{{- define "cloudflare-siem-forwarder.envString" -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) }}
{{- . | int64 | toString }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/*
The environment of the forwarder as a JSON object, name to string: the state paths, the first-class
values that are set, then `env`, which wins. Fails with a sentence when a credential would end up in
plain text or be set twice.
*/}}
{{- define "cloudflare-siem-forwarder.envMap" -}}
{{- include "cloudflare-siem-forwarder.validate" . }}
{{- $values := .Values }}
{{- $forwarder := $values.forwarder }}
{{- $env := dict
  "FORWARDER_CHECKPOINT_STORE" ($values.checkpoints.store | default "file")
  "FORWARDER_CHECKPOINT_PATH" "/var/lib/cloudflare-siem-forwarder/checkpoints.json"
  "FORWARDER_DEAD_LETTER_PATH" "/var/lib/cloudflare-siem-forwarder/dead-letters.ndjson"
  "FORWARDER_HEALTH_PORT" (include "cloudflare-siem-forwarder.envString" $forwarder.healthPort)
  "FORWARDER_SHUTDOWN_GRACE" (include "cloudflare-siem-forwarder.envString" $forwarder.shutdownGrace)
  "FORWARDER_LOG_LEVEL" $forwarder.logLevel
}}
{{- if include "cloudflare-siem-forwarder.kubernetesStore" . }}
{{- $_ := set $env "FORWARDER_KUBERNETES_CONFIGMAP" (include "cloudflare-siem-forwarder.checkpointConfigMapName" .) }}
{{- end }}
{{- with $values.leaderElection }}
{{- if .enabled }}
{{- $_ := set $env "FORWARDER_LEADER_ELECTION" "true" }}
{{- $_ := set $env "FORWARDER_LEASE_NAME" (include "cloudflare-siem-forwarder.leaseName" $) }}
{{- $_ := set $env "FORWARDER_LEASE_DURATION" (include "cloudflare-siem-forwarder.envString" .leaseDuration) }}
{{- $_ := set $env "FORWARDER_LEASE_RENEW_DEADLINE" (include "cloudflare-siem-forwarder.envString" .renewDeadline) }}
{{- $_ := set $env "FORWARDER_LEASE_RETRY_PERIOD" (include "cloudflare-siem-forwarder.envString" .retryPeriod) }}
{{- $_ := set $env "FORWARDER_SHARDS" (include "cloudflare-siem-forwarder.envString" $values.sharding.shards) }}
{{- end }}
{{- end }}
{{- with $forwarder.accountIds }}{{ $_ := set $env "FORWARDER_ACCOUNT_IDS" (join "," .) }}{{ end }}
{{- with $forwarder.logTypes }}{{ $_ := set $env "FORWARDER_LOG_TYPES" (join "," .) }}{{ end }}
{{- with $forwarder.scimIdpIds }}{{ $_ := set $env "FORWARDER_SCIM_IDP_IDS" (join "," .) }}{{ end }}
{{- with $forwarder.sinks }}{{ $_ := set $env "FORWARDER_SINKS" (join "," .) }}{{ end }}
{{- with $forwarder.startAt }}{{ $_ := set $env "FORWARDER_START_AT" . }}{{ end }}
{{- with $forwarder.apiBaseUrl }}{{ $_ := set $env "CLOUDFLARE_API_BASE_URL" . }}{{ end }}
{{- /* file.path -> FORWARDER_FILE__PATH, splunkHec.indexAccessRequests -> FORWARDER_SPLUNK_HEC__INDEX_ACCESS_REQUESTS */}}
{{- range $sink := list "file" "splunkHec" "elasticsearch" "syslog" }}
{{- range $key, $value := index $values $sink }}
{{- if not (or (kindIs "invalid" $value) (eq (toString $value) "")) }}
{{- $name := printf "FORWARDER_%s__%s" ($sink | snakecase | upper) ($key | snakecase | upper) }}
{{- $_ := set $env $name (include "cloudflare-siem-forwarder.envString" $value) }}
{{- end }}
{{- end }}
{{- end }}
{{- $owned := include "cloudflare-siem-forwarder.setByValues" . | fromJson }}
{{- $fromPod := include "cloudflare-siem-forwarder.fieldEnv" . | fromJson }}
{{- range $name, $value := $values.env }}
{{- if hasKey $owned $name }}
{{- fail (printf "env.%s: set %s instead, %s" $name (index $owned $name 0) (index $owned $name 1)) }}
{{- end }}
{{- if hasKey $fromPod $name }}
{{- fail (printf "env.%s: the chart sets it from the pod (%s) with checkpoints.store: kubernetes" $name (index $fromPod $name)) }}
{{- end }}
{{- if and (eq $name "FORWARDER_SHARD_ORDINAL") (include "cloudflare-siem-forwarder.sharded" $) }}
{{- fail "env.FORWARDER_SHARD_ORDINAL: each pod of the StatefulSet takes its shard from the ordinal at the end of its name; do not set it" }}
{{- end }}
{{- if and (regexMatch "(TOKEN|PASSWORD|API_KEY)$" $name) (not (hasSuffix "_FILE" $name)) }}
{{- fail (printf "env.%s looks like a credential: put it in credentials.values (or in the Secret named by credentials.existingSecret), not in plain text" $name) }}
{{- end }}
{{- $_ := set $env $name (include "cloudflare-siem-forwarder.envString" $value) }}
{{- end }}
{{- range $key := include "cloudflare-siem-forwarder.credentialKeys" . | fromJsonArray }}
{{- if or (hasKey $env $key) (hasKey $env (printf "%s_FILE" $key)) }}
{{- fail (printf "%s is both a credentials key and set in env (or a value of its own): set it in one place" $key) }}
{{- end }}
{{- end }}
{{- range $item := $values.extraEnv }}
{{- if or (hasKey $env $item.name) (hasKey $fromPod $item.name) }}
{{- fail (printf "extraEnv sets %s, which env (or a value of its own) sets too: set it in one place" $item.name) }}
{{- end }}
{{- if hasKey $owned $item.name }}
{{- fail (printf "extraEnv.%s: set %s instead, %s" $item.name (index $owned $item.name 0) (index $owned $item.name 1)) }}
{{- end }}
{{- end }}
{{- toJson $env }}
{{- end }}

{{/*
The forwarder's container without its name: shared by the Deployment and the sidecar templates.
*/}}
{{- define "cloudflare-siem-forwarder.containerSpec" -}}
{{- $values := .Values }}
{{- $keys := include "cloudflare-siem-forwarder.credentialKeys" . | fromJsonArray -}}
image: {{ include "cloudflare-siem-forwarder.image" . | quote }}
imagePullPolicy: {{ $values.image.pullPolicy }}
args:
  {{- toYaml $values.args | nindent 2 }}
ports:
  - name: fwd-health
    containerPort: {{ $values.forwarder.healthPort | int }}
    protocol: TCP
env:
  {{- $env := include "cloudflare-siem-forwarder.envMap" . | fromJson }}
  {{- range $name := keys $env | sortAlpha }}
  - name: {{ $name }}
    value: {{ index $env $name | quote }}
  {{- end }}
  {{- $fromPod := include "cloudflare-siem-forwarder.fieldEnv" . | fromJson }}
  {{- range $name := keys $fromPod | sortAlpha }}
  - name: {{ $name }}
    valueFrom:
      fieldRef:
        fieldPath: {{ index $fromPod $name }}
  {{- end }}
  {{- range $key := $keys }}
  - name: {{ printf "%s_FILE" $key }}
    value: {{ printf "%s/%s" $values.credentials.mountPath $key | quote }}
  {{- end }}
  {{- with $values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with $values.envFrom }}
envFrom:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumeMounts:
  - name: cloudflare-siem-forwarder-state
    mountPath: /var/lib/cloudflare-siem-forwarder
  - name: cloudflare-siem-forwarder-tmp
    mountPath: /tmp
  {{- if $keys }}
  - name: cloudflare-siem-forwarder-credentials
    mountPath: {{ $values.credentials.mountPath }}
    readOnly: true
  {{- end }}
  {{- with $values.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with $values.resources }}
resources:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.securityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.startupProbe }}
startupProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.livenessProbe }}
livenessProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.readinessProbe }}
readinessProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
The forwarder's pod template (metadata and spec), shared by the Deployment and the StatefulSet so
that they cannot drift.
*/}}
{{- define "cloudflare-siem-forwarder.podTemplate" -}}
metadata:
  {{- $annotations := deepCopy .Values.podAnnotations }}
  {{- if and .Values.credentials.values (not .Values.credentials.existingSecret) }}
  {{- /* A new token rolls the pod: the forwarder reads its credentials at start. */}}
  {{- $_ := set $annotations "checksum/credentials" (include (print $.Template.BasePath "/secret.yaml") . | sha256sum) }}
  {{- end }}
  {{- with $annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  labels:
    {{- include "cloudflare-siem-forwarder.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "cloudflare-siem-forwarder.serviceAccountName" . }}
  {{- /* The kubernetes checkpoint store calls the API with the service account's token. */}}
  automountServiceAccountToken: {{ or (include "cloudflare-siem-forwarder.kubernetesStore" .) .Values.serviceAccount.automountServiceAccountToken }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds | default (add (.Values.forwarder.shutdownGrace | int) 10) }}
  containers:
    {{- include "cloudflare-siem-forwarder.sidecar.container" . | nindent 4 }}
  volumes:
    {{- /* Sharded with persistence: each shard's state claim comes from the volumeClaimTemplates. */}}
    {{- $state := not (and (include "cloudflare-siem-forwarder.sharded" .) .Values.persistence.enabled) }}
    {{- include "cloudflare-siem-forwarder.volumes" (dict "root" . "state" $state) | trim | nindent 4 }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
