"""Bearer tokens: `Authorization: Bearer <token>`; expired or revoked tokens are refused."""

from rest_framework import authentication, exceptions

from services.organizations.services import token_user


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <token>'.")
        user = token_user(raw_token=parts[1])
        if user is None:
            raise exceptions.AuthenticationFailed("The token is invalid, expired or revoked.")
        return user, parts[1]

    def authenticate_header(self, request):
        return self.keyword
