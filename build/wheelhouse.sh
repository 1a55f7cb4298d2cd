#!/usr/bin/env bash
# Fetch, on the host, every wheel the service images install, for the images' Python (3.13, glibc
# x86_64), so that builds need no network inside the container (air-gapped path).
set -o errexit -o nounset -o pipefail
here=$(cd "$(dirname "$0")/../services" && pwd)
python=${PYTHON:-python3}
platform=${WHEEL_PLATFORM:-manylinux_2_28_x86_64}
for requirements in "$here"/*/requirements.txt; do
  "$python" -m pip download --quiet --dest "$here/wheelhouse" --only-binary=:all: \
    --python-version 3.13 --implementation cp --abi cp313 --platform "$platform" \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    -r "$requirements"
done
echo "wheelhouse: $(find "$here/wheelhouse" -name '*.whl' | wc -l) wheels in $here/wheelhouse"
