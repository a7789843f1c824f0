import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Broker } from "./broker.ts";

export interface IotDataPlane {
  /** What `AWS_ENDPOINT_URL_IOT_DATA_PLANE` is set to, so the SDK's IoT data-plane client calls this front. */
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * The part of IoT Core's data-plane REST API Tether calls, in front of the local broker, on loopback:
 * `DELETE /connections/{clientId}` (DeleteConnection) closes that client's connection, 200 with an empty JSON
 * object; a client that is not connected is 404 `ResourceNotFoundException`; a client id starting with `$`, or
 * outside 1–128 characters, is 400 `InvalidRequestException` (the API reference's constraints). Like moto, it
 * does not check SigV4 signatures. Anything else is 404 `UnknownOperationException`.
 */
export async function startIotDataPlane(
  broker: Broker,
  options: { port?: number } = {},
): Promise<IotDataPlane> {
  const server = createServer((request, response) => {
    request.resume();
    answer(broker, request, response);
  });
  server.listen(options.port ?? 0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function answer(broker: Broker, request: IncomingMessage, response: ServerResponse): void {
  const refusal = deleteConnection(broker, request);
  if (!refusal) {
    response.writeHead(200, { "content-type": "application/json" }).end("{}");
    return;
  }
  const [status, type, message] = refusal;
  response
    .writeHead(status, { "content-type": "application/json", "x-amzn-errortype": type })
    .end(JSON.stringify({ message }));
}

/** Carries out a DeleteConnection request; the error to answer with, or undefined when it was done. */
function deleteConnection(broker: Broker, request: IncomingMessage): [number, string, string] | undefined {
  const url = new URL(request.url ?? "/", "http://localhost");
  const match = /^\/connections\/([^/]+)$/.exec(url.pathname);
  if (request.method !== "DELETE" || !match?.[1])
    return [404, "UnknownOperationException", "Unknown operation"];
  let clientId: string;
  try {
    clientId = decodeURIComponent(match[1]);
  } catch {
    return [400, "InvalidRequestException", "client id is not URL-encoded"];
  }
  if (clientId.length < 1 || clientId.length > 128 || clientId.startsWith("$")) {
    return [400, "InvalidRequestException", "invalid client id"];
  }
  if (!broker.disconnect(clientId)) {
    return [404, "ResourceNotFoundException", "No connection found for the client id"];
  }
  return undefined;
}
