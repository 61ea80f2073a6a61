"""``land_parcel``: land parcels and their supply, owned by natural resources & planning."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from schemas.base import (
    DecimalNumber,
    IsoDate,
    Money,
    ProjectCode,
    RecordSchema,
    RecordType,
    one_of,
    sharing,
)

LAND_USES = ("industrial", "commercial", "residential", "public", "infrastructure", "mixed")
SUPPLY_METHODS = ("transfer", "allocation", "lease")
SUPPLY_STATUSES = ("planned", "acquiring", "ready", "supplied")


class LandParcelSchema(RecordSchema):
    """A parcel of land serving a project."""

    parcel_id = fields.String(required=True)
    project_code = ProjectCode(required=True)
    area_mu = DecimalNumber(
        required=True,
        places=4,
        below=Decimal(10) ** 8,
        positive=True,
        metadata={"description": "Area in mu (1 mu = 666.67 m²), above 0."},
    )
    land_use = fields.String(required=True, validate=one_of(LAND_USES))
    supply_method = fields.String(required=True, validate=one_of(SUPPLY_METHODS))
    supply_status = fields.String(required=True, validate=one_of(SUPPLY_STATUSES))
    supplied_on = IsoDate(allow_none=True)
    transfer_price = Money(
        allow_none=True,
        metadata={**sharing("conditional"), "description": "Units of 10,000 CNY."},
    )
    rights_holder = fields.String(
        allow_none=True, validate=validate.Length(1, 200), metadata=sharing("restricted")
    )

    @ma.validates_schema
    def _supplied_needs_date(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("supply_status") == "supplied" and not data.get("supplied_on"):
            raise ma.ValidationError("Required once supply_status is supplied.", "supplied_on")


RECORD_TYPE = RecordType(
    name="land_parcel",
    key_field="parcel_id",
    schema=LandParcelSchema,
    description="Land parcel, its use and supply status.",
)
