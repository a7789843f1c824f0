import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import { DescribeCertificateCommand } from "@aws-sdk/client-iot";
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { iotCertificateId } from "../../functions/core/certificate-id.ts";
import type { SweepReport } from "../../functions/core/use-cases/sweep.ts";
import { bundleHandlers, HANDLERS_DIR } from "../../infra/bundling.ts";
import { devicePath, pairDevice, verify } from "../support/device.ts";
import { connectDevice, endQuietly, waitForClose } from "../support/mqtt.ts";
import { testBed } from "../support/test-bed.ts";
import { type LocalTether, startLocalTether, type TestRealm } from "../support/tether.ts";

/*
 * The Lambda bundles, exactly as the CDK app ships them (infra/bundling.ts: the environment-only credential
 * provider, the SDK schema rewrite, per-handler wiring), served by the local API Gateway stand-in against
 * moto and the broker. What the rest of the suite proves of the sources, this proves of the artifacts.
 */
describe("the deployed bundles pair a device end to end", () => {
  let outdir: string;
  let tether: LocalTether;
  let realm: TestRealm;
  beforeAll(async () => {
    outdir = await mkdtemp(join(tmpdir(), "tether-bundles-test-"));
    const handlers = (await readdir(HANDLERS_DIR))
      .filter((f) => f.endsWith(".ts"))
      .map((f) => basename(f, ".ts"));
    await bundleHandlers(handlers, outdir);
    tether = await startLocalTether({ handlersDir: outdir });
    realm = await tether.createRealm("bundled");
  });
  afterAll(async () => {
    await tether?.close();
    await rm(outdir, { recursive: true, force: true });
  });

  it("registers, issues into IoT, connects, verifies, inhibits with revocation, and the sweeper cleans up", async () => {
    const device = await pairDevice(tether, realm, "AJInS0w3VpWpuOqkXhgZdA");
    const info = await tether.request("GET", devicePath(realm.name, device.deviceId), {
      token: device.secret,
    });
    expect(info.body.data).toMatchObject({ status: "confirmed", protocols: { astarte_mqtt_v1: {} } });

    const { iot } = testBed().clients;
    const certificateId = iotCertificateId(
      Buffer.from(device.certPem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64"),
    );
    const described = await iot.send(new DescribeCertificateCommand({ certificateId }));
    expect(described.certificateDescription?.status).toBe("ACTIVE");

    const client = await connectDevice(testBed().brokerPort, device.cn, {
      keyPem: device.keyPem,
      certPem: device.certPem,
      caPem: testBed().env.caCertPem,
    });
    try {
      const verified = await verify(tether, realm.name, device, device.certPem);
      expect(verified.body.data).toMatchObject({ valid: true });

      const inhibited = await tether.request(
        "PATCH",
        `/appengine/v1/${realm.name}/devices/${device.deviceId}`,
        {
          token: await realm.jwt(),
          body: { data: { credentials_inhibited: true, revoke_credentials: true } },
          headers: { "content-type": "application/merge-patch+json" },
        },
      );
      expect(inhibited.status).toBe(200);
      await waitForClose(client, 5_000);
    } finally {
      await endQuietly(client);
    }
    const revoked = await verify(tether, realm.name, device, device.certPem);
    expect(revoked.body.data).toMatchObject({ valid: false, cause: "REVOKED" });

    const sweeper = (await import(pathToFileURL(join(outdir, "sweeper", "index.mjs")).href)) as {
      handler: (event: unknown, context: Context) => Promise<SweepReport>;
    };
    // What the sweeper reads of Lambda's context: its remaining time (it stops taking rounds near the end).
    const context = {
      functionName: "sweeper",
      awsRequestId: "bundle-test",
      getRemainingTimeInMillis: () => 90_000,
    } as unknown as Context;
    const report = await sweeper.handler({}, context);
    expect(report.outcomes.revoked).toBe(1);
    await expect(iot.send(new DescribeCertificateCommand({ certificateId }))).rejects.toThrow(
      /not found|does not exist/i,
    );
  });

  it("answers health, version, the OpenAPI document and a realm's devices", async () => {
    expect((await tether.request("GET", "/pairing/health")).status).toBe(200);
    expect((await tether.request("GET", `/pairing/v1/${realm.name}/version`)).status).toBe(200);
    const openapi = await tether.request("GET", "/pairing/openapi.json");
    expect(openapi.body.openapi).toMatch(/^3\.1/);
    const devices = await tether.request("GET", `/appengine/v1/${realm.name}/devices`, {
      token: await realm.jwt(),
    });
    expect(devices.body.data).toHaveLength(1);
  });
});
