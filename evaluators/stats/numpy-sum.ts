/**
 * numpy's summation order. `np.sum`/`np.mean` on a contiguous 1-D array use pairwise summation
 * (8-way unrolled blocks of up to 128), and on float32 arrays every partial sum is rounded to
 * float32. sacrebleu's bootstrap statistics are float32 arrays, so matching its means and p-values
 * to the last digit needs the same order and rounding.
 */

function pairwise(
  a: ArrayLike<number>,
  start: number,
  n: number,
  r: (x: number) => number,
): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res = r(res + a[start + i]!);
    return res;
  }
  if (n <= 128) {
    const acc = [0, 1, 2, 3, 4, 5, 6, 7].map((j) => a[start + j]!);
    let i = 8;
    for (; i < n - (n % 8); i += 8)
      for (let j = 0; j < 8; j++) acc[j] = r(acc[j]! + a[start + i + j]!);
    const [a0, a1, a2, a3, a4, a5, a6, a7] = acc as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    let res = r(r(r(a0 + a1) + r(a2 + a3)) + r(r(a4 + a5) + r(a6 + a7)));
    for (; i < n; i++) res = r(res + a[start + i]!);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return r(pairwise(a, start, n2, r) + pairwise(a, start + n2, n - n2, r));
}

const identity = (x: number) => x;

/**
 * `np.sum(a)` for a float64 (default) or float32 array.
 *
 * @example
 * numpySum([0.1, 0.2, 0.3]) // 0.6000000000000001
 */
export function numpySum(a: ArrayLike<number>, float32 = false): number {
  const r = float32 ? Math.fround : identity;
  return r(0 + pairwise(a, 0, a.length, r));
}

/**
 * `np.mean(a)` for a float64 (default) or float32 array.
 *
 * @example
 * numpyMean([1, 2, 4]) // 2.3333333333333335
 */
export function numpyMean(a: ArrayLike<number>, float32 = false): number {
  const total = numpySum(a, float32);
  return float32 ? Math.fround(total / a.length) : total / a.length;
}
