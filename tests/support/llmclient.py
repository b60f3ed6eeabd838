"""Run inside a pod (``python3 -c``, stdlib only): one request to the LLM gateway.

argv: PATH BODY [KEY [HEADER [LINES]]] — PATH under $AGENTPOD_LLM_BASE_URL, BODY a JSON string
(empty: GET), KEY defaults to $AGENTPOD_LLM_API_KEY, HEADER is ``bearer`` (default) or
``x-api-key``; with LINES, hang up after reading that many lines.
Prints JSON: status, headers, body, and the arrival time of each line (seconds from the start).
"""

import http.client
import json
import os
import sys
import time
import urllib.parse

path, body = sys.argv[1], sys.argv[2]
key = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else os.environ["AGENTPOD_LLM_API_KEY"]
style = sys.argv[4] if len(sys.argv) > 4 else "bearer"
most = int(sys.argv[5]) if len(sys.argv) > 5 else -1
base = urllib.parse.urlsplit(os.environ["AGENTPOD_LLM_BASE_URL"])
headers = {"Content-Type": "application/json"}
if style == "x-api-key":
    headers |= {"x-api-key": key, "anthropic-version": "2023-06-01"}
else:
    headers["Authorization"] = f"Bearer {key}"
start = time.monotonic()
conn = http.client.HTTPConnection(base.hostname, base.port, timeout=30)
conn.request("POST" if body else "GET", base.path + path, body=body or None, headers=headers)
response = conn.getresponse()
lines, times = [], []
while len(lines) != most:
    line = response.readline()
    if not line:
        break
    lines.append(line)
    times.append(time.monotonic() - start)
print(
    json.dumps(
        {
            "status": response.status,
            "headers": dict(response.getheaders()),
            "body": b"".join(lines).decode(),
            "times": times,
        }
    )
)
