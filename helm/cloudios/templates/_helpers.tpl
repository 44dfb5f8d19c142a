{{/* Names, labels and shared checks of the Cloudios chart. */}}

{{- define "cloudios.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* release-chart, unless the release name already contains the chart name. */}}
{{- define "cloudios.fullname" -}}
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

{{- define "cloudios.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cloudios.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cloudios.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cloudios.labels" -}}
helm.sh/chart: {{ include "cloudios.chart" . }}
{{ include "cloudios.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cloudios
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "cloudios.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cloudios.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository@digest when a digest is given (the tag is then ignored), else repository:tag. */}}
{{- define "cloudios.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
A probe's handler and timings: (list $probeValues path). The handler is fixed (HTTPS on the metrics
port); values give only the timings, so a probe cannot be pointed at a port that does not exist.
*/}}
{{- define "cloudios.probe" -}}
{{- $probe := index . 0 -}}
httpGet:
  path: {{ index . 1 }}
  port: metrics
  scheme: HTTPS
{{- range $key, $value := $probe }}
{{- if ne $key "enabled" }}
{{ $key }}: {{ $value }}
{{- end }}
{{- end }}
{{- end }}

{{/* Topology spread constraints, each with a labelSelector for the given pods unless it has one. */}}
{{- define "cloudios.topologySpread" -}}
{{- $selector := index . 1 -}}
{{- range index . 0 }}
- {{ toYaml (ternary . (merge (dict "labelSelector" (dict "matchLabels" $selector)) .) (hasKey . "labelSelector")) | indent 2 | trim }}
{{- end }}
{{- end }}

{{/* The ConfigMap and key of the webhook receivers' CA bundle, as YAML {name, key}; empty when none. */}}
{{- define "cloudios.notifyCA" -}}
{{- if .Values.notifications.caBundle }}
{{- toYaml (dict "name" (printf "%s-notify-ca" (include "cloudios.fullname" .)) "key" "ca.crt") }}
{{- else if .Values.notifications.caConfigMap.name }}
{{- toYaml .Values.notifications.caConfigMap }}
{{- end }}
{{- end }}

{{/* The API server's endpoint addresses and ports for the egress NetworkPolicy: values, else a lookup. */}}
{{- define "cloudios.apiServer" -}}
{{- $cidrs := .Values.networkPolicy.egress.apiServerCIDRs }}
{{- $ports := .Values.networkPolicy.egress.apiServerPorts }}
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
{{- fail "networkPolicy.egress.apiServerCIDRs and networkPolicy.egress.apiServerPorts could not be looked up (helm template has no cluster): set them from `kubectl get endpointslice kubernetes -n default -o wide` (e.g. --set networkPolicy.egress.apiServerCIDRs={10.0.0.1/32} --set networkPolicy.egress.apiServerPorts={6443}), or leave networkPolicy.egress.enabled=false" }}
{{- end }}
{{- toYaml (dict "cidrs" $cidrs "ports" $ports) }}
{{- end }}

{{- define "cloudios.masterKeySecretName" -}}
{{- if .Values.masterKey.existingSecret }}
{{- .Values.masterKey.existingSecret }}
{{- else }}
{{- printf "%s-master-key" (include "cloudios.fullname" .) }}
{{- end }}
{{- end }}

{{- define "cloudios.auditSecretName" -}}
{{- if .Values.audit.existingSecret }}
{{- .Values.audit.existingSecret }}
{{- else }}
{{- printf "%s-audit-keys" (include "cloudios.fullname" .) }}
{{- end }}
{{- end }}

{{- define "cloudios.webhookSecretName" -}}
{{- printf "%s-webhook-tls" (include "cloudios.fullname" .) }}
{{- end }}

{{- define "cloudios.serviceName" -}}
{{- include "cloudios.fullname" . }}
{{- end }}

{{- define "cloudios.useCertManager" -}}
{{- if and .Values.webhook.enabled .Values.webhook.certificate.certManager.enabled }}true{{ end }}
{{- end }}

{{- define "cloudios.useSelfSigned" -}}
{{- if and .Values.webhook.enabled (not .Values.webhook.certificate.certManager.enabled) .Values.webhook.certificate.selfSigned }}true{{ end }}
{{- end }}

{{/*
Refuses settings that cannot work, with what to do instead. Included by deployment.yaml so
`helm install`, `helm template` and `helm lint` all stop before anything is applied.
*/}}
{{- define "cloudios.validate" -}}
{{- if and (not .Values.masterKey.existingSecret) (not .Values.masterKey.devGenerate) }}
{{- fail "masterKey.existingSecret is required: create a Secret with a 32-byte key, e.g. `kubectl create secret generic cloudios-master-key --from-literal=master-key=\"$(openssl rand -base64 32)\"`, then set masterKey.existingSecret=cloudios-master-key (or masterKey.devGenerate=true for a throw-away trial)" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.operator.peering.enabled) }}
{{- fail "replicaCount > 1 requires operator.peering.enabled=true: without peering every replica would handle every object" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.database.url) }}
{{- fail "replicaCount > 1 needs database.url (PostgreSQL): the SQLite store belongs to one pod" }}
{{- end }}
{{- if and .Values.database.url (or (not .Values.database.passwordSecretRef.name) (not .Values.database.adminUrl) (not .Values.database.adminPasswordSecretRef.name)) }}
{{- fail "database.url needs database.passwordSecretRef.name, database.adminUrl (the migration role that owns the tables) and database.adminPasswordSecretRef.name; see docs/operations.md, Storage" }}
{{- end }}
{{- if and .Values.webhook.enabled (not .Values.webhook.certificate.certManager.enabled) (not .Values.webhook.certificate.selfSigned) }}
{{- fail "webhook.enabled needs a serving certificate: set webhook.certificate.selfSigned=true or webhook.certificate.certManager.enabled=true" }}
{{- end }}
{{- if and .Values.notifications.caBundle .Values.notifications.caConfigMap.name }}
{{- fail "set either notifications.caBundle or notifications.caConfigMap.name, not both" }}
{{- end }}
{{- if and (include "cloudios.useCertManager" .) (not .Values.webhook.certificate.certManager.issuerRef.name) }}
{{- fail "webhook.certificate.certManager.issuerRef.name is required when certManager.enabled is true" }}
{{- end }}
{{- end }}

{{/*
The webhook's CA and serving certificate as YAML {ca, cert, key} (PEM). Reused from the existing
Secret on upgrade so the caBundle and the running pod keep matching; otherwise generated once per
render and memoised, because webhook.yaml (caBundle) and certificate.yaml (Secret) must agree.
*/}}
{{- define "cloudios.webhookTLS" -}}
{{- $memo := .Values.webhook.certificate }}
{{- if not (hasKey $memo "generatedPEM") }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "cloudios.webhookSecretName" .) }}
{{- if and $existing $existing.data (hasKey $existing.data "ca.crt") (hasKey $existing.data "tls.crt") (hasKey $existing.data "tls.key") }}
{{- $_ := set $memo "generatedPEM" (dict "ca" (index $existing.data "ca.crt" | b64dec) "cert" (index $existing.data "tls.crt" | b64dec) "key" (index $existing.data "tls.key" | b64dec)) }}
{{- else }}
{{- $service := include "cloudios.serviceName" . }}
{{- $fqdn := printf "%s.%s.svc" $service .Release.Namespace }}
{{- $days := int .Values.webhook.certificate.validityDays }}
{{- $ca := genCA (printf "%s-webhook-ca" (include "cloudios.fullname" .)) $days }}
{{- $cert := genSignedCert $fqdn nil (list $service (printf "%s.%s" $service .Release.Namespace) $fqdn (printf "%s.cluster.local" $fqdn)) $days $ca }}
{{- $_ := set $memo "generatedPEM" (dict "ca" $ca.Cert "cert" $cert.Cert "key" $cert.Key) }}
{{- end }}
{{- end }}
{{- toYaml (get $memo "generatedPEM") }}
{{- end }}

{{/*
The part of a webhook shared by every webhook:
(list $root path caPEM sideEffects [resource] [failurePolicy]); resource defaults to recommendations,
failurePolicy to .Values.webhook.failurePolicy.
*/}}
{{- define "cloudios.webhookClient" -}}
{{- $root := index . 0 -}}
{{- $resource := "recommendations" -}}
{{- if gt (len .) 4 }}{{ $resource = index . 4 }}{{ end -}}
{{- $failurePolicy := $root.Values.webhook.failurePolicy -}}
{{- if gt (len .) 5 }}{{ $failurePolicy = index . 5 }}{{ end -}}
clientConfig:
  service:
    name: {{ include "cloudios.serviceName" $root }}
    namespace: {{ $root.Release.Namespace }}
    path: {{ index . 1 }}
    port: 443
  {{- with index . 2 }}
  caBundle: {{ . | b64enc }}
  {{- end }}
admissionReviewVersions: ["v1"]
{{- /* The validating webhook appends accepted decisions to the audit log, except on dry runs. */}}
sideEffects: {{ index . 3 }}
failurePolicy: {{ $failurePolicy }}
timeoutSeconds: {{ $root.Values.webhook.timeoutSeconds }}
rules:
  - apiGroups: ["cloudios.io"]
    apiVersions: ["v1alpha1"]
    operations: {{ if eq $resource "recommendations/status" }}["UPDATE"]{{ else }}["CREATE", "UPDATE"]{{ end }}
    resources: [{{ $resource | quote }}]
    scope: Namespaced
matchConditions:
{{- if or (eq $resource "scanpolicies") (eq $resource "recommendations/status") }}
  # The operator never changes a ScanPolicy's schedule, and a Recommendation's status is its own:
  # its own writes never wait on its webhook.
  - name: not-the-operator
    expression: >-
      request.userInfo.username != 'system:serviceaccount:{{ $root.Release.Namespace }}:{{ include "cloudios.serviceAccountName" $root }}'
{{- else }}
  # The operator's own publishing (creating and refreshing Recommendations without touching
  # spec.decision) never waits on its webhook. Everything else is checked: every other requester,
  # and any request, the operator's included, that sets or changes spec.decision, which needs the
  # `approve` verb and lands in the audit log. Scan Jobs run under their own ServiceAccount.
  - name: not-the-operator-publishing
    expression: >-
      request.userInfo.username != 'system:serviceaccount:{{ $root.Release.Namespace }}:{{ include "cloudios.serviceAccountName" $root }}'
      || (oldObject == null ? has(object.spec.decision)
      : (has(object.spec.decision) != has(oldObject.spec.decision)
      || (has(object.spec.decision) && object.spec.decision != oldObject.spec.decision)))
{{- end }}
{{- end }}
