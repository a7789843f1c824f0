// `npm run demo:meter`: Kaa's smart-meter how-to in Tether's terms. Registers a meter in the local realm, pairs
// it through the device SDK (key made on the "device", CSR traded for a certificate), connects to the broker and
// reports its model and MAC address to `<realm>/<id>/metadata`. `npm start`'s terminal shows it arrive.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { importPKCS8, SignJWT } from "jose";
import { randomDeviceId, TetherDevice } from "../sdk/index.ts";
import { LOCAL_CONFIG_PATH, localConfigSchema, STATE_DIR } from "./local-config.ts";

const METADATA = { model: "MySmartMeter A300", mac: "00-14-22-01-23-45" };

let raw: string;
try {
  raw = await readFile(LOCAL_CONFIG_PATH, "utf8");
} catch {
  console.error(
    `No ${LOCAL_CONFIG_PATH}: start Tether first (npm start), then run the demo in another terminal.`,
  );
  process.exit(2);
}
const config = localConfigSchema.parse(JSON.parse(raw));
const deviceId = process.env.METER_ID ?? randomDeviceId();

// The factory agent: registers the meter with a realm JWT and hands the secret to the device.
const key = await importPKCS8(await readFile(config.realmPrivateKeyPath, "utf8"), "ES256");
const jwt = await new SignJWT({ a_pa: ["POST::agent/devices"] })
  .setProtectedHeader({ alg: "ES256" })
  .setExpirationTime("60s")
  .sign(key);
const registered = await fetch(`${config.pairingUrl}/v1/${config.realm}/agent/devices`, {
  method: "POST",
  headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json" },
  body: JSON.stringify({
    data: { hw_id: deviceId, initial_introspection: { "org.example.SmartMeter": { major: 1, minor: 0 } } },
  }),
});
if (registered.status !== 201) {
  console.error(`registering the meter failed: ${registered.status} ${await registered.text()}`);
  process.exit(3);
}
const { data } = (await registered.json()) as { data: { credentials_secret: string } };
console.log(`registered meter ${deviceId} in realm ${config.realm}`);

// The meter: pairs, connects, reports its metadata.
const meter = new TetherDevice({
  pairingUrl: config.pairingUrl,
  realm: config.realm,
  deviceId,
  credentialsSecret: data.credentials_secret,
  stateDir: join(STATE_DIR, "devices", deviceId),
  brokerCa: await readFile(config.brokerCaPath, "utf8"),
  introspection: { "org.example.SmartMeter": { major: 1, minor: 0 } },
});
await meter.connect();
console.log(`connected to ${config.brokerUrl} as ${meter.commonName}`);
await meter.setMetadata(METADATA);
console.log(`sent metadata to ${meter.commonName}/metadata: ${JSON.stringify(METADATA)}`);
await meter.close();
console.log("disconnected");
