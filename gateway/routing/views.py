"""`POST /api/v1/routing/explain`: which unit a draft ticket would go to, by which rule, and why
the cheat sheet's earlier rules did not match. For support staff and admins."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.deps import Config, CurrentCaller
from gateway.auth.models import Role
from gateway.config.models import RoutingRule
from gateway.errors import Forbidden
from gateway.routing.models import DraftTicket, Explanation, RuleView, SkippedRule
from gateway.routing.service import decide

router = APIRouter(prefix="/api/v1/routing", tags=["routing"])


def _rule(index: int, rule: RoutingRule) -> RuleView:
    criteria = rule.criteria()
    return RuleView(index=index, support_unit=rule.support_unit, note=rule.note, **criteria)


@router.post(
    "/explain",
    response_model=Explanation,
    responses={403: {"description": "Needs a unit's or an admin's key"}},
)
async def explain(draft: DraftTicket, caller: CurrentCaller, config: Config) -> Explanation:
    """Route the draft as a new ticket would be routed, without creating anything."""
    if caller.role == Role.SUBMITTER:
        raise Forbidden("routing is explained to support units' staff and admins")
    decision = decide(draft, config.routing)
    return Explanation(
        support_unit=decision.unit,
        by=decision.by,
        reason=decision.reason,
        rule=(
            _rule(decision.rule_index, decision.rule)
            if decision.rule is not None and decision.rule_index is not None
            else None
        ),
        site=decision.site,
        alarm_notifies=decision.alarm_email,
        skipped=[SkippedRule(rule=_rule(s.index, s.rule), why=s.why) for s in decision.skipped],
    )
