#!/usr/bin/env bash
# Install the Debian packages the test suite needs, when missing (browser, CJK font,
# QR decoding, the PC/SC stack with a virtual reader, and what pyscard builds with;
# nginx-light for the test of the documented proxy site, docs/deploy/nginx-binhai.conf).
set -euo pipefail
packages=(chromium fonts-wqy-microhei libzbar0 zbar-tools pcscd vsmartcard-vpcd libpcsclite-dev swig nginx-light)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
