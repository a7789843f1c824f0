/**
 * The environment an AWS SDK client needs to talk to the local emulator. Credentials are dummies moto
 * accepts; the endpoint is read by the SDK itself, never by Tether's code.
 */
export const LOCAL_AWS_ENV = (endpoint: string): Record<string, string> => ({
  AWS_ENDPOINT_URL: endpoint,
  AWS_REGION: process.env.AWS_REGION ?? "us-east-1",
  AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? "test",
  AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? "test",
});
