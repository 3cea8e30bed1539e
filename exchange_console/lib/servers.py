"""Names derived from a transport server's name (no Django here: the receive process imports this before
Django is set up)."""


def celery_queue(server_name):
    """The Celery queue that a server's transport worker consumes."""
    return f"transport.{server_name.lower()}"
