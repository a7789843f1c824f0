/**
 * Recording an issued certificate as the device's current one (issue-credentials.ts's last step): the conditional
 * transaction, re-read and retried while the device changes under it, and the cap on live certificates.
 */
import {
  DeviceInhibitedError,
  IssuanceInProgressError,
  ThrottledError,
  WrongSecretError,
} from "../errors.ts";
import type { CertificateRecord, Device } from "../model.ts";
import type { DepsOf, RequestMeta } from "../pairing-deps.ts";
import {
  type CertificateLedger,
  ConcurrentIssuanceError,
  type DeviceRegistry,
  type IssuanceCharge,
} from "../ports/device-store.ts";

/** Enough for a burst of parallel requests for one device to all land (each loser re-reads and retries). */
const RECORD_ATTEMPTS = 50;
/** What a request refused because another of the same device is in flight is told to wait. */
export const IN_PROGRESS_RETRY_SECONDS = 2;

export interface RecordOptions {
  readonly graceSeconds: number;
  readonly maxLive: number;
  /** The device's certificates as read during this issuance (for the cap on live certificates). */
  readonly certificates: readonly CertificateRecord[];
  readonly meta: RequestMeta;
  readonly intentRequestId: string;
  readonly lease: number;
  readonly charge: IssuanceCharge;
}

/**
 * Records the certificate as current and supersedes the previous one. The write is conditional on the
 * device's current serial; if something else changed it (the sweeper expiring it, a revocation), re-read and
 * supersede what is current now. Resolves to the serial it superseded (for a rollback) and how many grace
 * periods the cap on live certificates cut.
 */
export async function recordAsCurrent(
  deps: DepsOf<DeviceRegistry & CertificateLedger, "clock">,
  device: Device,
  record: CertificateRecord,
  options: RecordOptions,
): Promise<{ superseded: string | undefined; graceCuts: number }> {
  let current = device;
  let certificates = options.certificates;
  for (let attempt = 1; ; attempt++) {
    const now = deps.clock.now();
    const previous = current.currentSerial;
    const graceCuts = overTheCap(certificates, previous, now.toISOString(), options.maxLive);
    try {
      await deps.store.recordIssuance({
        certificate: record,
        expectedCurrentSerial: previous,
        superseded: previous
          ? {
              serial: previous,
              graceUntil: new Date(now.getTime() + options.graceSeconds * 1000).toISOString(),
            }
          : undefined,
        requestIp: options.meta.sourceIp,
        now: now.toISOString(),
        intentRequestId: options.intentRequestId,
        secretHash: device.secretHash ?? "",
        lease: options.lease,
        charge: options.charge,
        graceCuts,
      });
      return { superseded: previous, graceCuts: graceCuts.length };
    } catch (error) {
      if (!(error instanceof ConcurrentIssuanceError)) throw error;
      // Still contended after many rounds: tell the client to come back, rather than fail it.
      if (attempt >= RECORD_ATTEMPTS) throw new ThrottledError(1, { cause: error });
      // A little jitter so the losers of one round do not collide again in the next.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(20 * attempt, 250)));
      const [{ device: reread }, listed] = await Promise.all([
        deps.store.getRealmAndDevice(record.realm, record.deviceId),
        deps.store.listCertificates(record.realm, record.deviceId),
      ]);
      // The device may have been unregistered, re-registered, given a new secret or inhibited meanwhile, or its
      // slot taken by another request past its lease: then this certificate must not count (the fence; the
      // caller compensates).
      if (!reread?.secretHash || reread.secretHash !== device.secretHash) throw new WrongSecretError();
      if (reread.credentialsInhibited) throw new DeviceInhibitedError();
      if (reread.issuance?.lease !== options.lease)
        throw new IssuanceInProgressError(IN_PROGRESS_RETRY_SECONDS);
      current = reread;
      certificates = listed;
    }
  }
}

/**
 * The superseded certificates still in grace that must lose it so that, with the new certificate and the one it
 * supersedes, no more than `maxLive` are live: the oldest first. The one being superseded now is never cut.
 */
export function overTheCap(
  certificates: readonly CertificateRecord[],
  superseding: string | undefined,
  now: string,
  maxLive: number,
): string[] {
  const inGrace = certificates
    .filter(
      (c) =>
        c.state === "superseded" &&
        c.serial !== superseding &&
        c.graceUntil !== undefined &&
        c.graceUntil > now,
    )
    .sort((a, b) => a.issuedAt.localeCompare(b.issuedAt));
  const live = 1 + (superseding ? 1 : 0) + inGrace.length;
  return inGrace.slice(0, Math.max(0, live - maxLive)).map((c) => c.serial);
}
