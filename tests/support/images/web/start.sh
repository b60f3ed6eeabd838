#!/bin/sh
# A stand-in agent: serves "$BODY" (or "<tenant>/<pod>") on $PORT with /healthz and /readyz.
# MODE=exit exits at once; MODE=slow sleeps $DELAY seconds before serving; MODE=unhealthy
# serves but /readyz answers 404.
PORT="${PORT:-8080}"
DIR=/tmp/www
mkdir -p "$DIR"
[ "$MODE" = "exit" ] && { echo "exiting as asked"; exit 3; }
[ "$MODE" = "slow" ] && sleep "${DELAY:-5}"
printf '%s\n' "${BODY:-$AGENTPOD_TENANT/$AGENTPOD_POD}" > "$DIR/index.html"
echo ok > "$DIR/healthz"
[ "$MODE" = "unhealthy" ] || echo '{"ready":true}' > "$DIR/readyz"
echo "serving on $PORT"
exec httpd -f -v -p "$PORT" -h "$DIR"
