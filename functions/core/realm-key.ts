import type { KeyObject } from "node:crypto";

const RSA_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
const EC_ALGORITHMS: Readonly<Record<string, string>> = {
  prime256v1: "ES256",
  secp384r1: "ES384",
  secp521r1: "ES512",
};

/**
 * The JWS algorithms a public key verifies: ES256/384/512 for exactly its curve, RS256-512 and PS256-512 for RSA, PS256-512 for
 * RSA-PSS. `none` and HMAC (which a public key could be abused to forge) never are. Without this a header
 * naming another curve's algorithm reached WebCrypto, which throws a DataError (a 500) instead of refusing.
 */
export function algorithmsFor(key: KeyObject): readonly string[] {
  switch (key.asymmetricKeyType) {
    case "ec": {
      const alg = EC_ALGORITHMS[key.asymmetricKeyDetails?.namedCurve ?? ""];
      return alg ? [alg] : [];
    }
    case "rsa":
      return RSA_ALGORITHMS;
    case "rsa-pss":
      return RSA_ALGORITHMS.filter((alg) => alg.startsWith("PS"));
    default:
      return [];
  }
}
