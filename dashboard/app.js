// Tether's fleet dashboard: a realm's devices (status, presence, certificate, metadata), a device's page
// (status, metadata, credential timeline), registration, and inhibit / revoke / uninhibit. No framework, no
// build step; it talks to the AppEngine and Pairing APIs with a realm JWT.

const view = document.getElementById("view");
const errorBox = document.getElementById("error");
const config = { appengineUrl: "", pairingUrl: "", realm: "", token: "", metadataColumns: ["model", "mac"] };

const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== false && v !== undefined) el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat())
    el.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return el;
};

function showError(message) {
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

async function api(base, method, path, body) {
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
const when = (iso) => (iso ? new Date(iso).toLocaleString(undefined, { timeZoneName: "short" }) : "—");

/** The list's search, from the URL (`#/?status=…&connected=…&id_prefix=…&sort=…&from=…`): a view can be shared. */
function listParams() {
  const query = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const params = {};
  for (const key of ["status", "connected", "id_prefix", "sort", "from"]) {
    const value = query.get(key);
    if (value) params[key] = value;
  }
  return params;
}

const listHash = (params) => {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
  return query ? `#/?${query}` : "#/";
};

const PAGE_SIZE = 50;

async function listView() {
  const columns = config.metadataColumns;
  const params = listParams();
  // One page from the server: Astarte's list, or Tether's search when a filter or order is set (README lists the
  // combinations served; the API's 422 says which one is not).
  const { from, ...search } = params;
  const query = new URLSearchParams({
    details: "true",
    limit: String(PAGE_SIZE),
    ...search,
    ...(from ? { from_token: from } : {}),
  });
  const page = await api(config.appengineUrl, "GET", `/devices?${query}`);
  const devices = page.data;
  const next = page.links?.next
    ? new URLSearchParams(page.links.next.split("?")[1]).get("from_token")
    : undefined;

  const select = (name, label, options) =>
    h(
      "label",
      {},
      `${label} `,
      h(
        "select",
        { name, id: `filter-${name}` },
        options.map(([value, text]) =>
          h("option", { value, selected: (params[name] ?? "") === value }, text),
        ),
      ),
    );
  const filters = h(
    "form",
    {
      class: "row card",
      id: "filters",
      onsubmit: (e) => {
        e.preventDefault();
        const f = e.target;
        const wanted = {
          status: f.status.value,
          connected: f.connected.value,
          id_prefix: f.id_prefix.value.trim(),
          sort: f.sort.value,
        };
        // Presence is searched by last seen, an id prefix by id: pick the order that serves the filter.
        if (wanted.connected) wanted.sort = "last_seen";
        else if (wanted.id_prefix) wanted.sort = "";
        location.hash = listHash(wanted);
      },
    },
    select("status", "Status", [
      ["", "any"],
      ["pending", "pending"],
      ["confirmed", "confirmed"],
      ["inhibited", "inhibited"],
    ]),
    select("connected", "Connected", [
      ["", "any"],
      ["true", "yes"],
      ["false", "no"],
    ]),
    h(
      "label",
      {},
      "Id starts with ",
      h("input", {
        name: "id_prefix",
        id: "filter-id-prefix",
        value: params.id_prefix ?? "",
        autocomplete: "off",
        maxlength: "22",
      }),
    ),
    select("sort", "Order", [
      ["", "device id"],
      ["last_seen", "last seen"],
    ]),
    h("button", { type: "submit" }, "Search"),
    h("a", { href: "#/", id: "clear-filters" }, "Clear"),
  );
  const pager = h(
    "nav",
    { class: "row", id: "pager", "aria-label": "pages" },
    from
      ? [
          h("a", { href: listHash(search), id: "first-page" }, "« First page"),
          h("button", { type: "button", id: "previous-page", onclick: () => history.back() }, "‹ Previous"),
        ]
      : "",
    next ? h("a", { href: listHash({ ...search, from: next }), id: "next-page" }, "Next ›") : "",
  );

  const registerForm = h(
    "form",
    { class: "card", id: "register-form", onsubmit: (e) => register(e) },
    h("h2", {}, "Register a device"),
    h(
      "div",
      { class: "row" },
      h(
        "label",
        {},
        "Device id ",
        h("input", {
          name: "hw_id",
          id: "hw-id",
          required: true,
          autocomplete: "off",
          placeholder: "22-character device id",
        }),
      ),
      h(
        "button",
        { type: "button", onclick: () => (document.getElementById("hw-id").value = randomId()) },
        "Random id",
      ),
      h("button", { type: "submit" }, "Register"),
    ),
    h("div", { id: "new-secret", "aria-live": "polite" }),
  );
  const columnsForm = h(
    "form",
    {
      class: "row",
      onsubmit: (e) => {
        e.preventDefault();
        config.metadataColumns = e.target.columns.value
          .split(",")
          .map((c) => c.trim())
          .filter(Boolean);
        localStorage.setItem("tether.columns", config.metadataColumns.join(","));
        void route();
      },
    },
    h("label", {}, "Metadata columns ", h("input", { name: "columns", value: columns.join(", ") })),
    h("button", { type: "submit" }, "Show"),
  );
  const table = h(
    "table",
    { id: "devices" },
    h(
      "caption",
      {},
      `${devices.length} device${devices.length === 1 ? "" : "s"} on this page${next ? ", more on the next" : ""}`,
    ),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Device"),
        h("th", { scope: "col" }, "Credentials"),
        h("th", { scope: "col" }, "Connected"),
        h("th", { scope: "col" }, "Certificate until"),
        columns.map((c) => h("th", { scope: "col" }, c)),
      ),
    ),
    h(
      "tbody",
      {},
      devices.map((d) =>
        h(
          "tr",
          { "data-device": d.id },
          h("td", {}, h("a", { href: `#/device/${d.id}` }, h("code", {}, d.id))),
          h(
            "td",
            {},
            h(
              "span",
              { class: `badge${d.credentials_inhibited ? " inhibited" : ""}` },
              d.credentials_inhibited ? "inhibited" : d.first_credentials_request ? "confirmed" : "pending",
            ),
          ),
          h(
            "td",
            { class: "connected" },
            h("span", {
              class: `dot${d.connected ? " on" : ""}`,
              role: "img",
              "aria-label": d.connected ? "connected" : "disconnected",
            }),
            d.connected ? " yes" : " no",
          ),
          h("td", {}, when(d.certificate?.not_after)),
          columns.map((c) => h("td", { "data-column": c }, d.metadata?.[c] ?? "")),
        ),
      ),
    ),
  );
  view.replaceChildren(registerForm, columnsForm, filters, table, pager);
}

async function register(event) {
  event.preventDefault();
  const hwId = event.target.hw_id.value.trim();
  const answer = await guarded(() =>
    api(config.pairingUrl, "POST", "/agent/devices", { data: { hw_id: hwId } }),
  );
  if (!answer) return;
  document
    .getElementById("new-secret")
    .replaceChildren(
      h("p", {}, "Credentials secret for ", h("code", {}, hwId), ", shown only now. Give it to the device:"),
      h("p", { class: "secret mono", id: "secret-value" }, answer.data.credentials_secret),
    );
}

async function deviceView(id) {
  let status;
  let events;
  try {
    [status, events] = await Promise.all([
      api(config.appengineUrl, "GET", `/devices/${id}`),
      api(config.appengineUrl, "GET", `/devices/${id}/events`),
    ]);
  } catch (error) {
    if (error.status !== 404) throw error;
    view.replaceChildren(
      h("p", {}, h("a", { href: "#/" }, "← all devices")),
      h("p", { id: "not-found", class: "card" }, "No device ", h("code", {}, id), " in this realm."),
    );
    return;
  }
  const s = status.data;
  // What cannot be undone from here (a revoked certificate stays revoked) asks first.
  const act = (data, question) => async () => {
    if (question && !confirm(question)) return;
    const done = await guarded(() => api(config.appengineUrl, "PATCH", `/devices/${id}`, { data }));
    if (done) void route();
  };
  view.replaceChildren(
    h("p", {}, h("a", { href: "#/" }, "← all devices")),
    h("h2", {}, "Device ", h("code", {}, s.id)),
    h(
      "div",
      { class: "card" },
      h(
        "dl",
        { id: "status" },
        h("dt", {}, "Credentials"),
        h("dd", { id: "credentials-state" }, s.credentials_inhibited ? "inhibited" : "enabled"),
        h("dt", {}, "Connected"),
        h("dd", {}, s.connected ? "yes" : "no"),
        h("dt", {}, "Last connection"),
        h("dd", {}, when(s.last_connection)),
        h("dt", {}, "Last disconnection"),
        h("dd", {}, when(s.last_disconnection)),
        h("dt", {}, "Last seen from"),
        h("dd", {}, s.last_seen_ip ?? "—"),
        h("dt", {}, "First registration"),
        h("dd", {}, when(s.first_registration)),
        h("dt", {}, "First credentials"),
        h("dd", {}, when(s.first_credentials_request)),
        h("dt", {}, "Certificate"),
        h(
          "dd",
          {},
          s.certificate
            ? `${s.certificate.serial} (${s.certificate.state}, until ${when(s.certificate.not_after)})`
            : "—",
        ),
      ),
      h(
        "div",
        { class: "row" },
        s.credentials_inhibited
          ? h(
              "button",
              { type: "button", id: "uninhibit", onclick: act({ credentials_inhibited: false }) },
              "Uninhibit",
            )
          : [
              h(
                "button",
                { type: "button", id: "inhibit", onclick: act({ credentials_inhibited: true }) },
                "Inhibit",
              ),
              h(
                "button",
                {
                  type: "button",
                  id: "revoke",
                  class: "danger",
                  onclick: act(
                    { credentials_inhibited: true, revoke_credentials: true },
                    `Inhibit ${s.id} and revoke its certificates now? It is disconnected at once, and revoked certificates stay revoked.`,
                  ),
                },
                "Inhibit and revoke now",
              ),
            ],
      ),
    ),
    h("h3", {}, "Metadata"),
    h(
      "table",
      { id: "metadata" },
      h(
        "tbody",
        {},
        Object.entries(s.metadata ?? {}).map(([k, v]) =>
          h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v)),
        ),
      ),
    ),
    h("h3", {}, "Credential timeline"),
    h(
      "ol",
      { id: "timeline" },
      events.data.map((e) =>
        h(
          "li",
          {},
          `${when(e.at)} — ${e.type}`,
          e.serial ? h("code", {}, ` ${e.serial}`) : "",
          e.reason ? ` (${e.reason})` : "",
        ),
      ),
    ),
  );
}

async function guarded(work) {
  showError("");
  try {
    return await work();
  } catch (error) {
    showError(error.message);
    return undefined;
  }
}

function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

function signIn() {
  const form = document.getElementById("sign-in").content.cloneNode(true);
  view.replaceChildren(form);
  document.getElementById("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem("tether.realm", e.target.realm.value.trim());
    sessionStorage.setItem("tether.token", e.target.token.value.trim());
    void start();
  });
}

async function route() {
  document.getElementById("realm-name").textContent = config.realm ? `realm ${config.realm}` : "";
  const match = /^#\/device\/([A-Za-z0-9_-]+)$/.exec(location.hash);
  await guarded(() => (match ? deviceView(match[1]) : listView()));
}

async function start() {
  try {
    const response = await fetch("config.json");
    if (response.ok) Object.assign(config, await response.json());
  } catch {
    // A static deployment may have no config: ask for everything.
  }
  config.realm = sessionStorage.getItem("tether.realm") || config.realm;
  config.token = sessionStorage.getItem("tether.token") || config.token;
  const columns = localStorage.getItem("tether.columns");
  if (columns) config.metadataColumns = columns.split(",").filter(Boolean);
  const signOut = document.getElementById("sign-out");
  signOut.hidden = !sessionStorage.getItem("tether.token");
  signOut.onclick = () => {
    sessionStorage.clear();
    location.reload();
  };
  if (!config.token || !config.realm) return signIn();
  await route();
}

window.addEventListener("hashchange", () => void route());
void start();
