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
  const proxied = proxyClients(clients, async (name, send) => {
    calls.push(name);
    const fault = faults.find((f) => f.command === name && f.times > 0);
    if (fault) {
      fault.times--;
      throw fault.error?.() ?? new Error(`injected fault in ${name}`);
    }
    return send();
  });
  return { ...proxied, calls };
}

/**
 * The same clients, each `send` going through `intercept` with the command's class name and a function that
 * sends it for real.
 */
function proxyClients(
  clients: AwsClients,
  intercept: (command: string, send: () => Promise<unknown>) => Promise<unknown>,
): AwsClients {
  const wrap = <T extends { send: (...args: never[]) => unknown }>(client: T): T => {
    const proxy = Object.create(client) as T;
    const original = client.send.bind(client) as (command: object, ...rest: unknown[]) => Promise<unknown>;
    (proxy as { send: unknown }).send = (command: object, ...rest: unknown[]) =>
      intercept(command.constructor.name, () => original(command, ...rest));
    return proxy;
  };
  return {
    dynamo: wrap(clients.dynamo),
    iot: wrap(clients.iot),
    iotData: wrap(clients.iotData),
    pca: wrap(clients.pca),
    secrets: wrap(clients.secrets),
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

export interface Hold {
  readonly clients: AwsClients;
  /** Resolves when the first call of the command has its answer, which it then keeps until `release`. */
  readonly reached: Promise<void>;
  release(): void;
}

/**
 * Holds the answer of the first call of `command` (after AWS answered it) until `release`: a request is
 * stopped exactly between two of its steps, so a test can run another request in that gap. Deterministic
 * interleavings for race tests, instead of hoping a timing hits.
 */
export function holdAfter(clients: AwsClients, command: string): Hold {
  let signal = () => {};
  let release = () => {};
  const reached = new Promise<void>((resolve) => {
    signal = resolve;
  });
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let armed = true;
  const held = proxyClients(clients, async (name, send) => {
    const answer = await send();
    if (armed && name === command) {
      armed = false;
      signal();
      await gate;
    }
    return answer;
  });
  return {
    clients: held,
    reached,
    release,
  };
}
