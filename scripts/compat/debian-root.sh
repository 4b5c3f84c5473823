#!/usr/bin/env bash
# Runs pwlu's tests on another Debian release, in a cached minimal root (debootstrap + chroot), whatever the
# host's own release is. See `scripts/compat/debian-root.sh --help`.
set -euo pipefail
# The whole script is one block, read before it runs: editing the file meanwhile cannot change a run under way.
{

usage() {
  cat <<'EOF'
Usage: scripts/compat/debian-root.sh SUITE [options] [-- COMMAND...]

Builds (once) a minimal Debian root for SUITE (bookworm = Debian 12, trixie = Debian 13, sid = unstable),
installs what the README's first command installs (Debian's nodejs and npm, g++, make, python3,
libtorch-dev, libjpeg62-turbo-dev, libgloo-dev, dataset-fashion-mnist), copies in a clean checkout of the
current commit, runs `npm ci` and the tests there, and prints one summary line:

  debian-root trixie: libtorch 2.6.0, node v20.19.2, native built (jpeg, gloo): 1012 passed, 0 failed, 3 skipped in 512 s

Options:
  --tests "PATHS"   only these test files or folders (vitest filters), e.g. "test/backends test/distributed"
  --cuda            a second root (SUITE-cuda, trixie only) with contrib's libtorch-cuda-dev instead of libtorch-dev:
                    the addon compiles and links with CUDA (builtWithCuda, NCCL, every PWLU_WITH_CUDA branch), then
                    the CPU suite runs against that build. cuDNN cannot be installed offline: an equivs placeholder
                    stands in for its package, and a placeholder libcudnn.so.9 whose functions all return "not
                    supported" (on LD_LIBRARY_PATH for this script's commands only) lets libtorch_cuda load; see
                    native/README.md, "Stacks"
  --extra "PKGS"    more Debian packages in the root (e.g. "python3-torch python3-torchvision")
  --worktree        copy the working tree (tracked and untracked files git does not ignore), not the commit
  --reuse           keep the root's checkout, node_modules and native build when they are of the current commit
                    (for repeated commands such as benchmarks); otherwise as without it
  --prepare         build or refresh the root only; run nothing
  -- COMMAND...     run COMMAND in the checkout inside the root (after npm ci) instead of the tests
  -h, --help        this text

Environment:
  PWLU_ROOT_CACHE   where roots are kept (default ${XDG_CACHE_HOME:-~/.cache}/pwlu/debian-roots); a later run reuses them
  PWLU_DEBIAN_MIRROR  the Debian mirror (default: the one the host's apt uses)
  PWLU_REQUIRE, JOBS, CI are passed into the root.

Needs root (debootstrap, chroot, mounts). Downloads are retried once. Exit status: the command's (tests: 0 when
all passed).
EOF
}

suite=''
tests=''
cuda=0
extra=''
worktree=0
reuse=0
prepare=0
cmd=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --tests) tests="$2"; shift 2 ;;
    --cuda) cuda=1; shift ;;
    --extra) extra="$2"; shift 2 ;;
    --worktree) worktree=1; shift ;;
    --reuse) reuse=1; shift ;;
    --prepare) prepare=1; shift ;;
    --) shift; cmd=("$@"); break ;;
    -*) echo "debian-root: unknown option '$1' (see --help)" >&2; exit 1 ;;
    *)
      if [ -n "$suite" ]; then echo "debian-root: one SUITE only (got '$suite' and '$1')" >&2; exit 1; fi
      suite="$1"; shift ;;
  esac
done
if [ "$cuda" = 1 ] && [ "$suite" != trixie ]; then echo "debian-root: --cuda needs trixie (contrib's libtorch-cuda-dev 2.6)" >&2; exit 1; fi
case "$suite" in
  bookworm | trixie | sid) ;;
  '') echo "debian-root: name a SUITE: bookworm, trixie or sid (see --help)" >&2; exit 1 ;;
  *) echo "debian-root: unknown SUITE '$suite' (bookworm, trixie or sid)" >&2; exit 1 ;;
esac
if [ "$(id -u)" != 0 ]; then echo "debian-root: needs root (debootstrap, chroot and mounts)" >&2; exit 1; fi

repo="$(cd "$(dirname "$0")/../.." && pwd)"
name="$suite$([ "$cuda" = 1 ] && echo -cuda || true)"
cache="${PWLU_ROOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pwlu/debian-roots}"
dir="$cache/$name"
started=$(date +%s)
say() { echo "[debian-root $name] $*" >&2; }

# The mirror the host's apt already uses (deb822 or one-line sources), so the root reaches what the host does.
mirror="${PWLU_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2}' | grep -v -- '-security' | grep '/debian/\?$' | head -n1 || true)
  [ -n "$mirror" ] || mirror=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep '/debian/\?$' | head -n1 || true)
  if [ -z "$mirror" ]; then echo "debian-root: cannot tell the host's Debian mirror; set PWLU_DEBIAN_MIRROR" >&2; exit 1; fi
fi

# Runs a download step, once more after a pause if it fails: a network hiccup should not sink a good change.
retry() {
  "$@" && return 0
  say "failed, retrying once in 10 s: $*"
  sleep 10
  "$@"
}

# Lazily unmounts whatever is mounted under a folder (a run that was killed can leave /dev bound there), so that
# removing the folder can never reach through a bind mount into the host.
unmount_under() {
  local m
  for m in $(awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
}

mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
mount_root() {
  local m
  for m in proc sys dev dev/pts; do
    mountpoint -q "$dir/$m" && continue
    mkdir -p "$dir/$m"
    case "$m" in
      proc) mount -t proc proc "$dir/proc" ;;
      sys) mount -t sysfs sysfs "$dir/sys" ;;
      dev) mount --bind /dev "$dir/dev" ;;
      dev/pts) mount --bind /dev/pts "$dir/dev/pts" ;;
    esac
    mounted+=("$dir/$m")
  done
  mkdir -p "$dir/dev/shm"
}
in_root() { chroot "$dir" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

# One run per root at a time (CI and a developer may share a machine): a second waits for the first.
mkdir -p "$cache"
exec 9>"$cache/$name.lock"
if ! flock -n 9; then
  say "another run is using this root; waiting for it"
  flock 9
fi

# --- 1. the base system (debootstrap), once ------------------------------------------------------------------
t0=$(date +%s)
if [ ! -f "$dir/.pwlu-base" ]; then
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap on the host"
    retry apt-get install -y -q --no-install-recommends debootstrap >/dev/null
  fi
  mkdir -p "$cache"
  say "debootstrap $suite from the host's mirror (about 2 minutes)"
  bootstrap() { unmount_under "$dir.partial" && rm -rf "$dir.partial" && debootstrap --variant=minbase --include=ca-certificates "$suite" "$dir.partial" "$mirror" >"$cache/$name.debootstrap.log" 2>&1; }
  if ! retry bootstrap; then
    say "debootstrap failed; the end of $cache/$name.debootstrap.log:"
    tail -n 20 "$cache/$name.debootstrap.log" >&2
    exit 1
  fi
  unmount_under "$dir"
  rm -rf "$dir"
  mv "$dir.partial" "$dir"
  touch "$dir/.pwlu-base"
fi

# --- 2. apt, network and npm settings from the host, every time (cheap; the host's may change) ----------------
cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
printf 'deb %s %s main contrib non-free non-free-firmware\n' "$mirror" "$suite" >"$dir/etc/apt/sources.list"
cat >"$dir/etc/apt/apt.conf.d/99pwlu" <<'EOF'
// Written by scripts/compat/debian-root.sh. sid's Release file can be past its Valid-Until date.
Acquire::Check-Valid-Until "false";
Acquire::Retries "2";
APT::Install-Recommends "false";
EOF
for f in /etc/apt/apt.conf.d/*proxy* /etc/apt/apt.conf.d/*artifact*; do [ -f "$f" ] && cp "$f" "$dir/etc/apt/apt.conf.d/"; done
mkdir -p "$dir/etc/pwlu"
cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/pwlu/host-ca.crt"
{ [ -f "$HOME/.npmrc" ] && grep -v '^cafile=' "$HOME/.npmrc" || true; echo "cafile=/etc/pwlu/host-ca.crt"; } >"$dir/root/.npmrc"
chmod 600 "$dir/root/.npmrc"
mount_root

# --- 3. packages: what the README's first command installs ---------------------------------------------------
# Runs one install step in the root (retried once), its output in the apt log; a failure shows the log's end and stops.
root_apt() {
  if ! retry in_root "$@" >>"$cache/$name.apt.log" 2>&1; then
    say "'$*' failed; the end of $cache/$name.apt.log:"
    tail -n 20 "$cache/$name.apt.log" >&2
    exit 1
  fi
}
pkgs="nodejs npm g++ make python3 libjpeg62-turbo-dev dataset-fashion-mnist $extra"
if [ "$cuda" = 1 ]; then
  # contrib's CUDA libtorch (it replaces libtorch-dev) with its CUDA build of gloo (which conflicts with libgloo-dev),
  # and the CUDA and NCCL headers ATen/cuda and ProcessGroupNCCL include.
  pkgs="$pkgs libtorch-cuda-dev libgloo-cuda-dev nvidia-cuda-dev libnccl-dev"
else
  pkgs="$pkgs libtorch-dev libgloo-dev"
fi
pkgs=$(echo "$pkgs" | tr ' ' '\n' | sed '/^$/d' | sort -u | tr '\n' ' ')
if [ "$(cat "$dir/.pwlu-packages" 2>/dev/null)" != "$pkgs" ]; then
  say "apt-get install $pkgs (several minutes the first time)"
  : >"$cache/$name.apt.log"
  root_apt apt-get update -q
  if [ "$cuda" = 1 ] && ! in_root dpkg -s nvidia-cudnn >/dev/null 2>&1; then
    # nvidia-cudnn is an install script that downloads cuDNN from NVIDIA, which cannot work offline. A placeholder
    # package satisfies the dependency (the placeholder library below is what lets libtorch_cuda load).
    root_apt apt-get install -y -q equivs
    mkdir -p "$dir/tmp/cudnn"
    printf 'Package: nvidia-cudnn\nVersion: 9.0.0.312~cuda12+placeholder\nSection: contrib/libs\nDescription: placeholder for the download-only cuDNN installer (pwlu compile-and-link checks)\n' >"$dir/tmp/cudnn/ctl"
    root_apt sh -c 'cd /tmp/cudnn && equivs-build ctl && dpkg -i nvidia-cudnn_*.deb'
  fi
  # shellcheck disable=SC2086
  root_apt apt-get install -y -q $pkgs
  in_root apt-get clean
  echo "$pkgs" >"$dir/.pwlu-packages"
fi
# The CUDA root has no cuDNN (its package downloads from NVIDIA), and Debian links libtorch_cuda with immediate binding,
# so it loads only where every cuDNN function it imports is defined. A placeholder libcudnn.so.9 defines exactly
# those (read from libtorch_cuda's dynamic symbols, under the symbol version it asks for), each returning
# CUDNN_STATUS_NOT_SUPPORTED (3000), with no other code: enough for the CUDA build to load and the CPU suite to run
# against it. With no GPU no cuDNN function is called. It lives in its own folder, on LD_LIBRARY_PATH for this
# script's commands only.
placeholder=/opt/pwlu-cudnn-placeholder
if [ "$cuda" = 1 ] && [ ! -f "$dir$placeholder/libcudnn.so.9" ] && ! in_root sh -c 'ldconfig -p | grep -q "libcudnn.so.9 "'; then
  torch_cuda=$(ls "$dir"/usr/lib/*/libtorch_cuda.so 2>/dev/null | head -n1)
  [ -n "$torch_cuda" ] || { say "libtorch_cuda.so not found in the root"; exit 1; }
  syms=$(readelf --dyn-syms -W "$torch_cuda" | awk '$7 == "UND" && $8 ~ /@libcudnn\.so\.9/ { sub(/@.*/, "", $8); print $8 }' | sort -u)
  [ -n "$syms" ] || { say "libtorch_cuda imports no cuDNN symbols: nothing to stand in for"; exit 1; }
  mkdir -p "$dir$placeholder"
  {
    echo '/* pwlu: placeholder for the download-only cuDNN (scripts/compat/debian-root.sh): every entry point libtorch_cuda imports, each returning CUDNN_STATUS_NOT_SUPPORTED. */'
    for f in $syms; do echo "int $f(void) { return 3000; }"; done
  } >"$dir/tmp/cudnn-placeholder.c"
  printf 'libcudnn.so.9 { global: %s local: *; };\n' "$(for f in $syms; do printf '%s; ' "$f"; done)" >"$dir/tmp/cudnn-placeholder.map"
  in_root g++ -x c -shared -fPIC -fno-builtin -o "$placeholder/libcudnn.so.9" -Wl,-soname,libcudnn.so.9 -Wl,--version-script=/tmp/cudnn-placeholder.map /tmp/cudnn-placeholder.c
  say "placeholder libcudnn.so.9: $(echo "$syms" | wc -l) functions"
fi
t_root=$(($(date +%s) - t0))
[ "$prepare" = 1 ] && { say "ready in ${t_root} s: $dir"; exit 0; }

# --- 4. a clean checkout of the current commit (or the working tree), and ../shared beside it ------------------
work="$dir/work"
head_rev="$(cd "$repo" && git rev-parse HEAD)"
rev="${head_rev:0:7}"
fresh=1
if [ "$reuse" = 1 ] && [ "$worktree" = 0 ] && [ "$(cat "$work/pwlu/.pwlu-rev" 2>/dev/null)" = "$head_rev" ] && [ -d "$work/pwlu/node_modules" ]; then
  fresh=0
  say "reusing the checkout of $rev"
fi
if [ "$fresh" = 1 ]; then
  rm -rf "$work/pwlu"
  mkdir -p "$work/pwlu"
  if [ "$worktree" = 1 ]; then
    (cd "$repo" && git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$work/pwlu"
    rev="$rev+worktree"
  else
    (cd "$repo" && git archive HEAD) | tar -xf - -C "$work/pwlu"
  fi
  if [ -d "$repo/../shared" ]; then
    rm -rf "$work/shared"
    cp -a "$repo/../shared" "$work/shared"
  fi
fi

# --- 5. npm ci and the tests (or the command) inside ---------------------------------------------------------
passenv=(CI="${CI:-}" PWLU_REQUIRE="${PWLU_REQUIRE:-}" JOBS="${JOBS:-}" ONNXRUNTIME_NODE_INSTALL=skip)
[ "$cuda" = 1 ] && [ -f "$dir$placeholder/libcudnn.so.9" ] && passenv+=(LD_LIBRARY_PATH="$placeholder")
t1=$(date +%s)
if [ "$fresh" = 1 ]; then
  say "npm ci in $rev"
  # The download is retried; the native build (which npm ci would run) runs on its own right after, once.
  if ! retry in_root "${passenv[@]}" PWLU_SKIP_NATIVE=1 sh -c 'cd /work/pwlu && npm ci --no-audit --no-fund' >"$cache/$name.npm.log" 2>&1 ||
    ! in_root "${passenv[@]}" sh -c 'cd /work/pwlu && npm run build:native' >>"$cache/$name.npm.log" 2>&1; then
    say "npm ci or the native build failed; the end of $cache/$name.npm.log:"
    tail -n 30 "$cache/$name.npm.log" >&2
    exit 1
  fi
  grep '^\[pwlu\] native torch backend built' "$cache/$name.npm.log" >&2 || true
  if [ "$worktree" = 0 ]; then echo "$head_rev" >"$work/pwlu/.pwlu-rev"; fi
fi
t_npm=$(($(date +%s) - t1))
if [ ${#cmd[@]} -gt 0 ]; then
  set +e
  in_root "${passenv[@]}" sh -c 'cd /work/pwlu && exec "$@"' sh "${cmd[@]}"
  rc=$?
  say "'${cmd[*]}' exited $rc (root ${t_root} s, npm ci ${t_npm} s, command $(($(date +%s) - t1 - t_npm)) s)"
  exit $rc
fi
t2=$(date +%s)
log="$cache/$name.test.log"
set +e
# shellcheck disable=SC2086
in_root "${passenv[@]}" sh -c 'cd /work/pwlu && npm test -- "$@"' sh $tests 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
t_test=$(($(date +%s) - t2))
# What the root's native build compiled in, as `pwlu doctor` reports it (the one owner of those facts).
cat >"$dir/tmp/pwlu-native-state.cjs" <<'EOF'
const d = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const b = d.build;
const f = b ? [b.cuda && 'cuda', b.jpeg && 'jpeg', b.gloo && 'gloo', b.nccl && 'nccl'].filter(Boolean) : [];
console.log(b ? `libtorch ${b.libtorch}, node v${d.node}, native built (${f.join(', ')})` : `node v${d.node}, native NOT built`);
EOF
info=$(in_root sh -c 'cd /work/pwlu && node bin/pwlu.js doctor --json | node /tmp/pwlu-native-state.cjs' 2>/dev/null || echo 'native state unknown')
counts=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^ +Tests +' | tail -n1 | sed -E 's/^ +Tests +//' || true)
passed=$(echo "$counts" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
failed=$(echo "$counts" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || echo 0)
skipped=$(echo "$counts" | grep -oE '[0-9]+ skipped' | grep -oE '[0-9]+' || echo 0)
echo "debian-root $name ($rev): $info: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped; root ${t_root} s, npm ci ${t_npm} s, tests ${t_test} s, total $(($(date +%s) - started)) s"
exit "$rc"
exit
}
