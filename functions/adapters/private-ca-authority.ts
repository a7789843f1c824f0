import {
  type ACMPCAClient,
  GetCertificateAuthorityCertificateCommand,
  IssueCertificateCommand,
  RequestAlreadyProcessedException,
  RevokeCertificateCommand,
  type SigningAlgorithm,
} from "@aws-sdk/client-acm-pca";
import type {
  CertificateAuthority,
  IssueRequest,
  RevocationReason,
} from "../core/ports/certificate-authority.ts";
import type { Clock } from "../core/ports/system.ts";
import { aws } from "./aws-errors.ts";
import { fetchIssuedCertificate, type PollOptions } from "./pca-polling.ts";

/** The template Tether issues device certificates with (and the only one its IAM policy allows). */
export function issuanceTemplateArn(partition: string): string {
  return `arn:${partition}:acm-pca:::template/EndEntityClientAuthCertificate_APIPassthrough/V1`;
}

/** A short-lived CA issues certificates valid 7 days at most. */
const SHORT_LIVED_MAX_SECONDS = 7 * 24 * 3600;
/** notAfter − notBefore stays this far inside that bound. */
const VALIDITY_MARGIN_SECONDS = 60;

/**
 * A serial as RevokeCertificate takes it: hexadecimal byte pairs separated by colons, as `openssl x509 -text`
 * prints it and the API reference's example writes it (`e8:cb:d2:…`). Tether stores serials as plain
 * lowercase hex.
 */
export function pcaSerial(serial: string): string {
  const hex = serial.toLowerCase().replaceAll(":", "");
  const even = hex.length % 2 === 1 ? `0${hex}` : hex;
  return even.match(/../g)?.join(":") ?? even;
}

export interface PrivateCaOptions {
  readonly certificateAuthorityArn: string;
  /** Must match the CA's key: SHA256WITHECDSA for an EC CA, SHA256WITHRSA for an RSA one. */
  readonly signingAlgorithm: SigningAlgorithm;
  readonly clock: Clock;
  /** notBefore is set this far in the past, so a device whose clock runs a little behind accepts it. */
  readonly backdateSeconds?: number;
  readonly poll?: PollOptions;
}

/**
 * CertificateAuthority on AWS Private CA. The client-auth APIPassthrough template makes the subject CN the
 * device's own whatever the CSR says; validity is absolute and counted from the backdated notBefore, so the
 * whole lifetime stays within the short-lived CA's 7-day maximum.
 */
export class PrivateCaAuthority implements CertificateAuthority {
  readonly #templateArn: string;
  #caPem: Promise<string> | undefined;

  constructor(
    private readonly pca: ACMPCAClient,
    private readonly options: PrivateCaOptions,
  ) {
    this.#templateArn = issuanceTemplateArn(options.certificateAuthorityArn.split(":")[1] ?? "aws");
  }

  async requestCertificate(request: IssueRequest): Promise<string> {
    const { certificateAuthorityArn: caArn, backdateSeconds = 300 } = this.options;
    const notBefore = Math.floor(this.options.clock.now().getTime() / 1000) - backdateSeconds;
    const issued = await aws(() =>
      this.pca.send(
        new IssueCertificateCommand({
          CertificateAuthorityArn: caArn,
          Csr: new TextEncoder().encode(request.csrPem),
          SigningAlgorithm: this.options.signingAlgorithm,
          TemplateArn: this.#templateArn,
          ApiPassthrough: { Subject: { CommonName: request.commonName } },
          ValidityNotBefore: { Type: "ABSOLUTE", Value: notBefore },
          // Strictly inside the short-lived CA's 7 days, whatever validity was asked for.
          Validity: {
            Type: "ABSOLUTE",
            Value:
              notBefore +
              Math.min(request.validitySeconds, SHORT_LIVED_MAX_SECONDS - VALIDITY_MARGIN_SECONDS),
          },
          IdempotencyToken: request.idempotencyKey.slice(0, 36),
        }),
      ),
    );
    if (!issued.CertificateArn)
      throw new Error("Private CA answered IssueCertificate without a certificate ARN");
    return issued.CertificateArn;
  }

  async fetchCertificate(certificateArn: string): Promise<string> {
    const { certificatePem } = await aws(() =>
      fetchIssuedCertificate(
        this.pca,
        this.options.certificateAuthorityArn,
        certificateArn,
        this.options.poll,
      ),
    );
    return certificatePem;
  }

  async revokeCertificate(serial: string, reason: RevocationReason): Promise<void> {
    try {
      await aws(() =>
        this.pca.send(
          new RevokeCertificateCommand({
            CertificateAuthorityArn: this.options.certificateAuthorityArn,
            CertificateSerial: pcaSerial(serial),
            RevocationReason: reason,
          }),
        ),
      );
    } catch (error) {
      // Already revoked (a retried sweep) is what we wanted.
      if (!(error instanceof RequestAlreadyProcessedException)) throw error;
    }
  }

  caCertificatePem(): Promise<string> {
    // Cached per container; a failed fetch is not cached.
    this.#caPem ??= aws(() =>
      this.pca.send(
        new GetCertificateAuthorityCertificateCommand({
          CertificateAuthorityArn: this.options.certificateAuthorityArn,
        }),
      ),
    ).then(
      (out) => {
        if (!out.Certificate) throw new Error("Private CA returned no CA certificate");
        return out.Certificate;
      },
      (error: unknown) => {
        this.#caPem = undefined;
        throw error;
      },
    );
    return this.#caPem;
  }
}
