import {
  type ACMPCAClient,
  GetCertificateCommand,
  RequestInProgressException,
} from "@aws-sdk/client-acm-pca";

export interface PollOptions {
  /** First wait after a "still in progress" answer. Private CA usually signs in well under 100 ms. */
  readonly initialDelayMs?: number;
  /** Upper bound of one wait; waits double up to it. */
  readonly maxDelayMs?: number;
  /** Give up (and throw the last error) after this long in total. */
  readonly timeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface IssuedCertificate {
  readonly certificatePem: string;
  readonly chainPem: string | undefined;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Fetches a certificate Private CA is issuing, polling fast first and backing off to a bound. The SDK's
 * `waitUntilCertificateIssued` waits a fixed second before its first retry, which would dominate the
 * pairing latency; this answers within tens of milliseconds of the certificate being ready.
 */
export async function fetchIssuedCertificate(
  pca: ACMPCAClient,
  certificateAuthorityArn: string,
  certificateArn: string,
  options: PollOptions = {},
): Promise<IssuedCertificate> {
  const { initialDelayMs = 25, maxDelayMs = 400, timeoutMs = 10_000, sleep = defaultSleep } = options;
  const deadline = Date.now() + timeoutMs;
  let delay = initialDelayMs;
  for (;;) {
    try {
      const out = await pca.send(
        new GetCertificateCommand({
          CertificateAuthorityArn: certificateAuthorityArn,
          CertificateArn: certificateArn,
        }),
      );
      if (!out.Certificate) throw new Error("Private CA returned no certificate");
      return { certificatePem: out.Certificate, chainPem: out.CertificateChain || undefined };
    } catch (error) {
      if (!(error instanceof RequestInProgressException) || Date.now() + delay > deadline) throw error;
    }
    await sleep(delay);
    delay = Math.min(delay * 2, maxDelayMs);
  }
}
