"""The HTTP framework every HTTP function uses: routing, authentication, roles, validation and
the one error mapping."""

from shared.core.web.http import RequestContext, Route, dispatch, error_response

__all__ = ["RequestContext", "Route", "dispatch", "error_response"]
