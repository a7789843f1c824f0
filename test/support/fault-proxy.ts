import type { AwsClients } from "../../functions/adapters/aws-clients.ts";

export interface Fault {
  /** SDK command class name, e.g. `AttachPolicyCommand`. */
  readonly command: string;
  /** How many times it fails before calls go through again. */
  times: number;
  /** What is thrown (default: a plain error, which the service must not mistake for the client's fault). */
  readonly error?: () => Error;
}

/**
 * A fault proxy in front of the emulator: the real clients, whose `send` fails for chosen commands. Everything
 * else reaches moto. (Faults moto cannot produce itself; never a mock of AWS's behaviour.)
 */
export function withFaults(clients: AwsClients, faults: Fault[]): AwsClients & { calls: string[] } {
  const calls: string[] = [];
  const wrap = <T extends { send: (...args: never[]) => unknown }>(client: T): T => {
    const proxy = Object.create(client) as T;
    const original = client.send.bind(client) as (command: object, ...rest: unknown[]) => Promise<unknown>;
    (proxy as { send: unknown }).send = async (command: object, ...rest: unknown[]) => {
      const name = command.constructor.name;
      calls.push(name);
      const fault = faults.find((f) => f.command === name && f.times > 0);
      if (fault) {
        fault.times--;
        throw fault.error?.() ?? new Error(`injected fault in ${name}`);
      }
      return original(command, ...rest);
    };
    return proxy;
  };
  return {
    dynamo: wrap(clients.dynamo),
    iot: wrap(clients.iot),
    pca: wrap(clients.pca),
    secrets: wrap(clients.secrets),
    calls,
  };
}

/** An error shaped like the SDK's for a throttled or failing AWS call. */
export function awsError(name: string, status: number): Error {
  return Object.assign(new Error(`${name} (injected)`), {
    name,
    $metadata: { httpStatusCode: status },
    $fault: status >= 500 ? "server" : "client",
  });
}
