"""The registration link and QR code a clinic hands out (a card at the desk, a poster, an email).

The link opens the portal's "Create your account" page for that clinic; it carries no secret, only
the clinic's public id, because the account it creates reaches no record until its address is
confirmed and matched (services.portal.services.portal_record_link_on_file) or staff link it.
"""

import io
from dataclasses import dataclass
from urllib.parse import urlencode

import segno

from services.clinics.models import Location
from services.portal.services import portal_url


@dataclass(frozen=True)
class RegistrationLink:
    location: Location
    url: str
    sign_in_url: str
    qr_svg: str


def registration_url(location: Location) -> str:
    return portal_url("/portal/register?" + urlencode({"clinic": location.public_id}))


def qr_svg(data: str, *, title: str) -> str:
    """An SVG QR code (error correction M, survives a creased card), sized for print at 5 px a module."""
    out = io.BytesIO()
    segno.make(data, error="m", micro=False).save(
        out, kind="svg", scale=5, border=4, xmldecl=False, title=title, nl=False
    )
    return out.getvalue().decode()


def registration_link(location: Location) -> RegistrationLink:
    url = registration_url(location)
    return RegistrationLink(
        location=location,
        url=url,
        sign_in_url=portal_url("/portal/login?" + urlencode({"clinic": location.public_id})),
        qr_svg=qr_svg(url, title=f"Create your patient portal account at {location.name}"),
    )
