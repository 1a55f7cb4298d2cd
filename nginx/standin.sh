#!/usr/bin/env bash
# Air-gapped stand-in for the official nginx base. Debian stable (trixie) ships nginx 1.26, which
# lacks `server ... resolve` in upstreams (>= 1.27.3); Debian testing (forky) ships the same 1.30
# line as the official default, so the stand-in is built from forky. Tagged airgap/..., never with
# an official image's name.
set -o errexit -o nounset -o pipefail
image=${1:-airgap/nginx:1.30-forky}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Check-Valid-Until: a frozen snapshot mirror serves Release files past their expiry date.
id=$(mmdebstrap --quiet --variant=minbase --aptopt='Acquire::Check-Valid-Until "false"' --include=nginx,passwd \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  forky - "deb $mirror forky main" |
  docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["nginx", "-g", "daemon off;"]' \
    --change 'LABEL org.opencontainers.image.description="air-gapped stand-in for nginx:1.30"' \
    -)
# Tag only a complete import: pipefail has already stopped the script if mmdebstrap failed.
docker tag "$id" "$image"
echo "$image"
