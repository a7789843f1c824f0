import {
  ACMPCAClient,
  GetCertificateCommand,
  RequestAlreadyProcessedException,
  RequestInProgressException,
  RevokeCertificateCommand,
} from "@aws-sdk/client-acm-pca";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { fetchIssuedCertificate } from "../../functions/adapters/pca-polling.ts";
import { PrivateCaAuthority, pcaSerial } from "../../functions/adapters/private-ca-authority.ts";

// moto issues synchronously, so "still in progress" can only be produced by a mock.
const pcaMock = mockClient(ACMPCAClient);
const inProgress = () => new RequestInProgressException({ message: "in progress", $metadata: {} });

describe("fetchIssuedCertificate", () => {
  afterEach(() => pcaMock.reset());

  it("polls fast first and backs off to the bound while Private CA is still signing", async () => {
    pcaMock
      .on(GetCertificateCommand)
      .rejectsOnce(inProgress())
      .rejectsOnce(inProgress())
      .rejectsOnce(inProgress())
      .rejectsOnce(inProgress())
      .resolves({ Certificate: "PEM", CertificateChain: "CHAIN" });
    const waits: number[] = [];
    const out = await fetchIssuedCertificate(new ACMPCAClient({ region: "us-east-1" }), "ca", "cert", {
      initialDelayMs: 20,
      maxDelayMs: 100,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    expect(out).toEqual({ certificatePem: "PEM", chainPem: "CHAIN" });
    expect(waits).toEqual([20, 40, 80, 100]);
  });

  it("gives up with the last error once the total time is spent", async () => {
    pcaMock.on(GetCertificateCommand).rejects(inProgress());
    const attempt = fetchIssuedCertificate(new ACMPCAClient({ region: "us-east-1" }), "ca", "cert", {
      timeoutMs: 0,
    });
    await expect(attempt).rejects.toBeInstanceOf(RequestInProgressException);
  });

  it("does not retry errors other than 'in progress'", async () => {
    pcaMock.on(GetCertificateCommand).rejects(new Error("AccessDenied"));
    await expect(
      fetchIssuedCertificate(new ACMPCAClient({ region: "us-east-1" }), "ca", "cert"),
    ).rejects.toThrow("AccessDenied");
    expect(pcaMock.commandCalls(GetCertificateCommand)).toHaveLength(1);
  });
});

describe("the serial RevokeCertificate takes", () => {
  it.each([
    ["e8cbd2bedb122329f97706bcfec990f8", "e8:cb:d2:be:db:12:23:29:f9:77:06:bc:fe:c9:90:f8"],
    ["E8CBD2", "e8:cb:d2"],
    ["abc", "0a:bc"],
    ["01", "01"],
  ])("%s → %s", (serial, expected) => {
    expect(pcaSerial(serial)).toBe(expected);
  });
});

describe("PrivateCaAuthority.revokeCertificate", () => {
  afterEach(() => pcaMock.reset());

  it("sends RevokeCertificate the serial as colon-separated byte pairs, and takes 'already revoked' as done", async () => {
    pcaMock.on(RevokeCertificateCommand).resolvesOnce({});
    pcaMock
      .on(RevokeCertificateCommand)
      .rejectsOnce(new RequestAlreadyProcessedException({ message: "already revoked", $metadata: {} }));
    const authority = new PrivateCaAuthority(new ACMPCAClient({ region: "eu-west-1" }), {
      certificateAuthorityArn: "arn:aws:acm-pca:eu-west-1:111122223333:certificate-authority/x",
      signingAlgorithm: "SHA256WITHECDSA",
      clock: { now: () => new Date() },
    });
    await authority.revokeCertificate("e8cbd2bedb122329", "SUPERSEDED", undefined);
    await authority.revokeCertificate("e8cbd2bedb122329", "SUPERSEDED", undefined);
    const sent = pcaMock.commandCalls(RevokeCertificateCommand).map((c) => c.args[0].input);
    expect(sent[0]).toEqual({
      CertificateAuthorityArn: "arn:aws:acm-pca:eu-west-1:111122223333:certificate-authority/x",
      CertificateSerial: "e8:cb:d2:be:db:12:23:29",
      RevocationReason: "SUPERSEDED",
    });
    expect(sent).toHaveLength(2);
  });
});
