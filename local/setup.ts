// Creates the local AWS emulator's venv ahead of time (CI calls it; tests and `npm start` also do it lazily).
import { ensureMotoVenv } from "./moto.ts";

const python = await ensureMotoVenv(undefined, (line) => console.log(line));
console.log(`moto venv ready: ${python}`);
