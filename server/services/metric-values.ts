/**
 * JSON has no NaN or infinities, but training logs do (a diverged loss is exactly what one wants to
 * see). On the wire they travel as the strings "NaN", "Infinity" and "-Infinity".
 */
export type WireValue = number | 'NaN' | 'Infinity' | '-Infinity';

export function encodeValue(value: number): WireValue {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return value;
}

export function decodeValue(value: WireValue): number {
  return typeof value === 'number' ? value : Number(value);
}
