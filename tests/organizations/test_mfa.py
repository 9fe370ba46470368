"""Two-factor sign-in for staff with real TOTP codes from pyotp: enrolment, sign-in, replay,
recovery codes, a practice that requires it, and failures counted by the sign-in limits."""

import logging
import time

import pyotp
import pytest

from services.core.audit import AuditEntry
from services.organizations import signin
from services.organizations.models import AccessToken, MfaDevice, MfaRecoveryCode, Role, SignInAttempts
from tests.conftest import client_for
from tests.factories.organizations import PASSWORD, staff_with_role


@pytest.fixture
def nurse(location):
    return staff_with_role(Role.CLINICIAN, location=location)


def sign_in(anon, user, **extra):
    return anon.post(
        "/api/v1/auth/token", {"email": user.email, "password": PASSWORD, **extra}, format="json"
    )


def fresh_code(totp: pyotp.TOTP, used: set) -> str:
    """The current code, waiting for the next 30 s step when this one was already used."""
    while (code := totp.now()) in used:
        time.sleep(0.5)
    used.add(code)
    return code


def enrol(client) -> tuple[pyotp.TOTP, list[str], set]:
    started = client.post("/api/v1/auth/mfa/enrolment")
    assert started.status_code == 201, started.content
    totp = pyotp.TOTP(started.json()["secret"])
    used: set = set()
    confirmed = client.post(
        "/api/v1/auth/mfa/enrolment/confirm", {"code": fresh_code(totp, used)}, format="json"
    )
    assert confirmed.status_code == 200, confirmed.content
    return totp, confirmed.json()["recovery_codes"], used


def test_enrolment_shows_the_secret_once_as_uri_and_qr_and_stores_it_encrypted(nurse):
    client = client_for(nurse)
    started = client.post("/api/v1/auth/mfa/enrolment")

    assert started.status_code == 201, started.content
    body = started.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    assert body["qr_svg"].lstrip().startswith("<svg") and "</svg>" in body["qr_svg"]
    assert started["Cache-Control"] == "no-store"
    stored = MfaDevice.objects.get(user=nurse)
    assert body["secret"] not in stored.secret_encrypted
    assert client.get("/api/v1/auth/mfa").json() == {
        "enabled": False,
        "pending_confirmation": True,
        "recovery_codes_left": 0,
        "required_by_practice": False,
    }

    wrong = client.post("/api/v1/auth/mfa/enrolment/confirm", {"code": "000000"}, format="json")
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "code"
    assert MfaDevice.objects.get(user=nurse).confirmed_at is None


def test_sign_in_then_needs_a_real_code_and_refuses_its_replay(nurse, anon):
    first_session = client_for(nurse)
    totp, recovery, used = enrol(first_session)
    assert len(recovery) == 10 and len(set(recovery)) == 10
    assert first_session.get("/api/v1/auth/mfa").json()["enabled"] is True

    without = sign_in(anon, nurse)
    assert without.status_code == 401
    assert without.json()["type"].endswith("/mfa-required")

    wrong = sign_in(anon, nurse, otp="123456" if totp.now() != "123456" else "654321")
    assert wrong.status_code == 401 and wrong.json()["type"].endswith("/mfa-invalid")

    code = fresh_code(totp, used)
    ok = sign_in(anon, nurse, otp=code)
    assert ok.status_code == 200, ok.content
    replay = sign_in(anon, nurse, otp=code)
    assert replay.status_code == 401 and replay.json()["type"].endswith("/mfa-invalid")

    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ok.json()['access_token']}")
    assert client.get("/api/v1/locations").status_code == 200
    actions = list(AuditEntry.objects.filter(object_id=nurse.public_id).values_list("action", flat=True))
    assert {"auth.mfa_enrolment_started", "auth.mfa_enrolled", "auth.mfa_failed"} <= set(actions)


def test_a_recovery_code_signs_in_once(nurse, anon):
    _totp, recovery, _used = enrol(client_for(nurse))

    assert sign_in(anon, nurse, recovery_code=recovery[0].upper()).status_code == 200
    assert sign_in(anon, nurse, recovery_code=recovery[0]).status_code == 401
    assert MfaRecoveryCode.objects.filter(user=nurse, used_at__isnull=True).count() == 9
    stored = list(MfaRecoveryCode.objects.filter(user=nurse).values_list("code_hash", flat=True))
    assert not any(c.replace("-", "") in h for c in recovery for h in stored)


def test_confirming_ends_the_sessions_opened_with_the_password_alone(nurse):
    other, current = client_for(nurse), client_for(nurse)
    enrol(current)
    assert current.get("/api/v1/locations").status_code == 200
    assert other.get("/api/v1/locations").status_code == 401


def pair_attempts(user) -> SignInAttempts:
    pair_key = signin._keys(user.email, "127.0.0.1")[0]
    return SignInAttempts.objects.get(key=pair_key)


def test_wrong_codes_count_toward_the_sign_in_limits_and_leaving_the_code_out_resets_nothing(
    nurse, anon, settings
):
    settings.LOGIN_FREE_FAILURES = 2
    enrol(client_for(nurse))
    assert [sign_in(anon, nurse, otp="000000").status_code for _ in range(2)] == [401, 401]
    assert pair_attempts(nurse).attempts == 2
    assert pair_attempts(nurse).next_at is not None  # the next guess from here must wait

    time.sleep(1.1)  # the 1 s wait after the second failure
    assert sign_in(anon, nurse).json()["type"].endswith("/mfa-required")
    assert pair_attempts(nurse).attempts == 2  # the right password without a code gave nothing back
    refused = [sign_in(anon, nurse, otp="000000").status_code for _ in range(2)]
    assert refused[-1] == 429
    assert AuditEntry.objects.filter(action="auth.mfa_failed", object_id=nurse.public_id).count() >= 2


def test_secrets_and_codes_are_never_logged_or_audited(nurse, anon, caplog):
    caplog.set_level(logging.DEBUG)
    client = client_for(nurse)
    secret = client.post("/api/v1/auth/mfa/enrolment").json()["secret"]
    totp = pyotp.TOTP(secret)
    codes = client.post("/api/v1/auth/mfa/enrolment/confirm", {"code": totp.now()}, format="json").json()
    sign_in(anon, nurse, otp="000000")

    audited = str(list(AuditEntry.objects.values_list("changes", flat=True)))
    for text in (caplog.text, audited):
        assert secret not in text
        assert not any(code in text for code in codes["recovery_codes"])


def test_a_practice_that_requires_mfa_lets_unenrolled_staff_only_enrol(admin_client, nurse, org):
    assert (
        admin_client.put("/api/v1/auth/mfa/policy", {"require_mfa": True}, format="json").status_code == 200
    )
    assert AuditEntry.objects.filter(action="organization.require_mfa").exists()

    client = client_for(nurse)
    refused = client.get("/api/v1/locations")
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/mfa-enrolment-required")
    assert client.get("/api/v1/auth/mfa").json()["required_by_practice"] is True

    totp, _codes, used = enrol(client)

    assert client.get("/api/v1/locations").status_code == 200
    off = client.post("/api/v1/auth/mfa/disable", {"code": fresh_code(totp, used)}, format="json")
    assert off.status_code == 422
    assert off.json()["type"].endswith("/mfa-required-by-practice")


def test_turning_mfa_off_needs_a_current_code(nurse, anon):
    client = client_for(nurse)
    totp, _codes, used = enrol(client)
    assert client.post("/api/v1/auth/mfa/disable", {"code": "000000"}, format="json").status_code == 422
    assert (
        client.post("/api/v1/auth/mfa/disable", {"code": fresh_code(totp, used)}, format="json").status_code
        == 204
    )
    assert sign_in(anon, nurse).status_code == 200
    assert not MfaDevice.objects.filter(user=nurse).exists()


def test_an_admin_resets_a_lost_authenticator(admin_client, nurse, anon):
    client = client_for(nurse)
    enrol(client)

    response = admin_client.post(f"/api/v1/staff/{nurse.public_id}/mfa-reset")

    assert response.status_code == 200 and response.json()["mfa_enabled"] is False
    assert client.get("/api/v1/locations").status_code == 401
    assert sign_in(anon, nurse).status_code == 200
    assert not AccessToken.objects.filter(user=nurse, revoked_at__isnull=True).count() == 0
    assert AuditEntry.objects.filter(action="auth.mfa_reset", object_id=nurse.public_id).exists()


def test_enrolling_twice_is_a_conflict_and_bad_codes_are_400(nurse):
    client = client_for(nurse)
    enrol(client)
    assert client.post("/api/v1/auth/mfa/enrolment").status_code == 409
    assert (
        client.post("/api/v1/auth/mfa/enrolment/confirm", {"code": "12ab56"}, format="json").status_code
        == 400
    )
    assert client.post("/api/v1/auth/mfa/enrolment/confirm", {}, format="json").status_code == 400


@pytest.mark.django_db(transaction=True)
def test_one_code_sent_twice_at_once_signs_in_once(nurse):
    """Two real connections present the same fresh code at the same moment: the device row's lock
    and `last_step` let exactly one of them in."""
    import threading

    from django.db import connection

    from services.organizations import mfa, services

    secret = mfa.mfa_enrolment_start(user=nurse).secret
    totp = pyotp.TOTP(secret)
    used: set = set()
    mfa.mfa_enrolment_confirm(user=nurse, code=fresh_code(totp, used))  # (recovery codes, revoked)
    code = fresh_code(totp, used)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(address):
        try:
            barrier.wait()
            services.token_issue(email=nurse.email, password=PASSWORD, address=address, otp=code)
            outcomes.append("signed in")
        except services.InvalidMfaCode:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(f"10.0.0.{i}",)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == ["refused", "signed in"]
