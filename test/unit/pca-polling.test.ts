import { ACMPCAClient, GetCertificateCommand, RequestInProgressException } from "@aws-sdk/client-acm-pca";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { fetchIssuedCertificate } from "../../functions/adapters/pca-polling.ts";

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
