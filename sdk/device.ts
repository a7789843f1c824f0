import { X509Certificate } from "node:crypto";
import { EventEmitter } from "node:events";
import mqtt, { type MqttClient } from "mqtt";
import { generateKeyAndCsr } from "./csr.ts";
import { DEFAULT_RETRY, PairingClient, PairingError, type RetryPolicy } from "./pairing-client.ts";
import { type Credentials, CredentialsStore } from "./state.ts";

export interface InterfaceVersion {
  readonly major: number;
  readonly minor: number;
}

export interface TetherDeviceOptions {
  /** Pairing API base URL, e.g. `https://api.example.com/pairing`. */
  readonly pairingUrl: string;
  readonly realm: string;
  /** Canonical 22-character device id (see `deviceIdFromString`, `randomDeviceId`). */
  readonly deviceId: string;
  readonly credentialsSecret: string;
  /** Where the key and certificate live (created 0700; files 0600). */
  readonly stateDir: string;
  /** PEM the broker's certificate chains to; on AWS leave it out (Amazon's CAs are trusted by default). */
  readonly brokerCa?: string;
  /** Interfaces the device implements, published as its introspection. */
  readonly introspection?: Readonly<Record<string, InterfaceVersion>>;
  /** Interfaces the server sends on: the device subscribes to `<realm>/<id>/<interface>/#`. */
  readonly serverInterfaces?: readonly string[];
  readonly retry?: RetryPolicy;
  /** For tests: the device's idea of now. */
  readonly clock?: () => Date;
  /** How often to check whether the certificate is due for renewal (default one minute). */
  readonly renewCheckIntervalMs?: number;
  readonly fetch?: typeof fetch;
}

export interface DataEvent {
  readonly interface: string;
  readonly path: string;
  readonly value: unknown;
}

export interface TetherDeviceEvents {
  data: [DataEvent];
  connected: [];
  disconnected: [];
  renewed: [Credentials];
  /** Background failures (reconnect, renewal); retried by the SDK. Not emitted without a listener. */
  error: [Error];
}

const CONNECT_ATTEMPTS = 5;
/**
 * The least time between two CONNECTs of one client id: IoT Core's quota is one per second per client id
 * ("Connect requests per second per client ID", AWS IoT Core endpoints and quotas), with a margin for the
 * TLS handshake that precedes the CONNECT.
 */
const CONNECT_SPACING_MS = 1_100;

/**
 * The TLS connection to the broker was up (its certificate verified) but no MQTT session came of it: most
 * likely an authorization refusal (IoT Core closes the connection; a CONNACK may say "not authorized"; with TLS
 * 1.3 a rejected client certificate also surfaces only now), not the network.
 */
class SessionRefused extends Error {
  constructor(cause: unknown) {
    super(`the broker refused the session: ${(cause as Error)?.message ?? cause}`, { cause });
    this.name = "SessionRefused";
  }
}

/**
 * An Astarte-style device on Tether. `connect()` runs the pairing flow Astarte's SDKs run: use the stored
 * certificate if there is one; if the broker refuses it, ask Pairing whether it is still valid; if not (or if
 * there is none), make a new key on the device, trade a CSR for a certificate, and connect with it. Before the
 * certificate expires (`renew_after`), it renews and switches connections without losing a message. If the
 * broker drops the device (revoked, expired), it goes through the same flow again.
 */
export class TetherDevice extends EventEmitter<TetherDeviceEvents> {
  readonly #options: TetherDeviceOptions;
  readonly #pairing: PairingClient;
  readonly #store: CredentialsStore;
  readonly #clock: () => Date;
  readonly #cn: string;
  #client: MqttClient | undefined;
  #credentials: Credentials | undefined;
  #brokerUrl: string | undefined;
  #switching: Promise<void> | undefined;
  #renewing = false;
  /** When the last CONNECT was answered or refused (performance.now()); the quota is per client id. */
  #lastConnectAt = Number.NEGATIVE_INFINITY;
  #renewTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: TetherDeviceOptions) {
    super();
    this.#options = options;
    this.#pairing = new PairingClient({
      pairingUrl: options.pairingUrl,
      realm: options.realm,
      deviceId: options.deviceId,
      credentialsSecret: options.credentialsSecret,
      retry: options.retry ?? DEFAULT_RETRY,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.#store = new CredentialsStore(options.stateDir);
    this.#clock = options.clock ?? (() => new Date());
    this.#cn = `${options.realm}/${options.deviceId}`;
  }

  /** The MQTT client id and topic prefix: `<realm>/<device_id>`. */
  get commonName(): string {
    return this.#cn;
  }

  /** The credentials in use, if any. */
  get credentials(): Credentials | undefined {
    return this.#credentials;
  }

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  /** Pairs if needed and connects to the broker. */
  async connect(): Promise<void> {
    this.#closed = false;
    this.#brokerUrl ??= (await this.#pairing.info()).protocols.astarte_mqtt_v1.broker_url;
    this.#credentials ??= await this.#store.load();
    let lastError: unknown;
    let refusals = 0;
    let repaired = false;
    for (let attempt = 1; attempt <= CONNECT_ATTEMPTS; attempt++) {
      if (!this.#credentials || this.#clock() >= this.#credentials.notAfter) {
        this.#credentials = await this.#pair();
      }
      try {
        this.#client = await this.#open(this.#credentials);
        this.#startRenewTimer();
        this.emit("connected");
        return;
      } catch (error) {
        lastError = error;
        // Refused: is it the certificate? Pairing says; a certificate it rejects is erased and replaced.
        const verdict = await this.#pairing.verify(this.#credentials.certificatePem);
        if (!verdict.valid) {
          await this.#store.erase();
          this.#credentials = undefined;
        } else if (error instanceof SessionRefused && ++refusals >= 2 && !repaired) {
          // The broker keeps refusing a certificate Pairing calls valid (IoT Core's registry out of step with
          // the record): Astarte's flow would retry it until it expires. A new one supersedes it; once per
          // connect(), and only after a second refusal, so a broker restart does not make a fleet re-pair.
          repaired = true;
          this.#credentials = undefined;
        } else if (attempt < CONNECT_ATTEMPTS) {
          // A valid certificate refused: the broker or the network; wait before the next try.
          await new Promise((resolve) => setTimeout(resolve, this.#pairing.backoff(attempt)));
        }
      }
    }
    throw lastError;
  }

  /** Publishes a value on one of the device's interfaces (QoS 1 unless told). */
  async send(
    interfaceName: string,
    path: string,
    value: unknown,
    options: { qos?: 0 | 1 } = {},
  ): Promise<void> {
    const topic = `${this.#cn}/${interfaceName}${path.startsWith("/") ? path : `/${path}`}`;
    await this.#publish(
      topic,
      JSON.stringify({ v: value, t: this.#clock().toISOString() }),
      options.qos ?? 1,
    );
  }

  /** Publishes key/value metadata about the device (model, MAC…) to `<realm>/<id>/metadata`. */
  async setMetadata(metadata: Readonly<Record<string, string | number | boolean>>): Promise<void> {
    await this.#publish(`${this.#cn}/metadata`, JSON.stringify(metadata), 1);
  }

  /**
   * Renews the certificate if `renew_after` has passed: a new key and certificate, then a switch of the MQTT
   * connection (sends wait for it, none is lost). Returns whether it renewed.
   */
  async renewIfDue(): Promise<boolean> {
    const current = this.#credentials;
    // One renewal at a time: the timer and a caller may both ask.
    if (!current || this.#clock() < current.renewAfter || this.#renewing) return false;
    this.#renewing = true;
    try {
      const renewed = await this.#pair();
      this.#credentials = renewed;
      await this.#switchTo(renewed);
      this.emit("renewed", renewed);
      return true;
    } finally {
      this.#renewing = false;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#renewTimer) clearInterval(this.#renewTimer);
    await this.#client?.endAsync();
    this.#client = undefined;
  }

  async #publish(topic: string, payload: string, qos: 0 | 1): Promise<void> {
    if (this.#switching) await this.#switching;
    const client = this.#client;
    if (!client) throw new Error("not connected: call connect() first");
    await client.publishAsync(topic, payload, { qos });
  }

  async #pair(): Promise<Credentials> {
    const { privateKeyPem, csrPem } = await generateKeyAndCsr({ subject: `CN=${this.#cn},O=Devices` });
    const issued = await this.#pairing.credentials(csrPem);
    const certificate = new X509Certificate(issued.client_crt);
    const notBefore = certificate.validFromDate.getTime();
    const lifetime = certificate.validToDate.getTime() - notBefore;
    const credentials: Credentials = {
      keyPem: privateKeyPem,
      certificatePem: issued.client_crt,
      notAfter: certificate.validToDate,
      renewAfter: issued.renew_after
        ? new Date(issued.renew_after)
        : new Date(notBefore + (lifetime * 2) / 3),
    };
    await this.#store.save(credentials);
    return credentials;
  }

  async #open(credentials: Credentials): Promise<MqttClient> {
    // IoT Core takes one CONNECT per second per client id and closes a faster one unanswered: space them.
    const wait = this.#lastConnectAt + CONNECT_SPACING_MS - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    try {
      return await this.#session(credentials);
    } finally {
      this.#lastConnectAt = performance.now();
    }
  }

  async #session(credentials: Credentials): Promise<MqttClient> {
    const url = new URL(this.#brokerUrl ?? "");
    const client = mqtt.connect({
      protocol: "mqtts",
      host: url.hostname,
      port: Number(url.port || 8883),
      servername: url.hostname,
      clientId: this.#cn,
      key: credentials.keyPem,
      cert: credentials.certificatePem,
      ...(this.#options.brokerCa ? { ca: this.#options.brokerCa } : {}),
      rejectUnauthorized: true,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      clean: true,
    });
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => {
        // TLS completed and still no session: most likely an authorization refusal, not the network.
        const tls = client.stream as { authorized?: boolean } | undefined;
        client.end(true);
        reject(tls?.authorized ? new SessionRefused(error) : error);
      };
      const closed = () => fail(new Error("the broker closed the connection"));
      client.once("connect", () => {
        client.off("error", fail);
        client.off("close", closed);
        resolve();
      });
      client.once("error", fail);
      client.once("close", closed);
    });
    client.on("message", (topic, payload) => this.#deliver(topic, payload));
    client.on("close", () => this.#onDrop(client));
    const introspection = Object.entries(this.#options.introspection ?? {})
      .map(([name, v]) => `${name}:${v.major}:${v.minor}`)
      .join(";");
    await client.publishAsync(this.#cn, introspection, { qos: 1 });
    const filters = (this.#options.serverInterfaces ?? []).map((i) => `${this.#cn}/${i}/#`);
    if (filters.length > 0) await client.subscribeAsync(filters, { qos: 1 });
    return client;
  }

  /** Graceful switch: finish in-flight messages on the old connection, then connect with the new certificate. */
  async #switchTo(credentials: Credentials): Promise<void> {
    const switching = (async () => {
      const old = this.#client;
      this.#client = undefined;
      if (old) {
        old.removeAllListeners("close");
        await old.endAsync();
      }
      this.#client = await this.#open(credentials);
    })();
    this.#switching = switching;
    try {
      await switching;
    } finally {
      this.#switching = undefined;
    }
  }

  #deliver(topic: string, payload: Buffer): void {
    const rest = topic.slice(this.#cn.length + 1);
    const slash = rest.indexOf("/");
    if (slash < 0) return;
    let value: unknown;
    try {
      const parsed = JSON.parse(payload.toString("utf8")) as { v?: unknown };
      value = parsed && typeof parsed === "object" && "v" in parsed ? parsed.v : parsed;
    } catch {
      value = payload.toString("utf8");
    }
    this.emit("data", { interface: rest.slice(0, slash), path: rest.slice(slash), value });
  }

  /** The broker dropped us (revoked, expired, network): go through the pairing flow again, with backoff. */
  #onDrop(client: MqttClient): void {
    if (this.#closed || client !== this.#client) return;
    this.#client = undefined;
    this.emit("disconnected");
    const reconnect = async (attempt: number): Promise<void> => {
      if (this.#closed) return;
      try {
        await this.connect();
      } catch (error) {
        this.#report(error);
        if (error instanceof PairingError && error.status !== 403) return;
        const delay = this.#pairing.backoff(Math.min(attempt, 10));
        setTimeout(() => void reconnect(attempt + 1), delay).unref();
      }
    };
    void reconnect(1);
  }

  /** Background failures go to `error` listeners; with none, they must not crash the process. */
  #report(error: unknown): void {
    if (this.listenerCount("error") > 0)
      this.emit("error", error instanceof Error ? error : new Error(String(error)));
  }

  #startRenewTimer(): void {
    if (this.#renewTimer) return;
    this.#renewTimer = setInterval(() => {
      this.renewIfDue().catch((error: unknown) => this.#report(error));
    }, this.#options.renewCheckIntervalMs ?? 60_000);
    this.#renewTimer.unref();
  }
}
