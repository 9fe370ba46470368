"""Portal accounts: register, verify the address, sign in, reset the password, and the patient's own
details (`/me`)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import problem, problem_response
from api.organizations.auth import TokenRequestSerializer, TokenResponse, client_address, issue_token_response
from api.permissions import IsPatient
from api.serializers import StrictSerializer
from services.organizations.models import User
from services.patients.models import Patient
from services.portal import services
from services.portal.models import PortalAccount
from services.portal.throttle import TooManyRequests

ACCEPTED_DETAIL = "If the details are right, an email is on its way: follow its link to confirm your address."


def throttled(exc: TooManyRequests) -> Response:
    return problem_response(problem(429, exc.detail), {"Retry-After": str(exc.retry_after)})


class RegisterSerializer(StrictSerializer):
    organization = serializers.CharField(
        max_length=32, required=False, help_text="The practice's id (a practice-wide link)"
    )
    location = serializers.CharField(
        max_length=32, required=False, help_text="The clinic's id, from its registration link or QR code"
    )
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=200)
    date_of_birth = serializers.DateField()

    def validate(self, attrs):
        if not attrs.get("organization") and not attrs.get("location"):
            raise serializers.ValidationError(
                {"location": ["Give the clinic (or practice) from your registration link."]}
            )
        return attrs


class PublicView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]


class RegisterView(PublicView):
    """Create a patient's portal account; a link to confirm the address is emailed. The answer is
    the same whether or not the address already had an account. Confirming the address links the
    account to the clinic record with that address on file (and this date of birth); otherwise the
    clinic links it (`POST /api/v1/portal-accounts/{id}/link`)."""

    @extend_schema(
        request=RegisterSerializer,
        responses={202: inline_serializer("PortalRegistered", {"detail": serializers.CharField()})},
    )
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            services.portal_account_register(
                organization_public_id=data.get("organization"),
                location_public_id=data.get("location"),
                name=data["name"],
                email=data["email"],
                password=data["password"],
                date_of_birth=data["date_of_birth"],
                address=client_address(request),
            )
        except TooManyRequests as exc:
            return throttled(exc)
        return Response({"detail": ACCEPTED_DETAIL}, status=status.HTTP_202_ACCEPTED)


class PortalTokenView(PublicView):
    """Patient sign-in: the same bearer tokens as staff, for portal accounts only."""

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenResponse})
    def post(self, request):
        return issue_token_response(request, User.KIND_PATIENT)


class TokenSerializer(StrictSerializer):
    token = serializers.CharField(max_length=200)


class VerifyEmailView(PublicView):
    """Confirm the address with the token from the emailed link."""

    @extend_schema(
        request=TokenSerializer,
        responses={200: inline_serializer("EmailVerified", {"email_verified": serializers.BooleanField()})},
    )
    def post(self, request):
        serializer = TokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.portal_email_verify(token=serializer.validated_data["token"])
        return Response({"email_verified": True})


class ResendVerificationView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(request=None, responses={202: None})
    def post(self, request):
        try:
            services.portal_verification_resend(user=request.user)
        except TooManyRequests as exc:
            return throttled(exc)
        return Response(status=status.HTTP_202_ACCEPTED)


class ResetRequestSerializer(StrictSerializer):
    email = serializers.EmailField()


class PasswordResetView(PublicView):
    """Email a reset link to a portal account's address; the answer never says whether one exists."""

    @extend_schema(request=ResetRequestSerializer, responses={202: None})
    def post(self, request):
        serializer = ResetRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.portal_password_reset_request(
                email=serializer.validated_data["email"], address=client_address(request)
            )
        except TooManyRequests as exc:
            return throttled(exc)
        return Response(
            {"detail": "If an account has this address, a reset link is on its way."},
            status=status.HTTP_202_ACCEPTED,
        )


class ResetConfirmSerializer(StrictSerializer):
    token = serializers.CharField(max_length=200)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=200)


class PasswordResetConfirmView(PublicView):
    """Set a new password with the emailed token; every existing sign-in ends."""

    @extend_schema(request=ResetConfirmSerializer, responses={204: None})
    def post(self, request):
        serializer = ResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.portal_password_reset_confirm(**serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeSerializer(StrictSerializer):
    id = serializers.CharField(read_only=True)
    organization = serializers.CharField(read_only=True)
    name = serializers.CharField(max_length=200, required=False)
    email = serializers.EmailField(read_only=True)
    email_verified = serializers.BooleanField(read_only=True)
    date_of_birth = serializers.DateField(read_only=True)
    phone = serializers.RegexField(
        r"^(\+[1-9]\d{7,14})?$",
        required=False,
        allow_blank=True,
        error_messages={"invalid": "Use E.164, e.g. +19165550100."},
    )
    consent_email = serializers.BooleanField(required=False)
    consent_sms = serializers.BooleanField(required=False)
    patient_record = serializers.BooleanField(read_only=True)


def me_data(user: User) -> dict:
    account = PortalAccount.objects.select_related("user__organization").get(user=user)
    patient = Patient.objects.filter(portal_user=user).only("consent_email", "consent_sms").first()
    return {
        "id": account.public_id,
        "organization": account.user.organization.public_id,
        "name": account.user.name,
        "email": account.user.email,
        "email_verified": account.email_verified,
        "date_of_birth": account.date_of_birth,
        "phone": account.phone,
        "consent_email": patient.consent_email if patient else False,
        "consent_sms": patient.consent_sms if patient else False,
        "patient_record": patient is not None,
    }


class MeView(APIView):
    """The signed-in patient's own account."""

    permission_classes = [IsPatient]

    @extend_schema(responses={200: MeSerializer})
    def get(self, request):
        return Response(MeSerializer(me_data(request.user)).data)

    @extend_schema(request=MeSerializer, responses={200: MeSerializer})
    def patch(self, request):
        serializer = MeSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.portal_account_update(user=request.user, data=dict(serializer.validated_data))
        return Response(MeSerializer(me_data(request.user)).data)
