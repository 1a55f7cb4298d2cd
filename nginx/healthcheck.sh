#!/bin/bash
# Docker HEALTHCHECK: GET /healthz from nginx itself. Neither curl nor wget is in both bases (the
# Debian stand-in has neither), but bash is (Debian essential), and its /dev/tcp needs nothing else.
set -o errexit -o nounset -o pipefail

exec 3<>/dev/tcp/127.0.0.1/8080
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r -t 2 status <&3
[[ $status == 'HTTP/1.1 200 '* ]]
