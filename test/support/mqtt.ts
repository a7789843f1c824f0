import mqtt, { type MqttClient } from "mqtt";

export interface DeviceTls {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** When each client id last sent CONNECT from this test file. */
const lastConnect = new Map<string, number>();

/**
 * Waits until this client id may CONNECT again: IoT Core (and so the local broker) takes one CONNECT per
 * second per client id and closes the connection of a second one without a CONNACK.
 */
export async function paceConnect(clientId: string): Promise<void> {
  const wait = (lastConnect.get(clientId) ?? 0) + 1_050 - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  lastConnect.set(clientId, Date.now());
}

/** Records a CONNECT made outside `connectDevice`, so the next one from this file is paced after it. */
export function noteConnect(clientId: string): void {
  lastConnect.set(clientId, Date.now());
}

export interface ConnectOptions {
  /** MQTT protocol level: 4 (3.1.1, the default) or 5. */
  readonly protocolVersion?: 4 | 5;
  readonly keepalive?: number;
}

/** Connects like a device would; resolves once CONNACK accepts, rejects with the refusal or TLS error. */
export async function connectDevice(
  port: number,
  clientId: string,
  tls: DeviceTls,
  options: ConnectOptions = {},
): Promise<MqttClient> {
  await paceConnect(clientId);
  const client = mqtt.connect({
    protocol: "mqtts",
    host: "127.0.0.1",
    port,
    servername: "localhost",
    clientId,
    ca: tls.caPem,
    cert: tls.certPem,
    key: tls.keyPem,
    rejectUnauthorized: true,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    protocolVersion: options.protocolVersion ?? 4,
    ...(options.keepalive === undefined ? {} : { keepalive: options.keepalive }),
  });
  // The broker counts the CONNECT when it arrives, after the handshake: pace from when the answer came.
  const settled = () => lastConnect.set(clientId, Date.now());
  return new Promise<MqttClient>((resolve, reject) => {
    const fail = (error: Error) => {
      client.end(true);
      reject(error);
    };
    client.once("connect", () => {
      client.off("error", fail);
      client.off("close", onClose);
      resolve(client);
    });
    client.once("error", fail);
    const onClose = () => fail(new Error("connection closed before CONNACK"));
    client.once("close", onClose);
  }).finally(settled);
}

/** Resolves when the client's connection closes (by the broker), or rejects after `timeoutMs`. */
export async function waitForClose(client: MqttClient, timeoutMs: number): Promise<void> {
  if (!client.connected) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still connected after ${timeoutMs} ms`)), timeoutMs);
    client.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Ends a client without waiting on the network. */
export async function endQuietly(client: MqttClient | undefined): Promise<void> {
  if (client) await client.endAsync(true);
}
