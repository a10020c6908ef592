{{/*
The forwarder in another chart's pod. Add this chart as a dependency (with `mode: sidecar` in its
values, so that it renders no Deployment of its own) and include, in the parent's pod template:

  containers:
    - name: my-app
      ...
    {{- include "cloudflare-siem-forwarder.sidecar.container" (index .Subcharts "cloudflare-siem-forwarder") | nindent 4 }}
  volumes:
    {{- include "cloudflare-siem-forwarder.sidecar.volumes" (index .Subcharts "cloudflare-siem-forwarder") | nindent 4 }}

or, for a Kubernetes native sidecar (1.29+: started before and stopped after the app containers),
"cloudflare-siem-forwarder.sidecar.initContainer" under initContainers instead of the container.
Each renders list items ("- name: ..."), so they sit among the parent's own. The names they use in
the pod: container "cloudflare-siem-forwarder", port "fwd-health", volumes "cloudflare-siem-forwarder-*".
A full example: helm/examples/syslog-relay-sidecar.
*/}}

{{- define "cloudflare-siem-forwarder.sidecar.container" -}}
- name: cloudflare-siem-forwarder
  {{- include "cloudflare-siem-forwarder.containerSpec" . | nindent 2 }}
{{- end }}

{{- define "cloudflare-siem-forwarder.sidecar.initContainer" -}}
- name: cloudflare-siem-forwarder
  restartPolicy: Always
  {{- include "cloudflare-siem-forwarder.containerSpec" . | nindent 2 }}
{{- end }}

{{- define "cloudflare-siem-forwarder.sidecar.volumes" -}}
{{- include "cloudflare-siem-forwarder.volumes" (dict "root" . "state" true) | trim }}
{{- end }}

{{/*
The pod's volumes; takes (dict "root" <scope> "state" <bool>). state false leaves out the state
volume, for the StatefulSet whose volumeClaimTemplates give each shard its own.
*/}}
{{- define "cloudflare-siem-forwarder.volumes" -}}
{{- $root := .root -}}
{{- $values := $root.Values -}}
{{- if .state }}
- name: cloudflare-siem-forwarder-state
  {{- if $values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ include "cloudflare-siem-forwarder.stateClaimName" $root }}
  {{- else }}
  emptyDir:
    {{- toYaml $values.persistence.emptyDir | nindent 4 }}
  {{- end }}
{{- end }}
- name: cloudflare-siem-forwarder-tmp
  emptyDir:
    sizeLimit: 64Mi
{{- $keys := include "cloudflare-siem-forwarder.credentialKeys" $root | fromJsonArray }}
{{- if $keys }}
- name: cloudflare-siem-forwarder-credentials
  secret:
    secretName: {{ include "cloudflare-siem-forwarder.credentialsSecretName" $root }}
    defaultMode: 0444
    items:
      {{- range $key := $keys }}
      - key: {{ $key }}
        path: {{ $key }}
      {{- end }}
{{- end }}
{{- with $values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}
