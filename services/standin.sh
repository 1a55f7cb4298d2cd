#!/usr/bin/env bash
# Air-gapped stand-in for the official python base: Debian trixie's python3.13, built from Debian
# packages and imported without a registry. Tagged airgap/..., never with an official image's name.
set -o errexit -o nounset -o pipefail
image=${1:-airgap/python:3.13-trixie}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# Check-Valid-Until: a frozen snapshot mirror serves Release files past their expiry date.
id=$(mmdebstrap --quiet --variant=minbase --aptopt='Acquire::Check-Valid-Until "false"' --include=python3,python3-venv,ca-certificates,passwd \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  trixie - "deb $mirror trixie main" "deb $mirror trixie-updates main" "deb $security trixie-security main" |
  docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
    --change 'LABEL org.opencontainers.image.description="air-gapped stand-in for python:3.13-slim-trixie"' \
    -)
# Tag only a complete import: pipefail has already stopped the script if mmdebstrap failed.
docker tag "$id" "$image"
echo "$image"
