/**
 * The environment an AWS SDK client needs to talk to the local emulator. Credentials are dummies moto
 * accepts; the endpoint is read by the SDK itself, never by Tether's code.
 */
export const LOCAL_AWS_ENV = (endpoint: string): Record<string, string> => {
  // moto gets dummies; an external emulator (TETHER_AWS_ENDPOINT) gets what the environment has.
  const external = Boolean(process.env.TETHER_AWS_ENDPOINT);
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: (external && process.env.AWS_REGION) || "us-east-1",
    AWS_ACCESS_KEY_ID: (external && process.env.AWS_ACCESS_KEY_ID) || "test",
    AWS_SECRET_ACCESS_KEY: (external && process.env.AWS_SECRET_ACCESS_KEY) || "test",
  };
};
