#!/bin/bash
# Renders the few runtime values into /tmp/nginx/*.conf (the root filesystem is read-only), then
# execs the given command as PID 1: by default nginx in the foreground; `nginx -t` checks the real
# configuration. Only the nginx binary of the base image is used, never its entrypoint.
# shellcheck disable=SC2016 # $limit_key and ${NGINX_UPSTREAM_SUFFIX} are literal on purpose
set -o errexit -o nounset -o pipefail

conf=/etc/nginx
out=/tmp/nginx

die() {
    printf 'nginx-entrypoint: %s\n' "$*" >&2
    exit 64
}

# worker_processes: the CPU quota rounded up (cgroup v2 cpu.max, else v1 cfs_quota/period),
# at most the CPUs we may run on (nproc honours cpusets); no quota -> nproc.
cpu_workers() {
    local quota=max period=100000 cpus
    if [[ -r /sys/fs/cgroup/cpu.max ]]; then
        read -r quota period </sys/fs/cgroup/cpu.max
    elif [[ -r /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]]; then
        quota=$(</sys/fs/cgroup/cpu/cpu.cfs_quota_us)
        period=$(</sys/fs/cgroup/cpu/cpu.cfs_period_us)
    fi
    cpus=$(nproc)
    if [[ $quota =~ ^[0-9]+$ && $period =~ ^[1-9][0-9]*$ ]] && ((quota > 0)); then
        quota=$(((quota + period - 1) / period))
        ((quota < cpus)) && cpus=$quota
    fi
    echo "$cpus"
}

workers=${NGINX_WORKER_PROCESSES:-$(cpu_workers)}
[[ $workers =~ ^[1-9][0-9]{0,2}$ ]] ||
    die "NGINX_WORKER_PROCESSES='$workers' is not a number of processes (1-999)"

# nginx's resolver is the only DNS it uses for upstreams: Docker's 127.0.0.11, or kube-dns.
resolver=${NGINX_RESOLVER:-}
if [[ -z $resolver ]]; then
    while read -r key value _; do
        if [[ $key == nameserver ]]; then
            resolver=$value
            break
        fi
    done </etc/resolv.conf
    [[ -n $resolver ]] || die "no nameserver in /etc/resolv.conf; set NGINX_RESOLVER"
    [[ $resolver == *:* ]] && resolver="[${resolver%%%*}]" # IPv6 needs brackets (zone id dropped)
fi
ipv4='([0-9]{1,3}\.){3}[0-9]{1,3}'
ipv6='\[[0-9A-Fa-f:.]+\]'
host='[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?'
read -r -a addresses <<<"$resolver" # split on spaces, without glob expansion
((${#addresses[@]})) || die "NGINX_RESOLVER is blank"
for address in "${addresses[@]}"; do
    [[ $address =~ ^($ipv4|$ipv6|$host)(:[0-9]{1,5})?$ ]] ||
        die "NGINX_RESOLVER: '$address' is not an address[:port] (IPv6 in brackets), space-separated"
done

suffix=${NGINX_UPSTREAM_SUFFIX:-}
label='[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
[[ $suffix =~ ^(\.$label)*$ ]] ||
    die "NGINX_UPSTREAM_SUFFIX='$suffix' must be empty or DNS labels each after a dot, e.g. .shop.svc.cluster.local"

rate=${NGINX_RATE_LIMIT:-50r/s}
[[ $rate =~ ^[1-9][0-9]{0,6}r/[sm]$ ]] || die "NGINX_RATE_LIMIT='$rate' must look like 50r/s or 600r/m"
burst=${NGINX_RATE_BURST:-100}
[[ $burst =~ ^[1-9][0-9]{0,6}$ ]] || die "NGINX_RATE_BURST='$burst' must be a whole number >= 1"
body=${NGINX_CLIENT_MAX_BODY_SIZE:-64k}
[[ $body =~ ^[1-9][0-9]{0,9}[kKmM]?$ ]] ||
    die "NGINX_CLIENT_MAX_BODY_SIZE='$body' must be a size like 64k or 1m (0 = unlimited is refused)"

# Proxies in front of nginx (a Kubernetes Gateway, a load balancer) whose X-Forwarded-For is
# trusted: the client address is then taken from it, for logs, the rate limit and the services.
# Empty (compose): nginx is the edge and trusts nobody.
trusted=${NGINX_TRUSTED_PROXIES:-}
read -r -a proxies <<<"$trusted"
for proxy in "${proxies[@]}"; do
    [[ $proxy =~ ^[0-9a-fA-F.:]+(/[0-9]{1,3})?$ ]] ||
        die "NGINX_TRUSTED_PROXIES: '$proxy' is not an address or CIDR (space-separated)"
done

mkdir -p "$out/upstreams" 2>/dev/null && [[ -w $out ]] ||
    die "cannot write $out: mount a writable tmpfs at /tmp"

printf 'worker_processes %s;\n' "$workers" >"$out/main.conf"
printf 'resolver %s valid=5s;\nresolver_timeout 3s;\nlimit_req_zone $limit_key zone=per_client:10m rate=%s;\n' \
    "$resolver" "$rate" >"$out/http.conf"
if ((${#proxies[@]})); then
    printf 'set_real_ip_from %s;\n' "${proxies[@]}" >>"$out/http.conf"
    printf 'real_ip_header X-Forwarded-For;\nreal_ip_recursive on;\n' >>"$out/http.conf"
fi
# A body nginx accepts is kept in memory (no temp file); the buffer grows only to Content-Length.
printf 'client_max_body_size %s;\nclient_body_buffer_size %s;\nlimit_req zone=per_client burst=%s nodelay;\n' \
    "$body" "$body" "$burst" >"$out/server.conf"

# One upstream per service; the suffix is their only placeholder (the server directive takes no
# variables). A container restart must not keep upstreams of templates that were removed.
rm -f "$out"/upstreams/*.conf
for template in "$conf"/upstreams/*.conf.template; do
    [[ -e $template ]] || continue
    content=$(<"$template")
    content=${content//'${NGINX_UPSTREAM_SUFFIX}'/"$suffix"}
    [[ $content != *'${'* ]] || die "$template: unknown \${...} placeholder (only \${NGINX_UPSTREAM_SUFFIX})"
    name=${template##*/}
    printf '%s\n' "$content" >"$out/upstreams/${name%.template}"
done

printf 'nginx-entrypoint: worker_processes=%s resolver=%s upstream_suffix=%s rate=%s burst=%s client_max_body_size=%s trusted_proxies=%s\n' \
    "$workers" "$resolver" "${suffix:-(none)}" "$rate" "$burst" "$body" "${trusted:-(none)}" >&2

exec "$@"
