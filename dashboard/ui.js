// What every page of the dashboard shares: its settings, the DOM builder, the API client, times and errors.

export const config = {
  appengineUrl: "",
  pairingUrl: "",
  realm: "",
  token: "",
  metadataColumns: ["model", "mac"],
};

export const view = document.getElementById("view");
const errorBox = document.getElementById("error");

/** An element with attributes (`on…` ones are listeners) and children (nodes, or text). */
export const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== false && v !== undefined) el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat())
    el.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return el;
};

export function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

/** Turns an Astarte error body into words a person can read. */
function describe(status, body) {
  const errors = body?.errors;
  if (!errors) return `The API answered ${status}.`;
  if (errors.detail) return `${errors.detail} (${status})`;
  return Object.entries(errors)
    .map(([field, messages]) => `${field}: ${[].concat(messages).join(", ")}`)
    .join("; ");
}

/** Calls one of Tether's APIs for the signed-in realm; an error carries the HTTP status and readable words. */
export async function api(base, method, path, body) {
  let response;
  try {
    response = await fetch(`${base}/v1/${config.realm}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${config.token}`,
        ...(body
          ? { "content-type": method === "PATCH" ? "application/merge-patch+json" : "application/json" }
          : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  } catch {
    throw new Error("Tether cannot be reached. Is it running?");
  }
  const text = await response.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok)
    throw Object.assign(new Error(describe(response.status, parsed)), { status: response.status });
  return parsed;
}

/** A time in the reader's zone, with the zone named (a fleet spans zones; a bare time would be ambiguous). */
export const when = (iso) => (iso ? new Date(iso).toLocaleString(undefined, { timeZoneName: "short" }) : "—");

/** Runs `work`, showing its error (if any) in words instead of throwing. */
export async function guarded(work) {
  showError("");
  try {
    return await work();
  } catch (error) {
    showError(error.message);
    return undefined;
  }
}

/**
 * Live state without a reload: `refresh` runs every `everyMs` while its page is shown and the tab visible; after a
 * failure it waits twice as long each time (up to a minute) and says so in `#live`, then goes back to its pace.
 * Polling, not a push channel: the API is plain HTTPS behind API Gateway and Lambda, where a poll is one cheap
 * request, and a page left open in a hidden tab costs nothing.
 */
const polling = { generation: 0, timer: undefined };
export function poll(refresh, everyMs) {
  stopPolling();
  const generation = polling.generation;
  let delay = everyMs;
  const live = () => document.getElementById("live");
  const tick = async () => {
    if (generation !== polling.generation) return;
    if (!document.hidden) {
      try {
        await refresh();
        delay = everyMs;
        live()?.replaceChildren(`Live: updated ${new Date().toLocaleTimeString()}`);
      } catch (error) {
        delay = Math.min(delay * 2, 60_000);
        live()?.replaceChildren(
          `Live updates paused: ${error.message} Trying again in ${Math.round(delay / 1000)} s.`,
        );
      }
    }
    if (generation === polling.generation) polling.timer = setTimeout(tick, delay);
  };
  polling.timer = setTimeout(tick, delay);
}

export function stopPolling() {
  polling.generation++;
  clearTimeout(polling.timer);
}

/** The line a live page reports its refreshes on. */
export const liveLine = () =>
  h(
    "p",
    { id: "live", class: "live", "aria-live": "off" },
    `Live: loaded ${new Date().toLocaleTimeString()}`,
  );
