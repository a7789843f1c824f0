import { createPublicKey } from "node:crypto";
import { exportSPKI, generateKeyPair, type JWTHeaderParameters, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { ROUTES, type RouteContract } from "../../functions/contracts/routes.ts";
import {
  BearerMissingError,
  ClaimMissingError,
  DeviceNotFoundError,
  ForbiddenError,
  TokenInvalidError,
  UnknownRealmError,
} from "../../functions/core/errors.ts";
import { algorithmsFor } from "../../functions/core/realm-key.ts";
import { authorizeAgent, grantPath, verifyGrant } from "../../functions/http/auth.ts";
import { bearerToken } from "../../functions/http/bearer.ts";
import { memoryFleet } from "../support/memory-fleet.ts";

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

describe("agent JWT authorization", () => {
  let publicPem: string;
  let sign: (claims: Record<string, unknown>) => Promise<string>;
  const now = new Date("2026-11-24T10:00:00Z");
  beforeAll(async () => {
    const keys = await generateKeyPair("ES256");
    publicPem = await exportSPKI(keys.publicKey);
    sign = (claims) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: "ES256" })
        .setExpirationTime(Math.floor(now.getTime() / 1000) + 60)
        .sign(keys.privateKey);
  });
  const call = (token: string, method = "POST", path = "agent/devices") =>
    verifyGrant(token, publicPem, "a_pa", method, path, now);

  it.each([
    [[".*::.*"], "POST", "agent/devices", true],
    [["POST::agent/devices"], "POST", "agent/devices", true],
    [["POST::agent/devices"], "POST", "agent/devices/x", false],
    [["GET::agent/.*"], "POST", "agent/devices", false],
    [["POST|DELETE::agent/devices.*"], "DELETE", "agent/devices/abc", true],
    [["POST::agent"], "POST", "agent/devices", false],
    [["POST::agent/devices", "bogus"], "POST", "agent/devices", true],
    [["(::agent/devices"], "POST", "agent/devices", false],
    ["not-a-list", "POST", "agent/devices", false],
  ])("a_pa %j allows %s %s: %s", async (grants, method, path, allowed) => {
    const attempt = call(await sign({ a_pa: grants }), method, path);
    if (allowed) await expect(attempt).resolves.toBeUndefined();
    else await expect(attempt).rejects.toBeInstanceOf(ForbiddenError);
  });

  it("names the route in the 403 detail", async () => {
    // The error names the route; http/errors.ts words Astarte's 403 text from it.
    const refused = call(await sign({ a_pa: [] }));
    await expect(refused).rejects.toBeInstanceOf(ClaimMissingError);
    await expect(refused).rejects.toMatchObject({ method: "POST", path: "agent/devices" });
  });

  it("is 401 for a token past its exp", async () => {
    const late = verifyGrant(
      await sign({ a_pa: [".*::.*"] }),
      publicPem,
      "a_pa",
      "POST",
      "agent/devices",
      new Date(now.getTime() + 120_000),
    );
    await expect(late).rejects.toBeInstanceOf(TokenInvalidError);
  });

  it.each([
    ["Bearer abc", "abc"],
    ["bearer abc", "abc"],
    ["Bearer: abc", "abc"],
    ["Bearer abc ", "abc"],
    ["Basic abc", undefined],
    ["Bearer a b", undefined],
    ["Bearer", undefined],
    ["Bearer a,Bearer b", undefined],
  ])("bearerToken(%j) is %j", (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  describe("a token whose algorithm does not fit the realm's key is 401, never a crash", () => {
    const ALGS = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] as const;
    const KEYS = {
      "EC P-256": ["ES256", { name: "ES256" }],
      "EC P-384": ["ES384", { name: "ES384" }],
      "EC P-521": ["ES512", { name: "ES512" }],
      "RSA 2048": ["RS256", { name: "RS256", modulusLength: 2048 }],
    } as const;
    type Signer = (alg: string) => Promise<string>;
    const realmKeys = new Map<string, string>();
    const signers = new Map<string, Signer>();
    beforeAll(async () => {
      // One key pair per algorithm family to sign with; the header names `alg` whatever key signed.
      const byAlg = new Map<string, PrivateKey>();
      for (const alg of ALGS) {
        const family = alg.startsWith("ES") ? alg : "RS256";
        if (!byAlg.has(family))
          byAlg.set(family, (await generateKeyPair(family, { extractable: true })).privateKey);
        const key = byAlg.get(family) as PrivateKey;
        signers.set(alg, (header) =>
          new SignJWT({ a_pa: [".*::.*"] })
            .setProtectedHeader({ alg: header } as JWTHeaderParameters)
            .sign(key)
            .catch(() => forgedToken(header)),
        );
      }
      for (const [name, [alg]] of Object.entries(KEYS)) {
        realmKeys.set(name, await exportSPKI((await generateKeyPair(alg, { extractable: true })).publicKey));
      }
    });
    /** A token jose would not sign (alg and key disagree): header and claims real, signature random. */
    const forgedToken = async (alg: string) => {
      const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
      return `${part({ alg })}.${part({ a_pa: [".*::.*"] })}.${Buffer.alloc(64, 7).toString("base64url")}`;
    };

    const cases = Object.keys(KEYS).flatMap((key) =>
      [...ALGS, "HS256", "none", "EdDSA", "ES256K"].map((alg) => [key, alg] as const),
    );
    it.each(cases)("%s realm key, %s token signed by another key", async (keyName, alg) => {
      const sign = signers.get(alg) ?? forgedToken;
      const token = await sign(alg);
      await expect(
        verifyGrant(token, realmKeys.get(keyName) as string, "a_pa", "POST", "agent/devices", now),
      ).rejects.toBeInstanceOf(TokenInvalidError);
    });

    it("each key verifies exactly the algorithms that fit it", async () => {
      const expected: Record<string, readonly string[]> = {
        "EC P-256": ["ES256"],
        "EC P-384": ["ES384"],
        "EC P-521": ["ES512"],
        "RSA 2048": ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
      };
      for (const [name, pem] of realmKeys) {
        expect(algorithmsFor(createPublicKey(pem))).toEqual(expected[name]);
      }
    });
  });
});

describe("the edge authorizes agent routes from the route table", () => {
  const request = (route: RouteContract, params: Record<string, string>, authorization?: string) => ({
    route,
    param: (name: string) => params[name] ?? "",
    authorization,
  });

  it("answers 401 without a token, 403 for an unknown realm, 403 without a grant, 404 for an unknown device", async () => {
    const fleet = await memoryFleet();
    const { deviceId } = await fleet.register();
    const jwt = await fleet.jwt();
    const route = ROUTES.unregisterDevice;
    await expect(
      authorizeAgent(fleet.deps, request(route, { realm: "nope", device_id: deviceId })),
    ).rejects.toBeInstanceOf(BearerMissingError);
    await expect(
      authorizeAgent(fleet.deps, request(route, { realm: "nope", device_id: deviceId }, `Bearer ${jwt}`)),
    ).rejects.toBeInstanceOf(UnknownRealmError);
    const onlyAppEngine = await fleet.jwt({ a_aea: [".*::.*"] });
    await expect(
      authorizeAgent(
        fleet.deps,
        request(route, { realm: fleet.realm, device_id: deviceId }, `Bearer ${onlyAppEngine}`),
      ),
    ).rejects.toBeInstanceOf(ClaimMissingError);
    // Authorized first, then the device: a caller without a grant learns nothing about which devices exist.
    await expect(
      authorizeAgent(
        fleet.deps,
        request(route, { realm: fleet.realm, device_id: "AJInS0w3VpWpuOqkXhgZdA" }, `Bearer ${jwt}`),
      ),
    ).rejects.toBeInstanceOf(DeviceNotFoundError);
    const found = await authorizeAgent(
      fleet.deps,
      request(route, { realm: fleet.realm, device_id: deviceId }, `Bearer ${jwt}`),
    );
    expect(found.device?.deviceId).toBe(deviceId);
  });

  it("matches grants against the route's method and path, with the device id canonical", async () => {
    const fleet = await memoryFleet();
    const { deviceId } = await fleet.register();
    // The same device spelt as an extended id (more bytes after its 128 bits): a grant excluding the device
    // must still exclude it.
    const padded = `${deviceId}AAAAAA`;
    expect(grantPath(ROUTES.patchDevice.path, (name) => (name === "device_id" ? padded : fleet.realm))).toBe(
      `devices/${deviceId}`,
    );
    const onlyOthers = await fleet.jwt({ a_aea: [`PATCH::devices/(?!${deviceId}).*`, "GET::devices/.*"] });
    const params = { realm: fleet.realm, device_id: padded };
    await expect(
      authorizeAgent(fleet.deps, request(ROUTES.patchDevice, params, `Bearer ${onlyOthers}`)),
    ).rejects.toBeInstanceOf(ClaimMissingError);
    await expect(
      authorizeAgent(fleet.deps, request(ROUTES.deviceStatus, params, `Bearer ${onlyOthers}`)),
    ).resolves.toMatchObject({ device: { deviceId } });
    expect(
      grantPath(ROUTES.rotateSecret.path, (name) => (name === "device_id" ? deviceId : fleet.realm)),
    ).toBe(`agent/devices/${deviceId}/credentials_secret`);
  });
});
