/**
 * Hallucination rate. Definition (also in evaluators/README.md): the share of judged outputs that
 * state at least one claim not supported by the case's reference or context. An output counts as
 * hallucinated if any of its claims is `unsupported`; claims that contradict the source count as
 * unsupported. Outputs that make no claim count as not hallucinated. Who judges (a person, an NLI
 * model, an LLM judge) is outside this function: it aggregates their verdicts.
 */

/** The verdict on one output: how many claims it makes and how many the source does not support. */
export interface ClaimJudgement {
  claims: number;
  unsupported: number;
}

/**
 * Rate of outputs with at least one unsupported claim, and the claim-level rate for context.
 *
 * @example
 * hallucinationRate([{ claims: 3, unsupported: 1 }, { claims: 2, unsupported: 0 }]) // { rate: 0.5, claimRate: 0.2, n: 2 }
 */
export function hallucinationRate(judgements: readonly ClaimJudgement[]): {
  rate: number;
  claimRate: number;
  n: number;
} {
  let hallucinated = 0;
  let claims = 0;
  let unsupported = 0;
  for (const j of judgements) {
    if (j.unsupported < 0 || j.unsupported > j.claims)
      throw new Error('unsupported must be within 0..claims');
    if (j.unsupported > 0) hallucinated++;
    claims += j.claims;
    unsupported += j.unsupported;
  }
  const n = judgements.length;
  return {
    rate: n === 0 ? Number.NaN : hallucinated / n,
    claimRate: claims === 0 ? Number.NaN : unsupported / claims,
    n,
  };
}
