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
  {{- with include "cloudflare-siem-forwarder.envReferences" . | fromJsonArray }}
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
{{- with $values.lifecycle }}
lifecycle:
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
  {{- with .Values.dnsPolicy }}
  dnsPolicy: {{ . }}
  {{- end }}
  {{- with .Values.dnsConfig }}
  dnsConfig:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.initContainers }}
  initContainers:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    {{- include "cloudflare-siem-forwarder.sidecar.container" . | nindent 4 }}
    {{- with .Values.extraContainers }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
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
