"""`/portal/appointments/{id}/confirm`: the page the escort-request e-mail links to. The patient
confirms the appointment and, for ketamine or Spravato, who takes them home (the same service as
the JSON endpoint and a C reply to the reminder text)."""

from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from api.portal.pages import local_label, patient_page
from services.core.errors import DomainError
from services.portal.selectors import portal_appointments
from services.scheduling.models import RIDE_HOME_SERVICE_CODES
from services.scheduling.services.escort import appointment_patient_confirm


@patient_page
@require_http_methods(["GET", "POST"])
def confirm_page(request, appointment_id):
    appointment = (
        portal_appointments(user=request.portal_user)
        .select_related("location", "service")
        .filter(public_id=appointment_id)
        .first()
    )
    if appointment is None:
        context = {"title": "Not found", "message": "There is no such appointment in your portal."}
        return render(request, "portal/message.html", context, status=404)
    error, status = None, 200
    if request.method == "POST":
        ride = appointment.service.code in RIDE_HOME_SERVICE_CODES
        try:
            appointment = appointment_patient_confirm(
                actor=request.portal_user,
                appointment=appointment,
                via="portal",
                escort_name=request.POST.get("escort_name") if ride else None,
                escort_phone=request.POST.get("escort_phone") if ride else None,
            )
        except DomainError as exc:
            error, status = exc.detail, exc.status
        else:
            when = local_label(appointment.start, appointment.location.timezone)
            message = f"Thank you: your appointment on {when} at {appointment.location.name} is confirmed."
            return render(request, "portal/message.html", {"title": "Confirmed", "message": message})
    context = {
        "appointment": appointment,
        "when": local_label(appointment.start, appointment.location.timezone),
        "ride_home": appointment.service.code in RIDE_HOME_SERVICE_CODES,
        "error": error,
    }
    return render(request, "portal/confirm.html", context, status=status)
