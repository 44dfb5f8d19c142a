{{/* Names, labels and shared checks of the Cloudios agent chart. */}}

{{- define "cloudios-agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* release-chart, unless the release name already contains the chart name. */}}
{{- define "cloudios-agent.fullname" -}}
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

{{- define "cloudios-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cloudios-agent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cloudios-agent.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "cloudios-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: agent
app.kubernetes.io/part-of: cloudios
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* repository@digest when a digest is given (the tag is then ignored), else repository:tag. */}}
{{- define "cloudios-agent.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* A probe's handler and timings: (list $probeValues). The handler is fixed: /healthz on healthPort. */}}
{{- define "cloudios-agent.probe" -}}
httpGet:
  path: /healthz
  port: http
{{- range $key, $value := index . 0 }}
{{- if ne $key "enabled" }}
{{ $key }}: {{ $value }}
{{- end }}
{{- end }}
{{- end }}

{{- define "cloudios-agent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cloudios-agent.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "cloudios-agent.tokenSecretName" -}}
{{- default (printf "%s-token" (include "cloudios-agent.fullname" .)) .Values.existingTokenSecret.name }}
{{- end }}

{{/* The port of a URL: explicit, else 443 for https and 80 for http. */}}
{{- define "cloudios-agent.urlPort" -}}
{{- $u := urlParse . }}
{{- $hostport := splitList ":" $u.host }}
{{- if gt (len $hostport) 1 }}{{ last $hostport }}{{ else if eq $u.scheme "https" }}443{{ else }}80{{ end }}
{{- end }}

{{/*
Refuses settings that cannot work, with what to do instead. Included by deployment.yaml so
`helm install`, `helm template` and `helm lint` all stop before anything is applied.
*/}}
{{- define "cloudios-agent.validate" -}}
{{- if and (not (trim .Values.token)) (not .Values.existingTokenSecret.name) }}
{{- fail "token is required: pass the cluster token your kubernetes CloudAccount's Secret holds, e.g. `kubectl get secret <token-secret> -n <tenant> -o jsonpath='{.data.token}' | base64 -d > cluster-token.txt` then `--set-file token=cluster-token.txt`, or set existingTokenSecret.name to a Secret in this namespace (see docs/agent-install.md)" }}
{{- end }}
{{- if and (trim .Values.token) .Values.existingTokenSecret.name }}
{{- fail "set either token or existingTokenSecret.name, not both" }}
{{- end }}
{{- if not .Values.ingest.url }}
{{- fail "ingest.url is required: the https:// address of your Cloudios ingest (see docs/agent-install.md)" }}
{{- end }}
{{- if gt (add (ternary 1 0 (ne .Values.ingest.ca "")) (ternary 1 0 (ne .Values.ingest.existingCA.configMap "")) (ternary 1 0 (ne .Values.ingest.existingCA.secret ""))) 1 }}
{{- fail "set at most one of ingest.ca, ingest.existingCA.configMap and ingest.existingCA.secret" }}
{{- end }}
{{- if and .Values.prometheus.serviceAccountToken (not (hasPrefix "https://" .Values.prometheus.url)) }}
{{- fail "prometheus.serviceAccountToken needs an https:// prometheus.url: the token is never sent in clear text" }}
{{- end }}
{{- if and .Values.prometheus.ca (not (hasPrefix "https://" .Values.prometheus.url)) }}
{{- fail "prometheus.ca needs an https:// prometheus.url" }}
{{- end }}
{{- end }}

{{/* The API server's endpoint addresses and ports for the NetworkPolicy: values, else a lookup. */}}
{{- define "cloudios-agent.apiServer" -}}
{{- $cidrs := .Values.networkPolicy.apiServerCIDRs }}
{{- $ports := .Values.networkPolicy.apiServerPorts }}
{{- if or (not $cidrs) (not $ports) }}
{{- $slice := lookup "discovery.k8s.io/v1" "EndpointSlice" "default" "kubernetes" }}
{{- if $slice }}
{{- if not $cidrs }}
{{- range $slice.endpoints }}{{ range .addresses }}{{ $cidrs = append $cidrs (printf "%s/%s" . (ternary "128" "32" (contains ":" .))) }}{{ end }}{{ end }}
{{- end }}
{{- if not $ports }}
{{- range $slice.ports }}{{ $ports = append $ports .port }}{{ end }}
{{- end }}
{{- end }}
{{- end }}
{{- if or (not $cidrs) (not $ports) }}
{{- fail "networkPolicy.apiServerCIDRs and networkPolicy.apiServerPorts could not be looked up (helm template has no cluster): set them from `kubectl get endpointslice kubernetes -n default -o wide` (e.g. --set networkPolicy.apiServerCIDRs={10.0.0.1/32} --set networkPolicy.apiServerPorts={6443}), or set networkPolicy.enabled=false" }}
{{- end }}
{{- toYaml (dict "cidrs" $cidrs "ports" $ports) }}
{{- end }}
