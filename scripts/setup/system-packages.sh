#!/usr/bin/env bash
# Installs the Debian packages the tests run against, when missing: Orthanc with its DICOMweb
# plugin (the PACS), DCMTK (dcmdump, storescp, storescu), GDCM's tools (gdcmconv, gdcmanon: files
# written by another toolkit), dicom3tools (dciodvfy, David Clunie's IOD checker), Chromium
# (renderer tests), GNOME Keyring and D-Bus (a real Secret Service for the keychain tests),
# iproute2 and nftables (the fault suite's network), OpenSSL (test certificates), PostgreSQL (the
# relay's database) and OpenStack Swift with its s3api middleware (the relay's S3-compatible object
# storage), and HAProxy (checks the load balancer configuration of the scale-out deployment).
# Idempotent: when all are installed it only asks dpkg once and exits. Installing needs root, or
# sudo; without either it says what to run and stops. RELAYPACS_DRY_RUN=1: says what it would install.
set -euo pipefail
packages=(orthanc orthanc-dicomweb dcmtk libgdcm-tools dicom3tools chromium gnome-keyring dbus libsecret-tools iproute2 nftables openssl postgresql swift swift-proxy swift-account swift-container swift-object haproxy prometheus)
if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  echo "setup: the tests need Debian packages (${packages[*]}) and this machine has no dpkg and apt-get; install their equivalents by hand" >&2
  exit 1
fi
# One dpkg-query for all of them: a package never installed is reported on stderr, not listed.
installed="$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)"
missing=()
for package in "${packages[@]}"; do
  grep -qx "$package install ok installed" <<<"$installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: Debian packages present: ${packages[*]}" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "setup: the tests need Debian packages missing here; as root, run: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  sudo="sudo"
fi
if [ "${RELAYPACS_DRY_RUN:-}" = 1 ]; then
  echo "dry run: would install Debian packages: ${missing[*]} (${sudo:-as root} apt-get install)" >&2
  exit 0
fi
echo "setup: installing Debian packages: ${missing[*]}" >&2
$sudo apt-get update -qq
# Debian's orthanc package wants to start a system service; tests start their own instances.
# env, not a prefix: sudo drops the caller's environment.
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
