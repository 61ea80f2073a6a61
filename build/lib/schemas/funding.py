"""``funding``: funding sources, allocations and disbursements, owned by finance."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from schemas.base import Money, ProjectCode, RecordSchema, RecordType, one_of, sharing

SOURCES = (
    "central_budget",
    "special_bond",
    "local_budget",
    "bank_loan",
    "private_capital",
    "other",
)


class FundingSchema(RecordSchema):
    """One funding line of a project for one fiscal year."""

    funding_id = fields.String(required=True)
    project_code = ProjectCode(required=True)
    source = fields.String(required=True, validate=one_of(SOURCES))
    fiscal_year = fields.Integer(required=True, strict=True, validate=validate.Range(2000, 2100))
    allocated = Money(required=True, metadata={"description": "Units of 10,000 CNY."})
    disbursed = Money(allow_none=True, metadata={"description": "Units of 10,000 CNY."})
    approval_doc = fields.String(allow_none=True, validate=validate.Length(1, 200))
    bank_account = fields.String(
        allow_none=True, validate=validate.Length(1, 64), metadata=sharing("restricted")
    )

    @ma.validates_schema
    def _disbursed_within_allocation(self, data: dict[str, Any], **kwargs: Any) -> None:
        disbursed, allocated = data.get("disbursed"), data.get("allocated")
        if disbursed is not None and allocated is not None and disbursed > allocated:
            raise ma.ValidationError("Must not exceed allocated.", "disbursed")


RECORD_TYPE = RecordType(
    name="funding",
    key_field="funding_id",
    schema=FundingSchema,
    description="Funding source, allocation and disbursement for one fiscal year.",
)
