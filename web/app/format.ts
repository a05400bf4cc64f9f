/** Scores and losses: 3 significant decimals, no trailing noise. */
export function num(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined) return '–';
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000) return v.toLocaleString('en', { maximumFractionDigits: 0 });
  return v.toFixed(digits);
}

export function signed(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined) return '–';
  return (v > 0 ? '+' : '') + num(v, digits);
}

export function count(v: number | null | undefined): string {
  if (v === null || v === undefined) return '–';
  if (v >= 1e9) return `${(v / 1e9).toFixed(1)}B`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return String(v);
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return d.toISOString().replace('T', ' ').slice(0, 16);
}

export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** Improvement green, regression red; `higherIsBetter` false flips it (losses). */
export function tone(delta: number | null | undefined, higherIsBetter = true): string {
  if (delta === null || delta === undefined || Math.abs(delta) < 1e-9) return 'neutral';
  return delta > 0 === higherIsBetter ? 'good' : 'bad';
}

/** A case's input or expected value as shown: strings as they are, anything else as JSON. */
export const caseText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v, null, 1));
