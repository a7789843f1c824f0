import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Which Tether function the current call runs as. On Lambda a process is one function; locally one process
 * serves them all, so the API server (and tests running the sweeper) say which one is running, and tests can
 * check every AWS call a function makes against its IAM grants.
 */
export const runningFunction = new AsyncLocalStorage<string>();
