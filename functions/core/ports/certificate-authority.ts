export interface IssueRequest {
  readonly csrPem: string;
  /** Subject CN the certificate must carry, whatever the CSR says. */
  readonly commonName: string;
  readonly validitySeconds: number;
  /** Same key → same certificate, so a retried request does not pay for a second one. */
  readonly idempotencyKey: string;
}

export type RevocationReason = "SUPERSEDED" | "CESSATION_OF_OPERATION" | "UNSPECIFIED";

/** The private CA that signs device certificates. */
export interface CertificateAuthority {
  /** Asks the CA to issue; resolves to the CA's id for the certificate (Private CA: its ARN). */
  requestCertificate(request: IssueRequest): Promise<string>;
  /** The issued certificate, once the CA has signed it (polled fast). */
  fetchCertificate(certificateRef: string): Promise<string>;
  /** Revokes a certificate by serial (hex). Revoking one already revoked is success. */
  revokeCertificate(serial: string, reason: RevocationReason): Promise<void>;
  /** The CA certificate device certificates chain to (cached). */
  caCertificatePem(): Promise<string>;
}
