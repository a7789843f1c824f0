import { fromEnv } from "@aws-sdk/credential-provider-env";
import type { AwsCredentialIdentityProvider } from "@smithy/types";

/**
 * Lambda bundles only (the bundler aliases `@aws-sdk/credential-provider-node` here, see infra/bundling.ts):
 * the SDK clients' default provider, reduced to the one source a Lambda function has, its role's credentials
 * in the environment. Tests and the local server run the SDK's full chain.
 */
export const defaultProvider = (init?: Parameters<typeof fromEnv>[0]): AwsCredentialIdentityProvider =>
  fromEnv(init);
