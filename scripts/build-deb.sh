#!/usr/bin/env bash
# Builds the Debian package of sluice from a meson build directory:
#
#   scripts/build-deb.sh [BUILD_DIR] [OUT_DIR]     (default: build, build/deb)
#
# The equivalent of dpkg-buildpackage's binary step, without debian/
# packaging boilerplate: `meson install` into a staging tree, the tree
# moved to Debian's paths (/usr, /etc) whatever prefix the build dir was
# configured with (the unit and config files are rewritten to match),
# Depends computed by dpkg-shlibdeps from the binaries, maintainer scripts
# that create the sluice user and its directories (honouring $DPKG_ROOT, so
# the package also installs into a root that is not /), and dpkg-deb.
# Prints the path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:-build}")
out=$(realpath -m "${2:-$build/deb}")
mkdir -p "$out"

opt() { # name -> value, from the build dir's options
  meson introspect --buildoptions "$build" |
    python3 -c "import json,sys; print(next(o['value'] for o in json.load(sys.stdin) if o['name']=='$1'))"
}
prefix=$(opt prefix)
sysconfdir=$(opt sysconfdir)
case $sysconfdir in /*) ;; *) sysconfdir=$prefix/$sysconfdir ;; esac
version=$(meson introspect --projectinfo "$build" |
          python3 -c "import json,sys; print(json.load(sys.stdin)['version'])")
arch=$(dpkg --print-architecture)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
meson install -C "$build" --destdir "$work/stage" --no-rebuild --quiet
root=$work/root
mkdir -p "$root/usr" "$root/etc" "$root/DEBIAN"
for d in bin lib share; do
  [ -d "$work/stage$prefix/$d" ] && cp -a "$work/stage$prefix/$d" "$root/usr/"
done
cp -a "$work/stage$sysconfdir/." "$root/etc/"
# Paths baked into the text files follow the move.
for f in "$root/usr/lib/systemd/system/sluiced.service" "$root/etc/logrotate.d/sluice"; do
  sed -i -e "s|$prefix/bin|/usr/bin|g" -e "s|$sysconfdir|/etc|g" -e "s|$prefix/share|/usr/share|g" "$f"
done

mkdir -p "$work/shlibs/debian"
printf 'Source: sluice\n\nPackage: sluice\nArchitecture: any\n' > "$work/shlibs/debian/control"
depends=$(cd "$work/shlibs" && dpkg-shlibdeps -O -e "$root/usr/bin/sluiced" -e "$root/usr/bin/sluice" \
            2>/dev/null | sed -n 's/^shlibs:Depends=//p')
size=$(du -sk "$root/usr" "$root/etc" | awk '{s += $1} END {print s}')

cat > "$root/DEBIAN/control" <<CONTROL
Package: sluice
Version: $version
Architecture: $arch
Maintainer: sluice developers <sluice@localhost>
Installed-Size: $size
Depends: $depends, adduser
Section: net
Priority: optional
Description: Kafka-compatible streaming log broker for dedicated hardware
 One pinned thread per core owning its partitions end to end, Kafka's
 on-disk format, group-commit fdatasync on io_uring and zero-copy fetches.
 Unmodified Kafka clients use it. Includes the sluice admin CLI, a systemd
 unit (sluiced.service), logrotate rules, /metrics and a web console.
CONTROL
printf '/etc/sluice/server.properties\n/etc/logrotate.d/sluice\n' > "$root/DEBIAN/conffiles"

cat > "$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
# Creates the sluice user and the directories the service writes. With
# DPKG_ROOT set (an install into another root) only the directories.
set -e
if [ "$1" = configure ]; then
    mkdir -p "$DPKG_ROOT/var/lib/sluice" "$DPKG_ROOT/var/log/sluice"
    if [ -z "$DPKG_ROOT" ]; then
        if ! getent passwd sluice >/dev/null; then
            adduser --system --group --home /var/lib/sluice --no-create-home \
                    --gecos "sluice broker" sluice >/dev/null
        fi
        chown sluice:sluice /var/lib/sluice /var/log/sluice
        chmod 0750 /var/lib/sluice /var/log/sluice
        if [ -d /run/systemd/system ]; then
            systemctl daemon-reload || true
        fi
    fi
fi
exit 0
POSTINST
cat > "$root/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
# Stops the service (a clean shutdown syncs every log) before its files go.
set -e
if [ -z "$DPKG_ROOT" ] && [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    systemctl stop sluiced.service || true
fi
exit 0
PRERM
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm"

deb="$out/sluice_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
