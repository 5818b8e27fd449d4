"""Before/after columns of the incident record, for people comparing the two instances."""

from __future__ import annotations

from collections.abc import Sequence

from aliyun_ops import models


def summarize(
    instance: models.Instance,
    prices: Sequence[models.SpotPrice],
    eip: models.Eip | None = None,
    candidate: models.Candidate | None = None,
) -> models.InstanceSummary:
    price = next(
        (p for p in prices if p.instance_type == instance.instance_type and p.zone_id == instance.zone_id), None
    )
    spot = candidate.spot_price if candidate and candidate.spot_price is not None else None
    origin = candidate.origin_price if candidate and candidate.origin_price is not None else None
    public = eip.ip_address if eip else (instance.public_ips[0] if instance.public_ips else None)
    return models.InstanceSummary(
        instance_id=instance.instance_id,
        instance_type=instance.instance_type,
        zone_id=instance.zone_id,
        name=instance.name,
        cpu=instance.cpu,
        memory_gib=instance.memory_gib,
        spot_price=spot if spot is not None else (price.spot_price if price else None),
        origin_price=origin if origin is not None else (price.origin_price if price else None),
        public_ip=public,
        private_ip=instance.private_ips[0] if instance.private_ips else None,
        status=instance.status,
    )
