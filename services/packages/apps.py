from django.apps import AppConfig


class PackagesConfig(AppConfig):
    name = "services.packages"
    label = "packages"

    def ready(self):
        # A plan past due beyond the clinic's limit blocks new bookings of its services.
        from services.packages.services import booking_require_good_standing
        from services.scheduling.services.booking import register_booking_rule

        register_booking_rule(booking_require_good_standing)
