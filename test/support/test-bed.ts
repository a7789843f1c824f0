import type { AwsClients } from "../../functions/adapters/aws-clients.ts";
import type { LocalEnvironment } from "../../local/bootstrap.ts";

export interface LocalTestBed {
  readonly env: LocalEnvironment;
  readonly clients: AwsClients;
  readonly awsEndpoint: string;
  readonly brokerPort: number;
}

let current: LocalTestBed | undefined;

export function setLocalTestBed(bed: LocalTestBed): void {
  current = bed;
}

/** The freshly bootstrapped emulator and broker of this test file (set by the per-file setup). */
export function testBed(): LocalTestBed {
  if (!current) throw new Error("the local test bed is only available to integration tests");
  return current;
}
