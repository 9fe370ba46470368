"""Cookie sign-in for the server-rendered pages (patient portal, staff reports).

The cookie holds the same bearer token the API issues, signed (a tampered cookie is just "signed out"),
HttpOnly, SameSite=Lax and scoped to its page's path; only users of the page's kind are let in.
"""

from dataclasses import dataclass

from django.core import signing
from django.shortcuts import redirect

from api.organizations.auth import client_address
from services.organizations import services as auth_services
from services.organizations.models import User


@dataclass(frozen=True)
class PageSession:
    cookie: str
    salt: str
    kind: str
    path: str

    def user(self, request) -> User | None:
        raw = request.COOKIES.get(self.cookie)
        if not raw:
            return None
        try:
            token = signing.loads(raw, salt=self.salt)
        except signing.BadSignature:
            return None
        user = auth_services.token_user(raw_token=token)
        return user if user is not None and user.kind == self.kind else None

    def sign_in(self, request, *, to: str):
        """(response, None) redirecting to `to` with the cookie set, or (None, error for the form)."""
        try:
            issued = auth_services.token_issue(
                email=request.POST.get("email", ""),
                password=request.POST.get("password", ""),
                address=client_address(request),
                kind=self.kind,
            )
        except auth_services.TooManyAttempts:
            return None, "Too many failed sign-in attempts; try again later."
        except auth_services.InvalidCredentials:
            return None, "Email or password is incorrect."
        response = redirect(to)
        response.set_cookie(
            self.cookie,
            signing.dumps(issued.access_token, salt=self.salt),
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
            path=self.path,
        )
        return response, None

    def sign_out(self, request, *, to: str):
        """Revokes the cookie's token (if it is genuine) and clears the cookie."""
        raw = request.COOKIES.get(self.cookie)
        if raw:
            try:
                auth_services.token_revoke(raw_token=signing.loads(raw, salt=self.salt))
            except signing.BadSignature:
                pass
        response = redirect(to)
        response.delete_cookie(self.cookie, path=self.path)
        return response
