// Tether's fleet dashboard: the fleet at a glance (overview.js), a realm's devices (status, presence, certificate,
// metadata), a device's page (status, metadata, credential timeline) with inhibit / revoke / uninhibit, unregister
// and secret rotation, and registration. No framework, no build step; it talks to the AppEngine and Pairing APIs
// with a realm JWT, and keeps what it shows live by polling (ui.js).

import { overviewView } from "./overview.js";
import { api, config, guarded, h, liveLine, poll, stopPolling, view, when } from "./ui.js";

/**
 * The list's search, from the URL (`#/devices?status=…&connected=…&id_prefix=…&sort=…&from=…`; links of the form
 * `#/?…` from before the overview still open it): a view can be shared.
 */
function listParams(query) {
  const params = {};
  for (const key of [
    "status",
    "connected",
    "id_prefix",
    "expiring_before",
    "metadata_key",
    "metadata_value",
    "sort",
    "from",
  ]) {
    const value = query.get(key);
    if (value) params[key] = value;
  }
  return params;
}

const listHash = (params) => {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
  return query ? `#/devices?${query}` : "#/devices";
};

const PAGE_SIZE = 50;

/** `key=value` (a key the realm indexes) as the search's metadata_key and metadata_value. */
function metadataFilter(text) {
  const at = text.indexOf("=");
  if (!text.trim()) return {};
  if (at <= 0) return { metadata_key: text.trim() };
  return { metadata_key: text.slice(0, at).trim(), metadata_value: text.slice(at + 1).trim() };
}

/** The `expiring_before` time a choice of the expiry filter means now (`kept`: the one in the URL). */
function expiringBefore(choice, current) {
  if (choice === "kept") return current;
  if (choice === "") return "";
  return new Date(Date.now() + Number(choice) * 3_600_000).toISOString();
}

async function listView(query) {
  const columns = config.metadataColumns;
  const params = listParams(query);
  // One page from the server: Astarte's list, or Tether's search when a filter or order is set (README lists the
  // combinations served; the API's 422 says which one is not).
  const { from, ...search } = params;
  const request = new URLSearchParams({
    details: "true",
    limit: String(PAGE_SIZE),
    ...search,
    ...(from ? { from_token: from } : {}),
  });
  const load = () => api(config.appengineUrl, "GET", `/devices?${request}`);
  const page = await load();
  const devices = page.data;
  const next = page.links?.next
    ? new URLSearchParams(page.links.next.split("?")[1]).get("from_token")
    : undefined;

  const select = (name, label, options, current = params[name] ?? "") =>
    h(
      "label",
      {},
      `${label} `,
      h(
        "select",
        { name, id: `filter-${name}` },
        options.map(([value, text]) => h("option", { value, selected: current === value }, text)),
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
          // A time, not "within a day": the URL names the same devices whenever it is opened.
          expiring_before: expiringBefore(f.expiring.value, params.expiring_before),
          ...metadataFilter(f.metadata.value),
          sort: f.sort.value,
        };
        // Presence is searched by last seen, an id prefix by id, an expiry by expiry: pick the order that serves.
        if (wanted.connected) wanted.sort = "last_seen";
        else if (wanted.id_prefix || wanted.metadata_key) wanted.sort = "";
        else if (wanted.expiring_before) wanted.sort = "expiry";
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
    h(
      "label",
      {},
      "Metadata ",
      h("input", {
        name: "metadata",
        id: "filter-metadata",
        value: params.metadata_key ? `${params.metadata_key}=${params.metadata_value ?? ""}` : "",
        placeholder: "model=A300",
        autocomplete: "off",
        maxlength: "330",
      }),
    ),
    select(
      "expiring",
      "Certificate expires",
      [
        ["", "any time"],
        ...(params.expiring_before ? [["kept", `before ${when(params.expiring_before)}`]] : []),
        ["0", "already expired"],
        ["24", "within 24 h"],
        ["168", "within 7 days"],
      ],
      params.expiring_before ? "kept" : "",
    ),
    select("sort", "Order", [
      ["", "device id"],
      ["last_seen", "last seen"],
      ["expiry", "certificate expiry"],
    ]),
    h("button", { type: "submit" }, "Search"),
    h("a", { href: "#/devices", id: "clear-filters" }, "Clear"),
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
  const table = () => h("div", { class: "scroll", id: "devices-box" }, devicesTable(devices, columns, next));
  view.replaceChildren(registerForm, columnsForm, filters, table(), pager, liveLine());
  // Presence, status and certificates as they change, on the page as it is (its devices, in its order).
  let shown = JSON.stringify(devices);
  poll(async () => {
    const fresh = (await load()).data;
    const text = JSON.stringify(fresh);
    if (text === shown) return;
    shown = text;
    document.getElementById("devices-box")?.replaceChildren(devicesTable(fresh, columns, next));
  }, 15_000);
}

function devicesTable(devices, columns, next) {
  return h(
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
}

/** Refreshes the device list now (set while the list is shown): a device just registered appears in it. */
let refreshList = async () => {};

async function register(event) {
  event.preventDefault();
  const hwId = event.target.hw_id.value.trim();
  const box = document.getElementById("new-secret");
  // A secret shown for an earlier registration goes before the next is tried.
  box.replaceChildren();
  const answer = await guarded(() =>
    api(config.pairingUrl, "POST", "/agent/devices", { data: { hw_id: hwId } }),
  );
  if (!answer) return;
  showOnce(box, hwId, answer.data.credentials_secret, "Credentials secret");
  box.append(h("p", {}, h("a", { href: `#/device/${hwId}`, id: "new-device" }, "Open its page")));
  await guarded(refreshList);
}

async function deviceView(id) {
  const load = () =>
    Promise.all([
      api(config.appengineUrl, "GET", `/devices/${id}`),
      api(config.appengineUrl, "GET", `/devices/${id}/events`),
    ]);
  let loaded;
  try {
    loaded = await load();
  } catch (error) {
    if (error.status !== 404) throw error;
    view.replaceChildren(
      h("p", {}, h("a", { href: "#/devices" }, "← all devices")),
      h("p", { id: "not-found", class: "card" }, "No device ", h("code", {}, id), " in this realm."),
    );
    return;
  }
  const actions = h("div", { id: "actions" });
  const once = h("div", { id: "once", "aria-live": "polite" });
  const body = h("div", { id: "device-body" }, deviceBody(loaded, actions));
  view.replaceChildren(
    h("p", {}, h("a", { href: "#/devices" }, "← all devices")),
    h("h2", {}, "Device ", h("code", {}, id)),
    body,
    once,
    liveLine(),
  );
  // Presence, certificate and timeline as they change: a revoke elsewhere, a reconnect, a renewal.
  let shown = JSON.stringify(loaded);
  const refresh = async () => {
    const fresh = await load();
    const text = JSON.stringify(fresh);
    if (text === shown) return;
    shown = text;
    body.replaceChildren(...deviceBody(fresh, actions));
  };
  poll(refresh, 5_000);

  // What cannot be undone from here (a revoked certificate stays revoked, a secret once replaced is gone) asks first.
  const act = (work, question) => async () => {
    if (question && !confirm(question)) return;
    const done = await guarded(work);
    if (done === undefined) return;
    await guarded(refresh);
  };
  const patch = (data) => () => api(config.appengineUrl, "PATCH", `/devices/${id}`, { data });
  const renderActions = (s) =>
    actions.replaceChildren(
      h(
        "div",
        { class: "row" },
        s.credentials_inhibited
          ? h(
              "button",
              { type: "button", id: "uninhibit", onclick: act(patch({ credentials_inhibited: false })) },
              "Uninhibit",
            )
          : [
              h(
                "button",
                { type: "button", id: "inhibit", onclick: act(patch({ credentials_inhibited: true })) },
                "Inhibit",
              ),
              h(
                "button",
                {
                  type: "button",
                  id: "revoke",
                  class: "danger",
                  onclick: act(
                    patch({ credentials_inhibited: true, revoke_credentials: true }),
                    `Inhibit ${id} and revoke its certificates now? It is disconnected at once, and revoked certificates stay revoked.`,
                  ),
                },
                "Inhibit and revoke now",
              ),
            ],
        h(
          "button",
          {
            type: "button",
            id: "rotate-secret",
            onclick: act(async () => {
              const answer = await api(config.pairingUrl, "POST", `/agent/devices/${id}/credentials_secret`);
              showOnce(once, id, answer.data.credentials_secret, "New credentials secret");
              return true;
            }, `Give ${id} a new credentials secret? The old one stops working now: the device cannot get certificates until it has the new one.`),
          },
          "Rotate secret",
        ),
        h(
          "button",
          {
            type: "button",
            id: "unregister",
            class: "danger",
            onclick: act(async () => {
              await api(config.pairingUrl, "DELETE", `/agent/devices/${id}`);
              once.replaceChildren(
                h(
                  "p",
                  { class: "card", id: "unregistered" },
                  "Unregistered: register it again to give it a new secret.",
                ),
              );
              return true;
            }, `Unregister ${id}? Its secret stops working, its certificates leave IoT Core and its MQTT session ends; it must be registered again to pair.`),
          },
          "Unregister",
        ),
      ),
    );
  renderActions(loaded[0].data);
  // The buttons follow the state (inhibited or not) without being rebuilt under the reader's pointer otherwise.
  const observer = new MutationObserver(() => {
    const state = document.getElementById("credentials-state")?.textContent;
    const inhibited = state === "inhibited";
    if (inhibited !== Boolean(document.getElementById("uninhibit"))) {
      renderActions({ credentials_inhibited: inhibited });
    }
  });
  observer.observe(body, { childList: true });
}

/** A secret, shown once: it is gone when the reader leaves the page, and never stored. */
function showOnce(box, id, secret, title) {
  box.replaceChildren(
    h(
      "div",
      { class: "card" },
      h("p", {}, `${title} for `, h("code", {}, id), ", shown only now. Give it to the device:"),
      h("p", { class: "secret mono", id: "secret-value" }, secret),
    ),
  );
}

/** The device's status, actions, metadata and timeline, as loaded. */
function deviceBody([status, events], actions) {
  const s = status.data;
  return [
    h(
      "div",
      { class: "card" },
      h(
        "dl",
        { id: "status" },
        h("dt", {}, "Credentials"),
        h("dd", { id: "credentials-state" }, s.credentials_inhibited ? "inhibited" : "enabled"),
        h("dt", {}, "Connected"),
        h("dd", { id: "connected-state" }, s.connected ? "yes" : "no"),
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
          { id: "certificate-state" },
          s.certificate
            ? `${s.certificate.serial} (${s.certificate.state}, until ${when(s.certificate.not_after)})`
            : "—",
        ),
      ),
      actions,
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
  ];
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
  stopPolling();
  refreshList = async () => {};
  document.getElementById("realm-name").textContent = config.realm ? `realm ${config.realm}` : "";
  const [path, search] = location.hash.replace(/^#/, "").split("?");
  const query = new URLSearchParams(search ?? "");
  const device = /^\/device\/([A-Za-z0-9_-]+)$/.exec(path ?? "");
  // `#/?…` is the device list as links from before the overview named it.
  const section = device
    ? "devices"
    : path === "/devices" || (path === "/" && search)
      ? "devices"
      : "overview";
  for (const link of document.querySelectorAll("#nav a")) {
    link.toggleAttribute("aria-current", link.dataset.page === section);
  }
  const page = device
    ? () => deviceView(device[1])
    : section === "devices"
      ? () => listView(query)
      : () => overviewView(query);
  await guarded(page);
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
