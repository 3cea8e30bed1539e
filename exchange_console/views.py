from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_GET


@require_GET
@login_required
def home(request):
    """Microsoft Exchange: the console opens at Organization Configuration > Hub Transport."""
    return redirect("console:organization", tab="send-connectors")
