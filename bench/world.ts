import { exportSPKI, generateKeyPair } from "jose";
import { createMemoryWorld, type MemoryWorld } from "../functions/adapters/memory/index.ts";
import { createRealm } from "../functions/core/use-cases/realms.ts";
import { registerDevice } from "../functions/core/use-cases/register-device.ts";
import { generateKeyAndCsr } from "../sdk/csr.ts";

export interface BenchDevice {
  readonly deviceId: string;
  readonly secret: string;
  /** CSRs made ahead of time (key generation is the device's work, not Tether's). */
  readonly csrs: string[];
}

export interface BenchWorld extends MemoryWorld {
  readonly realm: string;
  readonly devices: BenchDevice[];
  /** Every port call waits this long first: AWS's latency, to count sequential round trips. */
  setLatency(ms: number): void;
}

/** The ports' methods that answer at once, from what they hold (no round trip to wait for). */
const SYNCHRONOUS = new Set<PropertyKey>(["issuerOf"]);

/** Wraps every async method of a port so it waits `latency()` ms before running. */
function delayed<T extends object>(port: T, latency: () => number): T {
  return new Proxy(port, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== "function") return value;
      if (SYNCHRONOUS.has(key)) return value.bind(target);
      return async (...args: unknown[]) => {
        const ms = latency();
        if (ms > 0) await new Promise((r) => setTimeout(r, ms));
        return value.apply(target, args);
      };
    },
  });
}

/**
 * One realm and `deviceCount` registered devices on the in-memory adapters (the ones the unit tests and the
 * contract suite hold to DynamoDB's behaviour), each with `csrsPerDevice` CSRs ready, for measuring Tether's own
 * CPU and its round trips. Several devices, a few issuances each: a device's ledger stays the size it has in a
 * fleet (a handful of records), not hundreds.
 */
export async function benchWorld(deviceCount: number, csrsPerDevice: number): Promise<BenchWorld> {
  const world = createMemoryWorld();
  let latencyMs = 0;
  const latency = () => latencyMs;
  const deps = {
    ...world.deps,
    store: delayed(world.deps.store, latency),
    ca: delayed(world.deps.ca, latency),
    transport: delayed(world.deps.transport, latency),
    connections: delayed(world.deps.connections, latency),
  };
  const realm = "bench";
  const { publicKey } = await generateKeyPair("ES256", { extractable: true });
  await createRealm(world.deps, {
    // The benchmark issues for one device over and over: no budget gets in the way.
    realm_name: realm,
    jwt_public_key_pem: await exportSPKI(publicKey),
    issuance_budget_per_hour: 3600,
    max_live_certificates: 20,
  });
  const realmRecord = await world.store.getRealm(realm);
  if (!realmRecord) throw new Error("the bench realm was not created");
  const devices: BenchDevice[] = [];
  for (let d = 0; d < deviceCount; d++) {
    const deviceId = Buffer.alloc(16, d + 1).toString("base64url");
    const { credentialsSecret } = await registerDevice(world.deps, realmRecord, { hw_id: deviceId });
    const csrs: string[] = [];
    for (let i = 0; i < csrsPerDevice; i++) {
      csrs.push((await generateKeyAndCsr({ subject: `CN=${realm}/${deviceId}` })).csrPem);
    }
    devices.push({ deviceId, secret: credentialsSecret, csrs });
  }
  return {
    ...world,
    deps,
    realm,
    devices,
    setLatency: (ms) => {
      latencyMs = ms;
    },
  };
}
