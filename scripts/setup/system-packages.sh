#!/usr/bin/env bash
# Installs the Debian packages the tests run against, when missing: Orthanc with its DICOMweb
# plugin (the PACS), DCMTK (dcmdump, storescp, storescu), GDCM's tools (gdcmconv, gdcmanon: files
# written by another toolkit), dicom3tools (dciodvfy, David Clunie's IOD checker), Chromium
# (renderer tests), GNOME Keyring and D-Bus (a real Secret Service for the keychain tests),
# OpenSSL (test certificates). Needs root or sudo.
set -euo pipefail
packages=(orthanc orthanc-dicomweb dcmtk libgdcm-tools dicom3tools chromium gnome-keyring dbus libsecret-tools iproute2 nftables openssl)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: Debian packages present: ${packages[*]}" >&2
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing Debian packages: ${missing[*]}" >&2
$sudo apt-get update -qq
# Debian's orthanc package wants to start a system service; tests start their own instances.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
