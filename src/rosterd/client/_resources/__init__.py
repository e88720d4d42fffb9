"""The resource namespaces of ``Client`` (sync classes) and ``AsyncClient`` (``Async…``)."""
