import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { createServer, type SecureContextOptions, type TLSSocket } from "node:tls";
import {
  DescribeCertificateCommand,
  type IoTClient,
  ListAttachedPoliciesCommand,
  ListPrincipalThingsV2Command,
  ResourceNotFoundException,
} from "@aws-sdk/client-iot";
import { Aedes, type AuthenticateError, type Client } from "aedes";
import { iotCertificateId } from "../functions/core/certificate-id.ts";
import { topicBelongsTo } from "../functions/core/identity.ts";

export interface BrokerTls {
  /** CA certificate(s) client certificates must chain to: the private CA. */
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface BrokerOptions {
  readonly port: number;
  readonly host?: string;
  readonly tls: BrokerTls;
  readonly iot: IoTClient;
  /** The policy a certificate must have attached (IoT Core denies everything without one). */
  readonly policyName: string;
  /** How often connected clients' certificates are looked up again; IoT Core takes minutes, we take seconds. */
  readonly recheckIntervalMs?: number;
  readonly log?: (line: string) => void;
  /** Called when an admitted device connects or disconnects, like IoT Core's lifecycle events. */
  readonly onPresence?: (event: { clientId: string; connected: boolean; ip: string | undefined }) => void;
  /** Called for every message a device publishes (after authorization), like an IoT topic rule. */
  readonly onPublish?: (message: { clientId: string; topic: string; payload: Buffer }) => void;
}

export interface Broker {
  readonly port: number;
  readonly url: string;
  /** Swaps the trust anchor and server certificate (after the emulator was reset); new connections only. */
  setTls(tls: BrokerTls): void;
  /** Number of MQTT clients currently connected. */
  connectedClients(): number;
  /** Closes the connection of the client with this id (IoT Core's DeleteConnection); false if none. */
  disconnect(clientId: string): boolean;
  /** Publishes as the service (what iot-data `Publish` does on AWS): delivered to subscribers, QoS 1. */
  publish(topic: string, payload: string | Buffer): Promise<void>;
  close(): Promise<void>;
}

interface Admitted {
  readonly cn: string;
  readonly certificateId: string;
}

class Refused extends Error implements AuthenticateError {
  constructor(
    message: string,
    readonly returnCode: AuthenticateError["returnCode"],
  ) {
    super(message);
  }
}
const IDENTIFIER_REJECTED = 2;
const NOT_AUTHORIZED = 5;

/**
 * A local stand-in for the IoT Core data plane: MQTT over mutual TLS whose admission mirrors IoT Core with
 * Tether's device policy. TLS admits only certificates chaining to the private CA; then the certificate
 * (SHA-256 of its DER) must be ACTIVE in the IoT registry, attached to a thing and to the device policy; the
 * client id must equal the certificate's CN; topics and filters must stay under that CN. Connected clients
 * whose certificate stops being ACTIVE are dropped at the next recheck.
 */
export async function startBroker(options: BrokerOptions): Promise<Broker> {
  const { iot, policyName, recheckIntervalMs = 1_000, host = "127.0.0.1" } = options;
  const log = options.log ?? (() => {});
  const admitted = new WeakMap<Client, Admitted>();
  const clients = new Set<Client>();

  const aedes = await Aedes.createBroker({
    authenticate(client, _username, _password, done) {
      admit(client).then(
        (identity) => {
          admitted.set(client, identity);
          done(null, true);
        },
        (error: unknown) => {
          log(`refused ${client.id}: ${(error as Error).message}`);
          done(error instanceof Refused ? error : new Refused("lookup failed", NOT_AUTHORIZED), false);
        },
      );
    },
    authorizePublish(client, packet, callback) {
      const identity = client && admitted.get(client);
      if (identity && topicBelongsTo(identity.cn, packet.topic)) return callback(null);
      // IoT Core disconnects a client that publishes where its policy does not allow.
      callback(new Error(`publish to ${packet.topic} not allowed`));
    },
    authorizeSubscribe(client, subscription, callback) {
      const identity = admitted.get(client);
      if (identity && topicBelongsTo(identity.cn, subscription.topic)) return callback(null, subscription);
      // A null subscription answers SUBACK 0x80 (failure) for this filter, as IoT Core does.
      callback(null, null);
    },
    authorizeForward(client, packet) {
      const identity = admitted.get(client);
      return identity && topicBelongsTo(identity.cn, packet.topic) ? packet : null;
    },
  });
  aedes.on("clientReady", (client) => {
    clients.add(client);
    const ip = (client.conn as TLSSocket).remoteAddress?.replace(/^::ffff:/, "");
    options.onPresence?.({ clientId: client.id, connected: true, ip });
  });
  aedes.on("publish", (packet, client) => {
    if (client && options.onPublish) {
      options.onPublish({ clientId: client.id, topic: packet.topic, payload: Buffer.from(packet.payload) });
    }
  });
  aedes.on("clientDisconnect", (client) => {
    if (clients.delete(client))
      options.onPresence?.({ clientId: client.id, connected: false, ip: undefined });
  });

  async function admit(client: Client): Promise<Admitted> {
    const socket = client.conn as TLSSocket;
    const certificate = socket.getPeerX509Certificate?.();
    if (!certificate) throw new Refused("no client certificate", NOT_AUTHORIZED);
    const certificateId = iotCertificateId(certificate.raw);
    const description = await describe(certificateId);
    if (description?.status !== "ACTIVE") {
      throw new Refused(
        `certificate ${certificateId} is ${description?.status ?? "not registered"}`,
        NOT_AUTHORIZED,
      );
    }
    const arn = description.arn;
    const [things, policies] = await Promise.all([
      iot.send(new ListPrincipalThingsV2Command({ principal: arn })),
      iot.send(new ListAttachedPoliciesCommand({ target: arn })),
    ]);
    if ((things.principalThingObjects ?? []).length === 0) {
      throw new Refused("certificate is not attached to a thing", NOT_AUTHORIZED);
    }
    if (!(policies.policies ?? []).some((p) => p.policyName === policyName)) {
      throw new Refused(`certificate has no ${policyName} policy`, NOT_AUTHORIZED);
    }
    const cn = commonName(certificate.subject);
    if (cn === undefined || client.id !== cn) {
      throw new Refused(`client id ${client.id} is not the certificate's CN ${cn}`, IDENTIFIER_REJECTED);
    }
    return { cn, certificateId };
  }

  async function describe(certificateId: string): Promise<{ status: string; arn: string } | undefined> {
    try {
      const out = await iot.send(new DescribeCertificateCommand({ certificateId }));
      const d = out.certificateDescription;
      return d?.certificateArn ? { status: d.status ?? "UNKNOWN", arn: d.certificateArn } : undefined;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  const server = createServer(
    { ...secureContext(options.tls), requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.2" },
    (socket) => aedes.handle(socket),
  );
  // A refused TLS handshake is normal traffic here, not a crash.
  server.on("tlsClientError", (error) => log(`TLS refused: ${error.message}`));
  server.listen(options.port, host);
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;

  let rechecking = false;
  const recheck = setInterval(() => {
    if (rechecking) return;
    rechecking = true;
    void recheckAll().finally(() => {
      rechecking = false;
    });
  }, recheckIntervalMs);
  recheck.unref();

  async function recheckAll(): Promise<void> {
    await Promise.all(
      [...clients].map(async (client) => {
        const identity = admitted.get(client);
        if (!identity) return;
        try {
          const description = await describe(identity.certificateId);
          if (description?.status === "ACTIVE") return;
          log(`dropping ${identity.cn}: certificate is ${description?.status ?? "gone"}`);
          client.close();
        } catch (error) {
          // The registry being unreachable is not a reason to drop anyone; try again next round.
          log(`recheck of ${identity.cn} failed: ${(error as Error).message}`);
        }
      }),
    );
  }

  return {
    port,
    url: `mqtts://localhost:${port}/`,
    setTls: (tls) => server.setSecureContext(secureContext(tls)),
    connectedClients: () => clients.size,
    disconnect(clientId) {
      const client = [...clients].find((c) => c.id === clientId);
      if (!client) return false;
      log(`disconnecting ${clientId} (DeleteConnection)`);
      client.close();
      return true;
    },
    publish: (topic, payload) =>
      new Promise<void>((resolve, reject) =>
        aedes.publish(
          { cmd: "publish", topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false },
          (error) => (error ? reject(error) : resolve()),
        ),
      ),
    async close() {
      clearInterval(recheck);
      for (const client of clients) client.close();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function secureContext(tls: BrokerTls): SecureContextOptions {
  return { ca: tls.caPem, cert: tls.certPem, key: tls.keyPem };
}

/** The CN of a subject as node:crypto prints it (`CN=realm/id\nO=…`). */
function commonName(subject: string): string | undefined {
  for (const line of subject.split("\n")) {
    if (line.startsWith("CN=")) return line.slice(3);
  }
  return undefined;
}
