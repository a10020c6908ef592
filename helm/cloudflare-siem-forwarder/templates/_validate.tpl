{{/*
Combinations of values that cannot work, refused with a sentence before anything is rendered.
*/}}
{{- define "cloudflare-siem-forwarder.validate" -}}
{{- include "cloudflare-siem-forwarder.validateAdditions" . }}
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

{{/*
The values that add to the pod, to every object's labels and to monitoring: refused where they would
be ignored, or would render a label or a container twice, or scrape twice.
*/}}
{{- define "cloudflare-siem-forwarder.validateAdditions" -}}
{{- $values := .Values }}
{{- if eq $values.mode "sidecar" }}
{{- range $name := list "initContainers" "extraContainers" "dnsPolicy" "dnsConfig" }}
{{- if index $values $name }}
{{- fail (printf "%s in mode: sidecar: the pod is the parent chart's; set it there" $name) }}
{{- end }}
{{- end }}
{{- end }}
{{- range $container := concat ($values.initContainers | default list) ($values.extraContainers | default list) }}
{{- if eq $container.name "cloudflare-siem-forwarder" }}
{{- fail "initContainers and extraContainers may not use the name cloudflare-siem-forwarder: it is the forwarder's container" }}
{{- end }}
{{- end }}
{{- if and $values.serviceMonitor.enabled $values.podMonitor.enabled }}
{{- fail "serviceMonitor.enabled and podMonitor.enabled: Prometheus would scrape every pod twice (and ForwarderDown see two jobs); enable one" }}
{{- end }}
{{- $own := list "helm.sh/chart" "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/version" "app.kubernetes.io/component" "app.kubernetes.io/managed-by" }}
{{- $others := dict "podLabels" $values.podLabels "serviceMonitor.labels" $values.serviceMonitor.labels "podMonitor.labels" $values.podMonitor.labels "prometheusRule.labels" $values.prometheusRule.labels }}
{{- range $key := keys ($values.commonLabels | default dict) | sortAlpha }}
{{- if has $key $own }}
{{- fail (printf "commonLabels.%s: the chart sets this label itself (and selects its pods by the app.kubernetes.io ones); choose another key" $key) }}
{{- end }}
{{- range $where := keys $others | sortAlpha }}
{{- if hasKey ((index $others $where) | default dict) $key }}
{{- fail (printf "commonLabels.%s is set in %s too: set it in one place" $key $where) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
