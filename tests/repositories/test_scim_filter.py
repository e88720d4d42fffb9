"""Which SCIM user filters pin their users to an index (``scim_filter.finds_by_index``): those
run as point reads (rosterd.api.scim.users), the others as searches."""

from __future__ import annotations

import pytest

from rosterd.api.scim.params import parse_filter
from rosterd.repositories import scim_filter

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.mark.parametrize(
    "filter_",
    [
        'userName eq "ada@example.com"',
        'USERNAME eq "ada"',
        'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ada"',
        'externalId eq "00u1"',
        'id eq "2819c223-7f76-453a-919d-413861904646"',
        'emails eq "ada@example.com"',
        'emails.value eq "ada@example.com"',
        'emails[type eq "work"].value eq "ada@example.com"',
        'emails[value eq "ada@example.com"]',
        'userName eq "ada" and title co "eng"',
        '(title co "eng") and (userName eq "ada")',
    ],
)
def test_an_eq_on_an_indexed_key_finds_by_index(filter_: str) -> None:
    assert scim_filter.finds_by_index(parse_filter(filter_))


@pytest.mark.parametrize(
    "filter_",
    [
        None,
        'userName co "ada"',
        'userName sw "ada"',
        'userName ne "ada"',
        'not (userName eq "ada")',
        'userName eq "ada" or title eq "x"',
        'title eq "Engineer"',
        'displayName eq "Ada"',
        f'{ENTERPRISE}:employeeNumber eq "7"',
        'emails[type eq "work"]',
        'emails[type eq "work" or value eq "a@b.c"]',
        'phoneNumbers eq "+15550100"',
        'groups eq "2819c223-7f76-453a-919d-413861904646"',
        'nosuchattribute eq "x"',
    ],
)
def test_other_filters_are_searches(filter_: str | None) -> None:
    assert not scim_filter.finds_by_index(parse_filter(filter_))
