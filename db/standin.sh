#!/usr/bin/env bash
# Air-gapped stand-in for the official postgres base: Debian trixie's postgresql-17, built from
# Debian packages and imported without a registry. No cluster is created: the image's entrypoint
# owns initdb. Tagged airgap/..., never with an official image's name.
set -o errexit -o nounset -o pipefail
image=${1:-airgap/postgres:17-trixie}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# Check-Valid-Until: a frozen snapshot mirror serves Release files past their expiry date.
id=$(mmdebstrap --quiet --variant=minbase --aptopt='Acquire::Check-Valid-Until "false"' --include=postgresql-17,passwd \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --essential-hook='mkdir -p "$1/etc/postgresql-common/createcluster.d" && echo "create_main_cluster = false" >"$1/etc/postgresql-common/createcluster.d/00-no-main.conf"' \
  trixie - "deb $mirror trixie main" "deb $mirror trixie-updates main" "deb $security trixie-security main" |
  docker import --change 'ENV LANG=C.UTF-8 PG_MAJOR=17' --change 'CMD ["bash"]' \
    --change 'LABEL org.opencontainers.image.description="air-gapped stand-in for postgres:17-trixie"' \
    -)
# Tag only a complete import: pipefail has already stopped the script if mmdebstrap failed.
docker tag "$id" "$image"
echo "$image"
