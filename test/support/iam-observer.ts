import type { AwsClients } from "../../functions/adapters/aws-clients.ts";
import { REALM_INDEX, SWEEP_INDEX, VIEW_INDEX } from "../../functions/adapters/table-schema.ts";
import {
  FUNCTION_ACCESS,
  type FunctionAccess,
  type FunctionName,
} from "../../infra/constructs/function-access.ts";
import { runningFunction } from "../../local/function-context.ts";

/*
 * Least privilege, checked by observation: every AWS call a Tether function makes while the suites run is
 * recorded under the function making it (local/function-context.ts) and must be an action its IAM grants
 * (infra/constructs/function-access.ts) allow. A handler that starts calling something new fails here, not
 * with AccessDenied on its first deploy.
 */

interface Call {
  readonly fn: string;
  readonly action: string;
  readonly index: string | undefined;
}

const SERVICE: Record<keyof AwsClients, string> = {
  dynamo: "dynamodb",
  iot: "iot",
  iotData: "iot",
  pca: "acm-pca",
  secrets: "secretsmanager",
};

/** IAM authorizes TransactWriteItems by the item actions inside it. */
const TRANSACT_ACTIONS: Record<string, string> = {
  Put: "PutItem",
  Update: "UpdateItem",
  Delete: "DeleteItem",
  ConditionCheck: "ConditionCheckItem",
};

const calls: Call[] = [];
const observed = new WeakSet<object>();

interface Stack {
  middlewareStack: {
    add(
      middleware: (
        next: (args: { input: unknown }) => Promise<unknown>,
        context: { commandName?: string },
      ) => (args: { input: unknown }) => Promise<unknown>,
      options: { step: "initialize"; name: string },
    ): void;
  };
}

/** Records the calls made through these clients from inside a running function. */
export function observeAwsCalls(clients: AwsClients): void {
  for (const [key, client] of Object.entries(clients) as [keyof AwsClients, Stack & object][]) {
    if (observed.has(client)) continue;
    observed.add(client);
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const fn = runningFunction.getStore();
        const command = context.commandName?.replace(/Command$/, "");
        if (fn && command) {
          const input = args.input as {
            IndexName?: string;
            TransactItems?: Record<string, unknown>[];
          };
          const actions = input.TransactItems
            ? input.TransactItems.flatMap((item) => Object.keys(item).map((k) => TRANSACT_ACTIONS[k] ?? k))
            : [command];
          for (const action of actions)
            calls.push({ fn, action: `${SERVICE[key]}:${action}`, index: input.IndexName });
        }
        return next(args);
      },
      { step: "initialize", name: "tetherIamObserver" },
    );
  }
}

function allows(access: FunctionAccess, call: Call): boolean {
  const [service] = call.action.split(":");
  switch (service) {
    case "dynamodb":
      if (call.index === SWEEP_INDEX.name)
        return access.sweepIndex === true && call.action === "dynamodb:Query";
      if (call.index === REALM_INDEX.name)
        return access.realmIndex === true && call.action === "dynamodb:Query";
      if (call.index === VIEW_INDEX.name)
        return access.viewIndex === true && call.action === "dynamodb:Query";
      return access.table.includes(call.action);
    case "acm-pca":
      return access.ca?.includes(call.action) ?? false;
    case "iot":
      return [
        ...(access.certificates ?? []),
        ...(access.things ?? []),
        ...(access.iotUnscoped ?? []),
        ...(access.connections ?? []),
      ].includes(call.action);
    case "secretsmanager":
      return access.hashKey === true && call.action === "secretsmanager:GetSecretValue";
    default:
      return false;
  }
}

/** The calls seen so far that the calling function's grants do not allow, as `function → action` lines. */
export function callsOutsideGrants(): string[] {
  const denied = new Set<string>();
  for (const call of calls) {
    const access = FUNCTION_ACCESS[call.fn as FunctionName];
    if (!access || !allows(access, call))
      denied.add(`${call.fn} → ${call.action}${call.index ? ` (index ${call.index})` : ""}`);
  }
  return [...denied].sort();
}

/** How many calls were checked (printed, so a run that observed nothing is visible). */
export function observedCallCount(): number {
  return calls.length;
}
