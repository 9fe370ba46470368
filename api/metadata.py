"""OPTIONS answers: DRF's field description, or only the route's basics when it has no one serializer.

Views whose actions each take their own body (recall close/snooze, waitlist offer, ...) declare no
`serializer_class`; DRF's SimpleMetadata asserts one exists and an OPTIONS request became a 500.
"""

from rest_framework.metadata import SimpleMetadata


class ApiMetadata(SimpleMetadata):
    def determine_actions(self, request, view):
        try:
            view.get_serializer_class()
        except AssertionError:  # DRF's "should either include a `serializer_class` attribute"
            return {}
        return super().determine_actions(request, view)
