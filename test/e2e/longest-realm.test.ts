import { IssueCertificateCommand } from "@aws-sdk/client-acm-pca";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_REALM_NAME_LENGTH, randomDeviceId } from "../../functions/contracts/ids.ts";
import { MAX_COMMON_NAME_LENGTH } from "../../functions/core/identity.ts";
import { generateKeyAndCsr } from "../../local/x509.ts";
import { pairDevice } from "../support/device.ts";
import { connectDevice, endQuietly } from "../support/mqtt.ts";
import { testBed } from "../support/test-bed.ts";
import { type LocalTether, startLocalTether } from "../support/tether.ts";

/**
 * The certificate CN `<realm>/<device id>` must fit X.509's 64-character CommonName, which Private CA enforces:
 * realm names are capped at 41 characters so that it always does.
 */
describe("the longest realm name", () => {
  let tether: LocalTether;
  beforeAll(async () => {
    tether = await startLocalTether();
  });
  afterAll(async () => tether.close());

  it("pairs a device end to end with a 41-character realm, whose CN is exactly 64 characters", async () => {
    const name = `r${"x".repeat(MAX_REALM_NAME_LENGTH - 1)}`;
    const realm = await tether.createRealm(name);
    const device = await pairDevice(tether, realm, randomDeviceId());
    expect(device.cn).toHaveLength(MAX_COMMON_NAME_LENGTH);
    const client = await connectDevice(testBed().brokerPort, device.cn, {
      caPem: testBed().env.caCertPem,
      certPem: device.certPem,
      keyPem: device.keyPem,
    });
    await client.publishAsync(`${device.cn}/hello`, "hi", { qos: 1 });
    await endQuietly(client);
  });

  it("refuses a 42-character realm name with 422 at creation", async () => {
    const response = await tether.request("POST", "/housekeeping/v1/realms", {
      token: tether.adminToken,
      body: { data: { realm_name: `r${"x".repeat(MAX_REALM_NAME_LENGTH)}`, jwt_public_key_pem: "x" } },
    });
    expect(response.status).toBe(422);
    expect(response.body.errors.realm_name).toEqual([
      "must be lowercase letters, digits and _, start with a letter, ≤ 41 chars",
    ]);
  });

  it("the local Private CA refuses a CommonName over 64 characters, as Private CA does", async () => {
    const cn = `${"r".repeat(42)}/${randomDeviceId()}`;
    const { csrPem } = await generateKeyAndCsr({ subject: "CN=device" });
    await expect(
      testBed().clients.pca.send(
        new IssueCertificateCommand({
          CertificateAuthorityArn: testBed().env.caArn,
          Csr: new TextEncoder().encode(csrPem),
          SigningAlgorithm: "SHA256WITHRSA",
          TemplateArn: "arn:aws:acm-pca:::template/EndEntityClientAuthCertificate_APIPassthrough/V1",
          ApiPassthrough: { Subject: { CommonName: cn } },
          Validity: { Type: "DAYS", Value: 1 },
        }),
      ),
    ).rejects.toMatchObject({ name: "ValidationException" });
  });
});
