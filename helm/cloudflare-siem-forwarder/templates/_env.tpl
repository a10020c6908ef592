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
`env` as a JSON object, name to string, whichever form it has: the map (name: value), or the EnvVar
list of Vector's and Fluent Bit's charts, whose items with a value count as the map's entries (items
with valueFrom are in envReferences). Both forms give the container the same environment.
*/}}
{{- define "cloudflare-siem-forwarder.envValues" -}}
{{- $found := dict }}
{{- if kindIs "slice" .Values.env }}
{{- range $item := .Values.env }}
{{- if hasKey $found $item.name }}
{{- fail (printf "env lists %s twice: set it once" $item.name) }}
{{- end }}
{{- if and (hasKey $item "value") (hasKey $item "valueFrom") }}
{{- fail (printf "env: %s has both value and valueFrom: set one" $item.name) }}
{{- end }}
{{- if not (hasKey $item "valueFrom") }}
{{- $_ := set $found $item.name (include "cloudflare-siem-forwarder.envString" (ternary $item.value "" (hasKey $item "value"))) }}
{{- end }}
{{- end }}
{{- else }}
{{- range $name, $value := .Values.env }}
{{- $_ := set $found $name (include "cloudflare-siem-forwarder.envString" $value) }}
{{- end }}
{{- end }}
{{- toJson $found }}
{{- end }}

{{/*
The EnvVar objects with valueFrom, as a JSON list: those of an `env` list, then `extraEnv`'s (the
chart's older spelling of the same thing). Rendered as they are, after the variables of envMap.
*/}}
{{- define "cloudflare-siem-forwarder.envReferences" -}}
{{- $references := list }}
{{- if kindIs "slice" .Values.env }}
{{- range $item := .Values.env }}
{{- if hasKey $item "valueFrom" }}{{ $references = append $references $item }}{{ end }}
{{- end }}
{{- end }}
{{- $seen := dict }}
{{- range $item := concat $references (.Values.extraEnv | default list) }}
{{- if hasKey $seen $item.name }}
{{- fail (printf "%s is set twice with valueFrom (env or extraEnv): set it once" $item.name) }}
{{- end }}
{{- $_ := set $seen $item.name true }}
{{- end }}
{{- concat $references (.Values.extraEnv | default list) | toJson }}
{{- end }}

{{/*
The environment of the forwarder as a JSON object, name to string: the state paths, the first-class
values that are set, then `env`, which wins. Fails with a sentence when a credential would end up in
plain text or a variable be set twice. Variables with valueFrom are not in it (envReferences).
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
{{- range $name, $value := include "cloudflare-siem-forwarder.envValues" . | fromJson }}
{{- if hasKey $owned $name }}
{{- fail (printf "env.%s: set %s instead, %s" $name (index $owned $name 0) (index $owned $name 1)) }}
{{- end }}
{{- if hasKey $fromPod $name }}
{{- fail (printf "env.%s: the chart sets it from the pod (%s) with checkpoints.store: kubernetes" $name (index $fromPod $name)) }}
{{- end }}
{{- if and (eq $name "FORWARDER_SHARD_ORDINAL") (include "cloudflare-siem-forwarder.sharded" $) }}
{{- fail "env.FORWARDER_SHARD_ORDINAL: each pod of the StatefulSet takes its shard from the ordinal at the end of its name; do not set it" }}
{{- end }}
{{- if and (regexMatch "(TOKEN|PASSWORD|API_KEY|HEADERS|SECRET)$" $name) (not (hasSuffix "_FILE" $name)) }}
{{- fail (printf "env.%s looks like a credential: put it in credentials.values (or in the Secret named by credentials.existingSecret), not in plain text" $name) }}
{{- end }}
{{- $_ := set $env $name $value }}
{{- end }}
{{- $keys := include "cloudflare-siem-forwarder.credentialKeys" . | fromJsonArray }}
{{- range $key := $keys }}
{{- if or (hasKey $env $key) (hasKey $env (printf "%s_FILE" $key)) }}
{{- fail (printf "%s is both a credentials key and set in env (or a value of its own): set it in one place" $key) }}
{{- end }}
{{- end }}
{{- range $item := include "cloudflare-siem-forwarder.envReferences" . | fromJsonArray }}
{{- $name := $item.name }}
{{- if or (hasKey $env $name) (hasKey $fromPod $name) }}
{{- fail (printf "%s is set with valueFrom (env or extraEnv) and by env or a value of its own too: set it in one place" $name) }}
{{- end }}
{{- if hasKey $owned $name }}
{{- fail (printf "env.%s: set %s instead, %s" $name (index $owned $name 0) (index $owned $name 1)) }}
{{- end }}
{{- if or (has $name $keys) (has (trimSuffix "_FILE" $name) $keys) }}
{{- fail (printf "%s is both a credentials key and set with valueFrom (env or extraEnv): set it in one place" (trimSuffix "_FILE" $name)) }}
{{- end }}
{{- end }}
{{- toJson $env }}
{{- end }}
