/**
 * Promotion gates: a zod-validated policy of checks, evaluated purely on per-case evidence into a
 * verdict, and rendered for CI (JUnit XML, Markdown).
 */
export {
  gatePolicySchema,
  gateCheckSchema,
  suiteSelectorSchema,
  parseGatePolicy,
  type GatePolicy,
  type GateCheck,
  type CheckKind,
  type SuiteSelector,
} from './policy.ts';
export type {
  CaseResult,
  SuiteEvidence,
  GateFinding,
  GateInput,
  ServingFigures,
  Outcome,
  CheckResult,
  GateNode,
  Verdict,
} from './types.ts';
export { GATE_EPSILON, atLeast, atMost } from './evidence.ts';
export { evaluateGate, combineAll, combineAny, CHECKS } from './evaluate.ts';
export { servingWindows } from './serving-check.ts';
export { renderJUnit, renderMarkdownSummary, xmlEscape } from './report.ts';
