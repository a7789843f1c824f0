"""Drives plain paho-mqtt against a broker with an issued certificate, as a hand-written device would.

Usage: paho_client.py <3.1.1|5> <port> <ca.pem> <cert.pem> <key.pem> <client id>
Prints one JSON object: CONNACK, the granted QoS of a QoS 1 subscription, what came back, and whether a
QoS 2 publish was ever acknowledged. Run by test/e2e/third-party-clients.test.ts; nothing here is Tether code.
"""

import json
import sys
import threading

import paho.mqtt.client as mqtt

version, port, ca, cert, key, client_id = sys.argv[1:7]
protocol = mqtt.MQTTv5 if version == "5" else mqtt.MQTTv311
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
client.tls_set(ca_certs=ca, certfile=cert, keyfile=key)
result = {"protocol": version}
connected = threading.Event()
subscribed = threading.Event()
received = threading.Event()
messages = []


def on_connect(_c, _u, _flags, reason_code, _props):
    result["connack"] = reason_code.value
    connected.set()


def on_subscribe(_c, _u, _mid, reason_codes, _props):
    result["granted"] = [code.value for code in reason_codes]
    subscribed.set()


def on_message(_c, _u, message):
    messages.append(message.payload.decode())
    received.set()


client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect("localhost", int(port), keepalive=60)
client.loop_start()
connected.wait(10)
if result.get("connack") == 0:
    client.subscribe(f"{client_id}/cmd/#", qos=1)
    subscribed.wait(10)
    client.publish(f"{client_id}/cmd/led", b"on", qos=1).wait_for_publish(10)
    received.wait(10)
    result["received"] = messages
    exactly_once = client.publish(f"{client_id}/data", b"exactly-once", qos=2)
    try:
        exactly_once.wait_for_publish(2)
    except (RuntimeError, ValueError):
        pass
    result["qos2_acknowledged"] = exactly_once.is_published()
client.disconnect()
client.loop_stop()
print(json.dumps(result))
