"""Run moto's server on loopback with the settings Tether's tests rely on.

Started by local/moto.ts from the project's own venv. Prints one line, "READY <port>", once the server
answers, and exits when its standard input closes (so the emulator never outlives the Node process that
started it) or on SIGTERM/SIGINT.
"""

import argparse
import logging
import signal
import sys
import threading
import urllib.request

# IoT certificate ids must be the SHA-256 of the DER, as on AWS, and garbage PEMs must be refused. The
# /moto-api/config endpoint ignores the "iot" key, so the flag is set in this process before any request.
from moto.core.config import default_user_config

default_user_config["iot"]["use_valid_cert"] = True

import json  # noqa: E402
import re  # noqa: E402

from moto.acmpca.responses import ACMPCAResponse  # noqa: E402
from moto.core.exceptions import JsonRESTError  # noqa: E402
from moto.moto_server.threaded_moto_server import MotoRequestHandler  # noqa: E402

# X.509 bounds a CommonName at 64 characters (RFC 5280, ub-common-name) and Private CA refuses a longer one in
# ApiPassthrough's Subject with a ValidationException; moto ignores ApiPassthrough altogether. Refuse it here
# too, so a CN that could never be issued on AWS is not issued locally either.
_issue_certificate = ACMPCAResponse.issue_certificate


def _strict_issue_certificate(self):  # type: ignore[no-untyped-def]
    subject = (json.loads(self.body).get("ApiPassthrough") or {}).get("Subject") or {}
    common_name = subject.get("CommonName")
    if common_name is not None and not 1 <= len(common_name) <= 64:
        raise JsonRESTError(
            "ValidationException",
            "1 validation error detected: Value at 'apiPassthrough.subject.commonName' failed to satisfy "
            "constraint: Member must have length less than or equal to 64",
        )
    return _issue_certificate(self)


ACMPCAResponse.issue_certificate = _strict_issue_certificate

# RevokeCertificate takes the serial as hexadecimal byte pairs separated by colons (the API reference's example,
# and what `openssl x509 -text` prints); moto's revocation is bookkeeping and takes any text. Refuse other
# shapes, so a serial Private CA would not recognise fails here too.
_revoke_certificate = ACMPCAResponse.revoke_certificate
_SERIAL = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2})*$")


def _strict_revoke_certificate(self):  # type: ignore[no-untyped-def]
    serial = json.loads(self.body).get("CertificateSerial") or ""
    if not _SERIAL.match(serial):
        raise JsonRESTError(
            "InvalidRequestException",
            f"CertificateSerial {serial!r} is not colon-separated hexadecimal byte pairs",
        )
    return _revoke_certificate(self)


ACMPCAResponse.revoke_certificate = _strict_revoke_certificate
from moto.server import DomainDispatcherApplication, ThreadedMotoServer, create_backend_app  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402


class SerializedMotoServer(ThreadedMotoServer):
    """moto with one request processed at a time.

    moto has no per-request locking: two conditional writes or transactions on one item can interleave and
    both pass their condition, which DynamoDB never allows (conditional writes are atomic, transactions
    serializable). Serializing requests restores that per-call atomicity, so concurrency tests exercise
    Tether's logic against the isolation the real service gives. Connections are still accepted concurrently.
    """

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        lock = threading.Lock()

        def serialized(environ, start_response):  # type: ignore[no-untyped-def]
            with lock:
                return list(app(environ, start_response))

        self._server = make_server(self._ip_address, self._port, serialized, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    # Request lines would drown test output; errors still reach stderr.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = SerializedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    with urllib.request.urlopen(f"http://{args.host}:{args.port}/moto-api/data.json", timeout=10):
        pass
    print(f"READY {args.port}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def watch_stdin() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
