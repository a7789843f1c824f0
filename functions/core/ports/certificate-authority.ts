export interface IssueRequest {
  readonly csrPem: string;
  /** Subject CN the certificate must carry, whatever the CSR says. */
  readonly commonName: string;
  readonly validitySeconds: number;
  /** Same key → same certificate, so a retried request does not pay for a second one. */
  readonly idempotencyKey: string;
}

/** The private CA that signs device certificates. */
export interface CertificateAuthority {
  issue(request: IssueRequest): Promise<{ certificatePem: string }>;
  /** The CA certificate device certificates chain to (cached). */
  caCertificatePem(): Promise<string>;
}
