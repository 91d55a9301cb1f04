"""The platform's tiers, in declaration order (the wiring derives the deployment order)."""

from __future__ import annotations

from neobank_cfn.config import PlatformConfig
from neobank_cfn.tier import Tier
from neobank_cfn.tiers import api, data, identity, ingress, keys, messaging, network, security, service


def platform_tiers(config: PlatformConfig) -> tuple[Tier, ...]:
    """Every tier of the platform for ``config`` (per-service tiers come one per service)."""
    return (
        keys.TIER,
        network.TIER,
        security.TIER,
        data.tier(config),
        messaging.tier(config),
        ingress.TIER,
        *service.tiers(config),
        identity.TIER,
        api.TIER,
    )
