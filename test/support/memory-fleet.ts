import { randomBytes } from "node:crypto";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { createMemoryWorld, type MemoryWorld } from "../../functions/adapters/memory/index.ts";
import type { BudgetRates } from "../../functions/core/aws-budget.ts";
import type { Realm } from "../../functions/core/model.ts";
import type { RequestMeta } from "../../functions/core/pairing-deps.ts";
import type { DeviceCredentials, RealmDevice } from "../../functions/core/use-cases/authenticate.ts";
import { issueCredentials } from "../../functions/core/use-cases/issue-credentials.ts";
import { createRealm } from "../../functions/core/use-cases/realms.ts";
import { registerDevice } from "../../functions/core/use-cases/register-device.ts";
import { generateKeyAndCsr } from "../../sdk/csr.ts";

/**
 * A realm on the in-memory adapters, driven through the production use-cases, for unit tests: no Python, no
 * network, a clock that moves only when told.
 */
export interface MemoryFleet extends MemoryWorld {
  readonly realm: string;
  jwt(claims?: Record<string, unknown>): Promise<string>;
  /** The realm's record, as an agent route's handler gets it once the edge authorized the call. */
  realmRecord(): Promise<Realm>;
  /** Realm and device, as a device route authorized by a realm JWT hands them to its use-case. */
  agent(deviceId: string): Promise<RealmDevice>;
  /** What the edge reads from a device route: the realm and device it names, and the bearer secret. */
  credentials(deviceId: string, secret: string): DeviceCredentials;
  /** Registers a device through the agent use-case; its id and secret. */
  register(deviceId?: string): Promise<{ deviceId: string; secret: string }>;
  /** A new key and CSR for the device, as the SDK makes them. */
  csr(deviceId: string): Promise<string>;
  /** Pairs through the credentials use-case, with a fresh CSR unless one is given. */
  pair(deviceId: string, secret: string, csrPem?: string): ReturnType<typeof issueCredentials>;
  meta(): RequestMeta;
}

export async function memoryFleet(
  settings: Record<string, unknown> = {},
  realm = "unit",
  budget?: BudgetRates,
): Promise<MemoryFleet> {
  const world = createMemoryWorld(budget ? { budget } : {});
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  await createRealm(world.deps, {
    realm_name: realm,
    jwt_public_key_pem: await exportSPKI(publicKey),
    ...settings,
  });
  const realmRecord = async () => {
    const record = await world.store.getRealm(realm);
    if (!record) throw new Error(`realm ${realm} is gone`);
    return record;
  };
  const credentials = (deviceId: string, secret: string) => ({
    realmName: realm,
    deviceIdText: deviceId,
    secret,
  });
  const jwt = async (claims: Record<string, unknown> = { a_pa: [".*::.*"], a_aea: [".*::.*"] }) => {
    const now = Math.floor(world.clock.now().getTime() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: "ES256" })
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(privateKey);
  };
  const meta = (): RequestMeta => ({ sourceIp: "192.0.2.7", requestId: randomBytes(8).toString("hex") });
  const csr = async (deviceId: string) =>
    (await generateKeyAndCsr({ subject: `CN=${realm}/${deviceId},O=Devices` })).csrPem;
  return {
    ...world,
    realm,
    jwt,
    meta,
    csr,
    realmRecord,
    credentials,
    async agent(deviceId) {
      const found = await world.store.getRealmAndDevice(realm, deviceId);
      if (!found.realm || !found.device) throw new Error(`no device ${deviceId} in ${realm}`);
      return { realm: found.realm, device: found.device };
    },
    async register(deviceId = randomBytes(16).toString("base64url")) {
      const registered = await registerDevice(world.deps, await realmRecord(), { hw_id: deviceId });
      return { deviceId, secret: registered.credentialsSecret };
    },
    async pair(deviceId, secret, csrPem) {
      const pem = csrPem ?? (await csr(deviceId));
      return issueCredentials(
        world.deps,
        { ...credentials(deviceId, secret), protocol: "astarte_mqtt_v1" },
        () => ({ csr: pem }),
        meta(),
      );
    },
  };
}
