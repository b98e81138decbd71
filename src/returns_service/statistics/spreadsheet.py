"""The statistics as CSV: a header, the totals row, then one row per group."""

from __future__ import annotations

import csv
import io

from returns_service.statistics.schemas import Group, Statistics

_GROUP_COLUMNS = (
    "orders",
    "orders_with_returns",
    "return_rate",
    "units_sold",
    "units_returned",
    "returns",
)


# A cell a spreadsheet would run as a formula (CSV injection): skus, categories and regions
# are whatever storefronts sent.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    return "" if value is None else value


def _text(value: str | None) -> str:
    """A key as text that opens as text: a leading formula character is quoted."""
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def statistics_csv(answer: Statistics, group_by: str | None) -> str:
    """Columns every row has (the group figures), then what only the totals have: states,
    disputes, refunds per currency, durations, reasons, automatic actions, repurchase impact.
    Empty cells are figures that are null or that the row does not have."""
    statuses = list(answer.by_status)
    currencies = [refund.currency for refund in answer.refunds]
    reasons = [reason.reason for reason in answer.reasons]
    header = [
        "row",
        "group_by",
        "key",
        *_GROUP_COLUMNS,
        *(f"status_{status}" for status in statuses),
        "disputes",
        "dispute_rate",
        *(f"refunds_{c}_count" for c in currencies),
        *(f"refunds_{c}_amount" for c in currencies),
        "processing_count",
        "processing_median_seconds",
        "processing_p90_seconds",
        "first_response_count",
        "first_response_median_seconds",
        "first_response_p90_seconds",
        "first_response_within_2h_share",
        *(f"reason_{reason}_count" for reason in reasons),
        *(f"reason_{reason}_share" for reason in reasons),
        "automatic_actions",
        "repurchase_impact",
        "from",
        "to",
        "shop_id",
    ]
    totals_only = [
        *(answer.by_status[status] for status in statuses),
        answer.disputes,
        answer.dispute_rate,
        *(refund.count for refund in answer.refunds),
        *(refund.amount for refund in answer.refunds),
        answer.processing_time.count,
        answer.processing_time.median_seconds,
        answer.processing_time.p90_seconds,
        answer.first_response.count,
        answer.first_response.median_seconds,
        answer.first_response.p90_seconds,
        answer.first_response.within_2h_share,
        *(reason.count for reason in answer.reasons),
        *(reason.share for reason in answer.reasons),
        answer.automatic_actions,
        answer.repurchase_impact,
        answer.from_.isoformat(),
        answer.to.isoformat(),
        answer.shop_id,
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerow(
        [
            "total",
            "",
            "",
            *(_cell(getattr(answer, column)) for column in _GROUP_COLUMNS),
            *(_cell(value) for value in totals_only),
        ]
    )
    for group in answer.groups:
        writer.writerow(_group_row(group, group_by, len(totals_only)))
    return buffer.getvalue()


def _group_row(group: Group, group_by: str | None, blanks: int) -> list[object]:
    return [
        "group",
        group_by or "",
        _text(group.key),
        *(_cell(getattr(group, column)) for column in _GROUP_COLUMNS),
        *([""] * blanks),
    ]
