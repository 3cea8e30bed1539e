"""The EdgeSync channel: HTTPS with mutual TLS from a Hub to its Edge's synchronization listener.

The Edge presents its own certificate, the one its subscription file carried: the Hub accepts no other (pinned
by SHA-256, Direct Trust). The Hub presents its SMTP certificate; the Edge accepts the certificates of the Hubs
its last push named. Until the first push is applied the Edge knows no Hub: the Hub then connects without a
certificate and authenticates with the subscription file's bootstrap account, which expires after 1440 minutes.
Requests and answers are JSON: POST /edgesync/status (the digests the Edge holds) and /edgesync/apply (a push).
"""
import base64
import hashlib
import http.client
import json
import logging
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

from django.db import close_old_connections

from transport.delivery.dns import resolver_for, smart_host_hosts
from transport.tls import load_certificate_chain

log = logging.getLogger("edgesync")

TIMEOUT = 30                       # seconds for a connection, a handshake or an answer
MAX_CONNECTIONS = 16               # at once: a site's Hubs need a few; the rest wait in the listen queue
MAX_REQUEST = 256 * 1024 * 1024    # a push of a large organization's recipients (64 bytes each) fits
STATUS, APPLY = "/edgesync/status", "/edgesync/apply"


class ChannelError(Exception):
    """Why a push couldn't be made, as Test-EdgeSynchronization and the Hub's log say it."""


def fingerprint(der):
    return hashlib.sha256(der).hexdigest()


# --- Hub side --------------------------------------------------------------------------------------------------

class EdgeClient:
    """Requests to one Edge from one Hub. `hub` is the Hub's TransportServer; `certificate` its SMTP certificate
    (PEM chain and key); `edge_fingerprint` the SHA-256 of the certificate the subscription file carried."""

    def __init__(self, hub, certificate, subscription, edge_fingerprint, bootstrap):
        self.hub, self.certificate, self.subscription = hub, certificate, subscription
        self.edge_fingerprint, self.bootstrap = edge_fingerprint, bootstrap

    def call(self, path, body=None):
        address = self._address()
        try:
            return self._request(address, path, body, with_certificate=True)
        except ssl.SSLError as error:
            if not self.bootstrap:
                raise ChannelError(f"The TLS handshake with {self._name()} failed: {error.reason or error}; its "
                                   "bootstrap credential has expired: subscribe the Edge again.") from None
            # The Edge doesn't know this Hub's certificate yet: the bootstrap account introduces it.
            return self._request(address, path, body, with_certificate=False)

    def _name(self):
        return f"{self.subscription.server.name} ({self.subscription.server.fqdn}:{self.subscription.edgesync_port})"

    def _address(self):
        """The Edge's FQDN resolved as the Hub resolves smart hosts (its InternalDNSServers, else the system's)."""
        resolver = resolver_for(self.hub, SimpleNamespace(use_external_dns_servers_enabled=False))
        hosts = smart_host_hosts([self.subscription.server.fqdn], resolver)
        if not hosts or not hosts[0].addresses:
            raise ChannelError(f"{self.subscription.server.fqdn} couldn't be resolved")
        return hosts[0].addresses[0]

    def _request(self, address, path, body, with_certificate):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE   # pinned below, by fingerprint
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if with_certificate and self.certificate.certificate_pem:
            load_certificate_chain(context, self.certificate.certificate_pem, self.certificate.private_key_pem)
        connection = http.client.HTTPSConnection(address, self.subscription.edgesync_port, timeout=TIMEOUT,
                                                 context=context)
        try:
            connection.connect()
            presented = connection.sock.getpeercert(binary_form=True)
            if fingerprint(presented) != self.edge_fingerprint:
                raise ChannelError(f"{self._name()} presented a certificate other than the one its subscription "
                                   "carries; nothing was sent")
            headers = {"Content-Type": "application/json", "X-EdgeSync-Hub": self.hub.name}
            if self.bootstrap:
                account, password = self.bootstrap
                headers["Authorization"] = "Basic " + base64.b64encode(f"{account}:{password}".encode()).decode()
            connection.request("POST", path, json.dumps(body or {}).encode(), headers)
            response = connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as error:
            if isinstance(error, ssl.SSLError):
                raise
            raise ChannelError(f"{self._name()} couldn't be reached: {error}") from None
        finally:
            connection.close()
        if response.status != 200:
            raise ChannelError(f"{self._name()} refused the request: {response.status} {answer.decode(errors='replace')}")
        return json.loads(answer)


# --- Edge side -------------------------------------------------------------------------------------------------

class SyncListener:
    """The Edge's synchronization listener: a thread serving HTTPS on (address, port). `handle(path, body, peer)`
    answers authorized requests; `authorize(fingerprint, authorization)` says whether a peer may push.
    `certificate()` gives the (certificate PEM, key PEM, [PEMs of the Hubs that may push]) to use now: each
    connection gets a context made from it, so a push that names new Hubs takes effect at the next one."""

    def __init__(self, address, port, certificate, authorize, handle):
        self.certificate, self.authorize, self.handle = certificate, authorize, handle
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        listener = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "EdgeSync"

            def setup(self):
                self.request.settimeout(TIMEOUT)
                self.request.do_handshake()
                super().setup()

            def do_POST(self):
                listener._serve(self)

            def log_message(self, format, *args):
                log.debug("EdgeSync %s: " + format, self.client_address[0], *args)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                # A peer that connects and says nothing holds a thread for TIMEOUT at most, and no more than
                # MAX_CONNECTIONS threads exist: a flood waits in the kernel's queue instead of growing the process.
                listener.slots.acquire()
                try:
                    sock, peer = self.socket.accept()
                    return listener._context().wrap_socket(sock, server_side=True, do_handshake_on_connect=False), peer
                except BaseException:
                    listener.slots.release()
                    raise

            def shutdown_request(self, request):
                try:
                    super().shutdown_request(request)
                finally:
                    listener.slots.release()

            def handle_error(self, request, client_address):
                log.warning("EdgeSync request from %s failed", client_address[0], exc_info=True)

        self.server = Server((address, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="edgesync-listener", daemon=True)
        self.thread.start()

    def _context(self):
        certificate_pem, key_pem, hub_certificates = self.certificate()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        load_certificate_chain(context, certificate_pem, key_pem)
        if hub_certificates:
            context.load_verify_locations(cadata="".join(hub_certificates))
            context.verify_mode = ssl.CERT_OPTIONAL
        return context

    def _serve(self, request):
        close_old_connections()
        try:
            der = request.connection.getpeercert(binary_form=True)
            peer = fingerprint(der) if der else None
            if not self.authorize(peer, request.headers.get("Authorization", "")):
                return _answer(request, 401, {"Error": "Not a Hub of the subscribed site, and no valid bootstrap "
                                                       "credential"})
            length = int(request.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST:
                return _answer(request, 413, {"Error": f"A push is at most {MAX_REQUEST} bytes"})
            body = json.loads(request.rfile.read(length) or b"{}")
            return _answer(request, 200, self.handle(request.path, body, request.headers.get("X-EdgeSync-Hub", "")))
        except (ValueError, KeyError) as error:
            return _answer(request, 400, {"Error": f"Malformed request: {error}"})
        finally:
            close_old_connections()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def _answer(request, status, value):
    data = json.dumps(value).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)


def basic_credentials(authorization):
    """(account, password) of an `Authorization: Basic` header, or None."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        account, separator, password = base64.b64decode(value, validate=True).decode().partition(":")
    except ValueError:
        return None
    return (account, password) if separator else None
