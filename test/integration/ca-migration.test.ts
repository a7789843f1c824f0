import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../functions/adapters/config.ts";
import { createPairingDeps, pairingDeps, setPairingDeps } from "../../functions/adapters/container.ts";
import { PrivateCaAuthority } from "../../functions/adapters/private-ca-authority.ts";
import { SWEEP_SHARDS } from "../../functions/adapters/table-schema.ts";
import { randomDeviceId } from "../../functions/contracts/ids.ts";
import { boundedRun, sweep } from "../../functions/core/use-cases/sweep.ts";
import { createRootCa } from "../../local/bootstrap.ts";
import { runningFunction } from "../../local/function-context.ts";
import { pairDevice, requestCertificate, verify } from "../support/device.ts";
import { testBed } from "../support/test-bed.ts";
import { type LocalTether, startLocalTether, type TestRealm } from "../support/tether.ts";

const HOUR = 3600_000;
const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toLowerCase();
const signedBy = (pem: string, caPem: string) =>
  new X509Certificate(pem).verify(new X509Certificate(caPem).publicKey);

/**
 * A stage moving to a CA of the other mode (README, "Changing the CA"), against moto's Private CA, whose
 * RevokeCertificate the launcher makes refuse a serial the CA never issued, as AWS answers ResourceNotFound.
 */
describe("moving to a new CA while the old one's certificates live out their validity", () => {
  let tether: LocalTether;
  let realm: TestRealm;
  let oldCa: { caArn: string; caCertPem: string };
  let newCa: { caArn: string; caCertPem: string };
  const runSweep = () =>
    runningFunction.run("sweeper", () => sweep(pairingDeps(), boundedRun(SWEEP_SHARDS, 100)));
  /** Redeploys the functions with these CAs: what `cdk deploy` does to their environment. */
  const deployWith = (issuing: string, retiring: string | undefined) => {
    process.env.CA_ARN = issuing;
    if (retiring) process.env.CA_RETIRING_ARN = retiring;
    else delete process.env.CA_RETIRING_ARN;
    setPairingDeps(createPairingDeps(loadConfig(), testBed().clients, tether.clock));
  };

  beforeAll(async () => {
    tether = await startLocalTether();
    realm = await tether.createRealm("moving", { grace_seconds: 3600 });
    oldCa = { caArn: testBed().env.caArn, caCertPem: testBed().env.caCertPem };
    newCa = await createRootCa(testBed().clients.pca, {
      usageMode: "GENERAL_PURPOSE",
      commonName: "Tether local root CA (general-purpose)",
    });
  });
  afterAll(async () => {
    delete process.env.CA_RETIRING_ARN;
    await tether.close();
  });

  it("verifies and revokes the old CA's certificates at the old CA, and issues from the new one", async () => {
    const moving = await pairDevice(tether, realm, randomDeviceId());
    const staying = await pairDevice(tether, realm, randomDeviceId());
    expect(signedBy(moving.certPem, oldCa.caCertPem)).toBe(true);

    deployWith(newCa.caArn, oldCa.caArn);
    // The old CA's certificates stay good: verify trusts both CAs.
    for (const d of [moving, staying]) {
      const { body } = await verify(tether, realm.name, d, d.certPem);
      expect(body.data).toMatchObject({ valid: true });
    }
    // A renewal comes from the new CA, and is recorded as its.
    const renewed = await requestCertificate(tether, realm.name, moving.deviceId, moving.secret);
    expect(signedBy(renewed.certPem, newCa.caCertPem)).toBe(true);
    expect(signedBy(renewed.certPem, oldCa.caCertPem)).toBe(false);
    const records = await pairingDeps().store.listCertificates(realm.name, moving.deviceId);
    expect(Object.fromEntries(records.map((r) => [r.serial, r.issuer]))).toEqual({
      [serialOf(moving.certPem)]: oldCa.caArn,
      [serialOf(renewed.certPem)]: newCa.caArn,
    });
    expect((await verify(tether, realm.name, moving, renewed.certPem)).body.data).toMatchObject({
      valid: true,
    });

    // Past its grace, the superseded certificate is revoked at the CA that issued it (the new CA would refuse).
    tether.clock.advance(2 * HOUR);
    const report = await runSweep();
    expect(report.outcomes).toMatchObject({ superseded: 1, failed: 0 });
    const adapter = (arn: string, retiring?: string) =>
      new PrivateCaAuthority(testBed().clients.pca, {
        certificateAuthorityArn: arn,
        retiringCertificateAuthorityArn: retiring,
        signingAlgorithm: "SHA256WITHECDSA",
        clock: tether.clock,
      });
    await expect(
      adapter(newCa.caArn).revokeCertificate(serialOf(moving.certPem), "SUPERSEDED", newCa.caArn),
    ).rejects.toThrow();
    // A record from before issuers were recorded came from the CA then configured: the retiring one.
    await expect(
      adapter(newCa.caArn, oldCa.caArn).revokeCertificate(
        serialOf(staying.certPem),
        "UNSPECIFIED",
        undefined,
      ),
    ).resolves.toBeUndefined();
  });

  it("once the old CA is retired, its certificates no longer verify and the device pairs again", async () => {
    deployWith(oldCa.caArn, undefined);
    const late = await pairDevice(tether, realm, randomDeviceId());
    expect(signedBy(late.certPem, oldCa.caCertPem)).toBe(true);

    // The old CA removed too early (before `late`'s certificate expired).
    deployWith(newCa.caArn, undefined);
    const { body } = await verify(tether, realm.name, late, late.certPem);
    expect(body.data).toMatchObject({ valid: false, cause: "INVALID_ISSUER" });
    const repaired = await requestCertificate(tether, realm.name, late.deviceId, late.secret);
    expect(signedBy(repaired.certPem, newCa.caCertPem)).toBe(true);
    // Its old certificate still leaves IoT past its grace; the revocation is skipped (no CA left to ask), not failed.
    tether.clock.advance(2 * HOUR);
    const report = await runSweep();
    expect(report.outcomes).toMatchObject({ failed: 0 });
    expect(report.outcomes.superseded).toBeGreaterThanOrEqual(1);
  });
});
