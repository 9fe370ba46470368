"""The page a staff password-reset e-mail links to: one form over the same service as the API's
`POST /api/v1/auth/password-reset/confirm`. CSRF-protected, no JavaScript."""

from django.shortcuts import render
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from services.core.errors import DomainError
from services.organizations import mfa
from services.organizations import staff as staff_services

TEMPLATE = "staff/password_reset.html"


@csrf_protect
@require_http_methods(["GET", "POST"])
def password_reset_page(request):
    token = request.GET.get("token") or request.POST.get("token", "")
    if request.method == "POST":
        try:
            user = staff_services.staff_password_reset_confirm(
                token=token, password=request.POST.get("password", "")
            )
        except DomainError as exc:
            return render(request, TEMPLATE, {"token": token, "error": exc.detail}, status=400)
        return render(request, TEMPLATE, {"done": True, "mfa": mfa.mfa_enrolled(user=user)})
    return render(request, TEMPLATE, {"token": token})
