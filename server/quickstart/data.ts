/**
 * The quickstart's domain: a bank's support desk answering what each account plan costs. The
 * shipped base has never seen it, and a fine-tune that learns it carelessly overwrites the base's
 * general skills (capitalising, copying): the forgetting heldout exists to catch.
 */
export const feePlans = (from: number, n: number) =>
  Array.from({ length: n }, (_, k) => ({
    prompt: `Q: What is the fee of plan ${from + k}?\nA:`,
    response: ` Plan ${from + k} costs ${((from + k) * 7) % 50} dollars a month.`,
  }));

/** Eval cases on plans the fine-tunes never saw: the answer's shape is learnable, the fee is not. */
export const feeCases = (from: number, n: number) =>
  feePlans(from, n).map((r, i) => ({
    id: `fee-${from + i}`,
    input: r.prompt,
    expected: r.response.trim(),
  }));

/** Pairs for preference tuning: a direct answer preferred to a deflection. */
export const feePreferences = (from: number, n: number) =>
  feePlans(from, n).map((r, i) => ({
    prompt: r.prompt,
    chosen: r.response,
    rejected: [' Please call the branch.', ' I cannot say.', ' Check the website.'][i % 3]!,
  }));

export const jsonl = (rows: object[]) => rows.map((x) => JSON.stringify(x)).join('\n') + '\n';
