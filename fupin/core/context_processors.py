from typing import Any

from django.http import HttpRequest


def fupin(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    area = getattr(user, "area", None) if user is not None and user.is_authenticated else None
    return {"user_area": area}
