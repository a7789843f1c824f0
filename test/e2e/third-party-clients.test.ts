import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureVenv } from "../../local/moto.ts";
import { randomDeviceId } from "../../sdk/index.ts";
import { provisionDeviceCertificate } from "../support/device-certificate.ts";
import { paceConnect } from "../support/mqtt.ts";
import { testBed } from "../support/test-bed.ts";
import { type LocalTether, startLocalTether, type TestRealm } from "../support/tether.ts";

// Unmodified third-party device clients, pinned in test/clients/requirements.txt, driven against the local
// stack: the cells of README's compatibility table that these clients fill.
const CLIENTS = resolve(dirname(fileURLToPath(import.meta.url)), "..", "clients");
const VENV = resolve(CLIENTS, "..", "..", ".tether", "clients-venv");
const run = promisify(execFile);

describe("third-party device clients against the local stack", () => {
  let python: string;
  let scratch: string;
  let tether: LocalTether;
  let realm: TestRealm;

  beforeAll(async () => {
    python = await ensureVenv(VENV, join(CLIENTS, "requirements.txt"), "third-party clients", (line) =>
      console.log(line),
    );
    scratch = await mkdtemp(join(tmpdir(), "tether-clients-"));
    tether = await startLocalTether();
    realm = await tether.createRealm("clients");
  }, 600_000);
  afterAll(async () => {
    await tether?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  async function py(script: string, args: string[]): Promise<Record<string, unknown>> {
    const { stdout } = await run(python, [join(CLIENTS, script), ...args], { timeout: 60_000 });
    return JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>;
  }

  async function deviceFiles(deviceId: string) {
    const device = await provisionDeviceCertificate(testBed(), "clients", deviceId);
    const dir = await mkdtemp(join(scratch, "device-"));
    const files = { ca: join(dir, "ca.pem"), cert: join(dir, "device.crt"), key: join(dir, "device.key") };
    await writeFile(files.ca, testBed().env.caCertPem);
    await writeFile(files.cert, device.certPem);
    await writeFile(files.key, device.keyPem);
    return { device, files };
  }

  it.each([
    ["mqtt5", 5],
    ["mqtt311", 4],
  ] as const)(
    "AWS IoT Device SDK v2 (Python, awsiotsdk 1.31.0), %s client: connects, subscribes, publishes, receives; dropped for a foreign topic",
    async (mode, version) => {
      const { device, files } = await deviceFiles(randomDeviceId());
      await paceConnect(device.cn);
      const port = String(testBed().brokerPort);
      const result = await py("aws_iot_sdk_v2.py", [mode, port, files.ca, files.cert, files.key, device.cn]);
      expect(result).toMatchObject({ protocol: version, connected: true, suback: [1], received: ["on"] });
      if (version === 5) {
        // The SDK reads the broker's CONNACK: it applied the default keep-alive, and the foreign topic got 0x87.
        expect(result).toMatchObject({ negotiated_keep_alive: 1200, disconnect_reason_code: 0x87 });
      } else {
        expect(result).toMatchObject({ interrupted_after_foreign_publish: true });
      }
    },
  );

  it.each(["3.1.1", "5"])(
    "paho-mqtt 2.2.0, MQTT %s, client id = CN: QoS 1 works; a QoS 2 publish is never acknowledged",
    async (version) => {
      const { device, files } = await deviceFiles(randomDeviceId());
      await paceConnect(device.cn);
      const port = String(testBed().brokerPort);
      const result = await py("paho_client.py", [version, port, files.ca, files.cert, files.key, device.cn]);
      expect(result).toMatchObject({ connack: 0, granted: [1], received: ["on"], qos2_acknowledged: false });
    },
  );

  it("Astarte device SDK for Python 0.14.0: registers and pairs, then is refused on MQTT for its client id", async () => {
    const deviceId = randomDeviceId();
    const persistency = await mkdtemp(join(scratch, "astarte-"));
    const jwt = await realm.jwt();
    const result = await py("astarte_python_sdk.py", [
      `${tether.url}/pairing`,
      realm.name,
      jwt,
      deviceId,
      persistency,
    ]);
    expect(result).toMatchObject({ registered: true, paired: true, verified: true });
    // The SDK's paho Client() sends an empty client id: refused (CONNACK 2, identifier rejected), as IoT Core's
    // `client/${iot:Certificate.Subject.CommonName}` policy can never match it. paho then retries on its own
    // with a random 22-character id, which is not the certificate's CN either: refused again, for good.
    expect(result.client_id_sent).toMatch(/^[0-9A-Za-z]{22}$/);
    expect(result.client_id_sent).not.toBe(`${realm.name}/${deviceId}`);
    expect(result.connack).toMatchObject({ rc: 2 });
  });
});
