#!/usr/bin/env bash
# Choose the base images for the build and write them to .bases.env (read by make and the tests).
#   BASES=official  the official images (python, postgres, nginx): pulled if missing
#   BASES=airgap    stand-ins built from Debian packages (standin.sh) + a host-side wheelhouse
#   BASES=auto      official when present or pullable, else air-gapped (the default)
# Stand-ins are tagged airgap/..., never with an official name, and the same Dockerfiles build on
# both through build args.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."
mode=${BASES:-auto}
official=(python:3.13-slim-trixie postgres:17-trixie nginx:1.30)
standins=(airgap/python:3.13-trixie airgap/postgres:17-trixie airgap/nginx:1.30-forky)
kinds=(python postgres nginx)

have() { docker image inspect "$1" >/dev/null 2>&1; }

if [ "$mode" = auto ]; then
  mode=official
  for image in "${official[@]}"; do
    if ! have "$image" && ! timeout 120 docker pull --quiet "$image" >/dev/null 2>&1; then
      echo "bases: cannot pull $image: using air-gapped stand-ins (force a path with BASES=official|airgap)" >&2
      mode=airgap
      break
    fi
  done
fi

case "$mode" in
  official)
    chosen=("${official[@]}") no_index=0 ;;
  airgap)
    pids=()
    for i in "${!standins[@]}"; do
      if ! have "${standins[$i]}"; then
        echo "bases: building ${standins[$i]} from Debian packages (about a minute)" >&2
        build/standin.sh "${kinds[$i]}" "${standins[$i]}" >/dev/null & pids+=($!)
      fi
    done
    build/wheelhouse.sh >&2  # idempotent: downloads only what is missing
    for pid in "${pids[@]}"; do wait "$pid"; done
    chosen=("${standins[@]}") no_index=1 ;;
  *)
    echo "bases: BASES must be auto, official or airgap (got '$mode')" >&2; exit 2 ;;
esac

cat > .bases.env <<ENV
# Written by build/bases.sh (BASES=$mode); delete it to choose again.
BASES=$mode
PYTHON_BASE=${chosen[0]}
POSTGRES_BASE=${chosen[1]}
NGINX_BASE=${chosen[2]}
PIP_NO_INDEX=$no_index
ENV
echo "bases: $mode (${chosen[*]})" >&2
