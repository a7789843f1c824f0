import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { type Socket, connect as tcpConnect } from "node:net";
import { createServer, type SecureContextOptions, type TLSSocket } from "node:tls";
import {
  DescribeCertificateCommand,
  type IoTClient,
  ListAttachedPoliciesCommand,
  ListPrincipalThingsV2Command,
  ResourceNotFoundException,
} from "@aws-sdk/client-iot";
import mqtt from "mqtt";
import {
  generate,
  type IConnectPacket,
  type IPublishPacket,
  type ISubackPacket,
  type ISubscribePacket,
  type Packet,
  parser as packetParser,
} from "mqtt-packet";
import { iotCertificateId } from "../functions/core/certificate-id.ts";
import { topicBelongsTo } from "../functions/core/identity.ts";
import {
  CONNECT_INTERVAL_PER_CLIENT_ID_MS,
  clientIdProblem,
  effectiveKeepAlive,
  inactivityLimitMs,
  iotFilterMatches,
  MAX_PAYLOAD_BYTES,
  MAX_SUBSCRIPTIONS_PER_SUBSCRIBE,
  sharedFilterTarget,
  topicFilterProblem,
  topicNameProblem,
} from "./iot-core-rules.ts";
import {
  ensureMosquitto,
  MOSQUITTO_HINT,
  type MqttBackend,
  startAedes,
  startMosquitto,
} from "./mqtt-backends.ts";

export interface BrokerTls {
  /** CA certificate(s) client certificates must chain to: the private CA. */
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** IoT Core's lifecycle `disconnectReason` values this broker produces. */
export type DisconnectReason =
  | "CLIENT_INITIATED_DISCONNECT"
  | "DUPLICATE_CLIENTID"
  | "MQTT_KEEP_ALIVE_TIMEOUT"
  | "CONNECTION_LOST"
  | "AUTHORIZATION_ERROR"
  | "CLIENT_ERROR"
  | "API_INITIATED_DISCONNECT"
  | "SERVER_INITIATED_DISCONNECT";

export interface PresenceEvent {
  readonly clientId: string;
  readonly connected: boolean;
  readonly ip: string | undefined;
  readonly disconnectReason?: DisconnectReason;
}

export interface BrokerOptions {
  readonly port: number;
  readonly host?: string;
  readonly tls: BrokerTls;
  readonly iot: IoTClient;
  /** The policy a certificate must have attached (IoT Core denies everything without one). */
  readonly policyName: string;
  /**
   * What routes messages behind the front: `mosquitto` (MQTT 3.1.1 and 5; refused when missing), `aedes`
   * (3.1.1 only), or `auto` (mosquitto when it can be found or fetched, Aedes otherwise). Default `auto`.
   */
  readonly backend?: "auto" | "mosquitto" | "aedes";
  /** How often connected clients' certificates are looked up again; IoT Core takes minutes, we take seconds. */
  readonly recheckIntervalMs?: number;
  readonly log?: (line: string) => void;
  /** Called when an admitted device connects or disconnects, like IoT Core's lifecycle events. */
  readonly onPresence?: (event: PresenceEvent) => void;
  /** Called for every message a device publishes (after authorization), like an IoT topic rule. */
  readonly onPublish?: (message: { clientId: string; topic: string; payload: Buffer }) => void;
}

export interface Broker {
  readonly port: number;
  readonly url: string;
  /** Which router is behind the front, and so which MQTT versions devices may use (4 = 3.1.1, 5). */
  readonly backend: MqttBackend["kind"];
  readonly protocolVersions: readonly number[];
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

/** MQTT 3.1.1 CONNACK return codes and MQTT 5 reason codes the front answers with. */
const V3 = { UNACCEPTABLE_PROTOCOL: 1, IDENTIFIER_REJECTED: 2, NOT_AUTHORIZED: 5 } as const;
const V5 = {
  UNSPECIFIED: 0x80,
  MALFORMED: 0x81,
  PROTOCOL_ERROR: 0x82,
  UNSUPPORTED_PROTOCOL: 0x84,
  CLIENT_ID_NOT_VALID: 0x85,
  NOT_AUTHORIZED: 0x87,
  KEEP_ALIVE_TIMEOUT: 0x8d,
  SESSION_TAKEN_OVER: 0x8e,
  TOPIC_FILTER_INVALID: 0x8f,
  TOPIC_NAME_INVALID: 0x90,
  TOPIC_ALIAS_INVALID: 0x94,
  PACKET_TOO_LARGE: 0x95,
  QUOTA_EXCEEDED: 0x97,
  ADMINISTRATIVE_ACTION: 0x98,
  CONNECTION_RATE_EXCEEDED: 0x9f,
} as const;
const SUBACK_FAILURE_V3 = 0x80;

class Refusal extends Error {
  constructor(
    message: string,
    readonly v3: number,
    readonly v5: number,
  ) {
    super(message);
  }
}

/**
 * A local stand-in for the IoT Core data plane: MQTT 3.1.1 and 5 over mutual TLS, admitted and policed the
 * way IoT Core does with Tether's device policy, in front of a plain message router (mosquitto, or Aedes
 * for 3.1.1 only). TLS admits only certificates chaining to the private CA; then the certificate (SHA-256 of
 * its DER) must be ACTIVE in the IoT registry and attached to a thing and to the device policy; the client id
 * must equal the certificate's CN; topics and filters must stay under that CN; and IoT Core's protocol rules
 * and quotas (`iot-core-rules.ts`) hold. Connected clients whose certificate stops being ACTIVE are dropped
 * at the next recheck.
 */
export async function startBroker(options: BrokerOptions): Promise<Broker> {
  const { iot, policyName, recheckIntervalMs = 1_000, host = "127.0.0.1" } = options;
  const log = options.log ?? (() => {});
  const backend = await startBackend(options.backend ?? "auto", log);
  const connections = new Map<string, Connection>();
  const lastConnect = new Map<string, number>();

  const context: FrontContext = {
    backend,
    log,
    options,
    connections,
    admit: (socket, clientId) => admit(socket, clientId),
    connectAllowed(clientId) {
      const now = Date.now();
      const last = lastConnect.get(clientId);
      lastConnect.set(clientId, now);
      if (lastConnect.size > 100_000) lastConnect.clear();
      return last === undefined || now - last >= CONNECT_INTERVAL_PER_CLIENT_ID_MS;
    },
  };

  async function admit(socket: TLSSocket, clientId: string): Promise<{ cn: string; certificateId: string }> {
    const certificate = socket.getPeerX509Certificate?.();
    if (!certificate) throw new Refusal("no client certificate", V3.NOT_AUTHORIZED, V5.NOT_AUTHORIZED);
    const certificateId = iotCertificateId(certificate.raw);
    const description = await describe(certificateId);
    if (description?.status !== "ACTIVE") {
      throw new Refusal(
        `certificate ${certificateId} is ${description?.status ?? "not registered"}`,
        V3.NOT_AUTHORIZED,
        V5.NOT_AUTHORIZED,
      );
    }
    const arn = description.arn;
    const [things, policies] = await Promise.all([
      iot.send(new ListPrincipalThingsV2Command({ principal: arn })),
      iot.send(new ListAttachedPoliciesCommand({ target: arn })),
    ]);
    if ((things.principalThingObjects ?? []).length === 0) {
      throw new Refusal("certificate is not attached to a thing", V3.NOT_AUTHORIZED, V5.NOT_AUTHORIZED);
    }
    if (!(policies.policies ?? []).some((p) => p.policyName === policyName)) {
      throw new Refusal(`certificate has no ${policyName} policy`, V3.NOT_AUTHORIZED, V5.NOT_AUTHORIZED);
    }
    const cn = commonName(certificate.subject);
    if (cn === undefined || clientId !== cn) {
      // The policy allows iot:Connect only on `client/${iot:Certificate.Subject.CommonName}`.
      throw new Refusal(
        `client id ${clientId} is not the certificate's CN ${cn}`,
        V3.IDENTIFIER_REJECTED,
        V5.NOT_AUTHORIZED,
      );
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
    (socket) => new Connection(context, socket),
  );
  // A refused TLS handshake is normal traffic here, not a crash.
  server.on("tlsClientError", (error) => log(`TLS refused: ${error.message}`));
  server.listen(options.port, host);
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;

  // The service's own session on the router, for iot-data Publish.
  const service = await mqtt.connectAsync({
    host: "127.0.0.1",
    port: backend.port,
    clientId: `tether-service-${process.pid}`,
    protocolVersion: 4,
    reconnectPeriod: 1_000,
  });

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
      [...connections.values()].map(async (connection) => {
        const certificateId = connection.certificateId;
        if (!certificateId) return;
        try {
          const description = await describe(certificateId);
          if (description?.status === "ACTIVE") return;
          log(`dropping ${connection.clientId}: certificate is ${description?.status ?? "gone"}`);
          connection.drop("AUTHORIZATION_ERROR", V5.NOT_AUTHORIZED);
        } catch (error) {
          // The registry being unreachable is not a reason to drop anyone; try again next round.
          log(`recheck of ${connection.clientId} failed: ${(error as Error).message}`);
        }
      }),
    );
  }

  return {
    port,
    url: `mqtts://localhost:${port}/`,
    backend: backend.kind,
    protocolVersions: backend.protocolVersions,
    setTls: (tls) => server.setSecureContext(secureContext(tls)),
    connectedClients: () => connections.size,
    disconnect(clientId) {
      const connection = connections.get(clientId);
      if (!connection) return false;
      log(`disconnecting ${clientId} (DeleteConnection)`);
      connection.drop("API_INITIATED_DISCONNECT", V5.ADMINISTRATIVE_ACTION);
      return true;
    },
    publish: async (topic, payload) => {
      await service.publishAsync(topic, Buffer.from(payload), { qos: 1 });
    },
    async close() {
      clearInterval(recheck);
      for (const connection of [...connections.values()]) {
        connection.drop("SERVER_INITIATED_DISCONNECT", V5.UNSPECIFIED);
      }
      await service.endAsync(true);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await backend.close();
    },
  };
}

async function startBackend(
  wanted: "auto" | "mosquitto" | "aedes",
  log: (line: string) => void,
): Promise<MqttBackend> {
  if (wanted === "aedes") return startAedes();
  const mosquitto = await ensureMosquitto(log);
  if (mosquitto) return startMosquitto(mosquitto, log);
  if (wanted === "mosquitto") throw new Error(`mosquitto is not available. ${MOSQUITTO_HINT}`);
  log(`MQTT 3.1.1 only (Aedes). ${MOSQUITTO_HINT}`);
  return startAedes();
}

interface FrontContext {
  readonly backend: MqttBackend;
  readonly log: (line: string) => void;
  readonly options: BrokerOptions;
  /** Open connections by client id. */
  readonly connections: Map<string, Connection>;
  admit(socket: TLSSocket, clientId: string): Promise<{ cn: string; certificateId: string }>;
  /** IoT Core's one CONNECT per second per client id; records this attempt. */
  connectAllowed(clientId: string): boolean;
}

/** How long a client has, after TLS, to send CONNECT. */
const CONNECT_TIMEOUT_MS = 10_000;

/** One device's connection: the TLS socket to the device, and a plain socket to the router once admitted. */
class Connection {
  clientId = "";
  certificateId: string | undefined;
  private cn = "";
  private version: 4 | 5 = 4;
  private state: "awaiting-connect" | "admitting" | "open" | "closed" = "awaiting-connect";
  private upstream: Socket | undefined;
  private readonly queued: Packet[] = [];
  private readonly filters = new Set<string>();
  /** SUBSCRIBE packet id → the reason code of each filter the front refused (undefined: sent upstream). */
  private readonly pendingSubacks = new Map<number, (number | undefined)[]>();
  private readonly aliases = new Map<number, string>();
  private reason: DisconnectReason = "CONNECTION_LOST";
  private keepAliveMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly parser = packetParser({ protocolVersion: 4 });

  constructor(
    private readonly ctx: FrontContext,
    private readonly socket: TLSSocket,
  ) {
    this.arm(CONNECT_TIMEOUT_MS);
    this.parser.on("packet", (packet) => this.fromDevice(packet));
    this.parser.on("error", (error: Error) => {
      this.ctx.log(`malformed packet from ${this.clientId || "a client"}: ${error.message}`);
      this.drop("CLIENT_ERROR", V5.MALFORMED);
    });
    socket.on("data", (chunk: Buffer) => {
      if (this.state !== "closed") this.parser.parse(chunk);
    });
    socket.on("error", () => {});
    socket.on("close", () => this.closed());
  }

  /** Ends the connection, telling an MQTT 5 client why; `reason` is what the lifecycle event will say. */
  drop(reason: DisconnectReason, v5ReasonCode: number): void {
    if (this.state === "closed") return;
    this.reason = reason;
    if (this.version === 5 && this.state === "open") {
      this.toDevice({ cmd: "disconnect", reasonCode: v5ReasonCode });
    }
    this.socket.end();
    this.socket.destroySoon();
    this.closed();
  }

  private closed(): void {
    if (this.state === "closed") return;
    const wasOpen = this.state === "open";
    this.state = "closed";
    clearTimeout(this.timer);
    this.upstream?.destroy();
    if (!this.socket.destroyed) this.socket.destroy();
    if (wasOpen) {
      if (this.ctx.connections.get(this.clientId) === this) this.ctx.connections.delete(this.clientId);
      this.ctx.options.onPresence?.({
        clientId: this.clientId,
        connected: false,
        ip: undefined,
        disconnectReason: this.reason,
      });
    }
  }

  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.state === "open") {
        this.ctx.log(`${this.clientId}: keep-alive expired`);
        this.drop("MQTT_KEEP_ALIVE_TIMEOUT", V5.KEEP_ALIVE_TIMEOUT);
      } else {
        this.drop("CLIENT_ERROR", V5.UNSPECIFIED);
      }
    }, ms);
    this.timer.unref();
  }

  private toDevice(packet: Packet): void {
    if (!this.socket.destroyed) this.socket.write(generate(packet, { protocolVersion: this.version }));
  }

  private toRouter(packet: Packet): void {
    if (this.upstream && !this.upstream.destroyed) {
      this.upstream.write(generate(packet, { protocolVersion: this.version }));
    }
  }

  private refuseConnect(refusal: Refusal, reason: string): void {
    this.ctx.log(`refused ${this.clientId || "(empty client id)"}: ${reason}`);
    this.toDevice(
      this.version === 5
        ? { cmd: "connack", sessionPresent: false, reasonCode: refusal.v5 }
        : { cmd: "connack", sessionPresent: false, returnCode: refusal.v3 },
    );
    this.socket.end();
    this.state = "closed";
    clearTimeout(this.timer);
  }

  private fromDevice(packet: Packet): void {
    if (this.state === "closed") return;
    if (this.state === "awaiting-connect") {
      if (packet.cmd !== "connect") {
        this.drop("CLIENT_ERROR", V5.PROTOCOL_ERROR);
        return;
      }
      this.state = "admitting";
      void this.connect(packet);
      return;
    }
    if (this.state === "admitting") {
      // IoT Core expects a client to wait for CONNACK; whatever comes early waits for it here.
      this.queued.push(packet);
      return;
    }
    this.arm(this.keepAliveMs);
    this.handle(packet);
  }

  private async connect(packet: IConnectPacket): Promise<void> {
    const version = packet.protocolVersion ?? 4;
    this.version = version === 5 ? 5 : 4;
    (this.parser as unknown as { settings: { protocolVersion: number } }).settings.protocolVersion =
      this.version;
    this.clientId = packet.clientId;
    if (version === 3 || !this.ctx.backend.protocolVersions.includes(version)) {
      const why =
        version === 5
          ? `MQTT 5 needs the mosquitto router (${MOSQUITTO_HINT})`
          : `MQTT protocol level ${version} (IoT Core speaks 3.1.1 and 5)`;
      return this.refuseConnect(new Refusal(why, V3.UNACCEPTABLE_PROTOCOL, V5.UNSUPPORTED_PROTOCOL), why);
    }
    const idProblem = clientIdProblem(packet.clientId);
    if (idProblem) {
      return this.refuseConnect(
        new Refusal(idProblem, V3.IDENTIFIER_REJECTED, V5.CLIENT_ID_NOT_VALID),
        idProblem,
      );
    }
    if (!this.ctx.connectAllowed(packet.clientId)) {
      this.ctx.log(`refused ${packet.clientId}: more than one CONNECT per second`);
      if (this.version === 5) {
        return this.refuseConnect(
          new Refusal("connect rate", V3.NOT_AUTHORIZED, V5.CONNECTION_RATE_EXCEEDED),
          "more than one CONNECT per second",
        );
      }
      // MQTT 3.1.1 has no code for throttling: the connection is closed without a CONNACK.
      this.state = "closed";
      this.socket.destroy();
      return;
    }
    try {
      const identity = await this.ctx.admit(this.socket, packet.clientId);
      this.cn = identity.cn;
      this.certificateId = identity.certificateId;
    } catch (error) {
      const refusal =
        error instanceof Refusal ? error : new Refusal("lookup failed", V3.NOT_AUTHORIZED, V5.UNSPECIFIED);
      return this.refuseConnect(refusal, (error as Error).message);
    }
    if (this.state === "closed") return;
    if (packet.will) {
      const problem = this.publishProblem(packet.will.topic, packet.will.retain ?? false);
      if (problem || Buffer.byteLength(packet.will.payload) > MAX_PAYLOAD_BYTES) {
        return this.refuseConnect(
          new Refusal("will", V3.NOT_AUTHORIZED, V5.NOT_AUTHORIZED),
          `will message: ${problem?.why ?? "payload too large"}`,
        );
      }
    }
    this.keepAliveMs = inactivityLimitMs(packet.keepalive ?? 0);
    // A second connection with this client id takes over: IoT Core disconnects the earlier one.
    this.ctx.connections.get(this.clientId)?.takenOver();
    this.openUpstream(packet);
  }

  private openUpstream(packet: IConnectPacket): void {
    const upstream = tcpConnect(this.ctx.backend.port, "127.0.0.1");
    this.upstream = upstream;
    const parser = packetParser({ protocolVersion: this.version });
    parser.on("packet", (p) => this.fromRouter(p, packet));
    parser.on("error", (error: Error) => {
      this.ctx.log(`router sent a malformed packet: ${error.message}`);
      this.drop("SERVER_INITIATED_DISCONNECT", V5.UNSPECIFIED);
    });
    upstream.on("data", (chunk: Buffer) => parser.parse(chunk));
    upstream.on("error", () => {});
    upstream.on("close", () => {
      if (this.state !== "closed") {
        this.socket.end();
        this.closed();
      }
    });
    const { topicAliasMaximum: _noAliasesFromRouter, ...properties } = packet.properties ?? {};
    // The front enforces keep-alive with IoT Core's bounds, so the router gets none.
    this.toRouter({ ...packet, keepalive: 0, ...(this.version === 5 ? { properties } : {}) });
  }

  private fromRouter(packet: Packet, connect: IConnectPacket): void {
    if (this.state === "closed") return;
    if (this.state === "admitting") {
      if (packet.cmd !== "connack") return;
      const accepted = (this.version === 5 ? packet.reasonCode : packet.returnCode) === 0;
      if (!accepted) {
        this.toDevice(packet);
        this.socket.end();
        this.closed();
        return;
      }
      const requested = connect.keepalive ?? 0;
      const applied = effectiveKeepAlive(requested);
      if (this.version === 5) {
        // The router saw keep-alive 0; the client is told only what IoT Core would tell it.
        const { serverKeepAlive: _router, ...properties } = packet.properties ?? {};
        packet.properties = applied === requested ? properties : { ...properties, serverKeepAlive: applied };
      }
      this.ctx.connections.set(this.clientId, this);
      this.state = "open";
      this.toDevice(packet);
      this.arm(this.keepAliveMs);
      this.ctx.options.onPresence?.({
        clientId: this.clientId,
        connected: true,
        ip: this.socket.remoteAddress?.replace(/^::ffff:/, ""),
      });
      for (const early of this.queued.splice(0)) this.handle(early);
      return;
    }
    switch (packet.cmd) {
      case "publish":
        this.deliver(packet);
        return;
      case "suback":
        this.answerSubscribe(packet);
        return;
      case "disconnect":
        if (packet.reasonCode === V5.SESSION_TAKEN_OVER) this.reason = "DUPLICATE_CLIENTID";
        this.toDevice(packet);
        this.socket.end();
        this.closed();
        return;
      default:
        this.toDevice(packet);
    }
  }

  /** Another connection claimed this client id. */
  takenOver(): void {
    this.ctx.connections.delete(this.clientId);
    this.drop("DUPLICATE_CLIENTID", V5.SESSION_TAKEN_OVER);
  }

  private handle(packet: Packet): void {
    switch (packet.cmd) {
      case "publish":
        this.publish(packet);
        return;
      case "subscribe":
        this.subscribe(packet);
        return;
      case "unsubscribe":
        for (const filter of packet.unsubscriptions) this.filters.delete(filter);
        this.toRouter(packet);
        return;
      case "disconnect":
        this.reason = "CLIENT_INITIATED_DISCONNECT";
        this.toRouter(packet);
        this.socket.end();
        this.closed();
        return;
      case "connect":
      case "auth":
        this.drop("CLIENT_ERROR", V5.PROTOCOL_ERROR);
        return;
      default:
        this.toRouter(packet);
    }
  }

  /** Why IoT Core would refuse a PUBLISH (or a will) on this topic, and how. */
  private publishProblem(topic: string, retain: boolean): { why: string; v5: number } | undefined {
    const invalid = topicNameProblem(topic);
    if (invalid) return { why: `topic ${JSON.stringify(topic)}: ${invalid}`, v5: V5.TOPIC_NAME_INVALID };
    if (!topicBelongsTo(this.cn, topic))
      return { why: `publish to ${topic} not allowed`, v5: V5.NOT_AUTHORIZED };
    // Tether's device policy grants iot:Publish but not iot:RetainPublish.
    if (retain) return { why: `retained publish to ${topic} not allowed`, v5: V5.NOT_AUTHORIZED };
    return undefined;
  }

  private publish(packet: IPublishPacket): void {
    if (packet.qos === 2) {
      // [differences] IoT Core does not support QoS 2: no PUBREC, and the message goes nowhere.
      this.ctx.log(`${this.clientId}: QoS 2 publish to ${packet.topic} ignored (IoT Core has no QoS 2)`);
      return;
    }
    const alias = packet.properties?.topicAlias;
    if (alias !== undefined) {
      if (packet.topic) this.aliases.set(alias, packet.topic);
      const topic = this.aliases.get(alias);
      if (topic === undefined) {
        this.drop("CLIENT_ERROR", V5.TOPIC_ALIAS_INVALID);
        return;
      }
      packet.topic = topic;
      const { topicAlias: _resolved, ...rest } = packet.properties ?? {};
      packet.properties = rest;
    }
    const problem = this.publishProblem(packet.topic, packet.retain);
    if (problem) {
      this.ctx.log(`dropping ${this.clientId}: ${problem.why}`);
      this.drop(problem.v5 === V5.NOT_AUTHORIZED ? "AUTHORIZATION_ERROR" : "CLIENT_ERROR", problem.v5);
      return;
    }
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    if (payload.length > MAX_PAYLOAD_BYTES) {
      this.ctx.log(`dropping ${this.clientId}: payload of ${payload.length} bytes`);
      this.drop("CLIENT_ERROR", V5.PACKET_TOO_LARGE);
      return;
    }
    this.toRouter(packet);
    this.ctx.options.onPublish?.({ clientId: this.clientId, topic: packet.topic, payload });
  }

  private subscribe(packet: ISubscribePacket): void {
    const subscriptions = packet.subscriptions;
    if (subscriptions.some((s) => s.qos === 2)) {
      // [differences] "When QoS level 2 is requested, the message broker doesn't send a … SUBACK."
      this.ctx.log(`${this.clientId}: SUBSCRIBE asking QoS 2 ignored (IoT Core has no QoS 2)`);
      return;
    }
    const failure = (v5: number) => (this.version === 5 ? v5 : SUBACK_FAILURE_V3);
    let codes: (number | undefined)[];
    if (subscriptions.length > MAX_SUBSCRIPTIONS_PER_SUBSCRIBE) {
      codes = subscriptions.map(() => failure(V5.QUOTA_EXCEEDED));
    } else {
      codes = subscriptions.map(({ topic }) => {
        if (topicFilterProblem(topic)) return failure(V5.TOPIC_FILTER_INVALID);
        const target = sharedFilterTarget(topic) ?? "";
        return topicBelongsTo(this.cn, target) ? undefined : failure(V5.NOT_AUTHORIZED);
      });
    }
    const allowed = subscriptions.filter((_, index) => codes[index] === undefined);
    for (const [index, code] of codes.entries()) {
      if (code !== undefined)
        this.ctx.log(`${this.clientId}: subscription to ${subscriptions[index]?.topic} refused`);
    }
    if (allowed.length === 0) {
      this.toDevice({ cmd: "suback", messageId: packet.messageId ?? 0, granted: codes as number[] });
      return;
    }
    this.pendingSubacks.set(packet.messageId ?? 0, codes);
    for (const { topic } of allowed) this.filters.add(topic);
    this.toRouter({ ...packet, subscriptions: allowed });
  }

  private answerSubscribe(packet: ISubackPacket): void {
    const codes = this.pendingSubacks.get(packet.messageId ?? 0);
    this.pendingSubacks.delete(packet.messageId ?? 0);
    if (!codes) {
      this.toDevice(packet);
      return;
    }
    const granted = [...(packet.granted as number[])];
    const merged = codes.map((code) => code ?? granted.shift() ?? failureOf(this.version));
    this.toDevice({ ...packet, granted: merged });
  }

  /** A message the router sends this client: delivered only where IoT Core would deliver it. */
  private deliver(packet: IPublishPacket): void {
    const wanted =
      topicBelongsTo(this.cn, packet.topic) &&
      [...this.filters].some((filter) => iotFilterMatches(filter, packet.topic));
    if (wanted) {
      this.toDevice(packet);
      return;
    }
    // Matched by the router's MQTT rules but not IoT Core's (`a/#` does not match `a`): acknowledged, not sent.
    if (packet.qos === 1) this.toRouter({ cmd: "puback", messageId: packet.messageId ?? 0 });
  }
}

function failureOf(version: 4 | 5): number {
  return version === 5 ? V5.UNSPECIFIED : SUBACK_FAILURE_V3;
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
