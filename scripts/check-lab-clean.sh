#!/usr/bin/env bash
# After `camops lab down`: no lab container, network, network namespace, route or proxy.
set -uo pipefail
left=0
containers=$(podman ps -a --filter label=camops.lab --format '{{.Names}}')
[ -z "$containers" ] || { echo "left behind: containers $containers"; left=1; }
networks=$(podman network ls --format '{{.Name}}' | grep '^camops-lab' || true)
[ -z "$networks" ] || { echo "left behind: networks $networks"; left=1; }
netns=$(ip netns list 2>/dev/null || true)
[ -z "$netns" ] || { echo "left behind: network namespaces $netns"; left=1; }
# The default lab's camera LANs (inventories/lab).
routes=$(ip route | grep -E '^10\.79\.' || true)
[ -z "$routes" ] || { echo "left behind: routes $routes"; left=1; }
if pgrep -f '/usr/sbin/apt-cacher-ng -c .*\.lab/proxy' >/dev/null; then
  echo "left behind: the lab's apt-cacher-ng"; left=1
fi
[ $left -eq 0 ] && echo "lab down: nothing left behind (containers, networks, netns, routes, proxy)"
exit $left
