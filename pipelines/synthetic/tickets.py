"""Support tickets whose free text mixes ordinary sentences with PII, and the labels of every PII span.

A subject and a body are assembled from sentence templates with slots (`{name}`, `{email}`,
`{phone}`, `{ssn}`, `{card}`, ...). Slots are filled mostly from the ticket's customer (their name,
e-mail, phone, SSN, card) and sometimes from other people (a relative, an agent, a stranger's card,
a second e-mail). Phones are written in four styles and cards plain, spaced or dashed, across Visa
16/19, Mastercard 51–55 and 2221–2720, Amex 15 and Maestro 19. Each filled slot is recorded as an
entity `{type, value, field, start, end}` with `field_text[start:end] == value` (offsets in Python
string characters).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.synthetic import identifiers as ids
from pipelines.synthetic import strings
from pipelines.synthetic.pools import EMAIL_DOMAINS, FakerPools, ascii_fold
from pipelines.synthetic.schema import SECONDS_PER_DAY, SUPPORT_TICKET_COLUMNS, TICKET_CHANNELS, day_start_seconds

TICKET_SHARE_OF_TRANSACTIONS = 0.05
TICKET_CHANNEL_WEIGHTS = np.array([40, 25, 25, 10], dtype=float)
ANY_CARD_BRANDS = {"visa16": 25, "mastercard51": 15, "mastercard2": 20, "amex": 15, "visa19": 12, "maestro19": 13}
CARD_STYLES = ("plain", "spaces", "dashes")

SLOT_TYPES = {
    "name": "PERSON", "other_name": "PERSON", "agent": "PERSON",
    "email": "EMAIL_ADDRESS", "other_email": "EMAIL_ADDRESS",
    "phone": "PHONE_NUMBER", "ssn": "US_SSN", "card": "CREDIT_CARD", "other_card": "CREDIT_CARD",
}
_SLOT = re.compile(r"\{(\w+)\}")

OPENINGS_PLAIN = ("Hi,", "Hello,", "Hello support team,", "Good morning,", "Dear Sir or Madam,",
                  "To whom it may concern,")
OPENINGS_NAMED = ("{name} here.", "Hi, this is {name}.", "My name is {name} and I need some help.",
                  "Hello, {name} writing about my account.")
ISSUES = (
    "I noticed a charge on my statement that I do not recognise.",
    "My card was declined twice at the checkout today although there is money on the account.",
    "The mobile app keeps logging me out every few minutes.",
    "I was charged twice for the same order last week.",
    "I would like to close my account by the end of the month.",
    "Could you raise my daily spending limit before my trip?",
    "The refund I was promised ten days ago has still not arrived.",
    "I cannot update my home address in the online banking portal.",
    "There is a foreign transaction fee I was not told about.",
    "My new card arrived damaged and the chip does not work.",
    "Someone may have used my details to shop online.",
    "The statement for last month shows the wrong balance.",
    "I was on hold for forty minutes yesterday and nobody answered.",
    "Please explain why my payment is still pending.",
    "I want to dispute a subscription that I cancelled in March.",
)
DETAILS = (
    "The card in question is {card}.",
    "My card number is {card}, please block it right away.",
    "The charge was made with {other_card}, which is not one of my cards.",
    "You can reach me at {phone} after 5pm.",
    "Call me on {phone} or write to {email}.",
    "My e-mail address on file is {email}.",
    "Please send the confirmation to {other_email} instead.",
    "For verification, my SSN is {ssn}.",
    "SSN for the identity check: {ssn}",
    "My partner {other_name} also uses this account.",
    "I already spoke with your agent {agent}, who promised a callback.",
    "The money went to someone called {other_name}, whom I have never heard of.",
    "If I am not available, {other_name} can answer on {phone}.",
    "Please update my phone to {phone} and my email to {email}.",
)
CLOSINGS_PLAIN = ("Thanks.", "Thank you in advance.", "Regards", "Sent from my phone", "Looking forward to your reply.")
CLOSINGS_NAMED = ("Thanks,\n{name}", "Best regards,\n{name}\n{phone}", "Kind regards, {name}",
                  "Many thanks,\n{name}\n{email}", "Cheers, {name}")
SUBJECTS_PLAIN = ("Unknown charge on my card", "Card declined", "App problem", "Duplicate charge", "Close my account",
                  "Refund not received", "Address change", "Question about fees", "Damaged card", "Possible fraud",
                  "Wrong balance", "Payment pending", "Subscription dispute")
SUBJECTS_PII = ("Card {card} declined", "Please call me back on {phone}", "Complaint from {name}",
                "Account {email} locked", "Identity check for {name}")
NO_PII_SHARE = 0.12
PII_SUBJECT_SHARE = 0.25


class LabelledText:
    """A text assembled piece by piece, remembering where each PII value landed."""

    __slots__ = ("entities", "field", "length", "parts")

    def __init__(self, field: str) -> None:
        self.field = field
        self.parts: list[str] = []
        self.entities: list[dict[str, object]] = []
        self.length = 0

    def add(self, text: str, entity_type: str | None = None) -> None:
        if entity_type is not None:
            self.entities.append({"type": entity_type, "value": text, "field": self.field,
                                  "start": self.length, "end": self.length + len(text)})
        self.parts.append(text)
        self.length += len(text)

    def text(self) -> str:
        return "".join(self.parts)


@dataclass(frozen=True)
class TicketPerson:
    """The values of one ticket's customer that slots can mention."""

    name: str
    email: str
    phone_digits: str
    ssn: str
    card: str


class SlotFiller:
    """Draws slot values from the ticket's customer or from other people, with varied formatting.

    Per-ticket choices use Python's `random` (seeded from the day's numpy stream): at a few dozen
    draws per ticket it is several times faster than numpy's per-call overhead.
    """

    def __init__(self, chooser: random.Random, pools: FakerPools, spare_cards: Iterator[str]) -> None:
        self.chooser = chooser
        self.rand = chooser.random
        self.pools = pools
        self.spare_cards = spare_cards  # pre-generated numbers of every brand, for strangers' cards
        self.person = TicketPerson("", "", "", "", "")
        self._phone_style = ids.PHONE_STYLES[0]
        self._country_codes = list(pools.countries)

    def start_ticket(self, person: TicketPerson) -> None:
        self.person = person
        self._phone_style = self.pick(ids.PHONE_STYLES)

    def pick(self, options: Sequence[str]) -> str:
        return options[int(self.rand() * len(options))]

    def _other_person(self) -> str:
        pool = self.pools.countries[self.pick(self._country_codes)]
        return f"{self.pick(pool.first_names)} {self.pick(pool.last_names)}"

    def _card(self, number: str) -> str:
        return ids.format_card(number, self.pick(CARD_STYLES))

    def value(self, slot: str) -> str:
        pick, rand = self.pick, self.rand
        if slot == "name":
            return self.person.name
        if slot == "other_name":
            return self._other_person()
        if slot == "agent":
            return pick(self.pools.agent_names)
        if slot == "email":
            return self.person.email
        if slot == "other_email":
            first, last = self._other_person().split(" ", 1)
            return f"{ascii_fold(first) or 'user'}.{ascii_fold(last) or 'mail'}@{pick(EMAIL_DOMAINS)}"
        if slot == "phone":  # one person writes their number one way, mostly
            style = self._phone_style if rand() < 0.8 else pick(ids.PHONE_STYLES)
            return ids.format_phone(self.person.phone_digits, style)
        if slot == "ssn":
            return self.person.ssn
        if slot == "card":
            return self._card(self.person.card if rand() < 0.5 else next(self.spare_cards))
        if slot == "other_card":
            return self._card(next(self.spare_cards))
        raise KeyError(slot)


@cache
def _pieces(template: str) -> tuple[tuple[str, str | None], ...]:
    """`"Call {phone} now"` -> (("Call ", None), ("phone", "PHONE_NUMBER"), (" now", None))."""
    pieces: list[tuple[str, str | None]] = []
    position = 0
    for match in _SLOT.finditer(template):
        if match.start() > position:
            pieces.append((template[position:match.start()], None))
        pieces.append((match.group(1), SLOT_TYPES[match.group(1)]))
        position = match.end()
    if position < len(template):
        pieces.append((template[position:], None))
    return tuple(pieces)


def fill_template(template: str, filler: SlotFiller, out: LabelledText) -> None:
    for piece, entity_type in _pieces(template):
        if entity_type is None:
            out.add(piece)
        else:
            out.add(filler.value(piece), entity_type)


def _distinct(filler: SlotFiller, options: tuple[str, ...], count: int) -> list[str]:
    chosen: list[str] = []
    while len(chosen) < count:
        option = filler.pick(options)
        if option not in chosen:
            chosen.append(option)
    return chosen


def compose_ticket_text(filler: SlotFiller) -> tuple[str, str, list[dict[str, object]]]:
    """(subject, body, entities) for one ticket."""
    rand, pick = filler.rand, filler.pick
    subject = LabelledText("subject")
    body = LabelledText("body")
    without_pii = rand() < NO_PII_SHARE
    with_pii_subject = not without_pii and rand() < PII_SUBJECT_SHARE
    fill_template(pick(SUBJECTS_PII if with_pii_subject else SUBJECTS_PLAIN), filler, subject)

    named_opening = not without_pii and rand() < 0.35
    middle = _distinct(filler, ISSUES, 1 + int(rand() * 3))
    if not without_pii:
        middle += _distinct(filler, DETAILS, 1 + int(rand() * 3))
        middle.sort(key=lambda _: rand())  # interleave issues and PII details; the opening stays first
    sentences = [pick(OPENINGS_NAMED if named_opening else OPENINGS_PLAIN), *middle]
    named_closing = not without_pii and not named_opening and rand() < 0.7
    closing = pick(CLOSINGS_NAMED if named_closing else CLOSINGS_PLAIN)
    for index, sentence in enumerate(sentences):
        if index:
            body.add(" ")
        fill_template(sentence, filler, body)
    body.add("\n\n")
    fill_template(closing, filler, body)
    return subject.text(), body.text(), subject.entities + body.entities


def ticket_count(rows_per_day: int) -> int:
    return max(1, round(TICKET_SHARE_OF_TRANSACTIONS * rows_per_day))


def generate_tickets(rng: np.random.Generator, pools: FakerPools, seed: int, day: date, count: int,
                     population: pd.DataFrame) -> tuple[pa.Table, list[list[dict[str, object]]]]:
    """(`count` tickets during `day` sorted by `created_at`, each row's PII entities).

    Tickets come from customers who existed before the day. Hidden columns: `_event_s`,
    `_customer_created_s`.
    """
    day_s = day_start_seconds(day)
    eligible = np.flatnonzero(population["created_s"].to_numpy() < day_s)
    rows = eligible[rng.integers(0, eligible.size, size=count)]
    event_s = np.sort(day_s + rng.integers(0, SECONDS_PER_DAY, size=count))
    channels = rng.choice(len(TICKET_CHANNELS), size=count, p=TICKET_CHANNEL_WEIGHTS / TICKET_CHANNEL_WEIGHTS.sum())
    chooser = random.Random(int(rng.integers(0, 2**62)))
    spare_cards = iter(strings.objects(ids.card_numbers(rng, 2 * count + 8, ANY_CARD_BRANDS)).tolist())
    filler = SlotFiller(chooser, pools, spare_cards)
    people = population.iloc[rows]
    subjects, bodies, entities = [], [], []
    for first, last, email, phone, ssn, card in zip(
            people["first_name"], people["last_name"], people["email"], people["phone_digits"], people["ssn"],
            people["card_primary"], strict=True):
        filler.start_ticket(TicketPerson(f"{first} {last}", email, phone, ssn, card))
        subject, body, found = compose_ticket_text(filler)
        subjects.append(subject)
        bodies.append(body)
        entities.append(found)
    table = pa.table({
        "ticket_id": ids.ticket_ids(seed, day, np.arange(count)),
        "customer_id": pa.array(people["customer_id"].to_numpy(), type=pa.string()),
        "created_at": strings.iso_utc(event_s),
        "channel": strings.take(pa.array(TICKET_CHANNELS), channels),
        "subject": pa.array(subjects, type=pa.string()),
        "body": pa.array(bodies, type=pa.string()),
        "_event_s": event_s,
        "_customer_created_s": people["created_s"].to_numpy(),
    })
    assert tuple(table.column_names[: len(SUPPORT_TICKET_COLUMNS)]) == SUPPORT_TICKET_COLUMNS
    return table, entities
