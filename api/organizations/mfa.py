"""Two-factor sign-in (TOTP) for the signed-in staff member, the practice's rule, and staff
password resets. docs/security.md describes the flow."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api.auth import forget_token_hashes
from api.errors import problem, problem_response
from api.organizations.auth import client_address
from api.schema import rejects
from api.serializers import StrictSerializer
from services.organizations import mfa
from services.organizations import staff as staff_services
from services.organizations.services import hash_token
from services.portal.throttle import TooManyRequests


class MfaCodeSerializer(StrictSerializer):
    code = serializers.RegexField(r"^\s*\d{6}\s*$", help_text="The authenticator's current 6-digit code")


class MfaStatusSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    pending_confirmation = serializers.BooleanField(help_text="Enrolment started, not yet confirmed")
    recovery_codes_left = serializers.IntegerField()
    required_by_practice = serializers.BooleanField()


class MfaEnrolmentSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Base32 secret, shown this once")
    otpauth_uri = serializers.CharField(help_text="otpauth://totp/... for authenticator apps")
    qr_svg = serializers.CharField(help_text="The URI as a QR code, an SVG document")


class MfaRecoveryCodesSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(
        child=serializers.CharField(), help_text="Single-use codes, shown this once; store them offline"
    )


class MfaPolicySerializer(StrictSerializer):
    require_mfa = serializers.BooleanField(
        help_text="Staff without two-factor sign-in must enrol before any other use of the API"
    )


class MfaView(APIView):
    access = "mfa"
    open_before_mfa = True  # where a practice requires MFA, these are all its unenrolled staff may use


class MfaStatusView(MfaView):
    """Whether the signed-in staff member has two-factor sign-in on."""

    @extend_schema(responses={200: MfaStatusSerializer})
    def get(self, request):
        return Response(MfaStatusSerializer(mfa.mfa_status(user=request.user)).data)


class MfaEnrolmentView(MfaView):
    """Start enrolment: a new secret, shown once as an otpauth URI and a QR code (SVG). Scan it, then
    confirm with a code. 409 when two-factor sign-in is already on."""

    @extend_schema(
        request=None,
        responses={201: MfaEnrolmentSerializer, **rejects({409: "two-factor sign-in is already on"})},
    )
    def post(self, request):
        enrolment = mfa.mfa_enrolment_start(user=request.user)
        data = {"secret": enrolment.secret, "otpauth_uri": enrolment.otpauth_uri, "qr_svg": enrolment.qr_svg}
        response = Response(MfaEnrolmentSerializer(data).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class MfaConfirmView(MfaView):
    """Confirm enrolment with a code from the app: two-factor sign-in is on, recovery codes are
    returned once, and the member's other sessions end."""

    @extend_schema(
        request=MfaCodeSerializer,
        responses={
            200: MfaRecoveryCodesSerializer,
            **rejects({409: "already on", 422: "no enrolment started, or the code is wrong or used"}),
        },
    )
    def post(self, request):
        body = MfaCodeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        own = hash_token(request.auth)
        codes, revoked = mfa.mfa_enrolment_confirm(
            user=request.user, code=body.validated_data["code"], keep_token_hash=own
        )
        forget_token_hashes([*revoked, own])  # and this token is no longer "pending" enrolment
        response = Response(MfaRecoveryCodesSerializer({"recovery_codes": codes}).data)
        response["Cache-Control"] = "no-store"
        return response


class MfaRecoveryCodesView(MfaView):
    """New recovery codes after a current code; the old ones stop working."""

    @extend_schema(
        request=MfaCodeSerializer,
        responses={
            200: MfaRecoveryCodesSerializer,
            **rejects({422: "not enrolled, or the code is wrong or used"}),
        },
    )
    def post(self, request):
        body = MfaCodeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        codes = mfa.mfa_recovery_codes_regenerate(user=request.user, code=body.validated_data["code"])
        response = Response(MfaRecoveryCodesSerializer({"recovery_codes": codes}).data)
        response["Cache-Control"] = "no-store"
        return response


class MfaDisableView(MfaView):
    """Turn two-factor sign-in off with a current code (422 where the practice requires it)."""

    @extend_schema(
        request=MfaCodeSerializer,
        responses={
            204: None,
            **rejects({422: "not enrolled, the code is wrong, or the practice requires it"}),
        },
    )
    def post(self, request):
        body = MfaCodeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        mfa.mfa_disable(user=request.user, code=body.validated_data["code"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MfaPolicyView(APIView):
    """The practice's rule: `require_mfa` makes staff without two-factor sign-in enrol first."""

    access = "security_policy"

    @extend_schema(responses={200: MfaPolicySerializer})
    def get(self, request):
        return Response({"require_mfa": request.user.organization.require_mfa})

    @extend_schema(request=MfaPolicySerializer, responses={200: MfaPolicySerializer})
    def put(self, request):
        body = MfaPolicySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        mfa.mfa_requirement_set(actor=request.user, require_mfa=body.validated_data["require_mfa"])
        return Response({"require_mfa": body.validated_data["require_mfa"]})


class StaffResetRequestSerializer(StrictSerializer):
    email = serializers.EmailField()


class StaffResetConfirmSerializer(StrictSerializer):
    token = serializers.CharField(max_length=200)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=200)


class StaffPasswordResetView(APIView):
    """Email a staff member a one-time reset link; the answer never says whether the address exists."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=StaffResetRequestSerializer,
        responses={
            202: inline_serializer("StaffResetRequested", {"detail": serializers.CharField()}),
            429: OpenApiResponse(description="Too many requests from this address or for this email"),
        },
    )
    def post(self, request):
        body = StaffResetRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            staff_services.staff_password_reset_request(
                email=body.validated_data["email"], address=client_address(request)
            )
        except TooManyRequests as exc:
            return problem_response(problem(429, exc.detail), {"Retry-After": str(exc.retry_after)})
        return Response(
            {"detail": "If a staff account has this address, a reset link is on its way."},
            status=status.HTTP_202_ACCEPTED,
        )


class StaffPasswordResetConfirmView(APIView):
    """Set a new password with the emailed token (once, before it expires); every session ends.
    Two-factor sign-in stays on."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=StaffResetConfirmSerializer,
        responses={
            204: None,
            **rejects({400: "the link is invalid, used or expired, or the password is weak"}),
        },
    )
    def post(self, request):
        body = StaffResetConfirmSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        staff_services.staff_password_reset_confirm(**body.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
