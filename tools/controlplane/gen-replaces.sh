#!/usr/bin/env bash
# Regenerate the k8s.io/* replace directives of tools/controlplane/go.mod.
#
# k8s.io/kubernetes requires its staging modules (k8s.io/api, k8s.io/apiserver, ...) at v0.0.0 and
# points them at ./staging in its own replace block, which Go ignores for a dependency. We therefore
# replace every such `k8s.io/<x> v0.0.0` require line of the tag's go.mod with the published
# `k8s.io/<x> v0.<minor>.<patch>` tag. Run this after changing K8S_VERSION, then `go mod tidy`.
# Only Go and the module proxy are needed (no GitHub access).
set -euo pipefail

K8S_VERSION="${1:-v1.35.4}"
cd "$(dirname "${BASH_SOURCE[0]}")"

# v1.35.4 -> v0.35.4: the staging modules are tagged with major version 0.
staging_version="v0.${K8S_VERSION#v1.}"

# `go mod download -json` fetches the tag's go.mod through GOPROXY and tells us where it landed.
gomod="$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" \
  | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
[[ -f "${gomod}" ]] || { echo "gen-replaces: could not fetch go.mod of k8s.io/kubernetes@${K8S_VERSION}" >&2; exit 1; }

# Require lines look like "<tab>k8s.io/api v0.0.0" (possibly followed by "// indirect").
mapfile -t modules < <(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print $1 }' "${gomod}" | sort -u)
(( ${#modules[@]} > 0 )) || { echo "gen-replaces: no k8s.io/* v0.0.0 requirements found in ${gomod}" >&2; exit 1; }

# Drop the previous k8s.io replaces first so a version bump leaves no stale entries behind.
for old in $(go mod edit -json | awk -F'"' '/"Old": \{/ { getline; if ($4 ~ /^k8s\.io\//) print $4 }'); do
  go mod edit -dropreplace="${old}"
done

args=()
for m in "${modules[@]}"; do
  args+=("-replace=${m}=${m}@${staging_version}")
done
go mod edit "${args[@]}"
go mod edit -require="k8s.io/kubernetes@${K8S_VERSION}"

echo "gen-replaces: ${#modules[@]} k8s.io/* modules replaced by ${staging_version} (from k8s.io/kubernetes@${K8S_VERSION})"
