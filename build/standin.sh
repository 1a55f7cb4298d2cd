#!/usr/bin/env bash
# Build an air-gapped stand-in base from Debian packages and import it without a registry:
#   build/standin.sh KIND IMAGE      KIND: python | postgres | nginx | wrk
# Stand-ins are tagged airgap/..., never with an official image's name (bases.sh picks the tag;
# the bench builds its own load generator, wrk, the same way).
set -o errexit -o nounset -o pipefail
kind=$1 image=$2
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
suite=trixie hooks=() changes=()
case "$kind" in
  python)
    packages=python3,python3-venv,ca-certificates,passwd
    changes=(--change 'CMD ["python3"]') ;;
  postgres)
    # No cluster is created: the image's entrypoint owns initdb.
    packages=postgresql-17,passwd
    hooks=(--essential-hook='mkdir -p "$1/etc/postgresql-common/createcluster.d" && echo "create_main_cluster = false" >"$1/etc/postgresql-common/createcluster.d/00-no-main.conf"')
    changes=(--change 'ENV PG_MAJOR=17' --change 'CMD ["bash"]') ;;
  nginx)
    # trixie's nginx 1.26 lacks `server ... resolve` in upstreams (>= 1.27.3); forky ships the
    # same 1.30 line as the official default.
    suite=forky packages=nginx,passwd
    changes=(--change 'CMD ["nginx", "-g", "daemon off;"]') ;;
  wrk)
    packages=wrk
    changes=(--change 'ENTRYPOINT ["wrk"]') ;;
  *) echo "standin: unknown kind '$kind' (python | postgres | nginx | wrk)" >&2; exit 2 ;;
esac
sources=("deb $mirror $suite main")
[ "$suite" = forky ] || sources+=("deb $mirror $suite-updates main" "deb $security $suite-security main")
# Check-Valid-Until: a frozen snapshot mirror serves Release files past their expiry date.
id=$(mmdebstrap --quiet --variant=minbase --aptopt='Acquire::Check-Valid-Until "false"' --include="$packages" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  "${hooks[@]}" "$suite" - "${sources[@]}" |
  docker import --change 'ENV LANG=C.UTF-8' "${changes[@]}" \
    --change "LABEL org.opencontainers.image.description=\"air-gapped stand-in ($kind, Debian $suite)\"" -)
# Tag only a complete import: pipefail has already stopped the script if mmdebstrap failed.
docker tag "$id" "$image"
echo "$image"
