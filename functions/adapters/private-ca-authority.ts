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
import { logger } from "../observability.ts";
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

/** The CA a Private CA certificate ARN (`…:certificate-authority/<id>/certificate/<serial>`) belongs to. */
export function issuingCaArn(certificateArn: string): string {
  const at = certificateArn.indexOf("/certificate/");
  if (at < 0) throw new Error(`not a Private CA certificate ARN: ${certificateArn}`);
  return certificateArn.slice(0, at);
}

export interface PrivateCaOptions {
  /** The CA new certificates come from. */
  readonly certificateAuthorityArn: string;
  /**
   * The CA the stage is moving away from, while certificates it issued are still valid: trusted by verify and
   * asked to revoke its own certificates, never to issue.
   */
  readonly retiringCertificateAuthorityArn?: string | undefined;
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
 * whole lifetime stays within the short-lived CA's 7-day maximum (and a general-purpose CA issues the same).
 */
export class PrivateCaAuthority implements CertificateAuthority {
  readonly #templateArn: string;
  readonly #caPems = new Map<string, Promise<string>>();

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
      fetchIssuedCertificate(this.pca, issuingCaArn(certificateArn), certificateArn, this.options.poll),
    );
    return certificatePem;
  }

  issuerOf(certificateArn: string): string {
    return issuingCaArn(certificateArn);
  }

  /** The CAs configured, issuing first. */
  #configured(): string[] {
    const { certificateAuthorityArn, retiringCertificateAuthorityArn } = this.options;
    return retiringCertificateAuthorityArn
      ? [certificateAuthorityArn, retiringCertificateAuthorityArn]
      : [certificateAuthorityArn];
  }

  async revokeCertificate(
    serial: string,
    reason: RevocationReason,
    issuer: string | undefined,
  ): Promise<void> {
    // A record older than issuer tracking came from the CA configured then: the retiring one, once there is one.
    const caArn = issuer ?? this.#configured().at(-1);
    if (!caArn || !this.#configured().includes(caArn)) {
      // Its CA left the stage before the certificate expired: nothing can revoke it (the role may not even call
      // that CA). It is out of IoT already, which is what makes it unusable.
      logger.warn("revocation skipped: the issuing CA is no longer configured", { serial, issuer });
      return;
    }
    try {
      await aws(() =>
        this.pca.send(
          new RevokeCertificateCommand({
            CertificateAuthorityArn: caArn,
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

  trustedCaCertificates(): Promise<readonly string[]> {
    return Promise.all(this.#configured().map((arn) => this.#caCertificate(arn)));
  }

  #caCertificate(caArn: string): Promise<string> {
    // Cached per container; a failed fetch is not cached.
    let pem = this.#caPems.get(caArn);
    if (!pem) {
      pem = aws(() =>
        this.pca.send(new GetCertificateAuthorityCertificateCommand({ CertificateAuthorityArn: caArn })),
      ).then(
        (out) => {
          if (!out.Certificate) throw new Error("Private CA returned no CA certificate");
          return out.Certificate;
        },
        (error: unknown) => {
          this.#caPems.delete(caArn);
          throw error;
        },
      );
      this.#caPems.set(caArn, pem);
    }
    return pem;
  }
}
