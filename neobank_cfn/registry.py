"""The platform's tiers, in declaration order (the wiring derives the deployment order)."""

from __future__ import annotations

from neobank_cfn.config import PlatformConfig
from neobank_cfn.tier import Tier
from neobank_cfn.tiers import api, identity, keys, network, security


def platform_tiers(config: PlatformConfig) -> tuple[Tier, ...]:
    """Every tier of the platform for ``config`` (per-service tiers come one per service)."""
    del config  # no tier varies in number with the configuration yet
    return (keys.TIER, network.TIER, security.TIER, identity.TIER, api.TIER)
