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
{{- $values := .Values }}
{{- $forwarder := $values.forwarder }}
{{- $env := dict
  "FORWARDER_CHECKPOINT_PATH" "/var/lib/cloudflare-siem-forwarder/checkpoints.json"
  "FORWARDER_DEAD_LETTER_PATH" "/var/lib/cloudflare-siem-forwarder/dead-letters.ndjson"
  "FORWARDER_HEALTH_PORT" (include "cloudflare-siem-forwarder.envString" $forwarder.healthPort)
  "FORWARDER_SHUTDOWN_GRACE" (include "cloudflare-siem-forwarder.envString" $forwarder.shutdownGrace)
  "FORWARDER_LOG_LEVEL" $forwarder.logLevel
}}
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
{{- range $name, $value := $values.env }}
{{- if eq $name "FORWARDER_HEALTH_PORT" }}
{{- fail "env.FORWARDER_HEALTH_PORT: set forwarder.healthPort instead, which also sets the container port the probes use" }}
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
{{- if hasKey $env $item.name }}
{{- fail (printf "extraEnv sets %s, which env (or a value of its own) sets too: set it in one place" $item.name) }}
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
