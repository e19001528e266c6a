"""Demo people: Chinese and English names, companies and contact handles, unique and canonical.

Faker is asked once per load for pools of names, brands and handles, and leads draw from the pools with
the seeded generator: a Faker call costs ~20 µs of template parsing, which at a million leads was most
of the demo's time (issue #12).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from faker import Faker

from funnel.core.validation import normalize_email, normalize_wechat
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
# Values drawn from Faker per pool: enough that names repeat only as often as real ones do.
POOL_SIZE = 1000
# Mainland mobile prefixes (Faker zh_CN's), so numbers read like real ones; 8 random digits follow.
# Coprime to 10 (a permutation of 8-digit tails) and arbitrary.
MOBILE_STRIDE, MOBILE_OFFSET = 61_803_399, 31_415_926
EN_COMPANY_SUFFIXES = ("Inc", "LLC", "Ltd", "Group", "PLC")
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "145", "147", "149", "150",
    "151", "152", "153", "155", "156", "157", "158", "159", "162", "165", "166", "167", "170", "171",
    "172", "173", "175", "176", "177", "178", "180", "181", "182", "183", "184", "185", "186", "187",
    "188", "189", "190", "191", "192", "193", "195", "196", "197", "198", "199",
)  # fmt: skip


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


@dataclass(frozen=True)
class Pools:
    """What Faker contributes to demo people, drawn once from the seeded Fakers."""

    zh_last_names: tuple[str, ...]
    zh_first_names: tuple[str, ...]
    zh_brands: tuple[str, ...]
    zh_user_names: tuple[str, ...]
    zh_email_domains: tuple[str, ...]
    en_first_names: tuple[str, ...]
    en_last_names: tuple[str, ...]

    @classmethod
    def draw(cls, zh: Faker, en: Faker, size: int = POOL_SIZE) -> Pools:
        """Pools in Faker's own frequencies (common surnames often, rare ones seldom)."""
        # A few of Faker's brand prefixes end in 公司 themselves ("惠派国际公司"); the suffix adds it back.
        brands = sorted({zh.company_prefix().removesuffix("公司") for _ in range(size // 4)})
        return cls(
            zh_last_names=tuple(zh.last_name() for _ in range(size)),
            zh_first_names=tuple(zh.first_name() for _ in range(size)),
            zh_brands=tuple(brands),
            zh_user_names=tuple(zh.user_name() for _ in range(size)),
            zh_email_domains=tuple(sorted({zh.email().partition("@")[2] for _ in range(size // 20)})),
            en_first_names=tuple(en.first_name() for _ in range(size)),
            en_last_names=tuple(en.last_name() for _ in range(size)),
        )


@lru_cache(maxsize=4)
def pools_for(seed: int) -> Pools:
    """The pools of a seed (instance-seeded Fakers), drawn once per process: tests load many demos."""
    zh, en = Faker("zh_CN"), Faker("en_US")
    zh.seed_instance(seed)
    en.seed_instance(seed)
    return Pools.draw(zh, en)


class People:
    """Draws lead contacts; phones, e-mails and WeChat IDs never repeat, so duplicate checks stay quiet."""

    def __init__(self, *, rng: random.Random, pools: Pools, taken_handles: set[str]) -> None:
        self.rng, self.pools, self.taken = rng, pools, taken_handles
        self.mobile_serial = 0

    def mobile(self) -> str:
        """A mainland mobile in canonical form, distinct by construction: the last 8 digits run through a
        permutation of a counter, so a million leads need no set of the numbers drawn (`taken` holds
        handles stored before the load, and the other handles)."""
        while True:
            tail = (self.mobile_serial * MOBILE_STRIDE + MOBILE_OFFSET) % 10**8
            self.mobile_serial += 1
            phone = f"{self.rng.choice(MOBILE_PREFIXES)}{tail:08d}"
            if phone not in self.taken:
                return phone

    def lead(self, *, english: bool, region: str, industry: Industry) -> Person:
        """The person a lead came from, at a company in the lead's region and industry."""
        return self._english() if english else self._chinese(region, industry)

    def decision_maker(self, *, english: bool) -> tuple[str, str, str | None]:
        """Name, title and phone of a boss met while qualifying."""
        rng, pools = self.rng, self.pools
        if english:
            name = f"{rng.choice(pools.en_first_names)} {rng.choice(pools.en_last_names)}"
            return name, rng.choice(DECISION_TITLES_EN), None
        return self._zh_name(), rng.choice(DECISION_TITLES_ZH), self.mobile()

    def _zh_name(self) -> str:
        return f"{self.rng.choice(self.pools.zh_last_names)}{self.rng.choice(self.pools.zh_first_names)}"

    def _en_company(self) -> str:
        """A company named as Faker's en_US names them: "Smith LLC", "Perkins-Luna", "A, B and C"."""
        rng, last_names = self.rng, self.pools.en_last_names
        form = rng.random()
        if form < 0.5:
            return f"{rng.choice(last_names)} {rng.choice(EN_COMPANY_SUFFIXES)}"
        if form < 0.75:
            return f"{rng.choice(last_names)}-{rng.choice(last_names)}"
        return f"{rng.choice(last_names)}, {rng.choice(last_names)} and {rng.choice(last_names)}"

    def _english(self) -> Person:
        rng, pools = self.rng, self.pools
        first, last = rng.choice(pools.en_first_names), rng.choice(pools.en_last_names)
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
        return Person(f"{first} {last}", self._en_company(), phone, email, None, rng.choice(TITLES_EN))

    def _chinese(self, region: str, industry: Industry) -> Person:
        rng, pools = self.rng, self.pools
        city = rng.choice(REGIONS[region][1])
        company = f"{city}{rng.choice(pools.zh_brands)}{rng.choice(industry.company_suffixes)}"
        phone = self.mobile()
        wechat: str | None = None
        if rng.random() < 0.35:
            handle = f"{rng.choice(pools.zh_user_names)}{rng.randrange(10, 1000)}"
            try:
                wechat = unique(
                    normalize_wechat(handle), self.taken, lambda: f"wx_{rng.randrange(10**6, 10**7)}"
                )
            except ValueError:
                wechat = None  # Faker's handle broke WeChat's rules; this lead has no WeChat
        email: str | None = None
        if rng.random() < 0.25:
            user, domain = rng.choice(pools.zh_user_names), rng.choice(pools.zh_email_domains)
            email = unique(
                normalize_email(f"{user}@{domain}"),
                self.taken,
                lambda: normalize_email(f"{user}{rng.randrange(10, 100_000)}@{domain}"),
            )
        return Person(self._zh_name(), company, phone, email, wechat, rng.choice(TITLES_ZH))
