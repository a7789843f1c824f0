import { Stack, Token } from "aws-cdk-lib";
import type { Construct } from "constructs";

/**
 * A cdk-nag finding id as cdk-nag writes it for `scope`'s stack: it names unresolved pseudo parameters as
 * `<AWS::Region>` / `<AWS::AccountId>` but a stack bound to an environment has literal ones, so an
 * acknowledgement written with the placeholders stops matching once `region` or `account` is set (the synth
 * then fails). Write ids with the placeholders and pass them through this.
 */
export function nagId(scope: Construct, id: string): string {
  const stack = Stack.of(scope);
  let resolved = id;
  if (!Token.isUnresolved(stack.region)) resolved = resolved.replaceAll("<AWS::Region>", stack.region);
  if (!Token.isUnresolved(stack.account)) resolved = resolved.replaceAll("<AWS::AccountId>", stack.account);
  return resolved;
}
