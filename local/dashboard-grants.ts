/**
 * The JWT grants of the token `npm start` hands its dashboard: exactly the routes the dashboard calls (register,
 * unregister and rotate a secret; the overview; list, show, timeline and inhibit), not any other realm route.
 */
export const DASHBOARD_GRANTS = {
  a_pa: [
    "POST::agent/devices",
    "DELETE::agent/devices/[^/]+",
    "POST::agent/devices/[^/]+/credentials_secret",
  ],
  a_aea: ["GET::overview", "GET::devices", "GET::devices/[^/]+(/events)?", "PATCH::devices/[^/]+"],
};
