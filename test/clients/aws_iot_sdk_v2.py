"""Drives the AWS IoT Device SDK v2 for Python (awsiotsdk) against a broker, as a device would.

Usage: aws_iot_sdk_v2.py <mqtt5|mqtt311> <port> <ca.pem> <cert.pem> <key.pem> <client id>
Prints one JSON object: what connected, what was received, and how a foreign-topic publish ended.
Run by test/e2e/third-party-clients.test.ts; nothing here is Tether code.
"""

import json
import sys
import threading

from awscrt import mqtt, mqtt5
from awsiot import mqtt5_client_builder, mqtt_connection_builder

TIMEOUT = 10


def run_mqtt5(port, ca, cert, key, client_id):
    connected = threading.Event()
    stopped = threading.Event()
    received = []
    got_message = threading.Event()
    result = {"protocol": 5}

    def on_success(data):
        result["negotiated_keep_alive"] = data.negotiated_settings.server_keep_alive_sec
        result["negotiated_maximum_qos"] = int(data.negotiated_settings.maximum_qos)
        connected.set()

    def on_failure(data):
        result["connect_error"] = str(data.exception)
        connected.set()

    def on_disconnect(data):
        packet = data.disconnect_packet
        if packet is not None:
            result["disconnect_reason_code"] = int(packet.reason_code)
        stopped.set()

    def on_message(data):
        received.append(data.publish_packet.payload.decode())
        got_message.set()

    client = mqtt5_client_builder.mtls_from_path(
        endpoint="localhost",
        port=port,
        cert_filepath=cert,
        pri_key_filepath=key,
        ca_filepath=ca,
        client_id=client_id,
        on_lifecycle_connection_success=on_success,
        on_lifecycle_connection_failure=on_failure,
        on_lifecycle_disconnection=on_disconnect,
        on_publish_received=on_message,
    )
    client.start()
    connected.wait(TIMEOUT)
    result["connected"] = "connect_error" not in result and connected.is_set()
    if result["connected"]:
        suback = client.subscribe(
            mqtt5.SubscribePacket(subscriptions=[mqtt5.Subscription(f"{client_id}/cmd/#", mqtt5.QoS.AT_LEAST_ONCE)])
        ).result(TIMEOUT)
        result["suback"] = [int(code) for code in suback.reason_codes]
        client.publish(
            mqtt5.PublishPacket(topic=f"{client_id}/cmd/led", payload=b"on", qos=mqtt5.QoS.AT_LEAST_ONCE)
        ).result(TIMEOUT)
        got_message.wait(TIMEOUT)
        result["received"] = received
        foreign = client_id.split("/")[0] + "/someone-else/data"
        client.publish(mqtt5.PublishPacket(topic=foreign, payload=b"x", qos=mqtt5.QoS.AT_LEAST_ONCE))
        stopped.wait(TIMEOUT)
    client.stop()
    return result


def run_mqtt311(port, ca, cert, key, client_id):
    result = {"protocol": 4}
    interrupted = threading.Event()
    connection = mqtt_connection_builder.mtls_from_path(
        endpoint="localhost",
        port=port,
        cert_filepath=cert,
        pri_key_filepath=key,
        ca_filepath=ca,
        client_id=client_id,
        clean_session=True,
        on_connection_interrupted=lambda connection, error, **kwargs: interrupted.set(),
    )
    try:
        connection.connect().result(TIMEOUT)
        result["connected"] = True
    except Exception as error:  # noqa: BLE001 - reported, not handled
        result["connected"] = False
        result["connect_error"] = str(error)
        return result
    received = []
    got_message = threading.Event()

    def on_message(topic, payload, **kwargs):
        received.append(payload.decode())
        got_message.set()

    subscribed, _ = connection.subscribe(f"{client_id}/cmd/#", mqtt.QoS.AT_LEAST_ONCE, on_message)
    result["suback"] = [int(subscribed.result(TIMEOUT)["qos"])]
    published, _ = connection.publish(f"{client_id}/cmd/led", b"on", mqtt.QoS.AT_LEAST_ONCE)
    published.result(TIMEOUT)
    got_message.wait(TIMEOUT)
    result["received"] = received
    foreign = client_id.split("/")[0] + "/someone-else/data"
    connection.publish(foreign, b"x", mqtt.QoS.AT_LEAST_ONCE)
    result["interrupted_after_foreign_publish"] = interrupted.wait(TIMEOUT)
    connection.disconnect().result(TIMEOUT)
    return result


if __name__ == "__main__":
    mode, port, ca, cert, key, client_id = sys.argv[1:7]
    run = run_mqtt5 if mode == "mqtt5" else run_mqtt311
    print(json.dumps(run(int(port), ca, cert, key, client_id)))
