"""Pre-generated Faker pools.

Faker costs microseconds per call, far too slow per row at a million rows a day, so a few hundred
names and addresses per country are drawn once per process and the generators pick from them with
numpy indices.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import pyarrow as pa
from faker import Faker

from pipelines.synthetic.schema import COUNTRIES

COUNTRY_LOCALES: dict[str, str] = {
    "US": "en_US", "CA": "en_CA", "GB": "en_GB", "DE": "de_DE", "FR": "fr_FR",
    "ES": "es_ES", "IT": "it_IT", "NL": "nl_NL", "IE": "en_IE", "AU": "en_AU",
}
assert tuple(COUNTRY_LOCALES) == COUNTRIES  # flat pools are laid out in the contract's country order
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me",
                 "aol.com", "gmx.net", "mail.com", "fastmail.com")


@dataclass(frozen=True)
class Address:
    street: str
    city: str
    state: str
    postal_code: str


@dataclass(frozen=True)
class CountryPool:
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    addresses: tuple[Address, ...]


@dataclass(frozen=True)
class FlatPool:
    """Every country's values in one Arrow array, country by country, for vectorised picks."""

    columns: dict[str, pa.Array]  # aligned columns (e.g. street/city/state/postal_code)
    offsets: np.ndarray  # start of each country's block, in COUNTRY_LOCALES order
    sizes: np.ndarray

    def pick(self, rng: np.random.Generator, country_index: np.ndarray) -> np.ndarray:
        """Positions of one uniformly drawn entry from each row's country block."""
        draws = rng.random(country_index.size)
        return self.offsets[country_index] + (draws * self.sizes[country_index]).astype(np.int64)


@dataclass(frozen=True)
class FakerPools:
    countries: dict[str, CountryPool]
    agent_names: tuple[str, ...]  # support staff named in ticket bodies

    @cached_property
    def flat_first_names(self) -> FlatPool:
        return _flatten({c: {"name": p.first_names, "folded": tuple(ascii_fold(n) or "user" for n in p.first_names)}
                         for c, p in self.countries.items()})

    @cached_property
    def flat_last_names(self) -> FlatPool:
        return _flatten({c: {"name": p.last_names, "folded": tuple(ascii_fold(n) or "mail" for n in p.last_names)}
                         for c, p in self.countries.items()})

    @cached_property
    def flat_addresses(self) -> FlatPool:
        return _flatten({c: {"street": tuple(a.street for a in p.addresses), "city": tuple(a.city for a in p.addresses),
                             "state": tuple(a.state for a in p.addresses),
                             "postal_code": tuple(a.postal_code for a in p.addresses)}
                         for c, p in self.countries.items()})


def _flatten(per_country: dict[str, dict[str, tuple[str, ...]]]) -> FlatPool:
    blocks = [per_country[c] for c in COUNTRY_LOCALES]
    names = list(blocks[0])
    sizes = np.array([len(b[names[0]]) for b in blocks], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    columns = {n: pa.array([v for b in blocks for v in b[n]], type=pa.string()) for n in names}
    return FlatPool(columns=columns, offsets=offsets, sizes=sizes)


def ascii_fold(text: str) -> str:
    """`Grégoire O'Neil` -> `gregoireoneil`: the local part of an e-mail address."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


def _region(fake: Faker) -> str:
    for provider in ("state_abbr", "province_abbr", "administrative_unit"):
        if hasattr(fake, provider):
            return str(getattr(fake, provider)())
    return ""


def _clean(text: str) -> str:
    return " ".join(text.split())  # Faker's es_ES addresses carry doubled/trailing spaces


def _distinct(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


@lru_cache(maxsize=4)  # immutable, so repeated runs in one process (tests, backfills) share them
def build_pools(seed: int = 0, names_per_country: int = 250, addresses_per_country: int = 200) -> FakerPools:
    """Deterministic for a seed (Faker is pinned, so its sequences are stable).

    The generator uses one fixed vocabulary for every run (the default seed) and lets its own seed
    decide the picks, so the Faker cost is paid once per process.
    """
    countries: dict[str, CountryPool] = {}
    for offset, (country, locale) in enumerate(COUNTRY_LOCALES.items()):
        fake = Faker(locale)
        fake.seed_instance(seed * 1000 + offset)
        first = _distinct([_clean(fake.first_name()) for _ in range(names_per_country)])
        last = _distinct([_clean(fake.last_name()) for _ in range(names_per_country)])
        addresses = tuple(
            Address(_clean(fake.street_address()), _clean(fake.city()), _clean(_region(fake)),
                    _clean(fake.postcode()))
            for _ in range(addresses_per_country)
        )
        countries[country] = CountryPool(first, last, addresses)
    staff = Faker("en_US")
    staff.seed_instance(seed * 1000 + 999)
    agents = _distinct([f"{_clean(staff.first_name())} {_clean(staff.last_name())}" for _ in range(60)])
    return FakerPools(countries=countries, agent_names=agents)
