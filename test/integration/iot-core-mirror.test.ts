import { UpdateCertificateCommand } from "@aws-sdk/client-iot";
import mqtt, { type IClientOptions, type MqttClient, type Packet } from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Broker, startBroker } from "../../local/broker.ts";
import { provisionDeviceCertificate, type TestDeviceCertificate } from "../support/device-certificate.ts";
import { connectDevice, endQuietly, noteConnect, paceConnect, waitForClose } from "../support/mqtt.ts";
import { testBed } from "../support/test-bed.ts";

// The local broker's IoT Core rules, one test each, in MQTT 3.1.1 and 5. README "What the local broker
// mirrors" names the AWS source of each.
const REALM = "mirror";
const DEVICE = "AJInS0w3VpWpuOqkXhgZdA";
const OTHER = "f0VMRgIBAQAAAAAAAAAAAA";
/** How long "nothing came back" is watched for: IoT Core never answers these, so any wait is a choice. */
const SILENCE_MS = 800;

const outcome = <T>(work: Promise<T>, ms = SILENCE_MS) =>
  Promise.race([work.then(() => "answered" as const), new Promise((r) => setTimeout(() => r("silent"), ms))]);

/** Packets the client received, for reading SUBACK and DISCONNECT codes that mqtt.js turns into errors. */
function received(client: MqttClient): Packet[] {
  const packets: Packet[] = [];
  client.on("packetreceive", (packet) => packets.push(packet));
  return packets;
}

async function until<T>(probe: () => T | undefined, ms = 5_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each([4, 5] as const)("local IoT Core over MQTT %s (4 = 3.1.1)", (protocolVersion) => {
  let device: TestDeviceCertificate;
  let open: MqttClient[] = [];
  const v5 = protocolVersion === 5;
  const connect = async (
    clientId: string,
    d: { certPem: string; keyPem: string } = device,
    keepalive?: number,
  ) => {
    const client = await connectDevice(
      testBed().brokerPort,
      clientId,
      { caPem: testBed().env.caCertPem, ...d },
      { protocolVersion, ...(keepalive === undefined ? {} : { keepalive }) },
    );
    open.push(client);
    return client;
  };

  /** mqtt.js options for the device, for the tests that read the broker's answer themselves. */
  const rawOptions = (): IClientOptions => ({
    protocol: "mqtts",
    host: "127.0.0.1",
    port: testBed().brokerPort,
    servername: "localhost",
    clientId: device.cn,
    ca: testBed().env.caCertPem,
    cert: device.certPem,
    key: device.keyPem,
    reconnectPeriod: 0,
    protocolVersion,
  });

  beforeAll(async () => {
    device = await provisionDeviceCertificate(testBed(), REALM, DEVICE);
  });
  afterEach(async () => {
    await Promise.all(open.map(endQuietly));
    open = [];
  });

  it("connects, subscribes, publishes and receives under its own prefix", async () => {
    const client = await connect(device.cn);
    const message = new Promise<string>((resolve) => client.once("message", (_t, p) => resolve(String(p))));
    await client.subscribeAsync(`${device.cn}/#`, { qos: 1 });
    await client.publishAsync(`${device.cn}/data`, "21.5", { qos: 1 });
    expect(await message).toBe("21.5");
  });

  it("never acknowledges a QoS 2 publish, and delivers nothing of it", async () => {
    const client = await connect(device.cn);
    const messages: string[] = [];
    client.on("message", (_t, p) => messages.push(String(p)));
    await client.subscribeAsync(`${device.cn}/#`, { qos: 1 });
    // No PUBREC ever comes, so mqtt.js's QoS 2 flow never completes.
    expect(await outcome(client.publishAsync(`${device.cn}/two`, "exactly-once", { qos: 2 }))).toBe("silent");
    await client.publishAsync(`${device.cn}/one`, "at-least-once", { qos: 1 });
    await until(() => (messages.length > 0 ? true : undefined));
    expect(messages).toEqual(["at-least-once"]);
    expect(client.connected).toBe(true);
  });

  it("never acknowledges a SUBSCRIBE asking for QoS 2, and subscribes nothing", async () => {
    const client = await connect(device.cn);
    const messages: string[] = [];
    client.on("message", (_t, p) => messages.push(String(p)));
    expect(await outcome(client.subscribeAsync(`${device.cn}/two/#`, { qos: 2 }))).toBe("silent");
    await client.subscribeAsync(`${device.cn}/one/#`, { qos: 1 });
    await client.publishAsync(`${device.cn}/two/x`, "no", { qos: 1 });
    await client.publishAsync(`${device.cn}/one/x`, "yes", { qos: 1 });
    await until(() => (messages.length > 0 ? true : undefined));
    expect(messages).toEqual(["yes"]);
  });

  it("refuses a client id other than the certificate's CN", async () => {
    await expect(connect(`${REALM}/${OTHER}`)).rejects.toThrow(
      v5 ? /Not authorized/i : /Identifier rejected/i,
    );
  });

  it("refuses an empty client id and one longer than 128 bytes", async () => {
    if (v5) {
      // An MQTT 5 client may send an empty id and let the server assign one; IoT Core's policy cannot match it.
      await expect(connect("")).rejects.toThrow(/Client Identifier not valid/i);
    }
    await expect(connect("x".repeat(129))).rejects.toThrow(
      v5 ? /Client Identifier not valid/i : /Identifier rejected/i,
    );
  });

  it("takes one CONNECT per second per client id", async () => {
    await paceConnect(device.cn);
    const options = rawOptions();
    const first = await mqtt.connectAsync(options);
    open.push(first);
    const second = mqtt.connect(options);
    open.push(second);
    // MQTT 3.1.1 has no code for it: the connection is closed unanswered. MQTT 5 says why.
    const answer = await new Promise<string>((resolve) => {
      second.once("connect", () => resolve("connected"));
      second.once("error", (error) => resolve(error.message));
      second.once("close", () => resolve("closed"));
    });
    noteConnect(device.cn);
    expect(answer).toMatch(v5 ? /Connection rate exceeded/ : /^closed$/);
    expect(first.connected).toBe(true);
  });

  it("disconnects a client that publishes outside its prefix", async () => {
    const client = await connect(device.cn);
    const packets = received(client);
    const closed = waitForClose(client, 5_000);
    client.publish(`${REALM}/${OTHER}/data`, "x", { qos: 1 });
    await closed;
    if (v5) expect(packets.find((p) => p.cmd === "disconnect")).toMatchObject({ reasonCode: 0x87 });
  });

  it("refuses subscriptions outside its prefix, too deep, or more than 8 at once", async () => {
    const client = await connect(device.cn);
    const packets = received(client);
    // Eight slashes: well-formed MQTT (mqtt.js would not send a malformed filter), too deep for IoT Core.
    const deep = `${device.cn}/a/b/c/d/e/f/g`;
    client.subscribe([`${REALM}/${OTHER}/#`, deep, `${device.cn}/x`], { qos: 1 }, () => {});
    const suback = await until(() => packets.find((p) => p.cmd === "suback"));
    expect((suback as { granted: number[] }).granted).toEqual(v5 ? [0x87, 0x8f, 1] : [0x80, 0x80, 1]);
    const nine = Array.from({ length: 9 }, (_, i) => `${device.cn}/s${i}`);
    client.subscribe(nine, { qos: 1 }, () => {});
    const second = await until(() => packets.filter((p) => p.cmd === "suback")[1]);
    expect((second as { granted: number[] }).granted).toEqual(nine.map(() => (v5 ? 0x97 : 0x80)));
  });

  it("disconnects a publish on a topic deeper than 7 slashes or longer than 256 bytes", async () => {
    const seven = `${device.cn}/a/b/c/d/e/f`; // the CN holds one slash
    const first = await connect(device.cn);
    await first.publishAsync(seven, "ok", { qos: 1 });
    const deep = waitForClose(first, 5_000);
    first.publish(`${seven}/g`, "too deep", { qos: 1 });
    await deep;
    const second = await connect(device.cn);
    const long = waitForClose(second, 5_000);
    second.publish(`${device.cn}/${"x".repeat(257 - device.cn.length)}`, "too long", { qos: 1 });
    await long;
  });

  it("disconnects a publish whose payload exceeds 128 KB", async () => {
    const client = await connect(device.cn);
    await client.publishAsync(`${device.cn}/big`, Buffer.alloc(128 * 1024), { qos: 1 });
    const closed = waitForClose(client, 5_000);
    client.publish(`${device.cn}/big`, Buffer.alloc(128 * 1024 + 1), { qos: 1 });
    await closed;
  });

  it("disconnects a retained publish: Tether's policy grants no iot:RetainPublish", async () => {
    const client = await connect(device.cn);
    const closed = waitForClose(client, 5_000);
    client.publish(`${device.cn}/state`, "on", { qos: 1, retain: true });
    await closed;
  });

  it("matches `a/#` as IoT Core does: not `a` itself", async () => {
    const client = await connect(device.cn);
    const topics: string[] = [];
    client.on("message", (topic) => topics.push(topic));
    await client.subscribeAsync(`${device.cn}/#`, { qos: 1 });
    await client.publishAsync(device.cn, "parent", { qos: 1 });
    await client.publishAsync(`${device.cn}/child`, "child", { qos: 1 });
    await until(() => (topics.length > 0 ? true : undefined));
    await new Promise((r) => setTimeout(r, 200));
    expect(topics).toEqual([`${device.cn}/child`]);
  });

  it("lets a second connection with the same client id take over the first", async () => {
    const first = await connect(device.cn);
    const packets = received(first);
    const closed = waitForClose(first, 5_000);
    const second = await connect(device.cn);
    await closed;
    expect(second.connected).toBe(true);
    if (v5) expect(packets.find((p) => p.cmd === "disconnect")).toMatchObject({ reasonCode: 0x8e });
  });

  it("drops a client whose certificate is set INACTIVE, and refuses it afterwards", async () => {
    const revocable = await provisionDeviceCertificate(
      testBed(),
      "other",
      `${DEVICE.slice(0, 21)}${protocolVersion}`,
    );
    const client = await connect(revocable.cn, revocable);
    const closed = waitForClose(client, 5_000);
    await testBed().clients.iot.send(
      new UpdateCertificateCommand({ certificateId: revocable.certificateId, newStatus: "INACTIVE" }),
    );
    await closed;
    await expect(connect(revocable.cn, revocable)).rejects.toThrow(/Not authorized/i);
  });

  it("refuses a will message outside the device's prefix", async () => {
    await paceConnect(device.cn);
    const attempt = mqtt.connectAsync({
      ...rawOptions(),
      will: { topic: `${REALM}/${OTHER}/lwt`, payload: Buffer.from("gone"), qos: 1, retain: false },
    });
    await expect(attempt).rejects.toThrow(/Not authorized/i);
  });

  it.runIf(v5)(
    "tells an MQTT 5 client the keep-alive it applies: 30 s at least, 1200 s at most",
    async () => {
      const fast = await connect(device.cn, device, 5);
      const settings = (fast as unknown as { connackPacket?: { properties?: { serverKeepAlive?: number } } })
        .connackPacket;
      expect(settings?.properties?.serverKeepAlive).toBe(30);
    },
  );

  it.runIf(v5)("resolves topic aliases a client sets", async () => {
    const client = await connect(device.cn);
    const topics: string[] = [];
    client.on("message", (topic) => topics.push(topic));
    await client.subscribeAsync(`${device.cn}/#`, { qos: 1 });
    await client.publishAsync(`${device.cn}/aliased`, "1", { qos: 1, properties: { topicAlias: 1 } });
    await client.publishAsync("", "2", { qos: 1, properties: { topicAlias: 1 } });
    await until(() => (topics.length >= 2 ? true : undefined));
    expect(topics).toEqual([`${device.cn}/aliased`, `${device.cn}/aliased`]);
  });
});

describe("local IoT Core without mosquitto (Aedes, MQTT 3.1.1 only)", () => {
  let broker: Broker;
  let device: TestDeviceCertificate;
  const open: MqttClient[] = [];
  beforeAll(async () => {
    const bed = testBed();
    broker = await startBroker({
      port: 0,
      tls: { caPem: bed.env.caCertPem, ...bed.env.broker },
      iot: bed.clients.iot,
      policyName: bed.env.policyName,
      backend: "aedes",
    });
    device = await provisionDeviceCertificate(bed, REALM, OTHER);
  });
  afterAll(async () => {
    await Promise.all(open.map(endQuietly));
    await broker.close();
  });

  it("keeps MQTT 3.1.1 working under the same rules", async () => {
    expect(broker.protocolVersions).toEqual([4]);
    const tls = { caPem: testBed().env.caCertPem, ...device };
    const client = await connectDevice(broker.port, device.cn, tls);
    open.push(client);
    const message = new Promise<string>((resolve) => client.once("message", (_t, p) => resolve(String(p))));
    await client.subscribeAsync(`${device.cn}/#`, { qos: 1 });
    expect(await outcome(client.publishAsync(`${device.cn}/two`, "x", { qos: 2 }))).toBe("silent");
    await client.publishAsync(`${device.cn}/one`, "y", { qos: 1 });
    expect(await message).toBe("y");
  });

  it("answers an MQTT 5 CONNECT with 'unsupported protocol version'", async () => {
    const tls = { caPem: testBed().env.caCertPem, ...device };
    await expect(connectDevice(broker.port, device.cn, tls, { protocolVersion: 5 })).rejects.toThrow(
      /Unsupported Protocol Version/i,
    );
  });
});
