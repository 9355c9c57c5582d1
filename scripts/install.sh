#!/usr/bin/env bash
# Install tidescan and everything its lab, tests and benchmarks use, on a fresh Debian machine (as root).
# Debian packages: iproute2 (namespaces, veth), nftables/iptables (lab firewall rules), masscan (the
# reference we are compared with), nmap (the correctness oracle), tcpdump/tshark (pcap readers),
# curl/openssh-client/dnsutils/iputils (real clients for tidescanned); the lab's real banner servers
# (Lab(banner_servers=True), src/tidescan/lab_banner_servers.py): openssh-server, nginx-light, vsftpd,
# inetutils-inetd + inetutils-telnetd, memcached, redis-server (+ redis-tools), tigervnc-standalone-server
# (Xvnc), util-linux (setpriv, unshare); gcc + libc6-dev build the optional C cookie kernel
# (tidescan._accel; tests/test_accel.py requires it unless TIDESCAN_PURE_PYTHON=1); PyPI: aiosmtpd (the SMTP server).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ "$(id -u)" != 0 ]; then
    echo "scripts/install.sh: run as root (it installs Debian packages and the lab needs CAP_NET_ADMIN)" >&2
    exit 1
fi
APT_PACKAGES=(iproute2 nftables iptables masscan nmap tcpdump tshark curl openssh-client openssh-server
              dnsutils iputils-ping iputils-arping netcat-openbsd socat procps util-linux
              nginx-light vsftpd inetutils-inetd inetutils-telnetd memcached redis-server redis-tools
              tigervnc-standalone-server openssl gcc libc6-dev)
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Debian would start the servers' system services: forbid that (exit 101) while installing.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
        policy=/usr/sbin/policy-rc.d
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ -z "$policy" ] || rm -f "$policy"
fi
"$PY" -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v -i "warning" || true
# The lab's SMTP server (real software from PyPI; see lab_banner_servers.py).
"$PY" -m pip install -q --disable-pip-version-check 'aiosmtpd>=1.4' 2>&1 | grep -v -i "warning" || true
"$PY" -c "import tidescan, numpy, pyroute2, hypothesis, scapy, aiosmtpd"
