import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";

/*
 * Tether's contracts use zod's mini API (a fraction of the classic API's size in every Lambda bundle), which
 * ships without messages: give it zod's English ones, the wording clients see in 422 bodies wherever a
 * contract does not name its own. Imported for this effect by the contracts.
 */
z.config(en());
