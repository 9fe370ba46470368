from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api.auth import forget_token
from api.errors import problem, problem_response
from api.serializers import StrictSerializer
from services.organizations import services
from services.organizations.models import User


@extend_schema_serializer(component_name="Credentials")
class TokenRequestSerializer(StrictSerializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False)


@extend_schema_serializer(component_name="StaffCredentials")
class StaffTokenRequestSerializer(TokenRequestSerializer):
    otp = serializers.RegexField(
        r"^\s*\d{6}\s*$",
        required=False,
        help_text="The authenticator's current 6-digit code; required once two-factor sign-in is on",
    )
    recovery_code = serializers.CharField(
        required=False, max_length=32, help_text="A single-use recovery code, instead of `otp`"
    )


TokenResponse = inline_serializer(
    "TokenResponse",
    {
        "access_token": serializers.CharField(),
        "token_type": serializers.CharField(),
        "expires_at": serializers.DateTimeField(),
    },
)


def client_address(request) -> str:
    # REMOTE_ADDR is the proxy in production; gunicorn's forwarded_allow_ips rewrites it from
    # X-Forwarded-For only for trusted proxies, so clients cannot spoof their address here.
    return request.META.get("REMOTE_ADDR", "unknown")


def issue_token_response(request, kind: str) -> Response:
    staff = kind == User.KIND_STAFF
    serializer = (StaffTokenRequestSerializer if staff else TokenRequestSerializer)(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    try:
        issued = services.token_issue(
            email=data["email"],
            password=data["password"],
            address=client_address(request),
            kind=kind,
            otp=data.get("otp"),
            recovery_code=data.get("recovery_code"),
        )
    except services.TooManyAttempts as exc:
        return problem_response(
            problem(429, "Too many failed sign-in attempts; try again later."),
            {"Retry-After": str(exc.retry_after)},
        )
    except services.InvalidCredentials:
        return problem_response(problem(401, "Email or password is incorrect."))
    except services.MfaRequired:
        return problem_response(
            problem(401, "Enter the code from your authenticator app (field `otp`).", slug="mfa-required")
        )
    except services.InvalidMfaCode:
        return problem_response(
            problem(401, "That code is wrong, expired or already used.", slug="mfa-invalid")
        )
    return Response(
        {"access_token": issued.access_token, "token_type": "Bearer", "expires_at": issued.expires_at},
        status=status.HTTP_200_OK,
    )


class TokenView(APIView):
    """Staff sign-in: exchange email and password (and, with two-factor sign-in on, the `otp` code
    or a `recovery_code`) for a bearer token (sign out: POST /auth/revoke)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=StaffTokenRequestSerializer,
        responses={
            200: TokenResponse,
            401: OpenApiResponse(
                description="Email or password is incorrect; or (type `.../mfa-required`) two-factor sign-in "
                "is on and `otp` is missing; or (type `.../mfa-invalid`) the code is wrong or already used."
            ),
            429: OpenApiResponse(
                description="Too many attempts from this address for this account (the wait doubles), "
                "for this account, or from this address; see Retry-After."
            ),
        },
    )
    def post(self, request):
        return issue_token_response(request, User.KIND_STAFF)


class TokenRevokeView(APIView):
    """Revoke the token this request carries (sign out)."""

    permission_classes = []

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        if not isinstance(request.user, User):
            raise NotAuthenticated()
        services.token_revoke(raw_token=request.auth)
        forget_token(request.auth)  # this process at once; others within AUTH_CACHE_SECONDS
        return Response(status=status.HTTP_204_NO_CONTENT)
