import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { authorizeAgent, bearerToken } from "../../functions/core/agent-auth.ts";
import { ForbiddenError, UnauthenticatedError } from "../../functions/core/errors.ts";

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
  const call = (token: string | undefined, method = "POST", path = "agent/devices") =>
    authorizeAgent({ authorization: token && `Bearer ${token}`, method, path }, publicPem, "a_pa", now);

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
    await expect(call(await sign({ a_pa: [] }))).rejects.toThrow(
      "Unauthorized access to POST agent/devices. Please verify your permissions",
    );
  });

  it("is 401 without a token, and for a token past its exp", async () => {
    await expect(call(undefined)).rejects.toThrow(new UnauthenticatedError("Missing authorization token"));
    const late = authorizeAgent(
      { authorization: `Bearer ${await sign({ a_pa: [".*::.*"] })}`, method: "POST", path: "agent/devices" },
      publicPem,
      "a_pa",
      new Date(now.getTime() + 120_000),
    );
    await expect(late).rejects.toThrow(new UnauthenticatedError("Invalid JWT token"));
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
});
