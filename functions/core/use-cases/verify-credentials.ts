import type { VerifyRequest, VerifyResponse } from "../../contracts/pairing.ts";
import { MalformedRequestError } from "../errors.ts";
import { deviceCommonName } from "../identity.ts";
import type { DepsOf, RequestInput } from "../pairing-deps.ts";
import type { CertificateLedger, DeviceRegistry, RealmStore } from "../ports/device-store.ts";
import { assessCertificate } from "../x509.ts";
import { authenticateDevice, type DeviceCredentials } from "./authenticate.ts";
import { ASTARTE_MQTT_V1, renewAfter } from "./issue-credentials.ts";

/** The store concepts this use-case reads and writes. */
type Store = RealmStore & DeviceRegistry & CertificateLedger;

/** Astarte's timestamp form: UTC, milliseconds, a space between date and time, trailing Z. */
export function astarteTimestamp(date: Date): string {
  return date.toISOString().replace("T", " ");
}

/**
 * Is this certificate still good for this device, and until when? Beyond Astarte's X.509 checks, Tether
 * answers from its own record: a certificate of another device is NAME_NOT_PERMITTED; one that is unknown,
 * revoked, or superseded past its grace is REVOKED.
 */
export async function verifyCredentials(
  deps: DepsOf<Store, "clock" | "hasher" | "ca">,
  call: DeviceCredentials & { readonly protocol: string },
  input: RequestInput<VerifyRequest["data"]>,
): Promise<VerifyResponse["data"]> {
  if (call.protocol !== ASTARTE_MQTT_V1) throw new MalformedRequestError(`unknown protocol ${call.protocol}`);
  const { realm, device } = await authenticateDevice(deps, call);
  const data = input();
  const now = deps.clock.now();
  const timestamp = astarteTimestamp(now);
  const invalid = (cause: Extract<VerifyResponse["data"], { valid: false }>["cause"]) =>
    ({ valid: false, timestamp, cause, details: null }) as const;

  const assessment = assessCertificate(
    data.client_crt,
    await deps.ca.caCertificatePem(),
    deviceCommonName(realm.name, device.deviceId),
    now,
  );
  if (!assessment.valid) return invalid(assessment.cause);
  const record = await deps.store.getCertificate(realm.name, device.deviceId, assessment.facts.serial);
  if (!record || record.state === "revoked" || record.state === "retired") return invalid("REVOKED");
  if (record.state === "superseded" && record.graceUntil && now >= new Date(record.graceUntil)) {
    return invalid("REVOKED");
  }
  return {
    valid: true,
    timestamp,
    until: astarteTimestamp(assessment.facts.notAfter),
    renew_after: renewAfter(record, device.deviceId).toISOString(),
  };
}
