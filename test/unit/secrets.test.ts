import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { newCredentialsSecret, SecretHasher } from "../../functions/core/secrets.ts";

describe("credentials secrets", () => {
  const hasher = new SecretHasher(randomBytes(32));

  it("are 32 random bytes in padded base64", () => {
    const secret = newCredentialsSecret();
    expect(secret).toHaveLength(44);
    expect(Buffer.from(secret, "base64")).toHaveLength(32);
    expect(newCredentialsSecret()).not.toBe(secret);
  });

  it("are stored as a keyed hash that only the right secret matches", () => {
    const secret = newCredentialsSecret();
    const stored = hasher.hash(secret);
    expect(stored).not.toContain(secret);
    expect(hasher.matches(secret, stored)).toBe(true);
    expect(hasher.matches(newCredentialsSecret(), stored)).toBe(false);
    expect(hasher.matches(secret, undefined)).toBe(false);
    expect(hasher.matches(secret, "not base64 of the right length")).toBe(false);
    // Another key, another hash: a leaked table alone does not allow checking guesses.
    expect(new SecretHasher(randomBytes(32)).hash(secret)).not.toBe(stored);
  });

  it("refuses a short key", () => {
    expect(() => new SecretHasher(randomBytes(16))).toThrow(/at least 32 bytes/);
  });
});
