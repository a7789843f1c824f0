import { X509Certificate } from "node:crypto";
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** What a device keeps between runs: its key, its certificate, and when to renew it. */
export interface Credentials {
  readonly keyPem: string;
  readonly certificatePem: string;
  readonly notAfter: Date;
  readonly renewAfter: Date;
}

const KEY = "device.key.pem";
const CERT = "device.crt.pem";
const META = "credentials.json";

/** Files in the device's state directory, readable by its owner only (0600; the directory 0700). */
export class CredentialsStore {
  constructor(private readonly dir: string) {}

  async load(): Promise<Credentials | undefined> {
    try {
      const [keyPem, certificatePem, meta] = await Promise.all([
        readFile(join(this.dir, KEY), "utf8"),
        readFile(join(this.dir, CERT), "utf8"),
        readFile(join(this.dir, META), "utf8"),
      ]);
      const { renewAfter } = JSON.parse(meta) as { renewAfter: string };
      return {
        keyPem,
        certificatePem,
        notAfter: new X509Certificate(certificatePem).validToDate,
        renewAfter: new Date(renewAfter),
      };
    } catch {
      return undefined;
    }
  }

  async save(credentials: Credentials): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
    const write = async (name: string, content: string) => {
      const path = join(this.dir, name);
      await writeFile(path, content, { mode: 0o600 });
      await chmod(path, 0o600);
    };
    await write(KEY, credentials.keyPem);
    await write(CERT, credentials.certificatePem);
    await write(META, JSON.stringify({ renewAfter: credentials.renewAfter.toISOString() }));
  }

  async erase(): Promise<void> {
    await Promise.all([KEY, CERT, META].map((name) => rm(join(this.dir, name), { force: true })));
  }
}
