# Sourced by the --hosts tests after lib.sh: N network namespaces joined by a
# bridge in the root namespace, each with one address on a free private /24,
# standing in for LAN hosts.  netns_setup skips the test (exit 77) where
# namespaces cannot be made; netns_cleanup (called from the test's EXIT trap)
# stops the launcher (LPID), kills every process left in our namespaces, even
# those in their own sessions, and removes namespaces, veths and bridge.
#
# netns_setup PREFIX SUBNET N: namespaces "PREFIX$$a", "PREFIX$$b", ...
# (NSS), bridge BR, addresses SUBNET.x.2 upwards (NET holds SUBNET.x), and a
# hosts file $SG_T/hosts naming each namespace with its address, 1 slot.
# NETNS_VETH[i] is namespace i's end of its link to the bridge.

NSS=()
MADE_NS=()
MADE_BR=0
LPID=
BR=
NETNS_VETH=()

netns_cleanup() {
    local ns p
    [[ -n "$LPID" ]] && kill -TERM "$LPID" 2>/dev/null
    for _ in $(seq 1 50); do
        [[ -n "$LPID" ]] && kill -0 "$LPID" 2>/dev/null || break
        sleep 0.2
    done
    [[ -n "$LPID" ]] && { kill -KILL "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null; }
    for ns in "${MADE_NS[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    [[ $MADE_BR -eq 1 ]] && ip link del "$BR" 2>/dev/null
    return 0
}

netns_setup() {
    local prefix=$1 subnet=$2 n=$3 tag=$$ i ns x letters=(a b c d e f g h)
    ((n >= 1 && n <= ${#letters[@]})) || sg_fail "netns_setup: 1 to ${#letters[@]} namespaces"
    for ((i = 0; i < n; i++)); do NSS+=("$prefix$tag${letters[$i]}"); done
    BR="${prefix}br$tag"
    ip netns add "${NSS[0]}" 2>/dev/null || sg_skip "cannot create network namespaces (ip netns add failed)"
    MADE_NS+=("${NSS[0]}")
    NET=
    for _ in $(seq 1 20); do
        x=$(( 20 + RANDOM % 200 ))
        ip -4 addr show | grep -q "inet ${subnet//./\\.}\\.$x\\." && continue
        ip -4 route show | grep -q "^${subnet//./\\.}\\.$x\\." && continue
        NET=$subnet.$x; break
    done
    [[ -n "$NET" ]] || sg_fail "no free $subnet.x.0/24 found"
    ip link add "$BR" type bridge || sg_skip "cannot create a bridge"
    MADE_BR=1
    ip addr add "$NET.1/24" dev "$BR" && ip link set "$BR" up || sg_fail "cannot set up $BR"
    for ((i = 0; i < n; i++)); do
        ns=${NSS[$i]}
        if [[ $i -gt 0 ]]; then ip netns add "$ns" || sg_fail "ip netns add $ns"; MADE_NS+=("$ns"); fi
        ip link add "${prefix}v${tag}h$i" type veth peer name "${prefix}v${tag}n$i" || sg_fail "veth for $ns"
        ip link set "${prefix}v${tag}n$i" netns "$ns" || sg_fail "moving veth into $ns"
        ip link set "${prefix}v${tag}h$i" master "$BR" up || sg_fail "veth into $BR"
        ip -n "$ns" addr add "$NET.$((i + 2))/24" dev "${prefix}v${tag}n$i" || sg_fail "address in $ns"
        ip -n "$ns" link set "${prefix}v${tag}n$i" up && ip -n "$ns" link set lo up ||
            sg_fail "links up in $ns"
        NETNS_VETH+=("${prefix}v${tag}n$i")
    done
    HOSTS=$SG_T/hosts
    for ((i = 0; i < n; i++)); do echo "${NSS[$i]} $NET.$((i + 2)) 1"; done >"$HOSTS"
    sg_log "namespaces ${NSS[*]} on $NET.0/24 (bridge $BR)"
}
