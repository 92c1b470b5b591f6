# Shared by report-screenshot.sh and report-check.sh: how to run Debian's chromium
# headless with no network, no sandbox (containers) and a fresh profile.
# Sourced; sets CHROMIUM and CHROMIUM_FLAGS (an array) and a temp profile dir.
CHROMIUM="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
if [ -z "$CHROMIUM" ]; then
  echo "chromium not found (Debian: apt-get install -y chromium)" >&2
  exit 3
fi
PROFILE_DIR="$(mktemp -d)"
trap 'rm -rf "$PROFILE_DIR"' EXIT
CHROMIUM_FLAGS=(--headless --no-sandbox --disable-gpu --disable-background-networking
  --disable-component-update --disable-sync --no-first-run --disable-default-apps
  --hide-scrollbars --user-data-dir="$PROFILE_DIR"
  # WebGL through the software rasterizer; without it the viewer falls back to 2D.
  --use-angle=swiftshader --enable-unsafe-swiftshader)
