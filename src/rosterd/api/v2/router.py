"""The /integration/v2 surface."""

from fastapi import APIRouter

from rosterd.api.v2 import groups, roles, teams, users

PREFIX = "/integration/v2"

router = APIRouter(prefix=PREFIX)
for module in (users, groups, roles, teams):
    router.include_router(module.router)
