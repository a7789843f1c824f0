export interface IssueRequest {
  readonly csrPem: string;
  /** Subject CN the certificate must carry, whatever the CSR says. */
  readonly commonName: string;
  readonly validitySeconds: number;
  /** Same key → same certificate, so a retried request does not pay for a second one. */
  readonly idempotencyKey: string;
}

export type RevocationReason = "SUPERSEDED" | "CESSATION_OF_OPERATION" | "UNSPECIFIED";

/**
 * The private CA that signs device certificates. While the stage moves to a new CA (a CA's mode is fixed at
 * its creation), it is two: new certificates come from the issuing one, and the retiring one stays trusted and
 * revocable until the certificates it issued have expired.
 */
export interface CertificateAuthority {
  /** Asks the issuing CA to issue; resolves to the CA's id for the certificate (Private CA: its ARN). */
  requestCertificate(request: IssueRequest): Promise<string>;
  /** The issued certificate, once the CA has signed it (polled fast); from whichever CA issued it. */
  fetchCertificate(certificateRef: string): Promise<string>;
  /** Which CA issued a certificate (Private CA: the CA's ARN), recorded with it to route its revocation. */
  issuerOf(certificateRef: string): string;
  /**
   * Revokes a certificate by serial (hex) at the CA that issued it: `issuer` as recorded, or undefined for a
   * record written before issuers were recorded (it came from the oldest CA still configured). Revoking one
   * already revoked is success; so is one whose CA is no longer configured (it is out of IoT already, and no
   * CA is left to ask), which the adapter logs.
   */
  revokeCertificate(serial: string, reason: RevocationReason, issuer: string | undefined): Promise<void>;
  /** The CA certificates a device certificate may chain to: the issuing CA's, then a retiring CA's (cached). */
  trustedCaCertificates(): Promise<readonly string[]>;
}
