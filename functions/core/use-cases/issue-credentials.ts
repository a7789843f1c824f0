import { createHash } from "node:crypto";
import { canonicalDeviceId, realmNameSchema } from "../../contracts/ids.ts";
import type { CredentialsRequest } from "../../contracts/pairing.ts";
import { charge, retryAfterSeconds } from "../admission.ts";
import {
  AwsBudgetExceededError,
  DependencyUnavailableError,
  DeviceInhibitedError,
  DomainError,
  IssuanceBudgetExceededError,
  IssuanceInProgressError,
  MalformedRequestError,
  ThrottledError,
} from "../errors.ts";
import { deviceCommonName } from "../identity.ts";
import type { CertificateRecord, Device, IssuanceIntent, Realm } from "../model.ts";
import type { DepsOf, RequestInput, RequestMeta } from "../pairing-deps.ts";
import type {
  CertificateLedger,
  DeviceRegistry,
  FleetStats,
  IssuanceSlot,
  RealmStore,
} from "../ports/device-store.ts";
import { certificateFacts, type InspectedCsr, inspectCsr } from "../x509.ts";
import { admitIssuance, authenticateDevice, type DeviceCredentials } from "./authenticate.ts";
import { refusalCounted } from "./fleet-overview.ts";
import { admitOnBudget, type Turn } from "./issuance-turn.ts";
import { IN_PROGRESS_RETRY_SECONDS, recordAsCurrent } from "./record-issuance.ts";

export const ASTARTE_MQTT_V1 = "astarte_mqtt_v1";
/**
 * An issuance not finished by then was abandoned (functions time out long before): Private CA's idempotency window
 * for IssueCertificate (five minutes, per its API reference) and half a minute more. Not sooner: within that window
 * a client's retry with the same CSR gets the same certificate back and may still record it, so the sweeper must
 * not revoke it as an orphan before then.
 */
export const INTENT_DEADLINE_MS = 5.5 * 60_000;
/** How often a compensation step is tried while AWS throttles it or is briefly unavailable. */
const COMPENSATION_ATTEMPTS = 4;

export interface IssuedCredentials {
  readonly certificatePem: string;
  readonly record: CertificateRecord;
  /** When the device should renew: two thirds into the lifetime, spread per device. */
  readonly renewAfter: Date;
  /** Superseded certificates whose grace was cut because the device had too many live ones. */
  readonly graceCuts: number;
}

/**
 * How long a credentials request holds its device's one issuance slot if it dies without giving it back: longer
 * than the API's functions may run (15 s), so a slot is never taken from a request still running.
 */
export const ISSUANCE_LEASE_MS = 30_000;

/**
 * Trades a device's CSR for a short-lived client certificate registered in IoT Core.
 *
 * Sequence (each step one AWS round trip; see DESIGN.md): authenticate the device and take its issuance slot
 * in one conditional write (the realm read alongside) → Private CA issues (subject forced to the device's CN)
 * and is polled fast → IoT registers it ACTIVE → in parallel, attach policy + thing and record it as current
 * (superseding the previous one, charging the budget, releasing the slot) in one transaction. If anything
 * after the IoT registration fails, the certificate is removed from IoT again, so no ACTIVE orphan is left and
 * the client's retry starts clean.
 *
 * Admission (core/admission.ts): one issuance per device at a time, and a budget of billed issuances per hour
 * (a realm setting); the repeat of the last billed issuance (same CSR) is admitted over budget, and an attempt
 * Private CA refused or throttled costs nothing. Then the account's shared AWS request budget (core/aws-budget.ts)
 * admits the issuance's calls. Over either budget is 429 before any Private CA or IoT call. Beyond
 * the realm's cap on live certificates the oldest superseded one loses its grace (the sweeper removes it).
 */
export async function issueCredentials(
  deps: Deps,
  call: DeviceCredentials & { readonly protocol: string },
  input: RequestInput<CredentialsRequest["data"]>,
  meta: RequestMeta,
): Promise<IssuedCredentials> {
  if (call.protocol !== ASTARTE_MQTT_V1) throw new MalformedRequestError(`unknown protocol ${call.protocol}`);
  // Refusals by cause, on the realm's activity chart (fleet-overview.ts); issuances are counted as they are recorded.
  try {
    return await issue(deps, call, input, meta);
  } catch (error) {
    const refusal = refusalCounted(error);
    if (refusal) await deps.store.countActivity(call.realmName, deps.clock.now().toISOString(), refusal);
    throw error;
  }
}

type Deps = DepsOf<
  RealmStore & DeviceRegistry & IssuanceSlot & CertificateLedger & FleetStats,
  "ca" | "transport" | "clock" | "hasher" | "budget"
>;

async function issue(
  deps: Deps,
  call: DeviceCredentials & { readonly protocol: string },
  input: RequestInput<CredentialsRequest["data"]>,
  meta: RequestMeta,
): Promise<IssuedCredentials> {
  // The request is checked before anything is written, and a bad one is answered after the caller's
  // credentials (a read only), in the order the API documents: 401/403/404, inhibited, then 400/422.
  const deviceId = realmNameSchema.safeParse(call.realmName).success
    ? canonicalDeviceId(call.deviceIdText)
    : undefined;
  const commonName = deviceCommonName(call.realmName, deviceId ?? "");
  let csrPem: string | undefined;
  let csr: InspectedCsr | undefined;
  let refusal: unknown;
  try {
    csrPem = input().csr;
    csr = inspectCsr(csrPem, commonName);
  } catch (error) {
    refusal = error;
  }
  if (!deviceId || !csrPem || !csr) {
    const { device } = await authenticateDevice(deps, call);
    if (device.credentialsInhibited) throw new DeviceInhibitedError();
    // (A device that authenticated has a well-formed id, so the request itself was refused above.)
    throw refusal ?? new MalformedRequestError("Bad request");
  }

  const started = deps.clock.now();
  const key = createHash("sha256").update(commonName).update(csrPem).digest("hex").slice(0, 36);
  const lease = started.getTime() + ISSUANCE_LEASE_MS;
  const admitted = await admitIssuance(
    deps,
    { ...call, deviceId },
    { key, now: started.getTime(), leaseUntil: lease },
  );
  const { realm, device } = admitted;
  if (device.credentialsInhibited) throw new DeviceInhibitedError();
  if (!admitted.acquired) throw refusedAdmission(device, key, started.getTime());

  const charge = { ...chargeBudget(device.issuance?.tat, started.getTime(), realm), key };
  let billed = false;
  let turn: Turn | undefined;
  try {
    // The account's AWS budget, after the device's own admission (so only a device with its credentials can
    // spend it) and before any Private CA or IoT call: over it, the request ends here, its slot given back with
    // the turn it holds for later (issuance-turn.ts).
    const budget = await admitOnBudget(deps.budget, device, started.getTime());
    if (!budget.admitted) {
      turn = budget.turn;
      throw new AwsBudgetExceededError(budget.retryAfterSeconds);
    }
    // The intent is written alongside each CA call, never before it: a crash leaves a trail, at no latency.
    const intentDeadline = new Date(started.getTime() + INTENT_DEADLINE_MS).toISOString();
    const intent: IssuanceIntent = {
      realm: realm.name,
      deviceId: device.deviceId,
      requestId: meta.requestId,
      createdAt: started.toISOString(),
    };
    const [requested, trail] = await Promise.allSettled([
      deps.ca.requestCertificate({
        csrPem,
        commonName,
        validitySeconds: realm.certificateValiditySeconds,
        idempotencyKey: key,
      }),
      deps.store.putIntent(intent, intentDeadline),
    ]);
    if (requested.status === "rejected") {
      // Refused (or throttled) outright: no certificate to find, so no trail is left for the sweeper.
      if (trail.status === "fulfilled") await deps.store.deleteIntent(intent).catch(() => undefined);
      throw requested.reason;
    }
    if (trail.status === "rejected") throw trail.reason;
    const certificateRef = requested.value;
    billed = true;
    const [certificatePem, , certificates] = await Promise.all([
      deps.ca.fetchCertificate(certificateRef),
      deps.store.setIntentCertificate(intent, certificateRef),
      deps.store.listCertificates(realm.name, device.deviceId),
    ]);
    // Never trust the CA's answer blindly: it must name this device and carry the CSR's key.
    const facts = certificateFacts(certificatePem);
    if (facts.commonName !== commonName || !facts.publicKeyDer.equals(csr.publicKeyDer)) {
      throw new Error("the CA issued a certificate that does not match the request");
    }
    if (device.currentSerial === facts.serial) {
      // The CA answered a retried request with the certificate already recorded (idempotency token).
      const existing = certificates.find((c) => c.serial === facts.serial);
      if (existing) {
        // The first request may have died between its record and its attach (its client never got an
        // answer, so it retried with the same CSR): attach again, which is idempotent, before handing it out.
        // A replay is not billed again: the slot goes back uncharged.
        billed = false;
        await Promise.all([
          deps.transport.attachCertificate(realm.name, device.deviceId, existing.iotCertificateArn),
          deps.store.deleteIntent(intent),
          deps.store.endIssuance({ realm: realm.name, deviceId: device.deviceId, lease, charge: undefined }),
        ]);
        return {
          certificatePem,
          record: existing,
          renewAfter: renewAfter(existing, device.deviceId),
          graceCuts: 0,
        };
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
      issuer: deps.ca.issuerOf(certificateRef),
      notBefore: facts.notBefore.toISOString(),
      notAfter: facts.notAfter.toISOString(),
      issuedAt: now.toISOString(),
      state: "current",
      graceUntil: undefined,
    };
    // The realm's activity chart (fleet-overview.ts) counts it in the same round trip (the count never fails), and
    // takes it back if the issuance is undone below.
    const counted = { [device.firstCredentialsRequest === undefined ? "issued" : "renewed"]: 1 };
    const [attached, recorded] = await Promise.allSettled([
      deps.transport.attachCertificate(realm.name, device.deviceId, registered.certificateArn),
      recordAsCurrent(deps, device, record, {
        graceSeconds: realm.graceSeconds,
        maxLive: realm.maxLiveCertificates,
        certificates,
        meta,
        intentRequestId: intent.requestId,
        lease,
        charge,
      }),
      deps.store.countActivity(realm.name, now.toISOString(), counted),
    ]);
    if (attached.status === "rejected" || recorded.status === "rejected") {
      await deps.store.countActivity(
        realm.name,
        now.toISOString(),
        Object.fromEntries(Object.entries(counted).map(([name, n]) => [name, -n])),
      );
      // Compensate whatever half succeeded, so the retry starts from where this request started.
      const failure =
        attached.status === "rejected" ? attached.reason : (recorded as PromiseRejectedResult).reason;
      // First the record (which brings the intent back, so a failure below still leaves a trail for the
      // sweeper), then IoT, then the intent.
      // Each step is retried while AWS throttles it: the compensation competes for the same quotas that may have
      // failed the issuance.
      const cleanupFailures: unknown[] = [];
      if (recorded.status === "fulfilled") {
        await persist(() =>
          deps.store.rollbackIssuance({
            certificate: record,
            restoredCurrentSerial: recorded.value.superseded,
            unconfirm: device.firstCredentialsRequest === undefined,
            intent: { ...intent, certificateRef },
            intentDeadline,
          }),
        ).catch((error: unknown) => cleanupFailures.push(error));
      }
      await persist(() =>
        deps.transport.removeCertificate(
          realm.name,
          device.deviceId,
          registered.certificateId,
          registered.certificateArn,
        ),
      )
        .then(() => persist(() => deps.store.deleteIntent(intent)))
        .catch((error: unknown) => cleanupFailures.push(error));
      if (cleanupFailures.length > 0) {
        // What is left (the certificate, perhaps still ACTIVE) has its intent, due at the deadline: the sweeper
        // finishes it within a minute of that. The client is told why its request failed: a throttle or an outage
        // stays a 429 or a 503 with its Retry-After, never a 500.
        const both = new AggregateError(
          [failure, ...cleanupFailures],
          "issuance failed and its compensation failed too",
        );
        if (failure instanceof ThrottledError)
          throw new ThrottledError(failure.retryAfterSeconds, { cause: both });
        if (failure instanceof DependencyUnavailableError) {
          throw new DependencyUnavailableError(failure.retryAfterSeconds, { cause: both });
        }
        throw failure instanceof DomainError ? failure : both;
      }
      throw failure;
    }
    return {
      certificatePem,
      record,
      renewAfter: renewAfter(record, device.deviceId),
      graceCuts: recorded.value.graceCuts,
    };
  } catch (error) {
    // The slot goes back (charged if the CA billed a certificate), unless the record already released it. If
    // even that fails the slot frees itself at its lease's end: the request's own error is what the client
    // must see, so a failure here is not raised over it.
    await deps.store
      .endIssuance({
        realm: realm.name,
        deviceId: device.deviceId,
        lease,
        charge: billed ? charge : undefined,
        turn,
      })
      .catch(() => undefined);
    throw error;
  }
}

/**
 * Runs a compensation step, again after a jittered backoff (full jitter: up to 0.2, 0.4, 0.8 s) while AWS
 * throttles it or is briefly unavailable: about 1.4 s at most, well inside the function's time.
 */
async function persist<T>(step: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      const transient = error instanceof ThrottledError || error instanceof DependencyUnavailableError;
      if (!transient || attempt >= COMPENSATION_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 100 * 2 ** attempt));
    }
  }
}

/** Why the slot was not taken, for a device whose credentials were good (read from its record as it was). */
function refusedAdmission(device: Device, key: string, now: number): Error {
  const { lease, admitAt, lastKey } = device.issuance ?? {};
  if (lease !== undefined && lease > now) return new IssuanceInProgressError(IN_PROGRESS_RETRY_SECONDS);
  if (admitAt !== undefined && admitAt > now && lastKey !== key) {
    return new IssuanceBudgetExceededError(retryAfterSeconds(admitAt, now, device.deviceId));
  }
  // The record changed between the write and its refusal (a concurrent request finished): try again.
  return new IssuanceInProgressError(1);
}

/** The device's issuance budget after one more billed issuance. */
function chargeBudget(tat: number | undefined, now: number, realm: Realm) {
  return charge(tat, now, { count: realm.issuanceBudgetPerHour, periodMs: 3_600_000 });
}

/**
 * Two thirds into the certificate's lifetime, minus a jitter of up to a tenth of the lifetime drawn per device and
 * certificate, so a fleet paired at once does not renew at once. Deterministic for a device and certificate.
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
