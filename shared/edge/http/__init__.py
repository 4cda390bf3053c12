"""The HTTP adapters: one route table per function (``ROUTES``), mapping requests to the
capabilities. Handlers take a :data:`Ctx`: the validated request and the process's services."""

from shared.core.web.http import RequestContext
from shared.edge.services import Services

Ctx = RequestContext[Services]
"""A request to one of our routes, with :class:`~shared.edge.services.Services` on it."""

__all__ = ["Ctx"]
