"""Deals and everything that happens to them: stage history, reassignments, activities, tasks.

Deals are generated one at a time in creation order and written at once, so memory does not
grow with the account. Each deal is simulated on the work-second time line of
:mod:`ropilot.generator.clock`: a path through its pipeline (forward moves, skipped stages,
back moves, a loss later reopened), times spread over a cycle whose length depends on the
responsible manager's speed, then cut at the account's end, so that old deals are mostly
closed and recent ones mostly open.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from ropilot.generator import data
from ropilot.generator.clients import COMPANY_ID_BASE, CONTACT_ID_BASE, ClientIndex, pick_recent
from ropilot.generator.clock import WORKDAY, Clock
from ropilot.generator.people import NEVER, ManagerProfile, Staff
from ropilot.generator.pipelines import PipelineSpec
from ropilot.generator.writer import BundleWriter

DEAL_ID_BASE = 20_000_000
ACTIVITY_ID_BASE = 100_000_000
TASK_ID_BASE = 200_000_000
PROGRESS_CHUNK = 1000

SEASON = (0.62, 0.88, 1.05, 1.0, 0.84, 0.9, 0.8, 0.82, 1.05, 1.1, 1.12, 1.32)
"""Relative deal inflow per calendar month (January … December) on a working day."""
WEEKEND_SHARE = 0.04
"""Inflow on a day off relative to a working day of the same month."""


def _table(weights: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(i for i, w in enumerate(weights) for _ in range(w))


_PRODUCTS = _table(tuple(p[1] for p in data.PRODUCTS))
_SOURCES = _table(tuple(s[1] for s in data.SOURCES))
_REASONS = _table(tuple(r[1] for r in data.LOSS_REASONS))
_REGIONS = _table(tuple(r[2] for r in data.REGIONS))
_CALL_RESULTS = ("answered",) * 58 + ("no_answer",) * 30 + ("busy",) * 12
# Random activity types: call, email, note, presale, meeting.
_RANDOM_TYPES = (
    ("call",) * 62 + ("email",) * 18 + ("note",) * 12 + ("presale",) * 4 + ("meeting",) * 4
)
_LOSS_AT = (0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 5)  # open stage a lost deal leaves from


def day_weights(rng: random.Random, clock: Clock, period_start: int) -> list[float]:
    """Relative deal inflow per calendar day of the period (seasonality, growth, noise).

    Args:
        rng: the generator's random source.
        clock: the account's clock.
        period_start: calendar day index of the first day of the period.

    Returns:
        One weight per calendar day from ``period_start`` to the end day, both included.
    """
    n = clock.end_index - period_start + 1
    out: list[float] = []
    for k in range(n):
        d = period_start + k
        month = clock.day_month[d] % 12
        trend = 0.85 + 0.3 * k / max(1, n - 1)
        weight = SEASON[month] * trend * (0.8 + 0.4 * rng.random())
        if not clock.is_working(d):
            weight *= WEEKEND_SHARE
        out.append(weight)
    return out


def _amount(rnd: Callable[[], float], lognorm: float, median: float) -> tuple[str, str]:
    """Amount and currency cells for a deal whose typical amount is ``median``."""
    r = rnd()
    if r < 0.03:
        return "", ""
    if r < 0.04:
        return "0", "RUB"
    value = median * lognorm
    if r < 0.055:
        usd = max(10, int(value / 90 / 10) * 10)
        return f"{usd}.00", "USD"
    rub = int(value / 1000) * 1000 if value >= 20000 else max(1000, int(value / 100) * 100)
    currency = "RUB" if r < 0.9 else ""
    # Whole roubles: amoCRM keeps a lead's budget as an integer, and the sandbox must give
    # back exactly what the bundle says. Kopecks are covered by the hand-written bundles.
    if rnd() < 0.1:
        return f"{rub - 10}.00", currency
    return f"{rub}.00", currency


def generate_deals(
    rng: random.Random,
    out: BundleWriter,
    clock: Clock,
    staff: Staff,
    pipelines: list[PipelineSpec],
    clients: ClientIndex,
    *,
    period_start: int,
    day_counts: list[int],
    progress: Callable[[int], None] | None = None,
) -> None:
    """Generate and write deals, stage changes, assignments, activities and tasks.

    Args:
        rng: the generator's random source.
        out: the open bundle.
        clock: the account's clock.
        staff: picks responsible managers.
        pipelines: the account's pipelines.
        clients: lookup arrays of the companies and contacts already written.
        period_start: calendar day index of the first day of the deal period.
        day_counts: deals created per calendar day from ``period_start`` on.
        progress: called with the number of deals just finished, every
            :data:`PROGRESS_CHUNK` deals and once at the end.
    """
    rnd = rng.random
    expo = rng.expovariate
    lognorm = rng.lognormvariate
    wd_str = clock.wd_str
    tod = clock.tod
    day_str = clock.day_str
    next_wd = clock.next_wd
    w_end = clock.w_end
    last_day_index = clock.n_days - 1
    head = staff.managers[0]
    pick = staff.pick
    other = staff.other

    deal_w = out["deals"].raw
    change_w = out["stage_changes"].raw
    assign_w = out["assignments"].raw
    act_w = out["activities"].raw
    task_w = out["tasks"].raw
    n_deals = n_changes = n_assign = n_acts = n_tasks = 0

    pipe_table = _table(tuple(p.weight for p in pipelines))
    contact_company = clients.contact_company
    contact_cum = clients.contact_cum
    company_cum = clients.company_cum
    company_region = clients.company_region
    company_segment = clients.company_segment
    region_names = tuple(r[0] for r in data.REGIONS)
    segment_mult = tuple(s[2] for s in data.SEGMENTS)
    sources = data.SOURCES
    products = data.PRODUCTS
    reasons = data.LOSS_REASONS
    task_kinds = data.TASK_KINDS

    pending = 0
    for k, count in enumerate(day_counts):
        if not count:
            continue
        d = period_start + k
        working = clock.is_working(d)
        wi = next_wd[d] if working else next_wd[d + 1] - 1
        if working:
            seconds = sorted(int(rnd() * WORKDAY) for _ in range(count))
        else:
            seconds = sorted(3600 + int(rnd() * (WORKDAY - 7200)) for _ in range(count))
        first_w = next_wd[d] * WORKDAY
        for second in seconds:
            deal_id = str(DEAL_ID_BASE + n_deals)
            n_deals += 1
            if working:
                start_w = first_w + second
                created = wd_str[wi] + tod[second]
            else:
                start_w = first_w
                created = day_str[d] + tod[second]
            m = pick(rng, start_w)
            if m is None:  # pragma: no cover - the head is employed before the period
                m = head
            spec = pipelines[pipe_table[int(rnd() * len(pipe_table))]]
            stage_ids = spec.stage_ids
            n_open = len(stage_ids) - 2

            # Client: a contact (recent ones favoured), its company, or a company alone.
            contact = pick_recent(rng, contact_cum, wi + 1) if rnd() < 0.92 else -1
            company = contact_company[contact] if contact >= 0 else -1
            if company < 0 and rnd() < 0.3:
                company = pick_recent(rng, company_cum, wi + 1)
            if company >= 0:
                region = company_region[company]
                seg_mult = segment_mult[company_segment[company]]
            else:
                region = _REGIONS[int(rnd() * len(_REGIONS))]
                seg_mult = 1.0
            contact_id = str(CONTACT_ID_BASE + contact) if contact >= 0 else ""
            company_id = str(COMPANY_ID_BASE + company) if company >= 0 else ""

            product, _, median = products[_PRODUCTS[int(rnd() * len(_PRODUCTS))]]
            source, _, campaigns = sources[_SOURCES[int(rnd() * len(_SOURCES))]]
            utm = campaigns[int(rnd() * len(campaigns))] if campaigns else ""
            amount, currency = _amount(
                rnd, lognorm(0.0, 0.5), median * seg_mult * spec.amount_factor
            )

            # Path through the pipeline (indices into stage_ids; n_open = won, +1 = lost).
            start = 1 if rnd() < 0.1 and spec.id != "7003" else 0
            p_win = m.win_rate * (1.5 if spec.id == "7002" else 0.75 if spec.id == "7003" else 1)
            won = rnd() < p_win
            if won:
                target = n_open - 1 if rnd() < 0.88 else n_open - 2
            else:
                target = max(start, _LOSS_AT[int(rnd() * len(_LOSS_AT))])
            path = [start]
            cur = start
            backs = 0
            while cur < target:
                r = rnd()
                if r < 0.07 and cur > start and backs < 2:
                    cur -= 1
                    backs += 1
                elif r < 0.22 and cur + 2 <= target:
                    cur += 2
                else:
                    cur += 1
                path.append(cur)
            path.append(n_open if won else n_open + 1)
            if not won and rnd() < 0.05:  # lost, then reopened
                cur = max(start, cur - int(rnd() * 2))
                path.append(cur)
                won2 = rnd() < min(0.9, p_win * 1.4)
                target = n_open - 1 if won2 else min(n_open - 1, cur + int(rnd() * 2))
                while cur < target:
                    cur += 1
                    path.append(cur)
                path.append(n_open if won2 else n_open + 1)
            stalled = rnd() < 0.04
            if stalled:  # stuck in an open stage for good
                path = path[: 1 + int(rnd() * (len(path) - 1))]
                while path[-1] >= n_open:
                    path.pop()

            # Move times: spread over the cycle, strictly increasing, cut at the end.
            span = spec.cycle_days * m.speed * lognorm(0.0, 0.7)
            if not won and target < 2:
                span *= 0.5
            span_w = int(span * WORKDAY) + 3600
            n_moves = len(path) - 1
            offsets = sorted(int(rnd() * span_w) for _ in range(n_moves))
            times = [start_w]
            prev = start_w
            for off in offsets:
                t = start_w + 600 + off
                if t <= prev:
                    t = prev + 60
                if t > w_end:
                    break
                times.append(t)
                prev = t
            kept = len(times)
            final = path[kept - 1]
            closed = final >= n_open
            last_move = times[-1]
            # A deal created on a day off after the last working day has deal_end < start_w:
            # nothing more happens to it.
            deal_end = last_move if closed else w_end

            # Responsible manager over time: a random handover, and handovers when one leaves.
            owners: list[tuple[int, ManagerProfile]] = [(start_w, m)]
            cur_m = m
            cur_t = start_w
            planned = start_w + int(rnd() * (deal_end - start_w)) if rnd() < 0.06 else NEVER
            while True:
                nxt = cur_m.fired_w if cur_m.fired_w < planned else planned
                if nxt > deal_end:
                    break
                t = nxt if nxt > cur_t + 60 else cur_t + 60
                if t > deal_end:
                    break
                if planned <= cur_m.fired_w:
                    planned = NEVER
                new = other(rng, t, cur_m)
                if new is cur_m:
                    break
                assign_w((deal_id, cur_m.id, new.id, wd_str[t // WORKDAY] + tod[t % WORKDAY]))
                n_assign += 1
                owners.append((t, new))
                cur_m = new
                cur_t = t
            multi = len(owners) > 1

            # Stage changes.
            change_w((deal_id, "", stage_ids[start], created, m.id))
            for i in range(1, kept):
                t = times[i]
                who = m
                if multi:
                    for ot, om in owners:
                        if ot <= t:
                            who = om
                if rnd() < 0.03:
                    who = head
                change_w(
                    (
                        deal_id,
                        stage_ids[path[i - 1]],
                        stage_ids[path[i]],
                        wd_str[t // WORKDAY] + tod[t % WORKDAY],
                        who.id,
                    )
                )
            n_changes += kept

            # Activities: first contact, meetings and offers tied to stages, then routine work.
            acts: list[tuple[int, str]] = []
            level = m.activity
            t = start_w + int(expo(1.0 / (5400 * m.speed / level)))
            if t <= deal_end:
                acts.append((t, "call"))
            for i in range(1, kept):
                stage = path[i]
                if stage == spec.meeting_stage:
                    t = times[i] + WORKDAY // 2 + int(rnd() * 2 * WORKDAY)
                    if t <= deal_end:
                        acts.append((t, "meeting"))
                elif stage == spec.offer_stage:
                    t = times[i] + int(rnd() * 1800)
                    if t <= deal_end:
                        acts.append((t, "offer"))
            act_end = deal_end
            if stalled and not closed:
                act_end = min(w_end, last_move + int(rnd() * 10 * WORKDAY))
            life = (act_end - start_w) / WORKDAY
            if life > 0:
                n_random = int(level * (0.6 + min(life, 60.0) * 0.06) * 2 * rnd())
                width = act_end - start_w
                for _ in range(n_random):
                    acts.append((start_w + int(rnd() * width), _RANDOM_TYPES[int(rnd() * 100)]))
            acts.sort()
            updated = last_move if kept > 1 else -1
            for t, kind in acts:
                who = m
                if multi:
                    for ot, om in owners:
                        if ot <= t:
                            who = om
                direction = duration = result = ""
                if kind == "call":
                    direction = "out" if rnd() < 0.8 else "in"
                    result = _CALL_RESULTS[int(rnd() * 100)]
                    duration = str(15 + int(expo(1 / 200.0))) if result == "answered" else "0"
                elif kind == "meeting":
                    duration = str(1800 + 900 * int(rnd() * 5))
                    result = "held" if rnd() < 0.9 else "cancelled"
                elif kind == "email":
                    direction = "out" if rnd() < 0.7 else "in"
                elif kind == "offer":
                    result = "sent"
                elif kind == "presale":
                    duration = str(3600)
                    result = "demo"
                act_w(
                    (
                        str(ACTIVITY_ID_BASE + n_acts),
                        kind,
                        who.id,
                        wd_str[t // WORKDAY] + tod[t % WORKDAY],
                        deal_id,
                        contact_id,
                        company_id,
                        direction,
                        duration,
                        result,
                    )
                )
                n_acts += 1
            if acts and acts[-1][0] > updated:
                updated = acts[-1][0]

            # Tasks: completed next steps, then the open next step of an open deal.
            discipline = cur_m.discipline
            for i in range(1, kept):
                if rnd() < discipline * 0.3:
                    created_t = times[i - 1] + int(rnd() * 1800)
                    due = created_t + WORKDAY * (1 + int(rnd() * 3))
                    done = created_t + int(rnd() * (due - created_t) * 1.4) + 60
                    if done > w_end:
                        continue
                    kind, text = task_kinds[int(rnd() * len(task_kinds))]
                    who = m
                    if multi:
                        for ot, om in owners:
                            if ot <= created_t:
                                who = om
                    task_w(
                        (
                            str(TASK_ID_BASE + n_tasks),
                            who.id,
                            wd_str[created_t // WORKDAY] + tod[created_t % WORKDAY],
                            wd_str[due // WORKDAY] + tod[due % WORKDAY],
                            wd_str[done // WORKDAY] + tod[done % WORKDAY],
                            deal_id,
                            contact_id,
                            company_id,
                            kind,
                            text,
                        )
                    )
                    n_tasks += 1
                    if done > updated:
                        updated = done
            open_task = (not closed and rnd() < discipline) or (closed and rnd() < 0.015)
            if open_task and start_w <= w_end:
                created_t = max(updated, cur_t)
                due = created_t + int((0.3 + expo(1 / 4.0)) * WORKDAY)
                kind, text = task_kinds[int(rnd() * len(task_kinds))]
                task_w(
                    (
                        str(TASK_ID_BASE + n_tasks),
                        cur_m.id,
                        wd_str[created_t // WORKDAY] + tod[created_t % WORKDAY],
                        wd_str[due // WORKDAY] + tod[due % WORKDAY],
                        "",
                        deal_id,
                        contact_id,
                        company_id,
                        kind,
                        text,
                    )
                )
                n_tasks += 1
                if created_t > updated:
                    updated = created_t
            if multi and cur_t > updated:
                updated = cur_t

            # The deal itself.
            loss_reason = ""
            if closed and final == n_open + 1 and rnd() < 0.95:
                loss_reason = reasons[_REASONS[int(rnd() * len(_REASONS))]][0]
            expected = ""
            if rnd() < 0.88:
                day = d + int(spec.cycle_days * 1.4 * lognorm(0.0, 0.5)) + 1
                expected = day_str[day if day < last_day_index else last_day_index]
            deal_w(
                (
                    deal_id,
                    f"Сделка #{deal_id}" if rnd() < 0.6 else f"{product}: {source}",
                    spec.id,
                    stage_ids[final],
                    cur_m.id,
                    amount,
                    currency,
                    contact_id,
                    company_id,
                    source,
                    product,
                    region_names[region],
                    created,
                    wd_str[updated // WORKDAY] + tod[updated % WORKDAY]
                    if updated >= 0
                    else created,
                    wd_str[last_move // WORKDAY] + tod[last_move % WORKDAY] if closed else "",
                    loss_reason,
                    expected,
                    utm,
                )
            )
            pending += 1
            if pending == PROGRESS_CHUNK:
                if progress is not None:
                    progress(pending)
                pending = 0
    if pending and progress is not None:
        progress(pending)

    out["deals"].rows += n_deals
    out["stage_changes"].rows += n_changes
    out["assignments"].rows += n_assign
    out["activities"].rows += n_acts
    out["tasks"].rows += n_tasks
