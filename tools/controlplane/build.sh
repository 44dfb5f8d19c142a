#!/usr/bin/env bash
# Build the test control plane (kube-apiserver, etcd, kubectl) and helm from their pinned Go
# modules into a cache directory keyed by their versions, the envtest model without a download.
#
#   bash tools/controlplane/build.sh        # prints the bin directory on its last line
#
# Versions come from tools/controlplane/go.mod and tools/helm/go.mod (the only pins). A warm cache
# returns at once without touching Go. Needs only Go and the Go module proxy.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
helm_dir="$(cd "${here}/../helm" && pwd)"
cache_root="${CLOUDIOS_CACHE_DIR:-${HOME}/.cache/cloudios}/controlplane"

log() { echo "controlplane: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Read a required module's version straight from go.mod: no Go invocation and no network, so the
# warm path below stays instant and works even where Go is not installed.
mod_version() {
  local gomod="$1" module="$2" v
  v="$(awk -v m="${module}" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "${gomod}")"
  [[ -n "${v}" ]] || die "${module} is not required in ${gomod}"
  echo "${v}"
}

k8s_version="$(mod_version "${here}/go.mod" k8s.io/kubernetes)"
etcd_version="$(mod_version "${here}/go.mod" go.etcd.io/etcd/server/v3)"
helm_version="$(mod_version "${helm_dir}/go.mod" helm.sh/helm/v3)"
helm_client_go="$(mod_version "${helm_dir}/go.mod" k8s.io/client-go)"

key="k8s-${k8s_version}-etcd-${etcd_version}-helm-${helm_version}"
dest="${cache_root}/${key}"
bin="${dest}/bin"

# Binaries a usable KUBEBUILDER_ASSETS already provides are not built (envtest ships
# kube-apiserver, etcd and kubectl, but no helm). The pytest fixture looks there first too.
wanted=(kube-apiserver etcd kubectl helm)
if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  if [[ -x "${KUBEBUILDER_ASSETS}/kube-apiserver" && -x "${KUBEBUILDER_ASSETS}/etcd" ]]; then
    log "KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS} has kube-apiserver and etcd: not building those"
    wanted=()
    for tool in kubectl helm; do
      if [[ -x "${KUBEBUILDER_ASSETS}/${tool}" ]]; then
        log "KUBEBUILDER_ASSETS has ${tool}: not building it"
      else
        wanted+=("${tool}")
      fi
    done
  else
    log "KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS} lacks kube-apiserver or etcd: building everything"
  fi
fi

point_current() {
  mkdir -p "${cache_root}"
  # Relative target, so the cache can be moved; rename over the old link so readers never see
  # it missing.
  ln -s "${key}" "${cache_root}/.current.$$"
  mv -T "${cache_root}/.current.$$" "${cache_root}/current"
}

missing() {
  local tool
  for tool in "${wanted[@]}"; do
    [[ -x "${bin}/${tool}" ]] || echo "${tool}"
  done
}

todo="$(missing)"
if [[ -z "${todo}" ]]; then
  point_current
  log "up to date (${key})"
  echo "${bin}"
  exit 0
fi

command -v go >/dev/null || die "Go is required to build the control plane (https://go.dev/dl/)"
mkdir -p "${cache_root}"

# Serialise concurrent builds (parallel make, two terminals); the second one then finds the
# binaries in place and stops there.
if command -v flock >/dev/null; then
  exec 9>"${cache_root}/.build.lock"
  if ! flock -n 9; then
    log "another build is running; waiting for it"
    flock 9
  fi
  todo="$(missing)"
  if [[ -z "${todo}" ]]; then
    point_current
    log "built by a concurrent run (${key})"
    echo "${bin}"
    exit 0
  fi
fi

log "building into ${dest}: $(echo ${todo})"
log "$(go version); k8s ${k8s_version}, etcd ${etcd_version}, helm ${helm_version}"

tmp="$(mktemp -d "${cache_root}/.build.XXXXXX")"
heartbeat=""
cleanup() {
  [[ -n "${heartbeat}" ]] && kill "${heartbeat}" 2>/dev/null || true
  rm -rf "${tmp}"
}
trap cleanup EXIT

# A cold build is silent for many minutes; CI systems kill jobs that print nothing.
start=${SECONDS}
# The loop must not inherit the lock (fd 9), and kills its own sleep when stopped: an orphaned
# sleep would otherwise keep the lock held for up to a minute after we exit.
(
  trap 'kill "${nap}" 2>/dev/null; exit 0' TERM
  while :; do
    sleep 60 &
    nap=$!
    wait "${nap}"
    log "still building ($((SECONDS - start))s elapsed)"
  done
) 9>&- &
heartbeat=$!

# Static binaries that do not need a C toolchain; a go.work above the repo must not interfere.
export CGO_ENABLED=0 GOWORK=off
gobuild=(go build -p 2 -trimpath)

needs() { grep -qx "$1" <<<"${todo}"; }

# kube-apiserver, kubectl and etcd share most of their packages (apimachinery, grpc, etcd client),
# so one go build compiles each shared package once.
cp_pkgs=()
needs kube-apiserver && cp_pkgs+=(k8s.io/kubernetes/cmd/kube-apiserver)
needs kubectl && cp_pkgs+=(k8s.io/kubernetes/cmd/kubectl)
needs etcd && cp_pkgs+=(go.etcd.io/etcd/server/v3)
if (( ${#cp_pkgs[@]} > 0 )); then
  k8s_minor="${k8s_version#v1.}"
  k8s_minor="${k8s_minor%%.*}"
  ldflags="-s -w"
  # What hack/lib/version.sh stamps in a release build; otherwise the server reports
  # v0.0.0-master and clients (helm's kubeVersion checks, kubectl's skew warning) misbehave.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${pkg}.gitVersion=${k8s_version} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${k8s_minor}"
    ldflags+=" -X ${pkg}.gitTreeState=clean"
  done
  t0=${SECONDS}
  log "go build ${cp_pkgs[*]}"
  (cd "${here}" && "${gobuild[@]}" -ldflags "${ldflags}" -o "${tmp}/" "${cp_pkgs[@]}")
  # go build names the etcd main after its path element before /v3.
  [[ -f "${tmp}/server" ]] && mv "${tmp}/server" "${tmp}/etcd"
  log "control-plane binaries built in $((SECONDS - t0))s"
fi

if needs helm; then
  # Helm's Makefile derives its default .Capabilities.KubeVersion from the client-go it links.
  helm_minor="${helm_client_go#v0.}"
  helm_minor="${helm_minor%%.*}"
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${helm_version}"
  ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X ${pkg}.k8sVersionMajor=1 -X ${pkg}.k8sVersionMinor=${helm_minor}"
  done
  t0=${SECONDS}
  log "go build helm.sh/helm/v3/cmd/helm"
  (cd "${helm_dir}" && "${gobuild[@]}" -ldflags "${ldflags}" -o "${tmp}/" helm.sh/helm/v3/cmd/helm)
  log "helm built in $((SECONDS - t0))s"
fi

# Prove each binary runs before it is published.
needs kube-apiserver && log "$("${tmp}/kube-apiserver" --version)"
needs etcd && log "$("${tmp}/etcd" --version | head -n 1)"
needs kubectl && log "kubectl $("${tmp}/kubectl" version --client | head -n 1)"
needs helm && log "helm $("${tmp}/helm" version --short)"

# Publish: a fresh directory is renamed into place in one step; filling in a partial one (after a
# KUBEBUILDER_ASSETS build) renames file by file, each rename atomic on the same filesystem.
if [[ ! -e "${dest}" ]]; then
  mkdir "${tmp}/stage"
  mv "${tmp}"/{kube-apiserver,etcd,kubectl,helm} "${tmp}/stage/" 2>/dev/null || true
  mkdir -p "${tmp}/dir"
  mv "${tmp}/stage" "${tmp}/dir/bin"
  mv -T "${tmp}/dir" "${dest}"
else
  mkdir -p "${bin}"
  for tool in ${todo}; do
    mv -f "${tmp}/${tool}" "${bin}/${tool}"
  done
fi
point_current

log "done in $((SECONDS - start))s (${key})"
echo "${bin}"
