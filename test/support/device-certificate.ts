import { X509Certificate } from "node:crypto";
import { IssueCertificateCommand } from "@aws-sdk/client-acm-pca";
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateThingCommand,
  RegisterCertificateWithoutCACommand,
} from "@aws-sdk/client-iot";
import { fetchIssuedCertificate } from "../../functions/adapters/pca-polling.ts";
import { deviceThingName } from "../../functions/core/identity.ts";
import { generateKeyAndCsr } from "../../local/x509.ts";
import type { LocalTestBed } from "./test-bed.ts";

export interface TestDeviceCertificate {
  readonly cn: string;
  readonly keyPem: string;
  readonly certPem: string;
  readonly certificateArn: string;
  readonly certificateId: string;
}

export interface ProvisionOptions {
  /** Register it in IoT (default true). */
  readonly register?: boolean;
  /** Attach it to a thing (default true). */
  readonly attachThing?: boolean;
  /** Attach the device policy (default true). */
  readonly attachPolicy?: boolean;
}

/**
 * Issues a device certificate straight through the emulator's Private CA and IoT registry, step by step,
 * so the broker's admission rules can be tested one missing step at a time.
 */
export async function provisionDeviceCertificate(
  bed: LocalTestBed,
  realm: string,
  deviceId: string,
  options: ProvisionOptions = {},
): Promise<TestDeviceCertificate> {
  const { pca, iot } = bed.clients;
  const cn = `${realm}/${deviceId}`;
  const { privateKeyPem, csrPem } = await generateKeyAndCsr({ subject: `CN=${cn},O=Devices` });
  const issued = await pca.send(
    new IssueCertificateCommand({
      CertificateAuthorityArn: bed.env.caArn,
      Csr: new TextEncoder().encode(csrPem),
      SigningAlgorithm: "SHA256WITHECDSA",
      TemplateArn: "arn:aws:acm-pca:::template/EndEntityClientAuthCertificate/V1",
      Validity: { Type: "DAYS", Value: 7 },
    }),
  );
  const { certificatePem } = await fetchIssuedCertificate(pca, bed.env.caArn, issued.CertificateArn ?? "");
  let certificateArn = "";
  let certificateId = "";
  if (options.register ?? true) {
    const registered = await iot.send(
      new RegisterCertificateWithoutCACommand({ certificatePem, status: "ACTIVE" }),
    );
    certificateArn = registered.certificateArn ?? "";
    certificateId = registered.certificateId ?? "";
    if (options.attachThing ?? true) {
      const thingName = deviceThingName(realm, deviceId);
      await iot.send(new CreateThingCommand({ thingName }));
      await iot.send(
        new AttachThingPrincipalCommand({
          thingName,
          principal: certificateArn,
          thingPrincipalType: "EXCLUSIVE_THING",
        }),
      );
    }
    if (options.attachPolicy ?? true) {
      await iot.send(new AttachPolicyCommand({ policyName: bed.env.policyName, target: certificateArn }));
    }
  }
  // Sanity: what moto issued is what the rest of the test assumes.
  if (!new X509Certificate(certificatePem).subject.includes(`CN=${cn}`))
    throw new Error("unexpected subject");
  return { cn, keyPem: privateKeyPem, certPem: certificatePem, certificateArn, certificateId };
}
