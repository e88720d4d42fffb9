"""The scim2-server reference implementation (PyPI), as an ASGI app on in-memory storage,
so it runs under the same uvicorn settings as rosterd."""

from scim2_server.applications.asgi import ASGIApplication
from scim2_server.memory import AsyncInMemoryStorage
from scim2_server.utils import load_default_provider

app = ASGIApplication(AsyncInMemoryStorage(), load_default_provider())
