#!/bin/sh
# Installs the programs letter-merge drives, when they are missing and this machine can:
# LibreOffice Writer (PDF conversion) and the metric-compatible fonts the default template uses (Liberation for Arial, Carlito for Calibri);
# and, with Debian's packages, jemalloc, which LibreOffice is started with to convert faster.
# With --with-browser, also what the tests use: Chromium, to open the proof page, and Dovecot, an
# IMAP server to read a mailbox from.
set -eu

missing=""
command -v soffice >/dev/null 2>&1 || command -v libreoffice >/dev/null 2>&1 || missing="$missing libreoffice-writer-nogui"
if command -v fc-list >/dev/null 2>&1; then
    fc-list | grep -q "Liberation Sans" || missing="$missing fonts-liberation2"
    fc-list | grep -q "Carlito" || missing="$missing fonts-crosextra-carlito"
fi
# jemalloc only helps (LibreOffice runs without it): asked for only where apt-get can install it
ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
if command -v apt-get >/dev/null 2>&1 && [ -x "$ldconfig" ]; then
    "$ldconfig" -p | grep -q "libjemalloc.so.2" || missing="$missing libjemalloc2"
fi
if [ "${1:-}" = "--with-browser" ]; then
    command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
    # Dovecot, the IMAP server the tests read a mailbox from (in /usr/sbin: not on a user's PATH)
    [ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/imap ] || missing="$missing dovecot-imapd"
fi
[ -z "$missing" ] && exit 0

echo "Installing missing system packages:$missing"
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "Cannot install as a normal user without sudo. Ask an administrator to run:" >&2
        echo "  apt-get install -y$missing" >&2
        exit 1
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq$missing
else
    echo "This is not a Debian/Ubuntu system; please install LibreOffice yourself" >&2
    echo "(see the README: 'Windows and macOS'), then run this command again." >&2
    exit 1
fi
