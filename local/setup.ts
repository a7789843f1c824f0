// Prepares the local AWS stand-ins ahead of time (CI calls it; tests and `npm start` also do it lazily):
// moto's venv, and mosquitto for the MQTT 5 broker (unpacked from Debian's archive without root if missing).

import { ensureMotoVenv } from "./moto.ts";
import { ensureMosquitto, MOSQUITTO_HINT } from "./mqtt-backends.ts";

const python = await ensureMotoVenv(undefined, (line) => console.log(line));
console.log(`moto venv ready: ${python}`);
const mosquitto = await ensureMosquitto((line) => console.log(line));
console.log(mosquitto ? `mosquitto ready: ${mosquitto.binary}` : `mosquitto missing. ${MOSQUITTO_HINT}`);
