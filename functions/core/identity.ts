/**
 * How a device is named on the MQTT transport. One rule, used by issuance, the IoT policy and the broker:
 * MQTT client id = certificate subject CN = `<realm>/<device_id>` (Astarte's convention), and a device's
 * topics are that CN and everything below it.
 */
export function deviceCommonName(realm: string, deviceId: string): string {
  return `${realm}/${deviceId}`;
}

/**
 * X.509's bound on a CommonName (RFC 5280 ub-common-name), which Private CA enforces. Realm names are capped at
 * 41 characters (contracts/ids.ts) so that every device's CN, `<realm>/<22-character id>`, fits it.
 */
export const MAX_COMMON_NAME_LENGTH = 64;

/**
 * IoT thing names may not contain `/`; `:` appears in neither a realm name nor a base64url device id, so
 * `<realm>:<device_id>` is unambiguous.
 */
export function deviceThingName(realm: string, deviceId: string): string {
  return `${realm}:${deviceId}`;
}

/**
 * Whether a topic, or a subscription filter, stays inside the device's own namespace: its CN and below.
 * Wildcards can then only stand below the prefix (`<cn>/#`, `<cn>/+/x`), never in it, which is exactly what
 * `topic/<cn>/*` and `topicfilter/<cn>/*` allow on IoT Core. (A CN holds no `+` or `#`: realm names and
 * base64url ids cannot.)
 */
export function topicBelongsTo(cn: string, topicOrFilter: string): boolean {
  return topicOrFilter === cn || topicOrFilter.startsWith(`${cn}/`);
}
