import { generateKeyAndCsr } from "../../local/x509.ts";
import type { LocalTether, TestRealm } from "./tether.ts";

export interface PairedDevice {
  readonly deviceId: string;
  readonly secret: string;
  readonly keyPem: string;
  readonly certPem: string;
  readonly cn: string;
}

export const devicePath = (realm: string, deviceId: string) => `/pairing/v1/${realm}/devices/${deviceId}`;
export const credentialsPath = (realm: string, deviceId: string) =>
  `${devicePath(realm, deviceId)}/protocols/astarte_mqtt_v1/credentials`;

/** Registers a device through the agent API and returns its credentials secret. */
export async function registerDevice(
  tether: LocalTether,
  realm: TestRealm,
  deviceId: string,
): Promise<string> {
  const { body } = await tether.api(await realm.jwt()).call("registerDevice", {
    params: { realm: realm.name },
    body: { data: { hw_id: deviceId } },
  });
  return body.data.credentials_secret;
}

/** Generates a key on the "device" and trades a CSR for a certificate. */
export async function requestCertificate(
  tether: LocalTether,
  realm: string,
  deviceId: string,
  secret: string,
): Promise<{ keyPem: string; certPem: string }> {
  const { privateKeyPem, csrPem } = await generateKeyAndCsr({ subject: `CN=${realm}/${deviceId},O=Devices` });
  const { body } = await tether.api(secret).call("credentials", {
    params: { realm, device_id: deviceId, protocol: "astarte_mqtt_v1" },
    body: { data: { csr: csrPem } },
  });
  return { keyPem: privateKeyPem, certPem: body.data.client_crt };
}

/** Register + pair in one go. */
export async function pairDevice(
  tether: LocalTether,
  realm: TestRealm,
  deviceId: string,
): Promise<PairedDevice> {
  const secret = await registerDevice(tether, realm, deviceId);
  const { keyPem, certPem } = await requestCertificate(tether, realm.name, deviceId, secret);
  return { deviceId, secret, keyPem, certPem, cn: `${realm.name}/${deviceId}` };
}

export async function verify(
  tether: LocalTether,
  realm: string,
  device: { deviceId: string; secret: string },
  certPem: string,
) {
  return tether.request("POST", `${credentialsPath(realm, device.deviceId)}/verify`, {
    token: device.secret,
    body: { data: { client_crt: certPem } },
  });
}
