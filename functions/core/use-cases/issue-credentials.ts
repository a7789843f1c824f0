import { createHash } from "node:crypto";
import { credentialsRequest } from "../../contracts/pairing.ts";
import { CREDENTIALS_INHIBITED, ForbiddenError, MalformedRequestError, ThrottledError } from "../errors.ts";
import { deviceCommonName } from "../identity.ts";
import type { CertificateRecord, Device, IssuanceIntent } from "../model.ts";
import type { PairingDeps, RequestMeta } from "../pairing-deps.ts";
import { ConcurrentIssuanceError } from "../ports/device-store.ts";
import { parseEnvelope } from "../validation.ts";
import { certificateFacts, inspectCsr } from "../x509.ts";
import { authenticateDevice, type DeviceCall } from "./authenticate.ts";

export const ASTARTE_MQTT_V1 = "astarte_mqtt_v1";
/** Enough for a burst of parallel requests for one device to all land (each loser re-reads and retries). */
const RECORD_ATTEMPTS = 50;
/** An issuance not finished by then was abandoned (functions time out long before). */
const INTENT_DEADLINE_MS = 10 * 60_000;

export interface IssuedCredentials {
  readonly certificatePem: string;
  readonly record: CertificateRecord;
  /** When the device should renew: two thirds into the lifetime, spread per device. */
  readonly renewAfter: Date;
}

/**
 * Trades a device's CSR for a short-lived client certificate registered in IoT Core.
 *
 * Sequence (each step one AWS round trip; see DESIGN.md): read realm + device → Private CA issues (subject
 * forced to the device's CN) and is polled fast → IoT registers it ACTIVE → in parallel, attach policy +
 * thing and record it as current (superseding the previous one) in one transaction. If anything after the
 * IoT registration fails, the certificate is removed from IoT again, so no ACTIVE orphan is left and the
 * client's retry starts clean.
 */
export async function issueCredentials(
  deps: PairingDeps,
  call: DeviceCall & { readonly protocol: string },
  body: unknown,
  meta: RequestMeta,
): Promise<IssuedCredentials> {
  if (call.protocol !== ASTARTE_MQTT_V1) throw new MalformedRequestError(`unknown protocol ${call.protocol}`);
  const { realm, device } = await authenticateDevice(deps, call);
  if (device.credentialsInhibited) throw new ForbiddenError(CREDENTIALS_INHIBITED);
  const { data } = parseEnvelope(credentialsRequest, body);
  const commonName = deviceCommonName(realm.name, device.deviceId);
  const csr = inspectCsr(data.csr, commonName);

  // The intent is written alongside each CA call, never before it: a crash leaves a trail, at no latency.
  const started = deps.clock.now();
  const intentDeadline = new Date(started.getTime() + INTENT_DEADLINE_MS).toISOString();
  const intent: IssuanceIntent = {
    realm: realm.name,
    deviceId: device.deviceId,
    requestId: meta.requestId,
    createdAt: started.toISOString(),
  };
  const [certificateRef] = await Promise.all([
    deps.ca.requestCertificate({
      csrPem: data.csr,
      commonName,
      validitySeconds: realm.certificateValiditySeconds,
      idempotencyKey: createHash("sha256").update(commonName).update(data.csr).digest("hex").slice(0, 36),
    }),
    deps.store.putIntent(intent, intentDeadline),
  ]);
  const [certificatePem] = await Promise.all([
    deps.ca.fetchCertificate(certificateRef),
    deps.store.setIntentCertificate(intent, certificateRef),
  ]);
  // Never trust the CA's answer blindly: it must name this device and carry the CSR's key.
  const facts = certificateFacts(certificatePem);
  if (facts.commonName !== commonName || !facts.publicKeyDer.equals(csr.publicKeyDer)) {
    throw new Error("the CA issued a certificate that does not match the request");
  }
  if (device.currentSerial === facts.serial) {
    // The CA answered a retried request with the certificate already recorded (idempotency token).
    const existing = await deps.store.getCertificate(realm.name, device.deviceId, facts.serial);
    if (existing) {
      // The first request may have died between its record and its attach (its client never got an
      // answer, so it retried with the same CSR): attach again, which is idempotent, before handing it out.
      await Promise.all([
        deps.transport.attachCertificate(realm.name, device.deviceId, existing.iotCertificateArn),
        deps.store.deleteIntent(intent),
      ]);
      return { certificatePem, record: existing, renewAfter: renewAfter(existing, device.deviceId) };
    }
  }

  const registered = await deps.transport.registerCertificate(certificatePem);
  const now = deps.clock.now();
  const record: CertificateRecord = {
    realm: realm.name,
    deviceId: device.deviceId,
    serial: facts.serial,
    iotCertificateId: registered.certificateId,
    iotCertificateArn: registered.certificateArn,
    notBefore: facts.notBefore.toISOString(),
    notAfter: facts.notAfter.toISOString(),
    issuedAt: now.toISOString(),
    state: "current",
    graceUntil: undefined,
  };
  const [attached, recorded] = await Promise.allSettled([
    deps.transport.attachCertificate(realm.name, device.deviceId, registered.certificateArn),
    recordAsCurrent(deps, device, record, realm.graceSeconds, meta, intent.requestId),
  ]);
  if (attached.status === "rejected" || recorded.status === "rejected") {
    // Compensate whatever half succeeded, so the retry starts from where this request started.
    const failure =
      attached.status === "rejected" ? attached.reason : (recorded as PromiseRejectedResult).reason;
    // First the record (which brings the intent back, so a failure below still leaves a trail for the
    // sweeper), then IoT, then the intent.
    const cleanupFailures: unknown[] = [];
    if (recorded.status === "fulfilled") {
      await deps.store
        .rollbackIssuance({
          certificate: record,
          restoredCurrentSerial: recorded.value,
          unconfirm: device.firstCredentialsRequest === undefined,
          intent: { ...intent, certificateRef },
          intentDeadline,
        })
        .catch((error: unknown) => cleanupFailures.push(error));
    }
    await deps.transport
      .removeCertificate(realm.name, device.deviceId, registered.certificateId, registered.certificateArn)
      .then(() => deps.store.deleteIntent(intent))
      .catch((error: unknown) => cleanupFailures.push(error));
    if (cleanupFailures.length > 0) {
      throw new AggregateError(
        [failure, ...cleanupFailures],
        "issuance failed and its compensation failed too",
      );
    }
    throw failure;
  }
  return { certificatePem, record, renewAfter: renewAfter(record, device.deviceId) };
}

/**
 * Records the certificate as current and supersedes the previous one. The write is conditional on the
 * device's current serial; if a concurrent issuance won, re-read and supersede that one instead. Resolves to
 * the serial it superseded (for a rollback).
 */
async function recordAsCurrent(
  deps: PairingDeps,
  device: Device,
  record: CertificateRecord,
  graceSeconds: number,
  meta: RequestMeta,
  intentRequestId: string,
): Promise<string | undefined> {
  let current = device;
  for (let attempt = 1; ; attempt++) {
    const now = deps.clock.now();
    const previous = current.currentSerial;
    try {
      await deps.store.recordIssuance({
        certificate: record,
        expectedCurrentSerial: previous,
        superseded: previous
          ? { serial: previous, graceUntil: new Date(now.getTime() + graceSeconds * 1000).toISOString() }
          : undefined,
        requestIp: meta.sourceIp,
        now: now.toISOString(),
        intentRequestId,
        secretHash: device.secretHash ?? "",
      });
      return previous;
    } catch (error) {
      if (!(error instanceof ConcurrentIssuanceError)) throw error;
      // Still contended after many rounds: tell the client to come back, rather than fail it.
      if (attempt >= RECORD_ATTEMPTS) throw new ThrottledError(1, { cause: error });
      // A little jitter so the losers of one round do not collide again in the next.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(20 * attempt, 250)));
      const reread = (await deps.store.getRealmAndDevice(record.realm, record.deviceId)).device;
      // The device may have been unregistered, re-registered, given a new secret or inhibited meanwhile: then
      // this certificate must not count (the fence; the caller compensates).
      if (!reread?.secretHash || reread.secretHash !== device.secretHash) throw new ForbiddenError();
      if (reread.credentialsInhibited) throw new ForbiddenError(CREDENTIALS_INHIBITED);
      current = reread;
    }
  }
}

/**
 * Two thirds into the certificate's lifetime, minus up to a tenth of the lifetime of per-device jitter, so a
 * fleet paired at once does not renew at once. Deterministic per device and certificate.
 */
export function renewAfter(
  record: Pick<CertificateRecord, "notBefore" | "notAfter" | "serial">,
  deviceId: string,
): Date {
  const start = Date.parse(record.notBefore);
  const lifetime = Date.parse(record.notAfter) - start;
  const spread =
    createHash("sha256").update(deviceId).update(record.serial).digest().readUInt32BE(0) / 0xffffffff;
  return new Date(start + (lifetime * 2) / 3 - spread * (lifetime / 10));
}
