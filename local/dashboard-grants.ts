/**
 * The JWT grants of the token `npm start` hands its dashboard: exactly the routes the dashboard calls
 * (register; list, show, timeline and inhibit), not unregister, secret rotation or any other realm route.
 */
export const DASHBOARD_GRANTS = {
  a_pa: ["POST::agent/devices"],
  a_aea: ["GET::devices", "GET::devices/[^/]+(/events)?", "PATCH::devices/[^/]+"],
};
