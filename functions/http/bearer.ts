import type { RouteContract } from "../contracts/routes.ts";
import { BearerMissingError } from "../core/errors.ts";
import type { DeviceCredentials } from "../core/use-cases/authenticate.ts";

/**
 * The token of an `Authorization: Bearer <token>` header. The scheme is case-insensitive and `Bearer:` with a
 * colon is accepted too (some Astarte SDKs send it).
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^bearer:?\s+(\S+)\s*$/i.exec(header.trim());
  return match?.[1];
}

/** The request as authorization sees it: its route, path parameters and `Authorization` header. */
export interface AuthRequest {
  readonly route: RouteContract;
  param(name: string): string;
  readonly authorization: string | undefined;
}

/**
 * A device route's credentials: the secret from the bearer (401 without one). Whether it is the device's is
 * the domain's to decide (`authenticateDevice`), since on issuance the check is fused with the slot's write.
 */
export function deviceCredentials(request: AuthRequest): DeviceCredentials {
  const secret = bearerToken(request.authorization);
  if (!secret) throw new BearerMissingError("secret");
  return { realmName: request.param("realm"), deviceIdText: request.param("device_id"), secret };
}
