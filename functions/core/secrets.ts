import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** 32 random bytes, standard base64 with padding: 44 characters, as Astarte issues them. */
export function newCredentialsSecret(): string {
  return randomBytes(32).toString("base64");
}

/**
 * Stores and checks credentials secrets as HMAC-SHA256 under a service key. For a 256-bit random secret a
 * keyed hash is as strong as a slow KDF and costs microseconds (bcrypt would cost ~250 ms per request);
 * the key means a leaked table alone does not even allow checking guesses.
 */
export class SecretHasher {
  readonly #key: Buffer;
  /** Hash of nothing anyone holds: compared against when the device is unknown, to cost the same. */
  readonly #decoy: Buffer;

  constructor(key: Uint8Array) {
    if (key.length < 32) throw new Error("the secret hash key must be at least 32 bytes");
    this.#key = Buffer.from(key);
    this.#decoy = this.#digest(randomBytes(32).toString("base64"));
  }

  hash(secret: string): string {
    return this.#digest(secret).toString("base64");
  }

  /**
   * Constant-time check of `secret` against `storedHash`. With no stored hash (unknown or unregistered
   * device) it still hashes and compares, so the answer takes the same time either way.
   */
  matches(secret: string, storedHash: string | undefined): boolean {
    const presented = this.#digest(secret);
    const stored = storedHash === undefined ? undefined : Buffer.from(storedHash, "base64");
    const reference = stored?.length === presented.length ? stored : this.#decoy;
    return timingSafeEqual(presented, reference) && reference !== this.#decoy;
  }

  #digest(secret: string): Buffer {
    return createHmac("sha256", this.#key).update(secret, "utf8").digest();
  }
}

/** How use-cases hash and check secrets; async because the key may have to be fetched first. */
export interface CredentialsHasher {
  hash(secret: string): Promise<string>;
  matches(secret: string, storedHash: string | undefined): Promise<boolean>;
}

/**
 * A {@link SecretHasher} whose key is loaded on first use (from Secrets Manager on AWS), once per container.
 * Functions that never touch a secret never fetch the key.
 */
export class LazySecretHasher implements CredentialsHasher {
  #hasher: Promise<SecretHasher> | undefined;

  constructor(private readonly loadKey: () => Promise<Uint8Array>) {}

  async hash(secret: string): Promise<string> {
    return (await this.#load()).hash(secret);
  }

  async matches(secret: string, storedHash: string | undefined): Promise<boolean> {
    return (await this.#load()).matches(secret, storedHash);
  }

  #load(): Promise<SecretHasher> {
    this.#hasher ??= this.loadKey().then(
      (key) => new SecretHasher(key),
      (error: unknown) => {
        this.#hasher = undefined;
        throw error;
      },
    );
    return this.#hasher;
  }
}
