#!/bin/sh
# Installs, when missing, the Debian packages of the peers that nobody here wrote and that the
# end-to-end tests, the demo and the bench run against: dnsmasq, tftpd-hpa, tftp-hpa, atftp,
# busybox udhcpc, kamailio, tshark, SIPp, baresip (headless core: calls through the companion), socat, Kea's DHCPv4 server and ISC's perfdhcp (in
# kea-admin) for the DHCP row of the bench, iproute2 (ip netns), nftables (a lossy LAN),
# jq (the JSON stream's recipes in docs/cli.md), openssl and python3 (an independent ITL
# builder and a second opinion on signatures), and Debian's python3-cryptography and python3-lxml
# for the usecallmanager.nz peers in test/peers/usecallmanager (capfd, capfc, enccnf), which run
# on /usr/bin/python3, never a python3 found first on PATH; chromium (the web pages driven by
# playwright-core) and zbar-tools (zbarimg reads the Self-Care QR codes back); console-setup-linux
# for the Linux console fonts the LCD screenshots are drawn with (the Pi's console uses them);
# device-tree-compiler (dtc compiles the boards' keypad overlays in the tests).
# Needs root and apt; elsewhere it says what is missing and leaves it to the operator.
set -eu
need=""
have() { command -v "$1" >/dev/null 2>&1; }
have ip        || need="$need iproute2"
have dnsmasq   || need="$need dnsmasq-base"
# /usr/sbin: not on every root PATH.
have kea-dhcp4 || [ -x /usr/sbin/kea-dhcp4 ] || need="$need kea-dhcp4-server"
have perfdhcp  || [ -x /usr/sbin/perfdhcp ] || need="$need kea-admin"
have in.tftpd  || need="$need tftpd-hpa"
have tftp      || need="$need tftp-hpa"
have atftp     || need="$need atftp"
have busybox   || need="$need busybox"
have kamailio  || need="$need kamailio"
have tshark    || need="$need tshark"
have sipp      || need="$need sip-tester"
have baresip   || need="$need baresip-core"
have socat     || need="$need socat"
have pkill     || need="$need procps"
have openssl   || need="$need openssl"
have python3   || need="$need python3"
/usr/bin/python3 -c 'import cryptography, lxml' >/dev/null 2>&1 || need="$need python3-cryptography python3-lxml"
have jq        || need="$need jq"
have curl      || need="$need curl"
# perf: the CPU per fetch column of bench/files.ts (left blank without it).
have perf      || need="$need linux-perf"
have nft       || need="$need nftables"
have chromium  || need="$need chromium"
have zbarimg   || need="$need zbar-tools"
[ -e /usr/share/consolefonts/Uni2-Terminus16.psf.gz ] || need="$need console-setup-linux"
have dtc       || need="$need device-tree-compiler"
# qemu-user-static and Debian's arm64 cross C/C++ runtime (/usr/aarch64-linux-gnu, no foreign
# dpkg architecture): the image's aarch64 Node under qemu-aarch64-static (test/e2e/image-qemu).
have qemu-aarch64-static || need="$need qemu-user-static"
[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || need="$need libc6-arm64-cross"
[ -e /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ] || need="$need libstdc++6-arm64-cross"
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ] || ! have apt-get; then
  echo "peers: missing$need — install them (as root: apt-get install$need); tests that need them will fail and say so" >&2
  exit 0
fi
echo "peers: installing$need" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# One package at a time: tftpd-hpa and atftpd conflict, and a batch install stops at the first problem.
for p in $need; do
  apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 || { echo "peers: apt-get install $p failed" >&2; exit 1; }
done
