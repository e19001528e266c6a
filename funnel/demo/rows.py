"""Demo leads as table rows: plain dicts with their own ids, ready for a bulk insert."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import accumulate

from funnel.capture.scoring import FILLABLE, Facts, Rule, score_facts
from funnel.customers.numbering import serial_customer_no
from funnel.demo.catalog import (
    ACTIVITIES,
    CAMPAIGNS,
    CHANNELS,
    COMPETITORS,
    CONCERNS,
    INDUSTRIES,
    INTAKE,
    LOST_REASON_CODES,
    LOST_REASON_FOR_OBJECTION,
    LOST_REASONS,
    PURCHASE_TIMELINES,
    REGIONS,
    TAGS,
)
from funnel.demo.deals import RaisedObjection, add_deal, add_objections, budget_range, deal_amount
from funnel.demo.journey import BEIJING, WORK_START, Journey, phase, simulate_journey, working_time
from funnel.demo.people import People, Person, Pools
from funnel.pipeline.rules import first_contact, funnel_state
from funnel.pipeline.stages import LOST, WON, Pipeline

# Parents before children, so foreign keys hold at every insert.
TABLES = (
    "user", "customer", "customer_tag", "contact", "stage_event", "opportunity", "contract", "payment",
    "objection", "activity", "task", "payment_instalment",
)  # fmt: skip
HISTORY_DAYS = 182
ENGLISH_SHARE = 0.25
# Beijing hour of day a lead arrives: office hours mostly, some evenings, a few at night.
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 1, 2, 4, 10, 10, 10, 6, 6, 10, 10, 10, 9, 5, 5, 5, 4, 2, 1)
HOURS = tuple(range(24))
# Cumulative weights, summed once: random.choices draws the same values from them as from the weights.
HOUR_CUM = tuple(accumulate(HOUR_WEIGHTS))
CHANNEL_CUM = tuple(accumulate(c.weight for c in CHANNELS))
INDUSTRY_CUM = tuple(accumulate(i.weight for i in INDUSTRIES))
Row = dict[str, object]


@dataclass(frozen=True)
class Rep:
    id: int
    region: str | None
    industry: str | None
    skill: float  # multiplier on the win odds of the rep's leads, so reps compare differently
    team: str | None = None


_CUMULATIVE: dict[tuple[tuple[str, int], ...], tuple[list[str], list[int]]] = {}


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    values_cum = _CUMULATIVE.get(pairs)
    if values_cum is None:
        values_cum = _CUMULATIVE[pairs] = ([v for v, _ in pairs], list(accumulate(w for _, w in pairs)))
    return rng.choices(values_cum[0], cum_weights=values_cum[1])[0]


def _between(rng: random.Random, start: datetime, end: datetime, low: float, high: float) -> datetime:
    """A time between `start` and `end`, in whole seconds."""
    return (start + (end - start) * rng.uniform(low, high)).replace(microsecond=0)


class DemoRows:
    """Rows of every demo table, built lead by lead from one seeded generator and Faker's pools.

    The caller takes the rows a batch of leads made with `take()` and inserts them, so memory holds one
    batch, not the whole demo; the rows do not depend on where the batches are cut.
    """

    def __init__(
        self,
        *,
        rng: random.Random,
        pools: Pools,
        pipeline: Pipeline,
        now: datetime,
        next_ids: dict[str, int],
        taken_numbers: set[str],
        taken_handles: set[str],
        tag_ids: dict[str, int] | None = None,
        score_rules: Sequence[Rule] = (),
    ) -> None:
        self.rng, self.now = rng, now
        self.people = People(rng=rng, pools=pools, taken_handles=taken_handles)
        # Tag codes -> list item ids and the scoring rules: the demo links tags and scores each lead as
        # it draws it (the facts are at hand) rather than reading every customer back afterwards.
        self.tag_ids = tag_ids or {}
        self.score_rules = list(score_rules)
        self.reps: list[Rep] = []
        self.pipeline, self.keys = pipeline, pipeline.keys
        self.position = {key: i for i, key in enumerate(self.keys)} | {WON: len(self.keys) - 1}
        # Grading and opportunities start mid-pipeline, quotes and objections in the last two stages,
        # counted by position so that a renamed or longer pipeline still works.
        self.qualified_from = len(self.keys) // 2
        self.proposal_from = max(len(self.keys) - 2, self.qualified_from)
        self.next_ids = dict(next_ids)
        self.taken_numbers = taken_numbers
        self.rows: dict[str, list[Row]] = {table: [] for table in TABLES}
        self.counts: dict[str, int] = dict.fromkeys(TABLES, 0)
        start = now.date() - timedelta(days=HISTORY_DAYS)
        self.days = [start + timedelta(days=d) for d in range(HISTORY_DAYS)]
        # More leads lately (marketing ramps up) and few at weekends.
        self.day_cum = list(
            accumulate(
                (1 + 0.6 * d / HISTORY_DAYS) * (0.35 if day.weekday() >= 5 else 1.0)
                for d, day in enumerate(self.days)
            )
        )
        self.region_names = list(REGIONS)
        self.region_cum = list(accumulate(REGIONS[r][0] for r in self.region_names))
        self._local_reps: dict[str, list[Rep]] = {}
        self.day_serials: dict[date, int] = {}

    def take(self) -> dict[str, list[Row]]:
        """The rows drawn since the last take, by table; the next leads start new lists."""
        taken = self.rows
        for table, table_rows in taken.items():
            self.counts[table] += len(table_rows)
        self.rows = {table: [] for table in TABLES}
        return taken

    def add(self, table: str, **fields: object) -> int:
        """Append one row with a fresh id; every row of a table must name the same columns."""
        row_id = self.next_ids[table]
        self.next_ids[table] = row_id + 1
        self.rows[table].append({"id": row_id, **fields})
        return row_id

    def add_lead(self) -> None:
        """Draw one lead and append its customer, contacts, history, deal and follow-up rows."""
        rng = self.rng
        english = rng.random() < ENGLISH_SHARE
        channel = rng.choices(CHANNELS, cum_weights=CHANNEL_CUM)[0]
        region = rng.choices(self.region_names, cum_weights=self.region_cum)[0]
        industry = rng.choices(INDUSTRIES, cum_weights=INDUSTRY_CUM)[0]
        owner = self._owner(region, industry.name)
        created = self._created_at()
        journey = simulate_journey(
            rng, keys=self.keys, created=created, now=self.now, lift=channel.lift * owner.skill
        )
        owner_id: int | None = owner.id
        if journey.status == "open" and journey.furthest == 0 and self.now - created < timedelta(days=7):
            owner_id = None if rng.random() < 0.3 else owner_id  # fresh leads the manager still has to route
        person = self.people.lead(english=english, region=region, industry=industry)
        qualified = journey.furthest >= self.qualified_from
        amount = deal_amount(rng, industry) if qualified else None
        score = self._score(journey, channel.lift)
        stage = WON if journey.status == WON else self.keys[journey.furthest]
        # The stored funnel state from the same rules as every other write path.
        state = funnel_state(self.pipeline, journey.events, status=journey.status, stage=stage)
        customer_id = self.add(
            "customer",
            customer_no=self._customer_no(created),
            external_id=None,
            name=person.name,
            company=person.company,
            industry=industry.name,
            region=region,
            channel=channel.name,
            campaign=self._campaign(channel.name),
            intake=self._intake(channel.name),
            tags=self._tags(channel.name, journey),
            owner_id=owner_id,
            team=owner.team,  # a fresh unowned lead is still in the intake of its region's team
            score=score,
            grade=("A" if score >= 72 else "B" if score >= 50 else "C") if qualified else None,
            stage=stage,
            status=journey.status,
            furthest_stage=state.furthest_stage,
            won_at=state.won_at,
            lost_at=state.lost_at,
            lost_reason=None,  # set below, once the objections that often explain it are drawn
            lost_note=None,
            budget_range=budget_range(amount) if amount else None,
            purchase_timeline=rng.choice(PURCHASE_TIMELINES) if qualified else None,
            use_case=rng.choice(industry.use_cases) if qualified else None,
            competitors=self._competitors() if qualified else None,
            created_at=created,
            first_contacted_at=first_contact(self.pipeline, journey.events),
            closed_at=state.closed_at,
            updated_at=journey.last_at,
            # Its latest stage event: every activity drawn below is logged before the move it leads to.
            last_active_at=max(at for _, at in journey.events),
            # funnel.store.deal_amounts: its opportunity, and its contract once add_deal draws one.
            opportunity_amount=Decimal(amount) if amount is not None else None,
            signed_amount=None,
            score_reasons=None,  # with the rule score, once contacts and tags are drawn
            version=1,
        )
        customer = self.rows["customer"][-1]
        boss_met = self._contacts(customer_id, person, english, journey)
        self._score_by_rules(customer, person, boss_met, self._link_tags(customer))
        self._stage_events(customer_id, journey, owner_id)
        if amount is not None:
            opened = self._reached_at(journey, self.qualified_from)
            assert opened is not None
            customer["signed_amount"] = add_deal(
                self.add,
                rng,
                customer_id=customer_id,
                company=person.company,
                amount=amount,
                opened=opened,
                quoted=self._reached_at(journey, self.proposal_from),
                won_at=journey.closed_at if journey.status == WON else None,
                today=self.now.date(),
            )
        objections = self._objections(customer_id, journey, owner_id)
        said = self._lost_reason(journey, objections) if journey.status == LOST else None
        if said is not None:
            customer["lost_reason"], customer["lost_note"] = LOST_REASON_CODES[said]
        self._activities(customer, journey, objections, said)
        if journey.status == "open" and journey.furthest >= 1 and owner_id and rng.random() < 0.7:
            self._task(customer_id, owner_id, person.company, journey)

    def _owner(self, region: str, industry: str) -> Rep:
        """Mostly a rep of the lead's region, preferring its industry specialist; sometimes anyone."""
        rng = self.rng
        local = self._local_reps.get(region)
        if local is None:
            local = self._local_reps[region] = [rep for rep in self.reps if rep.region == region]
        if not local or rng.random() < 0.1:
            return rng.choice(self.reps)
        specialists = [rep for rep in local if rep.industry == industry]
        return rng.choice(specialists if specialists and rng.random() < 0.6 else local)

    def _created_at(self) -> datetime:
        rng = self.rng
        day = rng.choices(self.days, cum_weights=self.day_cum)[0]
        hour = rng.choices(HOURS, cum_weights=HOUR_CUM)[0]
        local = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)))
        return local - BEIJING

    def _customer_no(self, created: datetime) -> str:
        """A number of the lead's day, distinct by construction; `taken_numbers` holds only stored ones."""
        day = created.date()
        while True:
            serial = self.day_serials.get(day, 0)
            self.day_serials[day] = serial + 1
            number = serial_customer_no(created, serial)
            if number not in self.taken_numbers:
                return number

    def _reached_at(self, journey: Journey, position: int) -> datetime | None:
        """When the lead first reached a stage at or beyond `position` (a skipped stage counts as passed)."""
        for key, at in journey.events:
            if key != LOST and self.position[key] >= position:
                return at
        return None

    def _score(self, journey: Journey, lift: float) -> int:
        progress = journey.furthest / max(len(self.keys) - 1, 1)
        # Scores predict outcomes loosely, as a real scoring model does: A leads win more, not always.
        outcome = {WON: 6, LOST: -4}.get(journey.status, 0)
        raw = 38 + 25 * progress + 6 * math.log2(lift) + outcome + self.rng.gauss(0, 12)
        return max(0, min(100, round(raw)))

    def _competitors(self) -> str | None:
        if self.rng.random() >= 0.4:
            return None
        return "、".join(self.rng.sample(COMPETITORS, k=self.rng.choice((1, 1, 2))))

    def _campaign(self, channel: str) -> str | None:
        campaign = CAMPAIGNS.get(channel)
        return campaign if campaign and self.rng.random() < 0.6 else None

    def _intake(self, channel: str) -> str:
        form, imported = INTAKE.get(channel, (0.0, 0.0))
        draw = self.rng.random()
        return "form" if draw < form else "import" if draw < form + imported else "rep"

    def _tags(self, channel: str, journey: Journey) -> str | None:
        """Library tags; a rep's "high intent" and "low budget" hint at the outcome, loosely."""
        rng = self.rng
        tags: list[str] = []
        if channel == "转介绍" and rng.random() < 0.5:
            tags.append("老客户推荐")
        if rng.random() < {WON: 0.3, LOST: 0.08}.get(journey.status, 0.12):
            tags.append("高意向")
        if rng.random() < {WON: 0.04, LOST: 0.15}.get(journey.status, 0.08):
            tags.append("预算偏低")
        if rng.random() < 0.1:
            tag = rng.choice(TAGS)
            if tag not in tags:
                tags.append(tag)
        return ", ".join(tags) or None

    def _link_tags(self, customer: Row) -> frozenset[str]:
        """customer_tag rows for the tag codes in the customer's tags text; returns the codes linked."""
        text = customer["tags"]
        if not text:
            return frozenset()
        codes = str(text).split(", ")
        customer_id, created = customer["id"], customer["created_at"]
        for code in codes:
            link = {"customer_id": customer_id, "tag_id": self.tag_ids[code], "created_at": created}
            self.rows["customer_tag"].append(link)
        return frozenset(codes)

    def _score_by_rules(
        self, customer: Row, person: Person, boss_met: tuple[bool, bool], tags: frozenset[str]
    ) -> None:
        """The stored rule score and reasons, from funnel.capture.scoring's rules as for every other lead.

        The same facts scoring.load_facts would read back: the customer's fields, whether any contact has
        a phone, e-mail or WeChat or is a decision maker, and the tag codes. The drawn score stays in the
        grade only: a rep grades on what they heard, not on the rules.
        """
        if not self.score_rules:
            return
        decision_maker, boss_phone = boss_met
        fields = {name: customer.get(name) for name in (*FILLABLE, "channel", "grade", "intake")}
        fields.update(phone=bool(person.phone) or boss_phone, email=bool(person.email),
                      wechat=bool(person.wechat))  # fmt: skip
        facts = Facts(fields=fields, tags=tags, decision_maker=decision_maker)
        customer["score"], customer["score_reasons"] = score_facts(self.score_rules, facts)

    def _contacts(
        self, customer_id: int, person: Person, english: bool, journey: Journey
    ) -> tuple[bool, bool]:
        """The lead's contacts; returns whether one is a decision maker and whether a second has a phone."""
        created = journey.events[0][1]
        decision_maker = self.rng.random() < 0.3
        self.add(
            "contact",
            customer_id=customer_id,
            name=person.name,
            title=person.title,
            phone=person.phone,
            email=person.email,
            wechat=person.wechat,
            is_primary=True,
            is_decision_maker=decision_maker,
            created_at=created,
        )
        if journey.furthest >= self.qualified_from and not decision_maker and self.rng.random() < 0.3:
            # Qualifying a lead often means meeting its boss, who is added as a second contact.
            name, title, phone = self.people.decision_maker(english=english)
            self.add(
                "contact",
                customer_id=customer_id,
                name=name,
                title=title,
                phone=phone,
                email=None,
                wechat=None,
                is_primary=False,
                is_decision_maker=True,
                created_at=self._reached_at(journey, self.qualified_from),
            )
            return True, phone is not None
        return decision_maker, False

    def _stage_events(self, customer_id: int, journey: Journey, owner_id: int | None) -> None:
        previous: str | None = None
        for key, at in journey.events:
            self.add(
                "stage_event",
                customer_id=customer_id,
                from_stage=previous,
                to_stage=key,
                at=at,
                by_user_id=owner_id,
            )
            previous = key

    def _objections(self, customer_id: int, journey: Journey, owner_id: int | None) -> list[RaisedObjection]:
        """Objections on some leads that reached a proposal, each at a late stage while the lead was there."""
        if journey.furthest < self.proposal_from:
            return []
        if self.rng.random() >= {WON: 0.3, LOST: 0.6}.get(journey.status, 0.4):
            return []
        late_stages = []
        for index, (key, at) in enumerate(journey.events):
            if key in self.keys and self.position[key] >= self.proposal_from:
                left = journey.events[index + 1][1] if index + 1 < len(journey.events) else self.now
                late_stages.append((key, at, min(left, at + timedelta(days=5))))
        return add_objections(
            self.add,
            self.rng,
            customer_id=customer_id,
            late_stages=late_stages,
            outcome=journey.status,
            owner_id=owner_id,
        )

    def _lost_reason(self, journey: Journey, objections: list[RaisedObjection]) -> str:
        stage_phase = phase(journey.furthest, len(self.keys))
        # An objection left open late in the funnel is usually why the deal was lost.
        if objections and stage_phase == "late" and self.rng.random() < 0.65:
            return LOST_REASON_FOR_OBJECTION[objections[-1].category]
        return _weighted(self.rng, LOST_REASONS[stage_phase])

    def _activities(
        self, customer: Row, journey: Journey, objections: list[RaisedObjection], lost_said: str | None
    ) -> None:
        """A logged call, chat or meeting before most stage moves, with what the rep learned."""
        rng = self.rng
        concerns_at = {o.stage: o.detail for o in objections}
        for (before_key, before), (key, at) in zip(journey.events, journey.events[1:], strict=False):
            if rng.random() >= (0.4 if key == LOST else 0.6):
                continue  # not every move is logged, and losses least often
            position = journey.furthest if key == LOST else self.position[key]
            kinds, summaries, next_steps = ACTIVITIES[phase(position, len(self.keys))]
            # Logged earlier on the working day of the move (the call that moved it), never before the
            # previous event.
            day_start = (at + BEIJING).replace(hour=WORK_START, minute=0, second=0) - BEIJING
            logged = _between(rng, max(before, day_start), at, 0.3, 0.98)
            next_step: str | None = None
            concern: str | None
            if key == LOST:
                summary, concern = "客户表示暂不推进", lost_said
            else:
                summary, next_step = rng.choice(summaries), rng.choice(next_steps)
                # What held the lead at the stage it is leaving is what the rep wrote down.
                concern = concerns_at.get(before_key)
                if concern is None and rng.random() < 0.3:
                    concern = f"客户关注{rng.choice(CONCERNS)}"
            informed = position >= self.qualified_from
            follow_up = working_time(rng, logged + timedelta(days=rng.randint(1, 5))) if next_step else None
            self.add(
                "activity",
                customer_id=customer["id"],
                kind=_weighted(rng, kinds),
                at=logged,
                by_user_id=customer["owner_id"],
                summary=summary,
                needs=customer["use_case"] if informed else None,
                budget=customer["budget_range"] if informed else None,
                concerns=concern,
                next_step=next_step,
                next_step_at=follow_up,
            )

    def _task(self, customer_id: int, owner_id: int, company: str, journey: Journey) -> None:
        rng = self.rng
        next_steps = ACTIVITIES[phase(journey.furthest, len(self.keys))][2]
        # Due dates from a few days overdue to next week, so "My day" has both.
        due = working_time(rng, self.now + timedelta(days=rng.uniform(-4, 10)))
        self.add(
            "task",
            customer_id=customer_id,
            owner_id=owner_id,
            kind="follow_up",
            title=f"{rng.choice(next_steps)}：{company}",
            due_at=due,
            done_at=None,
            rule=None,
            rule_key=None,
            created_at=journey.last_at,
        )
