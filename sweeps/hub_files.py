"""A file on the Hugging Face Hub named as ``HfFileSystem`` names it, ``hf://datasets/OWNER/NAME[@REVISION]/PATH``,
fetched into the Hub's cache and read from there.

huggingface_hub does the work: ``parse_hf_uri`` reads the path (as ``HfFileSystem`` does) and
``hf_hub_download`` fetches the file into the Hub cache (``HF_HUB_CACHE``, default
``~/.cache/huggingface/hub``). The next read asks the Hub only whether the file changed (its
ETag), and reads the cached copy when the Hub cannot be reached. A file not cached yet is
first asked for once (one HEAD), so an unreachable Hub is one error line at once rather than
``hf_hub_download``'s retries. The Hub is ``HF_ENDPOINT``
(default huggingface.co) and the token is huggingface_hub's own (``HF_TOKEN`` or the saved login).
Every failure is one :class:`ConfigError` line naming the key and the path.

>>> is_hub_path("hf://datasets/org/prompts/p.jsonl"), is_hub_path("prompts/p.jsonl")
(True, False)
>>> fetch("hf://datasets/org", "prompts.file")
Traceback (most recent call last):
hfsweep.core.errors.ConfigError: prompts.file = 'hf://datasets/org' is not an hf:// path to a file: accepted hf://datasets/OWNER/NAME/PATH (optionally NAME@REVISION)
"""

from __future__ import annotations

from pathlib import Path

import httpx2
from huggingface_hub import constants, get_hf_file_metadata, hf_hub_download, hf_hub_url, parse_hf_uri, try_to_load_from_cache
from huggingface_hub.errors import (
    FileMetadataError,
    GatedRepoError,
    HfHubHTTPError,
    HfUriError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from hfsweep.core.errors import ConfigError

PROTOCOL = "hf://"
ACCEPTED = "accepted hf://datasets/OWNER/NAME/PATH (optionally NAME@REVISION)"


def is_hub_path(name: str) -> bool:
    return str(name).startswith(PROTOCOL)


def fetch(uri: str, key: str) -> Path:
    """The local (cached) copy of the Hub file ``uri``; ``key`` names the config key in errors."""
    where = f"{key} = {uri!r}"
    try:
        parsed = parse_hf_uri(uri)
    except HfUriError:
        parsed = None
    if parsed is None or not parsed.is_repo or not parsed.path_in_repo:
        raise ConfigError(f"{where} is not an hf:// path to a file: {ACCEPTED}")
    repo = f"{parsed.type} {parsed.id}" + (f" at revision {parsed.revision}" if parsed.revision else "")
    unreachable = ConfigError(f"{where} could not be fetched: the Hub ({constants.ENDPOINT}) cannot be reached and the file is "
                              "not in the Hub cache (HF_HUB_CACHE): connect and run again, or copy the file and give its local path")
    cached = try_to_load_from_cache(parsed.id, parsed.path_in_repo, revision=parsed.revision, repo_type=parsed.type)
    if not isinstance(cached, str) and not constants.is_offline_mode():
        try:
            get_hf_file_metadata(hf_hub_url(parsed.id, parsed.path_in_repo, repo_type=parsed.type, revision=parsed.revision))
        except (httpx2.ConnectError, httpx2.TimeoutException):
            raise unreachable from None
        except HfHubHTTPError:
            pass  # hf_hub_download raises it again, and the errors below say what it means
    try:
        return Path(hf_hub_download(parsed.id, parsed.path_in_repo, repo_type=parsed.type, revision=parsed.revision))
    except LocalEntryNotFoundError:
        raise unreachable from None
    except GatedRepoError:
        raise ConfigError(f"{where}: the {repo} is gated: accept its conditions on the Hub, with the account of HF_TOKEN "
                          "(or of `hf auth login`)") from None  # fmt: skip
    except RepositoryNotFoundError:
        raise ConfigError(f"{where}: there is no {repo} on the Hub ({constants.ENDPOINT}), or it is private and the token "
                          "(HF_TOKEN, or `hf auth login`) cannot read it") from None  # fmt: skip
    except RevisionNotFoundError:
        raise ConfigError(f"{where}: the {parsed.type} {parsed.id} has no revision {parsed.revision!r}") from None
    except RemoteEntryNotFoundError:
        raise ConfigError(f"{where}: the {repo} has no file {parsed.path_in_repo!r}") from None
    except FileMetadataError:
        raise ConfigError(f"{where} could not be fetched: {constants.ENDPOINT} does not answer like the Hub (check HF_ENDPOINT)") from None
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else "no"
        raise ConfigError(f"{where} could not be fetched: the Hub ({constants.ENDPOINT}) answered HTTP {status}") from None
