#!/usr/bin/env bash
# Runs balance against the bundled mock Gemini upstream and shows one
# generate and one streamed call. No keys, no network. Ctrl-C stops it;
# DEMO_EXIT=1 stops right after the calls (for scripts).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin}
MOCK_ADDR=127.0.0.1:9100
PROXY=http://127.0.0.1:8000
TOKEN=sk-demo-token

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$BIN/mockgemini" -listen "$MOCK_ADDR" >/tmp/balance-demo-mock.log 2>&1 &
pids+=($!)
"$BIN/balance" -config examples/demo.hcl >/tmp/balance-demo.log 2>&1 &
pids+=($!)

for _ in $(seq 1 50); do
  curl -fsS "$PROXY/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$PROXY/health" >/dev/null || { echo "balance did not start; see /tmp/balance-demo.log"; cat /tmp/balance-demo.log; exit 1; }

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step "curl $PROXY/gemini/v1beta/models/gemini-2.5-flash:generateContent"
curl -sS "$PROXY/gemini/v1beta/models/gemini-2.5-flash:generateContent" \
  -H "x-goog-api-key: $TOKEN" -H 'Content-Type: application/json' \
  -d '{"contents":[{"role":"user","parts":[{"text":"Explain how AI works in a few words"}]}]}'
echo

step "curl -N $PROXY/v1beta/models/fast:streamGenerateContent?alt=sse   (model \"fast\" is an alias from demo.hcl)"
curl -sS -N "$PROXY/v1beta/models/fast:streamGenerateContent?alt=sse" \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"contents":[{"role":"user","parts":[{"text":"Stream a short answer"}]}]}'

# A few more calls so the rate-limited and invalid demo keys show up.
for _ in 1 2 3 4; do
  curl -sS -o /dev/null "$PROXY/v1beta/models/gemini-2.5-flash:generateContent" \
    -H "x-goog-api-key: $TOKEN" -d '{"contents":[{"parts":[{"text":"hi"}]}]}'
done

step "curl $PROXY/status -H 'Authorization: Bearer status-demo-token'   (key states, by fingerprint)"
curl -sS "$PROXY/status" -H 'Authorization: Bearer status-demo-token' | head -c 1500
echo

cat <<TXT

balance is serving $PROXY in front of the mock upstream at http://$MOCK_ADDR.
Where to look next:
  - point any Gemini SDK at $PROXY/gemini (token $TOKEN), or OpenAI SDKs at $PROXY/v1
  - key states:  curl $PROXY/status -H 'Authorization: Bearer status-demo-token'
  - the config:  examples/demo.hcl (edit and save: it reloads live)
  - logs:        /tmp/balance-demo.log
TXT

if [ "${DEMO_EXIT:-0}" = 1 ]; then exit 0; fi
echo "Press Ctrl-C to stop."
wait
