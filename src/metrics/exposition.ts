// The text exposition as prom-client writes it, made right where it is not: prom-client 15.1.3
// (lib/util.js, getValueAsString) writes an unknown value as `Nan`, and the text format spells it
// `NaN` (a strict parser, such as OpenMetrics', refuses `Nan`). Remove once prom-client does.

/** A sample line whose value is prom-client's `Nan`, with an optional timestamp after it. */
const NAN_SAMPLE = /^([^#\n][^\n]*) Nan((?: -?\d+)?)$/gm;

/** The exposition with every sample value `Nan` written `NaN`; comment lines are left as they are. */
export function spellNaN(text: string): string {
  return text.includes(' Nan') ? text.replace(NAN_SAMPLE, '$1 NaN$2') : text;
}
