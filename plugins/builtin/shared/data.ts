import { model as m, PluginConfigError, type DatasetSplit } from '../../sdk/index.ts';

/** Tokenised examples of a split: SFT rows mask the prompt, text rows count every token. */
export function examplesOf(
  split: DatasetSplit | undefined,
  tokenizer: m.Tokenizer,
  maxLength: number,
  role: string,
): m.Example[] {
  if (!split) return [];
  if (split.kind === 'sft')
    return m.encodeSft(split.rows as { prompt: string; response: string }[], tokenizer, maxLength);
  if (split.kind === 'text')
    return m.encodeText(split.rows as { text: string }[], tokenizer, maxLength);
  throw new PluginConfigError(
    `a ${split.kind} dataset cannot train this plugin; give an sft or text dataset`,
    `datasets.${role}`,
  );
}
