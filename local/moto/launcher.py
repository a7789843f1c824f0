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


# A CA knows only the certificates it issued: RevokeCertificate's documented ResourceNotFoundException is for
# "a resource such as a private CA … or certificate [that] cannot be found". moto records any serial at any CA;
# refuse a serial the CA never issued, so a revocation routed to the wrong CA (a stage moving between CAs)
# fails here as it would on AWS.
_issued_serials: dict[int, tuple[int, set[int]]] = {}


def _serials_issued_by(ca) -> set[int]:  # type: ignore[no-untyped-def]
    from cryptography import x509 as _x509

    seen, serials = _issued_serials.get(id(ca), (0, set()))
    pems = list(ca.issued_certificates.values())
    for pem in pems[seen:]:  # issued_certificates only grows, in insertion order
        serials.add(_x509.load_pem_x509_certificate(pem).serial_number)
    _issued_serials[id(ca)] = (len(pems), serials)
    return serials


def _strict_revoke_certificate(self):  # type: ignore[no-untyped-def]
    params = json.loads(self.body)
    serial = params.get("CertificateSerial") or ""
    if not _SERIAL.match(serial):
        raise JsonRESTError(
            "InvalidRequestException",
            f"CertificateSerial {serial!r} is not colon-separated hexadecimal byte pairs",
        )
    ca = self.acmpca_backend.describe_certificate_authority(params.get("CertificateAuthorityArn"))
    if int(serial.replace(":", ""), 16) not in _serials_issued_by(ca):
        raise JsonRESTError(
            "ResourceNotFoundException",
            f"Certificate with serial {serial} was not issued by {params.get('CertificateAuthorityArn')}",
        )
    return _revoke_certificate(self)


ACMPCAResponse.revoke_certificate = _strict_revoke_certificate
from moto.server import DomainDispatcherApplication, ThreadedMotoServer, create_backend_app  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402


# --- A test bed that holds a fleet -------------------------------------------------------------------------------
# moto 5.2 backs every TransactWriteItems up by deep-copying the whole table once per item of the transaction, and
# its models record every instance ever created (for its dashboard), so none of those copies is ever freed:
# gigabytes after a few hundred pairings, and a transaction's cost grows with the table. Two patches keep the
# semantics and drop the cost:
# 1. The backup holds only the items the transaction touches (and the length of each table's stream): a
#    cancelled transaction restores exactly those, so it still leaves no partial write (DynamoDB's
#    all-or-nothing) and no stream record; the table copies are skipped.
# 2. Model instances are not tracked (only moto's dashboard reads that list; Tether never starts it).
# TETHER_MOTO_VANILLA=1 turns both off, so `npm run bench` can measure the difference.
import contextvars  # noqa: E402
import copy as _copy  # noqa: E402
import os  # noqa: E402
import types  # noqa: E402

import moto.dynamodb.models as _ddb_models  # noqa: E402
from moto.core.common_models import BaseModel  # noqa: E402
from moto.dynamodb.models import DynamoDBBackend  # noqa: E402
from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: E402
from moto.dynamodb.models.table import Table  # noqa: E402

_skip_table_copies = contextvars.ContextVar("skip_table_copies", default=False)


def _deepcopy(value, memo=None):  # type: ignore[no-untyped-def]
    if _skip_table_copies.get() and isinstance(value, Table):
        return value  # the transaction's own backup (below) restores what it touches
    return _copy.deepcopy(value, memo)


def _item_key(table, attributes):  # type: ignore[no-untyped-def]
    hash_value = DynamoType(attributes[table.hash_key_attr])
    range_value = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def _transact_write_items(self, transact_items):  # type: ignore[no-untyped-def]
    backup = []
    streams = {}
    for entry in transact_items:
        for op in entry.values():
            table = self.tables.get(op.get("TableName"))
            attributes = op.get("Item") or op.get("Key")
            if table is None or not attributes or table.hash_key_attr not in attributes:
                continue
            if table.range_key_attr and table.range_key_attr not in attributes:
                continue
            hash_value, range_value = _item_key(table, attributes)
            previous = table.get_item(hash_value, range_value)
            backup.append((table, hash_value, range_value, _copy.deepcopy(previous)))
            if table.stream_shard is not None:
                streams.setdefault(id(table), (table.stream_shard, len(table.stream_shard.items)))
    token = _skip_table_copies.set(True)
    try:
        return _vanilla_transact_write_items(self, transact_items)
    except BaseException:
        for table, hash_value, range_value, previous in reversed(backup):
            if range_value is None:
                if previous is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = previous
            elif previous is None:
                table.items.get(hash_value, {}).pop(range_value, None)
            else:
                table.items[hash_value][range_value] = previous
        for shard, length in streams.values():
            del shard.items[length:]
        raise
    finally:
        _skip_table_copies.reset(token)


def _untracked_new(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
    return object.__new__(cls)


_vanilla_transact_write_items = DynamoDBBackend.transact_write_items
if os.environ.get("TETHER_MOTO_VANILLA") != "1":
    _ddb_models.copy = types.SimpleNamespace(deepcopy=_deepcopy)  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = _transact_write_items
    BaseModel.__new__ = _untracked_new  # type: ignore[method-assign]


# --- Paging as DynamoDB pages ------------------------------------------------------------------------------------
# DynamoDB stops a Query at Limit and returns a LastEvaluatedKey, whether or not another item follows ("If
# LastEvaluatedKey is not empty, it does not necessarily mean that there is more data in the result set", Query
# in the DynamoDB API Reference); moto returns one only when another item follows. A client that stopped at a full
# page would pass here and loop once more on AWS, so the local world pages as DynamoDB does (always on: fidelity).
_vanilla_query = Table.query


def _query_as_dynamodb(self, *args, **kwargs):  # type: ignore[no-untyped-def]
    results, scanned, last_key = _vanilla_query(self, *args, **kwargs)
    limit = kwargs["limit"] if "limit" in kwargs else (args[3] if len(args) > 3 else None)
    if last_key is None and limit and results and len(results) == limit:
        index_name = kwargs["index_name"] if "index_name" in kwargs else (args[7] if len(args) > 7 else None)
        last_key = self._get_last_evaluated_key(results[-1], index_name)
    return results, scanned, last_key


Table.query = _query_as_dynamodb  # type: ignore[method-assign]


# --- A query reads its partition, not the table -------------------------------------------------------------------
# moto answers every Query by sorting the whole table and walking all of it (Table.all_items), so a query's cost
# grows with the table, where DynamoDB reads one partition: the device search's pages (a dozen or more queries
# each) took seconds over a 2,000-device realm. Here the items are grouped by the partition key a query names (the
# table's, or its index's) once per table state, and the query walks its group only. Any request that may write
# starts a new state (the server runs one request at a time), so a group is never stale; what a query returns, in
# which order, and its ScannedCount are moto's own. TETHER_MOTO_VANILLA=1 turns it off.
_READS = {"GetItem", "BatchGetItem", "Query", "Scan", "DescribeTable", "ListTables", "DescribeTimeToLive"}
_table_state = {"version": 0}
_partition_groups: dict = {}


def _note_request(environ) -> None:  # type: ignore[no-untyped-def]
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target.rsplit(".", 1)[-1] not in _READS:
        _table_state["version"] += 1
        _partition_groups.clear()


def _query_in_partition(self, *args, **kwargs):  # type: ignore[no-untyped-def]
    index_name = args[7] if len(args) > 7 else kwargs.get("index_name")
    if index_name:
        index = {i.name: i for i in self.all_indexes()}.get(index_name)
        hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"] if index else []
        conditions = dict(kwargs.get("hash_key_conditions") or [])
        if len(hashes) != 1 or hashes[0] not in conditions:
            return _query_as_dynamodb(self, *args, **kwargs)
        attribute, value = hashes[0], conditions[hashes[0]]
    else:
        attribute, value = self.hash_key_attr, args[0] if args else kwargs.get("hash_key")
    key = (id(self), attribute, _table_state["version"])
    groups = _partition_groups.get(key)
    if groups is None:
        groups = {}
        for item in Table.all_items(self):  # sorted, as moto's query expects
            found = item.attrs.get(attribute)
            if found is not None:
                groups.setdefault(found, []).append(item)
        _partition_groups[key] = groups
    subset = groups.get(value, [])
    self.all_items = lambda: subset  # this call only: the instance attribute shadows the method
    try:
        return _query_as_dynamodb(self, *args, **kwargs)
    finally:
        del self.all_items


if os.environ.get("TETHER_MOTO_VANILLA") != "1":
    Table.query = _query_in_partition  # type: ignore[method-assign]


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
                _note_request(environ)
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
