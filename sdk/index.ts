/**
 * Tether's device SDK: pair with a credentials secret, connect to the broker with a certificate whose key never
 * leaves the device, send and receive, renew before expiry. Compatible with Astarte's Pairing API v1.
 */
export { canonicalDeviceId, deviceIdFromString, randomDeviceId } from "../functions/contracts/ids.ts";
export { type CsrOptions, generateKeyAndCsr, type KeyAndCsr } from "./csr.ts";
export {
  type DataEvent,
  type InterfaceVersion,
  TetherDevice,
  type TetherDeviceEvents,
  type TetherDeviceOptions,
} from "./device.ts";
export { DEFAULT_RETRY, PairingClient, PairingError, type RetryPolicy } from "./pairing-client.ts";
export type { Credentials } from "./state.ts";
