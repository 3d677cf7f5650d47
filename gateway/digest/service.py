"""The weekly digest job: compose last week's digest for each unit (and, for each second-line
unit, one over the third line), keep it, and mail it to the unit.

Composing is once per (unit, scope, week): the unique key decides between processes. Mailing is
retried on later runs until it succeeds (at most `MAX_ATTEMPTS`), with the error kept on the row.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapter.errors import AdapterError
from gateway.adapter.mail import MailAdapter
from gateway.digest import render
from gateway.digest.facts import THIRD_LINE, UNIT, collect
from gateway.digest.tables import DigestChartRow, DigestRow
from gateway.scheduler.job import JobContext
from gateway.support_unit.tables import SupportUnitRow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10


def last_week(now: datetime, ctx: JobContext) -> date:
    """The Monday of the last complete week, in the working-time zone."""
    today = now.astimezone(ctx.working_time.zone).date()
    return today - timedelta(days=today.weekday() + 7)


def chart_url(digest_id: int, name: str) -> str:
    return f"/api/v1/digests/{digest_id}/charts/{name}.png"


async def weekly_digests(ctx: JobContext) -> str:
    week = last_week(ctx.now, ctx)
    made = 0
    async with ctx.sessionmaker() as session:
        units = list(await session.scalars(select(SupportUnitRow).order_by(SupportUnitRow.name)))
    for unit in units:
        scopes = [UNIT, THIRD_LINE] if unit.level == "second" else [UNIT]
        for scope in scopes:
            made += await compose(ctx, unit, scope, week)
    mailed, failed = await mail_pending(ctx)
    return f"{made} composed for the week of {week}, {mailed} mailed, {failed} not mailed"


async def compose(ctx: JobContext, unit: SupportUnitRow, scope: str, week: date) -> int:
    """1 when this process composed the digest, 0 when it exists already."""
    async with ctx.sessionmaker() as session:
        exists = await session.scalar(
            select(DigestRow.id).where(
                DigestRow.support_unit == unit.name,
                DigestRow.scope == scope,
                DigestRow.week_start == week,
            )
        )
        if exists is not None:
            return 0
        facts = await collect(
            session, unit=unit, scope=scope, week_start=week, zone=ctx.working_time.zone
        )
        pictures = await asyncio.to_thread(render.charts, facts)
        row = DigestRow(
            support_unit=unit.name,
            scope=scope,
            week_start=week,
            summary=facts.summary(),
            markdown="",
            html="",
            recipients=[unit.email] if unit.email else [],
            attempts=0,
            created_at=ctx.now,
        )
        session.add(row)
        try:
            await session.flush()
        except IntegrityError:  # another gateway process composed it meanwhile
            await session.rollback()
            return 0
        urls = {name: chart_url(row.id, name) for name in pictures}
        row.markdown, row.html = render.documents(facts, urls)
        session.add_all(
            DigestChartRow(digest_id=row.id, name=n, png=p) for n, p in pictures.items()
        )
        await session.commit()
    return 1


async def mail_pending(ctx: JobContext) -> tuple[int, int]:
    """Mail the digests not yet mailed; (mailed, failed)."""
    channel = _mail_channel(ctx)
    if channel is None:
        return 0, 0
    mailed = failed = 0
    async with ctx.sessionmaker() as session:
        pending = list(
            await session.scalars(
                select(DigestRow.id)
                .where(DigestRow.mailed_at.is_(None), DigestRow.attempts < MAX_ATTEMPTS)
                .order_by(DigestRow.id)
            )
        )
    for digest_id in pending:
        async with ctx.sessionmaker() as session:
            row = await session.get(DigestRow, digest_id, with_for_update=True)
            if row is None or row.mailed_at is not None or not row.recipients:
                continue
            charts = list(
                await session.scalars(
                    select(DigestChartRow).where(DigestChartRow.digest_id == row.id)
                )
            )
            row.attempts += 1
            try:
                await channel.send_message(message(row, charts, channel.mail_settings.domain))
            except AdapterError as exc:
                row.last_error = str(exc)[:2000]
                failed += 1
            else:
                row.mailed_at = ctx.now
                row.last_error = None
                mailed += 1
            await session.commit()
    return mailed, failed


def message(row: DigestRow, charts: list[DigestChartRow], domain: str) -> EmailMessage:
    """Markdown as the plain text, HTML with the charts as inline pictures."""
    mail = EmailMessage()
    mail["To"] = ", ".join(row.recipients)
    mail["Subject"] = row.markdown.splitlines()[0].lstrip("# ").strip()
    mail["Message-ID"] = make_msgid(f"digest-{row.id}", domain=domain)
    mail.set_content(row.markdown)
    html = row.html
    ids = {}
    for chart in charts:
        ids[chart.name] = make_msgid(f"chart-{row.id}-{chart.name}", domain=domain)
        html = html.replace(chart_url(row.id, chart.name), "cid:" + ids[chart.name][1:-1])
    mail.add_alternative(html, subtype="html")
    related = mail.get_payload()[1]  # type: ignore[index]
    assert isinstance(related, EmailMessage)
    for chart in charts:
        related.add_related(
            chart.png, "image", "png", cid=ids[chart.name], filename=f"{chart.name}.png"
        )
    return mail


def _mail_channel(ctx: JobContext) -> MailAdapter | None:
    channel = ctx.sync.connections.submitter_channel()
    if channel is not None and isinstance(channel.adapter, MailAdapter):
        return channel.adapter
    return None


async def digests(session: AsyncSession, *, unit: str | None, limit: int = 50) -> list[DigestRow]:
    query = select(DigestRow).order_by(DigestRow.week_start.desc(), DigestRow.id.desc())
    if unit is not None:
        query = query.where(DigestRow.support_unit == unit)
    return list(await session.scalars(query.limit(limit)))
