import type { VerifyCause, VerifyRequest } from "../../contracts/pairing.ts";
import { MalformedRequestError } from "../errors.ts";
import { deviceCommonName } from "../identity.ts";
import type { DepsOf, RequestInput } from "../pairing-deps.ts";
import type { CertificateLedger, DeviceRegistry, RealmStore } from "../ports/device-store.ts";
import { assessCertificate } from "../x509.ts";
import { authenticateDevice, type DeviceCredentials } from "./authenticate.ts";
import { ASTARTE_MQTT_V1, renewAfter } from "./issue-credentials.ts";

/** The store concepts this use-case reads and writes. */
type Store = RealmStore & DeviceRegistry & CertificateLedger;

/** What verify finds: valid until a time (and when to renew), or invalid for a cause; `at` is when it looked. */
export type Verification =
  | { readonly valid: true; readonly at: Date; readonly until: Date; readonly renewAfter: Date }
  | { readonly valid: false; readonly at: Date; readonly cause: VerifyCause };

/**
 * Is this certificate still good for this device, and until when? Beyond Astarte's X.509 checks, Tether
 * answers from its own record: a certificate of another device is NAME_NOT_PERMITTED; one that is unknown,
 * revoked, or superseded past its grace is REVOKED.
 */
export async function verifyCredentials(
  deps: DepsOf<Store, "clock" | "hasher" | "ca">,
  call: DeviceCredentials & { readonly protocol: string },
  input: RequestInput<VerifyRequest["data"]>,
): Promise<Verification> {
  if (call.protocol !== ASTARTE_MQTT_V1) throw new MalformedRequestError(`unknown protocol ${call.protocol}`);
  const { realm, device } = await authenticateDevice(deps, call);
  const data = input();
  const now = deps.clock.now();
  const invalid = (cause: VerifyCause): Verification => ({ valid: false, at: now, cause });

  const assessment = assessCertificate(
    data.client_crt,
    await deps.ca.trustedCaCertificates(),
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
    at: now,
    until: assessment.facts.notAfter,
    renewAfter: renewAfter(record, device.deviceId),
  };
}
