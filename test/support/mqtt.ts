import mqtt, { type MqttClient } from "mqtt";

export interface DeviceTls {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** Connects like a device would; resolves once CONNACK accepts, rejects with the refusal or TLS error. */
export async function connectDevice(port: number, clientId: string, tls: DeviceTls): Promise<MqttClient> {
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
    protocolVersion: 4,
  });
  return new Promise((resolve, reject) => {
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
  });
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
