"""Real peers for the send side's tests: aiosmtpd servers on loopback addresses standing in for smart hosts and
MX hosts, and a recorder of the Celery tasks the transport sends, which tests run themselves in order."""
import asyncio
import logging
import ssl
import threading
import weakref
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

logging.getLogger("mail.log").setLevel(logging.WARNING)   # aiosmtpd's per-command chatter


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list
    content: bytes
    helo: str
    tls: bool
    client_certificate: dict
    auth_user: str
    peer: tuple = ()          # the client's (address, port)


@dataclass
class SinkHandler:
    """Accepts everything, except recipients listed in `replies` ({address: 'code text'}) and MAIL FROM
    addresses listed there; offers PIPELINING when `pipelining`. `on_data`: called when a message's content has
    arrived, before the reply (what an administrator does while the message is in flight); a reply text it
    returns answers the DATA instead of 250."""
    replies: dict = field(default_factory=dict)
    received: list = field(default_factory=list)
    pipelining: bool = False
    on_data: object = None

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses[:-1] + ["250-PIPELINING"] * self.pipelining + responses[-1:]

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if address in self.replies:
            return self.replies[address]
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.replies:
            return self.replies[address]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        ssl_object = server.transport.get_extra_info("ssl_object")
        self.received.append(Received(
            envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content,
            session.host_name, ssl_object is not None, ssl_object.getpeercert() if ssl_object else {},
            session.auth_data.decode() if isinstance(session.auth_data, bytes) else "", tuple(session.peer[:2])))
        if self.on_data is not None:
            reply = await server.loop.run_in_executor(None, self.on_data)
            if reply:
                return reply
        return "250 2.6.0 Queued mail for delivery"


class ClosingController(Controller):
    """aiosmtpd's Controller, whose stop() first stops listening and ends the sessions still open: a client (a
    worker) connected at that moment would otherwise leave a transport that only the garbage collector finds, with
    a ResourceWarning in whichever test runs then."""

    def __init__(self, *args, **kwargs):
        self._sessions = weakref.WeakSet()
        super().__init__(*args, **kwargs)

    def factory(self):
        session = super().factory()
        self._sessions.add(session)
        return session

    def stop(self, no_assert=False):
        if self._thread is not None:
            asyncio.run_coroutine_threadsafe(self._end_sessions(), self.loop).result(timeout=10)
        super().stop(no_assert)

    async def _end_sessions(self):
        self.server.close()
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.abort()
        for _ in range(3):   # their connection_lost, which closes the sockets, runs (TLS: a step more)
            await asyncio.sleep(0)


class Sink:
    """An SMTP server on address:port. tls: a trustme certificate for STARTTLS; client_ca: require client
    certificates issued by it; credentials: (user, password) that AUTH must present."""

    def __init__(self, address, port, *, tls=None, client_ca=None, credentials=None, replies=None, ident=None,
                 pipelining=False, on_data=None):
        self.handler = SinkHandler(replies=dict(replies or {}), pipelining=pipelining, on_data=on_data)
        kwargs = {"ident": ident or "sink"}
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.configure_cert(context)
            if client_ca is not None:
                context.verify_mode = ssl.CERT_REQUIRED
                client_ca.configure_trust(context)
            kwargs["tls_context"] = context
        if credentials is not None:
            kwargs.update(authenticator=self._authenticator(credentials), auth_require_tls=tls is not None)
        self.controller = ClosingController(self.handler, hostname=address, port=port, **kwargs)

    @staticmethod
    def _authenticator(credentials):
        def check(server, session, envelope, mechanism, auth_data):
            given = (auth_data.login.decode(), auth_data.password.decode())
            return AuthResult(success=given == credentials, handled=False, auth_data=auth_data.login)
        return check

    @property
    def received(self):
        return self.handler.received

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


class TaskRecorder:
    """Stands in for the broker between the transport's Celery tasks: records every task sent through
    transport.dispatch (with the queue it was sent to) and runs them when the test says so, in order, in this
    process, on transport runtimes of its own (one per server, built when a task first needs it)."""

    def __init__(self, monkeypatch):
        import transport.tasks  # noqa: F401 (registers the tasks it runs)
        from exchange_console.celery import app

        self.app = app
        self.sent, self.history = [], []
        self._lock = threading.Lock()
        self.runtimes = Runtimes()
        monkeypatch.setattr(app, "send_task", self._record)
        monkeypatch.setattr(app, "transport_runtimes", self.runtimes, raising=False)

    def _record(self, name, args=(), kwargs=None, queue=None, countdown=None, **options):
        task = self.app.tasks[name]
        with self._lock:
            self.sent.append((task, tuple(args), queue, countdown))
            self.history.append((task, tuple(args), queue, countdown))

    def runtime(self, server_name="HUB01"):
        return self.runtimes.get(server_name.lower())

    def close(self):
        for runtime in self.runtimes.values():
            runtime.close()

    def queues_of(self, task_name):
        """The Celery queues that tasks named `task_name` were sent to, ever."""
        return [queue for task, _, queue, _ in self.history if task.name.endswith(task_name)]

    def run(self, rounds=20, include_delayed=False):
        """Run what was sent (and what that sends), at most `rounds` waves; delayed retries only when asked."""
        for _ in range(rounds):
            with self._lock:
                due = [item for item in self.sent if include_delayed or not item[3]]
                self.sent = [item for item in self.sent if item not in due]
            if not due:
                return
            # As on a worker: what was sent for now runs before what was scheduled for later.
            for task, args, _, _ in sorted(due, key=lambda item: item[3] or 0):
                task.run(*args)


class Runtimes(dict):
    """The transport runtimes the tasks run on, by lower-case server name, built on first use."""

    def get(self, key, default=None):
        if key not in self:
            from transport.runtime import TransportRuntime

            self[key] = TransportRuntime(key)
        return self[key]
