/** Whether a UTF-16 code unit is a C0 or C1 control character, DEL, or a Unicode line or paragraph separator. */
function isControl(code: number): boolean {
  return code <= 0x1f || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;
}

/**
 * Text made safe for a terminal line: control characters (newline, carriage return, ESC, …) become `\uXXXX`
 * escapes, so what a device sends can neither start a new line nor move the cursor or recolour the screen.
 */
export function printable(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.charCodeAt(0);
    out += isControl(code) ? `\\u${code.toString(16).padStart(4, "0")}` : char;
  }
  return out;
}
