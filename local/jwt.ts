// `npm run --silent jwt`: prints a JWT for the local realm (a_pa and a_aea on every route, valid one hour),
// like `astartectl utils gen-jwt`. Reads `.tether/local.json`, written by `npm start`.
import { readFile } from "node:fs/promises";
import { importPKCS8, SignJWT } from "jose";
import { LOCAL_CONFIG_PATH, localConfigSchema } from "./local-config.ts";

let raw: string;
try {
  raw = await readFile(LOCAL_CONFIG_PATH, "utf8");
} catch {
  console.error(`No ${LOCAL_CONFIG_PATH}: start Tether first (npm start).`);
  process.exit(2);
}
const config = localConfigSchema.parse(JSON.parse(raw));
const key = await importPKCS8(await readFile(config.realmPrivateKeyPath, "utf8"), "ES256");
const token = await new SignJWT({ a_pa: [".*::.*"], a_aea: [".*::.*"] })
  .setProtectedHeader({ alg: "ES256" })
  .setIssuedAt()
  .setExpirationTime("1h")
  .setSubject("tether-local")
  .sign(key);
console.log(token);
