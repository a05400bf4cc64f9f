import type { z } from '@hono/zod-openapi';
import type {
  Alias,
  computeVerdictBody,
  Gate,
  Model,
  modelDetail,
  ModelVersion,
  promoteBody,
  Promotion,
  saveGateBody,
  VerdictBody,
} from '../schemas/registry.ts';
import type { AliasProtection, setAliasProtectionBody } from '../schemas/alias-protection.ts';
import type { Transport } from './transport.ts';

const project = (p: string) => `/projects/${encodeURIComponent(p)}`;

/** The model registry: models, their versions and aliases. */
export function modelsClient(t: Transport) {
  const model = (p: string, name: string) => `${project(p)}/models/${encodeURIComponent(name)}`;
  return {
    create: (p: string, body: { name: string; description?: string }) =>
      t.json<Model>('POST', `${project(p)}/models`, body),
    /** The model with its versions and aliases; 404 when the project has no such model. */
    get: (p: string, name: string) => t.json<z.infer<typeof modelDetail>>('GET', model(p, name)),
    addVersion: (p: string, name: string, body: { checkpointId: string; description?: string }) =>
      t.json<ModelVersion>('POST', `${model(p, name)}/versions`, body),
    alias: (p: string, name: string, alias: string) =>
      t.json<Alias>('GET', `${model(p, name)}/aliases/${encodeURIComponent(alias)}`),
    /** Every verdict on the model's versions, newest first, failing ones included. */
    verdicts: async (p: string, name: string) =>
      (await t.json<{ verdicts: VerdictBody[] }>('GET', `${model(p, name)}/verdicts`)).verdicts,
  };
}

/** Gate policies and the verdicts they give on model versions. */
export function gatesClient(t: Transport) {
  const gate = (p: string, name: string) => `${project(p)}/gates/${encodeURIComponent(name)}`;
  return {
    save: (p: string, body: z.input<typeof saveGateBody>) =>
      t.json<Gate>('POST', `${project(p)}/gates`, body),
    /** The latest version of the gate (or `version`); 404 when there is none. */
    get: (p: string, name: string, version?: number) =>
      t.json<Gate>('GET', gate(p, name), undefined, { version }),
    /** Judges a model version now, on its stored evaluations, and stores the verdict. */
    verdict: (p: string, name: string, body: z.input<typeof computeVerdictBody>) =>
      t.json<VerdictBody>('POST', `${gate(p, name)}/verdicts`, body),
  };
}

/**
 * Alias moves; a protected alias needs a passing verdict of the gate bound to it (a refusal is a
 * 409 HeldoutApiError). Which aliases are protected, and by which gate, only an admin changes.
 */
export function promotionsClient(t: Transport) {
  const rule = (p: string, alias: string) =>
    `${project(p)}/protected-aliases/${encodeURIComponent(alias)}`;
  return {
    /** The project's protected alias names and the gate version each requires. */
    protectedAliases: async (p: string) =>
      (await t.json<{ aliases: AliasProtection[] }>('GET', `${project(p)}/protected-aliases`))
        .aliases,
    /** Protects an alias name with a gate (pinned to a version) or unprotects it: admin only. */
    protect: (p: string, alias: string, body: z.input<typeof setAliasProtectionBody>) =>
      t.json<AliasProtection>('PUT', rule(p, alias), body),
    promote: (body: z.input<typeof promoteBody>) =>
      t.json<{ promotion: Promotion; alias: Alias; verdict: VerdictBody | null }>(
        'POST',
        '/promotions',
        body,
      ),
  };
}
