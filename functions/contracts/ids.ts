import { createHash, randomBytes } from "node:crypto";
import * as z from "zod/mini";
import "./zod-messages.ts";

/**
 * Realm names: lowercase letters, digits and `_`, starting with a letter (Astarte's rule), at most 41
 * characters (Tether): a device's certificate CN `<realm>/<22-character id>` must fit X.509's 64-character
 * CommonName, which Private CA enforces.
 */
export const MAX_REALM_NAME_LENGTH = 41;
export const realmNameSchema = z
  .string()
  .check(
    z.regex(
      /^[a-z][a-z0-9_]{0,40}$/,
      "must be lowercase letters, digits and _, start with a letter, ≤ 41 chars",
    ),
  );

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Parses a device id as Astarte does: URL-safe base64 without padding of at least 128 bits. Longer
 * ("extended") ids are truncated to their first 16 bytes. Returns the canonical 22-character form, or
 * undefined if the text is not such an id.
 */
export function canonicalDeviceId(text: string): string | undefined {
  if (text.length < 22 || text.length > 512 || !BASE64URL.test(text) || text.length % 4 === 1)
    return undefined;
  const bytes = Buffer.from(text, "base64url");
  if (bytes.length < 16) return undefined;
  // Reject non-canonical encodings (stray bits in the last character) for exact-length ids.
  if (text.length === 22 && bytes.toString("base64url") !== text) return undefined;
  return bytes.subarray(0, 16).toString("base64url");
}

/** Device id from a name-based UUIDv5, the way Astarte SDKs derive one from hardware data. */
export function deviceIdFromString(namespaceUuid: string, data: string): string {
  const namespace = Buffer.from(namespaceUuid.replaceAll("-", ""), "hex");
  if (namespace.length !== 16) throw new Error(`${namespaceUuid} is not a UUID`);
  const hash = createHash("sha1").update(namespace).update(data, "utf8").digest().subarray(0, 16);
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  return hash.toString("base64url");
}

/** A random (UUIDv4) device id. */
export function randomDeviceId(): string {
  const bytes = randomBytes(16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  return bytes.toString("base64url");
}
