#!/bin/sh
# Installs the programs letter-merge drives, when they are missing and this machine can:
# LibreOffice Writer (PDF conversion), poppler-utils (pdftotext/pdftoppm), and the metric-compatible
# fonts the default template uses (Liberation for Arial, Carlito for Calibri).
# With --with-browser, also Chromium, which the tests use to open the proof page.
set -eu

missing=""
command -v soffice >/dev/null 2>&1 || command -v libreoffice >/dev/null 2>&1 || missing="$missing libreoffice-writer-nogui"
command -v pdftotext >/dev/null 2>&1 || missing="$missing poppler-utils"
if command -v fc-list >/dev/null 2>&1; then
    fc-list | grep -q "Liberation Sans" || missing="$missing fonts-liberation2"
    fc-list | grep -q "Carlito" || missing="$missing fonts-crosextra-carlito"
fi
if [ "${1:-}" = "--with-browser" ]; then
    command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
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
    echo "This is not a Debian/Ubuntu system; please install LibreOffice and poppler yourself" >&2
    echo "(see the README: 'Windows and macOS'), then run this command again." >&2
    exit 1
fi
