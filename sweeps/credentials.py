"""Which credential goes where, and the one HTTP client that sends it only there.

The rules (README, "Tokens"):

- The user's Hugging Face token (``HF_TOKEN``, else the saved ``hf auth login``) goes only to
  Hugging Face's own hosts over https: the Inference Providers router (``model=hf``),
  ``*.endpoints.huggingface.cloud`` and ``huggingface.co`` (and its subdomains), and the Hub
  (``HF_ENDPOINT`` when set).
- Any other endpoint gets no credential, unless ``model.api_key_env=NAME`` names an environment
  variable: its value is sent, as ``Authorization: Bearer``. ``model.api_key_env=HF_TOKEN``
  is the opt-in for sending the Hugging Face token to a host that is not Hugging Face's (it
  falls back to the saved login when ``HF_TOKEN`` is unset).
- The embedded llama-server gets :data:`LOCAL_TOKEN`, never the user's.
- No credential follows a redirect to another origin: :func:`http_client` (detection, the text
  backend) sets the header on each hop whose origin is the endpoint's and strips it from every
  other; huggingface_hub's
  client (httpx) strips it on a redirect to another origin itself (tests/test_credentials.py
  checks both through a redirecting server).

Every value read here is registered with :mod:`hfsweep.core.secrets`, so it is scrubbed from
everything hfsweep writes or prints.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from urllib.parse import urlparse

import httpx2
from huggingface_hub import constants, get_token

from hfsweep.core import secrets
from hfsweep.core.errors import CredentialError, TargetError
from hfsweep.sweeps.config import ModelTarget

LOCAL_TOKEN = "hfsweep-local"  # sent to the embedded server, so the user's token never goes there
ROUTER_URL = "https://router.huggingface.co"  # where model=hf requests go
HF_DOMAINS = ("huggingface.co", "endpoints.huggingface.cloud")  # the domains (and their subdomains) of Hugging Face's hosts


@dataclass(frozen=True)
class Credential:
    """A credential to send: where it comes from (for messages) and its value."""

    source: str  # e.g. "HF_TOKEN", "the saved Hugging Face login", "$VLLM_KEY (api_key_env)"
    value: str


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, the port filled in from the scheme.

    >>> origin("https://Router.huggingface.co/v1")
    ('https', 'router.huggingface.co', 443)
    """
    parsed = urlparse(url)
    scheme = (parsed.scheme or "http").lower()
    return scheme, (parsed.hostname or "").lower(), parsed.port or (443 if scheme == "https" else 80)


def is_hf_url(url: str) -> bool:
    """Whether ``url`` is one of Hugging Face's own hosts over https, or the Hub ``HF_ENDPOINT`` names.

    >>> is_hf_url("https://x1.us-east-1.aws.endpoints.huggingface.cloud"), is_hf_url("http://router.huggingface.co")
    (True, False)
    >>> is_hf_url("https://huggingface.co.evil.example"), is_hf_url("https://evil-huggingface.co")
    (False, False)
    """
    if origin(url) == origin(constants.ENDPOINT):
        return True
    scheme, host, _ = origin(url)
    return scheme == "https" and any(host == domain or host.endswith("." + domain) for domain in HF_DOMAINS)


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine (``localhost``, 127.0.0.0/8, ::1): nothing crosses a network."""
    host = origin(url)[1]
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def hf_token() -> Credential | None:
    """The user's Hugging Face token: ``HF_TOKEN`` (or the older ``HUGGING_FACE_HUB_TOKEN``), else
    the saved login (None without either)."""
    for name in secrets.ENV_TOKENS:
        if os.environ.get(name):
            return Credential(name, os.environ[name])
    value = get_token()
    if not value:
        return None
    secrets.register(value)
    return Credential("the saved Hugging Face login (hf auth login)", value)


def target_url(target: ModelTarget) -> str | None:
    """Where a target's requests go (None for the embedded server, whose port is chosen at start)."""
    if target.kind == "hf":
        return ROUTER_URL
    return target.endpoint if target.kind == "endpoint" else None


def credential_for(target: ModelTarget) -> Credential | None:
    """The credential a target's requests carry, by the rules above (None: no credential)."""
    if target.kind == "embedded":
        return None
    name = target.api_key_env
    if name:
        value = os.environ.get(name)
        if not value and name == "HF_TOKEN":
            token = hf_token()
            value = token.value if token else None
        if not value:
            raise TargetError(f"model.api_key_env = {name!r} names an environment variable that is not set: "
                              f"export {name}=<the key>, or unset model.api_key_env")  # fmt: skip
        secrets.register(value)
        return Credential(f"${name} (api_key_env)", value)
    if target.kind == "hf" or is_hf_url(target.endpoint or ""):
        return hf_token()
    return None


def resolve_token(target: ModelTarget) -> str | None:
    """The bearer token to send: :data:`LOCAL_TOKEN` to the embedded server, else the value of
    :func:`credential_for` (None: no Authorization header at all)."""
    if target.kind == "embedded":
        return LOCAL_TOKEN
    credential = credential_for(target)
    return credential.value if credential else None


def hub_token() -> str | bool:
    """The token for the Hub's API (``HfApi(token=...)``): the user's, or False (send none)."""
    token = hf_token()
    return token.value if token else False


def credential_line(target: ModelTarget, key: str = "model") -> str:
    """One line for ``hfsweep validate``: which credential, if any, goes where (``key``: the
    target's config key, ``model`` or ``judge.model``)."""
    url = target_url(target)
    if url is None:
        return "credential: none of yours (the embedded server gets a local placeholder token)"
    credential = credential_for(target)
    if credential is None:
        why = "" if target.kind == "hf" or is_hf_url(url) else f" (not a Hugging Face host; {key}.api_key_env=NAME sends the key in $NAME)"
        return f"credential: none sent to {url}{why}"
    return f"credential: {credential.source} sent to {url}"


def plain_http_warning(target: ModelTarget) -> str | None:
    """A warning when a credential would go over plain http to a host that is not this machine."""
    url = target_url(target)
    if url is None or origin(url)[0] != "http" or is_loopback(url):
        return None
    try:
        credential = credential_for(target)
    except TargetError:  # an unset api_key_env: check_target says so
        return None
    if credential is None:
        return None
    return f"{credential.source} goes to {url} over plain http, readable on the way: use https"


def refused(target: ModelTarget, status: int | None, message: str) -> CredentialError:
    """The error for a 401 or 403: what was sent (or that nothing was), and what to do."""
    credential = credential_for(target)
    answered = f"{target.id} answered {status} ({message[:200]})"
    url = target_url(target) or "the server"
    if credential is None and is_hf_url(url):
        return CredentialError(f"{answered}: it wants a Hugging Face token and none was found: set HF_TOKEN, or run `hf auth login`")
    if credential is None:
        return CredentialError(f"{answered}: it wants a credential and none was sent ({url} is not a Hugging Face host): "
                               "set model.api_key_env=NAME to send the key in $NAME")  # fmt: skip
    if credential.source.startswith("$"):
        return CredentialError(f"{answered}: the key in {credential.source} was refused. Set it to a key this server accepts.")
    return CredentialError(f"{answered}: the Hugging Face token ({credential.source}) was refused. "
                           "Set HF_TOKEN or run `hf auth login` with a token that can call this model.")  # fmt: skip


def http_client(url: str, token: str | None, timeout_s: float) -> httpx2.AsyncClient:
    """The client for detection's GETs and the text backend's completions to ``url``'s server:
    ``token`` as the bearer credential on that origin only, set or stripped again on every hop
    of a redirect."""
    allowed = origin(url)

    async def authorize(request: httpx2.Request) -> None:
        request.headers.pop("authorization", None)
        if token and origin(str(request.url)) == allowed:
            request.headers["authorization"] = f"Bearer {token}"

    return httpx2.AsyncClient(timeout=timeout_s, follow_redirects=True, event_hooks={"request": [authorize]})
