"""Which server kind a target uses, and so the capability its requests go through.

The kinds and their capabilities (what each honours, the neutral values that switch its own
samplers off) are the registry in sweeps/servers.py; this module reads a target's kind from it.
"""

from __future__ import annotations

from hfsweep.sweeps.config import ModelTarget
from hfsweep.sweeps.servers import Capability, ServerKind, server_kind


def target_server_kind(target: ModelTarget, compat: str = "none") -> ServerKind:
    """The registry's kind for a target (model kind, server software) and compat profile."""
    return server_kind(target.kind, target.server, compat)


def capability_for(target: ModelTarget, compat: str = "none") -> Capability:
    """The capability entry for a target (kind, server software and mode) and compat profile."""
    return target_server_kind(target, compat).capability_for(target.mode)
