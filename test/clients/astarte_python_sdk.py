"""Drives the Astarte device SDK for Python, unmodified, against Tether, as its documentation shows.

Usage: astarte_python_sdk.py <pairing base url> <realm> <realm jwt> <device id> <persistency dir>
Registers the device with the SDK's own agent call, lets `DeviceMqtt.connect()` pair (credentials + info)
and connect, and prints one JSON object with what happened at each step.
Run by test/e2e/third-party-clients.test.ts; nothing here is Tether code.
"""

import json
import os
import sys
import time

from astarte.device import DeviceMqtt
from astarte.device.pairing_handler import register_device_with_jwt_token, verify_device_certificate

pairing_url, realm, jwt, device_id, persistency = sys.argv[1:6]
result = {}
secret = register_device_with_jwt_token(device_id, realm, jwt, pairing_url)
result["registered"] = bool(secret)

connack = {}
device = DeviceMqtt(device_id, realm, secret, pairing_url, persistency, ignore_ssl_errors=True)
# The SDK logs a refused CONNECT and keeps its state; read the broker's answer from paho itself.
client = device._DeviceMqtt__mqtt_client
client.on_connect_fail = lambda *_: connack.setdefault("failed", True)
original_on_connect = client.on_connect


def on_connect(c, userdata, flags, rc, *rest):
    connack["rc"] = int(rc)
    original_on_connect(c, userdata, flags, rc, *rest)


client.on_connect = on_connect
client.on_disconnect = lambda *_: connack.setdefault("disconnected", True)
device.connect()
deadline = time.time() + 10
while "rc" not in connack and "disconnected" not in connack and time.time() < deadline:
    time.sleep(0.05)
client.loop_stop()
client.disconnect()

crypto = os.path.join(persistency, device_id, "crypto")
result["paired"] = os.path.exists(os.path.join(crypto, "device.crt"))
result["client_id_sent"] = client._client_id.decode()
result["connack"] = connack
result["verified"] = verify_device_certificate(
    device_id, realm, secret, pairing_url, False, open(os.path.join(crypto, "device.crt")).read()
) if result["paired"] else None
print(json.dumps(result))
