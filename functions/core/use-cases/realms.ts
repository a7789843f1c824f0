import { createPublicKey, type KeyObject } from "node:crypto";
import { realmNameSchema } from "../../contracts/ids.ts";
import type { CreateRealmRequest, UpdateRealmRequest } from "../../contracts/realms.ts";
import { RealmNotFoundError, ValidationError } from "../errors.ts";
import {
  DEFAULT_GRACE_SECONDS,
  DEFAULT_ISSUANCE_BUDGET_PER_HOUR,
  DEFAULT_MAX_LIVE_CERTIFICATES,
  type Realm,
} from "../model.ts";
import type { DepsOf, RequestInput } from "../pairing-deps.ts";
import type { RealmStore } from "../ports/device-store.ts";
import { algorithmsFor } from "../realm-key.ts";

/** The store concepts this use-case reads and writes. */
type Store = RealmStore;

/**
 * Housekeeping: realms. These routes are protected by IAM on AWS (and an admin token locally), not by a
 * realm JWT, so the use-cases do no authorization of their own. They use the record, the clock and the
 * service defaults.
 */
type RealmDeps = DepsOf<Store, "clock" | "settings">;

export async function createRealm(deps: RealmDeps, data: CreateRealmRequest["data"]): Promise<Realm> {
  const realm: Realm = {
    name: data.realm_name,
    jwtPublicKeyPem: normalizedPublicKey(data.jwt_public_key_pem),
    brokerUrl: data.broker_url,
    certificateValiditySeconds:
      data.certificate_validity_seconds ?? deps.settings.defaultCertificateValiditySeconds,
    graceSeconds: data.grace_seconds ?? DEFAULT_GRACE_SECONDS,
    deviceLimit: data.device_limit,
    issuanceBudgetPerHour: data.issuance_budget_per_hour ?? DEFAULT_ISSUANCE_BUDGET_PER_HOUR,
    maxLiveCertificates: data.max_live_certificates ?? DEFAULT_MAX_LIVE_CERTIFICATES,
    indexedMetadataKeys: data.indexed_metadata_keys ?? [],
    deviceCount: 0,
    createdAt: deps.clock.now().toISOString(),
  };
  await deps.store.createRealm(realm);
  return realm;
}

/** Merge-patch of a realm's settings; rotating its JWT key takes effect on the next request. */
export async function updateRealm(
  deps: RealmDeps,
  name: string,
  input: RequestInput<UpdateRealmRequest["data"]>,
): Promise<Realm> {
  const current = realmNameSchema.safeParse(name).success ? await deps.store.getRealm(name) : undefined;
  if (!current) throw new RealmNotFoundError();
  const data = input();
  const updated = await deps.store.updateRealm({
    ...current,
    jwtPublicKeyPem:
      data.jwt_public_key_pem === undefined
        ? current.jwtPublicKeyPem
        : normalizedPublicKey(data.jwt_public_key_pem),
    brokerUrl: data.broker_url === undefined ? current.brokerUrl : (data.broker_url ?? undefined),
    certificateValiditySeconds: data.certificate_validity_seconds ?? current.certificateValiditySeconds,
    graceSeconds: data.grace_seconds ?? current.graceSeconds,
    deviceLimit: data.device_limit === undefined ? current.deviceLimit : (data.device_limit ?? undefined),
    issuanceBudgetPerHour: data.issuance_budget_per_hour ?? current.issuanceBudgetPerHour,
    maxLiveCertificates: data.max_live_certificates ?? current.maxLiveCertificates,
    indexedMetadataKeys: data.indexed_metadata_keys ?? current.indexedMetadataKeys,
  });
  return updated;
}

export async function getRealm(deps: RealmDeps, name: string): Promise<Realm> {
  const realm = realmNameSchema.safeParse(name).success ? await deps.store.getRealm(name) : undefined;
  if (!realm) throw new RealmNotFoundError();
  return realm;
}

export async function listRealms(deps: RealmDeps): Promise<string[]> {
  return (await deps.store.listRealms()).map((r) => r.name);
}

/**
 * How long after a realm's deletion the sweeper purges it: longer than any request that read the realm as
 * live can still run (the API's functions time out after 15 s), so none can write a device or certificate
 * behind the purge.
 */
export const REALM_PURGE_DELAY_MS = 60_000;

/**
 * `DELETE /v1/realms/{realm}`: the realm is gone for every API at once (devices can neither pair nor verify,
 * agents cannot register); the sweeper then takes its devices' certificates out of IoT Core and revokes them,
 * deletes their things and records, and finally the realm's record, after which the name can be used again.
 */
export async function deleteRealm(deps: RealmDeps, name: string): Promise<void> {
  if (!realmNameSchema.safeParse(name).success) throw new RealmNotFoundError();
  await deps.store.deleteRealm(
    name,
    new Date(deps.clock.now().getTime() + REALM_PURGE_DELAY_MS).toISOString(),
  );
}

/** PEM labels a realm key may come in: SPKI, or PKCS#1 for RSA. Anything else (a private key) is refused. */
const PUBLIC_KEY_LABELS = new Set(["PUBLIC KEY", "RSA PUBLIC KEY"]);

/**
 * The realm key as Tether stores and returns it: exactly one public key (EC P-256/P-384/P-521, or RSA of at
 * least 2048 bits), re-encoded as SPKI PEM. A private key is refused outright even though its public half could
 * be derived: a realm never stores, logs or echoes private key material.
 */
function normalizedPublicKey(pem: string): string {
  const labels = [...pem.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1] ?? "");
  const refuse = () => new ValidationError({ jwt_public_key_pem: ["is not a PEM EC or RSA public key"] });
  if (labels.length !== 1 || !PUBLIC_KEY_LABELS.has(labels[0] ?? "") || /PRIVATE/i.test(pem)) throw refuse();
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw refuse();
  }
  const rsaTooShort = key.asymmetricKeyType !== "ec" && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048;
  if (key.type !== "public" || algorithmsFor(key).length === 0 || rsaTooShort) throw refuse();
  return key.export({ type: "spki", format: "pem" }).toString();
}
