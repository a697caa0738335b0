"""Real local HTTP servers for the test suite.

- `fault_server.FaultServer`: OpenAI-compatible + TGI `/generate`, with injected faults
  (429 + Retry-After, 503, 500, hang, dropped connection, malformed JSON), rules for fixed
  error answers and for wrong 200s (a patched answer, a raw body of any content type), a
  request log and counters. Also `python -m tests.servers.fault_server`.
- `app`: the aiohttp application, `FaultConfig`, `Rule` (re-exported by `fault_server`).
- `textgen`: the deterministic fake text.
- `tgi_server.start_tgi_server`: the same server with TGI's error bodies everywhere.
- `fixtures`: pytest fixtures `fault_server`, `tgi_server`.
- `hub.FakeHub`: file downloads answered like the Hub (`HF_ENDPOINT`), for `hf://` prompt files.
"""
