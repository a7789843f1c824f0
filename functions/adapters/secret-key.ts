import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { aws } from "./aws-errors.ts";

/** Reads the secret-hashing key from Secrets Manager: the UTF-8 bytes of the secret's string. */
export async function loadSecretKey(secrets: SecretsManagerClient, secretArn: string): Promise<Uint8Array> {
  const out = await aws(() => secrets.send(new GetSecretValueCommand({ SecretId: secretArn })));
  if (!out.SecretString) throw new Error("the secret-hashing key secret has no string value");
  return Buffer.from(out.SecretString, "utf8");
}
