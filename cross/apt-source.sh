# Sourced: sets `mirror` and `suite` from this machine's apt sources (deb822
# or one-line form), never a hard-coded host. Used by cross/sysroot.sh and
# tests/package/check-deb.sh.
apt_src=$(ls /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1 || true)
if [ -n "$apt_src" ]; then
  mirror=$(awk '/^URIs:/{print $2; exit}' "$apt_src"); suite=$(awk '/^Suites:/{print $2; exit}' "$apt_src")
else
  mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list); suite=$(awk '/^deb /{print $3; exit}' /etc/apt/sources.list)
fi
