"""Demo people: Chinese and English names, companies and contact handles, unique and canonical."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from faker import Faker

from funnel.core.validation import normalize_email, normalize_phone, normalize_wechat
from funnel.demo.catalog import (
    DECISION_TITLES_EN,
    DECISION_TITLES_ZH,
    REGIONS,
    TITLES_EN,
    TITLES_ZH,
    Industry,
)


@dataclass(frozen=True)
class Person:
    name: str
    company: str
    phone: str | None
    email: str | None
    wechat: str | None
    title: str


MAX_DRAWS = 20


def unique(value: str, taken: set[str], again: Callable[[], str]) -> str:
    """`value`, or the first fresh one `again` draws, recorded in `taken`.

    Faker's pools are finite (about 26,000 Chinese e-mail addresses): once `again` has failed
    MAX_DRAWS times, the last draw gets a counter (a.2@x, a.3@x, ...) so large demos cannot loop.
    """
    draws, base, counter = 0, value, 1
    while value in taken:
        draws += 1
        if draws < MAX_DRAWS:
            value = base = again()
        else:
            counter += 1
            value = _numbered(base, counter)
    taken.add(value)
    return value


def _numbered(value: str, n: int) -> str:
    local, at, domain = value.partition("@")
    return f"{local}.{n}{at}{domain}"


class People:
    """Draws lead contacts; phones, e-mails and WeChat IDs never repeat, so duplicate checks stay quiet."""

    def __init__(self, *, rng: random.Random, zh: Faker, en: Faker, taken_handles: set[str]) -> None:
        self.rng, self.zh, self.en, self.taken = rng, zh, en, taken_handles

    def mobile(self) -> str:
        def draw() -> str:
            # Stored as create_lead stores it, in canonical form.
            return normalize_phone(self.zh.phone_number())

        return unique(draw(), self.taken, draw)

    def lead(self, *, english: bool, region: str, industry: Industry) -> Person:
        """The person a lead came from, at a company in the lead's region and industry."""
        return self._english() if english else self._chinese(region, industry)

    def decision_maker(self, *, english: bool) -> tuple[str, str, str | None]:
        """Name, title and phone of a boss met while qualifying."""
        if english:
            return self.en.name(), self.rng.choice(DECISION_TITLES_EN), None
        return self.zh.name(), self.rng.choice(DECISION_TITLES_ZH), self.mobile()

    def _english(self) -> Person:
        rng = self.rng
        first, last = self.en.first_name(), self.en.last_name()
        local = "".join(ch for ch in f"{first}.{last}".lower() if ch.isalnum() or ch == ".")
        tld = rng.choice(("com", "net", "org"))
        email = unique(
            normalize_email(f"{local}@example.{tld}"),
            self.taken,
            lambda: f"{local}{rng.randrange(10, 1000)}@example.{tld}",
        )
        # An English name comes with a number of an English-speaking country (US or UK mobile), never a
        # mainland one, so the demo reads like real people in either language.
        uk = rng.random() < 0.3

        def number() -> str:
            if uk:
                return f"+447{rng.randrange(10**9):09d}"
            area = f"{rng.randint(2, 9)}{rng.randint(0, 8)}{rng.randint(0, 9)}"
            return f"+1{area}{rng.randint(2, 9)}{rng.randrange(10**6):06d}"

        phone = unique(number(), self.taken, number) if rng.random() < 0.8 else None
        return Person(f"{first} {last}", self.en.company(), phone, email, None, rng.choice(TITLES_EN))

    def _chinese(self, region: str, industry: Industry) -> Person:
        rng, zh = self.rng, self.zh
        city = rng.choice(REGIONS[region][1])
        # A few of Faker's brand prefixes end in 公司 themselves ("惠派国际公司"); the suffix adds it back.
        brand = zh.company_prefix().removesuffix("公司")
        company = f"{city}{brand}{rng.choice(industry.company_suffixes)}"
        phone = self.mobile()
        wechat: str | None = None
        if rng.random() < 0.35:
            handle = f"{zh.user_name()}{rng.randrange(10, 1000)}"
            try:
                wechat = unique(
                    normalize_wechat(handle), self.taken, lambda: f"wx_{rng.randrange(10**6, 10**7)}"
                )
            except ValueError:
                wechat = None  # Faker's handle broke WeChat's rules; this lead has no WeChat
        email: str | None = None
        if rng.random() < 0.25:
            email = unique(normalize_email(zh.email()), self.taken, lambda: normalize_email(zh.email()))
        return Person(zh.name(), company, phone, email, wechat, rng.choice(TITLES_ZH))
