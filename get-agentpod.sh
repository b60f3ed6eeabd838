#!/usr/bin/env bash
# Install AgentPod on a Debian/Ubuntu machine.
#
#   curl -fsSL https://get.agentpod.dev | bash -s -- --domain agents.example.com --email ops@example.com
#       a VPS with systemd: installs python3 and the Docker engine if missing, downloads the
#       agentpod.pyz release (sha256-checked), installs it as /usr/local/bin/agentpod and runs
#       `agentpod install` with the flags given (see `agentpod install --help`).
#   curl -fsSL https://get.agentpod.dev | bash -s -- --join TOKEN@MANAGER:2377
#       a new server for a swarm install (the line `agentpod node join-command` prints): installs
#       the Docker engine if missing and joins the swarm as a worker; AgentPod itself stays on
#       the manager.
#   ./get-agentpod.sh --local
#       from a checkout, on a machine without systemd (a container, a laptop): installs this
#       checkout into a venv under the data dir, links `agentpod` onto PATH, makes sure the Docker
#       engine runs (starting dockerd in the background when there is no systemd); then run
#       `agentpod serve --with-proxy`.
#
# Environment: AGENTPOD_DOWNLOAD_URL (the pyz; its checksum is read from <url>.sha256),
# AGENTPOD_PYZ (a local pyz instead of a download), AGENTPOD_SHA256 (the expected checksum).
# Re-runnable: every step checks first; a run that stopped half-way is finished by the next.
set -euo pipefail

DEFAULT_URL="https://github.com/agentpod/agentpod/releases/latest/download/agentpod.pyz"
BIN=/usr/local/bin/agentpod
MIN_PYTHON="3.11"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; [ $rc -eq 0 ] || printf "error: get-agentpod.sh stopped (line %s, exit %s); fix the cause and run it again\n" "$LINENO" "$rc" >&2' EXIT

LOCAL=0
JOIN=""
ARGS=()
GIVEN=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --local) LOCAL=1 ;;
    --join) [ $# -ge 2 ] || die "--join needs TOKEN@MANAGER:PORT (agentpod node join-command prints it)"; JOIN="$2"; shift ;;
    --join=*) JOIN="${1#--join=}" ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]:-/dev/null}" 2>/dev/null | sed 's/^# \{0,1\}//'; trap - EXIT; exit 0 ;;
    *) ARGS+=("$1") ;;
  esac
  shift
done
if [ -n "$JOIN" ]; then
  case "$JOIN" in
    SWMTKN-*@?*) ;;
    *) die "--join $JOIN: expected TOKEN@MANAGER:PORT, the token starting with SWMTKN- (run agentpod node join-command on the manager)" ;;
  esac
  [ "$LOCAL" -eq 0 ] && [ ${#ARGS[@]} -eq 0 ] || die "--join takes no other flag: a worker runs no AgentPod of its own"
fi

SCRIPT="${BASH_SOURCE[0]:-}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if [ "$LOCAL" -eq 0 ]; then
    if [ -f "$SCRIPT" ] && command -v sudo >/dev/null 2>&1; then
      say "re-running as root with sudo"
      trap - EXIT
      exec sudo -E bash "$SCRIPT" "${GIVEN[@]}"
    fi
    die "run as root: curl -fsSL <url> | sudo bash -s -- [flags]"
  fi
  command -v sudo >/dev/null 2>&1 || die "run as root (or install sudo)"
  SUDO="sudo"
fi

# -- the system ----------------------------------------------------------------------------------
[ -r /etc/os-release ] || die "cannot tell which OS this is (/etc/os-release is missing)"
. /etc/os-release
case " ${ID:-} ${ID_LIKE:-} " in
  *" debian "*|*" ubuntu "*) ;;
  *) die "this installer supports Debian and Ubuntu (found ${PRETTY_NAME:-unknown}); install by hand: python3 >= $MIN_PYTHON, Docker, then agentpod.pyz install" ;;
esac
has_systemd() { [ -d /run/systemd/system ]; }

APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    say "apt-get update"
    $SUDO apt-get update -qq || die "apt-get update failed"
    APT_UPDATED=1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || die "apt-get install $* failed"
}

need=()
[ -n "$JOIN" ] || command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v curl >/dev/null 2>&1 || need+=(curl ca-certificates)
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
if [ "$LOCAL" -eq 1 ]; then
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
fi
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"

[ -n "$JOIN" ] || python3 - "$MIN_PYTHON" <<'EOF' || die "AgentPod needs python3 >= $MIN_PYTHON (found $(python3 -V 2>&1)); use Debian 12+ or Ubuntu 24.04+"
import sys
want = tuple(int(x) for x in sys.argv[1].split("."))
sys.exit(0 if sys.version_info[:2] >= want else 1)
EOF

start_docker() {
  if docker info >/dev/null 2>&1 || $SUDO docker info >/dev/null 2>&1; then
    return 0
  fi
  if has_systemd; then
    say "starting the Docker engine (systemctl enable --now docker)"
    $SUDO systemctl enable --now docker.service >/dev/null 2>&1 || die "systemctl enable --now docker failed (journalctl -u docker)"
  else
    say "starting dockerd in the background (no systemd here; log: /var/log/agentpod-dockerd.log)"
    $SUDO sh -c 'nohup dockerd >/var/log/agentpod-dockerd.log 2>&1 &'
  fi
  for _ in $(seq 1 60); do
    $SUDO docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  die "the Docker engine did not start (see /var/log/agentpod-dockerd.log or journalctl -u docker)"
}
start_docker
say "Docker $($SUDO docker version --format '{{.Server.Version}}' 2>/dev/null)"

# -- --join: this server becomes a swarm worker ----------------------------------------------------
if [ -n "$JOIN" ]; then
  token="${JOIN%@*}"; manager="${JOIN##*@}"
  state="$($SUDO docker info --format '{{.Swarm.LocalNodeState}}')"
  if [ "$state" = "active" ]; then
    managers="$($SUDO docker info --format '{{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}')"
    case " $managers" in
      *" $manager "*) say "this server is a node of that swarm already (managers: ${managers% })" ;;
      *) die "this engine is in another swarm (managers: ${managers% }): leave it first (docker swarm leave)" ;;
    esac
  else
    say "joining the swarm of $manager"
    out="$($SUDO docker swarm join --token "$token" "$manager" 2>&1)" \
      || die "docker swarm join failed: $(printf '%s' "$out" | tail -n 1) (a rotated token? agentpod node join-command on the manager prints the current line)"
    say "joined: $(printf '%s' "$out" | tail -n 1)"
  fi
  say "done: agentpod node list (on the manager) shows this server; it takes pods as placement chooses"
  trap - EXIT
  exit 0
fi

# -- --local: this checkout into a venv ------------------------------------------------------------
if [ "$LOCAL" -eq 1 ]; then
  REPO="$(cd "$(dirname "$SCRIPT")" 2>/dev/null && pwd || true)"
  [ -n "$REPO" ] && [ -f "$REPO/pyproject.toml" ] || die "--local runs from a checkout of AgentPod (./get-agentpod.sh --local)"
  if [ "$(id -u)" -eq 0 ]; then
    HOME_DIR="${AGENTPOD_HOME:-/var/lib/agentpod}"; LINK_DIR=/usr/local/bin
  else
    HOME_DIR="${AGENTPOD_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/agentpod}"; LINK_DIR="$HOME/.local/bin"
  fi
  VENV="$HOME_DIR/venv"
  mkdir -p "$HOME_DIR" "$LINK_DIR"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
  fi
  say "installing $REPO into $VENV (editable, with Traefik)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$REPO[proxy]" \
    || die "pip install failed (network? see the lines above)"
  ln -sfn "$VENV/bin/agentpod" "$LINK_DIR/agentpod"
  say "agentpod $("$LINK_DIR/agentpod" --version | awk '{print $NF}') -> $LINK_DIR/agentpod"
  case ":$PATH:" in *":$LINK_DIR:"*) ;; *) say "add $LINK_DIR to your PATH" ;; esac
  if [ "$(id -u)" -ne 0 ] && ! id -nG | grep -qw docker; then
    say "your user is not in the docker group: sudo usermod -aG docker $USER (then log in again)"
  fi
  say "done: now run  agentpod serve --with-proxy"
  trap - EXIT
  exit 0
fi

# -- the release: download, verify, install --------------------------------------------------------
has_systemd || die "systemd is not running here: on such a machine use a checkout and ./get-agentpod.sh --local"
TMP="$(mktemp -d)"
trap 'rc=$?; rm -rf "$TMP"; [ $rc -eq 0 ] || printf "error: get-agentpod.sh stopped (exit %s); fix the cause and run it again\n" "$rc" >&2' EXIT

expected="${AGENTPOD_SHA256:-}"
if [ -n "${AGENTPOD_PYZ:-}" ]; then
  [ -f "$AGENTPOD_PYZ" ] || die "AGENTPOD_PYZ=$AGENTPOD_PYZ: no such file"
  cp "$AGENTPOD_PYZ" "$TMP/agentpod.pyz"
  if [ -z "$expected" ] && [ -f "$AGENTPOD_PYZ.sha256" ]; then expected="$(awk '{print $1}' "$AGENTPOD_PYZ.sha256")"; fi
  source_name="$AGENTPOD_PYZ"
else
  URL="${AGENTPOD_DOWNLOAD_URL:-$DEFAULT_URL}"
  say "downloading $URL"
  curl -fsSL --retry 3 -o "$TMP/agentpod.pyz" "$URL" || die "cannot download $URL"
  if [ -z "$expected" ]; then
    expected="$(curl -fsSL --retry 3 "$URL.sha256" | awk '{print $1}')" || die "cannot download $URL.sha256 (or set AGENTPOD_SHA256)"
  fi
  source_name="$URL"
fi
actual="$(sha256sum "$TMP/agentpod.pyz" | awk '{print $1}')"
if [ -n "$expected" ]; then
  [ "$actual" = "$expected" ] || die "checksum mismatch for $source_name: expected $expected, got $actual"
  say "sha256 ok ($actual)"
else
  say "no checksum given for $source_name (sha256 $actual)"
fi

if [ -f "$BIN" ] && [ "$(sha256sum "$BIN" | awk '{print $1}')" = "$actual" ]; then
  say "$BIN is up to date"
else
  install -m 0755 "$TMP/agentpod.pyz" "$BIN.new"
  mv -f "$BIN.new" "$BIN"
  say "installed $BIN"
fi
"$BIN" --version >/dev/null || die "$BIN does not run (python3 -V: $(python3 -V 2>&1))"

say "agentpod install ${ARGS[*]:-}"
"$BIN" install "${ARGS[@]}"
