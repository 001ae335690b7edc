from django.http import HttpRequest, HttpResponse


def home(request: HttpRequest) -> HttpResponse:
    """The site's own home page: the tracking API lives beside it, under /api/v1/."""
    who = request.user.get_username() if request.user.is_authenticated else "visitor"
    return HttpResponse(f"<h1>Example site</h1><p>Hello, {who}. Events go to /api/v1/event.</p>")
