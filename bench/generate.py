"""Generate a realistic tenant as JSON Lines for `rosterd import`.

Users get names, unique emails and E.164 phones, titles, departments, a role, a team, one
to three groups and a last login spread over the past year; groups form a hierarchy (every
group but the roots has a parent among the ones before it). Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from typing import IO

FIRST = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Aisha",
    "Wei",
    "Sofia",
    "Mateo",
    "Yuki",
    "Omar",
    "Priya",
    "Lucas",
    "Elena",
    "Noah",
    "Fatima",
    "Liam",
    "Chloe",
    "Ivan",
    "Amara",
    "Kenji",
    "Zara",
    "Diego",
    "Ingrid",
    "Tariq",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Nguyen",
    "Hill",
    "Flores",
]
DEPARTMENTS = [
    "Sales",
    "Marketing",
    "Engineering",
    "Finance",
    "Legal",
    "Support",
    "Operations",
    "HR",
    "Product",
    "IT",
]
TITLES = [
    "Associate",
    "Analyst",
    "Engineer",
    "Manager",
    "Director",
    "Specialist",
    "Lead",
    "Consultant",
    "VP",
]
ROLES = ("User", "User", "User", "Viewer", "Manager", "Admin")


def generate(out: IO[str], users: int, groups: int, teams: int, seed: int) -> None:
    rng = random.Random(seed)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    write = out.write
    group_names = [f"group-{i:05d}" for i in range(groups)]
    for i, name in enumerate(group_names):
        parent = group_names[rng.randrange(i)] if i >= 20 else None
        write(json.dumps({"type": "group", "name": name, "parent": parent}) + "\n")
    team_names = [f"team-{i:04d}" for i in range(teams)]
    for name in team_names:
        write(json.dumps({"type": "team", "name": name}) + "\n")
    for i in range(users):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        login = now - timedelta(seconds=rng.randrange(365 * 86400)) if rng.random() < 0.9 else None
        record = {
            "type": "user",
            "username": f"{first.lower()}.{last.lower()}.{i}",
            "email": f"{first.lower()}.{last.lower()}.{i}@example.com",
            "first_name": first,
            "last_name": last,
            "phone": f"+1{2000000000 + i}",
            "title": rng.choice(TITLES),
            "department": rng.choice(DEPARTMENTS),
            "role": rng.choice(ROLES),
            "team": rng.choice(team_names) if team_names else None,
            "groups": rng.sample(group_names, k=min(len(group_names), rng.randint(1, 3))),
            "external_id": f"00u{i:010d}",
            "last_login_at": login.isoformat() if login else None,
            "status": "active" if rng.random() < 0.85 else rng.choice(["inactive", "suspended"]),
        }
        write(json.dumps(record) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    generate(sys.stdout, args.users, args.groups, args.teams, args.seed)


if __name__ == "__main__":
    main()
